/* Scripted experts for the built-in tasks: the demonstrators whose noisy
 * rollouts make offline data for tests, examples and benchmarks. */
#include <math.h>

#include "../core/abi.h"
#include "../core/rng.h"
#include "../data/internal.h"
#include "distill/rl.h"
#include "internal.h"

#define ROUTE_PURPOSE 0x726f757465ULL /* "route" */

/* CartPole: linear state feedback on (x, x', theta, theta'). */
static float cartpole_expert(const float *o)
{
    return 0.1f * o[0] + 0.5f * o[1] + 10.0f * o[2] + 2.0f * o[3] > 0 ? 1.0f : 0.0f;
}

/* Pendulum (theta'' = 15 sin(theta) + 3u, angle 0 up): pump energy towards
 * the upright's, then a PD law near the top. */
static float pendulum_expert(const float *o)
{
    const double th = atan2(o[1], o[0]), rate = o[2], energy = 0.5 * rate * rate + 15.0 * o[0];
    double u = o[0] > 0.85 ? -(10.0 * th + 2.0 * rate) : (energy < 15.0 ? 2.0 : -2.0) * (rate >= 0 ? 1 : -1);
    return (float)(u > 2 ? 2 : u < -2 ? -2 : u);
}

/* Avoid: three waypoints per route, by how far up the robot is: one
 * beside the first obstacle (each route its own, so the route shows in the
 * first step's direction, 24 degrees from its neighbour's), one in a gap of
 * the second row, then straight up.  Routes 0..3: left-outer, left-middle,
 * right-middle, right-outer.  Steps of 0.04 towards the waypoint. */
static void avoid_expert(const float *o, int route, float *a)
{
    static const double first[4] = {-0.5, -0.2, 0.2, 0.5}, second[4] = {-0.55, 0.0, 0.0, 0.55};
    const double x = o[0], y = o[1];
    double tx, ty, dx, dy, len;
    if (y < 0.23)
        tx = first[route], ty = 0.25;
    else if (y < 0.63)
        tx = second[route], ty = 0.65;
    else
        tx = second[route], ty = 1.1;
    dx = tx - x, dy = ty - y, len = sqrt(dx * dx + dy * dy);
    len = len > 1e-9 ? 0.04 / len : 0.0;
    a[0] = (float)(dx * len), a[1] = (float)(dy * len);
}

int distill_env_expert(void *env, int64_t n, const float *obs, int64_t ldobs, float *actions, int64_t ldact)
{
    const distill_env *e = env;
    int64_t i;
    if (!e || !e->task || !obs || !actions || n < 0)
        return 1;
    for (i = 0; i < n; i++) {
        const float *o = obs + i * ldobs;
        if (e->task == distill__task_get(DISTILL_ENV_CARTPOLE))
            actions[i * ldact] = cartpole_expert(o);
        else if (e->task == distill__task_get(DISTILL_ENV_PENDULUM))
            actions[i * ldact] = pendulum_expert(o);
        else /* one route: the middle gap on the side the robot starts */
            avoid_expert(o, o[0] < 0.0f ? 1 : 2, actions + i * ldact);
    }
    return 0;
}

typedef struct demo_user {
    distill_env *env;
    uint64_t seed;
} demo_user;

/* The scripted expert, Avoid's with a route drawn per episode. */
static int demo_act(void *user, int64_t n, const float *obs, int64_t ldobs, float *actions, int64_t ldact,
                    const int64_t *episode, const int64_t *step)
{
    const demo_user *u = user;
    int64_t i;
    (void)step;
    if (u->env->task != distill__task_get(DISTILL_ENV_AVOID))
        return distill_env_expert(u->env, n, obs, ldobs, actions, ldact);
    for (i = 0; i < n; i++) {
        distill__rng r;
        distill__rng_init(&r, u->seed, distill__rng_derive(ROUTE_PURPOSE, (uint64_t)episode[i], 0, 0), 0);
        avoid_expert(obs + i * ldobs, (int)distill__rng_below(&r, 4), actions + i * ldact);
    }
    return 0;
}

distill_status distill_env_demos(distill_env *env, const distill_rollout_options *opts, double *returns,
                                 int64_t *lengths, distill_dataset **trajectories)
{
    static const char fn[] = "distill_env_demos";
    distill_rollout_options o;
    demo_user u;
    if (!env)
        return DISTILL_E_INVAL;
    if (!env->task)
        return distill__fail(env->ctx, DISTILL_E_UNSUPPORTED, "%s: a host env has no scripted expert", fn);
    distill_rollout_options_init(&o);
    if (opts)
        DISTILL__TRY(distill__struct_read(env->ctx, fn, "options", opts, sizeof o, sizeof o, &o));
    u.env = env, u.seed = o.seed;
    return distill__env_rollout_slots(env, &o, demo_act, &u, returns, lengths, trajectories);
}

int32_t distill_env_route(const float *obs, int64_t steps, int64_t ldobs)
{
    int64_t t;
    int side = -1;
    if (!obs || steps < 1 || ldobs < 2)
        return -1;
    for (t = 0; t < steps; t++) {
        const float x = obs[t * ldobs], y = obs[t * ldobs + 1];
        if (side < 0 && y >= 0.3f)
            side = x >= 0.0f;
        if (side >= 0 && y >= 0.65f) {
            const int gap = x < -0.3f ? 0 : x > 0.3f ? 2 : 1; /* outer left, middle, outer right */
            if (gap == 1)
                return side ? 2 : 1;
            if (gap == 0)
                return side ? 5 : 0;
            return side ? 3 : 4;
        }
    }
    return -1;
}

distill_status distill_env_route_stats(const distill_dataset *tr, const double *returns, const int64_t *lengths,
                                       int64_t episodes, double *success, double *entropy)
{
    static const char fn[] = "distill_env_route_stats";
    distill_context *ctx = tr ? tr->ctx : NULL;
    int64_t e, at = 0, wins = 0, count[7] = {0}, rows = 0, od;
    float *x = NULL;
    double h = 0.0;
    int j;
    if (!tr)
        return DISTILL_E_INVAL;
    od = distill_dataset_x_dim(tr);
    if (!returns || !lengths || !success || !entropy || episodes < 1 || od < 2)
        return distill__fail(ctx, DISTILL_E_INVAL, "%s: returns, lengths, success and entropy are required, "
                             "episodes >= 1 and observations of at least (x, y)", fn);
    for (e = 0; e < episodes; e++) {
        if (lengths[e] < 0 || rows > distill_dataset_count(tr) - lengths[e])
            return distill__fail(ctx, DISTILL_E_SHAPE, "%s: the lengths add up to more than the %lld rows", fn,
                                 (long long)distill_dataset_count(tr));
        rows += lengths[e];
    }
    if (rows > 0 && !(x = distill__alloc_zero(ctx, rows, sizeof(float) * (size_t)od)))
        return distill__fail(ctx, DISTILL_E_NOMEM, "%s: out of memory", fn);
    if (rows > 0 && distill_dataset_get_range((distill_dataset *)tr, 0, rows, x, od, NULL, 0) != DISTILL_OK) {
        distill__free(ctx, x);
        return ctx->last_status;
    }
    for (e = 0; e < episodes; e++) {
        if (returns[e] > 0.5)
            wins++, count[distill_env_route(x + at * od, lengths[e], od) + 1]++;
        at += lengths[e];
    }
    distill__free(ctx, x);
    for (j = 0; j < 7; j++)
        if (count[j])
            h -= (double)count[j] / (double)wins * log((double)count[j] / (double)wins);
    *success = (double)wins / (double)episodes, *entropy = wins ? h / log(4.0) : 0.0;
    return DISTILL_OK;
}
