/* A convolution, batch norm, ReLU and 2x2 average pool in eval mode as one
 * pass, for forwards no backward follows (distill__model_predict): features
 * of a real batch, a teacher's targets, a probe's inputs.
 *
 * Layer by layer, the convolution writes its whole output, batch norm reads
 * and writes it again and the pool reads it once more: the largest arrays
 * of a ConvNet's eval forward, crossing memory three times (a quarter of
 * ConvNet-3's eval forward at 1024 images).  Here each chunk of images goes
 * from its columns through the GEMM into a buffer that stays in cache, and
 * leaves it normalised, rectified and pooled.  The arithmetic is the
 * layers' own, in their order, so the output is the same bits. */
#include "internal.h"

int distill__fusable_block(const nn_layer *l, int64_t left)
{
    return left >= 4 && l[0].spec.kind == DISTILL_LAYER_CONV2D && l[0].cf_out &&
           l[1].spec.kind == DISTILL_LAYER_BATCHNORM && distill__fusable_relu_pool(&l[2], &l[3]);
}

/* Images per chunk: the columns and the GEMM's output share the 4 MiB. */
static int64_t block_chunk(const nn_layer *conv, int64_t n)
{
    return distill__conv_chunk(conv, n, conv->out_c);
}

int64_t distill__block_scratch(const nn_layer *conv, int64_t n)
{
    const int64_t KB = distill__conv_rows(conv), hw = conv->out_h * conv->out_w;
    return (KB + conv->out_c) * block_chunk(conv, n) * hw + conv->out_c * KB;
}

/* Channels [lo, hi) of a chunk of cn images: t holds them channel by
 * channel (oc x cn planes), y the batch's pooled output, channel-first. */
static void finish_channels(const nn_layer *bn, const float *pbn, const float *bufbn,
                            const nn_layer *pool, int64_t n, int64_t i0, int64_t cn, const float *t,
                            float *y, int64_t lo, int64_t hi)
{
    const int64_t hw = pool->in_h * pool->in_w, ohw = pool->out_h * pool->out_w;
    int64_t c;
    for (c = lo; c < hi; c++) {
        float a, b;
        distill__bn_eval_affine(bn, pbn, bufbn, c, &a, &b);
        distill__affine_relu_pool_planes(pool, a, b, t + c * cn * hw, y + (c * n + i0) * ohw, 0, cn);
    }
}

void distill__block_forward(const nn_env *e, const nn_layer *l, const float *p, const float *buf,
                            int64_t n, const float *x, float *y, float *scratch)
{
    const nn_layer *conv = &l[0], *bn = &l[1], *pool = &l[3];
    const int64_t oc = conv->out_c, hw = conv->out_h * conv->out_w, KB = distill__conv_rows(conv);
    const int64_t step = block_chunk(conv, n);
    float *cols = scratch, *t = cols + KB * step * hw;
    const float *w = distill__conv_weights(conv, p + conv->p_off, t + oc * step * hw);
    int64_t i0;
    for (i0 = 0; i0 < n; i0 += step) {
        const int64_t cn = n - i0 < step ? n - i0 : step, np = cn * hw;
        distill__conv_columns(e, conv, n, i0, cn, x, cols);
        nn_gemm(e, DISTILL_NO_TRANS, DISTILL_NO_TRANS, oc, np, KB, 1.0f, w, KB, cols, np, 0.0f, t, np);
        DISTILL__SPLIT(nn_threads(e), oc, lo, hi,
                       finish_channels(bn, p + bn->p_off, buf + bn->b_off, pool, n, i0, cn, t, y, lo, hi));
    }
}
