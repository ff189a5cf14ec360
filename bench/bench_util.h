/* Shared by the benchmarks: a monotonic clock and a median-of-runs timer. */
#ifndef DISTILL_BENCH_UTIL_H
#define DISTILL_BENCH_UTIL_H

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

#endif /* DISTILL_BENCH_UTIL_H */
