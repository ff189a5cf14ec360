/* KRR-ST (docs/krrst.md): the solver's life and its outer step.  The KRR
 * loss and its gradients are the kernels layer's distill_krrst_loss_grad;
 * here they are chained through a pool network to the synthetic images. */
#include <math.h>
#include <string.h>

#include "../core/check.h"
#include "../solver/run.h"
#include "../core/rng.h"
#include "../data/augment.h"
#include "../nn/predict.h"
#include "krrst_internal.h"

static const char fn_create[] = "distill_krrst_create";

void distill_krrst_options_init(distill_krrst_options *o)
{
    if (!o)
        return;
    memset(o, 0, sizeof *o);
    o->struct_size = sizeof *o;
    o->m = 100, o->n = 256, o->steps = 3000;
    o->pool_size = 4, o->pool_period = 200;
    o->pool_lr = 0.1, o->pool_momentum = 0.9, o->pool_weight_decay = 1e-3;
    o->lr = 1e-3, o->final_lr_factor = 1e-3, o->ridge = 1e-6;
    o->world = 1;
}

size_t distill_krrst_options_size(void) { return sizeof(distill_krrst_options); }


/* ConvNet-3 32-64-128 with batch norm (the paper's feature extractor). */
static distill_status default_spec(distill_krrst *s)
{
    if (!(s->spec = distill__alloc(s->ctx, sizeof(distill_layer_spec) * 13)))
        return distill__fail(s->ctx, DISTILL_E_NOMEM, "%s: out of memory", fn_create);
    s->n_spec = distill_convnet_layers(3, 32, 1, s->spec, 13);
    return DISTILL_OK;
}

/* The caller's options (any size since 0.1: 0.1 ends at teacher_ld) into
 * o, defaults for the rest, checked. */
static distill_status read_options(distill_context *ctx, const distill_krrst_options *in,
                                   distill_krrst_options *o)
{
    distill_krrst_options_init(o);
    DISTILL__TRY(distill__struct_read(ctx, fn_create, "options", in,
                                      offsetof(distill_krrst_options, teacher_handle), sizeof *o, o));
    if (o->m < 1 || o->n < 1 || o->steps < 1 || o->pool_size < 1 || o->pool_period < 1 || o->k < 0)
        return distill__fail(ctx, DISTILL_E_INVAL, "%s: m, n, steps, pool_size and pool_period must be "
                             ">= 1 and k >= 0", fn_create);
    if (!(o->lr > 0) || !(o->pool_lr > 0) || !(o->ridge >= 0) || !(o->final_lr_factor >= 0) ||
        o->augment_crop_pad < 0 || (o->features && o->n_features < 1))
        return distill__fail(ctx, DISTILL_E_INVAL, "%s: lr and pool_lr must be > 0, ridge, "
                             "final_lr_factor and augment_crop_pad >= 0", fn_create);
    if (o->synthetic_crop_pad < 0)
        return distill__fail(ctx, DISTILL_E_INVAL, "%s: synthetic_crop_pad must be >= 0, not %d", fn_create,
                             (int)o->synthetic_crop_pad);
    if ((o->teacher_targets || (o->teacher_handle && o->teacher_handle->outputs)) &&
        (o->augment_flip || o->augment_crop_pad))
        return distill__fail(ctx, DISTILL_E_INVAL, "%s: precomputed teacher targets cannot follow "
                             "augmented images; use a teacher model or callback", fn_create);
    if (o->world < 1 || o->world > 65536 || o->rank < 0 || o->rank >= o->world || (o->world > 1 && !o->allreduce))
        return distill__fail(ctx, DISTILL_E_INVAL, "%s: world must be in [1, 65536], rank in [0, world) "
                             "(got %d of %d), and world > 1 needs allreduce", fn_create, (int)o->rank,
                             (int)o->world);
    return DISTILL_OK;
}

static float *floats(distill_krrst *s, int64_t n)
{
    return distill__alloc(s->ctx, sizeof(float) * (size_t)(n > 0 ? n : 1));
}

static int synthetic_augmented(const distill_krrst *s)
{
    return s->o.synthetic_flip || s->o.synthetic_crop_pad > 0;
}

static distill_status alloc_state(distill_krrst *s)
{
    const int64_t m = s->o.m, n = s->o.n, big = (m > n ? m : n);
    distill_krr_options ko;
    distill_optimizer_options oo;
    /* every product below, checked first (n = 2^62 overflowed n * dim) */
    DISTILL__TRY(distill__check_count(s->ctx, fn_create, "m x (image size + k)", m, s->dim + s->k, 2 * sizeof(float)));
    DISTILL__TRY(distill__check_count(s->ctx, fn_create, "n x image size", n, s->dim, sizeof(float)));
    DISTILL__TRY(distill__check_count(s->ctx, fn_create, "max(m, n) x (k + features)", big, s->k + s->d,
                                      2 * sizeof(float)));
    s->xy = floats(s, m * (s->dim + s->k)), s->gxy = floats(s, m * (s->dim + s->k));
    s->xr = floats(s, n * s->dim), s->yr = floats(s, n * s->k);
    s->fr = floats(s, n * s->d), s->fs = floats(s, m * s->d), s->dfs = floats(s, m * s->d);
    s->head_out = floats(s, big * s->k), s->dhead = floats(s, big * s->k);
    s->dfeat = floats(s, big * s->d);
    s->xa = floats(s, synthetic_augmented(s) ? m * s->dim : 0);
    s->ga = floats(s, synthetic_augmented(s) ? m * s->dim : 0);
    s->idx = distill__alloc(s->ctx, sizeof(int64_t) * (size_t)(big > m ? big : m));
    s->init_idx = distill__alloc(s->ctx, sizeof(int64_t) * (size_t)m);
    if (!s->xy || !s->gxy || !s->xr || !s->yr || !s->fr || !s->fs || !s->dfs || !s->head_out ||
        !s->dhead || !s->dfeat || !s->xa || !s->ga || !s->idx || !s->init_idx)
        return distill__fail(s->ctx, DISTILL_E_NOMEM, "%s: out of memory", fn_create);
    distill_krr_options_init(&ko);
    ko.ridge = s->o.ridge;
    DISTILL__TRY(distill_krrst_loss_grad_workspace_size(&ko, m, n, s->d, s->k, &s->ws_bytes));
    if (!(s->ws = distill__alloc(s->ctx, s->ws_bytes)))
        return distill__fail(s->ctx, DISTILL_E_NOMEM, "%s: out of memory", fn_create);
    distill_optimizer_options_init(&oo);
    oo.kind = DISTILL_OPTIM_ADAMW, oo.lr = s->o.lr, oo.weight_decay = 0;
    oo.schedule = DISTILL_SCHEDULE_LINEAR, oo.total_steps = s->o.steps;
    oo.final_lr_factor = s->o.final_lr_factor;
    return distill_optimizer_create(s->ctx, &oo, m * (s->dim + s->k), &s->adamw);
}

/* X_s = m distinct random real images (a partial shuffle), Y_s = their targets. */
static distill_status init_synthetic(distill_krrst *s)
{
    const int64_t m = s->o.m, N = distill_dataset_count(s->real);
    int64_t i, *perm = distill__alloc(s->ctx, sizeof(int64_t) * (size_t)N);
    distill__rng r;
    distill_status st;
    if (!perm)
        return distill__fail(s->ctx, DISTILL_E_NOMEM, "%s: out of memory", fn_create);
    for (i = 0; i < N; i++)
        perm[i] = i;
    distill__rng_init(&r, s->ctx->seed, distill__krrst_stream(s->stream, KRRST_INIT, 0, 0), 0);
    for (i = 0; i < m; i++) {
        int64_t j = i + (int64_t)distill__rng_below(&r, (uint64_t)(N - i)), t = perm[i];
        perm[i] = perm[j], perm[j] = t;
        s->init_idx[i] = perm[i];
    }
    distill__free(s->ctx, perm);
    DISTILL__TRY(distill_dataset_get(s->real, s->init_idx, m, s->xy, s->dim, NULL, 0));
    st = distill__teacher_use_embed(&s->teacher, s->ctx, m, s->xy, s->dim, s->init_idx, s->xy + m * s->dim,
                                    s->k);
    return st;
}

static distill_status shape_and_teacher(distill_krrst *s, const distill_krrst_options *o)
{
    distill_model *probe;
    distill_teacher *t;
    distill_dataset_shape(s->real, &s->c, &s->h, &s->w);
    s->dim = s->c * s->h * s->w;
    DISTILL__TRY(distill__teacher_from_options(s->ctx, fn_create, o->teacher_handle, o->teacher,
                                               o->teacher_fn, o->teacher_targets, o->teacher_ld,
                                               distill_dataset_count(s->real), o->k, &t));
    s->teacher.t = t, s->k = t->k;
    if (t->in_dim > 0 && t->in_dim != s->dim)
        return distill__fail(s->ctx, DISTILL_E_SHAPE, "%s: the teacher takes %lld inputs, the images "
                             "have %lld", fn_create, (long long)t->in_dim, (long long)s->dim);
    if (o->k > 0 && o->k != t->k) {
        if (o->teacher_handle)
            return distill__fail(s->ctx, DISTILL_E_SHAPE, "%s: k is %lld, the teacher has %lld outputs",
                                 fn_create, (long long)o->k, (long long)t->k);
        /* 0.1 ignored k for a model teacher: still so, but said */
        distill__log(s->ctx, DISTILL_LOG_WARN, "%s: k = %lld ignored: the teacher model has %lld outputs",
                     fn_create, (long long)o->k, (long long)t->k);
    }
    if (t->outputs)
        DISTILL__TRY(distill__check_finite(s->ctx, fn_create, "the teacher's precomputed outputs",
                                           t->outputs, t->rows, t->k, t->k));
    DISTILL__TRY(distill__krrst_feature_model(s, 1, &probe));
    s->d = distill_model_output_dim(probe);
    if (distill_model_param_count(probe) < 1) {
        distill_model_destroy(probe);
        return distill__fail(s->ctx, DISTILL_E_INVAL, "%s: the feature extractor has no parameters "
                             "(the pool trains it)", fn_create);
    }
    distill_model_destroy(probe);
    return DISTILL_OK;
}

static distill_status create(distill_krrst *s, const distill_krrst_options *o, const distill_dataset *real)
{
    int64_t i, N = distill_dataset_count(real), *all;
    distill_status st;
    if (N < o->m)
        return distill__fail(s->ctx, DISTILL_E_INVAL, "%s: the real set has %lld images, fewer than "
                             "m = %lld", fn_create, (long long)N, (long long)o->m);
    if (!(all = distill__alloc(s->ctx, sizeof(int64_t) * (size_t)N)))
        return distill__fail(s->ctx, DISTILL_E_NOMEM, "%s: out of memory", fn_create);
    for (i = 0; i < N; i++)
        all[i] = i;
    st = distill_dataset_subset(real, all, N, &s->real);
    distill__free(s->ctx, all);
    DISTILL__TRY(st);
    if (o->features) {
        /* each spec read at the caller's stride, into today's layout */
        const size_t stride = distill__struct_size_of(o->features);
        s->n_spec = o->n_features;
        if (!(s->spec = distill__alloc(s->ctx, sizeof(distill_layer_spec) * (size_t)s->n_spec)))
            return distill__fail(s->ctx, DISTILL_E_NOMEM, "%s: out of memory", fn_create);
        for (i = 0; i < s->n_spec; i++) {
            distill_layer_spec_init(&s->spec[i], DISTILL_LAYER_DENSE);
            DISTILL__TRY(distill__struct_read(s->ctx, fn_create, "feature layer spec",
                                              (const char *)o->features + (size_t)i * stride,
                                              sizeof s->spec[i], sizeof s->spec[i], &s->spec[i]));
        }
    } else
        DISTILL__TRY(default_spec(s));
    DISTILL__TRY(shape_and_teacher(s, o));
    DISTILL__TRY(alloc_state(s));
    /* without augmentation a real image always gets the same target: compute each once */
    if (!o->augment_flip && !o->augment_crop_pad)
        DISTILL__TRY(distill__teacher_use_cache(&s->teacher, s->ctx, s->real));
    DISTILL__TRY(init_synthetic(s));
    return distill__krrst_pool_create(s);
}

distill_status distill_krrst_create(distill_context *ctx, const distill_krrst_options *o,
                                    const distill_dataset *real, distill_krrst **out)
{
    distill_krrst_options oc;
    distill_krrst *s;
    distill_status st;
    if (!ctx)
        return DISTILL_E_INVAL;
    if (!o || !real || !out)
        return distill__fail(ctx, DISTILL_E_INVAL, "%s: opts, real and out must not be NULL", fn_create);
    *out = NULL;
    DISTILL__TRY(read_options(ctx, o, &oc));
    o = &oc;
    if (!(s = distill__alloc(ctx, sizeof *s)))
        return distill__fail(ctx, DISTILL_E_NOMEM, "%s: out of memory", fn_create);
    memset(s, 0, sizeof *s);
    s->ctx = ctx, s->o = *o;
    s->o.teacher = NULL, s->o.teacher_fn = NULL, s->o.teacher_targets = NULL, s->o.features = NULL;
    s->o.teacher_handle = NULL;
    s->stream = distill__new_stream(ctx);
    if ((st = create(s, o, real)) != DISTILL_OK) {
        /* the host keeps what a failed call did not take */
        distill__teacher_drop_unused(s->teacher.t), s->teacher.t = NULL;
        distill_krrst_destroy(s);
        return st;
    }
    *out = s;
    return DISTILL_OK;
}

void distill_krrst_destroy(distill_krrst *s)
{
    distill_context *ctx;
    if (!s)
        return;
    ctx = s->ctx;
    distill__krrst_pool_free(s);
    distill__teacher_use_free(&s->teacher, ctx);
    distill_dataset_destroy(s->real);
    distill_optimizer_destroy(s->adamw);
    distill__free(ctx, s->spec), distill__free(ctx, s->xy), distill__free(ctx, s->gxy);
    distill__free(ctx, s->xr), distill__free(ctx, s->yr), distill__free(ctx, s->fr);
    distill__free(ctx, s->fs), distill__free(ctx, s->dfs), distill__free(ctx, s->head_out);
    distill__free(ctx, s->dhead), distill__free(ctx, s->dfeat), distill__free(ctx, s->idx);
    distill__free(ctx, s->init_idx), distill__free(ctx, s->ws);
    distill__free(ctx, s->xa), distill__free(ctx, s->ga);
    distill__free(ctx, s);
}

/* The step's real batch: n random images (with replacement), augmented,
 * and their teacher targets. */
static distill_status real_batch(distill_krrst *s)
{
    const int64_t n = s->o.n, N = distill_dataset_count(s->real), t = s->step;
    distill__rng r;
    int64_t i;
    const int64_t skip = (int64_t)s->o.rank * n; /* this rank's rows of the world's batch */
    distill__rng_init(&r, s->ctx->seed, distill__krrst_stream(s->stream, KRRST_BATCH, (uint64_t)t, 0), 0);
    for (i = 0; i < skip; i++)
        (void)distill__rng_below(&r, (uint64_t)N);
    for (i = 0; i < n; i++)
        s->idx[i] = (int64_t)distill__rng_below(&r, (uint64_t)N);
    DISTILL__TRY(distill_dataset_get(s->real, s->idx, n, s->xr, s->dim, NULL, 0));
    if (s->o.augment_crop_pad > 0)
        DISTILL__TRY(distill_augment_crop(s->ctx, distill__krrst_stream(s->stream, KRRST_CROP, (uint64_t)t,
                                                                        (uint64_t)s->o.rank), 0,
                                          n, s->c, s->h, s->w, s->o.augment_crop_pad, s->xr));
    if (s->o.augment_flip)
        DISTILL__TRY(distill_augment_flip(s->ctx, distill__krrst_stream(s->stream, KRRST_FLIP, (uint64_t)t,
                                                                        (uint64_t)s->o.rank), 0,
                                          n, s->c, s->h, s->w, 0.5f, s->xr));
    return distill__teacher_use_embed(&s->teacher, s->ctx, n, s->xr, s->dim, s->idx, s->yr, s->k);
}

/* Synthetic augmentation: xa = this step's crop, then flip, of X_s; or (adjoint)
 * the gradient ga with respect to xa back onto X_s's, into gxy. */
static distill_status synthetic_augment(distill_krrst *s, int adjoint)
{
    const int64_t m = s->o.m, t = s->step, pad = s->o.synthetic_crop_pad;
    const uint64_t crop = distill__krrst_stream(s->stream, KRRST_SYN_CROP, (uint64_t)t, (uint64_t)s->o.rank);
    const uint64_t flip = distill__krrst_stream(s->stream, KRRST_SYN_FLIP, (uint64_t)t, (uint64_t)s->o.rank);
    float *x = adjoint ? s->ga : s->xa;
    if (!adjoint)
        memcpy(s->xa, s->xy, sizeof(float) * (size_t)(m * s->dim));
    if (!adjoint && pad > 0)
        DISTILL__TRY(distill_augment_crop(s->ctx, crop, 0, m, s->c, s->h, s->w, pad, x));
    if (s->o.synthetic_flip) /* its own adjoint */
        DISTILL__TRY(distill_augment_flip(s->ctx, flip, 0, m, s->c, s->h, s->w, 0.5f, x));
    if (adjoint && pad > 0)
        DISTILL__TRY(distill__augment_crop_adjoint(s->ctx, crop, 0, m, s->c, s->h, s->w, pad, x));
    if (adjoint)
        memcpy(s->gxy, s->ga, sizeof(float) * (size_t)(m * s->dim));
    return DISTILL_OK;
}

/* loss and d loss / d [X_s | Y_s] into gxy under pool network j. */
static distill_status krr_loss_grad(distill_krrst *s, distill_model *f, float *loss)
{
    const int64_t m = s->o.m, n = s->o.n, d = s->d, k = s->k;
    const int aug = synthetic_augmented(s);
    distill_krr_options ko;
    distill_krr_options_init(&ko);
    ko.ridge = s->o.ridge;
    if (aug)
        DISTILL__TRY(synthetic_augment(s, 0));
    /* real features first: backward needs the synthetic forward to be the last */
    DISTILL__TRY(distill__model_predict(f, n, s->xr, s->dim, s->fr, d));
    DISTILL__TRY(distill_model_forward(f, DISTILL_MODE_EVAL, m, aug ? s->xa : s->xy, s->dim, s->fs, d));
    DISTILL__TRY(distill_krrst_loss_grad(s->ctx, &ko, m, n, d, k, s->fs, d, s->xy + m * s->dim, k,
                                         s->fr, d, s->yr, k, loss, s->dfs, d, s->gxy + m * s->dim, k,
                                         NULL, 0, s->ws, s->ws_bytes));
    DISTILL__TRY(distill_model_backward(f, s->dfs, d, aug ? s->ga : s->gxy, s->dim, 0));
    return aug ? synthetic_augment(s, 1) : DISTILL_OK;
}

/* Data parallel: the mean over the ranks of the gradient and the loss. */
static distill_status reduce(distill_krrst *s, float *loss)
{
    const int64_t count = s->o.m * (s->dim + s->k);
    const float inv = 1.0f / (float)s->o.world;
    int64_t i;
    if (s->o.world == 1)
        return DISTILL_OK;
    if (s->o.allreduce(s->o.allreduce_user, s->gxy, count) != 0 || s->o.allreduce(s->o.allreduce_user, loss, 1) != 0)
        return distill__fail(s->ctx, DISTILL_E_BACKEND, "distill_krrst_step: the allreduce callback failed (rank "
                             "%d of %d)", (int)s->o.rank, (int)s->o.world);
    for (i = 0; i < count; i++)
        s->gxy[i] *= inv;
    *loss *= inv;
    return DISTILL_OK;
}

static int64_t pick_net(const distill_krrst *s)
{
    distill__rng r;
    distill__rng_init(&r, s->ctx->seed, distill__krrst_stream(s->stream, KRRST_PICK, (uint64_t)s->step, 0), 0);
    return (int64_t)distill__rng_below(&r, (uint64_t)s->o.pool_size);
}

distill_status distill_krrst_step(distill_krrst *s, float *loss)
{
    int64_t j;
    float l;
    if (!s)
        return DISTILL_E_INVAL;
    j = pick_net(s);
    DISTILL__TRY(real_batch(s));
    DISTILL__TRY(krr_loss_grad(s, s->pool[j].feat, &l));
    DISTILL__TRY(reduce(s, &l));
    DISTILL__TRY(distill_optimizer_step(s->adamw, s->xy, s->gxy));
    /* (X_s, Y_s) moved: from here on the step is taken */
    s->step++;
    distill__mean_add(&s->recent, l);
    if (loss)
        *loss = l;
    return distill__krrst_pool_update(s, j);
}

distill_status distill_krrst_gradient(distill_krrst *s, float *loss, float *dx, int64_t lddx,
                                      float *dy, int64_t lddy)
{
    static const char fn[] = "distill_krrst_gradient";
    const int64_t m = s ? s->o.m : 0;
    int64_t i;
    float l;
    if (!s)
        return DISTILL_E_INVAL;
    DISTILL__TRY(distill__check_optional(s->ctx, fn, "dx", dx, m, s->dim, lddx));
    DISTILL__TRY(distill__check_optional(s->ctx, fn, "dy", dy, m, s->k, lddy));
    DISTILL__TRY(real_batch(s));
    DISTILL__TRY(krr_loss_grad(s, s->pool[pick_net(s)].feat, &l));
    DISTILL__TRY(reduce(s, &l));
    for (i = 0; i < m; i++) {
        if (dx)
            memcpy(dx + i * lddx, s->gxy + i * s->dim, sizeof(float) * (size_t)s->dim);
        if (dy)
            memcpy(dy + i * lddy, s->gxy + m * s->dim + i * s->k, sizeof(float) * (size_t)s->k);
    }
    if (loss)
        *loss = l;
    return DISTILL_OK;
}

distill_status distill_krrst_set_synthetic(distill_krrst *s, const float *x, int64_t ldx,
                                           const float *y, int64_t ldy)
{
    static const char fn[] = "distill_krrst_set_synthetic";
    const int64_t m = s ? s->o.m : 0;
    int64_t i;
    if (!s)
        return DISTILL_E_INVAL;
    if (x) {
        DISTILL__TRY(distill__check_matrix(s->ctx, fn, "x", x, m, s->dim, ldx));
        DISTILL__TRY(distill__check_finite(s->ctx, fn, "x", x, m, s->dim, ldx));
    }
    if (y) {
        DISTILL__TRY(distill__check_matrix(s->ctx, fn, "y", y, m, s->k, ldy));
        DISTILL__TRY(distill__check_finite(s->ctx, fn, "y", y, m, s->k, ldy));
    }
    for (i = 0; i < m; i++) {
        if (x)
            memcpy(s->xy + i * s->dim, x + i * ldx, sizeof(float) * (size_t)s->dim);
        if (y)
            memcpy(s->xy + m * s->dim + i * s->k, y + i * ldy, sizeof(float) * (size_t)s->k);
    }
    return DISTILL_OK;
}

static distill_status krrst_step(void *s) { return distill_krrst_step(s, NULL); }

distill_status distill_krrst_run(distill_krrst *s, int64_t until)
{
    if (!s)
        return DISTILL_E_INVAL;
    if (until < 0)
        return distill__fail(s->ctx, DISTILL_E_INVAL, "distill_krrst_run: until must be >= 0 (0: the "
                             "options' steps), got %lld", (long long)until);
    return distill__run_steps(s->ctx, "krrst", &s->step, until ? until : s->o.steps, krrst_step, s);
}

int64_t distill_krrst_steps_done(const distill_krrst *s) { return s ? s->step : 0; }

double distill_krrst_recent_loss(distill_krrst *s) { return s ? distill__mean_take(&s->recent) : NAN; }

const float *distill_krrst_images(const distill_krrst *s) { return s ? s->xy : NULL; }
const float *distill_krrst_targets(const distill_krrst *s) { return s ? s->xy + s->o.m * s->dim : NULL; }
const int64_t *distill_krrst_initial_indices(const distill_krrst *s) { return s ? s->init_idx : NULL; }

void distill_krrst_shape(const distill_krrst *s, int64_t *m, int64_t *c, int64_t *h, int64_t *w,
                         int64_t *k)
{
    if (m) *m = s ? s->o.m : 0;
    if (c) *c = s ? s->c : 0;
    if (h) *h = s ? s->h : 0;
    if (w) *w = s ? s->w : 0;
    if (k) *k = s ? s->k : 0;
}
