/* Knowledge distillation (docs/kd.md): the solver's life, its loss on a
 * batch of training rows and its training step.  The losses themselves
 * are the kernels layer's distill_kd_loss_grad (softmax targets) and
 * distill_kd_mse_loss_grad (regression, logit matching). */
#include <math.h>
#include <string.h>

#include "../core/check.h"
#include "../solver/run.h"
#include "../core/rng.h"
#include "kd_internal.h"


void distill_kd_options_init(distill_kd_options *o)
{
    if (!o)
        return;
    memset(o, 0, sizeof *o);
    o->struct_size = sizeof *o;
    o->mode = DISTILL_KD_GENERALIZED, o->preset = DISTILL_KD_PRESET_DEFAULT;
    o->temperature = 1.0, o->lambda = 0.5, o->student_t = 1.0, o->soft_scale = 1.0;
    o->epochs = 50, o->batch = 128;
}

size_t distill_kd_options_size(void) { return sizeof(distill_kd_options); }

distill_status distill_kd_options_weights(const distill_kd_options *opts, double *student_t,
                                          double *soft_scale)
{
    distill_kd_options oc;
    const distill_kd_options *o = &oc;
    double t;
    int32_t preset;
    if (!opts || !student_t || !soft_scale)
        return DISTILL_E_INVAL;
    distill_kd_options_init(&oc);
    DISTILL__TRY(distill__struct_read(NULL, "distill_kd_options_weights", "options", opts,
                                      DISTILL__KD_OPTIONS_SIZE_0_1, sizeof oc, &oc));
    t = o->temperature;
    preset = o->preset;
    if (preset == DISTILL_KD_PRESET_DEFAULT)
        preset = o->mode == DISTILL_KD_GENERALIZED || o->mode == DISTILL_KD_CLASSIC
                     ? DISTILL_KD_PRESET_LOPEZPAZ2016 : DISTILL_KD_PRESET_CUSTOM;
    switch (preset) {
    case DISTILL_KD_PRESET_LOPEZPAZ2016: *student_t = 1.0, *soft_scale = t * t; break;
    case DISTILL_KD_PRESET_HINTON2015: *student_t = t, *soft_scale = t * t; break;
    case DISTILL_KD_PRESET_CUSTOM:
        /* DEFAULT outside GD/classic: no temperature on the student, scale 1 */
        *student_t = o->preset == DISTILL_KD_PRESET_CUSTOM ? o->student_t : 1.0;
        *soft_scale = o->preset == DISTILL_KD_PRESET_CUSTOM ? o->soft_scale : 1.0;
        break;
    default: return DISTILL_E_INVAL;
    }
    return DISTILL_OK;
}

/* The kernels work in float: temperatures and scales stay where T^2, z / T
 * and the soft gradient remain representable. */
#define KD_T_MIN 1e-6
#define KD_T_MAX 1e6
#define KD_SCALE_MAX 1e12

static int in_range(double v, double lo, double hi) { return v >= lo && v <= hi; }

static distill_status check_options(distill_context *ctx, const distill_kd_options *o,
                                    const char *fn)
{
    if (o->flags)
        return distill__fail(ctx, DISTILL_E_INVAL, "%s: flags must be 0", fn);
    if (o->mode < DISTILL_KD_GENERALIZED || o->mode > DISTILL_KD_LOGITS)
        return distill__fail(ctx, DISTILL_E_INVAL, "%s: unknown mode %d", fn, (int)o->mode);
    if (o->preset < DISTILL_KD_PRESET_DEFAULT || o->preset > DISTILL_KD_PRESET_CUSTOM)
        return distill__fail(ctx, DISTILL_E_INVAL, "%s: unknown preset %d", fn, (int)o->preset);
    if (!in_range(o->temperature, KD_T_MIN, KD_T_MAX) || !in_range(o->lambda, 0.0, 1.0))
        return distill__fail(ctx, DISTILL_E_INVAL, "%s: temperature must be in [%g, %g] and lambda "
                             "in [0, 1] (got %g, %g)", fn, KD_T_MIN, KD_T_MAX, o->temperature, o->lambda);
    if (o->preset == DISTILL_KD_PRESET_CUSTOM &&
        (!in_range(o->student_t, KD_T_MIN, KD_T_MAX) || !in_range(o->soft_scale, 0.0, KD_SCALE_MAX)))
        return distill__fail(ctx, DISTILL_E_INVAL, "%s: student_t must be in [%g, %g] and soft_scale "
                             "in [0, %g] (got %g, %g)", fn, KD_T_MIN, KD_T_MAX, KD_SCALE_MAX, o->student_t,
                             o->soft_scale);
    if (o->epochs < 1 || o->batch < 1)
        return distill__fail(ctx, DISTILL_E_INVAL, "%s: epochs and batch must be >= 1", fn);
    return DISTILL_OK;
}

static distill_status check_data(distill_context *ctx, const distill_model *model,
                                 const distill_dataset *train, const distill_dataset *priv,
                                 int32_t mode, const char *fn)
{
    const int64_t y_dim = train ? distill_dataset_y_dim(train) : 0;
    if (!model || !train)
        return distill__fail(ctx, DISTILL_E_INVAL, "%s: the model and the training set must not be NULL", fn);
    if (distill_dataset_x_dim(train) != distill_model_input_dim(model))
        return distill__fail(ctx, DISTILL_E_SHAPE, "%s: the training rows have %lld features, the "
                             "model takes %lld", fn, (long long)distill_dataset_x_dim(train),
                             (long long)distill_model_input_dim(model));
    if (priv && distill_dataset_count(priv) != distill_dataset_count(train))
        return distill__fail(ctx, DISTILL_E_SHAPE, "%s: %lld privileged rows for %lld training rows",
                             fn, (long long)distill_dataset_count(priv),
                             (long long)distill_dataset_count(train));
    if (mode == DISTILL_KD_REGRESSION && y_dim != 0 && y_dim != distill_model_output_dim(model))
        return distill__fail(ctx, DISTILL_E_SHAPE, "%s: %lld regression targets per row for a "
                             "model with %lld outputs", fn, (long long)y_dim,
                             (long long)distill_model_output_dim(model));
    return DISTILL_OK;
}

static distill_status alloc_batch(distill_kd *kd)
{
    const int64_t b = kd->o.batch < kd->n ? kd->o.batch : kd->n, k = kd->k;
    kd->perm = distill__alloc(kd->ctx, sizeof(int64_t) * (size_t)kd->n);
    kd->idx = distill__alloc(kd->ctx, sizeof(int64_t) * (size_t)b);
    kd->blab = distill__alloc(kd->ctx, sizeof(int32_t) * (size_t)b);
    kd->bmask = distill__alloc(kd->ctx, (size_t)b);
    kd->x = distill__alloc(kd->ctx, sizeof(float) * (size_t)(b * kd->d));
    kd->z = distill__alloc(kd->ctx, sizeof(float) * (size_t)(b * k));
    kd->dz = distill__alloc(kd->ctx, sizeof(float) * (size_t)(b * k));
    kd->dz2 = distill__alloc(kd->ctx, sizeof(float) * (size_t)(b * k));
    kd->bsoft = distill__alloc(kd->ctx, sizeof(float) * (size_t)(b * k));
    kd->by = distill__alloc(kd->ctx, sizeof(float) * (size_t)(b * k));
    if (!kd->perm || !kd->idx || !kd->blab || !kd->bmask || !kd->x || !kd->z || !kd->dz ||
        !kd->dz2 || !kd->bsoft || !kd->by)
        return distill__fail(kd->ctx, DISTILL_E_NOMEM, "distill_kd: out of memory");
    return DISTILL_OK;
}

/* A view of all n rows of ds, so the caller may destroy ds first. */
static distill_status whole_view(distill_context *ctx, distill_dataset *ds, int64_t n,
                                 distill_dataset **out)
{
    int64_t *idx = distill__alloc(ctx, sizeof(int64_t) * (size_t)n), i;
    distill_status st;
    if (!idx)
        return distill__fail(ctx, DISTILL_E_NOMEM, "distill_kd: out of memory");
    for (i = 0; i < n; i++)
        idx[i] = i;
    st = distill_dataset_subset(ds, idx, n, out);
    distill__free(ctx, idx);
    return st;
}

static void default_optimizer(distill_optimizer_options *oo)
{
    distill_optimizer_options_init(oo);
    oo->kind = DISTILL_OPTIM_RMSPROP, oo->lr = 1e-3, oo->alpha = 0.9, oo->eps = 1e-6;
    oo->flags = DISTILL_OPTIM_EPS_IN_SQRT;
}

distill_status distill__kd_options_read(distill_context *ctx, const distill_kd_options *in,
                                       distill_kd_options *out, const char *fn)
{
    if (!in)
        return distill__fail(ctx, DISTILL_E_INVAL, "%s: opts is NULL", fn);
    distill_kd_options_init(out);
    DISTILL__TRY(distill__struct_read(ctx, fn, "options", in, DISTILL__KD_OPTIONS_SIZE_0_1,
                                      sizeof *out, out));
    return check_options(ctx, out, fn);
}

distill_status distill__kd_new(distill_context *ctx, const distill_kd_options *o,
                               distill_model *model, distill_dataset *train,
                               distill_dataset *privileged, int with_teacher, const char *fn,
                               distill_kd **out)
{
    distill_kd *kd;
    distill_status st;
    int64_t all_rows;
    DISTILL__TRY(check_data(ctx, model, train, privileged, o->mode, fn));
    if (!(kd = distill__alloc(ctx, sizeof *kd)))
        return distill__fail(ctx, DISTILL_E_NOMEM, "%s: out of memory", fn);
    memset(kd, 0, sizeof *kd);
    kd->ctx = ctx, kd->o = *o, kd->student = model;
    kd->o.teacher = NULL, kd->o.teacher_fn = NULL, kd->o.teacher_outputs = NULL;
    kd->o.teacher_handle = NULL;
    default_optimizer(&kd->oo);
    if (o->optimizer) {
        distill_optimizer_options_init(&kd->oo);
        st = distill__struct_read(ctx, fn, "optimizer options", o->optimizer, sizeof kd->oo,
                                  sizeof kd->oo, &kd->oo);
        if (st != DISTILL_OK) {
            distill__free(ctx, kd);
            return st;
        }
    }
    kd->o.optimizer = NULL;
    if (distill_kd_options_weights(o, &kd->student_t, &kd->soft_scale) != DISTILL_OK)
        kd->student_t = kd->soft_scale = 1.0; /* unreachable: the options were checked */
    kd->n = all_rows = distill_dataset_count(train);
    kd->d = distill_dataset_x_dim(train), kd->k = distill_model_output_dim(model);
    kd->stream = distill__rng_derive(DISTILL__KD_STREAM, o->seed, 0, 0), kd->perm_epoch = -1;
    st = kd->n < 1 ? distill__fail(ctx, DISTILL_E_INVAL, "%s: the training set is empty", fn) : DISTILL_OK;
    if (st == DISTILL_OK)
        st = whole_view(ctx, train, all_rows, &kd->train);
    if (st == DISTILL_OK)
        st = distill__kd_read_labels(kd, fn);
    if (st == DISTILL_OK && with_teacher)
        st = distill__kd_teacher_targets(kd, o, privileged, fn);
    if (st == DISTILL_OK)
        st = alloc_batch(kd);
    if (st == DISTILL_OK)
        st = distill_optimizer_create(ctx, &kd->oo, distill_model_param_count(model), &kd->opt);
    if (st != DISTILL_OK) {
        distill_kd_destroy(kd);
        return st;
    }
    *out = kd;
    return DISTILL_OK;
}

distill_status distill_kd_create(distill_context *ctx, const distill_kd_options *opts,
                                 distill_model *student, distill_dataset *train,
                                 distill_dataset *privileged, distill_kd **out)
{
    static const char fn[] = "distill_kd_create";
    distill_kd_options o;
    if (!ctx)
        return DISTILL_E_INVAL;
    if (!out)
        return distill__fail(ctx, DISTILL_E_INVAL, "%s: out is NULL", fn);
    *out = NULL;
    DISTILL__TRY(distill__kd_options_read(ctx, opts, &o, fn));
    return distill__kd_new(ctx, &o, student, train, privileged, 1, fn, out);
}

void distill_kd_destroy(distill_kd *kd)
{
    distill_context *ctx;
    if (!kd)
        return;
    ctx = kd->ctx;
    distill_optimizer_destroy(kd->opt);
    distill_dataset_destroy(kd->train);
    distill__free(ctx, kd->labels), distill__free(ctx, kd->targets);
    distill__free(ctx, kd->outputs), distill__free(ctx, kd->soft);
    distill__free(ctx, kd->mask), distill__free(ctx, kd->entropy), distill__free(ctx, kd->perm);
    distill__free(ctx, kd->idx), distill__free(ctx, kd->blab), distill__free(ctx, kd->bmask);
    distill__free(ctx, kd->x), distill__free(ctx, kd->z), distill__free(ctx, kd->dz);
    distill__free(ctx, kd->dz2), distill__free(ctx, kd->bsoft), distill__free(ctx, kd->by);
    distill__free(ctx, kd);
}

/* Gather the labels, targets and soft targets of rows idx into the batch. */
static distill_status gather(distill_kd *kd, int64_t n, const int64_t *idx)
{
    const int64_t k = kd->k;
    int64_t i;
    for (i = 0; i < n; i++) {
        if (idx[i] < 0 || idx[i] >= kd->n)
            return distill__fail(kd->ctx, DISTILL_E_INVAL, "distill_kd: row %lld is not a training "
                                 "row (%lld rows)", (long long)idx[i], (long long)kd->n);
        if (kd->labels)
            kd->blab[i] = kd->labels[idx[i]];
        if (kd->targets)
            memcpy(kd->by + i * k, kd->targets + idx[i] * k, sizeof(float) * (size_t)k);
        if (kd->soft) {
            memcpy(kd->bsoft + i * k, kd->soft + idx[i] * k, sizeof(float) * (size_t)k);
            kd->bmask[i] = kd->mask[idx[i]];
        }
    }
    return DISTILL_OK;
}

/* The hard and soft terms of the MSE modes, the soft one scaled. */
static distill_status mse_mode_loss(distill_kd *kd, int64_t n, const float *z, int64_t ldz,
                                    float *loss, float *dz, int64_t lddz)
{
    const float lambda = kd->soft ? (float)kd->o.lambda : 0.0f;
    const int64_t k = kd->k;
    float hard = 0.0f, soft = 0.0f;
    int64_t i, j;
    if (kd->o.mode == DISTILL_KD_REGRESSION)
        DISTILL__TRY(distill_kd_mse_loss_grad(kd->ctx, n, k, z, ldz, kd->targets ? kd->by : NULL, k,
                                              NULL, 0, NULL, lambda, &hard, dz, lddz));
    else
        DISTILL__TRY(distill_kd_loss_grad(kd->ctx, n, k, z, ldz, kd->labels ? kd->blab : NULL, NULL, 0,
                                          NULL, lambda, 1.0f, 1.0f, &hard, dz, lddz));
    if (kd->soft && lambda > 0.0f) {
        DISTILL__TRY(distill_kd_mse_loss_grad(kd->ctx, n, k, z, ldz, NULL, 0, kd->bsoft, k, kd->bmask,
                                              lambda, &soft, dz ? kd->dz2 : NULL, k));
        if (dz)
            for (i = 0; i < n; i++)
                for (j = 0; j < k; j++)
                    dz[i * lddz + j] += (float)kd->soft_scale * kd->dz2[i * k + j];
    }
    *loss = hard + (float)kd->soft_scale * soft;
    return DISTILL_OK;
}

/* The loss of outputs z for the rows gathered into the batch. */
static distill_status batch_loss(distill_kd *kd, int64_t n, const float *z, int64_t ldz, float *loss,
                                 float *dz, int64_t lddz)
{
    double h = 0.0;
    int64_t i;
    if (!distill__kd_classifies(kd->o.mode) || kd->o.mode == DISTILL_KD_LOGITS)
        return mse_mode_loss(kd, n, z, ldz, loss, dz, lddz);
    DISTILL__TRY(distill_kd_loss_grad(kd->ctx, n, kd->k, z, ldz, kd->labels ? kd->blab : NULL,
                                      kd->soft ? kd->bsoft : NULL, kd->k, kd->soft ? kd->bmask : NULL,
                                      kd->soft ? (float)kd->o.lambda : 0.0f, (float)kd->student_t,
                                      (float)kd->soft_scale, loss, dz, lddz));
    if (kd->o.mode == DISTILL_KD_POLICY && kd->soft) { /* report KL(s || q) = CE - H(s) */
        for (i = 0; i < n; i++)
            if (kd->bmask[i])
                h += kd->entropy[kd->idx[i]];
        *loss -= (float)(kd->o.lambda * kd->soft_scale * h / (double)n);
    }
    return DISTILL_OK;
}

distill_status distill_kd_loss_grad_rows(distill_kd *kd, int64_t n, const int64_t *idx,
                                         const float *z, int64_t ldz, float *loss, float *dz,
                                         int64_t lddz)
{
    static const char fn[] = "distill_kd_loss_grad_rows";
    const int64_t cap = kd ? (kd->o.batch < kd->n ? kd->o.batch : kd->n) : 0;
    if (!kd)
        return DISTILL_E_INVAL;
    if (!idx || !loss || n < 1 || n > cap)
        return distill__fail(kd->ctx, DISTILL_E_INVAL, "%s: idx and loss must not be NULL and "
                             "1 <= n <= %lld (the batch size)", fn, (long long)cap);
    DISTILL__TRY(distill__check_matrix(kd->ctx, fn, "Z", z, n, kd->k, ldz));
    DISTILL__TRY(distill__check_optional(kd->ctx, fn, "dZ", dz, n, kd->k, lddz));
    DISTILL__TRY(gather(kd, n, idx));
    memcpy(kd->idx, idx, sizeof(int64_t) * (size_t)n);
    return batch_loss(kd, n, z, ldz, loss, dz, lddz);
}

/* Rows of the next step: batch b of epoch e under the solver's shuffle. */
static int64_t next_rows(distill_kd *kd)
{
    const int64_t nb = (kd->n + kd->o.batch - 1) / kd->o.batch;
    const int64_t epoch = kd->steps / nb, b = kd->steps % nb, start = b * kd->o.batch;
    const int64_t n = kd->n - start < kd->o.batch ? kd->n - start : kd->o.batch;
    if (kd->perm_epoch != epoch) {
        distill__rng_permutation(kd->ctx->seed, distill__rng_derive(kd->stream, 1, (uint64_t)epoch, 0),
                                 kd->n, kd->perm);
        kd->perm_epoch = epoch;
    }
    memcpy(kd->idx, kd->perm + start, sizeof(int64_t) * (size_t)n);
    return n;
}

distill_status distill_kd_step(distill_kd *kd, float *loss)
{
    const int64_t k = kd ? kd->k : 0;
    int64_t n;
    float l;
    if (!kd)
        return DISTILL_E_INVAL;
    n = next_rows(kd);
    DISTILL__TRY(distill_dataset_get(kd->train, kd->idx, n, kd->x, kd->d, NULL, 0));
    DISTILL__TRY(gather(kd, n, kd->idx));
    DISTILL__TRY(distill_model_forward(kd->student, DISTILL_MODE_TRAIN, n, kd->x, kd->d, kd->z, k));
    DISTILL__TRY(batch_loss(kd, n, kd->z, k, &l, kd->dz, k));
    DISTILL__TRY(distill_model_backward(kd->student, kd->dz, k, NULL, 0, DISTILL_BACKWARD_PARAMS));
    DISTILL__TRY(distill_optimizer_step(kd->opt, distill_model_params(kd->student),
                                        distill_model_grads(kd->student)));
    kd->steps++;
    distill__mean_add(&kd->recent, l);
    if (loss)
        *loss = l;
    return DISTILL_OK;
}

static distill_status kd_step(void *kd) { return distill_kd_step(kd, NULL); }

distill_status distill_kd_run(distill_kd *kd, int64_t epochs)
{
    int64_t total;
    if (!kd)
        return DISTILL_E_INVAL;
    if (epochs < 0)
        return distill__fail(kd->ctx, DISTILL_E_INVAL, "distill_kd_run: epochs must be >= 0 (0: the "
                             "options' epochs), got %lld", (long long)epochs);
    total = (kd->n + kd->o.batch - 1) / kd->o.batch;
    DISTILL__TRY(distill__check_count(kd->ctx, "distill_kd_run", "epochs x batches per epoch",
                                      epochs > 0 ? epochs : kd->o.epochs, total, 1));
    total *= epochs > 0 ? epochs : kd->o.epochs;
    return distill__run_steps(kd->ctx, "kd", &kd->steps, total, kd_step, kd);
}

int64_t distill_kd_steps_done(const distill_kd *kd) { return kd ? kd->steps : 0; }

double distill_kd_recent_loss(distill_kd *kd) { return kd ? distill__mean_take(&kd->recent) : NAN; }

const float *distill_kd_teacher_outputs(const distill_kd *kd) { return kd ? kd->outputs : NULL; }
const float *distill_kd_soft_targets(const distill_kd *kd) { return kd ? kd->soft : NULL; }

void distill_kd_shape(const distill_kd *kd, int64_t *rows, int64_t *k)
{
    if (rows)
        *rows = kd ? kd->n : 0;
    if (k)
        *k = kd ? kd->k : 0;
}
