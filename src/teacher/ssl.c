/* Barlow Twins training of an encoder (ssl.h): two augmented views of a
 * batch go through encoder and projector as one batch of 2n; the loss is
 * distill_barlow_twins_loss_grad (src/kernels/barlow.c). */
#include <string.h>

#include "../core/abi.h"
#include "../core/internal.h"
#include "distill/kernels.h"
#include "distill/optim.h"
#include "distill/ssl.h"

void distill_ssl_options_init(distill_ssl_options *o)
{
    if (!o)
        return;
    memset(o, 0, sizeof *o);
    o->struct_size = sizeof *o;
    o->epochs = 10, o->batch = 256, o->projector = 512;
    o->lambda = 5e-3, o->lr = 1e-3, o->weight_decay = 1e-5;
    o->augment_crop_pad = 2, o->augment_flip = 1, o->augment_noise = 0.1;
}

size_t distill_ssl_options_size(void) { return sizeof(distill_ssl_options); }

typedef struct bt {
    distill_context *ctx;
    const distill_ssl_options *o;
    distill_model *enc, *proj;
    distill_optimizer *oe, *op;
    int64_t c, h, w, dim, d, p, n;
    uint64_t stream;
    float *x, *f, *df, *z, *dz;
    void *ws;
    size_t ws_bytes;
} bt;

static distill_status projector(bt *t)
{
    distill_layer_spec l[4];
    distill_model_options mo;
    distill_layer_spec_init(&l[0], DISTILL_LAYER_DENSE);
    l[0].units = t->p;
    distill_layer_spec_init(&l[1], DISTILL_LAYER_BATCHNORM);
    distill_layer_spec_init(&l[2], DISTILL_LAYER_RELU);
    distill_layer_spec_init(&l[3], DISTILL_LAYER_DENSE);
    l[3].units = t->p;
    distill_model_options_init(&mo);
    mo.in_c = t->d, mo.in_h = mo.in_w = 1, mo.layers = l, mo.n_layers = 4;
    return distill_model_create(t->ctx, &mo, &t->proj);
}

static distill_status adam(bt *t, const distill_model *m, int64_t steps, distill_optimizer **out)
{
    distill_optimizer_options oo;
    distill_optimizer_options_init(&oo);
    oo.kind = DISTILL_OPTIM_ADAMW, oo.lr = t->o->lr, oo.weight_decay = t->o->weight_decay;
    oo.schedule = DISTILL_SCHEDULE_COSINE, oo.total_steps = steps;
    return distill_optimizer_create(t->ctx, &oo, distill_model_param_count(m), out);
}

static distill_status setup(bt *t, int64_t steps)
{
    const int64_t n2 = 2 * t->n;
    DISTILL__TRY(projector(t));
    DISTILL__TRY(adam(t, t->enc, steps, &t->oe));
    DISTILL__TRY(adam(t, t->proj, steps, &t->op));
    DISTILL__TRY(distill_barlow_twins_workspace_size(t->n, t->p, &t->ws_bytes));
    t->x = distill__alloc(t->ctx, sizeof(float) * (size_t)(n2 * t->dim));
    t->f = distill__alloc(t->ctx, sizeof(float) * (size_t)(n2 * t->d));
    t->df = distill__alloc(t->ctx, sizeof(float) * (size_t)(n2 * t->d));
    t->z = distill__alloc(t->ctx, sizeof(float) * (size_t)(n2 * t->p));
    t->dz = distill__alloc(t->ctx, sizeof(float) * (size_t)(n2 * t->p));
    t->ws = distill__alloc(t->ctx, t->ws_bytes);
    if (!t->x || !t->f || !t->df || !t->z || !t->dz || !t->ws)
        return distill__fail(t->ctx, DISTILL_E_NOMEM, "distill_barlow_twins_train: out of memory");
    return DISTILL_OK;
}

static void teardown(bt *t)
{
    distill_model_destroy(t->proj);
    distill_optimizer_destroy(t->oe), distill_optimizer_destroy(t->op);
    distill__free(t->ctx, t->x), distill__free(t->ctx, t->f), distill__free(t->ctx, t->df);
    distill__free(t->ctx, t->z), distill__free(t->ctx, t->dz), distill__free(t->ctx, t->ws);
}

/* Views 0 and 1 of the n images in x[0 .. n): copies, each augmented with
 * its own draws (step t). */
static distill_status views(bt *t, int64_t n, int64_t step)
{
    const distill_ssl_options *o = t->o;
    int v;
    memcpy(t->x + n * t->dim, t->x, sizeof(float) * (size_t)(n * t->dim));
    for (v = 0; v < 2; v++) {
        float *xv = t->x + v * n * t->dim;
        const uint64_t off = ((uint64_t)step * 2 + (uint64_t)v) << 24;
        if (o->augment_crop_pad > 0)
            DISTILL__TRY(distill_augment_crop(t->ctx, t->stream, off, n, t->c, t->h, t->w, o->augment_crop_pad, xv));
        if (o->augment_flip)
            DISTILL__TRY(distill_augment_flip(t->ctx, t->stream, off + (1u << 22), n, t->c, t->h, t->w, 0.5f, xv));
        if (o->augment_noise > 0)
            DISTILL__TRY(distill_augment_noise(t->ctx, t->stream, off + (2u << 22), n, t->dim, (float)o->augment_noise, xv));
    }
    return DISTILL_OK;
}

static distill_status step(bt *t, int64_t n, int64_t s, float *loss)
{
    const int64_t d = t->d, p = t->p;
    DISTILL__TRY(views(t, n, s));
    DISTILL__TRY(distill_model_forward(t->enc, DISTILL_MODE_TRAIN, 2 * n, t->x, t->dim, t->f, d));
    DISTILL__TRY(distill_model_forward(t->proj, DISTILL_MODE_TRAIN, 2 * n, t->f, d, t->z, p));
    DISTILL__TRY(distill_barlow_twins_loss_grad(t->ctx, n, p, t->z, p, t->z + n * p, p, (float)t->o->lambda,
                                                loss, t->dz, p, t->dz + n * p, p, t->ws, t->ws_bytes));
    DISTILL__TRY(distill_model_backward(t->proj, t->dz, p, t->df, d, DISTILL_BACKWARD_PARAMS));
    DISTILL__TRY(distill_model_backward(t->enc, t->df, d, NULL, 0, DISTILL_BACKWARD_PARAMS));
    DISTILL__TRY(distill_optimizer_step(t->oe, distill_model_params(t->enc), distill_model_grads(t->enc)));
    return distill_optimizer_step(t->op, distill_model_params(t->proj), distill_model_grads(t->proj));
}

static distill_status train(bt *t, distill_dataset *ds, int64_t steps, float *final_loss)
{
    const int64_t nb = distill_dataset_batches(ds, t->n);
    double sum = 0;
    int64_t s, n, count = 0;
    for (s = 0; s < steps; s++) {
        float l;
        DISTILL__TRY(distill_dataset_batch(ds, s / nb, s % nb, t->n, t->x, t->dim, NULL, 0, NULL, &n));
        if (n < 2)
            continue; /* a last batch of one image has no statistics */
        DISTILL__TRY(step(t, n, s, &l));
        if (s / nb == (steps - 1) / nb)
            sum += l, count++;
        DISTILL__TRY(distill__progress(t->ctx, "barlow twins", s + 1, steps));
    }
    if (final_loss)
        *final_loss = count ? (float)(sum / (double)count) : 0.0f;
    return DISTILL_OK;
}

distill_status distill_barlow_twins_train(distill_context *ctx, const distill_ssl_options *o,
                                          distill_model *encoder, distill_dataset *images,
                                          float *final_loss)
{
    static const char fn[] = "distill_barlow_twins_train";
    distill_ssl_options oc;
    bt t;
    distill_status st;
    int64_t steps;
    if (!ctx)
        return DISTILL_E_INVAL;
    if (!o || !encoder || !images)
        return distill__fail(ctx, DISTILL_E_INVAL, "%s: opts, encoder and images must not be NULL", fn);
    distill_ssl_options_init(&oc);
    DISTILL__TRY(distill__struct_read(ctx, fn, "options", o, sizeof oc, sizeof oc, &oc));
    o = &oc;
    if (o->epochs < 1 || o->batch < 2 || o->projector < 1 || !(o->lambda >= 0) || !(o->lr > 0) ||
        o->augment_crop_pad < 0 || !(o->augment_noise >= 0))
        return distill__fail(ctx, DISTILL_E_INVAL, "%s: need epochs >= 1, batch >= 2, projector >= 1, "
                             "lambda >= 0, lr > 0", fn);
    if (distill_dataset_x_dim(images) != distill_model_input_dim(encoder))
        return distill__fail(ctx, DISTILL_E_SHAPE, "%s: the images have %lld values, the encoder takes %lld",
                             fn, (long long)distill_dataset_x_dim(images), (long long)distill_model_input_dim(encoder));
    memset(&t, 0, sizeof t);
    t.ctx = ctx, t.o = o, t.enc = encoder, t.p = o->projector;
    t.n = o->batch < distill_dataset_count(images) ? o->batch : distill_dataset_count(images);
    distill_dataset_shape(images, &t.c, &t.h, &t.w);
    t.dim = t.c * t.h * t.w, t.d = distill_model_output_dim(encoder);
    t.stream = distill__new_stream(ctx);
    steps = o->epochs * distill_dataset_batches(images, t.n);
    st = setup(&t, steps);
    if (st == DISTILL_OK)
        st = train(&t, images, steps, final_loss);
    teardown(&t);
    return st;
}
