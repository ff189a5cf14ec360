/* libdistill: datasets.
 *
 * A distill_dataset holds n samples, each a row of x_dim floats (an image
 * is C x H x W, channel-major) with a row of y_dim floats of targets (a
 * class label is y_dim = 1 holding the class index).  It is an in-memory
 * array (owned or borrowed) or a host backend: a vtable through which the
 * host supplies its own loader.
 *
 * THREAD SAFETY: as the context. */
#ifndef DISTILL_DATA_H
#define DISTILL_DATA_H

#include <stddef.h>
#include <stdint.h>

#include "core.h"
#include "export.h"
#include "status.h"

DISTILL_BEGIN_DECLS

typedef struct distill_dataset distill_dataset;

/* A host data source.  The library copies this struct (and the name) at
 * create time and reads only the members that fit struct_size.  Callbacks
 * return 0 on success, anything else on failure (the call then fails with
 * DISTILL_E_BACKEND naming the backend and callback; the dataset stays
 * usable).  Nothing may unwind (longjmp, exceptions) through the library. */
typedef struct distill_backend {
    uint32_t struct_size; /* sizeof(distill_backend) */
    uint32_t flags;       /* reserved, 0 */
    void *user;
    const char *name;     /* for messages; may be NULL */
    /* *n = number of samples */
    int (*count)(void *user, int64_t *n);
    /* Fill rows i < n of x (x_dim floats each, leading dimension ldx) and y
     * (y_dim floats, ldy) with samples idx[i]. */
    int (*load_batch)(void *user, const int64_t *idx, int64_t n, float *x, int64_t ldx,
                      float *y, int64_t ldy);
    /* Optional: called once when the dataset is destroyed. */
    void (*release)(void *user);
} distill_backend;

DISTILL_API size_t distill_backend_size(void);

enum {
    DISTILL_DATASET_COPY = 0,   /* the dataset owns a copy of the arrays */
    DISTILL_DATASET_BORROW = 1  /* the caller keeps the arrays alive and unchanged */
};

/* From memory: x is n x x_dim (ldx), y is n x y_dim (ldy; y may be NULL
 * with y_dim = 0). */
DISTILL_API DISTILL_NODISCARD distill_status
distill_dataset_from_memory(distill_context *ctx, int64_t n, int64_t x_dim, const float *x,
                            int64_t ldx, int64_t y_dim, const float *y, int64_t ldy, int mode,
                            distill_dataset **out);

/* From IDX files (gzip'd or plain), e.g. Fashion-MNIST as Debian ships it:
 * pixels scaled to [0, 1], image shape 1 x rows x cols, y = the label.
 * labels_path may be NULL (y_dim = 0).  Malformed or truncated files give
 * DISTILL_E_FORMAT, unreadable ones DISTILL_E_IO. */
DISTILL_API DISTILL_NODISCARD distill_status
distill_dataset_from_idx(distill_context *ctx, const char *images_path,
                         const char *labels_path, distill_dataset **out);

/* Flags of distill_dataset_from_csv (1 and 0 keep their old meaning of
 * has_header). */
enum {
    DISTILL_CSV_HEADER = 1,  /* the first line is a header */
    DISTILL_CSV_MISSING = 2  /* an empty field, "nan" or "NA" is a missing value (NaN) */
};

/* From a CSV file of numbers (comma-separated, one sample per line, an
 * optional header line).  label_column < 0: every column is a feature and
 * y_dim = 0; otherwise that column becomes y (y_dim = 1).  Without
 * DISTILL_CSV_MISSING every field must be a finite number. */
DISTILL_API DISTILL_NODISCARD distill_status
distill_dataset_from_csv(distill_context *ctx, const char *path, int flags,
                         int64_t label_column, distill_dataset **out);

/* From a host backend; x_dim and y_dim are the row sizes it fills. */
DISTILL_API DISTILL_NODISCARD distill_status
distill_dataset_from_backend(distill_context *ctx, const distill_backend *backend,
                             int64_t x_dim, int64_t y_dim, distill_dataset **out);

/* The samples idx[0..n) of ds, as a view sharing its data (ds may be
 * destroyed first).  Indices may repeat. */
DISTILL_API DISTILL_NODISCARD distill_status
distill_dataset_subset(const distill_dataset *ds, const int64_t *idx, int64_t n,
                       distill_dataset **out);
/* The samples whose label (y[0], y_dim >= 1) is one of classes[0..n_classes). */
DISTILL_API DISTILL_NODISCARD distill_status
distill_dataset_subset_classes(const distill_dataset *ds, const int32_t *classes,
                               int64_t n_classes, distill_dataset **out);

/* NULL-safe; calls the backend's release once its last dataset is gone. */
DISTILL_API void distill_dataset_destroy(distill_dataset *ds);

DISTILL_API int64_t distill_dataset_count(const distill_dataset *ds);
DISTILL_API int64_t distill_dataset_x_dim(const distill_dataset *ds);
DISTILL_API int64_t distill_dataset_y_dim(const distill_dataset *ds);
/* Image shape; c*h*w must equal x_dim.  Default: x_dim x 1 x 1. */
DISTILL_API DISTILL_NODISCARD distill_status
distill_dataset_set_shape(distill_dataset *ds, int64_t c, int64_t h, int64_t w);
DISTILL_API void distill_dataset_shape(const distill_dataset *ds, int64_t *c, int64_t *h,
                                       int64_t *w);

/* Copy samples idx[0..n) into x (n x x_dim, ldx) and y (n x y_dim, ldy).
 * Either may be NULL (not both): y = NULL skips the targets, x = NULL
 * reads only the labels (a backend still loads x, into a scratch buffer). */
DISTILL_API DISTILL_NODISCARD distill_status
distill_dataset_get(distill_dataset *ds, const int64_t *idx, int64_t n, float *x, int64_t ldx,
                    float *y, int64_t ldy);

/* Copy the samples [start, start + n) (n >= 1) into x and y (may be NULL). */
DISTILL_API DISTILL_NODISCARD distill_status
distill_dataset_get_range(distill_dataset *ds, int64_t start, int64_t n, float *x, int64_t ldx,
                          float *y, int64_t ldy);
/* Mini-batch `batch` (0-based) of epoch `epoch` under a shuffle that is a
 * pure function of (context seed, dataset stream, epoch).  Batches cover
 * the epoch in order; the last may be short (*n_out < batch_size), and
 * *n_out = 0 past the end.  idx_out (batch_size entries) may be NULL. */
DISTILL_API DISTILL_NODISCARD distill_status
distill_dataset_batch(distill_dataset *ds, int64_t epoch, int64_t batch, int64_t batch_size,
                      float *x, int64_t ldx, float *y, int64_t ldy, int64_t *idx_out,
                      int64_t *n_out);
/* Write the dataset (its rows, targets and image shape) to a file that
 * distill_distilled_load reads back (the container; replaced atomically).
 * A dataset without targets is DISTILL_E_INVAL. */
DISTILL_API DISTILL_NODISCARD distill_status distill_dataset_save(const distill_dataset *ds, const char *path);
/* The rows (n x x_dim) and targets (n x y_dim) as .npy arrays (float32,
 * C order); either path may be NULL.  A trajectory dataset's y holds the
 * action, reward, done, episode and return-to-go columns (rl.h). */
DISTILL_API DISTILL_NODISCARD distill_status distill_dataset_save_npy(const distill_dataset *ds, const char *x_path,
                                                                      const char *y_path);

/* The number of batches of an epoch. */
DISTILL_API int64_t distill_dataset_batches(const distill_dataset *ds, int64_t batch_size);

/* ---- Augmentations: in place on a batch of n images C x H x W (row
 * stride c*h*w), random draws from `stream` at `offset` (so a step's
 * augmentation is reproducible). ---------------------------------------- */

/* Pad by `pad` zeros on each side, crop a random H x W window. */
DISTILL_API DISTILL_NODISCARD distill_status
distill_augment_crop(distill_context *ctx, uint64_t stream, uint64_t offset, int64_t n,
                     int64_t c, int64_t h, int64_t w, int64_t pad, float *x);
/* Mirror each image left-right with probability p. */
DISTILL_API DISTILL_NODISCARD distill_status
distill_augment_flip(distill_context *ctx, uint64_t stream, uint64_t offset, int64_t n,
                     int64_t c, int64_t h, int64_t w, float p, float *x);
/* Add N(0, std^2) noise to every value. */
DISTILL_API DISTILL_NODISCARD distill_status
distill_augment_noise(distill_context *ctx, uint64_t stream, uint64_t offset, int64_t n,
                      int64_t dim, float std, float *x);
/* x = (x - mean[ch]) / std[ch] per channel. */
DISTILL_API DISTILL_NODISCARD distill_status
distill_augment_normalize(distill_context *ctx, int64_t n, int64_t c, int64_t h, int64_t w,
                          const float *mean, const float *std, float *x);

/* A smaller view of images: out (n x c*(h/block)*(w/block)) holds the
 * mean of each block x block square of x (n images C x H x W); block must
 * divide h and w.  E.g. Fashion-MNIST's 7x7 view with block 4. */
DISTILL_API DISTILL_NODISCARD distill_status
distill_image_block_mean(distill_context *ctx, int64_t n, int64_t c, int64_t h, int64_t w,
                         int64_t block, const float *x, float *out);

DISTILL_END_DECLS

#endif /* DISTILL_DATA_H */
