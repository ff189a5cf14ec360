/* Behaviour-cloning losses.  For the softmax losses the gradient goes
 * through the softmax Jacobian J = diag(p) - p p^T: with r = dL/dp,
 * dL/dz_i = p_i (r_i - sum_j p_j r_j). */
#include <math.h>

#include "bc.h"

static void softmax_row(const float *z, int64_t k, double *p)
{
    double zmax = z[0], total = 0.0;
    int64_t j;
    for (j = 1; j < k; j++)
        zmax = z[j] > zmax ? z[j] : zmax;
    for (j = 0; j < k; j++)
        total += p[j] = exp((double)z[j] - zmax);
    for (j = 0; j < k; j++)
        p[j] /= total;
}

/* One discrete row: its loss, and dL/dz into dz (if given). */
static double discrete_row(int32_t kind, int64_t k, const float *z, int64_t action, double scale, double *p,
                           double *r, float *dz)
{
    double loss = 0.0, pr = 0.0;
    int64_t j;
    softmax_row(z, k, p);
    if (kind == DISTILL_BC_XENT) {
        loss = -log(p[action] > 1e-300 ? p[action] : 1e-300) * scale;
        for (j = 0; dz && j < k; j++)
            dz[j] = (float)((p[j] - (j == action)) * scale);
        return loss;
    }
    for (j = 0; j < k; j++) {
        const double d = p[j] - (j == action);
        loss += (kind == DISTILL_BC_MAE ? fabs(d) : d * d) * scale;
        r[j] = (kind == DISTILL_BC_MAE ? (d > 0) - (d < 0) : 2.0 * d) * scale;
        pr += p[j] * r[j];
    }
    for (j = 0; dz && j < k; j++)
        dz[j] = (float)(p[j] * (r[j] - pr));
    return loss;
}

void distill__bc_loss_grad(int32_t kind, int discrete, int64_t n, int64_t k, const float *z, int64_t ldz,
                           const float *a, int64_t lda, double *loss, float *dz, int64_t lddz)
{
    double total = 0.0, p[256], r[256];
    int64_t i, j;
    for (i = 0; i < n; i++) {
        const float *zi = z + i * ldz, *ai = a + i * lda;
        float *gi = dz ? dz + i * lddz : NULL;
        if (discrete) {
            const double scale = kind == DISTILL_BC_XENT ? 1.0 / (double)n : 1.0 / ((double)n * (double)k);
            total += discrete_row(kind, k, zi, (int64_t)ai[0], scale, p, r, gi);
            continue;
        }
        for (j = 0; j < k; j++) {
            const double d = (double)zi[j] - ai[j], scale = 1.0 / ((double)n * (double)k);
            total += d * d * scale;
            if (gi)
                gi[j] = (float)(2.0 * d * scale);
        }
    }
    if (loss)
        *loss = total;
}

distill_status distill__bc_check_actions(distill_context *ctx, const char *fn, int64_t n, const float *a,
                                         int64_t lda, int64_t k)
{
    int64_t i;
    for (i = 0; i < n; i++) {
        const float v = a[i * lda];
        if (!(v >= 0.0f && v < (float)k) || v != floorf(v))
            return distill__fail(ctx, DISTILL_E_INVAL, "%s: row %lld has action %g, not one of 0 .. %lld", fn,
                                 (long long)i, (double)v, (long long)(k - 1));
    }
    return DISTILL_OK;
}
