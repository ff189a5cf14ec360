/* The deployable policy: construction, the real-time act, evaluation. */
#include <math.h>
#include <string.h>

#include "../core/abi.h"
#include "../core/check.h"
#include "../core/rng.h"
#include "../core/workspace.h"
#include "../nn/internal.h"
#include "../rl/internal.h"
#include "internal.h"

#define SAMPLE_STREAM 0x706f6c6963ULL /* "polic" */

static distill_status check_space(distill_context *ctx, const char *fn, const distill_space *in,
                                  int64_t out_dim, distill_space *s)
{
    int64_t i;
    if (!in)
        return distill__fail(ctx, DISTILL_E_INVAL, "%s: the action space is NULL", fn);
    DISTILL__TRY(distill__struct_read(ctx, fn, "action space", in, sizeof *s, sizeof *s, s));
    if (s->kind != DISTILL_SPACE_DISCRETE && s->kind != DISTILL_SPACE_BOX)
        return distill__fail(ctx, DISTILL_E_INVAL, "%s: action space kind %d is neither "
                             "DISTILL_SPACE_DISCRETE nor DISTILL_SPACE_BOX", fn, (int)s->kind);
    if (s->n != out_dim)
        return distill__fail(ctx, DISTILL_E_SHAPE, "%s: the action space has n = %lld, the network %lld "
                             "outputs", fn, (long long)s->n, (long long)out_dim);
    for (i = 0; s->kind == DISTILL_SPACE_BOX && i < s->n; i++) {
        float lo = s->low ? s->low[i] : -INFINITY, hi = s->high ? s->high[i] : INFINITY;
        if (isnan(lo) || isnan(hi) || lo > hi)
            return distill__fail(ctx, DISTILL_E_INVAL, "%s: action bounds at %lld are [%g, %g]", fn,
                                 (long long)i, (double)lo, (double)hi);
    }
    return DISTILL_OK;
}

distill_status distill__policy_make(distill_context *ctx, const char *fn, distill_model *model,
                                    const distill_space *action, int32_t mode, float temperature,
                                    distill_policy **out)
{
    distill_policy *p = NULL;
    distill_space s;
    distill_status st;
    int64_t i, n;
    st = check_space(ctx, fn, action, distill_model_output_dim(model), &s);
    if (st == DISTILL_OK && mode != DISTILL_POLICY_GREEDY &&
        (mode != DISTILL_POLICY_SAMPLE || s.kind != DISTILL_SPACE_DISCRETE))
        st = distill__fail(ctx, DISTILL_E_INVAL, "%s: mode %d is not DISTILL_POLICY_GREEDY%s", fn, (int)mode,
                           s.kind == DISTILL_SPACE_DISCRETE ? " or DISTILL_POLICY_SAMPLE" : " (a box)");
    if (st == DISTILL_OK && !(temperature > 0.0f && isfinite(temperature)))
        st = distill__fail(ctx, DISTILL_E_INVAL, "%s: temperature must be > 0 and finite, got %g", fn,
                           (double)temperature);
    if (st == DISTILL_OK) {
        p = distill__alloc_zero(ctx, 1, sizeof *p);
        if (!p)
            st = distill__fail(ctx, DISTILL_E_NOMEM, "%s: out of memory", fn);
    }
    if (!p) {
        distill_model_destroy(model);
        return st;
    }
    p->ctx = ctx, p->kind = DISTILL_POLICY_NETWORK, p->mode = mode, p->temperature = temperature;
    p->model = model, p->obs_dim = distill_model_input_dim(model), p->out_dim = s.n;
    p->action = s;
    p->action.struct_size = sizeof p->action;
    p->action.low = p->action.high = NULL;
    if (s.kind == DISTILL_SPACE_BOX) {
        n = s.n;
        if (!(p->bounds = distill__alloc(ctx, sizeof(float) * (size_t)(2 * n)))) {
            distill_policy_destroy(p);
            return distill__fail(ctx, DISTILL_E_NOMEM, "%s: out of memory", fn);
        }
        for (i = 0; i < n; i++) {
            p->bounds[i] = s.low ? s.low[i] : -INFINITY;
            p->bounds[n + i] = s.high ? s.high[i] : INFINITY;
        }
        p->action.low = p->bounds, p->action.high = p->bounds + n;
    }
    *out = p;
    return DISTILL_OK;
}

distill_status distill_policy_from_model(distill_context *ctx, const distill_model *model,
                                         const distill_space *action, int32_t mode, float temperature,
                                         distill_policy **out)
{
    static const char fn[] = "distill_policy_from_model";
    distill_model *copy;
    if (!ctx)
        return DISTILL_E_INVAL;
    DISTILL__TRY(distill__check_out(ctx, fn, "out", out));
    *out = NULL;
    if (!model)
        return distill__fail(ctx, DISTILL_E_INVAL, "%s: model is NULL", fn);
    if (model->ctx != ctx)
        return distill__fail(ctx, DISTILL_E_INVAL, "%s: the model belongs to another context", fn);
    DISTILL__TRY(distill_model_clone(model, &copy));
    return distill__policy_make(ctx, fn, copy, action, mode, temperature, out);
}

void distill_policy_destroy(distill_policy *p)
{
    if (!p)
        return;
    distill_model_destroy(p->model);
    distill_model_destroy(p->gating);
    distill__frozen_free(p->frozen);
    distill__frozen_free(p->frozen_gating);
    distill__free(p->ctx, p->bounds);
    distill__free(p->ctx, p);
}

int32_t distill_policy_kind(const distill_policy *p) { return p ? p->kind : 0; }
int64_t distill_policy_obs_dim(const distill_policy *p) { return p ? p->obs_dim : 0; }
int64_t distill_policy_action_dim(const distill_policy *p)
{
    return !p ? 0 : p->action.kind == DISTILL_SPACE_DISCRETE ? 1 : p->action.n;
}

distill_status distill_policy_action_space(const distill_policy *p, distill_space *out)
{
    if (!p)
        return DISTILL_E_INVAL;
    if (!out || distill__struct_size_of(out) < sizeof *out)
        return distill__fail(p->ctx, DISTILL_E_INVAL, "distill_policy_action_space: out is NULL or its "
                             "struct_size is not distill_space_size()");
    *out = p->action;
    return DISTILL_OK;
}

/* The workspace: the network's outputs, then the network's own. */
static void act_layout(int64_t n, int64_t out_dim, size_t model_bytes, distill__arena *ar, float **logits,
                       void **model_ws)
{
    *logits = distill__arena_take(ar, n * out_dim, sizeof(float));
    *model_ws = distill__arena_take(ar, (int64_t)model_bytes, 1);
}

distill_status distill_policy_workspace_size(const distill_policy *p, int64_t max_batch, size_t *bytes)
{
    distill__arena ar;
    size_t model_bytes;
    float *logits;
    void *mws;
    if (!p || !bytes || max_batch < 1)
        return DISTILL_E_INVAL;
    if (p->kind == DISTILL_POLICY_MOE)
        return distill__moe_workspace_size(p, max_batch, bytes);
    DISTILL__TRY(distill_model_workspace_size(p->model, max_batch, &model_bytes));
    distill__arena_init(&ar, NULL);
    act_layout(max_batch, p->out_dim, model_bytes, &ar, &logits, &mws);
    return distill__arena_total(&ar, bytes);
}

static int64_t argmax(const float *z, int64_t n)
{
    int64_t j, best = 0;
    for (j = 1; j < n; j++)
        if (z[j] > z[best])
            best = j;
    return best;
}

/* A draw from softmax(z / t) with the uniform u in [0, 1). */
static int64_t sample(const float *z, int64_t n, float t, float u)
{
    const float zmax = z[argmax(z, n)];
    double total = 0.0, acc = 0.0;
    int64_t j;
    for (j = 0; j < n; j++)
        total += exp((double)(z[j] - zmax) / t);
    for (j = 0; j < n; j++) {
        acc += exp((double)(z[j] - zmax) / t);
        if ((double)u * total < acc)
            return j;
    }
    return n - 1;
}

static float squash(float y, float lo, float hi)
{
    if (!isfinite(lo) || !isfinite(hi))
        return y;
    return 0.5f * (lo + hi) + 0.5f * (hi - lo) * tanhf(y);
}

distill_status distill_policy_act(const distill_policy *p, void *ws, size_t ws_bytes, int64_t n,
                                  const float *obs, int64_t ldobs, float *actions, int64_t ldact,
                                  uint64_t *rng_state)
{
    distill__arena ar;
    size_t need, model_bytes;
    float *logits;
    void *mws;
    int64_t i, j;
    if (!p || !ws || !obs || !actions || n < 1 || (p->mode != DISTILL_POLICY_GREEDY && !rng_state))
        return DISTILL_E_INVAL;
    if (ldobs < p->obs_dim || ldact < distill_policy_action_dim(p))
        return DISTILL_E_SHAPE;
    if (p->kind == DISTILL_POLICY_MOE)
        return distill__moe_act(p, ws, ws_bytes, n, obs, ldobs, actions, ldact, rng_state, NULL, NULL, NULL);
    if (distill_model_workspace_size(p->model, n, &model_bytes) != DISTILL_OK)
        return DISTILL_E_INVAL;
    distill__arena_init(&ar, NULL);
    act_layout(n, p->out_dim, model_bytes, &ar, &logits, &mws);
    if (distill__arena_total(&ar, &need) != DISTILL_OK || ws_bytes < need)
        return DISTILL_E_WORKSPACE;
    distill__arena_init(&ar, ws);
    act_layout(n, p->out_dim, model_bytes, &ar, &logits, &mws);
    DISTILL__TRY(distill_model_infer_checked(p->model, mws, model_bytes, n, obs, ldobs, logits, p->out_dim));
    for (i = 0; i < n; i++) {
        const float *z = logits + i * p->out_dim;
        float *a = actions + i * ldact;
        if (p->action.kind == DISTILL_SPACE_BOX) {
            for (j = 0; j < p->out_dim; j++)
                a[j] = squash(z[j], p->action.low[j], p->action.high[j]);
        } else if (p->mode == DISTILL_POLICY_GREEDY) {
            a[0] = (float)argmax(z, p->out_dim);
        } else {
            uint32_t w = distill__rng_word(0, SAMPLE_STREAM, *rng_state + (uint64_t)i);
            a[0] = (float)sample(z, p->out_dim, p->temperature, (float)(w >> 8) * (1.0f / 16777216.0f));
        }
    }
    if (p->mode == DISTILL_POLICY_SAMPLE)
        *rng_state += (uint64_t)n;
    return DISTILL_OK;
}

/* ---- evaluation --------------------------------------------------------- */

typedef struct eval_user {
    const distill_policy *p;
    void *ws;
    size_t bytes;
    uint64_t rng;
    int32_t *committed; /* COMMITTED: per episode its expert (-1: draw), then the rows' experts */
    int64_t episodes;
} eval_user;

/* A committed mixture: each episode keeps its expert, redrawn at the
 * episode's start and every commit_steps steps. */
static int eval_act_committed(void *user, int64_t n, const float *obs, int64_t ldobs, float *actions,
                              int64_t ldact, const int64_t *episode, const int64_t *step)
{
    eval_user *u = user;
    int32_t *rows = u->committed + u->episodes;
    int64_t i;
    for (i = 0; i < n; i++) {
        const int fresh = step[i] == 0 || (u->p->commit_steps > 0 && step[i] % u->p->commit_steps == 0);
        rows[i] = fresh ? -1 : u->committed[episode[i]];
    }
    if (distill_policy_act_ex(u->p, u->ws, u->bytes, n, obs, ldobs, actions, ldact, &u->rng, rows, NULL) !=
        DISTILL_OK)
        return 1;
    for (i = 0; i < n; i++)
        u->committed[episode[i]] = rows[i];
    return 0;
}

static int eval_act(void *user, int64_t n, const float *obs, int64_t ldobs, float *actions, int64_t ldact)
{
    eval_user *u = user;
    return distill_policy_act(u->p, u->ws, u->bytes, n, obs, ldobs, actions, ldact, &u->rng) != DISTILL_OK;
}

distill_status distill_policy_evaluate(const distill_policy *p, distill_env *env,
                                       const distill_rollout_options *opts, double *returns, int64_t *lengths,
                                       distill_dataset **trajectories)
{
    static const char fn[] = "distill_policy_evaluate";
    distill_rollout_options o;
    eval_user u;
    distill_status st;
    if (!p)
        return DISTILL_E_INVAL;
    if (!env)
        return distill__fail(p->ctx, DISTILL_E_INVAL, "%s: env is NULL", fn);
    if (distill_env_obs_dim(env) != p->obs_dim || distill_env_action_dim(env) != distill_policy_action_dim(p))
        return distill__fail(p->ctx, DISTILL_E_SHAPE, "%s: the env has %lld observations and %lld action "
                             "floats, the policy %lld and %lld", fn, (long long)distill_env_obs_dim(env),
                             (long long)distill_env_action_dim(env), (long long)p->obs_dim,
                             (long long)distill_policy_action_dim(p));
    distill_rollout_options_init(&o);
    if (opts)
        DISTILL__TRY(distill__struct_read(p->ctx, fn, "options", opts, sizeof o, sizeof o, &o));
    DISTILL__TRY(distill__rollout_check(p->ctx, env, &o)); /* lockstep sizes the workspace */
    u.p = p, u.rng = o.seed * 0x9e3779b97f4a7c15ULL; /* every bit of the seed moves the counter */
    DISTILL__TRY(distill_policy_workspace_size(p, o.lockstep, &u.bytes));
    u.episodes = o.episodes, u.committed = NULL;
    if (!(u.ws = distill__alloc(p->ctx, u.bytes)) ||
        (p->mode == DISTILL_POLICY_COMMITTED &&
         !(u.committed = distill__alloc_zero(p->ctx, o.episodes + o.lockstep, sizeof(int32_t))))) {
        distill__free(p->ctx, u.ws);
        return distill__fail(p->ctx, DISTILL_E_NOMEM, "%s: out of memory", fn);
    }
    if (u.committed)
        st = distill__env_rollout_slots(env, &o, eval_act_committed, &u, returns, lengths, trajectories);
    else
        st = distill_env_rollout(env, &o, eval_act, &u, returns, lengths, trajectories);
    distill__free(p->ctx, u.ws);
    distill__free(p->ctx, u.committed);
    return st;
}

/* ---- mixtures ----------------------------------------------------------- */

int64_t distill_policy_n_experts(const distill_policy *p)
{
    return p && p->kind == DISTILL_POLICY_MOE ? p->moe.K : 0;
}

int32_t distill_policy_mode(const distill_policy *p) { return p ? p->mode : -1; }

distill_status distill_policy_set_mode(distill_policy *p, int32_t mode, int64_t commit_steps)
{
    static const char fn[] = "distill_policy_set_mode";
    if (!p)
        return DISTILL_E_INVAL;
    if (p->kind != DISTILL_POLICY_MOE)
        return distill__fail(p->ctx, DISTILL_E_UNSUPPORTED, "%s: only a mixture of experts changes its mode", fn);
    if (mode != DISTILL_POLICY_GREEDY && mode != DISTILL_POLICY_SAMPLE && mode != DISTILL_POLICY_COMMITTED)
        return distill__fail(p->ctx, DISTILL_E_INVAL, "%s: mode %d is not DISTILL_POLICY_GREEDY, _SAMPLE or "
                             "_COMMITTED", fn, (int)mode);
    if (commit_steps < 0)
        return distill__fail(p->ctx, DISTILL_E_INVAL, "%s: commit_steps must be >= 0, got %lld", fn,
                             (long long)commit_steps);
    p->mode = mode, p->commit_steps = commit_steps;
    return DISTILL_OK;
}

distill_status distill_policy_act_ex(const distill_policy *p, void *ws, size_t ws_bytes, int64_t n,
                                     const float *obs, int64_t ldobs, float *actions, int64_t ldact,
                                     uint64_t *rng_state, int32_t *experts, float *log_q)
{
    if (!p)
        return DISTILL_E_INVAL;
    if (p->kind != DISTILL_POLICY_MOE)
        return experts || log_q ? DISTILL_E_UNSUPPORTED
                                : distill_policy_act(p, ws, ws_bytes, n, obs, ldobs, actions, ldact, rng_state);
    if (!ws || !obs || !actions || n < 1 || (p->mode != DISTILL_POLICY_GREEDY && !rng_state))
        return DISTILL_E_INVAL;
    if (ldobs < p->obs_dim || ldact < p->moe.A)
        return DISTILL_E_SHAPE;
    return distill__moe_act(p, ws, ws_bytes, n, obs, ldobs, actions, ldact, rng_state, experts, log_q, NULL);
}

distill_status distill_policy_log_prob(const distill_policy *p, void *ws, size_t ws_bytes, int64_t n,
                                       const float *obs, int64_t ldobs, const float *actions, int64_t ldact,
                                       float *log_q)
{
    int64_t i, j;
    if (!p || !ws || !obs || !actions || !log_q || n < 1)
        return DISTILL_E_INVAL;
    if (p->kind != DISTILL_POLICY_MOE)
        return DISTILL_E_UNSUPPORTED;
    if (ldobs < p->obs_dim || ldact < p->moe.A)
        return DISTILL_E_SHAPE;
    for (i = 0; i < n; i++)
        for (j = 0; j < p->moe.A; j++)
            if (!isfinite(actions[i * ldact + j]))
                return DISTILL_E_NUMERIC;
    return distill__moe_act(p, ws, ws_bytes, n, obs, ldobs, NULL, ldact, NULL, NULL, log_q, actions);
}
