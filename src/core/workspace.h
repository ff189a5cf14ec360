/* Private: carving a caller's workspace into aligned pieces.
 *
 * The same layout code answers the *_workspace_size() query and carves the
 * real buffer: run it on an arena with base == NULL to count bytes, then on
 * the buffer to take the pieces, so the two can never disagree. */
#ifndef DISTILL_CORE_WORKSPACE_H
#define DISTILL_CORE_WORKSPACE_H

#include <stddef.h>
#include <stdint.h>

#include "internal.h"

typedef struct distill__arena {
    char *base;   /* NULL: only count */
    size_t used;
    int overflow; /* a request overflowed size_t */
} distill__arena;

/* base: the buffer to carve (aligned up to DISTILL__ALIGN first: the
 * total below counts that slack), or NULL to count only. */
void distill__arena_init(distill__arena *ar, void *base);
/* count elements of elem_size bytes, aligned to DISTILL__ALIGN; NULL when
 * counting or on overflow. */
void *distill__arena_take(distill__arena *ar, int64_t count, size_t elem_size);
/* Bytes the layout needs, or DISTILL_E_NOMEM on overflow. */
distill_status distill__arena_total(const distill__arena *ar, size_t *bytes);

/* Use the caller's workspace if given (checking its size), else allocate
 * `need` bytes through the context; *owned is what to release. */
distill_status distill__ws_acquire(distill_context *ctx, const char *fn, size_t need, void **ws,
                                   size_t ws_bytes, void **owned);
void distill__ws_release(distill_context *ctx, void *owned);

#endif /* DISTILL_CORE_WORKSPACE_H */
