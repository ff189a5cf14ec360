"""Knowledge distillation (distill_kd, docs/kd.md): generalized distillation
from privileged features, classic KD, regression and policy distillation,
logit matching; teacher training, scoring and the (T, lambda) grid search."""
import ctypes

import numpy as np

from ._lib import lib, KdOptions, OptimizerOptions
from .core import Handle, _path
from .kernels import _mat, _p
from .krrst import callable_teacher
from .model import Model, OPTIMIZERS, SCHEDULES

MODES = {"gd": 0, "generalized": 0, "classic": 1, "regression": 2, "policy": 3, "logits": 4}
PRESETS = {"default": 0, "lopezpaz2016": 1, "hinton2015": 2, "custom": 3}
OPTIM_EPS_IN_SQRT = 1


def _optimizer(spec, keep):
    """None (RMSprop as Keras) or a dict: kind, schedule and optimiser fields."""
    if spec is None:
        return None
    o = OptimizerOptions()
    lib.distill_optimizer_options_init(ctypes.byref(o))
    for key, v in spec.items():
        if key == "kind":
            v = OPTIMIZERS[v] if isinstance(v, str) else v
        elif key == "schedule":
            v = SCHEDULES[v] if isinstance(v, str) else v
        elif not hasattr(o, key) or key == "struct_size":
            raise TypeError(f"unknown optimiser option {key!r}")
        setattr(o, key, v)
    keep.append(o)
    return ctypes.pointer(o)


def kd_options(mode="gd", preset="default", T=1.0, lambda_=0.5, optimizer=None, keep=None, lam=None,
               **fields):
    """A distill_kd_options: mode and preset by name, T, lambda_ (lam, its 0.1 name, still works), an
    optimiser dict, then any other field (epochs, batch, seed, student_t,
    soft_scale)."""
    keep = [] if keep is None else keep
    o = KdOptions()
    lib.distill_kd_options_init(ctypes.byref(o))
    o.mode = MODES[mode] if isinstance(mode, str) else mode
    o.preset = PRESETS[preset] if isinstance(preset, str) else preset
    o.temperature, o.lambda_ = T, lambda_ if lam is None else lam  # lam: 0.1's name
    o.optimizer = _optimizer(optimizer, keep)
    for key, v in fields.items():
        if not hasattr(o, key) or key in ("struct_size", "optimizer", "teacher", "teacher_fn",
                                          "teacher_outputs", "teacher_ld", "teacher_handle"):
            raise TypeError(f"unknown KD option {key!r}")
        setattr(o, key, v)
    return o


def _set_teacher(o, teacher, k, keep):
    from .teacher import Teacher
    if teacher is None:
        return
    if isinstance(teacher, Teacher):
        o.teacher_handle = teacher._handle
        keep.append(teacher)
    elif isinstance(teacher, Model):
        o.teacher = teacher._handle
    elif callable(teacher):
        vt = callable_teacher(teacher, k)
        o.teacher_fn = ctypes.pointer(vt)
        keep.append(vt)
    else:
        t = np.ascontiguousarray(teacher, dtype=np.float32)
        if t.ndim != 2:
            raise ValueError("teacher outputs must be a 2-D array (rows, k); NaN rows have no x*")
        o.teacher_outputs, o.teacher_ld = _p(t), t.shape[1]
        keep.append(t)


def weights(mode="gd", preset="default", T=1.0, student_t=1.0, soft_scale=1.0):
    """(student_t, soft_scale) that a mode and preset resolve to."""
    o = kd_options(mode, preset, T, student_t=student_t, soft_scale=soft_scale)
    st, sc = ctypes.c_double(), ctypes.c_double()
    if lib.distill_kd_options_weights(ctypes.byref(o), ctypes.byref(st), ctypes.byref(sc)) != 0:
        raise ValueError("bad KD options")
    return st.value, sc.value


class Kd(Handle):
    """A solver training `student` (a Model, in place) on `train` (a Dataset:
    x the regular features, y the label or targets; NaN = missing) with a
    teacher run once on `privileged` (a Dataset of x*, or None).

    teacher: a Teacher, a Model, a callable f(x) -> (n, k) array, or an
    (n, k) array of its outputs.  Keywords: mode ("gd", "classic", "regression", "policy",
    "logits"), preset ("default", "lopezpaz2016", "hinton2015", "custom"),
    T, lambda_ (or lam), optimizer (dict), epochs, batch, seed, student_t, soft_scale."""

    _destroy = lib.distill_kd_destroy

    def __init__(self, ctx, student, train, privileged=None, teacher=None, **options):
        self.ctx, self.student = ctx, student
        self._keep = [student, train, privileged]
        o = kd_options(keep=self._keep, **options)
        _set_teacher(o, teacher, student.output_dim, self._keep)
        self.mode = o.mode
        self._handle = ctypes.c_void_p()
        ctx.check(lib.distill_kd_create(ctx.handle, ctypes.byref(o), student._handle, train._handle,
                                        privileged._handle if privileged is not None else None,
                                        ctypes.byref(self._handle)))

    def step(self):
        """One optimiser step on the next mini-batch; returns its loss before the step."""
        loss = ctypes.c_float()
        self.ctx.check(lib.distill_kd_step(self._handle, ctypes.byref(loss)))
        return loss.value

    def run(self, epochs=0):
        """Train until `epochs` epochs are done (0: the options' epochs), with progress and
        cancellation."""
        self.ctx.check(lib.distill_kd_run(self._handle, epochs))
        return self

    @property
    def steps_done(self):
        """Steps taken (also after a resume)."""
        return lib.distill_kd_steps_done(self._handle)

    def checkpoint(self, path):
        """Save the student, its optimiser and the step count."""
        self.ctx.check(lib.distill_kd_checkpoint(self._handle, _path(path)))

    def resume(self, path):
        """Continue from a checkpoint of a solver made the same way."""
        self.ctx.check(lib.distill_kd_resume(self._handle, _path(path)))

    def recent_loss(self):
        """Mean loss since the last call (NaN if none)."""
        return lib.distill_kd_recent_loss(self._handle)

    def shape(self):
        """(rows, k) of the cached teacher outputs."""
        rows, k = ctypes.c_int64(), ctypes.c_int64()
        lib.distill_kd_shape(self._handle, ctypes.byref(rows), ctypes.byref(k))
        return rows.value, k.value

    def _array(self, fn):
        rows, k = self.shape()
        ptr = fn(self._handle)
        return np.ctypeslib.as_array(ptr, shape=(rows, k)).copy() if ptr else None

    def teacher_outputs(self):
        """The cached teacher outputs (rows without x* hold NaN)."""
        return self._array(lib.distill_kd_teacher_outputs)

    def soft_targets(self):
        """The cached soft targets (zero rows where there is no x*)."""
        return self._array(lib.distill_kd_soft_targets)

    def loss_grad_rows(self, idx, z):
        """The loss of outputs z (n, k) for training rows idx, and dL/dz."""
        idx = np.ascontiguousarray(idx, dtype=np.int64)
        z = _mat(z, "z", idx.shape[0], self.shape()[1])
        dz = np.empty_like(z)
        loss = ctypes.c_float()
        self.ctx.check(lib.distill_kd_loss_grad_rows(self._handle, idx.shape[0], _p(idx), _p(z),
                                                     z.shape[1], ctypes.byref(loss), _p(dz),
                                                     dz.shape[1]))
        return loss.value, dz

    def score(self, test):
        """Accuracy (classification) or MSE (regression) of the student on test."""
        return score(self.ctx, self.student, test, self.mode)


def score(ctx, model, test, mode="gd"):
    """Accuracy (classification modes) or MSE (regression) of model on test."""
    v = ctypes.c_double()
    m = MODES[mode] if isinstance(mode, str) else mode
    ctx.check(lib.distill_kd_score(ctx.handle, m, model._handle, test._handle, ctypes.byref(v)))
    return v.value


def train_teacher(ctx, teacher, train, privileged=None, **options):
    """Train `teacher` on the privileged features of the rows with a label
    (cross-entropy, or MSE in mode "regression")."""
    keep = []
    o = kd_options(keep=keep, **options)
    ctx.check(lib.distill_kd_train_teacher(ctx.handle, ctypes.byref(o), teacher._handle,
                                           train._handle,
                                           privileged._handle if privileged is not None else None))
    return teacher


def grid_search(ctx, student, train, privileged=None, validation=None, teacher=None,
                temperatures=(1, 2, 5, 10, 20, 50), lambdas=tuple(i / 10 for i in range(11)),
                **options):
    """(best_T, best_lambda, scores): scores[i, j] is the validation score of
    a copy of student trained with (temperatures[i], lambdas[j])."""
    keep = []
    o = kd_options(keep=keep, **options)
    _set_teacher(o, teacher, student.output_dim, keep)
    ts = np.ascontiguousarray(temperatures, dtype=np.float64)
    ls = np.ascontiguousarray(lambdas, dtype=np.float64)
    scores = np.empty((ts.size, ls.size), np.float64)
    bt, bl = ctypes.c_double(), ctypes.c_double()
    ctx.check(lib.distill_kd_grid_search(
        ctx.handle, ctypes.byref(o), student._handle, train._handle,
        privileged._handle if privileged is not None else None,
        validation._handle if validation is not None else None,
        ts.ctypes.data, ts.size, ls.ctypes.data, ls.size, scores.ctypes.data,
        ctypes.byref(bt), ctypes.byref(bl)))
    return bt.value, bl.value, scores
