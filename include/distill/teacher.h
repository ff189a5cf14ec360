/* libdistill: a teacher supplied by the host, shared by the solvers that
 * learn from one (KRR-ST's representations, knowledge distillation's
 * logits or outputs).
 *
 * THREAD SAFETY: the library calls `embed` from the thread that called the
 * solver, never from two threads at once for one solver. */
#ifndef DISTILL_TEACHER_H
#define DISTILL_TEACHER_H

#include <stdint.h>

#include "export.h"

DISTILL_BEGIN_DECLS

/* The library copies this struct. */
typedef struct distill_teacher {
    uint32_t struct_size; /* sizeof(distill_teacher) */
    void *user;
    /* out (n x k, ldout) = the teacher's outputs (a representation, logits,
     * Q-values or regression outputs) for the inputs x (n x input_dim, ldx).
     * Return 0, or non-zero on failure. */
    int (*embed)(void *user, int64_t n, const float *x, int64_t ldx, float *out, int64_t ldout);
    /* Optional: called once when the library no longer needs the teacher:
     * when a KRR-ST solver is destroyed, or before distill_kd_create (or
     * distill_kd_grid_search) returns, since KD runs its teacher once. */
    void (*release)(void *user);
} distill_teacher;

DISTILL_END_DECLS

#endif /* DISTILL_TEACHER_H */
