/* Private: behaviour-cloning losses, shared by BC training and the
 * offline-RL method's gradient matching. */
#ifndef DISTILL_RL_BC_H
#define DISTILL_RL_BC_H

#include "../core/internal.h"
#include "distill/rl.h"

/* The BC loss of outputs z (n x k, ldz) against actions a (n rows, lda):
 * discrete (discrete != 0: a[i*lda] is the action index, k the number of
 * actions) with DISTILL_BC_MSE, _MAE (on softmax(z) vs one-hot, mean over
 * n x k) or _XENT (mean over n); continuous: squared error of z against
 * a's first k columns, mean over n x k (any loss kind).  *loss (may be
 * NULL) and dz (n x k, lddz; may be NULL) receive the loss and dL/dz.
 * Action indices are trusted (checked by the caller). */
void distill__bc_loss_grad(int32_t kind, int discrete, int64_t n, int64_t k, const float *z, int64_t ldz,
                           const float *a, int64_t lda, double *loss, float *dz, int64_t lddz);

/* DISTILL_E_INVAL unless every action in the first column of a (n rows,
 * lda) is an integer in 0 .. k-1. */
distill_status distill__bc_check_actions(distill_context *ctx, const char *fn, int64_t n, const float *a,
                                         int64_t lda, int64_t k);

#endif /* DISTILL_RL_BC_H */
