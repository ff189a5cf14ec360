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

DISTILL_END_DECLS

#endif /* DISTILL_RL_H */
