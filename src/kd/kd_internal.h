/* Private: the knowledge-distillation solver's state, shared by its files
 * (kd.c: life and training step; kd_targets.c: labels and the teacher's
 * cached targets; kd_search.c: scoring, teacher training, grid search). */
#ifndef DISTILL_SOLVERS_KD_INTERNAL_H
#define DISTILL_SOLVERS_KD_INTERNAL_H

#include <math.h>

#include "../core/abi.h"
#include "../core/internal.h"
#include "distill/kd.h"
#include "distill/kernels.h"
#include "../solver/mean.h"

/* distill_kd_options as 0.1 shipped it: up to teacher_ld. */
#define DISTILL__KD_OPTIONS_SIZE_0_1 offsetof(distill_kd_options, teacher_handle)
#include "../teacher/teacher.h"

struct distill_kd {
    distill_context *ctx;
    distill_kd_options o;          /* teacher pointers cleared after create */
    distill_optimizer_options oo;
    double student_t, soft_scale;
    distill_model *student;        /* borrowed */
    distill_dataset *train;        /* a view of the training rows */
    int64_t n, d, k;               /* rows, input size, outputs */
    int32_t *labels;               /* n class indices (-1: none), classification modes */
    float *targets;                /* n x k regression targets (NaN: none), or NULL */
    float *outputs;                /* n x k teacher outputs (NaN rows: no x*), or NULL */
    float *soft;                   /* n x k soft targets, or NULL without a teacher */
    uint8_t *mask;                 /* n: 1 where the row has a soft target */
    double *entropy;               /* n: H(s_i), POLICY's KL report */
    distill_optimizer *opt;
    uint64_t stream;               /* batch order */
    int64_t steps, perm_epoch, *perm;
    /* one batch */
    int64_t *idx;
    int32_t *blab;
    uint8_t *bmask;
    float *x, *z, *dz, *dz2, *bsoft, *by;
    distill__mean recent;          /* losses since distill_kd_recent_loss */
};

#define DISTILL__KD_STREAM 0x4b44ull /* "KD": the base of the solver's random streams */

/* Is `mode` one of the modes with class labels? */
static inline int distill__kd_classifies(int32_t mode) { return mode != DISTILL_KD_REGRESSION; }

/* Does a row with first target v have a label?  NaN never; a negative
 * value neither when it is a class index. */
static inline int distill__kd_has_label(int32_t mode, float v)
{
    return !isnan(v) && !(distill__kd_classifies(mode) && v < 0.0f);
}

/* Are all d values of row x finite (a NaN or Inf in x*: no privileged input)? */
int distill__kd_row_finite(const float *x, int64_t d);

/* Read the labels or targets of kd->train into kd->labels / kd->targets. */
distill_status distill__kd_read_labels(distill_kd *kd, const char *fn);
/* Run the teacher once over the rows (its input: privileged, or train's x)
 * or copy opts' outputs, then make the soft targets, mask and entropies. */
distill_status distill__kd_teacher_targets(distill_kd *kd, const distill_kd_options *o,
                                           distill_dataset *privileged, const char *fn);
/* The rows of `privileged` (all rows when NULL) whose x* is finite, as a
 * 0/1 byte per row. */
distill_status distill__kd_finite_rows(distill_context *ctx, distill_dataset *privileged,
                                       uint8_t *ok);
/* The solver behind distill_kd_create; with_teacher = 0 for teacher
 * training (no soft term). */
/* The caller's options (any size since 0.1) into out, defaults for the
 * rest, checked. */
distill_status distill__kd_options_read(distill_context *ctx, const distill_kd_options *in,
                                       distill_kd_options *out, const char *fn);
/* The solver behind the entry points, on options already read. */
distill_status distill__kd_new(distill_context *ctx, const distill_kd_options *o,
                               distill_model *model, distill_dataset *train,
                               distill_dataset *privileged, int with_teacher, const char *fn,
                               distill_kd **out);

#endif /* DISTILL_SOLVERS_KD_INTERNAL_H */
