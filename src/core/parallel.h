/* Private: splitting independent work over the context's threads.
 *
 * DISTILL__SPLIT(nt, count, lo, hi, call) runs `call` with [lo, hi) ranges
 * covering [0, count): as nt chunks on OpenMP threads (the pool BLIS already
 * brings; a region costs microseconds) when nt > 1, and as one plain call
 * otherwise, so the single-threaded and inference paths never enter the
 * OpenMP runtime (which may allocate).  Only work whose ranges write
 * disjoint outputs is split, so results never depend on the thread count. */
#ifndef DISTILL_CORE_PARALLEL_H
#define DISTILL_CORE_PARALLEL_H

#include <stdint.h>

#if defined(_OPENMP)
#  define DISTILL__PRAGMA(x) _Pragma(#x)
#else
#  define DISTILL__PRAGMA(x)
#endif

#define DISTILL__SPLIT(nt, count, lo, hi, call)                                              \
    do {                                                                                     \
        const int64_t distill__n = (count), distill__t = (nt) < distill__n ? (nt) : distill__n; \
        if (distill__t > 1) {                                                                \
            int64_t distill__k;                                                              \
            DISTILL__PRAGMA(omp parallel for num_threads(distill__t) schedule(static, 1))    \
            for (distill__k = 0; distill__k < distill__t; distill__k++) {                    \
                const int64_t lo = distill__n * distill__k / distill__t;                     \
                const int64_t hi = distill__n * (distill__k + 1) / distill__t;               \
                (void)lo, (void)hi;                                                          \
                call;                                                                        \
            }                                                                                \
        } else {                                                                             \
            const int64_t lo = 0, hi = distill__n;                                           \
            (void)lo, (void)hi;                                                              \
            call;                                                                            \
        }                                                                                    \
    } while (0)

#endif /* DISTILL_CORE_PARALLEL_H */
