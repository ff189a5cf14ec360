/* From scores to weights and back: LC's composition of earlier masks, the
 * binarisations, and the straight-through gradient. */
#include <math.h>
#include <string.h>

#include "internal.h"

int distill__mask_composed(const distill_masknet *net, int64_t t)
{
    return net->o.compose != DISTILL_MASK_RI && t == net->training && net->n_comp > 0;
}

/* p = softmax(beta_l[t, j]) over j in the composition and t, every layer,
 * into net->prob (by task index). */
static void softmax_rows(distill_masknet *net, int64_t t)
{
    const float *beta = net->task[t] + net->P;
    int64_t l, c;
    for (l = 0; l < net->L; l++) {
        const float *b = beta + l * net->T;
        float *p = net->prob + l * net->T;
        double mx = b[t], s;
        for (c = 0; c < net->n_comp; c++)
            mx = b[net->comp[c]] > mx ? b[net->comp[c]] : mx;
        s = exp((double)b[t] - mx);
        for (c = 0; c < net->n_comp; c++)
            s += exp((double)b[net->comp[c]] - mx);
        p[t] = (float)(exp((double)b[t] - mx) / s);
        for (c = 0; c < net->n_comp; c++)
            p[net->comp[c]] = (float)(exp((double)b[net->comp[c]] - mx) / s);
    }
}

const float *distill__mask_effective(distill_masknet *net, int64_t t)
{
    int64_t l, c, i;
    if (!distill__mask_composed(net, t))
        return net->task[t];
    softmax_rows(net, t);
    for (l = 0; l < net->L; l++) {
        const float *p = net->prob + l * net->T;
        const int64_t n = net->out[l] * net->in[l], o = net->off[l];
        float *s = net->seff + o;
        for (i = 0; i < n; i++)
            s[i] = p[t] * net->task[t][o + i];
        for (c = 0; c < net->n_comp; c++) {
            const int64_t j = net->comp[c];
            for (i = 0; i < n; i++)
                s[i] += p[j] * net->task[j][o + i];
        }
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

/* <G, S[j]> over layer l's entries, in double. */
static double layer_dot(const distill_masknet *net, int64_t l, const float *g, int64_t j)
{
    const int64_t n = net->out[l] * net->in[l], o = net->off[l];
    const float *sj = net->task[j] + o;
    double acc = 0.0;
    int64_t i;
    for (i = 0; i < n; i++)
        acc += (double)g[o + i] * sj[i];
    return acc;
}

/* LC: dS[t] = p_t G (in place) and dbeta_j += p_j (a_j - sum_m p_m a_m),
 * a_j = <G, S[j]>, for j in the composition and t. */
static void compose_grad(distill_masknet *net, int64_t t, float *g, float *grad)
{
    int64_t l, c, i;
    for (l = 0; l < net->L; l++) {
        const int64_t n = net->out[l] * net->in[l], o = net->off[l];
        const float *p = net->prob + l * net->T;
        float *db = grad + net->P + l * net->T;
        double *a = net->dots, mean;
        a[t] = layer_dot(net, l, g, t), mean = p[t] * a[t];
        for (c = 0; c < net->n_comp; c++) {
            const int64_t j = net->comp[c];
            a[j] = layer_dot(net, l, g, j), mean += p[j] * a[j];
        }
        db[t] += (float)(p[t] * (a[t] - mean));
        for (c = 0; c < net->n_comp; c++)
            db[net->comp[c]] += (float)(p[net->comp[c]] * (a[net->comp[c]] - mean));
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
