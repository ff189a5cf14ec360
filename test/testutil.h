/* Shared helpers for the Check suites: deterministic data, double-precision
 * references, and a counting allocator to prove calls leak nothing and
 * allocate nothing when given a workspace. */
#ifndef DISTILL_TESTUTIL_H
#define DISTILL_TESTUTIL_H

#include <check.h>
#include <stdio.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "distill/distill.h"
#include "distill/experimental.h"

Suite *distill_suite_core(void);
Suite *distill_suite_gemm_chol(void);
Suite *distill_suite_krr(void);
Suite *distill_suite_loss(void);
Suite *distill_suite_data(void);
Suite *distill_suite_model(void);
Suite *distill_suite_optim(void);
Suite *distill_suite_train(void);
Suite *distill_suite_io(void);
Suite *distill_suite_krrst(void);
Suite *distill_suite_kd(void);
Suite *distill_suite_abi(void);
Suite *distill_suite_sweep(void);
Suite *distill_suite_messages(void);
Suite *distill_suite_rl(void);
Suite *distill_suite_policy(void);
Suite *distill_suite_orl(void);
Suite *distill_suite_vdd(void);
Suite *distill_suite_mask(void);
Suite *distill_suite_ppo(void);
/* The slow tier (`make test-slow`): fits on the whole real data. */
Suite *distill_suite_slow(void);

/* A copy of the options struct `today` cut to `size` bytes (struct_size
 * set to it), at the very end of a heap block of that size, as a program
 * built against an older release passes it: reading past it trips the
 * sanitizers.  free() it. */
static inline void *test_struct_at_size(const void *today, size_t size)
{
    unsigned char *p = malloc(size);
    const uint32_t s = (uint32_t)size;
    memcpy(p, today, size);
    memcpy(p, &s, sizeof s);
    return p;
}

/* Calls to malloc/calloc/realloc/posix_memalign/aligned_alloc made so far
 * by any code linked into the test binary (test/alloc_wrap.c). */
long test_c_allocations(void);

typedef struct counting_alloc {
    long calls;  /* alloc calls */
    long live;   /* alloc - free */
    long fail_after; /* fail the alloc calls from this index on (0-based); -1 never */
    long fail_once;  /* 1 + the index of the one alloc call to fail; 0 none */
} counting_alloc;

static inline void *counting_alloc_fn(void *user, size_t size, size_t align)
{
    counting_alloc *c = user;
    void *p = NULL;
    if ((c->fail_after >= 0 && c->calls >= c->fail_after) || c->calls + 1 == c->fail_once) {
        c->calls++;
        return NULL;
    }
    c->calls++;
    if (posix_memalign(&p, align < sizeof(void *) ? sizeof(void *) : align, size ? size : 1))
        return NULL;
    c->live++;
    return p;
}

static inline void counting_free_fn(void *user, void *ptr)
{
    counting_alloc *c = user;
    if (ptr) {
        c->live--;
        free(ptr);
    }
}

/* A context whose allocations are counted in *c; 1 thread unless asked. */
static inline distill_context *test_context(counting_alloc *c, int threads)
{
    distill_allocator a;
    distill_context_options o;
    distill_context *ctx = NULL;
    distill_context_options_init(&o);
    o.threads = threads;
    /* DISTILL_TEST_SEED runs the suites under another context seed: a test
     * whose verdict depends on the draw is fragile */
    o.seed = getenv("DISTILL_TEST_SEED") ? strtoull(getenv("DISTILL_TEST_SEED"), NULL, 10) : 1234;
    if (c) {
        memset(c, 0, sizeof *c);
        c->fail_after = -1;
        a.struct_size = sizeof a;
        a.user = c;
        a.alloc = counting_alloc_fn;
        a.free = counting_free_fn;
        o.allocator = &a;
    }
    ck_assert_int_eq(distill_context_create(&o, &ctx), DISTILL_OK);
    return ctx;
}

/* log sum_j exp(z_j * inv_t) in double: the softmax losses' reference. */
static inline double ref_lse(const double *z, int c, double inv_t)
{
    double mx = -HUGE_VAL, s = 0;
    int j;
    for (j = 0; j < c; j++)
        mx = z[j] * inv_t > mx ? z[j] * inv_t : mx;
    for (j = 0; j < c; j++)
        s += exp(z[j] * inv_t - mx);
    return mx + log(s);
}

/* Uniform values in [-1, 1) from a fixed LCG, independent of the library. */
static inline void fill_random(float *x, int64_t count, uint64_t seed)
{
    uint64_t s = seed * 6364136223846793005ull + 1442695040888963407ull;
    int64_t i;
    for (i = 0; i < count; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        x[i] = (float)((double)(s >> 40) / (double)(1ull << 24) * 2.0 - 1.0);
    }
}

static inline float *new_random(int64_t count, uint64_t seed)
{
    float *x = malloc((size_t)(count > 0 ? count : 1) * sizeof(float));
    ck_assert_ptr_nonnull(x);
    fill_random(x, count, seed);
    return x;
}

/* max |a - b| / (scale + max |b|), for arrays of doubles */
static inline double rel_err_fd(const float *a, const double *b, int64_t n)
{
    double num = 0.0, den = 0.0;
    int64_t i;
    for (i = 0; i < n; i++) {
        double e = fabs((double)a[i] - b[i]);
        if (e > num)
            num = e;
        if (fabs(b[i]) > den)
            den = fabs(b[i]);
    }
    return num / (den + 1e-30);
}

/* C (m x n) = op(A) op(B), all in double, from row-major floats. */
static inline void ref_gemm(int ta, int tb, int64_t m, int64_t n, int64_t k, const float *a,
                            int64_t lda, const float *b, int64_t ldb, double *c)
{
    int64_t i, j, p;
    for (i = 0; i < m; i++)
        for (j = 0; j < n; j++) {
            double s = 0.0;
            for (p = 0; p < k; p++) {
                double av = ta ? a[p * lda + i] : a[i * lda + p];
                double bv = tb ? b[j * ldb + p] : b[p * ldb + j];
                s += av * bv;
            }
            c[i * n + j] = s;
        }
}

/* In-place Cholesky and solve in double (n x n dense, ld n). */
static inline int ref_cholesky(int64_t n, double *a)
{
    int64_t i, j, p;
    for (j = 0; j < n; j++) {
        double d = a[j * n + j];
        for (p = 0; p < j; p++)
            d -= a[j * n + p] * a[j * n + p];
        if (!(d > 0))
            return -1;
        a[j * n + j] = sqrt(d);
        for (i = j + 1; i < n; i++) {
            double s = a[i * n + j];
            for (p = 0; p < j; p++)
                s -= a[i * n + p] * a[j * n + p];
            a[i * n + j] = s / a[j * n + j];
        }
    }
    return 0;
}

static inline void ref_chol_solve(int64_t n, int64_t k, const double *l, double *b)
{
    int64_t i, j, p;
    for (j = 0; j < k; j++) {
        for (i = 0; i < n; i++) {
            double s = b[i * k + j];
            for (p = 0; p < i; p++)
                s -= l[i * n + p] * b[p * k + j];
            b[i * k + j] = s / l[i * n + i];
        }
        for (i = n - 1; i >= 0; i--) {
            double s = b[i * k + j];
            for (p = i + 1; p < n; p++)
                s -= l[p * n + i] * b[p * k + j];
            b[i * k + j] = s / l[i * n + i];
        }
    }
}

/* A whole file into a malloc'd buffer (one byte spare); *len its size. */
static inline unsigned char *test_slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    unsigned char *b;
    ck_assert_ptr_nonnull(f);
    fseek(f, 0, SEEK_END);
    *len = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    b = malloc(*len + 1);
    ck_assert_int_eq(fread(b, 1, *len, f), *len);
    fclose(f);
    return b;
}

#define ck_assert_status(expr, want)                                                          \
    do {                                                                                      \
        distill_status st_ = (expr);                                                          \
        ck_assert_msg(st_ == (want), "%s returned %s, expected %s", #expr,                    \
                      distill_status_string(st_), distill_status_string(want));               \
    } while (0)

/* The call failed with `want` and left a message mentioning `needle`. */
#define ck_assert_fails(ctx, expr, want, needle)                                              \
    do {                                                                                      \
        ck_assert_status(expr, want);                                                         \
        ck_assert_msg(strstr(distill_context_last_error(ctx), needle) != NULL,                \
                      "message '%s' lacks '%s'", distill_context_last_error(ctx), needle);    \
    } while (0)

#endif /* DISTILL_TESTUTIL_H */
