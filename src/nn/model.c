/* Building models: the layer spec, shapes, the flat parameter layout,
 * initialisation, clones and parameter copies. */
#include <math.h>
#include <string.h>

#include "../core/abi.h"
#include "../core/check.h"
#include "internal.h"

/* 2^40 random words per layer: far more than any layer's initialiser draws. */
#define LAYER_WORDS ((uint64_t)1 << 40)
/* Bounds that keep every size product far from overflow (and a hostile
 * file from asking for absurd memory). */
#define MAX_DIM ((int64_t)1 << 28)
#define MAX_WINDOW 4096
#define MAX_PARAMS ((int64_t)1 << 32)

void distill_layer_spec_init(distill_layer_spec *spec, int32_t kind)
{
    if (!spec)
        return;
    memset(spec, 0, sizeof *spec);
    spec->struct_size = (uint32_t)sizeof *spec;
    spec->kind = kind;
    spec->bias = 1;
    spec->init = DISTILL_INIT_DEFAULT;
}

size_t distill_layer_spec_size(void) { return sizeof(distill_layer_spec); }
size_t distill_model_options_size(void) { return sizeof(distill_model_options); }

void distill_model_options_init(distill_model_options *opts)
{
    if (!opts)
        return;
    memset(opts, 0, sizeof *opts);
    opts->struct_size = (uint32_t)sizeof *opts;
    opts->in_c = opts->in_h = opts->in_w = 1;
}

/* c, h, w >= 1 with c*h*w <= MAX_DIM, tested without overflowing. */
static int shape_fits(int64_t c, int64_t h, int64_t w)
{
    return c >= 1 && h >= 1 && w >= 1 && c <= MAX_DIM && h <= MAX_DIM && w <= MAX_DIM &&
           h <= MAX_DIM / w && c <= MAX_DIM / (h * w);
}

/* Table entries for layers that have nothing of the kind. */
int64_t distill__nn_none(const nn_layer *l)
{
    (void)l;
    return 0;
}

int64_t distill__nn_none_n(const nn_layer *l, int64_t n)
{
    (void)l, (void)n;
    return 0;
}

void distill__nn_no_init(nn_layer *l, float *p, float *buf, distill__rng *r)
{
    (void)l, (void)p, (void)buf, (void)r;
}

static const nn_ops *ops_of(int32_t kind)
{
    switch (kind) {
    case DISTILL_LAYER_DENSE: return &distill__dense_ops;
    case DISTILL_LAYER_CONV2D: return &distill__conv2d_ops;
    case DISTILL_LAYER_AVGPOOL: return &distill__avgpool_ops;
    case DISTILL_LAYER_MAXPOOL: return &distill__maxpool_ops;
    case DISTILL_LAYER_BATCHNORM: return &distill__batchnorm_ops;
    case DISTILL_LAYER_LAYERNORM: return &distill__layernorm_ops;
    case DISTILL_LAYER_RELU:
    case DISTILL_LAYER_TANH:
    case DISTILL_LAYER_SIGMOID:
    case DISTILL_LAYER_GELU:
    case DISTILL_LAYER_MISH:
    case DISTILL_LAYER_SOFTPLUS: return &distill__activation_ops;
    case DISTILL_LAYER_FLATTEN: return &distill__flatten_ops;
    case DISTILL_LAYER_RESIDUAL_MLP: return &distill__residual_ops;
    default: return NULL;
    }
}

/* Which layout the layer takes and gives (see nn_layer). */
static void layouts(nn_layer *l, int cf)
{
    switch (l->spec.kind) {
    case DISTILL_LAYER_CONV2D:
        l->cf_in = cf, l->cf_out = 1;
        break;
    case DISTILL_LAYER_DENSE:
    case DISTILL_LAYER_LAYERNORM:
    case DISTILL_LAYER_FLATTEN:
    case DISTILL_LAYER_RESIDUAL_MLP:
        l->cf_in = 0, l->cf_out = 0;
        break;
    default: /* element-wise, pooling, batch norm */
        l->cf_in = cf, l->cf_out = cf;
    }
}

/* Copy and check the spec, infer shapes, lay out parameters and buffers. */
static distill_status plan_layers(distill_model *m, const distill_model_options *o)
{
    /* the array's stride is the size its caller was built with */
    const size_t stride = distill__struct_size_of(&o->layers[0]);
    int64_t c = o->in_c, h = o->in_h, w = o->in_w, i;
    for (i = 0; i < m->n_layers; i++) {
        nn_layer *l = &m->layers[i];
        const void *given = (const char *)o->layers + (size_t)i * stride;
        if (distill__struct_size_of(given) != stride)
            return distill__fail(m->ctx, DISTILL_E_ABI, "distill_model_create: layer %lld has struct_size "
                                 "%zu, layer 0 %zu", (long long)i, distill__struct_size_of(given), stride);
        distill_layer_spec_init(&l->spec, DISTILL_LAYER_DENSE);
        DISTILL__TRY(distill__struct_read(m->ctx, "distill_model_create", "layer spec", given,
                                          sizeof l->spec, sizeof l->spec, &l->spec));
        l->ops = ops_of(l->spec.kind);
        if (!l->ops || l->spec.bias < 0 || l->spec.bias > 1 || l->spec.init < 0 ||
            l->spec.init > DISTILL_INIT_GLOROT_UNIFORM)
            return distill__fail(m->ctx, DISTILL_E_INVAL, "distill_model_create: layer %lld: unknown kind %d, bias or init",
                                 (long long)i, (int)l->spec.kind);
        if (l->spec.units < 0 || l->spec.units > MAX_DIM || l->spec.kernel < 0 ||
            l->spec.kernel > MAX_WINDOW || l->spec.stride < 0 || l->spec.stride > MAX_WINDOW ||
            l->spec.padding < 0 || l->spec.padding > MAX_WINDOW || !(l->spec.eps >= 0.0f) ||
            !(l->spec.momentum >= 0.0f && l->spec.momentum <= 1.0f) || !isfinite(l->spec.init_gain))
            return distill__fail(m->ctx, DISTILL_E_INVAL, "distill_model_create: layer %lld: size, window, eps, momentum or gain out of range",
                                 (long long)i);
        l->in_c = c, l->in_h = h, l->in_w = w, l->in_dim = c * h * w;
        layouts(l, i > 0 ? m->layers[i - 1].cf_out : 0);
        if (l->ops->shape(l) != DISTILL_OK)
            return distill__fail(m->ctx, DISTILL_E_SHAPE,
                                 "distill_model_create: layer %lld (kind %d) cannot take a %lld x %lld x %lld input",
                                 (long long)i, (int)l->spec.kind, (long long)c, (long long)h, (long long)w);
        c = l->out_c, h = l->out_h, w = l->out_w;
        if (!shape_fits(c, h, w))
            return distill__fail(m->ctx, DISTILL_E_SHAPE, "distill_model_create: layer %lld is too large", (long long)i);
        l->out_dim = c * h * w;
        l->p_off = m->n_params, l->p_count = l->ops->param_count(l);
        l->b_off = m->n_buffers, l->b_count = l->ops->buffer_count(l);
        m->n_params += l->p_count, m->n_buffers += l->b_count;
        if (l->p_count > MAX_PARAMS || m->n_params > MAX_PARAMS || m->n_buffers > MAX_PARAMS)
            return distill__fail(m->ctx, DISTILL_E_SHAPE, "distill_model_create: more than %lld parameters",
                                 (long long)MAX_PARAMS);
    }
    return DISTILL_OK;
}

static void init_params(distill_model *m)
{
    int64_t i;
    for (i = 0; i < m->n_layers; i++) {
        nn_layer *l = &m->layers[i];
        distill__rng r;
        distill__rng_init(&r, m->ctx->seed, m->stream, (uint64_t)i * LAYER_WORDS);
        l->ops->init(l, m->params + l->p_off, m->buffers + l->b_off, &r);
    }
}

static distill_status alloc_arrays(distill_model *m)
{
    m->layers = distill__alloc(m->ctx, sizeof(nn_layer) * (size_t)m->n_layers);
    if (!m->layers)
        return distill__fail(m->ctx, DISTILL_E_NOMEM, "distill_model_create: out of memory");
    memset(m->layers, 0, sizeof(nn_layer) * (size_t)m->n_layers);
    return DISTILL_OK;
}

static distill_status alloc_params(distill_model *m)
{
    m->params = distill__alloc(m->ctx, sizeof(float) * (size_t)(m->n_params + 1));
    m->grads = distill__alloc(m->ctx, sizeof(float) * (size_t)(m->n_params + 1));
    m->buffers = distill__alloc(m->ctx, sizeof(float) * (size_t)(m->n_buffers + 1));
    if (!m->params || !m->grads || !m->buffers)
        return distill__fail(m->ctx, DISTILL_E_NOMEM, "distill_model_create: cannot allocate %lld parameters",
                             (long long)m->n_params);
    memset(m->grads, 0, sizeof(float) * (size_t)(m->n_params + 1));
    return DISTILL_OK;
}

static distill_model *new_model(distill_context *ctx, int64_t n_layers)
{
    distill_model *m = distill__alloc(ctx, sizeof *m);
    if (!m)
        return NULL;
    memset(m, 0, sizeof *m);
    m->ctx = ctx;
    m->n_layers = n_layers;
    m->stream = distill__new_stream(ctx);
    return m;
}

distill_status distill_model_create(distill_context *ctx, const distill_model_options *opts,
                                    distill_model **out)
{
    return distill__model_create_expect(ctx, opts, -1, -1, out);
}

distill_status distill__model_create_expect(distill_context *ctx, const distill_model_options *opts,
                                            int64_t n_params, int64_t n_buffers, distill_model **out)
{
    static const char fn[] = "distill_model_create";
    distill_model_options o;
    distill_model *m;
    distill_status st;
    if (!ctx)
        return DISTILL_E_INVAL;
    DISTILL__TRY(distill__check_out(ctx, fn, "out", out));
    *out = NULL;
    if (!opts)
        return distill__fail(ctx, DISTILL_E_INVAL, "%s: options are NULL", fn);
    distill_model_options_init(&o);
    DISTILL__TRY(distill__struct_read(ctx, fn, "options", opts, sizeof o, sizeof o, &o));
    opts = &o;
    if (!opts->layers || opts->n_layers < 1)
        return distill__fail(ctx, DISTILL_E_INVAL, "%s: need options with at least one layer", fn);
    if (opts->n_layers > 4096 || !shape_fits(opts->in_c, opts->in_h, opts->in_w))
        return distill__fail(ctx, DISTILL_E_INVAL, "%s: bad input shape or layer count", fn);
    if (!(m = new_model(ctx, opts->n_layers)))
        return distill__fail(ctx, DISTILL_E_NOMEM, "%s: out of memory", fn);
    m->in_c = opts->in_c, m->in_h = opts->in_h, m->in_w = opts->in_w;
    st = alloc_arrays(m);
    if (st == DISTILL_OK)
        st = plan_layers(m, opts);
    if (st == DISTILL_OK && ((n_params >= 0 && n_params != m->n_params) ||
                             (n_buffers >= 0 && n_buffers != m->n_buffers)))
        st = distill__fail(ctx, DISTILL_E_FORMAT, "%s: the spec has %lld parameters and %lld buffers, the data %lld and %lld",
                           fn, (long long)m->n_params, (long long)m->n_buffers, (long long)n_params,
                           (long long)n_buffers);
    if (st == DISTILL_OK)
        st = alloc_params(m);
    if (st != DISTILL_OK) {
        distill_model_destroy(m);
        return st;
    }
    init_params(m);
    *out = m;
    return DISTILL_OK;
}

void distill_model_destroy(distill_model *m)
{
    distill_context *ctx;
    if (!m)
        return;
    ctx = m->ctx;
    distill__model_release_training(m);
    distill__free(ctx, m->layers);
    distill__free(ctx, m->params);
    distill__free(ctx, m->grads);
    distill__free(ctx, m->buffers);
    distill__free(ctx, m);
}

static int same_spec(const distill_model *a, const distill_model *b)
{
    int64_t i;
    if (a->n_layers != b->n_layers || a->in_c != b->in_c || a->in_h != b->in_h ||
        a->in_w != b->in_w || a->n_params != b->n_params || a->n_buffers != b->n_buffers)
        return 0;
    for (i = 0; i < a->n_layers; i++)
        if (memcmp(&a->layers[i].spec, &b->layers[i].spec, sizeof a->layers[i].spec) != 0)
            return 0;
    return 1;
}

distill_status distill_model_copy_params(distill_model *dst, const distill_model *src)
{
    if (!dst || !src)
        return DISTILL_E_INVAL;
    if (!same_spec(dst, src))
        return distill__fail(dst->ctx, DISTILL_E_SHAPE, "distill_model_copy_params: the models have different specs");
    memcpy(dst->params, src->params, sizeof(float) * (size_t)src->n_params);
    memcpy(dst->buffers, src->buffers, sizeof(float) * (size_t)src->n_buffers);
    return DISTILL_OK;
}

distill_status distill_model_clone(const distill_model *src, distill_model **out)
{
    distill_model *m;
    distill_status st;
    if (!src)
        return DISTILL_E_INVAL;
    DISTILL__TRY(distill__check_out(src->ctx, "distill_model_clone", "out", out));
    *out = NULL;
    if (!(m = new_model(src->ctx, src->n_layers)))
        return distill__fail(src->ctx, DISTILL_E_NOMEM, "distill_model_clone: out of memory");
    m->in_c = src->in_c, m->in_h = src->in_h, m->in_w = src->in_w;
    m->n_params = src->n_params, m->n_buffers = src->n_buffers;
    st = alloc_arrays(m);
    if (st == DISTILL_OK) {
        memcpy(m->layers, src->layers, sizeof(nn_layer) * (size_t)src->n_layers);
        st = alloc_params(m);
    }
    if (st != DISTILL_OK) {
        distill_model_destroy(m);
        return st;
    }
    memcpy(m->params, src->params, sizeof(float) * (size_t)src->n_params);
    memcpy(m->buffers, src->buffers, sizeof(float) * (size_t)src->n_buffers);
    *out = m;
    return DISTILL_OK;
}

distill_status distill_model_reinit(distill_model *m, uint64_t stream)
{
    if (!m)
        return DISTILL_E_INVAL;
    m->stream = stream;
    init_params(m);
    m->has_forward = 0;
    return DISTILL_OK;
}

int64_t distill_model_input_dim(const distill_model *m) { return m ? m->in_c * m->in_h * m->in_w : 0; }
int64_t distill_model_output_dim(const distill_model *m)
{
    return m ? m->layers[m->n_layers - 1].out_dim : 0;
}
int64_t distill_model_n_layers(const distill_model *m) { return m ? m->n_layers : 0; }
float *distill_model_params(distill_model *m) { return m ? m->params : NULL; }
float *distill_model_grads(distill_model *m) { return m ? m->grads : NULL; }
float *distill_model_buffers(distill_model *m) { return m ? m->buffers : NULL; }
int64_t distill_model_param_count(const distill_model *m) { return m ? m->n_params : 0; }
int64_t distill_model_buffer_count(const distill_model *m) { return m ? m->n_buffers : 0; }

void distill_model_zero_grad(distill_model *m)
{
    if (m)
        memset(m->grads, 0, sizeof(float) * (size_t)m->n_params);
}

distill_status distill_model_layer_shape(const distill_model *m, int64_t layer, int64_t *c,
                                         int64_t *h, int64_t *w)
{
    if (!m)
        return DISTILL_E_INVAL;
    if (!c || !h || !w || layer < -1 || layer >= m->n_layers)
        return distill__fail(m->ctx, DISTILL_E_INVAL, "distill_model_layer_shape: layer %lld of %lld "
                             "(-1: the input), or an output pointer is NULL", (long long)layer,
                             (long long)m->n_layers);
    if (layer < 0)
        *c = m->in_c, *h = m->in_h, *w = m->in_w;
    else
        *c = m->layers[layer].out_c, *h = m->layers[layer].out_h, *w = m->layers[layer].out_w;
    return DISTILL_OK;
}

distill_status distill_model_layer_params(const distill_model *m, int64_t layer, int64_t *offset,
                                          int64_t *count)
{
    if (!m)
        return DISTILL_E_INVAL;
    if (!offset || !count || layer < 0 || layer >= m->n_layers)
        return distill__fail(m->ctx, DISTILL_E_INVAL, "distill_model_layer_params: layer %lld of %lld, "
                             "or an output pointer is NULL", (long long)layer, (long long)m->n_layers);
    *offset = m->layers[layer].p_off;
    *count = m->layers[layer].p_count;
    return DISTILL_OK;
}

int64_t distill_convnet_layers(int64_t blocks, int64_t width, int batchnorm, distill_layer_spec *out,
                               int64_t cap)
{
    const int64_t per = batchnorm ? 4 : 3;
    int64_t i, k = 0;
    if (!out || blocks < 1 || blocks > 16 || width < 1 || width > ((int64_t)1 << 20) || cap < per * blocks + 1)
        return 0;
    for (i = 0; i < blocks; i++) {
        distill_layer_spec_init(&out[k], DISTILL_LAYER_CONV2D);
        out[k].units = width << i, out[k].kernel = 3, out[k].padding = 1;
        k++;
        if (batchnorm)
            distill_layer_spec_init(&out[k++], DISTILL_LAYER_BATCHNORM);
        distill_layer_spec_init(&out[k++], DISTILL_LAYER_RELU);
        distill_layer_spec_init(&out[k], DISTILL_LAYER_AVGPOOL);
        out[k++].kernel = 2;
    }
    distill_layer_spec_init(&out[k++], DISTILL_LAYER_FLATTEN);
    return k;
}
