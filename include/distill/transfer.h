/* libdistill: what a distilled set is worth — pre-training a fresh network
 * on (images, targets) by MSE regression, then a linear probe or full
 * fine-tuning on a labelled target task (docs/krrst.md).  The comparison
 * arms (distilled set, random real subset with teacher targets, no
 * pre-training) share these calls.  Also: training a supervised teacher.
 *
 * An encoder is any distill_model from images to features; a head is added
 * and dropped inside each call.  Labels are y[0] of a dataset; any set of
 * distinct values is mapped to classes 0..C-1 in increasing order.
 *
 * THREAD SAFETY: as the context. */
#ifndef DISTILL_TRANSFER_H
#define DISTILL_TRANSFER_H

#include <stddef.h>
#include <stdint.h>

#include "core.h"
#include "data.h"
#include "export.h"
#include "model.h"
#include "status.h"

DISTILL_BEGIN_DECLS

typedef struct distill_transfer_options {
    uint32_t struct_size;      /* sizeof(distill_transfer_options) */
    uint32_t flags;            /* reserved, 0 */
    /* pre-training: MSE onto the targets, SGD with momentum, no schedule */
    int64_t pretrain_steps;    /* 300 */
    int64_t pretrain_batch;    /* 100 */
    double pretrain_lr;        /* 0.1 */
    double pretrain_weight_decay; /* 1e-3 */
    /* linear probe: softmax regression on frozen, standardised features */
    int64_t probe_steps;       /* 300 full-batch AdamW steps */
    double probe_lr;           /* 1e-2 */
    double probe_weight_decay; /* 1 (decoupled: the weights shrink by lr * wd a step) */
    /* fine-tuning: encoder and a new head, SGD with momentum, cosine schedule */
    int64_t finetune_steps;    /* 300 */
    int64_t finetune_batch;    /* 64 */
    double finetune_lr;        /* 1e-2 */
    double finetune_weight_decay; /* 5e-4 */
    double momentum;           /* every SGD here: 0.9 */
    uint64_t seed;             /* heads' initialisation and batch order: with the context's
                                  seed, all the randomness of a call (0) */
} distill_transfer_options;

DISTILL_API void distill_transfer_options_init(distill_transfer_options *opts);
DISTILL_API size_t distill_transfer_options_size(void);

/* Train `encoder` (and a temporary linear head to the targets' size) by MSE
 * regression of set's x onto set's y. */
DISTILL_API DISTILL_NODISCARD distill_status
distill_pretrain(distill_context *ctx, const distill_transfer_options *opts,
                 distill_model *encoder, distill_dataset *set);

/* Test accuracy (fraction) of a softmax-regression probe on the frozen
 * encoder's features, trained on `train`, measured on `test`. */
DISTILL_API DISTILL_NODISCARD distill_status
distill_linear_probe(distill_context *ctx, const distill_transfer_options *opts,
                     distill_model *encoder, distill_dataset *train, distill_dataset *test,
                     double *accuracy);

/* Test accuracy after fine-tuning a copy of the encoder (the encoder itself
 * is not changed) with a new head on `train`. */
DISTILL_API DISTILL_NODISCARD distill_status
distill_finetune(distill_context *ctx, const distill_transfer_options *opts,
                 const distill_model *encoder, distill_dataset *train, distill_dataset *test,
                 double *accuracy);

/* A supervised teacher: train `encoder` with a temporary linear classifier
 * by cross-entropy on the labelled set for `epochs` epochs (batch 128, SGD
 * lr 0.05, momentum 0.9, weight decay 5e-4, cosine schedule).  Its
 * features are then the teacher's representation. */
DISTILL_API DISTILL_NODISCARD distill_status
distill_train_supervised_teacher(distill_context *ctx, distill_model *encoder,
                                 distill_dataset *labelled, int64_t epochs);

DISTILL_END_DECLS

#endif /* DISTILL_TRANSFER_H */
