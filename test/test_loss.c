/* kernels: MSE, softmax, cross-entropy, KL and the fused distillation loss,
 * against double references and central finite differences. */
#include "testutil.h"

enum { N = 5, C = 4 };

/* The whole family in one double reference: hard term with temperature 1
 * (or t_hard), soft term with t_soft, weights as distill_kd_loss_grad. */
typedef struct ref_args {
    const int32_t *labels;
    const double *s;
    const uint8_t *mask;
    double hard_w, soft_w, t_hard, t_soft;
    int kl;
} ref_args;

static double ref_loss(const double *z, const ref_args *a)
{
    double sum = 0.0;
    int i, j;
    for (i = 0; i < N; i++) {
        const double *zi = z + i * C;
        if (a->labels && a->labels[i] >= 0)
            sum += a->hard_w * (ref_lse(zi, C, 1 / a->t_hard) - zi[a->labels[i]] / a->t_hard);
        if (a->s && (!a->mask || a->mask[i]))
            for (j = 0; j < C; j++) {
                double t = a->s[i * C + j];
                sum -= a->soft_w * t * (zi[j] / a->t_soft - ref_lse(zi, C, 1 / a->t_soft));
                if (a->kl && t > 0)
                    sum += a->soft_w * t * log(t);
            }
    }
    return sum / N;
}

static void ref_grad(const float *zf, const ref_args *a, double *g)
{
    double z[N * C], h = 1e-5;
    int i;
    for (i = 0; i < N * C; i++)
        z[i] = zf[i];
    for (i = 0; i < N * C; i++) {
        double keep = z[i], lp, lm;
        z[i] = keep + h;
        lp = ref_loss(z, a);
        z[i] = keep - h;
        lm = ref_loss(z, a);
        z[i] = keep;
        g[i] = (lp - lm) / (2 * h);
    }
}

static double ref_value(const float *zf, const ref_args *a)
{
    double z[N * C];
    int i;
    for (i = 0; i < N * C; i++)
        z[i] = zf[i];
    return ref_loss(z, a);
}

static void make_data(float *z, float *s, double *sd, uint64_t seed)
{
    int i, j;
    fill_random(z, N * C, seed);
    for (i = 0; i < N * C; i++)
        z[i] *= 3.0f;
    fill_random(s, N * C, seed + 1);
    for (i = 0; i < N; i++) {
        float sum = 0;
        for (j = 0; j < C; j++)
            sum += s[i * C + j] = s[i * C + j] + 1.5f;
        for (j = 0; j < C; j++) {
            s[i * C + j] /= sum;
            sd[i * C + j] = s[i * C + j];
        }
    }
}

static const int32_t labels[N] = {0, 3, -1, 2, 1};
static const uint8_t mask[N] = {1, 0, 1, 1, 1};

START_TEST(mse_matches_reference)
{
    const int64_t n = 3, k = 5, ldp = 7;
    float *p = new_random(n * ldp, 1), *y = new_random(n * k, 2), g[21], loss;
    double ref = 0;
    distill_context *ctx = test_context(NULL, 1);
    int64_t i, j;
    ck_assert_status(distill_mse_loss_grad(ctx, n, k, p, ldp, y, k, &loss, g, ldp), DISTILL_OK);
    for (i = 0; i < n; i++)
        for (j = 0; j < k; j++) {
            double r = (double)p[i * ldp + j] - y[i * k + j];
            ref += r * r;
            ck_assert_double_eq_tol(g[i * ldp + j], 2 * r / (n * k), 1e-6);
        }
    ck_assert_double_eq_tol(loss, ref / (n * k), 1e-6);
    p[4] = NAN;
    ck_assert_fails(ctx, distill_mse_loss_grad(ctx, n, k, p, ldp, y, k, &loss, g, ldp), DISTILL_E_NUMERIC, "P[0, 4]");
    free(p), free(y);
    distill_context_destroy(ctx);
}
END_TEST

static void check_grad(const float *dz, const double *ref, const char *what)
{
    ck_assert_msg(rel_err_fd(dz, ref, N * C) < 1e-4, "%s: gradient rel err %g", what, rel_err_fd(dz, ref, N * C));
}

START_TEST(xent_and_kl_match_finite_differences)
{
    const float temps[] = {1.0f, 3.0f, 0.5f};
    const float t = temps[_i];
    float z[N * C], s[N * C], dz[N * C], loss, loss_kl, dz_kl[N * C];
    double sd[N * C], g[N * C];
    ref_args a = {labels, NULL, NULL, 1, 1, t, t, 0};
    distill_context *ctx = test_context(NULL, 1);
    make_data(z, s, sd, 7 + _i);
    ck_assert_status(distill_xent_hard(ctx, N, C, z, C, labels, t, &loss, dz, C), DISTILL_OK);
    ck_assert_double_eq_tol(loss, ref_value(z, &a), 1e-5);
    ref_grad(z, &a, g);
    check_grad(dz, g, "xent_hard");
    a.labels = NULL;
    a.s = sd;
    ck_assert_status(distill_xent_soft(ctx, N, C, z, C, s, C, t, &loss, dz, C), DISTILL_OK);
    ck_assert_double_eq_tol(loss, ref_value(z, &a), 1e-5);
    ref_grad(z, &a, g);
    check_grad(dz, g, "xent_soft");
    a.kl = 1;
    ck_assert_status(distill_kl_div(ctx, N, C, z, C, s, C, t, &loss_kl, dz_kl, C), DISTILL_OK);
    ck_assert_double_eq_tol(loss_kl, ref_value(z, &a), 1e-5);
    ck_assert(loss_kl >= 0.0f && loss_kl < loss);
    ck_assert_mem_eq(dz, dz_kl, sizeof dz);
    /* KL of a distribution against itself is zero */
    ck_assert_status(distill_softmax(ctx, N, C, z, C, t, s, C), DISTILL_OK);
    ck_assert_status(distill_kl_div(ctx, N, C, z, C, s, C, t, &loss_kl, NULL, 0), DISTILL_OK);
    ck_assert_double_eq_tol(loss_kl, 0.0, 1e-6);
    distill_context_destroy(ctx);
}
END_TEST

/* presets of gd.md: lopezpaz2016 = {student T 1, scale T^2}; hinton2015 = {T, T^2} */
START_TEST(kd_presets_match_finite_differences)
{
    const float temp = 4.0f, lambda = 0.3f;
    const int hinton = _i & 1, masked = _i >> 1;
    const float ts = hinton ? temp : 1.0f;
    float z[N * C], s[N * C], dz[N * C], loss;
    double sd[N * C], g[N * C];
    ref_args a = {labels, NULL, NULL, 1 - lambda, lambda * temp * temp, 1.0, ts, 0};
    distill_context *ctx = test_context(NULL, 1);
    make_data(z, s, sd, 30 + _i);
    a.s = sd;
    a.mask = masked ? mask : NULL;
    ck_assert_status(distill_kd_loss_grad(ctx, N, C, z, C, labels, s, C, a.mask, lambda, ts, temp * temp,
                                          &loss, dz, C), DISTILL_OK);
    ck_assert_double_eq_tol(loss, ref_value(z, &a), 1e-4);
    ref_grad(z, &a, g);
    check_grad(dz, g, "kd");
    distill_context_destroy(ctx);
}
END_TEST

/* Hinton: with lambda = 1 the gradient is (1/T)(q - s) T^2 per row, / n. */
START_TEST(kd_hinton_identity)
{
    const float t = 5.0f;
    float z[N * C], s[N * C], q[N * C], dz[N * C], loss;
    double sd[N * C];
    distill_context *ctx = test_context(NULL, 1);
    int i;
    make_data(z, s, sd, 3);
    ck_assert_status(distill_softmax(ctx, N, C, z, C, t, q, C), DISTILL_OK);
    ck_assert_status(distill_kd_loss_grad(ctx, N, C, z, C, NULL, s, C, NULL, 1.0f, t, t * t, &loss, dz, C),
                     DISTILL_OK);
    for (i = 0; i < N * C; i++)
        ck_assert_double_eq_tol(dz[i], (1.0 / t) * (q[i] - s[i]) * t * t / N, 1e-6);
    distill_context_destroy(ctx);
}
END_TEST

/* A row without a label gets only the soft term; a row without a privileged
 * input (mask 0) only the hard term. */
START_TEST(kd_missing_rows_contribute_the_right_term)
{
    float z[N * C], s[N * C], both[N * C], hard[N * C], soft[N * C], loss;
    double sd[N * C];
    distill_context *ctx = test_context(NULL, 1);
    int j;
    make_data(z, s, sd, 11);
    ck_assert_status(distill_kd_loss_grad(ctx, N, C, z, C, labels, s, C, mask, 0.4f, 2.0f, 4.0f, &loss, both, C), DISTILL_OK);
    ck_assert_status(distill_kd_loss_grad(ctx, N, C, z, C, labels, NULL, C, NULL, 0.4f, 2.0f, 4.0f, &loss, hard, C), DISTILL_OK);
    ck_assert_status(distill_kd_loss_grad(ctx, N, C, z, C, NULL, s, C, NULL, 0.4f, 2.0f, 4.0f, &loss, soft, C), DISTILL_OK);
    for (j = 0; j < C; j++) {
        ck_assert_float_eq(both[2 * C + j], soft[2 * C + j]); /* label -1 */
        ck_assert_float_eq(both[1 * C + j], hard[1 * C + j]); /* mask 0 */
        ck_assert_double_eq_tol(both[0 * C + j], hard[0 * C + j] + soft[0 * C + j], 1e-7);
    }
    distill_context_destroy(ctx);
}
END_TEST

/* Regression distillation / logit matching: a double reference with NaN
 * targets skipped, masked rows without the soft term, and FD gradients. */
static double kd_mse_ref(const double *p, const float *y, const float *t, double lambda)
{
    double sum = 0;
    int i, j;
    for (i = 0; i < N; i++)
        for (j = 0; j < C; j++) {
            if (!isnan(y[i * C + j]))
                sum += (1 - lambda) * (p[i * C + j] - y[i * C + j]) * (p[i * C + j] - y[i * C + j]);
            if (mask[i])
                sum += lambda * (p[i * C + j] - t[i * C + j]) * (p[i * C + j] - t[i * C + j]);
        }
    return sum / (N * C);
}

START_TEST(kd_mse_matches_finite_differences)
{
    const double lambda = 0.35, h = 1e-5;
    float p[N * C], y[N * C], t[N * C], g[N * C], loss;
    double pd[N * C], ref[N * C];
    distill_context *ctx = test_context(NULL, 1);
    int i;
    fill_random(p, N * C, 41), fill_random(y, N * C, 42), fill_random(t, N * C, 43);
    y[3] = y[2 * C] = y[2 * C + 1] = NAN;
    t[1 * C + 2] = NAN; /* row 1 is masked out: its soft targets are never read */
    for (i = 0; i < N * C; i++)
        pd[i] = p[i];
    ck_assert_status(distill_kd_mse_loss_grad(ctx, N, C, p, C, y, C, t, C, mask, (float)lambda, &loss, g, C),
                     DISTILL_OK);
    ck_assert_double_eq_tol(loss, kd_mse_ref(pd, y, t, lambda), 1e-6);
    for (i = 0; i < N * C; i++) {
        double lp, lm;
        pd[i] = p[i] + h, lp = kd_mse_ref(pd, y, t, lambda);
        pd[i] = p[i] - h, lm = kd_mse_ref(pd, y, t, lambda);
        pd[i] = p[i], ref[i] = (lp - lm) / (2 * h);
    }
    check_grad(g, ref, "kd mse");
    ck_assert_double_eq_tol(g[3], 2 * lambda * (p[3] - t[3]) / (N * C), 1e-8); /* only the soft term */
    ck_assert_double_eq_tol(g[1 * C], 2 * (1 - lambda) * (p[1 * C] - y[1 * C]) / (N * C), 1e-8);
    ck_assert_fails(ctx, distill_kd_mse_loss_grad(ctx, N, C, p, C, y, C, t, C, NULL, 0.5f, &loss, g, C),
                    DISTILL_E_NUMERIC, "T");
    ck_assert_fails(ctx, distill_kd_mse_loss_grad(ctx, N, C, p, C, y, C, t, C, mask, 1.5f, &loss, g, C),
                    DISTILL_E_INVAL, "lambda");
    distill_context_destroy(ctx);
}
END_TEST

START_TEST(softmax_is_stable_for_huge_logits)
{
    float z[6] = {1e4f, -1e4f, 3e4f, 88.0f, 89.0f, -1e30f}, out[6], dz[6], loss;
    int32_t y[2] = {1, 1};
    distill_context *ctx = test_context(NULL, 1);
    ck_assert_status(distill_softmax(ctx, 2, 3, z, 3, 1.0f, out, 3), DISTILL_OK);
    ck_assert_double_eq_tol(out[0] + out[1] + out[2], 1.0, 1e-6);
    ck_assert_double_eq_tol(out[2], 1.0, 1e-6);
    ck_assert_status(distill_xent_hard(ctx, 2, 3, z, 3, y, 1.0f, &loss, dz, 3), DISTILL_OK);
    ck_assert(isfinite(loss));
    /* row 0: lse = 3e4, minus z = -1e4; row 1: lse - 89 = log1p(e^-1) */
    ck_assert_double_eq_tol(loss, (4e4 + log1p(exp(-1.0))) / 2, 0.01);
    ck_assert(isfinite(dz[0]) && isfinite(dz[5]));
    distill_context_destroy(ctx);
}
END_TEST

START_TEST(losses_reject_bad_arguments)
{
    float z[N * C], s[N * C], dz[N * C], loss;
    double sd[N * C];
    int32_t bad[N] = {0, 1, 4, 0, 0};
    distill_context *ctx = test_context(NULL, 1);
    make_data(z, s, sd, 1);
    ck_assert_fails(ctx, distill_xent_hard(ctx, N, C, z, C, bad, 1.0f, &loss, dz, C), DISTILL_E_INVAL, "labels[2] = 4");
    ck_assert_fails(ctx, distill_xent_hard(ctx, N, C, z, C, labels, 0.0f, &loss, dz, C), DISTILL_E_INVAL, "temperature");
    ck_assert_fails(ctx, distill_xent_hard(ctx, N, C, z, C, labels, 1.0f, &loss, dz, 2), DISTILL_E_SHAPE, "dZ");
    ck_assert_fails(ctx, distill_kd_loss_grad(ctx, N, C, z, C, labels, s, C, NULL, 1.5f, 1, 1, &loss, dz, C),
                    DISTILL_E_INVAL, "lambda");
    ck_assert_fails(ctx, distill_kd_loss_grad(ctx, N, C, z, C, labels, s, C, NULL, 0.5f, NAN, 1, &loss, dz, C),
                    DISTILL_E_INVAL, "student_t");
    ck_assert_fails(ctx, distill_kd_loss_grad(ctx, N, C, z, C, labels, s, C, NULL, 0.5f, 1e-38f, 3e38f, &loss, dz, C),
                    DISTILL_E_NUMERIC, "overflowed");
    s[3] = -0.1f;
    ck_assert_fails(ctx, distill_xent_soft(ctx, N, C, z, C, s, C, 1.0f, &loss, dz, C), DISTILL_E_INVAL, "negative");
    z[9] = INFINITY;
    ck_assert_fails(ctx, distill_softmax(ctx, N, C, z, C, 1.0f, dz, C), DISTILL_E_NUMERIC, "Z[2, 1] is Inf");
    ck_assert_status(distill_softmax(NULL, N, C, z, C, 1.0f, dz, C), DISTILL_E_INVAL);
    distill_context_destroy(ctx);
}
END_TEST

/* Barlow Twins: the loss in double from scratch, its gradient by central
 * differences in double, against the kernel (float). */
#define BT_N 7
#define BT_D 4
static double bt_ref(const double *za, const double *zb, double lambda)
{
    double a[BT_N * BT_D], b[BT_N * BT_D], loss = 0;
    const double *z[2] = {za, zb};
    double *o[2] = {a, b};
    int v, i, j, k;
    for (v = 0; v < 2; v++)
        for (j = 0; j < BT_D; j++) {
            double m = 0, var = 0;
            for (i = 0; i < BT_N; i++)
                m += z[v][i * BT_D + j] / BT_N;
            for (i = 0; i < BT_N; i++)
                var += (z[v][i * BT_D + j] - m) * (z[v][i * BT_D + j] - m) / BT_N;
            for (i = 0; i < BT_N; i++)
                o[v][i * BT_D + j] = (z[v][i * BT_D + j] - m) / sqrt(var + 1e-5);
        }
    for (i = 0; i < BT_D; i++)
        for (j = 0; j < BT_D; j++) {
            double c = 0;
            for (k = 0; k < BT_N; k++)
                c += a[k * BT_D + i] * b[k * BT_D + j] / BT_N;
            loss += i == j ? (1 - c) * (1 - c) : lambda * c * c;
        }
    return loss;
}

START_TEST(barlow_twins_matches_finite_differences)
{
    float za[BT_N * BT_D], zb[BT_N * BT_D], dza[BT_N * BT_D], dzb[BT_N * BT_D], loss;
    double a[BT_N * BT_D], b[BT_N * BT_D], h = 1e-6, lambda = 0.3;
    distill_context *ctx = test_context(NULL, 1);
    int i;
    fill_random(za, BT_N * BT_D, 21), fill_random(zb, BT_N * BT_D, 22);
    for (i = 0; i < BT_N * BT_D; i++)
        zb[i] += 0.8f * za[i]; /* correlated views */
    ck_assert_status(distill_barlow_twins_loss_grad(ctx, BT_N, BT_D, za, BT_D, zb, BT_D, (float)lambda,
                                                    &loss, dza, BT_D, dzb, BT_D, NULL, 0), DISTILL_OK);
    for (i = 0; i < BT_N * BT_D; i++)
        a[i] = za[i], b[i] = zb[i];
    ck_assert_double_eq_tol(loss, bt_ref(a, b, lambda), 1e-4 * bt_ref(a, b, lambda));
    for (i = 0; i < BT_N * BT_D; i++) {
        double fa, fb, s = a[i], t = b[i];
        a[i] = s + h, fa = bt_ref(a, b, lambda), a[i] = s - h, fa = (fa - bt_ref(a, b, lambda)) / (2 * h), a[i] = s;
        b[i] = t + h, fb = bt_ref(a, b, lambda), b[i] = t - h, fb = (fb - bt_ref(a, b, lambda)) / (2 * h), b[i] = t;
        ck_assert_msg(fabs(dza[i] - fa) <= 1e-3 * (1 + fabs(fa)), "dZa[%d] %g vs %g", i, dza[i], fa);
        ck_assert_msg(fabs(dzb[i] - fb) <= 1e-3 * (1 + fabs(fb)), "dZb[%d] %g vs %g", i, dzb[i], fb);
    }
    /* bad input */
    ck_assert_status(distill_barlow_twins_loss_grad(ctx, 1, BT_D, za, BT_D, zb, BT_D, 0.1f, &loss, NULL,
                                                    0, NULL, 0, NULL, 0), DISTILL_E_INVAL);
    za[3] = NAN;
    ck_assert_status(distill_barlow_twins_loss_grad(ctx, BT_N, BT_D, za, BT_D, zb, BT_D, 0.1f, &loss,
                                                    NULL, 0, NULL, 0, NULL, 0), DISTILL_E_NUMERIC);
    distill_context_destroy(ctx);
}
END_TEST

/* Above 256 classes: with a workspace, the same result and no allocation
 * at all (neither the context's hooks nor the C allocator). */
START_TEST(kd_loss_with_workspace_allocates_nothing)
{
    enum { NR = 3, NC = 300 };
    counting_alloc ca;
    distill_context *ctx = test_context(&ca, 1);
    float *z = new_random(NR * NC, 21), *s = malloc(sizeof(float) * NR * NC);
    float dz1[NR * NC], dz2[NR * NC], l1, l2;
    int32_t lab[NR] = {0, 299, -1};
    size_t bytes;
    void *ws;
    long calls, c_calls;
    distill_status st;
    ck_assert_status(distill_softmax(ctx, NR, NC, z, NC, 2.0f, s, NC), DISTILL_OK);
    ck_assert_status(distill_kd_loss_grad(ctx, NR, NC, z, NC, lab, s, NC, NULL, 0.3f, 2.0f, 4.0f, &l1,
                                          dz1, NC), DISTILL_OK);
    ck_assert_status(distill_kd_loss_grad_workspace_size(NC, &bytes), DISTILL_OK);
    ck_assert_uint_ge(bytes, sizeof(float) * 2 * NC);
    ws = malloc(bytes);
    calls = ca.calls, c_calls = test_c_allocations();
    st = distill_kd_loss_grad_v2(ctx, NR, NC, z, NC, lab, s, NC, NULL, 0.3f, 2.0f, 4.0f, &l2, dz2, NC,
                                 ws, bytes);
    calls = ca.calls - calls, c_calls = test_c_allocations() - c_calls;
    ck_assert_status(st, DISTILL_OK);
    ck_assert_int_eq(calls, 0);
    ck_assert_int_eq(c_calls, 0);
    ck_assert(l1 == l2 && memcmp(dz1, dz2, sizeof dz1) == 0);
    ck_assert_fails(ctx, distill_kd_loss_grad_v2(ctx, NR, NC, z, NC, lab, s, NC, NULL, 0.3f, 2.0f, 4.0f,
                                                 &l2, dz2, NC, ws, bytes / 2),
                    DISTILL_E_WORKSPACE, "workspace");
    free(ws), free(z), free(s);
    distill_context_destroy(ctx);
}
END_TEST

Suite *distill_suite_loss(void)
{
    Suite *s = suite_create("kernels-loss");
    TCase *tc = tcase_create("loss");
    tcase_add_test(tc, mse_matches_reference);
    tcase_add_loop_test(tc, xent_and_kl_match_finite_differences, 0, 3);
    tcase_add_loop_test(tc, kd_presets_match_finite_differences, 0, 4);
    tcase_add_test(tc, kd_hinton_identity);
    tcase_add_test(tc, kd_missing_rows_contribute_the_right_term);
    tcase_add_test(tc, kd_mse_matches_finite_differences);
    tcase_add_test(tc, softmax_is_stable_for_huge_logits);
    tcase_add_test(tc, losses_reject_bad_arguments);
    tcase_add_test(tc, barlow_twins_matches_finite_differences);
    tcase_add_test(tc, kd_loss_with_workspace_allocates_nothing);
    suite_add_tcase(s, tc);
    return s;
}
