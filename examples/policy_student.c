/* Policy distillation for a control loop (docs/kd.md): a large Q-network
 * teacher (64-256-256-4) is distilled into a small student policy
 * (64-32-4) with targets softmax(Q / 0.05); the student then acts through
 * the allocation-free inference path, as a robot controller would: one
 * workspace sized once, no allocation, lock or thread per action.
 * Build: cc policy_student.c $(pkg-config --cflags --libs distill) */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <distill/distill.h>

enum { S = 64, A = 4, N = 4096, EPISODE = 2000 };

static distill_model *mlp(distill_context *ctx, int64_t hidden, int n_hidden)
{
    distill_layer_spec l[5];
    distill_model_options mo;
    distill_model *m = NULL;
    int i, n = 0;
    for (i = 0; i <= n_hidden; i++) {
        distill_layer_spec_init(&l[n], DISTILL_LAYER_DENSE);
        l[n++].units = i < n_hidden ? hidden : A;
        if (i < n_hidden)
            distill_layer_spec_init(&l[n++], DISTILL_LAYER_RELU);
    }
    distill_model_options_init(&mo);
    mo.in_c = S, mo.in_h = mo.in_w = 1, mo.layers = l, mo.n_layers = n;
    return distill_model_create(ctx, &mo, &m) == DISTILL_OK ? m : NULL;
}

static int argmax(const float *v)
{
    int a, best = 0;
    for (a = 1; a < A; a++)
        best = v[a] > v[best] ? a : best;
    return best;
}

int main(void)
{
    static float states[N * S], q[N * A];
    float s[S], act[A], qt[A];
    distill_context *ctx;
    distill_model *teacher, *student;
    distill_dataset *replay;
    distill_kd_options o;
    distill_kd *kd;
    size_t bytes;
    void *ws;
    struct timespec t0, t1;
    double total_us = 0, worst_us = 0;
    int i, agree = 0;
    if (distill_context_create(NULL, &ctx) != DISTILL_OK)
        return 1;
    if (!(teacher = mlp(ctx, 256, 2)) || !(student = mlp(ctx, 32, 1)) ||
        distill_random_normal(ctx, 1, 0, N * S, 0.0f, 1.0f, states) ||
        distill_model_forward(teacher, DISTILL_MODE_EVAL, N, states, S, q, A) || /* the teacher's Q-values */
        distill_dataset_from_memory(ctx, N, S, states, S, 0, NULL, 0, DISTILL_DATASET_BORROW, &replay))
        goto fail;
    distill_kd_options_init(&o);
    o.mode = DISTILL_KD_POLICY, o.temperature = 0.05, o.lambda = 1, o.epochs = 30, o.batch = 64;
    o.teacher_outputs = q, o.teacher_ld = A; /* no action labels: the soft term only */
    if (distill_kd_create(ctx, &o, student, replay, NULL, &kd) || distill_kd_run(kd, o.epochs - 1))
        goto fail;
    (void)distill_kd_recent_loss(kd); /* start the window: the last epoch's mean follows */
    if (distill_kd_run(kd, o.epochs))
        goto fail;
    printf("policy distillation: KL(teacher || student) %.4f in the last epoch, %lld steps\n",
           distill_kd_recent_loss(kd), (long long)distill_kd_steps_done(kd));
    distill_kd_destroy(kd);
    /* the control loop: fresh states; the student acts, timed; the teacher's greedy action is
     * computed aside (off the robot) to count agreement */
    if (distill_model_workspace_size(student, 1, &bytes) || !(ws = malloc(bytes)))
        goto fail;
    for (i = 0; i < EPISODE; i++) {
        double us;
        if (distill_random_normal(ctx, 2, (uint64_t)i * S, S, 0.0f, 1.0f, s) ||
            distill_model_forward(teacher, DISTILL_MODE_EVAL, 1, s, S, qt, A))
            goto fail;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        if (distill_model_infer(student, ws, bytes, 1, s, S, act, A) != DISTILL_OK)
            goto fail;
        clock_gettime(CLOCK_MONOTONIC, &t1);
        us = 1e6 * (double)(t1.tv_sec - t0.tv_sec) + 1e-3 * (double)(t1.tv_nsec - t0.tv_nsec);
        total_us += us, worst_us = us > worst_us ? us : worst_us;
        agree += argmax(act) == argmax(qt);
    }
    printf("control loop: the student takes the teacher's action in %d of %d states; "
           "%.2f us per action (worst %.1f us), %zu bytes of workspace\n",
           agree, EPISODE, total_us / EPISODE, worst_us, bytes);
    free(ws);
    distill_model_destroy(teacher), distill_model_destroy(student), distill_dataset_destroy(replay);
    distill_context_destroy(ctx);
    return agree > EPISODE * 8 / 10 ? 0 : 1;
fail:
    fprintf(stderr, "policy_student: %s\n", distill_context_last_error(ctx));
    distill_context_destroy(ctx);
    return 1;
}
