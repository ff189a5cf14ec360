/* Generalized distillation in one page (docs/kd.md): the label is a noisy
 * threshold of one hidden direction of x.  A teacher that sees that
 * direction (the privileged feature x*) at training time teaches a student
 * that sees only x; with 200 training rows the student learns far better
 * from the teacher's soft labels than from the labels alone. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include <distill/distill.h>

enum { D = 50, N = 200, NTEST = 2000 };

static double normal(unsigned long long *s)
{
    double u, v;
    *s = *s * 6364136223846793005ull + 1442695040888963407ull, u = ((*s >> 11) + 0.5) / 9007199254740992.0;
    *s = *s * 6364136223846793005ull + 1442695040888963407ull, v = ((*s >> 11) + 0.5) / 9007199254740992.0;
    return sqrt(-2 * log(u)) * cos(6.283185307179586 * v);
}

static distill_model *softmax_regression(distill_context *ctx, int64_t in)
{
    distill_layer_spec l;
    distill_model_options mo;
    distill_model *m = NULL;
    distill_layer_spec_init(&l, DISTILL_LAYER_DENSE);
    l.units = 2, l.init = DISTILL_INIT_GLOROT_UNIFORM;
    distill_model_options_init(&mo);
    mo.in_c = in, mo.in_h = mo.in_w = 1, mo.layers = &l, mo.n_layers = 1;
    return distill_model_create(ctx, &mo, &m) == DISTILL_OK ? m : NULL;
}

int main(void)
{
    static float x[(N + NTEST) * D], xs[N + NTEST], y[N + NTEST];
    unsigned long long seed = 42;
    double alpha[D], acc[2];
    distill_context *ctx;
    distill_dataset *train, *priv, *test;
    distill_model *teacher, *student;
    distill_kd_options o;
    distill_kd *kd;
    int i, j, arm;
    for (j = 0; j < D; j++)
        alpha[j] = normal(&seed);
    for (i = 0; i < N + NTEST; i++) { /* x* = <alpha, x> / |alpha|, y = 1[x* + noise > 0] */
        double dot = 0;
        for (j = 0; j < D; j++)
            dot += alpha[j] * (x[i * D + j] = (float)normal(&seed));
        xs[i] = (float)(dot / 7.0);
        y[i] = dot / 7.0 + 0.15 * normal(&seed) > 0 ? 1.0f : 0.0f;
    }
    if (distill_context_create(NULL, &ctx) != DISTILL_OK)
        return 1;
    if (distill_context_set_threads(ctx, 1) || /* tiny products: one thread is fastest */
        distill_dataset_from_memory(ctx, N, D, x, D, 1, y, 1, DISTILL_DATASET_BORROW, &train) ||
        distill_dataset_from_memory(ctx, N, 1, xs, 1, 0, NULL, 0, DISTILL_DATASET_BORROW, &priv) ||
        distill_dataset_from_memory(ctx, NTEST, D, x + N * D, D, 1, y + N, 1, DISTILL_DATASET_BORROW, &test))
        goto fail;
    distill_kd_options_init(&o); /* generalized distillation, RMSprop as the paper's code */
    o.epochs = 1000, o.temperature = 1;
    if (!(teacher = softmax_regression(ctx, 1)) || distill_kd_train_teacher(ctx, &o, teacher, train, priv))
        goto fail;
    o.teacher = teacher;
    for (arm = 0; arm < 2; arm++) { /* lambda 0: the labels alone; lambda 1: the teacher alone */
        o.lambda = arm;
        if (!(student = softmax_regression(ctx, D)) || distill_kd_create(ctx, &o, student, train, priv, &kd) ||
            distill_kd_run(kd, 0) || distill_kd_score(ctx, o.mode, student, test, &acc[arm]))
            goto fail;
        distill_kd_destroy(kd);
        distill_model_destroy(student);
    }
    printf("test accuracy: student alone %.3f, distilled from privileged information %.3f\n", acc[0], acc[1]);
    distill_model_destroy(teacher);
    distill_dataset_destroy(train), distill_dataset_destroy(priv), distill_dataset_destroy(test);
    distill_context_destroy(ctx);
    return acc[1] > acc[0] ? 0 : 1;
fail:
    fprintf(stderr, "privileged_info: %s\n", distill_context_last_error(ctx));
    distill_context_destroy(ctx);
    return 1;
}
