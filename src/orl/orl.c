/* The offline-RL distillation solver: options, buckets, the outer step. */
#include <math.h>
#include <string.h>

#include "../core/abi.h"
#include "../core/check.h"
#include "../core/rng.h"
#include "../rl/bc.h"
#include "orl_internal.h"

#define INIT_PURPOSE 0x6f726c69ULL /* "orli" */

static const char fn_create[] = "distill_orl_create";

size_t distill_orl_options_size(void) { return sizeof(distill_orl_options); }

void distill_orl_options_init(distill_orl_options *o)
{
    if (!o)
        return;
    memset(o, 0, sizeof *o);
    o->struct_size = sizeof *o;
    o->variant = DISTILL_ORL_REINIT;
    o->m = 10;
    o->loss = DISTILL_BC_MSE;
    o->batch = 256;
    o->steps = 500;
    o->lr = 0.01;
    o->student_steps = 10;
    o->student_lr = 0.005;
}

static distill_status check_options(distill_context *ctx, const distill_orl_options *o)
{
    if (o->variant < DISTILL_ORL_FIXED || o->variant > DISTILL_ORL_STUDENT)
        return distill__fail(ctx, DISTILL_E_INVAL, "%s: variant %d is not a DISTILL_ORL_* variant", fn_create,
                             (int)o->variant);
    if (o->n_actions < 2 || o->n_actions > DISTILL_BC_MAX_ACTIONS)
        return distill__fail(ctx, DISTILL_E_INVAL, "%s: n_actions must be in [2, %d], got %lld", fn_create,
                             DISTILL_BC_MAX_ACTIONS, (long long)o->n_actions);
    if (o->m < 1 || o->m > ((int64_t)1 << 24))
        return distill__fail(ctx, DISTILL_E_INVAL, "%s: m must be in [1, 2^24], got %lld", fn_create,
                             (long long)o->m);
    if (o->loss < DISTILL_BC_MSE || o->loss > DISTILL_BC_XENT)
        return distill__fail(ctx, DISTILL_E_INVAL, "%s: loss %d is not a DISTILL_BC_* kind", fn_create, (int)o->loss);
    if (!o->layers || o->n_layers < 1 || o->n_layers > 4096)
        return distill__fail(ctx, DISTILL_E_INVAL, "%s: the network's layers are required (1 to 4096)", fn_create);
    if (o->batch < 0 || o->steps < 0 || o->student_steps < 0)
        return distill__fail(ctx, DISTILL_E_INVAL, "%s: batch, steps and student_steps must be >= 0", fn_create);
    if (!(o->lr > 0.0 && isfinite(o->lr)) || !(o->student_lr > 0.0 && isfinite(o->student_lr)))
        return distill__fail(ctx, DISTILL_E_INVAL, "%s: lr and student_lr must be > 0 and finite", fn_create);
    return DISTILL_OK;
}

/* The real rows grouped by action (stable), and the synthetic budget split
 * evenly over the actions present, the remainder to the first ones. */
static distill_status make_buckets(distill_orl *s)
{
    const int64_t n = distill_dataset_count(s->real), yd = distill_dataset_y_dim(s->real);
    int64_t a, i, present = 0, given = 0, *fill;
    float *y = distill__alloc(s->ctx, sizeof(float) * (size_t)(n * yd));
    distill_status st;
    if (!y)
        return distill__fail(s->ctx, DISTILL_E_NOMEM, "%s: out of memory", fn_create);
    st = distill_dataset_get_range(s->real, 0, n, NULL, 0, y, yd);
    if (st == DISTILL_OK)
        st = distill__bc_check_actions(s->ctx, fn_create, n, y, yd, s->k);
    if (st != DISTILL_OK) {
        distill__free(s->ctx, y);
        return st;
    }
    fill = s->pick; /* scratch of k + 1 entries at least */
    memset(s->real_start, 0, sizeof(int64_t) * (size_t)(s->k + 1));
    for (i = 0; i < n; i++)
        s->real_start[(int64_t)y[i * yd] + 1]++;
    for (a = 0; a < s->k; a++)
        present += s->real_start[a + 1] > 0;
    for (a = 0; a < s->k; a++)
        s->real_start[a + 1] += s->real_start[a];
    for (a = 0; a < s->k; a++)
        fill[a] = s->real_start[a];
    for (i = 0; i < n; i++)
        s->real_idx[fill[(int64_t)y[i * yd]]++] = i;
    distill__free(s->ctx, y);
    s->syn_start[0] = 0;
    for (a = 0; a < s->k; a++) {
        int64_t take = 0;
        if (s->real_start[a + 1] > s->real_start[a])
            take = s->m / present + (given++ < s->m % present);
        s->syn_start[a + 1] = s->syn_start[a] + take;
    }
    return DISTILL_OK;
}

/* Each bucket starts as distinct random real states of its action (a
 * bucket with fewer real states than its share repeats them). */
static distill_status init_states(distill_orl *s)
{
    int64_t a, j;
    for (a = 0; a < s->k; a++) {
        const int64_t nr = s->real_start[a + 1] - s->real_start[a];
        const int64_t ns = s->syn_start[a + 1] - s->syn_start[a], take = ns < nr ? ns : nr;
        float *dst = s->states + s->syn_start[a] * s->dim;
        distill__rng r;
        if (ns == 0)
            continue;
        distill__rng_init(&r, s->ctx->seed, distill__rng_derive(s->stream, INIT_PURPOSE, (uint64_t)a, 0), 0);
        memcpy(s->pick, s->real_idx + s->real_start[a], sizeof(int64_t) * (size_t)nr);
        for (j = 0; j < take; j++) { /* a partial Fisher-Yates shuffle */
            const int64_t at = j + (int64_t)distill__rng_below(&r, (uint64_t)(nr - j)), t = s->pick[j];
            s->pick[j] = s->pick[at], s->pick[at] = t;
        }
        DISTILL__TRY(distill_dataset_get(s->real, s->pick, take, dst, s->dim, NULL, 0));
        for (j = 0; j < ns; j++) {
            s->labels[s->syn_start[a] + j] = (float)a;
            if (j >= take)
                memcpy(dst + j * s->dim, dst + (j % take) * s->dim, sizeof(float) * (size_t)s->dim);
        }
    }
    return DISTILL_OK;
}

static void *zalloc(distill_context *ctx, int64_t count, size_t elem)
{
    size_t bytes;
    void *p;
    if (count < 1 || distill__mul_size((size_t)count, elem, &bytes))
        return NULL;
    if ((p = distill__alloc(ctx, bytes)))
        memset(p, 0, bytes);
    return p;
}

static distill_status make_network(distill_orl *s)
{
    distill_model_options mo;
    distill_optimizer_options oo;
    distill_model_options_init(&mo);
    mo.in_c = s->c, mo.in_h = s->h, mo.in_w = s->w, mo.layers = s->layers, mo.n_layers = s->o.n_layers;
    DISTILL__TRY(distill_model_create(s->ctx, &mo, &s->net));
    if (distill_model_output_dim(s->net) != s->k)
        return distill__fail(s->ctx, DISTILL_E_SHAPE, "%s: the network has %lld outputs, n_actions is %lld",
                             fn_create, (long long)distill_model_output_dim(s->net), (long long)s->k);
    distill_optimizer_options_init(&oo);
    oo.kind = DISTILL_OPTIM_ADAM, oo.lr = s->o.lr;
    DISTILL__TRY(distill_optimizer_create(s->ctx, &oo, s->m * s->dim, &s->opt));
    if (s->o.variant == DISTILL_ORL_STUDENT) {
        oo.lr = s->o.student_lr;
        DISTILL__TRY(distill_optimizer_create(s->ctx, &oo, distill_model_param_count(s->net), &s->student_opt));
    }
    return distill__orl_first_network(s);
}

/* Scratch sized by the buckets: the largest real batch or synthetic bucket. */
static distill_status alloc_scratch(distill_orl *s)
{
    const int64_t np = distill_model_param_count(s->net);
    int64_t a, biggest = 1;
    for (a = 0; a < s->k; a++) {
        const int64_t nr = s->real_start[a + 1] - s->real_start[a], ns = s->syn_start[a + 1] - s->syn_start[a];
        const int64_t nb = s->o.batch == 0 || s->o.batch > nr ? nr : s->o.batch;
        biggest = nb > biggest ? nb : biggest;
        biggest = ns > biggest ? ns : biggest;
    }
    if (s->o.variant == DISTILL_ORL_STUDENT) /* the student trains on all m states at once */
        biggest = s->m > biggest ? s->m : biggest;
    s->rows = biggest;
    DISTILL__TRY(distill__check_count(s->ctx, fn_create, "scratch rows x state size", biggest, s->dim + 2 * s->k + 1,
                                      sizeof(float)));
    s->xb = zalloc(s->ctx, biggest * s->dim, sizeof(float));
    s->zb = zalloc(s->ctx, biggest * s->k, sizeof(float));
    s->dzb = zalloc(s->ctx, biggest * s->k, sizeof(float));
    s->lab = zalloc(s->ctx, biggest, sizeof(float));
    s->gr = zalloc(s->ctx, np, sizeof(float));
    s->gs = zalloc(s->ctx, np, sizeof(float));
    s->v = zalloc(s->ctx, np, sizeof(float));
    if (s->o.variant == DISTILL_ORL_FIXED && s->o.batch == 0)
        s->gr_cache = zalloc(s->ctx, s->k * np, sizeof(float));
    if (!s->xb || !s->zb || !s->dzb || !s->lab || !s->gr || !s->gs || !s->v ||
        (s->o.variant == DISTILL_ORL_FIXED && s->o.batch == 0 && !s->gr_cache))
        return distill__fail(s->ctx, DISTILL_E_NOMEM, "%s: out of memory", fn_create);
    return DISTILL_OK;
}

static distill_status alloc_solver(distill_orl *s, const distill_orl_options *o)
{
    const int64_t n = distill_dataset_count(s->real);
    int64_t i;
    DISTILL__TRY(distill__check_count(s->ctx, fn_create, "m x state size", s->m, s->dim, sizeof(float)));
    s->layers = zalloc(s->ctx, o->n_layers, sizeof(distill_layer_spec));
    s->states = zalloc(s->ctx, s->m * s->dim, sizeof(float));
    s->dstates = zalloc(s->ctx, s->m * s->dim, sizeof(float));
    s->labels = zalloc(s->ctx, s->m, sizeof(float));
    s->real_idx = zalloc(s->ctx, n, sizeof(int64_t));
    s->real_start = zalloc(s->ctx, s->k + 1, sizeof(int64_t));
    s->syn_start = zalloc(s->ctx, s->k + 1, sizeof(int64_t));
    s->pick = zalloc(s->ctx, n + s->k + 1, sizeof(int64_t));
    if (o->obs_low || o->obs_high) {
        s->low = zalloc(s->ctx, s->dim, sizeof(float));
        s->high = zalloc(s->ctx, s->dim, sizeof(float));
    }
    if (!s->layers || !s->states || !s->dstates || !s->labels || !s->real_idx || !s->real_start || !s->syn_start ||
        !s->pick || ((o->obs_low || o->obs_high) && (!s->low || !s->high)))
        return distill__fail(s->ctx, DISTILL_E_NOMEM, "%s: out of memory", fn_create);
    /* the caller's layer specs at their stride, read as any older size */
    for (i = 0; i < o->n_layers; i++) {
        const distill_layer_spec *l = (const distill_layer_spec *)((const char *)o->layers +
                                                                   (size_t)i * distill__struct_size_of(o->layers));
        distill_layer_spec_init(&s->layers[i], l->kind);
        DISTILL__TRY(distill__struct_read(s->ctx, fn_create, "layer spec", l, sizeof *l, sizeof *l, &s->layers[i]));
    }
    for (i = 0; s->low && i < s->dim; i++) {
        s->low[i] = o->obs_low ? o->obs_low[i] : -INFINITY;
        s->high[i] = o->obs_high ? o->obs_high[i] : INFINITY;
        if (isnan(s->low[i]) || isnan(s->high[i]) || s->low[i] > s->high[i])
            return distill__fail(s->ctx, DISTILL_E_INVAL, "%s: the observation box at %lld is [%g, %g]", fn_create,
                                 (long long)i, (double)s->low[i], (double)s->high[i]);
    }
    return DISTILL_OK;
}

static void clip_states(distill_orl *s)
{
    int64_t i, j;
    for (i = 0; s->low && i < s->m; i++)
        for (j = 0; j < s->dim; j++) {
            float *x = &s->states[i * s->dim + j];
            *x = *x < s->low[j] ? s->low[j] : *x > s->high[j] ? s->high[j] : *x;
        }
}

void distill_orl_destroy(distill_orl *s)
{
    if (!s)
        return;
    distill_model_destroy(s->net);
    distill_optimizer_destroy(s->opt), distill_optimizer_destroy(s->student_opt);
    distill__free(s->ctx, s->layers), distill__free(s->ctx, s->states), distill__free(s->ctx, s->dstates);
    distill__free(s->ctx, s->labels), distill__free(s->ctx, s->real_idx), distill__free(s->ctx, s->real_start);
    distill__free(s->ctx, s->syn_start), distill__free(s->ctx, s->pick), distill__free(s->ctx, s->low);
    distill__free(s->ctx, s->high), distill__free(s->ctx, s->xb), distill__free(s->ctx, s->zb);
    distill__free(s->ctx, s->dzb), distill__free(s->ctx, s->lab), distill__free(s->ctx, s->gr);
    distill__free(s->ctx, s->gs), distill__free(s->ctx, s->v), distill__free(s->ctx, s->gr_cache);
    distill__free(s->ctx, s);
}

static distill_status setup(distill_orl *s, const distill_orl_options *o)
{
    DISTILL__TRY(alloc_solver(s, o));
    DISTILL__TRY(make_buckets(s));
    DISTILL__TRY(make_network(s));
    DISTILL__TRY(alloc_scratch(s));
    DISTILL__TRY(init_states(s));
    clip_states(s);
    return DISTILL_OK;
}

distill_status distill_orl_create(distill_context *ctx, const distill_orl_options *opts, distill_dataset *real,
                                  distill_orl **out)
{
    distill_orl_options o;
    distill_orl *s;
    distill_status st;
    int64_t c, h, w;
    if (!ctx)
        return DISTILL_E_INVAL;
    DISTILL__TRY(distill__check_out(ctx, fn_create, "out", out));
    *out = NULL;
    if (!opts || !real)
        return distill__fail(ctx, DISTILL_E_INVAL, "%s: options and real data are required", fn_create);
    distill_orl_options_init(&o);
    DISTILL__TRY(distill__struct_read(ctx, fn_create, "options", opts, sizeof o, sizeof o, &o));
    DISTILL__TRY(check_options(ctx, &o));
    if (distill_dataset_count(real) < 1 || distill_dataset_y_dim(real) < 1)
        return distill__fail(ctx, DISTILL_E_SHAPE, "%s: the real data needs rows and an action column", fn_create);
    if (!(s = zalloc(ctx, 1, sizeof *s)))
        return distill__fail(ctx, DISTILL_E_NOMEM, "%s: out of memory", fn_create);
    s->ctx = ctx, s->o = o, s->real = real, s->m = o.m, s->k = o.n_actions;
    s->dim = distill_dataset_x_dim(real), s->stream = distill__new_stream(ctx);
    distill_dataset_shape(real, &c, &h, &w);
    if (c * h * w == s->dim)
        s->c = c, s->h = h, s->w = w;
    else
        s->c = s->dim, s->h = s->w = 1;
    s->o.layers = NULL, s->o.obs_low = s->o.obs_high = NULL;
    if ((st = setup(s, &o)) != DISTILL_OK) {
        distill_orl_destroy(s);
        return st;
    }
    *out = s;
    return DISTILL_OK;
}

/* DISTILL_ORL_STUDENT: the student's BC steps on the synthetic set. */
static distill_status train_student(distill_orl *s)
{
    int64_t i;
    if (s->o.variant != DISTILL_ORL_STUDENT)
        return DISTILL_OK;
    for (i = 0; i < s->o.student_steps; i++) {
        DISTILL__TRY(distill_model_forward(s->net, DISTILL_MODE_TRAIN, s->m, s->states, s->dim, s->zb, s->k));
        distill__bc_loss_grad(s->o.loss, 1, s->m, s->k, s->zb, s->k, s->labels, 1, NULL, s->dzb, s->k);
        DISTILL__TRY(distill_model_backward(s->net, s->dzb, s->k, NULL, 0, DISTILL_BACKWARD_PARAMS));
        DISTILL__TRY(distill_optimizer_step(s->student_opt, distill_model_params(s->net),
                                            distill_model_grads(s->net)));
    }
    return DISTILL_OK;
}

distill_status distill_orl_step(distill_orl *s, double *loss)
{
    double l = 0.0;
    if (!s)
        return DISTILL_E_INVAL;
    DISTILL__TRY(distill__orl_network_for(s, s->step));
    DISTILL__TRY(distill__orl_match(s, &l, s->dstates, s->dim));
    DISTILL__TRY(distill_optimizer_step(s->opt, s->states, s->dstates));
    clip_states(s);
    DISTILL__TRY(train_student(s));
    s->step++;
    if (loss)
        *loss = l;
    return DISTILL_OK;
}

distill_status distill_orl_run(distill_orl *s, int64_t until)
{
    if (!s)
        return DISTILL_E_INVAL;
    if (until < 0)
        return distill__fail(s->ctx, DISTILL_E_INVAL, "distill_orl_run: until must be >= 0 (0: the options' "
                             "steps), got %lld", (long long)until);
    if (until == 0)
        until = s->o.steps;
    if (s->step < until)
        DISTILL__TRY(distill__progress(s->ctx, "orl", s->step, until));
    while (s->step < until) {
        DISTILL__TRY(distill_orl_step(s, NULL));
        DISTILL__TRY(distill__progress(s->ctx, "orl", s->step, until));
    }
    return DISTILL_OK;
}

distill_status distill_orl_gradient(distill_orl *s, double *loss, float *dstates, int64_t ldd)
{
    static const char fn[] = "distill_orl_gradient";
    if (!s)
        return DISTILL_E_INVAL;
    if (dstates)
        DISTILL__TRY(distill__check_matrix(s->ctx, fn, "dstates", dstates, s->m, s->dim, ldd));
    DISTILL__TRY(distill__orl_network_for(s, s->step));
    return distill__orl_match(s, loss, dstates, ldd);
}

distill_status distill_orl_set_states(distill_orl *s, const float *x, int64_t ld)
{
    static const char fn[] = "distill_orl_set_states";
    int64_t i, j;
    if (!s)
        return DISTILL_E_INVAL;
    DISTILL__TRY(distill__check_matrix(s->ctx, fn, "states", x, s->m, s->dim, ld));
    DISTILL__TRY(distill__check_finite(s->ctx, fn, "states", x, s->m, s->dim, ld));
    for (i = 0; s->low && i < s->m; i++)
        for (j = 0; j < s->dim; j++)
            if (x[i * ld + j] < s->low[j] || x[i * ld + j] > s->high[j])
                return distill__fail(s->ctx, DISTILL_E_INVAL, "%s: state %lld, entry %lld (%g) is outside the "
                                     "observation box", fn, (long long)i, (long long)j, (double)x[i * ld + j]);
    for (i = 0; i < s->m; i++)
        memcpy(s->states + i * s->dim, x + i * ld, sizeof(float) * (size_t)s->dim);
    return DISTILL_OK;
}

int64_t distill_orl_steps_done(const distill_orl *s) { return s ? s->step : 0; }
const float *distill_orl_states(const distill_orl *s) { return s ? s->states : NULL; }
const float *distill_orl_actions(const distill_orl *s) { return s ? s->labels : NULL; }
const distill_model *distill_orl_network(const distill_orl *s) { return s ? s->net : NULL; }

void distill_orl_shape(const distill_orl *s, int64_t *m, int64_t *state_dim)
{
    if (m)
        *m = s ? s->m : 0;
    if (state_dim)
        *state_dim = s ? s->dim : 0;
}

distill_status distill_orl_dataset(const distill_orl *s, distill_dataset **out)
{
    if (!s)
        return DISTILL_E_INVAL;
    DISTILL__TRY(distill__check_out(s->ctx, "distill_orl_dataset", "out", out));
    DISTILL__TRY(distill_dataset_from_memory(s->ctx, s->m, s->dim, s->states, s->dim, 1, s->labels, 1,
                                             DISTILL_DATASET_COPY, out));
    if (distill_dataset_set_shape(*out, s->c, s->h, s->w) != DISTILL_OK) {
        distill_dataset_destroy(*out);
        *out = NULL;
        return distill__fail(s->ctx, DISTILL_E_NOMEM, "distill_orl_dataset: out of memory");
    }
    return DISTILL_OK;
}
