/* learning: training on real data (Fashion-MNIST), determinism, and the
 * allocation-free inference path (counted allocations, many threads). */
#include <pthread.h>
#include <stdio.h>

#include "testutil.h"

#define FMNIST "/usr/share/datasets/fashion-mnist/"

static distill_model *build(distill_context *ctx, const distill_layer_spec *layers, int64_t n_layers,
                            int64_t c, int64_t h, int64_t w)
{
    distill_model_options o;
    distill_model *m;
    distill_model_options_init(&o);
    o.in_c = c, o.in_h = h, o.in_w = w, o.layers = layers, o.n_layers = n_layers;
    ck_assert_msg(distill_model_create(ctx, &o, &m) == DISTILL_OK, "%s", distill_context_last_error(ctx));
    return m;
}

/* One epoch of minibatch training with softmax cross-entropy. */
static void train_epoch(distill_context *ctx, distill_model *m, distill_optimizer *opt,
                        distill_dataset *ds, int64_t epoch, int64_t batch)
{
    const int64_t d = distill_dataset_x_dim(ds), k = distill_model_output_dim(m);
    float *x = malloc(sizeof(float) * batch * d), *y = malloc(sizeof(float) * batch);
    float *z = malloc(sizeof(float) * batch * k), *dz = malloc(sizeof(float) * batch * k), loss;
    int32_t *lab = malloc(sizeof(int32_t) * batch);
    int64_t b, n, i;
    for (b = 0; b < distill_dataset_batches(ds, batch); b++) {
        ck_assert_status(distill_dataset_batch(ds, epoch, b, batch, x, d, y, 1, NULL, &n), DISTILL_OK);
        for (i = 0; i < n; i++)
            lab[i] = (int32_t)y[i];
        ck_assert_status(distill_model_forward(m, DISTILL_MODE_TRAIN, n, x, d, z, k), DISTILL_OK);
        ck_assert_status(distill_xent_hard(ctx, n, k, z, k, lab, 1.0f, &loss, dz, k), DISTILL_OK);
        ck_assert_status(distill_model_backward(m, dz, k, NULL, 0, DISTILL_BACKWARD_PARAMS), DISTILL_OK);
        ck_assert_status(distill_optimizer_step(opt, distill_model_params(m), distill_model_grads(m)), DISTILL_OK);
    }
    free(x), free(y), free(z), free(dz), free(lab);
}

static double accuracy(distill_model *m, distill_dataset *ds)
{
    const int64_t d = distill_dataset_x_dim(ds), k = distill_model_output_dim(m), batch = 500;
    float *x = malloc(sizeof(float) * batch * d), *y = malloc(sizeof(float) * batch);
    float *z = malloc(sizeof(float) * batch * k);
    int64_t b, n, i, j, hit = 0;
    for (b = 0; b < distill_dataset_batches(ds, batch); b++) {
        ck_assert_status(distill_dataset_batch(ds, 0, b, batch, x, d, y, 1, NULL, &n), DISTILL_OK);
        ck_assert_status(distill_model_forward(m, DISTILL_MODE_EVAL, n, x, d, z, k), DISTILL_OK);
        for (i = 0; i < n; i++) {
            int64_t best = 0;
            for (j = 1; j < k; j++)
                best = z[i * k + j] > z[i * k + best] ? j : best;
            hit += best == (int64_t)y[i];
        }
    }
    free(x), free(y), free(z);
    return (double)hit / (double)distill_dataset_count(ds);
}

/* The first n training images, and the test set. */
static void load_fmnist(distill_context *ctx, int64_t n, distill_dataset **train, distill_dataset **test)
{
    distill_dataset *full;
    int64_t *idx = malloc(sizeof(int64_t) * n), i;
    ck_assert_status(distill_dataset_from_idx(ctx, FMNIST "train-images-idx3-ubyte.gz",
                                              FMNIST "train-labels-idx1-ubyte.gz", &full), DISTILL_OK);
    ck_assert_status(distill_dataset_from_idx(ctx, FMNIST "t10k-images-idx3-ubyte.gz",
                                              FMNIST "t10k-labels-idx1-ubyte.gz", test), DISTILL_OK);
    for (i = 0; i < n; i++)
        idx[i] = i;
    ck_assert_status(distill_dataset_subset(full, idx, n, train), DISTILL_OK);
    distill_dataset_destroy(full);
    free(idx);
}

static distill_optimizer *adam(distill_context *ctx, distill_model *m, double lr, int64_t steps)
{
    distill_optimizer_options o;
    distill_optimizer *opt;
    distill_optimizer_options_init(&o);
    o.kind = DISTILL_OPTIM_ADAM, o.lr = lr;
    o.schedule = DISTILL_SCHEDULE_COSINE, o.total_steps = steps;
    ck_assert_status(distill_optimizer_create(ctx, &o, distill_model_param_count(m), &opt), DISTILL_OK);
    return opt;
}

/* Train on the first n images with Adam and a cosine schedule; test accuracy. */
static double fit_and_score(const distill_layer_spec *l, int64_t nl, int64_t c, int64_t h,
                            int64_t w, int64_t n, int64_t epochs, int64_t batch, const char *name)
{
    distill_dataset *train, *test;
    distill_context *ctx = test_context(NULL, 2);
    distill_model *m;
    distill_optimizer *opt;
    int64_t e;
    double acc;
    load_fmnist(ctx, n, &train, &test);
    m = build(ctx, l, nl, c, h, w);
    ck_assert_int_eq(distill_model_output_dim(m), 10);
    opt = adam(ctx, m, 2e-3, epochs * distill_dataset_batches(train, batch));
    for (e = 0; e < epochs; e++)
        train_epoch(ctx, m, opt, train, e, batch);
    acc = accuracy(m, test);
    printf("%s on %lld Fashion-MNIST images: test accuracy %.2f%%\n", name, (long long)n, 100 * acc);
    distill_optimizer_destroy(opt);
    distill_model_destroy(m);
    distill_dataset_destroy(train);
    distill_dataset_destroy(test);
    distill_context_destroy(ctx);
    return acc;
}

START_TEST(mlp_learns_fashion_mnist)
{
    distill_layer_spec l[3];
    double acc;
    distill_layer_spec_init(&l[0], DISTILL_LAYER_DENSE);
    distill_layer_spec_init(&l[1], DISTILL_LAYER_RELU);
    distill_layer_spec_init(&l[2], DISTILL_LAYER_DENSE);
    l[0].units = 256, l[2].units = 10;
    acc = fit_and_score(l, 3, 784, 1, 1, 10000, 10, 128, "MLP 784-256-10");
    ck_assert_msg(acc >= 0.83, "MLP test accuracy %.4f < 0.83", acc);
}
END_TEST

/* ConvNet-3 as KRR-ST uses it: [conv3x3 pad 1 -> batch norm -> ReLU ->
 * avgpool 2] x 3 (32, 64, 128), flatten, dense 10: 14 layers. */
static void convnet3(distill_layer_spec *l)
{
    ck_assert_int_eq(distill_convnet_layers(3, 32, 1, l, 12), 0); /* no room */
    ck_assert_int_eq(distill_convnet_layers(3, 32, 1, l, 14), 13);
    ck_assert_int_eq(l[4].units, 64);
    ck_assert_int_eq(l[11].kind, DISTILL_LAYER_AVGPOOL);
    distill_layer_spec_init(&l[13], DISTILL_LAYER_DENSE);
    l[13].units = 10;
}

START_TEST(convnet_learns_fashion_mnist)
{
    distill_layer_spec l[14];
    double acc;
    convnet3(l);
    acc = fit_and_score(l, 14, 1, 28, 28, 10000, 3, 64, "ConvNet-3 (batch norm)");
    ck_assert_msg(acc >= 0.86, "ConvNet-3 test accuracy %.4f < 0.86", acc);
}
END_TEST

/* The unit tier's version: 1k images, far above chance (10%). */
START_TEST(convnet_learns_fashion_mnist_1k)
{
    distill_layer_spec l[14];
    double acc;
    convnet3(l);
    acc = fit_and_score(l, 14, 1, 28, 28, 1000, 3, 32, "ConvNet-3 (batch norm)");
    ck_assert_msg(acc >= 0.70, "ConvNet-3 test accuracy %.4f < 0.70 after 1k images", acc);
}
END_TEST

/* Same seed and threads: bit-identical parameters after training steps. */
START_TEST(training_is_bit_reproducible)
{
    distill_layer_spec l[14];
    float *p[2];
    int64_t np = 0;
    int run;
    convnet3(l);
    for (run = 0; run < 2; run++) {
        distill_context *ctx = test_context(NULL, 2);
        distill_model *m = build(ctx, l, 14, 1, 12, 12);
        distill_optimizer *opt = adam(ctx, m, 1e-2, 10);
        float x[16 * 144], z[160], dz[160], loss;
        int32_t lab[16];
        int s, i;
        for (s = 0; s < 5; s++) {
            ck_assert_status(distill_random_normal(ctx, 9, (uint64_t)s * 16 * 144, 16 * 144, 0, 1, x), DISTILL_OK);
            for (i = 0; i < 16; i++)
                lab[i] = (s + i) % 10;
            ck_assert_status(distill_model_forward(m, DISTILL_MODE_TRAIN, 16, x, 144, z, 10), DISTILL_OK);
            ck_assert_status(distill_xent_hard(ctx, 16, 10, z, 10, lab, 1.0f, &loss, dz, 10), DISTILL_OK);
            ck_assert_status(distill_model_backward(m, dz, 10, NULL, 0, DISTILL_BACKWARD_PARAMS), DISTILL_OK);
            ck_assert_status(distill_optimizer_step(opt, distill_model_params(m), distill_model_grads(m)), DISTILL_OK);
        }
        np = distill_model_param_count(m);
        p[run] = malloc(sizeof(float) * np);
        memcpy(p[run], distill_model_params(m), sizeof(float) * np);
        distill_optimizer_destroy(opt);
        distill_model_destroy(m);
        distill_context_destroy(ctx);
    }
    ck_assert_mem_eq(p[0], p[1], sizeof(float) * np);
    free(p[0]), free(p[1]);
}
END_TEST

/* ---- inference ------------------------------------------------------------- */

static distill_model *small_policy(distill_context *ctx)
{
    distill_layer_spec l[6];
    int i;
    for (i = 0; i < 6; i++)
        distill_layer_spec_init(&l[i], i % 2 ? DISTILL_LAYER_RELU : DISTILL_LAYER_DENSE);
    l[0].units = 64, l[2].units = 64, l[4].units = 2;
    l[2].kind = DISTILL_LAYER_RESIDUAL_MLP; /* and a residual block */
    l[3].kind = DISTILL_LAYER_LAYERNORM;
    return build(ctx, l, 5, 10, 1, 1);
}

START_TEST(inference_allocates_nothing_and_matches_forward)
{
    counting_alloc c;
    distill_context *ctx = test_context(&c, 1);
    distill_model *m = small_policy(ctx);
    float x[8 * 10], y[8 * 2], ref[8 * 2];
    size_t bytes;
    void *ws;
    long calls, c_calls;
    int i, failed;
    fill_random(x, 80, 5);
    ck_assert_status(distill_model_forward(m, DISTILL_MODE_EVAL, 8, x, 10, ref, 2), DISTILL_OK);
    ck_assert_status(distill_model_workspace_size(m, 8, &bytes), DISTILL_OK);
    ws = malloc(bytes);
    /* no ck_assert inside the loop: Check, linked statically, allocates there */
    calls = c.calls, c_calls = test_c_allocations();
    for (i = 0, failed = 0; i < 1000; i++)
        failed += distill_model_infer(m, ws, bytes, 1 + i % 8, x, 10, y, 2) != DISTILL_OK;
    c_calls = test_c_allocations() - c_calls, calls = c.calls - calls;
    ck_assert_int_eq(failed, 0);
    ck_assert_int_eq(calls, 0);   /* nothing through the context's hooks */
    ck_assert_int_eq(c_calls, 0); /* nor from the C allocator */
    ck_assert_int_eq(distill_model_infer(m, ws, bytes, 8, x, 10, y, 2), DISTILL_OK);
    for (i = 0; i < 16; i++)
        ck_assert_float_eq_tol(y[i], ref[i], 1e-5f);
    ck_assert_int_eq(distill_model_infer(m, ws, bytes / 2, 8, x, 10, y, 2), DISTILL_E_WORKSPACE);
    ck_assert_int_eq(distill_model_infer(m, ws, bytes, 8, x, 9, y, 2), DISTILL_E_SHAPE);
    free(ws);
    distill_model_destroy(m);
    distill_context_destroy(ctx);
}
END_TEST

/* infer checks no numbers (a NaN row can come out finite, with OK);
 * infer_checked refuses NaN and Inf in and out, still allocating nothing. */
START_TEST(checked_inference_refuses_non_finite_rows)
{
    distill_context *ctx = test_context(NULL, 1);
    distill_model *m = small_policy(ctx);
    float x[2 * 10], y[2 * 2];
    size_t bytes;
    void *ws;
    long c_calls;
    distill_status st[3];
    fill_random(x, 20, 3);
    ck_assert_status(distill_model_workspace_size(m, 2, &bytes), DISTILL_OK);
    ws = malloc(bytes);
    ck_assert_int_eq(distill_model_infer_checked(m, ws, bytes, 2, x, 10, y, 2), DISTILL_OK);
    x[13] = NAN;
    c_calls = test_c_allocations();
    st[0] = distill_model_infer(m, ws, bytes, 2, x, 10, y, 2);
    st[1] = distill_model_infer_checked(m, ws, bytes, 2, x, 10, y, 2);
    x[13] = INFINITY;
    st[2] = distill_model_infer_checked(m, ws, bytes, 2, x, 10, y, 2);
    c_calls = test_c_allocations() - c_calls;
    ck_assert_int_eq(st[0], DISTILL_OK); /* documented: infer checks no numbers */
    ck_assert_int_eq(st[1], DISTILL_E_NUMERIC);
    ck_assert_int_eq(st[2], DISTILL_E_NUMERIC);
    ck_assert_int_eq(c_calls, 0);
    ck_assert_int_eq(distill_model_infer_checked(m, ws, bytes, 2, x, 9, y, 2), DISTILL_E_SHAPE);
    free(ws);
    distill_model_destroy(m);
    distill_context_destroy(ctx);
}
END_TEST

/* A conv stack (channel-first inside) through both paths. */
START_TEST(conv_inference_matches_forward)
{
    distill_layer_spec l[14];
    distill_context *ctx = test_context(NULL, 2);
    distill_model *m;
    float *x = malloc(sizeof(float) * 5 * 144), y[50], yi[50];
    size_t bytes;
    void *ws;
    int i;
    convnet3(l);
    l[7].kind = DISTILL_LAYER_MAXPOOL; /* and a max pool */
    m = build(ctx, l, 14, 1, 12, 12);
    fill_random(x, 5 * 144, 4);
    for (i = 0; i < 3; i++) /* move the batch statistics */
        ck_assert_status(distill_model_forward(m, DISTILL_MODE_TRAIN, 5, x, 144, y, 10), DISTILL_OK);
    ck_assert_status(distill_model_forward(m, DISTILL_MODE_EVAL, 5, x, 144, y, 10), DISTILL_OK);
    ck_assert_status(distill_model_workspace_size(m, 5, &bytes), DISTILL_OK);
    ws = malloc(bytes);
    ck_assert_int_eq(distill_model_infer(m, ws, bytes, 5, x, 144, yi, 10), DISTILL_OK);
    for (i = 0; i < 50; i++)
        ck_assert_float_eq_tol(yi[i], y[i], 1e-4f * (1 + fabsf(y[i])));
    free(ws), free(x);
    distill_model_destroy(m);
    distill_context_destroy(ctx);
}
END_TEST

typedef struct infer_job {
    const distill_model *m;
    const float *x;
    float y[64 * 2];
    int ok;
} infer_job;

static void *infer_thread(void *arg)
{
    infer_job *j = arg;
    size_t bytes;
    void *ws;
    int r;
    j->ok = distill_model_workspace_size(j->m, 64, &bytes) == DISTILL_OK && (ws = malloc(bytes));
    for (r = 0; j->ok && r < 200; r++)
        j->ok = distill_model_infer(j->m, ws, bytes, 64, j->x, 10, j->y, 2) == DISTILL_OK;
    if (j->ok)
        free(ws);
    return NULL;
}

START_TEST(inference_threads_share_a_frozen_model)
{
    distill_context *ctx = test_context(NULL, 1);
    distill_model *m = small_policy(ctx);
    float x[64 * 10], ref[64 * 2];
    infer_job jobs[4];
    pthread_t t[4];
    int i;
    fill_random(x, 640, 9);
    ck_assert_status(distill_model_forward(m, DISTILL_MODE_EVAL, 64, x, 10, ref, 2), DISTILL_OK);
    for (i = 0; i < 4; i++) {
        jobs[i].m = m, jobs[i].x = x;
        ck_assert_int_eq(pthread_create(&t[i], NULL, infer_thread, &jobs[i]), 0);
    }
    for (i = 0; i < 4; i++) {
        int j;
        pthread_join(t[i], NULL);
        ck_assert(jobs[i].ok);
        for (j = 0; j < 128; j++)
            ck_assert_float_eq_tol(jobs[i].y[j], ref[j], 1e-5f);
    }
    distill_model_destroy(m);
    distill_context_destroy(ctx);
}
END_TEST

Suite *distill_suite_train(void)
{
    Suite *s = suite_create("learning-train");
    TCase *tc = tcase_create("train");
    tcase_add_test(tc, convnet_learns_fashion_mnist_1k);
    tcase_add_test(tc, training_is_bit_reproducible);
    tcase_add_test(tc, inference_allocates_nothing_and_matches_forward);
    tcase_add_test(tc, checked_inference_refuses_non_finite_rows);
    tcase_add_test(tc, inference_threads_share_a_frozen_model);
    tcase_add_test(tc, conv_inference_matches_forward);
    suite_add_tcase(s, tc);
    return s;
}

/* Fits on the 10k-image subset: minutes under load, more under sanitizers;
 * the Makefile's test-slow sets their timeout. */
Suite *distill_suite_slow(void)
{
    Suite *s = suite_create("slow");
    TCase *tc = tcase_create("real-data fits");
    tcase_add_test(tc, mlp_learns_fashion_mnist);
    tcase_add_test(tc, convnet_learns_fashion_mnist);
    suite_add_tcase(s, tc);
    return s;
}
