/* libdistill: version.  The macros describe the header you compiled
 * against; the functions describe the library actually loaded. */
#ifndef DISTILL_VERSION_H
#define DISTILL_VERSION_H

#include "export.h"

#define DISTILL_VERSION_MAJOR 0
#define DISTILL_VERSION_MINOR 2
#define DISTILL_VERSION_PATCH 0
#define DISTILL_VERSION_NUMBER \
    (DISTILL_VERSION_MAJOR * 10000 + DISTILL_VERSION_MINOR * 100 + DISTILL_VERSION_PATCH)

#define DISTILL__STR2(x) #x
#define DISTILL__STR(x) DISTILL__STR2(x)
#define DISTILL_VERSION_STRING                                              \
    DISTILL__STR(DISTILL_VERSION_MAJOR) "." DISTILL__STR(DISTILL_VERSION_MINOR) \
    "." DISTILL__STR(DISTILL_VERSION_PATCH)

DISTILL_BEGIN_DECLS

/* MAJOR*10000 + MINOR*100 + PATCH of the loaded library. */
DISTILL_API int distill_version_number(void);
/* "MAJOR.MINOR.PATCH" of the loaded library; static storage. */
DISTILL_API const char *distill_version_string(void);

DISTILL_END_DECLS

#endif /* DISTILL_VERSION_H */
