/* The diffusion handle: the library's denoiser or the host's score, and
 * the score every VDD step asks for. */
#include <string.h>

#include "../core/abi.h"
#include "../core/check.h"
#include "internal.h"

#define SCORE_CHUNK 4096 /* rows per denoiser pass inside distill_diffusion_score */

size_t distill_diffusion_options_size(void) { return sizeof(distill_diffusion_options); }
size_t distill_score_vtable_size(void) { return sizeof(distill_score_vtable); }
int64_t distill_diffusion_max_action(void) { return DISTILL_DIFFUSION_MAX_ACTION; }

void distill_diffusion_options_init(distill_diffusion_options *o)
{
    if (!o)
        return;
    memset(o, 0, sizeof *o);
    o->struct_size = sizeof *o;
    o->hidden = 128;
    o->layers = 3;
    o->sigma_min = 0.002;
    o->sigma_max = 10.0;
}

static distill_status check_dims(distill_context *ctx, const char *fn, int64_t obs_dim, int64_t action_dim)
{
    if (obs_dim < 1 || obs_dim > ((int64_t)1 << 20))
        return distill__fail(ctx, DISTILL_E_INVAL, "%s: obs_dim %lld is not in [1, 2^20]", fn, (long long)obs_dim);
    if (action_dim < 1 || action_dim > DISTILL_DIFFUSION_MAX_ACTION)
        return distill__fail(ctx, DISTILL_E_INVAL, "%s: action_dim %lld is not in [1, %d]", fn,
                             (long long)action_dim, DISTILL_DIFFUSION_MAX_ACTION);
    return DISTILL_OK;
}

static distill_status check_options(distill_context *ctx, const char *fn, const distill_diffusion_options *o)
{
    DISTILL__TRY(check_dims(ctx, fn, o->obs_dim, o->action_dim));
    if (o->hidden < 1 || o->hidden > 65536 || o->layers < 1 || o->layers > 64)
        return distill__fail(ctx, DISTILL_E_INVAL, "%s: hidden %lld must be in [1, 65536] and layers %lld in "
                             "[1, 64]", fn, (long long)o->hidden, (long long)o->layers);
    if (!(o->sigma_data >= 0.0 && isfinite(o->sigma_data)))
        return distill__fail(ctx, DISTILL_E_INVAL, "%s: sigma_data must be >= 0 and finite, got %g", fn,
                             o->sigma_data);
    if (!(o->sigma_min > 0.0 && o->sigma_max > o->sigma_min && isfinite(o->sigma_max)))
        return distill__fail(ctx, DISTILL_E_INVAL, "%s: need 0 < sigma_min < sigma_max < inf, got %g and %g", fn,
                             o->sigma_min, o->sigma_max);
    return DISTILL_OK;
}

/* F: [a, s, c_noise] -> layers x (dense hidden, Mish) -> dense action_dim. */
static distill_status make_net(distill_context *ctx, const distill_diffusion_options *o, distill_model **net)
{
    distill_layer_spec spec[2 * 64 + 1];
    distill_model_options mo;
    int64_t i, n = 0;
    for (i = 0; i < o->layers; i++) {
        distill_layer_spec_init(&spec[n], DISTILL_LAYER_DENSE);
        spec[n++].units = o->hidden;
        distill_layer_spec_init(&spec[n++], DISTILL_LAYER_MISH);
    }
    distill_layer_spec_init(&spec[n], DISTILL_LAYER_DENSE);
    spec[n++].units = o->action_dim;
    distill_model_options_init(&mo);
    mo.in_c = o->action_dim + o->obs_dim + 1, mo.in_h = mo.in_w = 1;
    mo.layers = spec, mo.n_layers = n;
    return distill_model_create(ctx, &mo, net);
}

distill_status distill__diffusion_make(distill_context *ctx, const char *fn, const distill_diffusion_options *o,
                                       distill_model *net, distill_diffusion **out)
{
    distill_diffusion *d;
    int64_t i;
    if (!(d = distill__alloc_zero(ctx, 1, sizeof *d)) ||
        !(d->obs_mean = distill__alloc_zero(ctx, 2 * o->obs_dim, sizeof(float)))) {
        distill__free(ctx, d);
        distill_model_destroy(net);
        return distill__fail(ctx, DISTILL_E_NOMEM, "%s: out of memory", fn);
    }
    d->ctx = ctx, d->o = *o, d->net = net;
    d->obs_std = d->obs_mean + o->obs_dim;
    for (i = 0; i < o->obs_dim; i++)
        d->obs_std[i] = 1.0f;
    *out = d;
    return DISTILL_OK;
}

distill_status distill_diffusion_create(distill_context *ctx, const distill_diffusion_options *opts,
                                        distill_diffusion **out)
{
    static const char fn[] = "distill_diffusion_create";
    distill_diffusion_options o;
    distill_model *net;
    if (!ctx)
        return DISTILL_E_INVAL;
    DISTILL__TRY(distill__check_out(ctx, fn, "out", out));
    *out = NULL;
    if (!opts)
        return distill__fail(ctx, DISTILL_E_INVAL, "%s: options are required (obs_dim, action_dim)", fn);
    distill_diffusion_options_init(&o);
    DISTILL__TRY(distill__struct_read(ctx, fn, "options", opts, sizeof o, sizeof o, &o));
    DISTILL__TRY(check_options(ctx, fn, &o));
    DISTILL__TRY(make_net(ctx, &o, &net));
    return distill__diffusion_make(ctx, fn, &o, net, out);
}

distill_status distill_diffusion_from_score(distill_context *ctx, const distill_score_vtable *vtable,
                                            int64_t obs_dim, int64_t action_dim, distill_diffusion **out)
{
    static const char fn[] = "distill_diffusion_from_score";
    distill_diffusion_options o;
    distill_score_vtable vt;
    if (!ctx)
        return DISTILL_E_INVAL;
    DISTILL__TRY(distill__check_out(ctx, fn, "out", out));
    *out = NULL;
    if (!vtable)
        return distill__fail(ctx, DISTILL_E_INVAL, "%s: vtable is NULL", fn);
    memset(&vt, 0, sizeof vt);
    DISTILL__TRY(distill__struct_read(ctx, fn, "vtable", vtable, sizeof vt, sizeof vt, &vt));
    if (!vt.score)
        return distill__fail(ctx, DISTILL_E_INVAL, "%s: the vtable's score is NULL", fn);
    DISTILL__TRY(check_dims(ctx, fn, obs_dim, action_dim));
    distill_diffusion_options_init(&o);
    o.obs_dim = obs_dim, o.action_dim = action_dim;
    DISTILL__TRY(distill__diffusion_make(ctx, fn, &o, NULL, out));
    (*out)->vt = vt, (*out)->fitted = 1;
    return DISTILL_OK;
}

void distill_diffusion_destroy(distill_diffusion *d)
{
    if (!d)
        return;
    if (!d->net && d->vt.release)
        d->vt.release(d->vt.user);
    distill_model_destroy(d->net);
    distill__free(d->ctx, d->obs_mean);
    distill__free(d->ctx, d->scratch);
    distill__free(d->ctx, d);
}

int64_t distill_diffusion_obs_dim(const distill_diffusion *d) { return d ? d->o.obs_dim : 0; }
int64_t distill_diffusion_action_dim(const distill_diffusion *d) { return d ? d->o.action_dim : 0; }
double distill_diffusion_sigma_data(const distill_diffusion *d) { return d ? d->o.sigma_data : 0.0; }

void distill__diffusion_input(const distill_diffusion *d, const float *a, const float *s, distill__edm c,
                              float *row)
{
    const int64_t A = d->o.action_dim, O = d->o.obs_dim;
    int64_t j;
    for (j = 0; j < A; j++)
        row[j] = c.in * a[j];
    for (j = 0; j < O; j++)
        row[A + j] = (s[j] - d->obs_mean[j]) / d->obs_std[j];
    row[A + O] = c.noise;
}

/* The denoiser's score on rows [0, n) (n <= SCORE_CHUNK) through the
 * training path's forward (BLIS, the context's threads). */
static distill_status net_score(distill_diffusion *d, int64_t n, const float *a, const float *s,
                                const float *sigma, float *out)
{
    const int64_t A = d->o.action_dim, O = d->o.obs_dim, in = A + O + 1;
    float *rows = d->scratch, *f = d->scratch + SCORE_CHUNK * in;
    int64_t i, j;
    for (i = 0; i < n; i++)
        distill__diffusion_input(d, a + i * A, s + i * O, distill__edm_at(sigma[i], d->o.sigma_data),
                                 rows + i * in);
    DISTILL__TRY(distill_model_forward(d->net, DISTILL_MODE_EVAL, n, rows, in, f, A));
    for (i = 0; i < n; i++) {
        const distill__edm c = distill__edm_at(sigma[i], d->o.sigma_data);
        const float inv = 1.0f / (sigma[i] * sigma[i]);
        for (j = 0; j < A; j++) {
            const float x = a[i * A + j], den = c.skip * x + c.out * f[i * A + j];
            out[i * A + j] = (den - x) * inv;
        }
    }
    return DISTILL_OK;
}

distill_status distill_diffusion_score(distill_diffusion *d, int64_t n, const float *a, const float *s,
                                       const float *sigma, float *out)
{
    static const char fn[] = "distill_diffusion_score";
    const int64_t A = d ? d->o.action_dim : 0, O = d ? d->o.obs_dim : 0;
    int64_t at, c, i;
    if (!d)
        return DISTILL_E_INVAL;
    DISTILL__TRY(distill__check_matrix(d->ctx, fn, "a", a, n, A, A));
    DISTILL__TRY(distill__check_matrix(d->ctx, fn, "s", s, n, O, O));
    DISTILL__TRY(distill__check_matrix(d->ctx, fn, "sigma", sigma, n, 1, 1));
    DISTILL__TRY(distill__check_matrix(d->ctx, fn, "out", out, n, A, A));
    DISTILL__TRY(distill__check_finite(d->ctx, fn, "a", a, n, A, A));
    DISTILL__TRY(distill__check_finite(d->ctx, fn, "s", s, n, O, O));
    for (i = 0; i < n; i++)
        if (!(sigma[i] > 0.0f && isfinite(sigma[i])))
            return distill__fail(d->ctx, DISTILL_E_INVAL, "%s: sigma[%lld] = %g is not > 0 and finite", fn,
                                 (long long)i, (double)sigma[i]);
    if (!d->net) {
        if (d->vt.score(d->vt.user, n, a, s, sigma, out) != 0)
            return distill__fail(d->ctx, DISTILL_E_BACKEND, "%s: the host's score callback failed", fn);
    } else {
        if (!d->scratch) {
            if (!(d->scratch = distill__alloc(d->ctx, sizeof(float) * (size_t)(SCORE_CHUNK * (A + O + 1 + A)))))
                return distill__fail(d->ctx, DISTILL_E_NOMEM, "%s: out of memory", fn);
        }
        for (at = 0; at < n; at += c) {
            c = n - at < SCORE_CHUNK ? n - at : SCORE_CHUNK;
            DISTILL__TRY(net_score(d, c, a + at * A, s + at * O, sigma + at, out + at * A));
        }
    }
    return distill__check_finite(d->ctx, fn, "the score", out, n, A, A);
}
