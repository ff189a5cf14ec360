/* The container: building, atomic writing, checking, reading. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "container.h"

static const unsigned char MAGIC[8] = {'D', 'S', 'T', 'L', 'F', 'I', 'L', 'E'};
#define HEADER 16
#define SECTION 24
#define MAX_SECTIONS 4096

/* ---- writing -------------------------------------------------------------- */

static void reserve(distill__writer *w, size_t more)
{
    size_t cap;
    unsigned char *nb;
    if (w->failed || w->len + more <= w->cap)
        return;
    cap = w->cap ? w->cap : 4096;
    while (cap < w->len + more) {
        if (cap > SIZE_MAX / 2) {
            w->failed = 1;
            return;
        }
        cap *= 2;
    }
    if (!(nb = distill__alloc(w->ctx, cap))) {
        w->failed = 1;
        return;
    }
    if (w->len)
        memcpy(nb, w->buf, w->len);
    distill__free(w->ctx, w->buf);
    w->buf = nb, w->cap = cap;
}

void distill__put_bytes(distill__writer *w, const void *p, size_t n)
{
    reserve(w, n);
    if (w->failed)
        return;
    memcpy(w->buf + w->len, p, n);
    w->len += n;
}

static void le32(unsigned char *b, uint32_t v)
{
    b[0] = (unsigned char)v, b[1] = (unsigned char)(v >> 8);
    b[2] = (unsigned char)(v >> 16), b[3] = (unsigned char)(v >> 24);
}

static void le64(unsigned char *b, uint64_t v)
{
    le32(b, (uint32_t)v);
    le32(b + 4, (uint32_t)(v >> 32));
}

void distill__put_u32(distill__writer *w, uint32_t v)
{
    unsigned char b[4];
    le32(b, v);
    distill__put_bytes(w, b, 4);
}

void distill__put_i64(distill__writer *w, int64_t v)
{
    unsigned char b[8];
    le64(b, (uint64_t)v);
    distill__put_bytes(w, b, 8);
}

void distill__put_f32(distill__writer *w, float v)
{
    uint32_t u;
    memcpy(&u, &v, 4);
    distill__put_u32(w, u);
}

void distill__put_f32s(distill__writer *w, const float *v, int64_t n)
{
    int64_t i;
    reserve(w, (size_t)n * 4);
    for (i = 0; i < n && !w->failed; i++)
        distill__put_f32(w, v[i]);
}

void distill__writer_init(distill__writer *w, distill_context *ctx)
{
    memset(w, 0, sizeof *w);
    w->ctx = ctx;
    distill__put_bytes(w, MAGIC, 8);
    distill__put_u32(w, DISTILL__FORMAT_VERSION);
    distill__put_u32(w, 0); /* section count, patched at commit */
}

void distill__writer_free(distill__writer *w)
{
    distill__free(w->ctx, w->buf);
    w->buf = NULL;
    w->len = w->cap = 0;
}

void distill__section_begin(distill__writer *w, uint32_t type)
{
    unsigned char h[SECTION] = {0};
    le32(h, type);
    w->section = w->len;
    distill__put_bytes(w, h, SECTION);
    w->count++;
}

uint32_t distill__crc32(const void *p, size_t n)
{
    /* zlib's crc32 takes uInt lengths: feed large buffers in chunks */
    const unsigned char *b = p;
    uLong crc = crc32(0L, Z_NULL, 0);
    size_t off = 0;
    while (off < n) {
        const size_t chunk = n - off < (1u << 30) ? n - off : (1u << 30);
        crc = crc32(crc, b + off, (uInt)chunk);
        off += chunk;
    }
    return (uint32_t)crc;
}

void distill__section_end(distill__writer *w)
{
    size_t start = w->section + SECTION, n;
    if (w->failed)
        return;
    n = w->len - start;
    le64(w->buf + w->section + 8, (uint64_t)n);
    le32(w->buf + w->section + 16, distill__crc32(w->buf + start, n));
}

const unsigned char *distill__writer_bytes(const distill__writer *w, size_t *len)
{
    *len = w->len;
    if (w->failed || !w->buf)
        return NULL;
    le32(w->buf + 12, w->count); /* the section count, as commit patches it */
    return w->buf;
}

/* A new temporary file beside path, created with mode 0666 so that the
 * umask applies as to any file the host writes (mkstemp's 0600 did not);
 * a file being replaced passes its own mode on. */
static int create_temp(const char *path, char *tmp, size_t cap)
{
    static unsigned counter;
    struct stat old;
    int fd = -1, tries;
    for (tries = 0; tries < 100 && fd < 0; tries++) {
        const unsigned c = __atomic_fetch_add(&counter, 1, __ATOMIC_RELAXED);
        snprintf(tmp, cap, "%s.tmp-%ld-%u", path, (long)getpid(), c);
        fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (fd < 0 && errno != EEXIST)
            return -1;
    }
    if (fd >= 0 && stat(path, &old) == 0 && S_ISREG(old.st_mode))
        (void)fchmod(fd, old.st_mode & 07777);
    return fd;
}

distill_status distill__write_atomic(distill_context *ctx, const char *path, const void *buf,
                                     size_t len)
{
    char tmp[4096], dir[4096];
    const unsigned char *p = buf;
    size_t done = 0;
    int fd, dfd;
    if (!path || !*path || strlen(path) + 48 > sizeof tmp)
        return distill__fail(ctx, DISTILL_E_INVAL, "save: %s path", path && *path ? "too long a" : "an empty");
    if ((fd = create_temp(path, tmp, sizeof tmp)) < 0)
        return distill__fail(ctx, DISTILL_E_IO, "save: cannot create a temporary file beside %s: %s",
                             path, strerror(errno));
    while (done < len) {
        ssize_t k = write(fd, p + done, len - done);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0) {
            int err = errno;
            close(fd);
            unlink(tmp);
            return distill__fail(ctx, DISTILL_E_IO, "save: writing %s failed: %s", tmp,
                                 k < 0 ? strerror(err) : "no space");
        }
        done += (size_t)k;
    }
    if (fsync(fd) != 0 || close(fd) != 0 || rename(tmp, path) != 0) {
        int err = errno;
        unlink(tmp);
        return distill__fail(ctx, DISTILL_E_IO, "save: cannot replace %s: %s", path, strerror(err));
    }
    /* make the rename itself durable */
    snprintf(dir, sizeof dir, "%s", path);
    if ((dfd = open(dirname(dir), O_RDONLY)) >= 0) {
        fsync(dfd);
        close(dfd);
    }
    return DISTILL_OK;
}

distill_status distill__writer_commit(distill__writer *w, const char *path)
{
    distill_status st;
    if (w->failed) {
        distill__writer_free(w);
        return distill__fail(w->ctx, DISTILL_E_NOMEM, "save %s: out of memory", path ? path : "");
    }
    le32(w->buf + 12, w->count);
    st = distill__write_atomic(w->ctx, path, w->buf, w->len);
    distill__writer_free(w);
    return st;
}

/* ---- reading -------------------------------------------------------------- */

static uint32_t rd32(const unsigned char *b)
{
    return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

static uint64_t rd64(const unsigned char *b) { return rd32(b) | (uint64_t)rd32(b + 4) << 32; }

/* Does a section before offset `end` (all of them checked) have this type? */
static int section_seen(const unsigned char *buf, size_t end, uint32_t type)
{
    size_t off = HEADER;
    while (off < end) {
        if (rd32(buf + off) == type)
            return 1;
        off += SECTION + (size_t)rd64(buf + off + 8);
    }
    return 0;
}

distill_status distill__container_check(distill_context *ctx, const char *what,
                                        const unsigned char *buf, size_t len)
{
    size_t off = HEADER;
    uint32_t n, i;
    if (!buf || len < HEADER || memcmp(buf, MAGIC, 8) != 0)
        return distill__fail(ctx, DISTILL_E_FORMAT, "%s: not a libdistill file", what);
    if (rd32(buf + 8) == 0 || rd32(buf + 8) > DISTILL__FORMAT_VERSION)
        return distill__fail(ctx, DISTILL_E_FORMAT, "%s: format version %u, this library reads up to %u",
                             what, (unsigned)rd32(buf + 8), DISTILL__FORMAT_VERSION);
    n = rd32(buf + 12);
    if (n > MAX_SECTIONS)
        return distill__fail(ctx, DISTILL_E_FORMAT, "%s: %u sections", what, (unsigned)n);
    for (i = 0; i < n; i++) {
        uint64_t plen;
        if (len - off < SECTION)
            return distill__fail(ctx, DISTILL_E_FORMAT, "%s: truncated at section %u", what, (unsigned)i);
        plen = rd64(buf + off + 8);
        if (rd32(buf + off + 4) != 0 || rd32(buf + off + 20) != 0)
            return distill__fail(ctx, DISTILL_E_FORMAT, "%s: section %u has flag or reserved bits set", what,
                                 (unsigned)i);
        if (section_seen(buf, off, rd32(buf + off)))
            return distill__fail(ctx, DISTILL_E_FORMAT, "%s: section %u repeats an earlier section's type",
                                 what, (unsigned)i);
        if (plen > len - off - SECTION)
            return distill__fail(ctx, DISTILL_E_FORMAT, "%s: section %u claims %llu bytes, %zu remain", what,
                                 (unsigned)i, (unsigned long long)plen, len - off - SECTION);
        if (distill__crc32(buf + off + SECTION, (size_t)plen) != rd32(buf + off + 16))
            return distill__fail(ctx, DISTILL_E_FORMAT, "%s: section %u fails its CRC check", what, (unsigned)i);
        off += SECTION + (size_t)plen;
    }
    if (off != len)
        return distill__fail(ctx, DISTILL_E_FORMAT, "%s: %zu bytes after the last section", what, len - off);
    return DISTILL_OK;
}

int distill__container_find(const unsigned char *buf, size_t len, uint32_t type, distill__cursor *c)
{
    size_t off = HEADER;
    uint32_t n = rd32(buf + 12), i;
    for (i = 0; i < n; i++) {
        const uint64_t plen = rd64(buf + off + 8);
        if (rd32(buf + off) == type) {
            c->p = buf + off + SECTION;
            c->end = c->p + plen;
            c->bad = 0;
            return 1;
        }
        off += SECTION + (size_t)plen;
    }
    (void)len;
    return 0;
}

uint32_t distill__get_u32(distill__cursor *c)
{
    uint32_t v;
    if (c->end - c->p < 4) {
        c->bad = 1;
        return 0;
    }
    v = rd32(c->p);
    c->p += 4;
    return v;
}

int64_t distill__get_i64(distill__cursor *c)
{
    uint64_t v;
    if (c->end - c->p < 8) {
        c->bad = 1;
        return 0;
    }
    v = rd64(c->p);
    c->p += 8;
    return (int64_t)v;
}

float distill__get_f32(distill__cursor *c)
{
    uint32_t u = distill__get_u32(c);
    float f;
    memcpy(&f, &u, 4);
    return f;
}

void distill__get_f32s(distill__cursor *c, float *out, int64_t n)
{
    int64_t i;
    if (n < 0 || (c->end - c->p) / 4 < n) {
        c->bad = 1;
        return;
    }
    for (i = 0; i < n; i++)
        out[i] = distill__get_f32(c);
}

distill_status distill__read_all(distill_context *ctx, const char *path, size_t limit,
                                 unsigned char **buf, size_t *len)
{
    FILE *f;
    long size;
    struct stat st;
    *buf = NULL, *len = 0;
    if (!path)
        return distill__fail(ctx, DISTILL_E_INVAL, "load: path is NULL");
    if (!(f = fopen(path, "rb")))
        return distill__fail(ctx, DISTILL_E_IO, "cannot open %s: %s", path, strerror(errno));
    /* a directory opens, and "sizes" as LONG_MAX: say what it is */
    if (fstat(fileno(f), &st) == 0 && !S_ISREG(st.st_mode)) {
        fclose(f);
        return distill__fail(ctx, DISTILL_E_IO, "%s is %s, not a file", path,
                             S_ISDIR(st.st_mode) ? "a directory" : "a device, pipe or socket");
    }
    if (fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0) {
        fclose(f);
        return distill__fail(ctx, DISTILL_E_IO, "cannot size %s", path);
    }
    if ((size_t)size > limit) {
        fclose(f);
        return distill__fail(ctx, DISTILL_E_FORMAT, "%s: %ld bytes is too large", path, size);
    }
    if (!(*buf = distill__alloc(ctx, (size_t)size + 1))) {
        fclose(f);
        return distill__fail(ctx, DISTILL_E_NOMEM, "%s: out of memory", path);
    }
    if (fread(*buf, 1, (size_t)size, f) != (size_t)size) {
        fclose(f);
        distill__free(ctx, *buf);
        *buf = NULL;
        return distill__fail(ctx, DISTILL_E_IO, "reading %s failed", path);
    }
    fclose(f);
    *len = (size_t)size;
    return DISTILL_OK;
}

distill_status distill__container_read(distill_context *ctx, const char *path, size_t limit,
                                       unsigned char **buf, size_t *len)
{
    distill_status st;
    DISTILL__TRY(distill__read_all(ctx, path, limit, buf, len));
    if ((st = distill__container_check(ctx, path, *buf, *len)) != DISTILL_OK) {
        distill__free(ctx, *buf);
        *buf = NULL, *len = 0;
    }
    return st;
}
