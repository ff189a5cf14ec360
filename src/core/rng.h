/* Private: a sequential reader over one counter-based Philox stream.
 * Word i of stream s under seed k is philox(counter = (i/4, s), key = k)[i%4],
 * so any position can be reached in O(1) and results never depend on how
 * many numbers another handle drew. */
#ifndef DISTILL_CORE_RNG_H
#define DISTILL_CORE_RNG_H

#include <stdint.h>

typedef struct distill__rng {
    uint64_t seed;
    uint64_t stream;
    uint64_t offset; /* index of the next 32-bit word */
} distill__rng;

/* One Philox-4x32-10 block, in place (exposed for the known-answer test). */
void distill__philox4x32_10(uint32_t ctr[4], uint32_t k0, uint32_t k1);
void distill__rng_init(distill__rng *r, uint64_t seed, uint64_t stream, uint64_t offset);
uint32_t distill__rng_word(uint64_t seed, uint64_t stream, uint64_t index);
uint32_t distill__rng_u32(distill__rng *r);
/* Uniform in [0, 1) with 24 random bits. */
float distill__rng_uniform(distill__rng *r);
/* Standard normal (Box-Muller on two fresh words, no cached spare, so the
 * stream position after n draws is always 2n). */
float distill__rng_normal(distill__rng *r);
/* Uniform integer in [0, n), n >= 1, without modulo bias. */
uint64_t distill__rng_below(distill__rng *r, uint64_t n);

/* perm[0..n) = a uniform random permutation of 0..n-1 drawn from `stream`
 * (Fisher-Yates in its inside-out form). */
void distill__rng_permutation(uint64_t seed, uint64_t stream, int64_t n, int64_t *perm);

/* A stream for (purpose, a, b) under `base`, well away from the contexts'
 * sequential handle streams (its top bit is set): solvers derive every
 * draw's stream from their own and the step, so results never depend on
 * how many handles were created before. */
uint64_t distill__rng_derive(uint64_t base, uint64_t purpose, uint64_t a, uint64_t b);

#endif /* DISTILL_CORE_RNG_H */
