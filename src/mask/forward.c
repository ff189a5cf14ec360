/* The masknet's passes: the training network (W (.) M(S_eff) rebuilt at
 * every forward, so an optimiser's step is seen at once), learned tasks
 * through frozen models, and the allocation-free inference. */
#include <string.h>

#include "../core/check.h"
#include "internal.h"

/* Bias-free dense layers of the given widths (the last `last` wide), ReLU
 * between; `bias0`: the first layer has a bias. */
static distill_status make_mlp_out(const distill_masknet *net, int64_t in, int bias0, int64_t last,
                                   distill_model **out)
{
    distill_layer_spec spec[2 * DISTILL_MASK_MAX_LAYERS];
    distill_model_options mo;
    int64_t l, n = 0;
    for (l = 0; l < net->L; l++) {
        distill_layer_spec_init(&spec[n], DISTILL_LAYER_DENSE);
        spec[n].units = l == net->L - 1 ? last : net->out[l], spec[n].bias = l == 0 && bias0;
        spec[n++].init = DISTILL_INIT_ZEROS;
        if (l < net->L - 1)
            distill_layer_spec_init(&spec[n++], DISTILL_LAYER_RELU);
    }
    distill_model_options_init(&mo);
    mo.in_c = in, mo.in_h = mo.in_w = 1, mo.layers = spec, mo.n_layers = n;
    return distill_model_create(net->ctx, &mo, out);
}

static distill_status make_mlp(const distill_masknet *net, int64_t in, int bias0, distill_model **out)
{
    return make_mlp_out(net, in, bias0, net->out[net->L - 1], out);
}

distill_status distill__mask_make_work(distill_masknet *net)
{
    DISTILL__TRY(make_mlp(net, net->in[0], 0, &net->work));
    if (distill_model_param_count(net->work) != net->P) /* the layouts must agree */
        return distill__fail(net->ctx, DISTILL_E_INVAL, "distill_masknet_create: internal layout mismatch");
    return DISTILL_OK;
}

/* The work model's weights = W (.) M(s), every layer. */
static void set_work_weights(distill_masknet *net, const float *s)
{
    float *p = distill_model_params(net->work);
    int64_t l;
    for (l = 0; l < net->L; l++)
        distill__mask_weights(net, l, s, p + net->off[l]);
}

distill_status distill__mask_frozen_new(distill_masknet *net, distill_model **out)
{
    return make_mlp(net, net->o.inputs, net->o.task_input, out);
}

void distill__mask_freeze_into(distill_masknet *net, int64_t t, const float *s, distill_model *m)
{
    const int label = net->o.task_input;
    const int64_t in = net->o.inputs, o0 = net->out[0], in0 = net->in[0];
    const float *weff = distill_model_params(net->work);
    float *p;
    int64_t r;
    set_work_weights(net, s);
    net->fwd_task = -1; /* the work model's weights are no longer the last forward's */
    p = distill_model_params(m);
    for (r = 0; r < o0; r++) /* layer 0: the observation's columns, then the label's column as the bias */
        memcpy(p + r * in, weff + r * in0, sizeof(float) * (size_t)in);
    for (r = 0; label && r < o0; r++)
        p[o0 * in + r] = weff[r * in0 + in + t];
    if (net->L > 1) /* the other layers as they are */
        memcpy(p + o0 * in + (label ? o0 : 0), weff + net->off[1], sizeof(float) * (size_t)(net->P - net->off[1]));
}

distill_status distill__mask_freeze(distill_masknet *net, int64_t t, const float *s, distill_model **out)
{
    *out = NULL;
    DISTILL__TRY(distill__mask_frozen_new(net, out));
    distill__mask_freeze_into(net, t, s, *out);
    return DISTILL_OK;
}

static const char fn_forward[] = "distill_masknet_forward";

static distill_status check_task(const distill_masknet *net, const char *fn, int64_t t)
{
    if (t < 0 || t >= net->T || !net->task[t])
        return distill__fail(net->ctx, DISTILL_E_INVAL, "%s: task %lld is not held", fn, (long long)t);
    return DISTILL_OK;
}

/* Room for n rows of [x | label] and of its gradient. */
static distill_status grow(distill_masknet *net, int64_t n)
{
    float *buf;
    if (n <= net->cap)
        return DISTILL_OK;
    DISTILL__TRY(distill__check_count(net->ctx, fn_forward, "rows x inputs", 2 * n, net->in[0], sizeof(float)));
    if (!(buf = distill__alloc_zero(net->ctx, 2 * n * net->in[0], sizeof(float))))
        return distill__fail(net->ctx, DISTILL_E_NOMEM, "%s: out of memory for %lld rows", fn_forward, (long long)n);
    distill__free(net->ctx, net->xaug);
    net->xaug = buf, net->dxaug = buf + n * net->in[0], net->cap = n;
    return DISTILL_OK;
}

static void fill_input(distill_masknet *net, int64_t t, int64_t n, const float *x, int64_t ldx)
{
    const int64_t in = net->o.inputs, in0 = net->in[0];
    int64_t r;
    for (r = 0; r < n; r++) {
        float *row = net->xaug + r * in0;
        memcpy(row, x + r * ldx, sizeof(float) * (size_t)in);
        if (in0 > in) {
            memset(row + in, 0, sizeof(float) * (size_t)(in0 - in));
            row[in + t] = 1.0f;
        }
    }
}

distill_status distill_masknet_forward(distill_masknet *net, int64_t t, int64_t n, const float *x, int64_t ldx,
                                       float *y, int64_t ldy)
{
    if (!net)
        return DISTILL_E_INVAL;
    DISTILL__TRY(check_task(net, fn_forward, t));
    if (n < 1)
        return distill__fail(net->ctx, DISTILL_E_INVAL, "%s: n must be >= 1, got %lld", fn_forward, (long long)n);
    DISTILL__TRY(distill__check_matrix(net->ctx, fn_forward, "x", x, n, net->o.inputs, ldx));
    DISTILL__TRY(distill__check_matrix(net->ctx, fn_forward, "y", y, n, net->o.outputs, ldy));
    DISTILL__TRY(distill__check_finite(net->ctx, fn_forward, "x", x, n, net->o.inputs, ldx));
    net->fwd_task = -1;
    if (net->frozen[t])
        return distill_model_forward(net->frozen[t], DISTILL_MODE_EVAL, n, x, ldx, y, ldy);
    DISTILL__TRY(grow(net, n));
    fill_input(net, t, n, x, ldx);
    set_work_weights(net, distill__mask_effective(net, t));
    DISTILL__TRY(distill_model_forward(net->work, DISTILL_MODE_TRAIN, n, net->xaug, net->in[0], y, ldy));
    net->fwd_task = t, net->fwd_n = n;
    return DISTILL_OK;
}

distill_status distill_masknet_backward(distill_masknet *net, const float *dy, int64_t lddy, float *dx, int64_t lddx,
                                        int accumulate)
{
    static const char fn[] = "distill_masknet_backward";
    const int64_t in = net ? net->o.inputs : 0;
    int64_t n, r, t;
    if (!net)
        return DISTILL_E_INVAL;
    if ((t = net->fwd_task) < 0 || t != net->training)
        return distill__fail(net->ctx, DISTILL_E_INVAL, "%s: the last forward was not on the task in training", fn);
    if (accumulate != 0 && accumulate != 1)
        return distill__fail(net->ctx, DISTILL_E_INVAL, "%s: accumulate is 0 or 1, got %d", fn, accumulate);
    n = net->fwd_n;
    DISTILL__TRY(distill__check_matrix(net->ctx, fn, "dy", dy, n, net->o.outputs, lddy));
    DISTILL__TRY(distill__check_optional(net->ctx, fn, "dx", dx, n, in, lddx));
    DISTILL__TRY(distill_model_backward(net->work, dy, lddy, dx ? net->dxaug : NULL, net->in[0],
                                        DISTILL_BACKWARD_PARAMS));
    /* the forward's composition is still in seff and prob: consolidation,
     * a decode and a freeze end the forward's hold (fwd_task = -1), and an
     * encode of this task recomputes them from the same scores */
    distill__mask_score_grad(net, t, distill__mask_composed(net, t) ? net->seff : net->task[t],
                             distill_model_grads(net->work), net->grad, accumulate);
    for (r = 0; dx && r < n; r++)
        memcpy(dx + r * lddx, net->dxaug + r * net->in[0], sizeof(float) * (size_t)in);
    return DISTILL_OK;
}

distill_status distill_masknet_workspace_size(const distill_masknet *net, int64_t max_batch, size_t *bytes)
{
    /* every frozen model is narrower than the training network */
    return net ? distill_model_workspace_size(net->work, max_batch, bytes) : DISTILL_E_INVAL;
}

distill_status distill_masknet_infer(const distill_masknet *net, int64_t t, void *ws, size_t ws_bytes, int64_t n,
                                     const float *x, int64_t ldx, float *y, int64_t ldy)
{
    if (!net || t < 0 || t >= net->T || !net->frozen[t])
        return DISTILL_E_INVAL;
    return distill_model_infer_checked(net->frozen[t], ws, ws_bytes, n, x, ldx, y, ldy);
}

/* ---- the training task behind distill_network_vtable ----------------------- */

static int net_forward(void *user, int64_t n, const float *x, int64_t ldx, float *y, int64_t ldy)
{
    distill_masknet *net = user;
    return distill_masknet_forward(net, net->training, n, x, ldx, y, ldy) != DISTILL_OK;
}

static int net_backward(void *user, const float *dy, int64_t lddy)
{
    return distill_masknet_backward(user, dy, lddy, NULL, 0, 0) != DISTILL_OK;
}

distill_status distill_masknet_network(distill_masknet *net, distill_network_vtable *out)
{
    static const char fn[] = "distill_masknet_network";
    if (!net)
        return DISTILL_E_INVAL;
    DISTILL__TRY(distill__check_out(net->ctx, fn, "out", out));
    if (net->training < 0)
        return distill__fail(net->ctx, DISTILL_E_INVAL, "%s: no task is in training", fn);
    memset(out, 0, sizeof *out);
    out->struct_size = sizeof *out, out->user = net;
    out->inputs = net->o.inputs, out->outputs = net->o.outputs, out->n_params = net->block;
    out->params = net->task[net->training], out->grads = net->grad;
    out->forward = net_forward, out->backward = net_backward;
    return DISTILL_OK;
}

distill_status distill_masknet_policy(const distill_masknet *net, int64_t t, int64_t n_actions, int32_t mode,
                                      float temperature, distill_policy **out)
{
    static const char fn[] = "distill_masknet_policy";
    distill_space space;
    distill_model *m;
    distill_status st;
    int64_t from, count, to, tcount, l;
    if (!net)
        return DISTILL_E_INVAL;
    DISTILL__TRY(distill__check_out(net->ctx, fn, "out", out));
    *out = NULL;
    if (t < 0 || t >= net->T || !net->frozen[t])
        return distill__fail(net->ctx, DISTILL_E_INVAL, "%s: task %lld is not learned", fn, (long long)t);
    if (n_actions < 2 || n_actions > net->o.outputs)
        return distill__fail(net->ctx, DISTILL_E_INVAL, "%s: n_actions must be in [2, %lld], got %lld", fn,
                             (long long)net->o.outputs, (long long)n_actions);
    DISTILL__TRY(make_mlp_out(net, net->o.inputs, net->o.task_input, n_actions, &m));
    for (l = 0; l < 2 * net->L - 1; l += 2) { /* the dense layers; the last keeps its first n_actions rows */
        st = distill_model_layer_params(net->frozen[t], l, &from, &count);
        if (st == DISTILL_OK)
            st = distill_model_layer_params(m, l, &to, &tcount);
        if (st != DISTILL_OK) {
            distill_model_destroy(m);
            return st;
        }
        memcpy(distill_model_params(m) + to, distill_model_params(net->frozen[t]) + from,
               sizeof(float) * (size_t)tcount);
        if (l == 2 * net->L - 2 && net->L == 1 && net->o.task_input) /* one layer: its bias after the rows */
            memcpy(distill_model_params(m) + to + tcount - n_actions,
                   distill_model_params(net->frozen[t]) + from + count - net->o.outputs, sizeof(float) * (size_t)n_actions);
    }
    memset(&space, 0, sizeof space);
    space.struct_size = sizeof space, space.kind = DISTILL_SPACE_DISCRETE, space.n = n_actions;
    st = distill_policy_from_model(net->ctx, m, &space, mode, temperature, out);
    distill_model_destroy(m);
    return st;
}
