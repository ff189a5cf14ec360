/* The BLIS wrappers.  Row-major storage maps to BLIS strides (rs = ld,
 * cs = 1); BLIS reads const inputs through non-const pointers, hence the
 * casts. */
#include <blis.h>
#include <string.h>

#include "blas.h"
#include "distill/kernels.h"

static trans_t bli_trans(int t) { return t == DISTILL_TRANS ? BLIS_TRANSPOSE : BLIS_NO_TRANSPOSE; }

static void threads_of(distill_context *ctx, rntm_t *r)
{
    distill__blis_prepare(ctx);
    bli_rntm_set_num_threads(ctx->threads, r);
}

#define DISTILL__BLAS_DEF(T, ch)                                                             \
    void distill__##ch##gemm_threads(distill_context *ctx, int threads, int ta, int tb,      \
                                     int64_t m, int64_t n, int64_t k, T alpha, const T *a,   \
                                     int64_t lda, const T *b, int64_t ldb, T beta, T *c,     \
                                     int64_t ldc)                                            \
    {                                                                                        \
        rntm_t r = BLIS_RNTM_INITIALIZER;                                                    \
        (void)ctx;                                                                           \
        bli_rntm_set_num_threads(threads, &r);                                               \
        bli_##ch##gemm_ex(bli_trans(ta), bli_trans(tb), m, n, k, &alpha, (T *)a, lda, 1,     \
                          (T *)b, ldb, 1, &beta, c, ldc, 1, NULL, &r);                       \
    }                                                                                        \
    void distill__##ch##gemm(distill_context *ctx, int ta, int tb, int64_t m, int64_t n,     \
                             int64_t k, T alpha, const T *a, int64_t lda, const T *b,        \
                             int64_t ldb, T beta, T *c, int64_t ldc)                         \
    {                                                                                        \
        distill__blis_prepare(ctx);                                                          \
        distill__##ch##gemm_threads(ctx, ctx->threads, ta, tb, m, n, k, alpha, a, lda, b,    \
                                    ldb, beta, c, ldc);                                      \
    }                                                                                        \
    void distill__##ch##syrk_lower(distill_context *ctx, int ta, int64_t n, int64_t k,       \
                                   T alpha, const T *a, int64_t lda, T beta, T *c,           \
                                   int64_t ldc)                                              \
    {                                                                                        \
        rntm_t r = BLIS_RNTM_INITIALIZER;                                                    \
        threads_of(ctx, &r);                                                                 \
        bli_##ch##syrk_ex(BLIS_LOWER, bli_trans(ta), n, k, &alpha, (T *)a, lda, 1, &beta, c, \
                          ldc, 1, NULL, &r);                                                 \
    }                                                                                        \
    void distill__##ch##trsm_lower(distill_context *ctx, int right, int ta, int64_t m,       \
                                   int64_t n, T alpha, const T *l, int64_t ldl, T *b,        \
                                   int64_t ldb)                                              \
    {                                                                                        \
        rntm_t r = BLIS_RNTM_INITIALIZER;                                                    \
        threads_of(ctx, &r);                                                                 \
        bli_##ch##trsm_ex(right ? BLIS_RIGHT : BLIS_LEFT, BLIS_LOWER, bli_trans(ta),         \
                          BLIS_NONUNIT_DIAG, m, n, &alpha, (T *)l, ldl, 1, b, ldb, 1, NULL,  \
                          &r);                                                               \
    }

DISTILL__BLAS_DEF(float, s)
DISTILL__BLAS_DEF(double, d)

int distill__sgemm_ukr_get(distill__sgemm_ukr *u)
{
    cntx_t *cntx = bli_gks_query_cntx();
    memset(u, 0, sizeof *u);
    if (!cntx)
        return 0;
    u->fn = bli_cntx_get_l3_vir_ukr_dt(BLIS_FLOAT, BLIS_GEMM_UKR, cntx);
    u->cntx = cntx;
    u->mr = bli_cntx_get_blksz_def_dt(BLIS_FLOAT, BLIS_MR, cntx);
    u->nr = bli_cntx_get_blksz_def_dt(BLIS_FLOAT, BLIS_NR, cntx);
    u->kc = bli_cntx_get_blksz_def_dt(BLIS_FLOAT, BLIS_KC, cntx);
    u->kc_max = bli_cntx_get_blksz_max_dt(BLIS_FLOAT, BLIS_KC, cntx);
    u->by_columns = bli_cntx_l3_vir_ukr_prefers_cols_dt(BLIS_FLOAT, BLIS_GEMM_UKR, cntx);
    u->mt = bli_cntx_get_l3_sup_thresh_dt(BLIS_FLOAT, BLIS_MT, cntx);
    u->nt = bli_cntx_get_l3_sup_thresh_dt(BLIS_FLOAT, BLIS_NT, cntx);
    u->kt = bli_cntx_get_l3_sup_thresh_dt(BLIS_FLOAT, BLIS_KT, cntx);
    return u->fn && u->mr > 0 && u->nr > 0 && u->kc > 0 && u->kc_max >= u->kc;
}

void distill__sgemm_ukr_run(const distill__sgemm_ukr *u, int64_t m, int64_t n, int64_t k, const float *a,
                            const float *b, float beta, float *c, int64_t rs_c, int64_t cs_c)
{
    float one = 1.0f;
    auxinfo_t aux;
    sgemm_ukr_ft fn;
    memcpy(&fn, &u->fn, sizeof fn); /* POSIX: a function's address fits a void * */
    memset(&aux, 0, sizeof aux);
    bli_auxinfo_set_next_a((void *)a, &aux);
    bli_auxinfo_set_next_b((void *)b, &aux);
    fn(m, n, k, &one, (float *)a, (float *)b, &beta, c, rs_c, cs_c, &aux, u->cntx);
}

int distill__sgemm_ukr_declines(const distill__sgemm_ukr *u, int64_t m, int64_t n, int64_t k)
{
    const int64_t mn = u->mt > u->nt ? u->mt : u->nt;
    return m < mn || n < mn || k < u->kt;
}
