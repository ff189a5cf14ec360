/* libFuzzer target: resuming an offline-RL distillation solver from any
 * bytes must return a status and never crash, and a refused file must leave
 * the solver exactly as it was (states, actions, step count).  The solver
 * has every checkpoint section: the student variant with continuous,
 * learned actions.  The loader reads files, so each input goes through a
 * temporary file. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "distill/distill.h"
#include "fuzz_util.h"

enum { ROWS = 12, D = 3, A = 2, M = 3 };

static distill_orl *solver(void)
{
    static distill_orl *s;
    if (!s) {
        static float x[ROWS * D], y[ROWS * A];
        distill_layer_spec l;
        distill_orl_options o;
        distill_dataset *real;
        int i;
        for (i = 0; i < ROWS * D; i++)
            x[i] = (float)(i % 7) / 7.0f - 0.4f;
        for (i = 0; i < ROWS * A; i++)
            y[i] = (float)(i % 5) / 5.0f;
        distill_layer_spec_init(&l, DISTILL_LAYER_DENSE);
        l.units = A;
        distill_orl_options_init(&o);
        o.variant = DISTILL_ORL_STUDENT, o.m = M, o.n_actions = 0, o.learn_actions = 1, o.batch = 4;
        o.student_steps = 2, o.layers = &l, o.n_layers = 1;
        if (distill_dataset_from_memory(fuzz_context(), ROWS, D, x, D, A, y, A, DISTILL_DATASET_COPY, &real) ||
            distill_orl_create(fuzz_context(), &o, real, &s) || distill_orl_step(s, NULL))
            abort();
        /* the solver keeps a reference to the data: it lives for the run */
    }
    return s;
}

static void load(const unsigned char *data, size_t size)
{
    distill_orl *s = solver();
    float states[M * D], actions[M * A];
    const int64_t steps = distill_orl_steps_done(s);
    if (!fuzz_write_scratch(data, size))
        return;
    memcpy(states, distill_orl_states(s), sizeof states);
    memcpy(actions, distill_orl_actions(s), sizeof actions);
    if (distill_orl_resume(s, fuzz_scratch()) != DISTILL_OK &&
        (memcmp(states, distill_orl_states(s), sizeof states) != 0 ||
         memcmp(actions, distill_orl_actions(s), sizeof actions) != 0 || distill_orl_steps_done(s) != steps))
        abort(); /* a refused file changed the solver */
    unlink(fuzz_scratch());
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    fuzz_both(data, size, load);
    return 0;
}

/* Seed: the solver's own checkpoint. */
size_t fuzz_seed(int i, unsigned char *buf, size_t cap)
{
    if (i > 0)
        return 0;
    if (distill_orl_checkpoint(solver(), fuzz_scratch()) != DISTILL_OK)
        abort();
    return fuzz_take_scratch(buf, cap);
}
