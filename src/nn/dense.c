/* Dense layers: y = x W^T + b, W is out x in (row-major, as PyTorch). */
#include <string.h>

#include "internal.h"

void distill__dense_fwd(const nn_env *e, int64_t n, int64_t in, int64_t out, const float *w,
                        const float *b, const float *x, float *y)
{
    int64_t i, j;
    nn_gemm(e, DISTILL_NO_TRANS, DISTILL_TRANS, n, out, in, 1.0f, x, in, w, in, 0.0f, y, out);
    if (b)
        for (i = 0; i < n; i++)
            for (j = 0; j < out; j++)
                y[i * out + j] += b[j];
}

/* dw += dy^T x, db += column sums of dy, dx = dy W (each optional). */
void distill__dense_bwd(const nn_env *e, int64_t n, int64_t in, int64_t out, const float *w,
                        const float *x, const float *dy, float *dx, float *dw, float *db)
{
    int64_t i, j;
    if (dw)
        nn_gemm(e, DISTILL_TRANS, DISTILL_NO_TRANS, out, in, n, 1.0f, dy, out, x, in, 1.0f, dw, in);
    if (db)
        for (i = 0; i < n; i++)
            for (j = 0; j < out; j++)
                db[j] += dy[i * out + j];
    if (dx)
        nn_gemm(e, DISTILL_NO_TRANS, DISTILL_NO_TRANS, n, in, out, 1.0f, dy, out, w, in, 0.0f, dx, in);
}

static distill_status dense_shape(nn_layer *l)
{
    if (l->spec.units < 1)
        return DISTILL_E_SHAPE;
    l->out_c = l->spec.units, l->out_h = 1, l->out_w = 1;
    return DISTILL_OK;
}

static int64_t dense_params(const nn_layer *l)
{
    return l->out_dim * l->in_dim + (l->spec.bias ? l->out_dim : 0);
}


static void dense_init(nn_layer *l, float *p, float *buf, distill__rng *r)
{
    (void)buf;
    distill__init_weights(&l->spec, l->out_dim, l->in_dim, p,
                          l->spec.bias ? p + l->out_dim * l->in_dim : NULL, r);
}

static void dense_forward(const nn_env *e, const nn_layer *l, const float *p, float *buf,
                          int64_t n, const float *x, float *y, float *cache, float *scratch)
{
    (void)buf, (void)cache, (void)scratch;
    distill__dense_fwd(e, n, l->in_dim, l->out_dim, p,
                       l->spec.bias ? p + l->out_dim * l->in_dim : NULL, x, y);
}

static void dense_backward(const nn_env *e, const nn_layer *l, const float *p, const float *buf,
                           int64_t n, const float *x, const float *y, const float *dy, float *dx,
                           float *dp, const float *cache, float *scratch)
{
    const int64_t nw = l->out_dim * l->in_dim;
    (void)buf, (void)y, (void)cache, (void)scratch;
    distill__dense_bwd(e, n, l->in_dim, l->out_dim, p, x, dy, dx, dp,
                       dp && l->spec.bias ? dp + nw : NULL);
}

const nn_ops distill__dense_ops = {dense_shape, dense_params, distill__nn_none, distill__nn_none_n, distill__nn_none_n,
                                   dense_init, dense_forward, dense_backward};

/* ---- flatten: a shape change only ---------------------------------------- */

static distill_status flatten_shape(nn_layer *l)
{
    l->out_c = l->in_dim, l->out_h = 1, l->out_w = 1;
    return DISTILL_OK;
}

static void flatten_forward(const nn_env *e, const nn_layer *l, const float *p, float *buf,
                            int64_t n, const float *x, float *y, float *cache, float *scratch)
{
    (void)e, (void)p, (void)buf, (void)cache, (void)scratch;
    memcpy(y, x, sizeof(float) * (size_t)(n * l->in_dim));
}

static void flatten_backward(const nn_env *e, const nn_layer *l, const float *p,
                             const float *buf, int64_t n, const float *x, const float *y,
                             const float *dy, float *dx, float *dp, const float *cache,
                             float *scratch)
{
    (void)e, (void)p, (void)buf, (void)x, (void)y, (void)dp, (void)cache, (void)scratch;
    if (dx)
        memcpy(dx, dy, sizeof(float) * (size_t)(n * l->in_dim));
}

const nn_ops distill__flatten_ops = {flatten_shape, distill__nn_none, distill__nn_none, distill__nn_none_n, distill__nn_none_n,
                                     distill__nn_no_init, flatten_forward, flatten_backward};
