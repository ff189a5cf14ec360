/* libFuzzer target: resuming a KRR-ST solver from any bytes must return a
 * status and never crash, and a refused file must leave the solver exactly
 * as it was (synthetic images and targets, step count).  The loader reads
 * files, so each input goes through a temporary file. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "distill/distill.h"
#include "fuzz_util.h"

enum { M = 3, DIM = 16, K = 3 };


/* One small solver for the whole run (the distilled-set target's setup). */
static distill_krrst *solver(void)
{
    static distill_krrst *s;
    if (!s) {
        static float x[20 * DIM];
        distill_dataset *real;
        distill_layer_spec l[2];
        distill_krrst_options o;
        distill_model *teacher;
        distill_model_options mo;
        int j;
        for (j = 0; j < 20 * DIM; j++)
            x[j] = (float)(j % 7) / 7.0f;
        distill_layer_spec_init(&l[0], DISTILL_LAYER_DENSE);
        l[0].units = K;
        distill_layer_spec_init(&l[1], DISTILL_LAYER_DENSE);
        l[1].units = 5;
        distill_model_options_init(&mo);
        mo.in_c = DIM, mo.in_h = mo.in_w = 1, mo.layers = l, mo.n_layers = 1;
        distill_krrst_options_init(&o);
        o.m = M, o.n = 4, o.pool_size = 1, o.pool_period = 2, o.features = &l[1], o.n_features = 1;
        if (distill_dataset_from_memory(fuzz_context(), 20, DIM, x, DIM, 0, NULL, 0, DISTILL_DATASET_COPY, &real) ||
            distill_dataset_set_shape(real, 1, 4, 4) || distill_model_create(fuzz_context(), &mo, &teacher))
            abort();
        o.teacher = teacher;
        if (distill_krrst_create(fuzz_context(), &o, real, &s) || distill_krrst_step(s, NULL))
            abort();
        distill_model_destroy(teacher), distill_dataset_destroy(real);
    }
    return s;
}

static void load(const unsigned char *data, size_t size)
{
    distill_krrst *s = solver();
    float x[M * DIM], y[M * K];
    const int64_t steps = distill_krrst_steps_done(s);
    if (!fuzz_write_scratch(data, size))
        return;
    memcpy(x, distill_krrst_images(s), sizeof x), memcpy(y, distill_krrst_targets(s), sizeof y);
    if (distill_krrst_resume(s, fuzz_scratch()) != DISTILL_OK &&
        (memcmp(x, distill_krrst_images(s), sizeof x) != 0 || memcmp(y, distill_krrst_targets(s), sizeof y) != 0 ||
         distill_krrst_steps_done(s) != steps))
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
    if (distill_krrst_checkpoint(solver(), fuzz_scratch()) != DISTILL_OK)
        abort();
    return fuzz_take_scratch(buf, cap);
}
