/* Gradient matching of the BC loss.  For each action bucket a, with g_s
 * and g_r the BC loss's parameter gradients on the bucket's synthetic
 * states and on a batch of real states of action a:
 *     L = sum_a ||g_s - g_r||^2,
 *     dL/dS_a = d/dS_a < g_s(S_a), v >,  v = 2 (g_s - g_r)   (g_r fixed),
 * the mixed second derivative, from the learning layer's
 * distill_model_mixed_grad. */
#include <math.h>
#include <string.h>

#include "../core/rng.h"
#include "../rl/bc.h"
#include "orl_internal.h"

#define NET_PURPOSE 0x6f726c6eULL   /* "orln" */
#define BATCH_PURPOSE 0x6f726c62ULL /* "orlb" */

distill_status distill__orl_network_for(distill_orl *s, int64_t step)
{
    if (s->o.variant == DISTILL_ORL_REINIT)
        return distill_model_reinit(s->net, distill__rng_derive(s->stream, NET_PURPOSE, (uint64_t)step, 0));
    return DISTILL_OK; /* fixed, or the student as trained */
}

distill_status distill__orl_first_network(distill_orl *s)
{
    s->gr_cached = 0;
    return distill_model_reinit(s->net, distill__rng_derive(s->stream, NET_PURPOSE, 0, 1));
}

typedef struct bc_user {
    int32_t kind;
    int64_t k;
    const float *labels;
} bc_user;

static int bc_loss_cb(void *user, int64_t n, const float *y, int64_t ldy, float *dy, int64_t lddy)
{
    const bc_user *u = user;
    distill__bc_loss_grad(u->kind, 1, n, u->k, y, ldy, u->labels, 1, NULL, dy, lddy);
    return 0;
}

/* g (one parameter vector) = dL_BC/dtheta on rows x (n x dim), all of action a. */
static distill_status param_grad(distill_orl *s, const float *x, int64_t n, int64_t a, float *g)
{
    const int64_t np = distill_model_param_count(s->net);
    int64_t i;
    for (i = 0; i < n; i++)
        s->lab[i] = (float)a;
    DISTILL__TRY(distill_model_forward(s->net, DISTILL_MODE_TRAIN, n, x, s->dim, s->zb, s->k));
    distill__bc_loss_grad(s->o.loss, 1, n, s->k, s->zb, s->k, s->lab, 1, NULL, s->dzb, s->k);
    DISTILL__TRY(distill_model_backward(s->net, s->dzb, s->k, NULL, 0, DISTILL_BACKWARD_PARAMS));
    memcpy(g, distill_model_grads(s->net), sizeof(float) * (size_t)np);
    return DISTILL_OK;
}

/* The real gradient of bucket a at this step: a batch drawn without
 * replacement from the step's own stream, or the whole bucket. */
static distill_status real_grad(distill_orl *s, int64_t a, float *g)
{
    const int64_t nr = s->real_start[a + 1] - s->real_start[a];
    const int64_t b = s->o.batch == 0 || s->o.batch >= nr ? nr : s->o.batch;
    const int64_t *rows = s->real_idx + s->real_start[a];
    int64_t j;
    if (b < nr) {
        distill__rng r;
        distill__rng_init(&r, s->ctx->seed, distill__rng_derive(s->stream, BATCH_PURPOSE, (uint64_t)s->step,
                                                                (uint64_t)a), 0);
        memcpy(s->pick, rows, sizeof(int64_t) * (size_t)nr);
        for (j = 0; j < b; j++) {
            const int64_t at = j + (int64_t)distill__rng_below(&r, (uint64_t)(nr - j)), t = s->pick[j];
            s->pick[j] = s->pick[at], s->pick[at] = t;
        }
        rows = s->pick;
    }
    DISTILL__TRY(distill_dataset_get(s->real, rows, b, s->xb, s->dim, NULL, 0));
    return param_grad(s, s->xb, b, a, g);
}

/* Variant A on whole buckets: the real gradients never change. */
static distill_status cache_real_grads(distill_orl *s)
{
    const int64_t np = distill_model_param_count(s->net);
    int64_t a;
    for (a = 0; a < s->k; a++)
        if (s->real_start[a + 1] > s->real_start[a] && s->syn_start[a + 1] > s->syn_start[a])
            DISTILL__TRY(real_grad(s, a, s->gr_cache + a * np));
    s->gr_cached = 1;
    return DISTILL_OK;
}

static distill_status bucket(distill_orl *s, int64_t a, double *loss, float *dstates, int64_t ldd)
{
    const int64_t np = distill_model_param_count(s->net), ns = s->syn_start[a + 1] - s->syn_start[a];
    const float *sa = s->states + s->syn_start[a] * s->dim;
    const float *gr = s->gr_cached ? s->gr_cache + a * np : s->gr;
    bc_user u;
    double l = 0.0;
    int64_t i;
    if (!s->gr_cached)
        DISTILL__TRY(real_grad(s, a, s->gr));
    DISTILL__TRY(param_grad(s, sa, ns, a, s->gs));
    for (i = 0; i < np; i++) {
        const double d = (double)s->gs[i] - gr[i];
        l += d * d;
        s->v[i] = (float)(2.0 * d);
    }
    *loss += l;
    if (!dstates)
        return DISTILL_OK;
    for (i = 0; i < ns; i++)
        s->lab[i] = (float)a;
    u.kind = s->o.loss, u.k = s->k, u.labels = s->lab;
    return distill_model_mixed_grad(s->net, DISTILL_MODE_TRAIN, ns, sa, s->dim, bc_loss_cb, &u, s->v, 0.0f,
                                    dstates + s->syn_start[a] * ldd, ldd);
}

distill_status distill__orl_match(distill_orl *s, double *loss, float *dstates, int64_t ldd)
{
    double l = 0.0;
    int64_t a;
    if (s->gr_cache && !s->gr_cached)
        DISTILL__TRY(cache_real_grads(s));
    for (a = 0; a < s->k; a++) {
        if (s->syn_start[a + 1] == s->syn_start[a] || s->real_start[a + 1] == s->real_start[a])
            continue;
        DISTILL__TRY(bucket(s, a, &l, dstates, ldd));
    }
    if (!isfinite(l))
        return distill__fail(s->ctx, DISTILL_E_NUMERIC, "distill_orl_step: the matching loss is %g", l);
    if (loss)
        *loss = l;
    return DISTILL_OK;
}
