/* Private: argument checks shared by every layer, each failing with a
 * message that names the function and the argument. */
#ifndef DISTILL_CORE_CHECK_H
#define DISTILL_CORE_CHECK_H

#include <stdint.h>

#include "internal.h"

/* ptr non-NULL, rows >= 1, cols >= 1, ld >= cols, extent fits size_t. */
distill_status distill__check_matrix(distill_context *ctx, const char *fn, const char *name,
                                     const void *ptr, int64_t rows, int64_t cols, int64_t ld);
/* The same for an optional output (NULL passes). */
distill_status distill__check_optional(distill_context *ctx, const char *fn, const char *name,
                                       const void *ptr, int64_t rows, int64_t cols,
                                       int64_t ld);
/* dim >= 1 and small enough that dim*dim*8 bytes cannot overflow. */
distill_status distill__check_dim(distill_context *ctx, const char *fn, const char *name,
                                  int64_t dim);
/* a x b elements of elem_size bytes (a, b >= 0) fit in size_t and int64_t:
 * one checked product for every size a caller's options multiply;
 * DISTILL_E_INVAL naming `what` otherwise. */
distill_status distill__check_count(distill_context *ctx, const char *fn, const char *what, int64_t a,
                                    int64_t b, size_t elem_size);
/* An output pointer a call must write through: DISTILL_E_INVAL naming it
 * when NULL. */
distill_status distill__check_out(distill_context *ctx, const char *fn, const char *name,
                                  const void *out);
/* DISTILL_E_NUMERIC naming the first NaN/Inf entry, if any (ctx NULL: the
 * status alone, as the inference path needs). */
distill_status distill__check_finite(distill_context *ctx, const char *fn, const char *name,
                                     const float *x, int64_t rows, int64_t cols, int64_t ld);

#endif /* DISTILL_CORE_CHECK_H */
