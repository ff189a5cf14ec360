/* Private to libdistill: the context's layout and the helpers every layer
 * uses to allocate, fail with a message, log, and check sizes. */
#ifndef DISTILL_CORE_INTERNAL_H
#define DISTILL_CORE_INTERNAL_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "distill/core.h"

#if defined(__GNUC__)
#  define DISTILL__PRINTF(f, a) __attribute__((format(printf, f, a)))
#  define DISTILL__HIDDEN __attribute__((visibility("hidden")))
#else
#  define DISTILL__PRINTF(f, a)
#  define DISTILL__HIDDEN
#endif

#define DISTILL__ALIGN 64
#define DISTILL__ERRLEN 512

struct distill_context {
    distill_allocator allocator;
    uint64_t seed;
    uint32_t flags;           /* DISTILL_CONTEXT_* */
    int32_t threads;          /* effective, >= 1 */
    int32_t log_level;
    distill_log_fn log;
    void *log_user;
    distill_progress_fn progress;
    void *progress_user;
    volatile sig_atomic_t cancel;
    distill_status last_status;
    uint64_t next_stream;     /* handle streams start at 2^32 */
    uint32_t notices;         /* one-time log notices already given */
    double max_jitter;        /* largest relative Cholesky jitter since the last reset */
    double jitter_limit;      /* above it a factorisation fails; 0 = any */
    char last_error[DISTILL__ERRLEN];
};

/* Allocation through the context's hooks, DISTILL__ALIGN-aligned. */
void *distill__alloc(distill_context *ctx, size_t size);
void distill__free(distill_context *ctx, void *ptr);
/* count x elem zeroed bytes (count >= 1; NULL on overflow or failure):
 * what a handle's setup wants, so that a teardown after a partial setup
 * frees only NULLs. */
void *distill__alloc_zero(distill_context *ctx, int64_t count, size_t elem);

/* Record `status` and a formatted message on ctx; returns status, so a
 * failing path reads `return distill__fail(ctx, DISTILL_E_SHAPE, ...)`. */
distill_status distill__fail(distill_context *ctx, distill_status status,
                             const char *fmt, ...) DISTILL__PRINTF(3, 4);
void distill__log(distill_context *ctx, int level, const char *fmt, ...)
    DISTILL__PRINTF(3, 4);

/* Report progress and poll the cancel flag. */
distill_status distill__progress(distill_context *ctx, const char *stage,
                                 int64_t done, int64_t total);

/* A fresh RNG stream id for a new handle (>= 2^32). */
uint64_t distill__new_stream(distill_context *ctx);

/* a*b into *out; 0 on success, -1 on overflow. */
int distill__mul_size(size_t a, size_t b, size_t *out);

/* Return the status of `expr` if it is not DISTILL_OK. */
#define DISTILL__TRY(expr)                                                                   \
    do {                                                                                     \
        distill_status distill__st = (expr);                                                 \
        if (distill__st != DISTILL_OK)                                                       \
            return distill__st;                                                              \
    } while (0)

/* An experimental entry point that 0.1 exported as stable: its default
 * version is the experimental node DISTILL_EXPERIMENTAL_0.2, and an alias
 * keeps name@DISTILL_0.1 for programs linked against 0.1 (both nodes list
 * it in lib/libdistill.map).  Use at file scope after name's definition. */
#if defined(__GNUC__) && defined(__ELF__)
#  define DISTILL__EXPERIMENTAL_SINCE_0_1(name)                                                 \
    extern __typeof__(name) name##__v0_1 __attribute__((alias(#name), visibility("default"))); \
    __asm__(".symver " #name "__v0_1, " #name "@DISTILL_0.1");                                 \
    __asm__(".symver " #name ", " #name "@@@DISTILL_EXPERIMENTAL_0.2")
#else
#  define DISTILL__EXPERIMENTAL_SINCE_0_1(name) extern int distill__experimental_unused
#endif

#endif /* DISTILL_CORE_INTERNAL_H */
