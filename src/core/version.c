#include "distill/version.h"

int distill_version_number(void) { return DISTILL_VERSION_NUMBER; }

const char *distill_version_string(void) { return DISTILL_VERSION_STRING; }
