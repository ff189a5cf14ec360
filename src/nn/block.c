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
           distill__fusable_bn_relu_pool(&l[1], left - 1);
}

/* Threads for a block's chunks: no more than the images, nor than fit
 * (the images whose columns and outputs fill the 4 MiB: with fewer, one
 * image's outgrow a thread's share and the chunks run in turn). */
static int64_t block_ways(const nn_env *e, int64_t n, int64_t fit)
{
    int64_t w = nn_threads(e) < DISTILL__MAX_WAYS ? nn_threads(e) : DISTILL__MAX_WAYS;
    w = w < n ? w : n;
    w = w < fit ? w : fit;
    return w > 1 ? w : 1;
}

/* Floats of a chunk image: its columns and the GEMM's output. */
static int64_t per_image(const nn_layer *conv)
{
    return (distill__conv_rows(conv) + conv->out_c) * conv->out_h * conv->out_w;
}

static int64_t fit_of(const nn_layer *conv) { return DISTILL__CONV_CHUNK_FLOATS / per_image(conv); }

/* Enough for any thread count and any batch up to n (the model keeps the
 * scratch of its largest): `ways` chunks of distill__conv_chunk(conv, n,
 * oc, ways) images hold at most min(fit, n + ways - 1), ways <= min(n, 8). */
int64_t distill__block_scratch(const nn_layer *conv, int64_t n)
{
    const int64_t most = n + (n < DISTILL__MAX_WAYS ? n : DISTILL__MAX_WAYS) - 1, fit = fit_of(conv);
    const int64_t images = fit < most ? fit : most;
    return (images > 1 ? images : 1) * per_image(conv) + conv->out_c * distill__conv_rows(conv) +
           distill__conv_panel_room(conv);
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

typedef struct block_job {
    const nn_env *one; /* one thread when the chunks are shared */
    const nn_layer *l;
    const float *p, *buf, *w, *wp, *x; /* wp: the packed weights, or NULL */
    float *y, *scratch;
    int64_t n, step, ways;
} block_job;

/* Thread t's chunks: columns, GEMM and finish in its own slot of scratch. */
static void block_thread(const block_job *j, int64_t t)
{
    const nn_layer *conv = &j->l[0], *bn = &j->l[1], *pool = &j->l[3];
    const int64_t oc = conv->out_c, hw = conv->out_h * conv->out_w, KB = distill__conv_rows(conv);
    float *cols = j->scratch + t * j->step * per_image(conv), *out = cols + KB * j->step * hw;
    int64_t c, c0, c1;
    distill__chunk_share(j->n, j->step, j->ways, t, &c0, &c1);
    for (c = c0; c < c1; c++) {
        const int64_t i0 = distill__chunk_start(j->n, j->step, c), cn = distill__chunk_images(j->n, j->step, c);
        const int64_t np = cn * hw;
        if (!distill__conv_forward_panels(j->one, conv, j->wp, j->n, i0, cn, j->x, out, np, cols, KB * j->step * hw)) {
            distill__conv_columns(j->one, conv, j->n, i0, cn, j->x, cols);
            nn_gemm(j->one, DISTILL_NO_TRANS, DISTILL_NO_TRANS, oc, np, KB, 1.0f, j->w, KB, cols, np, 0.0f,
                    out, np);
        }
        DISTILL__SPLIT(nn_threads(j->one), oc, lo, hi,
                       finish_channels(bn, j->p + bn->p_off, j->buf + bn->b_off, pool, j->n, i0, cn, out, j->y, lo, hi));
    }
}

/* The chunks go to the threads whole (one-thread GEMMs): one parallel
 * region for the block instead of a fork and barrier per GEMM and per
 * pass, which on a shared 2-core machine cost as much as they split. */
void distill__block_forward(const nn_env *e, const nn_layer *l, const float *p, const float *buf,
                            int64_t n, const float *x, float *y, float *scratch)
{
    const nn_layer *conv = &l[0];
    nn_env one = *e;
    block_job j;
    j.ways = block_ways(e, n, fit_of(conv)), j.step = distill__conv_chunk(conv, n, conv->out_c, j.ways);
    j.w = distill__conv_weights(conv, p + conv->p_off, scratch + j.ways * j.step * per_image(conv));
    j.wp = distill__conv_pack_weights(e, conv, j.w, scratch + j.ways * j.step * per_image(conv) +
                                                        conv->out_c * distill__conv_rows(conv));
    if (j.ways > 1) { /* else the one way's GEMMs and loops use every thread */
        nn_gemm_prepare(e); /* before the threads' GEMMs */
        one.threads = 1;
    }
    j.one = &one, j.l = l, j.p = p, j.buf = buf, j.x = x, j.y = y, j.scratch = scratch, j.n = n;
    DISTILL__SPLIT(j.ways, j.ways, t0, t1, block_thread(&j, t0));
}
