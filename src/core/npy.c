/* NumPy .npy (format 1.0) writer for float32 arrays. */
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "container.h"
#include "distill/io.h"

distill_status distill_npy_save(distill_context *ctx, const char *path, int64_t rows,
                                int64_t cols, const float *data, int64_t ld)
{
    static const char fn[] = "distill_npy_save";
    distill__writer w;
    char header[128];
    size_t hlen, total;
    int64_t i;
    if (!ctx)
        return DISTILL_E_INVAL;
    if (rows < 0)
        return distill__fail(ctx, DISTILL_E_INVAL, "%s: rows must be >= 0", fn);
    DISTILL__TRY(distill__check_matrix(ctx, fn, "data", data, rows ? rows : 1, cols, ld));
    if (rows)
        snprintf(header, sizeof header, "{'descr': '<f4', 'fortran_order': False, 'shape': (%lld, %lld), }",
                 (long long)rows, (long long)cols);
    else
        snprintf(header, sizeof header, "{'descr': '<f4', 'fortran_order': False, 'shape': (%lld,), }",
                 (long long)cols);
    /* magic (6) + version (2) + length (2) + header + padding + '\n' is a multiple of 64 */
    hlen = strlen(header);
    total = (10 + hlen + 1 + 63) / 64 * 64;
    /* the writer's raw byte buffer, without a container header */
    memset(&w, 0, sizeof w);
    w.ctx = ctx;
    distill__put_bytes(&w, "\x93NUMPY\x01\x00", 8);
    {
        const unsigned char len2[2] = {(unsigned char)((total - 10) & 0xff),
                                       (unsigned char)((total - 10) >> 8)};
        distill__put_bytes(&w, len2, 2);
    }
    distill__put_bytes(&w, header, hlen);
    while (w.len < total - 1)
        distill__put_bytes(&w, " ", 1);
    distill__put_bytes(&w, "\n", 1);
    for (i = 0; i < (rows ? rows : 1); i++)
        distill__put_f32s(&w, data + i * ld, cols);
    if (w.failed) {
        distill__writer_free(&w);
        return distill__fail(ctx, DISTILL_E_NOMEM, "%s: out of memory", fn);
    }
    {
        distill_status st = distill__write_atomic(ctx, path, w.buf, w.len);
        distill__writer_free(&w);
        return st;
    }
}
