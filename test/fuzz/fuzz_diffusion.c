/* libFuzzer target: the diffusion loader must return a status for any
 * bytes, never crash, and a diffusion it accepts must sample. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "distill/distill.h"
#include "fuzz_util.h"

static void load(const unsigned char *data, size_t size)
{
    distill_diffusion *d = NULL;
    if (distill_diffusion_load_memory(fuzz_context(), data, size, &d) == DISTILL_OK) {
        float obs[64] = {0}, act[64];
        size_t bytes;
        uint64_t rng = 0;
        void *ws;
        if (distill_diffusion_obs_dim(d) <= 64 && distill_diffusion_workspace_size(d, 1, &bytes) == DISTILL_OK &&
            (ws = malloc(bytes))) {
            if (distill_diffusion_sample(d, ws, bytes, 1, obs, 64, 2, DISTILL_SAMPLER_HEUN, &rng, act, 64) ==
                DISTILL_OK)
                (void)act[0];
            free(ws);
        }
        distill_diffusion_destroy(d);
    }
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    fuzz_both(data, size, load);
    return 0;
}

/* Seeds: an untrained denoiser, and one trained for a few steps. */
size_t fuzz_seed(int i, unsigned char *buf, size_t cap)
{
    float x[16], y[16];
    distill_diffusion_options o;
    distill_diffusion_train_options to;
    distill_diffusion *d;
    distill_dataset *ds;
    int j;
    if (i > 1)
        return 0;
    for (j = 0; j < 16; j++)
        x[j] = (float)j / 16.0f, y[j] = (float)(j % 3);
    distill_diffusion_options_init(&o);
    o.obs_dim = 2, o.action_dim = 2, o.hidden = 6, o.layers = 2;
    if (distill_diffusion_create(fuzz_context(), &o, &d) != DISTILL_OK)
        abort();
    distill_diffusion_train_options_init(&to);
    to.steps = 3, to.batch = 4;
    if (i && (distill_dataset_from_memory(fuzz_context(), 8, 2, x, 2, 2, y, 2, DISTILL_DATASET_COPY, &ds) != DISTILL_OK ||
              distill_diffusion_train(d, &to, ds, NULL) != DISTILL_OK))
        abort();
    if (distill_diffusion_save(d, fuzz_scratch()) != DISTILL_OK)
        abort();
    if (i)
        distill_dataset_destroy(ds);
    distill_diffusion_destroy(d);
    return fuzz_take_scratch(buf, cap);
}
