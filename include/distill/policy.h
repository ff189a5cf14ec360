/* libdistill: deployable policies.  A distill_policy is the one handle a
 * controller embeds, whatever made the student (knowledge distillation,
 * offline-RL dataset distillation, and next a mixture of experts or a
 * masked network): one file format, one workspace query, one act.
 *
 * KINDS (DISTILL_POLICY_NETWORK today): a network whose outputs are
 *   - for a discrete action space of n actions: n logits; the action is the
 *     argmax (DISTILL_POLICY_GREEDY) or a draw from softmax(logits / T)
 *     (DISTILL_POLICY_SAMPLE);
 *   - for a box of n actions: n outputs y, squashed into the box as
 *     mid + half * tanh(y) where both bounds are finite, and passed through
 *     where a bound is infinite.
 *
 * THE REAL-TIME CONTRACT of distill_policy_act: it allocates nothing (the
 * caller's workspace, sized by distill_policy_workspace_size, holds every
 * intermediate), takes no lock, logs nothing, writes nothing shared, and may
 * be called by many threads at once on one policy, each with its own
 * workspace and random state.  Its failures return a status and set no
 * message (there is no context to write to from many threads).
 *
 * A policy is frozen: it owns a copy of what made it, and nothing the
 * caller does to the source afterwards changes it. */
#ifndef DISTILL_POLICY_H
#define DISTILL_POLICY_H

#include <stddef.h>
#include <stdint.h>

#include "core.h"
#include "env.h"
#include "export.h"
#include "model.h"
#include "rl.h"
#include "status.h"

DISTILL_BEGIN_DECLS

typedef struct distill_policy distill_policy;

/* What a policy is made of. */
#define DISTILL_POLICY_NETWORK 1
#define DISTILL_POLICY_MOE 2     /* a mixture of Gaussian experts (VDD, vdd.h) */

/* How a policy picks its action.  A discrete network: GREEDY takes the
 * argmax, SAMPLE draws from softmax(logits / T).  A mixture of experts:
 * GREEDY takes the mean of the expert the gating rates highest; SAMPLE
 * draws an expert from the gating at every call and takes its mean;
 * COMMITTED draws an expert once and keeps it (for the episode, or for
 * commit_steps steps) while the gating still gives it at least a tenth of
 * its largest weight there (experts specialise by region as well as by
 * mode; one the gating has left behind is redrawn):
 * distill_policy_act_ex carries the expert between calls,
 * distill_policy_evaluate per episode, and plain distill_policy_act
 * (which keeps nothing) draws anew as SAMPLE does. */
#define DISTILL_POLICY_GREEDY 0
#define DISTILL_POLICY_SAMPLE 1
#define DISTILL_POLICY_COMMITTED 2

/* A policy running a copy of `model` (its outputs: n logits for a discrete
 * action space, n values for a box; its inputs: the observation).  `action`
 * is copied; mode is DISTILL_POLICY_GREEDY or DISTILL_POLICY_SAMPLE (box
 * spaces: GREEDY); temperature > 0 scales the logits of SAMPLE. */
DISTILL_API DISTILL_NODISCARD distill_status
distill_policy_from_model(distill_context *ctx, const distill_model *model, const distill_space *action,
                          int32_t mode, float temperature, distill_policy **out);
/* NULL-safe. */
DISTILL_API void distill_policy_destroy(distill_policy *policy);

DISTILL_API int32_t distill_policy_kind(const distill_policy *policy);
DISTILL_API int64_t distill_policy_obs_dim(const distill_policy *policy);
/* Floats per action row: 1 for a discrete space, n for a box. */
DISTILL_API int64_t distill_policy_action_dim(const distill_policy *policy);
/* The action space; its bounds point into the policy. */
DISTILL_API DISTILL_NODISCARD distill_status distill_policy_action_space(const distill_policy *policy,
                                                                         distill_space *out);

/* Bytes of workspace for distill_policy_act on up to max_batch rows. */
DISTILL_API DISTILL_NODISCARD distill_status
distill_policy_workspace_size(const distill_policy *policy, int64_t max_batch, size_t *bytes);
/* actions (n x action_dim, ldact) for observations (n x obs_dim, ldobs).
 * rng_state: the caller's counter for DISTILL_POLICY_SAMPLE (one per
 * thread; advanced by n; may be NULL for GREEDY and box policies).  A NaN
 * or infinite observation is DISTILL_E_NUMERIC; too small a workspace
 * DISTILL_E_WORKSPACE.  See the real-time contract above. */
DISTILL_API DISTILL_NODISCARD distill_status
distill_policy_act(const distill_policy *policy, void *ws, size_t ws_bytes, int64_t n, const float *obs,
                   int64_t ldobs, float *actions, int64_t ldact, uint64_t *rng_state);

/* ---- mixtures of experts (DISTILL_POLICY_MOE, 0.2) -----------------------
 * Actions are the chosen expert's mean, clipped into finite bounds.  The
 * same real-time contract as distill_policy_act. */

/* Experts (0 for other kinds). */
DISTILL_API int64_t distill_policy_n_experts(const distill_policy *policy);
DISTILL_API int32_t distill_policy_mode(const distill_policy *policy);

/* distill_policy_act, with what a controller needs to watch a mixture:
 * experts (NULL, or n entries): for COMMITTED, an entry >= 0 on input is
 * the expert to keep, < 0 asks for a fresh draw; on output every entry
 * holds the expert that acted.  log_q (NULL, or n entries): log q(a|s) of
 * the returned action under the whole mixture, from the same pass (an
 * out-of-distribution monitor: a low value is an action the policy finds
 * unlikely).  Other kinds take both NULL (else DISTILL_E_UNSUPPORTED). */
DISTILL_API DISTILL_NODISCARD distill_status
distill_policy_act_ex(const distill_policy *policy, void *ws, size_t ws_bytes, int64_t n, const float *obs,
                      int64_t ldobs, float *actions, int64_t ldact, uint64_t *rng_state, int32_t *experts,
                      float *log_q);
/* log_q (n) = log q(a|s) of the given actions (n x action_dim, ldact) under
 * the mixture (DISTILL_POLICY_MOE only); the workspace of distill_policy_act. */
DISTILL_API DISTILL_NODISCARD distill_status
distill_policy_log_prob(const distill_policy *policy, void *ws, size_t ws_bytes, int64_t n, const float *obs,
                        int64_t ldobs, const float *actions, int64_t ldact, float *log_q);
/* Change how a mixture acts: mode DISTILL_POLICY_*, commit_steps >= 0 (0:
 * the whole episode) for COMMITTED.  Not while another thread acts. */
DISTILL_API DISTILL_NODISCARD distill_status distill_policy_set_mode(distill_policy *policy, int32_t mode,
                                                                     int64_t commit_steps);

/* The container format (atomically replaced); load checks everything and
 * gives DISTILL_E_FORMAT for a malformed file. */
DISTILL_API DISTILL_NODISCARD distill_status distill_policy_save(const distill_policy *policy,
                                                                 const char *path);
DISTILL_API DISTILL_NODISCARD distill_status distill_policy_load(distill_context *ctx, const char *path,
                                                                 distill_policy **out);
DISTILL_API DISTILL_NODISCARD distill_status distill_policy_load_memory(distill_context *ctx,
                                                                        const void *buf, size_t len,
                                                                        distill_policy **out);

/* Run opts->episodes seeded episodes of the policy on env (greedy or
 * sampled as the policy says; SAMPLE draws from a counter started from the
 * options' seed and advanced call by call, so sampled results also depend
 * on opts->lockstep).  returns and lengths as distill_env_rollout;
 * trajectories may be NULL. */
DISTILL_API DISTILL_NODISCARD distill_status
distill_policy_evaluate(const distill_policy *policy, distill_env *env, const distill_rollout_options *opts,
                        double *returns, int64_t *lengths, distill_dataset **trajectories);

DISTILL_END_DECLS

#endif /* DISTILL_POLICY_H */
