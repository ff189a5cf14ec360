/* KRR-ST files.
 *
 * Checkpoint (container):
 *   "KRHD"  i64 m, dim, k, d, pool_size, step, real count; u64 stream
 *   "KRXY"  f32 [X_s | Y_s]                  (m (dim + k))
 *   "KRAD"  i64 steps, i64 count, f32 state  (the AdamW moments)
 *   "KRII"  i64 initial indices              (m)
 *   "KRPL"  per network: i64 t, inits; then for f and the head: f32
 *           params, f32 buffers, i64 steps, f32 optimiser state
 * The distilled set: src/solver/distilled.c. */
#include <string.h>

#include "../solver/checkpoint.h"
#include "../data/distilled.h"
#include "distill/io.h"
#include "krrst_internal.h"
#include "../solver/state_io.h"

#define SEC_HEAD DISTILL__FOURCC('K', 'R', 'H', 'D')
#define SEC_XY DISTILL__FOURCC('K', 'R', 'X', 'Y')
#define SEC_ADAM DISTILL__FOURCC('K', 'R', 'A', 'D')
#define SEC_INIT DISTILL__FOURCC('K', 'R', 'I', 'I')
#define SEC_POOL DISTILL__FOURCC('K', 'R', 'P', 'L')

static int64_t xy_count(const distill_krrst *s) { return s->o.m * (s->dim + s->k); }

static void head_of(const distill_krrst *s, distill__ckpt_head *h)
{
    memset(h, 0, sizeof *h);
    h->section = SEC_HEAD, h->method = "KRR-ST";
    h->sizes = "sizes (m, image size, k, features, pool, real set)";
    h->values[0] = s->o.m, h->values[1] = s->dim, h->values[2] = s->k, h->values[3] = s->d;
    h->values[4] = s->o.pool_size, h->values[5] = s->step, h->values[6] = distill_dataset_count(s->real);
    h->n = 7, h->step_at = 5, h->stream = s->stream, h->seed = s->ctx->seed;
}

static distill_status put_state(const void *user, distill__writer *w)
{
    const distill_krrst *s = user;
    distill__ckpt_head h;
    int64_t j;
    head_of(s, &h);
    distill__ckpt_put_head(w, &h);
    distill__section_begin(w, SEC_XY);
    distill__put_f32s(w, s->xy, xy_count(s));
    distill__section_end(w);
    distill__section_begin(w, SEC_ADAM);
    DISTILL__TRY(distill__put_optimizer(w, s->ctx, s->adamw, "distill_krrst_checkpoint"));
    distill__section_end(w);
    distill__section_begin(w, SEC_INIT);
    for (j = 0; j < s->o.m; j++)
        distill__put_i64(w, s->init_idx[j]);
    distill__section_end(w);
    distill__section_begin(w, SEC_POOL);
    for (j = 0; j < s->o.pool_size; j++) {
        const krrst_net *net = &s->pool[j];
        distill__put_i64(w, net->t), distill__put_i64(w, net->inits);
        DISTILL__TRY(distill__put_model(w, s->ctx, net->feat, net->opt_feat, "distill_krrst_checkpoint"));
        DISTILL__TRY(distill__put_model(w, s->ctx, net->head, net->opt_head, "distill_krrst_checkpoint"));
    }
    distill__section_end(w);
    return DISTILL_OK;
}

distill_status distill_krrst_checkpoint(const distill_krrst *s, const char *path)
{
    if (!s)
        return DISTILL_E_INVAL;
    return distill__ckpt_write(s->ctx, "distill_krrst_checkpoint", path, put_state, s);
}

/* ---- resume: every size is checked against the solver before anything
 * is written into it, so a bad file leaves the solver as it was. */

static const char fn_resume[] = "distill_krrst_resume";

static int64_t pool_bytes(const distill_krrst *s)
{
    int64_t j, b = 0;
    for (j = 0; j < s->o.pool_size; j++) {
        const krrst_net *n = &s->pool[j];
        b += 16 + distill__model_bytes(n->feat, n->opt_feat) + distill__model_bytes(n->head, n->opt_head);
    }
    return b;
}

/* The counts and indices inside the sections (read from copies of the
 * cursors), so a bad file is refused before anything is written. */
static int values_fit(const distill_krrst *s, distill__cursor cad, distill__cursor cii, distill__cursor cpl)
{
    const int64_t n_real = distill_dataset_count(s->real);
    int64_t j;
    if (!distill__optimizer_state_fits(&cad, s->adamw))
        return 0;
    for (j = 0; j < s->o.m; j++) {
        const int64_t r = distill__get_i64(&cii);
        if (r < 0 || r >= n_real)
            return 0;
    }
    for (j = 0; j < s->o.pool_size; j++) {
        const krrst_net *net = &s->pool[j];
        if (distill__get_i64(&cpl) < 0 || distill__get_i64(&cpl) < 0 ||
            !distill__model_state_fits(&cpl, net->feat, net->opt_feat) ||
            !distill__model_state_fits(&cpl, net->head, net->opt_head))
            return 0;
    }
    return 1;
}

static distill_status load_state(void *user, const unsigned char *buf, size_t len, const char *path)
{
    distill_krrst *s = user;
    distill__ckpt_head h;
    distill__cursor cxy, cad, cii, cpl;
    int64_t step = 0, j;
    uint64_t stream = 0;
    head_of(s, &h);
    DISTILL__TRY(distill__ckpt_check_head(s->ctx, fn_resume, path, buf, len, &h, &step, &stream));
    DISTILL__TRY(distill__ckpt_section(s->ctx, fn_resume, path, buf, len, SEC_XY, 4 * xy_count(s), &cxy));
    DISTILL__TRY(distill__ckpt_section(s->ctx, fn_resume, path, buf, len, SEC_ADAM,
                                       distill__optimizer_bytes(s->adamw), &cad));
    DISTILL__TRY(distill__ckpt_section(s->ctx, fn_resume, path, buf, len, SEC_INIT, 8 * s->o.m, &cii));
    DISTILL__TRY(distill__ckpt_section(s->ctx, fn_resume, path, buf, len, SEC_POOL, pool_bytes(s), &cpl));
    if (!values_fit(s, cad, cii, cpl))
        return distill__ckpt_bad(s->ctx, fn_resume, path, "an optimiser's counts, a pool network's "
                                 "step count or an initial index does not fit this solver");
    /* everything agrees: from here on nothing can be malformed */
    distill__get_f32s(&cxy, s->xy, xy_count(s));
    DISTILL__TRY(distill__get_optimizer(&cad, s->ctx, s->adamw, fn_resume));
    for (j = 0; j < s->o.m; j++)
        s->init_idx[j] = distill__get_i64(&cii);
    for (j = 0; j < s->o.pool_size; j++) {
        krrst_net *net = &s->pool[j];
        net->t = distill__get_i64(&cpl), net->inits = distill__get_i64(&cpl);
        DISTILL__TRY(distill__get_model(&cpl, s->ctx, net->feat, net->opt_feat, fn_resume));
        DISTILL__TRY(distill__get_model(&cpl, s->ctx, net->head, net->opt_head, fn_resume));
    }
    s->step = step, s->stream = stream;
    (void)distill__mean_take(&s->recent);
    return DISTILL_OK;
}

distill_status distill_krrst_resume(distill_krrst *s, const char *path)
{
    if (!s)
        return DISTILL_E_INVAL;
    return distill__ckpt_read(s->ctx, fn_resume, path, load_state, s);
}

/* ---- the distilled set ---- */

distill_status distill_krrst_save(const distill_krrst *s, const char *path)
{
    if (!s)
        return DISTILL_E_INVAL;
    return distill__distilled_save(s->ctx, "distill_krrst_save", path, s->o.m, s->c, s->h, s->w, s->k, s->xy,
                                   s->xy + s->o.m * s->dim);
}

distill_status distill_krrst_save_npy(const distill_krrst *s, const char *images_path,
                                      const char *targets_path)
{
    if (!s)
        return DISTILL_E_INVAL;
    if (images_path)
        DISTILL__TRY(distill_npy_save(s->ctx, images_path, s->o.m, s->dim, s->xy, s->dim));
    if (targets_path)
        DISTILL__TRY(distill_npy_save(s->ctx, targets_path, s->o.m, s->k, s->xy + s->o.m * s->dim, s->k));
    return DISTILL_OK;
}

distill_status distill_krrst_save_png(const distill_krrst *s, const char *path)
{
    if (!s)
        return DISTILL_E_INVAL;
    return distill_png_save_grid(s->ctx, path, s->o.m, s->c, s->h, s->w, s->xy, 0);
}

