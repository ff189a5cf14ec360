/* The learning layer's one matrix product: BLIS for training passes, plain
 * loops for inference (which must not allocate, lock or start threads, and
 * whose sizes are small enough that loops win anyway). */
#include "../kernels/blas.h"
#include "distill/kernels.h"
#include "internal.h"

DISTILL__NO_CONTRACT

/* Dot product with eight independent partial sums, so the compiler can
 * keep them in one vector register without reassociating a single sum. */
#if defined(__GNUC__)
__attribute__((always_inline)) /* into each clone of loops_gemm and nn_gemm_nt_acc, with its vectors */
#endif
static inline float dot(const float *a, const float *b, int64_t k)
{
    float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0}, s;
    int64_t p, q;
    for (p = 0; p + 8 <= k; p += 8)
        for (q = 0; q < 8; q++)
            acc[q] += a[p + q] * b[p + q];
    s = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
    for (; p < k; p++)
        s += a[p] * b[p];
    return s;
}

DISTILL__CLONES static void loops_gemm(int ta, int tb, int64_t m, int64_t n, int64_t k, float alpha,
                       const float *a, int64_t lda, const float *b, int64_t ldb, float beta,
                       float *c, int64_t ldc)
{
    int64_t i, j, p;
    for (i = 0; i < m; i++) {
        float *ci = c + i * ldc;
        for (j = 0; j < n; j++)
            ci[j] = beta == 0.0f ? 0.0f : beta * ci[j];
        if (tb) { /* rows of B are contiguous: dot products */
            for (j = 0; j < n; j++) {
                const float *bj = b + j * ldb;
                float s = 0.0f;
                if (ta)
                    for (p = 0; p < k; p++)
                        s += a[p * lda + i] * bj[p];
                else
                    s = dot(a + i * lda, bj, k);
                ci[j] += alpha * s;
            }
        } else { /* axpy of rows of B */
            for (p = 0; p < k; p++) {
                const float aip = alpha * (ta ? a[p * lda + i] : a[i * lda + p]);
                const float *bp = b + p * ldb;
                for (j = 0; j < n; j++)
                    ci[j] += aip * bp[j];
            }
        }
    }
}

/* Four of dot()'s products at once, a[0:k] with the rows b, b + ldb, ...,
 * b + 3 ldb: each row's sums run exactly as in dot() (the same bits), and
 * a's values are loaded once for the four. */
#if defined(__GNUC__)
__attribute__((always_inline))
#endif
static inline void dot4(const float *a, const float *b, int64_t ldb, int64_t k, float out[4])
{
    float acc[4][8] = {{0}};
    int64_t p, q, r;
    for (p = 0; p + 8 <= k; p += 8)
        for (q = 0; q < 8; q++)
            for (r = 0; r < 4; r++)
                acc[r][q] += a[p + q] * b[r * ldb + p + q];
    for (r = 0; r < 4; r++) {
        const float *x = acc[r];
        float s = ((x[0] + x[4]) + (x[1] + x[5])) + ((x[2] + x[6]) + (x[3] + x[7]));
        int64_t t;
        for (t = p; t < k; t++)
            s += a[t] * b[r * ldb + t];
        out[r] = s;
    }
}

/* C += A B^T by dot products, the reduction in blocks whose pieces of A's
 * and B's rows stay in cache, four of B's rows at a time.  For a long
 * reduction with a small output (a weight gradient with few rows), where
 * BLIS spends its time packing. */
DISTILL__CLONES void nn_gemm_nt_acc(int64_t m, int64_t n, int64_t k, const float *a, int64_t lda,
                                    const float *b, int64_t ldb, float *c, int64_t ldc)
{
    const int64_t block = 512;
    int64_t p0, i, j, r;
    for (p0 = 0; p0 < k; p0 += block) {
        const int64_t len = k - p0 < block ? k - p0 : block;
        for (j = 0; j + 4 <= n; j += 4)
            for (i = 0; i < m; i++) {
                float s[4];
                dot4(a + i * lda + p0, b + j * ldb + p0, ldb, len, s);
                for (r = 0; r < 4; r++)
                    c[i * ldc + j + r] += s[r];
            }
        for (; j < n; j++)
            for (i = 0; i < m; i++)
                c[i * ldc + j] += dot(a + i * lda + p0, b + j * ldb + p0, len);
    }
}

void nn_gemm_prepare(const nn_env *e)
{
    if (e->ctx)
        distill__blis_prepare(e->ctx);
}

void nn_gemm(const nn_env *e, int ta, int tb, int64_t m, int64_t n, int64_t k, float alpha,
             const float *a, int64_t lda, const float *b, int64_t ldb, float beta, float *c,
             int64_t ldc)
{
    if (e->ctx && nn_gemm_small(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc))
        return;
    if (e->ctx) {
        distill__blis_prepare(e->ctx);
        distill__sgemm_threads(e->ctx, nn_threads(e), ta, tb, m, n, k, alpha, a, lda, b, ldb,
                               beta, c, ldc);
    }
    else
        loops_gemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}
