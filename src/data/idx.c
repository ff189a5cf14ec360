/* IDX files (LeCun's MNIST format; Fashion-MNIST as Debian ships it, gzip'd). */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#include "../core/check.h"
#include "idx.h"

#define IDX_UBYTE 0x08
#define FILE_LIMIT ((size_t)1 << 32)

distill_status distill__read_file(distill_context *ctx, const char *path, size_t limit,
                                  unsigned char **buf, size_t *len)
{
    gzFile f;
    struct stat info;
    unsigned char *data = NULL;
    size_t cap = 0, used = 0;
    int got;
    *buf = NULL;
    *len = 0;
    if (!path)
        return distill__fail(ctx, DISTILL_E_INVAL, "read: path is NULL");
    if (stat(path, &info) == 0 && S_ISDIR(info.st_mode)) /* a pipe is fine: gzip streams */
        return distill__fail(ctx, DISTILL_E_IO, "%s is a directory, not a file", path);
    errno = 0;
    if (!(f = gzopen(path, "rb")))
        return distill__fail(ctx, DISTILL_E_IO, "cannot open %s: %s", path,
                             errno ? strerror(errno) : "out of memory");
    do {
        if (cap - used < 65536) {
            size_t ncap = cap ? 2 * cap : 1 << 20;
            unsigned char *nd = ncap <= limit + 65536 ? distill__alloc(ctx, ncap) : NULL;
            if (!nd) {
                distill__free(ctx, data);
                gzclose(f);
                return distill__fail(ctx, ncap > limit ? DISTILL_E_FORMAT : DISTILL_E_NOMEM,
                                     "%s: %s", path, ncap > limit ? "file too large" : "out of memory");
            }
            if (used)
                memcpy(nd, data, used);
            distill__free(ctx, data);
            data = nd, cap = ncap;
        }
        got = gzread(f, data + used, (unsigned)(cap - used < (1u << 30) ? cap - used : (1u << 30)));
        if (got > 0)
            used += (size_t)got;
    } while (got > 0);
    if (got < 0) {
        int zerr;
        const char *msg = gzerror(f, &zerr);
        distill_status st = distill__fail(ctx, zerr == Z_ERRNO ? DISTILL_E_IO : DISTILL_E_FORMAT,
                                          "%s: %s", path, zerr == Z_ERRNO ? strerror(errno) : msg);
        distill__free(ctx, data);
        gzclose(f);
        return st;
    }
    gzclose(f);
    *buf = data;
    *len = used;
    return DISTILL_OK;
}

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

distill_status distill__idx_parse(distill_context *ctx, const char *what,
                                  const unsigned char *buf, size_t len, distill__idx *out)
{
    size_t header, need;
    int i;
    if (len < 4 || buf[0] != 0 || buf[1] != 0)
        return distill__fail(ctx, DISTILL_E_FORMAT, "%s: not an IDX file (bad magic)", what);
    if (buf[2] != IDX_UBYTE)
        return distill__fail(ctx, DISTILL_E_UNSUPPORTED,
                             "%s: IDX element type 0x%02x; only unsigned bytes (0x08) are read", what,
                             buf[2]);
    out->ndim = buf[3];
    if (out->ndim < 1 || out->ndim > DISTILL__IDX_MAX_DIMS)
        return distill__fail(ctx, DISTILL_E_FORMAT, "%s: IDX with %d dimensions", what, out->ndim);
    header = 4 + 4 * (size_t)out->ndim;
    if (len < header)
        return distill__fail(ctx, DISTILL_E_FORMAT, "%s: truncated IDX header", what);
    out->row = 1;
    for (i = 0; i < out->ndim; i++) {
        out->dims[i] = be32(buf + 4 + 4 * i);
        if (out->dims[i] < 1)
            return distill__fail(ctx, DISTILL_E_FORMAT, "%s: dimension %d is zero", what, i);
        if (i > 0) {
            if (out->row > INT64_MAX / out->dims[i] / 4)
                return distill__fail(ctx, DISTILL_E_FORMAT, "%s: dimensions overflow", what);
            out->row *= out->dims[i];
        }
    }
    out->count = out->dims[0];
    need = (size_t)out->count;
    if (need > (SIZE_MAX - header) / (size_t)out->row)
        return distill__fail(ctx, DISTILL_E_FORMAT, "%s: dimensions overflow", what);
    need = header + need * (size_t)out->row;
    if (len < need)
        return distill__fail(ctx, DISTILL_E_FORMAT, "%s: truncated: %zu bytes, the header promises %zu",
                             what, len, need);
    if (len > need)
        return distill__fail(ctx, DISTILL_E_FORMAT, "%s: %zu trailing bytes after the data", what,
                             len - need);
    out->data = buf + header;
    return DISTILL_OK;
}

/* Images and (optional) labels into one memory source. */
static distill_status idx_dataset(distill_context *ctx, const distill__idx *im,
                                  const distill__idx *lb, distill_dataset **out)
{
    const int64_t n = im->count, d = im->row;
    float *x, *y = NULL;
    int64_t i;
    x = distill__alloc(ctx, sizeof(float) * (size_t)(n * d));
    if (lb)
        y = distill__alloc(ctx, sizeof(float) * (size_t)n);
    if (!x || (lb && !y)) {
        distill__free(ctx, x), distill__free(ctx, y);
        return distill__fail(ctx, DISTILL_E_NOMEM, "distill_dataset_from_idx: out of memory");
    }
    for (i = 0; i < n * d; i++)
        x[i] = im->data[i] * (1.0f / 255.0f);
    for (i = 0; lb && i < n; i++)
        y[i] = lb->data[i];
    return distill__dataset_adopt(ctx, n, d, x, lb ? 1 : 0, y, out);
}

static void set_shape(distill_dataset *ds, const distill__idx *im)
{
    if (im->ndim == 3)
        ds->c = 1, ds->h = im->dims[1], ds->w = im->dims[2];
    else if (im->ndim == 4)
        ds->c = im->dims[1], ds->h = im->dims[2], ds->w = im->dims[3];
}

distill_status distill_dataset_from_idx(distill_context *ctx, const char *images_path,
                                        const char *labels_path, distill_dataset **out)
{
    static const char fn[] = "distill_dataset_from_idx";
    unsigned char *ib = NULL, *lbuf = NULL;
    size_t ilen = 0, llen = 0;
    distill__idx im, lb;
    distill_status st;
    if (!ctx)
        return DISTILL_E_INVAL;
    DISTILL__TRY(distill__check_out(ctx, fn, "out", out));
    *out = NULL;
    if (!images_path)
        return distill__fail(ctx, DISTILL_E_INVAL, "%s: images_path is NULL", fn);
    st = distill__read_file(ctx, images_path, FILE_LIMIT, &ib, &ilen);
    if (st == DISTILL_OK)
        st = distill__idx_parse(ctx, images_path, ib, ilen, &im);
    if (st == DISTILL_OK && im.ndim < 2)
        st = distill__fail(ctx, DISTILL_E_FORMAT, "%s: %s holds no images (1 dimension)", fn,
                           images_path);
    if (st == DISTILL_OK && labels_path) {
        st = distill__read_file(ctx, labels_path, FILE_LIMIT, &lbuf, &llen);
        if (st == DISTILL_OK)
            st = distill__idx_parse(ctx, labels_path, lbuf, llen, &lb);
        if (st == DISTILL_OK && lb.ndim != 1)
            st = distill__fail(ctx, DISTILL_E_FORMAT, "%s: %s is not a label file: it has %d dimensions, "
                               "labels have 1 (were the image and label files swapped?)", fn, labels_path,
                               lb.ndim);
        else if (st == DISTILL_OK && lb.count != im.count)
            st = distill__fail(ctx, DISTILL_E_FORMAT, "%s: %s holds %lld labels for %lld images", fn,
                               labels_path, (long long)lb.count, (long long)im.count);
    }
    if (st == DISTILL_OK)
        st = idx_dataset(ctx, &im, labels_path ? &lb : NULL, out);
    if (st == DISTILL_OK)
        set_shape(*out, &im);
    distill__free(ctx, ib);
    distill__free(ctx, lbuf);
    return st;
}
