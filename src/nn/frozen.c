/* A model frozen for one-row inference (frozen.h). */
#include <string.h>

#include "../core/check.h"
#include "frozen.h"
#include "internal.h"

DISTILL__NO_CONTRACT

typedef struct frozen_layer {
    int32_t kind;      /* DISTILL_LAYER_DENSE or an activation's */
    int64_t in, out;
    const float *wt, *b; /* dense: in x out weights, out biases (or NULL) */
} frozen_layer;

struct distill__frozen {
    distill_context *ctx;
    int64_t n_layers, in_dim, out_dim, max_dim;
    frozen_layer *layers;
    float *weights;
};

static int is_activation(int32_t kind) { return kind >= DISTILL_LAYER_RELU && kind <= DISTILL_LAYER_SOFTPLUS; }

distill_status distill__frozen_make(const distill_model *m, distill__frozen **out)
{
    distill__frozen *f;
    int64_t i, floats = 0, at = 0;
    *out = NULL;
    for (i = 0; i < m->n_layers; i++) {
        const nn_layer *l = &m->layers[i];
        if (l->spec.kind == DISTILL_LAYER_DENSE)
            floats += l->p_count; /* the weights, transposed, then the biases if any */
        else if (!is_activation(l->spec.kind))
            return DISTILL_E_UNSUPPORTED;
    }
    f = distill__alloc_zero(m->ctx, 1, sizeof *f);
    if (f) {
        f->ctx = m->ctx;
        f->layers = distill__alloc_zero(m->ctx, m->n_layers, sizeof *f->layers);
        f->weights = distill__alloc_zero(m->ctx, floats > 0 ? floats : 1, sizeof(float));
    }
    if (!f || !f->layers || !f->weights) {
        distill__frozen_free(f);
        return distill__fail(m->ctx, DISTILL_E_NOMEM, "freezing a model for inference: out of memory");
    }
    f->n_layers = m->n_layers, f->in_dim = distill_model_input_dim(m), f->out_dim = distill_model_output_dim(m);
    f->max_dim = f->in_dim;
    for (i = 0; i < m->n_layers; i++) {
        const nn_layer *l = &m->layers[i];
        const float *w = m->params + l->p_off;
        frozen_layer *fl = &f->layers[i];
        int64_t p, j;
        fl->kind = l->spec.kind, fl->in = l->in_dim, fl->out = l->out_dim;
        f->max_dim = l->out_dim > f->max_dim ? l->out_dim : f->max_dim;
        if (fl->kind != DISTILL_LAYER_DENSE)
            continue;
        for (j = 0; j < l->out_dim; j++) /* W is out x in: its transpose */
            for (p = 0; p < l->in_dim; p++)
                f->weights[at + p * l->out_dim + j] = w[j * l->in_dim + p];
        fl->wt = f->weights + at, at += l->in_dim * l->out_dim;
        if (l->spec.bias) {
            memcpy(f->weights + at, w + l->in_dim * l->out_dim, sizeof(float) * (size_t)l->out_dim);
            fl->b = f->weights + at, at += l->out_dim;
        }
    }
    *out = f;
    return DISTILL_OK;
}

void distill__frozen_free(distill__frozen *f)
{
    if (!f)
        return;
    distill__free(f->ctx, f->layers);
    distill__free(f->ctx, f->weights);
    distill__free(f->ctx, f);
}

int64_t distill__frozen_scratch(const distill__frozen *f) { return 2 * f->max_dim; }

/* y = b + sum_p x_p Wt[p, :], vectorised over the outputs. */
DISTILL__CLONES static void dense_row(int64_t in, int64_t out, const float *restrict wt, const float *restrict b,
                                      const float *restrict x, float *restrict y)
{
    int64_t p, j;
    for (j = 0; j < out; j++)
        y[j] = b ? b[j] : 0.0f;
    for (p = 0; p < in; p++) {
        const float xp = x[p];
        const float *restrict w = wt + p * out;
        for (j = 0; j < out; j++)
            y[j] += xp * w[j];
    }
}

distill_status distill__frozen_row(const distill__frozen *f, const float *x, float *y, float *scratch)
{
    float *cur = scratch, *next = scratch + f->max_dim, *t;
    int64_t i;
    /* the shared check, with no context: a status and no message, as infer_checked */
    DISTILL__TRY(distill__check_finite(NULL, NULL, NULL, x, 1, f->in_dim, f->in_dim));
    memcpy(cur, x, sizeof(float) * (size_t)f->in_dim);
    for (i = 0; i < f->n_layers; i++) {
        const frozen_layer *l = &f->layers[i];
        if (l->kind == DISTILL_LAYER_DENSE)
            dense_row(l->in, l->out, l->wt, l->b, cur, next);
        else
            distill__act_rows(l->kind, cur, next, l->out);
        t = cur, cur = next, next = t;
    }
    memcpy(y, cur, sizeof(float) * (size_t)f->out_dim);
    return distill__check_finite(NULL, NULL, NULL, y, 1, f->out_dim, f->out_dim);
}
