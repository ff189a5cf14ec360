/* A libFuzzer stand-in for `make check`: feeds a target its seeds and a
 * fixed set of mutations of them (bit flips, byte sets, truncations,
 * extensions), so the loaders' error paths run under ASan on every check. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

/* Each target supplies its seeds: seed i into buf (at most cap bytes),
 * returning its length, or 0 when there are no more. */
size_t fuzz_seed(int i, unsigned char *buf, size_t cap);

static unsigned long long state = 88172645463325252ull;
static unsigned long long next(void)
{
    state ^= state << 13, state ^= state >> 7, state ^= state << 17;
    return state;
}

#define CAP 8192

static void run(const unsigned char *seed, size_t len, int rounds)
{
    static unsigned char buf[CAP + 64];
    int r;
    LLVMFuzzerTestOneInput(seed, len);
    for (r = 0; r < rounds; r++) {
        size_t n = len, i, k = 1 + next() % 4;
        unsigned char *copy;
        memcpy(buf, seed, len);
        for (i = 0; i < k && n > 0; i++) {
            switch (next() % 4) {
            case 0: buf[next() % n] ^= (unsigned char)(1u << (next() % 8)); break;
            case 1: buf[next() % n] = (unsigned char)next(); break;
            case 2: n = next() % (n + 1); if (n == 0) n = 1; break;
            default: if (n < CAP + 64) buf[n++] = (unsigned char)next(); break;
            }
        }
        /* an exact-size heap copy, so ASan sees any over-read */
        copy = malloc(n);
        memcpy(copy, buf, n);
        LLVMFuzzerTestOneInput(copy, n);
        free(copy);
    }
}

/* --seeds DIR: write the seeds as files, a corpus for libFuzzer. */
static int write_seeds(const char *dir)
{
    static unsigned char seed[CAP];
    char path[4096];
    size_t len;
    int i;
    for (i = 0; (len = fuzz_seed(i, seed, CAP)) > 0; i++) {
        FILE *f;
        snprintf(path, sizeof path, "%s/seed-%d", dir, i);
        if (!(f = fopen(path, "wb")) || fwrite(seed, 1, len, f) != len)
            return 1;
        fclose(f);
    }
    return 0;
}

int main(int argc, char **argv)
{
    static unsigned char seed[CAP];
    size_t len;
    int i, total = 0;
    if (argc == 3 && strcmp(argv[1], "--seeds") == 0)
        return write_seeds(argv[2]);
    for (i = 0; (len = fuzz_seed(i, seed, CAP)) > 0; i++) {
        run(seed, len, 20000);
        total += 20001;
    }
    printf("fuzz-smoke: %d seeds, %d inputs, no crash\n", i, total);
    return i > 0 ? 0 : 1;
}
