/* Private: the dataset file (distill_dataset_save), which every
 * dataset-distillation method also writes (KRR-ST's images and targets,
 * offline-RL's states and actions), read back by distill_distilled_load as
 * a dataset (x the samples, y the targets):
 *   "DSHP"  i64 m, c, h, w, k
 *   "DSXS"  f32 samples (m c h w);  "DSYS" f32 targets (m k) */
#ifndef DISTILL_DATA_DISTILLED_H
#define DISTILL_DATA_DISTILLED_H

#include <stdint.h>

#include "../core/internal.h"
#include "distill/data.h"
#include "distill/export.h"

/* Write m samples of shape (c, h, w) with k targets each (contiguous rows). */
distill_status distill__distilled_save(distill_context *ctx, const char *fn, const char *path, int64_t m,
                                       int64_t c, int64_t h, int64_t w, int64_t k, const float *x,
                                       const float *y);

/* The public reader, declared in krrst.h since 0.1 (a method's header this
 * layer may not include); the same declaration, so it stays exported. */
DISTILL_API distill_status distill_distilled_load(distill_context *ctx, const char *path, distill_dataset **out);

#endif /* DISTILL_DATA_DISTILLED_H */
