/* libdistill: status codes.
 *
 * Every fallible call returns a distill_status.  DISTILL_OK is 0 and errors
 * are negative.  The values are part of the ABI: they are never renumbered
 * or reused; new codes are only appended. */
#ifndef DISTILL_STATUS_H
#define DISTILL_STATUS_H

#include "export.h"

DISTILL_BEGIN_DECLS

typedef int distill_status;

enum {
    DISTILL_OK            = 0,
    DISTILL_E_INVAL       = -1,  /* bad argument: NULL, zero or negative size, bad enum */
    DISTILL_E_NOMEM       = -2,  /* the allocator returned NULL, or a size overflowed */
    DISTILL_E_SHAPE       = -3,  /* sizes or leading dimensions that do not fit together */
    DISTILL_E_WORKSPACE   = -4,  /* the caller's workspace is too small */
    DISTILL_E_BACKEND     = -5,  /* a host callback reported failure */
    DISTILL_E_NUMERIC     = -6,  /* NaN/Inf in data, or a matrix not positive definite */
    DISTILL_E_FORMAT      = -7,  /* a malformed file or message */
    DISTILL_E_IO          = -8,  /* the operating system refused a read or write */
    DISTILL_E_ABI         = -9,  /* struct_size or version mismatch */
    DISTILL_E_CANCELLED   = -10, /* the context's cancel flag was raised */
    DISTILL_E_UNSUPPORTED = -11  /* valid request this build cannot do */
};

/* A short constant name for a status ("DISTILL_E_SHAPE"); never NULL. */
DISTILL_API const char *distill_status_string(distill_status status);

DISTILL_END_DECLS

#endif /* DISTILL_STATUS_H */
