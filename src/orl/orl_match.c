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
    int discrete;
    int64_t k, lda;
    const float *labels;
} bc_user;

static int bc_loss_cb(void *user, int64_t n, const float *y, int64_t ldy, float *dy, int64_t lddy)
{
    const bc_user *u = user;
    distill__bc_loss_grad(u->kind, u->discrete, n, u->k, y, ldy, u->labels, u->lda, NULL, dy, lddy);
    return 0;
}

/* g (one parameter vector) = dL_BC/dtheta on rows x (n x dim) with actions
 * (n rows, lda). */
static distill_status param_grad(distill_orl *s, const float *x, int64_t n, const float *actions, int64_t lda,
                                 float *g)
{
    const int64_t np = distill_model_param_count(s->net);
    DISTILL__TRY(distill_model_forward(s->net, DISTILL_MODE_TRAIN, n, x, s->dim, s->zb, s->k));
    distill__bc_loss_grad(s->o.loss, s->discrete, n, s->k, s->zb, s->k, actions, lda, NULL, s->dzb, s->k);
    DISTILL__TRY(distill_model_backward(s->net, s->dzb, s->k, NULL, 0, DISTILL_BACKWARD_PARAMS));
    memcpy(g, distill_model_grads(s->net), sizeof(float) * (size_t)np);
    return DISTILL_OK;
}

/* The labels of n rows of bucket b's action (discrete), in s->lab. */
static const float *action_rows(distill_orl *s, int64_t b, int64_t n)
{
    int64_t i;
    for (i = 0; i < n; i++)
        s->lab[i] = (float)b;
    return s->lab;
}

/* The real gradient of bucket b at this step: a batch drawn without
 * replacement from the step's own stream, or the whole bucket. */
static distill_status real_grad(distill_orl *s, int64_t b, float *g)
{
    const int64_t nr = s->real_start[b + 1] - s->real_start[b];
    const int64_t n = s->o.batch == 0 || s->o.batch >= nr ? nr : s->o.batch;
    const int64_t *rows = s->real_idx + s->real_start[b];
    int64_t j;
    if (n < nr) {
        distill__rng r;
        distill__rng_init(&r, s->ctx->seed, distill__rng_derive(s->stream, BATCH_PURPOSE, (uint64_t)s->step,
                                                                (uint64_t)b), 0);
        memcpy(s->pick, rows, sizeof(int64_t) * (size_t)nr);
        for (j = 0; j < n; j++) {
            const int64_t at = j + (int64_t)distill__rng_below(&r, (uint64_t)(nr - j)), t = s->pick[j];
            s->pick[j] = s->pick[at], s->pick[at] = t;
        }
        rows = s->pick;
    }
    if (s->discrete) {
        DISTILL__TRY(distill_dataset_get(s->real, rows, n, s->xb, s->dim, NULL, 0));
        return param_grad(s, s->xb, n, action_rows(s, b, n), 1, g);
    }
    DISTILL__TRY(distill_dataset_get(s->real, rows, n, s->xb, s->dim, s->lab, s->yd));
    return param_grad(s, s->xb, n, s->lab, s->yd, g);
}

/* Variant A on whole buckets: the real gradients never change. */
static distill_status cache_real_grads(distill_orl *s)
{
    const int64_t np = distill_model_param_count(s->net);
    int64_t b;
    for (b = 0; b < s->nb; b++)
        if (s->real_start[b + 1] > s->real_start[b] && s->syn_start[b + 1] > s->syn_start[b])
            DISTILL__TRY(real_grad(s, b, s->gr_cache + b * np));
    s->gr_cached = 1;
    return DISTILL_OK;
}

/* Continuous actions: d/dA <dL/dtheta, v> for the squared error
 * L = sum (f(S) - A)^2 / (n k) is -2 (J v) / (n k), with the Jacobian-
 * vector product J v by central differences in theta (the network is put
 * back exactly). */
static distill_status action_grad(distill_orl *s, const float *sa, int64_t ns, float *dlabels)
{
    const int64_t np = distill_model_param_count(s->net), nbuf = distill_model_buffer_count(s->net);
    float *theta = distill_model_params(s->net), *saved = s->gs;
    double pmax = 0.0, vmax = 0.0, step, scale = -2.0 / ((double)ns * (double)s->k);
    distill_status st;
    int64_t i;
    if (nbuf > 0)
        return distill__fail(s->ctx, DISTILL_E_UNSUPPORTED, "distill_orl_step: learned actions need a network "
                             "without running statistics (batch norm)");
    for (i = 0; i < np; i++) {
        pmax = fabs(theta[i]) > pmax ? fabs(theta[i]) : pmax;
        vmax = fabs(s->v[i]) > vmax ? fabs(s->v[i]) : vmax;
    }
    step = 1e-2 * (pmax + 1e-3) / (vmax + 1e-30);
    memcpy(saved, theta, sizeof(float) * (size_t)np);
    for (i = 0; i < np; i++)
        theta[i] = (float)(saved[i] + step * s->v[i]);
    st = distill_model_forward(s->net, DISTILL_MODE_TRAIN, ns, sa, s->dim, s->zb, s->k);
    for (i = 0; st == DISTILL_OK && i < np; i++)
        theta[i] = (float)(saved[i] - step * s->v[i]);
    if (st == DISTILL_OK)
        st = distill_model_forward(s->net, DISTILL_MODE_TRAIN, ns, sa, s->dim, s->zb2, s->k);
    memcpy(theta, saved, sizeof(float) * (size_t)np);
    for (i = 0; st == DISTILL_OK && i < ns * s->k; i++)
        dlabels[i] = (float)(scale * ((double)s->zb[i] - s->zb2[i]) / (2.0 * step));
    return st;
}

static distill_status bucket(distill_orl *s, int64_t b, double *loss, float *dstates, int64_t ldd, float *dlabels)
{
    const int64_t np = distill_model_param_count(s->net), ns = s->syn_start[b + 1] - s->syn_start[b];
    const float *sa = s->states + s->syn_start[b] * s->dim;
    const float *gr = s->gr_cached ? s->gr_cache + b * np : s->gr;
    bc_user u;
    double l = 0.0;
    int64_t i;
    if (!s->gr_cached)
        DISTILL__TRY(real_grad(s, b, s->gr));
    u.kind = s->o.loss, u.discrete = s->discrete, u.k = s->k;
    u.labels = s->discrete ? action_rows(s, b, ns) : s->labels + s->syn_start[b] * s->ad;
    u.lda = s->discrete ? 1 : s->ad;
    DISTILL__TRY(param_grad(s, sa, ns, u.labels, u.lda, s->gs));
    for (i = 0; i < np; i++) {
        const double d = (double)s->gs[i] - gr[i];
        l += d * d;
        s->v[i] = (float)(2.0 * d);
    }
    *loss += l;
    if (dstates)
        DISTILL__TRY(distill_model_mixed_grad(s->net, DISTILL_MODE_TRAIN, ns, sa, s->dim, bc_loss_cb, &u, s->v, 0.0f,
                                              dstates + s->syn_start[b] * ldd, ldd));
    if (dlabels && !s->discrete)
        DISTILL__TRY(action_grad(s, sa, ns, dlabels + s->syn_start[b] * s->ad));
    return DISTILL_OK;
}

distill_status distill__orl_match(distill_orl *s, double *loss, float *dstates, int64_t ldd, float *dlabels)
{
    double l = 0.0;
    int64_t b;
    if (s->gr_cache && !s->gr_cached)
        DISTILL__TRY(cache_real_grads(s));
    for (b = 0; b < s->nb; b++) {
        if (s->syn_start[b + 1] == s->syn_start[b] || s->real_start[b + 1] == s->real_start[b])
            continue;
        DISTILL__TRY(bucket(s, b, &l, dstates, ldd, dlabels));
    }
    if (!isfinite(l))
        return distill__fail(s->ctx, DISTILL_E_NUMERIC, "distill_orl_step: the matching loss is %g", l);
    if (loss)
        *loss = l;
    return DISTILL_OK;
}
