/* Shared by the container fuzz targets. */
#ifndef DISTILL_FUZZ_UTIL_H
#define DISTILL_FUZZ_UTIL_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "distill/distill.h"

/* What every target defines; the driver (or libFuzzer) calls them. */
int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);
size_t fuzz_seed(int i, unsigned char *buf, size_t cap);

/* One context for the whole run. */
static inline distill_context *fuzz_context(void)
{
    static distill_context *ctx;
    if (!ctx && distill_context_create(NULL, &ctx) != DISTILL_OK)
        abort();
    return ctx;
}

/* A copy whose section CRCs are made right, so mutations get past the CRC
 * check into the section parsers. */
static inline unsigned char *fuzz_fix_crcs(const unsigned char *data, size_t size)
{
    unsigned char *b = malloc(size ? size : 1);
    size_t off = 16;
    if (!b)
        return NULL;
    memcpy(b, data, size);
    while (size >= 24 && off <= size - 24) {
        uint64_t len = 0;
        uint32_t crc;
        int k;
        for (k = 7; k >= 0; k--)
            len = len << 8 | b[off + 8 + k];
        if (len > size - off - 24)
            break;
        crc = (uint32_t)crc32(0L, b + off + 24, (uInt)len);
        for (k = 0; k < 4; k++)
            b[off + 16 + k] = (unsigned char)(crc >> (8 * k));
        off += 24 + (size_t)len;
    }
    return b;
}

/* Feed an input to `load` as it is and with its CRCs fixed. */
static inline void fuzz_both(const unsigned char *data, size_t size,
                             void (*load)(const unsigned char *, size_t))
{
    unsigned char *fixed = fuzz_fix_crcs(data, size);
    load(data, size);
    if (fixed) {
        load(fixed, size);
        free(fixed);
    }
}

/* The same for messages that end in a CRC32 of every byte before it (mask
 * and sharing messages): as it is and with that trailer made right. */
static inline void fuzz_both_trailer(const unsigned char *data, size_t size,
                                     void (*load)(const unsigned char *, size_t))
{
    unsigned char *fixed;
    uint32_t crc;
    load(data, size);
    if (size < 8 || !(fixed = malloc(size)))
        return;
    memcpy(fixed, data, size);
    crc = (uint32_t)crc32(0L, fixed, (uInt)(size - 4));
    fixed[size - 4] = (unsigned char)crc, fixed[size - 3] = (unsigned char)(crc >> 8);
    fixed[size - 2] = (unsigned char)(crc >> 16), fixed[size - 1] = (unsigned char)(crc >> 24);
    load(fixed, size);
    free(fixed);
}

/* One scratch file per process, for the targets whose loaders read files. */
static inline const char *fuzz_scratch(void)
{
    static char path[64];
    if (!path[0])
        snprintf(path, sizeof path, "/tmp/distill-fuzz-%ld.dstl", (long)getpid());
    return path;
}

/* Put an input into the scratch file; 0 if it cannot be written. */
static inline int fuzz_write_scratch(const unsigned char *data, size_t size)
{
    FILE *f = fopen(fuzz_scratch(), "wb");
    if (!f)
        return 0;
    if (size)
        fwrite(data, 1, size, f);
    fclose(f);
    return 1;
}

/* Read the scratch file (a seed a library call just wrote) and remove it. */
static inline size_t fuzz_take_scratch(unsigned char *buf, size_t cap)
{
    FILE *f = fopen(fuzz_scratch(), "rb");
    size_t n = f ? fread(buf, 1, cap, f) : 0;
    if (f)
        fclose(f);
    unlink(fuzz_scratch());
    return n;
}

#endif /* DISTILL_FUZZ_UTIL_H */
