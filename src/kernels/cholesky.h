/* Private: the double-precision factor-and-solve used by the KRR kernels. */
#ifndef DISTILL_KERNELS_CHOLESKY_H
#define DISTILL_KERNELS_CHOLESKY_H

#include <stdint.h>

#include "../core/internal.h"

/* S (n x n, double, ld n) <- Cholesky factor of (src + shift I), src the
 * lower triangle of a float matrix; jitter retries as distill_cholesky. */
distill_status distill__dfactor_shifted(distill_context *ctx, const char *fn, int64_t n,
                                        double *s, const float *src, int64_t ldsrc,
                                        double shift);
/* Solve (L L^T) X = B in place for double B (n x nrhs, ld nrhs). */
void distill__dcholesky_solve(distill_context *ctx, int64_t n, int64_t nrhs, const double *l,
                              double *b);

#endif /* DISTILL_KERNELS_CHOLESKY_H */
