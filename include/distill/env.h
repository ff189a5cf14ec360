/* libdistill: environments.  A distill_env is one handle for a task an agent
 * acts in, whatever it is made from:
 *
 *   distill_env_create        a built-in C task (CartPole-v1, Pendulum-v1,
 *                             with Gymnasium's equations and limits);
 *   distill_env_from_vtable   the host's callbacks (copied, with the spaces).
 *
 * An episode is reset with a seed and is then a pure function of that seed
 * and the actions taken: built-in tasks draw their initial state from the
 * library's counter-based RNG (stream = the seed), never from global state.
 *
 * ACTIONS are float rows of distill_env_action_dim() entries: a discrete
 * action is one entry holding its index (0 .. n-1, an integer value); a box
 * action is a vector (built-in tasks clip it into the box, as Gymnasium
 * does).
 *
 * FAILURE: a host callback that returns non-zero gives DISTILL_E_BACKEND
 * with a message naming the callback; the env stays usable (the next call
 * must be a reset).  A step after the episode ended, or before any reset,
 * is DISTILL_E_INVAL.
 *
 * THREAD SAFETY: as the context it was made on. */
#ifndef DISTILL_ENV_H
#define DISTILL_ENV_H

#include <stddef.h>
#include <stdint.h>

#include "core.h"
#include "export.h"
#include "status.h"

DISTILL_BEGIN_DECLS

typedef struct distill_env distill_env;

/* Space kinds. */
#define DISTILL_SPACE_DISCRETE 1 /* n actions, 0 .. n-1 */
#define DISTILL_SPACE_BOX 2      /* n floats, each in [low[i], high[i]] */

/* An observation or action space.  For a box, low and high hold n bounds
 * each (either may be NULL: unbounded); infinite bounds are allowed. */
typedef struct distill_space {
    uint32_t struct_size; /* sizeof(distill_space) */
    int32_t kind;         /* DISTILL_SPACE_DISCRETE or DISTILL_SPACE_BOX */
    int64_t n;            /* actions (discrete) or dimension (box), >= 1 */
    const float *low, *high;
} distill_space;

DISTILL_API size_t distill_space_size(void);

/* Built-in tasks. */
#define DISTILL_ENV_CARTPOLE 1 /* CartPole-v1: 4 observations, 2 actions, 500 steps */
#define DISTILL_ENV_PENDULUM 2 /* Pendulum-v1: (cos, sin, rate), torque in [-2, 2], 200 steps */
/* Avoid (0.2): a 2-D point robot that must reach the line y = 1 from near
 * (0, 0) past three obstacles (radius 0.1 at (0, 0.3), (-0.3, 0.65),
 * (0.3, 0.65)) between walls at |x| = 0.75, by four distinct routes (left
 * or right of the first obstacle, then through the middle gap or round the
 * outside).  Observation (x, y): the position; action: the step (dx, dy),
 * each in [-0.05, 0.05];
 * reward 1 on reaching the goal; a collision (the path of a step touching
 * an obstacle or a wall) ends the episode with 0; 60 steps.  In the spirit
 * of D3IL's "Avoiding"; distill_env_demos gives multi-route
 * demonstrations, distill_env_route names the route an episode took. */
#define DISTILL_ENV_AVOID 3
/* The mini CT-graph (0.2; docs/masks.md): a binary tree of `depth` (2 or
 * 3) decision levels.  The agent sees an 8 x 8 image (64 values in [0, 1])
 * of the node it is at, each node its own image drawn from `image_seed`;
 * actions: 0 wait, 1 left, 2 right.  From the start, wait leads to the
 * root's decision node; at a decision node a turn leads to that child's
 * wait node (or, at the last level, to a leaf) and wait crashes; at a start
 * or wait node wait goes on and a turn crashes.  Reward 1 on reaching leaf
 * `goal` (0 .. 2^depth - 1, left to right), 0 at any other leaf or a crash,
 * which end the episode.  A task is (image_seed, goal): 2 seeds give 8
 * tasks at depth 2, 16 at depth 3.  Limit 4 depth steps. */
#define DISTILL_ENV_CTGRAPH 4
/* Grid navigation (0.2): a 5 x 5 grid, the agent starts in the middle,
 * observes its cell one-hot (25 values) and moves up, down, left or right
 * (actions 0 .. 3; into a wall: stays); reward 1 on reaching corner `goal`
 * (0 top-left, 1 top-right, 2 bottom-left, 3 bottom-right), which ends the
 * episode; 20 steps. */
#define DISTILL_ENV_GRID 5

typedef struct distill_env_options {
    uint32_t struct_size; /* sizeof(distill_env_options) */
    int32_t task;         /* DISTILL_ENV_CARTPOLE (default), _PENDULUM, _AVOID, _CTGRAPH or _GRID */
    int64_t max_steps;    /* truncate episodes after this many steps (0: the task's limit) */
    int64_t depth;        /* CT-graph: 2 or 3 (2) */
    int64_t goal;         /* CT-graph: the rewarded leaf; grid: the goal corner (0) */
    uint64_t image_seed;  /* CT-graph: the nodes' images (0) */
} distill_env_options;

DISTILL_API void distill_env_options_init(distill_env_options *opts);
DISTILL_API size_t distill_env_options_size(void);

/* The host's environment.  Each callback returns 0, or non-zero on failure.
 * reset writes the first observation (obs_dim floats); step applies one
 * action (action_dim floats) and writes the next observation, the reward
 * and whether the episode terminated (the task ended) or was truncated
 * (a time limit; the handle also truncates at the options' max_steps). */
typedef struct distill_env_vtable {
    uint32_t struct_size; /* sizeof(distill_env_vtable) */
    void *user;
    int (*reset)(void *user, uint64_t seed, float *obs);
    int (*step)(void *user, const float *action, float *obs, float *reward, int32_t *terminated,
                int32_t *truncated);
    /* Optional: called once, when the env is destroyed. */
    void (*release)(void *user);
} distill_env_vtable;

DISTILL_API size_t distill_env_vtable_size(void);

/* opts may be NULL for CartPole with its own limit. */
DISTILL_API DISTILL_NODISCARD distill_status
distill_env_create(distill_context *ctx, const distill_env_options *opts, distill_env **out);
/* obs: a box of the observation size (bounds optional); action: discrete or
 * box; both are copied.  max_steps: truncate after this many steps (0: only
 * when the host says so).  On failure `release` is not called. */
DISTILL_API DISTILL_NODISCARD distill_status
distill_env_from_vtable(distill_context *ctx, const distill_env_vtable *vtable, const distill_space *obs,
                        const distill_space *action, int64_t max_steps, distill_env **out);
/* NULL-safe; calls the vtable's release. */
DISTILL_API void distill_env_destroy(distill_env *env);

DISTILL_API int64_t distill_env_obs_dim(const distill_env *env);
/* Floats per action row: 1 for a discrete space, n for a box. */
DISTILL_API int64_t distill_env_action_dim(const distill_env *env);
/* The spaces; the bounds point into the env (valid while it lives). */
DISTILL_API DISTILL_NODISCARD distill_status distill_env_obs_space(const distill_env *env, distill_space *out);
DISTILL_API DISTILL_NODISCARD distill_status distill_env_action_space(const distill_env *env,
                                                                      distill_space *out);
/* The truncation limit in force (0: none). */
DISTILL_API int64_t distill_env_max_steps(const distill_env *env);

DISTILL_API DISTILL_NODISCARD distill_status distill_env_reset(distill_env *env, uint64_t seed, float *obs);
/* terminated/truncated may be NULL.  An action outside a discrete space
 * (not an integer in 0 .. n-1) or not finite is DISTILL_E_INVAL. */
DISTILL_API DISTILL_NODISCARD distill_status
distill_env_step(distill_env *env, const float *action, float *obs, float *reward, int32_t *terminated,
                 int32_t *truncated);

DISTILL_END_DECLS

#endif /* DISTILL_ENV_H */
