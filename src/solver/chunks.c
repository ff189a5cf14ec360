/* A dataset in chunks (chunks.h). */
#include "chunks.h"

distill_status distill__dataset_chunks(distill_context *ctx, distill_dataset *ds, int64_t chunk,
                                       int want_y, distill__chunk_fn fn, void *user)
{
    const int64_t n = distill_dataset_count(ds), dx = distill_dataset_x_dim(ds);
    const int64_t dy = want_y ? distill_dataset_y_dim(ds) : 0;
    float *x = distill__alloc(ctx, sizeof(float) * (size_t)(chunk * dx));
    float *y = dy > 0 ? distill__alloc(ctx, sizeof(float) * (size_t)(chunk * dy)) : NULL;
    distill_status st = x && (y || dy == 0) ? DISTILL_OK
                                            : distill__fail(ctx, DISTILL_E_NOMEM, "out of memory for a chunk of data");
    int64_t i0;
    for (i0 = 0; st == DISTILL_OK && i0 < n; i0 += chunk) {
        const int64_t b = n - i0 < chunk ? n - i0 : chunk;
        st = distill_dataset_get_range(ds, i0, b, x, dx, y, dy);
        if (st == DISTILL_OK)
            st = fn(user, i0, b, x, y);
    }
    distill__free(ctx, x), distill__free(ctx, y);
    return st;
}
