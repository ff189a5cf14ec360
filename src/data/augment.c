/* Image augmentations on batches, in place, reproducible from (stream,
 * offset): random crop with zero padding, horizontal flip, Gaussian noise,
 * per-channel normalisation; block-mean downsampling. */
#include <math.h>
#include <string.h>

#include "../core/check.h"
#include "../core/rng.h"
#include "augment.h"
#include "internal.h"

static distill_status check_images(distill_context *ctx, const char *fn, int64_t n, int64_t c,
                                   int64_t h, int64_t w, const float *x)
{
    if (!ctx)
        return DISTILL_E_INVAL;
    if (n < 1 || c < 1 || h < 1 || w < 1)
        return distill__fail(ctx, DISTILL_E_INVAL, "%s: n, c, h, w must be >= 1", fn);
    return distill__check_matrix(ctx, fn, "x", x, n, c * h * w, c * h * w);
}

/* Each image shifted by its drawn (dy, dx) times sign, zeros shifted in:
 * sign 1 is the crop; sign -1, with the same draws, its adjoint. */
static distill_status crop_shift(distill_context *ctx, const char *fn, uint64_t stream, uint64_t offset,
                                 int64_t n, int64_t c, int64_t h, int64_t w, int64_t pad, int sign, float *x)
{
    const int64_t img = c * h * w;
    distill__rng r;
    float *tmp;
    int64_t i, ch, yy, xx;
    DISTILL__TRY(check_images(ctx, fn, n, c, h, w, x));
    if (pad < 0 || pad > h || pad > w)
        return distill__fail(ctx, DISTILL_E_INVAL, "%s: pad must be in [0, min(h, w)]", fn);
    if (pad == 0)
        return DISTILL_OK;
    tmp = distill__alloc(ctx, sizeof(float) * (size_t)img);
    if (!tmp)
        return distill__fail(ctx, DISTILL_E_NOMEM, "%s: out of memory", fn);
    distill__rng_init(&r, ctx->seed, stream, offset);
    for (i = 0; i < n; i++) {
        /* window origin in the padded image, shifted back to the original */
        const int64_t dy = sign * ((int64_t)distill__rng_below(&r, (uint64_t)(2 * pad + 1)) - pad);
        const int64_t dx = sign * ((int64_t)distill__rng_below(&r, (uint64_t)(2 * pad + 1)) - pad);
        float *im = x + i * img;
        memcpy(tmp, im, sizeof(float) * (size_t)img);
        for (ch = 0; ch < c; ch++)
            for (yy = 0; yy < h; yy++)
                for (xx = 0; xx < w; xx++) {
                    const int64_t sy = yy + dy, sx = xx + dx;
                    im[(ch * h + yy) * w + xx] = sy >= 0 && sy < h && sx >= 0 && sx < w
                                                     ? tmp[(ch * h + sy) * w + sx]
                                                     : 0.0f;
                }
    }
    distill__free(ctx, tmp);
    return DISTILL_OK;
}

distill_status distill_augment_crop(distill_context *ctx, uint64_t stream, uint64_t offset,
                                    int64_t n, int64_t c, int64_t h, int64_t w, int64_t pad,
                                    float *x)
{
    return crop_shift(ctx, "distill_augment_crop", stream, offset, n, c, h, w, pad, 1, x);
}

distill_status distill__augment_crop_adjoint(distill_context *ctx, uint64_t stream, uint64_t offset,
                                             int64_t n, int64_t c, int64_t h, int64_t w, int64_t pad,
                                             float *g)
{
    return crop_shift(ctx, "distill_augment_crop (adjoint)", stream, offset, n, c, h, w, pad, -1, g);
}

distill_status distill_augment_flip(distill_context *ctx, uint64_t stream, uint64_t offset,
                                    int64_t n, int64_t c, int64_t h, int64_t w, float p,
                                    float *x)
{
    static const char fn[] = "distill_augment_flip";
    distill__rng r;
    int64_t i, row, xx;
    DISTILL__TRY(check_images(ctx, fn, n, c, h, w, x));
    if (!(p >= 0.0f && p <= 1.0f))
        return distill__fail(ctx, DISTILL_E_INVAL, "%s: p must be in [0, 1]", fn);
    distill__rng_init(&r, ctx->seed, stream, offset);
    for (i = 0; i < n; i++) {
        if (!(distill__rng_uniform(&r) < p))
            continue;
        for (row = 0; row < c * h; row++) {
            float *line = x + i * c * h * w + row * w;
            for (xx = 0; xx < w / 2; xx++) {
                float t = line[xx];
                line[xx] = line[w - 1 - xx];
                line[w - 1 - xx] = t;
            }
        }
    }
    return DISTILL_OK;
}

distill_status distill_augment_noise(distill_context *ctx, uint64_t stream, uint64_t offset,
                                     int64_t n, int64_t dim, float std, float *x)
{
    static const char fn[] = "distill_augment_noise";
    distill__rng r;
    int64_t i;
    DISTILL__TRY(check_images(ctx, fn, n, dim, 1, 1, x));
    if (!(std >= 0.0f) || !isfinite(std))
        return distill__fail(ctx, DISTILL_E_INVAL, "%s: std must be finite and >= 0", fn);
    distill__rng_init(&r, ctx->seed, stream, 2 * offset);
    for (i = 0; i < n * dim; i++)
        x[i] += std * distill__rng_normal(&r);
    return DISTILL_OK;
}

distill_status distill_augment_normalize(distill_context *ctx, int64_t n, int64_t c, int64_t h,
                                         int64_t w, const float *mean, const float *std,
                                         float *x)
{
    static const char fn[] = "distill_augment_normalize";
    int64_t i, ch, j;
    DISTILL__TRY(check_images(ctx, fn, n, c, h, w, x));
    if (!mean || !std)
        return distill__fail(ctx, DISTILL_E_INVAL, "%s: mean and std are required", fn);
    for (ch = 0; ch < c; ch++)
        if (!(std[ch] > 0.0f) || !isfinite(std[ch]) || !isfinite(mean[ch]))
            return distill__fail(ctx, DISTILL_E_INVAL, "%s: channel %lld needs finite mean and std > 0",
                                 fn, (long long)ch);
    for (i = 0; i < n; i++)
        for (ch = 0; ch < c; ch++) {
            float *plane = x + (i * c + ch) * h * w;
            const float m = mean[ch], inv = 1.0f / std[ch];
            for (j = 0; j < h * w; j++)
                plane[j] = (plane[j] - m) * inv;
        }
    return DISTILL_OK;
}

distill_status distill_image_block_mean(distill_context *ctx, int64_t n, int64_t c, int64_t h,
                                        int64_t w, int64_t block, const float *x, float *out)
{
    static const char fn[] = "distill_image_block_mean";
    int64_t i, ch, by, bx, yy, xx, oh, ow;
    DISTILL__TRY(check_images(ctx, fn, n, c, h, w, x));
    if (block < 1 || h % block || w % block)
        return distill__fail(ctx, DISTILL_E_SHAPE, "%s: block %lld does not divide %lld x %lld", fn,
                             (long long)block, (long long)h, (long long)w);
    oh = h / block, ow = w / block;
    DISTILL__TRY(distill__check_matrix(ctx, fn, "out", out, n, c * oh * ow, c * oh * ow));
    for (i = 0; i < n; i++)
        for (ch = 0; ch < c; ch++) {
            const float *plane = x + (i * c + ch) * h * w;
            float *o = out + (i * c + ch) * oh * ow;
            for (by = 0; by < oh; by++)
                for (bx = 0; bx < ow; bx++) {
                    double s = 0.0;
                    for (yy = 0; yy < block; yy++)
                        for (xx = 0; xx < block; xx++)
                            s += plane[(by * block + yy) * w + bx * block + xx];
                    o[by * ow + bx] = (float)(s / (double)(block * block));
                }
        }
    return DISTILL_OK;
}
