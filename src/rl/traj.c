/* Percentile selection on trajectory datasets: the rows of the best
 * episodes by return, for percentile behaviour cloning. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../core/check.h"
#include "../data/internal.h"
#include "distill/rl.h"
#include "internal.h"

typedef struct episode {
    int64_t start, len;
    double ret;
} episode;

/* Best return first (a NaN return last); ties keep the earlier episode. */
static int by_return(const void *a, const void *b)
{
    const episode *x = a, *y = b;
    const double rx = isnan(x->ret) ? -INFINITY : x->ret, ry = isnan(y->ret) ? -INFINITY : y->ret;
    if (rx != ry)
        return rx > ry ? -1 : 1;
    return (x->start > y->start) - (x->start < y->start);
}

static int by_start(const void *a, const void *b)
{
    const episode *x = a, *y = b;
    return (x->start > y->start) - (x->start < y->start);
}

/* The episodes of the dataset's rows (y: rows x yd), split where the
 * episode column changes; their return is the first row's return-to-go. */
static int64_t split_episodes(const float *y, int64_t rows, int64_t yd, int64_t ad, episode *ep)
{
    int64_t i, n = 0;
    for (i = 0; i < rows; i++) {
        if (i == 0 || y[i * yd + ad + DISTILL_TRAJ_EPISODE] != y[(i - 1) * yd + ad + DISTILL_TRAJ_EPISODE]) {
            ep[n].start = i, ep[n].len = 0, ep[n].ret = y[i * yd + ad + DISTILL_TRAJ_RTG];
            n++;
        }
        ep[n - 1].len++;
    }
    return n;
}

distill_status distill_trajectory_top(const distill_dataset *traj, int64_t action_dim, double fraction,
                                      distill_dataset **out)
{
    static const char fn[] = "distill_trajectory_top";
    distill_context *ctx;
    int64_t rows, yd, n_ep, keep, i, j, at = 0, *idx = NULL;
    float *y = NULL;
    episode *ep = NULL;
    distill_status st;
    if (!traj)
        return DISTILL_E_INVAL;
    ctx = traj->ctx;
    DISTILL__TRY(distill__check_out(ctx, fn, "out", out));
    *out = NULL;
    rows = distill_dataset_count(traj), yd = distill_dataset_y_dim(traj);
    if (action_dim < 1 || yd != action_dim + DISTILL_TRAJ_EXTRA)
        return distill__fail(ctx, DISTILL_E_SHAPE, "%s: y has %lld columns; a trajectory dataset with %lld action "
                             "floats has %lld", fn, (long long)yd, (long long)action_dim,
                             (long long)(action_dim + DISTILL_TRAJ_EXTRA));
    if (!(fraction > 0.0 && fraction <= 1.0))
        return distill__fail(ctx, DISTILL_E_INVAL, "%s: fraction must be in (0, 1], got %g", fn, fraction);
    y = distill__alloc(ctx, sizeof(float) * (size_t)(rows * yd));
    ep = distill__alloc(ctx, sizeof(episode) * (size_t)rows);
    idx = distill__alloc(ctx, sizeof(int64_t) * (size_t)rows);
    if (!y || !ep || !idx) {
        st = distill__fail(ctx, DISTILL_E_NOMEM, "%s: out of memory", fn);
        goto out;
    }
    if ((st = distill_dataset_get_range((distill_dataset *)traj, 0, rows, NULL, 0, y, yd)) != DISTILL_OK)
        goto out;
    n_ep = split_episodes(y, rows, yd, action_dim, ep);
    keep = (int64_t)ceil(fraction * (double)n_ep - 1e-9);
    keep = keep < 1 ? 1 : keep;
    qsort(ep, (size_t)n_ep, sizeof *ep, by_return);
    qsort(ep, (size_t)keep, sizeof *ep, by_start);
    for (i = 0; i < keep; i++)
        for (j = 0; j < ep[i].len; j++)
            idx[at++] = ep[i].start + j;
    st = distill_dataset_subset(traj, idx, at, out);
out:
    distill__free(ctx, y), distill__free(ctx, ep), distill__free(ctx, idx);
    return st;
}
