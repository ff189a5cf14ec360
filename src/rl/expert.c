/* Scripted experts for the built-in tasks: the demonstrators whose noisy
 * rollouts make offline data for tests, examples and benchmarks. */
#include <math.h>

#include "distill/rl.h"
#include "internal.h"

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

int distill_env_expert(void *env, int64_t n, const float *obs, int64_t ldobs, float *actions, int64_t ldact)
{
    const distill_env *e = env;
    int64_t i;
    if (!e || !e->task || !obs || !actions || n < 0)
        return 1;
    for (i = 0; i < n; i++)
        actions[i * ldact] = e->task->obs_dim == 4 ? cartpole_expert(obs + i * ldobs) : pendulum_expert(obs + i * ldobs);
    return 0;
}
