/* bench_nn: training and inference speed of the learning layer.
 * Usage: bench_nn [threads] (default 2).  The last line is one JSON object
 * (see docs/performance.md). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_util.h"
#include "distill/distill.h"

typedef struct counting {
    long calls;
} counting;

static void *count_alloc(void *user, size_t size, size_t align)
{
    void *p = NULL;
    ((counting *)user)->calls++;
    return posix_memalign(&p, align < sizeof(void *) ? sizeof(void *) : align, size ? size : 1) ? NULL : p;
}

static void count_free(void *user, void *ptr)
{
    (void)user;
    free(ptr);
}

static void die(distill_context *ctx, const char *what)
{
    fprintf(stderr, "bench_nn: %s: %s\n", what, distill_context_last_error(ctx));
    exit(1);
}

typedef struct step_job {
    distill_context *ctx;
    distill_model *m;
    int64_t n, din, dout;
    float *x, *y, *dy;
} step_job;

static void fwd_bwd(void *p)
{
    step_job *j = p;
    if (distill_model_forward(j->m, DISTILL_MODE_TRAIN, j->n, j->x, j->din, j->y, j->dout) ||
        distill_model_backward(j->m, j->dy, j->dout, NULL, 0, DISTILL_BACKWARD_PARAMS))
        die(j->ctx, "forward/backward");
}

static double images_per_second(distill_context *ctx, const distill_layer_spec *l, int64_t nl,
                                int64_t c, int64_t h, int64_t w, int64_t batch, int reps)
{
    distill_model_options o;
    step_job j;
    double t;
    distill_model_options_init(&o);
    o.in_c = c, o.in_h = h, o.in_w = w, o.layers = l, o.n_layers = nl;
    j.ctx = ctx, j.n = batch;
    if (distill_model_create(ctx, &o, &j.m))
        die(ctx, "model");
    j.din = distill_model_input_dim(j.m), j.dout = distill_model_output_dim(j.m);
    j.x = malloc(sizeof(float) * batch * j.din), j.y = malloc(sizeof(float) * batch * j.dout);
    j.dy = malloc(sizeof(float) * batch * j.dout);
    if (distill_random_uniform(ctx, 1, 0, batch * j.din, 0, 1, j.x) ||
        distill_random_normal(ctx, 2, 0, batch * j.dout, 0, 1e-3f, j.dy))
        die(ctx, "data");
    t = bench_best(fwd_bwd, &j, reps);
    free(j.x), free(j.y), free(j.dy);
    distill_model_destroy(j.m);
    return (double)batch / t;
}

static void layer(distill_layer_spec *l, int kind, int64_t units, int kernel)
{
    distill_layer_spec_init(l, kind);
    l->units = units, l->kernel = kernel, l->padding = kind == DISTILL_LAYER_CONV2D ? 1 : 0;
}

int main(int argc, char **argv)
{
    const int threads = argc > 1 ? atoi(argv[1]) : 2;
    distill_layer_spec conv[10], mlp[5], small[5];
    distill_context_options co;
    distill_context *ctx;
    distill_model *pol;
    distill_model_options o;
    counting cnt = {0};
    distill_allocator a = {sizeof a, &cnt, count_alloc, count_free};
    double conv_ips, mlp_ips, t0, infer_us;
    float x[10], y[2];
    size_t bytes;
    void *ws;
    long before;
    int i, fails = 0;

    distill_context_options_init(&co);
    co.threads = threads, co.allocator = &a;
    if (distill_context_create(&co, &ctx) != DISTILL_OK)
        return 1;
    printf("libdistill %s, BLIS '%s', %d threads\n", distill_version_string(),
           distill_context_blis_arch(ctx), threads);
    if (distill_convnet_layers(3, 32, 0, conv, 10) != 10)
        die(ctx, "ConvNet spec");
    conv_ips = images_per_second(ctx, conv, 10, 1, 28, 28, 256, 12);
    printf("ConvNet-3 32-64-128 + avg-pool, 1x28x28, batch 256, forward+backward: %.0f img/s\n", conv_ips);
    layer(&mlp[0], DISTILL_LAYER_DENSE, 512, 0), layer(&mlp[1], DISTILL_LAYER_RELU, 0, 0);
    layer(&mlp[2], DISTILL_LAYER_DENSE, 512, 0), layer(&mlp[3], DISTILL_LAYER_RELU, 0, 0);
    layer(&mlp[4], DISTILL_LAYER_DENSE, 10, 0);
    mlp_ips = images_per_second(ctx, mlp, 5, 784, 1, 1, 256, 20);
    printf("MLP 784-512-512-10, batch 256, forward+backward: %.0f img/s\n", mlp_ips);

    layer(&small[0], DISTILL_LAYER_DENSE, 64, 0), layer(&small[1], DISTILL_LAYER_RELU, 0, 0);
    layer(&small[2], DISTILL_LAYER_DENSE, 64, 0), layer(&small[3], DISTILL_LAYER_RELU, 0, 0);
    layer(&small[4], DISTILL_LAYER_DENSE, 2, 0);
    distill_model_options_init(&o);
    o.in_c = 10, o.layers = small, o.n_layers = 5;
    if (distill_model_create(ctx, &o, &pol) || distill_model_workspace_size(pol, 1, &bytes))
        die(ctx, "policy");
    ws = malloc(bytes);
    for (i = 0; i < 10; i++)
        x[i] = 0.1f * (float)i;
    for (i = 0; i < 1000; i++) /* warm-up */
        if (distill_model_infer(pol, ws, bytes, 1, x, 10, y, 2))
            die(ctx, "infer");
    before = cnt.calls;
    t0 = bench_now();
    for (i = 0; i < 1000; i++)
        fails += distill_model_infer(pol, ws, bytes, 1, x, 10, y, 2) != DISTILL_OK;
    infer_us = (bench_now() - t0) * 1e6 / 1000.0;
    {
        const long infer_allocs = cnt.calls - before;
        double best = infer_us;
        int r;
        for (r = 0; r < 20; r++) { /* best of 20 rounds of 1000 */
            t0 = bench_now();
            for (i = 0; i < 1000; i++)
                fails += distill_model_infer(pol, ws, bytes, 1, x, 10, y, 2) != DISTILL_OK;
            infer_us = (bench_now() - t0) * 1e6 / 1000.0;
            best = infer_us < best ? infer_us : best;
        }
        if (fails)
            die(ctx, "inference failed");
        printf("MLP 10-64-64-2, batch 1, allocation-free inference: %.3f us (%ld allocations in 1000 calls)\n",
               best, infer_allocs);
        printf("{\"bench\":\"nn\",\"convnet_fwdbwd_img_s\":%.0f,\"mlp_fwdbwd_img_s\":%.0f,"
               "\"mlp_b1_infer_us\":%.3f,\"infer_allocs\":%ld,\"threads\":%d,\"blis_arch\":\"%s\"}\n",
               conv_ips, mlp_ips, best, infer_allocs, threads, distill_context_blis_arch(ctx));
    }
    free(ws);
    distill_model_destroy(pol);
    distill_context_destroy(ctx);
    return 0;
}
