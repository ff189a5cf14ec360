/* libFuzzer target: resuming a VDD solver from any bytes must return a
 * status and never crash, and a refused file must leave the solver as it
 * was (its policy acts the same, its step count is kept).  The solver has
 * both networks (a learned gating); the loader reads files, so each input
 * goes through a temporary file. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "distill/distill.h"
#include "fuzz_util.h"

static int half_score(void *u, int64_t n, const float *a, const float *s, const float *sigma, float *out)
{
    int64_t i;
    (void)u, (void)s, (void)sigma;
    for (i = 0; i < 2 * n; i++)
        out[i] = -0.5f * a[i];
    return 0;
}

static distill_vdd *solver(void)
{
    static distill_vdd *v;
    if (!v) {
        static float x[16], y[16];
        static distill_score_vtable vt = {sizeof vt, NULL, half_score, NULL};
        distill_vdd_options o;
        distill_dataset *d;
        distill_diffusion *t;
        int i;
        for (i = 0; i < 16; i++)
            x[i] = (float)(i % 5) / 5.0f, y[i] = (float)(i % 3) - 1.0f;
        distill_vdd_options_init(&o);
        o.experts = 3, o.hidden = 4, o.gating_hidden = 4, o.layers = 1, o.batch = 4, o.samples = 2;
        if (distill_dataset_from_memory(fuzz_context(), 8, 2, x, 2, 2, y, 2, DISTILL_DATASET_COPY, &d) ||
            distill_diffusion_from_score(fuzz_context(), &vt, 2, 2, &t) ||
            distill_vdd_create(fuzz_context(), &o, t, d, &v) || distill_vdd_step(v, NULL))
            abort();
        /* the solver keeps references to the data and teacher: they live for the run */
    }
    return v;
}

/* The student's actions at a fixed observation, every expert. */
static void fingerprint(distill_vdd *v, float *out)
{
    float obs[2] = {0.3f, -0.2f};
    distill_policy *p;
    size_t bytes;
    void *ws;
    int32_t k;
    if (distill_vdd_policy(v, DISTILL_POLICY_COMMITTED, 0, &p) || distill_policy_workspace_size(p, 1, &bytes) ||
        !(ws = malloc(bytes)))
        abort();
    for (k = 0; k < 3; k++) {
        int32_t e = k;
        uint64_t r = 0;
        if (distill_policy_act_ex(p, ws, bytes, 1, obs, 2, out + 2 * k, 2, &r, &e, NULL))
            abort();
    }
    free(ws);
    distill_policy_destroy(p);
}

static void load(const unsigned char *data, size_t size)
{
    distill_vdd *v = solver();
    float before[6], after[6];
    const int64_t steps = distill_vdd_steps_done(v);
    if (!fuzz_write_scratch(data, size))
        return;
    fingerprint(v, before);
    if (distill_vdd_resume(v, fuzz_scratch()) != DISTILL_OK) {
        fingerprint(v, after);
        if (memcmp(before, after, sizeof before) != 0 || distill_vdd_steps_done(v) != steps)
            abort(); /* a refused file changed the solver */
    }
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
    if (distill_vdd_checkpoint(solver(), fuzz_scratch()) != DISTILL_OK)
        abort();
    return fuzz_take_scratch(buf, cap);
}
