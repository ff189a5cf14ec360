/* bench_kernels: GFLOP/s of BLIS sgemm, the KRR-ST loss + gradients and the
 * Cholesky factorisation.  Usage: bench_kernels [threads] (default 2).
 * The last line is one JSON object (see docs/performance.md). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_util.h"
#include "distill/distill.h"

typedef struct job {
    distill_context *ctx;
    int64_t m, n, d, k;
    float *fs, *ys, *fr, *yr, *dfs, *dys, loss;
    float *a, *b, *c;
    void *ws;
    size_t ws_bytes;
} job;

static void die(distill_context *ctx, const char *what)
{
    fprintf(stderr, "bench_kernels: %s: %s\n", what, distill_context_last_error(ctx));
    exit(1);
}

static float *randn(distill_context *ctx, int64_t count, uint64_t stream)
{
    float *x = malloc(sizeof(float) * (size_t)count);
    if (!x || distill_random_normal(ctx, stream, 0, count, 0.0f, 1.0f, x) != DISTILL_OK)
        die(ctx, "data");
    return x;
}

static void run_sgemm(void *p)
{
    job *j = p;
    if (distill_sgemm(j->ctx, 0, 1, j->m, j->n, j->k, 1.0f, j->a, j->k, j->b, j->k, 0.0f, j->c,
                      j->n) != DISTILL_OK)
        die(j->ctx, "sgemm");
}

static void run_krrst(void *p)
{
    job *j = p;
    if (distill_krrst_loss_grad(j->ctx, NULL, j->m, j->n, j->d, j->k, j->fs, j->d, j->ys, j->k,
                                j->fr, j->d, j->yr, j->k, &j->loss, j->dfs, j->d, j->dys, j->k,
                                NULL, 0, j->ws, j->ws_bytes) != DISTILL_OK)
        die(j->ctx, "krrst");
}

static void run_cholesky(void *p)
{
    job *j = p;
    memcpy(j->c, j->a, sizeof(float) * (size_t)(j->m * j->m));
    if (distill_cholesky(j->ctx, j->m, j->c, j->m, j->ws, j->ws_bytes) != DISTILL_OK)
        die(j->ctx, "cholesky");
}

/* Nominal flops of the loss with dL/dFs and dL/dYs (docs/kernels.md). */
static double krrst_flops(double m, double n, double d, double k)
{
    return m * m * d + 2 * n * m * d + m * m * m / 3 + 4 * m * m * k + 4 * n * m * k +
           8 * m * k * d + 2 * n * k * d;
}

static double bench_krrst(distill_context *ctx, int64_t m, int64_t n, int64_t d, int64_t k,
                          double *gflops)
{
    job j = {0};
    double t;
    j.ctx = ctx, j.m = m, j.n = n, j.d = d, j.k = k;
    j.fs = randn(ctx, m * d, 1), j.ys = randn(ctx, m * k, 2);
    j.fr = randn(ctx, n * d, 3), j.yr = randn(ctx, n * k, 4);
    j.dfs = malloc(sizeof(float) * m * d), j.dys = malloc(sizeof(float) * m * k);
    if (distill_krrst_loss_grad_workspace_size(NULL, m, n, d, k, &j.ws_bytes) != DISTILL_OK)
        die(ctx, "workspace");
    j.ws = malloc(j.ws_bytes);
    t = bench_best(run_krrst, &j, m >= 1000 ? 7 : 25);
    *gflops = krrst_flops(m, n, d, k) / t * 1e-9;
    printf("krrst  m=%-5lld n=%-5lld d=%-5lld k=%-4lld %9.2f ms %8.1f GFLOP/s  (loss %.4g)\n",
           (long long)m, (long long)n, (long long)d, (long long)k, 1e3 * t, *gflops, j.loss);
    free(j.fs), free(j.ys), free(j.fr), free(j.yr), free(j.dfs), free(j.dys), free(j.ws);
    return t;
}

static double bench_cholesky(distill_context *ctx, int64_t n)
{
    job j = {0};
    float *x = randn(ctx, n * n, 9);
    double t, gf;
    int64_t i;
    j.ctx = ctx, j.m = n;
    j.a = malloc(sizeof(float) * n * n), j.c = malloc(sizeof(float) * n * n);
    /* SPD: X X^T / n + I */
    if (distill_sgemm(ctx, 0, 1, n, n, n, 1.0f / (float)n, x, n, x, n, 0.0f, j.a, n))
        die(ctx, "spd");
    for (i = 0; i < n; i++)
        j.a[i * n + i] += 1.0f;
    if (distill_cholesky_workspace_size(n, &j.ws_bytes) != DISTILL_OK)
        die(ctx, "workspace");
    j.ws = malloc(j.ws_bytes);
    t = bench_best(run_cholesky, &j, 7);
    gf = (double)n * n * n / 3 / t * 1e-9;
    printf("cholesky n=%-5lld %9.2f ms %8.1f GFLOP/s\n", (long long)n, 1e3 * t, gf);
    free(x), free(j.a), free(j.c), free(j.ws);
    return gf;
}

int main(int argc, char **argv)
{
    const int threads = argc > 1 ? atoi(argv[1]) : 2;
    distill_context_options o;
    distill_context *ctx;
    job g = {0};
    double t, sgemm_gf, gf_small, gf_big, gf_wide, t_small, t_big, t_wide, c1k, c4k;
    distill_context_options_init(&o);
    o.threads = threads;
    if (distill_context_create(&o, &ctx) != DISTILL_OK)
        return 1;
    printf("libdistill %s, BLIS sub-configuration '%s', %d threads\n", distill_version_string(),
           distill_context_blis_arch(ctx), threads);

    g.ctx = ctx, g.m = 2000, g.n = 2000, g.k = 2000;
    g.a = randn(ctx, g.m * g.k, 5), g.b = randn(ctx, g.n * g.k, 6);
    g.c = malloc(sizeof(float) * g.m * g.n);
    t = bench_best(run_sgemm, &g, 10);
    sgemm_gf = 2.0 * g.m * g.n * g.k / t * 1e-9;
    printf("sgemm  %lldx%lldx%lld %9.2f ms %8.1f GFLOP/s\n", (long long)g.m, (long long)g.n,
           (long long)g.k, 1e3 * t, sgemm_gf);
    free(g.a), free(g.b), free(g.c);

    t_small = bench_krrst(ctx, 100, 256, 1153, 128, &gf_small);
    t_big = bench_krrst(ctx, 1000, 1024, 8193, 512, &gf_big);
    t_wide = bench_krrst(ctx, 4000, 1024, 2049, 512, &gf_wide);
    c1k = bench_cholesky(ctx, 1000);
    c4k = bench_cholesky(ctx, 4000);

    printf("{\"bench\":\"kernels\",\"sgemm_gflops\":%.1f,\"krr_small_ms\":%.3f,"
           "\"krr_small_gflops\":%.1f,\"krr_big_ms\":%.1f,\"krr_big_gflops\":%.1f,"
           "\"krr_big_peak_ratio\":%.3f,\"krr_wide_ms\":%.1f,\"krr_wide_gflops\":%.1f,"
           "\"chol1000_gflops\":%.1f,\"chol4000_gflops\":%.1f,\"threads\":%d,"
           "\"blis_arch\":\"%s\"}\n",
           sgemm_gf, 1e3 * t_small, gf_small, 1e3 * t_big, gf_big, gf_big / sgemm_gf,
           1e3 * t_wide, gf_wide, c1k, c4k, threads, distill_context_blis_arch(ctx));
    distill_context_destroy(ctx);
    return 0;
}
