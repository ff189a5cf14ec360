/* KRR-ST's model pool (spec 1.4): M networks, each trained by full-batch
 * MSE on the current synthetic set for up to T steps, then re-initialised. */
#include <string.h>

#include "krrst_internal.h"

distill_status distill__krrst_feature_model(distill_krrst *s, uint64_t stream, distill_model **out)
{
    distill_model_options mo;
    distill_status st;
    distill_model_options_init(&mo);
    mo.in_c = s->c, mo.in_h = s->h, mo.in_w = s->w;
    mo.layers = s->spec, mo.n_layers = s->n_spec;
    DISTILL__TRY(distill_model_create(s->ctx, &mo, out));
    if ((st = distill_model_reinit(*out, stream)) != DISTILL_OK) {
        distill_model_destroy(*out), *out = NULL;
        return st;
    }
    return DISTILL_OK;
}

static distill_status head_model(distill_krrst *s, distill_model **out)
{
    distill_layer_spec dense;
    distill_model_options mo;
    distill_layer_spec_init(&dense, DISTILL_LAYER_DENSE);
    dense.units = s->k;
    distill_model_options_init(&mo);
    mo.in_c = s->d, mo.in_h = 1, mo.in_w = 1, mo.layers = &dense, mo.n_layers = 1;
    return distill_model_create(s->ctx, &mo, out);
}

static distill_status sgd(distill_krrst *s, const distill_model *m, distill_optimizer **out)
{
    distill_optimizer_options oo;
    distill_optimizer_options_init(&oo);
    oo.kind = DISTILL_OPTIM_SGD;
    oo.lr = s->o.pool_lr, oo.momentum = s->o.pool_momentum, oo.weight_decay = s->o.pool_weight_decay;
    return distill_optimizer_create(s->ctx, &oo, distill_model_param_count(m), out);
}

distill_status distill__krrst_net_reinit(distill_krrst *s, int64_t j)
{
    krrst_net *net = &s->pool[j];
    const uint64_t inits = (uint64_t)net->inits++;
    DISTILL__TRY(distill_model_reinit(net->feat, distill__krrst_stream(s->stream, KRRST_NET, (uint64_t)j, 2 * inits)));
    DISTILL__TRY(distill_model_reinit(net->head, distill__krrst_stream(s->stream, KRRST_NET, (uint64_t)j, 2 * inits + 1)));
    distill_optimizer_reset(net->opt_feat);
    distill_optimizer_reset(net->opt_head);
    return DISTILL_OK;
}

distill_status distill__krrst_net_train(distill_krrst *s, int64_t j)
{
    krrst_net *net = &s->pool[j];
    const int64_t m = s->o.m, k = s->k, d = s->d;
    const float *x = s->xy, *y = s->xy + m * s->dim;
    float loss;
    DISTILL__TRY(distill_model_forward(net->feat, DISTILL_MODE_TRAIN, m, x, s->dim, s->dfeat, d));
    DISTILL__TRY(distill_model_forward(net->head, DISTILL_MODE_TRAIN, m, s->dfeat, d, s->head_out, k));
    DISTILL__TRY(distill_mse_loss_grad(s->ctx, m, k, s->head_out, k, y, k, &loss, s->dhead, k));
    DISTILL__TRY(distill_model_backward(net->head, s->dhead, k, s->dfeat, d, DISTILL_BACKWARD_PARAMS));
    DISTILL__TRY(distill_model_backward(net->feat, s->dfeat, d, NULL, 0, DISTILL_BACKWARD_PARAMS));
    DISTILL__TRY(distill_optimizer_step(net->opt_feat, distill_model_params(net->feat),
                                        distill_model_grads(net->feat)));
    DISTILL__TRY(distill_optimizer_step(net->opt_head, distill_model_params(net->head),
                                        distill_model_grads(net->head)));
    net->t++;
    return DISTILL_OK;
}

distill_status distill__krrst_pool_update(distill_krrst *s, int64_t j)
{
    krrst_net *net = &s->pool[j];
    if (net->t < s->o.pool_period)
        return distill__krrst_net_train(s, j);
    DISTILL__TRY(distill__krrst_net_reinit(s, j));
    if (!s->o.pool_reference) /* the paper's pool; the reference code never resets t */
        net->t = 0;
    return DISTILL_OK;
}

static distill_status net_create(distill_krrst *s, int64_t j)
{
    krrst_net *net = &s->pool[j];
    DISTILL__TRY(distill__krrst_feature_model(s, distill__krrst_stream(s->stream, KRRST_NET, (uint64_t)j, 0), &net->feat));
    DISTILL__TRY(head_model(s, &net->head));
    DISTILL__TRY(sgd(s, net->feat, &net->opt_feat));
    DISTILL__TRY(sgd(s, net->head, &net->opt_head));
    return distill__krrst_net_reinit(s, j);
}

/* Each network starts trained for t ~ U{1, ..., T-1} steps. */
distill_status distill__krrst_pool_create(distill_krrst *s)
{
    const int64_t M = s->o.pool_size, T = s->o.pool_period;
    int64_t j, i, total = 0, done = 0, *t0;
    /* zeroed at once: distill__krrst_pool_free may see it after any failure */
    if ((s->pool = distill__alloc(s->ctx, sizeof(krrst_net) * (size_t)M)))
        memset(s->pool, 0, sizeof(krrst_net) * (size_t)M);
    t0 = distill__alloc(s->ctx, sizeof(int64_t) * (size_t)M);
    if (!s->pool || !t0) {
        distill__free(s->ctx, t0);
        return distill__fail(s->ctx, DISTILL_E_NOMEM, "distill_krrst_create: out of memory for the pool");
    }
    for (j = 0; j < M; j++) {
        uint32_t r = distill_random_bits(s->ctx, distill__krrst_stream(s->stream, KRRST_INIT, 1, 0), (uint64_t)j);
        t0[j] = T > 1 ? 1 + (int64_t)(r % (uint32_t)(T - 1)) : 0;
        total += t0[j];
    }
    for (j = 0; j < M; j++) {
        distill_status st = net_create(s, j);
        for (i = 0; st == DISTILL_OK && i < t0[j]; i++, done++)
            if ((st = distill__krrst_net_train(s, j)) == DISTILL_OK)
                st = distill__progress(s->ctx, "krrst pool", done + 1, total);
        if (st != DISTILL_OK) {
            distill__free(s->ctx, t0);
            return st;
        }
    }
    distill__free(s->ctx, t0);
    return DISTILL_OK;
}

void distill__krrst_pool_free(distill_krrst *s)
{
    int64_t j;
    if (!s->pool)
        return;
    for (j = 0; j < s->o.pool_size; j++) {
        distill_model_destroy(s->pool[j].feat), distill_model_destroy(s->pool[j].head);
        distill_optimizer_destroy(s->pool[j].opt_feat), distill_optimizer_destroy(s->pool[j].opt_head);
    }
    distill__free(s->ctx, s->pool);
    s->pool = NULL;
}
