/* Private: the policy handle's layout. */
#ifndef DISTILL_POLICY_INTERNAL_H
#define DISTILL_POLICY_INTERNAL_H

#include "../core/internal.h"
#include "distill/policy.h"

struct distill_policy {
    distill_context *ctx;
    int32_t kind;          /* DISTILL_POLICY_NETWORK */
    int32_t mode;          /* DISTILL_POLICY_GREEDY or _SAMPLE */
    float temperature;
    distill_space action;  /* bounds point into `bounds` (box) */
    float *bounds;         /* low[n], high[n], or NULL */
    distill_model *model;  /* owned copy */
    int64_t obs_dim, out_dim;
};

/* A policy around `model` (taken over: destroyed on failure too), with the
 * space and mode checked as distill_policy_from_model checks them. */
distill_status distill__policy_make(distill_context *ctx, const char *fn, distill_model *model,
                                    const distill_space *action, int32_t mode, float temperature,
                                    distill_policy **out);

#endif /* DISTILL_POLICY_INTERNAL_H */
