/* Training passes: forward keeps every layer's input (and each layer's
 * cache), backward walks the layers in reverse with two gradient buffers. */
#include <math.h>
#include <string.h>

#include "../core/check.h"
#include "internal.h"
#include "predict.h"

void distill__model_release_training(distill_model *m)
{
    int64_t i;
    if (m->acts)
        for (i = 0; i <= m->n_layers; i++)
            distill__free(m->ctx, m->acts[i]);
    if (m->caches)
        for (i = 0; i < m->n_layers; i++)
            distill__free(m->ctx, m->caches[i]);
    distill__free(m->ctx, m->acts);
    distill__free(m->ctx, m->caches);
    distill__free(m->ctx, m->scratch);
    distill__free(m->ctx, m->grad_a);
    distill__free(m->ctx, m->grad_b);
    m->acts = m->caches = NULL;
    m->scratch = m->grad_a = m->grad_b = NULL;
    m->cap = 0;
    m->has_forward = 0;
}

static int64_t dim_at(const distill_model *m, int64_t i)
{
    return i == 0 ? m->layers[0].in_dim : m->layers[i - 1].out_dim;
}

static float *alloc_floats(distill_model *m, int64_t count)
{
    return distill__alloc(m->ctx, sizeof(float) * (size_t)(count > 0 ? count : 1));
}

/* Room for n samples (keeps the old buffers when they are big enough). */
static distill_status reserve(distill_model *m, int64_t n)
{
    int64_t i, max_dim = 0, max_scratch = 0;
    if (n <= m->cap)
        return DISTILL_OK;
    distill__model_release_training(m);
    /* each pointer array zeroed as soon as it exists: release frees what
     * it holds after a failure at any point */
    if ((m->acts = distill__alloc(m->ctx, sizeof(float *) * (size_t)(m->n_layers + 1))))
        memset(m->acts, 0, sizeof(float *) * (size_t)(m->n_layers + 1));
    if ((m->caches = distill__alloc(m->ctx, sizeof(float *) * (size_t)m->n_layers)))
        memset(m->caches, 0, sizeof(float *) * (size_t)m->n_layers);
    if (!m->acts || !m->caches)
        goto nomem;
    for (i = 0; i <= m->n_layers; i++) {
        max_dim = dim_at(m, i) > max_dim ? dim_at(m, i) : max_dim;
        if (!(m->acts[i] = alloc_floats(m, n * dim_at(m, i))))
            goto nomem;
    }
    for (i = 0; i < m->n_layers; i++) {
        const nn_layer *l = &m->layers[i];
        int64_t s = l->ops->scratch(l, n);
        if (distill__fusable_block(l, m->n_layers - i) && distill__block_scratch(l, n) > s)
            s = distill__block_scratch(l, n);
        max_scratch = s > max_scratch ? s : max_scratch;
        if (!(m->caches[i] = alloc_floats(m, l->ops->cache(l, n))))
            goto nomem;
    }
    m->scratch = alloc_floats(m, max_scratch);
    m->grad_a = alloc_floats(m, n * max_dim);
    m->grad_b = alloc_floats(m, n * max_dim);
    if (!m->scratch || !m->grad_a || !m->grad_b)
        goto nomem;
    m->cap = n;
    return DISTILL_OK;
nomem:
    distill__model_release_training(m);
    return distill__fail(m->ctx, DISTILL_E_NOMEM, "distill_model_forward: cannot allocate activations for %lld samples",
                         (long long)n);
}

/* Layers i (batch norm), i + 1 (ReLU) and i + 2 (2x2 average pool) run
 * as one pass each way. */
static int bn_fused_at(const distill_model *m, int64_t i)
{
    return i >= 0 && distill__fusable_bn_relu_pool(&m->layers[i], m->n_layers - i);
}

/* Layers i (ReLU) and i + 1 (2x2 average pool) run as one pass. */
static int fused_at(const distill_model *m, int64_t i)
{
    return i + 1 < m->n_layers && distill__fusable_relu_pool(&m->layers[i], &m->layers[i + 1]);
}

static void copy_rows(int64_t n, int64_t d, const float *src, int64_t lds, float *dst, int64_t ldd)
{
    int64_t i;
    for (i = 0; i < n; i++)
        memcpy(dst + i * ldd, src + i * lds, sizeof(float) * (size_t)d);
}

/* The forward pass; `fuse` (eval mode, no backward to follow) runs each
 * conv-BN-ReLU-pool block as one pass and leaves the block's inner
 * activations unwritten. */
static distill_status pass(distill_model *m, int mode, int fuse, int64_t n, const float *x, int64_t ldx,
                           float *y, int64_t ldy)
{
    static const char fn[] = "distill_model_forward";
    const int64_t din = m ? distill_model_input_dim(m) : 0, dout = m ? distill_model_output_dim(m) : 0;
    nn_env e;
    int64_t i;
    if (!m)
        return DISTILL_E_INVAL;
    if (mode != DISTILL_MODE_EVAL && mode != DISTILL_MODE_TRAIN)
        return distill__fail(m->ctx, DISTILL_E_INVAL, "%s: mode must be DISTILL_MODE_EVAL or _TRAIN", fn);
    DISTILL__TRY(distill__check_matrix(m->ctx, fn, "x", x, n, din, ldx));
    DISTILL__TRY(distill__check_matrix(m->ctx, fn, "y", y, n, dout, ldy));
    DISTILL__TRY(distill__check_finite(m->ctx, fn, "x", x, n, din, ldx));
    DISTILL__TRY(reserve(m, n));
    copy_rows(n, din, x, ldx, m->acts[0], din);
    e.ctx = m->ctx, e.train = mode == DISTILL_MODE_TRAIN, e.threads = m->ctx->threads;
    for (i = 0; i < m->n_layers; i++) {
        const nn_layer *l = &m->layers[i];
        distill__fix_input(m, i, n, m->acts[i], m->grad_a);
        if (fuse && distill__fusable_block(l, m->n_layers - i)) {
            distill__block_forward(&e, l, m->params, m->buffers, n, m->acts[i], m->acts[i + 4], m->scratch);
            i += 3;
            continue;
        }
        if (bn_fused_at(m, i)) { /* acts[i + 1] and acts[i + 2] are never needed */
            distill__bn_relu_pool_forward(&e, l, m->params + l->p_off, m->buffers + l->b_off, n, m->acts[i],
                                          m->acts[i + 3], m->caches[i]);
            i += 2;
            continue;
        }
        if (fused_at(m, i)) { /* the ReLU's output (acts[i + 1]) is never needed */
            distill__relu_pool_forward(&e, &m->layers[i + 1], n, m->acts[i], m->acts[i + 2]);
            i++;
            continue;
        }
        l->ops->forward(&e, l, m->params + l->p_off, m->buffers + l->b_off, n, m->acts[i],
                        m->acts[i + 1], m->caches[i], m->scratch);
    }
    m->has_forward = !fuse;
    m->n_last = n;
    m->train_last = e.train;
    distill__output_rows(m, n, m->acts[m->n_layers], m->grad_a, y, ldy);
    return distill__check_finite(m->ctx, fn, "the output y", y, n, dout, ldy);
}

distill_status distill_model_forward(distill_model *m, int mode, int64_t n, const float *x,
                                     int64_t ldx, float *y, int64_t ldy)
{
    return pass(m, mode, 0, n, x, ldx, y, ldy);
}

distill_status distill__model_predict(distill_model *m, int64_t n, const float *x, int64_t ldx, float *y,
                                      int64_t ldy)
{
    return pass(m, DISTILL_MODE_EVAL, 1, n, x, ldx, y, ldy);
}

distill_status distill_model_backward(distill_model *m, const float *dy, int64_t lddy, float *dx,
                                      int64_t lddx, int flags)
{
    static const char fn[] = "distill_model_backward";
    const int want_params = (flags & (DISTILL_BACKWARD_PARAMS | DISTILL_BACKWARD_ACCUMULATE)) != 0;
    float *g, *other;
    int64_t i, n;
    nn_env e;
    if (!m)
        return DISTILL_E_INVAL;
    if (!m->has_forward)
        return distill__fail(m->ctx, DISTILL_E_INVAL, "%s: no forward pass to go back through", fn);
    if (flags & ~(DISTILL_BACKWARD_PARAMS | DISTILL_BACKWARD_ACCUMULATE))
        return distill__fail(m->ctx, DISTILL_E_INVAL, "%s: unknown flags 0x%x", fn, (unsigned)flags);
    n = m->n_last;
    DISTILL__TRY(distill__check_matrix(m->ctx, fn, "dy", dy, n, distill_model_output_dim(m), lddy));
    DISTILL__TRY(distill__check_optional(m->ctx, fn, "dx", dx, n, distill_model_input_dim(m), lddx));
    DISTILL__TRY(distill__check_finite(m->ctx, fn, "dy", dy, n, distill_model_output_dim(m), lddy));
    if (want_params && !(flags & DISTILL_BACKWARD_ACCUMULATE))
        distill_model_zero_grad(m);
    e.ctx = m->ctx, e.train = m->train_last, e.threads = m->ctx->threads;
    g = m->grad_a, other = m->grad_b;
    distill__output_grad(m, n, dy, lddy, other, g);
    for (i = m->n_layers - 1; i >= 0; i--) {
        const nn_layer *l = &m->layers[i];
        float *din, *t;
        if (bn_fused_at(m, i - 2)) { /* the pool, its ReLU and batch norm at once */
            i -= 2, l = &m->layers[i];
            din = other; /* the sums' scratch even when the input's gradient is not wanted */
            if (i > 0 || dx || want_params)
                distill__bn_relu_pool_backward(&e, l, m->params + l->p_off, m->buffers + l->b_off, n,
                                               m->acts[i], g, din, want_params ? m->grads + l->p_off : NULL,
                                               m->caches[i]);
        } else if (i > 0 && fused_at(m, i - 1)) { /* the pool and its ReLU at once */
            i--;
            din = i > 0 || dx ? other : NULL;
            if (din)
                distill__relu_pool_backward(&e, &m->layers[i + 1], n, m->acts[i], g, din);
        } else {
            din = i > 0 || dx ? other : NULL;
            l->ops->backward(&e, l, m->params + l->p_off, m->buffers + l->b_off, n, m->acts[i],
                             m->acts[i + 1], g, din, want_params ? m->grads + l->p_off : NULL,
                             m->caches[i], m->scratch);
        }
        t = g, g = other, other = t;
        if (i > 0 && din)
            distill__fix_input_grad(m, i, n, g, other);
    }
    if (dx)
        copy_rows(n, distill_model_input_dim(m), g, distill_model_input_dim(m), dx, lddx);
    return DISTILL_OK;
}
