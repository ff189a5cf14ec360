/* Private: the library's only door to BLIS.  Row-major matrices with a
 * leading dimension; trans flags are DISTILL_NO_TRANS / DISTILL_TRANS.
 * Each call passes the context's thread count in a local rntm_t. */
#ifndef DISTILL_KERNELS_BLAS_H
#define DISTILL_KERNELS_BLAS_H

#include <stdint.h>

#include "../core/internal.h"

/* What the CPU offers, for the choice of BLIS sub-configuration. */
typedef struct {
    int amd;         /* vendor AMD */
    unsigned family; /* CPUID family (base, plus extended past 0xf) */
    int avx512;      /* F, DQ, BW and VL */
    int avx2_fma;
    int avx;
} distill__cpu_caps;

/* The sub-configuration's name for such a CPU, or NULL (BLIS decides). */
const char *distill__blis_choice(const distill__cpu_caps *cpu);

/* Make sure the BLIS sub-configuration was chosen before BLIS initialises;
 * logs once per context when the host's choice stands. */
void distill__blis_prepare(distill_context *ctx);

/* BLIS's float GEMM micro-kernel, for loops that pack their own operands
 * (nn/conv_panels.c): C's mr x nr tile (rs_c, cs_c) = A's panel (k rows of
 * mr) times B's (k rows of nr), the panel the kernel loads whole 64-byte
 * aligned, plus beta C (beta 0: C is
 * not read); m <= mr, n <= nr at the edges.  kc, kc_max: BLIS's k blocks
 * (a product is split as BLIS splits it, so it gives BLIS's bits);
 * by_columns: the kernel wants its tile stored by columns (rs_c = 1);
 * mt, nt, kt: below these m, n or k BLIS takes its unpacked ("sup") path
 * instead, whose bits differ. */
typedef struct distill__sgemm_ukr {
    void *fn, *cntx; /* fn: BLIS hands kernels out as void * */
    int64_t mr, nr, kc, kc_max, mt, nt, kt;
    int by_columns;
} distill__sgemm_ukr;

/* The sub-configuration's kernel (distill__blis_prepare first); 0 when
 * BLIS has none to give. */
int distill__sgemm_ukr_get(distill__sgemm_ukr *u);
/* Whether BLIS may run an m x n x k product (C m x n) on its unpacked path
 * (then the kernel's bits are not nn_gemm's): BLIS compares m and n with
 * the thresholds after its own transposition, so both are held to the
 * larger of mt and nt. */
int distill__sgemm_ukr_declines(const distill__sgemm_ukr *u, int64_t m, int64_t n, int64_t k);
void distill__sgemm_ukr_run(const distill__sgemm_ukr *u, int64_t m, int64_t n, int64_t k, const float *a,
                            const float *b, float beta, float *c, int64_t rs_c, int64_t cs_c);

#define DISTILL__BLAS_DECL(T, ch)                                                            \
    /* gemm with an explicit BLIS thread count (call distill__blis_prepare first) */         \
    void distill__##ch##gemm_threads(distill_context *ctx, int threads, int ta, int tb,      \
                                     int64_t m, int64_t n, int64_t k, T alpha, const T *a,   \
                                     int64_t lda, const T *b, int64_t ldb, T beta, T *c,     \
                                     int64_t ldc);                                           \
    /* C = alpha op(A) op(B) + beta C; op(A) m x k, op(B) k x n */                           \
    void distill__##ch##gemm(distill_context *ctx, int ta, int tb, int64_t m, int64_t n,     \
                             int64_t k, T alpha, const T *a, int64_t lda, const T *b,        \
                             int64_t ldb, T beta, T *c, int64_t ldc);                        \
    /* lower triangle of C = alpha op(A) op(A)^T + beta C; op(A) n x k */                    \
    void distill__##ch##syrk_lower(distill_context *ctx, int ta, int64_t n, int64_t k,       \
                                   T alpha, const T *a, int64_t lda, T beta, T *c,           \
                                   int64_t ldc);                                             \
    /* B (m x n) = alpha op(L)^-1 B (left) or alpha B op(L)^-1 (right), L lower */          \
    void distill__##ch##trsm_lower(distill_context *ctx, int right, int ta, int64_t m,       \
                                   int64_t n, T alpha, const T *l, int64_t ldl, T *b,        \
                                   int64_t ldb);

DISTILL__BLAS_DECL(float, s)
DISTILL__BLAS_DECL(double, d)

#endif /* DISTILL_KERNELS_BLAS_H */
