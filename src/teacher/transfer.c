/* The transfer protocol: pre-training by regression, linear probe,
 * fine-tuning, and the supervised teacher, all as an encoder plus a linear
 * head trained together by one loop (train_pair). */
#include <math.h>
#include <string.h>

#include "../core/abi.h"
#include "../core/internal.h"
#include "../core/rng.h"
#include "../nn/predict.h"
#include "distill/kernels.h"
#include "distill/optim.h"
#include "distill/experimental.h"
#include "../solver/chunks.h"

#define EVAL_BATCH 256
#define MAX_CLASSES 1000

void distill_transfer_options_init(distill_transfer_options *o)
{
    if (!o)
        return;
    memset(o, 0, sizeof *o);
    o->struct_size = sizeof *o;
    o->pretrain_steps = 300, o->pretrain_batch = 100, o->pretrain_lr = 0.1;
    o->pretrain_weight_decay = 1e-3;
    o->probe_steps = 300, o->probe_lr = 1e-2, o->probe_weight_decay = 1.0;
    o->finetune_steps = 300, o->finetune_batch = 64, o->finetune_lr = 1e-2;
    o->finetune_weight_decay = 5e-4, o->momentum = 0.9;
}

size_t distill_transfer_options_size(void) { return sizeof(distill_transfer_options); }

/* ---- labels ---- */

typedef struct label_map {
    float v[MAX_CLASSES];
    int64_t n;
} label_map;

static int32_t class_of(const label_map *lm, float label)
{
    int64_t i;
    for (i = 0; i < lm->n; i++)
        if (lm->v[i] == label)
            return (int32_t)i;
    return -1; /* a label the training set does not have: never right */
}

/* y[i] = the label of sample i (y_dim 1). */
static distill_status labels_of(distill_dataset *ds, float *y)
{
    return distill_dataset_get_range(ds, 0, distill_dataset_count(ds), NULL, 0, y, 1);
}

static distill_status make_map(distill_context *ctx, const float *y, int64_t n, label_map *lm)
{
    int64_t i, j;
    lm->n = 0;
    for (i = 0; i < n; i++) {
        if (class_of(lm, y[i]) >= 0)
            continue;
        if (lm->n == MAX_CLASSES)
            return distill__fail(ctx, DISTILL_E_INVAL, "transfer: more than %d distinct labels", MAX_CLASSES);
        for (j = lm->n++; j > 0 && lm->v[j - 1] > y[i]; j--)
            lm->v[j] = lm->v[j - 1];
        lm->v[j] = y[i];
    }
    return lm->n >= 2 ? DISTILL_OK : distill__fail(ctx, DISTILL_E_INVAL, "transfer: the training set needs "
                                                   "at least two distinct labels");
}

/* ---- an encoder and a head trained together ---- */

enum { LOSS_MSE, LOSS_XENT };

typedef struct pair {
    distill_context *ctx;
    distill_model *enc, *head;
    distill_optimizer *oe, *oh;
    int64_t batch, dim, d, out;
    float *x, *y, *f, *df, *z, *dz;
    int32_t *cls;
    int64_t *idx;              /* the batch's rows */
    int64_t *perm, perm_epoch; /* the current epoch's order */
    uint64_t stream;
    const label_map *lm;
} pair;

/* Streams of a call under opts->seed: the heads and the batch order. */
enum { STREAM_HEAD = 1, STREAM_ORDER = 2 };
#define TRANSFER_BASE 0x5452414e53ull /* "TRANS" */

static void pair_free(pair *p)
{
    distill_model_destroy(p->head);
    distill_optimizer_destroy(p->oe), distill_optimizer_destroy(p->oh);
    distill__free(p->ctx, p->x), distill__free(p->ctx, p->y), distill__free(p->ctx, p->f);
    distill__free(p->ctx, p->df), distill__free(p->ctx, p->z), distill__free(p->ctx, p->dz);
    distill__free(p->ctx, p->cls), distill__free(p->ctx, p->idx), distill__free(p->ctx, p->perm);
}

/* A linear head whose initial weights depend only on `stream`. */
static distill_status dense_head(distill_context *ctx, int64_t in, int64_t out, uint64_t stream,
                                 distill_model **m)
{
    distill_layer_spec l;
    distill_model_options mo;
    distill_status st;
    distill_layer_spec_init(&l, DISTILL_LAYER_DENSE);
    l.units = out;
    distill_model_options_init(&mo);
    mo.in_c = in, mo.in_h = mo.in_w = 1, mo.layers = &l, mo.n_layers = 1;
    DISTILL__TRY(distill_model_create(ctx, &mo, m));
    if ((st = distill_model_reinit(*m, distill__rng_derive(stream, STREAM_HEAD, 0, 0))) != DISTILL_OK) {
        distill_model_destroy(*m), *m = NULL;
    }
    return st;
}

static distill_status pair_init(distill_context *ctx, pair *p, distill_model *enc, int64_t out,
                                int64_t batch, const distill_optimizer_options *oo, uint64_t seed)
{
    float **bufs[6];
    int64_t sizes[6], i;
    memset(p, 0, sizeof *p);
    p->ctx = ctx, p->enc = enc, p->batch = batch, p->out = out;
    p->dim = distill_model_input_dim(enc), p->d = distill_model_output_dim(enc);
    p->stream = distill__rng_derive(TRANSFER_BASE, seed, 0, 0), p->perm_epoch = -1;
    DISTILL__TRY(dense_head(ctx, p->d, out, p->stream, &p->head));
    DISTILL__TRY(distill_optimizer_create(ctx, oo, distill_model_param_count(enc), &p->oe));
    DISTILL__TRY(distill_optimizer_create(ctx, oo, distill_model_param_count(p->head), &p->oh));
    bufs[0] = &p->x, bufs[1] = &p->y, bufs[2] = &p->f, bufs[3] = &p->df, bufs[4] = &p->z, bufs[5] = &p->dz;
    sizes[0] = batch * p->dim, sizes[1] = batch * out, sizes[2] = sizes[3] = batch * p->d;
    sizes[4] = sizes[5] = batch * out;
    for (i = 0; i < 6; i++)
        if (!(*bufs[i] = distill__alloc(ctx, sizeof(float) * (size_t)sizes[i])))
            return distill__fail(ctx, DISTILL_E_NOMEM, "transfer: out of memory");
    p->cls = distill__alloc(ctx, sizeof(int32_t) * (size_t)batch);
    p->idx = distill__alloc(ctx, sizeof(int64_t) * (size_t)batch);
    if (!p->cls || !p->idx)
        return distill__fail(ctx, DISTILL_E_NOMEM, "transfer: out of memory");
    return DISTILL_OK;
}

/* One step on the n rows in p->x, p->y (targets, or labels in y[i * out]). */
static distill_status pair_step(pair *p, int loss_kind, int64_t n)
{
    const int64_t d = p->d, o = p->out;
    int64_t i;
    float loss;
    DISTILL__TRY(distill_model_forward(p->enc, DISTILL_MODE_TRAIN, n, p->x, p->dim, p->f, d));
    DISTILL__TRY(distill_model_forward(p->head, DISTILL_MODE_TRAIN, n, p->f, d, p->z, o));
    if (loss_kind == LOSS_MSE)
        DISTILL__TRY(distill_mse_loss_grad(p->ctx, n, o, p->z, o, p->y, o, &loss, p->dz, o));
    else {
        for (i = 0; i < n; i++)
            p->cls[i] = class_of(p->lm, p->y[i * o]);
        DISTILL__TRY(distill_xent_hard(p->ctx, n, o, p->z, o, p->cls, 1.0f, &loss, p->dz, o));
    }
    DISTILL__TRY(distill_model_backward(p->head, p->dz, o, p->df, d, DISTILL_BACKWARD_PARAMS));
    DISTILL__TRY(distill_model_backward(p->enc, p->df, d, NULL, 0, DISTILL_BACKWARD_PARAMS));
    DISTILL__TRY(distill_optimizer_step(p->oe, distill_model_params(p->enc), distill_model_grads(p->enc)));
    return distill_optimizer_step(p->oh, distill_model_params(p->head), distill_model_grads(p->head));
}

/* Rows of batch b of `epoch`: a shuffle drawn from the pair's stream. */
static distill_status batch_rows(pair *p, distill_dataset *ds, int64_t epoch, int64_t b, int64_t *n)
{
    const int64_t N = distill_dataset_count(ds);
    if (p->perm_epoch != epoch) {
        if (!p->perm && !(p->perm = distill__alloc(p->ctx, sizeof(int64_t) * (size_t)N)))
            return distill__fail(p->ctx, DISTILL_E_NOMEM, "transfer: out of memory");
        distill__rng_permutation(p->ctx->seed, distill__rng_derive(p->stream, STREAM_ORDER, (uint64_t)epoch, 0),
                                 N, p->perm);
        p->perm_epoch = epoch;
    }
    *n = N - b * p->batch < p->batch ? N - b * p->batch : p->batch;
    memcpy(p->idx, p->perm + b * p->batch, sizeof(int64_t) * (size_t)*n);
    return DISTILL_OK;
}

/* `steps` steps over shuffled mini-batches of ds (the order depends only
 * on the seeds); a label (y_dim 1) lands in y[i * out]. */
static distill_status train_pair(pair *p, distill_dataset *ds, int loss_kind, int64_t steps,
                                 const char *stage)
{
    const int64_t nb = distill_dataset_batches(ds, p->batch);
    int64_t s, n = 0;
    for (s = 0; s < steps; s++) {
        DISTILL__TRY(batch_rows(p, ds, s / nb, s % nb, &n));
        DISTILL__TRY(distill_dataset_get(ds, p->idx, n, p->x, p->dim, p->y, p->out));
        DISTILL__TRY(pair_step(p, loss_kind, n));
        DISTILL__TRY(distill__progress(p->ctx, stage, s + 1, steps));
    }
    return DISTILL_OK;
}

static void sgd_options(distill_optimizer_options *oo, double lr, double momentum, double wd,
                        int32_t schedule, int64_t steps)
{
    distill_optimizer_options_init(oo);
    oo->kind = DISTILL_OPTIM_SGD, oo->lr = lr, oo->momentum = momentum, oo->weight_decay = wd;
    oo->schedule = schedule, oo->total_steps = steps;
}

/* The caller's options (any size since 0.1) into out, defaults for the rest. */
static distill_status read_opts(distill_context *ctx, const distill_transfer_options *in,
                                distill_transfer_options *out, const char *fn)
{
    if (!in)
        return distill__fail(ctx, DISTILL_E_INVAL, "%s: opts is NULL", fn);
    distill_transfer_options_init(out);
    return distill__struct_read(ctx, fn, "options", in, sizeof *out, sizeof *out, out);
}

static distill_status check_opts(distill_context *ctx, const distill_transfer_options *o,
                                 const distill_model *enc, const distill_dataset *ds, const char *fn)
{
    if (!o || !enc || !ds)
        return distill__fail(ctx, DISTILL_E_INVAL, "%s: opts, encoder and data must not be NULL", fn);
    if (distill_dataset_x_dim(ds) != distill_model_input_dim(enc))
        return distill__fail(ctx, DISTILL_E_SHAPE, "%s: the data has %lld inputs, the encoder takes %lld",
                             fn, (long long)distill_dataset_x_dim(ds), (long long)distill_model_input_dim(enc));
    if (distill_dataset_y_dim(ds) < 1)
        return distill__fail(ctx, DISTILL_E_INVAL, "%s: the data has no targets or labels", fn);
    return DISTILL_OK;
}

distill_status distill_pretrain(distill_context *ctx, const distill_transfer_options *opts,
                                distill_model *enc, distill_dataset *set)
{
    distill_transfer_options oc;
    const distill_transfer_options *o = &oc;
    distill_optimizer_options oo;
    pair p;
    distill_status st;
    if (!ctx)
        return DISTILL_E_INVAL;
    DISTILL__TRY(read_opts(ctx, opts, &oc, "distill_pretrain"));
    DISTILL__TRY(check_opts(ctx, o, enc, set, "distill_pretrain"));
    sgd_options(&oo, o->pretrain_lr, o->momentum, o->pretrain_weight_decay, DISTILL_SCHEDULE_CONSTANT, 0);
    st = pair_init(ctx, &p, enc, distill_dataset_y_dim(set), o->pretrain_batch, &oo, o->seed);
    if (st == DISTILL_OK)
        st = train_pair(&p, set, LOSS_MSE, o->pretrain_steps, "pretrain");
    pair_free(&p);
    return st;
}

/* ---- evaluation ---- */

typedef struct features_job {
    distill_model *enc;
    float *f;
} features_job;

static distill_status features_chunk(void *user, int64_t i0, int64_t n, const float *x, const float *y)
{
    features_job *j = user;
    const int64_t d = distill_model_output_dim(j->enc);
    (void)y;
    return distill__model_predict(j->enc, n, x, distill_model_input_dim(j->enc), j->f + i0 * d, d);
}

/* f (n x d) = the encoder's eval-mode features of every image of ds. */
static distill_status features(distill_context *ctx, distill_model *enc, distill_dataset *ds, float *f)
{
    features_job j;
    j.enc = enc, j.f = f;
    return distill__dataset_chunks(ctx, ds, EVAL_BATCH, 0, features_chunk, &j);
}

/* The fraction of rows of z (n x c) whose arg-max is the row's class. */
static double accuracy_of(const float *z, int64_t n, int64_t c, const float *labels, const label_map *lm)
{
    int64_t i, j, right = 0;
    for (i = 0; i < n; i++) {
        int64_t best = 0;
        for (j = 1; j < c; j++)
            best = z[i * c + j] > z[i * c + best] ? j : best;
        right += class_of(lm, labels[i]) == best;
    }
    return n > 0 ? (double)right / (double)n : 0.0;
}

/* Labels of the training set (and test set, or NULL), the class map from the training labels. */
typedef struct labelled {
    float *train, *test;
    label_map lm;
} labelled;

/* Labels of the training set (and of the test set, if given) and the class
 * map from the training labels. */
static distill_status labelled_init(distill_context *ctx, distill_dataset *tr, distill_dataset *te, labelled *l)
{
    if (distill_dataset_y_dim(tr) != 1 || (te && distill_dataset_y_dim(te) != 1))
        return distill__fail(ctx, DISTILL_E_INVAL, "transfer: labelled sets need one label per image "
                             "(y_dim 1), not %lld and %lld", (long long)distill_dataset_y_dim(tr),
                             (long long)(te ? distill_dataset_y_dim(te) : 1));
    l->train = distill__alloc(ctx, sizeof(float) * (size_t)distill_dataset_count(tr));
    l->test = te ? distill__alloc(ctx, sizeof(float) * (size_t)distill_dataset_count(te)) : NULL;
    if (!l->train || (te && !l->test))
        return distill__fail(ctx, DISTILL_E_NOMEM, "transfer: out of memory");
    DISTILL__TRY(labels_of(tr, l->train));
    if (te)
        DISTILL__TRY(labels_of(te, l->test));
    return make_map(ctx, l->train, distill_dataset_count(tr), &l->lm);
}

static void labelled_free(distill_context *ctx, labelled *l)
{
    distill__free(ctx, l->train), distill__free(ctx, l->test);
}

/* z (n x c) = the head on features f; the head in eval mode. */
static distill_status head_scores(distill_model *head, const float *f, int64_t n, int64_t d, float *z, int64_t c)
{
    int64_t i0;
    for (i0 = 0; i0 < n; i0 += EVAL_BATCH) {
        const int64_t b = n - i0 < EVAL_BATCH ? n - i0 : EVAL_BATCH;
        DISTILL__TRY(distill_model_forward(head, DISTILL_MODE_EVAL, b, f + i0 * d, d, z + i0 * c, c));
    }
    return DISTILL_OK;
}

static void standardise(float *f, int64_t n, int64_t d, const double *mean, const double *inv)
{
    int64_t i, j;
    for (i = 0; i < n; i++)
        for (j = 0; j < d; j++)
            f[i * d + j] = (float)((f[i * d + j] - mean[j]) * inv[j]);
}

static void moments(const float *f, int64_t n, int64_t d, double *mean, double *inv)
{
    int64_t i, j;
    for (j = 0; j < d; j++) {
        double s = 0, ss = 0;
        for (i = 0; i < n; i++)
            s += f[i * d + j];
        mean[j] = s / (double)n;
        for (i = 0; i < n; i++)
            ss += (f[i * d + j] - mean[j]) * (f[i * d + j] - mean[j]);
        inv[j] = 1.0 / sqrt(ss / (double)n + 1e-6);
    }
}

/* Full-batch softmax regression on standardised features. */
static distill_status probe_fit(distill_context *ctx, const distill_transfer_options *o, const float *f,
                                int64_t n, int64_t d, const int32_t *cls, int64_t c, distill_model *head,
                                const char *fn)
{
    distill_optimizer_options oo;
    distill_optimizer *opt = NULL;
    float *z = distill__alloc(ctx, sizeof(float) * (size_t)(n * c)), *dz = distill__alloc(ctx, sizeof(float) * (size_t)(n * c)), loss;
    distill_status st;
    int64_t s;
    distill_optimizer_options_init(&oo);
    oo.kind = DISTILL_OPTIM_ADAMW, oo.lr = o->probe_lr, oo.weight_decay = o->probe_weight_decay;
    st = z && dz ? distill_optimizer_create(ctx, &oo, distill_model_param_count(head), &opt)
                 : distill__fail(ctx, DISTILL_E_NOMEM, "%s: out of memory", fn);
    for (s = 0; st == DISTILL_OK && s < o->probe_steps; s++) {
        st = distill_model_forward(head, DISTILL_MODE_TRAIN, n, f, d, z, c);
        if (st == DISTILL_OK)
            st = distill_xent_hard(ctx, n, c, z, c, cls, 1.0f, &loss, dz, c);
        if (st == DISTILL_OK)
            st = distill_model_backward(head, dz, c, NULL, 0, DISTILL_BACKWARD_PARAMS);
        if (st == DISTILL_OK)
            st = distill_optimizer_step(opt, distill_model_params(head), distill_model_grads(head));
    }
    distill_optimizer_destroy(opt);
    distill__free(ctx, z), distill__free(ctx, dz);
    return st;
}

typedef struct probe_buf {
    float *ftr, *fte, *z;
    double *mean, *inv;
    int32_t *cls;
} probe_buf;

static void probe_buf_free(distill_context *ctx, probe_buf *b)
{
    distill__free(ctx, b->ftr), distill__free(ctx, b->fte), distill__free(ctx, b->z);
    distill__free(ctx, b->mean), distill__free(ctx, b->inv), distill__free(ctx, b->cls);
}

/* One probe trained on tr; fte_raw holds the test set's features (before
 * standardising, which depends on tr), computed once for every probe. */
static distill_status probe(distill_context *ctx, const distill_transfer_options *o, distill_model *enc,
                            distill_dataset *tr, distill_dataset *te, const float *fte_raw, labelled *l,
                            probe_buf *b, double *acc, const char *fn)
{
    const int64_t ntr = distill_dataset_count(tr), nte = distill_dataset_count(te);
    const int64_t d = distill_model_output_dim(enc), c = l->lm.n;
    distill_model *head = NULL;
    distill_status st;
    int64_t i;
    b->ftr = distill__alloc(ctx, sizeof(float) * (size_t)(ntr * d));
    b->fte = distill__alloc(ctx, sizeof(float) * (size_t)(nte * d));
    b->z = distill__alloc(ctx, sizeof(float) * (size_t)(nte * c));
    b->mean = distill__alloc(ctx, sizeof(double) * (size_t)d);
    b->inv = distill__alloc(ctx, sizeof(double) * (size_t)d);
    b->cls = distill__alloc(ctx, sizeof(int32_t) * (size_t)ntr);
    if (!b->ftr || !b->fte || !b->z || !b->mean || !b->inv || !b->cls)
        return distill__fail(ctx, DISTILL_E_NOMEM, "%s: out of memory", fn);
    DISTILL__TRY(features(ctx, enc, tr, b->ftr));
    memcpy(b->fte, fte_raw, sizeof(float) * (size_t)(nte * d));
    moments(b->ftr, ntr, d, b->mean, b->inv);
    standardise(b->ftr, ntr, d, b->mean, b->inv);
    standardise(b->fte, nte, d, b->mean, b->inv);
    for (i = 0; i < ntr; i++)
        b->cls[i] = class_of(&l->lm, l->train[i]);
    DISTILL__TRY(dense_head(ctx, d, c, distill__rng_derive(TRANSFER_BASE, o->seed + 2, 0, 0), &head));
    st = probe_fit(ctx, o, b->ftr, ntr, d, b->cls, c, head, fn);
    if (st == DISTILL_OK)
        st = head_scores(head, b->fte, nte, d, b->z, c);
    if (st == DISTILL_OK)
        *acc = accuracy_of(b->z, nte, c, l->test, &l->lm);
    distill_model_destroy(head);
    return st;
}

static distill_status check_probes(distill_context *ctx, const distill_transfer_options *o,
                                   distill_model *enc, distill_dataset *const *train, int64_t n_train,
                                   distill_dataset *test, const double *accuracies, const char *fn)
{
    int64_t i;
    if (!train)
        return distill__fail(ctx, DISTILL_E_INVAL, "%s: train (the training sets) is NULL", fn);
    if (n_train < 1 || n_train > INT32_MAX)
        return distill__fail(ctx, DISTILL_E_INVAL, "%s: n_train must be 1..%ld, not %lld", fn, (long)INT32_MAX,
                             (long long)n_train);
    for (i = 0; i < n_train; i++) { /* every set before any work */
        DISTILL__TRY(check_opts(ctx, o, enc, train[i], fn));
        if (distill_dataset_y_dim(train[i]) != 1)
            return distill__fail(ctx, DISTILL_E_INVAL, "%s: train[%lld] has %lld values a row; a labelled set "
                                 "has one label per image", fn, (long long)i,
                                 (long long)distill_dataset_y_dim(train[i]));
    }
    DISTILL__TRY(check_opts(ctx, o, enc, test, fn));
    if (distill_dataset_y_dim(test) != 1)
        return distill__fail(ctx, DISTILL_E_INVAL, "%s: the test set has %lld values a row; a labelled set "
                             "has one label per image", fn, (long long)distill_dataset_y_dim(test));
    if (!accuracies)
        return distill__fail(ctx, DISTILL_E_INVAL, "%s: accuracy is NULL", fn);
    return DISTILL_OK;
}

/* Every probe into acc (n_train), the test features computed once. */
static distill_status probes(distill_context *ctx, const distill_transfer_options *o, distill_model *enc,
                             distill_dataset *const *train, int64_t n_train, distill_dataset *test, double *acc,
                             const char *fn)
{
    const int64_t nte = distill_dataset_count(test), d = distill_model_output_dim(enc);
    float *fte = distill__alloc(ctx, sizeof(float) * (size_t)(nte * d));
    distill_status st = fte ? features(ctx, enc, test, fte)
                            : distill__fail(ctx, DISTILL_E_NOMEM, "%s: out of memory", fn);
    int64_t i;
    for (i = 0; st == DISTILL_OK && i < n_train; i++) {
        labelled l = {0};
        probe_buf b = {0};
        st = labelled_init(ctx, train[i], test, &l);
        if (st == DISTILL_OK)
            st = probe(ctx, o, enc, train[i], test, fte, &l, &b, &acc[i], fn);
        probe_buf_free(ctx, &b);
        labelled_free(ctx, &l);
    }
    distill__free(ctx, fte);
    return st;
}

distill_status distill_linear_probes(distill_context *ctx, const distill_transfer_options *opts,
                                     distill_model *enc, distill_dataset *const *train, int64_t n_train,
                                     distill_dataset *test, double *accuracies)
{
    distill_transfer_options o;
    double *acc;
    distill_status st;
    if (!ctx)
        return DISTILL_E_INVAL;
    DISTILL__TRY(read_opts(ctx, opts, &o, "distill_linear_probes"));
    DISTILL__TRY(check_probes(ctx, &o, enc, train, n_train, test, accuracies, "distill_linear_probes"));
    if (!(acc = distill__alloc(ctx, sizeof(double) * (size_t)n_train)))
        return distill__fail(ctx, DISTILL_E_NOMEM, "distill_linear_probes: out of memory");
    st = probes(ctx, &o, enc, train, n_train, test, acc, "distill_linear_probes");
    if (st == DISTILL_OK) /* a failed call leaves accuracies as they were */
        memcpy(accuracies, acc, sizeof(double) * (size_t)n_train);
    distill__free(ctx, acc);
    return st;
}

distill_status distill_linear_probe(distill_context *ctx, const distill_transfer_options *opts,
                                    distill_model *enc, distill_dataset *train, distill_dataset *test,
                                    double *accuracy)
{
    distill_transfer_options o;
    if (!ctx)
        return DISTILL_E_INVAL;
    DISTILL__TRY(read_opts(ctx, opts, &o, "distill_linear_probe"));
    DISTILL__TRY(check_probes(ctx, &o, enc, &train, 1, test, accuracy, "distill_linear_probe"));
    return probes(ctx, &o, enc, &train, 1, test, accuracy, "distill_linear_probe");
}

/* Accuracy of encoder + head on the test set (eval mode). */
static distill_status pair_accuracy(pair *p, distill_dataset *te, const labelled *l, double *acc)
{
    const int64_t n = distill_dataset_count(te), d = p->d, c = p->out;
    float *f = distill__alloc(p->ctx, sizeof(float) * (size_t)(n * d));
    float *z = distill__alloc(p->ctx, sizeof(float) * (size_t)(n * c));
    distill_status st = f && z ? features(p->ctx, p->enc, te, f)
                               : distill__fail(p->ctx, DISTILL_E_NOMEM, "transfer: out of memory");
    if (st == DISTILL_OK)
        st = head_scores(p->head, f, n, d, z, c);
    if (st == DISTILL_OK)
        *acc = accuracy_of(z, n, c, l->test, &l->lm);
    distill__free(p->ctx, f), distill__free(p->ctx, z);
    return st;
}

distill_status distill_finetune(distill_context *ctx, const distill_transfer_options *opts,
                                const distill_model *encoder, distill_dataset *train,
                                distill_dataset *test, double *accuracy)
{
    distill_transfer_options oc;
    const distill_transfer_options *o = &oc;
    distill_optimizer_options oo;
    distill_model *enc = NULL;
    labelled l = {0};
    pair p;
    distill_status st;
    if (!ctx)
        return DISTILL_E_INVAL;
    DISTILL__TRY(read_opts(ctx, opts, &oc, "distill_finetune"));
    DISTILL__TRY(check_opts(ctx, o, encoder, train, "distill_finetune"));
    DISTILL__TRY(check_opts(ctx, o, encoder, test, "distill_finetune"));
    if (!accuracy)
        return distill__fail(ctx, DISTILL_E_INVAL, "distill_finetune: accuracy is NULL");
    memset(&p, 0, sizeof p);
    st = labelled_init(ctx, train, test, &l);
    if (st == DISTILL_OK)
        st = distill_model_clone(encoder, &enc);
    sgd_options(&oo, o->finetune_lr, o->momentum, o->finetune_weight_decay, DISTILL_SCHEDULE_COSINE,
                o->finetune_steps);
    if (st == DISTILL_OK)
        st = pair_init(ctx, &p, enc, l.lm.n, o->finetune_batch, &oo, o->seed + 1);
    p.lm = &l.lm;
    if (st == DISTILL_OK)
        st = train_pair(&p, train, LOSS_XENT, o->finetune_steps, "finetune");
    if (st == DISTILL_OK)
        st = pair_accuracy(&p, test, &l, accuracy);
    pair_free(&p);
    distill_model_destroy(enc);
    labelled_free(ctx, &l);
    return st;
}

distill_status distill_train_supervised_teacher(distill_context *ctx, distill_model *enc,
                                                distill_dataset *labelled_set, int64_t epochs)
{
    distill_transfer_options o;
    distill_optimizer_options oo;
    labelled l = {0};
    pair p;
    int64_t steps;
    distill_status st;
    if (!ctx)
        return DISTILL_E_INVAL;
    distill_transfer_options_init(&o);
    DISTILL__TRY(check_opts(ctx, &o, enc, labelled_set, "distill_train_supervised_teacher"));
    if (epochs < 1)
        return distill__fail(ctx, DISTILL_E_INVAL, "distill_train_supervised_teacher: epochs must be >= 1");
    memset(&p, 0, sizeof p);
    steps = epochs * distill_dataset_batches(labelled_set, 128);
    st = labelled_init(ctx, labelled_set, NULL, &l); /* no test set: one pass over the labels */
    sgd_options(&oo, 0.05, 0.9, 5e-4, DISTILL_SCHEDULE_COSINE, steps);
    if (st == DISTILL_OK)
        st = pair_init(ctx, &p, enc, l.lm.n, 128, &oo, 0);
    p.lm = &l.lm;
    if (st == DISTILL_OK)
        st = train_pair(&p, labelled_set, LOSS_XENT, steps, "teacher");
    pair_free(&p);
    labelled_free(ctx, &l);
    return st;
}

/* Experimental since 0.2; 0.1 programs bind these names at DISTILL_0.1. */
DISTILL__EXPERIMENTAL_SINCE_0_1(distill_transfer_options_init);
DISTILL__EXPERIMENTAL_SINCE_0_1(distill_transfer_options_size);
DISTILL__EXPERIMENTAL_SINCE_0_1(distill_pretrain);
DISTILL__EXPERIMENTAL_SINCE_0_1(distill_linear_probe);
DISTILL__EXPERIMENTAL_SINCE_0_1(distill_finetune);
DISTILL__EXPERIMENTAL_SINCE_0_1(distill_train_supervised_teacher);
