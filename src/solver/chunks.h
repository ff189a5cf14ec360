/* Private: going through a whole dataset in chunks, for the solvers'
 * passes over real data (teacher targets, features, labels). */
#ifndef DISTILL_SOLVER_CHUNKS_H
#define DISTILL_SOLVER_CHUNKS_H

#include "../core/internal.h"
#include "distill/data.h"

/* Called with the samples [i0, i0 + n): x (n x x_dim) and y (n x y_dim,
 * NULL unless asked for). */
typedef distill_status (*distill__chunk_fn)(void *user, int64_t i0, int64_t n, const float *x,
                                            const float *y);

/* fn over every chunk of `chunk` samples of ds, in order; stops at the
 * first failure and returns it. */
distill_status distill__dataset_chunks(distill_context *ctx, distill_dataset *ds, int64_t chunk,
                                       int want_y, distill__chunk_fn fn, void *user);

#endif /* DISTILL_SOLVER_CHUNKS_H */
