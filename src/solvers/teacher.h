/* Private: a teacher given as a model (cloned), a host callback (copied) or
 * precomputed targets (copied, one row per image of a dataset), behind one
 * call.  Shared by the solvers that distil from a teacher. */
#ifndef DISTILL_SOLVERS_TEACHER_H
#define DISTILL_SOLVERS_TEACHER_H

#include "distill/krrst.h"

typedef struct distill__teacher {
    distill_context *ctx;
    distill_model *model;  /* owned clone, or NULL */
    distill_teacher fn;    /* fn.embed != NULL: a host callback */
    float *targets;        /* rows x k (given, or cached for a dataset), or NULL */
    int64_t rows, k, dim; /* dim: the cached images' size */
} distill__teacher;

/* Exactly one of model, fn and targets (rows x k, ld) may be given; k_hint
 * is the target size for fn (the model's output size otherwise). */
distill_status distill__teacher_init(distill_context *ctx, const char *fn_name,
                                     const distill_model *model, const distill_teacher *fn,
                                     const float *targets, int64_t ld, int64_t rows,
                                     int64_t k_hint, distill__teacher *t);
/* out (n x k) = the teacher on images x (n rows, ldx); idx names the
 * dataset rows (needed by precomputed targets only). */
distill_status distill__teacher_embed(distill__teacher *t, int64_t n, const float *x, int64_t ldx,
                                      const int64_t *idx, float *out, int64_t ldout);
/* Compute and keep the targets of every image of ds (whose rows idx
 * then name), keeping the model or callback for other images. */
distill_status distill__teacher_cache(distill__teacher *t, distill_dataset *ds);
void distill__teacher_free(distill__teacher *t);

#endif /* DISTILL_SOLVERS_TEACHER_H */
