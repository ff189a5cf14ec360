/* Shared by the benchmarks: a monotonic clock and a median-of-runs timer. */
#ifndef DISTILL_BENCH_UTIL_H
#define DISTILL_BENCH_UTIL_H

#include <math.h>
#include <stdlib.h>
#include <time.h>

static inline double bench_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int bench_cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Median wall time of `reps` runs of fn(arg), after one warm-up run. */
static inline double bench_median(void (*fn)(void *), void *arg, int reps)
{
    double t[64];
    int i;
    if (reps > 64)
        reps = 64;
    fn(arg);
    for (i = 0; i < reps; i++) {
        double t0 = bench_now();
        fn(arg);
        t[i] = bench_now() - t0;
    }
    qsort(t, (size_t)reps, sizeof t[0], bench_cmp);
    return t[reps / 2];
}

/* Best (shortest) wall time of `reps` runs: the figure to compare with a
 * peak on a machine shared with other work. */
static inline double bench_best(void (*fn)(void *), void *arg, int reps)
{
    double best = 1e300;
    int i;
    fn(arg);
    for (i = 0; i < reps; i++) {
        double t0 = bench_now(), t;
        fn(arg);
        t = bench_now() - t0;
        best = t < best ? t : best;
    }
    return best;
}

/* A small seeded generator for the benchmarks' synthetic data (splitmix64
 * and Box-Muller): independent of the library's own streams. */
typedef struct bench_rng {
    unsigned long long s;
} bench_rng;

static inline double bench_uniform(bench_rng *r)
{
    unsigned long long z = (r->s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    return ((double)(z >> 11) + 0.5) / 9007199254740992.0;
}

static inline double bench_normal(bench_rng *r)
{
    const double u = bench_uniform(r), v = bench_uniform(r);
    return sqrt(-2.0 * log(u)) * cos(6.283185307179586 * v);
}

#endif /* DISTILL_BENCH_UTIL_H */
