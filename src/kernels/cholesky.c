/* Cholesky factorisation and triangular solves (public float API, and the
 * double versions the KRR kernels factor their systems with). */
#include <math.h>
#include <string.h>

#include "../core/workspace.h"
#include "blas.h"
#include "../core/check.h"
#include "cholesky.h"
#include "distill/kernels.h"

#define CHOL_RETRIES 3
#define CHOL_JITTER0 1.1920929e-5 /* 100 float epsilons, relative to the mean diagonal */
#define DISTILL__CAT2(a, b) a##b
#define DISTILL__CAT(a, b) DISTILL__CAT2(a, b)

#define REAL float
#define CH s
#include "cholesky_impl.h"
#undef REAL
#undef CH
#undef CHOL_BASE

#define REAL double
#define CH d
#include "cholesky_impl.h"
#undef REAL
#undef CH

static distill_status chol_layout(int64_t n, distill__arena *ar, float **copy)
{
    *copy = distill__arena_take(ar, n * n, sizeof(float));
    return DISTILL_OK;
}

distill_status distill_cholesky_workspace_size(int64_t n, size_t *bytes)
{
    distill__arena ar;
    float *copy;
    if (!bytes || n < 1)
        return DISTILL_E_INVAL;
    distill__arena_init(&ar, NULL);
    chol_layout(n, &ar, &copy);
    return distill__arena_total(&ar, bytes);
}

distill_status distill_cholesky(distill_context *ctx, int64_t n, float *a, int64_t lda,
                                void *ws, size_t ws_bytes)
{
    static const char fn[] = "distill_cholesky";
    distill__arena ar;
    void *owned;
    float *copy;
    size_t need;
    int64_t i;
    distill_status st;

    if (!ctx)
        return DISTILL_E_INVAL;
    DISTILL__TRY(distill__check_dim(ctx, fn, "n", n));
    DISTILL__TRY(distill__check_matrix(ctx, fn, "A", a, n, n, lda));
    if (distill_cholesky_workspace_size(n, &need) != DISTILL_OK)
        return distill__fail(ctx, DISTILL_E_NOMEM, "%s: n = %lld overflows", fn, (long long)n);
    DISTILL__TRY(distill__ws_acquire(ctx, fn, need, &ws, ws_bytes, &owned));
    distill__arena_init(&ar, ws);
    chol_layout(n, &ar, &copy);
    for (i = 0; i < n; i++)
        memcpy(copy + i * n, a + i * lda, (size_t)(i + 1) * sizeof(float));
    st = factor_jitter_s(ctx, fn, n, a, lda, copy, n, 0.0);
    distill__ws_release(ctx, owned);
    return st;
}

distill_status distill_trsm_lower(distill_context *ctx, int trans, int64_t n, int64_t nrhs,
                                  const float *l, int64_t ldl, float *b, int64_t ldb)
{
    static const char fn[] = "distill_trsm_lower";
    if (!ctx)
        return DISTILL_E_INVAL;
    if (trans != DISTILL_NO_TRANS && trans != DISTILL_TRANS)
        return distill__fail(ctx, DISTILL_E_INVAL, "%s: trans must be DISTILL_NO_TRANS or DISTILL_TRANS", fn);
    DISTILL__TRY(distill__check_matrix(ctx, fn, "L", l, n, n, ldl));
    DISTILL__TRY(distill__check_matrix(ctx, fn, "B", b, n, nrhs, ldb));
    for (int64_t i = 0; i < n; i++)
        if (!(l[i * ldl + i] != 0.0f) || !isfinite(l[i * ldl + i]))
            return distill__fail(ctx, DISTILL_E_NUMERIC, "%s: L[%lld, %lld] = %g is singular", fn,
                                 (long long)i, (long long)i, (double)l[i * ldl + i]);
    distill__strsm_lower(ctx, 0, trans, n, nrhs, 1.0f, l, ldl, b, ldb);
    return DISTILL_OK;
}

distill_status distill_cholesky_solve(distill_context *ctx, int64_t n, int64_t nrhs,
                                      const float *l, int64_t ldl, float *b, int64_t ldb)
{
    DISTILL__TRY(distill_trsm_lower(ctx, DISTILL_NO_TRANS, n, nrhs, l, ldl, b, ldb));
    return distill_trsm_lower(ctx, DISTILL_TRANS, n, nrhs, l, ldl, b, ldb);
}

distill_status distill__dfactor_shifted(distill_context *ctx, const char *fn, int64_t n,
                                        double *s, const float *src, int64_t ldsrc,
                                        double shift)
{
    return factor_jitter_d(ctx, fn, n, s, n, src, ldsrc, shift);
}

void distill__dcholesky_solve(distill_context *ctx, int64_t n, int64_t nrhs, const double *l,
                              double *b)
{
    distill__dtrsm_lower(ctx, 0, DISTILL_NO_TRANS, n, nrhs, 1.0, l, n, b, nrhs);
    distill__dtrsm_lower(ctx, 0, DISTILL_TRANS, n, nrhs, 1.0, l, n, b, nrhs);
}

double distill_context_max_jitter(const distill_context *ctx) { return ctx ? ctx->max_jitter : 0.0; }

void distill_context_reset_jitter(distill_context *ctx)
{
    if (ctx)
        ctx->max_jitter = 0.0;
}

distill_status distill_context_set_jitter_limit(distill_context *ctx, double limit)
{
    if (!ctx)
        return DISTILL_E_INVAL;
    if (!(limit >= 0.0) || !isfinite(limit))
        return distill__fail(ctx, DISTILL_E_INVAL, "distill_context_set_jitter_limit: limit must be "
                             "finite and >= 0, got %g", limit);
    ctx->jitter_limit = limit;
    return DISTILL_OK;
}
