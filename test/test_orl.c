/* Offline-RL dataset distillation: buckets, the matching gradient against
 * central differences of a float64 reference, resume, files. */
#include <math.h>
#include <stdio.h>
#include <unistd.h>

#include "testutil.h"

#define IN 3
#define HID 6
#define K 2
#define NREAL 24

/* Real data: IN-d states, action = 1 when the first two features sum > 0. */
static distill_dataset *real_data(distill_context *ctx, int k_used)
{
    float x[NREAL * IN], y[NREAL];
    distill_dataset *d = NULL;
    int i;
    fill_random(x, NREAL * IN, 77);
    for (i = 0; i < NREAL; i++)
        y[i] = k_used == 4 ? (float)(i % 3) : (float)(x[i * IN] + x[i * IN + 1] > 0);
    ck_assert_status(distill_dataset_from_memory(ctx, NREAL, IN, x, IN, 1, y, 1, DISTILL_DATASET_COPY, &d),
                     DISTILL_OK);
    return d;
}

static void mlp_layers(distill_layer_spec *l, int64_t out)
{
    distill_layer_spec_init(&l[0], DISTILL_LAYER_DENSE);
    l[0].units = HID;
    distill_layer_spec_init(&l[1], DISTILL_LAYER_TANH);
    distill_layer_spec_init(&l[2], DISTILL_LAYER_DENSE);
    l[2].units = out;
}

static distill_orl *solver(distill_context *ctx, distill_dataset *d, distill_layer_spec *l, int32_t variant,
                           int64_t m, int64_t batch, int64_t k)
{
    distill_orl_options o;
    distill_orl *s = NULL;
    distill_orl_options_init(&o);
    mlp_layers(l, k);
    o.variant = variant, o.m = m, o.n_actions = k, o.layers = l, o.n_layers = 3, o.batch = batch;
    o.student_steps = 3;
    ck_assert_status(distill_orl_create(ctx, &o, d, &s), DISTILL_OK);
    return s;
}

/* m = 7 over actions {0, 1, 2} present of 4: 3, 2, 2, 0 in action order,
 * each bucket starting as real states of its action. */
START_TEST(buckets_split_as_the_spec_says)
{
    distill_context *ctx = test_context(NULL, 1);
    distill_dataset *d = real_data(ctx, 4);
    distill_layer_spec l[3];
    distill_orl *s = solver(ctx, d, l, DISTILL_ORL_REINIT, 7, 0, 4);
    static const float want[7] = {0, 0, 0, 1, 1, 2, 2};
    float x[NREAL * IN], y[NREAL];
    int64_t m, dim, i, r;
    distill_orl_shape(s, &m, &dim, NULL);
    ck_assert(m == 7 && dim == IN);
    ck_assert_mem_eq(distill_orl_actions(s), want, sizeof want);
    ck_assert_status(distill_dataset_get_range(d, 0, NREAL, x, IN, y, 1), DISTILL_OK);
    for (i = 0; i < 7; i++) {
        int found = 0;
        for (r = 0; r < NREAL; r++)
            found |= y[r] == want[i] && memcmp(x + r * IN, distill_orl_states(s) + i * IN, sizeof(float) * IN) == 0;
        ck_assert_msg(found, "synthetic state %lld is not a real state of action %g", (long long)i, want[i]);
    }
    distill_orl_destroy(s);
    distill_dataset_destroy(d);
    distill_context_destroy(ctx);
}
END_TEST

/* ---- the float64 reference: dense(IN->HID), tanh, dense(HID->K),
 * softmax-MSE BC loss; the parameter gradient on rows of one action. */
typedef struct ref_net {
    double w1[HID * IN], b1[HID], w2[K * HID], b2[K];
} ref_net;

/* targets NULL: discrete action a (softmax MSE); else continuous targets
 * (n x K, squared error). */
static void ref_param_grad_t(const ref_net *r, const double *x, int n, int a, const double *targets, double *g)
{
    double *gw1 = g, *gb1 = g + HID * IN, *gw2 = gb1 + HID, *gb2 = gw2 + K * HID;
    int i, j, q;
    memset(g, 0, sizeof(double) * (HID * IN + HID + K * HID + K));
    for (i = 0; i < n; i++) {
        double h[HID], z[K], p[K], rr[K], pr = 0.0, zmax, tot = 0.0, dz[K], dh;
        for (j = 0; j < HID; j++) {
            double t = r->b1[j];
            for (q = 0; q < IN; q++)
                t += r->w1[j * IN + q] * x[i * IN + q];
            h[j] = tanh(t);
        }
        for (j = 0; j < K; j++) {
            z[j] = r->b2[j];
            for (q = 0; q < HID; q++)
                z[j] += r->w2[j * HID + q] * h[q];
        }
        zmax = z[0] > z[1] ? z[0] : z[1];
        for (j = 0; j < K; j++)
            tot += p[j] = exp(z[j] - zmax);
        for (j = 0; j < K; j++) {
            p[j] /= tot;
            rr[j] = 2.0 * (p[j] - (j == a)) / (n * K);
            pr += p[j] * rr[j];
        }
        for (j = 0; j < K; j++) {
            dz[j] = targets ? 2.0 * (z[j] - targets[i * K + j]) / (n * K) : p[j] * (rr[j] - pr);
            gb2[j] += dz[j];
            for (q = 0; q < HID; q++)
                gw2[j * HID + q] += dz[j] * h[q];
        }
        for (q = 0; q < HID; q++) {
            dh = 0.0;
            for (j = 0; j < K; j++)
                dh += r->w2[j * HID + q] * dz[j];
            dh *= 1.0 - h[q] * h[q];
            gb1[q] += dh;
            for (j = 0; j < IN; j++)
                gw1[q * IN + j] += dh * x[i * IN + j];
        }
    }
}

#define NP (HID * IN + HID + K * HID + K)

static void ref_param_grad(const ref_net *r, const double *x, int n, int a, double *g)
{
    ref_param_grad_t(r, x, n, a, NULL, g);
}

static void ref_from(ref_net *r, const float *p)
{
    int i;
    for (i = 0; i < HID * IN; i++)
        r->w1[i] = p[i];
    for (i = 0; i < HID; i++)
        r->b1[i] = p[HID * IN + i];
    for (i = 0; i < K * HID; i++)
        r->w2[i] = p[HID * IN + HID + i];
    for (i = 0; i < K; i++)
        r->b2[i] = p[HID * IN + HID + K * HID + i];
}

/* sum over the buckets of ||g(S_a) - g(R_a)||^2. */
static double ref_matching_loss(const ref_net *r, const double *s, const float *labels, int m, const double *real,
                                const float *ry)
{
    double loss = 0.0, gs[NP], gr[NP], xa[NREAL * IN];
    int a, i, n, j;
    for (a = 0; a < K; a++) {
        for (i = 0, n = 0; i < NREAL; i++)
            if (ry[i] == (float)a)
                memcpy(xa + IN * n++, real + i * IN, sizeof(double) * IN);
        ref_param_grad(r, xa, n, a, gr);
        for (i = 0, n = 0; i < m; i++)
            if (labels[i] == (float)a)
                memcpy(xa + IN * n++, s + i * IN, sizeof(double) * IN);
        if (n == 0)
            continue;
        ref_param_grad(r, xa, n, a, gs);
        for (j = 0; j < NP; j++)
            loss += (gs[j] - gr[j]) * (gs[j] - gr[j]);
    }
    return loss;
}

START_TEST(matching_gradient_agrees_with_float64_central_differences)
{
    distill_context *ctx = test_context(NULL, 1);
    distill_dataset *d = real_data(ctx, K);
    distill_layer_spec l[3];
    distill_orl *s = solver(ctx, d, l, DISTILL_ORL_FIXED, 6, 0, K);
    const float *p = distill_model_params((distill_model *)distill_orl_network(s));
    ref_net r;
    float xr[NREAL * IN], yr[NREAL], ds[6 * IN];
    double real[NREAL * IN], st[6 * IN], loss, ref_loss, worst = 0.0, scale = 0.0;
    int i;
    ck_assert_status(distill_orl_gradient(s, &loss, ds, IN, NULL, 0), DISTILL_OK);
    ref_from(&r, p);
    ck_assert_status(distill_dataset_get_range(d, 0, NREAL, xr, IN, yr, 1), DISTILL_OK);
    for (i = 0; i < NREAL * IN; i++)
        real[i] = xr[i];
    for (i = 0; i < 6 * IN; i++)
        st[i] = distill_orl_states(s)[i];
    ref_loss = ref_matching_loss(&r, st, distill_orl_actions(s), 6, real, yr);
    ck_assert_msg(fabs(loss - ref_loss) <= 1e-4 * ref_loss + 1e-12, "loss %g, reference %g", loss, ref_loss);
    for (i = 0; i < 6 * IN; i++) {
        const double x0 = st[i], h = 1e-4;
        double lp, lm, fd;
        st[i] = x0 + h;
        lp = ref_matching_loss(&r, st, distill_orl_actions(s), 6, real, yr);
        st[i] = x0 - h;
        lm = ref_matching_loss(&r, st, distill_orl_actions(s), 6, real, yr);
        st[i] = x0;
        fd = (lp - lm) / (2 * h);
        scale = fabs(fd) > scale ? fabs(fd) : scale;
        worst = fabs(fd - ds[i]) > worst ? fabs(fd - ds[i]) : worst;
    }
    ck_assert_msg(scale > 0 && worst <= 2e-2 * scale, "state gradient off by %g (largest %g)", worst, scale);
    distill_orl_destroy(s);
    distill_dataset_destroy(d);
    distill_context_destroy(ctx);
}
END_TEST

/* Steps lower the matching loss of a fixed network; a checkpoint resumes
 * bit-identically for each variant, in a solver made later (another stream). */
START_TEST(resume_is_bit_identical_for_every_variant)
{
    distill_context *ctx = test_context(NULL, 1);
    distill_dataset *d = real_data(ctx, K);
    distill_layer_spec l[3];
    char path[64];
    int32_t variant;
    snprintf(path, sizeof path, "/tmp/distill_orl_%d.ck", (int)getpid());
    for (variant = DISTILL_ORL_FIXED; variant <= DISTILL_ORL_STUDENT; variant++) {
        distill_orl *a = solver(ctx, d, l, variant, 4, 5, K), *b;
        double first, loss;
        float end[4 * IN];
        int i;
        ck_assert_status(distill_orl_step(a, &first), DISTILL_OK);
        ck_assert_status(distill_orl_run(a, 3), DISTILL_OK);
        ck_assert_status(distill_orl_checkpoint(a, path), DISTILL_OK);
        ck_assert_status(distill_orl_run(a, 8), DISTILL_OK);
        memcpy(end, distill_orl_states(a), sizeof end);
        b = solver(ctx, d, l, variant, 4, 5, K);
        ck_assert_status(distill_orl_resume(b, path), DISTILL_OK);
        ck_assert_int_eq(distill_orl_steps_done(b), 3);
        ck_assert_status(distill_orl_run(b, 8), DISTILL_OK);
        ck_assert_msg(memcmp(end, distill_orl_states(b), sizeof end) == 0, "variant %d resumed differently",
                      (int)variant);
        if (variant == DISTILL_ORL_FIXED) {
            distill_orl_destroy(a);
            a = solver(ctx, d, l, variant, 4, 0, K); /* whole buckets: a fixed objective */
            ck_assert_status(distill_orl_gradient(a, &first, NULL, 0, NULL, 0), DISTILL_OK);
            for (i = 0; i < 40; i++)
                ck_assert_status(distill_orl_step(a, NULL), DISTILL_OK);
            ck_assert_status(distill_orl_gradient(a, &loss, NULL, 0, NULL, 0), DISTILL_OK);
            ck_assert_msg(loss < 0.5 * first, "40 steps took the matching loss from %g to %g", first, loss);
        }
        distill_orl_destroy(a);
        distill_orl_destroy(b);
    }
    unlink(path);
    distill_dataset_destroy(d);
    distill_context_destroy(ctx);
}
END_TEST

START_TEST(distilled_set_files_and_bad_input)
{
    counting_alloc ca;
    distill_context *ctx = test_context(&ca, 1);
    distill_dataset *d = real_data(ctx, K), *loaded = NULL, *ds = NULL;
    distill_layer_spec l[3];
    distill_orl *s = solver(ctx, d, l, DISTILL_ORL_REINIT, 4, 8, K);
    distill_orl_options o;
    distill_orl *bad = NULL;
    char path[64];
    float x[4 * IN], y[4], nan_states[4 * IN];
    snprintf(path, sizeof path, "/tmp/distill_orl_set_%d.dstl", (int)getpid());
    ck_assert_status(distill_orl_run(s, 4), DISTILL_OK);
    ck_assert_status(distill_orl_save(s, path), DISTILL_OK);
    ck_assert_status(distill_distilled_load(ctx, path, &loaded), DISTILL_OK);
    ck_assert_status(distill_dataset_get_range(loaded, 0, 4, x, IN, y, 1), DISTILL_OK);
    ck_assert_mem_eq(x, distill_orl_states(s), sizeof x);
    ck_assert_mem_eq(y, distill_orl_actions(s), sizeof y);
    ck_assert_status(distill_orl_dataset(s, &ds), DISTILL_OK);
    ck_assert_int_eq(distill_dataset_count(ds), 4);
    distill_dataset_destroy(loaded), loaded = NULL; /* the dataset's own file: the same rows back */
    ck_assert_status(distill_dataset_save(ds, path), DISTILL_OK);
    ck_assert_status(distill_distilled_load(ctx, path, &loaded), DISTILL_OK);
    ck_assert_status(distill_dataset_get_range(loaded, 0, 4, x, IN, y, 1), DISTILL_OK);
    ck_assert_mem_eq(x, distill_orl_states(s), sizeof x);
    ck_assert_mem_eq(y, distill_orl_actions(s), sizeof y);
    ck_assert_fails(ctx, distill_orl_resume(s, path), DISTILL_E_FORMAT, "");
    memcpy(nan_states, x, sizeof x);
    nan_states[2] = NAN;
    ck_assert_fails(ctx, distill_orl_set_states(s, nan_states, IN), DISTILL_E_NUMERIC, "states");
    ck_assert_mem_eq(x, distill_orl_states(s), sizeof x);
    distill_orl_options_init(&o);
    mlp_layers(l, 3);
    o.n_actions = 2, o.layers = l, o.n_layers = 3; /* a network of 3 outputs */
    ck_assert_fails(ctx, distill_orl_create(ctx, &o, d, &bad), DISTILL_E_SHAPE, "outputs");
    o.n_actions = 1;
    ck_assert_fails(ctx, distill_orl_create(ctx, &o, d, &bad), DISTILL_E_INVAL, "n_actions");
    ck_assert_fails(ctx, distill_orl_run(s, -1), DISTILL_E_INVAL, "until");
    ck_assert_ptr_null(bad);
    unlink(path);
    distill_orl_destroy(s);
    distill_dataset_destroy(d), distill_dataset_destroy(loaded), distill_dataset_destroy(ds);
    distill_context_destroy(ctx);
    ck_assert_int_eq(ca.live, 0);
}
END_TEST

/* Continuous actions (one bucket, squared error): the state and action
 * gradients against central differences of the float64 reference. */
#define MC 5
static double ref_cont_loss(const ref_net *r, const double *s, const double *act, const double *real,
                            const double *ry)
{
    double gs[NP], gr[NP], loss = 0.0;
    int j;
    ref_param_grad_t(r, real, NREAL, 0, ry, gr);
    ref_param_grad_t(r, s, MC, 0, act, gs);
    for (j = 0; j < NP; j++)
        loss += (gs[j] - gr[j]) * (gs[j] - gr[j]);
    return loss;
}

START_TEST(continuous_gradients_agree_with_float64_central_differences)
{
    distill_context *ctx = test_context(NULL, 1);
    float x[NREAL * IN], y[NREAL * K], ds[MC * IN], da[MC * K];
    double real[NREAL * IN], ry[NREAL * K], st[MC * IN], act[MC * K], loss, worst_s = 0, worst_a = 0, scale_s = 0,
                                                                      scale_a = 0;
    distill_layer_spec l[3];
    distill_orl_options o;
    distill_dataset *d = NULL;
    distill_orl *s = NULL;
    ref_net r;
    int i, q;
    fill_random(x, NREAL * IN, 5);
    for (i = 0; i < NREAL; i++)
        y[i * K] = x[i * IN] - x[i * IN + 1], y[i * K + 1] = 0.5f * x[i * IN + 2];
    ck_assert_status(distill_dataset_from_memory(ctx, NREAL, IN, x, IN, K, y, K, DISTILL_DATASET_COPY, &d), DISTILL_OK);
    distill_orl_options_init(&o);
    mlp_layers(l, K);
    o.variant = DISTILL_ORL_FIXED, o.m = MC, o.n_actions = 0, o.learn_actions = 1, o.layers = l, o.n_layers = 3;
    o.batch = 0;
    ck_assert_status(distill_orl_create(ctx, &o, d, &s), DISTILL_OK);
    ck_assert_status(distill_orl_gradient(s, &loss, ds, IN, da, K), DISTILL_OK);
    ref_from(&r, distill_model_params((distill_model *)distill_orl_network(s)));
    for (i = 0; i < NREAL * IN; i++)
        real[i] = x[i];
    for (i = 0; i < NREAL * K; i++)
        ry[i] = y[i];
    for (i = 0; i < MC * IN; i++)
        st[i] = distill_orl_states(s)[i];
    for (i = 0; i < MC * K; i++)
        act[i] = distill_orl_actions(s)[i];
    ck_assert(fabs(loss - ref_cont_loss(&r, st, act, real, ry)) <= 1e-4 * loss + 1e-12);
    for (q = 0; q < 2; q++) {
        double *v = q ? act : st, h = 1e-4;
        const float *got = q ? da : ds;
        for (i = 0; i < (q ? MC * K : MC * IN); i++) {
            const double v0 = v[i];
            double lp, lm, fd;
            v[i] = v0 + h, lp = ref_cont_loss(&r, st, act, real, ry);
            v[i] = v0 - h, lm = ref_cont_loss(&r, st, act, real, ry);
            v[i] = v0;
            fd = (lp - lm) / (2 * h);
            if (q)
                scale_a = fabs(fd) > scale_a ? fabs(fd) : scale_a, worst_a = fmax(worst_a, fabs(fd - got[i]));
            else
                scale_s = fabs(fd) > scale_s ? fabs(fd) : scale_s, worst_s = fmax(worst_s, fabs(fd - got[i]));
        }
    }
    ck_assert_msg(worst_s <= 2e-2 * scale_s && worst_a <= 2e-2 * scale_a,
                  "states off by %g of %g, actions off by %g of %g", worst_s, scale_s, worst_a, scale_a);
    distill_orl_destroy(s);
    distill_dataset_destroy(d);
    distill_context_destroy(ctx);
}
END_TEST

/* angle_pairs: states stay on the circle through the steps. */
START_TEST(angle_parametrised_states_stay_valid)
{
    distill_context *ctx = test_context(NULL, 1);
    float x[NREAL * IN], y[NREAL];
    distill_layer_spec l[3];
    distill_orl_options o;
    distill_dataset *d = NULL;
    distill_orl *s = NULL;
    int i;
    fill_random(x, NREAL * IN, 6);
    for (i = 0; i < NREAL; i++) {
        const double th = 3.0 * x[i * IN];
        x[i * IN] = (float)cos(th), x[i * IN + 1] = (float)sin(th), y[i] = (float)(0.3 * th);
    }
    ck_assert_status(distill_dataset_from_memory(ctx, NREAL, IN, x, IN, 1, y, 1, DISTILL_DATASET_COPY, &d), DISTILL_OK);
    distill_orl_options_init(&o);
    mlp_layers(l, 1);
    o.m = 4, o.n_actions = 0, o.angle_pairs = 1, o.layers = l, o.n_layers = 3, o.lr = 0.05, o.batch = 8;
    ck_assert_status(distill_orl_create(ctx, &o, d, &s), DISTILL_OK);
    ck_assert_status(distill_orl_run(s, 20), DISTILL_OK);
    for (i = 0; i < 4; i++) {
        const float *st = distill_orl_states(s) + i * IN;
        ck_assert_msg(fabs((double)st[0] * st[0] + (double)st[1] * st[1] - 1.0) < 1e-5, "state %d left the circle", i);
    }
    distill_orl_destroy(s);
    distill_dataset_destroy(d);
    distill_context_destroy(ctx);
}
END_TEST

/* Continuous actions, fixed: a solver made after other handles (another
 * stream, other starting rows) resumes to the same states and actions. */
START_TEST(continuous_resume_restores_the_actions)
{
    distill_context *ctx = test_context(NULL, 1);
    float x[NREAL * IN], y[NREAL * K], end_s[4 * IN], end_a[4 * K];
    distill_layer_spec l[3];
    distill_orl_options o;
    distill_dataset *d = NULL, *other = NULL;
    distill_orl *a = NULL, *b = NULL;
    char path[64];
    int i;
    snprintf(path, sizeof path, "/tmp/distill_orl_cont_%d.ck", (int)getpid());
    fill_random(x, NREAL * IN, 8);
    for (i = 0; i < NREAL * K; i++)
        y[i] = x[i % (NREAL * IN)];
    ck_assert_status(distill_dataset_from_memory(ctx, NREAL, IN, x, IN, K, y, K, DISTILL_DATASET_COPY, &d), DISTILL_OK);
    distill_orl_options_init(&o);
    mlp_layers(l, K);
    o.m = 4, o.n_actions = 0, o.layers = l, o.n_layers = 3, o.batch = 6;
    ck_assert_status(distill_orl_create(ctx, &o, d, &a), DISTILL_OK);
    ck_assert_status(distill_orl_run(a, 2), DISTILL_OK);
    ck_assert_status(distill_orl_checkpoint(a, path), DISTILL_OK);
    ck_assert_status(distill_orl_run(a, 5), DISTILL_OK);
    memcpy(end_s, distill_orl_states(a), sizeof end_s);
    memcpy(end_a, distill_orl_actions(a), sizeof end_a);
    ck_assert_status(distill_dataset_subset(d, (const int64_t[]){0, 1}, 2, &other), DISTILL_OK);
    ck_assert_status(distill_orl_create(ctx, &o, d, &b), DISTILL_OK);
    ck_assert_status(distill_orl_resume(b, path), DISTILL_OK);
    ck_assert_status(distill_orl_run(b, 5), DISTILL_OK);
    ck_assert_mem_eq(end_a, distill_orl_actions(b), sizeof end_a);
    ck_assert_mem_eq(end_s, distill_orl_states(b), sizeof end_s);
    unlink(path);
    distill_orl_destroy(a), distill_orl_destroy(b);
    distill_dataset_destroy(other), distill_dataset_destroy(d);
    distill_context_destroy(ctx);
}
END_TEST

/* Same seed and thread count: the same states, in two fresh contexts. */
START_TEST(same_seed_gives_identical_states)
{
    float first[4 * IN];
    int run;
    for (run = 0; run < 2; run++) {
        distill_context *ctx = test_context(NULL, 2);
        distill_dataset *d = real_data(ctx, K);
        distill_layer_spec l[3];
        distill_orl *s = solver(ctx, d, l, DISTILL_ORL_REINIT, 4, 6, K);
        ck_assert_status(distill_orl_run(s, 7), DISTILL_OK);
        if (run == 0)
            memcpy(first, distill_orl_states(s), sizeof first);
        else
            ck_assert_msg(memcmp(first, distill_orl_states(s), sizeof first) == 0, "a second run differs");
        distill_orl_destroy(s);
        distill_dataset_destroy(d);
        distill_context_destroy(ctx);
    }
}
END_TEST

Suite *distill_suite_orl(void)
{
    Suite *s = suite_create("orl");
    TCase *tc = tcase_create("orl");
    tcase_add_test(tc, buckets_split_as_the_spec_says);
    tcase_add_test(tc, matching_gradient_agrees_with_float64_central_differences);
    tcase_add_test(tc, resume_is_bit_identical_for_every_variant);
    tcase_add_test(tc, distilled_set_files_and_bad_input);
    tcase_add_test(tc, continuous_gradients_agree_with_float64_central_differences);
    tcase_add_test(tc, angle_parametrised_states_stay_valid);
    tcase_add_test(tc, same_seed_gives_identical_states);
    tcase_add_test(tc, continuous_resume_restores_the_actions);
    suite_add_tcase(s, tc);
    return s;
}
