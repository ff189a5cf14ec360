/* libdistill: EXPERIMENTAL entry points.
 *
 * POLICY.  What this header declares is research protocol, not settled API:
 * its signatures, defaults and results may change, or an entry point may
 * go, in any minor release.  It is not included by distill.h; include it
 * by name.  Its functions are exported under their own symbol version node,
 * DISTILL_EXPERIMENTAL_<release> (lib/libdistill.map), so a program built
 * against one release's experimental API fails to load against a library
 * that changed it, instead of misbehaving.  The entry points that 0.1
 * shipped before this header existed keep their DISTILL_0.1 symbols, so
 * 0.1 programs still load; their declarations moved here.  An entry point
 * that settles moves to its method's header in a release's stable node.
 *
 * What is here:
 *   - the transfer protocol behind KRR-ST's evaluation (docs/krrst.md):
 *     pre-training on (images, targets), linear probe, fine-tuning;
 *   - distill_train_supervised_teacher, whose hyper-parameters are fixed;
 *   - distill_kd_grid_search over (T, lambda) (include kd.h for its
 *     options);
 *   - in distill_krrst_options, the field pool_reference (the reference
 *     code's pool counter), kept for reproducing that code.
 *
 * THREAD SAFETY: as the context. */
#ifndef DISTILL_EXPERIMENTAL_H
#define DISTILL_EXPERIMENTAL_H

#include <stddef.h>
#include <stdint.h>

#include "core.h"
#include "data.h"
#include "export.h"
#include "model.h"
#include "status.h"

DISTILL_BEGIN_DECLS

/* ---- the transfer protocol --------------------------------------------------
 * What a distilled set is worth: pre-training a fresh network on (images,
 * targets) by MSE regression, then a linear probe or full fine-tuning on a
 * labelled target task.  The comparison arms (distilled set, random real
 * subset with teacher targets, no pre-training) share these calls.
 *
 * An encoder is any distill_model from images to features; a head is added
 * and dropped inside each call.  Labels are y[0] of a dataset; any set of
 * distinct values is mapped to classes 0..C-1 in increasing order. */

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

/* The probe of distill_linear_probe trained on each of n_train training sets
 * (say, several draws of the few labels a probe gets) with the same options,
 * encoder and test set: accuracies[i] comes from train[i].  The test
 * set's features are computed once, so n probes cost little more than one;
 * accuracies[0] of one set equals distill_linear_probe's, bit for bit.
 * Since 0.2. */
DISTILL_API DISTILL_NODISCARD distill_status
distill_linear_probes(distill_context *ctx, const distill_transfer_options *opts,
                      distill_model *encoder, distill_dataset *const *train, int64_t n_train,
                      distill_dataset *test, double *accuracies);

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

/* ---- knowledge distillation ------------------------------------------------ */

struct distill_kd_options; /* kd.h */

/* Grid search over (T, lambda): for each pair a copy of `student` (the same
 * initial weights every time) is trained with opts and scored on
 * `validation` (or, when validation is NULL, on a held-out fifth of the
 * training rows drawn from opts->seed, the rest being trained on).  The
 * teacher runs once.  scores (n_t x n_lambda, T-major) may be NULL.  The
 * best pair (highest accuracy, lowest MSE; ties to the earlier pair) is
 * written; `student` itself is not changed. */
DISTILL_API DISTILL_NODISCARD distill_status
distill_kd_grid_search(distill_context *ctx, const struct distill_kd_options *opts,
                       const distill_model *student, distill_dataset *train,
                       distill_dataset *privileged, distill_dataset *validation,
                       const double *temperatures, int64_t n_t, const double *lambdas,
                       int64_t n_lambda, double *scores, double *best_t, double *best_lambda);

DISTILL_END_DECLS

#endif /* DISTILL_EXPERIMENTAL_H */
