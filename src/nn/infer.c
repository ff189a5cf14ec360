/* Allocation-free inference: eval mode through plain loops, every buffer
 * carved from the caller's workspace.  Touches nothing shared: no context
 * message, no log, no allocator, no BLIS, so threads may share a model. */
#include <string.h>

#include "../core/check.h"
#include "../core/workspace.h"
#include "internal.h"

typedef struct infer_ws {
    float *a, *b, *tmp, *scratch; /* ping-pong activations, a layout buffer */
} infer_ws;

/* The widest activation and the largest scratch for n samples. */
static void infer_sizes(const distill_model *m, int64_t n, int64_t *max_dim, int64_t *max_scratch)
{
    int64_t i;
    *max_dim = m->layers[0].in_dim, *max_scratch = 0;
    for (i = 0; i < m->n_layers; i++) {
        const nn_layer *l = &m->layers[i];
        const int64_t s = l->ops->scratch(l, n) + l->ops->cache(l, n);
        *max_dim = l->out_dim > *max_dim ? l->out_dim : *max_dim;
        *max_scratch = s > *max_scratch ? s : *max_scratch;
    }
}

static void infer_layout(int64_t n, int64_t max_dim, int64_t max_scratch, distill__arena *ar,
                         infer_ws *w)
{
    w->a = distill__arena_take(ar, n * max_dim, sizeof(float));
    w->b = distill__arena_take(ar, n * max_dim, sizeof(float));
    w->tmp = distill__arena_take(ar, n * max_dim, sizeof(float));
    w->scratch = distill__arena_take(ar, max_scratch, sizeof(float));
}

distill_status distill_model_workspace_size(const distill_model *m, int64_t max_batch,
                                            size_t *bytes)
{
    distill__arena ar;
    infer_ws w;
    int64_t max_dim, max_scratch;
    if (!m || !bytes || max_batch < 1 || max_batch > ((int64_t)1 << 32))
        return DISTILL_E_INVAL;
    infer_sizes(m, max_batch, &max_dim, &max_scratch);
    distill__arena_init(&ar, NULL);
    infer_layout(max_batch, max_dim, max_scratch, &ar, &w);
    return distill__arena_total(&ar, bytes);
}

distill_status distill_model_infer(const distill_model *m, void *ws, size_t ws_bytes, int64_t n,
                                   const float *x, int64_t ldx, float *y, int64_t ldy)
{
    const nn_env e = {NULL, 0, 1};
    distill__arena ar;
    infer_ws w;
    size_t need;
    int64_t max_dim, max_scratch;
    float *cur, *next, *t;
    int64_t i, din, dout;
    if (!m || !ws || !x || !y || n < 1)
        return DISTILL_E_INVAL;
    din = distill_model_input_dim(m), dout = distill_model_output_dim(m);
    if (ldx < din || ldy < dout)
        return DISTILL_E_SHAPE;
    /* measure, then carve: one pass over the layers for the sizes */
    infer_sizes(m, n, &max_dim, &max_scratch);
    distill__arena_init(&ar, NULL);
    infer_layout(n, max_dim, max_scratch, &ar, &w);
    if (distill__arena_total(&ar, &need) != DISTILL_OK || ws_bytes < need)
        return DISTILL_E_WORKSPACE;
    distill__arena_init(&ar, ws);
    infer_layout(n, max_dim, max_scratch, &ar, &w);
    for (i = 0; i < n; i++)
        memcpy(w.a + i * din, x + i * ldx, sizeof(float) * (size_t)din);
    cur = w.a, next = w.b;
    for (i = 0; i < m->n_layers; i++) {
        const nn_layer *l = &m->layers[i];
        distill__fix_input(m, i, n, cur, w.tmp);
        /* eval mode never writes the buffers */
        l->ops->forward(&e, l, m->params + l->p_off, m->buffers + l->b_off, n, cur, next, NULL,
                        w.scratch);
        t = cur, cur = next, next = t;
    }
    distill__output_rows(m, n, cur, w.tmp, y, ldy);
    return DISTILL_OK;
}

distill_status distill_model_infer_checked(const distill_model *m, void *ws, size_t ws_bytes, int64_t n,
                                           const float *x, int64_t ldx, float *y, int64_t ldy)
{
    if (!m || !ws || !x || !y || n < 1)
        return DISTILL_E_INVAL;
    if (ldx < distill_model_input_dim(m) || ldy < distill_model_output_dim(m))
        return DISTILL_E_SHAPE;
    /* the shared check, with no context: a status and no message, as infer */
    DISTILL__TRY(distill__check_finite(NULL, NULL, NULL, x, n, distill_model_input_dim(m), ldx));
    DISTILL__TRY(distill_model_infer(m, ws, ws_bytes, n, x, ldx, y, ldy));
    return distill__check_finite(NULL, NULL, NULL, y, n, distill_model_output_dim(m), ldy);
}
