/* The offline-RL distillation solver: options, buckets, the outer step. */
#include <math.h>
#include <string.h>

#include "../core/abi.h"
#include "../core/check.h"
#include "../core/rng.h"
#include "../solver/run.h"
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
    if (o->n_actions != 0 && (o->n_actions < 2 || o->n_actions > DISTILL_BC_MAX_ACTIONS))
        return distill__fail(ctx, DISTILL_E_INVAL, "%s: n_actions must be 0 (continuous) or in [2, %d], got %lld",
                             fn_create, DISTILL_BC_MAX_ACTIONS, (long long)o->n_actions);
    if (o->learn_actions && o->n_actions != 0)
        return distill__fail(ctx, DISTILL_E_INVAL, "%s: learn_actions needs continuous actions (n_actions 0)",
                             fn_create);
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

/* Continuous actions: one bucket of every row, the actions checked finite. */
static distill_status one_bucket(distill_orl *s, const float *y, int64_t n)
{
    int64_t i, j;
    for (i = 0; i < n; i++) {
        s->real_idx[i] = i;
        for (j = 0; j < s->ad; j++)
            if (!isfinite(y[i * s->yd + j]))
                return distill__fail(s->ctx, DISTILL_E_NUMERIC, "%s: row %lld's action is not finite", fn_create,
                                     (long long)i);
    }
    s->real_start[0] = s->syn_start[0] = 0, s->real_start[1] = n, s->syn_start[1] = s->m;
    return DISTILL_OK;
}

/* Discrete actions: the real rows grouped by action (stable), and the
 * synthetic budget split evenly over the actions present, the remainder to
 * the first ones. */
static void action_buckets(distill_orl *s, const float *y, int64_t n)
{
    int64_t a, i, present = 0, given = 0, *fill = s->pick;
    memset(s->real_start, 0, sizeof(int64_t) * (size_t)(s->nb + 1));
    for (i = 0; i < n; i++)
        s->real_start[(int64_t)y[i * s->yd] + 1]++;
    for (a = 0; a < s->nb; a++)
        present += s->real_start[a + 1] > 0;
    for (a = 0; a < s->nb; a++)
        s->real_start[a + 1] += s->real_start[a];
    for (a = 0; a < s->nb; a++)
        fill[a] = s->real_start[a];
    for (i = 0; i < n; i++)
        s->real_idx[fill[(int64_t)y[i * s->yd]]++] = i;
    s->syn_start[0] = 0;
    for (a = 0; a < s->nb; a++) {
        int64_t take = 0;
        if (s->real_start[a + 1] > s->real_start[a])
            take = s->m / present + (given++ < s->m % present);
        s->syn_start[a + 1] = s->syn_start[a] + take;
    }
}

static distill_status make_buckets(distill_orl *s)
{
    const int64_t n = distill_dataset_count(s->real);
    float *y = distill__alloc(s->ctx, sizeof(float) * (size_t)(n * s->yd));
    distill_status st;
    if (!y)
        return distill__fail(s->ctx, DISTILL_E_NOMEM, "%s: out of memory", fn_create);
    st = distill_dataset_get_range(s->real, 0, n, NULL, 0, y, s->yd);
    if (st == DISTILL_OK && s->discrete)
        st = distill__bc_check_actions(s->ctx, fn_create, n, y, s->yd, s->k);
    if (st == DISTILL_OK && s->discrete)
        action_buckets(s, y, n);
    else if (st == DISTILL_OK)
        st = one_bucket(s, y, n);
    distill__free(s->ctx, y);
    return st;
}

/* Each bucket starts as distinct random real states of its action (a
 * bucket with fewer real states than its share repeats them); continuous
 * actions start as those states' actions. */
static distill_status init_bucket(distill_orl *s, int64_t b)
{
    const int64_t nr = s->real_start[b + 1] - s->real_start[b];
    const int64_t ns = s->syn_start[b + 1] - s->syn_start[b], take = ns < nr ? ns : nr;
    float *dst = s->states + s->syn_start[b] * s->dim, *lab = s->labels + s->syn_start[b] * s->ad;
    distill__rng r;
    int64_t j, q;
    distill__rng_init(&r, s->ctx->seed, distill__rng_derive(s->stream, INIT_PURPOSE, (uint64_t)b, 0), 0);
    memcpy(s->pick, s->real_idx + s->real_start[b], sizeof(int64_t) * (size_t)nr);
    for (j = 0; j < take; j++) { /* a partial Fisher-Yates shuffle */
        const int64_t at = j + (int64_t)distill__rng_below(&r, (uint64_t)(nr - j)), t = s->pick[j];
        s->pick[j] = s->pick[at], s->pick[at] = t;
    }
    DISTILL__TRY(distill_dataset_get(s->real, s->pick, take, dst, s->dim, s->lab, s->yd));
    for (j = 0; j < ns; j++) {
        const int64_t from = j % take;
        if (j >= take)
            memcpy(dst + j * s->dim, dst + from * s->dim, sizeof(float) * (size_t)s->dim);
        for (q = 0; q < s->ad; q++)
            lab[j * s->ad + q] = s->discrete ? (float)b : s->lab[from * s->yd + q];
    }
    return DISTILL_OK;
}

static distill_status init_states(distill_orl *s)
{
    int64_t b;
    for (b = 0; b < s->nb; b++)
        if (s->syn_start[b + 1] > s->syn_start[b])
            DISTILL__TRY(init_bucket(s, b));
    distill__orl_unmap(s, s->states, s->dim, s->params);
    return DISTILL_OK;
}

/* The network (its outputs fix k for continuous actions) and the optimisers. */
static distill_status make_network(distill_orl *s)
{
    distill_model_options mo;
    distill_optimizer_options oo;
    distill_model_options_init(&mo);
    mo.in_c = s->c, mo.in_h = s->h, mo.in_w = s->w, mo.layers = s->layers, mo.n_layers = s->o.n_layers;
    DISTILL__TRY(distill_model_create(s->ctx, &mo, &s->net));
    if (s->discrete && distill_model_output_dim(s->net) != s->k)
        return distill__fail(s->ctx, DISTILL_E_SHAPE, "%s: the network has %lld outputs, n_actions is %lld",
                             fn_create, (long long)distill_model_output_dim(s->net), (long long)s->k);
    s->k = distill_model_output_dim(s->net);
    s->ad = s->discrete ? 1 : s->k, s->nb = s->discrete ? s->k : 1;
    if (s->yd < s->ad)
        return distill__fail(s->ctx, DISTILL_E_SHAPE, "%s: the data's y has %lld columns, the action %lld", fn_create,
                             (long long)s->yd, (long long)s->ad);
    distill_optimizer_options_init(&oo);
    oo.kind = DISTILL_OPTIM_ADAM, oo.lr = s->o.lr;
    DISTILL__TRY(distill_optimizer_create(s->ctx, &oo, s->m * s->pdim, &s->opt));
    if (s->o.learn_actions)
        DISTILL__TRY(distill_optimizer_create(s->ctx, &oo, s->m * s->ad, &s->act_opt));
    if (s->o.variant == DISTILL_ORL_STUDENT) {
        oo.lr = s->o.student_lr;
        DISTILL__TRY(distill_optimizer_create(s->ctx, &oo, distill_model_param_count(s->net), &s->student_opt));
    }
    return distill__orl_first_network(s);
}

/* Scratch sized by the buckets: the largest real batch or synthetic bucket. */
static distill_status alloc_scratch(distill_orl *s)
{
    const int64_t np = distill_model_param_count(s->net), labw = s->yd > s->ad ? s->yd : s->ad;
    const int cache = s->o.variant == DISTILL_ORL_FIXED && s->o.batch == 0;
    int64_t b, biggest = 1;
    for (b = 0; b < s->nb; b++) {
        const int64_t nr = s->real_start[b + 1] - s->real_start[b], ns = s->syn_start[b + 1] - s->syn_start[b];
        const int64_t nbatch = s->o.batch == 0 || s->o.batch > nr ? nr : s->o.batch;
        biggest = nbatch > biggest ? nbatch : biggest;
        biggest = ns > biggest ? ns : biggest;
    }
    if (s->o.variant == DISTILL_ORL_STUDENT) /* the student trains on all m states at once */
        biggest = s->m > biggest ? s->m : biggest;
    DISTILL__TRY(distill__check_count(s->ctx, fn_create, "scratch rows x state size", biggest,
                                      s->dim + 3 * s->k + labw, sizeof(float)));
    s->xb = distill__alloc_zero(s->ctx, biggest * s->dim, sizeof(float));
    s->zb = distill__alloc_zero(s->ctx, biggest * s->k, sizeof(float));
    s->zb2 = distill__alloc_zero(s->ctx, biggest * s->k, sizeof(float));
    s->dzb = distill__alloc_zero(s->ctx, biggest * s->k, sizeof(float));
    s->lab = distill__alloc_zero(s->ctx, biggest * labw, sizeof(float));
    s->gr = distill__alloc_zero(s->ctx, np, sizeof(float));
    s->gs = distill__alloc_zero(s->ctx, np, sizeof(float));
    s->v = distill__alloc_zero(s->ctx, np, sizeof(float));
    if (cache)
        s->gr_cache = distill__alloc_zero(s->ctx, s->nb * np, sizeof(float));
    if (!s->xb || !s->zb || !s->zb2 || !s->dzb || !s->lab || !s->gr || !s->gs || !s->v || (cache && !s->gr_cache))
        return distill__fail(s->ctx, DISTILL_E_NOMEM, "%s: out of memory", fn_create);
    return DISTILL_OK;
}

/* The caller's layer specs (at their stride) and observation box. */
static distill_status copy_options(distill_orl *s, const distill_orl_options *o)
{
    int64_t i;
    s->layers = distill__alloc_zero(s->ctx, o->n_layers, sizeof(distill_layer_spec));
    if (o->obs_low || o->obs_high) {
        s->low = distill__alloc_zero(s->ctx, s->dim, sizeof(float));
        s->high = distill__alloc_zero(s->ctx, s->dim, sizeof(float));
    }
    if (!s->layers || ((o->obs_low || o->obs_high) && (!s->low || !s->high)))
        return distill__fail(s->ctx, DISTILL_E_NOMEM, "%s: out of memory", fn_create);
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

static distill_status alloc_arrays(distill_orl *s)
{
    const int64_t n = distill_dataset_count(s->real);
    DISTILL__TRY(distill__check_count(s->ctx, fn_create, "m x state size", s->m, s->dim + s->ad, 2 * sizeof(float)));
    s->params = distill__alloc_zero(s->ctx, s->m * s->pdim, sizeof(float));
    s->dparams = distill__alloc_zero(s->ctx, s->m * s->pdim, sizeof(float));
    s->states = distill__alloc_zero(s->ctx, s->m * s->dim, sizeof(float));
    s->dstates = distill__alloc_zero(s->ctx, s->m * s->dim, sizeof(float));
    s->labels = distill__alloc_zero(s->ctx, s->m * s->ad, sizeof(float));
    if (!s->discrete)
        s->dlabels = distill__alloc_zero(s->ctx, s->m * s->ad, sizeof(float));
    s->real_idx = distill__alloc_zero(s->ctx, n, sizeof(int64_t));
    s->real_start = distill__alloc_zero(s->ctx, s->nb + 1, sizeof(int64_t));
    s->syn_start = distill__alloc_zero(s->ctx, s->nb + 1, sizeof(int64_t));
    s->pick = distill__alloc_zero(s->ctx, n + s->nb + 1, sizeof(int64_t));
    if (!s->params || !s->dparams || !s->states || !s->dstates || !s->labels || (!s->discrete && !s->dlabels) ||
        !s->real_idx || !s->real_start || !s->syn_start || !s->pick)
        return distill__fail(s->ctx, DISTILL_E_NOMEM, "%s: out of memory", fn_create);
    return DISTILL_OK;
}

/* Outside the angles, the learned parameters are the observations: the box
 * applies to them, and the states follow. */
static void clip_and_map(distill_orl *s)
{
    int64_t i, j;
    for (i = 0; s->low && i < s->m; i++)
        for (j = s->angles; j < s->pdim; j++) {
            float *x = &s->params[i * s->pdim + j];
            const float lo = s->low[j + s->angles], hi = s->high[j + s->angles];
            *x = *x < lo ? lo : *x > hi ? hi : *x;
        }
    distill__orl_map(s, s->params, s->states);
}

void distill_orl_destroy(distill_orl *s)
{
    if (!s)
        return;
    distill_model_destroy(s->net);
    distill_optimizer_destroy(s->opt), distill_optimizer_destroy(s->act_opt);
    distill_optimizer_destroy(s->student_opt);
    distill__free(s->ctx, s->layers), distill__free(s->ctx, s->params), distill__free(s->ctx, s->dparams);
    distill__free(s->ctx, s->states), distill__free(s->ctx, s->dstates), distill__free(s->ctx, s->labels);
    distill__free(s->ctx, s->dlabels), distill__free(s->ctx, s->real_idx), distill__free(s->ctx, s->real_start);
    distill__free(s->ctx, s->syn_start), distill__free(s->ctx, s->pick), distill__free(s->ctx, s->low);
    distill__free(s->ctx, s->high), distill__free(s->ctx, s->xb), distill__free(s->ctx, s->zb);
    distill__free(s->ctx, s->zb2), distill__free(s->ctx, s->dzb), distill__free(s->ctx, s->lab);
    distill__free(s->ctx, s->gr), distill__free(s->ctx, s->gs), distill__free(s->ctx, s->v);
    distill__free(s->ctx, s->gr_cache);
    distill__free(s->ctx, s);
}

static distill_status setup(distill_orl *s, const distill_orl_options *o)
{
    DISTILL__TRY(copy_options(s, o));
    DISTILL__TRY(make_network(s));
    DISTILL__TRY(alloc_arrays(s));
    DISTILL__TRY(make_buckets(s));
    DISTILL__TRY(alloc_scratch(s));
    DISTILL__TRY(init_states(s));
    clip_and_map(s);
    return DISTILL_OK;
}

static void shape_of(distill_orl *s)
{
    int64_t c, h, w;
    distill_dataset_shape(s->real, &c, &h, &w);
    if (c * h * w == s->dim)
        s->c = c, s->h = h, s->w = w;
    else
        s->c = s->dim, s->h = s->w = 1;
}

distill_status distill_orl_create(distill_context *ctx, const distill_orl_options *opts, distill_dataset *real,
                                  distill_orl **out)
{
    distill_orl_options o;
    distill_orl *s;
    distill_status st;
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
    if (o.angle_pairs < 0 || 2 * o.angle_pairs > distill_dataset_x_dim(real))
        return distill__fail(ctx, DISTILL_E_INVAL, "%s: angle_pairs %lld does not fit %lld observations", fn_create,
                             (long long)o.angle_pairs, (long long)distill_dataset_x_dim(real));
    if (!(s = distill__alloc_zero(ctx, 1, sizeof *s)))
        return distill__fail(ctx, DISTILL_E_NOMEM, "%s: out of memory", fn_create);
    s->ctx = ctx, s->o = o, s->real = real, s->m = o.m, s->k = o.n_actions, s->discrete = o.n_actions != 0;
    s->dim = distill_dataset_x_dim(real), s->yd = distill_dataset_y_dim(real), s->stream = distill__new_stream(ctx);
    s->angles = o.angle_pairs, s->pdim = s->dim - o.angle_pairs;
    shape_of(s);
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
        distill__bc_loss_grad(s->o.loss, s->discrete, s->m, s->k, s->zb, s->k, s->labels, s->ad, NULL, s->dzb, s->k);
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
    DISTILL__TRY(distill__orl_match(s, &l, s->dstates, s->dim, s->act_opt ? s->dlabels : NULL));
    if (s->act_opt) /* checked before anything moves */
        DISTILL__TRY(distill__check_finite(s->ctx, "distill_orl_step", "the action gradient", s->dlabels, s->m, s->ad,
                                           s->ad));
    distill__orl_map_grad(s, s->params, s->dstates, s->dparams);
    DISTILL__TRY(distill_optimizer_step(s->opt, s->params, s->dparams));
    clip_and_map(s);
    if (s->act_opt)
        DISTILL__TRY(distill_optimizer_step(s->act_opt, s->labels, s->dlabels));
    DISTILL__TRY(train_student(s));
    s->step++;
    if (loss)
        *loss = l;
    return DISTILL_OK;
}

static distill_status orl_step(void *s) { return distill_orl_step(s, NULL); }

distill_status distill_orl_run(distill_orl *s, int64_t until)
{
    if (!s)
        return DISTILL_E_INVAL;
    if (until < 0)
        return distill__fail(s->ctx, DISTILL_E_INVAL, "distill_orl_run: until must be >= 0 (0: the options' "
                             "steps), got %lld", (long long)until);
    return distill__run_steps(s->ctx, "orl", &s->step, until ? until : s->o.steps, orl_step, s);
}

distill_status distill_orl_gradient(distill_orl *s, double *loss, float *dstates, int64_t ldd, float *dactions,
                                    int64_t lda)
{
    static const char fn[] = "distill_orl_gradient";
    distill_status st;
    float *saved = NULL;
    int64_t i, nbuf;
    if (!s)
        return DISTILL_E_INVAL;
    if (dstates)
        DISTILL__TRY(distill__check_matrix(s->ctx, fn, "dstates", dstates, s->m, s->dim, ldd));
    if (dactions && s->discrete)
        return distill__fail(s->ctx, DISTILL_E_INVAL, "%s: discrete actions are fixed labels: dactions must be NULL",
                             fn);
    if (dactions)
        DISTILL__TRY(distill__check_matrix(s->ctx, fn, "dactions", dactions, s->m, s->ad, lda));
    nbuf = distill_model_buffer_count(s->net);
    if (nbuf > 0 && !(saved = distill__alloc(s->ctx, sizeof(float) * (size_t)nbuf)))
        return distill__fail(s->ctx, DISTILL_E_NOMEM, "%s: out of memory", fn);
    if (saved) /* train-mode passes update running statistics: put them back */
        memcpy(saved, distill_model_buffers(s->net), sizeof(float) * (size_t)nbuf);
    st = distill__orl_network_for(s, s->step);
    if (st == DISTILL_OK)
        st = distill__orl_match(s, loss, dstates, ldd, dactions ? s->dlabels : NULL);
    for (i = 0; st == DISTILL_OK && dactions && i < s->m; i++)
        memcpy(dactions + i * lda, s->dlabels + i * s->ad, sizeof(float) * (size_t)s->ad);
    if (saved)
        memcpy(distill_model_buffers(s->net), saved, sizeof(float) * (size_t)nbuf);
    distill__free(s->ctx, saved);
    return st;
}

distill_status distill_orl_set_actions(distill_orl *s, const float *a, int64_t ld)
{
    static const char fn[] = "distill_orl_set_actions";
    int64_t i;
    if (!s)
        return DISTILL_E_INVAL;
    if (s->discrete)
        return distill__fail(s->ctx, DISTILL_E_INVAL, "%s: discrete actions are fixed labels", fn);
    DISTILL__TRY(distill__check_matrix(s->ctx, fn, "actions", a, s->m, s->ad, ld));
    DISTILL__TRY(distill__check_finite(s->ctx, fn, "actions", a, s->m, s->ad, ld));
    for (i = 0; i < s->m; i++)
        memcpy(s->labels + i * s->ad, a + i * ld, sizeof(float) * (size_t)s->ad);
    return DISTILL_OK;
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
        for (j = 2 * s->angles; j < s->dim; j++)
            if (x[i * ld + j] < s->low[j] || x[i * ld + j] > s->high[j])
                return distill__fail(s->ctx, DISTILL_E_INVAL, "%s: state %lld, entry %lld (%g) is outside the "
                                     "observation box", fn, (long long)i, (long long)j, (double)x[i * ld + j]);
    distill__orl_unmap(s, x, ld, s->params);
    distill__orl_map(s, s->params, s->states);
    return DISTILL_OK;
}

int64_t distill_orl_steps_done(const distill_orl *s) { return s ? s->step : 0; }
const float *distill_orl_states(const distill_orl *s) { return s ? s->states : NULL; }
const float *distill_orl_actions(const distill_orl *s) { return s ? s->labels : NULL; }
const distill_model *distill_orl_network(const distill_orl *s) { return s ? s->net : NULL; }

void distill_orl_shape(const distill_orl *s, int64_t *m, int64_t *state_dim, int64_t *action_dim)
{
    if (m)
        *m = s ? s->m : 0;
    if (state_dim)
        *state_dim = s ? s->dim : 0;
    if (action_dim)
        *action_dim = s ? s->ad : 0;
}

distill_status distill_orl_dataset(const distill_orl *s, distill_dataset **out)
{
    if (!s)
        return DISTILL_E_INVAL;
    DISTILL__TRY(distill__check_out(s->ctx, "distill_orl_dataset", "out", out));
    DISTILL__TRY(distill_dataset_from_memory(s->ctx, s->m, s->dim, s->states, s->dim, s->ad, s->labels, s->ad,
                                             DISTILL_DATASET_COPY, out));
    if (distill_dataset_set_shape(*out, s->c, s->h, s->w) != DISTILL_OK) {
        distill_dataset_destroy(*out);
        *out = NULL;
        return distill__fail(s->ctx, DISTILL_E_NOMEM, "distill_orl_dataset: out of memory");
    }
    return DISTILL_OK;
}
