/* The distilled-set file (the format is in distilled.h). */
#include <string.h>

#include "../core/check.h"
#include "../core/container.h"
#include "distill/io.h"
#include "distilled.h"
#include "internal.h"

#define SEC_SHAPE DISTILL__FOURCC('D', 'S', 'H', 'P')
#define SEC_IMAGES DISTILL__FOURCC('D', 'S', 'X', 'S')
#define SEC_TARGETS DISTILL__FOURCC('D', 'S', 'Y', 'S')

/* Every row of ds: x (n x d) and y (n x k) into fresh buffers. */
static distill_status read_rows(const distill_dataset *ds, const char *fn, float **x, float **y)
{
    const int64_t n = distill_dataset_count(ds), d = distill_dataset_x_dim(ds), k = distill_dataset_y_dim(ds);
    *x = *y = NULL;
    if (k < 1)
        return distill__fail(ds->ctx, DISTILL_E_INVAL, "%s: the file holds targets; this dataset has none", fn);
    DISTILL__TRY(distill__check_count(ds->ctx, fn, "rows x (features + targets)", n, d + k, sizeof(float)));
    *x = distill__alloc(ds->ctx, sizeof(float) * (size_t)(n * d));
    *y = distill__alloc(ds->ctx, sizeof(float) * (size_t)(n * k));
    if (!*x || !*y) {
        distill__free(ds->ctx, *x), distill__free(ds->ctx, *y);
        *x = *y = NULL;
        return distill__fail(ds->ctx, DISTILL_E_NOMEM, "%s: out of memory", fn);
    }
    return distill_dataset_get_range((distill_dataset *)ds, 0, n, *x, d, *y, k);
}

distill_status distill_dataset_save(const distill_dataset *ds, const char *path)
{
    static const char fn[] = "distill_dataset_save";
    const int64_t n = distill_dataset_count(ds), d = distill_dataset_x_dim(ds), k = distill_dataset_y_dim(ds);
    int64_t c, h, w;
    float *x, *y;
    distill_status st;
    if (!ds)
        return DISTILL_E_INVAL;
    st = read_rows(ds, fn, &x, &y);
    distill_dataset_shape(ds, &c, &h, &w);
    if (c * h * w != d)
        c = d, h = w = 1;
    if (st == DISTILL_OK)
        st = distill__distilled_save(ds->ctx, fn, path, n, c, h, w, k, x, y);
    distill__free(ds->ctx, x), distill__free(ds->ctx, y);
    return st;
}

distill_status distill_dataset_save_npy(const distill_dataset *ds, const char *x_path, const char *y_path)
{
    static const char fn[] = "distill_dataset_save_npy";
    const int64_t n = distill_dataset_count(ds), d = distill_dataset_x_dim(ds), k = distill_dataset_y_dim(ds);
    float *x, *y;
    distill_status st;
    if (!ds)
        return DISTILL_E_INVAL;
    st = read_rows(ds, fn, &x, &y);
    if (st == DISTILL_OK && x_path)
        st = distill_npy_save(ds->ctx, x_path, n, d, x, d);
    if (st == DISTILL_OK && y_path)
        st = distill_npy_save(ds->ctx, y_path, n, k, y, k);
    distill__free(ds->ctx, x), distill__free(ds->ctx, y);
    return st;
}

distill_status distill__distilled_save(distill_context *ctx, const char *fn, const char *path, int64_t m,
                                       int64_t c, int64_t h, int64_t w, int64_t k, const float *x,
                                       const float *y)
{
    distill__writer w_;
    if (!path)
        return distill__fail(ctx, DISTILL_E_INVAL, "%s: path is NULL", fn);
    distill__writer_init(&w_, ctx);
    distill__section_begin(&w_, SEC_SHAPE);
    distill__put_i64(&w_, m), distill__put_i64(&w_, c), distill__put_i64(&w_, h);
    distill__put_i64(&w_, w), distill__put_i64(&w_, k);
    distill__section_end(&w_);
    distill__section_begin(&w_, SEC_IMAGES);
    distill__put_f32s(&w_, x, m * c * h * w);
    distill__section_end(&w_);
    distill__section_begin(&w_, SEC_TARGETS);
    distill__put_f32s(&w_, y, m * k);
    distill__section_end(&w_);
    return distill__writer_commit(&w_, path);
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
