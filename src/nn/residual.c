/* Residual MLP block: y = x + W2 relu(W1 x + b1) + b2, hidden width `units`.
 * Parameters: W1 (h x d), b1 (h), W2 (d x h), b2 (d); the pre-activation
 * W1 x + b1 is cached for backward. */
#include <string.h>

#include "internal.h"

typedef struct res_view {
    const float *w1, *b1, *w2, *b2;
} res_view;

static res_view view(const nn_layer *l, const float *p)
{
    const int64_t d = l->in_dim, h = l->spec.units;
    res_view v;
    v.w1 = p;
    v.b1 = l->spec.bias ? p + h * d : NULL;
    v.w2 = p + h * d + (l->spec.bias ? h : 0);
    v.b2 = l->spec.bias ? v.w2 + d * h : NULL;
    return v;
}

static distill_status res_shape(nn_layer *l)
{
    if (l->spec.units < 1)
        return DISTILL_E_SHAPE;
    l->out_c = l->in_dim, l->out_h = 1, l->out_w = 1;
    return DISTILL_OK;
}

static int64_t res_params(const nn_layer *l)
{
    const int64_t d = l->in_dim, h = l->spec.units;
    return 2 * h * d + (l->spec.bias ? h + d : 0);
}

static int64_t hidden(const nn_layer *l, int64_t n) { return n * l->spec.units; }
static int64_t two_hidden(const nn_layer *l, int64_t n) { return 2 * n * l->spec.units; }

static void res_init(nn_layer *l, float *p, float *buf, distill__rng *r)
{
    const int64_t d = l->in_dim, h = l->spec.units;
    res_view v = view(l, p);
    (void)buf;
    distill__init_weights(&l->spec, h, d, p, (float *)v.b1, r);
    distill__init_weights(&l->spec, d, h, (float *)v.w2, (float *)v.b2, r);
}

static void res_forward(const nn_env *e, const nn_layer *l, const float *p, float *buf,
                        int64_t n, const float *x, float *y, float *cache, float *scratch)
{
    const int64_t d = l->in_dim, h = l->spec.units;
    res_view v = view(l, p);
    float *pre = cache ? cache : scratch + n * h, *r = scratch;
    int64_t i;
    (void)buf;
    distill__dense_fwd(e, n, d, h, v.w1, v.b1, x, pre);
    for (i = 0; i < n * h; i++)
        r[i] = pre[i] > 0.0f ? pre[i] : 0.0f;
    distill__dense_fwd(e, n, h, d, v.w2, v.b2, r, y);
    for (i = 0; i < n * d; i++)
        y[i] += x[i];
}

static void res_backward(const nn_env *e, const nn_layer *l, const float *p, const float *buf,
                         int64_t n, const float *x, const float *y, const float *dy, float *dx,
                         float *dp, const float *cache, float *scratch)
{
    const int64_t d = l->in_dim, h = l->spec.units;
    res_view v = view(l, p), g = {NULL, NULL, NULL, NULL};
    float *r = scratch, *dr = scratch + n * h;
    int64_t i;
    (void)buf, (void)y;
    if (dp)
        g = view(l, dp);
    for (i = 0; i < n * h; i++)
        r[i] = cache[i] > 0.0f ? cache[i] : 0.0f;
    distill__dense_bwd(e, n, h, d, v.w2, r, dy, dr, (float *)g.w2, (float *)g.b2);
    for (i = 0; i < n * h; i++)
        dr[i] = cache[i] > 0.0f ? dr[i] : 0.0f;
    distill__dense_bwd(e, n, d, h, v.w1, x, dr, dx, (float *)g.w1, (float *)g.b1);
    if (dx)
        for (i = 0; i < n * d; i++)
            dx[i] += dy[i];
}

const nn_ops distill__residual_ops = {res_shape, res_params, distill__nn_none, two_hidden, hidden,
                                      res_init, res_forward, res_backward};
