/* Knowledge distillation around the solver: scoring a model, training a
 * teacher on the privileged features, and the grid search over (T, lambda)
 * on a validation split. */
#include <math.h>
#include <string.h>

#include "../core/check.h"
#include "../core/rng.h"
#include "../solver/chunks.h"
#include "distill/experimental.h"
#include "kd_internal.h"

/* ---- scoring ---- */

typedef struct score_job {
    distill_model *model;
    int32_t mode;
    int64_t k, dy, d;
    float *z, *x;  /* outputs and inputs of the rows scored */
    int64_t *rows; /* their place in the chunk */
    double sum;
    int64_t count;
} score_job;

/* One row's contribution: a hit, or squared errors over its targets. */
static void score_row(score_job *j, const float *z, const float *y)
{
    int64_t c, best = 0;
    if (!distill__kd_classifies(j->mode)) {
        for (c = 0; c < j->k; c++)
            if (!isnan(y[c]))
                j->sum += ((double)z[c] - y[c]) * ((double)z[c] - y[c]), j->count++;
        return;
    }
    for (c = 1; c < j->k; c++)
        best = z[c] > z[best] ? c : best;
    j->sum += (float)best == y[0], j->count++;
}

/* Rows without a label or with a missing input (a NaN: no privileged
 * features) are left out. */
static distill_status score_chunk(void *user, int64_t i0, int64_t n, const float *x, const float *y)
{
    score_job *j = user;
    int64_t i, m = 0;
    (void)i0;
    for (i = 0; i < n; i++) {
        const float label = y[i * j->dy];
        if (distill__kd_classifies(j->mode) && !distill__kd_has_label(j->mode, label))
            continue;
        if (!distill__kd_row_finite(x + i * j->d, j->d))
            continue;
        memcpy(j->x + m * j->d, x + i * j->d, sizeof(float) * (size_t)j->d);
        j->rows[m++] = i;
    }
    if (m == 0)
        return DISTILL_OK;
    DISTILL__TRY(distill_model_forward(j->model, DISTILL_MODE_EVAL, m, j->x, j->d, j->z, j->k));
    for (i = 0; i < m; i++)
        score_row(j, j->z + i * j->k, y + j->rows[i] * j->dy);
    return DISTILL_OK;
}

distill_status distill_kd_score(distill_context *ctx, int32_t mode, distill_model *model,
                                distill_dataset *test, double *score)
{
    static const char fn[] = "distill_kd_score";
    enum { CHUNK = 512 };
    score_job job;
    distill_status st;
    if (!ctx)
        return DISTILL_E_INVAL;
    if (!model || !test || !score || mode < DISTILL_KD_GENERALIZED || mode > DISTILL_KD_LOGITS)
        return distill__fail(ctx, DISTILL_E_INVAL, "%s: model, test and score must not be NULL, "
                             "and the mode known", fn);
    memset(&job, 0, sizeof job);
    job.model = model, job.mode = mode, job.k = distill_model_output_dim(model);
    job.dy = distill_dataset_y_dim(test), job.d = distill_model_input_dim(model);
    if (distill_dataset_x_dim(test) != distill_model_input_dim(model) || job.dy < 1 ||
        (mode == DISTILL_KD_REGRESSION && job.dy != job.k))
        return distill__fail(ctx, DISTILL_E_SHAPE, "%s: the test rows (%lld features, %lld labels) "
                             "do not fit the model (%lld inputs, %lld outputs)", fn,
                             (long long)distill_dataset_x_dim(test), (long long)job.dy,
                             (long long)distill_model_input_dim(model), (long long)job.k);
    job.z = distill__alloc(ctx, sizeof(float) * (size_t)(CHUNK * job.k));
    job.x = distill__alloc(ctx, sizeof(float) * (size_t)(CHUNK * job.d));
    job.rows = distill__alloc(ctx, sizeof(int64_t) * CHUNK);
    st = job.z && job.x && job.rows ? distill__dataset_chunks(ctx, test, CHUNK, 1, score_chunk, &job)
                                    : distill__fail(ctx, DISTILL_E_NOMEM, "%s: out of memory", fn);
    distill__free(ctx, job.z), distill__free(ctx, job.x), distill__free(ctx, job.rows);
    if (st == DISTILL_OK && job.count == 0)
        st = distill__fail(ctx, DISTILL_E_INVAL, "%s: no test row has a label and finite inputs", fn);
    if (st == DISTILL_OK)
        *score = job.sum / (double)job.count;
    return st;
}

/* ---- teacher training ---- */

/* The rows with x* and a label (its first target), copied into memory as
 * (x*, y). */
static distill_status teacher_rows(distill_context *ctx, int32_t mode, distill_dataset *train,
                                   distill_dataset *input, distill_dataset **out, const char *fn)
{
    const int64_t n = distill_dataset_count(train), dx = distill_dataset_x_dim(input),
                  dy = distill_dataset_y_dim(train);
    uint8_t *ok = distill__alloc(ctx, (size_t)n);
    int64_t *rows = distill__alloc(ctx, sizeof(int64_t) * (size_t)n), m = 0, i;
    float *labels = distill__alloc(ctx, sizeof(float) * (size_t)(n * (dy > 0 ? dy : 1))), *x = NULL, *y = NULL;
    distill_status st = ok && rows && labels ? DISTILL_OK : distill__fail(ctx, DISTILL_E_NOMEM, "%s: out of memory", fn);
    if (st == DISTILL_OK && dy < 1)
        st = distill__fail(ctx, DISTILL_E_INVAL, "%s: the training set has no labels", fn);
    if (st == DISTILL_OK)
        st = distill__kd_finite_rows(ctx, input, ok);
    if (st == DISTILL_OK)
        st = distill_dataset_get_range(train, 0, n, NULL, 0, labels, dy);
    for (i = 0; st == DISTILL_OK && i < n; i++) {
        const float v = labels[i * dy];
        if (ok[i] && distill__kd_has_label(mode, v))
            rows[m++] = i;
    }
    if (st == DISTILL_OK && m == 0)
        st = distill__fail(ctx, DISTILL_E_INVAL, "%s: no row has both a label and x*", fn);
    if (st == DISTILL_OK) {
        x = distill__alloc(ctx, sizeof(float) * (size_t)(m * dx));
        y = distill__alloc(ctx, sizeof(float) * (size_t)(m * dy));
        st = x && y ? DISTILL_OK : distill__fail(ctx, DISTILL_E_NOMEM, "%s: out of memory", fn);
    }
    for (i = 0; st == DISTILL_OK && i < m; i++)
        memcpy(y + i * dy, labels + rows[i] * dy, sizeof(float) * (size_t)dy);
    if (st == DISTILL_OK)
        st = distill_dataset_get(input, rows, m, x, dx, NULL, 0);
    if (st == DISTILL_OK)
        st = distill_dataset_from_memory(ctx, m, dx, x, dx, dy, y, dy, DISTILL_DATASET_COPY, out);
    distill__free(ctx, ok), distill__free(ctx, rows), distill__free(ctx, labels);
    distill__free(ctx, x), distill__free(ctx, y);
    return st;
}

distill_status distill_kd_train_teacher(distill_context *ctx, const distill_kd_options *opts,
                                        distill_model *teacher, distill_dataset *train,
                                        distill_dataset *privileged)
{
    static const char fn[] = "distill_kd_train_teacher";
    distill_kd_options o;
    distill_dataset *rows = NULL;
    distill_kd *kd = NULL;
    distill_status st;
    if (!ctx)
        return DISTILL_E_INVAL;
    if (!opts || !teacher || !train)
        return distill__fail(ctx, DISTILL_E_INVAL, "%s: opts, teacher and train must not be NULL", fn);
    DISTILL__TRY(distill__kd_options_read(ctx, opts, &o, fn));
    opts = &o;
    if (privileged && distill_dataset_count(privileged) != distill_dataset_count(train))
        return distill__fail(ctx, DISTILL_E_SHAPE, "%s: %lld privileged rows for %lld training rows", fn,
                             (long long)distill_dataset_count(privileged), (long long)distill_dataset_count(train));
    st = teacher_rows(ctx, opts->mode, train, privileged ? privileged : train, &rows, fn);
    if (st == DISTILL_OK)
        st = distill__kd_new(ctx, opts, teacher, rows, NULL, 0, fn, &kd);
    if (st == DISTILL_OK)
        st = distill_kd_run(kd, 0);
    distill_kd_destroy(kd);
    distill_dataset_destroy(rows);
    return st;
}

/* ---- grid search ---- */

/* The rows the grid trains on and scores on, and the teacher's outputs
 * for the former. */
typedef struct split {
    distill_dataset *fit, *val;
    float *outputs;
} split;

static void split_free(distill_context *ctx, split *s)
{
    distill_dataset_destroy(s->fit), distill_dataset_destroy(s->val);
    distill__free(ctx, s->outputs);
}

/* Hold out a fifth of the rows (drawn from the seed) for validation; the
 * rest keep their rows of the teacher's outputs (base, over all rows). */
static distill_status hold_out(distill_context *ctx, uint64_t seed, distill_dataset *train,
                               const distill_kd *base, split *s, const char *fn)
{
    const int64_t n = distill_dataset_count(train), n_val = n / 5, k = base->k;
    int64_t *perm, i;
    distill_status st;
    if (n_val < 1)
        return distill__fail(ctx, DISTILL_E_INVAL, "%s: %lld training rows are too few to hold out "
                             "a validation fifth; give a validation set", fn, (long long)n);
    if (!(perm = distill__alloc(ctx, sizeof(int64_t) * (size_t)n)))
        return distill__fail(ctx, DISTILL_E_NOMEM, "%s: out of memory", fn);
    distill__rng_permutation(ctx->seed, distill__rng_derive(DISTILL__KD_STREAM, seed, 2, 0), n, perm);
    st = distill_dataset_subset(train, perm, n_val, &s->val);
    if (st == DISTILL_OK)
        st = distill_dataset_subset(train, perm + n_val, n - n_val, &s->fit);
    if (st == DISTILL_OK && !(s->outputs = distill__alloc(ctx, sizeof(float) * (size_t)((n - n_val) * k))))
        st = distill__fail(ctx, DISTILL_E_NOMEM, "%s: out of memory", fn);
    for (i = n_val; st == DISTILL_OK && i < n; i++)
        memcpy(s->outputs + (i - n_val) * k, base->outputs + perm[i] * k, sizeof(float) * (size_t)k);
    distill__free(ctx, perm);
    return st;
}

/* Train a copy of the student with (T, lambda) on the cached outputs and
 * score it on the validation rows. */
static distill_status grid_cell(distill_context *ctx, const distill_kd_options *o, distill_dataset *fit,
                                distill_dataset *val, const float *outputs, int64_t k,
                                const distill_model *student, double t, double lambda, double *score,
                                const char *fn)
{
    distill_kd_options oc = *o;
    distill_model *copy = NULL;
    distill_kd *kd = NULL;
    distill_status st;
    oc.temperature = t, oc.lambda = lambda;
    oc.teacher = NULL, oc.teacher_fn = NULL, oc.teacher_outputs = outputs, oc.teacher_ld = k;
    oc.teacher_handle = NULL;
    st = distill_model_clone(student, &copy);
    if (st == DISTILL_OK)
        st = distill__kd_new(ctx, &oc, copy, fit, NULL, 1, fn, &kd);
    if (st == DISTILL_OK)
        st = distill_kd_run(kd, 0);
    if (st == DISTILL_OK)
        st = distill_kd_score(ctx, o->mode, copy, val, score);
    distill_kd_destroy(kd);
    distill_model_destroy(copy);
    return st;
}

static int finite_values(const double *v, int64_t n)
{
    int64_t i;
    for (i = 0; i < n; i++)
        if (!isfinite(v[i]))
            return 0;
    return 1;
}

distill_status distill_kd_grid_search(distill_context *ctx, const distill_kd_options *opts,
                                      const distill_model *student, distill_dataset *train,
                                      distill_dataset *privileged, distill_dataset *validation,
                                      const double *temperatures, int64_t n_t, const double *lambdas,
                                      int64_t n_lambda, double *scores, double *best_t, double *best_lambda)
{
    static const char fn[] = "distill_kd_grid_search";
    distill_kd_options o;
    split sp = {NULL, NULL, NULL};
    distill_model *scratch = NULL;
    distill_kd *base = NULL;
    distill_status st;
    double best = NAN, score;
    int64_t a, b;
    if (!ctx)
        return DISTILL_E_INVAL;
    if (!opts || !student || !train || !temperatures || !lambdas || n_t < 1 || n_lambda < 1 || !best_t ||
        !best_lambda || !finite_values(temperatures, n_t) || !finite_values(lambdas, n_lambda))
        return distill__fail(ctx, DISTILL_E_INVAL, "%s: opts, student, train, best_t, best_lambda and "
                             "at least one finite temperature and lambda are needed", fn);
    DISTILL__TRY(distill__kd_options_read(ctx, opts, &o, fn));
    opts = &o;
    /* the teacher runs once over every row, through a solver whose student is a scratch copy */
    st = distill_model_clone(student, &scratch);
    if (st == DISTILL_OK)
        st = distill__kd_new(ctx, opts, scratch, train, privileged, 1, fn, &base);
    if (st == DISTILL_OK && !validation)
        st = hold_out(ctx, opts->seed, train, base, &sp, fn);
    for (a = 0; st == DISTILL_OK && a < n_t; a++)
        for (b = 0; st == DISTILL_OK && b < n_lambda; b++) {
            st = validation ? grid_cell(ctx, opts, train, validation, base->outputs, base->k, student,
                                        temperatures[a], lambdas[b], &score, fn)
                            : grid_cell(ctx, opts, sp.fit, sp.val, sp.outputs, base->k, student,
                                        temperatures[a], lambdas[b], &score, fn);
            if (st != DISTILL_OK)
                break;
            if (scores)
                scores[a * n_lambda + b] = score;
            if (isnan(best) || (opts->mode == DISTILL_KD_REGRESSION ? score < best : score > best))
                best = score, *best_t = temperatures[a], *best_lambda = lambdas[b];
            st = distill__progress(ctx, "kd grid", a * n_lambda + b + 1, n_t * n_lambda);
        }
    split_free(ctx, &sp);
    distill_kd_destroy(base);
    distill_model_destroy(scratch);
    return st;
}

/* Experimental since 0.2; 0.1 programs bind this name at DISTILL_0.1. */
DISTILL__EXPERIMENTAL_SINCE_0_1(distill_kd_grid_search);
