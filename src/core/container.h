/* Private: the one file format of the library.
 *
 *   header   "DSTLFILE" (8 bytes), u32 format version, u32 section count
 *   section  u32 type (four characters), u32 flags (0), u64 payload length,
 *            u32 CRC32 of the payload, u32 reserved (0), payload
 *
 * Malformed, besides bad bounds and CRCs: flags or reserved words not 0, two
 * sections of one type, a section longer than its reader needs.
 *
 * All integers little-endian; floats IEEE-754 binary32, little-endian.
 * Readers check everything (magic, version, bounds, CRC) before any
 * section is used; writers replace files atomically. */
#ifndef DISTILL_CORE_CONTAINER_H
#define DISTILL_CORE_CONTAINER_H

#include <stddef.h>
#include <stdint.h>

#include "internal.h"

#define DISTILL__FORMAT_VERSION 1u
/* The largest file the loaders read (64 GiB). */
#define DISTILL__FILE_LIMIT ((size_t)1 << 36)
#define DISTILL__FOURCC(a, b, c, d) \
    ((uint32_t)(a) | (uint32_t)(b) << 8 | (uint32_t)(c) << 16 | (uint32_t)(d) << 24)

typedef struct distill__writer {
    distill_context *ctx;
    unsigned char *buf;
    size_t len, cap, section; /* section: offset of the open section's header */
    uint32_t count;
    int failed;               /* out of memory: commit reports it */
} distill__writer;

void distill__writer_init(distill__writer *w, distill_context *ctx);
void distill__writer_free(distill__writer *w);
void distill__section_begin(distill__writer *w, uint32_t type);
void distill__section_end(distill__writer *w);
void distill__put_u32(distill__writer *w, uint32_t v);
void distill__put_i64(distill__writer *w, int64_t v);
void distill__put_f32(distill__writer *w, float v);
void distill__put_f32s(distill__writer *w, const float *v, int64_t n);
void distill__put_bytes(distill__writer *w, const void *p, size_t n);
/* Write the container to path atomically (temporary file in the same
 * directory, fsync, rename), then free the writer. */
distill_status distill__writer_commit(distill__writer *w, const char *path);
/* The whole container's bytes (for in-memory users: its section count
 * patched in), or NULL after a failed allocation; valid until writer_free. */
const unsigned char *distill__writer_bytes(const distill__writer *w, size_t *len);

typedef struct distill__cursor {
    const unsigned char *p, *end;
    int bad; /* read past the end */
} distill__cursor;

/* Validate a whole container; DISTILL_E_FORMAT (with a message) if not. */
distill_status distill__container_check(distill_context *ctx, const char *what,
                                        const unsigned char *buf, size_t len);
/* The first section of `type` in a checked container, as a cursor. */
int distill__container_find(const unsigned char *buf, size_t len, uint32_t type,
                            distill__cursor *c);
uint32_t distill__get_u32(distill__cursor *c);
int64_t distill__get_i64(distill__cursor *c);
float distill__get_f32(distill__cursor *c);
void distill__get_f32s(distill__cursor *c, float *out, int64_t n);

/* CRC32 (zlib's) of n bytes, any n. */
uint32_t distill__crc32(const void *p, size_t n);

/* Read a whole plain file (at most limit bytes). */
distill_status distill__read_all(distill_context *ctx, const char *path, size_t limit,
                                 unsigned char **buf, size_t *len);
/* Read a whole file and validate it as a container (distill__container_check,
 * `path` naming it): on success *buf (freed by the caller) holds it. */
distill_status distill__container_read(distill_context *ctx, const char *path, size_t limit,
                                       unsigned char **buf, size_t *len);
/* Write bytes to path atomically. */
distill_status distill__write_atomic(distill_context *ctx, const char *path,
                                     const void *buf, size_t len);

#endif /* DISTILL_CORE_CONTAINER_H */
