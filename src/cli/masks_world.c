/* distill masks: the CT-graph tasks, the exact path probability, agents. */
#include <math.h>
#include <string.h>

#include "masks.h"

distill_status masks_world_init(masks_world *w, distill_context *ctx, int64_t depth, int64_t seeds)
{
    distill_env_options eo;
    int64_t k, d;
    memset(w, 0, sizeof *w);
    w->ctx = ctx, w->depth = depth, w->n_tasks = seeds << depth, w->steps = 2 * depth;
    distill_env_options_init(&eo);
    eo.task = DISTILL_ENV_CTGRAPH, eo.depth = depth;
    for (k = 0; k < w->n_tasks; k++) {
        float r;
        eo.goal = k % (1 << depth), eo.image_seed = (uint64_t)(k >> depth);
        MASKS_TRY(distill_env_create(ctx, &eo, &w->env[k]));
        MASKS_TRY(distill_env_reset(w->env[k], 0, w->path_obs[k]));
        for (d = 0; d < w->steps; d++) { /* wait, turn, wait, turn, ...: the goal's bits from the root down */
            const int turn = (int)(eo.goal >> (depth - 1 - d / 2) & 1);
            const float a = (float)(w->path_act[k][d] = d % 2 ? 1 + turn : 0);
            if (d + 1 < w->steps)
                MASKS_TRY(distill_env_step(w->env[k], &a, w->path_obs[k] + (d + 1) * 64, &r, NULL, NULL));
        }
    }
    return DISTILL_OK;
}

void masks_world_free(masks_world *w)
{
    int64_t k;
    for (k = 0; k < MASKS_MAX_TASKS; k++)
        distill_env_destroy(w->env[k]);
}

double masks_path_prob(const masks_world *w, int64_t k, masks_forward_fn forward, void *user, int64_t ldy)
{
    float y[6 * 8];
    double p = 1.0;
    int64_t d;
    if (ldy > 8 || forward(user, k, w->steps, w->path_obs[k], y, ldy))
        return NAN;
    for (d = 0; d < w->steps; d++) {
        const float *z = y + d * ldy;
        const double mx = fmax(fmax(z[0], z[1]), z[2]);
        const double s = exp(z[0] - mx) + exp(z[1] - mx) + exp(z[2] - mx);
        p *= exp(z[w->path_act[k][d]] - mx) / s;
    }
    return p;
}

/* ---- agents --------------------------------------------------------------- */

static int net_forward(void *user, int64_t k, int64_t n, const float *x, float *y, int64_t ldy)
{
    return distill_masknet_forward(user, k, n, x, 64, y, ldy) != DISTILL_OK;
}

distill_status masks_agent_init(masks_agent *a, const masks_world *w, const masks_setup *s, uint32_t id,
                                distill_share_send_fn send, void *user)
{
    distill_masknet_options mo;
    distill_lifelong_options lo;
    distill_ppo_options po;
    int64_t k;
    memset(a, 0, sizeof *a);
    distill_masknet_options_init(&mo);
    mo.inputs = 64, mo.outputs = 4, mo.hidden = s->hidden, mo.max_tasks = w->n_tasks, mo.compose = s->compose;
    MASKS_TRY(distill_masknet_create(w->ctx, &mo, &a->net));
    if (send) {
        distill_share_options so;
        distill_share_options_init(&so);
        so.payload = s->payload, so.meta_window = s->window;
        MASKS_TRY(distill_share_create(w->ctx, &so, a->net, id, send, user, &a->share));
    }
    for (k = 0; k < w->n_tasks; k++)
        a->order[k] = (s->first + k) % w->n_tasks, a->to90[k] = -1;
    distill_lifelong_options_init(&lo);
    lo.task_iterations = s->budget, lo.done_return = HUGE_VAL, lo.query_every = 2;
    distill_ppo_options_init(&po);
    po.lr = s->lr;
    {
        distill_env *envs[MASKS_MAX_TASKS];
        for (k = 0; k < w->n_tasks; k++)
            envs[k] = w->env[a->order[k]];
        MASKS_TRY(distill_lifelong_create(w->ctx, &lo, &po, a->net, envs, a->order, w->n_tasks, a->share,
                                                 &a->life));
    }
    return DISTILL_OK;
}

void masks_agent_free(masks_agent *a)
{
    distill_lifelong_destroy(a->life);
    distill_share_destroy(a->share);
    distill_masknet_destroy(a->net);
}

/* The values of the tasks that can have changed: the one in training, and
 * all of them when a peer's mask came in. */
static void refresh(masks_agent *a, const masks_world *w)
{
    distill_share_stats st;
    int64_t k, t = distill_masknet_training_task(a->net);
    int all = 0;
    st.struct_size = sizeof st;
    if (a->share && distill_share_get_stats(a->share, &st) == DISTILL_OK && st.masks_installed != a->installed)
        a->installed = st.masks_installed, all = 1;
    for (k = 0; k < w->n_tasks; k++)
        if (all || k == t || (a->value[k] == 0.0 && distill_masknet_task_learned(a->net, k) == 1))
            a->value[k] = distill_masknet_task_learned(a->net, k) >= 0
                              ? masks_path_prob(w, k, net_forward, a->net, 4) : 0.0;
}

distill_status masks_agent_step(masks_agent *a, const masks_world *w, const masks_setup *s)
{
    distill_ppo_stats st;
    int64_t k, pos = distill_lifelong_position(a->life);
    if (a->done || pos >= w->n_tasks) {
        a->done = 1;
        return DISTILL_OK;
    }
    st.struct_size = sizeof st;
    MASKS_TRY(distill_lifelong_step(a->life, &st));
    a->env_steps = st.env_steps;
    if (distill_lifelong_position(a->life) != pos) { /* skipped or ended by its budget inside the step */
        refresh(a, w);
        a->done = distill_lifelong_position(a->life) >= w->n_tasks;
        return DISTILL_OK;
    }
    k = a->order[pos];
    refresh(a, w);
    /* the knowledge base gets the exact success, not the iteration's noisy return */
    if (a->share)
        MASKS_TRY(distill_share_set_reward(a->share, k, (float)a->value[k]));
    a->in_task[k]++, a->auc[k] += a->value[k];
    if (a->value[k] >= 0.9 && a->to90[k] < 0)
        a->to90[k] = a->in_task[k];
    if (a->value[k] >= s->done)
        MASKS_TRY(distill_lifelong_next(a->life));
    a->done = distill_lifelong_position(a->life) >= w->n_tasks;
    return DISTILL_OK;
}

double masks_agent_total(const masks_agent *a, const masks_world *w)
{
    double t = 0.0;
    int64_t k;
    for (k = 0; k < w->n_tasks; k++)
        t += a->value[k];
    return t;
}
