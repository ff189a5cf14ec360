/* libFuzzer target: the IDX parser must return a status for any input and
 * never read outside it.  `make fuzz` runs it under libFuzzer (clang);
 * `make check` replays seeds and deterministic mutations through
 * test/fuzz/driver.c. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

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

size_t fuzz_seed(int i, unsigned char *buf, size_t cap);

size_t fuzz_seed(int i, unsigned char *buf, size_t cap)
{
    static const unsigned char images[] = {0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 2,
                                           1, 2, 3, 4, 5, 6, 7, 8};
    static const unsigned char labels[] = {0, 0, 8, 1, 0, 0, 0, 3, 7, 8, 9};
    static const unsigned char four_d[] = {0, 0, 8, 4, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1,
                                           0, 0, 0, 2, 9, 9};
    const unsigned char *s[] = {images, labels, four_d};
    const size_t n[] = {sizeof images, sizeof labels, sizeof four_d};
    if (i < 0 || i >= 3 || n[i] > cap)
        return 0;
    memcpy(buf, s[i], n[i]);
    return n[i];
}
