/* libdistill: teachers.  A distill_teacher is one handle for the teacher a
 * method learns from (KRR-ST's representations, knowledge distillation's
 * logits or outputs, and the RL methods' policies next), whatever it is
 * made from:
 *
 *   distill_teacher_from_model    a distill_model (cloned);
 *   distill_teacher_from_vtable   the host's callbacks, e.g. a PyTorch
 *                                 network behind ctypes (copied);
 *   distill_teacher_from_outputs  precomputed outputs, one row per row of
 *                                 the dataset it is used with (copied).
 *
 * OWNERSHIP, the one rule: a handle counts its references.  The create call
 * gives the caller one; every solver given the handle takes its own for as
 * long as it needs the teacher.  distill_teacher_destroy drops the caller's,
 * at any time.  When the last reference goes, what the teacher was made
 * from goes with it: the clone, the copied outputs, and the vtable's
 * `release` (called exactly once, then).  A call that fails takes no
 * reference.  A handle serves solvers of the context it was made on
 * (another context is refused with DISTILL_E_INVAL); a model's clone lives
 * on the model's own context, which must outlive the teacher.
 *
 * THREAD SAFETY: as the context it was made on; the library runs a
 * teacher from the thread that called the solver, never from two threads
 * at once. */
#ifndef DISTILL_TEACHER_H
#define DISTILL_TEACHER_H

#include <stddef.h>
#include <stdint.h>

#include "core.h"
#include "export.h"
#include "model.h"
#include "status.h"

DISTILL_BEGIN_DECLS

typedef struct distill_teacher distill_teacher;

/* The host's teacher (0.1 called this struct distill_teacher; the layout
 * is unchanged).  The library copies it and reads only the members that
 * fit struct_size. */
typedef struct distill_teacher_vtable {
    uint32_t struct_size; /* sizeof(distill_teacher_vtable) */
    void *user;
    /* out (n x k, ldout) = the teacher's outputs (a representation, logits,
     * Q-values or regression outputs) for the inputs x (n x input_dim, ldx).
     * Return 0, or non-zero on failure. */
    int (*embed)(void *user, int64_t n, const float *x, int64_t ldx, float *out, int64_t ldout);
    /* Optional: called once, when the last reference to the teacher goes. */
    void (*release)(void *user);
} distill_teacher_vtable;

DISTILL_API size_t distill_teacher_vtable_size(void);

/* A teacher that runs a clone of `model` (eval mode). */
DISTILL_API DISTILL_NODISCARD distill_status
distill_teacher_from_model(distill_context *ctx, const distill_model *model, distill_teacher **out);
/* A teacher that calls the host: outputs of size k (>= 1) for inputs of
 * size input_dim (0: any; the solver's data then decides). */
DISTILL_API DISTILL_NODISCARD distill_status
distill_teacher_from_vtable(distill_context *ctx, const distill_teacher_vtable *vtable,
                            int64_t input_dim, int64_t k, distill_teacher **out);
/* A teacher of precomputed outputs (rows x k, ld): row i answers for row i
 * of the dataset a solver is given.  A row holding a NaN has no output
 * (knowledge distillation then uses the hard term only; KRR-ST refuses
 * it); an infinite value gives DISTILL_E_NUMERIC. */
DISTILL_API DISTILL_NODISCARD distill_status
distill_teacher_from_outputs(distill_context *ctx, int64_t rows, int64_t k, const float *outputs,
                             int64_t ld, distill_teacher **out);
/* Drop the caller's reference (NULL-safe). */
DISTILL_API void distill_teacher_destroy(distill_teacher *t);

DISTILL_API int64_t distill_teacher_output_dim(const distill_teacher *t);
/* The input size (0: any, or precomputed outputs). */
DISTILL_API int64_t distill_teacher_input_dim(const distill_teacher *t);
/* Precomputed outputs: their row count; 0 for a model or callbacks. */
DISTILL_API int64_t distill_teacher_rows(const distill_teacher *t);

/* out (n x k, ldout) = the teacher on inputs x (n x input_dim, ldx).  A
 * teacher of precomputed outputs has no inputs: DISTILL_E_UNSUPPORTED.  A
 * failing callback gives DISTILL_E_BACKEND. */
DISTILL_API DISTILL_NODISCARD distill_status
distill_teacher_embed(distill_teacher *t, int64_t n, const float *x, int64_t ldx, float *out,
                      int64_t ldout);

DISTILL_END_DECLS

#endif /* DISTILL_TEACHER_H */
