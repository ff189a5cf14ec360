/* A teacher behind one call: model, host callback or precomputed targets. */
#include <string.h>

#include "../core/check.h"
#include "chunks.h"
#include "teacher.h"

distill_status distill__teacher_init(distill_context *ctx, const char *fn_name,
                                     const distill_model *model, const distill_teacher *fn,
                                     const float *targets, int64_t ld, int64_t rows,
                                     int64_t k_hint, distill__teacher *t)
{
    const int given = (model != NULL) + (fn != NULL) + (targets != NULL);
    memset(t, 0, sizeof *t);
    t->ctx = ctx;
    if (given != 1)
        return distill__fail(ctx, DISTILL_E_INVAL, "%s: give exactly one teacher (model, callback "
                             "or targets), not %d", fn_name, given);
    if (model) {
        t->k = distill_model_output_dim(model);
        return distill_model_clone(model, &t->model);
    }
    if (k_hint < 1)
        return distill__fail(ctx, DISTILL_E_INVAL, "%s: k must be set for a callback or targets",
                             fn_name);
    t->k = k_hint;
    if (fn) {
        if (fn->struct_size < offsetof(distill_teacher, embed) + sizeof fn->embed || !fn->embed)
            return distill__fail(ctx, DISTILL_E_ABI, "%s: the teacher vtable has no embed (struct_size %u)",
                                 fn_name, fn->struct_size);
        memcpy(&t->fn, fn, fn->struct_size < sizeof t->fn ? fn->struct_size : sizeof t->fn);
        t->fn.struct_size = sizeof t->fn;
        return DISTILL_OK;
    }
    DISTILL__TRY(distill__check_matrix(ctx, fn_name, "teacher_targets", targets, rows, k_hint, ld));
    DISTILL__TRY(distill__check_finite(ctx, fn_name, "teacher_targets", targets, rows, k_hint, ld));
    if (!(t->targets = distill__alloc(ctx, sizeof(float) * (size_t)(rows * k_hint))))
        return distill__fail(ctx, DISTILL_E_NOMEM, "%s: out of memory", fn_name);
    for (int64_t i = 0; i < rows; i++)
        memcpy(t->targets + i * k_hint, targets + i * ld, sizeof(float) * (size_t)k_hint);
    t->rows = rows;
    return DISTILL_OK;
}

static distill_status lookup(distill__teacher *t, int64_t n, const int64_t *idx, float *out,
                             int64_t ldout)
{
    int64_t i;
    for (i = 0; i < n; i++) {
        if (idx[i] < 0 || idx[i] >= t->rows)
            return distill__fail(t->ctx, DISTILL_E_INVAL, "precomputed teacher targets have no row "
                                 "%lld (%lld rows)", (long long)idx[i], (long long)t->rows);
        memcpy(out + i * ldout, t->targets + idx[i] * t->k, sizeof(float) * (size_t)t->k);
    }
    return DISTILL_OK;
}

distill_status distill__teacher_embed(distill__teacher *t, int64_t n, const float *x, int64_t ldx,
                                      const int64_t *idx, float *out, int64_t ldout)
{
    if (idx && t->targets)
        return lookup(t, n, idx, out, ldout);
    if (t->model)
        return distill_model_forward(t->model, DISTILL_MODE_EVAL, n, x, ldx, out, ldout);
    if (t->fn.embed) {
        if (t->fn.embed(t->fn.user, n, x, ldx, out, ldout) != 0)
            return distill__fail(t->ctx, DISTILL_E_BACKEND, "the teacher callback embed failed "
                                 "(on %lld images)", (long long)n);
        return distill__check_finite(t->ctx, "the teacher callback embed", "out", out, n, t->k, ldout);
    }
    return distill__fail(t->ctx, DISTILL_E_INVAL, "precomputed teacher targets exist only for the "
                         "real set's images");
}

static distill_status cache_chunk(void *user, int64_t i0, int64_t n, const float *x, const float *y)
{
    distill__teacher *t = user;
    (void)y;
    DISTILL__TRY(distill__teacher_embed(t, n, x, t->dim, NULL, t->targets + i0 * t->k, t->k));
    return distill__progress(t->ctx, "teacher targets", i0 + n, t->rows);
}

distill_status distill__teacher_cache(distill__teacher *t, distill_dataset *ds)
{
    distill_status st;
    if (t->targets)
        return DISTILL_OK;
    t->rows = distill_dataset_count(ds), t->dim = distill_dataset_x_dim(ds);
    if (!(t->targets = distill__alloc(t->ctx, sizeof(float) * (size_t)(t->rows * t->k))))
        st = distill__fail(t->ctx, DISTILL_E_NOMEM, "teacher targets: out of memory");
    else /* embed sees no targets (idx NULL) until the cache is complete */
        st = distill__dataset_chunks(t->ctx, ds, 256, 0, cache_chunk, t);
    if (st != DISTILL_OK)
        distill__free(t->ctx, t->targets), t->targets = NULL, t->rows = 0;
    return st;
}

void distill__teacher_free(distill__teacher *t)
{
    if (!t->ctx)
        return;
    distill_model_destroy(t->model);
    if (t->fn.embed && t->fn.release)
        t->fn.release(t->fn.user);
    distill__free(t->ctx, t->targets);
    memset(t, 0, sizeof *t);
}
