/* Converting activations between batch-first and channel-first. */
#include <string.h>

#include "internal.h"

void distill__to_channel_first(int64_t n, int64_t C, int64_t hw, const float *src, float *dst)
{
    int64_t i, c;
    for (c = 0; c < C; c++)
        for (i = 0; i < n; i++)
            memcpy(dst + (c * n + i) * hw, src + (i * C + c) * hw, sizeof(float) * (size_t)hw);
}

void distill__to_batch_first(int64_t n, int64_t C, int64_t hw, const float *src, float *dst)
{
    int64_t i, c;
    for (i = 0; i < n; i++)
        for (c = 0; c < C; c++)
            memcpy(dst + (i * C + c) * hw, src + (c * n + i) * hw, sizeof(float) * (size_t)hw);
}

/* Layer i takes batch-first but its input arrives channel-first. */
static int needs_batch_first(const distill_model *m, int64_t i)
{
    return i > 0 && !m->layers[i].cf_in && m->layers[i - 1].cf_out;
}

/* The input of layer i (n samples, in place) into the layout the layer takes. */
void distill__fix_input(const distill_model *m, int64_t i, int64_t n, float *act, float *tmp)
{
    const nn_layer *l = &m->layers[i];
    if (!needs_batch_first(m, i))
        return;
    distill__to_batch_first(n, l->in_c, l->in_h * l->in_w, act, tmp);
    memcpy(act, tmp, sizeof(float) * (size_t)(n * l->in_dim));
}

/* The gradient of layer i's input (batch-first, in place) back into the
 * layout the layer before it produced. */
void distill__fix_input_grad(const distill_model *m, int64_t i, int64_t n, float *grad, float *tmp)
{
    const nn_layer *l = &m->layers[i];
    if (!needs_batch_first(m, i))
        return;
    distill__to_channel_first(n, l->in_c, l->in_h * l->in_w, grad, tmp);
    memcpy(grad, tmp, sizeof(float) * (size_t)(n * l->in_dim));
}

/* Copy the model's output (the last layer's, in its layout) into rows of y. */
void distill__output_rows(const distill_model *m, int64_t n, const float *out, float *tmp,
                          float *y, int64_t ldy)
{
    const nn_layer *l = &m->layers[m->n_layers - 1];
    int64_t i;
    if (l->cf_out) {
        distill__to_batch_first(n, l->out_c, l->out_h * l->out_w, out, tmp);
        out = tmp;
    }
    for (i = 0; i < n; i++)
        memcpy(y + i * ldy, out + i * l->out_dim, sizeof(float) * (size_t)l->out_dim);
}

/* Rows of dy into the last layer's output layout. */
void distill__output_grad(const distill_model *m, int64_t n, const float *dy, int64_t lddy,
                          float *tmp, float *g)
{
    const nn_layer *l = &m->layers[m->n_layers - 1];
    float *rows = l->cf_out ? tmp : g;
    int64_t i;
    for (i = 0; i < n; i++)
        memcpy(rows + i * l->out_dim, dy + i * lddy, sizeof(float) * (size_t)l->out_dim);
    if (l->cf_out)
        distill__to_channel_first(n, l->out_c, l->out_h * l->out_w, tmp, g);
}
