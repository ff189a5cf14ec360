/* Private: what every solver's checkpoint shares.  A checkpoint is a
 * container file; its header section holds the sizes a resuming solver
 * must match, the step count and the solver's random stream, then each
 * method adds its own sections.  Writing goes to a temporary file renamed
 * into place (nothing written earlier is lost); a resume checks the whole
 * file before it changes the solver (a refused file changes nothing). */
#ifndef DISTILL_SOLVER_CHECKPOINT_H
#define DISTILL_SOLVER_CHECKPOINT_H

#include <stddef.h>
#include <stdint.h>

#include "../core/container.h"

enum { DISTILL__CKPT_MAX_VALUES = 8 };

/* The header section: i64 values in the method's order (the step count at
 * index step_at, every other one a size that must match), then u64 the
 * solver's stream.  The layout is the one 0.1's checkpoints have. */
typedef struct distill__ckpt_head {
    uint32_t section;        /* the method's FOURCC, e.g. 'KRHD' */
    const char *method;      /* "KRR-ST": for messages */
    const char *sizes;       /* "m, image size, k, ...": what a mismatch names */
    int64_t values[DISTILL__CKPT_MAX_VALUES];
    int n, step_at;
    uint64_t stream;
    uint64_t seed;           /* the context's seed, in a section of its own ('CKSD', since 0.2) */
} distill__ckpt_head;

void distill__ckpt_put_head(distill__writer *w, const distill__ckpt_head *h);
/* Find the header section in buf and check it against h (every value but
 * the step equal, and the context seed when the file has one: a resume under
 * another seed would continue as neither run): the step (>= 0) and the
 * stream come back. */
distill_status distill__ckpt_check_head(distill_context *ctx, const char *fn, const char *path,
                                        const unsigned char *buf, size_t len,
                                        const distill__ckpt_head *h, int64_t *step, uint64_t *stream);
/* Find section `type` and check that it holds exactly `bytes` bytes. */
distill_status distill__ckpt_section(distill_context *ctx, const char *fn, const char *path,
                                     const unsigned char *buf, size_t len, uint32_t type,
                                     int64_t bytes, distill__cursor *c);
/* DISTILL_E_FORMAT: "fn: path: what". */
distill_status distill__ckpt_bad(distill_context *ctx, const char *fn, const char *path,
                                 const char *what);

/* Write a checkpoint: put(user, w) adds the sections; the file appears
 * whole or not at all. */
typedef distill_status (*distill__ckpt_put_fn)(const void *user, distill__writer *w);
distill_status distill__ckpt_write(distill_context *ctx, const char *fn, const char *path,
                                   distill__ckpt_put_fn put, const void *user);
/* Read a checkpoint and hand it to load(user, buf, len, path), which must
 * check everything before it writes anything. */
typedef distill_status (*distill__ckpt_load_fn)(void *user, const unsigned char *buf, size_t len,
                                                const char *path);
distill_status distill__ckpt_read(distill_context *ctx, const char *fn, const char *path,
                                  distill__ckpt_load_fn load, void *user);

#endif /* DISTILL_SOLVER_CHECKPOINT_H */
