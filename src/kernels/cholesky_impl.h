/* Blocked Cholesky, instantiated for float (ch = s) and double (ch = d)
 * by cholesky.c.  Recursive: factor the leading half, one trsm for the
 * panel below it, one syrk to update the trailing half, recurse.  Nearly all
 * the flops land in BLIS level-3 calls; the small base case accumulates in
 * double. */

#define CHOL_BASE 48

/* Unblocked lower Cholesky of a small block.  Returns the index of the
 * first non-positive pivot (its value in *pivot), or -1. */
static int64_t DISTILL__CAT(potrf_base_, CH)(int64_t n, REAL *a, int64_t lda, double *pivot)
{
    int64_t i, j, p;
    for (j = 0; j < n; j++) {
        double d = a[j * lda + j];
        for (p = 0; p < j; p++)
            d -= (double)a[j * lda + p] * a[j * lda + p];
        if (!(d > 0.0)) {
            *pivot = d;
            return j;
        }
        d = sqrt(d);
        a[j * lda + j] = (REAL)d;
        for (i = j + 1; i < n; i++) {
            double s = a[i * lda + j];
            for (p = 0; p < j; p++)
                s -= (double)a[i * lda + p] * a[j * lda + p];
            a[i * lda + j] = (REAL)(s / d);
        }
    }
    return -1;
}

static int64_t DISTILL__CAT(potrf_rec_, CH)(distill_context *ctx, int64_t n, REAL *a,
                                            int64_t lda, double *pivot)
{
    int64_t n1, n2, f;
    if (n <= CHOL_BASE)
        return DISTILL__CAT(potrf_base_, CH)(n, a, lda, pivot);
    n1 = (n / 2 + 15) & ~(int64_t)15; /* keep block edges on cache lines */
    n2 = n - n1;
    if ((f = DISTILL__CAT(potrf_rec_, CH)(ctx, n1, a, lda, pivot)) >= 0)
        return f;
    /* A21 <- A21 L11^-T, then A22 <- A22 - A21 A21^T */
    DISTILL__CAT(DISTILL__CAT(distill__, CH), trsm_lower)(ctx, 1, DISTILL_TRANS, n2, n1, 1, a,
                                                          lda, a + n1 * lda, lda);
    DISTILL__CAT(DISTILL__CAT(distill__, CH), syrk_lower)(ctx, DISTILL_NO_TRANS, n2, n1, -1,
                                                          a + n1 * lda, lda, 1,
                                                          a + n1 * lda + n1, lda);
    if ((f = DISTILL__CAT(potrf_rec_, CH)(ctx, n2, a + n1 * lda + n1, lda, pivot)) >= 0)
        return n1 + f;
    return -1;
}

/* Lower triangle of a <- lower triangle of src + shift on the diagonal.
 * Fails on a non-finite source entry. */
static distill_status DISTILL__CAT(fill_lower_, CH)(distill_context *ctx, const char *fn,
                                                    int64_t n, REAL *a, int64_t lda,
                                                    const float *src, int64_t ldsrc,
                                                    double shift)
{
    int64_t i, j;
    for (i = 0; i < n; i++) {
        for (j = 0; j <= i; j++) {
            float v = src[i * ldsrc + j];
            if (!isfinite(v))
                return distill__fail(ctx, DISTILL_E_NUMERIC, "%s: matrix[%lld, %lld] is %s", fn,
                                     (long long)i, (long long)j, isnan(v) ? "NaN" : "Inf");
            a[i * lda + j] = (REAL)v;
        }
        a[i * lda + i] = (REAL)((double)a[i * lda + i] + shift);
    }
    return DISTILL_OK;
}

/* Factor (src + shift I) into a, retrying with a growing jitter when a pivot
 * is not positive.  On final failure a holds src + shift I again. */
static distill_status DISTILL__CAT(factor_jitter_, CH)(distill_context *ctx, const char *fn,
                                                       int64_t n, REAL *a, int64_t lda,
                                                       const float *src, int64_t ldsrc,
                                                       double shift)
{
    double scale = 0.0, jitter = 0.0, pivot = 0.0;
    int64_t i, f = -1;
    int attempt;
    for (i = 0; i < n; i++)
        scale += fabs((double)src[i * ldsrc + i]);
    scale = scale / (double)n + fabs(shift);
    if (!(scale > 0.0))
        scale = 1.0;
    for (attempt = 0; attempt <= CHOL_RETRIES; attempt++) {
        DISTILL__TRY(DISTILL__CAT(fill_lower_, CH)(ctx, fn, n, a, lda, src, ldsrc,
                                                   shift + jitter));
        f = DISTILL__CAT(potrf_rec_, CH)(ctx, n, a, lda, &pivot);
        if (f < 0) {
            /* succeeded, perhaps only with jitter: the host can read how much */
            if (jitter / scale > ctx->max_jitter)
                ctx->max_jitter = jitter / scale;
            return DISTILL_OK;
        }
        jitter = scale * CHOL_JITTER0 * pow(100.0, attempt);
        if (ctx->jitter_limit > 0.0 && jitter / scale > ctx->jitter_limit) {
            DISTILL__TRY(DISTILL__CAT(fill_lower_, CH)(ctx, fn, n, a, lda, src, ldsrc, shift));
            return distill__fail(ctx, DISTILL_E_NUMERIC,
                                 "%s: matrix is not positive definite: pivot %lld is %g, and the "
                                 "jitter it needs (%g of the mean diagonal) passes the context's "
                                 "limit %g", fn, (long long)f, pivot, jitter / scale, ctx->jitter_limit);
        }
        if (attempt < CHOL_RETRIES)
            distill__log(ctx, DISTILL_LOG_WARN,
                         "%s: pivot %lld is %g, not positive; retrying with diagonal jitter %g",
                         fn, (long long)f, pivot, jitter);
    }
    DISTILL__TRY(DISTILL__CAT(fill_lower_, CH)(ctx, fn, n, a, lda, src, ldsrc, shift));
    return distill__fail(ctx, DISTILL_E_NUMERIC,
                         "%s: matrix is not positive definite: pivot %lld is %g after %d jitter "
                         "retries (last jitter %g)",
                         fn, (long long)f, pivot, CHOL_RETRIES, jitter);
}
