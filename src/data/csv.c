/* CSV files of numbers: one sample per line, comma-separated, an optional
 * header line, an optional label column. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../core/check.h"
#include "idx.h"
#include "internal.h"

#define CSV_LIMIT ((size_t)1 << 31)

/* A missing value's spellings (with DISTILL_CSV_MISSING). */
static int missing_field(const char *f, size_t len)
{
    return len == 0 || (len == 3 && (f[0] == 'n' || f[0] == 'N') && (f[1] == 'a' || f[1] == 'A') &&
                        (f[2] == 'n' || f[2] == 'N')) ||
           (len == 2 && f[0] == 'N' && f[1] == 'A');
}

/* Parse one line of numbers into out (if not NULL); returns the count or
 * -1 with *bad_col set on a malformed field. */
static int64_t parse_line(const char *p, const char *end, int missing, float *out, int64_t *bad_col)
{
    int64_t col = 0;
    for (;;) {
        char field[512]; /* a number may be long ("0.000...1"): 72 characters were refused */
        size_t len;
        const char *comma = memchr(p, ',', (size_t)(end - p));
        const char *stop = comma ? comma : end;
        char *tail;
        float v;
        while (p < stop && (*p == ' ' || *p == '\t'))
            p++;
        len = (size_t)(stop - p);
        while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '\t' || p[len - 1] == '\r'))
            len--;
        if (missing && missing_field(p, len))
            v = NAN;
        else {
            if (len == 0 || len >= sizeof field || memchr(p, '\0', len)) { /* a NUL ended the number early */
                *bad_col = col;
                return -1;
            }
            memcpy(field, p, len);
            field[len] = '\0';
            errno = 0;
            v = strtof(field, &tail);
            if (*tail != '\0' || !isfinite(v)) {
                *bad_col = col;
                return -1;
            }
        }
        if (out)
            out[col] = v;
        col++;
        if (!comma)
            return col;
        p = comma + 1;
    }
}

static const char *line_end(const char *p, const char *end)
{
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    return nl ? nl : end;
}

static int blank(const char *p, const char *e)
{
    for (; p < e; p++)
        if (*p != ' ' && *p != '\t' && *p != '\r')
            return 0;
    return 1;
}

distill_status distill__csv_parse(distill_context *ctx, const char *path, const unsigned char *buf,
                                  size_t len, int flags, int64_t label_column,
                                  distill_dataset **out)
{
    const int has_header = flags & DISTILL_CSV_HEADER, missing = (flags & DISTILL_CSV_MISSING) != 0;
    static const char fn[] = "distill_dataset_from_csv";
    const char *p, *end = (const char *)buf + len;
    int64_t cols = -1, rows = 0, line = 0, bad = 0, i, j;
    float *x = NULL, *y = NULL, *row = NULL;
    distill_status st = DISTILL_OK;
    *out = NULL;
    /* pass 1: count rows and check every line has the same columns */
    for (p = (const char *)buf; p < end && st == DISTILL_OK; p = line_end(p, end) + 1) {
        const char *e = line_end(p, end);
        int64_t c;
        line++;
        if (blank(p, e) || (has_header && line == 1))
            continue;
        c = parse_line(p, e, missing, NULL, &bad);
        if (c < 0)
            st = distill__fail(ctx, DISTILL_E_FORMAT, "%s: %s line %lld, column %lld: not a finite number",
                               fn, path, (long long)line, (long long)bad + 1);
        else if (cols >= 0 && c != cols)
            st = distill__fail(ctx, DISTILL_E_FORMAT, "%s: %s line %lld has %lld columns, expected %lld",
                               fn, path, (long long)line, (long long)c, (long long)cols);
        cols = c;
        rows++;
    }
    if (st == DISTILL_OK && rows == 0)
        st = distill__fail(ctx, DISTILL_E_FORMAT, "%s: %s holds no data", fn, path);
    if (st == DISTILL_OK && (label_column >= cols || (label_column >= 0 && cols < 2)))
        st = distill__fail(ctx, DISTILL_E_INVAL, "%s: label column %lld of %lld columns", fn,
                           (long long)label_column, (long long)cols);
    if (st == DISTILL_OK) {
        const int64_t d = label_column >= 0 ? cols - 1 : cols;
        x = distill__alloc(ctx, sizeof(float) * (size_t)(rows * d));
        y = label_column >= 0 ? distill__alloc(ctx, sizeof(float) * (size_t)rows) : NULL;
        row = distill__alloc(ctx, sizeof(float) * (size_t)cols);
        if (!x || !row || (label_column >= 0 && !y))
            st = distill__fail(ctx, DISTILL_E_NOMEM, "%s: out of memory", fn);
        /* pass 2: fill */
        for (p = (const char *)buf, line = 0, i = 0; st == DISTILL_OK && p < end;
             p = line_end(p, end) + 1) {
            const char *e = line_end(p, end);
            float *xi = x + i * d;
            line++;
            if (blank(p, e) || (has_header && line == 1))
                continue;
            parse_line(p, e, missing, row, &bad);
            for (j = 0; j < cols; j++)
                if (j == label_column)
                    y[i] = row[j];
                else
                    *xi++ = row[j];
            i++;
        }
        if (st == DISTILL_OK) {
            st = distill__dataset_adopt(ctx, rows, d, x, y ? 1 : 0, y, out);
            x = y = NULL;
        }
    }
    distill__free(ctx, x), distill__free(ctx, y), distill__free(ctx, row);
    return st;
}

distill_status distill_dataset_from_csv(distill_context *ctx, const char *path, int flags,
                                        int64_t label_column, distill_dataset **out)
{
    unsigned char *buf;
    size_t len;
    distill_status st;
    if (!ctx)
        return DISTILL_E_INVAL;
    DISTILL__TRY(distill__check_out(ctx, "distill_dataset_from_csv", "out", out));
    *out = NULL;
    if (flags & ~(DISTILL_CSV_HEADER | DISTILL_CSV_MISSING))
        return distill__fail(ctx, DISTILL_E_INVAL, "distill_dataset_from_csv: unknown flags 0x%x",
                             (unsigned)flags);
    DISTILL__TRY(distill__read_file(ctx, path, CSV_LIMIT, &buf, &len));
    st = distill__csv_parse(ctx, path, buf, len, flags, label_column, out);
    distill__free(ctx, buf);
    return st;
}
