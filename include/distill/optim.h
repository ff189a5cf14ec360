/* libdistill: optimisers on any float buffer (network weights or synthetic
 * data alike): SGD (momentum, Nesterov, weight decay), Adam, AdamW,
 * RMSprop; global-norm clipping; constant, linear-decay and cosine
 * schedules with linear warm-up.
 *
 * THREAD SAFETY: as the context. */
#ifndef DISTILL_OPTIM_H
#define DISTILL_OPTIM_H

#include <stddef.h>
#include <stdint.h>

#include "core.h"
#include "export.h"
#include "status.h"

DISTILL_BEGIN_DECLS

typedef struct distill_optimizer distill_optimizer;

enum {
    DISTILL_OPTIM_SGD = 0,
    DISTILL_OPTIM_ADAM = 1,   /* weight decay as an L2 term in the gradient */
    DISTILL_OPTIM_ADAMW = 2,  /* decoupled weight decay */
    DISTILL_OPTIM_RMSPROP = 3
};

enum {
    DISTILL_SCHEDULE_CONSTANT = 0,
    DISTILL_SCHEDULE_LINEAR = 1, /* lr -> lr * final_lr_factor over total_steps */
    DISTILL_SCHEDULE_COSINE = 2  /* half cosine from lr to lr * final_lr_factor */
};

enum {
    /* RMSprop: divide by sqrt(v + eps) (Keras' form) instead of sqrt(v) + eps */
    DISTILL_OPTIM_EPS_IN_SQRT = 1u << 0
};

typedef struct distill_optimizer_options {
    uint32_t struct_size;   /* sizeof(distill_optimizer_options) */
    uint32_t flags;         /* DISTILL_OPTIM_* flags below (0) */
    int32_t kind;           /* DISTILL_OPTIM_* (default SGD) */
    int32_t nesterov;       /* SGD: 1 = Nesterov momentum */
    double lr;              /* default 1e-3 */
    double momentum;        /* SGD (default 0) */
    double weight_decay;    /* default 0 */
    double beta1, beta2;    /* Adam(W): 0.9, 0.999 */
    double eps;             /* Adam(W), RMSprop: 1e-8 */
    double alpha;           /* RMSprop squared-gradient decay: 0.99 */
    double clip_norm;       /* > 0: scale the gradient to at most this global norm */
    int32_t schedule;       /* DISTILL_SCHEDULE_* */
    int32_t reserved;
    int64_t total_steps;    /* schedule length (after warm-up) */
    int64_t warmup_steps;   /* linear warm-up from lr/warmup_steps */
    double final_lr_factor; /* default 0 */
} distill_optimizer_options;

DISTILL_API void distill_optimizer_options_init(distill_optimizer_options *opts);
DISTILL_API size_t distill_optimizer_options_size(void);

DISTILL_API DISTILL_NODISCARD distill_status
distill_optimizer_create(distill_context *ctx, const distill_optimizer_options *opts,
                         int64_t n_params, distill_optimizer **out);
DISTILL_API void distill_optimizer_destroy(distill_optimizer *opt);

/* One update of params (n_params floats) from grads; grads is not changed
 * (clipping scales it on the fly).  Fails with DISTILL_E_NUMERIC, leaving
 * params untouched, if grads holds NaN or Inf. */
DISTILL_API DISTILL_NODISCARD distill_status
distill_optimizer_step(distill_optimizer *opt, float *params, const float *grads);

/* The learning rate the next step will use, and the steps taken. */
DISTILL_API double distill_optimizer_lr(const distill_optimizer *opt);
DISTILL_API int64_t distill_optimizer_steps(const distill_optimizer *opt);
/* Change the base learning rate. */
DISTILL_API void distill_optimizer_set_lr(distill_optimizer *opt, double lr);
/* Zero the moments and the step count. */
DISTILL_API void distill_optimizer_reset(distill_optimizer *opt);

/* The optimiser's state (moments), for checkpoints: state_count floats. */
DISTILL_API int64_t distill_optimizer_state_count(const distill_optimizer *opt);
DISTILL_API DISTILL_NODISCARD distill_status
distill_optimizer_get_state(const distill_optimizer *opt, float *state, int64_t count,
                            int64_t *steps);
DISTILL_API DISTILL_NODISCARD distill_status
distill_optimizer_set_state(distill_optimizer *opt, const float *state, int64_t count,
                            int64_t steps);

/* The schedule's learning rate at step t (0-based) for opts. */
DISTILL_API double distill_schedule_lr(const distill_optimizer_options *opts, int64_t step);

/* Scale g (n floats) in place so its Euclidean norm is at most max_norm;
 * *norm (may be NULL) receives the norm before clipping. */
DISTILL_API DISTILL_NODISCARD distill_status
distill_clip_grad_norm(distill_context *ctx, int64_t n, float *g, double max_norm, double *norm);

DISTILL_END_DECLS

#endif /* DISTILL_OPTIM_H */
