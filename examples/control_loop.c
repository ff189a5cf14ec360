/* A controller's loop: a deployable policy driving CartPole at a fixed rate.
 *
 *   control_loop [policy.dstl] [steps] [rate_hz]
 *
 * Everything the loop needs (the policy's workspace, the observation and
 * action rows) is allocated before it starts; inside it, distill_policy_act
 * allocates nothing and takes no lock.  Without a file the policy is a small
 * random network (it falls over; the timing is what matters).  Prints the
 * act time's p50, p99 and max in microseconds, and the return per episode. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <distill/distill.h>

static double now_us(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e6 + (double)t.tv_nsec / 1e3;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static distill_policy *random_policy(distill_context *ctx)
{
    distill_layer_spec l[3];
    distill_model_options o;
    distill_space s = {sizeof s, DISTILL_SPACE_DISCRETE, 2, NULL, NULL};
    distill_model *m = NULL;
    distill_policy *p = NULL;
    distill_layer_spec_init(&l[0], DISTILL_LAYER_DENSE);
    l[0].units = 32;
    distill_layer_spec_init(&l[1], DISTILL_LAYER_RELU);
    distill_layer_spec_init(&l[2], DISTILL_LAYER_DENSE);
    l[2].units = 2;
    distill_model_options_init(&o);
    o.in_c = 4, o.in_h = o.in_w = 1, o.layers = l, o.n_layers = 3;
    if (distill_model_create(ctx, &o, &m) == DISTILL_OK)
        (void)!distill_policy_from_model(ctx, m, &s, DISTILL_POLICY_GREEDY, 1.0f, &p);
    distill_model_destroy(m); /* the policy keeps its own copy */
    return p;
}

int main(int argc, char **argv)
{
    const long steps = argc > 2 ? atol(argv[2]) : 2000;
    const double rate = argc > 3 ? atof(argv[3]) : 1000.0;
    distill_context *ctx = NULL;
    distill_env *env = NULL;
    distill_policy *policy = NULL;
    void *ws = NULL;
    size_t bytes = 0;
    double *lat = NULL, period, next, ret = 0.0, t0;
    float obs[4], action[1], reward;
    int32_t term, trunc;
    long i, episodes = 0;
    int rc = 1;
    if (steps < 1 || !(rate > 0)) {
        fprintf(stderr, "usage: control_loop [policy.dstl] [steps >= 1] [rate_hz > 0]\n");
        return 2;
    }
    period = 1e6 / rate;
    if (distill_context_create(NULL, &ctx) != DISTILL_OK || distill_env_create(ctx, NULL, &env) != DISTILL_OK)
        goto out;
    if (argc > 1 && argv[1][0]) {
        if (distill_policy_load(ctx, argv[1], &policy) != DISTILL_OK)
            goto out;
    } else if (!(policy = random_policy(ctx))) {
        goto out;
    }
    if (distill_policy_workspace_size(policy, 1, &bytes) != DISTILL_OK || !(ws = malloc(bytes)) ||
        !(lat = malloc(sizeof(double) * (size_t)steps)) || distill_env_reset(env, 0, obs) != DISTILL_OK)
        goto out;
    next = now_us();
    for (i = 0; i < steps; i++) {
        t0 = now_us();
        if (distill_policy_act(policy, ws, bytes, 1, obs, 4, action, 1, NULL) != DISTILL_OK)
            goto out;
        lat[i] = now_us() - t0;
        if (distill_env_step(env, action, obs, &reward, &term, &trunc) != DISTILL_OK)
            goto out;
        ret += reward;
        if (term || trunc) {
            episodes++;
            if (distill_env_reset(env, (uint64_t)episodes, obs) != DISTILL_OK)
                goto out;
        }
        next += period; /* a fixed rate: sleep until the next tick */
        while (now_us() < next) {
            struct timespec ts = {0, 20000};
            nanosleep(&ts, NULL);
        }
    }
    qsort(lat, (size_t)steps, sizeof *lat, cmp_double);
    printf("control_loop: %ld steps at %.0f Hz, act p50 %.2f us, p99 %.2f us, max %.2f us; "
           "%.1f reward per episode over %ld episodes\n", steps, rate, lat[steps / 2],
           lat[(long)(0.99 * (double)(steps - 1))], lat[steps - 1], ret / (double)(episodes ? episodes : 1),
           episodes);
    rc = 0;
out:
    if (rc)
        fprintf(stderr, "control_loop: %s\n", ctx ? distill_context_last_error(ctx) : "no context");
    free(lat);
    free(ws);
    distill_policy_destroy(policy);
    distill_env_destroy(env);
    distill_context_destroy(ctx);
    return rc;
}
