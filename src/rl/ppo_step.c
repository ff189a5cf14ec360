/* One PPO iteration: collect envs x steps samples, GAE, then epochs x
 * minibatches clipped-surrogate updates; and the model wrapper. */
#include <math.h>
#include <string.h>

#include "../core/abi.h"
#include "../core/check.h"
#include "../core/rng.h"
#include "../solver/run.h"
#include "ppo.h"

#define ACT_PURPOSE 0x70706f61ULL  /* "ppoa" */
#define PERM_PURPOSE 0x70706f70ULL /* "ppop" */

static const char fn_step[] = "distill_ppo_step";

/* The network's callbacks.  One that failed inside a library call on
 * this context (a masknet's own pass) keeps that call's status when it is
 * DISTILL_E_NOMEM (an allocation failure stays one); any other failure is
 * the host's: DISTILL_E_BACKEND. */
static distill_status failed(distill_ppo *p, const char *what)
{
    if (p->ctx->last_status == DISTILL_E_NOMEM)
        return DISTILL_E_NOMEM;
    return distill__fail(p->ctx, DISTILL_E_BACKEND, "%s: the network's %s callback failed", fn_step, what);
}

static distill_status forward(distill_ppo *p, int64_t n, const float *x)
{
    p->ctx->last_status = DISTILL_OK;
    return p->net.forward(p->net.user, n, x, p->O, p->out, p->A + 1) ? failed(p, "forward") : DISTILL_OK;
}

static distill_status backward(distill_ppo *p)
{
    p->ctx->last_status = DISTILL_OK;
    return p->net.backward(p->net.user, p->dout, p->A + 1) ? failed(p, "backward") : DISTILL_OK;
}

/* ---- the slots: episodes side by side ------------------------------------ */

static distill_status slot_reset(distill_ppo *p, int64_t i)
{
    const uint64_t seed = p->o.seed + (uint64_t)p->next_episode++;
    double *s = p->state + i * DISTILL__TASK_STATE;
    p->ep_t[i] = 0, p->ep_return[i] = 0.0;
    if (!p->env->task)
        return distill_env_reset(p->env, seed, p->cur + i * p->O);
    p->env->task->reset(p->env->param, seed, s);
    p->env->task->observe(s, p->cur + i * p->O);
    return DISTILL_OK;
}

/* Step slot i with action a; *ended when its episode ended (then reset). */
static distill_status slot_step(distill_ppo *p, int64_t i, float a, float *reward, int *ended, double *ret)
{
    int32_t term = 0, trunc = 0;
    float *obs = p->cur + i * p->O;
    if (p->env->task) {
        double *s = p->state + i * DISTILL__TASK_STATE;
        p->env->task->step(s, &a, reward, &term);
        p->env->task->observe(s, obs);
        trunc = p->env->max_steps > 0 && p->ep_t[i] + 1 >= p->env->max_steps;
    } else
        DISTILL__TRY(distill_env_step(p->env, &a, obs, reward, &term, &trunc));
    p->ep_t[i]++, p->ep_return[i] += *reward, p->env_steps++;
    *ended = term || trunc, *ret = p->ep_return[i];
    return *ended ? slot_reset(p, i) : DISTILL_OK;
}

/* log softmax of z (A) into lp, in double. */
static void log_softmax(const double *z, int64_t A, double *lp)
{
    double mx = z[0], s = 0.0;
    int64_t j;
    for (j = 1; j < A; j++)
        mx = z[j] > mx ? z[j] : mx;
    for (j = 0; j < A; j++)
        s += exp((double)z[j] - mx);
    for (j = 0; j < A; j++)
        lp[j] = (double)z[j] - mx - log(s);
}

static int64_t sample(const double *lp, int64_t A, distill__rng *r)
{
    const double u = (double)distill__rng_uniform(r);
    double c = 0.0;
    int64_t j;
    for (j = 0; j < A - 1; j++)
        if (u < (c += exp(lp[j])))
            return j;
    return A - 1;
}

/* envs x steps samples; the iteration's episode statistics into st. */
static distill_status collect(distill_ppo *p, distill_ppo_stats *st)
{
    const int64_t A = p->A, Y = A + 1;
    double lp[DISTILL_BC_MAX_ACTIONS], sum = 0.0;
    distill__rng r;
    int64_t k, i, wins = 0;
    distill__rng_init(&r, p->ctx->seed, distill__rng_derive(p->stream, ACT_PURPOSE, (uint64_t)p->iter, 0), 0);
    for (i = 0; !p->live && i < p->S; i++)
        DISTILL__TRY(slot_reset(p, i));
    p->live = 1;
    for (k = 0; k < p->T; k++) {
        DISTILL__TRY(forward(p, p->S, p->cur));
        DISTILL__TRY(distill__check_finite(p->ctx, fn_step, "the network's outputs", p->out, p->S, Y, Y));
        memcpy(p->obs + k * p->S * p->O, p->cur, sizeof(float) * (size_t)(p->S * p->O));
        for (i = 0; i < p->S; i++) {
            const int64_t row = k * p->S + i;
            double z[DISTILL_BC_MAX_ACTIONS], ret;
            int64_t j;
            int ended;
            for (j = 0; j < A; j++)
                z[j] = p->out[i * Y + j];
            log_softmax(z, A, lp);
            p->act[row] = (float)sample(lp, A, &r);
            p->logp[row] = (float)lp[(int64_t)p->act[row]], p->val[row] = p->out[i * Y + A];
            DISTILL__TRY(slot_step(p, i, p->act[row], &p->rew[row], &ended, &ret));
            p->done[row] = (float)ended;
            if (ended)
                st->episodes++, sum += ret, wins += ret > 0.0;
        }
    }
    st->mean_return = st->episodes ? sum / (double)st->episodes : NAN;
    st->success = st->episodes ? (double)wins / (double)st->episodes : NAN;
    return DISTILL_OK;
}

/* GAE backwards in time per slot, from the value of where each slot is
 * now; then the advantages normalised. */
static distill_status advantages(distill_ppo *p)
{
    const int64_t Y = p->A + 1;
    double mean = 0.0, var = 0.0;
    int64_t k, i, n;
    DISTILL__TRY(forward(p, p->S, p->cur));
    for (i = 0; i < p->S; i++) {
        double next_v = p->out[i * Y + p->A], gae = 0.0;
        for (k = p->T - 1; k >= 0; k--) {
            const int64_t row = k * p->S + i;
            const double live = 1.0 - p->done[row];
            const double delta = p->rew[row] + p->o.gamma * next_v * live - p->val[row];
            gae = delta + p->o.gamma * p->o.lambda * live * gae;
            p->adv[row] = (float)gae, p->ret[row] = (float)(gae + p->val[row]);
            next_v = p->val[row];
        }
    }
    for (n = 0; n < p->N; n++)
        mean += p->adv[n];
    mean /= (double)p->N;
    for (n = 0; n < p->N; n++)
        var += (p->adv[n] - mean) * (p->adv[n] - mean);
    var /= (double)(p->N > 1 ? p->N - 1 : 1);
    for (n = 0; n < p->N; n++)
        p->adv[n] = (float)((p->adv[n] - mean) / (sqrt(var) + 1e-8));
    return DISTILL_OK;
}

double distill__ppo_sample_loss(int64_t A, const double *z, int64_t a, double logp_old, double adv, double ret,
                                double clip, double entropy, double value_coef, double *dz, double stats[4])
{
    double lp[DISTILL_BC_MAX_ACTIONS], ratio, clipped, h = 0.0, dlogp = 0.0, v, loss;
    int64_t j;
    if (A < 1 || A > DISTILL_BC_MAX_ACTIONS || a < 0 || a >= A)
        return NAN;
    log_softmax(z, A, lp);
    ratio = exp(lp[a] - logp_old);
    clipped = ratio < 1.0 - clip ? 1.0 - clip : ratio > 1.0 + clip ? 1.0 + clip : ratio;
    for (j = 0; j < A; j++)
        h -= exp(lp[j]) * lp[j];
    if (ratio * adv <= clipped * adv) /* -min(r A, clip(r) A): the gradient flows where r A is the smaller */
        dlogp = -adv * ratio;
    else
        stats[3] += 1.0;
    v = z[A] - ret;
    loss = -fmin(ratio * adv, clipped * adv) - entropy * h + 0.5 * value_coef * v * v;
    stats[0] -= fmin(ratio * adv, clipped * adv), stats[1] += 0.5 * v * v, stats[2] += h;
    for (j = 0; j < A; j++) { /* d(log p_a)/dz_j = 1[j = a] - p_j; dH/dz_j = -p_j (log p_j + H) */
        const double pj = exp(lp[j]);
        dz[j] = dlogp * ((j == a) - pj) + entropy * pj * (lp[j] + h);
    }
    dz[A] = value_coef * v;
    return loss;
}

/* The minibatch's mean loss gradient in dout; adds its statistics to acc. */
static void minibatch_grad(distill_ppo *p, const int64_t *idx, double acc[4])
{
    const int64_t A = p->A, Y = A + 1, B = p->mb;
    double z[DISTILL_BC_MAX_ACTIONS + 1], dz[DISTILL_BC_MAX_ACTIONS + 1];
    int64_t b, j;
    for (b = 0; b < B; b++) {
        const int64_t n = idx[b];
        for (j = 0; j < Y; j++)
            z[j] = p->out[b * Y + j];
        (void)distill__ppo_sample_loss(A, z, (int64_t)p->act[n], p->logp[n], p->adv[n], p->ret[n],
                                       p->o.clip, p->o.entropy, p->o.value_coef, dz, acc);
        for (j = 0; j < Y; j++)
            p->dout[b * Y + j] = (float)(dz[j] / (double)B);
    }
}

static void save_params(distill_ppo *p)
{
    memcpy(p->saved, p->net.params, sizeof(float) * (size_t)p->net.n_params);
    if (distill_optimizer_get_state(p->opt, p->saved + p->net.n_params, distill_optimizer_state_count(p->opt),
                                    &p->saved_steps) != DISTILL_OK)
        p->saved_steps = -1; /* cannot happen: the count is the optimiser's own */
}

static void restore_params(distill_ppo *p)
{
    memcpy(p->net.params, p->saved, sizeof(float) * (size_t)p->net.n_params);
    if (p->saved_steps >= 0 && distill_optimizer_set_state(p->opt, p->saved + p->net.n_params,
                                                           distill_optimizer_state_count(p->opt),
                                                           p->saved_steps) != DISTILL_OK)
        p->saved_steps = -1;
}

static distill_status update(distill_ppo *p, distill_ppo_stats *st)
{
    const int64_t per = p->o.minibatches;
    double acc[4] = {0.0, 0.0, 0.0, 0.0};
    int64_t e, m, b;
    for (e = 0; e < p->o.epochs; e++) {
        distill__rng_permutation(p->ctx->seed, distill__rng_derive(p->stream, PERM_PURPOSE, (uint64_t)p->iter,
                                                                   (uint64_t)e), p->N, p->perm);
        for (m = 0; m < per; m++) {
            const int64_t *idx = p->perm + m * p->mb;
            distill_status s;
            for (b = 0; b < p->mb; b++)
                memcpy(p->mbx + b * p->O, p->obs + idx[b] * p->O, sizeof(float) * (size_t)p->O);
            DISTILL__TRY(forward(p, p->mb, p->mbx));
            minibatch_grad(p, idx, acc);
            DISTILL__TRY(backward(p));
            if ((s = distill_optimizer_step(p->opt, p->net.params, p->net.grads)) != DISTILL_OK)
                return distill__fail(p->ctx, s, "%s: the gradient is not finite", fn_step);
        }
    }
    st->policy_loss = acc[0] / (double)(p->o.epochs * per * p->mb);
    st->value_loss = acc[1] / (double)(p->o.epochs * per * p->mb);
    st->entropy = acc[2] / (double)(p->o.epochs * per * p->mb);
    st->clip_fraction = acc[3] / (double)(p->o.epochs * per * p->mb);
    return DISTILL_OK;
}

static distill_status iteration(distill_ppo *p, distill_ppo_stats *st)
{
    distill_status s;
    memset(st, 0, sizeof *st);
    st->struct_size = sizeof *st;
    if ((s = collect(p, st)) == DISTILL_OK && (s = advantages(p)) == DISTILL_OK) {
        save_params(p);
        if ((s = update(p, st)) != DISTILL_OK)
            restore_params(p);
    }
    if (s != DISTILL_OK) {
        p->live = 0; /* the episodes start again */
        return s;
    }
    st->env_steps = p->env_steps;
    p->iter++;
    return DISTILL_OK;
}

distill_status distill_ppo_step(distill_ppo *p, distill_ppo_stats *stats)
{
    distill_ppo_stats st;
    size_t size;
    if (!p)
        return DISTILL_E_INVAL;
    if (stats && ((size = distill__struct_size_of(stats)) < sizeof(uint32_t) || size > sizeof st))
        return distill__fail(p->ctx, DISTILL_E_ABI, "%s: stats' struct_size is not one this library knows", fn_step);
    DISTILL__TRY(iteration(p, &st));
    if (stats) {
        st.struct_size = (uint32_t)size;
        memcpy(stats, &st, size);
    }
    return DISTILL_OK;
}

static distill_status run_step(void *solver)
{
    distill_ppo_stats st;
    return iteration(solver, &st);
}

distill_status distill_ppo_run(distill_ppo *p, int64_t until)
{
    if (!p)
        return DISTILL_E_INVAL;
    if (until < 0)
        return distill__fail(p->ctx, DISTILL_E_INVAL, "distill_ppo_run: until must be >= 0, got %lld", (long long)until);
    return distill__run_steps(p->ctx, "ppo", &p->iter, until, run_step, p);
}

/* ---- a distill_model as the network -------------------------------------- */

static int model_forward(void *user, int64_t n, const float *x, int64_t ldx, float *y, int64_t ldy)
{
    return distill_model_forward(user, DISTILL_MODE_TRAIN, n, x, ldx, y, ldy) != DISTILL_OK;
}

static int model_backward(void *user, const float *dy, int64_t lddy)
{
    return distill_model_backward(user, dy, lddy, NULL, 0, DISTILL_BACKWARD_PARAMS) != DISTILL_OK;
}

distill_status distill_ppo_create_model(distill_context *ctx, const distill_ppo_options *opts, distill_env *env,
                                        distill_model *model, distill_ppo **out)
{
    distill_network_vtable v;
    if (!ctx)
        return DISTILL_E_INVAL;
    if (!model)
        return distill__fail(ctx, DISTILL_E_INVAL, "distill_ppo_create_model: model is required");
    memset(&v, 0, sizeof v);
    v.struct_size = sizeof v, v.user = model;
    v.inputs = distill_model_input_dim(model), v.outputs = distill_model_output_dim(model);
    v.n_params = distill_model_param_count(model);
    v.params = distill_model_params(model), v.grads = distill_model_grads(model);
    v.forward = model_forward, v.backward = model_backward;
    return distill_ppo_create(ctx, opts, env, &v, out);
}
