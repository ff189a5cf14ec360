/* The Barlow Twins loss (Zbontar et al., 2021) on two views' embeddings:
 *
 *   a = batch-normalised Za, b = batch-normalised Zb   (per column, biased
 *       variance, eps 1e-5, no affine: BatchNorm1d(affine=False) in training)
 *   C = a^T b / n  (d x d)
 *   L = sum_i (1 - C_ii)^2 + lambda sum_{i != j} C_ij^2
 *
 * Backward: G = dL/dC (G_ii = -2 (1 - C_ii), G_ij = 2 lambda C_ij),
 * dL/da = b G^T / n, dL/db = a G / n, then through each normalisation:
 * dz = (da - mean(da) - a mean(da a)) / sigma, column by column. */
#include <math.h>
#include <string.h>

#include "../core/check.h"
#include "../core/workspace.h"
#include "blas.h"
#include "distill/kernels.h"

#define BN_EPS 1e-5

typedef struct bt_ws {
    float *a, *b, *c, *da, *db;
    double *inv_a, *inv_b; /* 1 / sigma per column */
} bt_ws;

static void layout(distill__arena *ar, int64_t n, int64_t d, bt_ws *w)
{
    w->a = distill__arena_take(ar, n * d, sizeof(float));
    w->b = distill__arena_take(ar, n * d, sizeof(float));
    w->c = distill__arena_take(ar, d * d, sizeof(float));
    w->da = distill__arena_take(ar, n * d, sizeof(float));
    w->db = distill__arena_take(ar, n * d, sizeof(float));
    w->inv_a = distill__arena_take(ar, d, sizeof(double));
    w->inv_b = distill__arena_take(ar, d, sizeof(double));
}

distill_status distill_barlow_twins_workspace_size(int64_t n, int64_t d, size_t *bytes)
{
    distill__arena ar;
    bt_ws w;
    if (!bytes || n < 1 || d < 1)
        return DISTILL_E_INVAL;
    distill__arena_init(&ar, NULL);
    layout(&ar, n, d, &w);
    return distill__arena_total(&ar, bytes);
}

/* out = (z - mean) / sigma per column; inv = 1 / sigma. */
static void normalise(int64_t n, int64_t d, const float *z, int64_t ldz, float *out, double *inv)
{
    int64_t i, j;
    for (j = 0; j < d; j++) {
        double s = 0, ss = 0, mean;
        for (i = 0; i < n; i++)
            s += z[i * ldz + j];
        mean = s / (double)n;
        for (i = 0; i < n; i++)
            ss += (z[i * ldz + j] - mean) * (z[i * ldz + j] - mean);
        inv[j] = 1.0 / sqrt(ss / (double)n + BN_EPS);
        for (i = 0; i < n; i++)
            out[i * d + j] = (float)((z[i * ldz + j] - mean) * inv[j]);
    }
}

/* dz = (da - mean(da) - a mean(da a)) inv, per column. */
static void normalise_backward(int64_t n, int64_t d, const float *a, const float *da,
                               const double *inv, float *dz, int64_t lddz)
{
    int64_t i, j;
    for (j = 0; j < d; j++) {
        double m1 = 0, m2 = 0;
        for (i = 0; i < n; i++)
            m1 += da[i * d + j], m2 += (double)da[i * d + j] * a[i * d + j];
        m1 /= (double)n, m2 /= (double)n;
        for (i = 0; i < n; i++)
            dz[i * lddz + j] = (float)((da[i * d + j] - m1 - a[i * d + j] * m2) * inv[j]);
    }
}

/* The loss from C, and C overwritten by G = dL/dC. */
static double loss_and_dc(int64_t d, float *c, double lambda)
{
    double loss = 0;
    int64_t i, j;
    for (i = 0; i < d; i++)
        for (j = 0; j < d; j++) {
            const double v = c[i * d + j];
            if (i == j) {
                loss += (1 - v) * (1 - v);
                c[i * d + j] = (float)(-2 * (1 - v));
            } else {
                loss += lambda * v * v;
                c[i * d + j] = (float)(2 * lambda * v);
            }
        }
    return loss;
}

distill_status distill_barlow_twins_loss_grad(distill_context *ctx, int64_t n, int64_t d,
                                              const float *za, int64_t ldza, const float *zb,
                                              int64_t ldzb, float lambda, float *loss, float *dza,
                                              int64_t lddza, float *dzb, int64_t lddzb, void *ws,
                                              size_t ws_bytes)
{
    static const char fn[] = "distill_barlow_twins_loss_grad";
    distill__arena ar;
    void *owned = NULL;
    size_t need;
    bt_ws w;
    if (!ctx)
        return DISTILL_E_INVAL;
    if (n < 2 || !loss || !(lambda >= 0))
        return distill__fail(ctx, DISTILL_E_INVAL, "%s: need n >= 2, loss and lambda >= 0", fn);
    DISTILL__TRY(distill__check_matrix(ctx, fn, "za", za, n, d, ldza));
    DISTILL__TRY(distill__check_matrix(ctx, fn, "zb", zb, n, d, ldzb));
    DISTILL__TRY(distill__check_optional(ctx, fn, "dza", dza, n, d, lddza));
    DISTILL__TRY(distill__check_optional(ctx, fn, "dzb", dzb, n, d, lddzb));
    DISTILL__TRY(distill__check_finite(ctx, fn, "za", za, n, d, ldza));
    DISTILL__TRY(distill__check_finite(ctx, fn, "zb", zb, n, d, ldzb));
    DISTILL__TRY(distill_barlow_twins_workspace_size(n, d, &need));
    DISTILL__TRY(distill__ws_acquire(ctx, fn, need, &ws, ws_bytes, &owned));
    distill__arena_init(&ar, ws);
    layout(&ar, n, d, &w);
    normalise(n, d, za, ldza, w.a, w.inv_a);
    normalise(n, d, zb, ldzb, w.b, w.inv_b);
    distill__blis_prepare(ctx);
    distill__sgemm(ctx, DISTILL_TRANS, DISTILL_NO_TRANS, d, d, n, 1.0f / (float)n, w.a, d, w.b, d,
                   0.0f, w.c, d);
    *loss = (float)loss_and_dc(d, w.c, lambda);
    if (dza) { /* dL/da = b G^T / n */
        distill__sgemm(ctx, DISTILL_NO_TRANS, DISTILL_TRANS, n, d, d, 1.0f / (float)n, w.b, d, w.c,
                       d, 0.0f, w.da, d);
        normalise_backward(n, d, w.a, w.da, w.inv_a, dza, lddza);
    }
    if (dzb) { /* dL/db = a G / n */
        distill__sgemm(ctx, DISTILL_NO_TRANS, DISTILL_NO_TRANS, n, d, d, 1.0f / (float)n, w.a, d, w.c,
                       d, 0.0f, w.db, d);
        normalise_backward(n, d, w.b, w.db, w.inv_b, dzb, lddzb);
    }
    distill__ws_release(ctx, owned);
    return DISTILL_OK;
}
