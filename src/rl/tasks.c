/* The built-in tasks, with Gymnasium's equations, constants and limits
 * (CartPole-v1 and Pendulum-v1), in double as Gymnasium computes them.
 * Initial states come from a Philox stream keyed by the episode seed alone,
 * so an episode is a pure function of its seed and actions. */
#include <math.h>

#include "../core/rng.h"
#include "internal.h"

#define TASK_STREAM 0x656e76ULL /* "env" */

static double uniform(distill__rng *r, double lo, double hi)
{
    return lo + (hi - lo) * (double)distill__rng_uniform(r);
}

/* ---- CartPole-v1 -------------------------------------------------------- */

#define CP_GRAVITY 9.8
#define CP_MASSCART 1.0
#define CP_MASSPOLE 0.1
#define CP_TOTAL (CP_MASSCART + CP_MASSPOLE)
#define CP_HALF_LENGTH 0.5
#define CP_POLEMASS_LENGTH (CP_MASSPOLE * CP_HALF_LENGTH)
#define CP_FORCE 10.0
#define CP_TAU 0.02
#define CP_THETA_LIMIT (12.0 * 2.0 * 3.14159265358979323846 / 360.0)
#define CP_X_LIMIT 2.4

static void cartpole_reset(const double *param, uint64_t seed, double *s)
{
    (void)param;
    distill__rng r;
    int i;
    distill__rng_init(&r, seed, TASK_STREAM, 0);
    for (i = 0; i < 4; i++)
        s[i] = uniform(&r, -0.05, 0.05);
}

/* Euler integration, Gymnasium's default. */
static void cartpole_step(double *s, const float *action, float *reward, int32_t *terminated)
{
    const double force = action[0] >= 0.5f ? CP_FORCE : -CP_FORCE;
    const double c = cos(s[2]), sn = sin(s[2]);
    const double temp = (force + CP_POLEMASS_LENGTH * s[3] * s[3] * sn) / CP_TOTAL;
    const double theta_acc =
        (CP_GRAVITY * sn - c * temp) /
        (CP_HALF_LENGTH * (4.0 / 3.0 - CP_MASSPOLE * c * c / CP_TOTAL));
    const double x_acc = temp - CP_POLEMASS_LENGTH * theta_acc * c / CP_TOTAL;
    s[0] += CP_TAU * s[1];
    s[1] += CP_TAU * x_acc;
    s[2] += CP_TAU * s[3];
    s[3] += CP_TAU * theta_acc;
    *terminated = s[0] < -CP_X_LIMIT || s[0] > CP_X_LIMIT || s[2] < -CP_THETA_LIMIT ||
                  s[2] > CP_THETA_LIMIT;
    *reward = 1.0f;
}

static void cartpole_observe(const double *s, float *obs)
{
    int i;
    for (i = 0; i < 4; i++)
        obs[i] = (float)s[i];
}

/* ---- Pendulum-v1 -------------------------------------------------------- */

#define PD_MAX_SPEED 8.0
#define PD_MAX_TORQUE 2.0
#define PD_DT 0.05
#define PD_G 10.0
#define PD_M 1.0
#define PD_L 1.0
#define PD_PI 3.14159265358979323846

static void pendulum_reset(const double *param, uint64_t seed, double *s)
{
    (void)param;
    distill__rng r;
    distill__rng_init(&r, seed, TASK_STREAM, 0);
    s[0] = uniform(&r, -PD_PI, PD_PI);
    s[1] = uniform(&r, -1.0, 1.0);
    s[2] = s[3] = 0.0;
}

static double angle_normalize(double x)
{
    double y = fmod(x + PD_PI, 2.0 * PD_PI);
    if (y < 0)
        y += 2.0 * PD_PI;
    return y - PD_PI;
}

static double clip(double x, double lo, double hi) { return x < lo ? lo : x > hi ? hi : x; }

static void pendulum_step(double *s, const float *action, float *reward, int32_t *terminated)
{
    const double u = clip(action[0], -PD_MAX_TORQUE, PD_MAX_TORQUE);
    const double th = s[0], thdot = s[1];
    const double an = angle_normalize(th);
    const double cost = an * an + 0.1 * thdot * thdot + 0.001 * u * u;
    double newthdot = thdot + (3.0 * PD_G / (2.0 * PD_L) * sin(th) + 3.0 / (PD_M * PD_L * PD_L) * u) * PD_DT;
    newthdot = clip(newthdot, -PD_MAX_SPEED, PD_MAX_SPEED);
    s[0] = th + newthdot * PD_DT;
    s[1] = newthdot;
    *reward = (float)-cost;
    *terminated = 0;
}

static void pendulum_observe(const double *s, float *obs)
{
    obs[0] = (float)cos(s[0]);
    obs[1] = (float)sin(s[0]);
    obs[2] = (float)s[1];
}

/* ---- Avoid: a point robot past an obstacle field ------------------------
 * (in the spirit of D3IL's "Avoiding"; the geometry is in avoid.h). */

static void avoid_reset(const double *param, uint64_t seed, double *s)
{
    (void)param;
    distill__rng r;
    distill__rng_init(&r, seed, TASK_STREAM, 0);
    s[0] = uniform(&r, -0.03, 0.03);
    s[1] = uniform(&r, -0.03, 0.0);
    s[2] = s[3] = 0.0;
}

/* Does the segment p -> q come within `reach` of c? */
static int segment_hits(const double *p, const double *q, const double *c, double reach)
{
    const double dx = q[0] - p[0], dy = q[1] - p[1], len2 = dx * dx + dy * dy;
    double t = len2 > 0.0 ? ((c[0] - p[0]) * dx + (c[1] - p[1]) * dy) / len2 : 0.0, ex, ey;
    t = t < 0.0 ? 0.0 : t > 1.0 ? 1.0 : t;
    ex = p[0] + t * dx - c[0], ey = p[1] + t * dy - c[1];
    return ex * ex + ey * ey < reach * reach;
}

static void avoid_step(double *s, const float *action, float *reward, int32_t *terminated)
{
    const double p[2] = {s[0], s[1]}, q[2] = {s[0] + action[0], s[1] + action[1]};
    int i, hit = q[0] < -DISTILL__AVOID_WALL || q[0] > DISTILL__AVOID_WALL || q[1] < -0.1;
    for (i = 0; i < DISTILL__AVOID_OBSTACLES; i++)
        hit |= segment_hits(p, q, distill__avoid_obstacles[i], DISTILL__AVOID_RADIUS);
    s[0] = q[0], s[1] = q[1], s[2] = action[0], s[3] = action[1];
    *reward = !hit && q[1] >= DISTILL__AVOID_GOAL ? 1.0f : 0.0f;
    *terminated = hit || q[1] >= DISTILL__AVOID_GOAL;
}

/* The position alone: the route taken shows in it from the first steps
 * on (the routes fan out from the start), and the multimodality of the
 * demonstrations shows at every state near the start, not at one. */
static void avoid_observe(const double *s, float *obs)
{
    obs[0] = (float)s[0], obs[1] = (float)s[1];
}

const double distill__avoid_obstacles[DISTILL__AVOID_OBSTACLES][2] = {{0.0, 0.3}, {-0.3, 0.65}, {0.3, 0.65}};

/* ---- the mini CT-graph ----------------------------------------------------
 * state: kind (0 start, 1 decision, 2 wait), level, index within the
 * level, goal, depth, image seed (as two 32-bit halves). */

enum { CT_START = 0, CT_DECISION = 1, CT_WAIT = 2 };

static void ct_reset(const double *param, uint64_t seed, double *s)
{
    (void)seed; /* deterministic: the tree is the task */
    s[0] = CT_START, s[1] = 0.0, s[2] = 0.0;
    s[3] = param[1], s[4] = param[0];
    s[5] = (double)((uint64_t)param[2] & 0xffffffffu), s[6] = (double)((uint64_t)param[2] >> 32);
}

static void ct_step(double *s, const float *action, float *reward, int32_t *terminated)
{
    const int a = (int)action[0], kind = (int)s[0], level = (int)s[1], depth = (int)s[4];
    const int64_t index = (int64_t)s[2];
    *reward = 0.0f, *terminated = 0;
    if (kind != CT_DECISION) { /* start or wait: wait goes on, a turn crashes */
        if (a != 0) {
            *terminated = 1;
            return;
        }
        s[0] = CT_DECISION;
        return;
    }
    if (a == 0) { /* waiting at a decision crashes */
        *terminated = 1;
        return;
    }
    s[2] = (double)(2 * index + (a - 1));
    if (level + 1 == depth) { /* a leaf */
        *reward = (int64_t)s[2] == (int64_t)s[3] ? 1.0f : 0.0f;
        *terminated = 1;
        return;
    }
    s[0] = CT_WAIT, s[1] = level + 1;
}

/* Every node its own image: 64 uniform values from (image seed, node). */
static void ct_observe(const double *s, float *obs)
{
    const uint64_t seed = (uint64_t)s[5] | (uint64_t)s[6] << 32;
    const uint64_t heap = ((uint64_t)1 << (int)s[1]) - 1 + (uint64_t)s[2]; /* the node's place in the tree */
    const uint64_t node = s[0] == CT_START ? 0 : 2 * heap + (uint64_t)s[0];
    int k;
    for (k = 0; k < 64; k++)
        obs[k] = (float)(distill__rng_word(seed, TASK_STREAM + 1 + node, (uint64_t)k) >> 8) * (1.0f / 16777216.0f);
}

static int whole(double x, double lo, double hi) { return x >= lo && x <= hi && x == floor(x); }

static int ct_valid(const double *param, const double *s)
{
    const double depth = param[0], seed = (double)((uint64_t)param[2] & 0xffffffffu);
    if (!whole(s[0], CT_START, CT_WAIT) || !whole(s[4], 2, 3) || s[4] != depth || s[3] != param[1] ||
        s[5] != seed || s[6] != (double)((uint64_t)param[2] >> 32) || !whole(s[1], 0, depth - 1))
        return 0;
    return whole(s[2], 0, ldexp(1.0, (int)s[1]) - 1) && (s[0] != CT_START || (s[1] == 0 && s[2] == 0));
}

/* ---- grid navigation: state x, y (0 .. 4), goal ------------------------- */

static void grid_reset(const double *param, uint64_t seed, double *s)
{
    (void)seed;
    s[0] = 2.0, s[1] = 2.0, s[2] = param[1];
}

static void grid_step(double *s, const float *action, float *reward, int32_t *terminated)
{
    static const int dx[4] = {0, 0, -1, 1}, dy[4] = {-1, 1, 0, 0};
    const int a = (int)action[0], goal = (int)s[2];
    const int x = (int)s[0] + dx[a], y = (int)s[1] + dy[a];
    if (x >= 0 && x < 5 && y >= 0 && y < 5)
        s[0] = x, s[1] = y;
    *terminated = (int)s[0] == (goal & 1 ? 4 : 0) && (int)s[1] == (goal & 2 ? 4 : 0);
    *reward = *terminated ? 1.0f : 0.0f;
}

static int grid_valid(const double *param, const double *s)
{
    return whole(s[0], 0, 4) && whole(s[1], 0, 4) && s[2] == param[1];
}

static void grid_observe(const double *s, float *obs)
{
    int k;
    for (k = 0; k < 25; k++)
        obs[k] = 0.0f;
    obs[(int)s[1] * 5 + (int)s[0]] = 1.0f;
}

/* ---- the table ---------------------------------------------------------- */

static const float torque_low[1] = {-2.0f}, torque_high[1] = {2.0f};
static const float step_low[2] = {-(float)DISTILL__AVOID_SPEED, -(float)DISTILL__AVOID_SPEED};
static const float step_high[2] = {(float)DISTILL__AVOID_SPEED, (float)DISTILL__AVOID_SPEED};

static const distill__task tasks[] = {
    {"CartPole-v1", 4, 500, {sizeof(distill_space), DISTILL_SPACE_DISCRETE, 2, NULL, NULL},
     {-4.8f, -INFINITY, -0.41887903f, -INFINITY}, {4.8f, INFINITY, 0.41887903f, INFINITY},
     cartpole_reset, cartpole_step, cartpole_observe, NULL},
    {"Pendulum-v1", 3, 200, {sizeof(distill_space), DISTILL_SPACE_BOX, 1, torque_low, torque_high},
     {-1.0f, -1.0f, -8.0f}, {1.0f, 1.0f, 8.0f}, pendulum_reset, pendulum_step, pendulum_observe, NULL},
    {"Avoid", 2, 60, {sizeof(distill_space), DISTILL_SPACE_BOX, 2, step_low, step_high},
     {-0.9f, -0.2f}, {0.9f, 1.1f}, avoid_reset, avoid_step, avoid_observe, NULL},
    {"CT-graph", 64, 0, {sizeof(distill_space), DISTILL_SPACE_DISCRETE, 3, NULL, NULL}, {0}, {0},
     ct_reset, ct_step, ct_observe, ct_valid},
    {"Grid", 25, 20, {sizeof(distill_space), DISTILL_SPACE_DISCRETE, 4, NULL, NULL}, {0}, {0},
     grid_reset, grid_step, grid_observe, grid_valid},
};

const distill__task *distill__task_get(int32_t task)
{
    if (task == DISTILL_ENV_CARTPOLE)
        return &tasks[0];
    if (task == DISTILL_ENV_PENDULUM)
        return &tasks[1];
    if (task == DISTILL_ENV_AVOID)
        return &tasks[2];
    if (task == DISTILL_ENV_CTGRAPH)
        return &tasks[3];
    if (task == DISTILL_ENV_GRID)
        return &tasks[4];
    return NULL;
}
