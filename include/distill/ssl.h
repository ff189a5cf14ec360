/* libdistill: self-supervised teachers.  Barlow Twins (Zbontar et al.,
 * 2021) trains an encoder so that the embeddings of two augmented views of
 * an image agree, with decorrelated dimensions; the encoder's output is then
 * the representation a KRR-ST teacher gives (krrst.h).
 *
 * THREAD SAFETY: as the context. */
#ifndef DISTILL_SSL_H
#define DISTILL_SSL_H

#include <stddef.h>
#include <stdint.h>

#include "core.h"
#include "data.h"
#include "export.h"
#include "model.h"
#include "status.h"

DISTILL_BEGIN_DECLS

typedef struct distill_ssl_options {
    uint32_t struct_size;     /* sizeof(distill_ssl_options) */
    uint32_t flags;           /* reserved, 0 */
    int64_t epochs;           /* passes over the images (10) */
    int64_t batch;            /* images per step (256); both views go through as one batch */
    int64_t projector;        /* width of the projector dense-BN-ReLU-dense (512) */
    double lambda;            /* off-diagonal weight (5e-3) */
    double lr;                /* Adam (1e-3), cosine schedule over the run */
    double weight_decay;      /* AdamW decoupled decay (1e-5) */
    int32_t augment_crop_pad; /* views: random crop after this zero padding (2) */
    int32_t augment_flip;     /* views: mirror with probability 1/2 (1) */
    double augment_noise;     /* views: Gaussian noise std (0.1) */
} distill_ssl_options;

DISTILL_API void distill_ssl_options_init(distill_ssl_options *opts);
DISTILL_API size_t distill_ssl_options_size(void);

/* Train `encoder` (images -> features) with a temporary projector by the
 * Barlow Twins loss on two augmented views of each batch of `images` (an
 * image dataset with its shape set; labels, if any, are ignored).  Batch
 * norm layers see both views' statistics together.  *final_loss (may be
 * NULL) receives the mean loss of the last epoch. */
DISTILL_API DISTILL_NODISCARD distill_status
distill_barlow_twins_train(distill_context *ctx, const distill_ssl_options *opts,
                           distill_model *encoder, distill_dataset *images, float *final_loss);

DISTILL_END_DECLS

#endif /* DISTILL_SSL_H */
