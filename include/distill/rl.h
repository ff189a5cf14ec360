/* libdistill: rollouts and offline data.  distill_env_rollout runs N seeded
 * episodes of any policy (a callback; distill_policy_evaluate in policy.h
 * runs a deployable policy) on an environment, returns each episode's
 * return and length, and can record the transitions as a dataset: the
 * offline data that behaviour cloning and the offline-RL method learn from.
 *
 * A TRAJECTORY DATASET has one row per step: x = the observation the agent
 * acted on; y = the action (distill_env_action_dim() floats) followed by
 * DISTILL_TRAJ_EXTRA columns at these offsets past the action:
 *
 *   DISTILL_TRAJ_REWARD   the reward of the step
 *   DISTILL_TRAJ_DONE     1 terminated, 2 truncated (time limit), 0 otherwise
 *   DISTILL_TRAJ_EPISODE  the episode's index (0 .. N-1)
 *   DISTILL_TRAJ_RTG      the return-to-go: rewards summed from this step on
 *
 * Episodes are stored whole and in order, so rows of episode i are
 * contiguous.
 *
 * DETERMINISM: episode i resets with seed + i and draws its exploration
 * noise from a stream of its own, so results do not depend on how many
 * episodes run side by side (built-in tasks run up to `lockstep` at once
 * and call the policy on the whole batch; host envs run one at a time). */
#ifndef DISTILL_RL_H
#define DISTILL_RL_H

#include <stddef.h>
#include <stdint.h>

#include "core.h"
#include "data.h"
#include "env.h"
#include "model.h"
#include "optim.h"
#include "export.h"
#include "status.h"

DISTILL_BEGIN_DECLS

#define DISTILL_TRAJ_REWARD 0
#define DISTILL_TRAJ_DONE 1
#define DISTILL_TRAJ_EPISODE 2
#define DISTILL_TRAJ_RTG 3
#define DISTILL_TRAJ_EXTRA 4

/* The host's policy: actions (n x action_dim, ldact) for the observations
 * (n x obs_dim, ldobs).  Return 0, or non-zero on failure. */
typedef int (*distill_act_fn)(void *user, int64_t n, const float *obs, int64_t ldobs, float *actions,
                              int64_t ldact);

typedef struct distill_rollout_options {
    uint32_t struct_size; /* sizeof(distill_rollout_options) */
    int64_t episodes;     /* episodes to run, >= 1 (10) */
    uint64_t seed;        /* episode i resets with seed + i (0) */
    double epsilon;       /* probability of a uniformly random action instead of the policy's (0);
                             a box action space then needs finite bounds */
    double action_noise;  /* box actions: Gaussian noise of this std added, then clipped (0) */
    int64_t lockstep;     /* built-in tasks: episodes run side by side (64) */
} distill_rollout_options;

DISTILL_API void distill_rollout_options_init(distill_rollout_options *opts);
DISTILL_API size_t distill_rollout_options_size(void);

/* Run opts->episodes episodes of `act` on env.  returns and lengths (either
 * may be NULL) receive one entry per episode; trajectories (may be NULL)
 * receives a new trajectory dataset on env's context.  A failing act
 * callback, or an action outside the action space, is DISTILL_E_BACKEND;
 * a failing env callback too (the env stays usable).  Progress is reported
 * per finished episode and cancellation honoured between steps. */
DISTILL_API DISTILL_NODISCARD distill_status
distill_env_rollout(distill_env *env, const distill_rollout_options *opts, distill_act_fn act, void *user,
                    double *returns, int64_t *lengths, distill_dataset **trajectories);

/* A scripted expert for the built-in tasks, as a distill_act_fn: pass the
 * env (a built-in task) as `user`.  CartPole: linear state feedback (every
 * episode reaches the 500-step limit); Pendulum: energy pumping, then a PD
 * law near the top (about -150 per episode).  Non-zero for a host env. */
DISTILL_API int distill_env_expert(void *env, int64_t n, const float *obs, int64_t ldobs, float *actions,
                                   int64_t ldact);

/* The scripted expert's episodes, recorded as distill_env_rollout records
 * them (opts as there: its action_noise makes the data noisy): Avoid's
 * expert takes one of the four routes, drawn per episode from the options'
 * seed, and follows it by waypoints (multi-modal demonstrations).  A host
 * env is DISTILL_E_UNSUPPORTED. */
DISTILL_API DISTILL_NODISCARD distill_status
distill_env_demos(distill_env *env, const distill_rollout_options *opts, double *returns, int64_t *lengths,
                  distill_dataset **trajectories);
/* The route an Avoid episode took, from its observations (steps rows of at
 * least 2 floats, ldobs apart: the x of a trajectory dataset): 0 left and
 * round the outside, 1 left then the middle gap, 2 right then the middle
 * gap, 3 right and round the outside, 4 and 5 the crossings (left then
 * round the right, right then round the left); -1 if the episode did not
 * reach the second row of obstacles. */
DISTILL_API int32_t distill_env_route(const float *obs, int64_t steps, int64_t ldobs);
/* Avoid's scores of a recorded evaluation (trajectories as
 * distill_env_rollout records them, with its returns and lengths): the
 * success rate (episodes with return > 0.5) and the route entropy (the
 * entropy of distill_env_route over the successful episodes, divided by
 * log 4: 0 one route, 1 all four alike; 0 without a success). */
DISTILL_API DISTILL_NODISCARD distill_status
distill_env_route_stats(const distill_dataset *trajectories, const double *returns, const int64_t *lengths,
                        int64_t episodes, double *success, double *entropy);
/* Offline data in the D4RL layout (/observations, /actions, /rewards,
 * /terminals, optional /timeouts; episodes end at a terminal or timeout)
 * or Minari's (/episode_<i> groups with observations (one row more than
 * the steps), actions, rewards, terminations, truncations), as a
 * trajectory dataset.  Needs a library built with HDF5 (`make HDF5=1`;
 * else DISTILL_E_UNSUPPORTED); a malformed file is DISTILL_E_FORMAT naming
 * the dataset. */
DISTILL_API DISTILL_NODISCARD distill_status
distill_trajectories_from_hdf5(distill_context *ctx, const char *path, distill_dataset **out);

/* ---- behaviour cloning --------------------------------------------------
 * A student (a distill_model: observations in, one output per discrete
 * action or per continuous action dimension out) fitted to the actions of
 * a dataset whose y starts with the action (a trajectory dataset, or any
 * labelled set: class = action).  The baselines of the offline-RL method
 * (all data, m random states, percentile BC) and its final evaluation all
 * train through this one function. */

/* BC losses (discrete actions; continuous actions always use squared error). */
#define DISTILL_BC_MSE 0  /* squared error of softmax(z) against the one-hot action, mean over rows x actions */
#define DISTILL_BC_MAE 1  /* absolute error of softmax(z) against the one-hot action */
#define DISTILL_BC_XENT 2 /* cross-entropy, mean over rows */
#define DISTILL_BC_MAX_ACTIONS 256

typedef struct distill_bc_options {
    uint32_t struct_size; /* sizeof(distill_bc_options) */
    int32_t loss;         /* DISTILL_BC_* (DISTILL_BC_XENT) */
    int64_t n_actions;    /* discrete: the number of actions, 2 .. 256 (the student's outputs); 0: continuous */
    int64_t steps;        /* Adam steps (1000) */
    int64_t batch;        /* rows per step (256; at most the data) */
    double lr;            /* Adam's learning rate (0.005) */
    uint64_t stream;      /* the mini-batch order's stream (0) */
} distill_bc_options;

DISTILL_API void distill_bc_options_init(distill_bc_options *opts);
DISTILL_API size_t distill_bc_options_size(void);

/* Train `student` in place on `data` (x: observations of the student's
 * input size; y: the action first).  final_loss (may be NULL) receives the
 * mean loss of the last 10% of steps.  Progress is reported per step and
 * cancellation honoured between steps. */
DISTILL_API DISTILL_NODISCARD distill_status
distill_bc_train(distill_context *ctx, const distill_bc_options *opts, distill_model *student,
                 distill_dataset *data, double *final_loss);

/* The rows of the best `fraction` (0 < fraction <= 1) of a trajectory
 * dataset's episodes by return (at least one episode; ties keep the
 * earlier episode), in their original order: percentile BC's data.
 * action_dim: the floats of the action at the start of y. */
DISTILL_API DISTILL_NODISCARD distill_status
distill_trajectory_top(const distill_dataset *trajectories, int64_t action_dim, double fraction,
                       distill_dataset **out);

/* ---- PPO (0.2) -------------------------------------------------------------
 * Proximal policy optimisation on a discrete-action env: an actor-critic
 * network (outputs: the env's n action logits, then the state value),
 * envs x steps samples per iteration, GAE(gamma, lambda), advantages
 * normalised per batch, epochs x minibatches updates of
 *     -min(r A, clip(r, 1 - clip, 1 + clip) A) + value_coef (V - R)^2 / 2 - entropy H,
 * global-norm clipping and RMSprop (the modulating-masks papers' settings
 * are the defaults).  The network is a distill_model or any network
 * behind distill_network_vtable (a masknet's task in training: mask.h).
 * A time limit ends an episode like a terminal state (no bootstrap).
 * Results are bit-identical for the same seed and thread count. */

/* A trainable network behind callbacks: forward keeps what backward needs;
 * backward writes (not adds) the gradient of sum(dy . y) into `grads`.
 * params and grads (n_params floats each) stay where they are while the
 * vtable is in use.  Callbacks return 0, or non-zero on failure. */
typedef struct distill_network_vtable {
    uint32_t struct_size; /* sizeof(distill_network_vtable) */
    void *user;
    int64_t inputs, outputs, n_params;
    float *params, *grads;
    int (*forward)(void *user, int64_t n, const float *x, int64_t ldx, float *y, int64_t ldy);
    int (*backward)(void *user, const float *dy, int64_t lddy);
} distill_network_vtable;

DISTILL_API size_t distill_network_vtable_size(void);

typedef struct distill_ppo distill_ppo;

typedef struct distill_ppo_options {
    uint32_t struct_size;  /* sizeof(distill_ppo_options) */
    int32_t optimizer;     /* DISTILL_OPTIM_RMSPROP (default) or DISTILL_OPTIM_ADAM */
    int64_t envs;          /* episodes run side by side (4; a host env runs them one after another) */
    int64_t steps;         /* steps per env and iteration (128) */
    int64_t epochs;        /* passes over an iteration's samples (8) */
    int64_t minibatches;   /* per epoch (64: 8 samples each) */
    double lr;             /* (1.5e-4) */
    double gamma;          /* (0.99) */
    double lambda;         /* GAE (0.99) */
    double clip;           /* the ratio's clip (0.1) */
    double entropy;        /* the entropy bonus' weight (0.1) */
    double value_coef;     /* (0.5) */
    double max_grad_norm;  /* global-norm clipping, 0: none (5) */
    uint64_t seed;         /* episode i (over all envs, in order) resets with seed + i (0) */
} distill_ppo_options;

DISTILL_API void distill_ppo_options_init(distill_ppo_options *opts);
DISTILL_API size_t distill_ppo_options_size(void);

/* What an iteration did. */
typedef struct distill_ppo_stats {
    uint32_t struct_size;   /* sizeof(distill_ppo_stats) */
    int64_t episodes;       /* episodes that ended in the iteration */
    double mean_return;     /* their mean return (NaN without one) */
    double success;         /* the fraction of them with a positive return */
    double policy_loss, value_loss, entropy;  /* means over the updates */
    double clip_fraction;   /* the samples whose clipped term was the smaller (no policy gradient) */
    int64_t env_steps;      /* env steps so far */
} distill_ppo_stats;

DISTILL_API size_t distill_ppo_stats_size(void);

/* PPO on env (discrete actions; the network's inputs are its observations,
 * its outputs the actions plus one).  The learner keeps references to env
 * and the network, which must outlive it (or the next distill_ppo_retarget). */
DISTILL_API DISTILL_NODISCARD distill_status
distill_ppo_create(distill_context *ctx, const distill_ppo_options *opts, distill_env *env,
                   const distill_network_vtable *net, distill_ppo **out);
/* The same with a distill_model as the network (trained in place). */
DISTILL_API DISTILL_NODISCARD distill_status
distill_ppo_create_model(distill_context *ctx, const distill_ppo_options *opts, distill_env *env,
                         distill_model *model, distill_ppo **out);
DISTILL_API void distill_ppo_destroy(distill_ppo *ppo);
/* A new task: another env (same spaces) and/or network binding (same shape;
 * NULL keeps the current), fresh episodes and optimiser moments; the
 * iteration count goes on. */
DISTILL_API DISTILL_NODISCARD distill_status
distill_ppo_retarget(distill_ppo *ppo, distill_env *env, const distill_network_vtable *net);
/* One iteration (collect, then update); stats (may be NULL) with its
 * struct_size set by the caller.  A failing network or env callback is
 * DISTILL_E_BACKEND (a network that failed for want of memory inside the
 * library: DISTILL_E_NOMEM); the parameters and moments are then as before
 * the update, the iteration is not counted, and the episodes start again. */
DISTILL_API DISTILL_NODISCARD distill_status distill_ppo_step(distill_ppo *ppo, distill_ppo_stats *stats);
/* Iterations until `until` are done, with progress and cancellation. */
DISTILL_API DISTILL_NODISCARD distill_status distill_ppo_run(distill_ppo *ppo, int64_t until);
DISTILL_API int64_t distill_ppo_iterations(const distill_ppo *ppo);
/* A checkpoint of the learner: the episodes in progress (a built-in env's;
 * a host env's cannot be saved: DISTILL_E_UNSUPPORTED), the network's
 * parameters and the optimiser's moments; a resume under the same options,
 * env, network shape and context seed continues bit-identically, and a
 * refused file changes nothing. */
DISTILL_API DISTILL_NODISCARD distill_status distill_ppo_checkpoint(const distill_ppo *ppo, const char *path);
DISTILL_API DISTILL_NODISCARD distill_status distill_ppo_resume(distill_ppo *ppo, const char *path);

DISTILL_END_DECLS

#endif /* DISTILL_RL_H */
