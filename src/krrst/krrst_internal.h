/* Private: the KRR-ST solver's state, shared by its files (krrst.c: the
 * outer step; krrst_pool.c: the model pool; krrst_io.c: files). */
#ifndef DISTILL_KRRST_INTERNAL_H
#define DISTILL_KRRST_INTERNAL_H

#include "../core/abi.h"
#include "../core/internal.h"
#include "../core/rng.h"
#include "distill/kernels.h"
#include "distill/krrst.h"
#include "distill/optim.h"
#include "../solver/mean.h"
#include "../teacher/teacher.h"

/* One pool network: the feature extractor f and a linear head to k, each
 * with its SGD optimiser, and its step counter t. */
typedef struct krrst_net {
    distill_model *feat, *head;
    distill_optimizer *opt_feat, *opt_head;
    int64_t t, inits;
} krrst_net;

struct distill_krrst {
    distill_context *ctx;
    distill_krrst_options o;     /* a copy; the teacher pointers cleared */
    distill_layer_spec *spec;    /* the feature extractor's layers */
    int64_t n_spec;
    distill_dataset *real;       /* a view of the caller's set */
    distill__teacher_use teacher;
    int64_t c, h, w, dim, k, d;  /* image shape, dim = c h w; feature size d */
    uint64_t stream;
    float *xy, *gxy;             /* [X_s (m x dim) | Y_s (m x k)] and its gradient */
    distill_optimizer *adamw;
    krrst_net *pool;
    int64_t *init_idx;           /* m */
    int64_t step;
    distill__mean recent;   /* losses since distill_krrst_recent_loss */
    /* per-step scratch */
    int64_t *idx;                /* n */
    float *xr, *yr, *fr, *fs, *dfs, *head_out, *dhead, *dfeat;
    float *xa, *ga;              /* synthetic_flip / _crop_pad: the augmented X_s and its gradient (m x dim) */
    void *ws;
    size_t ws_bytes;
};

/* Purposes of the random streams derived from the solver's stream. */
enum { KRRST_PICK = 1, KRRST_BATCH, KRRST_CROP, KRRST_FLIP, KRRST_NET, KRRST_INIT, KRRST_HELDOUT,
       KRRST_SYN_CROP, KRRST_SYN_FLIP };

/* The solver's derived streams (core/rng.h). */
#define distill__krrst_stream distill__rng_derive

/* Pool (krrst_pool.c). */
distill_status distill__krrst_pool_create(distill_krrst *s);
void distill__krrst_pool_free(distill_krrst *s);
/* Fresh parameters for network j (its inits-th draw), optimisers reset. */
distill_status distill__krrst_net_reinit(distill_krrst *s, int64_t j);
/* One full-batch MSE step of network j on (X_s, Y_s). */
distill_status distill__krrst_net_train(distill_krrst *s, int64_t j);
/* The pool's update of network j after an outer step. */
distill_status distill__krrst_pool_update(distill_krrst *s, int64_t j);
/* A feature extractor with the solver's spec (parameters from `stream`). */
distill_status distill__krrst_feature_model(distill_krrst *s, uint64_t stream,
                                            distill_model **out);

#endif /* DISTILL_KRRST_INTERNAL_H */
