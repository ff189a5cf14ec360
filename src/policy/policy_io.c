/* Policy files: a model file (its spec, parameters and buffers; a
 * mixture's: the experts' network) plus
 *   "PLCY"  u32 kind, u32 mode, f32 temperature, u32 action kind, i64 n,
 *           then for a box n f32 low and n f32 high;
 * and for a mixture of experts (since 0.2)
 *   "PMOE"  i64 K, i64 A, u32 full, f32 min_std, f32 shift, i64 commit_steps,
 *           u32 has_gating, then the gating network as a whole model file. */
#include <math.h>
#include <string.h>

#include "../core/check.h"
#include "../core/container.h"
#include "../nn/internal.h"
#include "internal.h"

#define SEC_POLICY DISTILL__FOURCC('P', 'L', 'C', 'Y')
#define SEC_MOE DISTILL__FOURCC('P', 'M', 'O', 'E')

static void put_moe(distill__writer *w, const distill_policy *p)
{
    distill__writer inner;
    const unsigned char *bytes;
    size_t len = 0;
    distill__section_begin(w, SEC_MOE);
    distill__put_i64(w, p->moe.K), distill__put_i64(w, p->moe.A);
    distill__put_u32(w, (uint32_t)p->moe.full);
    distill__put_f32(w, p->moe.min_std), distill__put_f32(w, p->moe.shift);
    distill__put_i64(w, p->commit_steps);
    distill__put_u32(w, p->gating != NULL);
    if (p->gating) {
        distill__writer_init(&inner, p->ctx);
        distill__model_put(&inner, p->gating);
        bytes = distill__writer_bytes(&inner, &len);
        if (!bytes || inner.failed)
            w->failed = 1;
        else
            distill__put_bytes(w, bytes, len);
        distill__writer_free(&inner);
    }
    distill__section_end(w);
}

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
        int64_t j;
        for (j = 0; j < 2 * p->action.n; j++) /* a mixture without bounds: infinite ones */
            distill__put_f32(&w, p->bounds ? p->bounds[j] : j < p->action.n ? -INFINITY : INFINITY);
    }
    distill__section_end(&w);
    if (p->kind == DISTILL_POLICY_MOE)
        put_moe(&w, p);
    return distill__writer_commit(&w, path);
}

/* The PMOE section around the loaded experts' network (taken over). */
static distill_status load_moe(distill_context *ctx, const void *buf, size_t len, distill_model *experts,
                               const float *bounds, int64_t A, int32_t mode, distill_policy **out)
{
    distill__cursor c;
    distill_model *gating = NULL;
    distill__moe m;
    int64_t K, commit;
    uint32_t full, has_gating;
    float min_std, shift;
    if (!distill__container_find(buf, len, SEC_MOE, &c)) {
        distill_model_destroy(experts);
        return distill__fail(ctx, DISTILL_E_FORMAT, "policy file: a mixture without its PMOE section");
    }
    K = distill__get_i64(&c), m.A = distill__get_i64(&c), full = distill__get_u32(&c);
    min_std = distill__get_f32(&c), shift = distill__get_f32(&c);
    commit = distill__get_i64(&c), has_gating = distill__get_u32(&c);
    m = distill__moe_layout(K, A, (int)full, 0.0, 1.0);
    m.min_std = min_std, m.shift = shift;
    if (c.bad || K < 1 || K > DISTILL__MOE_MAX_EXPERTS || A > DISTILL__MOE_MAX_ACTION || full > 1 ||
        has_gating > 1 || commit < 0 || !(min_std >= 0.0f) || !isfinite(min_std) || !isfinite(shift) ||
        distill_model_output_dim(experts) != distill__moe_row(&m) || (!has_gating && c.p != c.end)) {
        distill_model_destroy(experts);
        return distill__fail(ctx, DISTILL_E_FORMAT, "policy file: bad PMOE section (K %lld, A %lld)", (long long)K,
                             (long long)A);
    }
    if (has_gating) {
        distill_status st = distill_model_load_memory(ctx, c.p, (size_t)(c.end - c.p), &gating);
        if (st == DISTILL_OK && (distill_model_output_dim(gating) != K ||
                                 distill_model_input_dim(gating) != distill_model_input_dim(experts))) {
            distill_model_destroy(gating);
            st = distill__fail(ctx, DISTILL_E_FORMAT, "policy file: the gating network does not fit the experts'");
        }
        if (st != DISTILL_OK) {
            distill_model_destroy(experts);
            return st == DISTILL_E_NOMEM ? st : DISTILL_E_FORMAT;
        }
    }
    return distill__policy_make_moe(ctx, "distill_policy_load", experts, gating, &m, bounds, mode, commit, out);
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
    if (c.bad || (kind != DISTILL_POLICY_NETWORK && kind != DISTILL_POLICY_MOE) ||
        (kind == DISTILL_POLICY_MOE && s.kind != DISTILL_SPACE_BOX) ||
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
    if (st == DISTILL_OK && kind == DISTILL_POLICY_MOE) {
        st = load_moe(ctx, buf, len, model, bounds, s.n, (int32_t)mode, out);
    } else if (st == DISTILL_OK) {
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
