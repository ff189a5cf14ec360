/* Denoising score matching: the EDM loss in its plain form, F regressed
 * onto (a0 - c_skip a) / c_out at a = a0 + sigma n, ln(sigma / sigma_data)
 * ~ N(-1.2, 1.2^2): the noise levels follow the actions' scale, so a
 * robot's centimetre steps are trained where a sampler and VDD ask. */
#include <string.h>

#include "../core/abi.h"
#include "../core/check.h"
#include "../core/rng.h"
#include "distill/optim.h"
#include "internal.h"

#define TRAIN_PURPOSE 0x64736dULL /* "dsm" */
#define P_MEAN (-1.2)
#define P_STD 1.2

static const char fn[] = "distill_diffusion_train";

size_t distill_diffusion_train_options_size(void) { return sizeof(distill_diffusion_train_options); }

void distill_diffusion_train_options_init(distill_diffusion_train_options *o)
{
    if (!o)
        return;
    memset(o, 0, sizeof *o);
    o->struct_size = sizeof *o;
    o->steps = 5000;
    o->batch = 512;
    o->lr = 3e-3;
}

typedef struct dsm_run {
    distill_diffusion *d;
    distill_diffusion_train_options o;
    distill_dataset *data;
    distill_optimizer *opt;
    int64_t n, yd, batch, *idx;
    float *x, *y, *rows, *target, *f, *df;
    float *saved;              /* the parameters and normalisation before the call */
    distill_diffusion_options o_saved;
    int32_t fitted_saved;
} dsm_run;

/* A failed or cancelled training changes nothing: what it started from. */
static distill_status save_state(dsm_run *r)
{
    distill_diffusion *d = r->d;
    const int64_t np = distill_model_param_count(d->net), O = d->o.obs_dim;
    if (!(r->saved = distill__alloc(d->ctx, sizeof(float) * (size_t)(np + 2 * O))))
        return distill__fail(d->ctx, DISTILL_E_NOMEM, "%s: out of memory", fn);
    memcpy(r->saved, distill_model_params(d->net), sizeof(float) * (size_t)np);
    memcpy(r->saved + np, d->obs_mean, sizeof(float) * (size_t)(2 * O));
    r->o_saved = d->o, r->fitted_saved = d->fitted;
    return DISTILL_OK;
}

static void restore_state(dsm_run *r)
{
    distill_diffusion *d = r->d;
    const int64_t np = distill_model_param_count(d->net), O = d->o.obs_dim;
    memcpy(distill_model_params(d->net), r->saved, sizeof(float) * (size_t)np);
    memcpy(d->obs_mean, r->saved + np, sizeof(float) * (size_t)(2 * O));
    d->o = r->o_saved, d->fitted = r->fitted_saved;
}

/* Mean and std of each observation, and sigma_data (the std of all action
 * entries) when the options left it 0: fixed by the first training. */
static distill_status fit_normalisation(dsm_run *r)
{
    distill_diffusion *d = r->d;
    const int64_t O = d->o.obs_dim, A = d->o.action_dim, chunk = r->batch;
    double *sum = NULL, asum = 0.0, asq = 0.0;
    int64_t at, c, i, j;
    if (!(sum = distill__alloc_zero(d->ctx, 2 * O, sizeof(double))))
        return distill__fail(d->ctx, DISTILL_E_NOMEM, "%s: out of memory", fn);
    for (at = 0; at < r->n; at += c) {
        c = r->n - at < chunk ? r->n - at : chunk;
        if (distill_dataset_get_range(r->data, at, c, r->x, O, r->y, r->yd) != DISTILL_OK) {
            distill__free(d->ctx, sum);
            return d->ctx->last_status;
        }
        for (i = 0; i < c; i++) {
            for (j = 0; j < O; j++) {
                const double v = r->x[i * O + j];
                sum[j] += v, sum[O + j] += v * v;
            }
            for (j = 0; j < A; j++) {
                const double v = r->y[i * r->yd + j];
                asum += v, asq += v * v;
            }
        }
    }
    for (j = 0; j < O; j++) {
        const double m = sum[j] / (double)r->n, var = sum[O + j] / (double)r->n - m * m;
        d->obs_mean[j] = (float)m;
        d->obs_std[j] = var > 1e-12 ? (float)sqrt(var) : 1.0f;
    }
    distill__free(d->ctx, sum);
    if (d->o.sigma_data == 0.0) {
        const double m = asum / (double)(r->n * A), var = asq / (double)(r->n * A) - m * m;
        d->o.sigma_data = var > 1e-12 ? sqrt(var) : 1.0;
    }
    d->fitted = 1;
    return DISTILL_OK;
}

/* One step on the batch: its mean loss. */
static distill_status dsm_step(dsm_run *r, int64_t step, double *loss)
{
    distill_diffusion *d = r->d;
    const int64_t A = d->o.action_dim, O = d->o.obs_dim, in = A + O + 1, b = r->batch;
    distill__rng rng;
    double total = 0.0;
    int64_t i, j;
    distill__rng_init(&rng, d->ctx->seed, distill__rng_derive(TRAIN_PURPOSE, r->o.stream, (uint64_t)step, 0), 0);
    for (i = 0; i < b; i++)
        r->idx[i] = (int64_t)distill__rng_below(&rng, (uint64_t)r->n);
    DISTILL__TRY(distill_dataset_get(r->data, r->idx, b, r->x, O, r->y, r->yd));
    for (i = 0; i < b; i++) {
        const double sigma = d->o.sigma_data * exp(P_MEAN + P_STD * (double)distill__rng_normal(&rng));
        const distill__edm c = distill__edm_at(sigma, d->o.sigma_data);
        float noisy[DISTILL_DIFFUSION_MAX_ACTION];
        for (j = 0; j < A; j++)
            noisy[j] = r->y[i * r->yd + j] + (float)sigma * distill__rng_normal(&rng);
        distill__diffusion_input(d, noisy, r->x + i * O, c, r->rows + i * in);
        for (j = 0; j < A; j++)
            r->target[i * A + j] = (r->y[i * r->yd + j] - c.skip * noisy[j]) / c.out;
    }
    DISTILL__TRY(distill_model_forward(d->net, DISTILL_MODE_TRAIN, b, r->rows, in, r->f, A));
    for (i = 0; i < b * A; i++) {
        const float e = r->f[i] - r->target[i];
        total += (double)e * e;
        r->df[i] = 2.0f * e / (float)(b * A);
    }
    *loss = total / (double)(b * A);
    if (!isfinite(*loss))
        return distill__fail(d->ctx, DISTILL_E_NUMERIC, "%s: the loss is %g at step %lld", fn, *loss,
                             (long long)step);
    DISTILL__TRY(distill_model_backward(d->net, r->df, A, NULL, 0, DISTILL_BACKWARD_PARAMS));
    return distill_optimizer_step(r->opt, distill_model_params(d->net), distill_model_grads(d->net));
}

static distill_status dsm_setup(dsm_run *r)
{
    distill_diffusion *d = r->d;
    const int64_t A = d->o.action_dim, O = d->o.obs_dim, in = A + O + 1, b = r->batch;
    distill_optimizer_options oo;
    DISTILL__TRY(distill__check_count(d->ctx, fn, "batch x row", b, O + r->yd + in + 3 * A, sizeof(float)));
    r->x = distill__alloc_zero(d->ctx, b * (O + r->yd + in + 3 * A), sizeof(float));
    r->idx = distill__alloc_zero(d->ctx, b, sizeof(int64_t));
    if (!r->x || !r->idx)
        return distill__fail(d->ctx, DISTILL_E_NOMEM, "%s: out of memory", fn);
    r->y = r->x + b * O, r->rows = r->y + b * r->yd, r->target = r->rows + b * in;
    r->f = r->target + b * A, r->df = r->f + b * A;
    distill_optimizer_options_init(&oo);
    oo.kind = DISTILL_OPTIM_ADAM, oo.lr = r->o.lr;
    oo.schedule = DISTILL_SCHEDULE_LINEAR, oo.total_steps = r->o.steps;
    return distill_optimizer_create(d->ctx, &oo, distill_model_param_count(d->net), &r->opt);
}

static distill_status check_train(distill_diffusion *d, const distill_diffusion_train_options *o,
                                  distill_dataset *data)
{
    if (!d->net)
        return distill__fail(d->ctx, DISTILL_E_UNSUPPORTED, "%s: a host score cannot be trained here", fn);
    if (!data)
        return distill__fail(d->ctx, DISTILL_E_INVAL, "%s: demos is NULL", fn);
    if (o->steps < 1 || o->batch < 1 || !(o->lr > 0.0 && isfinite(o->lr)))
        return distill__fail(d->ctx, DISTILL_E_INVAL, "%s: steps and batch must be >= 1 and lr > 0, got %lld, "
                             "%lld, %g", fn, (long long)o->steps, (long long)o->batch, o->lr);
    if (distill_dataset_x_dim(data) != d->o.obs_dim || distill_dataset_y_dim(data) < d->o.action_dim)
        return distill__fail(d->ctx, DISTILL_E_SHAPE, "%s: the demos have %lld observations and %lld y columns; "
                             "the diffusion takes %lld and %lld", fn, (long long)distill_dataset_x_dim(data),
                             (long long)distill_dataset_y_dim(data), (long long)d->o.obs_dim,
                             (long long)d->o.action_dim);
    return DISTILL_OK;
}

distill_status distill_diffusion_train(distill_diffusion *d, const distill_diffusion_train_options *opts,
                                       distill_dataset *demos, double *final_loss)
{
    dsm_run r;
    distill_status st = DISTILL_OK;
    double loss = 0.0, tail_sum = 0.0;
    int64_t step, tail;
    if (!d)
        return DISTILL_E_INVAL;
    memset(&r, 0, sizeof r);
    distill_diffusion_train_options_init(&r.o);
    if (opts)
        DISTILL__TRY(distill__struct_read(d->ctx, fn, "options", opts, sizeof r.o, sizeof r.o, &r.o));
    DISTILL__TRY(check_train(d, &r.o, demos));
    r.d = d, r.data = demos, r.n = distill_dataset_count(demos), r.yd = distill_dataset_y_dim(demos);
    r.batch = r.o.batch;
    tail = r.o.steps / 10 + 1;
    st = save_state(&r);
    if (st == DISTILL_OK)
        st = dsm_setup(&r);
    if (st == DISTILL_OK && !d->fitted)
        st = fit_normalisation(&r);
    for (step = 0; st == DISTILL_OK && step < r.o.steps; step++) {
        st = dsm_step(&r, step, &loss);
        if (st == DISTILL_OK && step >= r.o.steps - tail)
            tail_sum += loss;
        if (st == DISTILL_OK)
            st = distill__progress(d->ctx, "diffusion", step + 1, r.o.steps);
    }
    if (st == DISTILL_OK && final_loss)
        *final_loss = tail_sum / (double)(r.o.steps < tail ? r.o.steps : tail);
    if (st != DISTILL_OK && r.saved)
        restore_state(&r);
    distill__free(d->ctx, r.saved);
    distill_optimizer_destroy(r.opt);
    distill__free(d->ctx, r.x);
    distill__free(d->ctx, r.idx);
    return st;
}
