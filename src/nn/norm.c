/* Batch norm (per channel over batch and positions) and layer norm (per
 * sample over its features), both with an affine gamma, beta.  Statistics
 * accumulate in double. */
#include <math.h>
#include <string.h>

#include "internal.h"

static float eps_of(const nn_layer *l) { return l->spec.eps > 0.0f ? l->spec.eps : 1e-5f; }

static distill_status same_shape(nn_layer *l)
{
    l->out_c = l->in_c, l->out_h = l->in_h, l->out_w = l->in_w;
    return DISTILL_OK;
}


/* ---- batch norm: params gamma[C], beta[C]; buffers mean[C], var[C];
 * cache (train) mean[C], invstd[C] of the batch ---------------------------- */

static int64_t bn_params(const nn_layer *l) { return 2 * l->in_c; }
static int64_t bn_cache(const nn_layer *l, int64_t n) { (void)n; return 2 * l->in_c; }

static void bn_init(nn_layer *l, float *p, float *buf, distill__rng *r)
{
    int64_t c;
    (void)r;
    for (c = 0; c < l->in_c; c++) {
        p[c] = 1.0f, p[l->in_c + c] = 0.0f;
        buf[c] = 0.0f, buf[l->in_c + c] = 1.0f;
    }
}

/* Channel c's eval-mode map y = a x + b. */
void distill__bn_eval_affine(const nn_layer *l, const float *p, const float *buf, int64_t c, float *a,
                             float *b)
{
    const float invstd = 1.0f / sqrtf(buf[l->in_c + c] + eps_of(l));
    *a = p[c] * invstd, *b = p[l->in_c + c] - *a * buf[c];
}

/* A plane's float sums are one chain of dependent adds each; PLANES
 * planes at once run that many chains side by side, every plane's sums
 * in its own order (the same bits as one plane at a time). */
#define PLANES 8

/* Four planes' chains, the portable way (see distill__plane_sums8_c). */
static void plane_sums4(const float *const xp[4], const float *const gp[4], int64_t hw, float mean,
                        float s1[4], float s2[4])
{
    int64_t k, j;
    for (k = 0; k < 4; k++)
        s1[k] = 0.0f, s2[k] = 0.0f;
    if (!gp)
        for (j = 0; j < hw; j++)
            for (k = 0; k < 4; k++)
                s1[k] += xp[k][j], s2[k] += xp[k][j] * xp[k][j];
    else
        for (j = 0; j < hw; j++)
            for (k = 0; k < 4; k++)
                s1[k] += gp[k][j], s2[k] += gp[k][j] * (xp[k][j] - mean);
}

void distill__plane_sums8_c(const float *const xp[8], const float *const gp[8], int64_t hw, float mean,
                            float s1[8], float s2[8])
{
    plane_sums4(xp, gp, hw, mean, s1, s2);
    plane_sums4(xp + 4, gp ? gp + 4 : NULL, hw, mean, s1 + 4, s2 + 4);
}

/* Of channel c's planes i .. i + PLANES - 1 (fewer at the batch's end; the
 * count is returned): without g, the sums of x and x^2 (forward); with g,
 * the sums of g and g (x - mean) (backward). */
static int64_t plane_sums(const nn_layer *l, int64_t n, int64_t c, int64_t i, const float *x,
                          const float *g, float mean, float s1[PLANES], float s2[PLANES])
{
    const int64_t C = l->in_c, hw = l->in_h * l->in_w, q = n - i < PLANES ? n - i : PLANES;
    const float *xp[PLANES], *gp[PLANES];
    int64_t k;
    for (k = 0; k < PLANES; k++) { /* past the end: plane i again, its sums unused */
        const int64_t at = nn_plane(l->cf_in, n, C, k < q ? i + k : i, c, hw);
        xp[k] = x + at, gp[k] = g ? g + at : NULL;
    }
    if (!distill__plane_sums8_avx2(xp, g ? gp : NULL, hw, mean, s1, s2))
        distill__plane_sums8_c(xp, g ? gp : NULL, hw, mean, s1, s2);
    return q;
}

/* Channel c's training-mode map y = a x + b from its batch statistics;
 * forward and the fused backward's recomputation (bn_grad_planes) share it,
 * so they agree bit for bit. */
static void bn_train_affine(const nn_layer *l, const float *p, float mean, float invstd, int64_t c,
                            float *a, float *b)
{
    *a = p[c] * invstd, *b = p[l->in_c + c] - *a * mean;
}

/* Channel c's forward map: in training from the batch's statistics (kept
 * in cache, folded into the running ones), else from the running ones. */
static void bn_channel_map(int train, const nn_layer *l, const float *p, float *buf, int64_t n,
                           const float *x, float *cache, int64_t c, float *a, float *b)
{
    const int64_t C = l->in_c, count = n * l->in_h * l->in_w;
    const float mom = l->spec.momentum > 0.0f ? l->spec.momentum : 0.1f;
    double s = 0.0, s2 = 0.0, var;
    float mean, invstd;
    int64_t i, j;
    if (!train) {
        distill__bn_eval_affine(l, p, buf, c, a, b);
        return;
    }
    for (i = 0; i < n; i += PLANES) {
        float ps[PLANES], ps2[PLANES];
        const int64_t q = plane_sums(l, n, c, i, x, NULL, 0.0f, ps, ps2);
        for (j = 0; j < q; j++)
            s += ps[j], s2 += ps2[j];
    }
    s /= (double)count;
    var = s2 / (double)count - s * s;
    var = var > 0.0 ? var : 0.0;
    mean = (float)s;
    invstd = (float)(1.0 / sqrt(var + eps_of(l)));
    if (cache)
        cache[c] = mean, cache[C + c] = invstd;
    buf[c] = (1.0f - mom) * buf[c] + mom * mean;
    buf[C + c] = (1.0f - mom) * buf[C + c] + mom * (float)(count > 1 ? var * count / (count - 1) : var);
    bn_train_affine(l, p, mean, invstd, c, a, b);
}

/* Channels [lo, hi): each reads and writes only its own statistics.  With
 * a pool (l[2] of distill__fusable_bn_relu_pool: the ReLU and 2x2 pool
 * after), y is the pool's output and batch norm's own is never written. */
static void bn_fwd_channels(int train, const nn_layer *l, const nn_layer *pool, const float *p,
                            float *buf, int64_t n, const float *x, float *y, float *cache, int64_t lo,
                            int64_t hi)
{
    const int64_t C = l->in_c, hw = l->in_h * l->in_w;
    int64_t c;
    for (c = lo; c < hi; c++) {
        int64_t i, j;
        float a, b;
        bn_channel_map(train, l, p, buf, n, x, cache, c, &a, &b);
        for (i = 0; i < n; i++) {
            const int64_t pl = nn_plane(l->cf_in, n, C, i, c, 1);
            if (pool) {
                distill__affine_relu_pool_planes(pool, a, b, x, y, pl, pl + 1);
                continue;
            }
            for (j = 0; j < hw; j++)
                y[pl * hw + j] = a * x[pl * hw + j] + b;
        }
    }
}

static void bn_forward(const nn_env *e, const nn_layer *l, const float *p, float *buf,
                       int64_t n, const float *x, float *y, float *cache, float *scratch)
{
    (void)scratch;
    DISTILL__SPLIT(nn_threads(e), l->in_c, lo, hi,
                   bn_fwd_channels(e->train, l, NULL, p, buf, n, x, y, cache, lo, hi));
}

/* Eval mode without parameter gradients: batch norm is a fixed affine map
 * per channel, so dx = gamma invstd dy and no statistics are needed. */
static void bn_bwd_eval_input(const nn_layer *l, const float *p, const float *buf, int64_t n,
                              const float *dy, float *dx, int64_t c)
{
    const int64_t C = l->in_c, hw = l->in_h * l->in_w;
    const float a = p[c] / sqrtf(buf[C + c] + eps_of(l));
    int64_t i, j;
    for (i = 0; i < n; i++) {
        const float *gi = dy + nn_plane(l->cf_in, n, C, i, c, hw);
        float *di = dx + nn_plane(l->cf_in, n, C, i, c, hw);
        for (j = 0; j < hw; j++)
            di[j] = a * gi[j];
    }
}

/* Channel c's map y = a x + b as the last forward applied it (train: from
 * the batch statistics it cached). */
static void bn_forward_map(int train, const nn_layer *l, const float *p, const float *buf, const float *cache,
                           int64_t c, float *a, float *b)
{
    if (train)
        bn_train_affine(l, p, cache[c], cache[l->in_c + c], c, a, b);
    else
        distill__bn_eval_affine(l, p, buf, c, a, b);
}

/* The fused pool's backward: the gradient of batch norm's output y = a x + b
 * for channel c's planes [i0, i1), from the pool's gradient dpool and x,
 * into dx, where the rest of backward then reads it in place. */
static void bn_grad_planes(const nn_layer *l, const nn_layer *pool, float a, float b, int64_t n,
                           const float *x, const float *dpool, float *dx, int64_t c, int64_t i0, int64_t i1)
{
    int64_t i;
    for (i = i0; i < i1 && i < n; i++) {
        const int64_t pl = nn_plane(l->cf_in, n, l->in_c, i, c, 1);
        distill__affine_relu_pool_grad_planes(pool, a, b, x, dpool, dx, pl, pl + 1);
    }
}

/* Training mode: channel c's dx = a dy + b (x - mean) + c0 from its sums
 * (g may be dx itself: each value is read before it is written). */
static void bn_train_input_grad(const nn_layer *l, const float *p, int64_t n, const float *x, const float *g,
                                float *dx, int64_t c, float mean, float invstd, double sdy, double sdyx)
{
    const int64_t C = l->in_c, hw = l->in_h * l->in_w;
    const double cnt = (double)(n * hw);
    const float a = p[c] * invstd;
    const float b = (float)(-p[c] * invstd * invstd * sdyx / cnt);
    const float c0 = (float)(-p[c] * invstd * sdy / cnt);
    int64_t i, j;
    for (i = 0; i < n; i++) {
        const float *xi = x + nn_plane(l->cf_in, n, C, i, c, hw), *gi = g + nn_plane(l->cf_in, n, C, i, c, hw);
        float *di = dx + nn_plane(l->cf_in, n, C, i, c, hw);
        for (j = 0; j < hw; j++)
            di[j] = a * gi[j] + b * (xi[j] - mean) + c0;
    }
}

/* Channels [lo, hi).  With a pool, dy is the fused pool's gradient and dx
 * (required) first receives batch norm's output gradient, plane group by
 * plane group while the sums need it, then is finished in place. */
static void bn_bwd_channels(int train, const nn_layer *l, const nn_layer *pool, const float *p,
                            const float *buf, int64_t n, const float *x, const float *dy, float *dx,
                            float *dp, const float *cache, int64_t lo, int64_t hi)
{
    const int64_t C = l->in_c;
    const float *g = pool ? dx : dy; /* batch norm's output gradient */
    int64_t c;
    for (c = lo; c < hi; c++) {
        int64_t i, j;
        const float mean = train ? cache[c] : buf[c];
        const float invstd = train ? cache[C + c] : 1.0f / sqrtf(buf[C + c] + eps_of(l));
        double sdy = 0.0, sdyx = 0.0;
        float fa = 0.0f, fb = 0.0f; /* the fused pool's: forward's map */
        if (pool)
            bn_forward_map(train, l, p, buf, cache, c, &fa, &fb);
        if (!train && !dp) {
            if (pool)
                bn_grad_planes(l, pool, fa, fb, n, x, dy, dx, c, 0, n);
            if (dx)
                bn_bwd_eval_input(l, p, buf, n, g, dx, c);
            continue;
        }
        for (i = 0; i < n; i += PLANES) {
            float ps[PLANES], psx[PLANES];
            int64_t q;
            if (pool)
                bn_grad_planes(l, pool, fa, fb, n, x, dy, dx, c, i, i + PLANES);
            q = plane_sums(l, n, c, i, x, g, mean, ps, psx);
            for (j = 0; j < q; j++)
                sdy += ps[j], sdyx += (double)psx[j] * invstd;
        }
        if (dp)
            dp[c] += (float)sdyx, dp[C + c] += (float)sdy;
        if (!dx)
            continue;
        if (!train)
            bn_bwd_eval_input(l, p, buf, n, g, dx, c);
        else
            bn_train_input_grad(l, p, n, x, g, dx, c, mean, invstd, sdy, sdyx);
    }
}

static void bn_backward(const nn_env *e, const nn_layer *l, const float *p, const float *buf,
                        int64_t n, const float *x, const float *y, const float *dy, float *dx,
                        float *dp, const float *cache, float *scratch)
{
    (void)y, (void)scratch;
    DISTILL__SPLIT(nn_threads(e), l->in_c, lo, hi,
                   bn_bwd_channels(e->train, l, NULL, p, buf, n, x, dy, dx, dp, cache, lo, hi));
}

/* Batch norm, ReLU and a 2x2 average pool (l[0 .. 2]) as one pass each way
 * in training passes: batch norm's output and its gradient, the largest
 * arrays of a conv stack's pass, are neither written nor read back (the
 * ReLU's sign is recomputed from x, so parameters and buffers must not
 * change between forward and backward, as the model's contract says); the
 * arithmetic is that of batch norm followed by the fused ReLU-pool pair,
 * in its order, so the results are the same bits. */
int distill__fusable_bn_relu_pool(const nn_layer *l, int64_t left)
{
    return left >= 3 && l[0].spec.kind == DISTILL_LAYER_BATCHNORM &&
           distill__fusable_relu_pool(&l[1], &l[2]);
}

void distill__bn_relu_pool_forward(const nn_env *e, const nn_layer *l, const float *p, float *buf, int64_t n,
                                   const float *x, float *y, float *cache)
{
    DISTILL__SPLIT(nn_threads(e), l->in_c, lo, hi,
                   bn_fwd_channels(e->train, l, &l[2], p, buf, n, x, y, cache, lo, hi));
}

void distill__bn_relu_pool_backward(const nn_env *e, const nn_layer *l, const float *p, const float *buf,
                                    int64_t n, const float *x, const float *dy, float *dx, float *dp,
                                    const float *cache)
{
    DISTILL__SPLIT(nn_threads(e), l->in_c, lo, hi,
                   bn_bwd_channels(e->train, l, &l[2], p, buf, n, x, dy, dx, dp, cache, lo, hi));
}

static int64_t bn_buffers(const nn_layer *l) { return 2 * l->in_c; }

const nn_ops distill__batchnorm_ops = {same_shape, bn_params, bn_buffers, distill__nn_none_n, bn_cache,
                                       bn_init, bn_forward, bn_backward};

/* ---- layer norm: params gamma[D], beta[D]; cache mean[n], invstd[n] ------- */

static int64_t ln_params(const nn_layer *l) { return 2 * l->in_dim; }
static int64_t ln_cache(const nn_layer *l, int64_t n) { (void)l; return 2 * n; }

static void ln_init(nn_layer *l, float *p, float *buf, distill__rng *r)
{
    int64_t j;
    (void)buf, (void)r;
    for (j = 0; j < l->in_dim; j++)
        p[j] = 1.0f, p[l->in_dim + j] = 0.0f;
}

static void ln_stats(const float *xi, int64_t d, float eps, float *mean, float *invstd)
{
    double s = 0.0, s2 = 0.0, var;
    int64_t j;
    for (j = 0; j < d; j++)
        s += xi[j], s2 += (double)xi[j] * xi[j];
    s /= (double)d;
    var = s2 / (double)d - s * s;
    *mean = (float)s;
    *invstd = (float)(1.0 / sqrt((var > 0.0 ? var : 0.0) + eps));
}

static void ln_forward(const nn_env *e, const nn_layer *l, const float *p, float *buf,
                       int64_t n, const float *x, float *y, float *cache, float *scratch)
{
    const int64_t d = l->in_dim;
    int64_t i, j;
    (void)e, (void)buf, (void)scratch;
    for (i = 0; i < n; i++) {
        float mean, invstd;
        ln_stats(x + i * d, d, eps_of(l), &mean, &invstd);
        if (cache)
            cache[i] = mean, cache[n + i] = invstd;
        for (j = 0; j < d; j++)
            y[i * d + j] = p[j] * (x[i * d + j] - mean) * invstd + p[d + j];
    }
}

static void ln_backward(const nn_env *e, const nn_layer *l, const float *p, const float *buf,
                        int64_t n, const float *x, const float *y, const float *dy, float *dx,
                        float *dp, const float *cache, float *scratch)
{
    const int64_t d = l->in_dim;
    int64_t i, j;
    (void)e, (void)buf, (void)y, (void)scratch;
    for (i = 0; i < n; i++) {
        const float mean = cache[i], invstd = cache[n + i];
        const float *xi = x + i * d, *gi = dy + i * d;
        double sg = 0.0, sgx = 0.0;
        for (j = 0; j < d; j++) {
            const double xhat = (xi[j] - mean) * invstd, g = (double)gi[j] * p[j];
            sg += g, sgx += g * xhat;
            if (dp)
                dp[j] += (float)(gi[j] * xhat), dp[d + j] += gi[j];
        }
        if (dx)
            for (j = 0; j < d; j++) {
                const double xhat = (xi[j] - mean) * invstd, g = (double)gi[j] * p[j];
                dx[i * d + j] = (float)(invstd * (g - sg / (double)d - xhat * sgx / (double)d));
            }
    }
}

const nn_ops distill__layernorm_ops = {same_shape, ln_params, distill__nn_none, distill__nn_none_n, ln_cache,
                                       ln_init, ln_forward, ln_backward};
