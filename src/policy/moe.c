/* The mixture's arithmetic (moe.h), in double: A and K are small, and the
 * responsibilities subtract log-densities of similar size. */
#include <math.h>

#include "moe.h"

#define LOG_2PI 1.8378770664093453

double distill__softplus(double x) { return x > 30.0 ? x : log1p(exp(x)); }
double distill__sigmoid(double x) { return 1.0 / (1.0 + exp(-x)); }

distill__moe distill__moe_layout(int64_t K, int64_t A, int full, double min_std, double init_std)
{
    distill__moe m;
    const double t = init_std - min_std; /* softplus^-1(t) = log(expm1(t)) */
    m.K = K, m.A = A, m.full = full != 0;
    m.C = m.full ? A * (A + 1) / 2 : A;
    m.min_std = (float)min_std;
    m.shift = (float)(t > 30.0 ? t : log(expm1(t)));
    return m;
}

void distill__moe_chol(const distill__moe *m, const double *row, int64_t k, double *L)
{
    const int64_t A = m->A;
    const double *raw = row + m->K * A + k * m->C;
    int64_t i, j, at = 0;
    for (i = 0; i < A; i++)
        for (j = 0; j < A; j++) {
            double v = 0.0;
            if (j == i)
                v = distill__softplus(raw[m->full ? at++ : i] + m->shift) + m->min_std;
            else if (j < i && m->full)
                v = raw[at++];
            L[i * A + j] = v;
        }
}

double distill__moe_logpdf(int64_t A, const double *a, const double *mu, const double *L, double *y)
{
    double quad = 0.0, logdet = 0.0;
    int64_t i, j;
    for (i = 0; i < A; i++) {
        double v = a[i] - mu[i];
        for (j = 0; j < i; j++)
            v -= L[i * A + j] * y[j];
        y[i] = v / L[i * A + i];
        quad += y[i] * y[i];
        logdet += log(L[i * A + i]);
    }
    return -0.5 * quad - logdet - 0.5 * (double)A * LOG_2PI;
}

void distill__moe_back_solve(int64_t A, const double *L, double *x)
{
    int64_t i, j;
    for (i = A - 1; i >= 0; i--) {
        double v = x[i];
        for (j = i + 1; j < A; j++)
            v -= L[j * A + i] * x[j];
        x[i] = v / L[i * A + i];
    }
}

double distill__logsumexp(const double *v, int64_t K)
{
    double mx = v[0], s = 0.0;
    int64_t k;
    for (k = 1; k < K; k++)
        if (v[k] > mx)
            mx = v[k];
    if (!isfinite(mx))
        return mx;
    for (k = 0; k < K; k++)
        s += exp(v[k] - mx);
    return mx + log(s);
}

void distill__moe_log_gate(int64_t K, const float *z, double *logg)
{
    int64_t k;
    double lse;
    for (k = 0; k < K; k++)
        logg[k] = z ? (double)z[k] : 0.0;
    lse = distill__logsumexp(logg, K);
    for (k = 0; k < K; k++)
        logg[k] -= lse;
}
