/* libFuzzer target: the CSV parser (behind distill_dataset_from_csv) must
 * return a status for any bytes, and a dataset it accepts must hold only
 * finite numbers (or NaN for missing values, when asked) in rows of one
 * width.  The first byte picks the flags and the label column. */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "data/idx.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    distill_context *ctx = fuzz_context();
    distill_dataset *ds;
    float x[64], y;
    int64_t i, j, n, d;
    int flags;
    if (size < 1)
        return 0;
    flags = data[0] & (DISTILL_CSV_HEADER | DISTILL_CSV_MISSING);
    if (distill__csv_parse(ctx, "fuzz", data + 1, size - 1, flags, (int64_t)(data[0] >> 2) % 4 - 1, &ds) !=
        DISTILL_OK)
        return 0;
    n = distill_dataset_count(ds), d = distill_dataset_x_dim(ds);
    for (i = 0; i < n && d <= 64; i++) {
        if (distill_dataset_get(ds, &i, 1, x, d, distill_dataset_y_dim(ds) ? &y : NULL, 1) != DISTILL_OK)
            abort();
        for (j = 0; j < d; j++)
            if (isinf(x[j]) || (isnan(x[j]) && !(flags & DISTILL_CSV_MISSING)))
                abort();
    }
    distill_dataset_destroy(ds);
    return 0;
}

size_t fuzz_seed(int i, unsigned char *buf, size_t cap)
{
    static const char *const seeds[] = {"\x05label,a,b\n1,0.5,2\n0,1e3,-4\n", "\x04" "3,4\n5,6\n\n7,8\r\n",
                                        "\x00 1.5 , 2 ,3\n4,5,6", "\x07y,x\n1,nan\n,NA\n"};
    size_t n;
    if (i < 0 || i >= 4)
        return 0;
    n = 1 + strlen(seeds[i] + 1);
    if (n > cap)
        return 0;
    memcpy(buf, seeds[i], n);
    return n;
}
