/* One checkpoint header, writer and reader for every solver. */
#include <stdio.h>

#include "checkpoint.h"

distill_status distill__ckpt_bad(distill_context *ctx, const char *fn, const char *path,
                                 const char *what)
{
    return distill__fail(ctx, DISTILL_E_FORMAT, "%s: %s: %s", fn, path, what);
}

void distill__ckpt_put_head(distill__writer *w, const distill__ckpt_head *h)
{
    int i;
    distill__section_begin(w, h->section);
    for (i = 0; i < h->n; i++)
        distill__put_i64(w, h->values[i]);
    distill__put_i64(w, (int64_t)h->stream);
    distill__section_end(w);
}

distill_status distill__ckpt_check_head(distill_context *ctx, const char *fn, const char *path,
                                        const unsigned char *buf, size_t len,
                                        const distill__ckpt_head *h, int64_t *step, uint64_t *stream)
{
    char what[192];
    distill__cursor c;
    int64_t v[DISTILL__CKPT_MAX_VALUES];
    int i;
    if (!distill__container_find(buf, len, h->section, &c)) {
        snprintf(what, sizeof what, "no %s header section", h->method);
        return distill__ckpt_bad(ctx, fn, path, what);
    }
    for (i = 0; i < h->n; i++)
        v[i] = distill__get_i64(&c);
    *stream = (uint64_t)distill__get_i64(&c);
    if (c.bad)
        return distill__ckpt_bad(ctx, fn, path, "header section too short");
    for (i = 0; i < h->n; i++)
        if (i == h->step_at ? v[i] < 0 : v[i] != h->values[i]) {
            snprintf(what, sizeof what, "the checkpoint's %s differ from this solver's", h->sizes);
            return distill__ckpt_bad(ctx, fn, path, what);
        }
    *step = v[h->step_at];
    return DISTILL_OK;
}

distill_status distill__ckpt_section(distill_context *ctx, const char *fn, const char *path,
                                     const unsigned char *buf, size_t len, uint32_t type,
                                     int64_t bytes, distill__cursor *c)
{
    if (!distill__container_find(buf, len, type, c) || c->end - c->p != bytes)
        return distill__ckpt_bad(ctx, fn, path, "a section is missing or has the wrong length");
    return DISTILL_OK;
}

distill_status distill__ckpt_write(distill_context *ctx, const char *fn, const char *path,
                                   distill__ckpt_put_fn put, const void *user)
{
    distill__writer w;
    distill_status st;
    if (!path)
        return distill__fail(ctx, DISTILL_E_INVAL, "%s: path is NULL", fn);
    distill__writer_init(&w, ctx);
    if ((st = put(user, &w)) != DISTILL_OK) {
        distill__writer_free(&w);
        return st;
    }
    return distill__writer_commit(&w, path);
}

distill_status distill__ckpt_read(distill_context *ctx, const char *fn, const char *path,
                                  distill__ckpt_load_fn load, void *user)
{
    unsigned char *buf;
    size_t len;
    distill_status st;
    if (!path)
        return distill__fail(ctx, DISTILL_E_INVAL, "%s: path is NULL", fn);
    DISTILL__TRY(distill__container_read(ctx, path, DISTILL__FILE_LIMIT, &buf, &len));
    st = load(user, buf, len, path);
    distill__free(ctx, buf);
    return st;
}
