/* The input gradient of a gradient-matching loss, d/dx <dL/dtheta, v>, by
 * central differences in theta along v (mixed partials commute):
 *     (dL/dx (theta + eps v) - dL/dx (theta - eps v)) / (2 eps).
 * Two forward/backward pairs; parameters and buffers are restored exactly. */
#include <math.h>
#include <string.h>

#include "../core/check.h"
#include "internal.h"

static double max_abs(const float *x, int64_t n)
{
    double m = 0.0;
    int64_t i;
    for (i = 0; i < n; i++)
        m = fabs((double)x[i]) > m ? fabs((double)x[i]) : m;
    return m;
}

/* dL/dx at theta0 + step v, into g (n x din). */
static distill_status input_grad_at(distill_model *m, const float *theta0, const float *v,
                                    double step, int mode, int64_t n, const float *x,
                                    int64_t ldx, distill_loss_grad_fn loss_grad, void *user,
                                    float *y, float *dy, float *g)
{
    const int64_t np = m->n_params, dout = distill_model_output_dim(m);
    int64_t i;
    int rc;
    for (i = 0; i < np; i++)
        m->params[i] = (float)(theta0[i] + step * v[i]);
    DISTILL__TRY(distill_model_forward(m, mode, n, x, ldx, y, dout));
    if ((rc = loss_grad(user, n, y, dout, dy, dout)) != 0)
        return distill__fail(m->ctx, DISTILL_E_BACKEND,
                             "distill_model_mixed_grad: the loss callback failed (returned %d)", rc);
    return distill_model_backward(m, dy, dout, g, distill_model_input_dim(m), 0);
}

distill_status distill_model_mixed_grad(distill_model *m, int mode, int64_t n, const float *x,
                                        int64_t ldx, distill_loss_grad_fn loss_grad, void *user,
                                        const float *v, float eps, float *dx, int64_t lddx)
{
    static const char fn[] = "distill_model_mixed_grad";
    int64_t din, dout, np, i, j;
    float *theta0, *buf0, *y, *dy, *gp, *gm;
    double step;
    distill_status st;
    if (!m)
        return DISTILL_E_INVAL;
    din = distill_model_input_dim(m), dout = distill_model_output_dim(m), np = m->n_params;
    if (!loss_grad || !v)
        return distill__fail(m->ctx, DISTILL_E_INVAL, "%s: loss_grad and v are required", fn);
    if (!(eps >= 0.0f) || !isfinite(eps))
        return distill__fail(m->ctx, DISTILL_E_INVAL, "%s: eps must be finite and >= 0", fn);
    DISTILL__TRY(distill__check_matrix(m->ctx, fn, "dx", dx, n, din, lddx));
    DISTILL__TRY(distill__check_finite(m->ctx, fn, "v", v, 1, np, np));
    /* a step of ~1e-2 of the parameters' scale balances truncation against
     * float rounding */
    step = eps > 0.0f ? eps : 1e-2 * (max_abs(m->params, np) + 1e-3) / (max_abs(v, np) + 1e-30);
    theta0 = distill__alloc(m->ctx, sizeof(float) * (size_t)(np + m->n_buffers + 1));
    y = distill__alloc(m->ctx, sizeof(float) * (size_t)(2 * n * dout + 2 * n * din));
    if (!theta0 || !y) {
        distill__free(m->ctx, theta0), distill__free(m->ctx, y);
        return distill__fail(m->ctx, DISTILL_E_NOMEM, "%s: out of memory", fn);
    }
    buf0 = theta0 + np;
    dy = y + n * dout, gp = dy + n * dout, gm = gp + n * din;
    memcpy(theta0, m->params, sizeof(float) * (size_t)np);
    memcpy(buf0, m->buffers, sizeof(float) * (size_t)m->n_buffers);
    st = input_grad_at(m, theta0, v, step, mode, n, x, ldx, loss_grad, user, y, dy, gp);
    memcpy(m->buffers, buf0, sizeof(float) * (size_t)m->n_buffers);
    if (st == DISTILL_OK)
        st = input_grad_at(m, theta0, v, -step, mode, n, x, ldx, loss_grad, user, y, dy, gm);
    memcpy(m->params, theta0, sizeof(float) * (size_t)np);
    memcpy(m->buffers, buf0, sizeof(float) * (size_t)m->n_buffers);
    m->has_forward = 0;
    if (st == DISTILL_OK)
        for (i = 0; i < n; i++)
            for (j = 0; j < din; j++)
                dx[i * lddx + j] = (float)((gp[i * din + j] - gm[i * din + j]) / (2.0 * step));
    distill__free(m->ctx, theta0);
    distill__free(m->ctx, y);
    return st;
}
