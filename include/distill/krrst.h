/* libdistill: self-supervised dataset distillation (KRR-ST).
 *
 * A distill_krrst solver learns m synthetic images X_s and m target
 * representations Y_s such that kernel ridge regression from the features
 * of X_s onto Y_s, under networks drawn from a model pool, predicts a
 * teacher's representations of real images (docs/krrst.md):
 *
 *     L = mean_{n x k} ( K_rs (K_ss + lambda I)^-1 Y_s - Y_r )^2,
 *     lambda = ridge * trace(K_ss),
 *
 * K over the features [f(x), 1] of a pool network f (eval mode).  Each
 * outer step updates (X_s, Y_s) with AdamW and trains the chosen pool
 * network one step on (X_s, Y_s) (or re-initialises it after
 * pool_period steps).
 *
 * THREAD SAFETY: as the context. */
#ifndef DISTILL_KRRST_H
#define DISTILL_KRRST_H

#include <stddef.h>
#include <stdint.h>

#include "core.h"
#include "data.h"
#include "export.h"
#include "model.h"
#include "status.h"
#include "teacher.h"

DISTILL_BEGIN_DECLS

typedef struct distill_krrst distill_krrst;

typedef struct distill_krrst_options {
    uint32_t struct_size;      /* sizeof(distill_krrst_options) */
    uint32_t flags;            /* reserved, 0 */
    int64_t m;                 /* synthetic images (default 100) */
    int64_t n;                 /* real images per step (256) */
    int64_t k;                 /* target dimension; 0 = the teacher model's output size */
    int64_t steps;             /* outer steps, the learning-rate schedule's length (3000) */
    /* The feature extractor f (input: the real set's image shape).  NULL:
     * ConvNet-3, 32-64-128 channels, conv3x3-BN-ReLU-avgpool2 blocks. */
    const distill_layer_spec *features;
    int64_t n_features;
    int64_t pool_size;         /* M networks (4) */
    int64_t pool_period;       /* T: a network is re-initialised after T steps (200) */
    int32_t pool_reference;    /* 1: the reference code's counter, never reset (spec 1.4) */
    int32_t augment_flip;      /* real images: mirror with probability 1/2 (0) */
    int32_t augment_crop_pad;  /* real images: random crop after this zero padding (0) */
    int32_t reserved;
    double pool_lr;            /* pool SGD: 0.1 */
    double pool_momentum;      /* 0.9 */
    double pool_weight_decay;  /* 1e-3 */
    double lr;                 /* outer AdamW on (X_s, Y_s): 1e-3 */
    double final_lr_factor;    /* linear decay to lr * this over `steps` (1e-3) */
    double ridge;              /* lambda = ridge * trace(K_ss) (1e-6) */
    /* The teacher, as in 0.1: exactly one of these, or none when
     * teacher_handle is given.  A model is cloned; a callback vtable is
     * copied; targets (N x k, ld teacher_ld, one row per image of the real
     * set) are copied and rule out augmentation. */
    const distill_model *teacher;
    const distill_teacher_vtable *teacher_fn;
    const float *teacher_targets;
    int64_t teacher_ld;
    /* ---- 0.2 ---- */
    /* The teacher as a handle (teacher.h), instead of the four fields
     * above: the solver keeps a reference until it is destroyed.  Precomputed
     * outputs rule out augmentation and must be finite. */
    distill_teacher *teacher_handle;
    /* Data-parallel distillation (docs/krrst.md): `world` processes share
     * each step's real batch of world x n images; this one (rank 0 ..
     * world-1) takes rows rank*n .. rank*n+n-1 of it, and `allreduce` sums
     * the gradient of (X_s, Y_s), then the loss, over the processes in
     * place (MPI_Allreduce with MPI_SUM, say; return 0, or non-zero on
     * failure: DISTILL_E_BACKEND, nothing moved).  Every process uses the
     * same options, data and context seed, so all hold the same synthetic
     * set and pool.  Without augmentation, world ranks of n rows step as
     * one process of world x n rows (up to the order of float sums); with
     * it, each rank augments its rows from a stream of its own. */
    int32_t rank;   /* 0 */
    int32_t world;  /* 1: no reduction */
    int (*allreduce)(void *user, float *buf, int64_t count);
    void *allreduce_user;
    /* Differentiable augmentation of the synthetic images in the outer
     * loss: a new draw every step (each rank its own), the gradient taken
     * back through it to the images.  The pool networks train on the
     * images as they are. */
    int32_t synthetic_flip;     /* mirror with probability 1/2 (0) */
    int32_t synthetic_crop_pad; /* random crop after this zero padding (0) */
} distill_krrst_options;

DISTILL_API void distill_krrst_options_init(distill_krrst_options *opts);
DISTILL_API size_t distill_krrst_options_size(void);

/* A solver distilling the real image set `real` (its image shape set; a
 * view of it is kept).  X_s starts as m random real images, Y_s as their
 * teacher targets, and each pool network is trained t ~ U{1..T-1} steps. */
DISTILL_API DISTILL_NODISCARD distill_status
distill_krrst_create(distill_context *ctx, const distill_krrst_options *opts,
                     const distill_dataset *real, distill_krrst **out);
DISTILL_API void distill_krrst_destroy(distill_krrst *s);

/* One outer step; *loss (may be NULL) receives the KRR loss before it.
 * A failing teacher callback gives DISTILL_E_BACKEND and leaves the state
 * as it was before the step. */
DISTILL_API DISTILL_NODISCARD distill_status distill_krrst_step(distill_krrst *s, float *loss);
/* Steps until `until` steps are done (0 = opts.steps; negative is
 * DISTILL_E_INVAL), reporting progress and honouring cancellation between
 * steps. */
DISTILL_API DISTILL_NODISCARD distill_status distill_krrst_run(distill_krrst *s, int64_t until);
DISTILL_API int64_t distill_krrst_steps_done(const distill_krrst *s);
/* The loss the next step will see (its real batch and pool network) and
 * its gradients: dx (m x c*h*w, lddx) with respect to the synthetic
 * images, dy (m x k, lddy) to the targets (either may be NULL).  Changes
 * nothing. */
DISTILL_API DISTILL_NODISCARD distill_status
distill_krrst_gradient(distill_krrst *s, float *loss, float *dx, int64_t lddx, float *dy,
                       int64_t lddy);
/* Replace the synthetic images (m x c*h*w) and/or targets (m x k); either
 * may be NULL.  The optimiser's moments are kept. */
DISTILL_API DISTILL_NODISCARD distill_status
distill_krrst_set_synthetic(distill_krrst *s, const float *x, int64_t ldx, const float *y,
                            int64_t ldy);
/* Mean loss over the steps since the last call (NaN if none). */
DISTILL_API double distill_krrst_recent_loss(distill_krrst *s);

/* The distilled set: m images (m x c*h*w) and targets (m x k). */
DISTILL_API const float *distill_krrst_images(const distill_krrst *s);
DISTILL_API const float *distill_krrst_targets(const distill_krrst *s);
DISTILL_API void distill_krrst_shape(const distill_krrst *s, int64_t *m, int64_t *c, int64_t *h,
                                     int64_t *w, int64_t *k);
/* Dataset rows of the real images X_s started from (m entries). */
DISTILL_API const int64_t *distill_krrst_initial_indices(const distill_krrst *s);

/* The held-out KRR error: mean squared error of predicting the teacher's
 * representation of `heldout`'s first `n` images from (x, y) (m images and
 * targets) by KRR under `nets` freshly initialised feature extractors.
 * The networks depend only on the context's seed. */
DISTILL_API DISTILL_NODISCARD distill_status
distill_krrst_heldout_error(distill_krrst *s, const float *x, const float *y,
                            distill_dataset *heldout, int64_t n, int64_t nets,
                            double *error);

/* Checkpoints: the whole state (X_s, Y_s, optimiser, pool, counters), so
 * that resuming into a solver created with the same options, data and
 * teacher continues bit-identically. */
DISTILL_API DISTILL_NODISCARD distill_status distill_krrst_checkpoint(const distill_krrst *s,
                                                                      const char *path);
DISTILL_API DISTILL_NODISCARD distill_status distill_krrst_resume(distill_krrst *s,
                                                                  const char *path);

/* Export the distilled set: the library's container (read back by
 * distill_distilled_load), .npy arrays, and a PNG grid of the images. */
DISTILL_API DISTILL_NODISCARD distill_status distill_krrst_save(const distill_krrst *s,
                                                                const char *path);
DISTILL_API DISTILL_NODISCARD distill_status
distill_krrst_save_npy(const distill_krrst *s, const char *images_path, const char *targets_path);
DISTILL_API DISTILL_NODISCARD distill_status distill_krrst_save_png(const distill_krrst *s,
                                                                    const char *path);

/* A distilled set saved by distill_krrst_save, as a dataset: x = the
 * images (with their shape), y = the targets. */
DISTILL_API DISTILL_NODISCARD distill_status
distill_distilled_load(distill_context *ctx, const char *path, distill_dataset **out);

DISTILL_END_DECLS

#endif /* DISTILL_KRRST_H */
