/* The VDD solver: options, construction, the step with its all-or-nothing
 * rule, and the student as a policy. */
#include <math.h>
#include <string.h>

#include "../core/abi.h"
#include "../core/check.h"
#include "../core/rng.h"
#include "../policy/internal.h"
#include "../solver/run.h"
#include "internal.h"

size_t distill_vdd_options_size(void) { return sizeof(distill_vdd_options); }

void distill_vdd_options_init(distill_vdd_options *o)
{
    if (!o)
        return;
    memset(o, 0, sizeof *o);
    o->struct_size = sizeof *o;
    o->experts = 8;
    o->full_cov = 1;
    o->learn_gating = 1;
    o->hidden = 64;
    o->layers = 2;
    o->gating_hidden = 64;
    o->batch = 128;
    o->samples = 4;
    o->expert_steps = 2;
    o->iterations = 3000;
    o->lr = 1e-3;
    o->gating_lr = 1e-3;
    o->sigma_min = 0.05;
    o->sigma_max = 0.3;
    o->min_std = 1e-4;
    o->init_std = 1.0;
    o->mean_bias_bound = 1.0;
}

static const char fn_create[] = "distill_vdd_create";

static int bad_rate(double x) { return !(x > 0.0 && isfinite(x)); }

static distill_status check_options(distill_context *ctx, const distill_vdd_options *o)
{
    if (o->experts < 1 || o->experts > DISTILL__MOE_MAX_EXPERTS)
        return distill__fail(ctx, DISTILL_E_INVAL, "%s: experts must be in [1, %d], got %lld", fn_create,
                             DISTILL__MOE_MAX_EXPERTS, (long long)o->experts);
    if ((o->full_cov != 0 && o->full_cov != 1) || (o->learn_gating != 0 && o->learn_gating != 1) ||
        (o->data_units != 0 && o->data_units != 1) || o->reserved != 0 || o->reserved2 != 0)
        return distill__fail(ctx, DISTILL_E_INVAL, "%s: full_cov, learn_gating and data_units are 0 or 1, "
                             "reserved and reserved2 0", fn_create);
    if (o->mean_init != DISTILL_VDD_MEAN_INIT_UNIFORM && o->mean_init != DISTILL_VDD_MEAN_INIT_BRANCH)
        return distill__fail(ctx, DISTILL_E_INVAL, "%s: mean_init must be DISTILL_VDD_MEAN_INIT_UNIFORM (0) or "
                             "_BRANCH (1), got %d", fn_create, (int)o->mean_init);
    if (o->hidden < 1 || o->hidden > 65536 || o->layers < 1 || o->layers > 16 || o->gating_hidden < 1 ||
        o->gating_hidden > 65536)
        return distill__fail(ctx, DISTILL_E_INVAL, "%s: hidden and gating_hidden must be in [1, 65536], layers in "
                             "[1, 16]", fn_create);
    if (o->batch < 1 || o->samples < 1 || o->expert_steps < 1 || o->iterations < 0)
        return distill__fail(ctx, DISTILL_E_INVAL, "%s: batch, samples and expert_steps must be >= 1 and "
                             "iterations >= 0", fn_create);
    if (bad_rate(o->lr) || bad_rate(o->gating_lr))
        return distill__fail(ctx, DISTILL_E_INVAL, "%s: lr and gating_lr must be > 0 and finite, got %g and %g",
                             fn_create, o->lr, o->gating_lr);
    if (!(o->sigma_min > 0.0 && o->sigma_max >= o->sigma_min && isfinite(o->sigma_max)))
        return distill__fail(ctx, DISTILL_E_INVAL, "%s: need 0 < sigma_min <= sigma_max < inf, got %g and %g",
                             fn_create, o->sigma_min, o->sigma_max);
    if (!(o->state_noise >= 0.0 && isfinite(o->state_noise)))
        return distill__fail(ctx, DISTILL_E_INVAL, "%s: state_noise must be >= 0 and finite, got %g", fn_create,
                             o->state_noise);
    if (!(o->min_std >= 0.0 && o->init_std > o->min_std && isfinite(o->init_std) && o->mean_bias_bound >= 0.0 &&
          isfinite(o->mean_bias_bound)))
        return distill__fail(ctx, DISTILL_E_INVAL, "%s: need 0 <= min_std < init_std < inf and a finite "
                             "mean_bias_bound >= 0", fn_create);
    return DISTILL_OK;
}

/* An MLP: layers x (dense hidden, Mish, orthogonal), then dense `out`
 * whose weights start at 0 (the last layer's bias is set by the caller). */
static distill_status make_mlp(distill_context *ctx, int64_t in, int64_t hidden, int64_t layers, int64_t out,
                               distill_model **m)
{
    distill_layer_spec spec[2 * 16 + 1];
    distill_model_options mo;
    int64_t i, n = 0, off, count;
    for (i = 0; i < layers; i++) {
        distill_layer_spec_init(&spec[n], DISTILL_LAYER_DENSE);
        spec[n].init = DISTILL_INIT_ORTHOGONAL, spec[n++].units = hidden;
        distill_layer_spec_init(&spec[n++], DISTILL_LAYER_MISH);
    }
    distill_layer_spec_init(&spec[n], DISTILL_LAYER_DENSE);
    spec[n].init = DISTILL_INIT_ZEROS, spec[n++].units = out;
    distill_model_options_init(&mo);
    mo.in_c = in, mo.in_h = mo.in_w = 1, mo.layers = spec, mo.n_layers = n;
    DISTILL__TRY(distill_model_create(ctx, &mo, m));
    DISTILL__TRY(distill_model_layer_params(*m, n - 1, &off, &count));
    memset(distill_model_params(*m) + off, 0, sizeof(float) * (size_t)count);
    return DISTILL_OK;
}

static distill_status make_optimizers(distill_vdd *v)
{
    distill_optimizer_options oo;
    distill_optimizer_options_init(&oo);
    oo.kind = DISTILL_OPTIM_ADAM, oo.lr = v->o.lr, oo.schedule = DISTILL_SCHEDULE_LINEAR;
    oo.total_steps = v->o.iterations * v->o.expert_steps;
    if (oo.total_steps < 1)
        oo.schedule = DISTILL_SCHEDULE_CONSTANT, oo.total_steps = 0;
    DISTILL__TRY(distill_optimizer_create(v->ctx, &oo, distill_model_param_count(v->experts), &v->opt));
    if (!v->gating)
        return DISTILL_OK;
    oo.lr = v->o.gating_lr, oo.total_steps = v->o.iterations;
    if (oo.total_steps < 1)
        oo.schedule = DISTILL_SCHEDULE_CONSTANT, oo.total_steps = 0;
    return distill_optimizer_create(v->ctx, &oo, distill_model_param_count(v->gating), &v->gopt);
}

static distill_status alloc_buffers(distill_vdd *v)
{
    const int64_t n = v->B * v->K * v->V, row = 2 * v->A + v->O + 1 + v->A;
    DISTILL__TRY(distill__check_count(v->ctx, fn_create, "batch x experts", v->B, v->K, 1));
    DISTILL__TRY(distill__check_count(v->ctx, fn_create, "batch x experts x samples", v->B * v->K, v->V, 1));
    DISTILL__TRY(distill__check_count(v->ctx, fn_create, "samples x row", n, row, sizeof(float)));
    v->idx = distill__alloc_zero(v->ctx, v->B, sizeof(int64_t));
    v->obs = distill__alloc_zero(v->ctx, v->B * (v->O + v->yd + 2 * v->R + 2 * v->K), sizeof(float));
    v->eps = distill__alloc_zero(v->ctx, n * row, sizeof(float));
    v->saved = distill__alloc_zero(v->ctx, distill__vdd_saved_count(v), sizeof(float));
    v->work = distill__alloc_zero(v->ctx, distill__vdd_work_size(&v->moe) + 2 * v->R + v->A * v->A + v->K,
                                  sizeof(double));
    if (!v->idx || !v->obs || !v->eps || !v->saved || !v->work)
        return distill__fail(v->ctx, DISTILL_E_NOMEM, "%s: out of memory", fn_create);
    v->y = v->obs + v->B * v->O, v->out = v->y + v->B * v->yd, v->dout = v->out + v->B * v->R;
    v->z = v->dout + v->B * v->R, v->dz = v->z + v->B * v->K;
    v->acts = v->eps + n * v->A, v->srows = v->acts + n * v->A, v->sigma = v->srows + n * v->O;
    v->score = v->sigma + n;
    return DISTILL_OK;
}

static distill_status check_inputs(distill_context *ctx, const distill_vdd_options *o, distill_diffusion *t,
                                   distill_dataset *demos)
{
    const int64_t A = distill_diffusion_action_dim(t);
    if (!t || !demos)
        return distill__fail(ctx, DISTILL_E_INVAL, "%s: teacher and demos are required", fn_create);
    if (A > DISTILL__MOE_MAX_ACTION)
        return distill__fail(ctx, DISTILL_E_INVAL, "%s: actions of %lld floats; a mixture takes at most %d",
                             fn_create, (long long)A, DISTILL__MOE_MAX_ACTION);
    if (distill_dataset_x_dim(demos) != distill_diffusion_obs_dim(t))
        return distill__fail(ctx, DISTILL_E_SHAPE, "%s: the demos have %lld observations, the teacher takes %lld",
                             fn_create, (long long)distill_dataset_x_dim(demos),
                             (long long)distill_diffusion_obs_dim(t));
    if ((o->learn_gating || o->mean_init == DISTILL_VDD_MEAN_INIT_BRANCH) && distill_dataset_y_dim(demos) < A)
        return distill__fail(ctx, DISTILL_E_SHAPE, "%s: a learned gating and mean_init BRANCH need the demos' "
                             "actions (%lld y columns, %lld needed)", fn_create,
                             (long long)distill_dataset_y_dim(demos), (long long)A);
    return DISTILL_OK;
}

static distill_status setup(distill_vdd *v)
{
    v->moe = distill__moe_layout(v->o.experts, v->A, v->o.full_cov, v->o.min_std, v->o.init_std);
    v->R = distill__moe_row(&v->moe);
    DISTILL__TRY(make_mlp(v->ctx, v->O, v->o.hidden, v->o.layers, v->R, &v->experts));
    DISTILL__TRY(distill__vdd_init_means(v));
    if (v->o.learn_gating)
        DISTILL__TRY(make_mlp(v->ctx, v->O, v->o.gating_hidden, 2, v->K, &v->gating));
    DISTILL__TRY(make_optimizers(v));
    return alloc_buffers(v);
}

distill_status distill_vdd_create(distill_context *ctx, const distill_vdd_options *opts, distill_diffusion *teacher,
                                  distill_dataset *demos, distill_vdd **out)
{
    distill_vdd *v;
    distill_status st;
    if (!ctx)
        return DISTILL_E_INVAL;
    DISTILL__TRY(distill__check_out(ctx, fn_create, "out", out));
    *out = NULL;
    if (!(v = distill__alloc_zero(ctx, 1, sizeof *v)))
        return distill__fail(ctx, DISTILL_E_NOMEM, "%s: out of memory", fn_create);
    v->ctx = ctx;
    distill_vdd_options_init(&v->o);
    st = opts ? distill__struct_read(ctx, fn_create, "options", opts, DISTILL__VDD_OPTIONS_SIZE_0_2,
                                                    sizeof v->o, &v->o) : DISTILL_OK;
    if (st == DISTILL_OK)
        st = check_options(ctx, &v->o);
    if (st == DISTILL_OK)
        st = check_inputs(ctx, &v->o, teacher, demos);
    if (st == DISTILL_OK && v->o.data_units) {
        const double sd = distill_diffusion_sigma_data(teacher) > 0.0 ? distill_diffusion_sigma_data(teacher) : 1.0;
        v->o.sigma_min *= sd, v->o.sigma_max *= sd, v->o.min_std *= sd, v->o.init_std *= sd;
        v->o.mean_bias_bound *= sd;
    }
    if (st == DISTILL_OK) {
        v->teacher = teacher, v->demos = demos, v->stream = distill__new_stream(ctx);
        v->O = distill_diffusion_obs_dim(teacher), v->A = distill_diffusion_action_dim(teacher);
        v->K = v->o.experts, v->V = v->o.samples, v->B = v->o.batch;
        v->yd = distill_dataset_y_dim(demos), v->n_demos = distill_dataset_count(demos);
        st = setup(v);
    }
    if (st != DISTILL_OK) {
        distill_vdd_destroy(v);
        return st;
    }
    *out = v;
    return DISTILL_OK;
}

void distill_vdd_destroy(distill_vdd *v)
{
    if (!v)
        return;
    distill_model_destroy(v->experts);
    distill_model_destroy(v->gating);
    distill_optimizer_destroy(v->opt);
    distill_optimizer_destroy(v->gopt);
    distill__free(v->ctx, v->idx);
    distill__free(v->ctx, v->obs);
    distill__free(v->ctx, v->eps);
    distill__free(v->ctx, v->saved);
    distill__free(v->ctx, v->work);
    distill__free(v->ctx, v);
}

/* ---- the all-or-nothing step ---------------------------------------------- */

int64_t distill__vdd_saved_count(const distill_vdd *v)
{
    int64_t n = distill_model_param_count(v->experts) + distill_optimizer_state_count(v->opt);
    if (v->gating)
        n += distill_model_param_count(v->gating) + distill_optimizer_state_count(v->gopt);
    return n;
}

/* Copy the networks' parameters and moments to or from v->saved. */
static void move_state(distill_vdd *v, int restore, int64_t *steps)
{
    distill_model *m[2] = {v->experts, v->gating};
    distill_optimizer *o[2] = {v->opt, v->gopt};
    float *at = v->saved;
    int i;
    for (i = 0; i < 2 && m[i]; i++) {
        const int64_t np = distill_model_param_count(m[i]), ns = distill_optimizer_state_count(o[i]);
        if (restore) {
            memcpy(distill_model_params(m[i]), at, sizeof(float) * (size_t)np);
            (void)!distill_optimizer_set_state(o[i], at + np, ns, steps[i]);
        } else {
            memcpy(at, distill_model_params(m[i]), sizeof(float) * (size_t)np);
            (void)!distill_optimizer_get_state(o[i], at + np, ns, &steps[i]);
        }
        at += np + ns;
    }
}

distill_status distill_vdd_step(distill_vdd *v, double *loss)
{
    int64_t steps[2] = {0, 0};
    distill_status st;
    double l = 0.0;
    if (!v)
        return DISTILL_E_INVAL;
    move_state(v, 0, steps);
    st = distill__vdd_iteration(v, &l);
    if (st != DISTILL_OK) {
        move_state(v, 1, steps);
        return st;
    }
    v->step++;
    if (loss)
        *loss = l;
    return DISTILL_OK;
}

static distill_status run_step(void *solver) { return distill_vdd_step(solver, NULL); }

distill_status distill_vdd_run(distill_vdd *v, int64_t until)
{
    if (!v)
        return DISTILL_E_INVAL;
    if (until < 0)
        return distill__fail(v->ctx, DISTILL_E_INVAL, "distill_vdd_run: until must be >= 0, got %lld",
                             (long long)until);
    return distill__run_steps(v->ctx, "vdd", &v->step, until ? until : v->o.iterations, run_step, v);
}

int64_t distill_vdd_steps_done(const distill_vdd *v) { return v ? v->step : 0; }

distill_status distill_vdd_policy(const distill_vdd *v, int32_t mode, int64_t commit_steps, distill_policy **out)
{
    static const char fn[] = "distill_vdd_policy";
    distill_model *e = NULL, *g = NULL;
    if (!v)
        return DISTILL_E_INVAL;
    DISTILL__TRY(distill__check_out(v->ctx, fn, "out", out));
    *out = NULL;
    DISTILL__TRY(distill_model_clone(v->experts, &e));
    if (v->gating && distill_model_clone(v->gating, &g) != DISTILL_OK) {
        distill_model_destroy(e);
        return v->ctx->last_status;
    }
    return distill__policy_make_moe(v->ctx, fn, e, g, &v->moe, NULL, mode, commit_steps, out);
}
