/* solvers: knowledge distillation.  The loss of every mode and preset
 * against a double-precision reference and central finite differences,
 * the Hinton identity, rows without a label or without x*, teachers as
 * model / callback / outputs, determinism, teacher training, the grid
 * search, a student that learns from privileged information, bad input. */
#include <stdio.h>
#include <unistd.h>

#include "testutil.h"

enum { ROWS = 12, D = 5, DS = 4, K = 3 };

static distill_model *linear(distill_context *ctx, int64_t in, int64_t out, int32_t init)
{
    distill_layer_spec l;
    distill_model_options mo;
    distill_model *m;
    distill_layer_spec_init(&l, DISTILL_LAYER_DENSE);
    l.units = out, l.init = init;
    distill_model_options_init(&mo);
    mo.in_c = in, mo.in_h = mo.in_w = 1, mo.layers = &l, mo.n_layers = 1;
    ck_assert_status(distill_model_create(ctx, &mo, &m), DISTILL_OK);
    return m;
}

/* Rows: x (D), x* (DS; row 2 NaN = no x*), labels (row 1 NaN = none) or
 * regression targets (some entries NaN), teacher outputs from x*. */
typedef struct fixture {
    float x[ROWS * D], xs[ROWS * DS], lab[ROWS], y[ROWS * K], zt[ROWS * K];
} fixture;

static void make_fixture(fixture *f)
{
    int i, j;
    fill_random(f->x, ROWS * D, 1), fill_random(f->xs, ROWS * DS, 2);
    fill_random(f->y, ROWS * K, 3), fill_random(f->zt, ROWS * K, 4);
    for (i = 0; i < ROWS * K; i++)
        f->zt[i] *= 3.0f;
    for (i = 0; i < ROWS; i++)
        f->lab[i] = (float)(i % K);
    f->lab[1] = NAN, f->lab[5] = -1.0f;
    for (j = 0; j < DS; j++)
        f->xs[2 * DS + j] = NAN;
    for (j = 0; j < K; j++)
        f->zt[2 * K + j] = NAN;
    f->y[1 * K + 0] = f->y[1 * K + 1] = f->y[1 * K + 2] = NAN;
    f->y[4 * K + 1] = NAN;
}

/* softmax(row / t)[j] in double, for a float row of K logits */
static double soft_d(const float *row, double t, int j)
{
    double z[K];
    int c;
    for (c = 0; c < K; c++)
        z[c] = row[c];
    return exp(z[j] / t - ref_lse(z, K, 1 / t));
}

typedef struct ref {
    const fixture *f;
    int32_t mode;
    double t, lambda, st, scale;
} ref;

/* The loss of z (n x K) for rows idx, from the definitions in kd.h. */
static double ref_loss(const ref *r, int n, const int64_t *idx, const double *z)
{
    double sum = 0;
    int i, j;
    for (i = 0; i < n; i++) {
        const int64_t row = idx[i];
        const double *zi = z + i * K;
        double zt[K], s[K];
        const int has_xs = !isnan(r->f->zt[row * K]);
        for (j = 0; j < K; j++)
            zt[j] = r->f->zt[row * K + j];
        if (r->mode == DISTILL_KD_REGRESSION) {
            for (j = 0; j < K; j++) {
                const double y = r->f->y[row * K + j];
                if (!isnan(y))
                    sum += (1 - r->lambda) * (zi[j] - y) * (zi[j] - y) / K;
                if (has_xs)
                    sum += r->lambda * r->scale * (zi[j] - zt[j] / r->t) * (zi[j] - zt[j] / r->t) / K;
            }
            continue;
        }
        if (!isnan(r->f->lab[row]) && r->f->lab[row] >= 0)
            sum += (1 - r->lambda) * (ref_lse(zi, K, 1) - zi[(int)r->f->lab[row]]);
        if (!has_xs)
            continue;
        if (r->mode == DISTILL_KD_LOGITS) {
            for (j = 0; j < K; j++)
                sum += r->lambda * r->scale * (zi[j] - zt[j]) * (zi[j] - zt[j]) / K;
            continue;
        }
        for (j = 0; j < K; j++)
            s[j] = exp(zt[j] / r->t - ref_lse(zt, K, 1 / r->t));
        for (j = 0; j < K; j++) {
            sum -= r->lambda * r->scale * s[j] * (zi[j] / r->st - ref_lse(zi, K, 1 / r->st));
            if (r->mode == DISTILL_KD_POLICY)
                sum += r->lambda * r->scale * s[j] * log(s[j]);
        }
    }
    return sum / n;
}

static distill_kd *fixture_solver(distill_context *ctx, const fixture *f, const distill_kd_options *o,
                                  distill_model **student, distill_dataset **train)
{
    const int regression = o->mode == DISTILL_KD_REGRESSION;
    distill_kd *kd;
    *student = linear(ctx, D, K, DISTILL_INIT_DEFAULT);
    ck_assert_status(distill_dataset_from_memory(ctx, ROWS, D, f->x, D, regression ? K : 1,
                                                 regression ? f->y : f->lab, regression ? K : 1,
                                                 DISTILL_DATASET_COPY, train), DISTILL_OK);
    ck_assert_status(distill_kd_create(ctx, o, *student, *train, NULL, &kd), DISTILL_OK);
    return kd;
}

/* Every mode x preset: the loss against the reference, dL/dz against
 * central differences of the reference in double. */
START_TEST(loss_of_every_mode_and_preset_matches_finite_differences)
{
    const int32_t mode = _i % 5, preset = _i / 5;
    static const int64_t idx[7] = {0, 1, 2, 4, 7, 9, 11};
    enum { N = 7 };
    distill_context *ctx = test_context(NULL, 1);
    distill_kd_options o;
    distill_model *student;
    distill_dataset *train;
    distill_kd *kd;
    fixture f;
    float zf[N * K], dz[N * K], loss;
    double z[N * K], g[N * K], h = 1e-6;
    ref r;
    int i;
    make_fixture(&f);
    distill_kd_options_init(&o);
    o.mode = mode, o.preset = preset, o.temperature = mode == DISTILL_KD_POLICY ? 0.5 : 3.0;
    o.lambda = 0.35, o.student_t = 2.5, o.soft_scale = 0.7, o.batch = 8;
    o.teacher_outputs = f.zt, o.teacher_ld = K;
    kd = fixture_solver(ctx, &f, &o, &student, &train);
    r.f = &f, r.mode = mode, r.t = o.temperature, r.lambda = o.lambda;
    ck_assert_status(distill_kd_options_weights(&o, &r.st, &r.scale), DISTILL_OK);
    if (preset == DISTILL_KD_PRESET_HINTON2015)
        ck_assert(r.st == o.temperature && r.scale == o.temperature * o.temperature);
    if (preset == DISTILL_KD_PRESET_LOPEZPAZ2016 ||
        (preset == DISTILL_KD_PRESET_DEFAULT && mode <= DISTILL_KD_CLASSIC))
        ck_assert(r.st == 1.0 && r.scale == o.temperature * o.temperature);
    fill_random(zf, N * K, 50 + _i);
    for (i = 0; i < N * K; i++)
        z[i] = zf[i] *= 2.0f;
    ck_assert_status(distill_kd_loss_grad_rows(kd, N, idx, zf, K, &loss, dz, K), DISTILL_OK);
    ck_assert_msg(fabs(loss - ref_loss(&r, N, idx, z)) < 1e-5 * (1 + fabs(loss)), "mode %d preset %d: loss %g vs %g",
                  mode, preset, loss, ref_loss(&r, N, idx, z));
    for (i = 0; i < N * K; i++) {
        double lp, lm;
        z[i] = zf[i] + h, lp = ref_loss(&r, N, idx, z);
        z[i] = zf[i] - h, lm = ref_loss(&r, N, idx, z);
        z[i] = zf[i], g[i] = (lp - lm) / (2 * h);
    }
    ck_assert_msg(rel_err_fd(dz, g, N * K) < 1e-4, "mode %d preset %d: gradient rel err %g", mode, preset,
                  rel_err_fd(dz, g, N * K));
    distill_kd_destroy(kd), distill_model_destroy(student), distill_dataset_destroy(train);
    distill_context_destroy(ctx);
}
END_TEST

/* hinton2015 at lambda = 1: dL/dz = (1/T)(q - s) T^2 / n, q = softmax(z/T). */
START_TEST(hinton_identity)
{
    static const int64_t idx[4] = {0, 3, 6, 9};
    const double t = 4.0;
    distill_context *ctx = test_context(NULL, 1);
    distill_kd_options o;
    distill_model *student;
    distill_dataset *train;
    distill_kd *kd;
    fixture f;
    float z[4 * K], dz[4 * K], loss;
    int i, j;
    make_fixture(&f);
    distill_kd_options_init(&o);
    o.mode = DISTILL_KD_CLASSIC, o.preset = DISTILL_KD_PRESET_HINTON2015, o.temperature = t, o.lambda = 1;
    o.teacher_outputs = f.zt, o.teacher_ld = K;
    kd = fixture_solver(ctx, &f, &o, &student, &train);
    fill_random(z, 4 * K, 9);
    ck_assert_status(distill_kd_loss_grad_rows(kd, 4, idx, z, K, &loss, dz, K), DISTILL_OK);
    for (i = 0; i < 4; i++)
        for (j = 0; j < K; j++) {
            const double q = soft_d(z + i * K, t, j), s = soft_d(f.zt + idx[i] * K, t, j);
            ck_assert_double_eq_tol(dz[i * K + j], (1 / t) * (q - s) * t * t / 4, 1e-6);
        }
    distill_kd_destroy(kd), distill_model_destroy(student), distill_dataset_destroy(train);
    distill_context_destroy(ctx);
}
END_TEST

/* Row 1 has no label: only the soft term.  Row 2 has no x*: only the hard
 * term.  Row 5's label is negative: no label either. */
START_TEST(missing_rows_contribute_only_the_right_term)
{
    static const int64_t idx[3] = {1, 2, 5};
    const double t = 2.0, lambda = 0.3;
    distill_context *ctx = test_context(NULL, 1);
    distill_kd_options o;
    distill_model *student;
    distill_dataset *train;
    distill_kd *kd;
    fixture f;
    float z[3 * K], dz[3 * K], loss;
    int i, j;
    make_fixture(&f);
    distill_kd_options_init(&o);
    o.temperature = t, o.lambda = lambda, o.mode = DISTILL_KD_CLASSIC; /* lopezpaz2016: q = p, scale T^2 */
    o.teacher_outputs = f.zt, o.teacher_ld = K;
    kd = fixture_solver(ctx, &f, &o, &student, &train);
    fill_random(z, 3 * K, 10);
    ck_assert_status(distill_kd_loss_grad_rows(kd, 3, idx, z, K, &loss, dz, K), DISTILL_OK);
    for (i = 0; i < 3; i++)
        for (j = 0; j < K; j++) {
            const double p = soft_d(z + i * K, 1, j);
            const double want = idx[i] == 2 ? (1 - lambda) * (p - (j == 2 % K)) / 3 /* hard only: label 2 % K */
                                            : lambda * t * t * (p - soft_d(f.zt + idx[i] * K, t, j)) / 3;
            ck_assert_double_eq_tol(dz[i * K + j], want, 1e-6);
        }
    ck_assert(distill_kd_soft_targets(kd)[2 * K] == 0.0f && isnan(distill_kd_teacher_outputs(kd)[2 * K]));
    distill_kd_destroy(kd), distill_model_destroy(student), distill_dataset_destroy(train);
    distill_context_destroy(ctx);
}
END_TEST

/* ---- a teacher as a model, a callback, or outputs ---- */

typedef struct cb_teacher {
    distill_model *m;
    int fail_after, calls, released;
} cb_teacher;

static int cb_embed(void *user, int64_t n, const float *x, int64_t ldx, float *out, int64_t ldout)
{
    cb_teacher *t = user;
    if (t->fail_after >= 0 && t->calls++ >= t->fail_after)
        return 1;
    return distill_model_forward(t->m, DISTILL_MODE_EVAL, n, x, ldx, out, ldout) != DISTILL_OK;
}

static void cb_release(void *user) { ((cb_teacher *)user)->released++; }

/* The fixture's rows as datasets: x with labels, and x*. */
static void fixture_sets(distill_context *ctx, const fixture *f, distill_dataset **train,
                         distill_dataset **priv)
{
    ck_assert_status(distill_dataset_from_memory(ctx, ROWS, D, f->x, D, 1, f->lab, 1, DISTILL_DATASET_COPY, train),
                     DISTILL_OK);
    ck_assert_status(distill_dataset_from_memory(ctx, ROWS, DS, f->xs, DS, 0, NULL, 0, DISTILL_DATASET_COPY, priv),
                     DISTILL_OK);
}

START_TEST(teacher_as_model_callback_or_outputs_agree)
{
    distill_context *ctx = test_context(NULL, 1);
    distill_model *teacher = linear(ctx, DS, K, DISTILL_INIT_DEFAULT), *student = linear(ctx, D, K, 0);
    distill_dataset *train, *priv;
    distill_kd_options o;
    distill_kd *a, *b, *c;
    distill_teacher_vtable fn = {sizeof(distill_teacher_vtable), NULL, cb_embed, cb_release};
    cb_teacher ct = {NULL, -1, 0, 0};
    fixture f;
    float zt[ROWS * K];
    int i;
    make_fixture(&f);
    ct.m = teacher, fn.user = &ct;
    fixture_sets(ctx, &f, &train, &priv);
    distill_kd_options_init(&o);
    o.temperature = 5;
    o.teacher = teacher;
    ck_assert_status(distill_kd_create(ctx, &o, student, train, priv, &a), DISTILL_OK);
    o.teacher = NULL, o.teacher_fn = &fn;
    ck_assert_status(distill_kd_create(ctx, &o, student, train, priv, &b), DISTILL_OK);
    ck_assert_int_eq(ct.released, 1); /* run once at create, then released */
    memcpy(zt, distill_kd_teacher_outputs(a), sizeof zt);
    o.teacher_fn = NULL, o.teacher_outputs = zt, o.teacher_ld = K;
    ck_assert_status(distill_kd_create(ctx, &o, student, train, NULL, &c), DISTILL_OK);
    for (i = 0; i < ROWS * K; i++) {
        const float sa = distill_kd_soft_targets(a)[i];
        ck_assert(sa == distill_kd_soft_targets(b)[i] && sa == distill_kd_soft_targets(c)[i]);
    }
    ck_assert(isnan(zt[2 * K]) && zt[0] == zt[0]); /* row 2 has no x*: no teacher output */
    distill_kd_destroy(b);
    ck_assert_int_eq(ct.released, 1);
    /* a failing callback: DISTILL_E_BACKEND, no solver */
    ct.fail_after = 0, ct.calls = 0;
    o.teacher_outputs = NULL, o.teacher_fn = &fn;
    b = (distill_kd *)&ct;
    ck_assert_fails(ctx, distill_kd_create(ctx, &o, student, train, priv, &b), DISTILL_E_BACKEND, "teacher");
    ck_assert_ptr_null(b);
    ck_assert_int_eq(ct.released, 2);
    distill_kd_destroy(a), distill_kd_destroy(c);
    distill_model_destroy(teacher), distill_model_destroy(student);
    distill_dataset_destroy(train), distill_dataset_destroy(priv);
    distill_context_destroy(ctx);
}
END_TEST

/* The teacher handle made three ways gives the same soft targets as 0.1's
 * fields; KD drops its reference at create (release runs when the host
 * drops its own); a 0.1-size options struct still creates a solver. */
START_TEST(teacher_handle_and_01_options)
{
    distill_context *ctx = test_context(NULL, 1);
    distill_model *teacher = linear(ctx, DS, K, DISTILL_INIT_DEFAULT), *student = linear(ctx, D, K, 0);
    distill_dataset *train, *priv;
    distill_kd_options o;
    void *o01;
    distill_kd *a, *b;
    distill_teacher *h[3];
    distill_teacher_vtable fn = {sizeof(distill_teacher_vtable), NULL, cb_embed, cb_release};
    cb_teacher ct = {NULL, -1, 0, 0};
    fixture f;
    int i, j;
    make_fixture(&f);
    ct.m = teacher, fn.user = &ct;
    fixture_sets(ctx, &f, &train, &priv);
    distill_kd_options_init(&o);
    o.temperature = 5, o.teacher = teacher;
    ck_assert_status(distill_kd_create(ctx, &o, student, train, priv, &a), DISTILL_OK);
    ck_assert_status(distill_teacher_from_model(ctx, teacher, &h[0]), DISTILL_OK);
    ck_assert_status(distill_teacher_from_vtable(ctx, &fn, DS, K, &h[1]), DISTILL_OK);
    ck_assert_status(distill_teacher_from_outputs(ctx, ROWS, K, distill_kd_teacher_outputs(a), K, &h[2]),
                     DISTILL_OK);
    ck_assert_int_eq(distill_teacher_rows(h[2]), ROWS);
    ck_assert_int_eq(distill_teacher_input_dim(h[0]), DS);
    /* exactly one teacher */
    o.teacher_handle = h[0];
    ck_assert_fails(ctx, distill_kd_create(ctx, &o, student, train, priv, &b), DISTILL_E_INVAL, "exactly one");
    o.teacher = NULL;
    for (j = 0; j < 3; j++) {
        o.teacher_handle = h[j];
        ck_assert_status(distill_kd_create(ctx, &o, student, train, j == 2 ? NULL : priv, &b), DISTILL_OK);
        for (i = 0; i < ROWS * K; i++)
            ck_assert(distill_kd_soft_targets(a)[i] == distill_kd_soft_targets(b)[i]);
        distill_kd_destroy(b);
    }
    ck_assert_int_eq(ct.released, 0);  /* the host still holds the handle */
    distill_teacher_destroy(h[1]);
    ck_assert_int_eq(ct.released, 1);  /* its last reference */
    /* a handle serves its own context's solvers */
    {
        distill_context *other = test_context(NULL, 1);
        distill_teacher *foreign;
        ck_assert_status(distill_teacher_from_outputs(other, ROWS, K, distill_kd_teacher_outputs(a), K,
                                                      &foreign), DISTILL_OK);
        o.teacher_handle = foreign;
        ck_assert_fails(ctx, distill_kd_create(ctx, &o, student, train, NULL, &b), DISTILL_E_INVAL,
                        "another context");
        distill_teacher_destroy(foreign);
        distill_context_destroy(other);
    }
    /* optimiser options from a later release (a zero tail) are read, not copied whole */
    {
        unsigned char later[sizeof(distill_optimizer_options) + 64];
        distill_optimizer_options oo;
        const uint32_t size = sizeof later;
        distill_optimizer_options_init(&oo);
        oo.kind = DISTILL_OPTIM_ADAM;
        memset(later, 0, sizeof later);
        memcpy(later, &oo, sizeof oo);
        memcpy(later, &size, sizeof size);
        o.teacher_handle = h[2], o.optimizer = (const distill_optimizer_options *)(void *)later;
        ck_assert_status(distill_kd_create(ctx, &o, student, train, NULL, &b), DISTILL_OK);
        distill_kd_destroy(b);
        o.optimizer = NULL;
    }
    distill_teacher_destroy(h[0]), distill_teacher_destroy(h[2]);
    /* 0.1's struct size, ending exactly where 0.1's struct ended */
    o.teacher_handle = NULL, o.teacher = teacher;
    o01 = test_struct_at_size(&o, offsetof(distill_kd_options, teacher_handle));
    ck_assert_status(distill_kd_create(ctx, o01, student, train, priv, &b), DISTILL_OK);
    for (i = 0; i < ROWS * K; i++)
        ck_assert(distill_kd_soft_targets(a)[i] == distill_kd_soft_targets(b)[i]);
    distill_kd_destroy(b), free(o01);
    distill_kd_destroy(a);
    distill_model_destroy(teacher), distill_model_destroy(student);
    distill_dataset_destroy(train), distill_dataset_destroy(priv);
    distill_context_destroy(ctx);
}
END_TEST

/* ---- the synthetic problem of gd.md (experiment 1, clean labels) ---- */

typedef struct gauss {
    uint64_t s;
} gauss;

static double uniform01(gauss *g)
{
    g->s = g->s * 6364136223846793005ull + 1442695040888963407ull;
    return ((g->s >> 11) + 0.5) / 9007199254740992.0;
}

static float normal(gauss *g)
{
    const double u = uniform01(g), v = uniform01(g);
    return (float)(sqrt(-2 * log(u)) * cos(6.283185307179586 * v));
}

enum { SD = 50, STR = 200, STE = 2000 };

/* x ~ N(0, I); x* = <alpha, x>; y = 1[x* + eps > 0]; both standardised on
 * the training rows. */
static void clean_labels(uint64_t seed, float *x, float *xs, float *y, int n, const float *alpha)
{
    gauss g = {seed};
    int i, j;
    for (i = 0; i < n; i++) {
        double dot = 0;
        for (j = 0; j < SD; j++)
            dot += alpha[j] * (x[i * SD + j] = normal(&g));
        xs[i] = (float)dot;
        y[i] = dot + normal(&g) > 0 ? 1.0f : 0.0f;
    }
}

static void standardise(float *a, int d, int n_fit, int n)
{
    int i, j;
    for (j = 0; j < d; j++) {
        double m = 0, v = 0;
        for (i = 0; i < n_fit; i++)
            m += a[i * d + j];
        m /= n_fit;
        for (i = 0; i < n_fit; i++)
            v += (a[i * d + j] - m) * (a[i * d + j] - m);
        v = sqrt(v / n_fit);
        for (i = 0; i < n; i++)
            a[i * d + j] = (float)((a[i * d + j] - m) / v);
    }
}

/* The distilled student beats the student alone by a wide margin, as in
 * the paper (95 vs 88); the teacher is near 96. */
START_TEST(student_learns_from_privileged_information)
{
    distill_context *ctx = test_context(NULL, 1);
    double acc[3] = {0, 0, 0};
    int rep, arm;
    for (rep = 0; rep < 3; rep++) {
        const int n = STR + STE;
        float *x = malloc(sizeof(float) * n * SD), *xs = malloc(sizeof(float) * n), *y = malloc(sizeof(float) * n);
        float alpha[SD];
        gauss g = {1000 + rep};
        distill_dataset *tr, *tp, *te, *tep;
        distill_kd_options o;
        distill_model *teacher = linear(ctx, 1, 2, DISTILL_INIT_GLOROT_UNIFORM);
        double a;
        for (int j = 0; j < SD; j++)
            alpha[j] = normal(&g);
        clean_labels(77 + rep, x, xs, y, n, alpha);
        standardise(x, SD, STR, n), standardise(xs, 1, STR, n);
        ck_assert_status(distill_dataset_from_memory(ctx, STR, SD, x, SD, 1, y, 1, 1, &tr), DISTILL_OK);
        ck_assert_status(distill_dataset_from_memory(ctx, STR, 1, xs, 1, 1, y, 1, 1, &tp), DISTILL_OK);
        ck_assert_status(distill_dataset_from_memory(ctx, STE, SD, x + STR * SD, SD, 1, y + STR, 1, 1, &te), DISTILL_OK);
        ck_assert_status(distill_dataset_from_memory(ctx, STE, 1, xs + STR, 1, 1, y + STR, 1, 1, &tep), DISTILL_OK);
        distill_kd_options_init(&o);
        o.epochs = 1000, o.temperature = 1, o.lambda = 1, o.seed = (uint64_t)rep;
        ck_assert_status(distill_kd_train_teacher(ctx, &o, teacher, tr, tp), DISTILL_OK);
        ck_assert_status(distill_kd_score(ctx, o.mode, teacher, tep, &a), DISTILL_OK);
        acc[0] += a / 3;
        o.teacher = teacher;
        for (arm = 1; arm < 3; arm++) {
            distill_model *student = linear(ctx, SD, 2, DISTILL_INIT_GLOROT_UNIFORM);
            distill_kd *kd;
            o.lambda = arm == 1 ? 0.0 : 1.0;
            ck_assert_status(distill_kd_create(ctx, &o, student, tr, tp, &kd), DISTILL_OK);
            ck_assert_status(distill_kd_run(kd, 0), DISTILL_OK);
            ck_assert_int_eq(distill_kd_steps_done(kd), 2000);
            ck_assert_status(distill_kd_score(ctx, o.mode, student, te, &a), DISTILL_OK);
            acc[arm] += a / 3;
            distill_kd_destroy(kd), distill_model_destroy(student);
        }
        distill_model_destroy(teacher);
        distill_dataset_destroy(tr), distill_dataset_destroy(tp), distill_dataset_destroy(te), distill_dataset_destroy(tep);
        free(x), free(xs), free(y);
    }
    ck_assert_msg(acc[0] > 0.93 && acc[2] > acc[1] + 0.04 && acc[2] > 0.92,
                  "privileged %.3f regular %.3f distilled %.3f", acc[0], acc[1], acc[2]);
    distill_context_destroy(ctx);
}
END_TEST

/* Same seeds: bit-identical students; another solver seed: another batch
 * order, so another student. */
START_TEST(same_seed_gives_identical_students)
{
    distill_context *ctx = test_context(NULL, 1 + _i); /* one thread, then two */
    distill_dataset *train, *priv;
    distill_model *teacher = linear(ctx, DS, K, 0), *s0 = linear(ctx, D, K, 0), *s[3];
    distill_kd_options o;
    fixture f;
    int64_t np = distill_model_param_count(s0);
    int i;
    make_fixture(&f);
    ck_assert_status(distill_dataset_from_memory(ctx, ROWS, D, f.x, D, 1, f.lab, 1, 1, &train), DISTILL_OK);
    ck_assert_status(distill_dataset_from_memory(ctx, ROWS, DS, f.xs, DS, 0, NULL, 0, 1, &priv), DISTILL_OK);
    distill_kd_options_init(&o);
    o.teacher = teacher, o.batch = 5, o.epochs = 7, o.temperature = 2;
    for (i = 0; i < 3; i++) {
        distill_kd *kd;
        double loss;
        ck_assert_status(distill_model_clone(s0, &s[i]), DISTILL_OK);
        o.seed = i == 2 ? 99 : 0;
        ck_assert_status(distill_kd_create(ctx, &o, s[i], train, priv, &kd), DISTILL_OK);
        ck_assert_status(distill_kd_run(kd, 0), DISTILL_OK);
        ck_assert_int_eq(distill_kd_steps_done(kd), 7 * 3);
        loss = distill_kd_recent_loss(kd);
        ck_assert(isfinite(loss) && isnan(distill_kd_recent_loss(kd)));
        distill_kd_destroy(kd);
    }
    ck_assert(memcmp(distill_model_params(s[0]), distill_model_params(s[1]), sizeof(float) * np) == 0);
    ck_assert(memcmp(distill_model_params(s[0]), distill_model_params(s[2]), sizeof(float) * np) != 0);
    ck_assert(memcmp(distill_model_params(s[0]), distill_model_params(s0), sizeof(float) * np) != 0);
    for (i = 0; i < 3; i++)
        distill_model_destroy(s[i]);
    distill_model_destroy(teacher), distill_model_destroy(s0);
    distill_dataset_destroy(train), distill_dataset_destroy(priv);
    distill_context_destroy(ctx);
}
END_TEST

/* The teacher trains on the rows with both a label and x* only: the same
 * as training on those rows alone. */
START_TEST(teacher_trains_on_rows_with_label_and_privileged_input)
{
    distill_context *ctx = test_context(NULL, 1);
    distill_dataset *train, *priv, *clean_x, *clean_p;
    distill_model *t0 = linear(ctx, DS, K, 0), *a, *b;
    distill_kd_options o;
    fixture f;
    float xs[ROWS * DS], lab[ROWS], x[ROWS * D];
    int64_t m = 0, i, np = distill_model_param_count(t0);
    make_fixture(&f);
    for (i = 0; i < ROWS; i++)
        if (!isnan(f.lab[i]) && f.lab[i] >= 0 && !isnan(f.xs[i * DS])) {
            memcpy(xs + m * DS, f.xs + i * DS, sizeof(float) * DS);
            memcpy(x + m * D, f.x + i * D, sizeof(float) * D);
            lab[m++] = f.lab[i];
        }
    ck_assert_int_eq(m, ROWS - 3);
    ck_assert_status(distill_dataset_from_memory(ctx, ROWS, D, f.x, D, 1, f.lab, 1, 1, &train), DISTILL_OK);
    ck_assert_status(distill_dataset_from_memory(ctx, ROWS, DS, f.xs, DS, 0, NULL, 0, 1, &priv), DISTILL_OK);
    ck_assert_status(distill_dataset_from_memory(ctx, m, D, x, D, 1, lab, 1, 1, &clean_x), DISTILL_OK);
    ck_assert_status(distill_dataset_from_memory(ctx, m, DS, xs, DS, 0, NULL, 0, 1, &clean_p), DISTILL_OK);
    ck_assert_status(distill_model_clone(t0, &a), DISTILL_OK);
    ck_assert_status(distill_model_clone(t0, &b), DISTILL_OK);
    distill_kd_options_init(&o);
    o.batch = 4, o.epochs = 5;
    ck_assert_status(distill_kd_train_teacher(ctx, &o, a, train, priv), DISTILL_OK);
    ck_assert_status(distill_kd_train_teacher(ctx, &o, b, clean_x, clean_p), DISTILL_OK);
    ck_assert(memcmp(distill_model_params(a), distill_model_params(b), sizeof(float) * np) == 0);
    ck_assert(memcmp(distill_model_params(a), distill_model_params(t0), sizeof(float) * np) != 0);
    distill_model_destroy(t0), distill_model_destroy(a), distill_model_destroy(b);
    distill_dataset_destroy(train), distill_dataset_destroy(priv);
    distill_dataset_destroy(clean_x), distill_dataset_destroy(clean_p);
    distill_context_destroy(ctx);
}
END_TEST

/* The grid search scores every pair, picks the best, is reproducible and
 * leaves the student alone; with no validation set it holds out a fifth. */
START_TEST(grid_search_picks_the_best_pair)
{
    static const double ts[2] = {1, 5}, ls[3] = {0, 0.5, 1};
    distill_context *ctx = test_context(NULL, 1);
    distill_dataset *train, *priv, *val;
    distill_model *teacher = linear(ctx, DS, K, 0), *student = linear(ctx, D, K, 0), *before;
    distill_kd_options o;
    fixture f;
    double sc[6], sc2[6], bt, bl, bt2, bl2, best = -1;
    int i;
    make_fixture(&f);
    ck_assert_status(distill_model_clone(student, &before), DISTILL_OK);
    ck_assert_status(distill_dataset_from_memory(ctx, ROWS, D, f.x, D, 1, f.lab, 1, 1, &train), DISTILL_OK);
    ck_assert_status(distill_dataset_from_memory(ctx, ROWS, DS, f.xs, DS, 0, NULL, 0, 1, &priv), DISTILL_OK);
    ck_assert_status(distill_dataset_from_memory(ctx, 6, D, f.x + 6 * D, D, 1, f.lab + 6, 1, 1, &val), DISTILL_OK);
    distill_kd_options_init(&o);
    o.teacher = teacher, o.batch = 4, o.epochs = 20;
    o.optimizer = NULL;
    ck_assert_status(distill_kd_grid_search(ctx, &o, student, train, priv, val, ts, 2, ls, 3, sc, &bt, &bl), DISTILL_OK);
    ck_assert_status(distill_kd_grid_search(ctx, &o, student, train, priv, val, ts, 2, ls, 3, sc2, &bt2, &bl2), DISTILL_OK);
    for (i = 0; i < 6; i++) {
        ck_assert(sc[i] >= 0 && sc[i] <= 1 && sc[i] == sc2[i]);
        best = sc[i] > best ? sc[i] : best;
    }
    ck_assert(bt == bt2 && bl == bl2);
    for (i = 0; i < 6 && sc[i] != best; i++)
        ;
    ck_assert(bt == ts[i / 3] && bl == ls[i % 3]); /* the first pair with the best score */
    ck_assert(memcmp(distill_model_params(student), distill_model_params(before),
                     sizeof(float) * distill_model_param_count(student)) == 0);
    ck_assert_status(distill_kd_grid_search(ctx, &o, student, train, priv, NULL, ts, 2, ls, 3, NULL, &bt, &bl), DISTILL_OK);
    /* a held-out fifth, in regression mode (continuous scores): the teacher as a model or as its
     * outputs (rows aligned with train) give the same grid */
    {
        distill_dataset *reg;
        distill_kd *k1;
        float zt[ROWS * K];
        ck_assert_status(distill_dataset_from_memory(ctx, ROWS, D, f.x, D, K, f.y, K, 1, &reg), DISTILL_OK);
        o.mode = DISTILL_KD_REGRESSION;
        ck_assert_status(distill_kd_grid_search(ctx, &o, student, reg, priv, NULL, ts, 2, ls, 3, sc, &bt, &bl),
                         DISTILL_OK);
        ck_assert_status(distill_kd_create(ctx, &o, student, reg, priv, &k1), DISTILL_OK);
        memcpy(zt, distill_kd_teacher_outputs(k1), sizeof zt);
        distill_kd_destroy(k1);
        o.teacher = NULL, o.teacher_outputs = zt, o.teacher_ld = K;
        ck_assert_status(distill_kd_grid_search(ctx, &o, student, reg, NULL, NULL, ts, 2, ls, 3, sc2, &bt2, &bl2),
                         DISTILL_OK);
        for (i = 0; i < 6; i++)
            ck_assert_msg(sc[i] == sc2[i], "pair %d: MSE %g (model) vs %g (outputs)", i, sc[i], sc2[i]);
        ck_assert(sc[0] != sc[2]); /* lambda matters: the scores are not all alike */
        distill_dataset_destroy(reg);
    }
    ck_assert_fails(ctx, distill_kd_grid_search(ctx, &o, student, train, priv, NULL, ts, 0, ls, 3, NULL, &bt, &bl),
                    DISTILL_E_INVAL, "temperature");
    distill_model_destroy(teacher), distill_model_destroy(student), distill_model_destroy(before);
    distill_dataset_destroy(train), distill_dataset_destroy(priv), distill_dataset_destroy(val);
    distill_context_destroy(ctx);
}
END_TEST

/* A progress callback that cancels at step 7 of "kd". */
static int cancel_at_7(void *user, const char *stage, int64_t done, int64_t total)
{
    (void)total;
    return strcmp(stage, "kd") == 0 && done == 7 && (*(int *)user)++ == 0;
}

/* distill_kd_run stops between steps when cancelled and goes on from
 * there; the result equals an uninterrupted run. */
START_TEST(run_cancels_between_steps_and_resumes)
{
    distill_context *ctx = test_context(NULL, 1);
    distill_dataset *train;
    distill_model *a = linear(ctx, D, K, 0), *b;
    distill_kd_options o;
    distill_kd *ka, *kb;
    fixture f;
    int calls = 0;
    make_fixture(&f);
    ck_assert_status(distill_model_clone(a, &b), DISTILL_OK);
    ck_assert_status(distill_dataset_from_memory(ctx, ROWS, D, f.x, D, 1, f.lab, 1, 1, &train), DISTILL_OK);
    distill_kd_options_init(&o);
    o.mode = DISTILL_KD_CLASSIC, o.teacher_outputs = f.zt, o.teacher_ld = K, o.batch = 4, o.epochs = 5;
    ck_assert_status(distill_kd_create(ctx, &o, a, train, NULL, &ka), DISTILL_OK);
    ck_assert_status(distill_kd_create(ctx, &o, b, train, NULL, &kb), DISTILL_OK);
    distill_context_set_progress(ctx, cancel_at_7, &calls);
    ck_assert_fails(ctx, distill_kd_run(ka, 0), DISTILL_E_CANCELLED, "cancel");
    ck_assert_int_eq(distill_kd_steps_done(ka), 7);
    ck_assert_fails(ctx, distill_kd_run(ka, 0), DISTILL_E_CANCELLED, "cancelled"); /* the flag stays up */
    ck_assert_int_eq(distill_kd_steps_done(ka), 7);                                /* and no step ran */
    distill_context_reset_cancel(ctx);
    ck_assert_status(distill_kd_run(ka, 0), DISTILL_OK);
    distill_context_set_progress(ctx, NULL, NULL);
    ck_assert_status(distill_kd_run(kb, 0), DISTILL_OK);
    ck_assert_int_eq(distill_kd_steps_done(ka), 15);
    ck_assert(memcmp(distill_model_params(a), distill_model_params(b), sizeof(float) * distill_model_param_count(a)) == 0);
    distill_kd_destroy(ka), distill_kd_destroy(kb);
    distill_model_destroy(a), distill_model_destroy(b), distill_dataset_destroy(train);
    distill_context_destroy(ctx);
}
END_TEST

/* A checkpoint taken mid-run and resumed into a fresh solver continues
 * bit-identically; a truncated or mismatched file changes nothing. */
START_TEST(checkpoint_resumes_bit_identically)
{
    char path[64], trunc[64];
    distill_context *ctx = test_context(NULL, 1);
    distill_dataset *train;
    distill_model *s0 = linear(ctx, D, K, 0), *a, *b;
    distill_kd_options o;
    distill_kd *ka, *kb, *kc;
    fixture f;
    float before[(D + 1) * K];
    const int64_t np = distill_model_param_count(s0);
    FILE *fp;
    unsigned char buf[4096];
    size_t len;
    make_fixture(&f);
    snprintf(path, sizeof path, "/tmp/distill_kd_%d.dstl", (int)getpid());
    snprintf(trunc, sizeof trunc, "/tmp/distill_kd_%d_t.dstl", (int)getpid());
    ck_assert_status(distill_model_clone(s0, &a), DISTILL_OK);
    ck_assert_status(distill_model_clone(s0, &b), DISTILL_OK);
    ck_assert_status(distill_dataset_from_memory(ctx, ROWS, D, f.x, D, 1, f.lab, 1, 1, &train), DISTILL_OK);
    distill_kd_options_init(&o);
    o.mode = DISTILL_KD_CLASSIC, o.teacher_outputs = f.zt, o.teacher_ld = K, o.batch = 5, o.epochs = 8;
    o.temperature = 3, o.seed = 4;
    ck_assert_status(distill_kd_create(ctx, &o, a, train, NULL, &ka), DISTILL_OK);
    ck_assert_status(distill_kd_run(ka, 3), DISTILL_OK); /* 9 steps: mid-epoch state matters */
    ck_assert_status(distill_kd_step(ka, NULL), DISTILL_OK);
    ck_assert_status(distill_kd_checkpoint(ka, path), DISTILL_OK);
    ck_assert_status(distill_kd_run(ka, 0), DISTILL_OK);
    ck_assert_status(distill_kd_create(ctx, &o, b, train, NULL, &kb), DISTILL_OK);
    /* a truncated copy: E_FORMAT, nothing changed */
    fp = fopen(path, "rb");
    len = fread(buf, 1, sizeof buf, fp);
    fclose(fp);
    fp = fopen(trunc, "wb");
    ck_assert_uint_eq(fwrite(buf, 1, len - 9, fp), len - 9);
    fclose(fp);
    memcpy(before, distill_model_params(b), sizeof(float) * np);
    ck_assert_fails(ctx, distill_kd_resume(kb, trunc), DISTILL_E_FORMAT, trunc);
    ck_assert(memcmp(before, distill_model_params(b), sizeof(float) * np) == 0 && distill_kd_steps_done(kb) == 0);
    /* another seed: another batch order, refused */
    o.seed = 5;
    ck_assert_status(distill_kd_create(ctx, &o, b, train, NULL, &kc), DISTILL_OK);
    ck_assert_fails(ctx, distill_kd_resume(kc, path), DISTILL_E_FORMAT, "seed");
    distill_kd_destroy(kc);
    ck_assert_status(distill_kd_resume(kb, path), DISTILL_OK);
    ck_assert_int_eq(distill_kd_steps_done(kb), 10);
    ck_assert_status(distill_kd_run(kb, 0), DISTILL_OK);
    ck_assert_int_eq(distill_kd_steps_done(kb), distill_kd_steps_done(ka));
    ck_assert(memcmp(distill_model_params(a), distill_model_params(b), sizeof(float) * np) == 0);
    unlink(path), unlink(trunc);
    distill_kd_destroy(ka), distill_kd_destroy(kb);
    distill_model_destroy(s0), distill_model_destroy(a), distill_model_destroy(b), distill_dataset_destroy(train);
    distill_context_destroy(ctx);
}
END_TEST

/* A host data source: the fixture's rows through the backend vtable. */
static int host_count(void *user, int64_t *n)
{
    (void)user;
    *n = ROWS;
    return 0;
}

static int host_load(void *user, const int64_t *idx, int64_t n, float *x, int64_t ldx, float *y, int64_t ldy)
{
    const fixture *f = user;
    int64_t i;
    for (i = 0; i < n; i++) {
        memcpy(x + i * ldx, f->x + idx[i] * D, sizeof(float) * D);
        if (y)
            y[i * ldy] = f->lab[idx[i]];
    }
    return 0;
}

/* The same training through a host backend as from memory: bit-identical. */
START_TEST(trains_from_a_host_backend)
{
    distill_context *ctx = test_context(NULL, 1);
    fixture f;
    distill_backend b = {sizeof b, 0, NULL, "host", host_count, host_load, NULL};
    distill_dataset *mem, *host;
    distill_model *s0 = linear(ctx, D, K, 0), *a, *c;
    distill_kd_options o;
    distill_kd *ka, *kc;
    make_fixture(&f);
    b.user = &f;
    ck_assert_status(distill_dataset_from_memory(ctx, ROWS, D, f.x, D, 1, f.lab, 1, 1, &mem), DISTILL_OK);
    ck_assert_status(distill_dataset_from_backend(ctx, &b, D, 1, &host), DISTILL_OK);
    ck_assert_status(distill_model_clone(s0, &a), DISTILL_OK);
    ck_assert_status(distill_model_clone(s0, &c), DISTILL_OK);
    distill_kd_options_init(&o);
    o.mode = DISTILL_KD_CLASSIC, o.teacher_outputs = f.zt, o.teacher_ld = K, o.batch = 5, o.epochs = 4;
    ck_assert_status(distill_kd_create(ctx, &o, a, mem, NULL, &ka), DISTILL_OK);
    ck_assert_status(distill_kd_create(ctx, &o, c, host, NULL, &kc), DISTILL_OK);
    ck_assert_status(distill_kd_run(ka, 0), DISTILL_OK);
    ck_assert_status(distill_kd_run(kc, 0), DISTILL_OK);
    ck_assert(memcmp(distill_model_params(a), distill_model_params(c),
                     sizeof(float) * distill_model_param_count(a)) == 0);
    distill_kd_destroy(ka), distill_kd_destroy(kc);
    distill_model_destroy(s0), distill_model_destroy(a), distill_model_destroy(c);
    distill_dataset_destroy(mem), distill_dataset_destroy(host);
    distill_context_destroy(ctx);
}
END_TEST

/* Scoring leaves out rows without a label and rows with a NaN input. */
START_TEST(score_skips_rows_without_label_or_input)
{
    distill_context *ctx = test_context(NULL, 1);
    distill_model *m = linear(ctx, DS, K, 0);
    distill_dataset *all, *clean;
    fixture f;
    float xs[ROWS * DS], lab[ROWS];
    int64_t i, n = 0;
    double a, b;
    make_fixture(&f); /* row 2: NaN x*; rows 1 and 5: no label */
    for (i = 0; i < ROWS; i++)
        if (!isnan(f.xs[i * DS]) && f.lab[i] >= 0) {
            memcpy(xs + n * DS, f.xs + i * DS, sizeof(float) * DS);
            lab[n++] = f.lab[i];
        }
    ck_assert_status(distill_dataset_from_memory(ctx, ROWS, DS, f.xs, DS, 1, f.lab, 1, 1, &all), DISTILL_OK);
    ck_assert_status(distill_dataset_from_memory(ctx, n, DS, xs, DS, 1, lab, 1, 1, &clean), DISTILL_OK);
    ck_assert_status(distill_kd_score(ctx, DISTILL_KD_GENERALIZED, m, all, &a), DISTILL_OK);
    ck_assert_status(distill_kd_score(ctx, DISTILL_KD_GENERALIZED, m, clean, &b), DISTILL_OK);
    ck_assert(a == b && n == ROWS - 3);
    distill_model_destroy(m), distill_dataset_destroy(all), distill_dataset_destroy(clean);
    distill_context_destroy(ctx);
}
END_TEST

START_TEST(bad_input_gets_a_clear_status)
{
    distill_context *ctx = test_context(NULL, 1);
    distill_dataset *train, *priv, *short_priv, *bad_lab;
    distill_model *teacher = linear(ctx, DS, K, 0), *student = linear(ctx, D, K, 0), *wide = linear(ctx, D, K + 1, 0);
    distill_kd_options o;
    distill_kd *kd = NULL;
    fixture f;
    float lab[ROWS], zt[ROWS * K], z[K], loss;
    int64_t row = 0;
    double score;
    make_fixture(&f);
    memcpy(lab, f.lab, sizeof lab);
    lab[3] = 1.5f;
    memcpy(zt, f.zt, sizeof zt);
    zt[4] = INFINITY;
    ck_assert_status(distill_dataset_from_memory(ctx, ROWS, D, f.x, D, 1, f.lab, 1, 1, &train), DISTILL_OK);
    ck_assert_status(distill_dataset_from_memory(ctx, ROWS, DS, f.xs, DS, 0, NULL, 0, 1, &priv), DISTILL_OK);
    ck_assert_status(distill_dataset_from_memory(ctx, 5, DS, f.xs, DS, 0, NULL, 0, 1, &short_priv), DISTILL_OK);
    ck_assert_status(distill_dataset_from_memory(ctx, ROWS, D, f.x, D, 1, lab, 1, 1, &bad_lab), DISTILL_OK);
    distill_kd_options_init(&o);
    o.teacher = teacher;
    ck_assert_status(distill_kd_create(NULL, &o, student, train, priv, &kd), DISTILL_E_INVAL);
    ck_assert_fails(ctx, distill_kd_create(ctx, NULL, student, train, priv, &kd), DISTILL_E_INVAL, "opts");
    ck_assert_fails(ctx, distill_kd_create(ctx, &o, NULL, train, priv, &kd), DISTILL_E_INVAL, "model");
    ck_assert_fails(ctx, distill_kd_create(ctx, &o, student, train, short_priv, &kd), DISTILL_E_SHAPE, "privileged");
    ck_assert_fails(ctx, distill_kd_create(ctx, &o, student, train, NULL, &kd), DISTILL_E_INVAL, "privileged");
    ck_assert_fails(ctx, distill_kd_create(ctx, &o, student, bad_lab, priv, &kd), DISTILL_E_INVAL, "label 1.5");
    ck_assert_fails(ctx, distill_kd_create(ctx, &o, wide, train, priv, &kd), DISTILL_E_SHAPE, "outputs");
    ck_assert_fails(ctx, distill_kd_create(ctx, &o, student, train, train, &kd), DISTILL_E_SHAPE, "features");
    o.mode = DISTILL_KD_CLASSIC;
    ck_assert_fails(ctx, distill_kd_create(ctx, &o, student, train, priv, &kd), DISTILL_E_INVAL, "classic");
    o.mode = DISTILL_KD_GENERALIZED, o.teacher_outputs = f.zt, o.teacher_ld = K;
    ck_assert_fails(ctx, distill_kd_create(ctx, &o, student, train, NULL, &kd), DISTILL_E_INVAL, "exactly one");
    o.teacher = NULL, o.teacher_outputs = zt;
    ck_assert_fails(ctx, distill_kd_create(ctx, &o, student, train, NULL, &kd), DISTILL_E_NUMERIC, "infinite");
    o.teacher_outputs = f.zt, o.lambda = 1.5;
    ck_assert_fails(ctx, distill_kd_create(ctx, &o, student, train, NULL, &kd), DISTILL_E_INVAL, "lambda");
    o.lambda = 0.5, o.temperature = NAN;
    ck_assert_fails(ctx, distill_kd_create(ctx, &o, student, train, NULL, &kd), DISTILL_E_INVAL, "temperature");
    o.temperature = 1e-9; /* the kernels work in float: z / T must stay representable */
    ck_assert_fails(ctx, distill_kd_create(ctx, &o, student, train, NULL, &kd), DISTILL_E_INVAL, "temperature");
    o.temperature = 2, o.preset = DISTILL_KD_PRESET_CUSTOM, o.soft_scale = 1e13;
    ck_assert_fails(ctx, distill_kd_create(ctx, &o, student, train, NULL, &kd), DISTILL_E_INVAL, "soft_scale");
    o.preset = DISTILL_KD_PRESET_DEFAULT;
    o.temperature = 1, o.mode = 9;
    ck_assert_fails(ctx, distill_kd_create(ctx, &o, student, train, NULL, &kd), DISTILL_E_INVAL, "mode");
    o.mode = 0, o.struct_size = 8;
    ck_assert_fails(ctx, distill_kd_create(ctx, &o, student, train, NULL, &kd), DISTILL_E_ABI, "struct_size");
    ck_assert_ptr_null(kd);
    distill_kd_options_init(&o);
    o.teacher_outputs = f.zt, o.teacher_ld = K;
    ck_assert_status(distill_kd_create(ctx, &o, student, train, NULL, &kd), DISTILL_OK);
    row = ROWS;
    fill_random(z, K, 3);
    ck_assert_fails(ctx, distill_kd_loss_grad_rows(kd, 1, &row, z, K, &loss, NULL, 0), DISTILL_E_INVAL, "row 12");
    z[1] = NAN, row = 0;
    ck_assert_fails(ctx, distill_kd_loss_grad_rows(kd, 1, &row, z, K, &loss, NULL, 0), DISTILL_E_NUMERIC, "Z");
    ck_assert_fails(ctx, distill_kd_score(ctx, 0, student, priv, &score), DISTILL_E_SHAPE, "test rows");
    ck_assert_fails(ctx, distill_kd_train_teacher(ctx, &o, teacher, priv, NULL), DISTILL_E_INVAL, "no labels");
    distill_kd_destroy(kd);
    distill_model_destroy(teacher), distill_model_destroy(student), distill_model_destroy(wide);
    distill_dataset_destroy(train), distill_dataset_destroy(priv), distill_dataset_destroy(short_priv);
    distill_dataset_destroy(bad_lab);
    distill_context_destroy(ctx);
}
END_TEST

/* Policy distillation: a linear Q-function's softmax(Q / 0.1) taught to a
 * student with no action labels; it picks the teacher's greedy action. */
START_TEST(policy_distillation_matches_the_greedy_action)
{
    enum { NS = 400, S = 4, A = 3 };
    distill_context *ctx = test_context(NULL, 1);
    float x[2 * NS * S], q[2 * NS * A], w[A * S], z[NS * A];
    distill_model *student = linear(ctx, S, A, DISTILL_INIT_GLOROT_UNIFORM);
    distill_dataset *train;
    distill_kd_options o;
    distill_optimizer_options oo;
    distill_kd *kd;
    int i, a, agree = 0;
    fill_random(x, 2 * NS * S, 21), fill_random(w, A * S, 22);
    distill_optimizer_options_init(&oo);
    oo.kind = DISTILL_OPTIM_ADAM, oo.lr = 1e-2;
    for (i = 0; i < 2 * NS; i++)
        for (a = 0; a < A; a++) {
            q[i * A + a] = 0;
            for (int j = 0; j < S; j++)
                q[i * A + a] += 4 * w[a * S + j] * x[i * S + j];
        }
    ck_assert_status(distill_dataset_from_memory(ctx, NS, S, x, S, 0, NULL, 0, 1, &train), DISTILL_OK);
    distill_kd_options_init(&o);
    o.mode = DISTILL_KD_POLICY, o.temperature = 0.1, o.lambda = 1, o.epochs = 500, o.batch = 32, o.optimizer = &oo;
    o.teacher_outputs = q, o.teacher_ld = A;
    ck_assert_status(distill_kd_create(ctx, &o, student, train, NULL, &kd), DISTILL_OK);
    ck_assert_status(distill_kd_run(kd, 0), DISTILL_OK);
    ck_assert_status(distill_model_forward(student, DISTILL_MODE_EVAL, NS, x + NS * S, S, z, A), DISTILL_OK);
    for (i = 0; i < NS; i++) { /* held-out states */
        int bs = 0, bt = 0;
        for (a = 1; a < A; a++) {
            bs = z[i * A + a] > z[i * A + bs] ? a : bs;
            bt = q[(NS + i) * A + a] > q[(NS + i) * A + bt] ? a : bt;
        }
        agree += bs == bt;
    }
    ck_assert_msg(agree > 0.93 * NS, "the student takes the teacher's action in %d of %d states", agree, NS);
    distill_kd_destroy(kd), distill_model_destroy(student), distill_dataset_destroy(train);
    distill_context_destroy(ctx);
}
END_TEST

/* Regression distillation: the teacher's output is the clean target, the
 * labels are very noisy; imitating the teacher predicts the clean target
 * better than fitting the labels. */
START_TEST(regression_distillation_denoises)
{
    enum { NR = 60, NT = 500, R = 5 };
    distill_context *ctx = test_context(NULL, 1);
    float x[(NR + NT) * R], clean[NR + NT], y[NR], noise[NR], a[R], z[NT];
    distill_dataset *train;
    distill_kd_options o;
    double mse[2];
    int i, arm;
    fill_random(x, (NR + NT) * R, 31), fill_random(a, R, 32), fill_random(noise, NR, 33);
    for (i = 0; i < NR + NT; i++) {
        clean[i] = 0;
        for (int j = 0; j < R; j++)
            clean[i] += 2 * a[j] * x[i * R + j];
        if (i < NR)
            y[i] = clean[i] + 6 * noise[i];
    }
    ck_assert_status(distill_dataset_from_memory(ctx, NR, R, x, R, 1, y, 1, 1, &train), DISTILL_OK);
    for (arm = 0; arm < 2; arm++) {
        distill_model *student = linear(ctx, R, 1, DISTILL_INIT_ZEROS);
        distill_optimizer_options oo;
        distill_kd *kd;
        distill_optimizer_options_init(&oo);
        oo.kind = DISTILL_OPTIM_ADAM, oo.lr = 0.05;
        distill_kd_options_init(&o);
        o.mode = DISTILL_KD_REGRESSION, o.lambda = arm, o.temperature = 1, o.epochs = 200, o.batch = 20;
        o.optimizer = &oo, o.teacher_outputs = clean, o.teacher_ld = 1;
        ck_assert_status(distill_kd_create(ctx, &o, student, train, NULL, &kd), DISTILL_OK);
        ck_assert_status(distill_kd_run(kd, 0), DISTILL_OK);
        ck_assert_status(distill_model_forward(student, DISTILL_MODE_EVAL, NT, x + NR * R, R, z, 1), DISTILL_OK);
        for (i = 0, mse[arm] = 0; i < NT; i++)
            mse[arm] += (z[i] - clean[NR + i]) * (double)(z[i] - clean[NR + i]) / NT;
        distill_kd_destroy(kd), distill_model_destroy(student);
    }
    ck_assert_msg(mse[1] < 0.1 * mse[0] && mse[1] < 0.05, "MSE to the clean target: labels %g, teacher %g", mse[0],
                  mse[1]);
    distill_dataset_destroy(train);
    distill_context_destroy(ctx);
}
END_TEST

Suite *distill_suite_kd(void)
{
    Suite *s = suite_create("solvers-kd");
    TCase *tc = tcase_create("kd");
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, loss_of_every_mode_and_preset_matches_finite_differences, 0, 20);
    tcase_add_test(tc, hinton_identity);
    tcase_add_test(tc, missing_rows_contribute_only_the_right_term);
    tcase_add_test(tc, teacher_as_model_callback_or_outputs_agree);
    tcase_add_test(tc, teacher_handle_and_01_options);
    tcase_add_loop_test(tc, same_seed_gives_identical_students, 0, 2);
    tcase_add_test(tc, teacher_trains_on_rows_with_label_and_privileged_input);
    tcase_add_test(tc, grid_search_picks_the_best_pair);
    tcase_add_test(tc, run_cancels_between_steps_and_resumes);
    tcase_add_test(tc, checkpoint_resumes_bit_identically);
    tcase_add_test(tc, trains_from_a_host_backend);
    tcase_add_test(tc, score_skips_rows_without_label_or_input);
    tcase_add_test(tc, bad_input_gets_a_clear_status);
    tcase_add_test(tc, student_learns_from_privileged_information);
    tcase_add_test(tc, policy_distillation_matches_the_greedy_action);
    tcase_add_test(tc, regression_distillation_denoises);
    suite_add_tcase(s, tc);
    return s;
}
