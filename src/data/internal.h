/* Private to the data layer: the dataset's layout. */
#ifndef DISTILL_DATA_INTERNAL_H
#define DISTILL_DATA_INTERNAL_H

#include <stdint.h>

#include "../core/internal.h"
#include "distill/data.h"

/* The samples themselves, shared (reference-counted) by a dataset and its
 * subsets. */
typedef struct distill__source {
    int refs;
    int is_backend;
    int64_t n, x_dim, y_dim;
    float *x, *y;          /* memory: rows of ldx / ldy floats */
    int64_t ldx, ldy;
    int owns_arrays;
    distill_backend backend;
    char name[64];
} distill__source;

struct distill_dataset {
    distill_context *ctx;
    distill__source *src;
    int64_t n;             /* samples in this view */
    int64_t *map;          /* view index -> source index; NULL = identity */
    int64_t c, h, w;
    uint64_t stream;       /* RNG stream for shuffles */
    int64_t perm_epoch;    /* epoch of the cached permutation, -1 = none */
    int64_t *perm;
};

/* A dataset owning x (n x x_dim) and y (n x y_dim, may be NULL), both from
 * distill__alloc; on failure they are freed. */
distill_status distill__dataset_adopt(distill_context *ctx, int64_t n, int64_t x_dim, float *x,
                                      int64_t y_dim, float *y, distill_dataset **out);

#endif /* DISTILL_DATA_INTERNAL_H */
