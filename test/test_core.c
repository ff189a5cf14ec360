/* core: version, status codes, the context, allocator hooks, RNG, cancel. */
#include <stdio.h>

#include "testutil.h"
#include "core/internal.h"
#include "core/rng.h"

START_TEST(version_macros_match_runtime)
{
    /* the library that runs is the one whose header was compiled in, and
     * the string, the number and the parts say the same thing */
    int major = -1, minor = -1, patch = -1;
    char tail = 0;
    const int v = distill_version_number();
    ck_assert_int_eq(sscanf(distill_version_string(), "%d.%d.%d%c", &major, &minor, &patch, &tail), 3);
    ck_assert_str_eq(distill_version_string(), DISTILL_VERSION_STRING);
    ck_assert_int_eq(major, DISTILL_VERSION_MAJOR);
    ck_assert_int_eq(minor, DISTILL_VERSION_MINOR);
    ck_assert_int_eq(patch, DISTILL_VERSION_PATCH);
    ck_assert_int_eq(v, major * 10000 + minor * 100 + patch);
    ck_assert_int_eq(v, DISTILL_VERSION_NUMBER);
    ck_assert(minor < 100 && patch < 100);
}
END_TEST

START_TEST(status_strings_are_distinct)
{
    int a, b;
    for (a = DISTILL_E_UNSUPPORTED; a <= DISTILL_OK; a++) {
        ck_assert_str_ne(distill_status_string(a), "DISTILL_E_UNKNOWN");
        for (b = a + 1; b <= DISTILL_OK; b++)
            ck_assert_str_ne(distill_status_string(a), distill_status_string(b));
    }
    ck_assert_str_eq(distill_status_string(-1000), "DISTILL_E_UNKNOWN");
    ck_assert_str_eq(distill_status_string(DISTILL_E_SHAPE), "DISTILL_E_SHAPE");
}
END_TEST

START_TEST(context_defaults_and_bad_options)
{
    distill_context *ctx = NULL;
    distill_context_options o;
    distill_allocator a;
    ck_assert_status(distill_context_create(NULL, NULL), DISTILL_E_INVAL);
    ck_assert_status(distill_context_create(NULL, &ctx), DISTILL_OK);
    ck_assert_int_ge(distill_context_threads(ctx), 1);
    ck_assert_uint_eq(distill_context_seed(ctx), 0);
    ck_assert_str_eq(distill_context_last_error(ctx), "");
    distill_context_destroy(ctx);
    distill_context_destroy(NULL);

    distill_context_options_init(&o);
    o.struct_size = 4; /* older than any release */
    ck_assert_status(distill_context_create(&o, &ctx), DISTILL_E_ABI);
    ck_assert_ptr_null(ctx);
    distill_context_options_init(&o);
    o.threads = -2;
    ck_assert_status(distill_context_create(&o, &ctx), DISTILL_E_INVAL);
    distill_context_options_init(&o);
    memset(&a, 0, sizeof a);
    a.struct_size = sizeof a;
    o.allocator = &a;
    ck_assert_status(distill_context_create(&o, &ctx), DISTILL_E_INVAL);
}
END_TEST

START_TEST(allocator_hooks_are_used_and_balanced)
{
    counting_alloc c;
    distill_context *ctx = test_context(&c, 1);
    ck_assert_int_eq(c.calls, 1); /* the context itself */
    ck_assert_int_eq(c.live, 1);
    distill_context_destroy(ctx);
    ck_assert_int_eq(c.live, 0);
}
END_TEST

START_TEST(allocator_failure_is_nomem)
{
    counting_alloc c = {0, 0, 0, 0};
    distill_allocator a = {sizeof a, &c, counting_alloc_fn, counting_free_fn};
    distill_context_options o;
    distill_context *ctx = NULL;
    distill_context_options_init(&o);
    o.allocator = &a;
    ck_assert_status(distill_context_create(&o, &ctx), DISTILL_E_NOMEM);
    ck_assert_ptr_null(ctx);
    ck_assert_int_eq(c.live, 0);
}
END_TEST

START_TEST(threads_setter_validates)
{
    distill_context *ctx = test_context(NULL, 3);
    ck_assert_int_eq(distill_context_threads(ctx), 3);
    ck_assert_fails(ctx, distill_context_set_threads(ctx, -1), DISTILL_E_INVAL, "threads");
    ck_assert_int_eq(distill_context_last_status(ctx), DISTILL_E_INVAL);
    ck_assert_int_eq(distill_context_threads(ctx), 3);
    ck_assert_status(distill_context_set_threads(ctx, 2), DISTILL_OK);
    ck_assert_int_eq(distill_context_threads(ctx), 2);
    /* a documented maximum: 100000 threads crashed inside BLIS's OpenMP */
    ck_assert_int_eq(distill_context_max_threads(), DISTILL_MAX_THREADS);
    ck_assert_fails(ctx, distill_context_set_threads(ctx, DISTILL_MAX_THREADS + 1), DISTILL_E_INVAL, "threads");
    ck_assert_fails(ctx, distill_context_set_threads(ctx, 100000), DISTILL_E_INVAL, "threads");
    ck_assert_int_eq(distill_context_threads(ctx), 2);
    ck_assert_status(distill_context_set_threads(ctx, DISTILL_MAX_THREADS), DISTILL_OK);
    {
        distill_context_options o;
        distill_context *c2 = NULL;
        distill_context_options_init(&o);
        o.threads = 100000;
        ck_assert_int_eq(distill_context_create(&o, &c2), DISTILL_E_INVAL);
        ck_assert_ptr_null(c2);
    }
    distill_context_clear_error(ctx);
    ck_assert_str_eq(distill_context_last_error(ctx), "");
    distill_context_destroy(ctx);
}
END_TEST

/* Known-answer vectors of Philox-4x32-10 from the Random123 distribution. */
START_TEST(philox_known_answers)
{
    uint32_t z[4] = {0, 0, 0, 0};
    uint32_t f[4] = {0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu};
    uint32_t p[4] = {0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u};
    distill__philox4x32_10(z, 0, 0);
    ck_assert_uint_eq(z[0], 0x6627e8d5u);
    ck_assert_uint_eq(z[1], 0xe169c58du);
    ck_assert_uint_eq(z[2], 0xbc57ac4cu);
    ck_assert_uint_eq(z[3], 0x9b00dbd8u);
    distill__philox4x32_10(f, 0xffffffffu, 0xffffffffu);
    ck_assert_uint_eq(f[0], 0x408f276du);
    ck_assert_uint_eq(f[1], 0x41c83b0eu);
    ck_assert_uint_eq(f[2], 0xa20bc7c6u);
    ck_assert_uint_eq(f[3], 0x6d5451fdu);
    distill__philox4x32_10(p, 0xa4093822u, 0x299f31d0u);
    ck_assert_uint_eq(p[0], 0xd16cfe09u);
    ck_assert_uint_eq(p[1], 0x94fdccebu);
    ck_assert_uint_eq(p[2], 0x5001e420u);
    ck_assert_uint_eq(p[3], 0x24126ea1u);
}
END_TEST

START_TEST(random_streams_are_reproducible_and_seekable)
{
    distill_context *ctx = test_context(NULL, 1);
    float a[64], b[64], c[48];
    int i, same = 0;
    ck_assert_status(distill_random_uniform(ctx, 7, 0, 64, 0.0f, 1.0f, a), DISTILL_OK);
    ck_assert_status(distill_random_uniform(ctx, 7, 0, 64, 0.0f, 1.0f, b), DISTILL_OK);
    ck_assert_mem_eq(a, b, sizeof a);
    ck_assert_status(distill_random_uniform(ctx, 7, 16, 48, 0.0f, 1.0f, c), DISTILL_OK);
    ck_assert_mem_eq(a + 16, c, sizeof c); /* offset seeks without drawing */
    ck_assert_status(distill_random_uniform(ctx, 8, 0, 64, 0.0f, 1.0f, b), DISTILL_OK);
    for (i = 0; i < 64; i++)
        same += a[i] == b[i];
    ck_assert_int_lt(same, 4);
    distill_context_set_seed(ctx, 99);
    ck_assert_status(distill_random_uniform(ctx, 7, 0, 64, 0.0f, 1.0f, b), DISTILL_OK);
    ck_assert_int_ne(memcmp(a, b, sizeof a), 0);
    ck_assert_status(distill_random_normal(ctx, 1, 10, 16, 0.0f, 1.0f, a), DISTILL_OK);
    ck_assert_status(distill_random_normal(ctx, 1, 0, 26, 0.0f, 1.0f, b), DISTILL_OK);
    ck_assert_mem_eq(a, b + 10, 16 * sizeof(float));
    distill_context_destroy(ctx);
}
END_TEST

START_TEST(random_moments)
{
    enum { N = 200000 };
    distill_context *ctx = test_context(NULL, 1);
    float *x = malloc(N * sizeof(float));
    double s = 0, s2 = 0, lo = 1e9, hi = -1e9;
    int i;
    ck_assert_status(distill_random_uniform(ctx, 3, 0, N, -2.0f, 4.0f, x), DISTILL_OK);
    for (i = 0; i < N; i++) {
        s += x[i];
        lo = x[i] < lo ? x[i] : lo;
        hi = x[i] > hi ? x[i] : hi;
    }
    ck_assert_double_eq_tol(s / N, 1.0, 0.02);
    ck_assert(lo >= -2.0 && hi < 4.0);
    ck_assert_status(distill_random_normal(ctx, 4, 0, N, 3.0f, 2.0f, x), DISTILL_OK);
    s = 0;
    for (i = 0; i < N; i++) {
        s += x[i];
        s2 += (double)x[i] * x[i];
    }
    s /= N;
    ck_assert_double_eq_tol(s, 3.0, 0.02);
    ck_assert_double_eq_tol(sqrt(s2 / N - s * s), 2.0, 0.02);
    ck_assert_fails(ctx, distill_random_normal(ctx, 4, 0, N, 0.0f, -1.0f, x), DISTILL_E_INVAL, "std");
    ck_assert_fails(ctx, distill_random_uniform(ctx, 4, 0, 3, 1.0f, 0.0f, x), DISTILL_E_INVAL, "lo");
    ck_assert_fails(ctx, distill_random_uniform(ctx, 4, 0, 3, 0.0f, 1.0f, NULL), DISTILL_E_INVAL, "output");
    free(x);
    distill_context_destroy(ctx);
}
END_TEST

START_TEST(rng_below_is_in_range_and_unbiased)
{
    distill__rng r;
    int counts[6] = {0}, i;
    distill__rng_init(&r, 5, 1, 0);
    for (i = 0; i < 60000; i++) {
        uint64_t v = distill__rng_below(&r, 6);
        ck_assert_uint_lt(v, 6);
        counts[v]++;
    }
    for (i = 0; i < 6; i++)
        ck_assert_int_lt(abs(counts[i] - 10000), 400);
}
END_TEST

static int stop_at_three(void *user, const char *stage, int64_t done, int64_t total)
{
    int *calls = user;
    (void)stage;
    (void)total;
    (*calls)++;
    return done >= 3;
}

START_TEST(cancel_and_progress)
{
    distill_context *ctx = test_context(NULL, 1);
    int calls = 0;
    int64_t i;
    distill_status st = DISTILL_OK;
    ck_assert_int_eq(distill_context_cancelled(ctx), 0);
    distill_context_cancel(ctx);
    ck_assert_int_eq(distill_context_cancelled(ctx), 1);
    ck_assert_fails(ctx, distill__progress(ctx, "stage", 0, 10), DISTILL_E_CANCELLED, "cancelled");
    distill_context_reset_cancel(ctx);
    distill_context_set_progress(ctx, stop_at_three, &calls);
    for (i = 0; i < 10 && st == DISTILL_OK; i++)
        st = distill__progress(ctx, "loop", i, 10);
    ck_assert_int_eq(st, DISTILL_E_CANCELLED);
    ck_assert_int_eq(calls, 4);
    ck_assert_ptr_nonnull(strstr(distill_context_last_error(ctx), "loop"));
    distill_context_destroy(ctx);
}
END_TEST

static void collect_log(void *user, int level, const char *msg)
{
    char *buf = user;
    (void)level;
    strncat(buf, msg, 255 - strlen(buf));
}

START_TEST(log_respects_level)
{
    char buf[256] = "";
    distill_context *ctx = test_context(NULL, 1);
    distill_context_set_log(ctx, collect_log, buf, DISTILL_LOG_WARN);
    distill__log(ctx, DISTILL_LOG_INFO, "hidden %d", 1);
    ck_assert_str_eq(buf, "");
    distill__log(ctx, DISTILL_LOG_WARN, "shown %d", 2);
    ck_assert_str_eq(buf, "shown 2");
    distill_context_destroy(ctx);
}
END_TEST

/* Each test runs in its own forked process, where BLIS is not yet
 * initialised: the selection happens here, at the first BLIS call. */
static distill_context *blis_context(uint32_t flags, char *log)
{
    distill_context_options o;
    distill_context *ctx;
    distill_context_options_init(&o);
    o.flags = flags, o.threads = 1, o.log = collect_log, o.log_user = log;
    o.log_level = DISTILL_LOG_INFO;
    ck_assert_int_eq(distill_context_create(&o, &ctx), DISTILL_OK);
    return ctx;
}

START_TEST(blis_selection_leaves_the_environment_alone)
{
    char log[256] = "";
    distill_context *ctx;
    float a[4] = {1, 2, 3, 4}, c[4];
    unsetenv("BLIS_ARCH_TYPE");
    ctx = blis_context(0, log);
    ck_assert_int_eq(distill_sgemm(ctx, 0, 0, 2, 2, 2, 1.0f, a, 2, a, 2, 0.0f, c, 2), DISTILL_OK);
    ck_assert_ptr_null(getenv("BLIS_ARCH_TYPE")); /* chosen, and the environment restored */
    ck_assert_ptr_nonnull(strstr(log, "BLIS sub-configuration"));
    ck_assert_ptr_nonnull(strstr(log, distill_context_blis_arch(ctx)));
    distill_context_destroy(ctx);
}
END_TEST

START_TEST(blis_selection_can_be_turned_off)
{
    char log[256] = "";
    distill_context *ctx;
    distill_context_options o;
    unsetenv("BLIS_ARCH_TYPE");
    ctx = blis_context(DISTILL_CONTEXT_BLIS_AS_IS, log);
    ck_assert_ptr_nonnull(distill_context_blis_arch(ctx));
    ck_assert_ptr_nonnull(strstr(log, "left to BLIS"));
    ck_assert_ptr_null(getenv("BLIS_ARCH_TYPE"));
    distill_context_destroy(ctx);
    distill_context_options_init(&o);
    o.flags = 2; /* unknown flags are refused */
    ck_assert_int_eq(distill_context_create(&o, &ctx), DISTILL_E_INVAL);
}
END_TEST

Suite *distill_suite_core(void)
{
    Suite *s = suite_create("core");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, version_macros_match_runtime);
    tcase_add_test(tc, status_strings_are_distinct);
    tcase_add_test(tc, context_defaults_and_bad_options);
    tcase_add_test(tc, allocator_hooks_are_used_and_balanced);
    tcase_add_test(tc, allocator_failure_is_nomem);
    tcase_add_test(tc, threads_setter_validates);
    tcase_add_test(tc, philox_known_answers);
    tcase_add_test(tc, random_streams_are_reproducible_and_seekable);
    tcase_add_test(tc, random_moments);
    tcase_add_test(tc, rng_below_is_in_range_and_unbiased);
    tcase_add_test(tc, cancel_and_progress);
    tcase_add_test(tc, log_respects_level);
    tcase_add_test(tc, blis_selection_leaves_the_environment_alone);
    tcase_add_test(tc, blis_selection_can_be_turned_off);
    suite_add_tcase(s, tc);
    return s;
}
