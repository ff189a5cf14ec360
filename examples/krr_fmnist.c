/* krr_fmnist: the kernels on real data (Fashion-MNIST as Debian ships it).
 *
 * 1. Kernel ridge regression classifiers on raw pixels: linear (primal form)
 *    on 10k images, RBF (dual form) on 2k images.
 * 2. Dataset distillation with the KRR-ST loss in pixel space: learn m = 10
 *    images and their targets so that KRR on them predicts the labels of
 *    real batches; compare with KRR on 10 random real images (5 seeds).
 *
 * Usage: krr_fmnist [DIR] (default /usr/share/datasets/fashion-mnist).
 * The last stdout line is one JSON object. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include <distill/distill.h>

#define CLASSES 10
#define PIXELS 784

typedef struct images {
    int64_t n;
    float *x;   /* n x 784 in [0, 1] */
    int32_t *y; /* n */
} images;

static int read_be32(gzFile f, uint32_t *v)
{
    unsigned char b[4];
    if (gzread(f, b, 4) != 4)
        return -1;
    *v = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
    return 0;
}

/* Read an IDX file (gzip'd or plain): magic 0x801 labels or 0x803 images. */
static unsigned char *read_idx(const char *path, uint32_t magic, int64_t *count)
{
    gzFile f = gzopen(path, "rb");
    uint32_t m, n, rows = 1, cols = 1;
    unsigned char *buf = NULL;
    size_t bytes;
    if (!f)
        return NULL;
    if (read_be32(f, &m) || m != magic || read_be32(f, &n) || n == 0 || n > 1000000 ||
        (magic == 0x803 && (read_be32(f, &rows) || read_be32(f, &cols) || rows * cols != PIXELS)))
        goto fail;
    bytes = (size_t)n * rows * cols;
    if (!(buf = malloc(bytes)) || gzread(f, buf, (unsigned)bytes) != (int)bytes)
        goto fail;
    gzclose(f);
    *count = n;
    return buf;
fail:
    free(buf);
    gzclose(f);
    return NULL;
}

static int load(const char *dir, const char *prefix, images *out)
{
    char p1[512], p2[512];
    int64_t n1, n2, i;
    unsigned char *px, *lb;
    snprintf(p1, sizeof p1, "%s/%s-images-idx3-ubyte.gz", dir, prefix);
    snprintf(p2, sizeof p2, "%s/%s-labels-idx1-ubyte.gz", dir, prefix);
    px = read_idx(p1, 0x803, &n1);
    lb = read_idx(p2, 0x801, &n2);
    if (!px || !lb || n1 != n2) {
        fprintf(stderr, "krr_fmnist: cannot read %s / %s\n", p1, p2);
        free(px), free(lb);
        return -1;
    }
    out->n = n1;
    out->x = malloc(sizeof(float) * n1 * PIXELS);
    out->y = malloc(sizeof(int32_t) * n1);
    for (i = 0; i < n1 * PIXELS; i++)
        out->x[i] = px[i] / 255.0f;
    for (i = 0; i < n1; i++)
        out->y[i] = lb[i] < CLASSES ? lb[i] : 0;
    free(px), free(lb);
    return 0;
}

/* Rows `idx` of the set, with one-hot targets (1 - 1/C, -1/C: centred). */
static void gather(const images *s, const int64_t *idx, int64_t n, float *x, float *t)
{
    int64_t i, j;
    for (i = 0; i < n; i++) {
        memcpy(x + i * PIXELS, s->x + idx[i] * PIXELS, sizeof(float) * PIXELS);
        for (j = 0; j < CLASSES; j++)
            t[i * CLASSES + j] = (j == s->y[idx[i]]) - 1.0f / CLASSES;
    }
}

static double accuracy(distill_context *ctx, const distill_krr_options *o, int64_t m,
                       const float *fs, const float *coef, const images *test)
{
    float *p = malloc(sizeof(float) * test->n * CLASSES);
    int64_t i, j, hit = 0;
    if (distill_krr_predict(ctx, o, m, test->n, PIXELS, CLASSES, fs, PIXELS, coef, CLASSES,
                            test->x, PIXELS, p, CLASSES, NULL, 0) != DISTILL_OK) {
        fprintf(stderr, "krr_fmnist: %s\n", distill_context_last_error(ctx));
        exit(1);
    }
    for (i = 0; i < test->n; i++) {
        int64_t best = 0;
        for (j = 1; j < CLASSES; j++)
            best = p[i * CLASSES + j] > p[i * CLASSES + best] ? j : best;
        hit += best == test->y[i];
    }
    free(p);
    return (double)hit / (double)test->n;
}

static double fit_and_score(distill_context *ctx, const distill_krr_options *o, int64_t m,
                            const float *x, const float *t, const images *test)
{
    float *coef = malloc(sizeof(float) * (m + PIXELS + 1) * CLASSES);
    double acc;
    if (distill_krr_fit(ctx, o, m, PIXELS, CLASSES, x, PIXELS, t, CLASSES, coef, CLASSES, NULL,
                        0) != DISTILL_OK) {
        fprintf(stderr, "krr_fmnist: %s\n", distill_context_last_error(ctx));
        exit(1);
    }
    acc = accuracy(ctx, o, m, x, coef, test);
    free(coef);
    return acc;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

static void progress(const char *what, int done, int total)
{
    if (!isatty(2))
        return;
    fprintf(stderr, "\r%-24s [%-30.*s] %d/%d", what, done * 30 / total,
            "##############################", done, total);
    if (done == total)
        fputc('\n', stderr);
}

/* Adam on a flat buffer; the library's optimisers come with the learning layer. */
static void adam(float *w, const float *g, float *m1, float *m2, int64_t n, int t, float lr)
{
    const float b1 = 0.9f, b2 = 0.999f;
    const float c1 = 1.0f - powf(b1, (float)t), c2 = 1.0f - powf(b2, (float)t);
    int64_t i;
    for (i = 0; i < n; i++) {
        m1[i] = b1 * m1[i] + (1 - b1) * g[i];
        m2[i] = b2 * m2[i] + (1 - b2) * g[i] * g[i];
        w[i] -= lr * (m1[i] / c1) / (sqrtf(m2[i] / c2) + 1e-8f);
    }
}

/* Distil m images (initialised from `init`) with the KRR-ST loss. */
static void distil(distill_context *ctx, const distill_krr_options *o, const images *train,
                   int64_t m, int steps, int64_t n, float *xs, float *ys, uint64_t stream)
{
    const int64_t nx = m * PIXELS, ny = m * CLASSES;
    float *xr = malloc(sizeof(float) * n * PIXELS), *yr = malloc(sizeof(float) * n * CLASSES);
    float *g = calloc((size_t)(nx + ny), sizeof(float)), *m1 = calloc((size_t)(nx + ny), sizeof(float));
    float *m2 = calloc((size_t)(nx + ny), sizeof(float)), loss;
    int64_t *idx = malloc(sizeof(int64_t) * n), i;
    size_t bytes;
    void *ws;
    int s;
    if (distill_krrst_loss_grad_workspace_size(o, m, n, PIXELS, CLASSES, &bytes) != DISTILL_OK)
        exit(1);
    ws = malloc(bytes);
    for (s = 1; s <= steps; s++) {
        for (i = 0; i < n; i++)
            idx[i] = distill_random_bits(ctx, stream, (uint64_t)s * (uint64_t)n + i) % train->n;
        gather(train, idx, n, xr, yr);
        if (distill_krrst_loss_grad(ctx, o, m, n, PIXELS, CLASSES, xs, PIXELS, ys, CLASSES, xr,
                                    PIXELS, yr, CLASSES, &loss, g, PIXELS, g + nx, CLASSES, NULL,
                                    0, ws, bytes) != DISTILL_OK) {
            fprintf(stderr, "krr_fmnist: %s\n", distill_context_last_error(ctx));
            exit(1);
        }
        adam(xs, g, m1, m2, nx + ny, s, 0.01f * (1.0f - 0.9f * s / steps));
        progress("distilling", s, steps);
    }
    free(xr), free(yr), free(g), free(m1), free(m2), free(idx), free(ws);
}

int main(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : "/usr/share/datasets/fashion-mnist";
    enum { SEEDS = 5, M = 10, STEPS = 400, BATCH = 512 };
    images train, test;
    distill_context *ctx;
    distill_context_options co;
    distill_krr_options lin, rbf;
    int64_t idx[10000], i, seed;
    float *x = malloc(sizeof(float) * 10000 * PIXELS), *t = malloc(sizeof(float) * 10000 * CLASSES);
    double t0 = now(), acc_lin, acc_rbf, real_sum = 0, dist_sum = 0, real_sq = 0, dist_sq = 0;

    if (load(dir, "train", &train) || load(dir, "t10k", &test))
        return 1;
    distill_context_options_init(&co);
    co.threads = 0;
    if (distill_context_create(&co, &ctx) != DISTILL_OK)
        return 1;
    distill_krr_options_init(&lin);
    lin.ridge = 1e-3;
    for (i = 0; i < 10000; i++)
        idx[i] = i; /* the first 10k training images */
    gather(&train, idx, 10000, x, t);
    acc_lin = fit_and_score(ctx, &lin, 10000, x, t, &test);
    distill_krr_options_init(&rbf);
    rbf.kernel = DISTILL_KERNEL_RBF;
    rbf.gamma = 0.02;
    rbf.ridge = 1e-4;
    acc_rbf = fit_and_score(ctx, &rbf, 2000, x, t, &test);
    printf("KRR on raw pixels: linear (10k images, primal) %.2f%%, RBF (2k images, dual) %.2f%%\n",
           100 * acc_lin, 100 * acc_rbf);

    printf("Distilling %d images with the KRR-ST loss (linear kernel, %d steps, batch %d):\n", M,
           STEPS, BATCH);
    printf("  seed  random-real  distilled\n");
    for (seed = 0; seed < SEEDS; seed++) {
        float xs[M * PIXELS], ys[M * CLASSES];
        double a0, a1;
        uint64_t draw = 0;
        for (i = 0; i < M; i++) /* one random image of each class */
            do
                idx[i] = distill_random_bits(ctx, 100 + (uint64_t)seed, draw++) % train.n;
            while (train.y[idx[i]] != i);
        gather(&train, idx, M, xs, ys);
        a0 = fit_and_score(ctx, &lin, M, xs, ys, &test);
        distil(ctx, &lin, &train, M, STEPS, BATCH, xs, ys, 200 + seed);
        a1 = fit_and_score(ctx, &lin, M, xs, ys, &test);
        printf("  %4lld  %10.2f%%  %8.2f%%\n", (long long)seed, 100 * a0, 100 * a1);
        real_sum += a0, dist_sum += a1, real_sq += a0 * a0, dist_sq += a1 * a1;
    }
    real_sum /= SEEDS, dist_sum /= SEEDS;
    printf("  mean  %10.2f%%  %8.2f%%\n", 100 * real_sum, 100 * dist_sum);
    printf("{\"demo\":\"krr_fmnist\",\"krr_linear_10k_acc\":%.4f,\"krr_rbf_2k_acc\":%.4f,"
           "\"m\":%d,\"steps\":%d,\"seeds\":%d,\"random_real_acc\":%.4f,\"random_real_std\":%.4f,"
           "\"distilled_acc\":%.4f,\"distilled_std\":%.4f,\"blis_arch\":\"%s\",\"threads\":%d,"
           "\"seconds\":%.1f}\n",
           acc_lin, acc_rbf, M, STEPS, SEEDS, real_sum,
           sqrt(fmax(0, real_sq / SEEDS - real_sum * real_sum)), dist_sum,
           sqrt(fmax(0, dist_sq / SEEDS - dist_sum * dist_sum)), distill_context_blis_arch(ctx),
           (int)distill_context_threads(ctx), now() - t0);
    distill_context_destroy(ctx);
    free(x), free(t), free(train.x), free(train.y), free(test.x), free(test.y);
    return 0;
}
