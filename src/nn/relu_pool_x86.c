/* The fused ReLU + 2x2 average pool's row loops in AVX2 (pool.c keeps the
 * portable loops and calls these when the CPU has AVX2).
 *
 * Why by hand: a 2x2 window reads two columns side by side, and GCC's
 * vectorised stride-2 loops (and its AVX clones of them, which ran slower:
 * docs/performance.md) spend their time interleaving.  Here a row pair is
 * read eight input columns at a time: forward adds neighbouring columns with
 * one horizontal add, backward widens four pooled gradients to eight with
 * two unpacks.  Every float operation is the portable loop's, in its order
 * (a x, then + b; (p0 + p1) + (p2 + p3), then x 0.25), and max(v, 0) is
 * `v > 0 ? v : 0` for every v (NaN and -0 give +0), so the results are the
 * same bits; test_model.c compares the two on every width. */
#include <string.h>

#include "internal.h"

#if DISTILL__X86_VECTORS
#include <immintrin.h>

DISTILL__NO_CONTRACT

#define AVX2 DISTILL__AVX2

/* Lanes [0, k) of a mask (k <= 8), from a ramp of all-ones then zeros. */
static const int32_t ramp[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};

AVX2 static __m256i lanes8(int64_t k) { return _mm256_loadu_si256((const __m256i *)(ramp + 8 - k)); }
AVX2 static __m128i lanes4(int64_t k) { return _mm_loadu_si128((const __m128i *)(ramp + 8 - k)); }

/* max(a x + b, 0) of eight values. */
AVX2 static __m256 rectified(__m256 a, __m256 b, __m256 x)
{
    return _mm256_max_ps(_mm256_add_ps(_mm256_mul_ps(a, x), b), _mm256_setzero_ps());
}

/* Four pooled outputs from eight columns of each row. */
AVX2 static __m128 pool4(__m256 a, __m256 b, __m256 x0, __m256 x1)
{
    /* per 128-bit lane: row 0's two column pairs, then row 1's */
    const __m256 h = _mm256_hadd_ps(rectified(a, b, x0), rectified(a, b, x1));
    const __m256 s = _mm256_add_ps(h, _mm256_permute_ps(h, 0x4E)); /* + the other row's pair */
    const __m256 o = _mm256_mul_ps(_mm256_set1_ps(0.25f), s);
    return _mm_movelh_ps(_mm256_castps256_ps128(o), _mm256_extractf128_ps(o, 1));
}

/* One output row from input rows r0 and r1 (2 ow columns each). */
AVX2 static void pool_row(float a, float b, const float *r0, const float *r1, float *out, int64_t ow)
{
    const __m256 va = _mm256_set1_ps(a), vb = _mm256_set1_ps(b);
    int64_t ox = 0;
    for (; ox + 4 <= ow; ox += 4)
        _mm_storeu_ps(out + ox, pool4(va, vb, _mm256_loadu_ps(r0 + 2 * ox), _mm256_loadu_ps(r1 + 2 * ox)));
    if (ox < ow) { /* masked lanes are neither read nor written */
        const __m256i in = lanes8(2 * (ow - ox));
        _mm_maskstore_ps(out + ox, lanes4(ow - ox),
                         pool4(va, vb, _mm256_maskload_ps(r0 + 2 * ox, in), _mm256_maskload_ps(r1 + 2 * ox, in)));
    }
}

/* Eight gradients of one row: the pooled gradient where max(a x + b) > 0. */
AVX2 static __m256 grad8(__m256 a, __m256 b, __m256 x, __m256 go)
{
    const __m256 v = _mm256_add_ps(_mm256_mul_ps(a, x), b);
    return _mm256_and_ps(_mm256_cmp_ps(v, _mm256_setzero_ps(), _CMP_GT_OQ), go);
}

/* 0.25 g of four outputs, each twice: the window's columns. */
AVX2 static __m256 widened(__m128 g)
{
    const __m128 q = _mm_mul_ps(_mm_set1_ps(0.25f), g);
    return _mm256_insertf128_ps(_mm256_castps128_ps256(_mm_unpacklo_ps(q, q)), _mm_unpackhi_ps(q, q), 1);
}

/* Input rows r0, r1 (2 ow columns each) of the gradient from one row of g. */
AVX2 static void grad_row(float a, float b, const float *x0, const float *x1, const float *g, float *d0,
                          float *d1, int64_t ow)
{
    const __m256 va = _mm256_set1_ps(a), vb = _mm256_set1_ps(b);
    int64_t ox = 0;
    for (; ox + 4 <= ow; ox += 4) {
        const __m256 go = widened(_mm_loadu_ps(g + ox));
        _mm256_storeu_ps(d0 + 2 * ox, grad8(va, vb, _mm256_loadu_ps(x0 + 2 * ox), go));
        _mm256_storeu_ps(d1 + 2 * ox, grad8(va, vb, _mm256_loadu_ps(x1 + 2 * ox), go));
    }
    if (ox < ow) {
        const __m256i in = lanes8(2 * (ow - ox));
        const __m256 go = widened(_mm_maskload_ps(g + ox, lanes4(ow - ox)));
        _mm256_maskstore_ps(d0 + 2 * ox, in, grad8(va, vb, _mm256_maskload_ps(x0 + 2 * ox, in), go));
        _mm256_maskstore_ps(d1 + 2 * ox, in, grad8(va, vb, _mm256_maskload_ps(x1 + 2 * ox, in), go));
    }
}

int distill__affine_relu_pool_planes_avx2(const nn_layer *l, float a, float b, const float *x, float *y,
                                          int64_t lo, int64_t hi)
{
    const int64_t iw = l->in_w, oh = l->out_h, ow = l->out_w, plane = l->in_h * iw;
    int64_t pl, oy;
    if (!distill__cpu_avx2())
        return 0;
    for (pl = lo; pl < hi; pl++)
        for (oy = 0; oy < oh; oy++) {
            const float *r0 = x + pl * plane + 2 * oy * iw;
            pool_row(a, b, r0, r0 + iw, y + pl * oh * ow + oy * ow, ow);
        }
    return 1;
}

int distill__affine_relu_pool_grad_planes_avx2(const nn_layer *l, float a, float b, const float *x,
                                               const float *dy, float *dx, int64_t lo, int64_t hi)
{
    const int64_t iw = l->in_w, ih = l->in_h, oh = l->out_h, ow = l->out_w, plane = ih * iw;
    int64_t pl, oy;
    if (!distill__cpu_avx2())
        return 0;
    for (pl = lo; pl < hi; pl++) {
        float *d = dx + pl * plane;
        const float *xp = x + pl * plane;
        if (2 * ow != iw || 2 * oh != ih) /* a last row or column no window covers */
            memset(d, 0, sizeof(float) * (size_t)plane);
        for (oy = 0; oy < oh; oy++) {
            const int64_t r0 = 2 * oy * iw, r1 = r0 + iw;
            grad_row(a, b, xp + r0, xp + r1, dy + pl * oh * ow + oy * ow, d + r0, d + r1, ow);
        }
    }
    return 1;
}

#else

int distill__affine_relu_pool_planes_avx2(const nn_layer *l, float a, float b, const float *x, float *y,
                                          int64_t lo, int64_t hi)
{
    (void)l, (void)a, (void)b, (void)x, (void)y, (void)lo, (void)hi;
    return 0;
}

int distill__affine_relu_pool_grad_planes_avx2(const nn_layer *l, float a, float b, const float *x,
                                               const float *dy, float *dx, int64_t lo, int64_t hi)
{
    (void)l, (void)a, (void)b, (void)x, (void)dy, (void)dx, (void)lo, (void)hi;
    return 0;
}

#endif
