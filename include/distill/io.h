/* libdistill: writing arrays for other tools.
 *
 * Everything the library saves (models, checkpoints, distilled sets) goes
 * into its own container format through each handle's save call; this
 * header adds plain NumPy .npy files so Python users can numpy.load() what
 * the library produces.  Files are replaced atomically. */
#ifndef DISTILL_IO_H
#define DISTILL_IO_H

#include <stddef.h>
#include <stdint.h>

#include "core.h"
#include "export.h"
#include "status.h"

DISTILL_BEGIN_DECLS

/* Save rows x cols floats (leading dimension ld) as a little-endian float32
 * .npy array of shape (rows, cols), or (cols,) when rows == 0. */
DISTILL_API DISTILL_NODISCARD distill_status
distill_npy_save(distill_context *ctx, const char *path, int64_t rows, int64_t cols,
                 const float *data, int64_t ld);

/* Save n images (c = 1 grey or 3 RGB, c x h x w floats each, values in
 * [0, 1], clipped) as one PNG grid with `cols` images per row (0: about
 * square) and a one-pixel black border. */
DISTILL_API DISTILL_NODISCARD distill_status
distill_png_save_grid(distill_context *ctx, const char *path, int64_t n, int64_t c, int64_t h,
                      int64_t w, const float *images, int64_t cols);

DISTILL_END_DECLS

#endif /* DISTILL_IO_H */
