/* The experts' starting means.  The last layer's weights start at 0, so an
 * expert's mean starts as its bias, the same at every state.  Uniform in
 * +-mean_bias_bound spreads the experts blindly: on a task whose routes
 * leave one state a few degrees apart, an expert can start between two of
 * them, stay there, and lead its episodes into what lies between.
 * DISTILL_VDD_MEAN_INIT_BRANCH starts them on demonstrated actions where
 * the demonstrations branch: the demonstrated state whose nearest
 * neighbours' actions spread most, and K means of those neighbours'
 * actions: seeded by k-means++, so that every branch gets an expert first,
 * then moved by Lloyd's iterations to where the actions are dense.  On
 * Avoid (docs/vdd.md) k-means++ alone started experts on a branch's edge,
 * between two routes, and did no better than uniform. */
#include <math.h>

#include "../core/rng.h"
#include "internal.h"

#define INIT_PURPOSE 0x76646469ULL /* "vddi" */
#define POOL_MAX 2048              /* demonstration rows searched */
#define POOL_WORK (1LL << 28)      /* pool^2 x obs_dim multiply-adds: well under a second */

static void means_uniform(const distill_vdd *v, distill__rng *r, float *bias)
{
    int64_t j;
    for (j = 0; j < v->K * v->A; j++)
        bias[j] = (float)(v->o.mean_bias_bound * (2.0 * (double)distill__rng_uniform(r) - 1.0));
}

typedef struct pool {
    int64_t n, O, yd, m;   /* rows, their widths, neighbours per row */
    float *x, *y;
    double *inv_scale;     /* 1 / each observation coordinate's std */
    int64_t *rows;         /* the block of the pool's row numbers, then nb and best */
    int64_t *nb, *best;    /* m neighbours: of the row at hand, of the widest so far */
    double *dist;          /* m squared distances, a max-heap */
    double *sum;           /* K x (A + 1): the clusters' sums and counts */
} pool;

static double pool_dist(const pool *p, int64_t i, int64_t j)
{
    double d = 0.0;
    int64_t c;
    for (c = 0; c < p->O; c++) {
        const double e = ((double)p->x[i * p->O + c] - (double)p->x[j * p->O + c]) * p->inv_scale[c];
        d += e * e;
    }
    return d;
}

/* Replace the heap's largest distance by (d, j) and sift it down. */
static void heap_replace(double *dist, int64_t *idx, int64_t m, double d, int64_t j)
{
    int64_t at = 0, child;
    while ((child = 2 * at + 1) < m) {
        if (child + 1 < m && dist[child + 1] > dist[child])
            child++;
        if (dist[child] <= d)
            break;
        dist[at] = dist[child], idx[at] = idx[child], at = child;
    }
    dist[at] = d, idx[at] = j;
}

/* p->nb = the m rows nearest to row i. */
static void nearest(pool *p, int64_t i)
{
    int64_t j;
    for (j = 0; j < p->m; j++)
        p->dist[j] = INFINITY, p->nb[j] = j;
    for (j = 0; j < p->n; j++) {
        const double d = pool_dist(p, i, j);
        if (d < p->dist[0])
            heap_replace(p->dist, p->nb, p->m, d, j);
    }
}

/* The trace of the covariance of the actions of rows nb[0..m). */
static double action_spread(const pool *p, const int64_t *nb, int64_t A)
{
    double total = 0.0;
    int64_t a, j;
    for (a = 0; a < A; a++) {
        double s = 0.0, s2 = 0.0;
        for (j = 0; j < p->m; j++) {
            const double y = p->y[nb[j] * p->yd + a];
            s += y, s2 += y * y;
        }
        total += s2 / (double)p->m - (s / (double)p->m) * (s / (double)p->m);
    }
    return total;
}

/* K of the actions of rows best[0..m) by k-means++ seeding: the first
 * uniformly, each next with probability proportional to its squared
 * distance from the nearest one chosen (uniformly when all are chosen). */
static void kmeanspp(const pool *p, int64_t K, int64_t A, distill__rng *r, double *d2, float *bias)
{
    int64_t k, j, a, pick = (int64_t)distill__rng_below(r, (uint64_t)p->m);
    for (j = 0; j < p->m; j++)
        d2[j] = INFINITY;
    for (k = 0;; pick = j) {
        const float *chosen = p->y + p->best[pick] * p->yd;
        double total = 0.0, u;
        for (a = 0; a < A; a++)
            bias[k * A + a] = chosen[a];
        if (++k == K)
            return;
        for (j = 0; j < p->m; j++) {
            double d = 0.0;
            for (a = 0; a < A; a++) {
                const double e = (double)p->y[p->best[j] * p->yd + a] - (double)chosen[a];
                d += e * e;
            }
            d2[j] = d < d2[j] ? d : d2[j], total += d2[j];
        }
        if (!(total > 0.0)) {
            j = (int64_t)distill__rng_below(r, (uint64_t)p->m);
            continue;
        }
        u = (double)distill__rng_uniform(r) * total;
        for (j = 0; j < p->m - 1 && (u -= d2[j]) >= 0.0;)
            j++;
        while (j > 0 && d2[j] == 0.0) /* u landed on a chosen row: step back to one with mass */
            j--;
    }
}

/* Lloyd's iterations from those seeds: each mean moves to the average of
 * the actions nearest to it, so it sits where the demonstrations are dense
 * (k-means++ alone favours a branch's edges). */
static void lloyd(const pool *p, int64_t K, int64_t A, float *bias, double *sum)
{
    enum { ROUNDS = 20 };
    int64_t round, j, k, a;
    for (round = 0; round < ROUNDS; round++) {
        for (j = 0; j < K * (A + 1); j++)
            sum[j] = 0.0;
        for (j = 0; j < p->m; j++) {
            const float *y = p->y + p->best[j] * p->yd;
            int64_t near = 0;
            double dn = INFINITY;
            for (k = 0; k < K; k++) {
                double d = 0.0;
                for (a = 0; a < A; a++)
                    d += ((double)y[a] - bias[k * A + a]) * ((double)y[a] - bias[k * A + a]);
                if (d < dn)
                    dn = d, near = k;
            }
            for (a = 0; a < A; a++)
                sum[near * (A + 1) + a] += y[a];
            sum[near * (A + 1) + A] += 1.0;
        }
        for (k = 0; k < K; k++)
            for (a = 0; a < A && sum[k * (A + 1) + A] > 0.0; a++)
                bias[k * A + a] = (float)(sum[k * (A + 1) + a] / sum[k * (A + 1) + A]);
    }
}

static void observation_scales(pool *p)
{
    int64_t c, i;
    for (c = 0; c < p->O; c++) {
        double s = 0.0, s2 = 0.0, var;
        for (i = 0; i < p->n; i++)
            s += p->x[i * p->O + c], s2 += (double)p->x[i * p->O + c] * p->x[i * p->O + c];
        var = s2 / (double)p->n - (s / (double)p->n) * (s / (double)p->n);
        p->inv_scale[c] = var > 0.0 ? 1.0 / sqrt(var) : 1.0;
    }
}

/* POOL_MAX rows of the n demonstrations, without replacement and in order
 * (selection sampling: each row taken with probability still needed /
 * still left); all of them when there are fewer. */
static void pool_rows(int64_t n, int64_t want, distill__rng *r, int64_t *rows)
{
    int64_t i, got = 0;
    for (i = 0; i < n && got < want; i++)
        if (want == n || (double)distill__rng_uniform(r) * (double)(n - i) < (double)(want - got))
            rows[got++] = i; /* u < 1: once the rows left are the rows needed, each is taken */
}

/* A NaN or Inf in a searched row would make its distances or its
 * neighbourhood's spread NaN and drop it silently. */
static distill_status pool_finite(distill_vdd *v, const pool *p)
{
    int64_t i, c;
    for (i = 0; i < p->n; i++)
        for (c = 0; c < p->O + v->A; c++)
            if (!isfinite(c < p->O ? p->x[i * p->O + c] : p->y[i * p->yd + c - p->O]))
                return distill__fail(v->ctx, DISTILL_E_INVAL, "distill_vdd_create: mean_init BRANCH: "
                                     "demonstration row %lld has a NaN or Inf %s", (long long)p->rows[i],
                                     c < p->O ? "observation" : "action");
    return DISTILL_OK;
}

/* The searched rows: all the demonstrations, or POOL_MAX of them (fewer
 * when the observations are wide), checked finite. */
static distill_status pool_load(distill_vdd *v, pool *p, distill__rng *r)
{
    int64_t cap = POOL_MAX;
    while (cap > 32 && cap * cap * v->O > POOL_WORK)
        cap /= 2;
    p->n = v->n_demos < cap ? v->n_demos : cap, p->O = v->O, p->yd = v->yd;
    p->m = 4 * v->K > 32 ? 4 * v->K : 32;
    p->m = p->m < p->n ? p->m : p->n;
    p->x = distill__alloc_zero(v->ctx, p->n * (p->O + p->yd), sizeof(float));
    p->inv_scale = distill__alloc_zero(v->ctx, p->O + p->m + v->K * (v->A + 1), sizeof(double));
    p->rows = distill__alloc_zero(v->ctx, p->n + 2 * p->m, sizeof(int64_t));
    if (!p->x || !p->inv_scale || !p->rows)
        return distill__fail(v->ctx, DISTILL_E_NOMEM, "distill_vdd_create: out of memory");
    p->y = p->x + p->n * p->O, p->dist = p->inv_scale + p->O, p->sum = p->dist + p->m;
    p->nb = p->rows + p->n, p->best = p->nb + p->m;
    pool_rows(v->n_demos, p->n, r, p->rows);
    DISTILL__TRY(distill_dataset_get(v->demos, p->rows, p->n, p->x, p->O, p->y, p->yd));
    DISTILL__TRY(pool_finite(v, p));
    observation_scales(p);
    return DISTILL_OK;
}

static void pool_free(distill_vdd *v, pool *p)
{
    distill__free(v->ctx, p->x), distill__free(v->ctx, p->inv_scale), distill__free(v->ctx, p->rows);
}

static distill_status means_branch(distill_vdd *v, distill__rng *r, float *bias)
{
    pool p = {0};
    distill_status st = pool_load(v, &p, r);
    double widest = 0.0;
    int64_t i;
    for (i = 0; st == DISTILL_OK && i < p.n; i++) {
        double spread;
        nearest(&p, i);
        spread = action_spread(&p, p.nb, v->A);
        if (i == 0 || spread > widest) { /* rounding can make a spread a little below 0 */
            int64_t *t = p.best;
            widest = spread, p.best = p.nb, p.nb = t;
        }
    }
    if (st == DISTILL_OK) {
        kmeanspp(&p, v->K, v->A, r, p.dist, bias);
        lloyd(&p, v->K, v->A, bias, p.sum);
    }
    pool_free(v, &p);
    return st;
}

distill_status distill__vdd_init_means(distill_vdd *v)
{
    const int64_t last = distill_model_n_layers(v->experts) - 1;
    int64_t off, count;
    distill__rng r;
    float *bias;
    DISTILL__TRY(distill_model_layer_params(v->experts, last, &off, &count));
    bias = distill_model_params(v->experts) + off + count - v->R;
    distill__rng_init(&r, v->ctx->seed, distill__rng_derive(v->stream, INIT_PURPOSE, 0, 0), 0);
    if (v->o.mean_init == DISTILL_VDD_MEAN_INIT_BRANCH)
        return means_branch(v, &r, bias);
    means_uniform(v, &r, bias);
    return DISTILL_OK;
}
