/* Masknet files (container):
 *   "MKOP"  the options: u32 binarize, i64 inputs, outputs, hidden, layers,
 *           max_tasks, u32 task_input, u32 compose, i64 backbone seed,
 *           i64 the bits of topk (f64); u32 the backbone's hash
 *   "MKTS"  i64 tasks held, i64 the task in training (-1 none), i64 the
 *           size of its composition, i64 each composed slot; then per held
 *           task: i64 slot, u32 learned (0/1), f32 its block
 * The backbone is not stored: it comes from its seed (the hash checks it). */
#include <math.h>
#include <string.h>

#include "../core/check.h"
#include "../core/container.h"
#include "internal.h"

#define SEC_OPTIONS DISTILL__FOURCC('M', 'K', 'O', 'P')
#define SEC_TASKS DISTILL__FOURCC('M', 'K', 'T', 'S')

static const char fn_save[] = "distill_masknet_save", fn_load[] = "distill_masknet_load";

static void put_options(distill__writer *w, const distill_masknet *net)
{
    const distill_masknet_options *o = &net->o;
    distill__section_begin(w, SEC_OPTIONS);
    distill__put_u32(w, (uint32_t)o->binarize);
    distill__put_i64(w, o->inputs), distill__put_i64(w, o->outputs), distill__put_i64(w, o->hidden);
    distill__put_i64(w, o->layers), distill__put_i64(w, o->max_tasks);
    distill__put_u32(w, (uint32_t)o->task_input), distill__put_u32(w, (uint32_t)o->compose);
    distill__put_i64(w, (int64_t)o->backbone_seed);
    {
        int64_t bits;
        memcpy(&bits, &o->topk, 8); /* exact: top-k's k must come out the same */
        distill__put_i64(w, bits);
    }
    distill__put_u32(w, net->hash);
    distill__section_end(w);
}

static void put_tasks(distill__writer *w, const distill_masknet *net)
{
    int64_t t, c;
    distill__section_begin(w, SEC_TASKS);
    distill__put_i64(w, net->n_tasks), distill__put_i64(w, net->training);
    distill__put_i64(w, net->training >= 0 ? net->n_comp : 0);
    for (c = 0; net->training >= 0 && c < net->n_comp; c++)
        distill__put_i64(w, net->comp[c]);
    for (t = 0; t < net->T; t++)
        if (net->task[t]) {
            distill__put_i64(w, t), distill__put_u32(w, net->frozen[t] != NULL);
            distill__put_f32s(w, net->task[t], net->block);
        }
    distill__section_end(w);
}

distill_status distill_masknet_save(const distill_masknet *net, const char *path)
{
    distill__writer w;
    if (!net)
        return DISTILL_E_INVAL;
    if (!path)
        return distill__fail(net->ctx, DISTILL_E_INVAL, "%s: path is NULL", fn_save);
    distill__writer_init(&w, net->ctx);
    put_options(&w, net);
    put_tasks(&w, net);
    return distill__writer_commit(&w, path);
}

#define BAD(...) distill__fail(ctx, DISTILL_E_FORMAT, __VA_ARGS__)

static distill_status get_options(distill_context *ctx, const unsigned char *buf, size_t len,
                                  distill_masknet_options *o, uint32_t *hash)
{
    distill__cursor c;
    if (!distill__container_find(buf, len, SEC_OPTIONS, &c))
        return BAD("%s: no options section", fn_load);
    distill_masknet_options_init(o);
    o->binarize = (int32_t)distill__get_u32(&c);
    o->inputs = distill__get_i64(&c), o->outputs = distill__get_i64(&c), o->hidden = distill__get_i64(&c);
    o->layers = distill__get_i64(&c), o->max_tasks = distill__get_i64(&c);
    o->task_input = (int32_t)distill__get_u32(&c), o->compose = (int32_t)distill__get_u32(&c);
    o->backbone_seed = (uint64_t)distill__get_i64(&c);
    {
        const int64_t bits = distill__get_i64(&c);
        memcpy(&o->topk, &bits, 8);
    }
    *hash = distill__get_u32(&c);
    if (c.bad || c.p != c.end)
        return BAD("%s: the options section has %s bytes", fn_load, c.bad ? "too few" : "too many");
    return DISTILL_OK;
}

/* The tasks section checked whole against net, then installed. */
static distill_status check_tasks(distill_masknet *net, distill__cursor c, int64_t *held, int64_t *training)
{
    distill_context *ctx = net->ctx;
    unsigned char *seen;
    int64_t comp, i, k, slot;
    distill_status st = DISTILL_OK;
    *held = distill__get_i64(&c), *training = distill__get_i64(&c), comp = distill__get_i64(&c);
    if (c.bad || *held < 0 || *held > net->T || *training < -1 || *training >= net->T || comp < 0 || comp >= net->T ||
        (*training < 0 && comp != 0) || (net->o.compose == DISTILL_MASK_RI && comp != 0))
        return BAD("%s: the task counts are not valid", fn_load);
    if (!(seen = distill__alloc_zero(ctx, net->T, 1)))
        return distill__fail(ctx, DISTILL_E_NOMEM, "%s: out of memory", fn_load);
    for (i = 0; i < comp; i++)
        if ((k = distill__get_i64(&c)) < 0 || k >= net->T || k == *training || (seen[k] & 2) || c.bad)
            st = BAD("%s: composed slot %lld is not valid", fn_load, (long long)k);
        else
            seen[k] |= 2; /* must be a learned task */
    for (i = 0; st == DISTILL_OK && i < *held; i++) {
        uint32_t learned;
        slot = distill__get_i64(&c), learned = distill__get_u32(&c);
        if (c.bad || slot < 0 || slot >= net->T || (seen[slot] & 1) || learned > 1 || (learned != 0) ==
                                                                                    (slot == *training))
            st = BAD("%s: task %lld's slot or state is not valid", fn_load, (long long)i);
        else if ((seen[slot] & 2) && !learned)
            st = BAD("%s: a composed slot is not learned", fn_load);
        for (k = 0; st == DISTILL_OK && k < net->block; k++)
            if (!isfinite(distill__get_f32(&c)))
                st = BAD("%s: task %lld holds a value that is not finite", fn_load, (long long)slot);
        if (st == DISTILL_OK)
            seen[slot] |= 1;
    }
    for (k = 0; st == DISTILL_OK && k < net->T; k++)
        if ((seen[k] & 2) && !(seen[k] & 1))
            st = BAD("%s: composed slot %lld is not held", fn_load, (long long)k);
    if (st == DISTILL_OK && (*training >= 0 && !(seen[*training] & 1)))
        st = BAD("%s: the task in training is not held", fn_load);
    if (st == DISTILL_OK && (c.bad || c.p != c.end))
        st = BAD("%s: the tasks section has %s bytes", fn_load, c.bad ? "too few" : "too many");
    distill__free(ctx, seen);
    return st;
}

static distill_status install_tasks(distill_masknet *net, distill__cursor c)
{
    int64_t held, training, comp, i;
    held = distill__get_i64(&c), training = distill__get_i64(&c), comp = distill__get_i64(&c);
    for (i = 0; i < comp; i++)
        net->comp[i] = distill__get_i64(&c);
    net->n_comp = comp;
    for (i = 0; i < held; i++) {
        const int64_t slot = distill__get_i64(&c);
        const uint32_t learned = distill__get_u32(&c);
        if (!(net->task[slot] = distill__alloc_zero(net->ctx, net->block, sizeof(float))))
            return distill__fail(net->ctx, DISTILL_E_NOMEM, "%s: out of memory", fn_load);
        distill__get_f32s(&c, net->task[slot], net->block);
        net->n_tasks++;
        if (learned)
            DISTILL__TRY(distill__mask_freeze(net, slot, net->task[slot], &net->frozen[slot]));
    }
    if (training >= 0 && !net->spare) /* as add_task would have made it */
        DISTILL__TRY(distill__mask_frozen_new(net, &net->spare));
    net->training = training;
    return DISTILL_OK;
}

distill_status distill_masknet_load_memory(distill_context *ctx, const void *buf, size_t len, distill_masknet **out)
{
    distill_masknet_options o;
    distill_masknet *net = NULL;
    distill__cursor c;
    distill_status st;
    uint32_t hash = 0;
    int64_t held, training;
    if (!ctx)
        return DISTILL_E_INVAL;
    DISTILL__TRY(distill__check_out(ctx, fn_load, "out", out));
    *out = NULL;
    if (!buf)
        return distill__fail(ctx, DISTILL_E_INVAL, "%s: buf is NULL", fn_load);
    DISTILL__TRY(distill__container_check(ctx, fn_load, buf, len));
    DISTILL__TRY(get_options(ctx, buf, len, &o, &hash));
    if ((st = distill_masknet_create(ctx, &o, &net)) != DISTILL_OK)
        return st == DISTILL_E_NOMEM ? st : BAD("%s: the options are not valid (%s)", fn_load,
                                                distill_context_last_error(ctx));
    if (net->hash != hash)
        st = BAD("%s: the backbone's hash does not match its seed and shapes", fn_load);
    else if (!distill__container_find(buf, len, SEC_TASKS, &c))
        st = BAD("%s: no tasks section", fn_load);
    else if ((st = check_tasks(net, c, &held, &training)) == DISTILL_OK)
        st = install_tasks(net, c);
    if (st != DISTILL_OK) {
        distill_masknet_destroy(net);
        return st;
    }
    *out = net;
    return DISTILL_OK;
}

distill_status distill_masknet_load(distill_context *ctx, const char *path, distill_masknet **out)
{
    unsigned char *buf;
    size_t len;
    distill_status st;
    if (!ctx)
        return DISTILL_E_INVAL;
    DISTILL__TRY(distill__check_out(ctx, fn_load, "out", out));
    *out = NULL;
    DISTILL__TRY(distill__container_read(ctx, path, DISTILL__FILE_LIMIT, &buf, &len));
    st = distill_masknet_load_memory(ctx, buf, len, out);
    distill__free(ctx, buf);
    return st;
}
