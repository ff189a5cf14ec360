/* Policy files: a model file (its spec, parameters and buffers) plus
 *   "PLCY"  u32 kind, u32 mode, f32 temperature, u32 action kind, i64 n,
 *           then for a box n f32 low and n f32 high. */
#include <math.h>
#include <string.h>

#include "../core/check.h"
#include "../core/container.h"
#include "../nn/internal.h"
#include "internal.h"

#define SEC_POLICY DISTILL__FOURCC('P', 'L', 'C', 'Y')

distill_status distill_policy_save(const distill_policy *p, const char *path)
{
    distill__writer w;
    if (!p)
        return DISTILL_E_INVAL;
    if (!path)
        return distill__fail(p->ctx, DISTILL_E_INVAL, "distill_policy_save: path is NULL");
    distill__writer_init(&w, p->ctx);
    distill__model_put(&w, p->model);
    distill__section_begin(&w, SEC_POLICY);
    distill__put_u32(&w, (uint32_t)p->kind);
    distill__put_u32(&w, (uint32_t)p->mode);
    distill__put_f32(&w, p->temperature);
    distill__put_u32(&w, (uint32_t)p->action.kind);
    distill__put_i64(&w, p->action.n);
    if (p->action.kind == DISTILL_SPACE_BOX) {
        distill__put_f32s(&w, p->action.low, p->action.n);
        distill__put_f32s(&w, p->action.high, p->action.n);
    }
    distill__section_end(&w);
    return distill__writer_commit(&w, path);
}

distill_status distill_policy_load_memory(distill_context *ctx, const void *buf, size_t len,
                                          distill_policy **out)
{
    static const char fn[] = "distill_policy_load";
    distill__cursor c;
    distill_model *model = NULL;
    distill_space s;
    float *bounds = NULL;
    uint32_t kind, mode;
    float temperature;
    distill_status st;
    if (!ctx)
        return DISTILL_E_INVAL;
    DISTILL__TRY(distill__check_out(ctx, fn, "out", out));
    *out = NULL;
    DISTILL__TRY(distill__container_check(ctx, "policy file", buf, len));
    if (!distill__container_find(buf, len, SEC_POLICY, &c))
        return distill__fail(ctx, DISTILL_E_FORMAT, "policy file: no policy section (a model file?)");
    kind = distill__get_u32(&c), mode = distill__get_u32(&c), temperature = distill__get_f32(&c);
    memset(&s, 0, sizeof s);
    s.struct_size = sizeof s;
    s.kind = (int32_t)distill__get_u32(&c), s.n = distill__get_i64(&c);
    if (c.bad || kind != DISTILL_POLICY_NETWORK ||
        (s.kind != DISTILL_SPACE_DISCRETE && s.kind != DISTILL_SPACE_BOX) || s.n < 1 ||
        s.n > ((int64_t)1 << 24))
        return distill__fail(ctx, DISTILL_E_FORMAT, "policy file: bad policy section (kind %u, action "
                             "kind %d, n %lld)", (unsigned)kind, (int)s.kind, (long long)s.n);
    if (s.kind == DISTILL_SPACE_BOX) {
        if ((size_t)(c.end - c.p) != sizeof(float) * 2 * (size_t)s.n)
            return distill__fail(ctx, DISTILL_E_FORMAT, "policy file: the action bounds take %lld bytes, "
                                 "expected %lld", (long long)(c.end - c.p), (long long)(8 * s.n));
        if (!(bounds = distill__alloc(ctx, sizeof(float) * 2 * (size_t)s.n)))
            return distill__fail(ctx, DISTILL_E_NOMEM, "policy file: out of memory");
        distill__get_f32s(&c, bounds, 2 * s.n);
        s.low = bounds, s.high = bounds + s.n;
    } else if (c.p != c.end) {
        return distill__fail(ctx, DISTILL_E_FORMAT, "policy file: the policy section is too long");
    }
    st = distill_model_load_memory(ctx, buf, len, &model);
    if (st == DISTILL_OK) {
        st = distill__policy_make(ctx, fn, model, &s, (int32_t)mode, temperature, out);
        if (st != DISTILL_OK && st != DISTILL_E_NOMEM) {
            char why[DISTILL__ERRLEN];
            memcpy(why, ctx->last_error, sizeof why);
            st = distill__fail(ctx, DISTILL_E_FORMAT, "policy file: %s", why);
        }
    }
    distill__free(ctx, bounds);
    return st;
}

distill_status distill_policy_load(distill_context *ctx, const char *path, distill_policy **out)
{
    unsigned char *buf;
    size_t len;
    distill_status st;
    if (!ctx)
        return DISTILL_E_INVAL;
    DISTILL__TRY(distill__check_out(ctx, "distill_policy_load", "out", out));
    *out = NULL;
    DISTILL__TRY(distill__container_read(ctx, path, DISTILL__FILE_LIMIT, &buf, &len));
    st = distill_policy_load_memory(ctx, buf, len, out);
    distill__free(ctx, buf);
    return st;
}
