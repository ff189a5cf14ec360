/* The context: allocator, error message, logging, threads, cancel. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "abi.h"
#include "internal.h"

static void *default_alloc(void *user, size_t size, size_t align)
{
    void *p = NULL;
    (void)user;
    if (align < sizeof(void *))
        align = sizeof(void *);
    if (posix_memalign(&p, align, size ? size : 1) != 0)
        return NULL;
    return p;
}

static void default_free(void *user, void *ptr)
{
    (void)user;
    free(ptr);
}

static int32_t online_cpus(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int32_t)(n < DISTILL_MAX_THREADS ? n : DISTILL_MAX_THREADS) : 1;
}

void distill_context_options_init(distill_context_options *opts)
{
    if (!opts)
        return;
    memset(opts, 0, sizeof *opts);
    opts->struct_size = (uint32_t)sizeof *opts;
    opts->log_level = DISTILL_LOG_WARN;
}

size_t distill_context_options_size(void) { return sizeof(distill_context_options); }
size_t distill_allocator_size(void) { return sizeof(distill_allocator); }

/* Copy only the members that fit the caller's struct_size (older callers
 * pass smaller structs); the rest keep their defaults. */
static distill_status read_options(const distill_context_options *in,
                                   distill_context_options *out)
{
    distill_context_options_init(out);
    if (!in)
        return DISTILL_OK;
    return distill__struct_read(NULL, "distill_context_create", "options", in, sizeof *out,
                                sizeof *out, out);
}

static distill_status read_allocator(const distill_allocator *in, distill_allocator *out)
{
    out->struct_size = (uint32_t)sizeof *out;
    out->user = NULL;
    out->alloc = default_alloc;
    out->free = default_free;
    if (!in)
        return DISTILL_OK;
    DISTILL__TRY(distill__struct_read(NULL, "distill_context_create", "allocator", in, sizeof *out,
                                      sizeof *out, out));
    return out->alloc && out->free ? DISTILL_OK : DISTILL_E_INVAL;
}

distill_status distill_context_create(const distill_context_options *opts,
                                      distill_context **out)
{
    distill_context_options o;
    distill_allocator a;
    distill_context *ctx;
    distill_status st;

    if (!out)
        return DISTILL_E_INVAL;
    *out = NULL;
    if ((st = read_options(opts, &o)) != DISTILL_OK)
        return st;
    if (o.threads < 0 || o.threads > DISTILL_MAX_THREADS || o.log_level < DISTILL_LOG_ERROR ||
        (o.flags & ~(uint32_t)DISTILL_CONTEXT_BLIS_AS_IS))
        return DISTILL_E_INVAL;
    if ((st = read_allocator(o.allocator, &a)) != DISTILL_OK)
        return st;
    ctx = a.alloc(a.user, sizeof *ctx, DISTILL__ALIGN);
    if (!ctx)
        return DISTILL_E_NOMEM;
    memset(ctx, 0, sizeof *ctx);
    ctx->allocator = a;
    ctx->seed = o.seed;
    ctx->flags = o.flags;
    ctx->threads = o.threads ? o.threads : online_cpus();
    ctx->log_level = o.log_level;
    ctx->log = o.log;
    ctx->log_user = o.log_user;
    ctx->progress = o.progress;
    ctx->progress_user = o.progress_user;
    ctx->next_stream = (uint64_t)1 << 32;
    *out = ctx;
    return DISTILL_OK;
}

void distill_context_destroy(distill_context *ctx)
{
    if (ctx)
        ctx->allocator.free(ctx->allocator.user, ctx);
}

const char *distill_context_last_error(const distill_context *ctx)
{
    return ctx ? ctx->last_error : "no context";
}

distill_status distill_context_last_status(const distill_context *ctx)
{
    return ctx ? ctx->last_status : DISTILL_E_INVAL;
}

void distill_context_clear_error(distill_context *ctx)
{
    if (ctx) {
        ctx->last_status = DISTILL_OK;
        ctx->last_error[0] = '\0';
    }
}

distill_status distill_context_set_threads(distill_context *ctx, int32_t threads)
{
    if (!ctx)
        return DISTILL_E_INVAL;
    if (threads < 0 || threads > DISTILL_MAX_THREADS)
        return distill__fail(ctx, DISTILL_E_INVAL, "threads must be in [0, %d] (0 = all CPUs), got %d",
                             DISTILL_MAX_THREADS, (int)threads);
    ctx->threads = threads ? threads : online_cpus();
    return DISTILL_OK;
}

int32_t distill_context_threads(const distill_context *ctx) { return ctx ? ctx->threads : 1; }
int32_t distill_context_max_threads(void) { return DISTILL_MAX_THREADS; }

void distill_context_set_seed(distill_context *ctx, uint64_t seed)
{
    if (ctx)
        ctx->seed = seed;
}

uint64_t distill_context_seed(const distill_context *ctx) { return ctx ? ctx->seed : 0; }

void distill_context_set_log(distill_context *ctx, distill_log_fn log, void *user,
                             int32_t level)
{
    if (ctx) {
        ctx->log = log;
        ctx->log_user = user;
        ctx->log_level = level;
    }
}

void distill_context_set_progress(distill_context *ctx, distill_progress_fn progress,
                                  void *user)
{
    if (ctx) {
        ctx->progress = progress;
        ctx->progress_user = user;
    }
}

void distill_context_cancel(distill_context *ctx)
{
    if (ctx)
        ctx->cancel = 1;
}

void distill_context_reset_cancel(distill_context *ctx)
{
    if (ctx)
        ctx->cancel = 0;
}

int distill_context_cancelled(const distill_context *ctx) { return ctx ? ctx->cancel != 0 : 0; }

void *distill__alloc(distill_context *ctx, size_t size)
{
    return ctx->allocator.alloc(ctx->allocator.user, size, DISTILL__ALIGN);
}

void *distill__alloc_zero(distill_context *ctx, int64_t count, size_t elem)
{
    size_t bytes;
    void *p;
    if (count < 1 || distill__mul_size((size_t)count, elem, &bytes))
        return NULL;
    if ((p = distill__alloc(ctx, bytes)))
        memset(p, 0, bytes);
    return p;
}

void distill__free(distill_context *ctx, void *ptr)
{
    if (ptr)
        ctx->allocator.free(ctx->allocator.user, ptr);
}

distill_status distill__fail(distill_context *ctx, distill_status status, const char *fmt, ...)
{
    va_list ap;
    if (!ctx)
        return status;
    va_start(ap, fmt);
    vsnprintf(ctx->last_error, sizeof ctx->last_error, fmt, ap);
    va_end(ap);
    ctx->last_status = status;
    if (ctx->log && ctx->log_level >= DISTILL_LOG_DEBUG)
        ctx->log(ctx->log_user, DISTILL_LOG_DEBUG, ctx->last_error);
    return status;
}

void distill__log(distill_context *ctx, int level, const char *fmt, ...)
{
    char line[DISTILL__ERRLEN];
    va_list ap;
    if (!ctx || !ctx->log || level > ctx->log_level)
        return;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    ctx->log(ctx->log_user, level, line);
}

distill_status distill__progress(distill_context *ctx, const char *stage, int64_t done,
                                 int64_t total)
{
    if (ctx->cancel)
        return distill__fail(ctx, DISTILL_E_CANCELLED, "%s: cancelled at %lld of %lld", stage,
                             (long long)done, (long long)total);
    if (ctx->progress && ctx->progress(ctx->progress_user, stage, done, total) != 0) {
        ctx->cancel = 1;
        return distill__fail(ctx, DISTILL_E_CANCELLED,
                             "%s: cancelled by the progress callback at %lld of %lld", stage,
                             (long long)done, (long long)total);
    }
    return DISTILL_OK;
}

uint64_t distill__new_stream(distill_context *ctx) { return ctx->next_stream++; }

int distill__mul_size(size_t a, size_t b, size_t *out)
{
    if (a != 0 && b > SIZE_MAX / a)
        return -1;
    *out = a * b;
    return 0;
}
