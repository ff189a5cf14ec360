/* learning: the container (model save/load, corruption, atomic replace),
 * .npy files, and the mixed second-order gradient. */
#include <dirent.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testutil.h"
#include "solver/checkpoint.h"

static distill_model *tiny_net(distill_context *ctx, int conv)
{
    distill_layer_spec l[5];
    distill_model_options o;
    distill_model *m;
    distill_layer_spec_init(&l[0], conv ? DISTILL_LAYER_CONV2D : DISTILL_LAYER_DENSE);
    l[0].units = 4, l[0].kernel = 3, l[0].padding = 1;
    distill_layer_spec_init(&l[1], DISTILL_LAYER_BATCHNORM);
    distill_layer_spec_init(&l[2], DISTILL_LAYER_TANH);
    distill_layer_spec_init(&l[3], DISTILL_LAYER_FLATTEN);
    distill_layer_spec_init(&l[4], DISTILL_LAYER_DENSE);
    l[4].units = 3;
    distill_model_options_init(&o);
    o.in_c = conv ? 2 : 6, o.in_h = conv ? 4 : 1, o.in_w = conv ? 4 : 1, o.layers = l, o.n_layers = 5;
    ck_assert_status(distill_model_create(ctx, &o, &m), DISTILL_OK);
    return m;
}

/* Temporary files left in /tmp by a failed save. */
static int leftovers(const char *prefix)
{
    DIR *d = opendir("/tmp");
    struct dirent *e;
    int n = 0;
    while (d && (e = readdir(d)))
        n += strncmp(e->d_name, prefix, strlen(prefix)) == 0 && strstr(e->d_name, ".tmp-") != NULL;
    if (d)
        closedir(d);
    return n;
}

START_TEST(save_load_gives_identical_outputs)
{
    const int conv = _i;
    distill_context *ctx = test_context(NULL, 1);
    distill_model *m = tiny_net(ctx, conv), *back;
    const int64_t din = distill_model_input_dim(m);
    float x[4 * 32], y1[12], y2[12], ytr[12];
    char path[64];
    snprintf(path, sizeof path, "/tmp/distill-model-%d-%d.dst", (int)getpid(), conv);
    fill_random(x, 4 * din, 3);
    /* train-mode passes move the running statistics away from their init */
    ck_assert_status(distill_model_forward(m, DISTILL_MODE_TRAIN, 4, x, din, ytr, 3), DISTILL_OK);
    ck_assert_status(distill_model_forward(m, DISTILL_MODE_EVAL, 4, x, din, y1, 3), DISTILL_OK);
    ck_assert_status(distill_model_save(m, path), DISTILL_OK);
    ck_assert_status(distill_model_load(ctx, path, &back), DISTILL_OK);
    ck_assert_int_eq(distill_model_param_count(back), distill_model_param_count(m));
    ck_assert_mem_eq(distill_model_params(back), distill_model_params(m),
                     sizeof(float) * distill_model_param_count(m));
    ck_assert_mem_eq(distill_model_buffers(back), distill_model_buffers(m),
                     sizeof(float) * distill_model_buffer_count(m));
    ck_assert_status(distill_model_forward(back, DISTILL_MODE_EVAL, 4, x, din, y2, 3), DISTILL_OK);
    ck_assert_mem_eq(y1, y2, sizeof y1);
    unlink(path);
    distill_model_destroy(back);
    distill_model_destroy(m);
    distill_context_destroy(ctx);
}
END_TEST

START_TEST(corrupt_model_files_are_format_errors)
{
    counting_alloc c;
    distill_context *ctx = test_context(&c, 1);
    distill_model *m = tiny_net(ctx, 1), *back = NULL;
    char path[64];
    unsigned char *good, *bad;
    size_t len, i;
    snprintf(path, sizeof path, "/tmp/distill-corrupt-%d.dst", (int)getpid());
    ck_assert_status(distill_model_save(m, path), DISTILL_OK);
    good = test_slurp(path, &len);
    bad = malloc(len + 8);
    ck_assert_status(distill_model_load_memory(ctx, good, len, &back), DISTILL_OK);
    distill_model_destroy(back);
    /* every truncation */
    for (i = 0; i < len; i += 7)
        ck_assert_status(distill_model_load_memory(ctx, good, i, &back), DISTILL_E_FORMAT);
    /* a flipped payload byte: the CRC catches it */
    memcpy(bad, good, len);
    bad[len - 5] ^= 0x40;
    ck_assert_fails(ctx, distill_model_load_memory(ctx, bad, len, &back), DISTILL_E_FORMAT, "CRC");
    memcpy(bad, good, len);
    bad[0] = 'X';
    ck_assert_fails(ctx, distill_model_load_memory(ctx, bad, len, &back), DISTILL_E_FORMAT, "not a libdistill file");
    memcpy(bad, good, len);
    bad[8] = 9; /* a newer format version */
    ck_assert_fails(ctx, distill_model_load_memory(ctx, bad, len, &back), DISTILL_E_FORMAT, "format version 9");
    memcpy(bad, good, len);
    bad[len] = 0;
    ck_assert_fails(ctx, distill_model_load_memory(ctx, bad, len + 1, &back), DISTILL_E_FORMAT, "after the last");
    ck_assert_ptr_null(back);
    ck_assert_fails(ctx, distill_model_load(ctx, "/nonexistent/model.dst", &back), DISTILL_E_IO, "cannot open");
    free(good), free(bad);
    unlink(path);
    distill_model_destroy(m);
    ck_assert_int_eq(c.live, 1);
    distill_context_destroy(ctx);
}
END_TEST

START_TEST(failed_save_keeps_the_previous_file)
{
    counting_alloc c;
    distill_context *ctx = test_context(&c, 1);
    distill_model *a = tiny_net(ctx, 0), *b = tiny_net(ctx, 1);
    char path[128], prefix[64];
    unsigned char *before, *after;
    size_t n1, n2;
    snprintf(prefix, sizeof prefix, "distill-atomic-%d", (int)getpid());
    snprintf(path, sizeof path, "/tmp/%s.dst", prefix);
    ck_assert_status(distill_model_save(a, path), DISTILL_OK);
    before = test_slurp(path, &n1);
    c.fail_after = c.calls; /* the next allocation fails: mid-save */
    ck_assert_status(distill_model_save(b, path), DISTILL_E_NOMEM);
    c.fail_after = -1;
    after = test_slurp(path, &n2);
    ck_assert_int_eq(n1, n2);
    ck_assert_mem_eq(before, after, n1);
    ck_assert_int_eq(leftovers(prefix), 0);
    ck_assert_fails(ctx, distill_model_save(b, "/nonexistent-dir/x.dst"), DISTILL_E_IO, "temporary file");
    ck_assert_status(distill_model_save(b, path), DISTILL_OK);
    free(before), free(after);
    unlink(path);
    distill_model_destroy(a);
    distill_model_destroy(b);
    distill_context_destroy(ctx);
}
END_TEST

START_TEST(npy_files)
{
    float a[6] = {1, 2, 3, 4, 5, 6};
    char path[64];
    unsigned char *b;
    size_t len;
    distill_context *ctx = test_context(NULL, 1);
    snprintf(path, sizeof path, "/tmp/distill-npy-%d.npy", (int)getpid());
    ck_assert_status(distill_npy_save(ctx, path, 2, 2, a, 3), DISTILL_OK);
    b = test_slurp(path, &len);
    ck_assert_int_eq(len, 128 + 16);
    ck_assert_mem_eq(b, "\x93NUMPY\x01\x00", 8);
    ck_assert_ptr_nonnull(strstr((char *)b + 10, "'shape': (2, 2)"));
    ck_assert_int_eq(b[127], 0x0a);
    ck_assert_int_eq(b[8] + 256 * b[9], 128 - 10);
    ck_assert_mem_eq(b + 128 + 8, &a[3], 4); /* row 1 starts at a[3] (ld 3) */
    free(b);
    unlink(path);
    ck_assert_fails(ctx, distill_npy_save(ctx, path, 2, 4, a, 3), DISTILL_E_SHAPE, "leading");
    distill_context_destroy(ctx);
}
END_TEST

/* ---- d/dx <dL/dtheta, v> against a double-precision reference ------------- */

/* Model: y = W2 tanh(W1 x + b1) + b2 (d -> h -> k); loss L = 0.5 |y - t|^2.
 * dL/dtheta, dotted with v, then differentiated in x by central
 * differences of the analytic parameter gradient, all in double. */
enum { D = 3, H = 4, K = 2, NS = 2 };

static double param_grad_dot(const double *w, const double *x, const double *t, const double *v)
{
    const double *w1 = w, *b1 = w + H * D, *w2 = b1 + H, *b2 = w2 + K * H;
    const double *v1 = v, *vb1 = v + H * D, *v2 = vb1 + H, *vb2 = v2 + K * H;
    double dot = 0;
    int s, i, j;
    for (s = 0; s < NS; s++) {
        double a[H], hh[H], y[K], dy[K], dh[H];
        for (i = 0; i < H; i++) {
            a[i] = b1[i];
            for (j = 0; j < D; j++)
                a[i] += w1[i * D + j] * x[s * D + j];
            hh[i] = tanh(a[i]);
        }
        for (i = 0; i < K; i++) {
            y[i] = b2[i];
            for (j = 0; j < H; j++)
                y[i] += w2[i * H + j] * hh[j];
            dy[i] = y[i] - t[s * K + i];
            dot += dy[i] * vb2[i];
            for (j = 0; j < H; j++)
                dot += dy[i] * hh[j] * v2[i * H + j];
        }
        for (j = 0; j < H; j++) {
            dh[j] = 0;
            for (i = 0; i < K; i++)
                dh[j] += dy[i] * w2[i * H + j];
            dh[j] *= 1 - hh[j] * hh[j];
            dot += dh[j] * vb1[j];
            for (i = 0; i < D; i++)
                dot += dh[j] * x[s * D + i] * v1[j * D + i];
        }
    }
    return dot;
}

static float targets[NS * K];

static int half_sq(void *user, int64_t n, const float *y, int64_t ldy, float *dy, int64_t lddy)
{
    int64_t i, j;
    (void)user;
    for (i = 0; i < n; i++)
        for (j = 0; j < K; j++)
            dy[i * lddy + j] = y[i * ldy + j] - targets[i * K + j];
    return 0;
}

static int failing_loss(void *user, int64_t n, const float *y, int64_t ldy, float *dy, int64_t lddy)
{
    (void)user, (void)n, (void)y, (void)ldy, (void)dy, (void)lddy;
    return 3;
}

START_TEST(mixed_gradient_matches_double_reference)
{
    distill_layer_spec l[3];
    distill_model_options o;
    distill_model *m;
    distill_context *ctx = test_context(NULL, 1);
    float x[NS * D], v[64], dx[NS * D], p0[64];
    double wd[64], xd[NS * D], td[NS * K], vd[64], ref[NS * D];
    int64_t np, i;
    distill_layer_spec_init(&l[0], DISTILL_LAYER_DENSE);
    l[0].units = H;
    distill_layer_spec_init(&l[1], DISTILL_LAYER_TANH);
    distill_layer_spec_init(&l[2], DISTILL_LAYER_DENSE);
    l[2].units = K;
    distill_model_options_init(&o);
    o.in_c = D, o.layers = l, o.n_layers = 3;
    ck_assert_status(distill_model_create(ctx, &o, &m), DISTILL_OK);
    np = distill_model_param_count(m);
    ck_assert_int_eq(np, H * D + H + K * H + K);
    fill_random(distill_model_params(m), np, 1);
    fill_random(x, NS * D, 2), fill_random(v, np, 3), fill_random(targets, NS * K, 4);
    memcpy(p0, distill_model_params(m), sizeof(float) * np);
    for (i = 0; i < np; i++)
        wd[i] = distill_model_params(m)[i], vd[i] = v[i];
    for (i = 0; i < NS * K; i++)
        td[i] = targets[i];
    for (i = 0; i < NS * D; i++)
        xd[i] = x[i];
    for (i = 0; i < NS * D; i++) {
        const double h = 1e-6, keep = xd[i];
        double gp, gm;
        xd[i] = keep + h, gp = param_grad_dot(wd, xd, td, vd);
        xd[i] = keep - h, gm = param_grad_dot(wd, xd, td, vd);
        xd[i] = keep;
        ref[i] = (gp - gm) / (2 * h);
    }
    ck_assert_status(distill_model_mixed_grad(m, DISTILL_MODE_EVAL, NS, x, D, half_sq, NULL, v, 0.0f, dx, D),
                     DISTILL_OK);
    ck_assert_msg(rel_err_fd(dx, ref, NS * D) < 1e-3, "mixed gradient rel err %g", rel_err_fd(dx, ref, NS * D));
    ck_assert_mem_eq(distill_model_params(m), p0, sizeof(float) * np); /* restored exactly */
    ck_assert_fails(ctx, distill_model_mixed_grad(m, DISTILL_MODE_EVAL, NS, x, D, failing_loss, NULL, v, 0.0f, dx, D),
                    DISTILL_E_BACKEND, "loss callback failed");
    ck_assert_mem_eq(distill_model_params(m), p0, sizeof(float) * np);
    distill_model_destroy(m);
    distill_context_destroy(ctx);
}
END_TEST

/* The checkpoint header every solver writes: sizes that must match, the
 * step and the stream come back; a mismatch, a negative step or a short
 * section is DISTILL_E_FORMAT with its own message. */
typedef struct ckpt_case {
    distill_context *ctx;
    distill__ckpt_head head;  /* what is written */
    distill__ckpt_head expect; /* what the reader holds */
    int64_t step;
    uint64_t stream;
} ckpt_case;

static distill_status ckpt_put(const void *user, distill__writer *w)
{
    distill__ckpt_put_head(w, &((const ckpt_case *)user)->head);
    return DISTILL_OK;
}

static distill_status ckpt_load(void *user, const unsigned char *buf, size_t len, const char *path)
{
    ckpt_case *c = user;
    return distill__ckpt_check_head(c->ctx, "test", path, buf, len, &c->expect, &c->step, &c->stream);
}

static distill_status ckpt_round(ckpt_case *c, const char *path)
{
    ck_assert_int_eq(distill__ckpt_write(c->ctx, "test", path, ckpt_put, c), DISTILL_OK);
    return distill__ckpt_read(c->ctx, "test", path, ckpt_load, c);
}

/* What the container's header says is malformed: flag or reserved bits,
 * a type given twice. */
START_TEST(container_refuses_flags_reserved_and_repeats)
{
    distill_context *ctx = test_context(NULL, 1);
    distill__writer w;
    const unsigned char *bytes;
    unsigned char copy[256];
    size_t len;
    distill__writer_init(&w, ctx);
    distill__section_begin(&w, DISTILL__FOURCC('A', 'A', 'A', 'A'));
    distill__put_i64(&w, 7);
    distill__section_end(&w);
    distill__section_begin(&w, DISTILL__FOURCC('B', 'B', 'B', 'B'));
    distill__put_i64(&w, 8);
    distill__section_end(&w);
    bytes = distill__writer_bytes(&w, &len);
    ck_assert_uint_le(len, sizeof copy);
    memcpy(copy, bytes, len);
    copy[12] = 2; /* the section count, as commit writes it */
    ck_assert_status(distill__container_check(ctx, "t", copy, len), DISTILL_OK);
    copy[16 + 4] = 1; /* the first section's flags */
    ck_assert_fails(ctx, distill__container_check(ctx, "t", copy, len), DISTILL_E_FORMAT, "flag or reserved");
    copy[16 + 4] = 0, copy[16 + 20] = 1; /* its reserved word */
    ck_assert_fails(ctx, distill__container_check(ctx, "t", copy, len), DISTILL_E_FORMAT, "flag or reserved");
    copy[16 + 20] = 0;
    memcpy(copy + 16 + 24 + 8, copy + 16, 4); /* the second section takes the first's type */
    ck_assert_fails(ctx, distill__container_check(ctx, "t", copy, len), DISTILL_E_FORMAT, "repeats");
    distill__writer_free(&w);
    distill_context_destroy(ctx);
}
END_TEST

/* Saved files get the mode the umask gives (they were 0600 whatever it
 * was), and a replaced file keeps its own. */
START_TEST(saved_files_follow_the_umask)
{
    distill_context *ctx = test_context(NULL, 1);
    distill_layer_spec l;
    distill_model_options mo;
    distill_model *m;
    struct stat st;
    char path[64];
    distill_layer_spec_init(&l, DISTILL_LAYER_DENSE);
    l.units = 2;
    distill_model_options_init(&mo);
    mo.in_c = 3, mo.in_h = mo.in_w = 1, mo.layers = &l, mo.n_layers = 1;
    ck_assert_status(distill_model_create(ctx, &mo, &m), DISTILL_OK);
    snprintf(path, sizeof path, "/tmp/distill-mode-%d.dst", (int)getpid());
    unlink(path);
    umask(022);
    ck_assert_status(distill_model_save(m, path), DISTILL_OK);
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert_int_eq(st.st_mode & 0777, 0644);
    ck_assert_int_eq(chmod(path, 0640), 0);
    ck_assert_status(distill_model_save(m, path), DISTILL_OK);
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert_int_eq(st.st_mode & 0777, 0640);
    unlink(path);
    ck_assert_fails(ctx, distill_model_save(m, ""), DISTILL_E_INVAL, "empty");
    {
        distill_model *back = NULL; /* a directory given as a file (it "sized" as 2^63 - 1 bytes) */
        ck_assert_fails(ctx, distill_model_load(ctx, "/tmp", &back), DISTILL_E_IO, "is a directory");
        ck_assert_ptr_null(back);
    }
    distill_model_destroy(m);
    distill_context_destroy(ctx);
}
END_TEST

START_TEST(checkpoint_header)
{
    ckpt_case c;
    char path[64];
    memset(&c, 0, sizeof c);
    c.ctx = test_context(NULL, 1);
    snprintf(path, sizeof path, "/tmp/distill-ckpt-%d.dst", (int)getpid());
    c.head.section = DISTILL__FOURCC('T', 'S', 'H', 'D'), c.head.method = "test";
    c.head.sizes = "widths";
    c.head.values[0] = 3, c.head.values[1] = 41, c.head.values[2] = 5;
    c.head.n = 3, c.head.step_at = 1, c.head.stream = 0x1234567890abcdefull;
    c.expect = c.head, c.expect.values[1] = 0; /* the step is the file's */
    ck_assert_int_eq(ckpt_round(&c, path), DISTILL_OK);
    ck_assert_int_eq(c.step, 41);
    ck_assert(c.stream == 0x1234567890abcdefull);
    c.expect.values[2] = 6;
    ck_assert_fails(c.ctx, ckpt_round(&c, path), DISTILL_E_FORMAT, "widths differ");
    c.expect.values[2] = 5, c.expect.seed = 99; /* another context seed */
    ck_assert_fails(c.ctx, ckpt_round(&c, path), DISTILL_E_FORMAT, "seed 0, this solver's context has seed 99");
    c.expect.seed = 0, c.head.values[1] = -1;
    ck_assert_fails(c.ctx, ckpt_round(&c, path), DISTILL_E_FORMAT, "differ");
    c.head.values[1] = 41, c.head.n = 2, c.head.step_at = 1; /* one value short */
    ck_assert_fails(c.ctx, ckpt_round(&c, path), DISTILL_E_FORMAT, "too short");
    c.head.n = 4, c.head.values[3] = 0; /* one value too many */
    ck_assert_fails(c.ctx, ckpt_round(&c, path), DISTILL_E_FORMAT, "too long");
    c.head.n = 3;
    c.expect.section = DISTILL__FOURCC('X', 'X', 'H', 'D');
    ck_assert_fails(c.ctx, ckpt_round(&c, path), DISTILL_E_FORMAT, "no test header");
    unlink(path);
    distill_context_destroy(c.ctx);
}
END_TEST

Suite *distill_suite_io(void)
{
    Suite *s = suite_create("learning-io");
    TCase *tc = tcase_create("io");
    tcase_add_loop_test(tc, save_load_gives_identical_outputs, 0, 2);
    tcase_add_test(tc, corrupt_model_files_are_format_errors);
    tcase_add_test(tc, failed_save_keeps_the_previous_file);
    tcase_add_test(tc, npy_files);
    tcase_add_test(tc, checkpoint_header);
    tcase_add_test(tc, container_refuses_flags_reserved_and_repeats);
    tcase_add_test(tc, saved_files_follow_the_umask);
    tcase_add_test(tc, mixed_gradient_matches_double_reference);
    suite_add_tcase(s, tc);
    return s;
}
