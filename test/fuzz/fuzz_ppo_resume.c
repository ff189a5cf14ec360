/* libFuzzer target: resuming a PPO learner from any bytes must return a
 * status and never crash, and a refused file must leave the learner as it
 * was (parameters and iteration count).  The learner trains a grid task
 * with a small network; the loader reads files, so each input goes through
 * a temporary file. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "distill/distill.h"
#include "fuzz_util.h"

static distill_model *net;

static distill_ppo *learner(void)
{
    static distill_ppo *p;
    if (!p) {
        distill_layer_spec l[3];
        distill_model_options mo;
        distill_env_options eo;
        distill_ppo_options po;
        distill_env *env;
        distill_layer_spec_init(&l[0], DISTILL_LAYER_DENSE);
        l[0].units = 4;
        distill_layer_spec_init(&l[1], DISTILL_LAYER_RELU);
        distill_layer_spec_init(&l[2], DISTILL_LAYER_DENSE);
        l[2].units = 5;
        distill_model_options_init(&mo);
        mo.in_c = 25, mo.in_h = mo.in_w = 1, mo.layers = l, mo.n_layers = 3;
        distill_env_options_init(&eo);
        eo.task = DISTILL_ENV_GRID;
        distill_ppo_options_init(&po);
        po.envs = 2, po.steps = 4, po.epochs = 1, po.minibatches = 2;
        if (distill_model_create(fuzz_context(), &mo, &net) || distill_env_create(fuzz_context(), &eo, &env) ||
            distill_ppo_create_model(fuzz_context(), &po, env, net, &p) || distill_ppo_step(p, NULL))
            abort();
        /* the learner keeps references to env and net: they live for the run */
    }
    return p;
}

static void load(const unsigned char *data, size_t size)
{
    distill_ppo *p = learner();
    const int64_t n = distill_model_param_count(net), iters = distill_ppo_iterations(p);
    float *before = malloc(sizeof(float) * (size_t)n);
    if (!before || !fuzz_write_scratch(data, size))
        abort();
    memcpy(before, distill_model_params(net), sizeof(float) * (size_t)n);
    if (distill_ppo_resume(p, fuzz_scratch()) != DISTILL_OK &&
        (memcmp(before, distill_model_params(net), sizeof(float) * (size_t)n) != 0 ||
         distill_ppo_iterations(p) != iters))
        abort(); /* a refused file changed the learner */
    unlink(fuzz_scratch());
    free(before);
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    fuzz_both(data, size, load);
    return 0;
}

/* Seed: the learner's own checkpoint after one iteration. */
size_t fuzz_seed(int i, unsigned char *buf, size_t cap)
{
    if (i > 0)
        return 0;
    if (distill_ppo_checkpoint(learner(), fuzz_scratch()) != DISTILL_OK)
        abort();
    return fuzz_take_scratch(buf, cap);
}
