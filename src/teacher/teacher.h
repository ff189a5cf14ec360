/* Private: the teacher handle's layout, and what solvers do with one. */
#ifndef DISTILL_TEACHER_INTERNAL_H
#define DISTILL_TEACHER_INTERNAL_H

#include "../core/internal.h"
#include "distill/data.h"
#include "distill/teacher.h"

struct distill_teacher {
    distill_context *ctx;
    int64_t refs;
    distill_model *model;      /* owned clone, or NULL */
    distill_teacher_vtable vt; /* vt.embed != NULL: the host's callbacks */
    float *outputs;            /* rows x k, copied, or NULL */
    int64_t rows, k, in_dim;   /* in_dim 0: any */
};

/* A reference to the teacher that a solver's options name: the 0.2 handle
 * (another reference taken), or one made from 0.1's either/or fields (a
 * model, the callbacks or precomputed outputs; k_hint is k for the last
 * two).  Exactly one of the four may be given. */
distill_status distill__teacher_from_options(distill_context *ctx, const char *fn,
                                             distill_teacher *handle, const distill_model *model,
                                             const distill_teacher_vtable *vt,
                                             const float *outputs, int64_t ld, int64_t rows,
                                             int64_t k_hint, distill_teacher **out);
distill_teacher *distill__teacher_retain(distill_teacher *t);
/* Drop a solver's reference after its create failed: callbacks that 0.1's
 * fields handed over are given back (their release is not called). */
void distill__teacher_drop_unused(distill_teacher *t);

/* out (n x k) = the teacher on inputs x; errors reported on ctx. */
distill_status distill__teacher_run(distill_teacher *t, distill_context *ctx, int64_t n,
                                    const float *x, int64_t ldx, float *out, int64_t ldout);

/* A solver's teacher over one dataset: rows named by index are answered
 * from precomputed outputs, or from a cache of the teacher's outputs for
 * every row of the dataset once distill__teacher_use_cache made it. */
typedef struct distill__teacher_use {
    distill_teacher *t;  /* one reference */
    float *cache;        /* rows x k, or NULL */
    int64_t rows, dim;   /* the cached dataset's rows and input size */
} distill__teacher_use;

/* out (n x k) for inputs x, which are rows idx of the dataset (idx may be
 * NULL for inputs from elsewhere, which precomputed outputs refuse). */
distill_status distill__teacher_use_embed(distill__teacher_use *u, distill_context *ctx, int64_t n,
                                          const float *x, int64_t ldx, const int64_t *idx, float *out,
                                          int64_t ldout);
/* Compute and keep the outputs of every row of ds (nothing to do for
 * precomputed outputs, whose row count must match). */
distill_status distill__teacher_use_cache(distill__teacher_use *u, distill_context *ctx,
                                          distill_dataset *ds);
void distill__teacher_use_free(distill__teacher_use *u, distill_context *ctx);

#endif /* DISTILL_TEACHER_INTERNAL_H */
