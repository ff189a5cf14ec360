#include <math.h>
#include <string.h>

#include "check.h"

/* Largest dimension we accept: keeps every product of two dimensions and
 * an element size far from overflow on 64-bit size_t. */
#define DIM_MAX ((int64_t)1 << 28)

distill_status distill__check_dim(distill_context *ctx, const char *fn, const char *name,
                                  int64_t dim)
{
    if (dim < 1)
        return distill__fail(ctx, DISTILL_E_INVAL, "%s: %s must be >= 1, got %lld", fn, name,
                             (long long)dim);
    if (dim > DIM_MAX)
        return distill__fail(ctx, DISTILL_E_NOMEM, "%s: %s = %lld overflows the size limit", fn,
                             name, (long long)dim);
    return DISTILL_OK;
}

distill_status distill__check_matrix(distill_context *ctx, const char *fn, const char *name,
                                     const void *ptr, int64_t rows, int64_t cols, int64_t ld)
{
    size_t extent;
    if (!ptr)
        return distill__fail(ctx, DISTILL_E_INVAL, "%s: %s is NULL", fn, name);
    if (rows < 1 || cols < 1)
        return distill__fail(ctx, DISTILL_E_INVAL, "%s: %s must be at least 1 x 1, got %lld x %lld",
                             fn, name, (long long)rows, (long long)cols);
    if (ld < cols)
        return distill__fail(ctx, DISTILL_E_SHAPE,
                             "%s: leading dimension of %s is %lld, less than its %lld columns", fn,
                             name, (long long)ld, (long long)cols);
    if (distill__mul_size((size_t)rows, (size_t)ld, &extent) ||
        distill__mul_size(extent, sizeof(double), &extent))
        return distill__fail(ctx, DISTILL_E_NOMEM, "%s: %s (%lld x %lld, ld %lld) overflows", fn,
                             name, (long long)rows, (long long)cols, (long long)ld);
    return DISTILL_OK;
}

distill_status distill__check_optional(distill_context *ctx, const char *fn, const char *name,
                                       const void *ptr, int64_t rows, int64_t cols, int64_t ld)
{
    return ptr ? distill__check_matrix(ctx, fn, name, ptr, rows, cols, ld) : DISTILL_OK;
}

distill_status distill__check_out(distill_context *ctx, const char *fn, const char *name,
                                  const void *out)
{
    return out ? DISTILL_OK : distill__fail(ctx, DISTILL_E_INVAL, "%s: %s is NULL", fn, name);
}

/* Exponent all ones means NaN or Inf.  An integer OR over the row
 * vectorises (a float sum would need reassociation), then we locate. */
static int row_has_nonfinite(const float *row, int64_t cols)
{
    uint32_t bad = 0;
    int64_t j;
    for (j = 0; j < cols; j++) {
        uint32_t bits;
        memcpy(&bits, row + j, sizeof bits);
        bad |= (uint32_t)((bits & 0x7f800000u) == 0x7f800000u);
    }
    return bad != 0;
}

distill_status distill__check_finite(distill_context *ctx, const char *fn, const char *name,
                                     const float *x, int64_t rows, int64_t cols, int64_t ld)
{
    int64_t i, j;
    for (i = 0; i < rows; i++) {
        const float *row = x + i * ld;
        if (row_has_nonfinite(row, cols))
            for (j = 0; j < cols; j++)
                if (!isfinite(row[j]))
                    return distill__fail(ctx, DISTILL_E_NUMERIC, "%s: %s[%lld, %lld] is %s", fn,
                                         name, (long long)i, (long long)j,
                                         isnan(row[j]) ? "NaN" : "Inf");
    }
    return DISTILL_OK;
}

distill_status distill__check_count(distill_context *ctx, const char *fn, const char *what, int64_t a,
                                    int64_t b, size_t elem_size)
{
    size_t n, bytes;
    if (a < 0 || b < 0 || distill__mul_size((size_t)a, (size_t)b, &n) || n > (size_t)INT64_MAX ||
        distill__mul_size(n, elem_size, &bytes))
        return distill__fail(ctx, DISTILL_E_INVAL, "%s: %s (%lld x %lld) is too large", fn, what,
                             (long long)a, (long long)b);
    return DISTILL_OK;
}
