/* Private: the policy handle's layout. */
#ifndef DISTILL_POLICY_INTERNAL_H
#define DISTILL_POLICY_INTERNAL_H

#include "../core/internal.h"
#include "../nn/frozen.h"
#include "distill/policy.h"
#include "moe.h"

struct distill_policy {
    distill_context *ctx;
    int32_t kind;          /* DISTILL_POLICY_NETWORK */
    int32_t mode;          /* DISTILL_POLICY_GREEDY or _SAMPLE */
    float temperature;
    distill_space action;  /* bounds point into `bounds` (box) */
    float *bounds;         /* low[n], high[n], or NULL */
    distill_model *model;  /* owned copy (a mixture: the experts' network) */
    int64_t obs_dim, out_dim;
    distill_model *gating; /* a mixture's gating network (owned), or NULL: uniform */
    distill__moe moe;
    int64_t commit_steps;  /* COMMITTED: redraw every this many steps (0: never) */
    distill__frozen *frozen, *frozen_gating; /* a mixture's networks frozen for its act, or NULL */
};

/* A policy around `model` (taken over: destroyed on failure too), with the
 * space and mode checked as distill_policy_from_model checks them. */
distill_status distill__policy_make(distill_context *ctx, const char *fn, distill_model *model,
                                    const distill_space *action, int32_t mode, float temperature,
                                    distill_policy **out);

/* A mixture-of-experts policy around `experts` and `gating` (may be NULL;
 * both taken over, destroyed on failure too) for a box of m->A actions
 * (bounds: NULL, or low[A] then high[A]). */
distill_status distill__policy_make_moe(distill_context *ctx, const char *fn, distill_model *experts,
                                        distill_model *gating, const distill__moe *m, const float *bounds,
                                        int32_t mode, int64_t commit_steps, distill_policy **out);

/* The MoE kind's workspace and act (moe_act.c). */
distill_status distill__moe_workspace_size(const distill_policy *p, int64_t max_batch, size_t *bytes);
distill_status distill__moe_act(const distill_policy *p, void *ws, size_t ws_bytes, int64_t n, const float *obs,
                                int64_t ldobs, float *actions, int64_t ldact, uint64_t *rng_state,
                                int32_t *experts, float *log_q, const float *given);

#endif /* DISTILL_POLICY_INTERNAL_H */
