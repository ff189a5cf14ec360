/* Optimisers, schedules and clipping, with PyTorch's update rules. */
#include <math.h>
#include <string.h>

#include "../core/abi.h"
#include "../core/check.h"
#include "distill/optim.h"
#include "internal.h"

struct distill_optimizer {
    distill_context *ctx;
    distill_optimizer_options o;
    int64_t n, steps;
    float *m, *v; /* first and second moments (or momentum buffer) */
};

size_t distill_optimizer_options_size(void) { return sizeof(distill_optimizer_options); }

void distill_optimizer_options_init(distill_optimizer_options *o)
{
    if (!o)
        return;
    memset(o, 0, sizeof *o);
    o->struct_size = (uint32_t)sizeof *o;
    o->kind = DISTILL_OPTIM_SGD;
    o->lr = 1e-3;
    o->beta1 = 0.9, o->beta2 = 0.999, o->eps = 1e-8, o->alpha = 0.99;
}

static int64_t moments(const distill_optimizer_options *o)
{
    if (o->kind == DISTILL_OPTIM_SGD)
        return o->momentum > 0.0 ? 1 : 0;
    return o->kind == DISTILL_OPTIM_RMSPROP ? 1 : 2;
}

static int finite_nonneg(double x) { return x >= 0.0 && isfinite(x); }

static distill_status check_options(distill_context *ctx, const distill_optimizer_options *o)
{
    static const char fn[] = "distill_optimizer_create";
    if (o->kind < DISTILL_OPTIM_SGD || o->kind > DISTILL_OPTIM_RMSPROP ||
        o->schedule < DISTILL_SCHEDULE_CONSTANT || o->schedule > DISTILL_SCHEDULE_COSINE)
        return distill__fail(ctx, DISTILL_E_INVAL, "%s: unknown optimiser kind or schedule", fn);
    if (!finite_nonneg(o->lr) || !finite_nonneg(o->momentum) || !finite_nonneg(o->weight_decay) ||
        !finite_nonneg(o->clip_norm) || !finite_nonneg(o->final_lr_factor) || !(o->eps > 0.0) ||
        !(o->beta1 >= 0.0 && o->beta1 < 1.0) || !(o->beta2 >= 0.0 && o->beta2 < 1.0) ||
        !(o->alpha >= 0.0 && o->alpha < 1.0))
        return distill__fail(ctx, DISTILL_E_INVAL,
                             "%s: lr, momentum, weight_decay, clip_norm must be finite and >= 0, "
                             "eps > 0, betas and alpha in [0, 1)", fn);
    if (o->flags & ~(uint32_t)DISTILL_OPTIM_EPS_IN_SQRT)
        return distill__fail(ctx, DISTILL_E_INVAL, "%s: unknown flags 0x%x", fn, (unsigned)o->flags);
    if (o->total_steps < 0 || o->warmup_steps < 0 ||
        (o->schedule != DISTILL_SCHEDULE_CONSTANT && o->total_steps < 1))
        return distill__fail(ctx, DISTILL_E_INVAL, "%s: a schedule needs total_steps >= 1", fn);
    return DISTILL_OK;
}

distill_status distill_optimizer_create(distill_context *ctx, const distill_optimizer_options *opts,
                                        int64_t n_params, distill_optimizer **out)
{
    distill_optimizer_options o;
    distill_optimizer *opt;
    int64_t k;
    if (!ctx)
        return DISTILL_E_INVAL;
    DISTILL__TRY(distill__check_out(ctx, "distill_optimizer_create", "out", out));
    *out = NULL;
    distill_optimizer_options_init(&o);
    if (opts)
        DISTILL__TRY(distill__struct_read(ctx, "distill_optimizer_create", "options", opts, sizeof o,
                                          sizeof o, &o));
    DISTILL__TRY(check_options(ctx, &o));
    DISTILL__TRY(distill__check_dim(ctx, "distill_optimizer_create", "n_params", n_params));
    opt = distill__alloc(ctx, sizeof *opt);
    if (!opt)
        return distill__fail(ctx, DISTILL_E_NOMEM, "distill_optimizer_create: out of memory");
    memset(opt, 0, sizeof *opt);
    opt->ctx = ctx, opt->o = o, opt->n = n_params;
    k = moments(&o);
    if (k > 0) {
        opt->m = distill__alloc(ctx, sizeof(float) * (size_t)(k * n_params));
        if (!opt->m) {
            distill__free(ctx, opt);
            return distill__fail(ctx, DISTILL_E_NOMEM, "distill_optimizer_create: out of memory");
        }
        opt->v = k == 2 ? opt->m + n_params : NULL;
    }
    distill_optimizer_reset(opt);
    *out = opt;
    return DISTILL_OK;
}

void distill_optimizer_destroy(distill_optimizer *opt)
{
    if (opt) {
        distill__free(opt->ctx, opt->m);
        distill__free(opt->ctx, opt);
    }
}

void distill_optimizer_reset(distill_optimizer *opt)
{
    if (!opt)
        return;
    opt->steps = 0;
    if (opt->m)
        memset(opt->m, 0, sizeof(float) * (size_t)(moments(&opt->o) * opt->n));
}

double distill_schedule_lr(const distill_optimizer_options *o, int64_t t)
{
    double q;
    if (!o)
        return 0.0;
    if (t < o->warmup_steps)
        return o->lr * (double)(t + 1) / (double)o->warmup_steps;
    if (o->schedule == DISTILL_SCHEDULE_CONSTANT)
        return o->lr;
    q = (double)(t - o->warmup_steps) / (double)(o->total_steps > 0 ? o->total_steps : 1);
    q = q < 1.0 ? q : 1.0;
    if (o->schedule == DISTILL_SCHEDULE_LINEAR)
        return o->lr * (1.0 - q * (1.0 - o->final_lr_factor));
    return o->lr * (o->final_lr_factor +
                    (1.0 - o->final_lr_factor) * 0.5 * (1.0 + cos(3.14159265358979323846 * q)));
}

double distill_optimizer_lr(const distill_optimizer *opt)
{
    return opt ? distill_schedule_lr(&opt->o, opt->steps) : 0.0;
}

int64_t distill_optimizer_steps(const distill_optimizer *opt) { return opt ? opt->steps : 0; }

void distill_optimizer_set_lr(distill_optimizer *opt, double lr)
{
    if (opt && lr >= 0.0 && isfinite(lr))
        opt->o.lr = lr;
}

static double norm2(int64_t n, const float *g)
{
    double s = 0.0;
    int64_t i;
    for (i = 0; i < n; i++)
        s += (double)g[i] * g[i];
    return sqrt(s);
}

distill_status distill_clip_grad_norm(distill_context *ctx, int64_t n, float *g, double max_norm,
                                      double *norm)
{
    double nrm;
    int64_t i;
    if (!ctx)
        return DISTILL_E_INVAL;
    DISTILL__TRY(distill__check_matrix(ctx, "distill_clip_grad_norm", "g", g, 1, n, n));
    if (!(max_norm > 0.0))
        return distill__fail(ctx, DISTILL_E_INVAL, "distill_clip_grad_norm: max_norm must be > 0");
    nrm = norm2(n, g);
    if (!isfinite(nrm))
        return distill__fail(ctx, DISTILL_E_NUMERIC, "distill_clip_grad_norm: the gradient norm is not finite");
    if (norm)
        *norm = nrm;
    if (nrm > max_norm)
        for (i = 0; i < n; i++)
            g[i] = (float)(g[i] * (max_norm / nrm));
    return DISTILL_OK;
}

static void step_sgd(distill_optimizer *opt, float *p, const float *g, float lr, float scale)
{
    const float mom = (float)opt->o.momentum, wd = (float)opt->o.weight_decay;
    int64_t i;
    for (i = 0; i < opt->n; i++) {
        float d = scale * g[i] + wd * p[i];
        if (opt->m) {
            opt->m[i] = opt->steps == 0 ? d : mom * opt->m[i] + d;
            d = opt->o.nesterov ? d + mom * opt->m[i] : opt->m[i];
        }
        p[i] -= lr * d;
    }
}

static void step_adam(distill_optimizer *opt, float *p, const float *g, float lr, float scale)
{
    const int decoupled = opt->o.kind == DISTILL_OPTIM_ADAMW;
    const float b1 = (float)opt->o.beta1, b2 = (float)opt->o.beta2, eps = (float)opt->o.eps;
    const float wd = (float)opt->o.weight_decay;
    const double t = (double)(opt->steps + 1);
    const float c1 = (float)(1.0 - pow(opt->o.beta1, t)), c2 = (float)sqrt(1.0 - pow(opt->o.beta2, t));
    int64_t i;
    for (i = 0; i < opt->n; i++) {
        float d = scale * g[i];
        if (decoupled)
            p[i] -= lr * wd * p[i];
        else
            d += wd * p[i];
        opt->m[i] = b1 * opt->m[i] + (1.0f - b1) * d;
        opt->v[i] = b2 * opt->v[i] + (1.0f - b2) * d * d;
        p[i] -= lr * (opt->m[i] / c1) / (sqrtf(opt->v[i]) / c2 + eps);
    }
}

static void step_rmsprop(distill_optimizer *opt, float *p, const float *g, float lr, float scale)
{
    const float a = (float)opt->o.alpha, eps = (float)opt->o.eps, wd = (float)opt->o.weight_decay;
    int64_t i;
    if (opt->o.flags & DISTILL_OPTIM_EPS_IN_SQRT) {
        for (i = 0; i < opt->n; i++) {
            const float d = scale * g[i] + wd * p[i];
            opt->m[i] = a * opt->m[i] + (1.0f - a) * d * d;
            p[i] -= lr * d / sqrtf(opt->m[i] + eps);
        }
        return;
    }
    for (i = 0; i < opt->n; i++) {
        const float d = scale * g[i] + wd * p[i];
        opt->m[i] = a * opt->m[i] + (1.0f - a) * d * d;
        p[i] -= lr * d / (sqrtf(opt->m[i]) + eps);
    }
}

distill_status distill_optimizer_step(distill_optimizer *opt, float *params, const float *grads)
{
    static const char fn[] = "distill_optimizer_step";
    const float lr = (float)distill_optimizer_lr(opt);
    double nrm;
    float scale = 1.0f;
    if (!opt)
        return DISTILL_E_INVAL;
    if (!params || !grads)
        return distill__fail(opt->ctx, DISTILL_E_INVAL, "%s: params and grads are required", fn);
    nrm = norm2(opt->n, grads);
    if (!isfinite(nrm))
        return distill__check_finite(opt->ctx, fn, "grads", grads, 1, opt->n, opt->n) != DISTILL_OK
                   ? DISTILL_E_NUMERIC
                   : distill__fail(opt->ctx, DISTILL_E_NUMERIC, "%s: the gradient norm overflowed", fn);
    if (opt->o.clip_norm > 0.0 && nrm > opt->o.clip_norm)
        scale = (float)(opt->o.clip_norm / nrm);
    if (opt->o.kind == DISTILL_OPTIM_SGD)
        step_sgd(opt, params, grads, lr, scale);
    else if (opt->o.kind == DISTILL_OPTIM_RMSPROP)
        step_rmsprop(opt, params, grads, lr, scale);
    else
        step_adam(opt, params, grads, lr, scale);
    opt->steps++;
    return DISTILL_OK;
}

float *distill__optimizer_state(distill_optimizer *o) { return o->m; }
const float *distill__optimizer_state_view(const distill_optimizer *o) { return o->m; }
int64_t distill__optimizer_steps(const distill_optimizer *o) { return o->steps; }
void distill__optimizer_set_steps(distill_optimizer *o, int64_t steps) { o->steps = steps; }

int64_t distill_optimizer_state_count(const distill_optimizer *opt)
{
    return opt ? moments(&opt->o) * opt->n : 0;
}

distill_status distill_optimizer_get_state(const distill_optimizer *opt, float *state,
                                           int64_t count, int64_t *steps)
{
    if (!opt)
        return DISTILL_E_INVAL;
    if (!steps || count != distill_optimizer_state_count(opt) || (count > 0 && !state))
        return distill__fail(opt->ctx, DISTILL_E_INVAL, "distill_optimizer_get_state: count %lld, expected "
                             "%lld (distill_optimizer_state_count), or state/steps is NULL", (long long)count,
                             (long long)distill_optimizer_state_count(opt));
    if (count > 0)
        memcpy(state, opt->m, sizeof(float) * (size_t)count);
    *steps = opt->steps;
    return DISTILL_OK;
}

distill_status distill_optimizer_set_state(distill_optimizer *opt, const float *state,
                                           int64_t count, int64_t steps)
{
    if (!opt)
        return DISTILL_E_INVAL;
    if (count != distill_optimizer_state_count(opt) || (count > 0 && !state) || steps < 0)
        return distill__fail(opt->ctx, DISTILL_E_SHAPE, "distill_optimizer_set_state: %lld state values, expected %lld",
                             (long long)count, (long long)distill_optimizer_state_count(opt));
    if (count > 0)
        memcpy(opt->m, state, sizeof(float) * (size_t)count);
    opt->steps = steps;
    return DISTILL_OK;
}
