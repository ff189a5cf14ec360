/* Element-wise activations.  Backward works from the layer's input. */
#include <math.h>
#include <string.h>

#include "internal.h"

DISTILL__NO_CONTRACT

static float sigmoid(float x)
{
    /* never exponentiates a large positive number */
    if (x >= 0.0f)
        return 1.0f / (1.0f + expf(-x));
    {
        const float e = expf(x);
        return e / (1.0f + e);
    }
}

static float softplus(float x)
{
    return x > 20.0f ? x : (x < -20.0f ? expf(x) : log1pf(expf(x)));
}

/* e^x for x in [-87, 20] without a call or a branch, so that a loop of
 * them vectorises: x = k ln 2 + r (k by the round-to-nearest of adding
 * 1.5 * 2^23), Cephes' degree-6 polynomial for e^r on |r| <= ln2/2
 * (relative error about 1e-7), 2^k built in the exponent bits. */
static inline float exp_small(float x)
{
    float t, k, r, p, s;
    uint32_t bits;
    x = x < -87.0f ? -87.0f : x > 20.0f ? 20.0f : x;
    t = x * 1.44269504f + 12582912.0f;
    k = t - 12582912.0f;
    r = x - k * 0.693359375f + k * 2.12194440e-4f;
    p = ((((1.9875691500e-4f * r + 1.3981999507e-3f) * r + 8.3334519073e-3f) * r + 4.1665795894e-2f) * r +
         1.6666665459e-1f) * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    bits = (uint32_t)((int32_t)k + 127) << 23;
    memcpy(&s, &bits, sizeof s);
    return p * s;
}

/* tanh(softplus(x)) = n / (n + 2) with n = e^x (e^x + 2): one exponential
 * instead of three calls (Mish is the VDD student's and the diffusion
 * teacher's activation, on their real-time paths); past x = 20 it is 1 in
 * float. */
static inline float tanh_softplus(float x)
{
    const float e = exp_small(x), n = e * (e + 2.0f);
    return n / (n + 2.0f);
}

/* Mish over a range, in a loop the compiler vectorises. */
DISTILL__CLONES static void mish(const float *restrict x, float *restrict y, int64_t lo, int64_t hi)
{
    int64_t i;
    for (i = lo; i < hi; i++)
        y[i] = x[i] * tanh_softplus(x[i]);
}

float distill__act(int kind, float x)
{
    switch (kind) {
    case DISTILL_LAYER_RELU: return x > 0.0f ? x : 0.0f;
    case DISTILL_LAYER_TANH: return tanhf(x);
    case DISTILL_LAYER_SIGMOID: return sigmoid(x);
    case DISTILL_LAYER_GELU: return 0.5f * x * (1.0f + erff(x * 0.70710678f));
    case DISTILL_LAYER_MISH: return x * tanh_softplus(x);
    case DISTILL_LAYER_SOFTPLUS: return softplus(x);
    default: return x;
    }
}

float distill__act_grad(int kind, float x)
{
    switch (kind) {
    case DISTILL_LAYER_RELU: return x > 0.0f ? 1.0f : 0.0f;
    case DISTILL_LAYER_TANH: {
        const float t = tanhf(x);
        return 1.0f - t * t;
    }
    case DISTILL_LAYER_SIGMOID: {
        const float s = sigmoid(x);
        return s * (1.0f - s);
    }
    case DISTILL_LAYER_GELU:
        return 0.5f * (1.0f + erff(x * 0.70710678f)) + x * 0.39894228f * expf(-0.5f * x * x);
    case DISTILL_LAYER_MISH: {
        const float t = tanh_softplus(x);
        return t + x * (1.0f - t * t) * sigmoid(x);
    }
    case DISTILL_LAYER_SOFTPLUS: return sigmoid(x);
    default: return 1.0f;
    }
}

static distill_status act_shape(nn_layer *l)
{
    l->out_c = l->in_c, l->out_h = l->in_h, l->out_w = l->in_w;
    return DISTILL_OK;
}


/* ReLU, the common case, in loops the compiler vectorises (no aliasing,
 * no conditional loads). */
static void relu(const float *restrict x, float *restrict y, int64_t lo, int64_t hi)
{
    int64_t i;
    for (i = lo; i < hi; i++)
        y[i] = x[i] > 0.0f ? x[i] : 0.0f;
}

static void relu_grad(const float *restrict x, const float *restrict dy, float *restrict dx,
                      int64_t lo, int64_t hi)
{
    int64_t i;
    for (i = lo; i < hi; i++)
        dx[i] = dy[i] * (float)(x[i] > 0.0f);
}

static void act_range(int kind, const float *x, float *y, int64_t lo, int64_t hi)
{
    int64_t i;
    if (kind == DISTILL_LAYER_RELU)
        relu(x, y, lo, hi);
    else if (kind == DISTILL_LAYER_MISH)
        mish(x, y, lo, hi);
    else
        for (i = lo; i < hi; i++)
            y[i] = distill__act(kind, x[i]);
}

void distill__act_rows(int kind, const float *x, float *y, int64_t n) { act_range(kind, x, y, 0, n); }

static void act_grad_range(int kind, const float *x, const float *dy, float *dx, int64_t lo,
                           int64_t hi)
{
    int64_t i;
    if (kind == DISTILL_LAYER_RELU)
        relu_grad(x, dy, dx, lo, hi);
    else
        for (i = lo; i < hi; i++)
            dx[i] = dy[i] * distill__act_grad(kind, x[i]);
}

static void act_forward(const nn_env *e, const nn_layer *l, const float *p, float *buf,
                        int64_t n, const float *x, float *y, float *cache, float *scratch)
{
    (void)p, (void)buf, (void)cache, (void)scratch;
    DISTILL__SPLIT(nn_threads_for(e, n * l->in_dim), n * l->in_dim, lo, hi, act_range(l->spec.kind, x, y, lo, hi));
}

static void act_backward(const nn_env *e, const nn_layer *l, const float *p, const float *buf,
                         int64_t n, const float *x, const float *y, const float *dy, float *dx,
                         float *dp, const float *cache, float *scratch)
{
    (void)p, (void)buf, (void)y, (void)dp, (void)cache, (void)scratch;
    if (dx)
        DISTILL__SPLIT(nn_threads_for(e, n * l->in_dim), n * l->in_dim, lo, hi,
                       act_grad_range(l->spec.kind, x, dy, dx, lo, hi));
}

const nn_ops distill__activation_ops = {act_shape, distill__nn_none, distill__nn_none, distill__nn_none_n, distill__nn_none_n,
                                        distill__nn_no_init, act_forward, act_backward};
