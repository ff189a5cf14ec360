#include "workspace.h"

void distill__arena_init(distill__arena *ar, void *base)
{
    /* a caller's buffer need not be aligned: arena_total counted the slack */
    ar->base = base ? (char *)(((uintptr_t)base + DISTILL__ALIGN - 1) & ~(uintptr_t)(DISTILL__ALIGN - 1)) : NULL;
    ar->used = 0;
    ar->overflow = 0;
}

void *distill__arena_take(distill__arena *ar, int64_t count, size_t elem_size)
{
    size_t bytes, start;
    if (ar->overflow || count < 0 || distill__mul_size((size_t)count, elem_size, &bytes) ||
        ar->used > SIZE_MAX - DISTILL__ALIGN) {
        ar->overflow = 1;
        return NULL;
    }
    start = (ar->used + DISTILL__ALIGN - 1) & ~(size_t)(DISTILL__ALIGN - 1);
    if (bytes > SIZE_MAX - start) {
        ar->overflow = 1;
        return NULL;
    }
    ar->used = start + bytes;
    return ar->base ? ar->base + start : NULL;
}

distill_status distill__arena_total(const distill__arena *ar, size_t *bytes)
{
    if (ar->overflow)
        return DISTILL_E_NOMEM;
    /* Room to align a caller's buffer that is not DISTILL__ALIGN-aligned. */
    if (ar->used > SIZE_MAX - DISTILL__ALIGN)
        return DISTILL_E_NOMEM;
    *bytes = ar->used + DISTILL__ALIGN;
    return DISTILL_OK;
}

distill_status distill__ws_acquire(distill_context *ctx, const char *fn, size_t need, void **ws,
                                   size_t ws_bytes, void **owned)
{
    *owned = NULL;
    if (*ws) {
        if (ws_bytes < need)
            return distill__fail(ctx, DISTILL_E_WORKSPACE,
                                 "%s: workspace of %zu bytes is too small, need %zu", fn,
                                 ws_bytes, need);
    } else {
        *owned = distill__alloc(ctx, need);
        if (!*owned)
            return distill__fail(ctx, DISTILL_E_NOMEM, "%s: cannot allocate %zu bytes", fn,
                                 need);
        *ws = *owned;
    }
    return DISTILL_OK;
}

void distill__ws_release(distill_context *ctx, void *owned) { distill__free(ctx, owned); }
