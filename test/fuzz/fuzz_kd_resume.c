/* libFuzzer target: resuming a knowledge-distillation solver from any bytes
 * must return a status and never crash, and a refused file must leave the
 * solver exactly as it was (student parameters and step count).  The
 * loader reads files, so each input goes through a temporary file. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "distill/distill.h"
#include "fuzz_util.h"

enum { ROWS = 8, D = 3, K = 2 };


/* One small solver for the whole run: a linear student, outputs as the teacher. */
static distill_kd *solver(distill_model **student)
{
    static distill_kd *kd;
    static distill_model *m;
    if (!kd) {
        static float x[ROWS * D], y[ROWS], zt[ROWS * K];
        distill_layer_spec l;
        distill_model_options mo;
        distill_kd_options o;
        distill_dataset *train;
        int i;
        for (i = 0; i < ROWS * D; i++)
            x[i] = (float)(i % 5) / 5.0f;
        for (i = 0; i < ROWS; i++)
            y[i] = (float)(i % K), zt[i * K] = (float)i, zt[i * K + 1] = -(float)i;
        distill_layer_spec_init(&l, DISTILL_LAYER_DENSE);
        l.units = K;
        distill_model_options_init(&mo);
        mo.in_c = D, mo.in_h = mo.in_w = 1, mo.layers = &l, mo.n_layers = 1;
        distill_kd_options_init(&o);
        o.mode = DISTILL_KD_CLASSIC, o.teacher_outputs = zt, o.teacher_ld = K, o.batch = 4, o.epochs = 2;
        if (distill_model_create(fuzz_context(), &mo, &m) ||
            distill_dataset_from_memory(fuzz_context(), ROWS, D, x, D, 1, y, 1, DISTILL_DATASET_COPY, &train) ||
            distill_kd_create(fuzz_context(), &o, m, train, NULL, &kd) || distill_kd_step(kd, NULL))
            abort();
        distill_dataset_destroy(train); /* the solver keeps its view */
    }
    *student = m;
    return kd;
}

static void load(const unsigned char *data, size_t size)
{
    distill_model *m;
    distill_kd *kd = solver(&m);
    float before[(D + 1) * K];
    const int64_t steps = distill_kd_steps_done(kd);
    if (!fuzz_write_scratch(data, size))
        return;
    memcpy(before, distill_model_params(m), sizeof before);
    if (distill_kd_resume(kd, fuzz_scratch()) != DISTILL_OK &&
        (memcmp(before, distill_model_params(m), sizeof before) != 0 || distill_kd_steps_done(kd) != steps))
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
    distill_model *m;
    if (i > 0)
        return 0;
    if (distill_kd_checkpoint(solver(&m), fuzz_scratch()) != DISTILL_OK)
        abort();
    return fuzz_take_scratch(buf, cap);
}
