/* kernels: KRR Gram matrices, fit (dual and primal), predict, and the
 * KRR-ST loss with its gradients checked by finite differences in double. */
#include "testutil.h"

/* ---- double-precision references --------------------------------------- */

static double *to_dbl(const float *x, int64_t rows, int64_t cols, int64_t ld)
{
    double *y = malloc(sizeof(double) * rows * cols);
    int64_t i, j;
    for (i = 0; i < rows; i++)
        for (j = 0; j < cols; j++)
            y[i * cols + j] = x[i * ld + j];
    return y;
}

/* K = A B^T + bias (linear) or exp(-gamma |a-b|^2) + bias, dense doubles */
static void ref_gram(int rbf, double gamma, int bias, int64_t na, int64_t nb, int64_t d,
                     const double *a, const double *b, double *k)
{
    int64_t i, j, p;
    for (i = 0; i < na; i++)
        for (j = 0; j < nb; j++) {
            double s = 0.0;
            for (p = 0; p < d; p++)
                s += rbf ? (a[i * d + p] - b[j * d + p]) * (a[i * d + p] - b[j * d + p])
                         : a[i * d + p] * b[j * d + p];
            k[i * nb + j] = (rbf ? exp(-gamma * s) : s) + bias;
        }
}

/* alpha = (K + lambda I)^-1 Y, K = gram(Fs, Fs); returns lambda used */
static double ref_dual(int rbf, double gamma, int bias, double ridge_rel, int64_t m, int64_t d,
                       int64_t k, const double *fs, const double *ys, double *alpha)
{
    double *kk = malloc(sizeof(double) * m * m), tr = 0.0, lambda;
    int64_t i;
    ref_gram(rbf, gamma, bias, m, m, d, fs, fs, kk);
    for (i = 0; i < m; i++)
        tr += kk[i * m + i];
    lambda = ridge_rel * tr;
    for (i = 0; i < m; i++)
        kk[i * m + i] += lambda;
    ck_assert_int_eq(ref_cholesky(m, kk), 0);
    memcpy(alpha, ys, sizeof(double) * m * k);
    ref_chol_solve(m, k, kk, alpha);
    free(kk);
    return lambda;
}

/* The KRR-ST loss in double with lambda held fixed (as the library does). */
static double ref_krrst(int bias, double lambda, int64_t m, int64_t n, int64_t d, int64_t k,
                        const double *fs, const double *ys, const double *fr, const double *yr)
{
    double *kss = malloc(sizeof(double) * m * m), *krs = malloc(sizeof(double) * n * m);
    double *a = malloc(sizeof(double) * m * k), loss = 0.0;
    int64_t i, j, p;
    ref_gram(0, 0, bias, m, m, d, fs, fs, kss);
    ref_gram(0, 0, bias, n, m, d, fr, fs, krs);
    for (i = 0; i < m; i++)
        kss[i * m + i] += lambda;
    ck_assert_int_eq(ref_cholesky(m, kss), 0);
    memcpy(a, ys, sizeof(double) * m * k);
    ref_chol_solve(m, k, kss, a);
    for (i = 0; i < n; i++)
        for (j = 0; j < k; j++) {
            double pij = 0.0;
            for (p = 0; p < m; p++)
                pij += krs[i * m + p] * a[p * k + j];
            loss += (pij - yr[i * k + j]) * (pij - yr[i * k + j]);
        }
    free(kss), free(krs), free(a);
    return loss / (double)(n * k);
}

static double ref_lambda(int bias, double ridge_rel, int64_t m, int64_t d, const double *fs)
{
    double tr = 0.0;
    int64_t i, p;
    for (i = 0; i < m; i++) {
        tr += bias;
        for (p = 0; p < d; p++)
            tr += fs[i * d + p] * fs[i * d + p];
    }
    return ridge_rel * tr;
}

/* ---- Gram ----------------------------------------------------------------- */

START_TEST(gram_matches_reference)
{
    const int rbf = _i & 1, bias = (_i >> 1) & 1;
    const int64_t na = 7, nb = 5, d = 9, lda = 11, ldb = 9, ldk = 6;
    float *a = new_random(na * lda, 1), *b = new_random(nb * ldb, 2), *k = new_random(na * ldk, 3);
    double *ad = to_dbl(a, na, d, lda), *bd = to_dbl(b, nb, d, ldb), ref[35];
    distill_krr_options o;
    distill_context *ctx = test_context(NULL, 1);
    int64_t i, j;
    distill_krr_options_init(&o);
    o.kernel = rbf ? DISTILL_KERNEL_RBF : DISTILL_KERNEL_LINEAR;
    o.bias = bias;
    o.gamma = rbf && bias ? 0.3 : 0.0; /* 0 = 1/d */
    ck_assert_status(distill_krr_gram(ctx, &o, na, nb, d, a, lda, b, ldb, k, ldk, NULL, 0), DISTILL_OK);
    ref_gram(rbf, o.gamma > 0 ? o.gamma : 1.0 / d, bias, na, nb, d, ad, bd, ref);
    for (i = 0; i < na; i++)
        for (j = 0; j < nb; j++)
            ck_assert_double_eq_tol(k[i * ldk + j], ref[i * nb + j], 1e-5);
    free(a), free(b), free(k), free(ad), free(bd);
    distill_context_destroy(ctx);
}
END_TEST

/* ---- fit / predict ------------------------------------------------------------ */

static const struct { int m, d, k; } fit_shapes[] = {{50, 10, 3}, {10, 50, 2}, {1, 1, 1}, {7, 6, 4}, {6, 7, 1}};

START_TEST(linear_fit_dual_and_primal_agree_with_reference)
{
    const int64_t m = fit_shapes[_i].m, d = fit_shapes[_i].d, k = fit_shapes[_i].k;
    const int64_t ldf = d + 1, ldc = k + 2, n = 9;
    float *fs = new_random(m * ldf, 10 + _i), *ys = new_random(m * k, 20 + _i);
    float *fq = new_random(n * d, 30 + _i), *wd = malloc(sizeof(float) * (d + 1) * ldc);
    float *wp = malloc(sizeof(float) * (d + 1) * ldc), *pd = malloc(sizeof(float) * n * k);
    float *pp = malloc(sizeof(float) * n * k);
    double *fsd = to_dbl(fs, m, d, ldf), *ysd = to_dbl(ys, m, k, k), *alpha = malloc(sizeof(double) * m * k);
    distill_krr_options o;
    distill_context *ctx = test_context(NULL, 2);
    int64_t i, j, p;
    distill_krr_options_init(&o);
    o.ridge = 1e-3;
    ck_assert_int_eq(distill_krr_coef_rows(&o, m, d), d + 1);
    o.form = DISTILL_KRR_DUAL;
    ck_assert_status(distill_krr_fit(ctx, &o, m, d, k, fs, ldf, ys, k, wd, ldc, NULL, 0), DISTILL_OK);
    ck_assert_status(distill_krr_predict(ctx, &o, m, n, d, k, NULL, 0, wd, ldc, fq, d, pd, k, NULL, 0), DISTILL_OK);
    o.form = DISTILL_KRR_PRIMAL;
    ck_assert_status(distill_krr_fit(ctx, &o, m, d, k, fs, ldf, ys, k, wp, ldc, NULL, 0), DISTILL_OK);
    ck_assert_status(distill_krr_predict(ctx, &o, m, n, d, k, NULL, 0, wp, ldc, fq, d, pp, k, NULL, 0), DISTILL_OK);
    /* reference: W = F'^T alpha */
    ref_dual(0, 0, 1, o.ridge, m, d, k, fsd, ysd, alpha);
    for (p = 0; p <= d; p++)
        for (j = 0; j < k; j++) {
            double w = 0.0;
            for (i = 0; i < m; i++)
                w += (p < d ? fsd[i * d + p] : 1.0) * alpha[i * k + j];
            ck_assert_double_eq_tol(wd[p * ldc + j], w, 2e-3 * (1 + fabs(w)));
            ck_assert_double_eq_tol(wp[p * ldc + j], w, 2e-3 * (1 + fabs(w)));
        }
    for (i = 0; i < n * k; i++)
        ck_assert_double_eq_tol(pd[i], pp[i], 2e-3 * (1 + fabs(pd[i])));
    free(fs), free(ys), free(fq), free(wd), free(wp), free(pd), free(pp), free(fsd), free(ysd), free(alpha);
    distill_context_destroy(ctx);
}
END_TEST

START_TEST(rbf_fit_predict_matches_reference)
{
    const int64_t m = 12, d = 4, k = 2, n = 5;
    float *fs = new_random(m * d, 1), *ys = new_random(m * k, 2), *fq = new_random(n * d, 3);
    float coef[24], p[10];
    double *fsd = to_dbl(fs, m, d, d), *ysd = to_dbl(ys, m, k, k), *fqd = to_dbl(fq, n, d, d);
    double alpha[24], kq[60];
    distill_krr_options o;
    distill_context *ctx = test_context(NULL, 1);
    int64_t i, j, q;
    distill_krr_options_init(&o);
    o.kernel = DISTILL_KERNEL_RBF;
    o.ridge = 1e-2;
    o.gamma = 0.7;
    ck_assert_int_eq(distill_krr_coef_rows(&o, m, d), m);
    ck_assert_status(distill_krr_fit(ctx, &o, m, d, k, fs, d, ys, k, coef, k, NULL, 0), DISTILL_OK);
    ck_assert_status(distill_krr_predict(ctx, &o, m, n, d, k, fs, d, coef, k, fq, d, p, k, NULL, 0), DISTILL_OK);
    ref_dual(1, 0.7, 1, o.ridge, m, d, k, fsd, ysd, alpha);
    ref_gram(1, 0.7, 1, n, m, d, fqd, fsd, kq);
    for (i = 0; i < m * k; i++)
        ck_assert_double_eq_tol(coef[i], alpha[i], 1e-3 * (1 + fabs(alpha[i])));
    for (i = 0; i < n; i++)
        for (j = 0; j < k; j++) {
            double s = 0.0;
            for (q = 0; q < m; q++)
                s += kq[i * m + q] * alpha[q * k + j];
            ck_assert_double_eq_tol(p[i * k + j], s, 1e-3 * (1 + fabs(s)));
        }
    ck_assert_fails(ctx, distill_krr_predict(ctx, &o, m, n, d, k, NULL, d, coef, k, fq, d, p, k, NULL, 0),
                    DISTILL_E_INVAL, "Fs is NULL");
    free(fs), free(ys), free(fq), free(fsd), free(ysd), free(fqd);
    distill_context_destroy(ctx);
}
END_TEST

/* ---- KRR-ST loss and gradients ------------------------------------------------ */

static const struct { int m, n, d, k, bias; double ridge; } st_shapes[] = {
    {4, 6, 5, 3, 1, 1e-6}, {8, 5, 3, 2, 1, 1e-2}, {1, 1, 1, 1, 1, 1e-6}, {3, 7, 4, 5, 0, 1e-4},
};

START_TEST(krrst_loss_and_gradients_match_finite_differences)
{
    const int64_t m = st_shapes[_i].m, n = st_shapes[_i].n, d = st_shapes[_i].d, k = st_shapes[_i].k;
    const int bias = st_shapes[_i].bias;
    const int64_t ldfs = d + 2, ldfr = d + 1, ldg = d + 3;
    float *fs = new_random(m * ldfs, 100 + _i), *ys = new_random(m * k, 200 + _i);
    float *fr = new_random(n * ldfr, 300 + _i), *yr = new_random(n * k, 400 + _i);
    float *dfs = malloc(sizeof(float) * m * ldg), *dys = malloc(sizeof(float) * m * k);
    float *dfr = malloc(sizeof(float) * n * ldg), *g1 = malloc(sizeof(float) * m * d);
    float *g3 = malloc(sizeof(float) * n * d), loss;
    double *fsd = to_dbl(fs, m, d, ldfs), *ysd = to_dbl(ys, m, k, k), *frd = to_dbl(fr, n, d, ldfr);
    double *yrd = to_dbl(yr, n, k, k), *fd1 = malloc(sizeof(double) * m * d);
    double *fd2 = malloc(sizeof(double) * m * k), *fd3 = malloc(sizeof(double) * n * d);
    const double h = 1e-6;
    double lambda, ref;
    distill_krr_options o;
    distill_context *ctx = test_context(NULL, 2);
    int64_t i, j;
    distill_krr_options_init(&o);
    o.bias = bias;
    o.ridge = st_shapes[_i].ridge;
    ck_assert_status(distill_krrst_loss_grad(ctx, &o, m, n, d, k, fs, ldfs, ys, k, fr, ldfr, yr, k, &loss,
                                             dfs, ldg, dys, k, dfr, ldg, NULL, 0), DISTILL_OK);
    lambda = ref_lambda(bias, o.ridge, m, d, fsd);
    ref = ref_krrst(bias, lambda, m, n, d, k, fsd, ysd, frd, yrd);
    ck_assert_double_eq_tol(loss, ref, 1e-4 * (1 + ref));
#define CENTRAL(arr, idx, out)                                                               \
    do {                                                                                     \
        double keep = arr[idx], lp, lm;                                                      \
        arr[idx] = keep + h;                                                                 \
        lp = ref_krrst(bias, lambda, m, n, d, k, fsd, ysd, frd, yrd);                        \
        arr[idx] = keep - h;                                                                 \
        lm = ref_krrst(bias, lambda, m, n, d, k, fsd, ysd, frd, yrd);                        \
        arr[idx] = keep;                                                                     \
        out = (lp - lm) / (2 * h);                                                           \
    } while (0)
    for (i = 0; i < m * d; i++)
        CENTRAL(fsd, i, fd1[i]);
    for (i = 0; i < m * k; i++)
        CENTRAL(ysd, i, fd2[i]);
    for (i = 0; i < n * d; i++)
        CENTRAL(frd, i, fd3[i]);
#undef CENTRAL
    for (i = 0; i < m; i++)
        for (j = 0; j < d; j++)
            g1[i * d + j] = dfs[i * ldg + j];
    for (i = 0; i < n; i++)
        for (j = 0; j < d; j++)
            g3[i * d + j] = dfr[i * ldg + j];
    ck_assert_msg(rel_err_fd(g1, fd1, m * d) < 2e-3, "dFs rel err %g", rel_err_fd(g1, fd1, m * d));
    ck_assert_msg(rel_err_fd(dys, fd2, m * k) < 2e-3, "dYs rel err %g", rel_err_fd(dys, fd2, m * k));
    ck_assert_msg(rel_err_fd(g3, fd3, n * d) < 2e-3, "dFr rel err %g", rel_err_fd(g3, fd3, n * d));
    free(fs), free(ys), free(fr), free(yr), free(dfs), free(dys), free(dfr), free(g1), free(g3);
    free(fsd), free(ysd), free(frd), free(yrd), free(fd1), free(fd2), free(fd3);
    distill_context_destroy(ctx);
}
END_TEST

/* A realistic shape (m < d+1 and m > d+1) in float vs the double reference. */
START_TEST(krrst_loss_matches_reference_at_scale)
{
    const int64_t m = _i ? 60 : 20, n = 33, d = _i ? 17 : 129, k = 8;
    float *fs = new_random(m * d, 7), *ys = new_random(m * k, 8), *fr = new_random(n * d, 9);
    float *yr = new_random(n * k, 10), loss;
    double *fsd = to_dbl(fs, m, d, d), *ysd = to_dbl(ys, m, k, k), *frd = to_dbl(fr, n, d, d);
    double *yrd = to_dbl(yr, n, k, k), ref;
    distill_context *ctx = test_context(NULL, 2);
    ck_assert_status(distill_krrst_loss_grad(ctx, NULL, m, n, d, k, fs, d, ys, k, fr, d, yr, k, &loss,
                                             NULL, 0, NULL, 0, NULL, 0, NULL, 0), DISTILL_OK);
    ref = ref_krrst(1, ref_lambda(1, 1e-6, m, d, fsd), m, n, d, k, fsd, ysd, frd, yrd);
    ck_assert_msg(fabs(loss - ref) < 1e-3 * (1 + ref), "loss %g, reference %g", loss, ref);
    free(fs), free(ys), free(fr), free(yr), free(fsd), free(ysd), free(frd), free(yrd);
    distill_context_destroy(ctx);
}
END_TEST

START_TEST(krrst_is_deterministic_and_allocation_free)
{
    const int64_t m = 30, n = 40, d = 50, k = 6;
    float *fs = new_random(m * d, 1), *ys = new_random(m * k, 2), *fr = new_random(n * d, 3);
    float *yr = new_random(n * k, 4), l1, l2;
    float *g1 = malloc(sizeof(float) * m * d), *g2 = malloc(sizeof(float) * m * d);
    counting_alloc c;
    distill_context *ctx = test_context(&c, 2);
    size_t bytes;
    void *ws;
    long calls;
    ck_assert_status(distill_krrst_loss_grad_workspace_size(NULL, m, n, d, k, &bytes), DISTILL_OK);
    ws = malloc(bytes);
    calls = c.calls;
    ck_assert_status(distill_krrst_loss_grad(ctx, NULL, m, n, d, k, fs, d, ys, k, fr, d, yr, k, &l1,
                                             g1, d, NULL, 0, NULL, 0, ws, bytes), DISTILL_OK);
    ck_assert_int_eq(c.calls, calls);
    ck_assert_status(distill_krrst_loss_grad(ctx, NULL, m, n, d, k, fs, d, ys, k, fr, d, yr, k, &l2,
                                             g2, d, NULL, 0, NULL, 0, NULL, 0), DISTILL_OK);
    ck_assert_int_eq(c.live, 1);
    ck_assert_mem_eq(&l1, &l2, sizeof l1);
    ck_assert_mem_eq(g1, g2, sizeof(float) * m * d);
    free(fs), free(ys), free(fr), free(yr), free(g1), free(g2), free(ws);
    distill_context_destroy(ctx);
}
END_TEST

START_TEST(krr_rejects_bad_arguments)
{
    float f[64], y[64], loss, w[64];
    char ws[128];
    distill_krr_options o;
    counting_alloc c;
    distill_context *ctx = test_context(&c, 1);
    size_t bytes;
    fill_random(f, 64, 1);
    fill_random(y, 64, 2);
    distill_krr_options_init(&o);
#define ST(...) distill_krrst_loss_grad(ctx, __VA_ARGS__)
    ck_assert_fails(ctx, ST(&o, 4, 4, 4, 2, NULL, 4, y, 2, f, 4, y, 2, &loss, NULL, 0, NULL, 0, NULL, 0, NULL, 0),
                    DISTILL_E_INVAL, "Fs is NULL");
    ck_assert_fails(ctx, ST(&o, 4, 4, 4, 2, f, 4, y, 2, f, 4, y, 2, NULL, NULL, 0, NULL, 0, NULL, 0, NULL, 0),
                    DISTILL_E_INVAL, "loss");
    ck_assert_fails(ctx, ST(&o, 0, 4, 4, 2, f, 4, y, 2, f, 4, y, 2, &loss, NULL, 0, NULL, 0, NULL, 0, NULL, 0),
                    DISTILL_E_INVAL, "m must be");
    ck_assert_fails(ctx, ST(&o, 4, 4, 4, 2, f, 3, y, 2, f, 4, y, 2, &loss, NULL, 0, NULL, 0, NULL, 0, NULL, 0),
                    DISTILL_E_SHAPE, "leading dimension of Fs");
    ck_assert_fails(ctx, ST(&o, 4, 4, 4, 2, f, 4, y, 2, f, 4, y, 2, &loss, w, 2, NULL, 0, NULL, 0, NULL, 0),
                    DISTILL_E_SHAPE, "dFs");
    ck_assert_fails(ctx, ST(&o, 4, 4, 4, 2, f, 4, y, 2, f, 4, y, 2, &loss, NULL, 0, NULL, 0, NULL, 0, ws, sizeof ws),
                    DISTILL_E_WORKSPACE, "too small");
    ck_assert_fails(ctx, ST(&o, (int64_t)1 << 40, 4, 4, 2, f, 4, y, 2, f, 4, y, 2, &loss, NULL, 0, NULL, 0, NULL, 0, NULL, 0),
                    DISTILL_E_NOMEM, "overflow");
    f[4 * 2 + 3] = NAN;
    ck_assert_fails(ctx, ST(&o, 4, 4, 4, 2, f + 16, 4, y, 2, f, 4, y, 2, &loss, NULL, 0, NULL, 0, NULL, 0, NULL, 0),
                    DISTILL_E_NUMERIC, "Fr[2, 3] is NaN");
    f[4 * 2 + 3] = 0.5f;
    o.kernel = DISTILL_KERNEL_RBF;
    ck_assert_fails(ctx, ST(&o, 4, 4, 4, 2, f, 4, y, 2, f, 4, y, 2, &loss, NULL, 0, NULL, 0, NULL, 0, NULL, 0),
                    DISTILL_E_UNSUPPORTED, "linear");
    o.kernel = 7;
    ck_assert_fails(ctx, ST(&o, 4, 4, 4, 2, f, 4, y, 2, f, 4, y, 2, &loss, NULL, 0, NULL, 0, NULL, 0, NULL, 0),
                    DISTILL_E_INVAL, "unknown kernel");
    distill_krr_options_init(&o);
    o.ridge = -1;
    ck_assert_fails(ctx, distill_krr_fit(ctx, &o, 4, 4, 2, f, 4, y, 2, w, 2, NULL, 0), DISTILL_E_INVAL, "ridge");
    distill_krr_options_init(&o);
    o.struct_size = 8;
    ck_assert_fails(ctx, distill_krr_fit(ctx, &o, 4, 4, 2, f, 4, y, 2, w, 2, NULL, 0), DISTILL_E_ABI, "struct_size");
    ck_assert_status(distill_krr_fit_workspace_size(NULL, 0, 4, 2, &bytes), DISTILL_E_INVAL);
    /* a zero system is only semi-definite: the jitter retry still fits it */
    distill_krr_options_init(&o);
    o.ridge_mode = DISTILL_RIDGE_ABSOLUTE;
    o.ridge = 0.0;
    o.bias = 0;
    o.form = DISTILL_KRR_DUAL;
    memset(f, 0, sizeof f);
    ck_assert_status(distill_krr_fit(ctx, &o, 4, 4, 2, f, 4, y, 2, w, 2, NULL, 0), DISTILL_OK);
    y[5] = INFINITY;
    ck_assert_fails(ctx, distill_krr_fit(ctx, &o, 4, 4, 2, f, 4, y, 2, w, 2, NULL, 0), DISTILL_E_NUMERIC,
                    "Ys[2, 1] is Inf");
#undef ST
    ck_assert_int_eq(c.live, 1);
    distill_context_destroy(ctx);
}
END_TEST

Suite *distill_suite_krr(void)
{
    Suite *s = suite_create("kernels-krr");
    TCase *tc = tcase_create("krr");
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, gram_matches_reference, 0, 4);
    tcase_add_loop_test(tc, linear_fit_dual_and_primal_agree_with_reference, 0,
                        sizeof fit_shapes / sizeof fit_shapes[0]);
    tcase_add_test(tc, rbf_fit_predict_matches_reference);
    tcase_add_loop_test(tc, krrst_loss_and_gradients_match_finite_differences, 0,
                        sizeof st_shapes / sizeof st_shapes[0]);
    tcase_add_loop_test(tc, krrst_loss_matches_reference_at_scale, 0, 2);
    tcase_add_test(tc, krrst_is_deterministic_and_allocation_free);
    tcase_add_test(tc, krr_rejects_bad_arguments);
    suite_add_tcase(s, tc);
    return s;
}
