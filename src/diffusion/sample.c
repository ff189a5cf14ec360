/* The sampler: Karras' noise schedule, Euler or Heun steps, in a caller
 * workspace (the real-time contract of src/nn/infer.c: no allocation, no
 * lock, no message). */
#include <string.h>

#include "../core/rng.h"
#include "../core/workspace.h"
#include "internal.h"

#define SAMPLE_STREAM 0x64696666ULL /* "diff" */
#define RHO 7.0

/* x, the denoised rows, the Euler direction, Heun's trial point, F's input
 * and output rows; then the network's own workspace. */
typedef struct sample_ws {
    float *x, *den, *dir, *trial, *rows, *f;
    void *net_ws;
} sample_ws;

static void layout(const distill_diffusion *d, int64_t n, size_t net_bytes, distill__arena *ar, sample_ws *w)
{
    const int64_t A = d->o.action_dim, in = A + d->o.obs_dim + 1;
    w->x = distill__arena_take(ar, n * A, sizeof(float));
    w->den = distill__arena_take(ar, n * A, sizeof(float));
    w->dir = distill__arena_take(ar, n * A, sizeof(float));
    w->trial = distill__arena_take(ar, n * A, sizeof(float));
    w->rows = distill__arena_take(ar, n * in, sizeof(float));
    w->f = distill__arena_take(ar, n * A, sizeof(float));
    w->net_ws = distill__arena_take(ar, (int64_t)net_bytes, 1);
}

distill_status distill_diffusion_workspace_size(const distill_diffusion *d, int64_t max_batch, size_t *bytes)
{
    distill__arena ar;
    sample_ws w;
    size_t net_bytes;
    if (!d || !bytes || max_batch < 1)
        return DISTILL_E_INVAL;
    if (!d->net) /* a host score has no sampler */
        return DISTILL_E_UNSUPPORTED;
    DISTILL__TRY(distill_model_workspace_size(d->net, max_batch, &net_bytes));
    distill__arena_init(&ar, NULL);
    layout(d, max_batch, net_bytes, &ar, &w);
    return distill__arena_total(&ar, bytes);
}

/* Noise level i of `steps` (Karras et al. 2022, eq. 5), 0 past the last;
 * the bounds are in units of sigma_data. */
static double karras_sigma(const distill_diffusion *d, int32_t i, int32_t steps)
{
    const double sd = d->o.sigma_data;
    const double hi = pow(d->o.sigma_max * sd, 1.0 / RHO), lo = pow(d->o.sigma_min * sd, 1.0 / RHO);
    if (i >= steps)
        return 0.0;
    return pow(steps == 1 ? hi : hi + (double)i / (double)(steps - 1) * (lo - hi), RHO);
}

/* den = D(x, s, sigma) for the n rows. */
static distill_status denoise(const distill_diffusion *d, const sample_ws *w, size_t net_bytes, int64_t n,
                              const float *obs, int64_t ldobs, const float *x, double sigma, float *den)
{
    const int64_t A = d->o.action_dim, in = A + d->o.obs_dim + 1;
    const distill__edm c = distill__edm_at(sigma, d->o.sigma_data);
    int64_t i;
    for (i = 0; i < n; i++)
        distill__diffusion_input(d, x + i * A, obs + i * ldobs, c, w->rows + i * in);
    DISTILL__TRY(distill_model_infer(d->net, w->net_ws, net_bytes, n, w->rows, in, w->f, A));
    for (i = 0; i < n * A; i++)
        den[i] = c.skip * x[i] + c.out * w->f[i];
    return DISTILL_OK;
}

static distill_status run_steps(const distill_diffusion *d, const sample_ws *w, size_t net_bytes, int64_t n,
                                const float *obs, int64_t ldobs, int32_t steps, int32_t sampler)
{
    const int64_t na = n * d->o.action_dim;
    int32_t i;
    int64_t j;
    for (i = 0; i < steps; i++) {
        const double s = karras_sigma(d, i, steps), next = karras_sigma(d, i + 1, steps);
        DISTILL__TRY(denoise(d, w, net_bytes, n, obs, ldobs, w->x, s, w->den));
        for (j = 0; j < na; j++)
            w->dir[j] = (float)((w->x[j] - w->den[j]) / s);
        if (sampler == DISTILL_SAMPLER_HEUN && next > 0.0) {
            for (j = 0; j < na; j++)
                w->trial[j] = w->x[j] + (float)(next - s) * w->dir[j];
            DISTILL__TRY(denoise(d, w, net_bytes, n, obs, ldobs, w->trial, next, w->den));
            for (j = 0; j < na; j++)
                w->dir[j] = 0.5f * (w->dir[j] + (float)((w->trial[j] - w->den[j]) / next));
        }
        for (j = 0; j < na; j++)
            w->x[j] += (float)(next - s) * w->dir[j];
    }
    return DISTILL_OK;
}

distill_status distill_diffusion_sample(const distill_diffusion *d, void *ws, size_t ws_bytes, int64_t n,
                                        const float *obs, int64_t ldobs, int32_t steps, int32_t sampler,
                                        uint64_t *rng_state, float *actions, int64_t ldact)
{
    const int64_t A = d ? d->o.action_dim : 0;
    distill__arena ar;
    distill__rng rng;
    sample_ws w;
    size_t need, net_bytes;
    int64_t i, j;
    if (!d || !ws || !obs || !actions || !rng_state || n < 1 || steps < 1 || steps > 1000 ||
        (sampler != DISTILL_SAMPLER_EULER && sampler != DISTILL_SAMPLER_HEUN))
        return DISTILL_E_INVAL;
    if (!d->net || !d->fitted)
        return DISTILL_E_UNSUPPORTED;
    if (ldobs < d->o.obs_dim || ldact < A)
        return DISTILL_E_SHAPE;
    if (distill_model_workspace_size(d->net, n, &net_bytes) != DISTILL_OK)
        return DISTILL_E_INVAL;
    distill__arena_init(&ar, NULL);
    layout(d, n, net_bytes, &ar, &w);
    if (distill__arena_total(&ar, &need) != DISTILL_OK || ws_bytes < need)
        return DISTILL_E_WORKSPACE;
    for (i = 0; i < n; i++)
        for (j = 0; j < d->o.obs_dim; j++)
            if (!isfinite(obs[i * ldobs + j]))
                return DISTILL_E_NUMERIC;
    distill__arena_init(&ar, ws);
    layout(d, n, net_bytes, &ar, &w);
    distill__rng_init(&rng, 0, SAMPLE_STREAM, *rng_state);
    for (i = 0; i < n * A; i++)
        w.x[i] = (float)(d->o.sigma_max * d->o.sigma_data) * distill__rng_normal(&rng);
    *rng_state = rng.offset;
    DISTILL__TRY(run_steps(d, &w, net_bytes, n, obs, ldobs, steps, sampler));
    for (i = 0; i < n; i++)
        for (j = 0; j < A; j++) {
            if (!isfinite(w.x[i * A + j]))
                return DISTILL_E_NUMERIC;
            actions[i * ldact + j] = w.x[i * A + j];
        }
    return DISTILL_OK;
}
