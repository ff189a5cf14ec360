/* Batch norm's plane sums in AVX2 (norm.c keeps the portable loops and
 * calls this when the CPU has AVX2).
 *
 * Each plane's sums must stay one chain of adds in position order (the
 * portable loop's bits), so the vector's lanes are planes, not positions:
 * eight positions of eight planes are loaded as rows and transposed, and
 * each transposed row adds one position to all eight chains at once.  The
 * portable loop runs four scalar chains side by side and is bound by the
 * adds' latency; this runs 2.5-5x faster on ConvNet-3's planes. */
#include "internal.h"

#if DISTILL__X86_VECTORS
#include <immintrin.h>

DISTILL__NO_CONTRACT

#define AVX2 DISTILL__AVX2

/* r[k][j] becomes r[j][k] for an 8 x 8 block. */
AVX2 static void transpose8(__m256 r[8])
{
    const __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]);
    const __m256 t2 = _mm256_unpacklo_ps(r[2], r[3]), t3 = _mm256_unpackhi_ps(r[2], r[3]);
    const __m256 t4 = _mm256_unpacklo_ps(r[4], r[5]), t5 = _mm256_unpackhi_ps(r[4], r[5]);
    const __m256 t6 = _mm256_unpacklo_ps(r[6], r[7]), t7 = _mm256_unpackhi_ps(r[6], r[7]);
    const __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xEE);
    const __m256 u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xEE);
    const __m256 u4 = _mm256_shuffle_ps(t4, t6, 0x44), u5 = _mm256_shuffle_ps(t4, t6, 0xEE);
    const __m256 u6 = _mm256_shuffle_ps(t5, t7, 0x44), u7 = _mm256_shuffle_ps(t5, t7, 0xEE);
    r[0] = _mm256_permute2f128_ps(u0, u4, 0x20), r[1] = _mm256_permute2f128_ps(u1, u5, 0x20);
    r[2] = _mm256_permute2f128_ps(u2, u6, 0x20), r[3] = _mm256_permute2f128_ps(u3, u7, 0x20);
    r[4] = _mm256_permute2f128_ps(u0, u4, 0x31), r[5] = _mm256_permute2f128_ps(u1, u5, 0x31);
    r[6] = _mm256_permute2f128_ps(u2, u6, 0x31), r[7] = _mm256_permute2f128_ps(u3, u7, 0x31);
}

/* Positions [j, j + 8) of the eight planes, transposed: t[q] holds position
 * j + q of every plane. */
AVX2 static void positions8(const float *const p[8], int64_t j, __m256 t[8])
{
    int k;
    for (k = 0; k < 8; k++)
        t[k] = _mm256_loadu_ps(p[k] + j);
    transpose8(t);
}

AVX2 static void sums8(const float *const xp[8], const float *const gp[8], int64_t hw, float mean, float s1[8],
                       float s2[8])
{
    __m256 a1 = _mm256_setzero_ps(), a2 = _mm256_setzero_ps();
    const __m256 vm = _mm256_set1_ps(mean);
    int64_t j = 0;
    int k;
    for (; j + 8 <= hw; j += 8) {
        __m256 x[8], g[8];
        positions8(xp, j, x);
        if (!gp)
            for (k = 0; k < 8; k++)
                a1 = _mm256_add_ps(a1, x[k]), a2 = _mm256_add_ps(a2, _mm256_mul_ps(x[k], x[k]));
        else {
            positions8(gp, j, g);
            for (k = 0; k < 8; k++)
                a1 = _mm256_add_ps(a1, g[k]), a2 = _mm256_add_ps(a2, _mm256_mul_ps(g[k], _mm256_sub_ps(x[k], vm)));
        }
    }
    _mm256_storeu_ps(s1, a1);
    _mm256_storeu_ps(s2, a2);
    for (; j < hw; j++) /* the chains go on in order */
        for (k = 0; k < 8; k++)
            if (!gp)
                s1[k] += xp[k][j], s2[k] += xp[k][j] * xp[k][j];
            else
                s1[k] += gp[k][j], s2[k] += gp[k][j] * (xp[k][j] - mean);
}

int distill__plane_sums8_avx2(const float *const xp[8], const float *const gp[8], int64_t hw, float mean,
                              float s1[8], float s2[8])
{
    if (!distill__cpu_avx2())
        return 0;
    sums8(xp, gp, hw, mean, s1, s2);
    return 1;
}

#else

int distill__plane_sums8_avx2(const float *const xp[8], const float *const gp[8], int64_t hw, float mean,
                              float s1[8], float s2[8])
{
    (void)xp, (void)gp, (void)hw, (void)mean, (void)s1, (void)s2;
    return 0;
}

#endif
