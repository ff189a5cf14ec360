/* libFuzzer target: the IDX parser must return a status for any input and
 * never read outside it.  `make fuzz` runs it under libFuzzer (clang);
 * `make check` replays seeds and deterministic mutations through
 * test/fuzz/driver.c. */
#include <stddef.h>
#include <stdint.h>

#include "data/idx.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static distill_context *ctx;
    distill__idx idx;
    volatile unsigned sum = 0;
    int64_t i;
    if (!ctx && distill_context_create(NULL, &ctx) != DISTILL_OK)
        return 0;
    if (distill__idx_parse(ctx, "fuzz", data, size, &idx) == DISTILL_OK)
        for (i = 0; i < idx.count * idx.row; i++) /* every promised byte is readable */
            sum += idx.data[i];
    return 0;
}
