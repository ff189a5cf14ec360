/* libFuzzer target: the policy loader (the container, the policy section,
 * the model inside) must return a status for any bytes, never crash, and a
 * policy it accepts must act. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "distill/distill.h"
#include "fuzz_util.h"

static void load(const unsigned char *data, size_t size)
{
    distill_policy *p = NULL;
    if (distill_policy_load_memory(fuzz_context(), data, size, &p) == DISTILL_OK) {
        float obs[64] = {0}, act[64];
        size_t bytes;
        uint64_t rng = 0;
        void *ws;
        if (distill_policy_obs_dim(p) <= 64 && distill_policy_action_dim(p) <= 64 &&
            distill_policy_workspace_size(p, 1, &bytes) == DISTILL_OK && (ws = malloc(bytes))) {
            if (distill_policy_act(p, ws, bytes, 1, obs, 64, act, 64, &rng) == DISTILL_OK)
                (void)act[0];
            free(ws);
        }
        distill_policy_destroy(p);
    }
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    fuzz_both(data, size, load);
    return 0;
}

static int zero_score(void *u, int64_t n, const float *a, const float *s, const float *sigma, float *out)
{
    (void)u, (void)a, (void)s, (void)sigma;
    memset(out, 0, sizeof(float) * (size_t)(2 * n));
    return 0;
}

/* A mixture of experts with a learned gating (untrained: its layout is what
 * matters). */
static size_t moe_seed(unsigned char *buf, size_t cap)
{
    float x[8] = {0}, y[16] = {0};
    distill_score_vtable vt = {sizeof vt, NULL, zero_score, NULL};
    distill_dataset *d;
    distill_diffusion *t;
    distill_vdd_options o;
    distill_vdd *v;
    distill_policy *p;
    distill_vdd_options_init(&o);
    o.experts = 3, o.hidden = 4, o.gating_hidden = 4, o.layers = 1;
    if (distill_dataset_from_memory(fuzz_context(), 4, 2, x, 2, 2, y, 4, DISTILL_DATASET_COPY, &d) != DISTILL_OK ||
        distill_diffusion_from_score(fuzz_context(), &vt, 2, 2, &t) != DISTILL_OK ||
        distill_vdd_create(fuzz_context(), &o, t, d, &v) != DISTILL_OK ||
        distill_vdd_policy(v, DISTILL_POLICY_COMMITTED, 5, &p) != DISTILL_OK ||
        distill_policy_save(p, fuzz_scratch()) != DISTILL_OK)
        abort();
    distill_policy_destroy(p), distill_vdd_destroy(v), distill_diffusion_destroy(t), distill_dataset_destroy(d);
    return fuzz_take_scratch(buf, cap);
}

/* Seeds: a sampling discrete policy, a box policy and a mixture of experts,
 * saved by the library. */
size_t fuzz_seed(int i, unsigned char *buf, size_t cap)
{
    static const float low[2] = {-1.0f, -2.0f}, high[2] = {1.0f, 2.0f};
    distill_space s = {sizeof s, DISTILL_SPACE_DISCRETE, 2, NULL, NULL};
    distill_layer_spec l[3];
    distill_model_options o;
    distill_model *m;
    distill_policy *p;
    if (i == 2)
        return moe_seed(buf, cap);
    if (i > 2)
        return 0;
    if (i)
        s.kind = DISTILL_SPACE_BOX, s.low = low, s.high = high;
    distill_layer_spec_init(&l[0], DISTILL_LAYER_DENSE);
    l[0].units = 8;
    distill_layer_spec_init(&l[1], DISTILL_LAYER_RELU);
    distill_layer_spec_init(&l[2], DISTILL_LAYER_DENSE);
    l[2].units = 2;
    distill_model_options_init(&o);
    o.in_c = 4, o.in_h = o.in_w = 1, o.layers = l, o.n_layers = 3;
    if (distill_model_create(fuzz_context(), &o, &m) != DISTILL_OK ||
        distill_policy_from_model(fuzz_context(), m, &s, i ? DISTILL_POLICY_GREEDY : DISTILL_POLICY_SAMPLE, 1.0f,
                                  &p) != DISTILL_OK ||
        distill_policy_save(p, fuzz_scratch()) != DISTILL_OK)
        abort();
    distill_policy_destroy(p);
    distill_model_destroy(m);
    return fuzz_take_scratch(buf, cap);
}
