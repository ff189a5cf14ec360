/* data: memory, IDX (real Fashion-MNIST and broken files), CSV, host
 * backends, subsets, shuffled batches, augmentations. */
#include <stdio.h>
#include <unistd.h>
#include <zlib.h>

#include "testutil.h"
#include "data/augment.h"

#define FMNIST "/usr/share/datasets/fashion-mnist/"

START_TEST(memory_copy_and_borrow)
{
    float x[12], y[3] = {0, 1, 2}, gx[8], gy[2];
    int64_t idx[2] = {2, 0};
    distill_dataset *copy, *borrow, *failed = NULL;
    counting_alloc c;
    distill_context *ctx = test_context(&c, 1);
    fill_random(x, 12, 1);
    ck_assert_status(distill_dataset_from_memory(ctx, 3, 3, x, 4, 1, y, 1, DISTILL_DATASET_COPY, &copy), DISTILL_OK);
    ck_assert_status(distill_dataset_from_memory(ctx, 3, 3, x, 4, 1, y, 1, DISTILL_DATASET_BORROW, &borrow), DISTILL_OK);
    ck_assert_int_eq(distill_dataset_count(copy), 3);
    ck_assert_int_eq(distill_dataset_x_dim(copy), 3);
    ck_assert_status(distill_dataset_get(copy, idx, 2, gx, 4, gy, 1), DISTILL_OK);
    ck_assert_mem_eq(gx, x + 8, 3 * sizeof(float));
    ck_assert_mem_eq(gx + 4, x, 3 * sizeof(float));
    ck_assert_float_eq(gy[0], 2.0f);
    x[8] = 42.0f; /* the borrowed view sees the change, the copy does not */
    ck_assert_status(distill_dataset_get(borrow, idx, 1, gx, 4, NULL, 0), DISTILL_OK);
    ck_assert_float_eq(gx[0], 42.0f);
    ck_assert_status(distill_dataset_get(copy, idx, 1, gx, 4, NULL, 0), DISTILL_OK);
    ck_assert_float_ne(gx[0], 42.0f);
    gy[0] = gy[1] = -1.0f; /* labels only */
    ck_assert_status(distill_dataset_get(copy, idx, 2, NULL, 0, gy, 1), DISTILL_OK);
    ck_assert(gy[0] == 2.0f && gy[1] == 0.0f);
    ck_assert_fails(ctx, distill_dataset_get(copy, idx, 2, NULL, 0, NULL, 0), DISTILL_E_INVAL, "x or y");
    idx[1] = 3;
    ck_assert_fails(ctx, distill_dataset_get(copy, idx, 2, gx, 4, gy, 1), DISTILL_E_INVAL, "idx[1] = 3");
    ck_assert_fails(ctx, distill_dataset_get(copy, idx, 1, gx, 2, gy, 1), DISTILL_E_SHAPE, "leading");
    ck_assert_fails(ctx, distill_dataset_set_shape(copy, 2, 2, 1), DISTILL_E_SHAPE, "does not hold");
    failed = copy;
    ck_assert_fails(ctx, distill_dataset_from_memory(ctx, 3, 3, x, 4, 1, NULL, 1, 0, &failed), DISTILL_E_INVAL, "y");
    ck_assert_ptr_null(failed);
    distill_dataset_destroy(copy);
    distill_dataset_destroy(borrow);
    distill_dataset_destroy(NULL);
    ck_assert_int_eq(c.live, 1);
    distill_context_destroy(ctx);
}
END_TEST

START_TEST(fashion_mnist_shapes_and_counts)
{
    distill_dataset *train, *test, *sub;
    int64_t c, h, w, counts[10] = {0}, i, n;
    int32_t classes[2] = {5, 9};
    float *x = malloc(sizeof(float) * 784 * 100), y[100];
    distill_context *ctx = test_context(NULL, 1);
    ck_assert_status(distill_dataset_from_idx(ctx, FMNIST "train-images-idx3-ubyte.gz",
                                              FMNIST "train-labels-idx1-ubyte.gz", &train), DISTILL_OK);
    ck_assert_status(distill_dataset_from_idx(ctx, FMNIST "t10k-images-idx3-ubyte.gz",
                                              FMNIST "t10k-labels-idx1-ubyte.gz", &test), DISTILL_OK);
    { /* swapped files, and a directory: each says what it is */
        distill_dataset *bad = NULL;
        ck_assert_fails(ctx, distill_dataset_from_idx(ctx, FMNIST "t10k-images-idx3-ubyte.gz",
                                                      FMNIST "t10k-images-idx3-ubyte.gz", &bad),
                        DISTILL_E_FORMAT, "not a label file");
        ck_assert_fails(ctx, distill_dataset_from_idx(ctx, FMNIST, NULL, &bad), DISTILL_E_IO, "is a directory");
        ck_assert_ptr_null(bad);
    }
    ck_assert_int_eq(distill_dataset_count(train), 60000);
    ck_assert_int_eq(distill_dataset_count(test), 10000);
    ck_assert_int_eq(distill_dataset_x_dim(train), 784);
    ck_assert_int_eq(distill_dataset_y_dim(train), 1);
    distill_dataset_shape(train, &c, &h, &w);
    ck_assert(c == 1 && h == 28 && w == 28);
    for (i = 0; i < distill_dataset_batches(train, 100); i++) {
        int64_t j;
        ck_assert_status(distill_dataset_batch(train, 0, i, 100, x, 784, y, 1, NULL, &n), DISTILL_OK);
        for (j = 0; j < n; j++) {
            ck_assert(y[j] >= 0 && y[j] <= 9);
            counts[(int)y[j]]++;
        }
    }
    for (i = 0; i < 10; i++)
        ck_assert_int_eq(counts[i], 6000);
    for (i = 0; i < 784 * 100; i++)
        ck_assert(x[i] >= 0.0f && x[i] <= 1.0f);
    ck_assert_status(distill_dataset_subset_classes(test, classes, 2, &sub), DISTILL_OK);
    ck_assert_int_eq(distill_dataset_count(sub), 2000);
    distill_dataset_destroy(test); /* the subset keeps the data alive */
    ck_assert_status(distill_dataset_batch(sub, 0, 0, 100, x, 784, y, 1, NULL, &n), DISTILL_OK);
    for (i = 0; i < n; i++)
        ck_assert(y[i] == 5.0f || y[i] == 9.0f);
    distill_dataset_destroy(sub);
    distill_dataset_destroy(train);
    free(x);
    distill_context_destroy(ctx);
}
END_TEST

/* Write `len` bytes to a temporary file, gzip'd if asked; returns its path. */
static char *temp_file(const unsigned char *data, size_t len, int gz)
{
    static char path[64];
    int fd;
    snprintf(path, sizeof path, "/tmp/distill-test-XXXXXX");
    fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    if (gz) {
        gzFile f = gzdopen(fd, "wb");
        ck_assert_int_eq(gzwrite(f, data, (unsigned)len), (int)len);
        gzclose(f);
    } else {
        ck_assert_int_eq(write(fd, data, len), (ssize_t)len);
        close(fd);
    }
    return path;
}

static distill_status load_images(distill_context *ctx, const unsigned char *data, size_t len, int gz)
{
    distill_dataset *ds = NULL;
    char path[64];
    distill_status st;
    strcpy(path, temp_file(data, len, gz));
    st = distill_dataset_from_idx(ctx, path, NULL, &ds);
    unlink(path);
    if (st == DISTILL_OK) {
        ck_assert_int_eq(distill_dataset_count(ds), 2);
        distill_dataset_destroy(ds);
    } else {
        ck_assert_ptr_null(ds);
    }
    return st;
}

START_TEST(corrupt_idx_files_are_format_errors)
{
    /* 2 images of 2 x 3 */
    unsigned char good[16 + 12] = {0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 3};
    unsigned char bad[sizeof good];
    const int gz = _i;
    counting_alloc c;
    distill_context *ctx = test_context(&c, 1);
    distill_dataset *ds;
    ck_assert_status(load_images(ctx, good, sizeof good, gz), DISTILL_OK);
    ck_assert_status(load_images(ctx, good, sizeof good - 1, gz), DISTILL_E_FORMAT); /* truncated */
    ck_assert_ptr_nonnull(strstr(distill_context_last_error(ctx), "truncated"));
    ck_assert_status(load_images(ctx, good, 10, gz), DISTILL_E_FORMAT);           /* truncated header */
    memcpy(bad, good, sizeof good);
    bad[0] = 1;
    ck_assert_status(load_images(ctx, bad, sizeof bad, gz), DISTILL_E_FORMAT);     /* magic */
    memcpy(bad, good, sizeof good);
    bad[3] = 9;
    ck_assert_status(load_images(ctx, bad, sizeof bad, gz), DISTILL_E_FORMAT);     /* dimensions */
    memcpy(bad, good, sizeof good);
    bad[11] = 0;
    ck_assert_status(load_images(ctx, bad, sizeof bad, gz), DISTILL_E_FORMAT);     /* zero dim */
    memcpy(bad, good, sizeof good);
    bad[4] = 0x7f;
    ck_assert_status(load_images(ctx, bad, sizeof bad, gz), DISTILL_E_FORMAT);     /* huge count */
    memcpy(bad, good, sizeof good);
    bad[2] = 0x0d;
    ck_assert_status(load_images(ctx, bad, sizeof bad, gz), DISTILL_E_UNSUPPORTED); /* floats */
    ck_assert_fails(ctx, distill_dataset_from_idx(ctx, "/nonexistent/x.idx", NULL, &ds), DISTILL_E_IO,
                    "/nonexistent/x.idx");
    ck_assert_int_eq(c.live, 1);
    distill_context_destroy(ctx);
}
END_TEST

START_TEST(csv_reads_and_rejects)
{
    const char *good = "a,b,label\n1, 2, 0\n3,4e-1,1\n\n5,6,1\n";
    const char *ragged = "1,2\n3\n";
    const char *junk = "1,2\n3,x\n";
    distill_dataset *ds = NULL;
    float x[6], y[3];
    int64_t idx[3] = {0, 1, 2};
    char path[64];
    distill_context *ctx = test_context(NULL, 1);
    strcpy(path, temp_file((const unsigned char *)good, strlen(good), 0));
    ck_assert_status(distill_dataset_from_csv(ctx, path, 1, 2, &ds), DISTILL_OK);
    ck_assert_int_eq(distill_dataset_count(ds), 3);
    ck_assert_int_eq(distill_dataset_x_dim(ds), 2);
    ck_assert_status(distill_dataset_get(ds, idx, 3, x, 2, y, 1), DISTILL_OK);
    ck_assert_float_eq(x[3], 0.4f);
    ck_assert_float_eq(y[2], 1.0f);
    distill_dataset_destroy(ds);
    ck_assert_fails(ctx, distill_dataset_from_csv(ctx, path, 0, 2, &ds), DISTILL_E_FORMAT, "line 1, column 1");
    unlink(path);
    strcpy(path, temp_file((const unsigned char *)ragged, strlen(ragged), 0));
    ck_assert_fails(ctx, distill_dataset_from_csv(ctx, path, 0, -1, &ds), DISTILL_E_FORMAT, "line 2 has 1 columns");
    unlink(path);
    strcpy(path, temp_file((const unsigned char *)junk, strlen(junk), 1));
    ck_assert_fails(ctx, distill_dataset_from_csv(ctx, path, 0, -1, &ds), DISTILL_E_FORMAT, "line 2, column 2");
    unlink(path);
    { /* a long valid number (72 characters were refused), and a NUL inside one (its prefix was taken) */
        const char long_num[] = "1,0.0000000000000000000000000000012500000000000000000000000000000000000000\n"; /* 72 characters: 1.25e-30 */
        const char nul[] = "1,2\n3,4\0005\n";
        strcpy(path, temp_file((const unsigned char *)long_num, strlen(long_num), 0));
        ck_assert_status(distill_dataset_from_csv(ctx, path, 0, -1, &ds), DISTILL_OK);
        ck_assert_status(distill_dataset_get(ds, idx, 1, x, 2, NULL, 0), DISTILL_OK);
        ck_assert_float_eq_tol(x[1] * 1e30f, 1.25f, 1e-5f);
        distill_dataset_destroy(ds);
        unlink(path);
        strcpy(path, temp_file((const unsigned char *)nul, sizeof nul - 1, 0));
        ck_assert_fails(ctx, distill_dataset_from_csv(ctx, path, 0, -1, &ds), DISTILL_E_FORMAT, "line 2, column 2");
        unlink(path);
    }
    { /* missing values: refused by default, NaN with DISTILL_CSV_MISSING; Inf never */
        const char *holes = "y,a,b\n,1,2\n1, nan ,NA\n0,3,\n";
        const char *inf = "1,inf\n";
        strcpy(path, temp_file((const unsigned char *)holes, strlen(holes), 0));
        ck_assert_fails(ctx, distill_dataset_from_csv(ctx, path, DISTILL_CSV_HEADER, 0, &ds), DISTILL_E_FORMAT,
                        "line 2, column 1");
        ck_assert_status(distill_dataset_from_csv(ctx, path, DISTILL_CSV_HEADER | DISTILL_CSV_MISSING, 0, &ds),
                         DISTILL_OK);
        ck_assert_status(distill_dataset_get(ds, idx, 3, x, 2, y, 1), DISTILL_OK);
        ck_assert(isnan(y[0]) && y[1] == 1.0f && y[2] == 0.0f);
        ck_assert(x[0] == 1.0f && isnan(x[2]) && isnan(x[3]) && x[4] == 3.0f && isnan(x[5]));
        distill_dataset_destroy(ds);
        ck_assert_fails(ctx, distill_dataset_from_csv(ctx, path, 4, 0, &ds), DISTILL_E_INVAL, "flags");
        unlink(path);
        strcpy(path, temp_file((const unsigned char *)inf, strlen(inf), 0));
        ck_assert_fails(ctx, distill_dataset_from_csv(ctx, path, DISTILL_CSV_MISSING, 0, &ds), DISTILL_E_FORMAT,
                        "column 2");
        unlink(path);
    }
    distill_context_destroy(ctx);
}
END_TEST

typedef struct host_data {
    int fail_next, released, loads;
} host_data;

static int host_count(void *user, int64_t *n)
{
    (void)user;
    *n = 50;
    return 0;
}

static int host_load(void *user, const int64_t *idx, int64_t n, float *x, int64_t ldx, float *y,
                     int64_t ldy)
{
    host_data *h = user;
    int64_t i, j;
    h->loads++;
    if (h->fail_next) {
        h->fail_next = 0;
        return 7;
    }
    for (i = 0; i < n; i++) {
        for (j = 0; j < 4; j++)
            x[i * ldx + j] = (float)(idx[i] * 10 + j);
        y[i * ldy] = (float)(idx[i] % 5);
    }
    return 0;
}

static void host_release(void *user) { ((host_data *)user)->released++; }

START_TEST(host_backend_and_failures)
{
    host_data h = {0, 0, 0};
    distill_backend b = {sizeof b, 0, &h, "my-loader", host_count, host_load, host_release};
    distill_dataset *ds, *sub;
    int32_t cls = 3;
    float x[40], y[10];
    int64_t idx[10] = {13, 4}, n;
    counting_alloc c;
    distill_context *ctx = test_context(&c, 1);
    ck_assert_status(distill_dataset_from_backend(ctx, &b, 4, 1, &ds), DISTILL_OK);
    b.name = "changed"; /* the library copied the vtable and the name */
    ck_assert_int_eq(distill_dataset_count(ds), 50);
    ck_assert_status(distill_dataset_get(ds, idx, 2, x, 4, y, 1), DISTILL_OK);
    ck_assert_float_eq(x[0], 130.0f);
    ck_assert_float_eq(y[1], 4.0f);
    h.fail_next = 1;
    ck_assert_fails(ctx, distill_dataset_get(ds, idx, 2, x, 4, y, 1), DISTILL_E_BACKEND,
                    "backend 'my-loader': load_batch() failed");
    ck_assert_status(distill_dataset_get(ds, idx, 2, x, 4, y, 1), DISTILL_OK); /* still usable */
    y[0] = y[1] = -1.0f; /* labels only: the backend fills a scratch x */
    ck_assert_status(distill_dataset_get(ds, idx, 2, NULL, 0, y, 1), DISTILL_OK);
    ck_assert_float_eq(y[0], 3.0f); /* 13 % 5 */
    ck_assert_float_eq(y[1], 4.0f);
    ck_assert_status(distill_dataset_subset_classes(ds, &cls, 1, &sub), DISTILL_OK);
    ck_assert_int_eq(distill_dataset_count(sub), 10);
    ck_assert_status(distill_dataset_batch(sub, 2, 0, 10, x, 4, y, 1, idx, &n), DISTILL_OK);
    ck_assert_int_eq(n, 10);
    ck_assert_float_eq(y[5], 3.0f);
    distill_dataset_destroy(ds);
    ck_assert_int_eq(h.released, 0);
    distill_dataset_destroy(sub);
    ck_assert_int_eq(h.released, 1);
    b.struct_size = 8;
    ck_assert_fails(ctx, distill_dataset_from_backend(ctx, &b, 4, 1, &ds), DISTILL_E_ABI, "struct_size");
    ck_assert_int_eq(c.live, 1);
    distill_context_destroy(ctx);
}
END_TEST

START_TEST(batches_are_deterministic_shuffles)
{
    enum { N = 103, B = 10 };
    float x[N], y[N], bx[B], by[B], again[B];
    int seen[N] = {0};
    int64_t b, n, i, total = 0;
    distill_dataset *ds;
    distill_context *ctx = test_context(NULL, 1);
    for (i = 0; i < N; i++)
        x[i] = (float)i, y[i] = (float)(i % 3);
    ck_assert_status(distill_dataset_from_memory(ctx, N, 1, x, 1, 1, y, 1, 0, &ds), DISTILL_OK);
    ck_assert_int_eq(distill_dataset_batches(ds, B), 11);
    /* read batch 7 of epoch 1 first, then the whole of epoch 0, then batch 7 again */
    ck_assert_status(distill_dataset_batch(ds, 1, 7, B, again, 1, by, 1, NULL, &n), DISTILL_OK);
    for (b = 0; b < 11; b++) {
        ck_assert_status(distill_dataset_batch(ds, 0, b, B, bx, 1, by, 1, NULL, &n), DISTILL_OK);
        ck_assert_int_eq(n, b < 10 ? B : 3);
        for (i = 0; i < n; i++) {
            seen[(int)bx[i]]++;
            ck_assert_float_eq(by[i], (float)((int)bx[i] % 3));
        }
        total += n;
    }
    ck_assert_int_eq(total, N);
    for (i = 0; i < N; i++)
        ck_assert_int_eq(seen[i], 1);
    ck_assert_status(distill_dataset_batch(ds, 1, 7, B, bx, 1, by, 1, NULL, &n), DISTILL_OK);
    ck_assert_mem_eq(bx, again, sizeof bx);
    ck_assert_status(distill_dataset_batch(ds, 0, 7, B, bx, 1, by, 1, NULL, &n), DISTILL_OK);
    ck_assert_int_ne(memcmp(bx, again, sizeof bx), 0);
    ck_assert_status(distill_dataset_batch(ds, 0, 11, B, bx, 1, by, 1, NULL, &n), DISTILL_OK);
    ck_assert_int_eq(n, 0);
    distill_dataset_destroy(ds);
    distill_context_destroy(ctx);
}
END_TEST

START_TEST(augmentations)
{
    enum { N = 4, C = 2, H = 5, W = 6, D = C * H * W };
    float x[N * D], orig[N * D], again[N * D], mean[C] = {1, -1}, std[C] = {2, 4};
    distill_context *ctx = test_context(NULL, 1);
    int64_t i, zeros = 0;
    for (i = 0; i < N * D; i++)
        orig[i] = (float)(i + 1);
    memcpy(x, orig, sizeof x);
    ck_assert_status(distill_augment_flip(ctx, 1, 0, N, C, H, W, 1.0f, x), DISTILL_OK);
    ck_assert_float_eq(x[0], orig[W - 1]);
    ck_assert_status(distill_augment_flip(ctx, 1, 0, N, C, H, W, 1.0f, x), DISTILL_OK);
    ck_assert_mem_eq(x, orig, sizeof x);
    ck_assert_status(distill_augment_crop(ctx, 2, 0, N, C, H, W, 2, x), DISTILL_OK);
    memcpy(again, orig, sizeof again);
    ck_assert_status(distill_augment_crop(ctx, 2, 0, N, C, H, W, 2, again), DISTILL_OK);
    ck_assert_mem_eq(x, again, sizeof x);
    for (i = 0; i < N * D; i++) { /* every value is zero padding or a pixel of the same image */
        if (x[i] == 0.0f)
            zeros++;
        else
            ck_assert((int64_t)(x[i] - 1) / D == i / D);
    }
    ck_assert_int_gt(zeros, 0);
    memcpy(x, orig, sizeof x);
    ck_assert_status(distill_augment_normalize(ctx, N, C, H, W, mean, std, x), DISTILL_OK);
    ck_assert_float_eq(x[0], (orig[0] - 1) / 2);
    ck_assert_float_eq(x[H * W], (orig[H * W] + 1) / 4);
    memset(x, 0, sizeof x);
    ck_assert_status(distill_augment_noise(ctx, 3, 0, N, D, 0.5f, x), DISTILL_OK);
    ck_assert_float_ne(x[0], 0.0f);
    ck_assert_fails(ctx, distill_augment_crop(ctx, 2, 0, N, C, H, W, 9, x), DISTILL_E_INVAL, "pad");
    std[1] = 0;
    ck_assert_fails(ctx, distill_augment_normalize(ctx, N, C, H, W, mean, std, x), DISTILL_E_INVAL, "channel 1");
    distill_context_destroy(ctx);
}
END_TEST

/* The crop's adjoint: <crop(x), g> = <x, adjoint(g)> for random x and g
 * (double sums of the same products), with the crop's own draws. */
START_TEST(crop_adjoint)
{
    enum { N = 5, C = 2, H = 7, W = 6, D = C * H * W };
    float x[N * D], g[N * D], cx[N * D], ag[N * D];
    distill_context *ctx = test_context(NULL, 1);
    double lhs = 0, rhs = 0;
    int64_t i, pad;
    for (pad = 1; pad <= 3; pad++) {
        fill_random(x, N * D, 11), fill_random(g, N * D, 12);
        memcpy(cx, x, sizeof x), memcpy(ag, g, sizeof g);
        ck_assert_status(distill_augment_crop(ctx, 7, 3, N, C, H, W, pad, cx), DISTILL_OK);
        ck_assert_status(distill__augment_crop_adjoint(ctx, 7, 3, N, C, H, W, pad, ag), DISTILL_OK);
        lhs = rhs = 0;
        for (i = 0; i < N * D; i++)
            lhs += (double)cx[i] * g[i], rhs += (double)x[i] * ag[i];
        ck_assert_msg(fabs(lhs - rhs) <= 1e-9 * (fabs(lhs) + 1), "pad %lld: %.17g vs %.17g", (long long)pad, lhs, rhs);
        ck_assert(memcmp(ag, g, sizeof g) != 0);
        /* another draw's adjoint is not this crop's */
        memcpy(ag, g, sizeof g);
        ck_assert_status(distill__augment_crop_adjoint(ctx, 7, 4, N, C, H, W, pad, ag), DISTILL_OK);
        rhs = 0;
        for (i = 0; i < N * D; i++)
            rhs += (double)x[i] * ag[i];
        ck_assert(fabs(lhs - rhs) > 1e-6 * (fabs(lhs) + 1));
    }
    ck_assert_fails(ctx, distill__augment_crop_adjoint(ctx, 7, 3, N, C, H, W, 8, ag), DISTILL_E_INVAL, "pad");
    distill_context_destroy(ctx);
}
END_TEST

/* Block means: each output is the mean of its block, per channel. */
START_TEST(block_mean_view)
{
    enum { BN = 2, BC = 2, BH = 4, BW = 6, B = 2 };
    distill_context *ctx = test_context(NULL, 1);
    float x[BN * BC * BH * BW], out[BN * BC * 2 * 3];
    int i, ch, by, bx;
    fill_random(x, BN * BC * BH * BW, 5);
    ck_assert_status(distill_image_block_mean(ctx, BN, BC, BH, BW, B, x, out), DISTILL_OK);
    for (i = 0; i < BN; i++)
        for (ch = 0; ch < BC; ch++)
            for (by = 0; by < 2; by++)
                for (bx = 0; bx < 3; bx++) {
                    const float *p = x + (i * BC + ch) * BH * BW + by * B * BW + bx * B;
                    const double m = (p[0] + (double)p[1] + p[BW] + p[BW + 1]) / 4;
                    ck_assert_double_eq_tol(out[((i * BC + ch) * 2 + by) * 3 + bx], m, 1e-6);
                }
    ck_assert_fails(ctx, distill_image_block_mean(ctx, BN, BC, BH, BW, 4, x, out), DISTILL_E_SHAPE, "block 4");
    ck_assert_fails(ctx, distill_image_block_mean(ctx, BN, BC, BH, BW, 2, x, NULL), DISTILL_E_INVAL, "out");
    distill_context_destroy(ctx);
}
END_TEST

Suite *distill_suite_data(void)
{
    Suite *s = suite_create("data");
    TCase *tc = tcase_create("data");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, memory_copy_and_borrow);
    tcase_add_test(tc, block_mean_view);
    tcase_add_test(tc, fashion_mnist_shapes_and_counts);
    tcase_add_loop_test(tc, corrupt_idx_files_are_format_errors, 0, 2);
    tcase_add_test(tc, csv_reads_and_rejects);
    tcase_add_test(tc, host_backend_and_failures);
    tcase_add_test(tc, batches_are_deterministic_shuffles);
    tcase_add_test(tc, augmentations);
    tcase_add_test(tc, crop_adjoint);
    suite_add_tcase(s, tc);
    return s;
}
