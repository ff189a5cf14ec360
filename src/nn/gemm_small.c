/* Small matrix products of the training passes (an MLP of a few dozen
 * units at batch ~128): BLIS spends 3-10 us per call packing and
 * dispatching such shapes, more than the arithmetic.  Here every case is
 * written as C[i, :] = sum_p a(i, p) * Brow(p) with B's rows packed once,
 * zero-padded to a multiple of 32 floats, so the inner loops have a fixed
 * trip count the compiler vectorises; x86-64 builds get AVX-512 and AVX2
 * clones picked at load time. */
#include <string.h>

#include "distill/kernels.h"
#include "internal.h"

/* (The Makefile builds this file with -ffp-contract=fast: C99 mode turns off
 * the fused multiply-adds these loops want.) */
#define SMALL_KERNEL DISTILL__CLONES

enum { W = 16, ROWS = 8, PACK_MAX = 8192 };

/* bp (k x npad) = op(B) with zero columns up to npad. */
static void pack_b(int tb, int64_t n, int64_t k, const float *b, int64_t ldb, int64_t npad,
                   float *bp)
{
    int64_t p, j;
    for (p = 0; p < k; p++) {
        float *row = bp + p * npad;
        if (tb)
            for (j = 0; j < n; j++)
                row[j] = b[j * ldb + p];
        else
            memcpy(row, b + p * ldb, sizeof(float) * (size_t)n);
        memset(row + n, 0, sizeof(float) * (size_t)(npad - n));
    }
}

/* C[i, j0 .. j0 + w) for `rows` rows (w <= W columns). */
static void store(int64_t rows, int64_t w, float alpha, float beta, float acc[ROWS][W], float *c,
                  int64_t ldc)
{
    int64_t r, j;
    for (r = 0; r < rows; r++) {
        float *ci = c + r * ldc;
        if (beta == 0.0f)
            for (j = 0; j < w; j++)
                ci[j] = alpha * acc[r][j];
        else
            for (j = 0; j < w; j++)
                ci[j] = alpha * acc[r][j] + beta * ci[j];
    }
}

#if defined(__GNUC__)
/* W floats as one vector: the compiler lowers it to what the clone's target
 * has (one zmm, two ymm, four xmm), so it cannot vectorise the wrong loop. */
typedef float vec_w __attribute__((vector_size(W * sizeof(float))));

/* ROWS rows of C, columns j0 .. j0 + W, from a(i, p) = a[i * ai + p * ap]. */
SMALL_KERNEL
static void block_rows(int64_t k, const float *a, int64_t ai, int64_t ap, const float *bp,
                       int64_t npad, float acc[ROWS][W])
{
    vec_w t[ROWS], b;
    int64_t p, r;
    memset(t, 0, sizeof t);
    for (p = 0; p < k; p++) {
        memcpy(&b, bp + p * npad, sizeof b);
        for (r = 0; r < ROWS; r++)
            t[r] += a[r * ai + p * ap] * b;
    }
    memcpy(acc, t, sizeof t);
}

/* One row (the tail of m). */
SMALL_KERNEL
static void block_row(int64_t k, const float *a, int64_t ap, const float *bp, int64_t npad,
                      float acc[W])
{
    vec_w t, b;
    int64_t p;
    memset(&t, 0, sizeof t);
    for (p = 0; p < k; p++) {
        memcpy(&b, bp + p * npad, sizeof b);
        t += a[p * ap] * b;
    }
    memcpy(acc, &t, sizeof t);
}
#else
static void block_rows(int64_t k, const float *a, int64_t ai, int64_t ap, const float *bp,
                       int64_t npad, float acc[ROWS][W])
{
    int64_t p, r, j;
    memset(acc, 0, sizeof(float) * ROWS * W);
    for (p = 0; p < k; p++)
        for (r = 0; r < ROWS; r++)
            for (j = 0; j < W; j++)
                acc[r][j] += a[r * ai + p * ap] * bp[p * npad + j];
}

static void block_row(int64_t k, const float *a, int64_t ap, const float *bp, int64_t npad,
                      float acc[W])
{
    int64_t p, j;
    memset(acc, 0, sizeof(float) * W);
    for (p = 0; p < k; p++)
        for (j = 0; j < W; j++)
            acc[j] += a[p * ap] * bp[p * npad + j];
}
#endif

int nn_gemm_small_fits(int64_t m, int64_t n, int64_t k)
{
    const int64_t npad = (n + W - 1) / W * W;
    return m >= 1 && n >= 1 && k >= 1 && k * npad <= PACK_MAX && m * n * k <= ((int64_t)1 << 19);
}

int nn_gemm_small(int ta, int tb, int64_t m, int64_t n, int64_t k, float alpha, const float *a,
                  int64_t lda, const float *b, int64_t ldb, float beta, float *c, int64_t ldc)
{
    const int64_t npad = (n + W - 1) / W * W;
    const int64_t ai = ta ? 1 : lda, ap = ta ? lda : 1;
    float bp[PACK_MAX], acc[ROWS][W];
    int64_t i, j0;
    if (!nn_gemm_small_fits(m, n, k))
        return 0;
    pack_b(tb, n, k, b, ldb, npad, bp);
    for (j0 = 0; j0 < n; j0 += W) {
        const int64_t w = n - j0 < W ? n - j0 : W;
        for (i = 0; i + ROWS <= m; i += ROWS) {
            block_rows(k, a + i * ai, ai, ap, bp + j0, npad, acc);
            store(ROWS, w, alpha, beta, acc, c + i * ldc + j0, ldc);
        }
        if (i < m && m >= ROWS) { /* the last ROWS rows again, storing the ones not yet done */
            block_rows(k, a + (m - ROWS) * ai, ai, ap, bp + j0, npad, acc);
            store(m - i, w, alpha, beta, acc + (ROWS - (m - i)), c + i * ldc + j0, ldc);
            i = m;
        }
        for (; i < m; i++) {
            block_row(k, a + i * ai, ap, bp + j0, npad, acc[0]);
            store(1, w, alpha, beta, acc, c + i * ldc + j0, ldc);
        }
    }
    return 1;
}
