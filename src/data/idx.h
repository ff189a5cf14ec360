/* Private: parsing IDX and CSV buffers (exposed for the fuzz targets and tests). */
#ifndef DISTILL_DATA_IDX_H
#define DISTILL_DATA_IDX_H

#include <stddef.h>
#include <stdint.h>

#include "internal.h"

#define DISTILL__IDX_MAX_DIMS 4

typedef struct distill__idx {
    int ndim;
    int64_t dims[DISTILL__IDX_MAX_DIMS];
    int64_t count;          /* dims[0] */
    int64_t row;            /* product of the other dims (1 for ndim 1) */
    const unsigned char *data; /* count * row unsigned bytes */
} distill__idx;

/* Parse an IDX buffer of unsigned bytes; DISTILL_E_FORMAT on anything
 * malformed or truncated (`what` names it in the message). */
distill_status distill__idx_parse(distill_context *ctx, const char *what,
                                  const unsigned char *buf, size_t len, distill__idx *out);
/* Parse a CSV buffer (the body of distill_dataset_from_csv; `path` names
 * it in messages): exposed for the fuzz target. */
distill_status distill__csv_parse(distill_context *ctx, const char *path, const unsigned char *buf,
                                  size_t len, int flags, int64_t label_column,
                                  distill_dataset **out);
/* Read a whole (gzip'd or plain) file into memory, at most `limit` bytes. */
distill_status distill__read_file(distill_context *ctx, const char *path, size_t limit,
                                  unsigned char **buf, size_t *len);

#endif /* DISTILL_DATA_IDX_H */
