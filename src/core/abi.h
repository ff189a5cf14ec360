/* Private: reading the caller's options structs and vtables across
 * releases (docs/abi.md, "Structs").  Every reader goes through here. */
#ifndef DISTILL_CORE_ABI_H
#define DISTILL_CORE_ABI_H

#include <stddef.h>

#include "internal.h"

/* Copy the caller's struct `in` (starting with uint32_t struct_size) into
 * `out`, which the library's *_init already filled with defaults.
 *
 * Accepted: any struct_size from `oldest` (the struct's size in the release
 * that introduced it) up to `size` (today's): the members that fit are
 * taken, the rest keep their defaults.  A larger struct_size (a program
 * built against a later release) is accepted when every byte past `size`
 * is zero, i.e. it uses nothing this library lacks (up to 1 KiB more; a
 * struct_size beyond that is garbage, and nothing past it is read).  Anything else is
 * DISTILL_E_ABI with a message naming fn and what.  out->struct_size is
 * set to `size`.  ctx may be NULL (no message then). */
distill_status distill__struct_read(distill_context *ctx, const char *fn, const char *what,
                                    const void *in, size_t oldest, size_t size, void *out);

/* The struct_size a caller's struct declares (its first member). */
size_t distill__struct_size_of(const void *in);

#endif /* DISTILL_CORE_ABI_H */
