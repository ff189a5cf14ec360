/* The per-state arithmetic of VDD (internal.h), in double. */
#include <math.h>
#include <string.h>

#include "internal.h"

#define LOG_2PIE 2.8378770664093453 /* log(2 pi e) */

int64_t distill__vdd_work_size(const distill__moe *m)
{
    const int64_t K = m->K, A = m->A;
    return 2 * K * A * A + 2 * K * A + 2 * K + 2 * A;
}

/* The gradient in the row's raw entries from the gradient in L. */
static void chol_backward(const distill__moe *m, const double *row, int64_t k, const double *dL, double *drow)
{
    const int64_t A = m->A;
    const double *raw = row + m->K * A + k * m->C;
    double *draw = drow + m->K * A + k * m->C;
    int64_t i, j, at = 0;
    for (i = 0; i < A; i++)
        for (j = 0; j <= i; j++) {
            if (j < i && !m->full)
                continue;
            if (j == i) {
                const int64_t r = m->full ? at : i;
                draw[r] += dL[i * A + i] * distill__sigmoid(raw[r] + m->shift);
            } else {
                draw[at] += dL[i * A + j];
            }
            if (m->full)
                at++;
        }
}

/* log q~(k | a) and its gradient in a (ga += scale * d/da), with every
 * expert's L; lp, y, w: K, K x A, K x A scratch. */
static double log_resp(const distill__moe *m, const double *row, const double *logg, const double *Ls,
                       const double *a, int64_t k, double scale, double *ga, double *lp, double *y, double *w)
{
    const int64_t K = m->K, A = m->A;
    double lse;
    int64_t j, i;
    for (j = 0; j < K; j++)
        lp[j] = logg[j] + distill__moe_logpdf(A, a, row + j * A, Ls + j * A * A, y + j * A);
    lse = distill__logsumexp(lp, K);
    for (j = 0; j < K; j++) { /* d/da log q~(k|a) = -w_k + sum_j r_j w_j, w_j = L_j^-T y_j */
        const double r = exp(lp[j] - lse) - (j == k ? 1.0 : 0.0);
        memcpy(w, y + j * A, sizeof(double) * (size_t)A);
        distill__moe_back_solve(A, Ls + j * A * A, w);
        for (i = 0; i < A; i++)
            ga[i] += scale * r * w[i];
    }
    return lp[k] - lse;
}

double distill__vdd_row(const distill__moe *m, const double *row, const double *logg, int64_t V,
                        const float *eps, const float *score, double *drow, double *work)
{
    const int64_t K = m->K, A = m->A;
    double *Ls = work, *dL = Ls + K * A * A, *y = dL + K * A * A, *wv = y + K * A, *lp = wv + K * A;
    double *a = lp + 2 * K, *ga = a + A, loss = 0.0;
    int64_t k, v, i, j;
    for (k = 0; k < K; k++)
        distill__moe_chol(m, row, k, Ls + k * A * A);
    memset(dL, 0, sizeof(double) * (size_t)(K * A * A));
    for (k = 0; k < K; k++) {
        const double g = exp(logg[k]), scale = -g / (double)(K * V);
        double acc = 0.0, H = 0.5 * (double)A * LOG_2PIE;
        const double *L = Ls + k * A * A;
        for (v = 0; v < V; v++) {
            const float *e = eps + (k * V + v) * A, *sc = score + (k * V + v) * A;
            for (i = 0; i < A; i++) {
                a[i] = row[k * A + i];
                for (j = 0; j <= i; j++)
                    a[i] += L[i * A + j] * (double)e[j];
            }
            for (i = 0; i < A; i++)
                ga[i] = scale * (double)sc[i], acc += (double)sc[i] * a[i];
            acc += log_resp(m, row, logg, Ls, a, k, scale, ga, lp, y, wv);
            for (i = 0; i < A; i++) { /* a = mu + L eps */
                drow[k * A + i] += ga[i];
                for (j = 0; j <= i; j++)
                    dL[k * A * A + i * A + j] += ga[i] * (double)e[j];
            }
        }
        for (i = 0; i < A; i++) {
            H += log(L[i * A + i]);
            dL[k * A * A + i * A + i] += -g / (double)K / L[i * A + i];
        }
        loss -= g * (acc / (double)V + H) / (double)K;
        chol_backward(m, row, k, dL + k * A * A, drow);
    }
    return loss;
}

double distill__vdd_gate_row(const distill__moe *m, const double *row, const float *z, const float *a, double *dz,
                             double *work)
{
    const int64_t K = m->K, A = m->A;
    double *L = work, *y = L + A * A, *lp = y + A, *logg = lp + K, *ad = logg + K, lse, loss = 0.0;
    int64_t k;
    for (k = 0; k < A; k++)
        ad[k] = a[k];
    distill__moe_log_gate(K, z, logg);
    for (k = 0; k < K; k++) {
        distill__moe_chol(m, row, k, L);
        lp[k] = logg[k] + distill__moe_logpdf(A, ad, row + k * A, L, y);
    }
    lse = distill__logsumexp(lp, K);
    for (k = 0; k < K; k++) {
        const double r = exp(lp[k] - lse);
        loss -= r * logg[k];
        dz[k] = exp(logg[k]) - r;
    }
    return loss;
}
