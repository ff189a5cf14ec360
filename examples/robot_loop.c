/* A robot's loop: a mixture-of-experts policy (VDD's student) driving the
 * Avoid point robot at a fixed rate, committed to one expert per episode.
 *
 *   robot_loop [policy.dstl] [steps] [rate_hz]
 *
 * policy.dstl comes from `distill vdd --out DIR` (DIR/policy.dstl).  Without
 * one the policy is an untrained student (it crashes into the first
 * obstacle; the timing is what matters).  Everything is allocated before the
 * loop; inside it distill_policy_act_ex allocates nothing and takes no
 * lock, and returns with each action the expert that acted and log q(a|s),
 * which a controller can watch: a low value is an action the policy itself
 * finds unlikely.  Prints the act time's p50, p99 and max in microseconds,
 * the success rate, and the lowest log q seen. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

static int zero_score(void *user, int64_t n, const float *a, const float *s, const float *sigma, float *out)
{
    (void)user, (void)a, (void)s, (void)sigma;
    memset(out, 0, sizeof(float) * (size_t)(2 * n));
    return 0;
}

/* An untrained student of the usual shape: 8 experts, a learned gating. */
static distill_policy *untrained_policy(distill_context *ctx)
{
    static float x[4], y[4];
    distill_score_vtable vt = {sizeof vt, NULL, zero_score, NULL};
    distill_diffusion *teacher = NULL;
    distill_dataset *demos = NULL;
    distill_vdd *vdd = NULL;
    distill_policy *p = NULL;
    if (distill_dataset_from_memory(ctx, 2, 2, x, 2, 2, y, 2, DISTILL_DATASET_COPY, &demos) == DISTILL_OK &&
        distill_diffusion_from_score(ctx, &vt, 2, 2, &teacher) == DISTILL_OK &&
        distill_vdd_create(ctx, NULL, teacher, demos, &vdd) == DISTILL_OK)
        (void)!distill_vdd_policy(vdd, DISTILL_POLICY_COMMITTED, 0, &p);
    distill_vdd_destroy(vdd), distill_diffusion_destroy(teacher), distill_dataset_destroy(demos);
    return p;
}

int main(int argc, char **argv)
{
    const long steps = argc > 2 ? atol(argv[2]) : 2000;
    const double rate = argc > 3 ? atof(argv[3]) : 1000.0;
    distill_env_options eo;
    distill_context *ctx = NULL;
    distill_env *env = NULL;
    distill_policy *policy = NULL;
    void *ws = NULL;
    size_t bytes = 0;
    double *lat = NULL, period, next, t0, min_log_q = 1e30;
    float obs[2], action[2], reward, log_q;
    int32_t term, trunc, expert = -1;
    uint64_t rng = 1;
    long i, episodes = 0, successes = 0;
    int rc = 1;
    if (steps < 1 || !(rate > 0)) {
        fprintf(stderr, "usage: robot_loop [policy.dstl] [steps >= 1] [rate_hz > 0]\n");
        return 2;
    }
    period = 1e6 / rate;
    distill_env_options_init(&eo);
    eo.task = DISTILL_ENV_AVOID;
    if (distill_context_create(NULL, &ctx) != DISTILL_OK || distill_env_create(ctx, &eo, &env) != DISTILL_OK)
        goto out;
    if (argc > 1 && argv[1][0]) {
        if (distill_policy_load(ctx, argv[1], &policy) != DISTILL_OK ||
            distill_policy_set_mode(policy, DISTILL_POLICY_COMMITTED, 0) != DISTILL_OK)
            goto out;
    } else if (!(policy = untrained_policy(ctx))) {
        goto out;
    }
    if (distill_policy_workspace_size(policy, 1, &bytes) != DISTILL_OK || !(ws = malloc(bytes)) ||
        !(lat = malloc(sizeof(double) * (size_t)steps)) || distill_env_reset(env, 0, obs) != DISTILL_OK)
        goto out;
    next = now_us();
    for (i = 0; i < steps; i++) {
        t0 = now_us();
        if (distill_policy_act_ex(policy, ws, bytes, 1, obs, 2, action, 2, &rng, &expert, &log_q) != DISTILL_OK)
            goto out;
        lat[i] = now_us() - t0;
        min_log_q = log_q < min_log_q ? log_q : min_log_q;
        if (distill_env_step(env, action, obs, &reward, &term, &trunc) != DISTILL_OK)
            goto out;
        if (term || trunc) {
            successes += reward > 0.5f, episodes++;
            expert = -1; /* a new episode draws a new expert */
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
    printf("robot_loop: %ld steps at %.0f Hz, act p50 %.2f us, p99 %.2f us, max %.2f us; %ld of %ld episodes "
           "reached the goal; lowest log q %.2f\n", steps, rate, lat[steps / 2],
           lat[(long)(0.99 * (double)(steps - 1))], lat[steps - 1], successes, episodes, min_log_q);
    rc = 0;
out:
    if (rc)
        fprintf(stderr, "robot_loop: %s\n", ctx ? distill_context_last_error(ctx) : "no context");
    free(lat);
    free(ws);
    distill_policy_destroy(policy);
    distill_env_destroy(env);
    distill_context_destroy(ctx);
    return rc;
}
