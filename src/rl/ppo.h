/* Private: the PPO learner's layout (ppo.c collects and updates,
 * ppo_io.c checkpoints). */
#ifndef DISTILL_RL_PPO_H
#define DISTILL_RL_PPO_H

#include "distill/rl.h"
#include "internal.h"

struct distill_ppo {
    distill_context *ctx;
    distill_ppo_options o;
    distill_env *env;
    distill_network_vtable net;
    distill_model *model;        /* distill_ppo_create_model's network, or NULL */
    distill_optimizer *opt;
    int64_t A, O, S, T, N, mb;   /* actions, observation size, slots, steps per slot, samples, minibatch */
    uint64_t stream;
    int64_t iter, next_episode, env_steps;
    int live;                    /* the slots hold episodes in progress */
    /* the slots: built-in task states (or the host env's one), steps into
     * the episode and return so far, and the current observations */
    double *state, *ep_return;
    int64_t *ep_t;
    float *cur;
    /* one iteration's samples, time-major (row k S + i: slot i, step k) */
    float *obs, *act, *logp, *val, *rew, *done, *adv, *ret;
    float *out, *dout, *mbx;     /* the network's outputs and their gradient (max(S, mb) rows), a minibatch */
    int64_t *perm;
    float *saved;                /* parameters and moments before an update */
    int64_t saved_steps;
};

/* One sample's PPO loss, -min(r A, clip(r) A) - entropy H + value_coef
 * (V - R)^2 / 2 from z (A logits, then V): returns it and writes its
 * gradient in z into dz (A + 1); stats += (surrogate, value loss, H,
 * clipped). */
double distill__ppo_sample_loss(int64_t A, const double *z, int64_t a, double logp_old, double adv, double ret,
                                double clip, double entropy, double value_coef, double *dz, double stats[4]);

/* Floats of parameters and optimiser moments in `saved`. */
int64_t distill__ppo_saved_count(const distill_ppo *p);

#endif /* DISTILL_RL_PPO_H */
