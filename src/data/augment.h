/* The adjoints of the augmentations, for gradients through them
 * (KRR-ST's augmented synthetic set).  A flip is its own adjoint. */
#ifndef DISTILL_DATA_AUGMENT_H
#define DISTILL_DATA_AUGMENT_H

#include "distill/data.h"

/* g (the gradient with respect to distill_augment_crop's output, with the
 * same stream, offset and shape) becomes the gradient with respect to its
 * input: each image shifted back, zeros where the crop had shifted zeros in. */
distill_status distill__augment_crop_adjoint(distill_context *ctx, uint64_t stream, uint64_t offset,
                                             int64_t n, int64_t c, int64_t h, int64_t w, int64_t pad,
                                             float *g);

#endif /* DISTILL_DATA_AUGMENT_H */
