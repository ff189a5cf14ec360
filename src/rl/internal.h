/* Private: the environment handle's layout and the built-in tasks. */
#ifndef DISTILL_RL_INTERNAL_H
#define DISTILL_RL_INTERNAL_H

#include "../core/internal.h"
#include "distill/env.h"
#include "distill/data.h"

#define DISTILL__TASK_STATE 8 /* doubles of state a built-in task keeps */
#define DISTILL__TASK_PARAMS 3 /* the options a task reads: depth, goal, image seed */
#define DISTILL__SPACE_MAX 64 /* largest built-in observation or action */
#define DISTILL__BOUNDS_MAX 8 /* observations with bounds in the table (wider: unbounded) */

/* A built-in task: pure functions of a small state, so a rollout can run
 * many episodes side by side. */
typedef struct distill__task {
    const char *name;
    int64_t obs_dim, max_steps;
    distill_space action;                         /* bounds point into the table */
    float obs_low[DISTILL__BOUNDS_MAX], obs_high[DISTILL__BOUNDS_MAX];
    /* param: the env's DISTILL__TASK_PARAMS values, for reset to keep in the state */
    void (*reset)(const double *param, uint64_t seed, double *state);
    /* action already checked (discrete) or clipped (box) */
    void (*step)(double *state, const float *action, float *reward, int32_t *terminated);
    void (*observe)(const double *state, float *obs);
    /* 1 if state (finite) is one reset and step can reach under param: what
     * a checkpoint's restored state must pass (NULL: any finite state) */
    int (*valid)(const double *param, const double *state);
} distill__task;

const distill__task *distill__task_get(int32_t task);

/* The Avoid task's geometry: start near (0, 0), goal the line y = GOAL,
 * walls at |x| = WALL, obstacles of radius RADIUS (the robot's own size
 * included), steps of at most SPEED per axis. */
#define DISTILL__AVOID_OBSTACLES 3
#define DISTILL__AVOID_RADIUS 0.1
#define DISTILL__AVOID_WALL 0.75
#define DISTILL__AVOID_GOAL 1.0
#define DISTILL__AVOID_SPEED 0.05
extern const double distill__avoid_obstacles[DISTILL__AVOID_OBSTACLES][2];

struct distill_env {
    distill_context *ctx;
    const distill__task *task; /* or NULL: the host's vtable */
    distill_env_vtable vt;
    distill_space obs, action;
    float *bounds;             /* obs low, high, action low, high (owned), or NULL */
    int64_t max_steps;
    double param[DISTILL__TASK_PARAMS];
    double state[DISTILL__TASK_STATE];
    int64_t t;                 /* steps into the episode */
    int32_t live;              /* reset done and the episode not ended */
};

/* DISTILL_E_INVAL unless `action` is valid for the env's action space (an
 * index of a discrete space, finite entries of a box); `clipped` (NULL:
 * check only) receives it clipped into the box. */
distill_status distill__env_action(const distill_env *env, const char *fn, const float *action,
                                   float *clipped);

/* DISTILL_E_INVAL (its message on ctx) unless the rollout options are
 * sound for env: what distill_env_rollout checks first, for the callers
 * that size buffers from them before it runs. */
struct distill_rollout_options;
distill_status distill__rollout_check(distill_context *ctx, const distill_env *env,
                                      const struct distill_rollout_options *o);

/* A policy told, for each row, the episode it acts in and the step within
 * it: what a policy that keeps something per episode (a committed expert,
 * a scripted route) needs. */
typedef int (*distill__act_slots_fn)(void *user, int64_t n, const float *obs, int64_t ldobs, float *actions,
                                     int64_t ldact, const int64_t *episode, const int64_t *step);
/* distill_env_rollout with such a policy. */
distill_status distill__env_rollout_slots(distill_env *env, const struct distill_rollout_options *opts,
                                          distill__act_slots_fn act, void *user, double *returns,
                                          int64_t *lengths, distill_dataset **trajectories);

/* distill_trajectories_from_hdf5 on a file image in memory (the fuzz
 * target's entry); DISTILL_E_UNSUPPORTED without HDF5. */
distill_status distill__trajectories_from_hdf5_image(distill_context *ctx, const void *buf, size_t len,
                                                     distill_dataset **out);

#endif /* DISTILL_RL_INTERNAL_H */
