/* One checkpoint header, writer and reader for every solver. */
#include <stdio.h>

#include "checkpoint.h"

distill_status distill__ckpt_bad(distill_context *ctx, const char *fn, const char *path,
                                 const char *what)
{
    return distill__fail(ctx, DISTILL_E_FORMAT, "%s: %s: %s", fn, path, what);
}

#define SEC_SEED DISTILL__FOURCC('C', 'K', 'S', 'D')

void distill__ckpt_put_head(distill__writer *w, const distill__ckpt_head *h)
{
    int i;
    distill__section_begin(w, h->section);
    for (i = 0; i < h->n; i++)
        distill__put_i64(w, h->values[i]);
    distill__put_i64(w, (int64_t)h->stream);
    distill__section_end(w);
    distill__section_begin(w, SEC_SEED);
    distill__put_i64(w, (int64_t)h->seed);
    distill__section_end(w);
}

/* 0.1's checkpoints have no seed section: they are taken on trust. */
static distill_status check_seed(distill_context *ctx, const char *fn, const char *path,
                                 const unsigned char *buf, size_t len, uint64_t seed)
{
    char what[160];
    distill__cursor c;
    uint64_t file_seed;
    if (!distill__container_find(buf, len, SEC_SEED, &c))
        return DISTILL_OK;
    file_seed = (uint64_t)distill__get_i64(&c);
    if (c.bad || c.p != c.end)
        return distill__ckpt_bad(ctx, fn, path, "the seed section has the wrong length");
    if (file_seed != seed) {
        snprintf(what, sizeof what, "made under context seed %llu, this solver's context has seed %llu",
                 (unsigned long long)file_seed, (unsigned long long)seed);
        return distill__ckpt_bad(ctx, fn, path, what);
    }
    return DISTILL_OK;
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
    if (c.p != c.end)
        return distill__ckpt_bad(ctx, fn, path, "header section too long");
    for (i = 0; i < h->n; i++)
        if (i == h->step_at ? v[i] < 0 : v[i] != h->values[i]) {
            snprintf(what, sizeof what, "the checkpoint's %s differ from this solver's", h->sizes);
            return distill__ckpt_bad(ctx, fn, path, what);
        }
    *step = v[h->step_at];
    return check_seed(ctx, fn, path, buf, len, h->seed);
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
