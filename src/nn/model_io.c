/* Saving and loading models in the container format:
 *   "MSPC"  u32 layer count, i64 in_c, in_h, in_w, then per layer
 *           u32 kind, i64 units, u32 kernel, stride, padding, bias, init,
 *           f32 init_gain, momentum, eps
 *   "PARM"  i64 count, count f32
 *   "BUFF"  i64 count, count f32 */
#include <math.h>
#include <string.h>

#include "../core/check.h"
#include "../core/container.h"
#include "internal.h"

#define SEC_SPEC DISTILL__FOURCC('M', 'S', 'P', 'C')
#define SEC_PARAMS DISTILL__FOURCC('P', 'A', 'R', 'M')
#define SEC_BUFFERS DISTILL__FOURCC('B', 'U', 'F', 'F')

static void put_spec(distill__writer *w, const distill_model *m)
{
    int64_t i;
    distill__section_begin(w, SEC_SPEC);
    distill__put_u32(w, (uint32_t)m->n_layers);
    distill__put_i64(w, m->in_c), distill__put_i64(w, m->in_h), distill__put_i64(w, m->in_w);
    for (i = 0; i < m->n_layers; i++) {
        const distill_layer_spec *s = &m->layers[i].spec;
        distill__put_u32(w, (uint32_t)s->kind);
        distill__put_i64(w, s->units);
        distill__put_u32(w, (uint32_t)s->kernel), distill__put_u32(w, (uint32_t)s->stride);
        distill__put_u32(w, (uint32_t)s->padding), distill__put_u32(w, (uint32_t)s->bias);
        distill__put_u32(w, (uint32_t)s->init);
        distill__put_f32(w, s->init_gain), distill__put_f32(w, s->momentum);
        distill__put_f32(w, s->eps);
    }
    distill__section_end(w);
}

static void put_array(distill__writer *w, uint32_t type, const float *x, int64_t n)
{
    distill__section_begin(w, type);
    distill__put_i64(w, n);
    distill__put_f32s(w, x, n);
    distill__section_end(w);
}

distill_status distill_model_save(const distill_model *m, const char *path)
{
    distill__writer w;
    if (!m)
        return DISTILL_E_INVAL;
    if (!path)
        return distill__fail(m->ctx, DISTILL_E_INVAL, "distill_model_save: path is NULL");
    distill__writer_init(&w, m->ctx);
    distill__model_put(&w, m);
    return distill__writer_commit(&w, path);
}

void distill__model_put(distill__writer *w, const distill_model *m)
{
    put_spec(w, m);
    put_array(w, SEC_PARAMS, m->params, m->n_params);
    put_array(w, SEC_BUFFERS, m->buffers, m->n_buffers);
}

/* The spec section into caller storage (layers: at most 4096). */
static distill_status get_spec(distill_context *ctx, distill__cursor *c, distill_model_options *o,
                               distill_layer_spec *layers)
{
    uint32_t n = distill__get_u32(c), i;
    if (n < 1 || n > 4096)
        return distill__fail(ctx, DISTILL_E_FORMAT, "model file: %u layers", (unsigned)n);
    distill_model_options_init(o);
    o->in_c = distill__get_i64(c), o->in_h = distill__get_i64(c), o->in_w = distill__get_i64(c);
    for (i = 0; i < n; i++) {
        distill_layer_spec *s = &layers[i];
        distill_layer_spec_init(s, (int32_t)distill__get_u32(c));
        s->units = distill__get_i64(c);
        s->kernel = (int32_t)distill__get_u32(c), s->stride = (int32_t)distill__get_u32(c);
        s->padding = (int32_t)distill__get_u32(c), s->bias = (int32_t)distill__get_u32(c);
        s->init = (int32_t)distill__get_u32(c);
        s->init_gain = distill__get_f32(c), s->momentum = distill__get_f32(c);
        s->eps = distill__get_f32(c);
    }
    if (c->bad || c->p != c->end)
        return distill__fail(ctx, DISTILL_E_FORMAT, "model file: the spec section has the wrong length");
    o->layers = layers, o->n_layers = n;
    return DISTILL_OK;
}

/* A float array section: its count, and the cursor at the data. */
static distill_status get_array_header(distill_context *ctx, const unsigned char *buf, size_t len,
                                       uint32_t type, const char *what, distill__cursor *c,
                                       int64_t *count)
{
    if (!distill__container_find(buf, len, type, c))
        return distill__fail(ctx, DISTILL_E_FORMAT, "model file: no %s section", what);
    *count = distill__get_i64(c);
    if (c->bad || *count < 0 || (c->end - c->p) / 4 != *count || (c->end - c->p) % 4 != 0)
        return distill__fail(ctx, DISTILL_E_FORMAT, "model file: the %s section has the wrong length", what);
    return DISTILL_OK;
}

static distill_status fill_array(distill_context *ctx, distill__cursor *c, float *x, int64_t n,
                                 const char *what)
{
    int64_t i;
    distill__get_f32s(c, x, n);
    for (i = 0; i < n; i++)
        if (!isfinite(x[i]))
            return distill__fail(ctx, DISTILL_E_FORMAT, "model file: %s[%lld] is not finite", what, (long long)i);
    return DISTILL_OK;
}

distill_status distill_model_load_memory(distill_context *ctx, const void *buf, size_t len,
                                         distill_model **out)
{
    distill_layer_spec *layers;
    distill_model_options o;
    distill__cursor spec, pc, bc;
    int64_t np = 0, nb = 0;
    distill_status st;
    if (!ctx)
        return DISTILL_E_INVAL;
    DISTILL__TRY(distill__check_out(ctx, "distill_model_load_memory", "out", out));
    *out = NULL;
    DISTILL__TRY(distill__container_check(ctx, "model file", buf, len));
    if (!distill__container_find(buf, len, SEC_SPEC, &spec))
        return distill__fail(ctx, DISTILL_E_FORMAT, "model file: no spec section");
    DISTILL__TRY(get_array_header(ctx, buf, len, SEC_PARAMS, "parameter", &pc, &np));
    DISTILL__TRY(get_array_header(ctx, buf, len, SEC_BUFFERS, "buffer", &bc, &nb));
    layers = distill__alloc(ctx, sizeof(distill_layer_spec) * 4096);
    if (!layers)
        return distill__fail(ctx, DISTILL_E_NOMEM, "model file: out of memory");
    st = get_spec(ctx, &spec, &o, layers);
    if (st == DISTILL_OK) {
        st = distill__model_create_expect(ctx, &o, np, nb, out);
        if (st != DISTILL_OK && st != DISTILL_E_NOMEM && st != DISTILL_E_FORMAT) {
            char why[DISTILL__ERRLEN];
            memcpy(why, ctx->last_error, sizeof why);
            st = distill__fail(ctx, DISTILL_E_FORMAT, "model file: invalid spec: %s", why);
        }
    }
    distill__free(ctx, layers);
    if (st == DISTILL_OK)
        st = fill_array(ctx, &pc, (*out)->params, np, "parameter");
    if (st == DISTILL_OK)
        st = fill_array(ctx, &bc, (*out)->buffers, nb, "buffer");
    if (st != DISTILL_OK && *out) {
        distill_model_destroy(*out);
        *out = NULL;
    }
    return st;
}

distill_status distill_model_load(distill_context *ctx, const char *path, distill_model **out)
{
    unsigned char *buf;
    size_t len;
    distill_status st;
    if (!ctx)
        return DISTILL_E_INVAL;
    DISTILL__TRY(distill__check_out(ctx, "distill_model_load", "out", out));
    *out = NULL;
    DISTILL__TRY(distill__read_all(ctx, path, DISTILL__FILE_LIMIT, &buf, &len));
    st = distill_model_load_memory(ctx, buf, len, out);
    distill__free(ctx, buf);
    return st;
}
