/* KRR-ST files.
 *
 * Checkpoint (container):
 *   "KRHD"  i64 m, dim, k, d, pool_size, step, real count; u64 stream
 *   "KRXY"  f32 [X_s | Y_s]                  (m (dim + k))
 *   "KRAD"  i64 steps, i64 count, f32 state  (the AdamW moments)
 *   "KRII"  i64 initial indices              (m)
 *   "KRPL"  per network: i64 t, inits; then for f and the head: f32
 *           params, f32 buffers, i64 steps, f32 optimiser state
 * Distilled set (container):
 *   "DSHP"  i64 m, c, h, w, k
 *   "DSXS"  f32 images (m c h w);  "DSYS" f32 targets (m k) */
#include <string.h>

#include "../solver/checkpoint.h"
#include "distill/io.h"
#include "krrst_internal.h"
#include "../solver/state_io.h"

#define SEC_HEAD DISTILL__FOURCC('K', 'R', 'H', 'D')
#define SEC_XY DISTILL__FOURCC('K', 'R', 'X', 'Y')
#define SEC_ADAM DISTILL__FOURCC('K', 'R', 'A', 'D')
#define SEC_INIT DISTILL__FOURCC('K', 'R', 'I', 'I')
#define SEC_POOL DISTILL__FOURCC('K', 'R', 'P', 'L')
#define SEC_SHAPE DISTILL__FOURCC('D', 'S', 'H', 'P')
#define SEC_IMAGES DISTILL__FOURCC('D', 'S', 'X', 'S')
#define SEC_TARGETS DISTILL__FOURCC('D', 'S', 'Y', 'S')

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
    distill__writer w;
    if (!s)
        return DISTILL_E_INVAL;
    if (!path)
        return distill__fail(s->ctx, DISTILL_E_INVAL, "distill_krrst_save: path is NULL");
    distill__writer_init(&w, s->ctx);
    distill__section_begin(&w, SEC_SHAPE);
    distill__put_i64(&w, s->o.m), distill__put_i64(&w, s->c), distill__put_i64(&w, s->h);
    distill__put_i64(&w, s->w), distill__put_i64(&w, s->k);
    distill__section_end(&w);
    distill__section_begin(&w, SEC_IMAGES);
    distill__put_f32s(&w, s->xy, s->o.m * s->dim);
    distill__section_end(&w);
    distill__section_begin(&w, SEC_TARGETS);
    distill__put_f32s(&w, s->xy + s->o.m * s->dim, s->o.m * s->k);
    distill__section_end(&w);
    return distill__writer_commit(&w, path);
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

static distill_status read_set(distill_context *ctx, const char *path, const unsigned char *buf,
                               size_t len, distill_dataset **out)
{
    distill__cursor cs, cx, cy;
    int64_t m, c, h, w, k, dim;
    float *x, *y;
    distill_status st;
    if (!distill__container_find(buf, len, SEC_SHAPE, &cs))
        return distill__fail(ctx, DISTILL_E_FORMAT, "distill_distilled_load: %s: not a distilled set", path);
    m = distill__get_i64(&cs), c = distill__get_i64(&cs), h = distill__get_i64(&cs);
    w = distill__get_i64(&cs), k = distill__get_i64(&cs);
    if (cs.bad || m < 1 || c < 1 || h < 1 || w < 1 || k < 1 || c > 4096 || h > 65536 || w > 65536 ||
        k > ((int64_t)1 << 24) || m > ((int64_t)1 << 24) || c * h * w > ((int64_t)1 << 26))
        return distill__fail(ctx, DISTILL_E_FORMAT, "distill_distilled_load: %s: bad shape", path);
    dim = c * h * w;
    if (!distill__container_find(buf, len, SEC_IMAGES, &cx) || cx.end - cx.p != 4 * m * dim ||
        !distill__container_find(buf, len, SEC_TARGETS, &cy) || cy.end - cy.p != 4 * m * k)
        return distill__fail(ctx, DISTILL_E_FORMAT, "distill_distilled_load: %s: images or targets "
                             "missing or of the wrong size", path);
    x = distill__alloc(ctx, sizeof(float) * (size_t)(m * dim));
    y = distill__alloc(ctx, sizeof(float) * (size_t)(m * k));
    st = x && y ? DISTILL_OK : distill__fail(ctx, DISTILL_E_NOMEM, "distill_distilled_load: out of memory");
    if (st == DISTILL_OK) {
        distill__get_f32s(&cx, x, m * dim), distill__get_f32s(&cy, y, m * k);
        st = distill_dataset_from_memory(ctx, m, dim, x, dim, k, y, k, DISTILL_DATASET_COPY, out);
    }
    if (st == DISTILL_OK && (st = distill_dataset_set_shape(*out, c, h, w)) != DISTILL_OK) {
        distill_dataset_destroy(*out);
        *out = NULL;
    }
    distill__free(ctx, x), distill__free(ctx, y);
    return st;
}

distill_status distill_distilled_load(distill_context *ctx, const char *path, distill_dataset **out)
{
    unsigned char *buf;
    size_t len;
    distill_status st;
    if (!ctx)
        return DISTILL_E_INVAL;
    if (!path || !out)
        return distill__fail(ctx, DISTILL_E_INVAL, "distill_distilled_load: path and out must not be NULL");
    *out = NULL;
    DISTILL__TRY(distill__container_read(ctx, path, DISTILL__FILE_LIMIT, &buf, &len));
    st = read_set(ctx, path, buf, len, out);
    distill__free(ctx, buf);
    return st;
}
