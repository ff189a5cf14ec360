/* Philox-4x32-10 (Salmon et al., SC'11) and the public random fillers. */
#include <math.h>

#include "internal.h"
#include "rng.h"

#define PHILOX_M0 0xD2511F53u
#define PHILOX_M1 0xCD9E8D57u
#define PHILOX_W0 0x9E3779B9u
#define PHILOX_W1 0xBB67AE85u

void distill__philox4x32_10(uint32_t ctr[4], uint32_t k0, uint32_t k1)
{
    int round;
    for (round = 0; round < 10; round++) {
        uint64_t p0 = (uint64_t)PHILOX_M0 * ctr[0];
        uint64_t p1 = (uint64_t)PHILOX_M1 * ctr[2];
        uint32_t c0 = (uint32_t)(p1 >> 32) ^ ctr[1] ^ k0;
        uint32_t c2 = (uint32_t)(p0 >> 32) ^ ctr[3] ^ k1;
        ctr[1] = (uint32_t)p1;
        ctr[3] = (uint32_t)p0;
        ctr[0] = c0;
        ctr[2] = c2;
        k0 += PHILOX_W0;
        k1 += PHILOX_W1;
    }
}

uint32_t distill__rng_word(uint64_t seed, uint64_t stream, uint64_t index)
{
    uint64_t block = index >> 2;
    uint32_t ctr[4];
    ctr[0] = (uint32_t)block;
    ctr[1] = (uint32_t)(block >> 32);
    ctr[2] = (uint32_t)stream;
    ctr[3] = (uint32_t)(stream >> 32);
    distill__philox4x32_10(ctr, (uint32_t)seed, (uint32_t)(seed >> 32));
    return ctr[index & 3];
}

void distill__rng_init(distill__rng *r, uint64_t seed, uint64_t stream, uint64_t offset)
{
    r->seed = seed;
    r->stream = stream;
    r->offset = offset;
}

uint32_t distill__rng_u32(distill__rng *r)
{
    return distill__rng_word(r->seed, r->stream, r->offset++);
}

float distill__rng_uniform(distill__rng *r)
{
    return (float)(distill__rng_u32(r) >> 8) * (1.0f / 16777216.0f);
}

float distill__rng_normal(distill__rng *r)
{
    /* u1 in (0, 1] keeps the log finite. */
    double u1 = ((double)(distill__rng_u32(r) >> 8) + 1.0) * (1.0 / 16777216.0);
    double u2 = (double)(distill__rng_u32(r) >> 8) * (1.0 / 16777216.0);
    return (float)(sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
}

uint64_t distill__rng_below(distill__rng *r, uint64_t n)
{
    /* Rejection on 64-bit draws: accept below the largest multiple of n. */
    uint64_t limit = UINT64_MAX - UINT64_MAX % n;
    for (;;) {
        uint64_t x = ((uint64_t)distill__rng_u32(r) << 32) | distill__rng_u32(r);
        if (x < limit)
            return x % n;
    }
}

uint32_t distill_random_bits(const distill_context *ctx, uint64_t stream, uint64_t offset)
{
    return distill__rng_word(ctx ? ctx->seed : 0, stream, offset);
}

/* Both fillers: validate, then draw element by element from one stream.
 * Normal j uses words 2j and 2j + 1, so `offset` counts numbers either way. */
static distill_status fill(distill_context *ctx, int normal, uint64_t stream, uint64_t offset,
                           int64_t n, float a, float b, float *out)
{
    const char *fn = normal ? "distill_random_normal" : "distill_random_uniform";
    distill__rng r;
    int64_t i;
    if (!ctx)
        return DISTILL_E_INVAL;
    if (n < 0 || (n > 0 && !out))
        return distill__fail(ctx, DISTILL_E_INVAL, "%s: need n >= 0 and an output buffer", fn);
    if (!isfinite(a) || !isfinite(b) || (normal ? !(b >= 0) : !(a <= b)))
        return distill__fail(ctx, DISTILL_E_INVAL, "%s: need finite %s", fn,
                             normal ? "mean and std >= 0" : "lo <= hi");
    distill__rng_init(&r, ctx->seed, stream, normal ? 2 * offset : offset);
    for (i = 0; i < n; i++)
        out[i] = normal ? a + b * distill__rng_normal(&r) : a + (b - a) * distill__rng_uniform(&r);
    return DISTILL_OK;
}

distill_status distill_random_uniform(distill_context *ctx, uint64_t stream, uint64_t offset,
                                      int64_t n, float lo, float hi, float *out)
{
    return fill(ctx, 0, stream, offset, n, lo, hi, out);
}

distill_status distill_random_normal(distill_context *ctx, uint64_t stream, uint64_t offset,
                                     int64_t n, float mean, float std, float *out)
{
    return fill(ctx, 1, stream, offset, n, mean, std, out);
}

uint64_t distill__rng_derive(uint64_t base, uint64_t purpose, uint64_t a, uint64_t b)
{
    /* splitmix64 over the four words */
    uint64_t z = base * 0x9E3779B97F4A7C15ull ^ purpose * 0xBF58476D1CE4E5B9ull;
    z ^= (a + 0x632BE59BD9B4E019ull) * 0x94D049BB133111EBull;
    z ^= (b + 0x85EBCA77C2B2AE63ull) * 0xC2B2AE3D27D4EB4Full;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return (z ^ (z >> 31)) | (1ull << 63);
}

void distill__rng_permutation(uint64_t seed, uint64_t stream, int64_t n, int64_t *perm)
{
    distill__rng r;
    int64_t i;
    distill__rng_init(&r, seed, stream, 0);
    for (i = 0; i < n; i++) {
        const int64_t j = (int64_t)distill__rng_below(&r, (uint64_t)(i + 1));
        perm[i] = perm[j], perm[j] = i;
    }
}
