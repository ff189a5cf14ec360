/* The masknet handle: options, the backbone, tasks and consolidation. */
#include <math.h>
#include <string.h>
#include <zlib.h>

#include "../core/abi.h"
#include "../core/check.h"
#include "../core/rng.h"
#include "internal.h"

#define SCORE_PURPOSE 0x6d736b73ULL /* "mskS" */

static const char fn_create[] = "distill_masknet_create";

size_t distill_masknet_options_size(void) { return sizeof(distill_masknet_options); }

void distill_masknet_options_init(distill_masknet_options *o)
{
    if (!o)
        return;
    memset(o, 0, sizeof *o);
    o->struct_size = sizeof *o;
    o->binarize = DISTILL_MASK_THRESHOLD;
    o->hidden = 64;
    o->layers = 3;
    o->max_tasks = 8;
    o->task_input = 1;
    o->compose = DISTILL_MASK_RI;
    o->backbone_seed = 9157;
    o->topk = 0.5;
}

static distill_status check_options(distill_context *ctx, const distill_masknet_options *o)
{
    if (o->binarize < DISTILL_MASK_THRESHOLD || o->binarize > DISTILL_MASK_TOPK)
        return distill__fail(ctx, DISTILL_E_INVAL, "%s: binarize must be DISTILL_MASK_THRESHOLD, _CONTINUOUS or "
                             "_TOPK, got %d", fn_create, (int)o->binarize);
    if (o->compose < DISTILL_MASK_RI || o->compose > DISTILL_MASK_BLC)
        return distill__fail(ctx, DISTILL_E_INVAL, "%s: compose must be DISTILL_MASK_RI, _LC or _BLC, got %d",
                             fn_create, (int)o->compose);
    if (o->inputs < 1 || o->outputs < 1 || o->inputs > ((int64_t)1 << 24) || o->outputs > ((int64_t)1 << 24))
        return distill__fail(ctx, DISTILL_E_INVAL, "%s: inputs and outputs must be in [1, 2^24], got %lld and %lld",
                             fn_create, (long long)o->inputs, (long long)o->outputs);
    if (o->hidden < 1 || o->hidden > 65536 || o->layers < 0 || o->layers > DISTILL_MASK_MAX_LAYERS - 1)
        return distill__fail(ctx, DISTILL_E_INVAL, "%s: hidden must be in [1, 65536] and layers in [0, %d], got "
                             "%lld and %lld", fn_create, DISTILL_MASK_MAX_LAYERS - 1, (long long)o->hidden,
                             (long long)o->layers);
    if (o->max_tasks < 1 || o->max_tasks > DISTILL_MASK_MAX_TASKS)
        return distill__fail(ctx, DISTILL_E_INVAL, "%s: max_tasks must be in [1, %d], got %lld", fn_create,
                             DISTILL_MASK_MAX_TASKS, (long long)o->max_tasks);
    if (o->task_input != 0 && o->task_input != 1)
        return distill__fail(ctx, DISTILL_E_INVAL, "%s: task_input is 0 or 1, got %d", fn_create,
                             (int)o->task_input);
    if (!(o->topk > 0.0 && o->topk <= 1.0))
        return distill__fail(ctx, DISTILL_E_INVAL, "%s: topk must be in (0, 1], got %g", fn_create, o->topk);
    return DISTILL_OK;
}

/* Shapes and offsets; DISTILL_E_INVAL when a task block would not fit. */
static distill_status layout(distill_masknet *net)
{
    const distill_masknet_options *o = &net->o;
    int64_t l, total = 0;
    net->L = o->layers + 1, net->T = o->max_tasks;
    for (l = 0; l < net->L; l++) {
        net->in[l] = l == 0 ? o->inputs + (o->task_input ? net->T : 0) : o->hidden;
        net->out[l] = l == net->L - 1 ? o->outputs : o->hidden;
        DISTILL__TRY(distill__check_count(net->ctx, fn_create, "layer out x in", net->out[l], net->in[l],
                                          sizeof(float)));
        net->off[l] = total, total += net->out[l] * net->in[l];
        if (total > ((int64_t)1 << 40))
            return distill__fail(net->ctx, DISTILL_E_INVAL, "%s: %lld mask entries per task is too many",
                                 fn_create, (long long)total);
    }
    net->off[net->L] = net->P = total;
    net->block = total + net->L * net->T;
    return DISTILL_OK;
}

/* W = +-sqrt(2 / fan_in), signs from the backbone seed alone, and the hash
 * of the shapes and signs. */
static void make_backbone(distill_masknet *net)
{
    uLong crc = crc32(0L, Z_NULL, 0);
    int64_t l, i;
    for (l = 0; l < net->L; l++) {
        const int64_t n = net->out[l] * net->in[l];
        const float c = sqrtf(2.0f / (float)net->in[l]);
        unsigned char shape[16], byte = 0;
        float *w = net->w + net->off[l];
        distill__rng r;
        for (i = 0; i < 8; i++)
            shape[i] = (unsigned char)((uint64_t)net->out[l] >> (8 * i)),
            shape[8 + i] = (unsigned char)((uint64_t)net->in[l] >> (8 * i));
        crc = crc32(crc, shape, 16);
        distill__rng_init(&r, net->o.backbone_seed, (uint64_t)l, 0);
        for (i = 0; i < n; i++) {
            const unsigned bit = distill__rng_u32(&r) & 1u;
            w[i] = bit ? c : -c;
            byte |= (unsigned char)(bit << (i & 7));
            if ((i & 7) == 7 || i == n - 1)
                crc = crc32(crc, &byte, 1), byte = 0;
        }
    }
    net->hash = (uint32_t)crc;
}

static distill_status alloc_all(distill_masknet *net)
{
    int64_t widest = 0, l;
    for (l = 0; l < net->L; l++)
        widest = net->out[l] * net->in[l] > widest ? net->out[l] * net->in[l] : widest;
    net->w = distill__alloc_zero(net->ctx, net->P, sizeof(float));
    net->task = distill__alloc_zero(net->ctx, net->T, sizeof(float *));
    net->frozen = distill__alloc_zero(net->ctx, net->T, sizeof(distill_model *));
    net->grad = distill__alloc_zero(net->ctx, net->block, sizeof(float));
    net->seff = distill__alloc_zero(net->ctx, net->P, sizeof(float));
    net->scratch_grad = distill__alloc_zero(net->ctx, net->P, sizeof(float));
    net->prob = distill__alloc_zero(net->ctx, net->L * net->T, sizeof(float));
    net->comp = distill__alloc_zero(net->ctx, net->T, sizeof(int64_t));
    net->dots = distill__alloc_zero(net->ctx, net->T, sizeof(double));
    net->scratch = distill__alloc_zero(net->ctx, widest, sizeof(float));
    if (!net->w || !net->task || !net->frozen || !net->grad || !net->seff || !net->scratch_grad || !net->prob ||
        !net->scratch || !net->comp || !net->dots)
        return distill__fail(net->ctx, DISTILL_E_NOMEM, "%s: out of memory (%lld mask entries per task)", fn_create,
                             (long long)net->P);
    make_backbone(net);
    return distill__mask_make_work(net);
}

distill_status distill_masknet_create(distill_context *ctx, const distill_masknet_options *opts,
                                      distill_masknet **out)
{
    distill_masknet *net;
    distill_status st;
    if (!ctx)
        return DISTILL_E_INVAL;
    DISTILL__TRY(distill__check_out(ctx, fn_create, "out", out));
    *out = NULL;
    if (!opts)
        return distill__fail(ctx, DISTILL_E_INVAL, "%s: options are required (inputs and outputs)", fn_create);
    if (!(net = distill__alloc_zero(ctx, 1, sizeof *net)))
        return distill__fail(ctx, DISTILL_E_NOMEM, "%s: out of memory", fn_create);
    net->ctx = ctx, net->training = -1, net->fwd_task = -1;
    distill_masknet_options_init(&net->o);
    st = distill__struct_read(ctx, fn_create, "options", opts, sizeof net->o, sizeof net->o, &net->o);
    if (st == DISTILL_OK)
        st = check_options(ctx, &net->o);
    if (st == DISTILL_OK)
        st = layout(net);
    if (st == DISTILL_OK) {
        net->stream = distill__new_stream(ctx);
        st = alloc_all(net);
    }
    if (st != DISTILL_OK) {
        distill_masknet_destroy(net);
        return st;
    }
    *out = net;
    return DISTILL_OK;
}

void distill_masknet_destroy(distill_masknet *net)
{
    distill_context *ctx;
    int64_t t;
    if (!net)
        return;
    ctx = net->ctx;
    for (t = 0; net->task && t < net->T; t++)
        distill__free(ctx, net->task[t]);
    for (t = 0; net->frozen && t < net->T; t++)
        distill_model_destroy(net->frozen[t]);
    distill_model_destroy(net->work);
    distill_model_destroy(net->spare);
    distill__free(ctx, net->task);
    distill__free(ctx, net->frozen);
    distill__free(ctx, net->w);
    distill__free(ctx, net->grad);
    distill__free(ctx, net->seff);
    distill__free(ctx, net->scratch_grad);
    distill__free(ctx, net->prob);
    distill__free(ctx, net->comp);
    distill__free(ctx, net->dots);
    distill__free(ctx, net->scratch);
    distill__free(ctx, net->xaug);
    distill__free(ctx, net);
}

distill_status distill_masknet_options_get(const distill_masknet *net, distill_masknet_options *opts)
{
    size_t size;
    if (!net || !opts)
        return DISTILL_E_INVAL;
    size = distill__struct_size_of(opts);
    if (size < sizeof(uint32_t) || size > sizeof *opts)
        return DISTILL_E_ABI;
    memcpy(opts, &net->o, size);
    opts->struct_size = (uint32_t)size;
    return DISTILL_OK;
}

int64_t distill_masknet_input_dim(const distill_masknet *net) { return net ? net->o.inputs : 0; }
int64_t distill_masknet_output_dim(const distill_masknet *net) { return net ? net->o.outputs : 0; }
int64_t distill_masknet_n_layers(const distill_masknet *net) { return net ? net->L : 0; }
int64_t distill_masknet_mask_count(const distill_masknet *net) { return net ? net->P : 0; }
uint32_t distill_masknet_backbone_hash(const distill_masknet *net) { return net ? net->hash : 0; }
int64_t distill_masknet_tasks(const distill_masknet *net) { return net ? net->n_tasks : 0; }
int64_t distill_masknet_training_task(const distill_masknet *net) { return net ? net->training : -1; }
int64_t distill_masknet_param_count(const distill_masknet *net) { return net && net->training >= 0 ? net->block : 0; }
float *distill_masknet_params(distill_masknet *net) { return net && net->training >= 0 ? net->task[net->training] : NULL; }
float *distill_masknet_grads(distill_masknet *net) { return net && net->training >= 0 ? net->grad : NULL; }

int32_t distill_masknet_task_learned(const distill_masknet *net, int64_t t)
{
    if (!net || t < 0 || t >= net->T || !net->task[t])
        return -1;
    return net->frozen[t] != NULL;
}

distill_status distill_masknet_layer_shape(const distill_masknet *net, int64_t layer, int64_t *out, int64_t *in)
{
    if (!net || layer < 0 || layer >= net->L)
        return DISTILL_E_INVAL;
    if (out)
        *out = net->out[layer];
    if (in)
        *in = net->in[layer];
    return DISTILL_OK;
}

/* Scores U(+-1/sqrt(fan_in)) (supsup's init); beta's row over the
 * composition and t: LC all equal, BLC half the weight on the new task. */
static void init_block(distill_masknet *net, int64_t t, float *b)
{
    const int64_t k = net->n_comp;
    int64_t l, i, c;
    for (l = 0; l < net->L; l++) {
        const int64_t n = net->out[l] * net->in[l];
        const float bound = 1.0f / sqrtf((float)net->in[l]);
        float *beta = b + net->P + l * net->T;
        distill__rng r;
        distill__rng_init(&r, net->ctx->seed, distill__rng_derive(net->stream, SCORE_PURPOSE, (uint64_t)t,
                                                                  (uint64_t)l), 0);
        for (i = 0; i < n; i++)
            b[net->off[l] + i] = bound * (2.0f * distill__rng_uniform(&r) - 1.0f);
        if (net->o.compose == DISTILL_MASK_RI || k == 0)
            continue;
        beta[t] = net->o.compose == DISTILL_MASK_LC ? 1.0f / (float)(k + 1) : logf(0.5f);
        for (c = 0; c < k; c++)
            beta[net->comp[c]] = net->o.compose == DISTILL_MASK_LC ? 1.0f / (float)(k + 1) : logf(0.5f / (float)k);
    }
}

distill_status distill_masknet_add_task(distill_masknet *net, int64_t t)
{
    static const char fn[] = "distill_masknet_add_task";
    float *b;
    int64_t j;
    if (!net)
        return DISTILL_E_INVAL;
    if (net->training >= 0)
        return distill__fail(net->ctx, DISTILL_E_INVAL, "%s: task %lld is still in training (consolidate it "
                             "first)", fn, (long long)net->training);
    if (t < 0 || t >= net->T || net->task[t])
        return distill__fail(net->ctx, DISTILL_E_INVAL, "%s: task %lld is %s", fn, (long long)t,
                             t < 0 || t >= net->T ? "outside [0, max_tasks)" : "held already");
    if (!net->spare)
        DISTILL__TRY(distill__mask_frozen_new(net, &net->spare)); /* so that consolidation cannot fail for memory */
    if (!(b = distill__alloc_zero(net->ctx, net->block, sizeof(float))))
        return distill__fail(net->ctx, DISTILL_E_NOMEM, "%s: out of memory", fn);
    for (j = 0, net->n_comp = 0; j < net->T && net->o.compose != DISTILL_MASK_RI; j++)
        if (net->frozen[j]) /* the learned tasks of now, fixed for this task's training */
            net->comp[net->n_comp++] = j;
    init_block(net, t, b);
    net->task[t] = b;
    net->training = t, net->n_tasks++;
    net->fwd_task = -1;
    return DISTILL_OK;
}

void distill__mask_drop_training(distill_masknet *net)
{
    if (net->training < 0)
        return;
    distill__free(net->ctx, net->task[net->training]);
    net->task[net->training] = NULL;
    net->training = -1, net->n_tasks--, net->n_comp = 0, net->fwd_task = -1;
}

distill_status distill_masknet_consolidate(distill_masknet *net)
{
    static const char fn[] = "distill_masknet_consolidate";
    distill_model *frozen = NULL;
    const float *s;
    int64_t t;
    if (!net)
        return DISTILL_E_INVAL;
    if ((t = net->training) < 0)
        return distill__fail(net->ctx, DISTILL_E_INVAL, "%s: no task is in training", fn);
    s = distill__mask_effective(net, t);
    if (distill__check_finite(net->ctx, fn, "the task's scores", s, 1, net->P, net->P) != DISTILL_OK)
        return DISTILL_E_NUMERIC;
    frozen = net->spare, net->spare = NULL;
    distill__mask_freeze_into(net, t, s, frozen);
    net->fwd_task = -1;
    if (s == net->seff) /* S[t] <- S_eff: the task stands alone from now on */
        memcpy(net->task[t], s, sizeof(float) * (size_t)net->P);
    memset(net->task[t] + net->P, 0, sizeof(float) * (size_t)(net->L * net->T));
    net->frozen[t] = frozen;
    net->training = -1;
    net->fwd_task = -1;
    return DISTILL_OK;
}
