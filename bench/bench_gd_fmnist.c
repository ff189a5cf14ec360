/* bench_gd_fmnist: the privileged-information experiment of Lopez-Paz et
 * al. (2016) on Fashion-MNIST (gd.md): the teacher, a 784-20-20-10 ReLU
 * MLP, sees the 28x28 pixels; the student, 49-20-20-10, sees the 7x7 means
 * of 4x4 blocks.  Both: Glorot-uniform weights, RMSprop (lr 1e-3, rho 0.9,
 * Keras' eps), batch 128, 50 epochs.  n = 300 and 500 training images, 10
 * random subsets each; (T, lambda) over T in {1,2,5,10,20,50}, lambda in
 * {0, 0.1, ..., 1} by distill_kd_grid_search on a validation split of
 * 1000 further images of the training pool (never the test set): the pair
 * with the best mean validation accuracy over the subsets is reported with
 * its mean test accuracy.
 *
 * Also gd_step_us: one training step (forward, distillation loss,
 * backward, RMSprop update) of the student at batch 128 on one thread.
 *
 * Usage: bench_gd_fmnist [subsets] (default 10, or $GD_SUBSETS), or
 * bench_gd_fmnist --step (the step time only, for bench/compare_torch.py).
 * The last line is one JSON object. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_util.h"
#include "distill/distill.h"
#include "distill/experimental.h"

#define FMNIST "/usr/share/datasets/fashion-mnist/"
enum { NT = 6, NL = 11, NVAL = 1000, PIX = 784, SMALL = 49, HID = 20, CLS = 10 };

static const double temps[NT] = {1, 2, 5, 10, 20, 50};

typedef struct split {
    int64_t n;
    float *x, *xs, *y; /* n rows: 7x7 view, 28x28 pixels, label */
} split;

static void die(distill_context *ctx, const char *what)
{
    fprintf(stderr, "bench_gd_fmnist: %s: %s\n", what, ctx ? distill_context_last_error(ctx) : "");
    exit(1);
}

static void load(distill_context *ctx, const char *images, const char *labels, split *s)
{
    distill_dataset *ds;
    if (distill_dataset_from_idx(ctx, images, labels, &ds))
        die(ctx, "Fashion-MNIST (apt-get install dataset-fashion-mnist)");
    s->n = distill_dataset_count(ds);
    s->xs = malloc(sizeof(float) * (size_t)(s->n * PIX));
    s->x = malloc(sizeof(float) * (size_t)(s->n * SMALL));
    s->y = malloc(sizeof(float) * (size_t)s->n);
    if (!s->xs || !s->x || !s->y || distill_dataset_get_range(ds, 0, s->n, s->xs, PIX, s->y, 1) ||
        distill_image_block_mean(ctx, s->n, 1, 28, 28, 4, s->xs, s->x))
        die(ctx, "loading");
    distill_dataset_destroy(ds);
}

static distill_model *mlp(distill_context *ctx, int64_t in)
{
    distill_layer_spec l[5];
    distill_model_options mo;
    distill_model *m;
    int i;
    for (i = 0; i < 5; i++) {
        distill_layer_spec_init(&l[i], i % 2 ? DISTILL_LAYER_RELU : DISTILL_LAYER_DENSE);
        l[i].units = i == 4 ? CLS : HID, l[i].init = DISTILL_INIT_GLOROT_UNIFORM;
    }
    distill_model_options_init(&mo);
    mo.in_c = in, mo.in_h = mo.in_w = 1, mo.layers = l, mo.n_layers = 5;
    if (distill_model_create(ctx, &mo, &m))
        die(ctx, "model");
    return m;
}

/* Rows idx of s as a dataset of the 7x7 view (or the pixels) with labels. */
static distill_dataset *rows(distill_context *ctx, const split *s, const int64_t *idx, int64_t n, int pixels)
{
    const int64_t d = pixels ? PIX : SMALL;
    float *x = malloc(sizeof(float) * (size_t)(n * d)), *y = malloc(sizeof(float) * (size_t)n);
    distill_dataset *ds;
    int64_t i;
    for (i = 0; i < n; i++) {
        memcpy(x + i * d, (pixels ? s->xs : s->x) + idx[i] * d, sizeof(float) * (size_t)d);
        y[i] = s->y[idx[i]];
    }
    if (distill_dataset_from_memory(ctx, n, d, x, d, 1, y, 1, DISTILL_DATASET_COPY, &ds))
        die(ctx, "dataset");
    free(x), free(y);
    return ds;
}

/* n + NVAL distinct training-pool rows for subset `sub`. */
static void draw(int64_t pool, int64_t n, int sub, int64_t *idx)
{
    bench_rng r = {0xfa5ull + 1000003ull * (unsigned long long)(sub + 1) + (unsigned long long)n};
    int64_t *perm = malloc(sizeof(int64_t) * (size_t)pool), i;
    for (i = 0; i < pool; i++)
        perm[i] = i;
    for (i = 0; i < n + NVAL; i++) {
        const int64_t j = i + (int64_t)(bench_uniform(&r) * (double)(pool - i));
        const int64_t t = perm[i];
        perm[i] = perm[j], perm[j] = t;
        idx[i] = perm[i];
    }
    free(perm);
}

typedef struct cell_result {
    double teacher, alone, gd, val[NT * NL];
} cell_result;

typedef struct arm_sums {
    double teacher, alone, val[NT * NL];
} arm_sums;

/* Test accuracy of a copy of `init` trained with (t, lambda). */
static double train_and_test(distill_context *ctx, distill_kd_options *o, const distill_model *init,
                             distill_dataset *tr, distill_dataset *ptr, distill_dataset *te, double t,
                             double lambda)
{
    distill_model *m;
    distill_kd *kd;
    double acc;
    o->temperature = t, o->lambda = lambda;
    if (distill_model_clone(init, &m) || distill_kd_create(ctx, o, m, tr, ptr, &kd) || distill_kd_run(kd, 0) ||
        distill_kd_score(ctx, o->mode, m, te, &acc))
        die(ctx, "student");
    distill_kd_destroy(kd);
    distill_model_destroy(m);
    return acc;
}

static void lambdas_grid(double *l)
{
    int i;
    for (i = 0; i < NL; i++)
        l[i] = i / 10.0;
}

/* One n: grid search per subset, the pair with the best mean validation
 * accuracy, then every subset's student trained with it and tested. */
static void run_n(distill_context *ctx, const split *pool, const split *test, int64_t n, int subsets, FILE *out,
                  const char *key)
{
    const int64_t all_test = test->n;
    int64_t *idx = malloc(sizeof(int64_t) * (size_t)(n + NVAL)), *tidx = malloc(sizeof(int64_t) * (size_t)all_test), i;
    double lambdas[NL], mean_val[NT * NL] = {0}, teacher = 0, alone = 0, gd = 0, gains_pos = 0, best = -1;
    double best_t = 1, best_l = 0, oracle_val = 0;
    int sub, c, best_c = 0;
    distill_model **teachers = malloc(sizeof(distill_model *) * (size_t)subsets);
    distill_model **inits = malloc(sizeof(distill_model *) * (size_t)subsets);
    distill_dataset *te = NULL, *pte = NULL;
    distill_kd_options o;
    (void)oracle_val;
    lambdas_grid(lambdas);
    for (i = 0; i < all_test; i++)
        tidx[i] = i;
    te = rows(ctx, test, tidx, all_test, 0), pte = rows(ctx, test, tidx, all_test, 1);
    distill_kd_options_init(&o);
    for (sub = 0; sub < subsets; sub++) {
        distill_dataset *tr, *ptr, *val;
        double sc[NT * NL], acc;
        draw(pool->n, n, sub, idx);
        tr = rows(ctx, pool, idx, n, 0), ptr = rows(ctx, pool, idx, n, 1), val = rows(ctx, pool, idx + n, NVAL, 0);
        o.seed = (uint64_t)sub, o.teacher = NULL;
        teachers[sub] = mlp(ctx, PIX), inits[sub] = mlp(ctx, SMALL);
        if (distill_kd_train_teacher(ctx, &o, teachers[sub], tr, ptr) ||
            distill_kd_score(ctx, o.mode, teachers[sub], pte, &acc))
            die(ctx, "teacher");
        teacher += acc / subsets;
        o.teacher = teachers[sub];
        if (distill_kd_grid_search(ctx, &o, inits[sub], tr, ptr, val, temps, NT, lambdas, NL, sc, &best_t, &best_l))
            die(ctx, "grid search");
        for (c = 0; c < NT * NL; c++)
            mean_val[c] += sc[c] / subsets;
        distill_dataset_destroy(tr), distill_dataset_destroy(ptr), distill_dataset_destroy(val);
    }
    for (c = 0; c < NT * NL; c++)
        if (mean_val[c] > best)
            best = mean_val[c], best_c = c;
    best_t = temps[best_c / NL], best_l = lambdas[best_c % NL];
    for (sub = 0; sub < subsets; sub++) {
        distill_dataset *tr, *ptr;
        double a0, a1;
        draw(pool->n, n, sub, idx);
        tr = rows(ctx, pool, idx, n, 0), ptr = rows(ctx, pool, idx, n, 1);
        o.seed = (uint64_t)sub, o.teacher = teachers[sub];
        a0 = train_and_test(ctx, &o, inits[sub], tr, ptr, te, 1, 0);
        a1 = train_and_test(ctx, &o, inits[sub], tr, ptr, te, best_t, best_l);
        alone += a0 / subsets, gd += a1 / subsets, gains_pos += a1 > a0;
        distill_dataset_destroy(tr), distill_dataset_destroy(ptr);
        distill_model_destroy(teachers[sub]), distill_model_destroy(inits[sub]);
    }
    fprintf(stderr, "n=%lld: teacher %.3f  student alone %.3f  best GD %.3f at T=%g lambda=%g (val %.3f; "
            "better in %g of %d subsets)\n", (long long)n, teacher, alone, gd, best_t, best_l, best,
            gains_pos, subsets);
    fprintf(out, "\"%s\":{\"teacher\":%.4f,\"student_alone\":%.4f,\"best_gd\":%.4f,\"best_T\":%g,"
            "\"best_lambda\":%g,\"gain_points\":%.2f,\"subsets_improved\":%g,\"best_val\":%.4f}",
            key, teacher, alone, gd, best_t, best_l, 100 * (gd - alone), gains_pos, best);
    distill_dataset_destroy(te), distill_dataset_destroy(pte);
    free(idx), free(tidx), free(teachers), free(inits);
}

/* ---- one training step of the student ---- */

typedef struct step_job {
    distill_context *ctx;
    distill_kd *kd;
} step_job;

static void steps100(void *p)
{
    step_job *j = p;
    int i;
    for (i = 0; i < 100; i++)
        if (distill_kd_step(j->kd, NULL))
            die(j->ctx, "step");
}

static double step_us(distill_context *ctx, const split *pool)
{
    enum { ROWS = 1280 };
    int64_t idx[ROWS], i;
    distill_dataset *tr, *ptr;
    distill_model *teacher = mlp(ctx, PIX), *student = mlp(ctx, SMALL);
    distill_kd_options o;
    step_job j;
    double t;
    for (i = 0; i < ROWS; i++)
        idx[i] = i;
    tr = rows(ctx, pool, idx, ROWS, 0), ptr = rows(ctx, pool, idx, ROWS, 1);
    distill_kd_options_init(&o);
    o.teacher = teacher, o.temperature = 10, o.lambda = 0.5;
    j.ctx = ctx;
    if (distill_kd_create(ctx, &o, student, tr, ptr, &j.kd))
        die(ctx, "step solver");
    t = bench_median(steps100, &j, 31) / 100;
    distill_kd_destroy(j.kd);
    distill_model_destroy(teacher), distill_model_destroy(student);
    distill_dataset_destroy(tr), distill_dataset_destroy(ptr);
    return 1e6 * t;
}

int main(int argc, char **argv)
{
    const char *env = getenv("GD_SUBSETS");
    const int step_only = argc > 1 && strcmp(argv[1], "--step") == 0;
    const int subsets = step_only ? 1 : argc > 1 ? atoi(argv[1]) : env ? atoi(env) : 10;
    distill_context_options co;
    distill_context *ctx;
    split pool, test;
    double t0 = bench_now(), us;
    FILE *json;
    char *buf = NULL;
    size_t len = 0;
    if (subsets < 1)
        die(NULL, "subsets must be >= 1");
    distill_context_options_init(&co);
    co.threads = 1, co.seed = 2016;
    if (distill_context_create(&co, &ctx))
        die(NULL, "context");
    load(ctx, FMNIST "train-images-idx3-ubyte.gz", FMNIST "train-labels-idx1-ubyte.gz", &pool);
    load(ctx, FMNIST "t10k-images-idx3-ubyte.gz", FMNIST "t10k-labels-idx1-ubyte.gz", &test);
    us = step_us(ctx, &pool);
    fprintf(stderr, "gd_step_us %.1f (49-20-20-10, batch 128, 1 thread)\n", us);
    if (step_only) {
        printf("{\"bench\":\"gd_step\",\"gd_step_us\":%.2f,\"threads\":1}\n", us);
        return 0;
    }
    /* the JSON is gathered in memory so that progress on stderr never splits it */
    if (!(json = open_memstream(&buf, &len)))
        die(NULL, "memory");
    fprintf(json, "{\"bench\":\"gd_fmnist\",\"subsets\":%d,\"n_val\":%d,", subsets, NVAL);
    run_n(ctx, &pool, &test, 300, subsets, json, "n300");
    fprintf(json, ",");
    run_n(ctx, &pool, &test, 500, subsets, json, "n500");
    fprintf(json, ",\"gd_step_us\":%.2f,\"threads\":1,\"seconds\":%.1f}", us, bench_now() - t0);
    fclose(json);
    printf("%s\n", buf);
    free(buf);
    free(pool.x), free(pool.xs), free(pool.y), free(test.x), free(test.xs), free(test.y);
    distill_context_destroy(ctx);
    return 0;
}
