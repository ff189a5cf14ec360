/* Knowledge distillation: the training rows' labels and the teacher's
 * targets, each read or computed once when the solver is made. */
#include <math.h>
#include <string.h>

#include "../core/check.h"
#include "../solver/chunks.h"
#include "kd_internal.h"

/* ---- labels ---- */

static distill_status class_labels(distill_kd *kd, const float *y, int64_t dy, const char *fn)
{
    int64_t i;
    for (i = 0; i < kd->n; i++) {
        const float v = y[i * dy];
        if (!distill__kd_has_label(kd->o.mode, v)) {
            kd->labels[i] = -1; /* no label: the row feeds only the soft term */
            continue;
        }
        if (v != floorf(v) || v >= (float)kd->k)
            return distill__fail(kd->ctx, DISTILL_E_INVAL, "%s: the label %g of row %lld is not a "
                                 "class index below %lld", fn, (double)v, (long long)i, (long long)kd->k);
        kd->labels[i] = (int32_t)v;
    }
    return DISTILL_OK;
}

distill_status distill__kd_read_labels(distill_kd *kd, const char *fn)
{
    const int64_t dy = distill_dataset_y_dim(kd->train);
    distill_status st;
    float *y;
    int64_t i;
    if (dy == 0)
        return DISTILL_OK; /* no labels: every row feeds the soft term only */
    if (!distill__kd_classifies(kd->o.mode)) { /* regression: dy == k, checked at create */
        if (!(kd->targets = distill__alloc(kd->ctx, sizeof(float) * (size_t)(kd->n * kd->k))))
            return distill__fail(kd->ctx, DISTILL_E_NOMEM, "%s: out of memory", fn);
        DISTILL__TRY(distill_dataset_get_range(kd->train, 0, kd->n, NULL, 0, kd->targets, kd->k));
        for (i = 0; i < kd->n * kd->k; i++)
            if (isinf(kd->targets[i]))
                return distill__fail(kd->ctx, DISTILL_E_NUMERIC, "%s: the target of row %lld is "
                                     "infinite", fn, (long long)(i / kd->k));
        return DISTILL_OK;
    }
    kd->labels = distill__alloc(kd->ctx, sizeof(int32_t) * (size_t)kd->n);
    y = distill__alloc(kd->ctx, sizeof(float) * (size_t)(kd->n * dy));
    st = kd->labels && y ? DISTILL_OK : distill__fail(kd->ctx, DISTILL_E_NOMEM, "%s: out of memory", fn);
    if (st == DISTILL_OK)
        st = distill_dataset_get_range(kd->train, 0, kd->n, NULL, 0, y, dy);
    if (st == DISTILL_OK)
        st = class_labels(kd, y, dy, fn);
    distill__free(kd->ctx, y);
    return st;
}

/* ---- rows with a privileged input ---- */

int distill__kd_row_finite(const float *x, int64_t d)
{
    int64_t j;
    for (j = 0; j < d; j++)
        if (!isfinite(x[j]))
            return 0;
    return 1;
}

typedef struct finite_job {
    uint8_t *ok;
    int64_t d;
} finite_job;

static distill_status finite_chunk(void *user, int64_t i0, int64_t n, const float *x, const float *y)
{
    finite_job *j = user;
    int64_t i;
    (void)y;
    for (i = 0; i < n; i++)
        j->ok[i0 + i] = (uint8_t)distill__kd_row_finite(x + i * j->d, j->d);
    return DISTILL_OK;
}

distill_status distill__kd_finite_rows(distill_context *ctx, distill_dataset *privileged,
                                       uint8_t *ok)
{
    finite_job job;
    job.ok = ok, job.d = distill_dataset_x_dim(privileged);
    return distill__dataset_chunks(ctx, privileged, 1024, 0, finite_chunk, &job);
}

/* ---- the teacher's outputs ---- */

typedef struct teacher_job {
    distill_kd *kd;
    distill_teacher *t;
    float *x; /* a chunk with the rows lacking x* zeroed */
    int64_t d;
} teacher_job;

enum { TEACHER_CHUNK = 256 };

static distill_status teacher_chunk(void *user, int64_t i0, int64_t n, const float *x, const float *y)
{
    teacher_job *j = user;
    distill_kd *kd = j->kd;
    float *out = kd->outputs + i0 * kd->k;
    int64_t i;
    (void)y;
    memcpy(j->x, x, sizeof(float) * (size_t)(n * j->d));
    for (i = 0; i < n; i++)
        if (!(kd->mask[i0 + i] = (uint8_t)distill__kd_row_finite(x + i * j->d, j->d)))
            memset(j->x + i * j->d, 0, sizeof(float) * (size_t)j->d);
    DISTILL__TRY(distill__teacher_run(j->t, kd->ctx, n, j->x, j->d, out, kd->k));
    for (i = 0; i < n; i++)
        if (!kd->mask[i0 + i])
            for (int64_t c = 0; c < kd->k; c++)
                out[i * kd->k + c] = NAN;
    return distill__progress(kd->ctx, "teacher outputs", i0 + n, kd->n);
}

static distill_status run_teacher(distill_kd *kd, distill_teacher *t, distill_dataset *input,
                                  const char *fn)
{
    teacher_job job;
    distill_status st;
    memset(&job, 0, sizeof job);
    job.kd = kd, job.t = t, job.d = distill_dataset_x_dim(input);
    if (t->in_dim > 0 && t->in_dim != job.d)
        return distill__fail(kd->ctx, DISTILL_E_SHAPE, "%s: the teacher takes %lld features, its "
                             "input rows have %lld", fn, (long long)t->in_dim, (long long)job.d);
    if (!(job.x = distill__alloc(kd->ctx, sizeof(float) * (size_t)(TEACHER_CHUNK * job.d))))
        return distill__fail(kd->ctx, DISTILL_E_NOMEM, "%s: out of memory", fn);
    st = distill__dataset_chunks(kd->ctx, input, TEACHER_CHUNK, 0, teacher_chunk, &job);
    distill__free(kd->ctx, job.x);
    return st;
}

/* Precomputed outputs (the teacher handle checked them: no Inf): a row
 * with a NaN has no x*. */
static distill_status copy_outputs(distill_kd *kd, const distill_teacher *t, const char *fn)
{
    int64_t i, c;
    if (t->rows != kd->n)
        return distill__fail(kd->ctx, DISTILL_E_SHAPE, "%s: the teacher's precomputed outputs have "
                             "%lld rows, the training set %lld", fn, (long long)t->rows, (long long)kd->n);
    for (i = 0; i < kd->n; i++) {
        const float *row = t->outputs + i * t->k;
        kd->mask[i] = 1;
        for (c = 0; c < kd->k; c++)
            if (isnan(row[c]))
                kd->mask[i] = 0;
        for (c = 0; c < kd->k; c++)
            kd->outputs[i * kd->k + c] = kd->mask[i] ? row[c] : NAN;
    }
    return DISTILL_OK;
}

/* Soft targets from the outputs (zero rows where there is no x*). */
static distill_status make_soft(distill_kd *kd)
{
    const int64_t k = kd->k;
    const double inv_t = 1.0 / kd->o.temperature;
    int64_t i, c;
    memset(kd->soft, 0, sizeof(float) * (size_t)(kd->n * k));
    for (i = 0; i < kd->n; i++) {
        const float *z = kd->outputs + i * k;
        float *s = kd->soft + i * k;
        double h = 0.0;
        if (!kd->mask[i])
            continue;
        if (!distill__kd_classifies(kd->o.mode) || kd->o.mode == DISTILL_KD_LOGITS) {
            for (c = 0; c < k; c++)
                s[c] = kd->o.mode == DISTILL_KD_LOGITS ? z[c] : (float)(z[c] * inv_t);
            continue;
        }
        DISTILL__TRY(distill_softmax(kd->ctx, 1, k, z, k, (float)kd->o.temperature, s, k));
        for (c = 0; c < k; c++)
            if (s[c] > 0.0f)
                h -= s[c] * log(s[c]);
        kd->entropy[i] = h;
    }
    return DISTILL_OK;
}

distill_status distill__kd_teacher_targets(distill_kd *kd, const distill_kd_options *o,
                                           distill_dataset *privileged, const char *fn)
{
    const size_t rows = (size_t)kd->n, cells = rows * (size_t)kd->k;
    const int precomputed = o->teacher_outputs || (o->teacher_handle && o->teacher_handle->outputs);
    distill_teacher *t;
    distill_status st;
    if (o->mode == DISTILL_KD_GENERALIZED && !privileged && !precomputed)
        return distill__fail(kd->ctx, DISTILL_E_INVAL, "%s: generalized distillation needs the "
                             "privileged features (or the teacher's outputs)", fn);
    if (o->mode == DISTILL_KD_CLASSIC && privileged)
        return distill__fail(kd->ctx, DISTILL_E_INVAL, "%s: classic distillation runs the teacher "
                             "on the student's inputs; give no privileged set", fn);
    kd->outputs = distill__alloc(kd->ctx, sizeof(float) * cells);
    kd->soft = distill__alloc(kd->ctx, sizeof(float) * cells);
    kd->mask = distill__alloc(kd->ctx, rows);
    kd->entropy = distill__alloc(kd->ctx, sizeof(double) * rows);
    if (!kd->outputs || !kd->soft || !kd->mask || !kd->entropy)
        return distill__fail(kd->ctx, DISTILL_E_NOMEM, "%s: out of memory", fn);
    memset(kd->entropy, 0, sizeof(double) * rows);
    /* the teacher runs here, once: its reference goes before create returns */
    DISTILL__TRY(distill__teacher_from_options(kd->ctx, fn, o->teacher_handle, o->teacher, o->teacher_fn,
                                               o->teacher_outputs, o->teacher_ld, kd->n, kd->k, &t));
    if (t->k != kd->k)
        st = distill__fail(kd->ctx, DISTILL_E_SHAPE, "%s: the teacher has %lld outputs, the student "
                           "%lld", fn, (long long)t->k, (long long)kd->k);
    else if (t->outputs)
        st = copy_outputs(kd, t, fn);
    else
        st = run_teacher(kd, t, privileged ? privileged : kd->train, fn);
    distill_teacher_destroy(t);
    return st == DISTILL_OK ? make_soft(kd) : st;
}
