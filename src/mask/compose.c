/* From scores to weights and back: LC's composition of earlier masks, the
 * binarisations, and the straight-through gradient. */
#include <math.h>
#include <string.h>

#include "internal.h"

int distill__mask_composed(const distill_masknet *net, int64_t t)
{
    return net->o.compose != DISTILL_MASK_RI && t >= 1 && t == net->training;
}

/* p = softmax(beta_l[t, 0..t]) for every layer, into net->prob. */
static void softmax_rows(distill_masknet *net, int64_t t)
{
    const float *beta = net->task[t] + net->P;
    int64_t l, j;
    for (l = 0; l < net->L; l++) {
        const float *b = beta + l * net->T;
        float *p = net->prob + l * net->T;
        double mx = b[0], s = 0.0;
        for (j = 1; j <= t; j++)
            mx = b[j] > mx ? b[j] : mx;
        for (j = 0; j <= t; j++)
            s += exp((double)b[j] - mx);
        for (j = 0; j <= t; j++)
            p[j] = (float)(exp((double)b[j] - mx) / s);
    }
}

const float *distill__mask_effective(distill_masknet *net, int64_t t)
{
    int64_t l, j, i;
    if (!distill__mask_composed(net, t))
        return net->task[t];
    softmax_rows(net, t);
    for (l = 0; l < net->L; l++) {
        const float *p = net->prob + l * net->T;
        const int64_t n = net->out[l] * net->in[l], o = net->off[l];
        float *s = net->seff + o;
        for (i = 0; i < n; i++)
            s[i] = p[t] * net->task[t][o + i];
        for (j = 0; j < t; j++)
            for (i = 0; i < n; i++)
                s[i] += p[j] * net->task[j][o + i];
    }
    return net->seff;
}

static void swap(float *a, float *b)
{
    const float t = *a;
    *a = *b, *b = t;
}

/* The k-th largest (k >= 1) of v[0..n), reordering v (quickselect,
 * median-of-three pivots: deterministic). */
static float kth_largest(float *v, int64_t n, int64_t k)
{
    int64_t lo = 0, hi = n - 1, target = k - 1;
    while (lo < hi) {
        const int64_t mid = lo + (hi - lo) / 2;
        int64_t i = lo, j = hi;
        float pivot;
        if (v[mid] > v[lo])
            swap(&v[mid], &v[lo]);
        if (v[hi] > v[lo])
            swap(&v[hi], &v[lo]);
        if (v[mid] > v[hi])
            swap(&v[mid], &v[hi]);
        pivot = v[hi]; /* the median of the three */
        while (i <= j) {
            while (v[i] > pivot)
                i++;
            while (v[j] < pivot)
                j--;
            if (i <= j)
                swap(&v[i++], &v[j--]);
        }
        if (target <= j)
            hi = j;
        else if (target >= i)
            lo = i;
        else
            return v[target];
    }
    return v[target];
}

/* TOPK: the k entries of largest |s| (ties: the earlier entries) are on. */
static void topk_weights(distill_masknet *net, int64_t n, const float *w, const float *s, float *weff)
{
    int64_t k = (int64_t)(net->o.topk * (double)n + 0.5), i, ties;
    float cut;
    k = k < 1 ? 1 : k > n ? n : k;
    for (i = 0; i < n; i++)
        net->scratch[i] = fabsf(s[i]);
    cut = kth_largest(net->scratch, n, k);
    for (i = 0, ties = k; i < n; i++)
        ties -= fabsf(s[i]) > cut;
    for (i = 0; i < n; i++) {
        const float a = fabsf(s[i]);
        int on = a > cut;
        if (a == cut && ties > 0)
            on = 1, ties--;
        weff[i] = on ? w[i] : 0.0f;
    }
}

void distill__mask_weights(distill_masknet *net, int64_t l, const float *s, float *weff)
{
    const int64_t n = net->out[l] * net->in[l];
    const float *w = net->w + net->off[l];
    int64_t i;
    s += net->off[l];
    if (net->ste_identity) {
        for (i = 0; i < n; i++)
            weff[i] = w[i] * s[i];
        return;
    }
    switch (net->o.binarize) {
    case DISTILL_MASK_CONTINUOUS:
        for (i = 0; i < n; i++)
            weff[i] = s[i] >= 0.0f ? w[i] * s[i] : 0.0f;
        break;
    case DISTILL_MASK_TOPK:
        topk_weights(net, n, w, s, weff);
        break;
    default:
        for (i = 0; i < n; i++)
            weff[i] = s[i] >= 0.0f ? w[i] : 0.0f;
        break;
    }
}

/* dL/dS_eff = dL/dWeff (.) W, through the estimator (CONTINUOUS: times 1[S >= 0]). */
static void effective_grad(const distill_masknet *net, const float *s, const float *dweff, float *g)
{
    const int continuous = net->o.binarize == DISTILL_MASK_CONTINUOUS && !net->ste_identity;
    int64_t i;
    for (i = 0; i < net->P; i++)
        g[i] = continuous && s[i] < 0.0f ? 0.0f : dweff[i] * net->w[i];
}

/* LC: dS[t] = p_t G (in place) and dbeta_j += p_j (a_j - sum_m p_m a_m), a_j = <G, S[j]>. */
static void compose_grad(distill_masknet *net, int64_t t, float *g, float *grad)
{
    int64_t l, j, i;
    for (l = 0; l < net->L; l++) {
        const int64_t n = net->out[l] * net->in[l], o = net->off[l];
        const float *p = net->prob + l * net->T;
        float *db = grad + net->P + l * net->T;
        double a[DISTILL_MASK_MAX_TASKS], mean = 0.0;
        for (j = 0; j <= t; j++) {
            const float *sj = net->task[j] + o;
            double acc = 0.0;
            for (i = 0; i < n; i++)
                acc += (double)g[o + i] * sj[i];
            a[j] = acc, mean += p[j] * acc;
        }
        for (j = 0; j <= t; j++)
            db[j] += (float)(p[j] * (a[j] - mean));
        for (i = 0; i < n; i++)
            g[o + i] *= p[t];
    }
}

void distill__mask_score_grad(distill_masknet *net, int64_t t, const float *s, const float *dweff, float *grad,
                              int accumulate)
{
    float *g = net->scratch_grad;
    int64_t i;
    effective_grad(net, s, dweff, g);
    if (!accumulate)
        memset(grad + net->P, 0, sizeof(float) * (size_t)(net->L * net->T));
    if (distill__mask_composed(net, t))
        compose_grad(net, t, g, grad);
    for (i = 0; i < net->P; i++)
        grad[i] = g[i] + (accumulate ? grad[i] : 0.0f);
}
