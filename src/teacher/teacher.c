/* The teacher handle: a model, the host's callbacks or precomputed
 * outputs behind one call, counted references (include/distill/teacher.h). */
#include <math.h>
#include <string.h>

#include "../core/abi.h"
#include "../core/check.h"
#include "../nn/predict.h"
#include "../solver/chunks.h"
#include "teacher.h"

size_t distill_teacher_vtable_size(void) { return sizeof(distill_teacher_vtable); }

static distill_status teacher_new(distill_context *ctx, const char *fn, distill_teacher **out)
{
    distill_teacher *t = NULL;
    if (!(t = distill__alloc(ctx, sizeof *t)))
        return distill__fail(ctx, DISTILL_E_NOMEM, "%s: out of memory", fn);
    memset(t, 0, sizeof *t);
    t->ctx = ctx, t->refs = 1;
    *out = t;
    return DISTILL_OK;
}

static distill_status model_teacher(distill_context *ctx, const char *fn, const distill_model *model,
                                    distill_teacher **out)
{
    distill_teacher *t = NULL;
    distill_status st;
    DISTILL__TRY(teacher_new(ctx, fn, &t));
    if ((st = distill_model_clone(model, &t->model)) != DISTILL_OK) {
        distill__free(ctx, t);
        return st;
    }
    t->k = distill_model_output_dim(model), t->in_dim = distill_model_input_dim(model);
    *out = t;
    return DISTILL_OK;
}

/* The vtable through the one struct reader (0.1's size and up; members
 * past it default to NULL); embed is required. */
static distill_status vtable_teacher(distill_context *ctx, const char *fn,
                                     const distill_teacher_vtable *vt, int64_t input_dim, int64_t k,
                                     distill_teacher **out)
{
    distill_teacher_vtable copy;
    distill_teacher *t = NULL;
    memset(&copy, 0, sizeof copy);
    DISTILL__TRY(distill__struct_read(ctx, fn, "teacher vtable", vt,
                                      offsetof(distill_teacher_vtable, embed) + sizeof vt->embed,
                                      sizeof copy, &copy));
    if (!copy.embed)
        return distill__fail(ctx, DISTILL_E_ABI, "%s: the teacher vtable has no embed", fn);
    if (k < 1 || input_dim < 0)
        return distill__fail(ctx, DISTILL_E_INVAL, "%s: a callback teacher needs k >= 1 and input_dim "
                             ">= 0 (k %lld, input_dim %lld)", fn, (long long)k, (long long)input_dim);
    DISTILL__TRY(teacher_new(ctx, fn, &t));
    t->vt = copy;
    t->k = k, t->in_dim = input_dim;
    *out = t;
    return DISTILL_OK;
}

/* Copied outputs; a NaN marks a row without output, Inf is an error. */
static distill_status outputs_teacher(distill_context *ctx, const char *fn, int64_t rows, int64_t k,
                                      const float *outputs, int64_t ld, distill_teacher **out)
{
    distill_teacher *t = NULL;
    size_t bytes;
    int64_t i, c;
    DISTILL__TRY(distill__check_matrix(ctx, fn, "outputs", outputs, rows, k, ld));
    for (i = 0; i < rows; i++)
        for (c = 0; c < k; c++)
            if (isinf(outputs[i * ld + c]))
                return distill__fail(ctx, DISTILL_E_NUMERIC, "%s: outputs[%lld, %lld] is infinite", fn,
                                     (long long)i, (long long)c);
    if (distill__mul_size((size_t)rows, (size_t)k * sizeof(float), &bytes))
        return distill__fail(ctx, DISTILL_E_INVAL, "%s: %lld x %lld outputs overflow", fn,
                             (long long)rows, (long long)k);
    DISTILL__TRY(teacher_new(ctx, fn, &t));
    if (!(t->outputs = distill__alloc(ctx, bytes))) {
        distill__free(ctx, t);
        return distill__fail(ctx, DISTILL_E_NOMEM, "%s: out of memory", fn);
    }
    for (i = 0; i < rows; i++)
        memcpy(t->outputs + i * k, outputs + i * ld, sizeof(float) * (size_t)k);
    t->rows = rows, t->k = k;
    *out = t;
    return DISTILL_OK;
}

distill_status distill_teacher_from_model(distill_context *ctx, const distill_model *model,
                                          distill_teacher **out)
{
    static const char fn[] = "distill_teacher_from_model";
    if (!ctx)
        return DISTILL_E_INVAL;
    if (!model || !out)
        return distill__fail(ctx, DISTILL_E_INVAL, "%s: model and out must not be NULL", fn);
    *out = NULL;
    return model_teacher(ctx, fn, model, out);
}

distill_status distill_teacher_from_vtable(distill_context *ctx, const distill_teacher_vtable *vtable,
                                           int64_t input_dim, int64_t k, distill_teacher **out)
{
    static const char fn[] = "distill_teacher_from_vtable";
    if (!ctx)
        return DISTILL_E_INVAL;
    if (!vtable || !out)
        return distill__fail(ctx, DISTILL_E_INVAL, "%s: vtable and out must not be NULL", fn);
    *out = NULL;
    return vtable_teacher(ctx, fn, vtable, input_dim, k, out);
}

distill_status distill_teacher_from_outputs(distill_context *ctx, int64_t rows, int64_t k,
                                            const float *outputs, int64_t ld, distill_teacher **out)
{
    static const char fn[] = "distill_teacher_from_outputs";
    if (!ctx)
        return DISTILL_E_INVAL;
    if (!out)
        return distill__fail(ctx, DISTILL_E_INVAL, "%s: out must not be NULL", fn);
    *out = NULL;
    return outputs_teacher(ctx, fn, rows, k, outputs, ld, out);
}

distill_teacher *distill__teacher_retain(distill_teacher *t)
{
    t->refs++;
    return t;
}

void distill_teacher_destroy(distill_teacher *t)
{
    distill_context *ctx;
    if (!t || --t->refs > 0)
        return;
    ctx = t->ctx;
    distill_model_destroy(t->model);
    if (t->vt.embed && t->vt.release)
        t->vt.release(t->vt.user);
    distill__free(ctx, t->outputs);
    distill__free(ctx, t);
}

void distill__teacher_drop_unused(distill_teacher *t)
{
    if (t && t->refs == 1)
        t->vt.release = NULL;
    distill_teacher_destroy(t);
}

int64_t distill_teacher_output_dim(const distill_teacher *t) { return t ? t->k : 0; }
int64_t distill_teacher_input_dim(const distill_teacher *t) { return t ? t->in_dim : 0; }
int64_t distill_teacher_rows(const distill_teacher *t) { return t ? t->rows : 0; }

distill_status distill__teacher_from_options(distill_context *ctx, const char *fn,
                                             distill_teacher *handle, const distill_model *model,
                                             const distill_teacher_vtable *vt,
                                             const float *outputs, int64_t ld, int64_t rows,
                                             int64_t k_hint, distill_teacher **out)
{
    const int given = (handle != NULL) + (model != NULL) + (vt != NULL) + (outputs != NULL);
    *out = NULL;
    if (given != 1)
        return distill__fail(ctx, DISTILL_E_INVAL, "%s: give exactly one teacher (a teacher handle, "
                             "or one of model, callbacks and outputs), not %d", fn, given);
    if (handle) {
        if (handle->ctx != ctx)
            return distill__fail(ctx, DISTILL_E_INVAL, "%s: the teacher handle was made on another "
                                 "context; a handle serves solvers of its own context", fn);
        *out = distill__teacher_retain(handle);
        return DISTILL_OK;
    }
    if (model)
        return model_teacher(ctx, fn, model, out);
    if (k_hint < 1)
        return distill__fail(ctx, DISTILL_E_INVAL, "%s: k must be set for a callback or precomputed "
                             "teacher", fn);
    if (vt)
        return vtable_teacher(ctx, fn, vt, 0, k_hint, out);
    return outputs_teacher(ctx, fn, rows, k_hint, outputs, ld, out);
}

distill_status distill__teacher_run(distill_teacher *t, distill_context *ctx, int64_t n,
                                    const float *x, int64_t ldx, float *out, int64_t ldout)
{
    if (t->model)
        return distill__model_predict(t->model, n, x, ldx, out, ldout);
    if (t->vt.embed) {
        if (t->vt.embed(t->vt.user, n, x, ldx, out, ldout) != 0)
            return distill__fail(ctx, DISTILL_E_BACKEND, "the teacher callback embed failed (on %lld "
                                 "inputs)", (long long)n);
        return distill__check_finite(ctx, "the teacher callback embed", "out", out, n, t->k, ldout);
    }
    return distill__fail(ctx, DISTILL_E_UNSUPPORTED, "a teacher of precomputed outputs answers only "
                         "for the rows of the dataset it was given with, not for new inputs");
}

distill_status distill_teacher_embed(distill_teacher *t, int64_t n, const float *x, int64_t ldx,
                                     float *out, int64_t ldout)
{
    static const char fn[] = "distill_teacher_embed";
    if (!t)
        return DISTILL_E_INVAL;
    if (t->in_dim > 0)
        DISTILL__TRY(distill__check_matrix(t->ctx, fn, "x", x, n, t->in_dim, ldx));
    else if (!x || n < 1)
        return distill__fail(t->ctx, DISTILL_E_INVAL, "%s: x is NULL or n < 1", fn);
    DISTILL__TRY(distill__check_matrix(t->ctx, fn, "out", out, n, t->k, ldout));
    return distill__teacher_run(t, t->ctx, n, x, ldx, out, ldout);
}

/* ---- a solver's use over one dataset ---- */

static distill_status lookup(distill_context *ctx, const float *table, int64_t rows, int64_t k,
                             int64_t n, const int64_t *idx, float *out, int64_t ldout)
{
    int64_t i;
    for (i = 0; i < n; i++) {
        if (idx[i] < 0 || idx[i] >= rows)
            return distill__fail(ctx, DISTILL_E_INVAL, "precomputed teacher outputs have no row %lld "
                                 "(%lld rows)", (long long)idx[i], (long long)rows);
        memcpy(out + i * ldout, table + idx[i] * k, sizeof(float) * (size_t)k);
    }
    return DISTILL_OK;
}

distill_status distill__teacher_use_embed(distill__teacher_use *u, distill_context *ctx, int64_t n,
                                          const float *x, int64_t ldx, const int64_t *idx, float *out,
                                          int64_t ldout)
{
    distill_teacher *t = u->t;
    if (idx && t->outputs)
        return lookup(ctx, t->outputs, t->rows, t->k, n, idx, out, ldout);
    if (idx && u->cache)
        return lookup(ctx, u->cache, u->rows, t->k, n, idx, out, ldout);
    return distill__teacher_run(t, ctx, n, x, ldx, out, ldout);
}

typedef struct cache_job {
    distill__teacher_use *u;
    distill_context *ctx;
} cache_job;

static distill_status cache_chunk(void *user, int64_t i0, int64_t n, const float *x, const float *y)
{
    cache_job *j = user;
    const int64_t k = j->u->t->k;
    (void)y;
    DISTILL__TRY(distill__teacher_run(j->u->t, j->ctx, n, x, j->u->dim, j->u->cache + i0 * k, k));
    return distill__progress(j->ctx, "teacher targets", i0 + n, j->u->rows);
}

distill_status distill__teacher_use_cache(distill__teacher_use *u, distill_context *ctx,
                                          distill_dataset *ds)
{
    const int64_t rows = distill_dataset_count(ds);
    cache_job job;
    distill_status st;
    if (u->t->outputs) {
        if (u->t->rows != rows)
            return distill__fail(ctx, DISTILL_E_SHAPE, "precomputed teacher outputs have %lld rows, "
                                 "the dataset %lld", (long long)u->t->rows, (long long)rows);
        return DISTILL_OK;
    }
    if (u->cache)
        return DISTILL_OK;
    u->rows = rows, u->dim = distill_dataset_x_dim(ds);
    job.u = u, job.ctx = ctx;
    if (!(u->cache = distill__alloc(ctx, sizeof(float) * (size_t)(rows * u->t->k))))
        st = distill__fail(ctx, DISTILL_E_NOMEM, "teacher targets: out of memory");
    else /* cache_chunk runs the teacher itself: nothing reads the cache until it is complete */
        st = distill__dataset_chunks(ctx, ds, 256, 0, cache_chunk, &job);
    if (st != DISTILL_OK) {
        distill__free(ctx, u->cache);
        u->cache = NULL, u->rows = 0;
    }
    return st;
}

void distill__teacher_use_free(distill__teacher_use *u, distill_context *ctx)
{
    distill_teacher_destroy(u->t);
    distill__free(ctx, u->cache);
    memset(u, 0, sizeof *u);
}
