/* PNG writer for grids of images (8-bit grey or RGB), on zlib: signature,
 * IHDR, one IDAT of filter-0 scanlines, IEND, each chunk with its CRC. */
#include <string.h>
#include <zlib.h>

#include "check.h"
#include "container.h"
#include "distill/io.h"

static void put_be32(distill__writer *w, uint32_t v)
{
    const unsigned char b[4] = {(unsigned char)(v >> 24), (unsigned char)(v >> 16),
                                (unsigned char)(v >> 8), (unsigned char)v};
    distill__put_bytes(w, b, 4);
}

static void chunk(distill__writer *w, const char type[4], const unsigned char *data, size_t len)
{
    uLong crc = crc32(0L, (const Bytef *)type, 4);
    put_be32(w, (uint32_t)len);
    distill__put_bytes(w, type, 4);
    if (len) {
        distill__put_bytes(w, data, len);
        crc = crc32(crc, data, (uInt)len);
    }
    put_be32(w, (uint32_t)crc);
}

static unsigned char to_byte(float v)
{
    v = v != v ? 0.0f : v < 0.0f ? 0.0f : v > 1.0f ? 1.0f : v; /* NaN shows black */
    return (unsigned char)(v * 255.0f + 0.5f);
}

/* Scanlines (a filter byte each) of the grid: image i at row i / cols,
 * column i % cols, one pixel of border between images. */
static void raster(int64_t n, int64_t c, int64_t h, int64_t w, const float *x, int64_t cols,
                   int64_t rows, unsigned char *out)
{
    const int64_t W = cols * (w + 1) + 1, H = rows * (h + 1) + 1, line = 1 + W * c;
    int64_t i, y, xx, ch;
    memset(out, 0, (size_t)(line * H));
    for (i = 0; i < n; i++) {
        const int64_t oy = 1 + i / cols * (h + 1), ox = 1 + i % cols * (w + 1);
        for (y = 0; y < h; y++)
            for (xx = 0; xx < w; xx++)
                for (ch = 0; ch < c; ch++)
                    out[(oy + y) * line + 1 + (ox + xx) * c + ch] =
                        to_byte(x[i * c * h * w + (ch * h + y) * w + xx]);
    }
}

distill_status distill_png_save_grid(distill_context *ctx, const char *path, int64_t n, int64_t c,
                                     int64_t h, int64_t w, const float *images, int64_t cols)
{
    static const char fn[] = "distill_png_save_grid";
    int64_t rows, W, H;
    size_t raw_len;
    uLongf z_len;
    unsigned char *raw, *z, ihdr[13];
    distill__writer wr;
    distill_status st;
    if (!ctx)
        return DISTILL_E_INVAL;
    if (!path || !images || n < 1 || (c != 1 && c != 3) || h < 1 || w < 1 || h > 4096 || w > 4096 || n > 65536)
        return distill__fail(ctx, DISTILL_E_INVAL, "%s: need a path, 1..65536 images of 1 or 3 "
                             "channels and sides 1..4096", fn);
    if (cols < 1)
        for (cols = 1; cols * cols < n; cols++) {}
    cols = cols > n ? n : cols;
    rows = (n + cols - 1) / cols;
    W = cols * (w + 1) + 1, H = rows * (h + 1) + 1;
    if (W > 65535 || H > 65535)
        return distill__fail(ctx, DISTILL_E_INVAL, "%s: the grid would be %lld x %lld pixels", fn,
                             (long long)W, (long long)H);
    raw_len = (size_t)((1 + W * c) * H);
    z_len = compressBound((uLong)raw_len);
    raw = distill__alloc(ctx, raw_len), z = distill__alloc(ctx, z_len);
    if (!raw || !z) {
        distill__free(ctx, raw), distill__free(ctx, z);
        return distill__fail(ctx, DISTILL_E_NOMEM, "%s: out of memory", fn);
    }
    raster(n, c, h, w, images, cols, rows, raw);
    if (compress2(z, &z_len, raw, (uLong)raw_len, 6) != Z_OK) {
        distill__free(ctx, raw), distill__free(ctx, z);
        return distill__fail(ctx, DISTILL_E_NOMEM, "%s: zlib could not compress the image", fn);
    }
    memset(&wr, 0, sizeof wr);
    wr.ctx = ctx;
    distill__put_bytes(&wr, "\x89PNG\r\n\x1a\n", 8);
    ihdr[0] = (unsigned char)(W >> 24), ihdr[1] = (unsigned char)(W >> 16);
    ihdr[2] = (unsigned char)(W >> 8), ihdr[3] = (unsigned char)W;
    ihdr[4] = (unsigned char)(H >> 24), ihdr[5] = (unsigned char)(H >> 16);
    ihdr[6] = (unsigned char)(H >> 8), ihdr[7] = (unsigned char)H;
    ihdr[8] = 8, ihdr[9] = c == 1 ? 0 : 2, ihdr[10] = ihdr[11] = ihdr[12] = 0;
    chunk(&wr, "IHDR", ihdr, sizeof ihdr);
    chunk(&wr, "IDAT", z, z_len);
    chunk(&wr, "IEND", NULL, 0);
    distill__free(ctx, raw), distill__free(ctx, z);
    if (wr.failed) {
        distill__writer_free(&wr);
        return distill__fail(ctx, DISTILL_E_NOMEM, "%s: out of memory", fn);
    }
    st = distill__write_atomic(ctx, path, wr.buf, wr.len);
    distill__writer_free(&wr);
    return st;
}
