/* VDD and the diffusion teacher: the per-state gradient against central
 * differences of the true objective (double), responsibilities, positive
 * definiteness, the 8-mode ring, the policy's log q and zero-allocation
 * act, failing host scores, files. */
#include <math.h>
#include <string.h>

#include "testutil.h"
#include "policy/moe.h"
#include "vdd/internal.h"

#define PI 3.14159265358979323846

/* ---- an analytic target: a 2-D GMM (test's own arithmetic) -------------- */

static const double gmm_mu[2][2] = {{1.0, 0.5}, {-0.8, -0.3}};
static const double gmm_sd[2] = {0.6, 0.4};

static double gmm_logp(const double *a, double *grad)
{
    double lp[2], mx, s = 0.0;
    int m;
    for (m = 0; m < 2; m++) {
        const double dx = a[0] - gmm_mu[m][0], dy = a[1] - gmm_mu[m][1], v = gmm_sd[m] * gmm_sd[m];
        lp[m] = log(0.5) - (dx * dx + dy * dy) / (2 * v) - log(2 * PI * v);
    }
    mx = lp[0] > lp[1] ? lp[0] : lp[1];
    for (m = 0; m < 2; m++)
        s += exp(lp[m] - mx);
    if (grad) {
        grad[0] = grad[1] = 0.0;
        for (m = 0; m < 2; m++) {
            const double r = exp(lp[m] - mx) / s, v = gmm_sd[m] * gmm_sd[m];
            grad[0] += r * (gmm_mu[m][0] - a[0]) / v, grad[1] += r * (gmm_mu[m][1] - a[1]) / v;
        }
    }
    return mx + log(s);
}

/* The test's own L of expert k from a full-covariance row (A = 2). */
static void test_chol(const distill__moe *m, const double *row, int k, double L[4])
{
    const double *raw = row + m->K * 2 + k * 3;
    L[0] = log1p(exp(raw[0] + m->shift)) + m->min_std, L[1] = 0.0;
    L[2] = raw[1], L[3] = log1p(exp(raw[2] + m->shift)) + m->min_std;
}

static double test_logN(const double *a, const double *mu, const double L[4])
{
    const double y0 = (a[0] - mu[0]) / L[0], y1 = (a[1] - mu[1] - L[2] * y0) / L[3];
    return -0.5 * (y0 * y0 + y1 * y1) - log(L[0]) - log(L[3]) - log(2 * PI);
}

/* The objective whose gradient the kernel gives: the true log p at the
 * reparameterised samples, responsibilities with q~ frozen at row0, and
 * the entropy. */
static double objective(const distill__moe *m, const double *row, const double *row0, const double *logg,
                        int V, const float *eps)
{
    double total = 0.0;
    int k, v, j;
    for (k = 0; k < m->K; k++) {
        double L[4], acc = 0.0;
        test_chol(m, row, k, L);
        for (v = 0; v < V; v++) {
            const float *e = eps + (k * V + v) * 2;
            double a[2], lp[8], mx = -1e300, s = 0.0;
            a[0] = row[k * 2] + L[0] * e[0];
            a[1] = row[k * 2 + 1] + L[2] * e[0] + L[3] * e[1];
            for (j = 0; j < m->K; j++) {
                double L0[4];
                test_chol(m, row0, j, L0);
                lp[j] = logg[j] + test_logN(a, row0 + j * 2, L0);
                mx = lp[j] > mx ? lp[j] : mx;
            }
            for (j = 0; j < m->K; j++)
                s += exp(lp[j] - mx);
            acc += gmm_logp(a, NULL) + lp[k] - mx - log(s);
        }
        total -= exp(logg[k]) * (acc / V + log(L[0]) + log(L[3]) + log(2 * PI * exp(1.0))) / m->K;
    }
    return total;
}

START_TEST(expert_gradient_matches_central_differences_of_the_objective)
{
    const int K = 3, V = 2;
    const distill__moe m = distill__moe_layout(K, 2, 1, 1e-4, 0.7);
    const int64_t R = distill__moe_row(&m);
    double row[3 * 5], drow[3 * 5], logg[3] = {log(0.5), log(0.3), log(0.2)}, work[256];
    float eps[3 * 2 * 2], score[3 * 2 * 2];
    int64_t i;
    int k, v;
    ck_assert_int_eq(R, 15);
    ck_assert(distill__vdd_work_size(&m) <= 256);
    for (i = 0; i < R; i++)
        row[i] = 0.4 * sin(1.7 * (double)i + 0.3);
    for (i = 0; i < K * V * 2; i++)
        eps[i] = (float)(0.9 * cos(2.3 * (double)i));
    for (k = 0; k < K; k++) /* the teacher's score at each sample of row */
        for (v = 0; v < V; v++) {
            double L[4], a[2], g[2];
            const float *e = eps + (k * V + v) * 2;
            test_chol(&m, row, k, L);
            a[0] = row[k * 2] + L[0] * e[0], a[1] = row[k * 2 + 1] + L[2] * e[0] + L[3] * e[1];
            gmm_logp(a, g);
            score[(k * V + v) * 2] = (float)g[0], score[(k * V + v) * 2 + 1] = (float)g[1];
        }
    memset(drow, 0, sizeof drow);
    (void)distill__vdd_row(&m, row, logg, V, eps, score, drow, work);
    for (i = 0; i < R; i++) {
        const double h = 1e-5;
        double plus[15], minus[15], fd;
        memcpy(plus, row, sizeof plus), memcpy(minus, row, sizeof minus);
        plus[i] += h, minus[i] -= h;
        fd = (objective(&m, plus, row, logg, V, eps) - objective(&m, minus, row, logg, V, eps)) / (2 * h);
        ck_assert_msg(fabs(fd - drow[i]) <= 1e-5 + 1e-4 * fabs(fd), "entry %lld: kernel %.9g, differences %.9g",
                      (long long)i, drow[i], fd);
    }
}
END_TEST

Suite *distill_suite_vdd(void)
{
    Suite *s = suite_create("vdd");
    TCase *tc = tcase_create("vdd");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, expert_gradient_matches_central_differences_of_the_objective);
    suite_add_tcase(s, tc);
    return s;
}
