/* The mixture-of-experts kind of distill_policy: its construction and its
 * real-time act (the contract of src/nn/infer.c: the caller's workspace,
 * no allocation, no lock, no message). */
#include <math.h>
#include <string.h>

#include "../core/rng.h"
#include "../core/workspace.h"
#include "internal.h"

#define EXPERT_STREAM 0x6d6f65ULL /* "moe" */

/* The experts' rows, the gating logits, one network workspace (the two
 * networks run in turn: frozen, one row's scratch), then one row's
 * doubles: the row, one expert's L, a solve, the log gate, the log
 * densities and the action. */
typedef struct moe_ws {
    float *out, *z;
    void *net_ws;
    double *row, *L, *y, *logg, *lp, *a;
} moe_ws;

static void layout(const distill_policy *p, int64_t n, size_t net_bytes, distill__arena *ar, moe_ws *w)
{
    const distill__moe *m = &p->moe;
    w->out = distill__arena_take(ar, n * distill__moe_row(m), sizeof(float));
    w->z = distill__arena_take(ar, n * m->K, sizeof(float));
    w->net_ws = distill__arena_take(ar, (int64_t)net_bytes, 1);
    w->row = distill__arena_take(ar, distill__moe_row(m), sizeof(double));
    w->L = distill__arena_take(ar, m->A * m->A, sizeof(double));
    w->y = distill__arena_take(ar, m->A, sizeof(double));
    w->logg = distill__arena_take(ar, m->K, sizeof(double));
    w->lp = distill__arena_take(ar, m->K, sizeof(double));
    w->a = distill__arena_take(ar, m->A, sizeof(double));
}

static distill_status net_bytes_for(const distill_policy *p, int64_t n, size_t *bytes)
{
    size_t e, g = 0;
    if (p->frozen) { /* both networks frozen, or neither; the batch cap is the models' */
        const int64_t se = distill__frozen_scratch(p->frozen);
        const int64_t sg = p->frozen_gating ? distill__frozen_scratch(p->frozen_gating) : 0;
        if (n < 1 || n > ((int64_t)1 << 32))
            return DISTILL_E_INVAL;
        *bytes = sizeof(float) * (size_t)(se > sg ? se : sg);
        return DISTILL_OK;
    }
    DISTILL__TRY(distill_model_workspace_size(p->model, n, &e));
    if (p->gating)
        DISTILL__TRY(distill_model_workspace_size(p->gating, n, &g));
    *bytes = e > g ? e : g;
    return DISTILL_OK;
}

distill_status distill__moe_workspace_size(const distill_policy *p, int64_t max_batch, size_t *bytes)
{
    distill__arena ar;
    moe_ws w;
    size_t nb;
    DISTILL__TRY(net_bytes_for(p, max_batch, &nb));
    distill__arena_init(&ar, NULL);
    layout(p, max_batch, nb, &ar, &w);
    return distill__arena_total(&ar, bytes);
}

/* The committed expert is kept while the gating still gives it at least
 * this share of its largest weight: experts specialise by region as well as
 * by mode, and one the gating has left behind acts badly there. */
#define COMMIT_KEEP_RATIO 0.1

static int64_t pick_expert(const distill_policy *p, const double *logg, uint32_t word, int32_t keep)
{
    const int64_t K = p->moe.K;
    double u = (double)(word >> 8) * (1.0 / 16777216.0), acc = 0.0;
    int64_t k, best = 0;
    for (k = 1; k < K; k++)
        if (logg[k] > logg[best])
            best = k;
    if (p->mode == DISTILL_POLICY_COMMITTED && keep >= 0 && keep < K &&
        logg[keep] >= logg[best] + log(COMMIT_KEEP_RATIO))
        return keep;
    if (p->mode == DISTILL_POLICY_GREEDY)
        return best;
    for (k = 0; k < K; k++) {
        acc += exp(logg[k]);
        if (u < acc)
            return k;
    }
    return K - 1;
}

/* One row: the expert, the action (or the given one) and its log q. */
static void act_row(const distill_policy *p, const moe_ws *w, const float *out, const float *z, uint32_t word,
                    int32_t *expert, float *action, const float *given, float *log_q)
{
    const distill__moe *m = &p->moe;
    const int64_t A = m->A, R = distill__moe_row(m);
    int64_t j, k;
    for (j = 0; j < R; j++)
        w->row[j] = out[j];
    distill__moe_log_gate(m->K, z, w->logg);
    k = given ? 0 : pick_expert(p, w->logg, word, expert ? *expert : -1);
    for (j = 0; j < A; j++) {
        double v = given ? (double)given[j] : w->row[k * A + j];
        if (!given && p->bounds)
            v = v < p->bounds[j] ? p->bounds[j] : v > p->bounds[A + j] ? p->bounds[A + j] : v;
        w->a[j] = v;
        if (action)
            action[j] = (float)v;
    }
    if (expert && !given)
        *expert = (int32_t)k;
    if (!log_q)
        return;
    for (k = 0; k < m->K; k++) {
        distill__moe_chol(m, w->row, k, w->L);
        w->lp[k] = w->logg[k] + distill__moe_logpdf(A, w->a, w->row + k * A, w->L, w->y);
    }
    *log_q = (float)distill__logsumexp(w->lp, m->K);
}

/* The experts' rows and the gating's logits of n observations. */
static distill_status networks(const distill_policy *p, const moe_ws *w, size_t nb, int64_t n, const float *obs,
                               int64_t ldobs)
{
    const int64_t R = distill__moe_row(&p->moe), K = p->moe.K;
    int64_t i;
    if (!p->frozen) {
        DISTILL__TRY(distill_model_infer_checked(p->model, w->net_ws, nb, n, obs, ldobs, w->out, R));
        return p->gating ? distill_model_infer_checked(p->gating, w->net_ws, nb, n, obs, ldobs, w->z, K) : DISTILL_OK;
    }
    for (i = 0; i < n; i++) {
        DISTILL__TRY(distill__frozen_row(p->frozen, obs + i * ldobs, w->out + i * R, w->net_ws));
        if (p->frozen_gating)
            DISTILL__TRY(distill__frozen_row(p->frozen_gating, obs + i * ldobs, w->z + i * K, w->net_ws));
    }
    return DISTILL_OK;
}

distill_status distill__moe_act(const distill_policy *p, void *ws, size_t ws_bytes, int64_t n, const float *obs,
                                int64_t ldobs, float *actions, int64_t ldact, uint64_t *rng_state,
                                int32_t *experts, float *log_q, const float *given)
{
    const int64_t R = distill__moe_row(&p->moe);
    distill__arena ar;
    moe_ws w;
    size_t need, nb;
    int64_t i;
    if (net_bytes_for(p, n, &nb) != DISTILL_OK)
        return DISTILL_E_INVAL;
    distill__arena_init(&ar, NULL);
    layout(p, n, nb, &ar, &w);
    if (distill__arena_total(&ar, &need) != DISTILL_OK || ws_bytes < need)
        return DISTILL_E_WORKSPACE;
    distill__arena_init(&ar, ws);
    layout(p, n, nb, &ar, &w);
    DISTILL__TRY(networks(p, &w, nb, n, obs, ldobs));
    for (i = 0; i < n; i++) {
        const uint32_t word = rng_state ? distill__rng_word(0, EXPERT_STREAM, *rng_state + (uint64_t)i) : 0;
        act_row(p, &w, w.out + i * R, p->gating ? w.z + i * p->moe.K : NULL, word, experts ? experts + i : NULL,
                actions ? actions + i * ldact : NULL, given ? given + i * ldact : NULL, log_q ? log_q + i : NULL);
        if (log_q && !isfinite(log_q[i]) && !(log_q[i] < 0.0f))
            return DISTILL_E_NUMERIC; /* -inf is an answer (an impossible action), NaN and +inf are not */
    }
    if (rng_state && p->mode != DISTILL_POLICY_GREEDY)
        *rng_state += (uint64_t)n;
    return DISTILL_OK;
}

/* The act runs the networks frozen (src/nn/frozen.h) when both can be. */
static distill_status freeze(distill_policy *p)
{
    distill_status st = distill__frozen_make(p->model, &p->frozen);
    if (st == DISTILL_OK && p->gating)
        st = distill__frozen_make(p->gating, &p->frozen_gating);
    if (st == DISTILL_E_UNSUPPORTED) { /* another kind of layer: the models' own inference */
        distill__frozen_free(p->frozen), distill__frozen_free(p->frozen_gating);
        p->frozen = p->frozen_gating = NULL;
        st = DISTILL_OK;
    }
    return st;
}

distill_status distill__policy_make_moe(distill_context *ctx, const char *fn, distill_model *experts,
                                        distill_model *gating, const distill__moe *m, const float *bounds,
                                        int32_t mode, int64_t commit_steps, distill_policy **out)
{
    distill_space s;
    distill_policy *p;
    distill_status st;
    int64_t j;
    memset(&s, 0, sizeof s); /* the network's width, unbounded: the mixture's box is set below */
    s.struct_size = sizeof s, s.kind = DISTILL_SPACE_BOX, s.n = distill_model_output_dim(experts);
    st = distill__policy_make(ctx, fn, experts, &s, DISTILL_POLICY_GREEDY, 1.0f, out);
    if (st != DISTILL_OK) {
        distill_model_destroy(gating);
        return st;
    }
    p = *out;
    p->kind = DISTILL_POLICY_MOE, p->moe = *m, p->gating = gating;
    st = freeze(p);
    p->out_dim = m->A, p->action.n = m->A;
    distill__free(ctx, p->bounds);
    p->bounds = NULL, p->action.low = p->action.high = NULL;
    for (j = 0; st == DISTILL_OK && bounds && j < m->A; j++)
        if (isnan(bounds[j]) || isnan(bounds[m->A + j]) || bounds[j] > bounds[m->A + j])
            st = distill__fail(ctx, DISTILL_E_INVAL, "%s: action bounds at %lld are [%g, %g]", fn, (long long)j,
                               (double)bounds[j], (double)bounds[m->A + j]);
    if (st == DISTILL_OK && bounds) {
        if (!(p->bounds = distill__alloc(ctx, sizeof(float) * (size_t)(2 * m->A))))
            st = distill__fail(ctx, DISTILL_E_NOMEM, "%s: out of memory", fn);
        else
            memcpy(p->bounds, bounds, sizeof(float) * (size_t)(2 * m->A));
        p->action.low = p->bounds, p->action.high = p->bounds ? p->bounds + m->A : NULL;
    }
    if (st == DISTILL_OK)
        st = distill_policy_set_mode(p, mode, commit_steps);
    if (st != DISTILL_OK) {
        distill_policy_destroy(p);
        *out = NULL;
    }
    return st;
}
