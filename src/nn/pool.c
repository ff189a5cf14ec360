/* Average and max pooling over k x k windows with a stride, no padding
 * (output size floor((H - k) / s) + 1).  Max pooling's backward finds the
 * arg-max again from the input (first maximum wins, as in forward). */
#include <string.h>

#include "internal.h"

static int64_t stride_of(const nn_layer *l)
{
    return l->spec.stride > 0 ? l->spec.stride : l->spec.kernel;
}

static distill_status pool_shape(nn_layer *l)
{
    const int64_t k = l->spec.kernel, s = stride_of(l);
    if (k < 1 || k > l->in_h || k > l->in_w)
        return DISTILL_E_SHAPE;
    l->out_c = l->in_c;
    l->out_h = (l->in_h - k) / s + 1;
    l->out_w = (l->in_w - k) / s + 1;
    return DISTILL_OK;
}


/* Offset (within a plane) of the window's maximum. */
static int64_t argmax(const float *plane, int64_t w, int64_t y0, int64_t x0, int64_t k)
{
    int64_t best = y0 * w + x0, ky, kx;
    for (ky = 0; ky < k; ky++)
        for (kx = 0; kx < k; kx++) {
            const int64_t o = (y0 + ky) * w + x0 + kx;
            if (plane[o] > plane[best])
                best = o;
        }
    return best;
}

/* Planes [lo, hi) (a plane is one channel of one sample). */
/* The window geometry both passes use. */
typedef struct pool_geom {
    int64_t k, s, ih, iw, oh, ow;
    int is_max;
    float inv; /* 1 / window size */
} pool_geom;

static pool_geom geom_of(const nn_layer *l)
{
    pool_geom g;
    g.k = l->spec.kernel, g.s = stride_of(l), g.ih = l->in_h, g.iw = l->in_w;
    g.oh = l->out_h, g.ow = l->out_w;
    g.is_max = l->spec.kind == DISTILL_LAYER_MAXPOOL;
    g.inv = 1.0f / (float)(g.k * g.k);
    return g;
}

static void pool_planes(const nn_layer *l, const float *x, float *y, int64_t lo, int64_t hi)
{
    const pool_geom g = geom_of(l);
    const int64_t k = g.k, s = g.s, ih = g.ih, iw = g.iw, oh = g.oh, ow = g.ow;
    const int is_max = g.is_max;
    const float inv = g.inv;
    int64_t pl, oy, ox, ky, kx;
    for (pl = lo; pl < hi; pl++) {
        const float *in = x + pl * ih * iw;
        float *out = y + pl * oh * ow;
        if (!is_max && k == 2 && s == 2) { /* the common 2x2 average */
            for (oy = 0; oy < oh; oy++) {
                const float *r0 = in + 2 * oy * iw, *r1 = r0 + iw;
                for (ox = 0; ox < ow; ox++)
                    out[oy * ow + ox] =
                        0.25f * ((r0[2 * ox] + r0[2 * ox + 1]) + (r1[2 * ox] + r1[2 * ox + 1]));
            }
            continue;
        }
        for (oy = 0; oy < oh; oy++)
            for (ox = 0; ox < ow; ox++) {
                float acc = 0.0f;
                if (is_max) {
                    acc = in[argmax(in, iw, oy * s, ox * s, k)];
                } else {
                    for (ky = 0; ky < k; ky++)
                        for (kx = 0; kx < k; kx++)
                            acc += in[(oy * s + ky) * iw + ox * s + kx];
                    acc *= inv;
                }
                out[oy * ow + ox] = acc;
            }
    }
}

static void pool_grad_planes(const nn_layer *l, const float *x, const float *dy, float *dx,
                             int64_t lo, int64_t hi)
{
    const pool_geom gm = geom_of(l);
    const int64_t k = gm.k, s = gm.s, ih = gm.ih, iw = gm.iw, oh = gm.oh, ow = gm.ow;
    const int is_max = gm.is_max;
    const float inv = gm.inv;
    int64_t pl, oy, ox, ky, kx;
    for (pl = lo; pl < hi; pl++) {
        const float *in = x + pl * ih * iw, *g = dy + pl * oh * ow;
        float *d = dx + pl * ih * iw;
        memset(d, 0, sizeof(float) * (size_t)(ih * iw));
        if (!is_max && k == 2 && s == 2) {
            for (oy = 0; oy < oh; oy++) {
                float *r0 = d + 2 * oy * iw, *r1 = r0 + iw;
                for (ox = 0; ox < ow; ox++) {
                    const float go = 0.25f * g[oy * ow + ox];
                    r0[2 * ox] = r0[2 * ox + 1] = r1[2 * ox] = r1[2 * ox + 1] = go;
                }
            }
            continue;
        }
        for (oy = 0; oy < oh; oy++)
            for (ox = 0; ox < ow; ox++) {
                const float go = g[oy * ow + ox];
                if (is_max) {
                    d[argmax(in, iw, oy * s, ox * s, k)] += go;
                } else {
                    for (ky = 0; ky < k; ky++)
                        for (kx = 0; kx < k; kx++)
                            d[(oy * s + ky) * iw + ox * s + kx] += go * inv;
                }
            }
    }
}

static void pool_forward(const nn_env *e, const nn_layer *l, const float *p, float *buf,
                         int64_t n, const float *x, float *y, float *cache, float *scratch)
{
    (void)p, (void)buf, (void)cache, (void)scratch;
    DISTILL__SPLIT(nn_threads(e), n * l->in_c, lo, hi, pool_planes(l, x, y, lo, hi));
}

static void pool_backward(const nn_env *e, const nn_layer *l, const float *p, const float *buf,
                          int64_t n, const float *x, const float *y, const float *dy, float *dx,
                          float *dp, const float *cache, float *scratch)
{
    (void)p, (void)buf, (void)y, (void)dp, (void)cache, (void)scratch;
    if (dx)
        DISTILL__SPLIT(nn_threads(e), n * l->in_c, lo, hi, pool_grad_planes(l, x, dy, dx, lo, hi));
}

/* ---- ReLU followed by 2x2 average pooling, fused --------------------------
 * One pass instead of two over the largest activations of a conv stack: the
 * ReLU output is never written, and backward goes straight from the pooled
 * gradient to the ReLU input's.  The model uses it for any RELU layer
 * directly followed by a 2x2/stride-2 AVGPOOL (same arithmetic, exactly). */

int distill__fusable_relu_pool(const nn_layer *relu, const nn_layer *pool)
{
    return relu->spec.kind == DISTILL_LAYER_RELU && pool->spec.kind == DISTILL_LAYER_AVGPOOL &&
           pool->spec.kernel == 2 && stride_of(pool) == 2;
}

/* Planes [lo, hi) of x mapped by v = a x + b (batch norm in eval mode; 1, 0
 * is x itself, bit for bit, after the ReLU), then ReLU and 2x2 pooling: the
 * portable loops, which relu_pool_x86.c's AVX2 ones match bit for bit. */
void distill__affine_relu_pool_planes_c(const nn_layer *l, float a, float b, const float *x, float *y,
                                        int64_t lo, int64_t hi)
{
    const int64_t iw = l->in_w, oh = l->out_h, ow = l->out_w, plane = l->in_h * iw;
    int64_t pl, oy, ox;
    for (pl = lo; pl < hi; pl++)
        for (oy = 0; oy < oh; oy++) {
            const float *r0 = x + pl * plane + 2 * oy * iw, *r1 = r0 + iw;
            float *out = y + pl * oh * ow + oy * ow;
            for (ox = 0; ox < ow; ox++) {
                const float v0 = a * r0[2 * ox] + b, v1 = a * r0[2 * ox + 1] + b;
                const float v2 = a * r1[2 * ox] + b, v3 = a * r1[2 * ox + 1] + b;
                const float p0 = v0 > 0.0f ? v0 : 0.0f, p1 = v1 > 0.0f ? v1 : 0.0f;
                const float p2 = v2 > 0.0f ? v2 : 0.0f, p3 = v3 > 0.0f ? v3 : 0.0f;
                out[ox] = 0.25f * ((p0 + p1) + (p2 + p3));
            }
        }
}

/* The gradient of planes [lo, hi) of x through v = a x + b, ReLU and the
 * 2x2 pool: dy is the pool's, dx the affine's output's (v's).  v is
 * recomputed as the forward computed it, so its sign is the same bits. */
void distill__affine_relu_pool_grad_planes_c(const nn_layer *l, float a, float b, const float *x,
                                             const float *dy, float *dx, int64_t lo, int64_t hi)
{
    const int64_t iw = l->in_w, oh = l->out_h, ow = l->out_w, plane = l->in_h * iw;
    int64_t pl, oy, ox;
    for (pl = lo; pl < hi; pl++) {
        float *d = dx + pl * plane;
        const float *xp = x + pl * plane, *g = dy + pl * oh * ow;
        memset(d, 0, sizeof(float) * (size_t)plane);
        for (oy = 0; oy < oh; oy++) {
            const int64_t r0 = 2 * oy * iw, r1 = r0 + iw;
            for (ox = 0; ox < ow; ox++) {
                const float go = 0.25f * g[oy * ow + ox];
                const int64_t c0 = 2 * ox, c1 = c0 + 1;
                /* stored as floats first, as forward's were */
                const float v0 = a * xp[r0 + c0] + b, v1 = a * xp[r0 + c1] + b;
                const float v2 = a * xp[r1 + c0] + b, v3 = a * xp[r1 + c1] + b;
                d[r0 + c0] = v0 > 0.0f ? go : 0.0f;
                d[r0 + c1] = v1 > 0.0f ? go : 0.0f;
                d[r1 + c0] = v2 > 0.0f ? go : 0.0f;
                d[r1 + c1] = v3 > 0.0f ? go : 0.0f;
            }
        }
    }
}

void distill__affine_relu_pool_planes(const nn_layer *l, float a, float b, const float *x, float *y,
                                      int64_t lo, int64_t hi)
{
    if (!distill__affine_relu_pool_planes_avx2(l, a, b, x, y, lo, hi))
        distill__affine_relu_pool_planes_c(l, a, b, x, y, lo, hi);
}

void distill__affine_relu_pool_grad_planes(const nn_layer *l, float a, float b, const float *x,
                                           const float *dy, float *dx, int64_t lo, int64_t hi)
{
    if (!distill__affine_relu_pool_grad_planes_avx2(l, a, b, x, dy, dx, lo, hi))
        distill__affine_relu_pool_grad_planes_c(l, a, b, x, dy, dx, lo, hi);
}

void distill__relu_pool_forward(const nn_env *e, const nn_layer *pool, int64_t n, const float *x,
                                float *y)
{
    DISTILL__SPLIT(nn_threads(e), n * pool->in_c, lo, hi,
                   distill__affine_relu_pool_planes(pool, 1.0f, 0.0f, x, y, lo, hi));
}

void distill__relu_pool_backward(const nn_env *e, const nn_layer *pool, int64_t n,
                                 const float *x, const float *dy, float *dx)
{
    DISTILL__SPLIT(nn_threads(e), n * pool->in_c, lo, hi,
                   distill__affine_relu_pool_grad_planes(pool, 1.0f, 0.0f, x, dy, dx, lo, hi));
}

const nn_ops distill__avgpool_ops = {pool_shape, distill__nn_none, distill__nn_none, distill__nn_none_n, distill__nn_none_n,
                                     distill__nn_no_init, pool_forward, pool_backward};
const nn_ops distill__maxpool_ops = {pool_shape, distill__nn_none, distill__nn_none, distill__nn_none_n, distill__nn_none_n,
                                     distill__nn_no_init, pool_forward, pool_backward};
