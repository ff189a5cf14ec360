/* A lifelong agent: PPO on a masknet through a curriculum, with the
 * sharing agent's knowledge base kept in step. */
#include <math.h>
#include <string.h>

#include "../core/abi.h"
#include "../core/check.h"
#include "internal.h"

struct distill_lifelong {
    distill_context *ctx;
    distill_lifelong_options o;
    distill_ppo_options po;
    distill_masknet *net;
    distill_env **envs;
    int64_t *slots, n, k;        /* the curriculum, the position in it */
    distill_share *share;
    distill_ppo *ppo;
    int64_t in_task, iterations; /* iterations in the current task, in all */
};

static const char fn_create[] = "distill_lifelong_create", fn_step[] = "distill_lifelong_step";

size_t distill_lifelong_options_size(void) { return sizeof(distill_lifelong_options); }

void distill_lifelong_options_init(distill_lifelong_options *o)
{
    if (!o)
        return;
    memset(o, 0, sizeof *o);
    o->struct_size = sizeof *o;
    o->task_iterations = 100;
    o->done_return = 0.9;
    o->query_every = 5;
}

void distill_lifelong_destroy(distill_lifelong *a)
{
    if (!a)
        return;
    distill_ppo_destroy(a->ppo);
    distill__free(a->ctx, a->envs);
    distill__free(a->ctx, a->slots);
    distill__free(a->ctx, a);
}

static distill_status check_curriculum(distill_context *ctx, const distill_masknet *net, distill_env *const *envs,
                                       const int64_t *slots, int64_t n)
{
    int64_t i, j;
    if (!net || !envs || !slots || n < 1 || n > net->T)
        return distill__fail(ctx, DISTILL_E_INVAL, "%s: need a net, and 1 .. max_tasks envs and slots", fn_create);
    for (i = 0; i < n; i++) {
        if (!envs[i] || slots[i] < 0 || slots[i] >= net->T)
            return distill__fail(ctx, DISTILL_E_INVAL, "%s: task %lld has no env or its slot %lld is outside [0, "
                                 "%lld)", fn_create, (long long)i, (long long)slots[i], (long long)net->T);
        distill_space act;
        act.struct_size = sizeof act;
        if (distill_env_obs_dim(envs[i]) != net->o.inputs)
            return distill__fail(ctx, DISTILL_E_SHAPE, "%s: task %lld's env has %lld observations, the net takes "
                                 "%lld", fn_create, (long long)i, (long long)distill_env_obs_dim(envs[i]),
                                 (long long)net->o.inputs);
        DISTILL__TRY(distill_env_action_space(envs[i], &act));
        if (act.kind != DISTILL_SPACE_DISCRETE || act.n + 1 != net->o.outputs)
            return distill__fail(ctx, DISTILL_E_SHAPE, "%s: task %lld's env needs a net of %lld outputs (its "
                                 "discrete actions and the value), the net has %lld", fn_create, (long long)i,
                                 (long long)(act.kind == DISTILL_SPACE_DISCRETE ? act.n + 1 : -1),
                                 (long long)net->o.outputs);
        for (j = 0; j < i; j++)
            if (slots[j] == slots[i])
                return distill__fail(ctx, DISTILL_E_INVAL, "%s: tasks %lld and %lld share slot %lld", fn_create,
                                     (long long)j, (long long)i, (long long)slots[i]);
    }
    return DISTILL_OK;
}

distill_status distill_lifelong_create(distill_context *ctx, const distill_lifelong_options *opts,
                                       const distill_ppo_options *ppo, distill_masknet *net,
                                       distill_env *const *envs, const int64_t *slots, int64_t n_tasks,
                                       distill_share *share, distill_lifelong **out)
{
    distill_lifelong *a;
    distill_status st = DISTILL_OK;
    if (!ctx)
        return DISTILL_E_INVAL;
    DISTILL__TRY(distill__check_out(ctx, fn_create, "out", out));
    *out = NULL;
    DISTILL__TRY(check_curriculum(ctx, net, envs, slots, n_tasks));
    if (!(a = distill__alloc_zero(ctx, 1, sizeof *a)))
        return distill__fail(ctx, DISTILL_E_NOMEM, "%s: out of memory", fn_create);
    a->ctx = ctx, a->net = net, a->share = share, a->n = n_tasks;
    distill_lifelong_options_init(&a->o);
    distill_ppo_options_init(&a->po);
    if (opts)
        st = distill__struct_read(ctx, fn_create, "options", opts, sizeof a->o, sizeof a->o, &a->o);
    if (st == DISTILL_OK && ppo)
        st = distill__struct_read(ctx, fn_create, "PPO options", ppo, sizeof a->po, sizeof a->po, &a->po);
    if (st == DISTILL_OK && (a->o.task_iterations < 1 || isnan(a->o.done_return) || a->o.query_every < 1 ||
                             a->o.reserved != 0))
        st = distill__fail(ctx, DISTILL_E_INVAL, "%s: need task_iterations >= 1, a done_return, query_every >= 1 "
                           "and reserved 0", fn_create);
    if (st == DISTILL_OK) {
        a->envs = distill__alloc_zero(ctx, n_tasks, sizeof *a->envs);
        a->slots = distill__alloc_zero(ctx, n_tasks, sizeof *a->slots);
        if (!a->envs || !a->slots)
            st = distill__fail(ctx, DISTILL_E_NOMEM, "%s: out of memory", fn_create);
    }
    if (st != DISTILL_OK) {
        distill_lifelong_destroy(a);
        return st;
    }
    memcpy(a->envs, envs, sizeof *a->envs * (size_t)n_tasks);
    memcpy(a->slots, slots, sizeof *a->slots * (size_t)n_tasks);
    *out = a;
    return DISTILL_OK;
}

/* Ask the peers for slot t.  Sharing is best effort (a lost message is no
 * error either): a query that could not go out is logged and training goes
 * on, so a step that trained is never reported as failed. */
static void query(distill_lifelong *a, int64_t t)
{
    if (a->share && distill_share_query(a->share, t) != DISTILL_OK)
        distill__log(a->ctx, DISTILL_LOG_WARN, "distill_lifelong_step: the query of task %lld failed (%s); "
                     "training goes on", (long long)t, distill_context_last_error(a->ctx));
}

/* Start the next task not yet learned: its slot in training, PPO on it. */
static distill_status start_task(distill_lifelong *a)
{
    distill_network_vtable v;
    distill_status st;
    while (a->k < a->n && distill_masknet_task_learned(a->net, a->slots[a->k]) == 1)
        a->k++; /* learned already (a peer's mask): nothing to do */
    if (a->k == a->n)
        return DISTILL_OK;
    DISTILL__TRY(distill_masknet_add_task(a->net, a->slots[a->k]));
    st = distill_masknet_network(a->net, &v);
    if (st == DISTILL_OK)
        st = a->ppo ? distill_ppo_retarget(a->ppo, a->envs[a->k], &v)
                    : distill_ppo_create(a->ctx, &a->po, a->envs[a->k], &v, &a->ppo);
    if (st != DISTILL_OK) { /* all or nothing: the task is not started */
        distill__mask_drop_training(a->net);
        return st;
    }
    a->in_task = 0;
    query(a, a->slots[a->k]);
    return DISTILL_OK;
}

distill_status distill_lifelong_step(distill_lifelong *a, distill_ppo_stats *stats)
{
    distill_ppo_stats st;
    size_t size = 0;
    int64_t slot;
    if (!a)
        return DISTILL_E_INVAL;
    if (stats && ((size = distill__struct_size_of(stats)) < sizeof(uint32_t) || size > sizeof st))
        return distill__fail(a->ctx, DISTILL_E_ABI, "%s: stats' struct_size is not one this library knows", fn_step);
    if (a->k < a->n && distill_masknet_training_task(a->net) != a->slots[a->k]) {
        if (distill_masknet_training_task(a->net) >= 0)
            return distill__fail(a->ctx, DISTILL_E_INVAL, "%s: the net trains task %lld, not the curriculum's %lld",
                                 fn_step, (long long)distill_masknet_training_task(a->net),
                                 (long long)a->slots[a->k]);
        DISTILL__TRY(start_task(a));
    }
    if (a->k == a->n)
        return distill__fail(a->ctx, DISTILL_E_INVAL, "%s: the curriculum is done", fn_step);
    slot = a->slots[a->k];
    DISTILL__TRY(distill__progress(a->ctx, "lifelong", a->k * a->o.task_iterations + a->in_task,
                                   a->n * a->o.task_iterations));
    memset(&st, 0, sizeof st);
    st.struct_size = sizeof st;
    DISTILL__TRY(distill_ppo_step(a->ppo, &st));
    a->in_task++, a->iterations++;
    if (a->share && st.episodes > 0)
        DISTILL__TRY(distill_share_set_reward(a->share, slot, (float)st.mean_return));
    if (a->in_task % a->o.query_every == 0)
        query(a, slot);
    if (a->in_task >= a->o.task_iterations || (st.episodes > 0 && st.mean_return >= a->o.done_return)) {
        DISTILL__TRY(distill_masknet_consolidate(a->net));
        a->k++;
    }
    if (stats) {
        st.struct_size = (uint32_t)size;
        memcpy(stats, &st, size);
    }
    return DISTILL_OK;
}

distill_status distill_lifelong_next(distill_lifelong *a)
{
    if (!a)
        return DISTILL_E_INVAL;
    if (a->k >= a->n || distill_masknet_training_task(a->net) != a->slots[a->k])
        return distill__fail(a->ctx, DISTILL_E_INVAL, "distill_lifelong_next: no task is under way");
    DISTILL__TRY(distill_masknet_consolidate(a->net));
    a->k++;
    return DISTILL_OK;
}

int64_t distill_lifelong_position(const distill_lifelong *a) { return a ? a->k : 0; }
int64_t distill_lifelong_iterations(const distill_lifelong *a) { return a ? a->iterations : 0; }
