/* PPO: options, the learner's construction, collection of envs x steps
 * samples with GAE, and the clipped-surrogate update. */
#include <math.h>
#include <string.h>

#include "../core/abi.h"
#include "../core/check.h"
#include "ppo.h"

static const char fn_create[] = "distill_ppo_create";

size_t distill_network_vtable_size(void) { return sizeof(distill_network_vtable); }
size_t distill_ppo_options_size(void) { return sizeof(distill_ppo_options); }
size_t distill_ppo_stats_size(void) { return sizeof(distill_ppo_stats); }

void distill_ppo_options_init(distill_ppo_options *o)
{
    if (!o)
        return;
    memset(o, 0, sizeof *o);
    o->struct_size = sizeof *o;
    o->optimizer = DISTILL_OPTIM_RMSPROP;
    o->envs = 4, o->steps = 128, o->epochs = 8, o->minibatches = 64;
    o->lr = 1.5e-4, o->gamma = 0.99, o->lambda = 0.99, o->clip = 0.1, o->entropy = 0.1, o->value_coef = 0.5;
    o->max_grad_norm = 5.0;
}

static int bad_unit(double x) { return !(x >= 0.0 && x <= 1.0); }

static distill_status check_options(distill_context *ctx, const distill_ppo_options *o)
{
    if (o->optimizer != DISTILL_OPTIM_RMSPROP && o->optimizer != DISTILL_OPTIM_ADAM)
        return distill__fail(ctx, DISTILL_E_INVAL, "%s: optimizer must be DISTILL_OPTIM_RMSPROP or _ADAM, got %d",
                             fn_create, (int)o->optimizer);
    if (o->envs < 1 || o->envs > 4096 || o->steps < 1 || o->steps > ((int64_t)1 << 24) || o->epochs < 1 ||
        o->minibatches < 1 || o->minibatches > o->envs * o->steps)
        return distill__fail(ctx, DISTILL_E_INVAL, "%s: need 1 <= envs <= 4096, 1 <= steps <= 2^24, epochs >= 1 "
                             "and 1 <= minibatches <= envs x steps", fn_create);
    if (!(o->lr > 0.0 && isfinite(o->lr)) || bad_unit(o->gamma) || bad_unit(o->lambda) ||
        !(o->clip > 0.0 && o->clip < 1.0) || !(o->entropy >= 0.0 && isfinite(o->entropy)) ||
        !(o->value_coef >= 0.0 && isfinite(o->value_coef)) || !(o->max_grad_norm >= 0.0 && isfinite(o->max_grad_norm)))
        return distill__fail(ctx, DISTILL_E_INVAL, "%s: need lr > 0, gamma and lambda in [0, 1], clip in (0, 1), "
                             "finite entropy, value_coef and max_grad_norm >= 0", fn_create);
    return DISTILL_OK;
}

/* The env and the network fit each other (discrete actions, n + 1 outputs). */
static distill_status check_pair(distill_context *ctx, const char *fn, distill_env *env,
                                 const distill_network_vtable *v)
{
    distill_space a;
    if (!env)
        return distill__fail(ctx, DISTILL_E_INVAL, "%s: env is required", fn);
    a.struct_size = sizeof a;
    DISTILL__TRY(distill_env_action_space(env, &a));
    if (a.kind != DISTILL_SPACE_DISCRETE || a.n < 2 || a.n > DISTILL_BC_MAX_ACTIONS)
        return distill__fail(ctx, DISTILL_E_UNSUPPORTED, "%s: PPO here takes a discrete action space of 2 .. %d "
                             "actions", fn, DISTILL_BC_MAX_ACTIONS);
    if (!v->forward || !v->backward || !v->params || !v->grads || v->n_params < 1)
        return distill__fail(ctx, DISTILL_E_INVAL, "%s: the network needs forward, backward, params and grads", fn);
    if (v->inputs != distill_env_obs_dim(env) || v->outputs != a.n + 1)
        return distill__fail(ctx, DISTILL_E_SHAPE, "%s: the network maps %lld inputs to %lld outputs; the env "
                             "needs %lld to %lld (its actions and the value)", fn, (long long)v->inputs,
                             (long long)v->outputs, (long long)distill_env_obs_dim(env), (long long)(a.n + 1));
    return DISTILL_OK;
}

static distill_status make_optimizer(distill_ppo *p)
{
    distill_optimizer_options oo;
    distill_optimizer_destroy(p->opt);
    p->opt = NULL;
    distill_optimizer_options_init(&oo);
    oo.kind = p->o.optimizer, oo.lr = p->o.lr, oo.clip_norm = p->o.max_grad_norm, oo.eps = 1e-5;
    return distill_optimizer_create(p->ctx, &oo, p->net.n_params, &p->opt);
}

static distill_status alloc_buffers(distill_ppo *p)
{
    const int64_t rows = p->S > p->mb ? p->S : p->mb;
    DISTILL__TRY(distill__check_count(p->ctx, fn_create, "samples x observations", p->N + p->S, p->O,
                                      sizeof(float)));
    p->state = distill__alloc_zero(p->ctx, p->S * (DISTILL__TASK_STATE + 1), sizeof(double));
    p->ep_t = distill__alloc_zero(p->ctx, p->S, sizeof(int64_t));
    p->cur = distill__alloc_zero(p->ctx, p->S * p->O, sizeof(float));
    p->obs = distill__alloc_zero(p->ctx, p->N * (p->O + 7) + 2 * rows * (p->A + 1) + p->mb * p->O, sizeof(float));
    p->perm = distill__alloc_zero(p->ctx, p->N, sizeof(int64_t));
    p->saved = distill__alloc_zero(p->ctx, distill__ppo_saved_count(p), sizeof(float));
    if (!p->state || !p->ep_t || !p->cur || !p->obs || !p->perm || !p->saved)
        return distill__fail(p->ctx, DISTILL_E_NOMEM, "%s: out of memory", fn_create);
    p->ep_return = p->state + p->S * DISTILL__TASK_STATE;
    p->act = p->obs + p->N * p->O, p->logp = p->act + p->N, p->val = p->logp + p->N, p->rew = p->val + p->N;
    p->done = p->rew + p->N, p->adv = p->done + p->N, p->ret = p->adv + p->N;
    p->out = p->ret + p->N, p->dout = p->out + rows * (p->A + 1), p->mbx = p->dout + rows * (p->A + 1);
    return DISTILL_OK;
}

int64_t distill__ppo_saved_count(const distill_ppo *p)
{
    return p->net.n_params + (p->opt ? distill_optimizer_state_count(p->opt) : 2 * p->net.n_params);
}

void distill_ppo_destroy(distill_ppo *p)
{
    if (!p)
        return;
    distill_optimizer_destroy(p->opt);
    distill__free(p->ctx, p->state);
    distill__free(p->ctx, p->ep_t);
    distill__free(p->ctx, p->cur);
    distill__free(p->ctx, p->obs);
    distill__free(p->ctx, p->perm);
    distill__free(p->ctx, p->saved);
    distill__free(p->ctx, p);
}

distill_status distill_ppo_create(distill_context *ctx, const distill_ppo_options *opts, distill_env *env,
                                  const distill_network_vtable *net, distill_ppo **out)
{
    distill_ppo *p;
    distill_status st;
    if (!ctx)
        return DISTILL_E_INVAL;
    DISTILL__TRY(distill__check_out(ctx, fn_create, "out", out));
    *out = NULL;
    if (!net)
        return distill__fail(ctx, DISTILL_E_INVAL, "%s: net is required", fn_create);
    if (!(p = distill__alloc_zero(ctx, 1, sizeof *p)))
        return distill__fail(ctx, DISTILL_E_NOMEM, "%s: out of memory", fn_create);
    p->ctx = ctx;
    distill_ppo_options_init(&p->o);
    memset(&p->net, 0, sizeof p->net);
    st = opts ? distill__struct_read(ctx, fn_create, "options", opts, sizeof p->o, sizeof p->o, &p->o) : DISTILL_OK;
    if (st == DISTILL_OK)
        st = check_options(ctx, &p->o);
    if (st == DISTILL_OK)
        st = distill__struct_read(ctx, fn_create, "network vtable", net, sizeof p->net, sizeof p->net, &p->net);
    if (st == DISTILL_OK)
        st = check_pair(ctx, fn_create, env, &p->net);
    if (st == DISTILL_OK) {
        p->env = env, p->O = distill_env_obs_dim(env), p->A = p->net.outputs - 1;
        p->S = env->task ? p->o.envs : 1, p->T = p->o.envs * p->o.steps / p->S, p->N = p->S * p->T;
        p->mb = p->N / p->o.minibatches;
        p->stream = distill__new_stream(ctx);
        st = make_optimizer(p);
    }
    if (st == DISTILL_OK)
        st = alloc_buffers(p);
    if (st != DISTILL_OK) {
        distill_ppo_destroy(p);
        return st;
    }
    *out = p;
    return DISTILL_OK;
}

distill_status distill_ppo_retarget(distill_ppo *p, distill_env *env, const distill_network_vtable *net)
{
    static const char fn[] = "distill_ppo_retarget";
    distill_network_vtable v = p ? p->net : (distill_network_vtable){0};
    distill_optimizer *old;
    if (!p)
        return DISTILL_E_INVAL;
    if (net)
        DISTILL__TRY(distill__struct_read(p->ctx, fn, "network vtable", net, sizeof v, sizeof v, &v));
    DISTILL__TRY(check_pair(p->ctx, fn, env ? env : p->env, &v));
    if (v.n_params != p->net.n_params || v.inputs != p->net.inputs || v.outputs != p->net.outputs ||
        (env && ((env->task != NULL) != (p->env->task != NULL))))
        return distill__fail(p->ctx, DISTILL_E_SHAPE, "%s: the new network or env differs in shape from the "
                             "learner's", fn);
    {
        const distill_network_vtable before = p->net;
        old = p->opt, p->opt = NULL;
        p->net = v;
        if (make_optimizer(p) != DISTILL_OK) {
            p->opt = old, p->net = before;
            return distill__fail(p->ctx, DISTILL_E_NOMEM, "%s: out of memory", fn);
        }
    }
    distill_optimizer_destroy(old);
    if (env)
        p->env = env;
    p->live = 0;
    return DISTILL_OK;
}

int64_t distill_ppo_iterations(const distill_ppo *p) { return p ? p->iter : 0; }
