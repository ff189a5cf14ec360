/* kernels: GEMM, Cholesky and triangular solves against double references,
 * awkward shapes and leading dimensions, and bad arguments. */
#include <blis.h>
#if defined(__x86_64__)
#include <cpuid.h>
#endif

#include "testutil.h"
#include "nn/internal.h"
#include "kernels/blas.h"

static const struct { int m, n, k, ta, tb, pad; } gemm_shapes[] = {
    {1, 1, 1, 0, 0, 0},  {1, 1, 1, 1, 1, 3},  {7, 5, 3, 0, 1, 2},   {5, 7, 13, 1, 0, 1},
    {33, 17, 65, 1, 1, 5}, {64, 64, 64, 0, 0, 0}, {129, 3, 200, 0, 1, 7}, {2, 300, 1, 1, 0, 0},
};

START_TEST(sgemm_matches_reference)
{
    const int m = gemm_shapes[_i].m, n = gemm_shapes[_i].n, k = gemm_shapes[_i].k;
    const int ta = gemm_shapes[_i].ta, tb = gemm_shapes[_i].tb, pad = gemm_shapes[_i].pad;
    const int64_t lda = (ta ? m : k) + pad, ldb = (tb ? k : n) + pad, ldc = n + pad;
    float *a = new_random((ta ? k : m) * lda, 1), *b = new_random((tb ? n : k) * ldb, 2);
    float *c = new_random(m * ldc, 3), *c0 = malloc(sizeof(float) * m * ldc);
    double *ref = malloc(sizeof(double) * m * n);
    distill_context *ctx = test_context(NULL, 2);
    int64_t i, j;
    memcpy(c0, c, sizeof(float) * m * ldc);
    ck_assert_status(distill_sgemm(ctx, ta, tb, m, n, k, 0.5f, a, lda, b, ldb, -2.0f, c, ldc),
                     DISTILL_OK);
    ref_gemm(ta, tb, m, n, k, a, lda, b, ldb, ref);
    for (i = 0; i < m; i++) {
        for (j = 0; j < n; j++)
            ck_assert_double_eq_tol(c[i * ldc + j], 0.5 * ref[i * n + j] - 2.0 * c0[i * ldc + j],
                                    1e-5 * (k + 4));
        for (j = n; j < ldc; j++) /* padding untouched */
            ck_assert_float_eq(c[i * ldc + j], c0[i * ldc + j]);
    }
    free(a), free(b), free(c), free(c0), free(ref);
    distill_context_destroy(ctx);
}
END_TEST

/* The learning layer's small-GEMM path (src/nn/gemm_small.c): every
 * transpose case, row tails below and above its 8-row block, column tails,
 * beta 0 (C not read: NaN stays out) and beta 1, padded leading dimensions. */
static const struct { int m, n, k, ta, tb; float beta; } small_shapes[] = {
    {128, 20, 49, 0, 1, 0.0f}, {20, 49, 128, 1, 0, 1.0f}, {128, 20, 10, 0, 0, 0.0f}, {13, 33, 7, 1, 1, 0.5f},
    {5, 3, 2, 0, 0, 1.0f},     {9, 17, 1, 1, 0, 0.0f},    {1, 64, 40, 0, 1, -1.0f},
};

START_TEST(small_gemm_matches_reference)
{
    const int m = small_shapes[_i].m, n = small_shapes[_i].n, k = small_shapes[_i].k;
    const int ta = small_shapes[_i].ta, tb = small_shapes[_i].tb;
    const float beta = small_shapes[_i].beta;
    const int64_t lda = (ta ? m : k) + 3, ldb = (tb ? k : n) + 1, ldc = n + 2;
    float *a = new_random((ta ? k : m) * lda, 4), *b = new_random((tb ? n : k) * ldb, 5);
    float *c = new_random(m * ldc, 6), *c0 = malloc(sizeof(float) * m * ldc);
    double *ref = malloc(sizeof(double) * m * n);
    int64_t i, j;
    if (beta == 0.0f)
        for (i = 0; i < m; i++)
            for (j = 0; j < n; j++)
                c[i * ldc + j] = NAN;
    memcpy(c0, c, sizeof(float) * m * ldc);
    ck_assert_int_eq(nn_gemm_small(ta, tb, m, n, k, 0.5f, a, lda, b, ldb, beta, c, ldc), 1);
    ref_gemm(ta, tb, m, n, k, a, lda, b, ldb, ref);
    for (i = 0; i < m; i++) {
        for (j = 0; j < n; j++)
            ck_assert_double_eq_tol(c[i * ldc + j],
                                    0.5 * ref[i * n + j] + (beta == 0.0f ? 0.0 : beta * c0[i * ldc + j]),
                                    1e-5 * (k + 4));
        for (j = n; j < ldc; j++)
            ck_assert_float_eq(c[i * ldc + j], c0[i * ldc + j]);
    }
    /* too big for the path: refused, C untouched */
    ck_assert_int_eq(nn_gemm_small(0, 0, 1024, 64, 1024, 1.0f, a, 1024, b, 64, 0.0f, c, 64), 0);
    free(a), free(b), free(c), free(c0), free(ref);
}
END_TEST

/* The weight gradient's long reduction (nn_gemm_nt_acc, gemm.c): C += A B^T
 * against a double reference, and each output the same bits as one row's
 * dot products alone, block by block (the inference path's loops, which
 * take one row at a time): four of B's rows go at once, with tails in the
 * rows and in the reduction's blocks of 512 and vectors of 8. */
static const struct { int m, n, k; } nt_shapes[] = {
    {1, 1, 1}, {3, 4, 8}, {10, 32, 1100}, {2, 7, 517}, {5, 9, 1031}, {1, 5, 13},
};

START_TEST(nt_acc_matches_reference_and_row_sums)
{
    const int m = nt_shapes[_i].m, n = nt_shapes[_i].n, k = nt_shapes[_i].k;
    const int64_t lda = k + 3, ldb = k + 1, ldc = n + 2;
    float *a = new_random(m * lda, 7), *b = new_random(n * ldb, 8), *c = new_random(m * ldc, 9);
    float *c0 = malloc(sizeof(float) * m * ldc);
    double *ref = malloc(sizeof(double) * m * n);
    const nn_env loops = {NULL, 0, 1}; /* no context: plain loops */
    int64_t i, j, p0;
    memcpy(c0, c, sizeof(float) * m * ldc);
    nn_gemm_nt_acc(m, n, k, a, lda, b, ldb, c, ldc);
    ref_gemm(0, 1, m, n, k, a, lda, b, ldb, ref);
    for (i = 0; i < m; i++) {
        for (j = 0; j < n; j++) {
            float alone = c0[i * ldc + j], part;
            for (p0 = 0; p0 < k; p0 += 512) {
                nn_gemm(&loops, 0, 1, 1, 1, k - p0 < 512 ? k - p0 : 512, 1.0f, a + i * lda + p0, lda,
                        b + j * ldb + p0, ldb, 0.0f, &part, 1);
                alone += part;
            }
            ck_assert_double_eq_tol(c[i * ldc + j], ref[i * n + j] + c0[i * ldc + j], 1e-5 * (k + 4));
            ck_assert_msg(c[i * ldc + j] == alone, "(%lld, %lld): %.9g, alone %.9g", (long long)i,
                          (long long)j, c[i * ldc + j], alone);
        }
        for (j = n; j < ldc; j++)
            ck_assert_float_eq(c[i * ldc + j], c0[i * ldc + j]);
    }
    free(a), free(b), free(c), free(c0), free(ref);
}
END_TEST

START_TEST(sgemm_rejects_bad_arguments)
{
    float a[16] = {0}, b[16] = {0}, c[16] = {0};
    distill_context *ctx = test_context(NULL, 1);
    ck_assert_status(distill_sgemm(NULL, 0, 0, 2, 2, 2, 1, a, 2, b, 2, 0, c, 2), DISTILL_E_INVAL);
    ck_assert_fails(ctx, distill_sgemm(ctx, 0, 0, 2, 2, 2, 1, NULL, 2, b, 2, 0, c, 2),
                    DISTILL_E_INVAL, "A is NULL");
    ck_assert_fails(ctx, distill_sgemm(ctx, 0, 0, 0, 2, 2, 1, a, 2, b, 2, 0, c, 2),
                    DISTILL_E_INVAL, "at least 1 x 1");
    ck_assert_fails(ctx, distill_sgemm(ctx, 0, 0, 2, 3, 2, 1, a, 2, b, 2, 0, c, 3),
                    DISTILL_E_SHAPE, "leading dimension of B");
    ck_assert_fails(ctx, distill_sgemm(ctx, 1, 0, 3, 2, 2, 1, a, 2, b, 2, 0, c, 2),
                    DISTILL_E_SHAPE, "leading dimension of A");
    ck_assert_fails(ctx, distill_sgemm(ctx, 2, 0, 2, 2, 2, 1, a, 2, b, 2, 0, c, 2),
                    DISTILL_E_INVAL, "trans");
    ck_assert_fails(ctx, distill_sgemm(ctx, 0, 0, INT64_MAX / 2, 2, 2, 1, a, 2, b, 2, 0, c, 2),
                    DISTILL_E_NOMEM, "overflows");
    distill_context_destroy(ctx);
}
END_TEST

/* A = X X^T / k + shift I, n x n with leading dimension ld. */
static float *spd_matrix(int64_t n, int64_t ld, double shift, uint64_t seed)
{
    const int64_t k = n + 3;
    float *x = new_random(n * k, seed), *a = malloc(sizeof(float) * n * ld);
    double *g = malloc(sizeof(double) * n * n);
    int64_t i, j;
    ref_gemm(0, 1, n, n, k, x, k, x, k, g);
    for (i = 0; i < n; i++)
        for (j = 0; j < ld; j++)
            a[i * ld + j] = j < n ? (float)(g[i * n + j] / k + (i == j ? shift : 0.0)) : 99.0f;
    free(x), free(g);
    return a;
}

static const int chol_sizes[] = {1, 2, 5, 47, 48, 49, 100, 257};

START_TEST(cholesky_matches_reference)
{
    const int64_t n = chol_sizes[_i], ld = n + (_i % 3);
    float *a = spd_matrix(n, ld, 0.1, 10 + _i), *a0 = malloc(sizeof(float) * n * ld);
    double *ref = malloc(sizeof(double) * n * n);
    counting_alloc c;
    distill_context *ctx = test_context(&c, 2);
    size_t bytes;
    void *ws;
    long calls;
    int64_t i, j;
    memcpy(a0, a, sizeof(float) * n * ld);
    for (i = 0; i < n; i++)
        for (j = 0; j < n; j++)
            ref[i * n + j] = a[i * ld + j];
    ck_assert_int_eq(ref_cholesky(n, ref), 0);
    ck_assert_status(distill_cholesky_workspace_size(n, &bytes), DISTILL_OK);
    ws = malloc(bytes);
    calls = c.calls;
    ck_assert_status(distill_cholesky(ctx, n, a, ld, ws, bytes), DISTILL_OK);
    ck_assert_int_eq(c.calls, calls); /* no allocation with a workspace */
    for (i = 0; i < n; i++)
        for (j = 0; j < ld; j++) {
            if (j <= i)
                ck_assert_double_eq_tol(a[i * ld + j], ref[i * n + j], 2e-4);
            else
                ck_assert_float_eq(a[i * ld + j], a0[i * ld + j]); /* upper untouched */
        }
    free(a), free(a0), free(ref), free(ws);
    distill_context_destroy(ctx);
    ck_assert_int_eq(c.live, 0);
}
END_TEST

START_TEST(cholesky_solve_and_trsm)
{
    const int64_t n = 90, k = 4, ldb = 6;
    float *a = spd_matrix(n, n, 0.5, 3), *b = new_random(n * ldb, 4);
    double *l = malloc(sizeof(double) * n * n), *x = malloc(sizeof(double) * n * k);
    distill_context *ctx = test_context(NULL, 1);
    int64_t i, j;
    for (i = 0; i < n * n; i++)
        l[i] = a[i];
    for (i = 0; i < n; i++)
        for (j = 0; j < k; j++)
            x[i * k + j] = b[i * ldb + j];
    ck_assert_int_eq(ref_cholesky(n, l), 0);
    ref_chol_solve(n, k, l, x);
    ck_assert_status(distill_cholesky(ctx, n, a, n, NULL, 0), DISTILL_OK);
    ck_assert_status(distill_cholesky_solve(ctx, n, k, a, n, b, ldb), DISTILL_OK);
    for (i = 0; i < n; i++)
        for (j = 0; j < k; j++)
            ck_assert_double_eq_tol(b[i * ldb + j], x[i * k + j], 1e-3);
    ck_assert_fails(ctx, distill_trsm_lower(ctx, 5, n, k, a, n, b, ldb), DISTILL_E_INVAL, "trans");
    a[3 * n + 3] = 0.0f;
    ck_assert_fails(ctx, distill_trsm_lower(ctx, 0, n, k, a, n, b, ldb), DISTILL_E_NUMERIC, "L[3, 3]");
    free(a), free(b), free(l), free(x);
    distill_context_destroy(ctx);
}
END_TEST

START_TEST(cholesky_indefinite_fails_and_restores)
{
    const int64_t n = 64;
    float *a = spd_matrix(n, n, 0.0, 5), *a0 = malloc(sizeof(float) * n * n);
    counting_alloc c;
    distill_context *ctx = test_context(&c, 1);
    a[60 * n + 60] = -5.0f; /* negative diagonal: no jitter can save it */
    memcpy(a0, a, sizeof(float) * n * n);
    ck_assert_fails(ctx, distill_cholesky(ctx, n, a, n, NULL, 0), DISTILL_E_NUMERIC, "pivot 60");
    ck_assert_mem_eq(a, a0, sizeof(float) * n * n);
    ck_assert_int_eq(c.live, 1); /* only the context: the internal workspace was freed */
    free(a), free(a0);
    distill_context_destroy(ctx);
}
END_TEST

static void count_warnings(void *user, int level, const char *msg)
{
    (void)msg;
    if (level == DISTILL_LOG_WARN)
        ++*(int *)user;
}

START_TEST(cholesky_semidefinite_succeeds_with_jitter)
{
    /* rank 1 matrix: pivot 1 is zero in exact arithmetic */
    const int64_t n = 6;
    float a[36];
    int64_t i, j;
    int warnings = 0;
    distill_context *ctx = test_context(NULL, 1);
    distill_context_set_log(ctx, count_warnings, &warnings, DISTILL_LOG_WARN);
    for (i = 0; i < n; i++)
        for (j = 0; j < n; j++)
            a[i * n + j] = 1.0f;
    ck_assert_status(distill_cholesky(ctx, n, a, n, NULL, 0), DISTILL_OK);
    ck_assert_int_ge(warnings, 1);
    for (i = 0; i < n; i++)
        ck_assert(a[i * n + i] > 0.0f);
    distill_context_destroy(ctx);
}
END_TEST

START_TEST(cholesky_rejects_bad_arguments)
{
    float a[9] = {4, 0, 0, 1, 3, 0, 1, 1, 2}, ws[4];
    size_t bytes;
    distill_context *ctx = test_context(NULL, 1);
    ck_assert_status(distill_cholesky_workspace_size(0, &bytes), DISTILL_E_INVAL);
    ck_assert_fails(ctx, distill_cholesky(ctx, 0, a, 3, NULL, 0), DISTILL_E_INVAL, "n must be");
    ck_assert_fails(ctx, distill_cholesky(ctx, 3, a, 2, NULL, 0), DISTILL_E_SHAPE, "leading");
    ck_assert_fails(ctx, distill_cholesky(ctx, 3, a, 3, ws, sizeof ws), DISTILL_E_WORKSPACE, "too small");
    ck_assert_fails(ctx, distill_cholesky(ctx, (int64_t)1 << 40, a, (int64_t)1 << 40, NULL, 0),
                    DISTILL_E_NOMEM, "overflow");
    a[7] = NAN;
    ck_assert_fails(ctx, distill_cholesky(ctx, 3, a, 3, NULL, 0), DISTILL_E_NUMERIC, "[2, 1] is NaN");
    distill_context_destroy(ctx);
}
END_TEST

static void collect(void *user, int level, const char *msg)
{
    (void)level;
    strncat((char *)user, msg, 255);
}

/* The choice's rule, CPU by CPU. */
START_TEST(blis_choice_by_cpu)
{
    static const struct {
        distill__cpu_caps cpu;
        const char *want;
    } cases[] = {
        {{0, 6u, 1, 1, 1}, "skx"},        /* Intel with AVX-512 */
        {{0, 6u, 0, 1, 1}, "haswell"},    /* Intel with AVX2 */
        {{1, 0x17u, 0, 1, 1}, "zen3"},    /* Zen 2 */
        {{1, 0x19u, 0, 1, 1}, "zen3"},    /* Zen 3 */
        {{1, 0x19u, 1, 1, 1}, "zen3"},    /* Zen 4: AVX-512 on 256-bit units */
        {{1, 0x1au, 1, 1, 1}, "skx"},     /* Zen 5 */
        {{0, 6u, 0, 0, 1}, "sandybridge"},
        {{1, 0x15u, 0, 0, 1}, "sandybridge"},
    };
    size_t i;
    distill__cpu_caps none = {0, 0u, 0, 0, 0};
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++)
        ck_assert_str_eq(distill__blis_choice(&cases[i].cpu), cases[i].want);
    ck_assert_ptr_null(distill__blis_choice(&none));
}
END_TEST

#if defined(__x86_64__)
/* What the library must pick on this CPU when it has AVX-512 (else NULL). */
static const char *avx512_choice(void)
{
    distill__cpu_caps cpu = {0, 0u, 1, 1, 1};
    unsigned eax, ebx, ecx, edx;
    if (!(__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
          __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl")))
        return NULL;
    cpu.amd = __builtin_cpu_is("amd");
    if (__get_cpuid(1, &eax, &ebx, &ecx, &edx))
        cpu.family = ((eax >> 8) & 0xfu) + (((eax >> 8) & 0xfu) == 0xfu ? (eax >> 20) & 0xffu : 0u);
    return distill__blis_choice(&cpu);
}
#endif

START_TEST(blis_sub_configuration_is_chosen)
{
    char log[512] = "";
    distill_context *ctx = test_context(NULL, 1);
    const char *arch;
    distill_context_set_log(ctx, collect, log, DISTILL_LOG_INFO);
    arch = distill_context_blis_arch(ctx);
    ck_assert_ptr_nonnull(arch);
    ck_assert_ptr_nonnull(strstr(log, arch)); /* reported once in the log */
#if defined(__x86_64__)
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
        /* chosen without leaving BLIS_ARCH_TYPE in the host's environment */
        ck_assert_msg(getenv("BLIS_ARCH_TYPE") == NULL || getenv("DISTILL_TEST_USER_ARCH"),
                      "BLIS_ARCH_TYPE was left in the environment");
        ck_assert_str_ne(arch, "generic");
    }
    if (avx512_choice() && !getenv("DISTILL_TEST_USER_ARCH"))
        ck_assert_str_eq(arch, avx512_choice());
#endif
    distill_context_destroy(ctx);
}
END_TEST

static void collect_warn(void *user, int level, const char *msg)
{
    if (level == DISTILL_LOG_WARN)
        strncat((char *)user, msg, 255);
}

/* A host that initialised BLIS before us keeps its choice, and we say so.
 * Needs a fresh process: skipped with CK_FORK=no. */
START_TEST(host_initialised_blis_keeps_its_choice)
{
    char log[512] = "";
    distill_context *ctx;
    const char *fork = getenv("CK_FORK");
    if ((fork && strcmp(fork, "no") == 0) || getenv("BLIS_ARCH_TYPE"))
        return;
#if defined(__x86_64__)
    const char *want = avx512_choice();
    if (!want)
        return;
    bli_init(); /* the host, with BLIS's own CPU detection */
    ctx = test_context(NULL, 1);
    distill_context_set_log(ctx, collect_warn, log, DISTILL_LOG_INFO);
    ck_assert_str_eq(distill_context_blis_arch(ctx), bli_arch_string(bli_arch_query_id()));
    if (strcmp(distill_context_blis_arch(ctx), want) != 0) {
        char named[32];
        snprintf(named, sizeof named, "'%s'", want);
        ck_assert_msg(strstr(log, "keeping the host's") && strstr(log, named), "log: %s", log);
    } else
        ck_assert_str_eq(log, "");
    distill_context_destroy(ctx);
#endif
}
END_TEST

/* A singular system factorises only with jitter: the context says how
 * much, and refuses it past a limit. */
START_TEST(jitter_is_reported_and_can_be_refused)
{
    distill_context *ctx = test_context(NULL, 1);
    float a[16], b[16];
    size_t bytes;
    void *ws;
    int i;
    for (i = 0; i < 16; i++)
        a[i] = 1.0f; /* rank one */
    memcpy(b, a, sizeof a);
    ck_assert_status(distill_cholesky_workspace_size(4, &bytes), DISTILL_OK);
    ws = malloc(bytes);
    ck_assert(distill_context_max_jitter(ctx) == 0.0);
    ck_assert_status(distill_cholesky(ctx, 4, a, 4, ws, bytes), DISTILL_OK);
    ck_assert(distill_context_max_jitter(ctx) > 0.0);
    distill_context_reset_jitter(ctx);
    ck_assert(distill_context_max_jitter(ctx) == 0.0);
    ck_assert_status(distill_context_set_jitter_limit(ctx, 1e-9), DISTILL_OK);
    ck_assert_fails(ctx, distill_cholesky(ctx, 4, b, 4, ws, bytes), DISTILL_E_NUMERIC, "limit");
    for (i = 0; i < 16; i++)
        ck_assert(b[i] == 1.0f || i % 5 != 0); /* the lower triangle restored */
    ck_assert_fails(ctx, distill_context_set_jitter_limit(ctx, -1.0), DISTILL_E_INVAL, "limit");
    free(ws);
    distill_context_destroy(ctx);
}
END_TEST

Suite *distill_suite_gemm_chol(void)
{
    Suite *s = suite_create("kernels-gemm-cholesky");
    TCase *tc = tcase_create("gemm");
    tcase_add_loop_test(tc, sgemm_matches_reference, 0, sizeof gemm_shapes / sizeof gemm_shapes[0]);
    tcase_add_loop_test(tc, small_gemm_matches_reference, 0, sizeof small_shapes / sizeof small_shapes[0]);
    tcase_add_loop_test(tc, nt_acc_matches_reference_and_row_sums, 0, sizeof nt_shapes / sizeof nt_shapes[0]);
    tcase_add_test(tc, sgemm_rejects_bad_arguments);
    tcase_add_test(tc, blis_choice_by_cpu);
    tcase_add_test(tc, blis_sub_configuration_is_chosen);
    tcase_add_test(tc, host_initialised_blis_keeps_its_choice);
    tcase_add_test(tc, jitter_is_reported_and_can_be_refused);
    suite_add_tcase(s, tc);
    tc = tcase_create("cholesky");
    tcase_add_loop_test(tc, cholesky_matches_reference, 0, sizeof chol_sizes / sizeof chol_sizes[0]);
    tcase_add_test(tc, cholesky_solve_and_trsm);
    tcase_add_test(tc, cholesky_indefinite_fails_and_restores);
    tcase_add_test(tc, cholesky_semidefinite_succeeds_with_jitter);
    tcase_add_test(tc, cholesky_rejects_bad_arguments);
    suite_add_tcase(s, tc);
    return s;
}
