/* Private: the mixture of Gaussian experts a VDD student is (docs/vdd.md),
 * shared by the policy that acts with it and the solver that trains it.
 *
 * The experts' network maps an observation to one row of K x A means,
 * then K x C raw Cholesky entries (C = A(A+1)/2 for a full covariance, the
 * lower triangle row by row; C = A for a diagonal one).  A diagonal entry
 * of L is softplus(raw + shift) + min_std, so that raw = 0 gives init_std
 * (shift = softplus^-1(init_std - min_std)); off-diagonal entries are raw.
 * The gating is a second network giving K logits (or none: uniform). */
#ifndef DISTILL_POLICY_MOE_H
#define DISTILL_POLICY_MOE_H

#include <stdint.h>

#define DISTILL__MOE_MAX_EXPERTS 64
#define DISTILL__MOE_MAX_ACTION 16

typedef struct distill__moe {
    int64_t K, A, C;
    int32_t full;
    float min_std, shift;
} distill__moe;

/* The layout for K experts of A floats; NULL-free arithmetic only. */
distill__moe distill__moe_layout(int64_t K, int64_t A, int full, double min_std, double init_std);
/* Floats per row of the experts' network. */
static inline int64_t distill__moe_row(const distill__moe *m) { return m->K * (m->A + m->C); }

double distill__softplus(double x);
/* d softplus / dx. */
double distill__sigmoid(double x);

/* L (A x A, row-major, zero above the diagonal) of expert k from its row. */
void distill__moe_chol(const distill__moe *m, const double *row, int64_t k, double *L);
/* log N(a; mu, L L^T); y (A) receives L^-1 (a - mu) (forward substitution:
 * small A by hand, the prototype's batched general solve was thousands of
 * times slower). */
double distill__moe_logpdf(int64_t A, const double *a, const double *mu, const double *L, double *y);
/* x = L^-T y in place (back substitution): the gradient of -1/2 |y|^2 in a
 * is -L^-T y. */
void distill__moe_back_solve(int64_t A, const double *L, double *x);
/* log softmax of the K gating logits (or log 1/K when z is NULL). */
void distill__moe_log_gate(int64_t K, const float *z, double *logg);
/* log sum_k exp(v[k]). */
double distill__logsumexp(const double *v, int64_t K);

#endif /* DISTILL_POLICY_MOE_H */
