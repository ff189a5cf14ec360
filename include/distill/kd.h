/* libdistill: knowledge distillation from a teacher to a student network,
 * including generalized distillation (Lopez-Paz et al. 2016): a teacher
 * that saw privileged features x* at training time teaches a student that
 * sees only the regular features x (docs/kd.md).
 *
 * The student minimises, over mini-batches of the training rows,
 *     (1 - lambda) * hard(y_i, f_s(x_i)) + lambda * soft_scale * soft(s_i, f_s(x_i))
 * where s_i is made once from the teacher's outputs z_t:
 *   GENERALIZED, CLASSIC  s = softmax(z_t / T); soft = CE(s, softmax(z_s / student_t))
 *   POLICY                the same, reported as KL (z_t are Q-values, T < 1 sharpens)
 *   REGRESSION            s = z_t / T;         soft = MSE, hard = MSE to y
 *   LOGITS                s = z_t;             soft = MSE on logits, hard = CE
 *
 * Training rows: the regular features are a dataset's x.  Its y is the
 * label: one value per row holding the class index (classification modes),
 * or the k regression targets.  A negative or NaN label, or a NaN target,
 * is missing: that row (entry) then feeds only the soft term.  The
 * privileged features are a second dataset with the same row count; a row
 * holding any NaN has no x* and feeds only the hard term.
 *
 * THREAD SAFETY: as the context. */
#ifndef DISTILL_KD_H
#define DISTILL_KD_H

#include <stddef.h>
#include <stdint.h>

#include "core.h"
#include "data.h"
#include "export.h"
#include "model.h"
#include "optim.h"
#include "status.h"
#include "teacher.h"

DISTILL_BEGIN_DECLS

typedef struct distill_kd distill_kd;

enum {
    DISTILL_KD_GENERALIZED = 0, /* teacher on x* (privileged), student on x */
    DISTILL_KD_CLASSIC = 1,     /* teacher and student on the same x */
    DISTILL_KD_REGRESSION = 2,  /* continuous outputs, MSE to the teacher's outputs / T */
    DISTILL_KD_POLICY = 3,      /* targets softmax(Q / tau), KL loss (Rusu et al. 2016) */
    DISTILL_KD_LOGITS = 4       /* MSE between student and teacher logits */
};

/* Where the temperature enters the student's side (gd.md, 1a). */
enum {
    DISTILL_KD_PRESET_DEFAULT = 0,      /* lopezpaz2016; POLICY: student_t = 1, soft_scale = 1 */
    DISTILL_KD_PRESET_LOPEZPAZ2016 = 1, /* student_t = 1, soft_scale = T^2 (the authors' code) */
    DISTILL_KD_PRESET_HINTON2015 = 2,   /* student_t = T, soft_scale = T^2 */
    DISTILL_KD_PRESET_CUSTOM = 3        /* student_t and soft_scale as given */
};

typedef struct distill_kd_options {
    uint32_t struct_size;   /* sizeof(distill_kd_options) */
    uint32_t flags;         /* reserved, 0 */
    int32_t mode;           /* DISTILL_KD_* (GENERALIZED) */
    int32_t preset;         /* DISTILL_KD_PRESET_* (DEFAULT) */
    double temperature;     /* T in [1e-6, 1e6] (1); POLICY: tau, below 1 sharpens */
    double lambda;          /* imitation weight in [0, 1] (0.5) */
    double student_t;       /* PRESET_CUSTOM only, in [1e-6, 1e6] (1) */
    double soft_scale;      /* PRESET_CUSTOM only, in [0, 1e12] (1) */
    int64_t epochs;         /* passes over the training rows (50) */
    int64_t batch;          /* rows per step (128); the last batch of an epoch may be short */
    /* NULL: RMSprop with Keras' defaults (lr 1e-3, rho 0.9, eps 1e-6 inside
     * the square root), as in the authors' code.  Copied. */
    const distill_optimizer_options *optimizer;
    uint64_t seed;          /* batch order: with the context's seed, all the randomness (0) */
    /* The teacher, as in 0.1: exactly one of these, or none when
     * teacher_handle is given (and none for distill_kd_train_teacher).  A
     * model is cloned; a callback vtable is copied; outputs (one row of k
     * per training row, ld teacher_ld, a NaN row = no privileged input) are
     * copied.  k is the student's output size. */
    const distill_model *teacher;
    const distill_teacher_vtable *teacher_fn;
    const float *teacher_outputs;
    int64_t teacher_ld;
    /* ---- 0.2 ---- */
    /* The teacher as a handle (teacher.h), instead of the four fields
     * above.  KD runs its teacher once, inside distill_kd_create, and keeps
     * no reference after that. */
    distill_teacher *teacher_handle;
} distill_kd_options;

DISTILL_API void distill_kd_options_init(distill_kd_options *opts);
DISTILL_API size_t distill_kd_options_size(void);

/* The student's temperature and soft-loss scale that opts resolve to. */
DISTILL_API DISTILL_NODISCARD distill_status
distill_kd_options_weights(const distill_kd_options *opts, double *student_t, double *soft_scale);

/* A solver that trains `student` in place (borrowed: it must outlive the
 * solver) on `train` (x: regular features, y: labels or targets), with the
 * teacher run once on `privileged`'s rows (or on train's x when privileged
 * is NULL, which GENERALIZED refuses unless teacher_outputs are given).
 * The teacher's outputs and soft targets are computed here and cached; a
 * failing teacher callback gives DISTILL_E_BACKEND. */
DISTILL_API DISTILL_NODISCARD distill_status
distill_kd_create(distill_context *ctx, const distill_kd_options *opts, distill_model *student,
                  distill_dataset *train, distill_dataset *privileged, distill_kd **out);
DISTILL_API void distill_kd_destroy(distill_kd *kd);

/* One optimiser step on the next mini-batch; *loss (may be NULL) is its loss
 * before the step. */
DISTILL_API DISTILL_NODISCARD distill_status distill_kd_step(distill_kd *kd, float *loss);
/* Steps until `epochs` epochs are done (0 = opts.epochs; negative is
 * DISTILL_E_INVAL), reporting progress and honouring cancellation between
 * steps. */
DISTILL_API DISTILL_NODISCARD distill_status distill_kd_run(distill_kd *kd, int64_t epochs);
DISTILL_API int64_t distill_kd_steps_done(const distill_kd *kd);
/* Mean loss over the steps since the last call (NaN if none). */
DISTILL_API double distill_kd_recent_loss(distill_kd *kd);

/* Checkpoints: the student's parameters and buffers, its optimiser and the
 * step count, so that resuming into a solver created with the same
 * options, data, teacher and initial student continues bit-identically.
 * A file that does not fit gives DISTILL_E_FORMAT and changes nothing. */
DISTILL_API DISTILL_NODISCARD distill_status distill_kd_checkpoint(const distill_kd *kd,
                                                                   const char *path);
DISTILL_API DISTILL_NODISCARD distill_status distill_kd_resume(distill_kd *kd, const char *path);

/* The loss of student outputs z (n x k, ldz) for training rows idx[0..n)
 * under the solver's mode, weights and cached targets, and dL/dz (may be
 * NULL): the inner loss a host's own training loop can call. */
DISTILL_API DISTILL_NODISCARD distill_status
distill_kd_loss_grad_rows(distill_kd *kd, int64_t n, const int64_t *idx, const float *z,
                          int64_t ldz, float *loss, float *dz, int64_t lddz);

/* The cached teacher outputs and soft targets (rows x k).  A row with no
 * privileged input holds NaN outputs and zero soft targets. */
DISTILL_API const float *distill_kd_teacher_outputs(const distill_kd *kd);
DISTILL_API const float *distill_kd_soft_targets(const distill_kd *kd);
DISTILL_API void distill_kd_shape(const distill_kd *kd, int64_t *rows, int64_t *k);

/* Test score of `model` on `test` (x: inputs, y: labels or targets):
 * accuracy as a fraction for the classification modes, mean squared error
 * for REGRESSION.  Rows with a missing label (entries with a NaN target)
 * and rows whose inputs hold a NaN (no privileged features) are skipped. */
DISTILL_API DISTILL_NODISCARD distill_status
distill_kd_score(distill_context *ctx, int32_t mode, distill_model *model, distill_dataset *test,
                 double *score);

/* Train a teacher on the privileged features (train's x when privileged
 * is NULL) of the rows that have both a label and x*, with the hard loss
 * of opts->mode only (cross-entropy, or MSE for REGRESSION) and opts'
 * epochs, batch, optimiser and seed.  opts names no teacher. */
DISTILL_API DISTILL_NODISCARD distill_status
distill_kd_train_teacher(distill_context *ctx, const distill_kd_options *opts,
                         distill_model *teacher, distill_dataset *train,
                         distill_dataset *privileged);

DISTILL_END_DECLS

#endif /* DISTILL_KD_H */
