/* Diffusion files: the denoiser's model sections plus
 *   "DIFF"  i64 obs_dim, action_dim, hidden, layers; f64 sigma_data,
 *           sigma_min, sigma_max (IEEE-754 bits as i64); u32 fitted;
 *           f32 obs_mean[obs_dim], f32 obs_std[obs_dim]. */
#include <string.h>

#include "../core/check.h"
#include "../core/container.h"
#include "../nn/internal.h"
#include "internal.h"

#define SEC_DIFF DISTILL__FOURCC('D', 'I', 'F', 'F')

static void put_f64(distill__writer *w, double v)
{
    int64_t bits;
    memcpy(&bits, &v, sizeof bits);
    distill__put_i64(w, bits);
}

static double get_f64(distill__cursor *c)
{
    const int64_t bits = distill__get_i64(c);
    double v;
    memcpy(&v, &bits, sizeof v);
    return v;
}

distill_status distill_diffusion_save(const distill_diffusion *d, const char *path)
{
    distill__writer w;
    if (!d)
        return DISTILL_E_INVAL;
    if (!path)
        return distill__fail(d->ctx, DISTILL_E_INVAL, "distill_diffusion_save: path is NULL");
    if (!d->net)
        return distill__fail(d->ctx, DISTILL_E_UNSUPPORTED, "distill_diffusion_save: a host score has no file");
    distill__writer_init(&w, d->ctx);
    distill__model_put(&w, d->net);
    distill__section_begin(&w, SEC_DIFF);
    distill__put_i64(&w, d->o.obs_dim), distill__put_i64(&w, d->o.action_dim);
    distill__put_i64(&w, d->o.hidden), distill__put_i64(&w, d->o.layers);
    put_f64(&w, d->o.sigma_data), put_f64(&w, d->o.sigma_min), put_f64(&w, d->o.sigma_max);
    distill__put_u32(&w, (uint32_t)d->fitted);
    distill__put_f32s(&w, d->obs_mean, d->o.obs_dim);
    distill__put_f32s(&w, d->obs_std, d->o.obs_dim);
    distill__section_end(&w);
    return distill__writer_commit(&w, path);
}

/* The DIFF section into o, fitted and the normalisation (checked). */
static distill_status read_head(distill_context *ctx, distill__cursor *c, distill_diffusion_options *o,
                                uint32_t *fitted)
{
    distill_diffusion_options_init(o);
    o->obs_dim = distill__get_i64(c), o->action_dim = distill__get_i64(c);
    o->hidden = distill__get_i64(c), o->layers = distill__get_i64(c);
    o->sigma_data = get_f64(c), o->sigma_min = get_f64(c), o->sigma_max = get_f64(c);
    *fitted = distill__get_u32(c);
    if (c->bad || o->obs_dim < 1 || o->obs_dim > ((int64_t)1 << 20) || o->action_dim < 1 ||
        o->action_dim > DISTILL_DIFFUSION_MAX_ACTION || *fitted > 1 || !(o->sigma_data >= 0.0) ||
        !isfinite(o->sigma_data) || (*fitted && o->sigma_data == 0.0) || !(o->sigma_min > 0.0) ||
        !(o->sigma_max > o->sigma_min) || !isfinite(o->sigma_max))
        return distill__fail(ctx, DISTILL_E_FORMAT, "diffusion file: bad diffusion section");
    if ((size_t)(c->end - c->p) != sizeof(float) * 2 * (size_t)o->obs_dim)
        return distill__fail(ctx, DISTILL_E_FORMAT, "diffusion file: the normalisation takes %lld bytes, "
                             "expected %lld", (long long)(c->end - c->p), (long long)(8 * o->obs_dim));
    return DISTILL_OK;
}

static int normalisation_ok(const distill_diffusion *d)
{
    int64_t j;
    for (j = 0; j < d->o.obs_dim; j++)
        if (!isfinite(d->obs_mean[j]) || !(d->obs_std[j] > 0.0f) || !isfinite(d->obs_std[j]))
            return 0;
    return 1;
}

distill_status distill_diffusion_load_memory(distill_context *ctx, const void *buf, size_t len,
                                             distill_diffusion **out)
{
    static const char fn[] = "distill_diffusion_load";
    distill_diffusion_options o;
    distill_diffusion *d;
    distill_model *net = NULL;
    distill__cursor c;
    uint32_t fitted;
    distill_status st;
    if (!ctx)
        return DISTILL_E_INVAL;
    DISTILL__TRY(distill__check_out(ctx, fn, "out", out));
    *out = NULL;
    DISTILL__TRY(distill__container_check(ctx, "diffusion file", buf, len));
    if (!distill__container_find(buf, len, SEC_DIFF, &c))
        return distill__fail(ctx, DISTILL_E_FORMAT, "diffusion file: no diffusion section (a model file?)");
    DISTILL__TRY(read_head(ctx, &c, &o, &fitted));
    st = distill_model_load_memory(ctx, buf, len, &net);
    if (st != DISTILL_OK)
        return st;
    if (distill_model_input_dim(net) != o.action_dim + o.obs_dim + 1 || distill_model_output_dim(net) != o.action_dim) {
        const long long in = (long long)distill_model_input_dim(net), outs = (long long)distill_model_output_dim(net);
        distill_model_destroy(net);
        return distill__fail(ctx, DISTILL_E_FORMAT, "diffusion file: the denoiser takes %lld inputs and gives %lld "
                             "outputs, not %lld and %lld", in, outs, (long long)(o.action_dim + o.obs_dim + 1),
                             (long long)o.action_dim);
    }
    DISTILL__TRY(distill__diffusion_make(ctx, fn, &o, net, &d));
    distill__get_f32s(&c, d->obs_mean, o.obs_dim);
    distill__get_f32s(&c, d->obs_std, o.obs_dim);
    d->fitted = (int32_t)fitted;
    if (!normalisation_ok(d)) {
        distill_diffusion_destroy(d);
        return distill__fail(ctx, DISTILL_E_FORMAT, "diffusion file: an observation mean or std is not finite "
                             "and positive");
    }
    *out = d;
    return DISTILL_OK;
}

distill_status distill_diffusion_load(distill_context *ctx, const char *path, distill_diffusion **out)
{
    unsigned char *buf;
    size_t len;
    distill_status st;
    if (!ctx)
        return DISTILL_E_INVAL;
    DISTILL__TRY(distill__check_out(ctx, "distill_diffusion_load", "out", out));
    *out = NULL;
    DISTILL__TRY(distill__container_read(ctx, path, DISTILL__FILE_LIMIT, &buf, &len));
    st = distill_diffusion_load_memory(ctx, buf, len, out);
    distill__free(ctx, buf);
    return st;
}
