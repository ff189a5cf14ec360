/* The public GEMM: argument checks in front of the BLIS wrapper. */
#include "blas.h"
#include "../core/check.h"
#include "distill/kernels.h"

distill_status distill_sgemm(distill_context *ctx, int trans_a, int trans_b, int64_t m,
                             int64_t n, int64_t k, float alpha, const float *a, int64_t lda,
                             const float *b, int64_t ldb, float beta, float *c, int64_t ldc)
{
    static const char fn[] = "distill_sgemm";
    const int ta = trans_a == DISTILL_TRANS, tb = trans_b == DISTILL_TRANS;
    if (!ctx)
        return DISTILL_E_INVAL;
    if ((trans_a != DISTILL_NO_TRANS && !ta) || (trans_b != DISTILL_NO_TRANS && !tb))
        return distill__fail(ctx, DISTILL_E_INVAL, "%s: trans flags must be DISTILL_NO_TRANS or DISTILL_TRANS", fn);
    /* Stored shapes: A is m x k (k x m transposed), B is k x n (n x k). */
    DISTILL__TRY(distill__check_matrix(ctx, fn, "A", a, ta ? k : m, ta ? m : k, lda));
    DISTILL__TRY(distill__check_matrix(ctx, fn, "B", b, tb ? n : k, tb ? k : n, ldb));
    DISTILL__TRY(distill__check_matrix(ctx, fn, "C", c, m, n, ldc));
    distill__sgemm(ctx, trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    return DISTILL_OK;
}
