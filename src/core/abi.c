/* One rule for every options struct and vtable a caller hands in. */
#include <stdint.h>
#include <string.h>

#include "abi.h"

size_t distill__struct_size_of(const void *in)
{
    uint32_t n;
    memcpy(&n, in, sizeof n);
    return n;
}

distill_status distill__struct_read(distill_context *ctx, const char *fn, const char *what,
                                    const void *in, size_t oldest, size_t size, void *out)
{
    const size_t given = distill__struct_size_of(in);
    const uint32_t ours = (uint32_t)size;
    size_t i;
    if (given > size + 1024)
        return distill__fail(ctx, DISTILL_E_ABI, "%s: %s struct_size %zu is not a size this library "
                             "knows (%zu); fill it with the *_init call", fn, what, given, size);
    if (given < oldest)
        return distill__fail(ctx, DISTILL_E_ABI, "%s: %s struct_size %zu is below the smallest this "
                             "library accepts (%zu); fill it with the *_init call", fn, what, given, oldest);
    for (i = size; i < given; i++) /* a later release's members this library lacks */
        if (((const unsigned char *)in)[i] != 0)
            return distill__fail(ctx, DISTILL_E_ABI, "%s: %s struct_size %zu is larger than this "
                                 "library's %zu and byte %zu is set: the program uses a member of a "
                                 "later libdistill", fn, what, given, size, i);
    memcpy(out, in, given < size ? given : size);
    memcpy(out, &ours, sizeof ours);
    return DISTILL_OK;
}
