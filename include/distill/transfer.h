/* libdistill: 0.1's header of the transfer protocol, kept so that 0.1
 * sources compile.  Its declarations are experimental since 0.2: see
 * experimental.h, which this includes. */
#ifndef DISTILL_TRANSFER_H
#define DISTILL_TRANSFER_H

#include "experimental.h"

#endif /* DISTILL_TRANSFER_H */
