/* bench_gd_synthetic: the four synthetic experiments of Lopez-Paz et al.
 * (2016), exactly as the "Reproducible specification" of gd.md: d = 50,
 * 200 training and 10 000 test points, features standardised on the
 * training split, 2-class softmax regression (Glorot-uniform weights, zero
 * bias) trained by RMSprop (lr 1e-3, rho 0.9, eps 1e-6 inside the square
 * root, batch 128, 1000 epochs = 2000 updates), T = lambda = 1, fresh
 * alpha and data in each of 100 repetitions.
 *
 * Usage: bench_gd_synthetic [reps] (default 100, or $GD_REPS).  The last
 * line is one JSON object: for each experiment [privileged, regular,
 * distilled] mean test accuracies (fractions), their standard deviations,
 * the paper's numbers and the largest gap to them in points. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_util.h"
#include "distill/distill.h"

enum { D = 50, NTR = 200, NTE = 10000, NEXP = 4 };

static const char *const names[NEXP] = {"clean_labels", "clean_features", "relevant_features",
                                        "sample_relevant"};
static const double paper[NEXP][3] = {{0.96, 0.88, 0.95}, {0.90, 0.68, 0.70}, {0.98, 0.89, 0.97},
                                      {0.96, 0.55, 0.56}};

typedef struct problem {
    int ds;            /* privileged features */
    float *x, *xs, *y; /* NTR + NTE rows: training first */
} problem;

static void die(distill_context *ctx, const char *what)
{
    fprintf(stderr, "bench_gd_synthetic: %s: %s\n", what, ctx ? distill_context_last_error(ctx) : "");
    exit(1);
}

static int cmp_double(const void *a, const void *b)
{
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Experiment 4's label: <alpha_{1:3}, x*> above its median over the split. */
static void median_labels(const double *q, float *y, int n)
{
    double *s = malloc(sizeof(double) * (size_t)n), med;
    int i;
    memcpy(s, q, sizeof(double) * (size_t)n);
    qsort(s, (size_t)n, sizeof(double), cmp_double);
    med = n % 2 ? s[n / 2] : 0.5 * (s[n / 2 - 1] + s[n / 2]);
    for (i = 0; i < n; i++)
        y[i] = q[i] > med ? 1.0f : 0.0f;
    free(s);
}

/* The three largest entries of x, in descending order. */
static void top3(const float *x, float *out)
{
    int j, a;
    out[0] = out[1] = out[2] = -1e30f;
    for (j = 0; j < D; j++)
        for (a = 0; a < 3; a++)
            if (x[j] > out[a]) {
                memmove(out + a + 1, out + a, sizeof(float) * (size_t)(2 - a));
                out[a] = x[j];
                break;
            }
}

static void make_problem(int e, int rep, problem *p)
{
    const int n = NTR + NTE;
    bench_rng r = {0x5eedull * (unsigned long long)(e + 1) + 7919ull * (unsigned long long)rep};
    double alpha[D], *q = malloc(sizeof(double) * (size_t)n);
    int i, j, J[3];
    for (j = 0; j < D; j++)
        alpha[j] = bench_normal(&r);
    p->ds = e == 1 ? D : e == 0 ? 1 : 3;
    for (i = 0; i < 3; i++) /* experiment 3: three distinct relevant features */
        do {
            J[i] = (int)(bench_uniform(&r) * D);
        } while ((i > 0 && J[i] == J[0]) || (i > 1 && J[i] == J[1]));
    for (i = 0; i < n; i++) {
        float *x = p->x + (size_t)i * D, *xs = p->xs + (size_t)i * p->ds;
        double dot = 0;
        for (j = 0; j < D; j++)
            x[j] = (float)bench_normal(&r);
        switch (e) {
        case 0: /* clean labels: x* = <alpha, x>, y = 1[x* + eps > 0] */
            for (j = 0; j < D; j++)
                dot += alpha[j] * x[j];
            xs[0] = (float)dot;
            p->y[i] = dot + bench_normal(&r) > 0 ? 1.0f : 0.0f;
            break;
        case 1: /* clean features: x = x* + noise, y = 1[<alpha, x*> > 0] */
            for (j = 0; j < D; j++) {
                xs[j] = x[j];
                dot += alpha[j] * xs[j];
                x[j] = xs[j] + (float)bench_normal(&r);
            }
            p->y[i] = dot > 0 ? 1.0f : 0.0f;
            break;
        case 2: /* relevant features: x* = x_J */
            for (j = 0; j < 3; j++)
                dot += alpha[j] * (xs[j] = x[J[j]]);
            p->y[i] = dot > 0 ? 1.0f : 0.0f;
            break;
        default: /* sample-dependent: the three largest entries */
            top3(x, xs);
            for (j = 0; j < 3; j++)
                dot += alpha[j] * xs[j];
            q[i] = dot;
        }
    }
    if (e == 3) {
        median_labels(q, p->y, NTR);
        median_labels(q + NTR, p->y + NTR, NTE);
    }
    free(q);
}

/* Standardise columns of a (n rows of d) with the first NTR rows' moments. */
static void standardise(float *a, int d)
{
    int i, j;
    for (j = 0; j < d; j++) {
        double m = 0, v = 0;
        for (i = 0; i < NTR; i++)
            m += a[(size_t)i * d + j];
        m /= NTR;
        for (i = 0; i < NTR; i++)
            v += (a[(size_t)i * d + j] - m) * (a[(size_t)i * d + j] - m);
        v = v > 0 ? sqrt(v / NTR) : 1.0;
        for (i = 0; i < NTR + NTE; i++)
            a[(size_t)i * d + j] = (float)((a[(size_t)i * d + j] - m) / v);
    }
}

static distill_model *softmax_regression(distill_context *ctx, int64_t in)
{
    distill_layer_spec l;
    distill_model_options mo;
    distill_model *m;
    distill_layer_spec_init(&l, DISTILL_LAYER_DENSE);
    l.units = 2, l.init = DISTILL_INIT_GLOROT_UNIFORM;
    distill_model_options_init(&mo);
    mo.in_c = in, mo.in_h = mo.in_w = 1, mo.layers = &l, mo.n_layers = 1;
    if (distill_model_create(ctx, &mo, &m))
        die(ctx, "model");
    return m;
}

static distill_dataset *rows(distill_context *ctx, const float *x, int d, const float *y, int n)
{
    distill_dataset *ds;
    if (distill_dataset_from_memory(ctx, n, d, x, d, 1, y, 1, DISTILL_DATASET_BORROW, &ds))
        die(ctx, "dataset");
    return ds;
}

/* acc[0..2] = privileged (teacher on x*), regular (lambda 0), distilled. */
static void run_rep(distill_context *ctx, const problem *p, int rep, double *acc)
{
    distill_dataset *tr = rows(ctx, p->x, D, p->y, NTR), *te = rows(ctx, p->x + (size_t)NTR * D, D, p->y + NTR, NTE);
    distill_dataset *ptr = rows(ctx, p->xs, p->ds, p->y, NTR);
    distill_dataset *pte = rows(ctx, p->xs + (size_t)NTR * p->ds, p->ds, p->y + NTR, NTE);
    distill_model *teacher = softmax_regression(ctx, p->ds);
    distill_kd_options o;
    int arm;
    distill_kd_options_init(&o);
    o.epochs = 1000, o.batch = 128, o.temperature = 1, o.seed = (uint64_t)rep;
    if (distill_kd_train_teacher(ctx, &o, teacher, tr, ptr) ||
        distill_kd_score(ctx, o.mode, teacher, pte, &acc[0]))
        die(ctx, "teacher");
    o.teacher = teacher;
    for (arm = 1; arm <= 2; arm++) {
        distill_model *student = softmax_regression(ctx, D);
        distill_kd *kd;
        o.lambda = arm == 1 ? 0.0 : 1.0;
        if (distill_kd_create(ctx, &o, student, tr, ptr, &kd) || distill_kd_run(kd, 0) ||
            distill_kd_score(ctx, o.mode, student, te, &acc[arm]))
            die(ctx, "student");
        distill_kd_destroy(kd);
        distill_model_destroy(student);
    }
    distill_model_destroy(teacher);
    distill_dataset_destroy(tr), distill_dataset_destroy(te);
    distill_dataset_destroy(ptr), distill_dataset_destroy(pte);
}

int main(int argc, char **argv)
{
    const char *env = getenv("GD_REPS");
    const int reps = argc > 1 ? atoi(argv[1]) : env ? atoi(env) : 100;
    distill_context_options co;
    distill_context *ctx;
    problem p;
    double sum[NEXP][3] = {{0}}, sq[NEXP][3] = {{0}}, gap = 0, t0 = bench_now();
    int e, rep, a;
    if (reps < 1)
        die(NULL, "reps must be >= 1");
    distill_context_options_init(&co);
    co.threads = 1, co.seed = 2016;
    if (distill_context_create(&co, &ctx))
        die(NULL, "context");
    p.x = malloc(sizeof(float) * (size_t)(NTR + NTE) * D);
    p.xs = malloc(sizeof(float) * (size_t)(NTR + NTE) * D);
    p.y = malloc(sizeof(float) * (size_t)(NTR + NTE));
    for (e = 0; e < NEXP; e++) {
        for (rep = 0; rep < reps; rep++) {
            double acc[3];
            make_problem(e, rep, &p);
            standardise(p.x, D), standardise(p.xs, p.ds);
            run_rep(ctx, &p, rep, acc);
            for (a = 0; a < 3; a++)
                sum[e][a] += acc[a], sq[e][a] += acc[a] * acc[a];
        }
        fprintf(stderr, "%-18s privileged %.3f  regular %.3f  distilled %.3f  (paper %.2f %.2f %.2f)\n",
                names[e], sum[e][0] / reps, sum[e][1] / reps, sum[e][2] / reps, paper[e][0], paper[e][1],
                paper[e][2]);
    }
    printf("{\"bench\":\"gd_synthetic\",\"reps\":%d,\"n_train\":%d,\"n_test\":%d", reps, NTR, NTE);
    for (e = 0; e < NEXP; e++) {
        printf(",\"%s\":[", names[e]);
        for (a = 0; a < 3; a++) {
            const double m = sum[e][a] / reps;
            gap = fabs(m - paper[e][a]) > gap ? fabs(m - paper[e][a]) : gap;
            printf("%s%.4f", a ? "," : "", m);
        }
        printf("],\"%s_std\":[", names[e]);
        for (a = 0; a < 3; a++) {
            const double m = sum[e][a] / reps, v = sq[e][a] / reps - m * m;
            printf("%s%.4f", a ? "," : "", sqrt(v > 0 ? v : 0));
        }
        printf("]");
    }
    printf(",\"paper\":{");
    for (e = 0; e < NEXP; e++)
        printf("%s\"%s\":[%.2f,%.2f,%.2f]", e ? "," : "", names[e], paper[e][0], paper[e][1], paper[e][2]);
    printf("},\"max_gap_points\":%.2f,\"within_2_points\":%s,\"seconds\":%.1f}\n", 100 * gap,
           gap <= 0.02 ? "true" : "false", bench_now() - t0);
    free(p.x), free(p.xs), free(p.y);
    distill_context_destroy(ctx);
    return 0;
}
