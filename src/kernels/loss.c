/* Losses on rows of outputs or logits: MSE, softmax, cross-entropy (hard
 * and soft targets, temperature), KL, and the fused distillation loss.
 * Softmax rows go through log-sum-exp in double, so no exp overflows. */
#include <math.h>

#include "../core/check.h"
#include "../core/workspace.h"
#include "distill/kernels.h"

/* log sum_j exp(z_j * inv_t) */
static double row_lse(const float *z, int64_t c, double inv_t)
{
    double mx = -HUGE_VAL, s = 0.0;
    int64_t j;
    for (j = 0; j < c; j++)
        if (z[j] * inv_t > mx)
            mx = z[j] * inv_t;
    for (j = 0; j < c; j++)
        s += exp(z[j] * inv_t - mx);
    return mx + log(s);
}

static distill_status check_temperature(distill_context *ctx, const char *fn, const char *name,
                                        float t)
{
    if (!(t > 0.0f) || !isfinite(t))
        return distill__fail(ctx, DISTILL_E_INVAL, "%s: %s must be finite and > 0, got %g", fn,
                             name, (double)t);
    return DISTILL_OK;
}

static distill_status check_logits(distill_context *ctx, const char *fn, int64_t n, int64_t c,
                                   const float *z, int64_t ldz, const float *dz, int64_t lddz)
{
    DISTILL__TRY(distill__check_matrix(ctx, fn, "Z", z, n, c, ldz));
    DISTILL__TRY(distill__check_optional(ctx, fn, "dZ", dz, n, c, lddz));
    return distill__check_finite(ctx, fn, "Z", z, n, c, ldz);
}

/* Soft targets: finite and non-negative. */
static distill_status check_targets(distill_context *ctx, const char *fn, const char *name,
                                    int64_t n, int64_t c, const float *t, int64_t ldt)
{
    int64_t i, j;
    DISTILL__TRY(distill__check_matrix(ctx, fn, name, t, n, c, ldt));
    DISTILL__TRY(distill__check_finite(ctx, fn, name, t, n, c, ldt));
    for (i = 0; i < n; i++)
        for (j = 0; j < c; j++)
            if (t[i * ldt + j] < 0.0f)
                return distill__fail(ctx, DISTILL_E_INVAL, "%s: %s[%lld, %lld] = %g is negative", fn,
                                     name, (long long)i, (long long)j, (double)t[i * ldt + j]);
    return DISTILL_OK;
}

static distill_status check_labels(distill_context *ctx, const char *fn, int64_t n, int64_t c,
                                   const int32_t *labels)
{
    int64_t i;
    for (i = 0; i < n; i++)
        if (labels[i] >= c)
            return distill__fail(ctx, DISTILL_E_INVAL, "%s: labels[%lld] = %d is not below c = %lld",
                                 fn, (long long)i, (int)labels[i], (long long)c);
    return DISTILL_OK;
}

distill_status distill_mse_loss_grad(distill_context *ctx, int64_t n, int64_t k, const float *p,
                                     int64_t ldp, const float *y, int64_t ldy, float *loss,
                                     float *g, int64_t ldg)
{
    static const char fn[] = "distill_mse_loss_grad";
    double sum = 0.0, scale;
    int64_t i, j;
    if (!ctx)
        return DISTILL_E_INVAL;
    if (!loss)
        return distill__fail(ctx, DISTILL_E_INVAL, "%s: loss is NULL", fn);
    DISTILL__TRY(distill__check_matrix(ctx, fn, "P", p, n, k, ldp));
    DISTILL__TRY(distill__check_matrix(ctx, fn, "Y", y, n, k, ldy));
    DISTILL__TRY(distill__check_optional(ctx, fn, "G", g, n, k, ldg));
    DISTILL__TRY(distill__check_finite(ctx, fn, "P", p, n, k, ldp));
    DISTILL__TRY(distill__check_finite(ctx, fn, "Y", y, n, k, ldy));
    scale = 2.0 / ((double)n * (double)k);
    for (i = 0; i < n; i++)
        for (j = 0; j < k; j++) {
            double r = (double)p[i * ldp + j] - y[i * ldy + j];
            sum += r * r;
            if (g)
                g[i * ldg + j] = (float)(scale * r);
        }
    *loss = (float)(sum / ((double)n * (double)k));
    if (!isfinite(*loss))
        return distill__fail(ctx, DISTILL_E_NUMERIC, "%s: the loss overflowed", fn);
    return DISTILL_OK;
}

distill_status distill_softmax(distill_context *ctx, int64_t n, int64_t c, const float *z,
                               int64_t ldz, float temperature, float *out, int64_t ldout)
{
    static const char fn[] = "distill_softmax";
    const double inv_t = 1.0 / temperature;
    int64_t i, j;
    if (!ctx)
        return DISTILL_E_INVAL;
    DISTILL__TRY(check_temperature(ctx, fn, "temperature", temperature));
    DISTILL__TRY(check_logits(ctx, fn, n, c, z, ldz, NULL, 0));
    DISTILL__TRY(distill__check_matrix(ctx, fn, "out", out, n, c, ldout));
    for (i = 0; i < n; i++) {
        const double lse = row_lse(z + i * ldz, c, inv_t);
        for (j = 0; j < c; j++)
            out[i * ldout + j] = (float)exp(z[i * ldz + j] * inv_t - lse);
    }
    return DISTILL_OK;
}

distill_status distill_xent_hard(distill_context *ctx, int64_t n, int64_t c, const float *z,
                                 int64_t ldz, const int32_t *labels, float temperature,
                                 float *loss, float *dz, int64_t lddz)
{
    static const char fn[] = "distill_xent_hard";
    const double inv_t = 1.0 / temperature;
    double sum = 0.0;
    int64_t i, j;
    if (!ctx)
        return DISTILL_E_INVAL;
    if (!loss || !labels)
        return distill__fail(ctx, DISTILL_E_INVAL, "%s: loss and labels must not be NULL", fn);
    DISTILL__TRY(check_temperature(ctx, fn, "temperature", temperature));
    DISTILL__TRY(check_logits(ctx, fn, n, c, z, ldz, dz, lddz));
    DISTILL__TRY(check_labels(ctx, fn, n, c, labels));
    for (i = 0; i < n; i++) {
        const float *zi = z + i * ldz;
        const int32_t y = labels[i];
        const double lse = y >= 0 || dz ? row_lse(zi, c, inv_t) : 0.0;
        if (y >= 0)
            sum += lse - zi[y] * inv_t;
        if (!dz)
            continue;
        for (j = 0; j < c; j++) {
            double q = y >= 0 ? exp(zi[j] * inv_t - lse) - (j == y) : 0.0;
            dz[i * lddz + j] = (float)(q * inv_t / (double)n);
        }
    }
    *loss = (float)(sum / (double)n);
    return DISTILL_OK;
}

/* Soft cross-entropy, or KL when `kl` (the two differ by the entropy of t,
 * which does not depend on z, so the gradients are the same). */
static distill_status soft_loss(distill_context *ctx, const char *fn, int kl, int64_t n,
                                int64_t c, const float *z, int64_t ldz, const float *t,
                                int64_t ldt, float temperature, float *loss, float *dz,
                                int64_t lddz)
{
    const double inv_t = 1.0 / temperature;
    double sum = 0.0;
    int64_t i, j;
    if (!ctx)
        return DISTILL_E_INVAL;
    if (!loss)
        return distill__fail(ctx, DISTILL_E_INVAL, "%s: loss is NULL", fn);
    DISTILL__TRY(check_temperature(ctx, fn, "temperature", temperature));
    DISTILL__TRY(check_logits(ctx, fn, n, c, z, ldz, dz, lddz));
    DISTILL__TRY(check_targets(ctx, fn, "T", n, c, t, ldt));
    for (i = 0; i < n; i++) {
        const float *zi = z + i * ldz, *ti = t + i * ldt;
        const double lse = row_lse(zi, c, inv_t);
        double tsum = 0.0;
        for (j = 0; j < c; j++) {
            const double logq = zi[j] * inv_t - lse;
            tsum += ti[j];
            sum -= ti[j] * logq;
            if (kl && ti[j] > 0.0f)
                sum += ti[j] * log((double)ti[j]);
        }
        if (dz)
            for (j = 0; j < c; j++) {
                const double q = exp(zi[j] * inv_t - lse);
                dz[i * lddz + j] = (float)((q * tsum - ti[j]) * inv_t / (double)n);
            }
    }
    *loss = (float)(sum / (double)n);
    return DISTILL_OK;
}

distill_status distill_xent_soft(distill_context *ctx, int64_t n, int64_t c, const float *z,
                                 int64_t ldz, const float *t, int64_t ldt, float temperature,
                                 float *loss, float *dz, int64_t lddz)
{
    return soft_loss(ctx, "distill_xent_soft", 0, n, c, z, ldz, t, ldt, temperature, loss, dz,
                     lddz);
}

distill_status distill_kl_div(distill_context *ctx, int64_t n, int64_t c, const float *z,
                              int64_t ldz, const float *t, int64_t ldt, float temperature,
                              float *loss, float *dz, int64_t lddz)
{
    return soft_loss(ctx, "distill_kl_div", 1, n, c, z, ldz, t, ldt, temperature, loss, dz,
                     lddz);
}

static distill_status check_lambda(distill_context *ctx, const char *fn, float lambda)
{
    if (!(lambda >= 0.0f && lambda <= 1.0f))
        return distill__fail(ctx, DISTILL_E_INVAL, "%s: lambda must be in [0, 1], got %g", fn,
                             (double)lambda);
    return DISTILL_OK;
}

static distill_status kd_check(distill_context *ctx, const char *fn, int64_t n, int64_t c,
                               const float *z, int64_t ldz, const int32_t *labels,
                               const float *s, int64_t lds, float lambda, float student_t,
                               float soft_scale, const float *loss, const float *dz,
                               int64_t lddz)
{
    if (!loss)
        return distill__fail(ctx, DISTILL_E_INVAL, "%s: loss is NULL", fn);
    DISTILL__TRY(check_lambda(ctx, fn, lambda));
    if (!(soft_scale >= 0.0f) || !isfinite(soft_scale))
        return distill__fail(ctx, DISTILL_E_INVAL, "%s: soft_scale must be finite and >= 0", fn);
    DISTILL__TRY(check_temperature(ctx, fn, "student_t", student_t));
    DISTILL__TRY(check_logits(ctx, fn, n, c, z, ldz, dz, lddz));
    if (labels)
        DISTILL__TRY(check_labels(ctx, fn, n, c, labels));
    if (s)
        DISTILL__TRY(check_targets(ctx, fn, "S", n, c, s, lds));
    return DISTILL_OK;
}

/* One row of the fused distillation loss: the softmax numerators are taken
 * once (and shared when the student's temperature is 1) in float after the
 * row's maximum is subtracted, so they lie in (0, 1]; sums and logs in
 * double. */
enum { KD_ROW_MAX = 256 };

typedef struct kd_weights {
    double hard, soft, inv_t;
} kd_weights;

static double kd_row(const float *z, int64_t c, int32_t y, const float *s, const kd_weights *w,
                     double inv_n, float *dz, float *e1, float *et)
{
    float mx = z[0];
    double s1 = 0.0, st = 0.0, ssum = 0.0, loss = 0.0, lse1, lset;
    int64_t j;
    for (j = 1; j < c; j++)
        mx = z[j] > mx ? z[j] : mx;
    for (j = 0; j < c; j++)
        s1 += e1[j] = expf(z[j] - mx);
    lse1 = mx + log(s1);
    if (y >= 0)
        loss += w->hard * (lse1 - z[y]);
    if (s) {
        if (w->inv_t == 1.0)
            et = e1, st = s1;
        else
            for (j = 0; j < c; j++)
                st += et[j] = expf((float)((z[j] - mx) * w->inv_t));
        lset = mx * w->inv_t + log(st);
        for (j = 0; j < c; j++) {
            ssum += s[j];
            loss -= w->soft * s[j] * (z[j] * w->inv_t - lset);
        }
    }
    if (dz) {
        const double hp = w->hard / s1 * inv_n, hy = w->hard * inv_n;
        const double sq = s ? w->soft * w->inv_t * ssum / st * inv_n : 0.0, ss = w->soft * w->inv_t * inv_n;
        for (j = 0; j < c; j++)
            dz[j] = (float)((y >= 0 ? hp * e1[j] : 0.0) + (s ? sq * et[j] - ss * s[j] : 0.0));
        if (y >= 0)
            dz[y] = (float)((double)dz[y] - hy);
    }
    return loss;
}

/* Two rows of softmax numerators. */
static void kd_layout(distill__arena *ar, int64_t c, float **rows)
{
    *rows = distill__arena_take(ar, 2 * c, sizeof(float));
}

distill_status distill_kd_loss_grad_workspace_size(int64_t c, size_t *bytes)
{
    distill__arena ar;
    float *rows;
    if (c < 1 || c > ((int64_t)1 << 40) || !bytes)
        return DISTILL_E_INVAL;
    distill__arena_init(&ar, NULL);
    kd_layout(&ar, c, &rows);
    return distill__arena_total(&ar, bytes);
}

distill_status distill_kd_loss_grad(distill_context *ctx, int64_t n, int64_t c, const float *z,
                                    int64_t ldz, const int32_t *labels, const float *s,
                                    int64_t lds, const uint8_t *soft_mask, float lambda,
                                    float student_t, float soft_scale, float *loss, float *dz,
                                    int64_t lddz)
{
    return distill_kd_loss_grad_v2(ctx, n, c, z, ldz, labels, s, lds, soft_mask, lambda, student_t,
                                   soft_scale, loss, dz, lddz, NULL, 0);
}

distill_status distill_kd_loss_grad_v2(distill_context *ctx, int64_t n, int64_t c, const float *z,
                                       int64_t ldz, const int32_t *labels, const float *s,
                                       int64_t lds, const uint8_t *soft_mask, float lambda,
                                       float student_t, float soft_scale, float *loss, float *dz,
                                       int64_t lddz, void *ws, size_t ws_bytes)
{
    static const char fn[] = "distill_kd_loss_grad";
    float stack[2 * KD_ROW_MAX], *buf = stack;
    void *owned = NULL;
    kd_weights w;
    double sum = 0.0;
    int64_t i;
    if (!ctx)
        return DISTILL_E_INVAL;
    DISTILL__TRY(kd_check(ctx, fn, n, c, z, ldz, labels, s, lds, lambda, student_t, soft_scale,
                          loss, dz, lddz));
    if (ws || c > KD_ROW_MAX) {
        distill__arena ar;
        size_t need;
        DISTILL__TRY(distill_kd_loss_grad_workspace_size(c, &need));
        DISTILL__TRY(distill__ws_acquire(ctx, fn, need, &ws, ws_bytes, &owned));
        distill__arena_init(&ar, ws);
        kd_layout(&ar, c, &buf);
    }
    w.hard = 1.0 - lambda, w.soft = (double)lambda * soft_scale, w.inv_t = 1.0 / student_t;
    for (i = 0; i < n; i++) {
        const float *si = s && (!soft_mask || soft_mask[i]) ? s + i * lds : NULL;
        sum += kd_row(z + i * ldz, c, labels ? labels[i] : -1, si, &w, 1.0 / (double)n,
                      dz ? dz + i * lddz : NULL, buf, buf + c);
    }
    distill__ws_release(ctx, owned);
    *loss = (float)(sum / (double)n);
    if (!isfinite(*loss))
        return distill__fail(ctx, DISTILL_E_NUMERIC, "%s: the loss overflowed (temperature %g, soft scale %g)",
                             fn, (double)student_t, (double)soft_scale);
    return DISTILL_OK;
}

/* (p - y)^2 over the finite y; NaN marks a missing target. */
static double masked_sq(const float *p, const float *y, int64_t k, double w, double scale,
                        float *g)
{
    double sum = 0.0;
    int64_t j;
    for (j = 0; j < k; j++) {
        const double r = isnan(y[j]) ? 0.0 : (double)p[j] - y[j];
        sum += r * r;
        if (g)
            g[j] += (float)(w * scale * r);
    }
    return w * sum;
}

distill_status distill_kd_mse_loss_grad(distill_context *ctx, int64_t n, int64_t k, const float *p,
                                        int64_t ldp, const float *y, int64_t ldy, const float *t,
                                        int64_t ldt, const uint8_t *soft_mask, float lambda,
                                        float *loss, float *g, int64_t ldg)
{
    static const char fn[] = "distill_kd_mse_loss_grad";
    const double scale = 2.0 / ((double)n * (double)k);
    double sum = 0.0;
    int64_t i, j;
    if (!ctx)
        return DISTILL_E_INVAL;
    if (!loss)
        return distill__fail(ctx, DISTILL_E_INVAL, "%s: loss is NULL", fn);
    DISTILL__TRY(check_lambda(ctx, fn, lambda));
    DISTILL__TRY(distill__check_matrix(ctx, fn, "P", p, n, k, ldp));
    DISTILL__TRY(distill__check_optional(ctx, fn, "G", g, n, k, ldg));
    DISTILL__TRY(distill__check_finite(ctx, fn, "P", p, n, k, ldp));
    if (y)
        DISTILL__TRY(distill__check_matrix(ctx, fn, "Y", y, n, k, ldy));
    if (t) {
        DISTILL__TRY(distill__check_matrix(ctx, fn, "T", t, n, k, ldt));
        for (i = 0; i < n; i++)
            if (!soft_mask || soft_mask[i])
                DISTILL__TRY(distill__check_finite(ctx, fn, "T", t + i * ldt, 1, k, ldt));
    }
    for (i = 0; i < n; i++) {
        float *gi = g ? g + i * ldg : NULL;
        if (gi)
            for (j = 0; j < k; j++)
                gi[j] = 0.0f;
        if (y)
            sum += masked_sq(p + i * ldp, y + i * ldy, k, 1.0 - lambda, scale, gi);
        if (t && (!soft_mask || soft_mask[i]))
            sum += masked_sq(p + i * ldp, t + i * ldt, k, lambda, scale, gi);
    }
    *loss = (float)(sum / ((double)n * (double)k));
    if (!isfinite(*loss))
        return distill__fail(ctx, DISTILL_E_NUMERIC, "%s: the loss overflowed", fn);
    return DISTILL_OK;
}
