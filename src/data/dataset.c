/* Datasets: memory and backend sources, views, gathering samples. */
#include <stdio.h>
#include <string.h>

#include "../core/abi.h"
#include "../core/check.h"
#include "internal.h"

static const char *source_name(const distill__source *s)
{
    return s->name[0] ? s->name : "backend";
}

static void source_release(distill_context *ctx, distill__source *s)
{
    if (!s || --s->refs > 0)
        return;
    if (s->is_backend && s->backend.release)
        s->backend.release(s->backend.user);
    if (s->owns_arrays) {
        distill__free(ctx, s->x);
        distill__free(ctx, s->y);
    }
    distill__free(ctx, s);
}

/* A dataset over `src` (takes one reference), n samples through map
 * (owned; NULL = identity). */
static distill_status dataset_wrap(distill_context *ctx, distill__source *src, int64_t n,
                                   int64_t *map, distill_dataset **out)
{
    distill_dataset *ds = distill__alloc(ctx, sizeof *ds);
    if (!ds) {
        distill__free(ctx, map);
        return distill__fail(ctx, DISTILL_E_NOMEM, "dataset: out of memory");
    }
    memset(ds, 0, sizeof *ds);
    ds->ctx = ctx;
    ds->src = src;
    src->refs++;
    ds->n = n;
    ds->map = map;
    ds->c = src->x_dim, ds->h = 1, ds->w = 1;
    ds->stream = distill__new_stream(ctx);
    ds->perm_epoch = -1;
    *out = ds;
    return DISTILL_OK;
}

static distill_status source_adopt(distill_context *ctx, int64_t n, int64_t x_dim, float *x,
                                   int64_t y_dim, float *y, distill__source **out)
{
    distill__source *s = distill__alloc(ctx, sizeof *s);
    if (!s) {
        distill__free(ctx, x), distill__free(ctx, y);
        return distill__fail(ctx, DISTILL_E_NOMEM, "dataset: out of memory");
    }
    memset(s, 0, sizeof *s);
    s->n = n, s->x_dim = x_dim, s->y_dim = y_dim;
    s->x = x, s->y = y, s->ldx = x_dim, s->ldy = y_dim;
    s->owns_arrays = 1;
    *out = s;
    return DISTILL_OK;
}

/* Wrap a fresh source with refs 0 into a dataset, or free it on failure. */
static distill_status wrap_new(distill_context *ctx, distill__source *s, distill_dataset **out)
{
    distill_status st = dataset_wrap(ctx, s, s->n, NULL, out);
    if (st != DISTILL_OK) {
        s->refs = 1;
        source_release(ctx, s);
    }
    return st;
}

distill_status distill__dataset_adopt(distill_context *ctx, int64_t n, int64_t x_dim, float *x,
                                      int64_t y_dim, float *y, distill_dataset **out)
{
    distill__source *s = NULL;
    DISTILL__TRY(source_adopt(ctx, n, x_dim, x, y_dim, y, &s));
    return wrap_new(ctx, s, out);
}

distill_status distill_dataset_from_memory(distill_context *ctx, int64_t n, int64_t x_dim,
                                           const float *x, int64_t ldx, int64_t y_dim,
                                           const float *y, int64_t ldy, int mode,
                                           distill_dataset **out)
{
    static const char fn[] = "distill_dataset_from_memory";
    distill__source *s = NULL;
    float *xc = NULL, *yc = NULL;
    int64_t i;
    if (!ctx)
        return DISTILL_E_INVAL;
    DISTILL__TRY(distill__check_out(ctx, fn, "out", out));
    *out = NULL;
    if (mode != DISTILL_DATASET_COPY && mode != DISTILL_DATASET_BORROW)
        return distill__fail(ctx, DISTILL_E_INVAL, "%s: mode must be COPY or BORROW", fn);
    DISTILL__TRY(distill__check_matrix(ctx, fn, "x", x, n, x_dim, ldx));
    if (y_dim < 0 || (y_dim > 0 && !y) || (y && y_dim == 0))
        return distill__fail(ctx, DISTILL_E_INVAL, "%s: y needs y_dim >= 1 (or NULL with 0)", fn);
    if (y)
        DISTILL__TRY(distill__check_matrix(ctx, fn, "y", y, n, y_dim, ldy));
    if (mode == DISTILL_DATASET_COPY) {
        xc = distill__alloc(ctx, sizeof(float) * (size_t)(n * x_dim));
        yc = y ? distill__alloc(ctx, sizeof(float) * (size_t)(n * y_dim)) : NULL;
        if (!xc || (y && !yc)) {
            distill__free(ctx, xc), distill__free(ctx, yc);
            return distill__fail(ctx, DISTILL_E_NOMEM, "%s: cannot copy %lld samples", fn, (long long)n);
        }
        for (i = 0; i < n; i++) {
            memcpy(xc + i * x_dim, x + i * ldx, sizeof(float) * (size_t)x_dim);
            if (y)
                memcpy(yc + i * y_dim, y + i * ldy, sizeof(float) * (size_t)y_dim);
        }
        return distill__dataset_adopt(ctx, n, x_dim, xc, y_dim, yc, out);
    } else {
        DISTILL__TRY(source_adopt(ctx, n, x_dim, NULL, y_dim, NULL, &s));
        s->x = (float *)x, s->y = (float *)y;
        s->ldx = ldx, s->ldy = ldy;
        s->owns_arrays = 0;
    }
    return wrap_new(ctx, s, out);
}

size_t distill_backend_size(void) { return sizeof(distill_backend); }

distill_status distill_dataset_from_backend(distill_context *ctx, const distill_backend *b,
                                            int64_t x_dim, int64_t y_dim, distill_dataset **out)
{
    static const char fn[] = "distill_dataset_from_backend";
    distill__source *s = NULL;
    distill_backend vt;
    int64_t n = -1;
    if (!ctx)
        return DISTILL_E_INVAL;
    DISTILL__TRY(distill__check_out(ctx, fn, "out", out));
    *out = NULL;
    if (!b)
        return distill__fail(ctx, DISTILL_E_INVAL, "%s: backend is NULL", fn);
    memset(&vt, 0, sizeof vt);
    DISTILL__TRY(distill__struct_read(ctx, fn, "backend", b, sizeof vt, sizeof vt, &vt));
    b = &vt;
    if (!b->count || !b->load_batch)
        return distill__fail(ctx, DISTILL_E_INVAL, "%s: count and load_batch are required", fn);
    if (x_dim < 1 || y_dim < 0)
        return distill__fail(ctx, DISTILL_E_INVAL, "%s: need x_dim >= 1 and y_dim >= 0", fn);
    if (b->count(b->user, &n) != 0)
        return distill__fail(ctx, DISTILL_E_BACKEND, "%s: backend '%s': count() failed", fn,
                             b->name ? b->name : "backend");
    if (n < 1)
        return distill__fail(ctx, DISTILL_E_BACKEND, "%s: backend '%s': count() gave %lld samples",
                             fn, b->name ? b->name : "backend", (long long)n);
    DISTILL__TRY(source_adopt(ctx, n, x_dim, NULL, y_dim, NULL, &s));
    s->is_backend = 1;
    s->owns_arrays = 0;
    s->backend = *b;
    if (b->name)
        snprintf(s->name, sizeof s->name, "%s", b->name);
    s->backend.name = s->name;
    return wrap_new(ctx, s, out);
}

void distill_dataset_destroy(distill_dataset *ds)
{
    distill_context *ctx;
    if (!ds)
        return;
    ctx = ds->ctx;
    source_release(ctx, ds->src);
    distill__free(ctx, ds->map);
    distill__free(ctx, ds->perm);
    distill__free(ctx, ds);
}

int64_t distill_dataset_count(const distill_dataset *ds) { return ds ? ds->n : 0; }
int64_t distill_dataset_x_dim(const distill_dataset *ds) { return ds ? ds->src->x_dim : 0; }
int64_t distill_dataset_y_dim(const distill_dataset *ds) { return ds ? ds->src->y_dim : 0; }

distill_status distill_dataset_set_shape(distill_dataset *ds, int64_t c, int64_t h, int64_t w)
{
    if (!ds)
        return DISTILL_E_INVAL;
    if (c < 1 || h < 1 || w < 1 || c * h * w != ds->src->x_dim)
        return distill__fail(ds->ctx, DISTILL_E_SHAPE,
                             "distill_dataset_set_shape: %lld x %lld x %lld does not hold %lld values",
                             (long long)c, (long long)h, (long long)w, (long long)ds->src->x_dim);
    ds->c = c, ds->h = h, ds->w = w;
    return DISTILL_OK;
}

void distill_dataset_shape(const distill_dataset *ds, int64_t *c, int64_t *h, int64_t *w)
{
    if (c)
        *c = ds ? ds->c : 0;
    if (h)
        *h = ds ? ds->h : 0;
    if (w)
        *w = ds ? ds->w : 0;
}

static int64_t source_index(const distill_dataset *ds, int64_t i)
{
    return ds->map ? ds->map[i] : i;
}

/* View indices -> rows of x and y. */
distill_status distill_dataset_get(distill_dataset *ds, const int64_t *idx, int64_t n, float *x,
                                   int64_t ldx, float *y, int64_t ldy)
{
    static const char fn[] = "distill_dataset_get";
    const distill__source *s;
    distill_context *ctx;
    int64_t i, *src_idx;
    float *tmp;
    int rc;
    if (!ds)
        return DISTILL_E_INVAL;
    ctx = ds->ctx, s = ds->src;
    if (!idx || n < 1 || (!x && !y))
        return distill__fail(ctx, DISTILL_E_INVAL, "%s: need idx, n >= 1 and x or y", fn);
    if (x)
        DISTILL__TRY(distill__check_matrix(ctx, fn, "x", x, n, s->x_dim, ldx));
    if (y && s->y_dim > 0)
        DISTILL__TRY(distill__check_matrix(ctx, fn, "y", y, n, s->y_dim, ldy));
    for (i = 0; i < n; i++)
        if (idx[i] < 0 || idx[i] >= ds->n)
            return distill__fail(ctx, DISTILL_E_INVAL, "%s: idx[%lld] = %lld is outside [0, %lld)",
                                 fn, (long long)i, (long long)idx[i], (long long)ds->n);
    if (!s->is_backend) {
        for (i = 0; i < n; i++) {
            int64_t r = source_index(ds, idx[i]);
            if (x)
                memcpy(x + i * ldx, s->x + r * s->ldx, sizeof(float) * (size_t)s->x_dim);
            if (y && s->y_dim > 0)
                memcpy(y + i * ldy, s->y + r * s->ldy, sizeof(float) * (size_t)s->y_dim);
        }
        return DISTILL_OK;
    }
    src_idx = distill__alloc(ctx, sizeof(int64_t) * (size_t)n);
    tmp = x ? NULL : distill__alloc(ctx, sizeof(float) * (size_t)(n * s->x_dim)); /* the backend fills x */
    if (!src_idx || (!x && !tmp)) {
        distill__free(ctx, src_idx), distill__free(ctx, tmp);
        return distill__fail(ctx, DISTILL_E_NOMEM, "%s: out of memory", fn);
    }
    for (i = 0; i < n; i++)
        src_idx[i] = source_index(ds, idx[i]);
    rc = s->backend.load_batch(s->backend.user, src_idx, n, x ? x : tmp, x ? ldx : s->x_dim,
                               s->y_dim > 0 ? y : NULL, ldy);
    distill__free(ctx, src_idx), distill__free(ctx, tmp);
    if (rc != 0)
        return distill__fail(ctx, DISTILL_E_BACKEND,
                             "%s: backend '%s': load_batch() failed (returned %d) for %lld samples",
                             fn, source_name(s), rc, (long long)n);
    return DISTILL_OK;
}

distill_status distill_dataset_subset(const distill_dataset *ds, const int64_t *idx, int64_t n,
                                      distill_dataset **out)
{
    static const char fn[] = "distill_dataset_subset";
    distill_context *ctx;
    int64_t *map, i;
    if (!ds)
        return DISTILL_E_INVAL;
    ctx = ds->ctx;
    DISTILL__TRY(distill__check_out(ctx, fn, "out", out));
    *out = NULL;
    if (!idx || n < 1)
        return distill__fail(ctx, DISTILL_E_INVAL, "%s: need idx and n >= 1", fn);
    for (i = 0; i < n; i++)
        if (idx[i] < 0 || idx[i] >= ds->n)
            return distill__fail(ctx, DISTILL_E_INVAL, "%s: idx[%lld] = %lld is outside [0, %lld)",
                                 fn, (long long)i, (long long)idx[i], (long long)ds->n);
    map = distill__alloc(ctx, sizeof(int64_t) * (size_t)n);
    if (!map)
        return distill__fail(ctx, DISTILL_E_NOMEM, "%s: out of memory", fn);
    for (i = 0; i < n; i++)
        map[i] = source_index(ds, idx[i]);
    DISTILL__TRY(dataset_wrap(ctx, ds->src, n, map, out));
    (*out)->c = ds->c, (*out)->h = ds->h, (*out)->w = ds->w;
    return DISTILL_OK;
}

distill_status distill_dataset_subset_classes(const distill_dataset *ds, const int32_t *classes,
                                              int64_t n_classes, distill_dataset **out)
{
    static const char fn[] = "distill_dataset_subset_classes";
    distill_context *ctx;
    int64_t *idx, i, j, n = 0;
    distill_status st;
    float label, *row;
    if (!ds)
        return DISTILL_E_INVAL;
    ctx = ds->ctx;
    DISTILL__TRY(distill__check_out(ctx, fn, "out", out));
    *out = NULL;
    if (!classes || n_classes < 1 || ds->src->y_dim < 1)
        return distill__fail(ctx, DISTILL_E_INVAL, "%s: need classes and a labelled dataset", fn);
    idx = distill__alloc(ctx, sizeof(int64_t) * (size_t)ds->n);
    row = distill__alloc(ctx, sizeof(float) * (size_t)(ds->src->x_dim + ds->src->y_dim));
    if (!idx || !row) {
        distill__free(ctx, idx), distill__free(ctx, row);
        return distill__fail(ctx, DISTILL_E_NOMEM, "%s: out of memory", fn);
    }
    for (i = 0; i < ds->n; i++) {
        if (ds->src->is_backend) {
            st = distill_dataset_get((distill_dataset *)ds, &i, 1, row, ds->src->x_dim,
                                     row + ds->src->x_dim, ds->src->y_dim);
            if (st != DISTILL_OK) {
                distill__free(ctx, idx), distill__free(ctx, row);
                return st;
            }
            label = row[ds->src->x_dim];
        } else {
            label = ds->src->y[source_index(ds, i) * ds->src->ldy];
        }
        for (j = 0; j < n_classes; j++)
            if (label == (float)classes[j]) {
                idx[n++] = i;
                break;
            }
    }
    st = n > 0 ? distill_dataset_subset(ds, idx, n, out)
               : distill__fail(ctx, DISTILL_E_INVAL, "%s: no sample has one of the %lld classes", fn,
                               (long long)n_classes);
    distill__free(ctx, idx), distill__free(ctx, row);
    return st;
}

distill_status distill_dataset_get_range(distill_dataset *ds, int64_t start, int64_t n, float *x,
                                         int64_t ldx, float *y, int64_t ldy)
{
    int64_t i, *idx;
    distill_status st;
    if (!ds)
        return DISTILL_E_INVAL;
    if (n < 1 || start < 0 || start > ds->n - n)
        return distill__fail(ds->ctx, DISTILL_E_INVAL, "distill_dataset_get_range: [%lld, %lld + %lld) "
                             "is not inside the %lld samples", (long long)start, (long long)start,
                             (long long)n, (long long)ds->n);
    if (!(idx = distill__alloc(ds->ctx, sizeof(int64_t) * (size_t)n)))
        return distill__fail(ds->ctx, DISTILL_E_NOMEM, "distill_dataset_get_range: out of memory");
    for (i = 0; i < n; i++)
        idx[i] = start + i;
    st = distill_dataset_get(ds, idx, n, x, ldx, y, ldy);
    distill__free(ds->ctx, idx);
    return st;
}
