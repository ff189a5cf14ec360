/* Private: the masknet's layout.  Each task owns one block of floats: its
 * scores, layer by layer (out x in, row-major), then max_tasks logits of
 * beta per layer (its row of each layer's LC matrix); the block of the
 * training task is what an optimiser trains. */
#ifndef DISTILL_MASK_INTERNAL_H
#define DISTILL_MASK_INTERNAL_H

#include "../core/internal.h"
#include "distill/mask.h"
#include "distill/model.h"

struct distill_masknet {
    distill_context *ctx;
    distill_masknet_options o;
    int64_t L, T;                           /* masked layers, max_tasks */
    int64_t out[DISTILL_MASK_MAX_LAYERS];   /* layer l's weights: out[l] x in[l] at off[l] */
    int64_t in[DISTILL_MASK_MAX_LAYERS];
    int64_t off[DISTILL_MASK_MAX_LAYERS + 1];
    int64_t P, block;                       /* mask entries; floats per task block (P + L T) */
    uint64_t stream;                        /* the scores' stream */
    uint32_t hash;                          /* distill_masknet_backbone_hash */
    float *w;                               /* the backbone: P floats, +-sqrt(2 / fan_in) */
    float **task;                           /* T blocks (NULL: not held) */
    distill_model **frozen;                 /* per learned task: W (.) M, the label as first bias */
    distill_model *spare;                   /* the training task's frozen model, made when it was added */
    int64_t n_tasks, training;              /* tasks held; the task in training, or -1 */
    int64_t *comp, n_comp;                  /* LC/BLC: the learned tasks the training task composes */
    double *dots;                           /* T: LC's <G, S[j]> */
    float *grad;                            /* the training block's gradient */
    float *seff;                            /* P: the training task's composed scores */
    float *prob;                            /* L x T: their softmax weights */
    float *scratch;                         /* the largest layer's entries: TOPK's |S| */
    float *scratch_grad;                    /* P: dL/dS_eff */
    distill_model *work;                    /* the training network: W (.) M(S_eff), no bias */
    float *xaug, *dxaug;                    /* cap rows of [x | one-hot] and its gradient */
    int64_t cap;
    int64_t fwd_task, fwd_n;                /* the last forward's task when backward may follow (else -1), rows */
    int ste_identity;                       /* tests only: M = S (checks the estimator by differences) */
};

/* Does the training task t compose learned masks (LC or BLC, some learned)? */
int distill__mask_composed(const distill_masknet *net, int64_t t);
/* S_eff of task t into net->seff (and net->prob), or a pointer to S[t]
 * when it composes nothing. */
const float *distill__mask_effective(distill_masknet *net, int64_t t);
/* weff (layer l) = W (.) M(s) for that layer's scores s. */
void distill__mask_weights(distill_masknet *net, int64_t l, const float *s, float *weff);
/* The training block's gradient from dL/dWeff (P floats) of task t whose
 * effective scores are s: scores through the estimator, LC's beta row. */
void distill__mask_score_grad(distill_masknet *net, int64_t t, const float *s, const float *dweff,
                              float *grad, int accumulate);
/* A model computing the function of scores s (P floats) for task t on the
 * observation alone (the task's label folded into the first layer's bias). */
distill_status distill__mask_freeze(distill_masknet *net, int64_t t, const float *s, distill_model **out);
/* The same in two parts: an empty frozen model (allocates), then filling
 * one (cannot fail: what consolidation does with the model set aside when
 * the task was added). */
distill_status distill__mask_frozen_new(distill_masknet *net, distill_model **out);
void distill__mask_freeze_into(distill_masknet *net, int64_t t, const float *s, distill_model *m);
/* Undo distill_masknet_add_task: the task in training is not held any more. */
void distill__mask_drop_training(distill_masknet *net);
/* The training network (bias-free dense layers, ReLU between). */
distill_status distill__mask_make_work(distill_masknet *net);

#endif /* DISTILL_MASK_INTERNAL_H */
