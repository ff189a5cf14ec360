/* distill masks: the CT-graph tasks, their exact success measure, and the
 * agents (a masknet, its lifelong driver and its sharing agent). */
#ifndef DISTILL_CLI_MASKS_H
#define DISTILL_CLI_MASKS_H

#include "cli.h"

#define MASKS_MAX_TASKS 16
#define MASKS_TRY(expr)                          \
    do {                                         \
        distill_status masks_st_ = (expr);       \
        if (masks_st_ != DISTILL_OK)             \
            return masks_st_;                    \
    } while (0)
#define MASKS_MAX_AGENTS 64

/* Task k of depth D: image seed k / 2^D, goal leaf k % 2^D; its path: the
 * 2D observations along the rewarded route and the actions taken there. */
typedef struct masks_world {
    distill_context *ctx;
    int64_t depth, n_tasks, steps;   /* steps: 2 depth, the path's length */
    distill_env *env[MASKS_MAX_TASKS];
    float path_obs[MASKS_MAX_TASKS][6 * 64];
    int path_act[MASKS_MAX_TASKS][6];
} masks_world;

distill_status masks_world_init(masks_world *w, distill_context *ctx, int64_t depth, int64_t seeds);
void masks_world_free(masks_world *w);

/* The probability that the sampled policy follows task k's path, from
 * forward(user, rows, x, y) giving each path row's outputs (the first 3
 * are the action logits, y rows `ldy` apart).  NaN when forward fails. */
typedef int (*masks_forward_fn)(void *user, int64_t k, int64_t n, const float *x, float *y, int64_t ldy);
double masks_path_prob(const masks_world *w, int64_t k, masks_forward_fn forward, void *user, int64_t ldy);

typedef struct masks_agent {
    distill_masknet *net;
    distill_lifelong *life;
    distill_share *share;            /* NULL: no sharing */
    int64_t order[MASKS_MAX_TASKS];  /* the curriculum: slots in order */
    double value[MASKS_MAX_TASKS];   /* path probability per task, kept current */
    int64_t installed;               /* masks taken from peers when value was last refreshed */
    int64_t to90[MASKS_MAX_TASKS], in_task[MASKS_MAX_TASKS]; /* iterations to 0.9, iterations spent */
    double auc[MASKS_MAX_TASKS];     /* sum of the path probability over the task's iterations */
    int64_t env_steps;
    int done;
} masks_agent;

typedef struct masks_setup {
    int32_t compose, payload;
    int64_t hidden, budget, first;   /* first: the curriculum starts at this task */
    int64_t window;                  /* the sharing agents' META window, in their own iterations */
    double done, lr;
} masks_setup;

/* An agent on w (slots = tasks), its curriculum rotated to start at
 * setup->first; send/user: its transport (send NULL: no sharing). */
distill_status masks_agent_init(masks_agent *a, const masks_world *w, const masks_setup *s, uint32_t id,
                                distill_share_send_fn send, void *user);
void masks_agent_free(masks_agent *a);
/* One PPO iteration of the agent (its task ends at path probability >=
 * setup->done or the budget), then its values refreshed. */
distill_status masks_agent_step(masks_agent *a, const masks_world *w, const masks_setup *s);
/* Sum of the agent's values (its own total return). */
double masks_agent_total(const masks_agent *a, const masks_world *w);

/* --mpi: one agent per rank (masks_mpi.c). */
int cmd_masks_mpi(int argc, char **argv, const masks_setup *s);

#endif /* DISTILL_CLI_MASKS_H */
