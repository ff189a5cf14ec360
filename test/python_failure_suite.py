"""The binding's failure cases, run by scripts/test-python-loop.sh in a fresh
interpreter each time (under ASan with make check SANITIZE=1):
dead owners, a context collected in a cycle, interpreter exit with globals,
8 threads inferring on one model, bad labels, NaN, zero rows, pathlib."""
import sys
sys.argv = sys.argv[:1]
import test_python as t
import distill
ctx = distill.Context(seed=3, threads=2)
for name in ("test_views_and_children_keep_their_owners", "test_labels_are_refused_unless_whole_real_and_in_range",
             "test_zero_rows_and_closed_models_say_so", "test_python_conventions",
             "test_failures_never_show_an_earlier_message", "test_singular_fit_is_reported",
             "test_teacher_handle"):
    getattr(t, name)(ctx)
# globals left for interpreter exit: a model, its view, a teacher, a solver
GLOBAL_MODEL = distill.Model(ctx, [dict(kind="dense", units=2)], input_shape=(3,))
GLOBAL_VIEW = GLOBAL_MODEL.params
GLOBAL_TEACHER = distill.Teacher(ctx, GLOBAL_MODEL)
print("ok")
