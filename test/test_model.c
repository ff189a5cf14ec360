/* learning: every layer type against an independent double-precision
 * forward, and its backward against central finite differences of that
 * reference (parameters and inputs, train and eval mode). */
#include "testutil.h"
#include "nn/frozen.h"
#include "kernels/blas.h"
#include "nn/internal.h"
#include "nn/predict.h"

typedef struct shape3 {
    int64_t c, h, w;
} shape3;

/* ---- double-precision reference forward of one layer ------------------- */

static double act(int kind, double x)
{
    switch (kind) {
    case DISTILL_LAYER_RELU: return x > 0 ? x : 0;
    case DISTILL_LAYER_TANH: return tanh(x);
    case DISTILL_LAYER_SIGMOID: return 1 / (1 + exp(-x));
    case DISTILL_LAYER_GELU: return 0.5 * x * (1 + erf(x / sqrt(2.0)));
    case DISTILL_LAYER_MISH: return x * tanh(log1p(exp(x)));
    case DISTILL_LAYER_SOFTPLUS: return log1p(exp(x));
    default: return x;
    }
}

static void ref_dense(int64_t n, int64_t in, int64_t out, const double *w, const double *b,
                      const double *x, double *y)
{
    int64_t i, j, p;
    for (i = 0; i < n; i++)
        for (j = 0; j < out; j++) {
            double s = b ? b[j] : 0;
            for (p = 0; p < in; p++)
                s += w[j * in + p] * x[i * in + p];
            y[i * out + j] = s;
        }
}

/* y (n x out_dim) for layer spec s on input shape in; returns out shape. */
static shape3 ref_forward(const distill_layer_spec *s, shape3 in, const double *p,
                          const double *buf, int train, int64_t n, const double *x, double *y)
{
    const int64_t d = in.c * in.h * in.w;
    shape3 o = in;
    int64_t i, j, c, oy, ox, ky, kx;
    switch (s->kind) {
    case DISTILL_LAYER_DENSE:
        o.c = s->units, o.h = o.w = 1;
        ref_dense(n, d, s->units, p, s->bias ? p + s->units * d : NULL, x, y);
        break;
    case DISTILL_LAYER_CONV2D: {
        const int64_t k = s->kernel, st = s->stride ? s->stride : 1, pad = s->padding;
        const double *b = s->bias ? p + s->units * in.c * k * k : NULL;
        o.c = s->units, o.h = (in.h + 2 * pad - k) / st + 1, o.w = (in.w + 2 * pad - k) / st + 1;
        for (i = 0; i < n; i++)
            for (j = 0; j < o.c; j++)
                for (oy = 0; oy < o.h; oy++)
                    for (ox = 0; ox < o.w; ox++) {
                        double acc = b ? b[j] : 0;
                        for (c = 0; c < in.c; c++)
                            for (ky = 0; ky < k; ky++)
                                for (kx = 0; kx < k; kx++) {
                                    const int64_t sy = oy * st + ky - pad, sx = ox * st + kx - pad;
                                    if (sy >= 0 && sy < in.h && sx >= 0 && sx < in.w)
                                        acc += p[((j * in.c + c) * k + ky) * k + kx] *
                                               x[((i * in.c + c) * in.h + sy) * in.w + sx];
                                }
                        y[((i * o.c + j) * o.h + oy) * o.w + ox] = acc;
                    }
        break;
    }
    case DISTILL_LAYER_AVGPOOL:
    case DISTILL_LAYER_MAXPOOL: {
        const int64_t k = s->kernel, st = s->stride ? s->stride : k;
        o.h = (in.h - k) / st + 1, o.w = (in.w - k) / st + 1;
        for (i = 0; i < n * in.c; i++)
            for (oy = 0; oy < o.h; oy++)
                for (ox = 0; ox < o.w; ox++) {
                    double acc = s->kind == DISTILL_LAYER_MAXPOOL ? -HUGE_VAL : 0;
                    for (ky = 0; ky < k; ky++)
                        for (kx = 0; kx < k; kx++) {
                            const double v = x[(i * in.h + oy * st + ky) * in.w + ox * st + kx];
                            acc = s->kind == DISTILL_LAYER_MAXPOOL ? (v > acc ? v : acc) : acc + v / (k * k);
                        }
                    y[(i * o.h + oy) * o.w + ox] = acc;
                }
        break;
    }
    case DISTILL_LAYER_BATCHNORM: {
        const int64_t hw = in.h * in.w;
        const double eps = s->eps > 0 ? s->eps : 1e-5;
        for (c = 0; c < in.c; c++) {
            double mean = 0, var = 0;
            if (train) {
                for (i = 0; i < n; i++)
                    for (j = 0; j < hw; j++)
                        mean += x[(i * in.c + c) * hw + j] / (n * hw);
                for (i = 0; i < n; i++)
                    for (j = 0; j < hw; j++)
                        var += pow(x[(i * in.c + c) * hw + j] - mean, 2) / (n * hw);
            } else {
                mean = buf[c], var = buf[in.c + c];
            }
            for (i = 0; i < n; i++)
                for (j = 0; j < hw; j++)
                    y[(i * in.c + c) * hw + j] =
                        p[c] * (x[(i * in.c + c) * hw + j] - mean) / sqrt(var + eps) + p[in.c + c];
        }
        break;
    }
    case DISTILL_LAYER_LAYERNORM: {
        const double eps = s->eps > 0 ? s->eps : 1e-5;
        for (i = 0; i < n; i++) {
            double mean = 0, var = 0;
            for (j = 0; j < d; j++)
                mean += x[i * d + j] / d;
            for (j = 0; j < d; j++)
                var += pow(x[i * d + j] - mean, 2) / d;
            for (j = 0; j < d; j++)
                y[i * d + j] = p[j] * (x[i * d + j] - mean) / sqrt(var + eps) + p[d + j];
        }
        break;
    }
    case DISTILL_LAYER_FLATTEN:
        o.c = d, o.h = o.w = 1;
        memcpy(y, x, sizeof(double) * n * d);
        break;
    case DISTILL_LAYER_RESIDUAL_MLP: {
        const int64_t h = s->units;
        const double *w1 = p, *b1 = s->bias ? p + h * d : NULL;
        const double *w2 = p + h * d + (s->bias ? h : 0), *b2 = s->bias ? w2 + d * h : NULL;
        double *hid = malloc(sizeof(double) * n * h);
        o.c = d, o.h = o.w = 1;
        ref_dense(n, d, h, w1, b1, x, hid);
        for (i = 0; i < n * h; i++)
            hid[i] = hid[i] > 0 ? hid[i] : 0;
        ref_dense(n, h, d, w2, b2, hid, y);
        for (i = 0; i < n * d; i++)
            y[i] += x[i];
        free(hid);
        break;
    }
    default:
        for (i = 0; i < n * d; i++)
            y[i] = act(s->kind, x[i]);
    }
    return o;
}

/* ---- the check ---------------------------------------------------------------- */

typedef struct layer_case {
    const char *name;
    int32_t kind;
    int64_t units, kernel, stride, padding, bias;
    shape3 in;
} layer_case;

static const layer_case cases[] = {
    {"dense", DISTILL_LAYER_DENSE, 4, 0, 0, 0, 1, {5, 1, 1}},
    {"dense-nobias-image", DISTILL_LAYER_DENSE, 3, 0, 0, 0, 0, {2, 2, 2}},
    {"conv3x3-pad1", DISTILL_LAYER_CONV2D, 3, 3, 1, 1, 1, {2, 5, 4}},
    {"conv2x2-stride2", DISTILL_LAYER_CONV2D, 2, 2, 2, 0, 0, {3, 5, 5}},
    /* "same" size (the shifted-plane path) with wide shifts, and 1x1 */
    {"conv5x5-pad2", DISTILL_LAYER_CONV2D, 2, 5, 1, 2, 1, {2, 6, 5}},
    {"conv1x1", DISTILL_LAYER_CONV2D, 3, 1, 1, 0, 1, {2, 3, 4}},
    /* one channel: the batch's planes are adjacent and shift as one span;
     * shifts as wide as the plane's rows, then wider than its rows and as
     * wide as its columns, then wider than its columns */
    {"conv3x3-pad1-one-channel", DISTILL_LAYER_CONV2D, 3, 3, 1, 1, 1, {1, 5, 4}},
    {"conv5x5-pad2-one-channel", DISTILL_LAYER_CONV2D, 2, 5, 1, 2, 0, {1, 2, 3}},
    {"conv5x5-pad2-one-row", DISTILL_LAYER_CONV2D, 2, 5, 1, 2, 1, {1, 1, 2}},
    {"conv5x5-pad2-one-column", DISTILL_LAYER_CONV2D, 2, 5, 1, 2, 1, {1, 2, 1}},
    /* output larger, and strided with padding (the row-by-row path) */
    {"conv3x3-pad2", DISTILL_LAYER_CONV2D, 2, 3, 1, 2, 0, {2, 4, 3}},
    {"conv3x3-stride2-pad1", DISTILL_LAYER_CONV2D, 2, 3, 2, 1, 1, {2, 6, 5}},
    {"avgpool2", DISTILL_LAYER_AVGPOOL, 0, 2, 0, 0, 0, {2, 5, 4}},
    {"maxpool3-stride2", DISTILL_LAYER_MAXPOOL, 0, 3, 2, 0, 0, {2, 7, 5}},
    {"batchnorm-conv", DISTILL_LAYER_BATCHNORM, 0, 0, 0, 0, 0, {3, 2, 3}},
    {"batchnorm-dense", DISTILL_LAYER_BATCHNORM, 0, 0, 0, 0, 0, {4, 1, 1}},
    {"layernorm", DISTILL_LAYER_LAYERNORM, 0, 0, 0, 0, 0, {6, 1, 1}},
    {"relu", DISTILL_LAYER_RELU, 0, 0, 0, 0, 0, {7, 1, 1}},
    {"tanh", DISTILL_LAYER_TANH, 0, 0, 0, 0, 0, {7, 1, 1}},
    {"sigmoid", DISTILL_LAYER_SIGMOID, 0, 0, 0, 0, 0, {7, 1, 1}},
    {"gelu", DISTILL_LAYER_GELU, 0, 0, 0, 0, 0, {7, 1, 1}},
    {"mish", DISTILL_LAYER_MISH, 0, 0, 0, 0, 0, {7, 1, 1}},
    {"softplus", DISTILL_LAYER_SOFTPLUS, 0, 0, 0, 0, 0, {7, 1, 1}},
    {"flatten", DISTILL_LAYER_FLATTEN, 0, 0, 0, 0, 0, {2, 3, 2}},
    {"residual-mlp", DISTILL_LAYER_RESIDUAL_MLP, 5, 0, 0, 0, 1, {4, 1, 1}},
};
enum { N_CASES = sizeof cases / sizeof cases[0], BATCH = 3 };

static double *dup(const float *x, int64_t n)
{
    double *d = malloc(sizeof(double) * (size_t)(n > 0 ? n : 1));
    int64_t i;
    for (i = 0; i < n; i++)
        d[i] = x[i];
    return d;
}

static double ref_loss(const distill_layer_spec *s, shape3 in, const double *p, const double *buf,
                       int train, const double *x, const double *r, int64_t out_n)
{
    double *y = malloc(sizeof(double) * out_n), l = 0;
    int64_t i;
    ref_forward(s, in, p, buf, train, BATCH, x, y);
    for (i = 0; i < out_n; i++)
        l += r[i] * y[i];
    free(y);
    return l;
}

/* d loss / d arr[i] for every i, by central differences in double. */
static void fd(const distill_layer_spec *s, shape3 in, double *p, const double *buf, int train,
               double *x, const double *r, int64_t out_n, double *arr, int64_t len, double *g)
{
    const double h = 1e-6;
    int64_t i;
    for (i = 0; i < len; i++) {
        const double keep = arr[i];
        double lp, lm;
        arr[i] = keep + h;
        lp = ref_loss(s, in, p, buf, train, x, r, out_n);
        arr[i] = keep - h;
        lm = ref_loss(s, in, p, buf, train, x, r, out_n);
        arr[i] = keep;
        g[i] = (lp - lm) / (2 * h);
    }
}

START_TEST(layer_gradients_match_finite_differences)
{
    const layer_case *lc = &cases[_i / 2];
    const int train = _i % 2;
    distill_layer_spec s;
    distill_model_options o;
    distill_model *m;
    /* two threads: the split code paths (parallel loops, split sums) too */
    distill_context *ctx = test_context(NULL, 2);
    int64_t din, dout, np, nb, i;
    float *x, *y, *r, *dx, *params, *buffers;
    double *xd, *pd, *bd, *rd, *yref, *gx, *gp;
    shape3 out;

    distill_layer_spec_init(&s, lc->kind);
    s.units = lc->units, s.kernel = (int32_t)lc->kernel, s.stride = (int32_t)lc->stride;
    s.padding = (int32_t)lc->padding, s.bias = (int32_t)lc->bias;
    distill_model_options_init(&o);
    o.in_c = lc->in.c, o.in_h = lc->in.h, o.in_w = lc->in.w;
    o.layers = &s, o.n_layers = 1;
    ck_assert_msg(distill_model_create(ctx, &o, &m) == DISTILL_OK, "%s: %s", lc->name, distill_context_last_error(ctx));
    din = distill_model_input_dim(m), dout = distill_model_output_dim(m);
    np = distill_model_param_count(m), nb = distill_model_buffer_count(m);
    params = distill_model_params(m), buffers = distill_model_buffers(m);
    /* generic parameters and statistics, not the tidy initial ones */
    fill_random(params, np, 7 + _i);
    for (i = 0; i < nb; i++)
        buffers[i] = i < nb / 2 ? 0.3f * (float)i - 0.2f : 0.5f + 0.25f * (float)i;
    x = new_random(BATCH * din, 100 + _i), r = new_random(BATCH * dout, 200 + _i);
    for (i = 0; lc->kind == DISTILL_LAYER_RELU && i < BATCH * din; i++)
        if (fabsf(x[i]) < 0.05f) /* keep clear of the kink */
            x[i] = 0.3f;
    y = malloc(sizeof(float) * BATCH * dout), dx = malloc(sizeof(float) * BATCH * din);
    xd = dup(x, BATCH * din), pd = dup(params, np), bd = dup(buffers, nb), rd = dup(r, BATCH * dout);
    yref = malloc(sizeof(double) * BATCH * dout);
    gx = malloc(sizeof(double) * BATCH * din), gp = malloc(sizeof(double) * (np + 1));

    out = ref_forward(&s, lc->in, pd, bd, train, BATCH, xd, yref);
    ck_assert_int_eq(out.c * out.h * out.w, dout);
    ck_assert_status(distill_model_forward(m, train, BATCH, x, din, y, dout), DISTILL_OK);
    for (i = 0; i < BATCH * dout; i++)
        ck_assert_msg(fabs(y[i] - yref[i]) < 1e-4 * (1 + fabs(yref[i])), "%s: y[%lld] = %g, reference %g",
                      lc->name, (long long)i, y[i], yref[i]);
    ck_assert_status(distill_model_backward(m, r, dout, dx, din, DISTILL_BACKWARD_PARAMS), DISTILL_OK);
    fd(&s, lc->in, pd, bd, train, xd, rd, BATCH * dout, xd, BATCH * din, gx);
    ck_assert_msg(rel_err_fd(dx, gx, BATCH * din) < 1e-3, "%s (%s): dx rel err %g", lc->name,
                  train ? "train" : "eval", rel_err_fd(dx, gx, BATCH * din));
    if (np > 0) {
        fd(&s, lc->in, pd, bd, train, xd, rd, BATCH * dout, pd, np, gp);
        ck_assert_msg(rel_err_fd(distill_model_grads(m), gp, np) < 1e-3, "%s (%s): dparams rel err %g",
                      lc->name, train ? "train" : "eval", rel_err_fd(distill_model_grads(m), gp, np));
    }
    /* the input gradient alone (layers may take a shorter path without parameters) */
    memset(dx, 0, sizeof(float) * BATCH * din);
    ck_assert_status(distill_model_backward(m, r, dout, dx, din, 0), DISTILL_OK);
    ck_assert_msg(rel_err_fd(dx, gx, BATCH * din) < 1e-3, "%s (%s): input-only dx rel err %g", lc->name,
                  train ? "train" : "eval", rel_err_fd(dx, gx, BATCH * din));
    free(x), free(y), free(r), free(dx), free(xd), free(pd), free(bd), free(rd), free(yref), free(gx), free(gp);
    distill_model_destroy(m);
    distill_context_destroy(ctx);
}
END_TEST

/* A deeper stack: conv-bn-relu-pool twice, flatten, dense, through the
 * public API in train mode; input gradient against finite differences of
 * the float forward (a coarse check that the layers chain correctly). */
START_TEST(stacked_network_chains_gradients)
{
    distill_layer_spec l[9];
    distill_model_options o;
    distill_model *m;
    distill_context *ctx = test_context(NULL, 2);
    const int64_t n = 4;
    float x[4 * 2 * 8 * 8], y[4 * 3], r[4 * 3], dx[4 * 2 * 8 * 8];
    int64_t i, checked = 0;
    int kinds[9] = {DISTILL_LAYER_CONV2D, DISTILL_LAYER_BATCHNORM, DISTILL_LAYER_TANH,
                    DISTILL_LAYER_AVGPOOL, DISTILL_LAYER_CONV2D, DISTILL_LAYER_TANH,
                    DISTILL_LAYER_AVGPOOL, DISTILL_LAYER_FLATTEN, DISTILL_LAYER_DENSE};
    for (i = 0; i < 9; i++) {
        distill_layer_spec_init(&l[i], kinds[i]);
        l[i].units = i == 8 ? 3 : 4, l[i].kernel = kinds[i] == DISTILL_LAYER_AVGPOOL ? 2 : 3;
        l[i].padding = 1;
    }
    distill_model_options_init(&o);
    o.in_c = 2, o.in_h = 8, o.in_w = 8, o.layers = l, o.n_layers = 9;
    ck_assert_status(distill_model_create(ctx, &o, &m), DISTILL_OK);
    ck_assert_int_eq(distill_model_output_dim(m), 3);
    fill_random(x, sizeof x / sizeof x[0], 1);
    fill_random(r, 12, 2);
    ck_assert_status(distill_model_forward(m, DISTILL_MODE_TRAIN, n, x, 128, y, 3), DISTILL_OK);
    ck_assert_status(distill_model_backward(m, r, 3, dx, 128, DISTILL_BACKWARD_PARAMS), DISTILL_OK);
    for (i = 0; i < n * 128; i += 37) {
        const float keep = x[i], h = 1e-2f;
        double lp = 0, lm = 0, g;
        int64_t j;
        x[i] = keep + h;
        ck_assert_status(distill_model_forward(m, DISTILL_MODE_TRAIN, n, x, 128, y, 3), DISTILL_OK);
        for (j = 0; j < 12; j++)
            lp += r[j] * y[j];
        x[i] = keep - h;
        ck_assert_status(distill_model_forward(m, DISTILL_MODE_TRAIN, n, x, 128, y, 3), DISTILL_OK);
        for (j = 0; j < 12; j++)
            lm += r[j] * y[j];
        x[i] = keep;
        g = (lp - lm) / (2 * h);
        ck_assert_msg(fabs(dx[i] - g) < 2e-2 * (fabs(g) + 1e-2), "dx[%lld] = %g, fd %g", (long long)i, dx[i], g);
        checked++;
    }
    ck_assert_int_gt(checked, 10);
    distill_model_destroy(m);
    distill_context_destroy(ctx);
}
END_TEST

/* ReLU followed by a 2x2 average pool runs fused: the output and the input
 * gradient must be those of the two layers, and the allocation-free path
 * (which runs them one by one) must agree. */
START_TEST(fused_relu_pool_matches_the_layers)
{
    distill_layer_spec l[2];
    distill_model_options o;
    distill_model *m;
    distill_context *ctx = test_context(NULL, 2);
    enum { B = 3, C = 2, H = 6, W = 5, OH = 3, OW = 2 };
    float x[B * C * H * W], y[B * C * OH * OW], yi[B * C * OH * OW], r[B * C * OH * OW];
    float dx[B * C * H * W];
    size_t bytes;
    void *ws;
    int64_t pl, i, j;
    distill_layer_spec_init(&l[0], DISTILL_LAYER_RELU);
    distill_layer_spec_init(&l[1], DISTILL_LAYER_AVGPOOL);
    l[1].kernel = 2;
    distill_model_options_init(&o);
    o.in_c = C, o.in_h = H, o.in_w = W, o.layers = l, o.n_layers = 2;
    ck_assert_status(distill_model_create(ctx, &o, &m), DISTILL_OK);
    fill_random(x, B * C * H * W, 11);
    fill_random(r, B * C * OH * OW, 12);
    ck_assert_status(distill_model_forward(m, DISTILL_MODE_TRAIN, B, x, C * H * W, y, C * OH * OW), DISTILL_OK);
    ck_assert_status(distill_model_backward(m, r, C * OH * OW, dx, C * H * W, 0), DISTILL_OK);
    for (pl = 0; pl < B * C; pl++)
        for (i = 0; i < H; i++)
            for (j = 0; j < W; j++) {
                const float xv = x[(pl * H + i) * W + j];
                const int inside = i < 2 * OH && j < 2 * OW;
                const double want = inside && xv > 0 ? 0.25 * r[(pl * OH + i / 2) * OW + j / 2] : 0.0;
                ck_assert_double_eq_tol(dx[(pl * H + i) * W + j], want, 1e-7);
                if (inside && i % 2 == 0 && j % 2 == 0) {
                    double s = 0;
                    int a, b;
                    for (a = 0; a < 2; a++)
                        for (b = 0; b < 2; b++) {
                            const double v = x[(pl * H + i + a) * W + j + b];
                            s += v > 0 ? v : 0;
                        }
                    ck_assert_double_eq_tol(y[(pl * OH + i / 2) * OW + j / 2], s / 4, 1e-6);
                }
            }
    ck_assert_status(distill_model_workspace_size(m, B, &bytes), DISTILL_OK);
    ws = malloc(bytes);
    ck_assert_int_eq(distill_model_infer(m, ws, bytes, B, x, C * H * W, yi, C * OH * OW), DISTILL_OK);
    ck_assert_mem_eq(y, yi, sizeof y);
    free(ws);
    distill_model_destroy(m);
    distill_context_destroy(ctx);
}
END_TEST

/* Batch norm's eight-plane sums in AVX2 (norm_sums_x86.c) against the
 * portable chains, bit for bit: every plane size from 1 to 70 positions
 * (the vector part and the scalar rest), forward's sums and backward's,
 * planes that repeat (the batch's end) and values of every scale. */
START_TEST(plane_sums_vector_loop_is_the_portable_bits)
{
    enum { HW = 70 };
    float x[8 * HW], g[8 * HW], s[2][2][8];
    const float *xp[8], *gp[8];
    int64_t hw, k, i;
    fill_random(x, 8 * HW, 31);
    fill_random(g, 8 * HW, 32);
    for (i = 0; i < 8 * HW; i += 5)
        x[i] *= 1e6f, g[i + 1 < 8 * HW ? i + 1 : i] *= 1e-6f;
    for (k = 0; k < 8; k++)
        xp[k] = x + (k == 7 ? 3 : k) * HW, gp[k] = g + (k == 7 ? 3 : k) * HW;
    if (!distill__plane_sums8_avx2(xp, NULL, 1, 0.0f, s[1][0], s[1][1])) {
        fprintf(stderr, "plane_sums_vector_loop_is_the_portable_bits: no AVX2 here, nothing to compare\n");
        return;
    }
    for (hw = 1; hw <= HW; hw++)
        for (i = 0; i < 2; i++) { /* forward's sums, then backward's */
            distill__plane_sums8_c(xp, i ? gp : NULL, hw, 0.3f, s[0][0], s[0][1]);
            ck_assert(distill__plane_sums8_avx2(xp, i ? gp : NULL, hw, 0.3f, s[1][0], s[1][1]));
            if (memcmp(s[0], s[1], sizeof s[0]) != 0)
                ck_abort_msg("%s sums of %d positions: the AVX2 loop differs", i ? "backward" : "forward", (int)hw);
        }
}
END_TEST

/* The fused ReLU-pool loops in AVX2 (relu_pool_x86.c) against the portable
 * ones, bit for bit: every plane size from 2x2 to 9x21 (odd sizes leave a
 * row or column no window covers, which backward must zero), planes 1 and 2
 * of 4 (the others must stay untouched), three affine maps, and inputs with
 * NaN, infinities, -0 and values at 0 after the map. */
START_TEST(relu_pool_vector_loops_are_the_portable_bits)
{
    enum { PLANES = 4, MAXH = 9, MAXW = 21, MAXP = PLANES * MAXH * MAXW };
    static const float maps[3][2] = {{1.0f, 0.0f}, {0.7f, -0.1f}, {-1.3f, 0.65f}};
    static const float special[6] = {NAN, INFINITY, -INFINITY, -0.0f, 0.5f, 1e-41f};
    float x[MAXP], g[MAXP], out[2][MAXP];
    int64_t h, w, m, i, k;
    fill_random(x, MAXP, 21);
    fill_random(g, MAXP, 22);
    if (!distill__affine_relu_pool_planes_avx2(&(nn_layer){0}, 1.0f, 0.0f, x, out[0], 0, 0)) {
        fprintf(stderr, "relu_pool_vector_loops_are_the_portable_bits: no AVX2 here, nothing to compare\n");
        return;
    }
    for (i = 0; i < MAXP; i += 7)
        x[i] = special[(i / 7) % 6];
    for (h = 2; h <= MAXH; h++)
        for (w = 2; w <= MAXW; w++)
            for (m = 0; m < 3; m++) {
                nn_layer l = {0};
                const float a = maps[m][0], b = maps[m][1];
                l.in_h = h, l.in_w = w, l.out_h = h / 2, l.out_w = w / 2;
                for (k = 0; k < 2; k++) { /* forward, then backward */
                    for (i = 0; i < MAXP; i++)
                        out[0][i] = out[1][i] = 7.0f; /* a value neither path writes */
                    if (k == 0) {
                        distill__affine_relu_pool_planes_c(&l, a, b, x, out[0], 1, 3);
                        ck_assert(distill__affine_relu_pool_planes_avx2(&l, a, b, x, out[1], 1, 3));
                    } else {
                        distill__affine_relu_pool_grad_planes_c(&l, a, b, x, g, out[0], 1, 3);
                        ck_assert(distill__affine_relu_pool_grad_planes_avx2(&l, a, b, x, g, out[1], 1, 3));
                    }
                    if (memcmp(out[0], out[1], sizeof out[0]) != 0)
                        ck_abort_msg("%s of a %dx%d plane, map %d: the AVX2 loop differs",
                                     k == 0 ? "forward" : "backward", (int)h, (int)w, (int)m);
                }
            }
}
END_TEST

/* ---- batch norm, ReLU and 2x2 pool fused in training passes ------------ */

enum { BRP_C = 3, BRP_H = 5, BRP_W = 4, BRP_N = 3, BRP_OUT = BRP_C * 2 * 2 };

/* The three layers' double references in turn: the loss sum r y. */
static double brp_loss(const double *p, const double *buf, int train, const double *x, const double *r)
{
    distill_layer_spec bn, relu, pool;
    const shape3 in = {BRP_C, BRP_H, BRP_W};
    double a[BRP_N * BRP_C * BRP_H * BRP_W], b[BRP_N * BRP_C * BRP_H * BRP_W], l = 0;
    double y[BRP_N * BRP_C * BRP_H * BRP_W]; /* as large as its input: the reference is generic */
    int64_t i;
    distill_layer_spec_init(&bn, DISTILL_LAYER_BATCHNORM);
    distill_layer_spec_init(&relu, DISTILL_LAYER_RELU);
    distill_layer_spec_init(&pool, DISTILL_LAYER_AVGPOOL);
    pool.kernel = 2;
    ref_forward(&bn, in, p, buf, train, BRP_N, x, a);
    ref_forward(&relu, in, NULL, NULL, train, BRP_N, a, b);
    ref_forward(&pool, in, NULL, NULL, train, BRP_N, b, y);
    for (i = 0; i < BRP_N * BRP_OUT; i++)
        l += r[i] * y[i];
    return l;
}

/* g[i] = d brp_loss / d arr[i] by central differences (arr is p or x). */
static void brp_fd(double *p, const double *buf, int train, double *x, const double *r, double *arr,
                   int64_t len, double *g)
{
    const double h = 1e-6;
    int64_t i;
    for (i = 0; i < len; i++) {
        const double keep = arr[i];
        double lp, lm;
        arr[i] = keep + h, lp = brp_loss(p, buf, train, x, r);
        arr[i] = keep - h, lm = brp_loss(p, buf, train, x, r);
        arr[i] = keep, g[i] = (lp - lm) / (2 * h);
    }
}

/* Conv, batch norm, ReLU, 2x2 average pool: the fused group after a conv. */
static const int brp_kinds[4] = {DISTILL_LAYER_CONV2D, DISTILL_LAYER_BATCHNORM, DISTILL_LAYER_RELU,
                                 DISTILL_LAYER_AVGPOOL};

/* A model of `count` layers of `kinds` (convolutions 3x3 "same" with 4
 * channels, pools 2x2) on c x h x w inputs. */
static distill_model *brp_model(distill_context *ctx, const int *kinds, int count, int64_t c, int64_t h,
                                int64_t w)
{
    distill_layer_spec l[4];
    distill_model_options o;
    distill_model *m;
    int i;
    for (i = 0; i < count; i++) {
        distill_layer_spec_init(&l[i], kinds[i]);
        l[i].units = 4, l[i].kernel = kinds[i] == DISTILL_LAYER_AVGPOOL ? 2 : 3, l[i].padding = 1;
    }
    distill_model_options_init(&o);
    o.in_c = c, o.in_h = h, o.in_w = w, o.layers = l, o.n_layers = count;
    ck_assert_status(distill_model_create(ctx, &o, &m), DISTILL_OK);
    return m;
}

/* Batch norm, ReLU and a 2x2 average pool run as one pass each way (odd
 * height: the pool drops the last row, whose gradient is zero): output,
 * input gradient and parameter gradient against the double references and
 * central differences, train (_i = 1) and eval mode, on two threads. */
START_TEST(fused_bn_relu_pool_matches_finite_differences)
{
    const int train = _i;
    const int64_t din = BRP_C * BRP_H * BRP_W;
    distill_context *ctx = test_context(NULL, 2);
    distill_model *m = brp_model(ctx, brp_kinds + 1, 3, BRP_C, BRP_H, BRP_W);
    float x[BRP_N * BRP_C * BRP_H * BRP_W], r[BRP_N * BRP_OUT], y[BRP_N * BRP_OUT], dx[BRP_N * BRP_C * BRP_H * BRP_W];
    double xd[BRP_N * BRP_C * BRP_H * BRP_W], rd[BRP_N * BRP_OUT], pd[2 * BRP_C], bd[2 * BRP_C];
    double gx[BRP_N * BRP_C * BRP_H * BRP_W], gp[2 * BRP_C];
    float *params, *buffers;
    int64_t i;
    ck_assert_int_eq(distill_model_output_dim(m), BRP_OUT);
    params = distill_model_params(m), buffers = distill_model_buffers(m);
    fill_random(params, 2 * BRP_C, 31 + _i);
    for (i = 0; i < BRP_C; i++)
        buffers[i] = 0.1f * (float)i - 0.1f, buffers[BRP_C + i] = 0.6f + 0.2f * (float)i;
    fill_random(x, BRP_N * din, 41 + _i);
    fill_random(r, BRP_N * BRP_OUT, 51 + _i);
    for (i = 0; i < BRP_N * din; i++)
        xd[i] = x[i];
    for (i = 0; i < BRP_N * BRP_OUT; i++)
        rd[i] = r[i];
    for (i = 0; i < 2 * BRP_C; i++)
        pd[i] = params[i], bd[i] = buffers[i]; /* before a train forward moves the running statistics */
    ck_assert_status(distill_model_forward(m, train, BRP_N, x, din, y, BRP_OUT), DISTILL_OK);
    {
        double yref = 0, yours = 0;
        for (i = 0; i < BRP_N * BRP_OUT; i++)
            yours += (double)r[i] * y[i];
        yref = brp_loss(pd, bd, train, xd, rd);
        ck_assert_msg(fabs(yours - yref) < 1e-5 * (1 + fabs(yref)), "loss %g, reference %g", yours, yref);
    }
    ck_assert_status(distill_model_backward(m, r, BRP_OUT, dx, din, DISTILL_BACKWARD_PARAMS), DISTILL_OK);
    brp_fd(pd, bd, train, xd, rd, xd, BRP_N * din, gx);
    brp_fd(pd, bd, train, xd, rd, pd, 2 * BRP_C, gp);
    ck_assert_msg(rel_err_fd(dx, gx, BRP_N * din) < 1e-3, "%s: dx rel err %g", train ? "train" : "eval",
                  rel_err_fd(dx, gx, BRP_N * din));
    ck_assert_msg(rel_err_fd(distill_model_grads(m), gp, 2 * BRP_C) < 1e-3, "%s: dparams rel err %g",
                  train ? "train" : "eval", rel_err_fd(distill_model_grads(m), gp, 2 * BRP_C));
    memset(dx, 0, sizeof dx); /* the input gradient alone (eval: the shorter path) */
    ck_assert_status(distill_model_backward(m, r, BRP_OUT, dx, din, 0), DISTILL_OK);
    ck_assert_msg(rel_err_fd(dx, gx, BRP_N * din) < 1e-3, "%s: input-only dx rel err %g", train ? "train" : "eval",
                  rel_err_fd(dx, gx, BRP_N * din));
    distill_model_destroy(m);
    distill_context_destroy(ctx);
}
END_TEST

/* The fused pass computes batch norm's arithmetic and the ReLU-pool pair's
 * in their order: a model whose batch norm, ReLU and pool run fused
 * against the same layers split into two models (nothing fused across
 * them), bit for bit: output, running statistics, input gradient and
 * parameter gradients, with and without parameter gradients.  _i: bit 0
 * train mode, bit 1 a conv first (channel-first inside; else batch norm is
 * the first layer, batch-first, and one backward asks for no dx). */
START_TEST(fused_bn_relu_pool_is_the_layers_bit_for_bit)
{
    enum { N = 5, D = 4 * 7 * 7, DOUT = 4 * 3 * 3 };
    const int train = _i & 1, conv = _i >> 1, skip = !conv; /* the kinds from brp_kinds[skip] */
    const int64_t c = conv ? 3 : 4, din = c * 7 * 7;
    distill_context *ctx = test_context(NULL, 2);
    /* 7 x 7: the pool drops a row and a column */
    distill_model *m = brp_model(ctx, brp_kinds + skip, 4 - skip, c, 7, 7); /* [conv,] BN, ReLU, pool */
    distill_model *a = brp_model(ctx, brp_kinds + skip, 2 - skip, c, 7, 7); /* [conv,] BN */
    distill_model *b = brp_model(ctx, brp_kinds + 2, 2, 4, 7, 7);           /* ReLU, pool */
    float x[N * D], mid[N * D], y1[N * DOUT], y2[N * DOUT], r[N * DOUT], dmid[N * D], dx1[N * D], dx2[N * D];
    const int64_t np = distill_model_param_count(m), nb = distill_model_buffer_count(m);
    int64_t k;
    int flags;
    ck_assert(distill__fusable_bn_relu_pool(&m->layers[conv], m->n_layers - conv)); /* the fused path runs */
    ck_assert_int_eq(np, distill_model_param_count(a));
    fill_random(distill_model_params(m), np, 61);
    memcpy(distill_model_params(a), distill_model_params(m), sizeof(float) * (size_t)np);
    fill_random(distill_model_buffers(m), nb, 64); /* eval mode's running statistics: means, */
    for (k = nb / 2; k < nb; k++) /* variances */
        distill_model_buffers(m)[k] = 0.5f + fabsf(distill_model_buffers(m)[k]);
    memcpy(distill_model_buffers(a), distill_model_buffers(m), sizeof(float) * (size_t)nb);
    fill_random(x, N * din, 62), fill_random(r, N * DOUT, 63);
    ck_assert_status(distill_model_forward(m, train, N, x, din, y1, DOUT), DISTILL_OK);
    ck_assert_status(distill_model_forward(a, train, N, x, din, mid, D), DISTILL_OK);
    ck_assert_status(distill_model_forward(b, train, N, mid, D, y2, DOUT), DISTILL_OK);
    ck_assert_mem_eq(y1, y2, sizeof y1);
    ck_assert_mem_eq(distill_model_buffers(m), distill_model_buffers(a), sizeof(float) * (size_t)nb);
    ck_assert_status(distill_model_backward(b, r, DOUT, dmid, D, 0), DISTILL_OK);
    for (flags = 0; flags <= DISTILL_BACKWARD_PARAMS; flags++) {
        ck_assert_status(distill_model_backward(m, r, DOUT, dx1, din, flags), DISTILL_OK);
        ck_assert_status(distill_model_backward(a, dmid, D, dx2, din, flags), DISTILL_OK);
        ck_assert_mem_eq(dx1, dx2, sizeof(float) * (size_t)(N * din));
    }
    ck_assert_mem_eq(distill_model_grads(m), distill_model_grads(a), sizeof(float) * (size_t)np);
    if (!conv) { /* batch norm first: its parameter gradient without dx */
        ck_assert_status(distill_model_backward(m, r, DOUT, NULL, 0, DISTILL_BACKWARD_PARAMS), DISTILL_OK);
        ck_assert_mem_eq(distill_model_grads(m), distill_model_grads(a), sizeof(float) * (size_t)np);
    }
    distill_model_destroy(m), distill_model_destroy(a), distill_model_destroy(b);
    distill_context_destroy(ctx);
}
END_TEST

/* One 3x3 "same" convolution, C -> OC channels at H x H. */
static distill_model *one_conv(distill_context *ctx, int64_t C, int64_t OC, int64_t H, int bias)
{
    distill_layer_spec l;
    distill_model_options o;
    distill_model *m;
    distill_layer_spec_init(&l, DISTILL_LAYER_CONV2D);
    l.units = OC, l.kernel = 3, l.padding = 1, l.bias = bias;
    distill_model_options_init(&o);
    o.in_c = C, o.in_h = H, o.in_w = H, o.layers = &l, o.n_layers = 1;
    ck_assert_status(distill_model_create(ctx, &o, &m), DISTILL_OK);
    return m;
}

/* The forward GEMM on panels packed from the planes (conv_panels.c) against
 * the columns and nn_gemm, bit for bit: conv1's shape, conv2's and conv3's
 * (577 rows: two k blocks on skx), a 5x5 and a 1x1 kernel with channel
 * counts no panel divides, with and without bias, channel-first and
 * one-channel inputs, a chunk inside the batch whose last panel is partial,
 * 4x4 planes (a panel spans images), and 256 channels (above haswell's and
 * zen3's thresholds for BLIS's unpacked path, so their kernels run too).
 * The path declines what it must not take: a product nn_gemm_small does,
 * a chunk on two threads, a slot too small. */
START_TEST(conv_panels_are_the_gemm_bits)
{
    static const int64_t shape[8][6] = {/* C, OC, H, kernel, bias, images */
                                        {1, 32, 28, 3, 1, 5},  {32, 64, 14, 3, 1, 10}, {64, 128, 7, 3, 1, 9},
                                        {3, 20, 9, 5, 0, 7},  {8, 13, 6, 1, 1, 30},   {2, 40, 11, 3, 1, 6},
                                        {16, 24, 4, 3, 1, 20}, {32, 256, 8, 3, 1, 8}};
    const int64_t C = shape[_i][0], OC = shape[_i][1], H = shape[_i][2], k = shape[_i][3], N = shape[_i][5];
    const int64_t i0 = 1, cn = N - 2, hw = H * H, np = cn * hw;
    distill_layer_spec spec;
    distill_model_options o;
    distill_model *m;
    distill_context *ctx = test_context(NULL, 1);
    nn_env one = {NULL, 1, 1}, two;
    distill__sgemm_ukr u;
    nn_layer l;
    int64_t KB, slot_floats;
    float *x = new_random(N * C * hw, 71), *wb, *room, *cols, *y0, *y1, *slot;
    const float *w, *wp;
    distill_layer_spec_init(&spec, DISTILL_LAYER_CONV2D);
    spec.units = OC, spec.kernel = k, spec.padding = (k - 1) / 2, spec.bias = (int)shape[_i][4];
    distill_model_options_init(&o);
    o.in_c = C, o.in_h = H, o.in_w = H, o.layers = &spec, o.n_layers = 1;
    ck_assert_status(distill_model_create(ctx, &o, &m), DISTILL_OK);
    l = m->layers[0];
    l.cf_in = C > 1; /* the planes of a channel next to each other, as inside a network */
    one.ctx = ctx, two = one, two.threads = 2;
    KB = distill__conv_rows(&l), slot_floats = KB * np;
    wb = malloc(sizeof(float) * (size_t)(OC * KB)), room = malloc(sizeof(float) * (size_t)distill__conv_panel_room(&l));
    cols = malloc(sizeof(float) * (size_t)(KB * np)), slot = malloc(sizeof(float) * (size_t)slot_floats);
    y0 = malloc(sizeof(float) * (size_t)(OC * np)), y1 = malloc(sizeof(float) * (size_t)(OC * np));
    w = distill__conv_weights(&l, m->params + l.p_off, wb);
    wp = distill__conv_pack_weights(&one, &l, w, room);
    ck_assert_msg(wp != NULL, "no micro-kernel from BLIS here");
    distill__conv_columns(&one, &l, N, i0, cn, x, cols);
    nn_gemm(&one, DISTILL_NO_TRANS, DISTILL_NO_TRANS, OC, np, KB, 1.0f, w, KB, cols, np, 0.0f, y0, np);
    memset(y1, 0xff, sizeof(float) * (size_t)(OC * np)); /* NaN: every value must be written */
    ck_assert(distill__sgemm_ukr_get(&u));
    /* below BLIS's thresholds for its unpacked path (none on skx) the path declines */
    ck_assert_int_eq(distill__conv_forward_panels(&one, &l, wp, N, i0, cn, x, y1, np, slot, slot_floats),
                     !distill__sgemm_ukr_declines(&u, OC, np, KB));
    if (!distill__sgemm_ukr_declines(&u, OC, np, KB))
        ck_assert_mem_eq(y0, y1, sizeof(float) * (size_t)(OC * np));
    ck_assert(!distill__conv_forward_panels(&two, &l, wp, N, i0, cn, x, y1, np, slot, slot_floats));
    ck_assert(!distill__conv_forward_panels(&one, &l, wp, N, i0, cn, x, y1, np, slot, KB));
    ck_assert(!distill__conv_forward_panels(&one, &l, wp, N, i0, 1, x, y1, hw, slot, slot_floats) ||
              !nn_gemm_small_fits(OC, hw, KB));
    free(wb), free(room), free(cols), free(slot), free(y0), free(y1), free(x);
    distill_model_destroy(m);
    distill_context_destroy(ctx);
}
END_TEST

/* An eval-mode forward keeps no columns; a weight gradient after it builds
 * each chunk's again.  Without batch norm the two modes compute the same
 * function, so over a batch of several chunks (64 channels at 14x14: 4
 * images a chunk, 5 chunks shared by two threads) the gradients after an
 * eval forward must be those after
 * a train forward (which keeps the columns and is checked against finite
 * differences above), bit for bit. */
START_TEST(eval_forward_weight_gradient_rebuilds_the_columns)
{
    enum { N = 20, C = 64, H = 14, W = 14, OC = 8 };
    distill_model *m;
    distill_context *ctx = test_context(NULL, 2);
    float *x = new_random(N * C * H * W, 31), *r = new_random(N * OC * H * W, 32);
    float *y[2], *dx[2], *dp[2];
    int64_t np, mode;
    m = one_conv(ctx, C, OC, H, 1);
    np = distill_model_param_count(m);
    for (mode = 0; mode < 2; mode++) { /* DISTILL_MODE_EVAL, then _TRAIN */
        y[mode] = malloc(sizeof(float) * N * OC * H * W);
        dx[mode] = malloc(sizeof(float) * N * C * H * W);
        dp[mode] = malloc(sizeof(float) * (size_t)np);
        ck_assert_status(distill_model_forward(m, (int)mode, N, x, C * H * W, y[mode], OC * H * W), DISTILL_OK);
        ck_assert_status(distill_model_backward(m, r, OC * H * W, dx[mode], C * H * W, DISTILL_BACKWARD_PARAMS),
                         DISTILL_OK);
        memcpy(dp[mode], distill_model_grads(m), sizeof(float) * (size_t)np);
    }
    ck_assert_mem_eq(y[0], y[1], sizeof(float) * N * OC * H * W);
    ck_assert_mem_eq(dx[0], dx[1], sizeof(float) * N * C * H * W);
    ck_assert_mem_eq(dp[0], dp[1], sizeof(float) * (size_t)np);
    for (mode = 0; mode < 2; mode++)
        free(y[mode]), free(dx[mode]), free(dp[mode]);
    free(x), free(r);
    distill_model_destroy(m);
    distill_context_destroy(ctx);
}
END_TEST

/* Threads share a convolution's chunks: the output and the input gradient
 * are the same bits on 1-3 threads (each value is computed whole by one
 * thread), the weight gradient sums per-thread partials and agrees to
 * rounding.  Cases: conv1's few rows (dot products); a middle layer with
 * shares of two or three chunks; a weight gradient too large to split (its
 * chunks run in turn on every thread); one image (one chunk: its positions
 * split instead); a bias-free layer whose ckk x oc fits the split's limit
 *  * but whose (ckk + 1) x oc does not. */
START_TEST(conv_threads_share_chunks)
{
    static const int64_t shape[5][5] = {
        {1, 16, 28, 30, 1}, {32, 16, 14, 40, 1}, {64, 256, 6, 60, 1}, {8, 16, 10, 1, 1}, {56, 260, 4, 12, 0}};
    const int64_t C = shape[_i][0], OC = shape[_i][1], H = shape[_i][2], N = shape[_i][3];
    const int64_t din = C * H * H, dout = OC * H * H;
    float *x = new_random(N * din, 51), *r = new_random(N * dout, 52), *y[3], *dx[3], *dp[3];
    int64_t np = 0, t, j;
    for (t = 0; t < 3; t++) {
        distill_context *ctx = test_context(NULL, (int)t + 1);
        distill_model *m = one_conv(ctx, C, OC, H, (int)shape[_i][4]);
        np = distill_model_param_count(m);
        y[t] = malloc(sizeof(float) * N * dout), dx[t] = malloc(sizeof(float) * N * din);
        dp[t] = malloc(sizeof(float) * (size_t)np);
        ck_assert_status(distill_model_forward(m, DISTILL_MODE_TRAIN, N, x, din, y[t], dout), DISTILL_OK);
        ck_assert_status(distill_model_backward(m, r, dout, dx[t], din, DISTILL_BACKWARD_PARAMS), DISTILL_OK);
        memcpy(dp[t], distill_model_grads(m), sizeof(float) * (size_t)np);
        distill_model_destroy(m);
        distill_context_destroy(ctx);
    }
    for (t = 1; t < 3; t++) {
        ck_assert_mem_eq(y[0], y[t], sizeof(float) * N * dout);
        ck_assert_mem_eq(dx[0], dx[t], sizeof(float) * N * din);
        for (j = 0; j < np; j++)
            ck_assert_float_eq_tol(dp[t][j], dp[0][j], 1e-4f * (1.0f + fabsf(dp[0][j])));
    }
    for (t = 0; t < 3; t++)
        free(y[t]), free(dx[t]), free(dp[t]);
    free(x), free(r);
}
END_TEST

/* A model keeps the scratch of its largest batch and must serve a smaller
 * one with it, whose chunks can be larger (32 -> 64 at 13x13: 10 images
 * fill a way's 2 MiB of columns, so 81 images go in 9 chunks of 9 and 80
 * in 8 chunks of 10; ASan watches): against a fresh model's, bit for bit. */
/* The convolution passes and the fused block split a batch by these:
 * every chunk goes to exactly one thread, in order, and the chunks hold
 * every image once, evenly. */
START_TEST(chunk_shares_cover_the_batch_once)
{
    int64_t n, step, ways, t, c;
    for (n = 1; n <= 40; n++)
        for (step = 1; step <= 9; step++)
            for (ways = 1; ways <= DISTILL__MAX_WAYS; ways++) {
                const int64_t chunks = (n + step - 1) / step;
                int64_t next = 0, images = 0;
                for (t = 0; t < ways; t++) {
                    int64_t c0, c1;
                    distill__chunk_share(n, step, ways, t, &c0, &c1);
                    ck_assert_int_eq(c0, next);
                    ck_assert_int_le(c0, c1);
                    next = c1;
                }
                ck_assert_int_eq(next, chunks);
                for (c = 0; c < chunks; c++) { /* in order, even: sizes n / chunks rounded down or up */
                    const int64_t cn = distill__chunk_images(n, step, c);
                    ck_assert_int_eq(distill__chunk_start(n, step, c), images);
                    ck_assert(cn >= 1 && cn <= step);
                    ck_assert(cn == n / chunks || cn == (n + chunks - 1) / chunks);
                    images += cn;
                }
                ck_assert_int_eq(images, n);
            }
}
END_TEST

START_TEST(conv_scratch_serves_smaller_batches)
{
    enum { C = 32, OC = 64, H = 13, BIG = 81, SMALL = 80 };
    const int64_t din = C * H * H, dout = OC * H * H;
    float *x = new_random(BIG * din, 61), *r = new_random(BIG * dout, 62), *y[2], *dx[2], *dp[2];
    distill_context *ctx = test_context(NULL, 2);
    distill_model *m[2];
    int64_t k, np;
    for (k = 0; k < 2; k++) { /* model 0 sees the big batch first */
        m[k] = one_conv(ctx, C, OC, H, 1);
        if (k == 0) {
            float *yb = malloc(sizeof(float) * BIG * dout);
            ck_assert_status(distill_model_forward(m[k], DISTILL_MODE_TRAIN, BIG, x, din, yb, dout), DISTILL_OK);
            ck_assert_status(distill_model_backward(m[k], r, dout, NULL, 0, DISTILL_BACKWARD_PARAMS), DISTILL_OK);
            distill_model_zero_grad(m[k]);
            free(yb);
        }
        np = distill_model_param_count(m[k]);
        if (k == 1) /* the same weights */
            memcpy(distill_model_params(m[1]), distill_model_params(m[0]), sizeof(float) * (size_t)np);
        y[k] = malloc(sizeof(float) * SMALL * dout), dx[k] = malloc(sizeof(float) * SMALL * din);
        ck_assert_status(distill_model_forward(m[k], DISTILL_MODE_TRAIN, SMALL, x, din, y[k], dout), DISTILL_OK);
        ck_assert_status(distill_model_backward(m[k], r, dout, dx[k], din, DISTILL_BACKWARD_PARAMS), DISTILL_OK);
        dp[k] = malloc(sizeof(float) * (size_t)np);
        memcpy(dp[k], distill_model_grads(m[k]), sizeof(float) * (size_t)np);
    }
    ck_assert_mem_eq(y[0], y[1], sizeof(float) * SMALL * dout);
    ck_assert_mem_eq(dx[0], dx[1], sizeof(float) * SMALL * din);
    ck_assert_mem_eq(dp[0], dp[1], sizeof(float) * (size_t)np);
    for (k = 0; k < 2; k++)
        free(y[k]), free(dx[k]), free(dp[k]), distill_model_destroy(m[k]);
    free(x), free(r);
    distill_context_destroy(ctx);
}
END_TEST

/* Three conv-BN-ReLU-pool blocks (the second conv without a bias, pools
 * down to 7x7 and 3x3), 60 images: the first two blocks' passes take two
 * chunks on one thread and two per thread on two or three, the third one
 * chunk per thread (threads 1-3 in the test). */
static distill_model *block_stack(distill_context *ctx)
{
    static const int64_t units[3] = {16, 8, 8};
    distill_layer_spec l[13];
    distill_model_options o;
    distill_model *m;
    float *p, *x = new_random(60 * 784, 41), *y = malloc(sizeof(float) * 60 * 72);
    int64_t b, i;
    for (b = 0; b < 3; b++) {
        distill_layer_spec_init(&l[4 * b], DISTILL_LAYER_CONV2D);
        l[4 * b].units = units[b], l[4 * b].kernel = 3, l[4 * b].padding = 1, l[4 * b].bias = b != 1;
        distill_layer_spec_init(&l[4 * b + 1], DISTILL_LAYER_BATCHNORM);
        distill_layer_spec_init(&l[4 * b + 2], DISTILL_LAYER_RELU);
        distill_layer_spec_init(&l[4 * b + 3], DISTILL_LAYER_AVGPOOL);
        l[4 * b + 3].kernel = 2;
    }
    distill_layer_spec_init(&l[12], DISTILL_LAYER_FLATTEN);
    distill_model_options_init(&o);
    o.in_c = 1, o.in_h = 28, o.in_w = 28, o.layers = l, o.n_layers = 13;
    ck_assert_status(distill_model_create(ctx, &o, &m), DISTILL_OK);
    /* batch norm away from its initial identity: gammas, betas and running statistics */
    p = distill_model_params(m);
    for (i = 0; i < distill_model_param_count(m); i++)
        p[i] += 0.3f * (x[i % (60 * 784)] - 0.5f);
    for (i = 0; i < 3; i++)
        ck_assert_status(distill_model_forward(m, DISTILL_MODE_TRAIN, 60, x, 784, y, 72), DISTILL_OK);
    free(x), free(y);
    return m;
}

START_TEST(predict_is_the_eval_forward_bit_for_bit)
{
    enum { N = 60, D = 784, OUT = 72 };
    distill_context *ctx = test_context(NULL, 1 + _i);
    distill_model *m = block_stack(ctx);
    float *x = new_random(N * D, 42), *y = malloc(sizeof(float) * N * OUT), *z = malloc(sizeof(float) * N * OUT);
    float *dy = new_random(N * OUT, 43), *dx = malloc(sizeof(float) * N * D);
    ck_assert_int_eq(distill_model_output_dim(m), OUT);
    ck_assert_status(distill_model_forward(m, DISTILL_MODE_EVAL, N, x, D, y, OUT), DISTILL_OK);
    ck_assert_status(distill__model_predict(m, N, x, D, z, OUT), DISTILL_OK);
    ck_assert_mem_eq(y, z, sizeof(float) * N * OUT);
    /* its blocks' inner activations were never written: no backward */
    ck_assert_status(distill_model_backward(m, dy, OUT, dx, D, 0), DISTILL_E_INVAL);
    /* fewer images than a chunk, from a row stride */
    ck_assert_status(distill_model_forward(m, DISTILL_MODE_EVAL, 3, x, D, y, OUT), DISTILL_OK);
    ck_assert_status(distill__model_predict(m, 3, x + 7, D, z, OUT), DISTILL_OK);
    ck_assert_status(distill_model_forward(m, DISTILL_MODE_EVAL, 3, x + 7, D, y, OUT), DISTILL_OK);
    ck_assert_mem_eq(y, z, sizeof(float) * 3 * OUT);
    ck_assert_status(distill_model_backward(m, dy, OUT, dx, D, 0), DISTILL_OK);
    free(x), free(y), free(z), free(dy), free(dx);
    distill_model_destroy(m);
    distill_context_destroy(ctx);
}
END_TEST

/* ---- initialisers, clones, copies ------------------------------------------ */

static distill_model *one_dense(distill_context *ctx, int init, float gain, int64_t in, int64_t out)
{
    distill_layer_spec l;
    distill_model_options o;
    distill_model *m;
    distill_layer_spec_init(&l, DISTILL_LAYER_DENSE);
    l.units = out, l.init = init, l.init_gain = gain;
    distill_model_options_init(&o);
    o.in_c = in, o.layers = &l, o.n_layers = 1;
    ck_assert_status(distill_model_create(ctx, &o, &m), DISTILL_OK);
    return m;
}

START_TEST(initialisers_have_their_distributions)
{
    enum { IN = 200, OUT = 100 };
    distill_context *ctx = test_context(NULL, 1);
    distill_model *m;
    const float *w;
    double s2 = 0, mx = 0;
    int64_t i, j, k;
    /* Kaiming normal: variance 2 / fan_in; zero bias */
    m = one_dense(ctx, DISTILL_INIT_KAIMING_NORMAL, 0, IN, OUT);
    w = distill_model_params(m);
    for (i = 0; i < IN * OUT; i++)
        s2 += (double)w[i] * w[i];
    ck_assert_double_eq_tol(s2 / (IN * OUT), 2.0 / IN, 0.05 * 2.0 / IN);
    ck_assert_float_eq(w[IN * OUT + 3], 0.0f);
    distill_model_destroy(m);
    /* Kaiming uniform and the default: bounded by sqrt(6 / fan_in), 1 / sqrt(fan_in) */
    m = one_dense(ctx, DISTILL_INIT_KAIMING_UNIFORM, 0, IN, OUT);
    for (i = 0, w = distill_model_params(m); i < IN * OUT; i++)
        mx = fabs(w[i]) > mx ? fabs(w[i]) : mx;
    ck_assert(mx <= sqrt(6.0 / IN) && mx > 0.9 * sqrt(6.0 / IN));
    distill_model_destroy(m);
    /* Glorot uniform: bounded by sqrt(6 / (fan_in + fan_out)), zero bias */
    m = one_dense(ctx, DISTILL_INIT_GLOROT_UNIFORM, 0, IN, OUT);
    for (i = 0, mx = 0, w = distill_model_params(m); i < IN * OUT; i++)
        mx = fabs(w[i]) > mx ? fabs(w[i]) : mx;
    ck_assert(mx <= sqrt(6.0 / (IN + OUT)) && mx > 0.9 * sqrt(6.0 / (IN + OUT)));
    ck_assert_float_eq(w[IN * OUT + 5], 0.0f);
    distill_model_destroy(m);
    m = one_dense(ctx, DISTILL_INIT_DEFAULT, 0, IN, OUT);
    for (i = 0, mx = 0, w = distill_model_params(m); i < IN * OUT + OUT; i++)
        mx = fabs(w[i]) > mx ? fabs(w[i]) : mx;
    ck_assert(mx <= 1.0 / sqrt(IN) && mx > 0.9 / sqrt(IN));
    distill_model_destroy(m);
    /* orthogonal: rows orthonormal (wide), times the gain */
    m = one_dense(ctx, DISTILL_INIT_ORTHOGONAL, 2.0f, IN, OUT);
    w = distill_model_params(m);
    for (i = 0; i < OUT; i += 7)
        for (j = 0; j < OUT; j += 11) {
            double d = 0;
            for (k = 0; k < IN; k++)
                d += (double)w[i * IN + k] * w[j * IN + k];
            ck_assert_double_eq_tol(d, i == j ? 4.0 : 0.0, 1e-4);
        }
    distill_model_destroy(m);
    /* signed constant: +-gain sqrt(2 / fan_in), both signs */
    m = one_dense(ctx, DISTILL_INIT_SIGNED_CONSTANT, 1.0f, IN, OUT);
    w = distill_model_params(m);
    for (i = 0, k = 0; i < IN * OUT; i++) {
        ck_assert_float_eq_tol(fabsf(w[i]), sqrtf(2.0f / IN), 1e-6f);
        k += w[i] > 0;
    }
    ck_assert(k > IN * OUT / 3 && k < 2 * IN * OUT / 3);
    distill_model_destroy(m);
    m = one_dense(ctx, DISTILL_INIT_ZEROS, 0, IN, OUT);
    for (i = 0, w = distill_model_params(m); i < IN * OUT + OUT; i++)
        ck_assert_float_eq(w[i], 0.0f);
    distill_model_destroy(m);
    distill_context_destroy(ctx);
}
END_TEST

START_TEST(clone_copy_and_reinit)
{
    distill_context *ctx = test_context(NULL, 1);
    distill_model *a = one_dense(ctx, DISTILL_INIT_DEFAULT, 0, 6, 3), *b, *c = one_dense(ctx, 0, 0, 6, 4);
    distill_model *d = one_dense(ctx, DISTILL_INIT_DEFAULT, 0, 6, 3);
    const int64_t np = distill_model_param_count(a);
    float x[12], ya[6], yb[6], *p0 = malloc(sizeof(float) * np);
    fill_random(x, 12, 1);
    ck_assert_status(distill_model_clone(a, &b), DISTILL_OK);
    ck_assert_status(distill_model_forward(a, DISTILL_MODE_EVAL, 2, x, 6, ya, 3), DISTILL_OK);
    ck_assert_status(distill_model_forward(b, DISTILL_MODE_EVAL, 2, x, 6, yb, 3), DISTILL_OK);
    ck_assert_mem_eq(ya, yb, sizeof ya);
    ck_assert_ptr_ne(distill_model_params(a), distill_model_params(b)); /* its own arrays */
    /* a second model of the same spec draws other weights; copying makes them equal */
    ck_assert_int_ne(memcmp(distill_model_params(a), distill_model_params(d), sizeof(float) * np), 0);
    ck_assert_status(distill_model_copy_params(d, a), DISTILL_OK);
    ck_assert_mem_eq(distill_model_params(a), distill_model_params(d), sizeof(float) * np);
    ck_assert_fails(ctx, distill_model_copy_params(c, a), DISTILL_E_SHAPE, "different specs");
    /* reinit from a stream is a pure function of (seed, stream) */
    ck_assert_status(distill_model_reinit(b, 12345), DISTILL_OK);
    memcpy(p0, distill_model_params(b), sizeof(float) * np);
    ck_assert_int_ne(memcmp(p0, distill_model_params(a), sizeof(float) * np), 0);
    ck_assert_status(distill_model_reinit(a, 12345), DISTILL_OK);
    ck_assert_mem_eq(p0, distill_model_params(a), sizeof(float) * np);
    free(p0);
    distill_model_destroy(a), distill_model_destroy(b), distill_model_destroy(c), distill_model_destroy(d);
    distill_context_destroy(ctx);
}
END_TEST

START_TEST(bad_specs_and_calls)
{
    distill_layer_spec l[2];
    distill_model_options o;
    distill_model *m = NULL;
    counting_alloc c;
    distill_context *ctx = test_context(&c, 1);
    float x[4] = {0}, y[4];
    distill_layer_spec_init(&l[0], DISTILL_LAYER_CONV2D);
    l[0].units = 2, l[0].kernel = 5; /* larger than the 3 x 3 input */
    distill_model_options_init(&o);
    o.in_c = 1, o.in_h = 3, o.in_w = 3, o.layers = l, o.n_layers = 1;
    ck_assert_fails(ctx, distill_model_create(ctx, &o, &m), DISTILL_E_SHAPE, "cannot take");
    l[0].kind = 99;
    ck_assert_fails(ctx, distill_model_create(ctx, &o, &m), DISTILL_E_INVAL, "unknown kind");
    distill_layer_spec_init(&l[0], DISTILL_LAYER_DENSE);
    l[0].units = 2;
    l[0].struct_size = 8;
    ck_assert_fails(ctx, distill_model_create(ctx, &o, &m), DISTILL_E_ABI, "struct_size");
    ck_assert_ptr_null(m);
    distill_layer_spec_init(&l[0], DISTILL_LAYER_DENSE);
    l[0].units = 2;
    o.in_h = 1, o.in_w = 1, o.in_c = 2;
    ck_assert_status(distill_model_create(ctx, &o, &m), DISTILL_OK);
    ck_assert_fails(ctx, distill_model_backward(m, y, 2, NULL, 0, DISTILL_BACKWARD_PARAMS), DISTILL_E_INVAL,
                    "no forward pass");
    x[1] = NAN;
    ck_assert_fails(ctx, distill_model_forward(m, DISTILL_MODE_EVAL, 1, x, 2, y, 2), DISTILL_E_NUMERIC, "x[0, 1] is NaN");
    ck_assert_fails(ctx, distill_model_forward(m, 7, 1, x, 2, y, 2), DISTILL_E_INVAL, "mode");
    ck_assert_fails(ctx, distill_model_forward(m, DISTILL_MODE_EVAL, 1, x, 1, y, 2), DISTILL_E_SHAPE, "leading");
    distill_model_destroy(m);
    ck_assert_int_eq(c.live, 1);
    distill_context_destroy(ctx);
}
END_TEST

/* A frozen MLP (the policy's real-time path, transposed weights) agrees
 * with the model's own inference; NaN in or out is DISTILL_E_NUMERIC;
 * a model with other layers is not frozen. */
START_TEST(frozen_mlp_matches_inference)
{
    static const int32_t acts[] = {DISTILL_LAYER_MISH, DISTILL_LAYER_TANH, DISTILL_LAYER_RELU, DISTILL_LAYER_GELU};
    counting_alloc c;
    distill_context *ctx = test_context(&c, 1);
    distill_layer_spec l[7];
    distill_model_options o;
    distill_model *m, *conv;
    distill__frozen *f = NULL;
    const int64_t in = _i >= 2 ? 32 : 3; /* the input the widest, or not */
    float x[5 * 32], y[5 * 4], yf[4], *scratch;
    size_t bytes;
    void *ws;
    int i, j;
    distill_layer_spec_init(&l[0], DISTILL_LAYER_DENSE), l[0].units = 17;
    distill_layer_spec_init(&l[1], acts[_i]);
    distill_layer_spec_init(&l[2], DISTILL_LAYER_DENSE), l[2].units = 9, l[2].bias = _i % 2;
    distill_layer_spec_init(&l[3], DISTILL_LAYER_SOFTPLUS);
    distill_layer_spec_init(&l[4], DISTILL_LAYER_DENSE), l[4].units = 4;
    distill_model_options_init(&o);
    o.in_c = in, o.in_h = o.in_w = 1, o.layers = l, o.n_layers = 5;
    ck_assert_status(distill_model_create(ctx, &o, &m), DISTILL_OK);
    fill_random(distill_model_params(m), distill_model_param_count(m), 7 + _i);
    fill_random(x, 5 * in, 3);
    ck_assert_status(distill_model_workspace_size(m, 5, &bytes), DISTILL_OK);
    ws = malloc(bytes);
    ck_assert_status(distill_model_infer(m, ws, bytes, 5, x, in, y, 4), DISTILL_OK);
    ck_assert_status(distill__frozen_make(m, &f), DISTILL_OK);
    scratch = malloc(sizeof(float) * (size_t)distill__frozen_scratch(f)); /* exactly: ASan sees an overrun */
    for (i = 0; i < 5; i++) {
        ck_assert_status(distill__frozen_row(f, x + in * i, yf, scratch), DISTILL_OK);
        for (j = 0; j < 4; j++) /* another summation order: close, not equal */
            ck_assert_double_eq_tol(yf[j], y[4 * i + j], 1e-5 * (1.0 + fabs(y[4 * i + j])));
    }
    x[1] = NAN;
    ck_assert_status(distill__frozen_row(f, x, yf, scratch), DISTILL_E_NUMERIC);
    x[1] = 0.5f; /* finite in, NaN out (a NaN weight) */
    distill_model_params(m)[distill_model_param_count(m) - 1] = NAN;
    distill__frozen_free(f);
    ck_assert_status(distill__frozen_make(m, &f), DISTILL_OK);
    ck_assert_status(distill__frozen_row(f, x, yf, scratch), DISTILL_E_NUMERIC);
    distill__frozen_free(f);
    distill_layer_spec_init(&l[0], DISTILL_LAYER_LAYERNORM);
    ck_assert_status(distill_model_create(ctx, &o, &conv), DISTILL_OK);
    f = (distill__frozen *)&c; /* overwritten with NULL */
    ck_assert_status(distill__frozen_make(conv, &f), DISTILL_E_UNSUPPORTED);
    ck_assert_ptr_null(f);
    free(ws), free(scratch);
    distill_model_destroy(m), distill_model_destroy(conv);
    ck_assert_int_eq(c.live, 1);
    distill_context_destroy(ctx);
}
END_TEST

Suite *distill_suite_model(void)
{
    Suite *s = suite_create("learning-model");
    TCase *tc = tcase_create("layers");
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, layer_gradients_match_finite_differences, 0, 2 * N_CASES);
    tcase_add_test(tc, stacked_network_chains_gradients);
    tcase_add_test(tc, fused_relu_pool_matches_the_layers);
    tcase_add_test(tc, relu_pool_vector_loops_are_the_portable_bits);
    tcase_add_test(tc, plane_sums_vector_loop_is_the_portable_bits);
    tcase_add_loop_test(tc, fused_bn_relu_pool_matches_finite_differences, 0, 2);
    tcase_add_loop_test(tc, fused_bn_relu_pool_is_the_layers_bit_for_bit, 0, 4);
    tcase_add_test(tc, eval_forward_weight_gradient_rebuilds_the_columns);
    tcase_add_loop_test(tc, conv_threads_share_chunks, 0, 5);
    tcase_add_loop_test(tc, conv_panels_are_the_gemm_bits, 0, 8);
    tcase_add_test(tc, chunk_shares_cover_the_batch_once);
    tcase_add_test(tc, conv_scratch_serves_smaller_batches);
    tcase_add_loop_test(tc, predict_is_the_eval_forward_bit_for_bit, 0, 3);
    tcase_add_test(tc, initialisers_have_their_distributions);
    tcase_add_test(tc, clone_copy_and_reinit);
    tcase_add_test(tc, bad_specs_and_calls);
    tcase_add_loop_test(tc, frozen_mlp_matches_inference, 0, 4);
    suite_add_tcase(s, tc);
    return s;
}
