/* Rollouts: episodes run in slots side by side (built-in tasks) or one at a
 * time (host envs); each finished episode's rows are kept whole, and the
 * trajectory dataset is assembled in episode order at the end. */
#include <math.h>
#include <string.h>

#include "../core/abi.h"
#include "../core/check.h"
#include "../core/rng.h"
#include "distill/rl.h"
#include "internal.h"

#define NOISE_PURPOSE 0x726f6c6cULL /* "roll" */

size_t distill_rollout_options_size(void) { return sizeof(distill_rollout_options); }

void distill_rollout_options_init(distill_rollout_options *o)
{
    if (!o)
        return;
    memset(o, 0, sizeof *o);
    o->struct_size = sizeof *o;
    o->episodes = 10;
    o->lockstep = 64;
}

/* One episode in progress, and the rows it has recorded so far. */
typedef struct slot {
    int64_t episode, t;
    double ret;
    double state[DISTILL__TASK_STATE];
    distill__rng rng;
    float *rows; /* t x row_len, grown by doubling */
    int64_t cap;
} slot;

typedef struct rollout {
    distill_env *env;
    distill_context *ctx;
    distill_rollout_options o;
    distill_act_fn act;
    distill__act_slots_fn act_slots; /* instead of act: told each row's episode and step */
    void *user;
    int64_t *row_ep;    /* per active row: episode, then step (act_slots) */
    int64_t od, ad, row_len, n_slots;
    slot *slots;
    int64_t *active;    /* slot indices with a running episode */
    float *obs, *acts;  /* n_slots x od (one row per slot), n_slots x ad */
    float *batch;       /* active observations, packed */
    float **done_rows;  /* per episode: its rows (when recording) */
    int64_t *done_len;
    double *returns;
    int64_t *lengths;
    int record;
} rollout;

static const char fn[] = "distill_env_rollout";

distill_status distill__rollout_check(distill_context *ctx, const distill_env *env, const distill_rollout_options *o)
{
    int64_t i;
    if (o->episodes < 1 || o->episodes > ((int64_t)1 << 24))
        return distill__fail(ctx, DISTILL_E_INVAL, "%s: episodes must be in [1, 2^24], got %lld", fn,
                             (long long)o->episodes);
    if (!(o->epsilon >= 0.0 && o->epsilon <= 1.0))
        return distill__fail(ctx, DISTILL_E_INVAL, "%s: epsilon must be in [0, 1], got %g", fn, o->epsilon);
    if (!(o->action_noise >= 0.0 && isfinite(o->action_noise)))
        return distill__fail(ctx, DISTILL_E_INVAL, "%s: action_noise must be >= 0 and finite, got %g", fn,
                             o->action_noise);
    if (o->lockstep < 1 || o->lockstep > 4096)
        return distill__fail(ctx, DISTILL_E_INVAL, "%s: lockstep must be in [1, 4096], got %lld", fn,
                             (long long)o->lockstep);
    for (i = 0; o->epsilon > 0 && env->action.kind == DISTILL_SPACE_BOX && i < env->action.n; i++)
        if (!isfinite(env->action.low[i]) || !isfinite(env->action.high[i]))
            return distill__fail(ctx, DISTILL_E_INVAL, "%s: epsilon needs a bounded action box "
                                 "(action %lld is unbounded)", fn, (long long)i);
    return DISTILL_OK;
}

static distill_status setup(rollout *r)
{
    const int64_t e = r->o.episodes;
    r->n_slots = r->env->task ? (r->o.lockstep < e ? r->o.lockstep : e) : 1;
    r->slots = distill__alloc_zero(r->ctx, r->n_slots, sizeof(slot));
    r->active = distill__alloc_zero(r->ctx, r->n_slots, sizeof(int64_t));
    r->obs = distill__alloc_zero(r->ctx, r->n_slots * r->od, sizeof(float));
    r->acts = distill__alloc_zero(r->ctx, r->n_slots * r->ad, sizeof(float));
    r->batch = distill__alloc_zero(r->ctx, r->n_slots * r->od, sizeof(float));
    r->row_ep = distill__alloc_zero(r->ctx, 2 * r->n_slots, sizeof(int64_t));
    r->returns = distill__alloc_zero(r->ctx, e, sizeof(double));
    r->lengths = distill__alloc_zero(r->ctx, e, sizeof(int64_t));
    if (r->record) {
        r->done_rows = distill__alloc_zero(r->ctx, e, sizeof(float *));
        r->done_len = distill__alloc_zero(r->ctx, e, sizeof(int64_t));
    }
    if (!r->slots || !r->active || !r->obs || !r->acts || !r->batch || !r->row_ep || !r->returns || !r->lengths ||
        (r->record && (!r->done_rows || !r->done_len)))
        return distill__fail(r->ctx, DISTILL_E_NOMEM, "%s: out of memory", fn);
    return DISTILL_OK;
}

static void teardown(rollout *r)
{
    int64_t i;
    for (i = 0; r->slots && i < r->n_slots; i++)
        distill__free(r->ctx, r->slots[i].rows);
    for (i = 0; r->done_rows && i < r->o.episodes; i++)
        distill__free(r->ctx, r->done_rows[i]);
    distill__free(r->ctx, r->slots);
    distill__free(r->ctx, r->active);
    distill__free(r->ctx, r->obs);
    distill__free(r->ctx, r->acts);
    distill__free(r->ctx, r->batch);
    distill__free(r->ctx, r->row_ep);
    distill__free(r->ctx, r->returns);
    distill__free(r->ctx, r->lengths);
    distill__free(r->ctx, r->done_rows);
    distill__free(r->ctx, r->done_len);
}

static distill_status slot_start(rollout *r, int64_t i, int64_t episode)
{
    slot *s = &r->slots[i];
    const uint64_t seed = r->o.seed + (uint64_t)episode;
    float *obs = r->obs + i * r->od;
    s->episode = episode, s->t = 0, s->ret = 0.0;
    distill__rng_init(&s->rng, r->o.seed, distill__rng_derive(NOISE_PURPOSE, (uint64_t)episode, 0, 0), 0);
    if (r->env->task) {
        r->env->task->reset(r->env->param, seed, s->state);
        r->env->task->observe(s->state, obs);
        return DISTILL_OK;
    }
    return distill_env_reset(r->env, seed, obs);
}

/* Exploration: epsilon-random actions, then Gaussian noise on box actions. */
static void explore(rollout *r, slot *s, float *a)
{
    const distill_space *sp = &r->env->action;
    int64_t j;
    if (r->o.epsilon > 0 && distill__rng_uniform(&s->rng) < r->o.epsilon) {
        if (sp->kind == DISTILL_SPACE_DISCRETE)
            a[0] = (float)distill__rng_below(&s->rng, (uint64_t)sp->n);
        else
            for (j = 0; j < sp->n; j++)
                a[j] = sp->low[j] + (sp->high[j] - sp->low[j]) * distill__rng_uniform(&s->rng);
    }
    if (sp->kind == DISTILL_SPACE_BOX && r->o.action_noise > 0)
        for (j = 0; j < sp->n; j++) {
            float v = a[j] + (float)r->o.action_noise * distill__rng_normal(&s->rng);
            a[j] = v < sp->low[j] ? sp->low[j] : v > sp->high[j] ? sp->high[j] : v;
        }
}

/* Append (obs, action, reward, done) to the slot's rows. */
static distill_status record(rollout *r, slot *s, const float *obs, const float *a, float reward, int done)
{
    float *row;
    if (s->t >= s->cap) {
        int64_t cap = s->cap ? 2 * s->cap : 64;
        float *grown = distill__alloc_zero(r->ctx, cap * r->row_len, sizeof(float));
        if (!grown)
            return distill__fail(r->ctx, DISTILL_E_NOMEM, "%s: out of memory recording episode %lld", fn,
                                 (long long)s->episode);
        if (s->rows)
            memcpy(grown, s->rows, sizeof(float) * (size_t)(s->t * r->row_len));
        distill__free(r->ctx, s->rows);
        s->rows = grown, s->cap = cap;
    }
    row = s->rows + s->t * r->row_len;
    memcpy(row, obs, sizeof(float) * (size_t)r->od);
    memcpy(row + r->od, a, sizeof(float) * (size_t)r->ad);
    row[r->od + r->ad + DISTILL_TRAJ_REWARD] = reward;
    row[r->od + r->ad + DISTILL_TRAJ_DONE] = (float)done;
    row[r->od + r->ad + DISTILL_TRAJ_EPISODE] = (float)s->episode;
    return DISTILL_OK;
}

/* The episode ended: keep its rows (with returns-to-go) whole. */
static void finish(rollout *r, slot *s)
{
    r->returns[s->episode] = s->ret;
    r->lengths[s->episode] = s->t;
    if (r->record) {
        const int64_t rc = r->od + r->ad + DISTILL_TRAJ_RTG;
        double rtg = 0.0;
        int64_t t;
        for (t = s->t - 1; t >= 0; t--) {
            rtg += s->rows[t * r->row_len + r->od + r->ad + DISTILL_TRAJ_REWARD];
            s->rows[t * r->row_len + rc] = (float)rtg;
        }
        r->done_rows[s->episode] = s->rows, r->done_len[s->episode] = s->t;
        s->rows = NULL, s->cap = 0;
    }
}

/* The policy's action was refused: a backend failure, with the reason
 * (copied first: the message buffer is about to be rewritten). */
static distill_status invalid_action(rollout *r)
{
    char why[DISTILL__ERRLEN];
    memcpy(why, r->ctx->last_error, sizeof why);
    return distill__fail(r->ctx, DISTILL_E_BACKEND, "%s: the policy gave an invalid action (%s)", fn, why);
}

/* One step of slot i with action a. */
static distill_status slot_step(rollout *r, int64_t i, float *a, int *ended)
{
    slot *s = &r->slots[i];
    float *obs = r->obs + i * r->od, reward = 0.0f, before[DISTILL__SPACE_MAX];
    int32_t term = 0, trunc = 0;
    explore(r, s, a);
    if (r->env->task) {
        float clipped[DISTILL__SPACE_MAX];
        if (distill__env_action(r->env, fn, a, clipped) != DISTILL_OK)
            return invalid_action(r);
        memcpy(before, obs, sizeof(float) * (size_t)r->od);
        r->env->task->step(s->state, clipped, &reward, &term);
        r->env->task->observe(s->state, obs);
        trunc = r->env->max_steps > 0 && s->t + 1 >= r->env->max_steps;
        if (r->record)
            DISTILL__TRY(record(r, s, before, clipped, reward, term ? 1 : trunc ? 2 : 0));
    } else {
        float *prev = r->batch; /* one slot: its row is free to keep the observation */
        if (distill__env_action(r->env, fn, a, NULL) != DISTILL_OK)
            return invalid_action(r);
        memcpy(prev, obs, sizeof(float) * (size_t)r->od);
        DISTILL__TRY(distill_env_step(r->env, a, obs, &reward, &term, &trunc));
        if (r->record)
            DISTILL__TRY(record(r, s, prev, a, reward, term ? 1 : trunc ? 2 : 0));
    }
    s->t++, s->ret += reward;
    *ended = term || trunc;
    return DISTILL_OK;
}

static distill_status run(rollout *r)
{
    int64_t next = 0, n_active = 0, finished = 0, k, i;
    for (i = 0; i < r->n_slots; i++, next++) {
        DISTILL__TRY(slot_start(r, i, next));
        r->active[n_active++] = i;
    }
    DISTILL__TRY(distill__progress(r->ctx, "rollout", 0, r->o.episodes));
    while (n_active > 0) {
        if (r->ctx->cancel) /* between steps, not only between episodes */
            return distill__progress(r->ctx, "rollout", finished, r->o.episodes);
        for (k = 0; k < n_active; k++) {
            memcpy(r->batch + k * r->od, r->obs + r->active[k] * r->od, sizeof(float) * (size_t)r->od);
            r->row_ep[k] = r->slots[r->active[k]].episode, r->row_ep[r->n_slots + k] = r->slots[r->active[k]].t;
        }
        if (r->act_slots ? r->act_slots(r->user, n_active, r->batch, r->od, r->acts, r->ad, r->row_ep,
                                        r->row_ep + r->n_slots) != 0
                         : r->act(r->user, n_active, r->batch, r->od, r->acts, r->ad) != 0)
            return distill__fail(r->ctx, DISTILL_E_BACKEND, "%s: the policy's act callback failed", fn);
        for (k = 0; k < n_active; k++) {
            int ended = 0;
            i = r->active[k];
            DISTILL__TRY(slot_step(r, i, r->acts + k * r->ad, &ended));
            if (!ended)
                continue;
            finish(r, &r->slots[i]);
            DISTILL__TRY(distill__progress(r->ctx, "rollout", ++finished, r->o.episodes));
            if (next < r->o.episodes) {
                DISTILL__TRY(slot_start(r, i, next++));
            } else {
                /* actions of the rows after k move down with their slots */
                memmove(r->active + k, r->active + k + 1, sizeof(int64_t) * (size_t)(n_active - k - 1));
                memmove(r->acts + k * r->ad, r->acts + (k + 1) * r->ad,
                        sizeof(float) * (size_t)((n_active - k - 1) * r->ad));
                n_active--, k--;
            }
        }
    }
    return DISTILL_OK;
}

static distill_status assemble(rollout *r, distill_dataset **out)
{
    const int64_t yd = r->ad + DISTILL_TRAJ_EXTRA;
    int64_t rows = 0, e, at = 0;
    float *all;
    distill_status st;
    for (e = 0; e < r->o.episodes; e++)
        rows += r->done_len[e];
    if (!(all = distill__alloc_zero(r->ctx, rows * r->row_len, sizeof(float))))
        return distill__fail(r->ctx, DISTILL_E_NOMEM, "%s: out of memory", fn);
    for (e = 0; e < r->o.episodes; e++) {
        memcpy(all + at * r->row_len, r->done_rows[e], sizeof(float) * (size_t)(r->done_len[e] * r->row_len));
        at += r->done_len[e];
    }
    st = distill_dataset_from_memory(r->ctx, rows, r->od, all, r->row_len, yd, all + r->od, r->row_len,
                                     DISTILL_DATASET_COPY, out);
    distill__free(r->ctx, all);
    return st;
}

static distill_status rollout_main(distill_env *env, const distill_rollout_options *opts, distill_act_fn act,
                                   distill__act_slots_fn act_slots, void *user, double *returns,
                                   int64_t *lengths, distill_dataset **trajectories)
{
    rollout r;
    distill_status st;
    if (!env)
        return DISTILL_E_INVAL;
    memset(&r, 0, sizeof r);
    r.env = env, r.ctx = env->ctx, r.act = act, r.act_slots = act_slots, r.user = user;
    r.record = trajectories != NULL;
    distill_rollout_options_init(&r.o);
    if (opts)
        DISTILL__TRY(distill__struct_read(r.ctx, fn, "options", opts, sizeof r.o, sizeof r.o, &r.o));
    if (!act && !act_slots)
        return distill__fail(r.ctx, DISTILL_E_INVAL, "%s: act is NULL", fn);
    DISTILL__TRY(distill__rollout_check(r.ctx, env, &r.o));
    if (trajectories)
        *trajectories = NULL;
    r.od = env->obs.n, r.ad = distill_env_action_dim(env);
    r.row_len = r.od + r.ad + DISTILL_TRAJ_EXTRA;
    st = setup(&r);
    if (st == DISTILL_OK)
        st = run(&r);
    if (st == DISTILL_OK && r.record)
        st = assemble(&r, trajectories);
    if (st == DISTILL_OK) {
        if (returns)
            memcpy(returns, r.returns, sizeof(double) * (size_t)r.o.episodes);
        if (lengths)
            memcpy(lengths, r.lengths, sizeof(int64_t) * (size_t)r.o.episodes);
    }
    if (!env->task)
        env->live = 0;
    teardown(&r);
    return st;
}

distill_status distill_env_rollout(distill_env *env, const distill_rollout_options *opts, distill_act_fn act,
                                   void *user, double *returns, int64_t *lengths,
                                   distill_dataset **trajectories)
{
    return rollout_main(env, opts, act, NULL, user, returns, lengths, trajectories);
}

distill_status distill__env_rollout_slots(distill_env *env, const distill_rollout_options *opts,
                                          distill__act_slots_fn act, void *user, double *returns,
                                          int64_t *lengths, distill_dataset **trajectories)
{
    return rollout_main(env, opts, NULL, act, user, returns, lengths, trajectories);
}
