/* A libFuzzer stand-in for `make check`: feeds a target its seeds and a
 * fixed set of mutations of them (bit flips, byte sets, truncations,
 * extensions), so the loaders' error paths run under ASan on every check. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

static const unsigned char seed_images[] = {0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 2,
                                            1, 2, 3, 4, 5, 6, 7, 8};
static const unsigned char seed_labels[] = {0, 0, 8, 1, 0, 0, 0, 3, 7, 8, 9};
static const unsigned char seed_4d[] = {0, 0, 8, 4, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1,
                                        0, 0, 0, 2, 9, 9};

static unsigned long long state = 88172645463325252ull;
static unsigned long long next(void)
{
    state ^= state << 13, state ^= state >> 7, state ^= state << 17;
    return state;
}

static void run(const unsigned char *seed, size_t len, int rounds)
{
    unsigned char buf[64];
    int r;
    LLVMFuzzerTestOneInput(seed, len);
    for (r = 0; r < rounds; r++) {
        size_t n = len, i, k = 1 + next() % 4;
        unsigned char *copy;
        memcpy(buf, seed, len);
        for (i = 0; i < k; i++) {
            switch (next() % 4) {
            case 0: buf[next() % n] ^= (unsigned char)(1u << (next() % 8)); break;
            case 1: buf[next() % n] = (unsigned char)next(); break;
            case 2: n = next() % (n + 1); if (n == 0) n = 1; break;
            default: if (n < sizeof buf) buf[n++] = (unsigned char)next(); break;
            }
        }
        /* an exact-size heap copy, so ASan sees any over-read */
        copy = malloc(n);
        memcpy(copy, buf, n);
        LLVMFuzzerTestOneInput(copy, n);
        free(copy);
    }
}

int main(void)
{
    run(seed_images, sizeof seed_images, 20000);
    run(seed_labels, sizeof seed_labels, 20000);
    run(seed_4d, sizeof seed_4d, 20000);
    printf("fuzz-smoke: 60003 inputs, no crash\n");
    return 0;
}
