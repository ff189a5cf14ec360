/* libdistill: the context.
 *
 * A distill_context owns everything that would otherwise be global: the
 * allocator, the RNG seed, the thread count handed to BLIS per call, the
 * log and progress callbacks, the cancel flag and the last error message.
 * Every other handle is created from a context.
 *
 * THREAD SAFETY: a context and the handles made from it are used by one
 * thread at a time.  distill_context_cancel() is the exception: it may be
 * called from any thread (or a signal handler) at any time.
 *
 * BLIS's sub-configuration: before the process's first BLIS call, unless
 * BLIS_ARCH_TYPE is set or the context that makes that call has
 * DISTILL_CONTEXT_BLIS_AS_IS, the library picks the best sub-configuration
 * for this CPU (Debian's BLIS 0.9 falls back to slow kernels here) by
 * setting BLIS_ARCH_TYPE while BLIS initialises and removing it right
 * after: the host's environment and its child processes are left as they
 * were.  setenv/unsetenv are not safe against other threads reading the
 * environment at that moment; such a host sets BLIS_ARCH_TYPE itself, or
 * the flag, or makes its first libdistill call before starting them.  The
 * choice is logged (INFO) and reported by distill_context_blis_arch(). */
#ifndef DISTILL_CORE_H
#define DISTILL_CORE_H

#include <stddef.h>
#include <stdint.h>

#include "export.h"
#include "status.h"

DISTILL_BEGIN_DECLS

typedef struct distill_context distill_context;

/* Allocator hooks.  alloc returns memory aligned to at least `align` bytes
 * (a power of two, at most 4096) or NULL; free accepts what alloc returned.
 * The library copies this struct; the functions are called from the thread
 * that uses the context. */
typedef struct distill_allocator {
    uint32_t struct_size; /* sizeof(distill_allocator) */
    void *user;
    void *(*alloc)(void *user, size_t size, size_t align);
    void (*free)(void *user, void *ptr);
} distill_allocator;

DISTILL_API size_t distill_allocator_size(void);

enum {
    DISTILL_LOG_ERROR = 0,
    DISTILL_LOG_WARN  = 1,
    DISTILL_LOG_INFO  = 2,
    DISTILL_LOG_DEBUG = 3
};

/* Called with one complete line (no trailing newline).  The string is only
 * valid during the call. */
typedef void (*distill_log_fn)(void *user, int level, const char *message);

/* Called by long-running calls.  `stage` names the phase; done <= total.
 * Return 0 to go on, non-zero to cancel (the call then returns
 * DISTILL_E_CANCELLED). */
typedef int (*distill_progress_fn)(void *user, const char *stage, int64_t done,
                                   int64_t total);

/* The most threads a context takes (more is DISTILL_E_INVAL: BLIS's OpenMP
 * runtime crashed at 100000, and far more threads than cores only wait on
 * each other).  Function twin: distill_context_max_threads(). */
enum { DISTILL_MAX_THREADS = 256 };
DISTILL_API int32_t distill_context_max_threads(void);

/* Context flags. */
enum {
    /* Leave BLIS's sub-configuration to BLIS (see THREAD SAFETY above). */
    DISTILL_CONTEXT_BLIS_AS_IS = 1
};

typedef struct distill_context_options {
    uint32_t struct_size;      /* sizeof(distill_context_options) */
    uint32_t flags;            /* DISTILL_CONTEXT_* (0) */
    uint64_t seed;             /* RNG seed (default 0) */
    int32_t threads;           /* threads per call, 0..DISTILL_MAX_THREADS; 0 = online CPUs (default) */
    int32_t log_level;         /* most verbose level passed to log (default WARN) */
    const distill_allocator *allocator; /* NULL = malloc/free */
    distill_log_fn log;        /* NULL = silent */
    void *log_user;
    distill_progress_fn progress; /* NULL = none */
    void *progress_user;
} distill_context_options;

/* Fill `opts` with the defaults.  Safe on uninitialised memory. */
DISTILL_API void distill_context_options_init(distill_context_options *opts);
DISTILL_API size_t distill_context_options_size(void);

/* opts may be NULL for defaults. */
DISTILL_API DISTILL_NODISCARD distill_status
distill_context_create(const distill_context_options *opts, distill_context **out);
/* NULL-safe. */
DISTILL_API void distill_context_destroy(distill_context *ctx);

/* The message of the last failure on this context ("" if none).  Owned by
 * the context; valid until the next call on it. */
DISTILL_API const char *distill_context_last_error(const distill_context *ctx);
DISTILL_API distill_status distill_context_last_status(const distill_context *ctx);
DISTILL_API void distill_context_clear_error(distill_context *ctx);

DISTILL_API DISTILL_NODISCARD distill_status
distill_context_set_threads(distill_context *ctx, int32_t threads);
/* The effective thread count (never 0). */
DISTILL_API int32_t distill_context_threads(const distill_context *ctx);
DISTILL_API void distill_context_set_seed(distill_context *ctx, uint64_t seed);
DISTILL_API uint64_t distill_context_seed(const distill_context *ctx);
DISTILL_API void distill_context_set_log(distill_context *ctx, distill_log_fn log,
                                         void *user, int32_t level);
DISTILL_API void distill_context_set_progress(distill_context *ctx,
                                              distill_progress_fn progress, void *user);

/* Ask running and later calls on ctx to stop with DISTILL_E_CANCELLED.
 * Async-signal-safe.  The flag stays raised until reset.
 *
 * What it stops: the calls that report progress, at their next report:
 * distill_krrst_run and distill_kd_run between steps (and before the first),
 * the teacher passes inside distill_krrst_create and distill_kd_create,
 * KRR-ST's pool warm-up, distill_barlow_twins_train, the transfer protocol
 * and distill_kd_grid_search.  What it does not: one step
 * (distill_krrst_step, distill_kd_step), the kernels, forward and backward
 * passes and inference run to their end, so a host that cancels from a
 * signal handler waits at most one step.  A cancelled run leaves its solver
 * as the last completed step left it. */
DISTILL_API void distill_context_cancel(distill_context *ctx);
DISTILL_API void distill_context_reset_cancel(distill_context *ctx);
DISTILL_API int distill_context_cancelled(const distill_context *ctx);

/* Counter-based random numbers (Philox-4x32-10).  Element i of stream s is
 * a pure function of (seed, s, i): the same seed, stream and offset give the
 * same numbers whatever happened before, on any thread.  Each handle draws
 * from its own stream; streams below 2^32 are free for the host. */
DISTILL_API DISTILL_NODISCARD distill_status
distill_random_uniform(distill_context *ctx, uint64_t stream, uint64_t offset,
                       int64_t n, float lo, float hi, float *out);
DISTILL_API DISTILL_NODISCARD distill_status
distill_random_normal(distill_context *ctx, uint64_t stream, uint64_t offset,
                      int64_t n, float mean, float std, float *out);
/* 32 random bits: element `offset` of stream `stream`. */
DISTILL_API uint32_t distill_random_bits(const distill_context *ctx, uint64_t stream,
                                         uint64_t offset);

DISTILL_END_DECLS

#endif /* DISTILL_CORE_H */
