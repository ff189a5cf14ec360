/* Kernel ridge regression: Gram matrices, fit, predict, and the KRR-ST loss
 * with its closed-form gradients (../docs/kernels.md derives them).
 *
 * Every linear system is factored once, in double precision, by Cholesky:
 * with lambda = 1e-6 trace(K) the systems are too ill-conditioned for a
 * float factorisation when m is large. */
#include <math.h>
#include <string.h>

#include "../core/abi.h"
#include "../core/workspace.h"
#include "blas.h"
#include "../core/check.h"
#include "cholesky.h"
#include "distill/kernels.h"

void distill_krr_options_init(distill_krr_options *opts)
{
    if (!opts)
        return;
    memset(opts, 0, sizeof *opts);
    opts->struct_size = (uint32_t)sizeof *opts;
    opts->kernel = DISTILL_KERNEL_LINEAR;
    opts->bias = 1;
    opts->ridge_mode = DISTILL_RIDGE_RELATIVE;
    opts->form = DISTILL_KRR_AUTO;
    opts->ridge = 1e-6;
    opts->gamma = 0.0;
}

size_t distill_krr_options_size(void) { return sizeof(distill_krr_options); }

static distill_status read_opts(distill_context *ctx, const char *fn,
                                const distill_krr_options *in, distill_krr_options *o)
{
    distill_krr_options_init(o);
    if (!in)
        return DISTILL_OK;
    DISTILL__TRY(distill__struct_read(ctx, fn, "options", in, sizeof *o, sizeof *o, o));
    if ((o->kernel != DISTILL_KERNEL_LINEAR && o->kernel != DISTILL_KERNEL_RBF) ||
        (o->bias != 0 && o->bias != 1) ||
        (o->ridge_mode != DISTILL_RIDGE_ABSOLUTE && o->ridge_mode != DISTILL_RIDGE_RELATIVE) ||
        o->form < DISTILL_KRR_AUTO || o->form > DISTILL_KRR_PRIMAL)
        return distill__fail(ctx, DISTILL_E_INVAL, "%s: options hold an unknown kernel, bias, ridge_mode or form", fn);
    if (!(o->ridge >= 0.0) || !isfinite(o->ridge) || !(o->gamma >= 0.0) || !isfinite(o->gamma))
        return distill__fail(ctx, DISTILL_E_INVAL, "%s: ridge and gamma must be finite and >= 0", fn);
    return DISTILL_OK;
}

/* ---- small helpers ------------------------------------------------------ */

static void to_double(int64_t rows, int64_t cols, const float *src, int64_t lds, double *dst)
{
    int64_t i, j;
    for (i = 0; i < rows; i++)
        for (j = 0; j < cols; j++)
            dst[i * cols + j] = src[i * lds + j];
}

static void to_float(int64_t rows, int64_t cols, const double *src, float *dst, int64_t ldd)
{
    int64_t i, j;
    for (i = 0; i < rows; i++)
        for (j = 0; j < cols; j++)
            dst[i * ldd + j] = (float)src[i * cols + j];
}

static void add_constant(int64_t rows, int64_t cols, float *x, int64_t ldx, float v)
{
    int64_t i, j;
    for (i = 0; i < rows; i++)
        for (j = 0; j < cols; j++)
            x[i * ldx + j] += v;
}

/* out[j] = sum_i x[i, j] */
static void column_sums(int64_t rows, int64_t cols, const float *x, int64_t ldx, float *out)
{
    int64_t i, j;
    for (j = 0; j < cols; j++)
        out[j] = 0.0f;
    for (i = 0; i < rows; i++)
        for (j = 0; j < cols; j++)
            out[j] += x[i * ldx + j];
}

static double trace(int64_t n, const float *a, int64_t lda)
{
    double t = 0.0;
    int64_t i;
    for (i = 0; i < n; i++)
        t += a[i * lda + i];
    return t;
}

static double ridge_of(const distill_krr_options *o, double tr)
{
    return o->ridge_mode == DISTILL_RIDGE_RELATIVE ? o->ridge * tr : o->ridge;
}

/* out = (L L^T)^-1 B for float B (n x k), with the double factor s;
 * x is n x k double scratch; out may be b. */
static void solve_factored(distill_context *ctx, int64_t n, int64_t k, const double *s,
                           double *x, const float *b, int64_t ldb, float *out, int64_t ldout)
{
    to_double(n, k, b, ldb, x);
    distill__dcholesky_solve(ctx, n, k, s, x);
    to_float(n, k, x, out, ldout);
}

/* Solve (src + lambda I) X = B for float B (n x k), through a double factor. */
static distill_status solve_system(distill_context *ctx, const char *fn, int64_t n, int64_t k,
                                   const float *src, int64_t ldsrc, double lambda, double *s,
                                   double *x, const float *b, int64_t ldb, float *out,
                                   int64_t ldout)
{
    DISTILL__TRY(distill__dfactor_shifted(ctx, fn, n, s, src, ldsrc, lambda));
    solve_factored(ctx, n, k, s, x, b, ldb, out, ldout);
    return DISTILL_OK;
}

/* ---- Gram matrices ------------------------------------------------------ */

static double rbf_gamma(const distill_krr_options *o, int64_t d)
{
    return o->gamma > 0.0 ? o->gamma : 1.0 / (double)d;
}

static void row_sq_norms(int64_t rows, int64_t d, const float *x, int64_t ldx, float *out)
{
    int64_t i, j;
    for (i = 0; i < rows; i++) {
        double s = 0.0;
        for (j = 0; j < d; j++)
            s += (double)x[i * ldx + j] * x[i * ldx + j];
        out[i] = (float)s;
    }
}

/* K = k(A_i, B_j) (+1 with bias); `norms` holds na + nb floats for RBF. */
static void gram(distill_context *ctx, const distill_krr_options *o, int64_t na, int64_t nb,
                 int64_t d, const float *a, int64_t lda, const float *b, int64_t ldb, float *k,
                 int64_t ldk, float *norms)
{
    int64_t i, j;
    if (o->kernel == DISTILL_KERNEL_LINEAR) {
        distill__sgemm(ctx, DISTILL_NO_TRANS, DISTILL_TRANS, na, nb, d, 1.0f, a, lda, b, ldb,
                       0.0f, k, ldk);
    } else {
        const double gamma = rbf_gamma(o, d);
        row_sq_norms(na, d, a, lda, norms);
        row_sq_norms(nb, d, b, ldb, norms + na);
        distill__sgemm(ctx, DISTILL_NO_TRANS, DISTILL_TRANS, na, nb, d, -2.0f, a, lda, b, ldb,
                       0.0f, k, ldk);
        for (i = 0; i < na; i++)
            for (j = 0; j < nb; j++) {
                double d2 = (double)norms[i] + norms[na + j] + k[i * ldk + j];
                k[i * ldk + j] = (float)exp(-gamma * (d2 > 0.0 ? d2 : 0.0));
            }
    }
    if (o->bias)
        add_constant(na, nb, k, ldk, 1.0f);
}

static int64_t gram_norms(const distill_krr_options *o, int64_t na, int64_t nb)
{
    return o->kernel == DISTILL_KERNEL_RBF ? na + nb : 0;
}

distill_status distill_krr_gram_workspace_size(const distill_krr_options *opts, int64_t na,
                                               int64_t nb, int64_t d, size_t *bytes)
{
    distill_krr_options o;
    distill__arena ar;
    if (!bytes || na < 1 || nb < 1 || d < 1)
        return DISTILL_E_INVAL;
    DISTILL__TRY(read_opts(NULL, "distill_krr_gram_workspace_size", opts, &o));
    distill__arena_init(&ar, NULL);
    distill__arena_take(&ar, gram_norms(&o, na, nb), sizeof(float));
    return distill__arena_total(&ar, bytes);
}

distill_status distill_krr_gram(distill_context *ctx, const distill_krr_options *opts,
                                int64_t na, int64_t nb, int64_t d, const float *a, int64_t lda,
                                const float *b, int64_t ldb, float *k, int64_t ldk, void *ws,
                                size_t ws_bytes)
{
    static const char fn[] = "distill_krr_gram";
    distill_krr_options o;
    distill__arena ar;
    void *owned;
    size_t need;
    float *norms;
    if (!ctx)
        return DISTILL_E_INVAL;
    DISTILL__TRY(read_opts(ctx, fn, opts, &o));
    DISTILL__TRY(distill__check_matrix(ctx, fn, "A", a, na, d, lda));
    DISTILL__TRY(distill__check_matrix(ctx, fn, "B", b, nb, d, ldb));
    DISTILL__TRY(distill__check_matrix(ctx, fn, "K", k, na, nb, ldk));
    DISTILL__TRY(distill__check_finite(ctx, fn, "A", a, na, d, lda));
    DISTILL__TRY(distill__check_finite(ctx, fn, "B", b, nb, d, ldb));
    DISTILL__TRY(distill_krr_gram_workspace_size(&o, na, nb, d, &need));
    DISTILL__TRY(distill__ws_acquire(ctx, fn, need, &ws, ws_bytes, &owned));
    distill__arena_init(&ar, ws);
    norms = distill__arena_take(&ar, gram_norms(&o, na, nb), sizeof(float));
    gram(ctx, &o, na, nb, d, a, lda, b, ldb, k, ldk, norms);
    distill__ws_release(ctx, owned);
    return DISTILL_OK;
}

/* ---- fit and predict ----------------------------------------------------- */

int64_t distill_krr_coef_rows(const distill_krr_options *opts, int64_t m, int64_t d)
{
    distill_krr_options o;
    if (read_opts(NULL, "distill_krr_coef_rows", opts, &o) != DISTILL_OK)
        return -1;
    return o.kernel == DISTILL_KERNEL_RBF ? m : d + o.bias;
}

static int use_primal(const distill_krr_options *o, int64_t m, int64_t d)
{
    if (o->kernel != DISTILL_KERNEL_LINEAR || o->form == DISTILL_KRR_DUAL)
        return 0;
    return o->form == DISTILL_KRR_PRIMAL || d + o->bias < m;
}

typedef struct fit_ws {
    float *k;      /* the n x n system matrix, float (n = m dual, d' primal) */
    double *s;     /* its Cholesky factor */
    double *x;     /* right-hand side / solution, n x k */
    float *rhs;    /* primal: F'^T Y (d' x k); dual linear: alpha (m x k) */
    float *norms;  /* RBF */
} fit_ws;

static void fit_layout(const distill_krr_options *o, int64_t m, int64_t d, int64_t k,
                       distill__arena *ar, fit_ws *w)
{
    int64_t n = use_primal(o, m, d) ? d + o->bias : m;
    w->k = distill__arena_take(ar, n * n, sizeof(float));
    w->s = distill__arena_take(ar, n * n, sizeof(double));
    w->x = distill__arena_take(ar, n * k, sizeof(double));
    w->rhs = distill__arena_take(ar, o->kernel == DISTILL_KERNEL_LINEAR ? n * k : 0,
                                 sizeof(float));
    w->norms = distill__arena_take(ar, gram_norms(o, m, m), sizeof(float));
}

distill_status distill_krr_fit_workspace_size(const distill_krr_options *opts, int64_t m,
                                              int64_t d, int64_t k, size_t *bytes)
{
    distill_krr_options o;
    distill__arena ar;
    fit_ws w;
    if (!bytes || m < 1 || d < 1 || k < 1)
        return DISTILL_E_INVAL;
    DISTILL__TRY(read_opts(NULL, "distill_krr_fit_workspace_size", opts, &o));
    distill__arena_init(&ar, NULL);
    fit_layout(&o, m, d, k, &ar, &w);
    return distill__arena_total(&ar, bytes);
}

/* W = (F'^T F' + lambda I)^-1 F'^T Y, with F' = [Fs, 1]. */
static distill_status fit_primal(distill_context *ctx, const char *fn,
                                 const distill_krr_options *o, int64_t m, int64_t d, int64_t k,
                                 const float *fs, int64_t ldfs, const float *ys, int64_t ldys,
                                 float *w, int64_t ldw, fit_ws *ws)
{
    const int64_t dp = d + o->bias;
    distill__ssyrk_lower(ctx, DISTILL_TRANS, d, m, 1.0f, fs, ldfs, 0.0f, ws->k, dp);
    distill__sgemm(ctx, DISTILL_TRANS, DISTILL_NO_TRANS, d, k, m, 1.0f, fs, ldfs, ys, ldys, 0.0f,
                   ws->rhs, k);
    if (o->bias) {
        column_sums(m, d, fs, ldfs, ws->k + d * dp);
        ws->k[d * dp + d] = (float)m;
        column_sums(m, k, ys, ldys, ws->rhs + d * k);
    }
    return solve_system(ctx, fn, dp, k, ws->k, dp, ridge_of(o, trace(dp, ws->k, dp)), ws->s,
                        ws->x, ws->rhs, k, w, ldw);
}

/* alpha = (K + lambda I)^-1 Y; the linear kernel turns it into W = F'^T alpha. */
static distill_status fit_dual(distill_context *ctx, const char *fn,
                               const distill_krr_options *o, int64_t m, int64_t d, int64_t k,
                               const float *fs, int64_t ldfs, const float *ys, int64_t ldys,
                               float *coef, int64_t ldcoef, fit_ws *ws)
{
    const int linear = o->kernel == DISTILL_KERNEL_LINEAR;
    float *alpha = linear ? ws->rhs : coef;
    int64_t ldalpha = linear ? k : ldcoef;
    gram(ctx, o, m, m, d, fs, ldfs, fs, ldfs, ws->k, m, ws->norms);
    DISTILL__TRY(solve_system(ctx, fn, m, k, ws->k, m, ridge_of(o, trace(m, ws->k, m)), ws->s,
                              ws->x, ys, ldys, alpha, ldalpha));
    if (linear) {
        distill__sgemm(ctx, DISTILL_TRANS, DISTILL_NO_TRANS, d, k, m, 1.0f, fs, ldfs, alpha, k,
                       0.0f, coef, ldcoef);
        if (o->bias)
            column_sums(m, k, alpha, k, coef + d * ldcoef);
    }
    return DISTILL_OK;
}

distill_status distill_krr_fit(distill_context *ctx, const distill_krr_options *opts, int64_t m,
                               int64_t d, int64_t k, const float *fs, int64_t ldfs,
                               const float *ys, int64_t ldys, float *coef, int64_t ldcoef,
                               void *ws, size_t ws_bytes)
{
    static const char fn[] = "distill_krr_fit";
    distill_krr_options o;
    distill__arena ar;
    fit_ws w;
    void *owned;
    size_t need;
    distill_status st;
    if (!ctx)
        return DISTILL_E_INVAL;
    DISTILL__TRY(read_opts(ctx, fn, opts, &o));
    DISTILL__TRY(distill__check_dim(ctx, fn, "m", m));
    DISTILL__TRY(distill__check_dim(ctx, fn, "d", d));
    DISTILL__TRY(distill__check_matrix(ctx, fn, "Fs", fs, m, d, ldfs));
    DISTILL__TRY(distill__check_matrix(ctx, fn, "Ys", ys, m, k, ldys));
    DISTILL__TRY(distill__check_matrix(ctx, fn, "coef", coef, distill_krr_coef_rows(&o, m, d), k,
                                       ldcoef));
    DISTILL__TRY(distill__check_finite(ctx, fn, "Fs", fs, m, d, ldfs));
    DISTILL__TRY(distill__check_finite(ctx, fn, "Ys", ys, m, k, ldys));
    DISTILL__TRY(distill_krr_fit_workspace_size(&o, m, d, k, &need));
    DISTILL__TRY(distill__ws_acquire(ctx, fn, need, &ws, ws_bytes, &owned));
    distill__arena_init(&ar, ws);
    fit_layout(&o, m, d, k, &ar, &w);
    if (use_primal(&o, m, d))
        st = fit_primal(ctx, fn, &o, m, d, k, fs, ldfs, ys, ldys, coef, ldcoef, &w);
    else
        st = fit_dual(ctx, fn, &o, m, d, k, fs, ldfs, ys, ldys, coef, ldcoef, &w);
    distill__ws_release(ctx, owned);
    return st;
}

static void predict_layout(const distill_krr_options *o, int64_t m, int64_t n,
                           distill__arena *ar, float **kq, float **norms)
{
    const int rbf = o->kernel == DISTILL_KERNEL_RBF;
    *kq = distill__arena_take(ar, rbf ? n * m : 0, sizeof(float));
    *norms = distill__arena_take(ar, gram_norms(o, n, m), sizeof(float));
}

distill_status distill_krr_predict_workspace_size(const distill_krr_options *opts, int64_t m,
                                                  int64_t n, int64_t d, size_t *bytes)
{
    distill_krr_options o;
    distill__arena ar;
    float *kq, *norms;
    if (!bytes || m < 1 || n < 1 || d < 1)
        return DISTILL_E_INVAL;
    DISTILL__TRY(read_opts(NULL, "distill_krr_predict_workspace_size", opts, &o));
    distill__arena_init(&ar, NULL);
    predict_layout(&o, m, n, &ar, &kq, &norms);
    return distill__arena_total(&ar, bytes);
}

distill_status distill_krr_predict(distill_context *ctx, const distill_krr_options *opts,
                                   int64_t m, int64_t n, int64_t d, int64_t k, const float *fs,
                                   int64_t ldfs, const float *coef, int64_t ldcoef,
                                   const float *fq, int64_t ldfq, float *p, int64_t ldp,
                                   void *ws, size_t ws_bytes)
{
    static const char fn[] = "distill_krr_predict";
    distill_krr_options o;
    distill__arena ar;
    float *kq, *norms;
    void *owned;
    size_t need;
    int64_t i, j;
    if (!ctx)
        return DISTILL_E_INVAL;
    DISTILL__TRY(read_opts(ctx, fn, opts, &o));
    DISTILL__TRY(distill__check_dim(ctx, fn, "m", m));
    if (o.kernel == DISTILL_KERNEL_RBF)
        DISTILL__TRY(distill__check_matrix(ctx, fn, "Fs", fs, m, d, ldfs));
    DISTILL__TRY(distill__check_matrix(ctx, fn, "coef", coef, distill_krr_coef_rows(&o, m, d), k,
                                       ldcoef));
    DISTILL__TRY(distill__check_matrix(ctx, fn, "Fq", fq, n, d, ldfq));
    DISTILL__TRY(distill__check_matrix(ctx, fn, "P", p, n, k, ldp));
    DISTILL__TRY(distill__check_finite(ctx, fn, "Fq", fq, n, d, ldfq));
    DISTILL__TRY(distill_krr_predict_workspace_size(&o, m, n, d, &need));
    DISTILL__TRY(distill__ws_acquire(ctx, fn, need, &ws, ws_bytes, &owned));
    distill__arena_init(&ar, ws);
    predict_layout(&o, m, n, &ar, &kq, &norms);
    if (o.kernel == DISTILL_KERNEL_RBF) {
        gram(ctx, &o, n, m, d, fq, ldfq, fs, ldfs, kq, m, norms);
        distill__sgemm(ctx, DISTILL_NO_TRANS, DISTILL_NO_TRANS, n, k, m, 1.0f, kq, m, coef,
                       ldcoef, 0.0f, p, ldp);
    } else {
        distill__sgemm(ctx, DISTILL_NO_TRANS, DISTILL_NO_TRANS, n, k, d, 1.0f, fq, ldfq, coef,
                       ldcoef, 0.0f, p, ldp);
        if (o.bias)
            for (i = 0; i < n; i++)
                for (j = 0; j < k; j++)
                    p[i * ldp + j] += coef[d * ldcoef + j];
    }
    distill__ws_release(ctx, owned);
    return DISTILL_OK;
}

/* ---- KRR-ST loss and gradients ----------------------------------------- */

typedef struct krrst_ws {
    float *kss;   /* m x m, lower triangle: Fs' Fs'^T */
    double *s;    /* m x m: Cholesky factor of Kss + lambda I */
    double *x;    /* m x k: double right-hand sides */
    float *krs;   /* n x m: Fr' Fs'^T */
    float *a;     /* m x k: A = S^-1 Ys */
    float *b;     /* m x k: B = S^-1 (Krs^T G) = dL/dYs */
    float *g;     /* n x k: P, then G = dL/dP */
    float *w;     /* m x 2k: [-B | A] */
    float *wx;    /* m x 2k: [A | -B] */
    float *xs;    /* 2k x d: W^T Fs = [-B^T Fs ; A^T Fs], then [C1 ; A^T Fs] */
} krrst_ws;

static void krrst_layout(int64_t m, int64_t n, int64_t d, int64_t k, int want_f,
                         distill__arena *ar, krrst_ws *w)
{
    w->kss = distill__arena_take(ar, m * m, sizeof(float));
    w->s = distill__arena_take(ar, m * m, sizeof(double));
    w->x = distill__arena_take(ar, m * k, sizeof(double));
    w->krs = distill__arena_take(ar, n * m, sizeof(float));
    w->a = distill__arena_take(ar, m * k, sizeof(float));
    w->b = distill__arena_take(ar, m * k, sizeof(float));
    w->g = distill__arena_take(ar, n * k, sizeof(float));
    w->w = distill__arena_take(ar, want_f ? 2 * m * k : 0, sizeof(float));
    w->wx = distill__arena_take(ar, want_f ? 2 * m * k : 0, sizeof(float));
    w->xs = distill__arena_take(ar, want_f ? 2 * k * d : 0, sizeof(float));
}

distill_status distill_krrst_loss_grad_workspace_size(const distill_krr_options *opts, int64_t m,
                                                      int64_t n, int64_t d, int64_t k,
                                                      size_t *bytes)
{
    distill_krr_options o;
    distill__arena ar;
    krrst_ws w;
    if (!bytes || m < 1 || n < 1 || d < 1 || k < 1)
        return DISTILL_E_INVAL;
    DISTILL__TRY(read_opts(NULL, "distill_krrst_loss_grad_workspace_size", opts, &o));
    distill__arena_init(&ar, NULL);
    krrst_layout(m, n, d, k, 1, &ar, &w);
    return distill__arena_total(&ar, bytes);
}

/* P = Krs A is in g; replace it by G = 2 (P - Yr) / (n k) and return the
 * mean squared error. */
static double residual_to_grad(int64_t n, int64_t k, float *g, const float *yr, int64_t ldyr)
{
    const double scale = 2.0 / ((double)n * (double)k);
    double sum = 0.0;
    int64_t i, j;
    for (i = 0; i < n; i++)
        for (j = 0; j < k; j++) {
            double r = (double)g[i * k + j] - yr[i * ldyr + j];
            sum += r * r;
            g[i * k + j] = (float)(scale * r);
        }
    return sum / ((double)n * (double)k);
}

static distill_status krrst_check(distill_context *ctx, const char *fn,
                                  const distill_krr_options *o, int64_t m, int64_t n, int64_t d,
                                  int64_t k, const float *fs, int64_t ldfs, const float *ys,
                                  int64_t ldys, const float *fr, int64_t ldfr, const float *yr,
                                  int64_t ldyr, const float *loss)
{
    if (o->kernel != DISTILL_KERNEL_LINEAR)
        return distill__fail(ctx, DISTILL_E_UNSUPPORTED, "%s: only the linear kernel has KRR-ST gradients", fn);
    if (!loss)
        return distill__fail(ctx, DISTILL_E_INVAL, "%s: loss is NULL", fn);
    DISTILL__TRY(distill__check_dim(ctx, fn, "m", m));
    DISTILL__TRY(distill__check_dim(ctx, fn, "n", n));
    DISTILL__TRY(distill__check_matrix(ctx, fn, "Fs", fs, m, d, ldfs));
    DISTILL__TRY(distill__check_matrix(ctx, fn, "Ys", ys, m, k, ldys));
    DISTILL__TRY(distill__check_matrix(ctx, fn, "Fr", fr, n, d, ldfr));
    DISTILL__TRY(distill__check_matrix(ctx, fn, "Yr", yr, n, k, ldyr));
    DISTILL__TRY(distill__check_finite(ctx, fn, "Fs", fs, m, d, ldfs));
    DISTILL__TRY(distill__check_finite(ctx, fn, "Ys", ys, m, k, ldys));
    DISTILL__TRY(distill__check_finite(ctx, fn, "Fr", fr, n, d, ldfr));
    return distill__check_finite(ctx, fn, "Yr", yr, n, k, ldyr);
}

/* W = [-B | A] and W' = [A | -B], m x 2k: stacking the factors lets the
 * four k-deep products of the feature gradient run as two 2k-deep GEMMs. */
static void stack_factors(int64_t m, int64_t k, const float *a, const float *b, float *w,
                          float *wx)
{
    int64_t i, j;
    for (i = 0; i < m; i++)
        for (j = 0; j < k; j++) {
            w[i * 2 * k + j] = wx[i * 2 * k + k + j] = -b[i * k + j];
            w[i * 2 * k + k + j] = wx[i * 2 * k + j] = a[i * k + j];
        }
}

/*   S = Kss + lambda I,  A = S^-1 Ys,  P = Krs A,  G = dL/dP = 2 (P - Yr)/(n k)
 *   dL/dYs = B = S^-1 Krs^T G
 *   dL/dFs = A (G^T Fr - B^T Fs) - B (A^T Fs)     (krrst.md 1.8, item 4)
 *   dL/dFr = G (A^T Fs)
 * computed as X = W^T Fs = [-B^T Fs ; A^T Fs];  X_top += G^T Fr (= C1);
 * dL/dFs = W' X = A C1 - B A^T Fs;  dL/dFr = G X_bottom.
 * The bias column of F' only shifts Kss and Krs by one and drops out of the
 * feature gradients, so Fs and Fr are used without it. */
distill_status distill_krrst_loss_grad(distill_context *ctx, const distill_krr_options *opts,
                                       int64_t m, int64_t n, int64_t d, int64_t k,
                                       const float *fs, int64_t ldfs, const float *ys,
                                       int64_t ldys, const float *fr, int64_t ldfr,
                                       const float *yr, int64_t ldyr, float *loss, float *dfs,
                                       int64_t lddfs, float *dys, int64_t lddys, float *dfr,
                                       int64_t lddfr, void *ws, size_t ws_bytes)
{
    static const char fn[] = "distill_krrst_loss_grad";
    const float bias_k = 1.0f;
    distill_krr_options o;
    distill__arena ar;
    krrst_ws w;
    void *owned;
    size_t need;
    int64_t i;
    distill_status st;

    if (!ctx)
        return DISTILL_E_INVAL;
    DISTILL__TRY(read_opts(ctx, fn, opts, &o));
    DISTILL__TRY(krrst_check(ctx, fn, &o, m, n, d, k, fs, ldfs, ys, ldys, fr, ldfr, yr, ldyr,
                             loss));
    DISTILL__TRY(distill__check_optional(ctx, fn, "dFs", dfs, m, d, lddfs));
    DISTILL__TRY(distill__check_optional(ctx, fn, "dYs", dys, m, k, lddys));
    DISTILL__TRY(distill__check_optional(ctx, fn, "dFr", dfr, n, d, lddfr));
    DISTILL__TRY(distill_krrst_loss_grad_workspace_size(&o, m, n, d, k, &need));
    DISTILL__TRY(distill__ws_acquire(ctx, fn, need, &ws, ws_bytes, &owned));
    distill__arena_init(&ar, ws);
    krrst_layout(m, n, d, k, dfs || dfr, &ar, &w);

    /* Kss (lower) and Krs. */
    distill__ssyrk_lower(ctx, DISTILL_NO_TRANS, m, d, 1.0f, fs, ldfs, 0.0f, w.kss, m);
    distill__sgemm(ctx, DISTILL_NO_TRANS, DISTILL_TRANS, n, m, d, 1.0f, fr, ldfr, fs, ldfs, 0.0f,
                   w.krs, m);
    if (o.bias) {
        for (i = 0; i < m; i++)
            add_constant(1, i + 1, w.kss + i * m, m, bias_k);
        add_constant(n, m, w.krs, m, bias_k);
    }

    /* A = S^-1 Ys, P = Krs A, G. */
    st = solve_system(ctx, fn, m, k, w.kss, m, ridge_of(&o, trace(m, w.kss, m)), w.s, w.x, ys,
                      ldys, w.a, k);
    if (st != DISTILL_OK)
        goto done;
    distill__sgemm(ctx, DISTILL_NO_TRANS, DISTILL_NO_TRANS, n, k, m, 1.0f, w.krs, m, w.a, k,
                   0.0f, w.g, k);
    *loss = (float)residual_to_grad(n, k, w.g, yr, ldyr);

    /* B = S^-1 (Krs^T G), reusing the factor. */
    distill__sgemm(ctx, DISTILL_TRANS, DISTILL_NO_TRANS, m, k, n, 1.0f, w.krs, m, w.g, k, 0.0f,
                   w.b, k);
    solve_factored(ctx, m, k, w.s, w.x, w.b, k, w.b, k);
    if (dys)
        for (i = 0; i < m; i++)
            memcpy(dys + i * lddys, w.b + i * k, (size_t)k * sizeof(float));

    if (dfs || dfr) {
        float *x_top = w.xs, *x_bottom = w.xs + k * d;
        stack_factors(m, k, w.a, w.b, w.w, w.wx);
        distill__sgemm(ctx, DISTILL_TRANS, DISTILL_NO_TRANS, 2 * k, d, m, 1.0f, w.w, 2 * k, fs,
                       ldfs, 0.0f, w.xs, d);
        if (dfs) {
            distill__sgemm(ctx, DISTILL_TRANS, DISTILL_NO_TRANS, k, d, n, 1.0f, w.g, k, fr, ldfr,
                           1.0f, x_top, d);
            distill__sgemm(ctx, DISTILL_NO_TRANS, DISTILL_NO_TRANS, m, d, 2 * k, 1.0f, w.wx,
                           2 * k, w.xs, d, 0.0f, dfs, lddfs);
        }
        if (dfr)
            distill__sgemm(ctx, DISTILL_NO_TRANS, DISTILL_NO_TRANS, n, d, k, 1.0f, w.g, k,
                           x_bottom, d, 0.0f, dfr, lddfr);
    }
    if (!isfinite(*loss))
        st = distill__fail(ctx, DISTILL_E_NUMERIC, "%s: the loss overflowed (%g)", fn,
                           (double)*loss);
done:
    distill__ws_release(ctx, owned);
    return st;
}
