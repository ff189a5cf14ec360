/* Modulating masks: the straight-through and LC gradients against central
 * differences of a double-precision reference (the step replaced by the
 * identity), the binarisations, zero forgetting, the allocation-free
 * inference, and bad input. */
#include <unistd.h>

#include "testutil.h"
#include "mask/internal.h"

static distill_masknet *make_net(distill_context *ctx, int32_t compose, int32_t binarize, int64_t inputs,
                                 int64_t hidden, int64_t layers, int64_t outputs, int64_t tasks)
{
    distill_masknet_options o;
    distill_masknet *net = NULL;
    distill_masknet_options_init(&o);
    o.compose = compose, o.binarize = binarize, o.inputs = inputs, o.hidden = hidden, o.layers = layers;
    o.outputs = outputs, o.max_tasks = tasks;
    ck_assert_status(distill_masknet_create(ctx, &o, &net), DISTILL_OK);
    return net;
}

/* ---- the reference: the training task's function in double -------------- */

/* The effective scores of layer l for task t from `block` (the training
 * block, doubles) and the learned tasks' floats. */
static void ref_effective(const distill_masknet *net, int64_t t, int64_t l, const double *block, double *s)
{
    const int64_t n = net->out[l] * net->in[l], o = net->off[l];
    int64_t i, j;
    if (!distill__mask_composed(net, t)) {
        for (i = 0; i < n; i++)
            s[i] = block[o + i];
        return;
    }
    {   /* the composition: every task learned before t was added (here: all others held) */
        const double *b = block + net->P + l * net->T;
        double z = 0.0, p[8];
        for (j = 0; j < net->T; j++)
            if (j == t || distill_masknet_task_learned(net, j) == 1)
                z += p[j] = exp(b[j]);
        for (i = 0; i < n; i++) {
            s[i] = p[t] / z * block[o + i];
            for (j = 0; j < net->T; j++)
                if (j != t && distill_masknet_task_learned(net, j) == 1)
                    s[i] += p[j] / z * net->task[j][o + i];
        }
    }
}

/* sum(y (.) r) of the net on x (n rows) with the training block `block`:
 * identity masks (W (.) S) or, with `continuous`, W (.) S 1[S >= 0]. */
static double ref_loss(const distill_masknet *net, int64_t t, const double *block, int continuous, int64_t n,
                       const float *x, const float *r)
{
    double h[64], nh[64], s[512], loss = 0.0;
    int64_t row, l, i, k;
    for (row = 0; row < n; row++) {
        for (k = 0; k < net->in[0]; k++)
            h[k] = k < net->o.inputs ? x[row * net->o.inputs + k] : (k - net->o.inputs == t);
        for (l = 0; l < net->L; l++) {
            ref_effective(net, t, l, block, s);
            for (i = 0; i < net->out[l]; i++) {
                double acc = 0.0;
                for (k = 0; k < net->in[l]; k++) {
                    const double m = continuous ? (s[i * net->in[l] + k] >= 0 ? s[i * net->in[l] + k] : 0.0)
                                                : s[i * net->in[l] + k];
                    acc += net->w[net->off[l] + i * net->in[l] + k] * m * h[k];
                }
                nh[i] = l < net->L - 1 && acc < 0.0 ? 0.0 : acc;
            }
            memcpy(h, nh, sizeof(double) * (size_t)net->out[l]);
        }
        for (i = 0; i < net->o.outputs; i++)
            loss += h[i] * r[row * net->o.outputs + i];
    }
    return loss;
}

/* The library's gradient of sum(y (.) r) against central differences of
 * the reference, every entry of the training block; entries whose score is
 * within `skip` of 0 are left out (CONTINUOUS has a kink there). */
static void check_block_gradient(distill_masknet *net, int continuous, double skip)
{
    enum { n = 5 };
    const int64_t t = distill_masknet_training_task(net), B = distill_masknet_param_count(net);
    float x[n * 8], y[n * 8], r[n * 8];
    double *block = malloc(sizeof(double) * (size_t)B), *fd = malloc(sizeof(double) * (size_t)B);
    float *got = malloc(sizeof(float) * (size_t)B);
    int64_t i, kept = 0;
    fill_random(x, n * net->o.inputs, 41), fill_random(r, n * net->o.outputs, 42);
    ck_assert_status(distill_masknet_forward(net, t, n, x, net->o.inputs, y, net->o.outputs), DISTILL_OK);
    ck_assert_status(distill_masknet_backward(net, r, net->o.outputs, NULL, 0, 0), DISTILL_OK);
    for (i = 0; i < B; i++)
        block[i] = distill_masknet_params(net)[i];
    for (i = 0; i < B; i++) {
        const double h = 1e-6, keep = block[i];
        if (i < net->P && fabs(keep) < skip) {
            fd[i] = 0.0, got[i] = 0.0f;
            continue;
        }
        block[i] = keep + h;
        fd[i] = ref_loss(net, t, block, continuous, n, x, r);
        block[i] = keep - h;
        fd[i] = (fd[i] - ref_loss(net, t, block, continuous, n, x, r)) / (2.0 * h);
        block[i] = keep, got[i] = distill_masknet_grads(net)[i], kept++;
    }
    ck_assert_msg(rel_err_fd(got, fd, B) < 1e-3, "relative error %g over %lld entries", rel_err_fd(got, fd, B),
                  (long long)kept);
    /* accumulate adds the same again */
    ck_assert_status(distill_masknet_backward(net, r, net->o.outputs, NULL, 0, 1), DISTILL_OK);
    for (i = 0; i < B; i++)
        fd[i] *= 2.0, got[i] = fd[i] == 0.0 ? 0.0f : distill_masknet_grads(net)[i];
    ck_assert_msg(rel_err_fd(got, fd, B) < 1e-3, "accumulated: relative error %g", rel_err_fd(got, fd, B));
    free(block), free(fd), free(got);
}

START_TEST(straight_through_and_lc_gradients_match_central_differences)
{
    static const int32_t modes[3] = {DISTILL_MASK_RI, DISTILL_MASK_LC, DISTILL_MASK_BLC};
    distill_context *ctx = test_context(NULL, 1);
    int m;
    for (m = 0; m < 3; m++) {
        distill_masknet *net = make_net(ctx, modes[m], DISTILL_MASK_THRESHOLD, 3, 6, 2, 2, 4);
        float *beta;
        int64_t l, j, t;
        net->ste_identity = 1; /* the estimator's gradient is exact for M = S */
        for (t = 0; t < 4; t++) { /* slots 0, 2 and 3 learned: task 1 composes them */
            if (t == 1)
                continue;
            ck_assert_status(distill_masknet_add_task(net, t), DISTILL_OK);
            ck_assert_status(distill_masknet_consolidate(net), DISTILL_OK);
        }
        ck_assert_status(distill_masknet_add_task(net, t = 1), DISTILL_OK);
        beta = distill_masknet_params(net) + net->P;
        for (l = 0; l < net->L; l++) /* unequal weights, so every term of the softmax Jacobian shows */
            for (j = 0; j < 4; j++)
                beta[l * net->T + j] += 0.3f * (float)(j - l) + 0.1f * (float)j * (float)j;
        check_block_gradient(net, 0, 0.0);
        if (modes[m] != DISTILL_MASK_RI) { /* the beta rows got gradient, the unused entries none */
            for (l = 0; l < net->L; l++) {
                ck_assert(distill_masknet_grads(net)[net->P + l * net->T] != 0.0f);
                ck_assert(distill_masknet_grads(net)[net->P + l * net->T + t] != 0.0f);
            }
        } else {
            for (j = 0; j < net->L * net->T; j++)
                ck_assert(distill_masknet_grads(net)[net->P + j] == 0.0f);
        }
        distill_masknet_destroy(net);
    }
    {   /* CONTINUOUS: its true derivative, no estimator */
        distill_masknet *net = make_net(ctx, DISTILL_MASK_RI, DISTILL_MASK_CONTINUOUS, 4, 5, 1, 3, 2);
        ck_assert_status(distill_masknet_add_task(net, 0), DISTILL_OK);
        check_block_gradient(net, 1, 1e-4);
        distill_masknet_destroy(net);
    }
    distill_context_destroy(ctx);
}
END_TEST

START_TEST(binarisations_switch_the_right_weights)
{
    distill_context *ctx = test_context(NULL, 1);
    static const int32_t kinds[3] = {DISTILL_MASK_THRESHOLD, DISTILL_MASK_CONTINUOUS, DISTILL_MASK_TOPK};
    int k;
    for (k = 0; k < 3; k++) {
        distill_masknet *net = make_net(ctx, DISTILL_MASK_RI, kinds[k], 5, 7, 1, 3, 2);
        const float *s;
        float *weff;
        int64_t l, i, j;
        ck_assert_status(distill_masknet_add_task(net, 0), DISTILL_OK);
        s = distill_masknet_params(net);
        ((float *)s)[3] = 0.0f; /* ties at 0 count as on */
        ((float *)s)[net->off[1] + 2] = s[net->off[1] + 5]; /* a tie of |S| for TOPK */
        weff = malloc(sizeof(float) * (size_t)net->P);
        for (l = 0; l < net->L; l++) {
            const int64_t n = net->out[l] * net->in[l], o = net->off[l];
            int64_t on = 0;
            distill__mask_weights(net, l, s, weff + o);
            for (i = 0; i < n; i++) {
                const float w = net->w[o + i], si = s[o + i];
                on += weff[o + i] != 0.0f;
                ck_assert(fabsf(w) == sqrtf(2.0f / (float)net->in[l]));
                if (kinds[k] == DISTILL_MASK_THRESHOLD)
                    ck_assert(weff[o + i] == (si >= 0.0f ? w : 0.0f));
                else if (kinds[k] == DISTILL_MASK_CONTINUOUS)
                    ck_assert(weff[o + i] == (si >= 0.0f ? w * si : 0.0f));
                else { /* on exactly when fewer than k entries beat it (ties to the earlier) */
                    int64_t above = 0;
                    for (j = 0; j < n; j++)
                        above += fabsf(s[o + j]) > fabsf(si) || (fabsf(s[o + j]) == fabsf(si) && j < i);
                    ck_assert_msg((weff[o + i] != 0.0f) == (above < (int64_t)(0.5 * (double)n + 0.5)),
                                  "layer %lld entry %lld", (long long)l, (long long)i);
                    ck_assert(weff[o + i] == 0.0f || weff[o + i] == w);
                }
            }
            if (kinds[k] == DISTILL_MASK_TOPK)
                ck_assert_int_eq(on, (int64_t)(0.5 * (double)n + 0.5));
        }
        free(weff);
        distill_masknet_destroy(net);
    }
    distill_context_destroy(ctx);
}
END_TEST

/* ---- learning tasks in sequence: a permuted Gaussian mixture per task ---- */

#define GM_IN 8
#define GM_CLASSES 4

/* n samples of task `task`: class centres +-1, noise 0.3, inputs permuted per task. */
static void gm_batch(int64_t task, int64_t n, uint64_t seed, float *x, int *y)
{
    float centre[GM_CLASSES * GM_IN], noise[GM_IN];
    int perm[GM_IN], i, j;
    int64_t r;
    fill_random(centre, GM_CLASSES * GM_IN, 77);
    for (i = 0; i < GM_IN; i++)
        perm[i] = (int)((i * (2 * task + 3) + task) % GM_IN); /* odd strides: permutations of 8 */
    for (r = 0; r < n; r++) {
        y[r] = (int)((r * 7 + seed) % GM_CLASSES);
        fill_random(noise, GM_IN, seed * 1000003u + (uint64_t)r);
        for (j = 0; j < GM_IN; j++)
            x[r * GM_IN + perm[j]] = (centre[y[r] * GM_IN + j] >= 0 ? 1.0f : -1.0f) + 0.3f * noise[j];
    }
}

/* Train the training task by RMSprop on softmax cross-entropy; returns the
 * accuracy on a held-out batch. */
static double train_task(distill_context *ctx, distill_masknet *net, int64_t task, int steps)
{
    enum { B = 64 };
    const int64_t t = distill_masknet_training_task(net);
    distill_optimizer_options oo;
    distill_optimizer *opt = NULL;
    float x[B * GM_IN], z[B * GM_CLASSES], dz[B * GM_CLASSES];
    int y[B], s, right = 0;
    int64_t r, c;
    distill_optimizer_options_init(&oo);
    oo.kind = DISTILL_OPTIM_RMSPROP, oo.lr = 3e-3;
    ck_assert_status(distill_optimizer_create(ctx, &oo, distill_masknet_param_count(net), &opt), DISTILL_OK);
    for (s = 0; s < steps; s++) {
        gm_batch(task, B, (uint64_t)s + 1, x, y);
        ck_assert_status(distill_masknet_forward(net, t, B, x, GM_IN, z, GM_CLASSES), DISTILL_OK);
        for (r = 0; r < B; r++) {
            double mx = z[r * GM_CLASSES], sum = 0.0;
            for (c = 1; c < GM_CLASSES; c++)
                mx = z[r * GM_CLASSES + c] > mx ? z[r * GM_CLASSES + c] : mx;
            for (c = 0; c < GM_CLASSES; c++)
                sum += exp(z[r * GM_CLASSES + c] - mx);
            for (c = 0; c < GM_CLASSES; c++)
                dz[r * GM_CLASSES + c] = (float)((exp(z[r * GM_CLASSES + c] - mx) / sum - (c == y[r])) / B);
        }
        ck_assert_status(distill_masknet_backward(net, dz, GM_CLASSES, NULL, 0, 0), DISTILL_OK);
        ck_assert_status(distill_optimizer_step(opt, distill_masknet_params(net), distill_masknet_grads(net)),
                         DISTILL_OK);
    }
    distill_optimizer_destroy(opt);
    gm_batch(task, B, 999, x, y);
    ck_assert_status(distill_masknet_forward(net, t, B, x, GM_IN, z, GM_CLASSES), DISTILL_OK);
    for (r = 0; r < B; r++) {
        int best = 0;
        for (c = 1; c < GM_CLASSES; c++)
            best = z[r * GM_CLASSES + c] > z[r * GM_CLASSES + best] ? (int)c : best;
        right += best == y[r];
    }
    return (double)right / B;
}

START_TEST(learned_tasks_never_change)
{
    enum { TASKS = 3, PROBE = 16 };
    static const int32_t modes[3] = {DISTILL_MASK_RI, DISTILL_MASK_LC, DISTILL_MASK_BLC};
    distill_context *ctx = test_context(NULL, 2);
    float probe[PROBE * GM_IN], ref[TASKS][PROBE * GM_CLASSES], now[PROBE * GM_CLASSES];
    int py[PROBE], m;
    gm_batch(0, PROBE, 4242, probe, py);
    for (m = 0; m < 3; m++) {
        distill_masknet *net = make_net(ctx, modes[m], DISTILL_MASK_THRESHOLD, GM_IN, 32, 2, GM_CLASSES, TASKS);
        int64_t t, u;
        for (t = 0; t < TASKS; t++) {
            double acc;
            float before[PROBE * GM_CLASSES];
            ck_assert_status(distill_masknet_add_task(net, t), DISTILL_OK);
            ck_assert_status(distill_masknet_forward(net, t, PROBE, probe, GM_IN, before, GM_CLASSES), DISTILL_OK);
            acc = train_task(ctx, net, t, 300);
            ck_assert_msg(acc >= 0.9, "compose %d task %lld: accuracy %g", (int)modes[m], (long long)t, acc);
            ck_assert_status(distill_masknet_consolidate(net), DISTILL_OK);
            ck_assert_status(distill_masknet_forward(net, t, PROBE, probe, GM_IN, ref[t], GM_CLASSES), DISTILL_OK);
            ck_assert_msg(memcmp(before, ref[t], sizeof before) != 0, "training changed nothing");
            for (u = 0; u <= t; u++) { /* every learned task, bit for bit */
                ck_assert_status(distill_masknet_forward(net, u, PROBE, probe, GM_IN, now, GM_CLASSES), DISTILL_OK);
                ck_assert_msg(memcmp(now, ref[u], sizeof now) == 0, "compose %d: task %lld changed after task %lld",
                              (int)modes[m], (long long)u, (long long)t);
            }
        }
        distill_masknet_destroy(net);
    }
    distill_context_destroy(ctx);
}
END_TEST

START_TEST(inference_allocates_nothing_and_agrees_with_forward)
{
    counting_alloc ca;
    distill_context *ctx = test_context(&ca, 1);
    distill_masknet *net = make_net(ctx, DISTILL_MASK_LC, DISTILL_MASK_THRESHOLD, 6, 16, 3, 3, 4);
    float x[7 * 6], y[7 * 3], yi[7 * 3];
    size_t bytes;
    void *ws;
    long calls;
    int64_t t, i;
    fill_random(x, 7 * 6, 5);
    for (t = 0; t < 2; t++) {
        ck_assert_status(distill_masknet_add_task(net, t), DISTILL_OK);
        ck_assert_status(distill_masknet_consolidate(net), DISTILL_OK);
    }
    ck_assert_status(distill_masknet_add_task(net, 2), DISTILL_OK); /* task 2 in training */
    ck_assert_status(distill_masknet_workspace_size(net, 7, &bytes), DISTILL_OK);
    ws = malloc(bytes);
    for (t = 0; t < 2; t++) {
        ck_assert_status(distill_masknet_forward(net, t, 7, x, 6, y, 3), DISTILL_OK);
        calls = ca.calls;
        ck_assert_status(distill_masknet_infer(net, t, ws, bytes, 7, x, 6, yi, 3), DISTILL_OK);
        ck_assert_int_eq(ca.calls, calls);
        for (i = 0; i < 7 * 3; i++)
            ck_assert_msg(fabsf(y[i] - yi[i]) <= 1e-5f * (1.0f + fabsf(y[i])), "%g vs %g", y[i], yi[i]);
    }
    ck_assert_status(distill_masknet_infer(net, 2, ws, bytes, 7, x, 6, yi, 3), DISTILL_E_INVAL);
    ck_assert_status(distill_masknet_infer(net, 0, ws, bytes / 2, 7, x, 6, yi, 3), DISTILL_E_WORKSPACE);
    x[4] = NAN;
    ck_assert_status(distill_masknet_infer(net, 0, ws, bytes, 7, x, 6, yi, 3), DISTILL_E_NUMERIC);
    free(ws);
    distill_masknet_destroy(net);
    distill_context_destroy(ctx);
    ck_assert_int_eq(ca.live, 0);
}
END_TEST

START_TEST(the_backbone_comes_from_its_seed_alone)
{
    distill_context_options co;
    distill_context *a = test_context(NULL, 1), *b;
    distill_masknet_options o;
    distill_masknet *n1, *n2, *n3;
    distill_context_options_init(&co);
    co.seed = 99;
    ck_assert_status(distill_context_create(&co, &b), DISTILL_OK);
    n1 = make_net(a, DISTILL_MASK_RI, DISTILL_MASK_THRESHOLD, 4, 8, 2, 3, 2);
    n2 = make_net(b, DISTILL_MASK_RI, DISTILL_MASK_THRESHOLD, 4, 8, 2, 3, 2);
    ck_assert(distill_masknet_backbone_hash(n1) == distill_masknet_backbone_hash(n2));
    ck_assert(memcmp(n1->w, n2->w, sizeof(float) * (size_t)n1->P) == 0);
    ck_assert_status(distill_masknet_add_task(n1, 0), DISTILL_OK);
    ck_assert_status(distill_masknet_add_task(n2, 0), DISTILL_OK);
    ck_assert(memcmp(n1->task[0], n2->task[0], sizeof(float) * (size_t)n1->P) != 0); /* scores: the context's seed */
    distill_masknet_options_init(&o);
    o.inputs = 4, o.hidden = 8, o.layers = 2, o.outputs = 3, o.max_tasks = 2, o.backbone_seed = 1;
    ck_assert_status(distill_masknet_create(a, &o, &n3), DISTILL_OK);
    ck_assert(distill_masknet_backbone_hash(n3) != distill_masknet_backbone_hash(n1));
    ck_assert_int_eq(distill_masknet_mask_count(n3), (4 + 2) * 8 + 8 * 8 + 8 * 3);
    distill_masknet_destroy(n1), distill_masknet_destroy(n2), distill_masknet_destroy(n3);
    distill_context_destroy(a), distill_context_destroy(b);
}
END_TEST

START_TEST(bad_input_is_refused_and_changes_nothing)
{
    counting_alloc ca;
    distill_context *ctx = test_context(&ca, 1);
    distill_masknet_options o;
    distill_masknet *net = NULL;
    float x[2 * 3] = {0}, y[2 * 2], g[2 * 2] = {0}, *copy;
    distill_masknet_options_init(&o);
    ck_assert_status(distill_masknet_create(ctx, &o, &net), DISTILL_E_INVAL); /* no inputs */
    ck_assert_ptr_null(net);
    ck_assert_status(distill_masknet_create(ctx, NULL, &net), DISTILL_E_INVAL);
    o.inputs = 3, o.outputs = 2, o.hidden = 4, o.layers = 1, o.max_tasks = 2;
    o.layers = DISTILL_MASK_MAX_LAYERS;
    ck_assert_status(distill_masknet_create(ctx, &o, &net), DISTILL_E_INVAL);
    o.layers = 1, o.topk = 0.0;
    ck_assert_status(distill_masknet_create(ctx, &o, &net), DISTILL_E_INVAL);
    o.topk = 0.5, o.compose = 3;
    ck_assert_status(distill_masknet_create(ctx, &o, &net), DISTILL_E_INVAL);
    o.compose = DISTILL_MASK_RI, o.hidden = (int64_t)1 << 40;
    ck_assert_status(distill_masknet_create(ctx, &o, &net), DISTILL_E_INVAL);
    o.hidden = 4;
    ck_assert_status(distill_masknet_create(ctx, &o, &net), DISTILL_OK);
    ck_assert_status(distill_masknet_consolidate(net), DISTILL_E_INVAL);
    ck_assert_status(distill_masknet_forward(net, 0, 2, x, 3, y, 2), DISTILL_E_INVAL); /* no task */
    ck_assert_status(distill_masknet_add_task(net, 0), DISTILL_OK);
    ck_assert_status(distill_masknet_add_task(net, 1), DISTILL_E_INVAL); /* one in training */
    ck_assert_status(distill_masknet_backward(net, g, 2, NULL, 0, 0), DISTILL_E_INVAL); /* no forward */
    ck_assert_status(distill_masknet_forward(net, 0, 2, x, 2, y, 2), DISTILL_E_SHAPE); /* ldx < inputs */
    x[1] = NAN;
    ck_assert_status(distill_masknet_forward(net, 0, 2, x, 3, y, 2), DISTILL_E_NUMERIC);
    x[1] = 0.0f;
    ck_assert_status(distill_masknet_forward(net, 0, 2, x, 3, y, 2), DISTILL_OK);
    ck_assert_status(distill_masknet_backward(net, g, 2, NULL, 0, 2), DISTILL_E_INVAL);
    copy = malloc(sizeof(float) * (size_t)distill_masknet_param_count(net));
    memcpy(copy, distill_masknet_params(net), sizeof(float) * (size_t)distill_masknet_param_count(net));
    distill_masknet_params(net)[1] = INFINITY; /* a consolidation of broken scores fails and keeps the task */
    ck_assert_status(distill_masknet_consolidate(net), DISTILL_E_NUMERIC);
    ck_assert_int_eq(distill_masknet_training_task(net), 0);
    distill_masknet_params(net)[1] = copy[1];
    ck_assert(memcmp(copy, distill_masknet_params(net), sizeof(float) * (size_t)distill_masknet_param_count(net)) == 0);
    ck_assert_status(distill_masknet_consolidate(net), DISTILL_OK);
    ck_assert_status(distill_masknet_backward(net, g, 2, NULL, 0, 0), DISTILL_E_INVAL); /* learned now */
    ck_assert_ptr_null(distill_masknet_params(net));
    ck_assert_int_eq(distill_masknet_task_learned(net, 0), 1);
    ck_assert_int_eq(distill_masknet_task_learned(net, 1), -1);
    ck_assert_status(distill_masknet_add_task(net, 0), DISTILL_E_INVAL); /* held */
    ck_assert_status(distill_masknet_add_task(net, 1), DISTILL_OK);
    ck_assert_status(distill_masknet_consolidate(net), DISTILL_OK);
    ck_assert_status(distill_masknet_add_task(net, 2), DISTILL_E_INVAL); /* outside max_tasks */
    ck_assert_status(distill_masknet_add_task(net, -1), DISTILL_E_INVAL);
    free(copy);
    distill_masknet_destroy(net);
    distill_context_destroy(ctx);
    ck_assert_int_eq(ca.live, 0);
}
END_TEST

/* ---- messages ------------------------------------------------------------ */

static void encode_new(distill_masknet *net, int64_t t, int32_t payload, unsigned char **buf, size_t *len)
{
    distill_mask_meta m;
    distill_mask_meta_init(&m);
    m.payload = payload, m.reward = 0.75f, m.sender = 3, m.task_seq = 9, m.emb_dim = 2;
    m.embedding[0] = 0.0f, m.embedding[1] = 1.0f;
    ck_assert_status(distill_masknet_encode(net, t, &m, NULL, 0, len), DISTILL_OK);
    *buf = malloc(*len);
    ck_assert_status(distill_masknet_encode(net, t, &m, *buf, *len - 1, len), DISTILL_E_INVAL);
    ck_assert_status(distill_masknet_encode(net, t, &m, *buf, *len, len), DISTILL_OK);
}

START_TEST(a_sent_mask_reproduces_the_senders_outputs_exactly)
{
    static const int32_t kinds[3] = {DISTILL_MASK_THRESHOLD, DISTILL_MASK_CONTINUOUS, DISTILL_MASK_TOPK};
    distill_context_options co;
    distill_context *a = test_context(NULL, 1), *b;
    float x[5 * 6], ya[5 * 3], yb[5 * 3];
    int k, pl;
    distill_context_options_init(&co);
    co.seed = 7;
    ck_assert_status(distill_context_create(&co, &b), DISTILL_OK);
    fill_random(x, 5 * 6, 3);
    for (k = 0; k < 3; k++)
        for (pl = DISTILL_MASK_PAYLOAD_BITS; pl <= DISTILL_MASK_PAYLOAD_F32; pl++) {
            distill_masknet *s = make_net(a, DISTILL_MASK_LC, kinds[k], 6, 40, 2, 3, 4);
            distill_masknet *r = make_net(b, DISTILL_MASK_LC, kinds[k], 6, 40, 2, 3, 4);
            distill_masknet *r2 = make_net(b, DISTILL_MASK_LC, kinds[k], 6, 40, 2, 3, 4);
            distill_mask_meta m;
            unsigned char *buf;
            size_t len, bits = 0;
            int64_t l;
            ck_assert_status(distill_masknet_add_task(s, 0), DISTILL_OK);
            ck_assert_status(distill_masknet_consolidate(s), DISTILL_OK);
            ck_assert_status(distill_masknet_add_task(s, 1), DISTILL_OK); /* task 1: composed, in training */
            ck_assert_status(distill_masknet_add_task(r2, 0), DISTILL_OK); /* r2 trains slot 1 composing slot 0 */
            ck_assert_status(distill_masknet_consolidate(r2), DISTILL_OK);
            ck_assert_status(distill_masknet_add_task(r2, 1), DISTILL_OK);
            if (pl == DISTILL_MASK_PAYLOAD_BITS && kinds[k] == DISTILL_MASK_CONTINUOUS) {
                distill_mask_meta_init(&m);
                ck_assert_status(distill_masknet_encode(s, 0, &m, NULL, 0, &len), DISTILL_E_UNSUPPORTED);
                distill_masknet_destroy(s), distill_masknet_destroy(r), distill_masknet_destroy(r2);
                continue;
            }
            encode_new(s, 1, pl, &buf, &len);
            for (l = 0; l < s->L; l++)
                bits += 8 * (size_t)((s->out[l] * s->in[l] + 63) / 64);
            ck_assert_uint_eq(len, 4 + 2 + 2 + 8 + 4 + 2 + 8 * 3 + 2 + 8 + 12 + 4 +
                                       (pl == DISTILL_MASK_PAYLOAD_BITS ? bits : (size_t)s->P * (pl == 1 ? 2 : 4)));
            distill_mask_meta_init(&m);
            ck_assert_status(distill_mask_message_read(b, buf, len, &m), DISTILL_OK);
            ck_assert(m.reward == 0.75f && m.sender == 3 && m.task_seq == 9 && m.emb_dim == 2 &&
                      m.embedding[1] == 1.0f && m.consolidated == 1 && m.payload == pl && m.binarize == kinds[k]);
            ck_assert_status(distill_masknet_consolidate(s), DISTILL_OK);
            ck_assert_status(distill_masknet_forward(s, 1, 5, x, 6, ya, 3), DISTILL_OK);
            /* into the sender's slot, not held by the receiver: a learned task */
            ck_assert_status(distill_masknet_decode(r, 1, buf, len, &m), DISTILL_OK);
            ck_assert_int_eq(distill_masknet_task_learned(r, 1), 1);
            ck_assert_status(distill_masknet_forward(r, 1, 5, x, 6, yb, 3), DISTILL_OK);
            if (pl != DISTILL_MASK_PAYLOAD_F16 || kinds[k] != DISTILL_MASK_CONTINUOUS)
                ck_assert_msg(memcmp(ya, yb, sizeof ya) == 0, "binarize %d payload %d: outputs differ", kinds[k], pl);
            else
                for (l = 0; l < 15; l++)
                    ck_assert(fabsf(ya[l] - yb[l]) <= 2e-3f * (1.0f + fabsf(ya[l])));
            /* into a receiver training that slot (composing another): it computes the received mask
             * itself, and trains on from it */
            ck_assert_status(distill_masknet_decode(r2, 1, buf, len, NULL), DISTILL_OK);
            ck_assert_int_eq(distill_masknet_training_task(r2), 1);
            ck_assert_status(distill_masknet_consolidate(r2), DISTILL_OK);
            ck_assert_status(distill_masknet_forward(r2, 1, 5, x, 6, yb, 3), DISTILL_OK);
            if (pl != DISTILL_MASK_PAYLOAD_F16 || kinds[k] != DISTILL_MASK_CONTINUOUS)
                ck_assert(memcmp(ya, yb, sizeof ya) == 0);
            free(buf);
            distill_masknet_destroy(s), distill_masknet_destroy(r), distill_masknet_destroy(r2);
        }
    distill_context_destroy(a), distill_context_destroy(b);
}
END_TEST

START_TEST(the_decoder_rejects_hostile_messages_and_changes_nothing)
{
    counting_alloc ca;
    distill_context *ctx = test_context(&ca, 1);
    distill_masknet *s = make_net(ctx, DISTILL_MASK_RI, DISTILL_MASK_THRESHOLD, 4, 8, 1, 2, 3);
    distill_masknet *r = make_net(ctx, DISTILL_MASK_RI, DISTILL_MASK_THRESHOLD, 4, 8, 1, 2, 3);
    distill_masknet *other = make_net(ctx, DISTILL_MASK_RI, DISTILL_MASK_THRESHOLD, 4, 9, 1, 2, 3);
    distill_masknet *topk = make_net(ctx, DISTILL_MASK_RI, DISTILL_MASK_TOPK, 4, 8, 1, 2, 3);
    distill_masknet_options o;
    distill_masknet *seed2;
    float x[3 * 4], before[3 * 2], after[3 * 2];
    unsigned char *buf, *copy, *copy2;
    size_t len, i;
    int bit, pl;
    distill_masknet_options_init(&o);
    o.inputs = 4, o.hidden = 8, o.layers = 1, o.outputs = 2, o.max_tasks = 3, o.backbone_seed = 5;
    ck_assert_status(distill_masknet_create(ctx, &o, &seed2), DISTILL_OK);
    fill_random(x, 12, 8);
    ck_assert_status(distill_masknet_add_task(s, 0), DISTILL_OK);
    ck_assert_status(distill_masknet_consolidate(s), DISTILL_OK);
    ck_assert_status(distill_masknet_add_task(r, 0), DISTILL_OK);
    ck_assert_status(distill_masknet_consolidate(r), DISTILL_OK);
    ck_assert_status(distill_masknet_forward(r, 0, 3, x, 4, before, 2), DISTILL_OK);
    for (pl = DISTILL_MASK_PAYLOAD_BITS; pl <= DISTILL_MASK_PAYLOAD_F32; pl++) {
        encode_new(s, 0, pl, &buf, &len);
        copy = malloc(len);
        /* another backbone, other shapes, another binarisation */
        ck_assert_status(distill_masknet_decode(seed2, 0, buf, len, NULL), DISTILL_E_FORMAT);
        ck_assert_status(distill_masknet_decode(other, 0, buf, len, NULL), DISTILL_E_FORMAT);
        ck_assert_status(distill_masknet_decode(topk, 0, buf, len, NULL), DISTILL_E_FORMAT);
        ck_assert_int_eq(distill_masknet_tasks(seed2) + distill_masknet_tasks(other) + distill_masknet_tasks(topk), 0);
        for (i = 0; i < len; i++) /* every truncation */
            ck_assert_status(distill_masknet_decode(r, 1, buf, i, NULL), DISTILL_E_FORMAT);
        ck_assert_status(distill_masknet_decode(r, 1, NULL, len, NULL), DISTILL_E_INVAL);
        if (pl == DISTILL_MASK_PAYLOAD_F16) { /* a diverged task is not sent */
            size_t n2;
            ck_assert_status(distill_masknet_add_task(s, 2), DISTILL_OK);
            distill_masknet_params(s)[0] = NAN;
            ck_assert_status(distill_masknet_encode(s, 2, NULL, NULL, 0, &n2), DISTILL_OK); /* the size only */
            copy2 = malloc(n2);
            ck_assert_status(distill_masknet_encode(s, 2, NULL, copy2, n2, &n2), DISTILL_E_NUMERIC);
            free(copy2);
            distill_masknet_params(s)[0] = 0.0f;
            ck_assert_status(distill_masknet_consolidate(s), DISTILL_OK);
        }
        ck_assert_status(distill_masknet_decode(r, 3, buf, len, NULL), DISTILL_E_INVAL); /* no such slot */
        for (i = 0; i < len; i++) /* every bit flipped: the CRC, or the check behind it */
            for (bit = 0; bit < 8; bit++) {
                memcpy(copy, buf, len);
                copy[i] ^= (unsigned char)(1u << bit);
                ck_assert_status(distill_masknet_decode(r, 1, copy, len, NULL), DISTILL_E_FORMAT);
            }
        ck_assert_int_eq(distill_masknet_tasks(r), 1);
        ck_assert_status(distill_masknet_forward(r, 0, 3, x, 4, after, 2), DISTILL_OK);
        ck_assert(memcmp(before, after, sizeof before) == 0);
        free(buf), free(copy);
    }
    distill_masknet_destroy(s), distill_masknet_destroy(r), distill_masknet_destroy(other);
    distill_masknet_destroy(topk), distill_masknet_destroy(seed2);
    distill_context_destroy(ctx);
    ck_assert_int_eq(ca.live, 0);
}
END_TEST

/* ---- sharing ------------------------------------------------------------- */

/* A transport that keeps every message, to deliver by hand. */
typedef struct mailbox {
    int n;
    uint32_t to[64];
    size_t len[64];
    unsigned char *msg[64];
} mailbox;

static int mailbox_send(void *user, uint32_t to, const void *msg, size_t len)
{
    mailbox *m = user;
    if (m->n >= 64)
        return 1;
    m->to[m->n] = to, m->len[m->n] = len, m->msg[m->n] = malloc(len);
    memcpy(m->msg[m->n++], msg, len);
    return 0;
}

static void mailbox_clear(mailbox *m)
{
    int i;
    for (i = 0; i < m->n; i++)
        free(m->msg[i]);
    m->n = 0;
}

/* The last message in m (and its index). */
static int last(const mailbox *m)
{
    ck_assert_int_gt(m->n, 0);
    return m->n - 1;
}

static distill_masknet *share_net(distill_context *ctx)
{
    return make_net(ctx, DISTILL_MASK_RI, DISTILL_MASK_THRESHOLD, 4, 16, 2, 3, 4);
}

START_TEST(sharing_survives_lost_duplicated_and_reordered_messages)
{
    counting_alloc ca;
    distill_context *ctx = test_context(&ca, 1);
    distill_masknet *na = share_net(ctx), *nb = share_net(ctx);
    distill_share *a, *b;
    distill_share_stats st;
    mailbox ma = {0}, mb = {0};
    float x[2 * 4], ya[2 * 3], yb[2 * 3];
    unsigned char *bad;
    int i, mask_at;
    fill_random(x, 8, 9);
    ck_assert_status(distill_masknet_add_task(na, 2), DISTILL_OK);
    ck_assert_status(distill_masknet_consolidate(na), DISTILL_OK);
    ck_assert_status(distill_share_create(ctx, NULL, na, 1, mailbox_send, &ma, &a), DISTILL_OK);
    ck_assert_status(distill_share_create(ctx, NULL, nb, 2, mailbox_send, &mb, &b), DISTILL_OK);
    ck_assert_status(distill_share_set_reward(a, 2, 1.0f), DISTILL_OK);
    ck_assert_status(distill_share_add_peer(b, 1), DISTILL_OK);
    /* B asks; A answers META (and, B being new to it, its TABLE) */
    ck_assert_status(distill_share_query(b, 2), DISTILL_OK);
    ck_assert_int_eq(mb.n, 1);
    ck_assert_status(distill_share_receive(a, mb.msg[0], mb.len[0]), DISTILL_OK);
    ck_assert_int_eq(ma.n, 2); /* TABLE, META */
    ck_assert_int_eq(distill_share_peers(a), 1);
    for (i = 0; i < 2; i++) /* the META twice */
        ck_assert_status(distill_share_receive(b, ma.msg[1], ma.len[1]), DISTILL_OK);
    ck_assert_status(distill_share_receive(b, ma.msg[0], ma.len[0]), DISTILL_OK); /* the TABLE late */
    ck_assert_status(distill_share_tick(b), DISTILL_OK); /* the window closes: REQ */
    ck_assert_int_eq(mb.n, 2);
    mailbox_clear(&ma);
    for (i = 0; i < 2; i++) /* the REQ twice: two MASKs */
        ck_assert_status(distill_share_receive(a, mb.msg[1], mb.len[1]), DISTILL_OK);
    ck_assert_int_eq(ma.n, 2);
    mask_at = last(&ma);
    /* a damaged MASK is a format error and installs nothing */
    bad = malloc(ma.len[0]);
    for (i = 0; i < (int)ma.len[0]; i += 7) {
        memcpy(bad, ma.msg[0], ma.len[0]);
        bad[i] ^= 0x10;
        ck_assert_status(distill_share_receive(b, bad, ma.len[0]), DISTILL_E_FORMAT);
    }
    ck_assert_status(distill_share_receive(b, ma.msg[0], ma.len[0] - 1), DISTILL_E_FORMAT);
    ck_assert_int_eq(distill_masknet_tasks(nb), 0);
    free(bad);
    /* the first MASK installs; the duplicate is ignored */
    ck_assert_status(distill_share_receive(b, ma.msg[0], ma.len[0]), DISTILL_OK);
    ck_assert_status(distill_share_receive(b, ma.msg[mask_at], ma.len[mask_at]), DISTILL_OK);
    ck_assert_int_eq(distill_masknet_task_learned(nb, 2), 1);
    ck_assert(distill_share_reward(b, 2) == 1.0f);
    ck_assert_status(distill_masknet_forward(na, 2, 2, x, 4, ya, 3), DISTILL_OK);
    ck_assert_status(distill_masknet_forward(nb, 2, 2, x, 4, yb, 3), DISTILL_OK);
    ck_assert(memcmp(ya, yb, sizeof ya) == 0);
    st.struct_size = sizeof st;
    ck_assert_status(distill_share_get_stats(b, &st), DISTILL_OK);
    ck_assert_int_eq(st.masks_installed, 1);
    ck_assert_int_eq(st.rejected, (int64_t)((ma.len[0] + 6) / 7) + 1);
    {   /* bits cannot carry a continuous mask: refused when the agent is made */
        distill_masknet *cn = make_net(ctx, DISTILL_MASK_RI, DISTILL_MASK_CONTINUOUS, 4, 16, 2, 3, 4);
        distill_share *cs = NULL;
        ck_assert_status(distill_share_create(ctx, NULL, cn, 5, mailbox_send, &ma, &cs), DISTILL_E_UNSUPPORTED);
        ck_assert_ptr_null(cs);
        distill_masknet_destroy(cn);
    }
    /* a MASK nobody asked for (A never asked) changes nothing */
    ck_assert_status(distill_share_receive(a, ma.msg[0], ma.len[0]), DISTILL_E_FORMAT); /* its own id */
    mailbox_clear(&ma), mailbox_clear(&mb);
    /* B, now as good as A, no longer asks: the gate */
    ck_assert_status(distill_share_query(b, 2), DISTILL_OK);
    ck_assert_status(distill_share_receive(a, mb.msg[0], mb.len[0]), DISTILL_OK);
    ck_assert_int_eq(ma.n, 0); /* no META: 0.9 x 1.0 is not above 1.0 */
    mailbox_clear(&ma), mailbox_clear(&mb);
    distill_share_destroy(a), distill_share_destroy(b);
    distill_masknet_destroy(na), distill_masknet_destroy(nb);
    distill_context_destroy(ctx);
    ck_assert_int_eq(ca.live, 0);
}
END_TEST

START_TEST(agents_on_a_bus_share_and_discover_each_other)
{
    counting_alloc ca;
    distill_context *ctx = test_context(&ca, 1);
    distill_masknet *n[3];
    distill_share *ag[3];
    distill_share_bus *bus, *lossy;
    distill_share_options so;
    int64_t delivered, bytes, lost;
    int i, k;
    distill_share_options_init(&so);
    so.meta_window = 4; /* a QUERY and its META: twice the latency */
    ck_assert_status(distill_share_bus_create(ctx, 2, 0.0, 1, &bus), DISTILL_OK);
    for (i = 0; i < 3; i++) {
        n[i] = share_net(ctx);
        ck_assert_status(distill_share_create(ctx, &so, n[i], (uint32_t)(10 + i), distill_share_bus_send, bus,
                                             &ag[i]), DISTILL_OK);
        ck_assert_status(distill_share_bus_attach(bus, (uint32_t)(10 + i), ag[i]), DISTILL_OK);
        ck_assert_status(distill_masknet_add_task(n[i], i), DISTILL_OK); /* agent i knows task i */
        ck_assert_status(distill_masknet_consolidate(n[i]), DISTILL_OK);
        ck_assert_status(distill_share_set_reward(ag[i], i, 0.5f + 0.1f * (float)i), DISTILL_OK);
    }
    /* 11 and 12 know only 10; 10 knows nobody */
    ck_assert_status(distill_share_add_peer(ag[1], 10), DISTILL_OK);
    ck_assert_status(distill_share_add_peer(ag[2], 10), DISTILL_OK);
    for (k = 0; k < 3; k++) {
        ck_assert_status(distill_share_query(ag[1], 0), DISTILL_OK);
        ck_assert_status(distill_share_query(ag[2], 1), DISTILL_OK);
        for (i = 0; i < 6; i++)
            ck_assert_status(distill_share_bus_tick(bus), DISTILL_OK);
    }
    ck_assert_int_eq(distill_masknet_task_learned(n[1], 0), 1);  /* from 10 */
    ck_assert_int_eq(distill_masknet_task_learned(n[2], 1), 1);  /* from 11, found through 10's TABLE */
    ck_assert_int_eq(distill_share_peers(ag[2]), 2);
    ck_assert(distill_share_reward(ag[2], 1) == 0.6f);
    /* 12 leaves: messages to it are lost, nobody waits */
    ck_assert_status(distill_share_bus_attach(bus, 12, NULL), DISTILL_OK);
    ck_assert_status(distill_share_query(ag[0], 2), DISTILL_OK);
    for (i = 0; i < 6; i++)
        ck_assert_status(distill_share_bus_tick(bus), DISTILL_OK);
    distill_share_bus_counts(bus, &delivered, &bytes, &lost);
    ck_assert(delivered > 0 && bytes > 0 && lost >= 1);
    ck_assert_int_eq(distill_masknet_task_learned(n[0], 2), -1);
    /* everything lost: nothing arrives, nothing breaks */
    ck_assert_status(distill_share_bus_create(ctx, 1, 1.0, 1, &lossy), DISTILL_OK);
    ck_assert_int_eq(distill_share_bus_send(lossy, 10, "x", 1), 0);
    ck_assert_status(distill_share_bus_tick(lossy), DISTILL_OK);
    distill_share_bus_counts(lossy, &delivered, NULL, &lost);
    ck_assert(delivered == 0 && lost == 1);
    ck_assert_status(distill_share_bus_create(ctx, -1, 0.0, 1, &(distill_share_bus *){0}), DISTILL_E_INVAL);
    distill_share_bus_destroy(lossy), distill_share_bus_destroy(bus);
    for (i = 0; i < 3; i++)
        distill_share_destroy(ag[i]), distill_masknet_destroy(n[i]);
    distill_context_destroy(ctx);
    ck_assert_int_eq(ca.live, 0);
}
END_TEST

START_TEST(a_learned_task_is_a_deployable_policy)
{
    distill_context *ctx = test_context(NULL, 1);
    int64_t layers;
    for (layers = 0; layers <= 2; layers += 2) {
        distill_masknet *net = make_net(ctx, DISTILL_MASK_RI, DISTILL_MASK_THRESHOLD, 5, 12, layers, 4, 3);
        distill_policy *p, *q;
        float x[16 * 5], y[16 * 4], a[16], b[16];
        size_t bytes;
        void *ws;
        int64_t i, j;
        char path[64];
        fill_random(x, 16 * 5, 21);
        ck_assert_status(distill_masknet_add_task(net, 1), DISTILL_OK);
        ck_assert_status(distill_masknet_consolidate(net), DISTILL_OK);
        ck_assert_status(distill_masknet_policy(net, 0, 3, DISTILL_POLICY_GREEDY, 1.0f, &p), DISTILL_E_INVAL);
        ck_assert_status(distill_masknet_policy(net, 1, 5, DISTILL_POLICY_GREEDY, 1.0f, &p), DISTILL_E_INVAL);
        ck_assert_status(distill_masknet_policy(net, 1, 3, DISTILL_POLICY_GREEDY, 1.0f, &p), DISTILL_OK);
        ck_assert_int_eq(distill_policy_obs_dim(p), 5);
        ck_assert_status(distill_policy_workspace_size(p, 16, &bytes), DISTILL_OK);
        ws = malloc(bytes);
        ck_assert_status(distill_policy_act(p, ws, bytes, 16, x, 5, a, 1, NULL), DISTILL_OK);
        ck_assert_status(distill_masknet_forward(net, 1, 16, x, 5, y, 4), DISTILL_OK);
        for (i = 0; i < 16; i++) { /* the argmax of the first three outputs */
            int64_t best = 0;
            for (j = 1; j < 3; j++)
                best = y[i * 4 + j] > y[i * 4 + best] ? j : best;
            ck_assert_int_eq((int64_t)a[i], best);
        }
        snprintf(path, sizeof path, "/tmp/distill-mask-policy-%d", (int)getpid());
        ck_assert_status(distill_policy_save(p, path), DISTILL_OK);
        ck_assert_status(distill_policy_load(ctx, path, &q), DISTILL_OK);
        ck_assert_status(distill_policy_act(q, ws, bytes, 16, x, 5, b, 1, NULL), DISTILL_OK);
        ck_assert(memcmp(a, b, sizeof a) == 0);
        unlink(path);
        free(ws);
        distill_policy_destroy(p), distill_policy_destroy(q), distill_masknet_destroy(net);
    }
    distill_context_destroy(ctx);
}
END_TEST

START_TEST(a_saved_net_loads_whole_and_damage_is_a_format_error)
{
    counting_alloc ca;
    distill_context *ctx = test_context(&ca, 1);
    distill_masknet *net = make_net(ctx, DISTILL_MASK_LC, DISTILL_MASK_THRESHOLD, 4, 8, 2, 3, 4), *back, *other;
    float x[3 * 4], ya[3 * 3], yb[3 * 3], dy[3 * 3];
    char path[64];
    unsigned char *bytes;
    size_t size, i;
    FILE *f;
    int64_t t;
    snprintf(path, sizeof path, "/tmp/distill-masknet-%d.dstl", (int)getpid());
    fill_random(x, 12, 4), fill_random(dy, 9, 5);
    for (t = 0; t < 4; t += 2) { /* slots 0 and 2 learned, 3 in training (composing them) */
        ck_assert_status(distill_masknet_add_task(net, t), DISTILL_OK);
        ck_assert_status(distill_masknet_consolidate(net), DISTILL_OK);
    }
    ck_assert_status(distill_masknet_add_task(net, 3), DISTILL_OK);
    distill_masknet_params(net)[net->P + 1] = 0.7f; /* a beta logit moved */
    ck_assert_status(distill_masknet_save(net, path), DISTILL_OK);
    ck_assert_status(distill_masknet_load(ctx, path, &back), DISTILL_OK);
    ck_assert_int_eq(distill_masknet_tasks(back), 3);
    ck_assert_int_eq(distill_masknet_training_task(back), 3);
    ck_assert_int_eq(distill_masknet_task_learned(back, 2), 1);
    for (t = 0; t < 4; t++) { /* every task, the one in training too, computes the same */
        if (t == 1)
            continue;
        ck_assert_status(distill_masknet_forward(net, t, 3, x, 4, ya, 3), DISTILL_OK);
        ck_assert_status(distill_masknet_forward(back, t, 3, x, 4, yb, 3), DISTILL_OK);
        ck_assert_msg(memcmp(ya, yb, sizeof ya) == 0, "task %lld differs after a load", (long long)t);
    }
    ck_assert_status(distill_masknet_backward(net, dy, 3, NULL, 0, 0), DISTILL_OK);
    ck_assert_status(distill_masknet_backward(back, dy, 3, NULL, 0, 0), DISTILL_OK);
    ck_assert(memcmp(distill_masknet_grads(net), distill_masknet_grads(back),
                     sizeof(float) * (size_t)distill_masknet_param_count(net)) == 0);
    ck_assert_status(distill_masknet_consolidate(back), DISTILL_OK);
    /* damage: every cut and a flip in every byte (CRCs, then the checks behind them) */
    ck_assert_ptr_nonnull(f = fopen(path, "rb"));
    fseek(f, 0, SEEK_END), size = (size_t)ftell(f), fseek(f, 0, SEEK_SET);
    bytes = malloc(size);
    ck_assert_uint_eq(fread(bytes, 1, size, f), size);
    fclose(f);
    for (i = 0; i < size; i += 1 + size / 97) {
        ck_assert_status(distill_masknet_load_memory(ctx, bytes, i, &other), DISTILL_E_FORMAT);
        bytes[i] ^= 0x20;
        ck_assert_status(distill_masknet_load_memory(ctx, bytes, size, &other), DISTILL_E_FORMAT);
        bytes[i] ^= 0x20;
        ck_assert_ptr_null(other);
    }
    ck_assert_status(distill_masknet_load(ctx, "/nonexistent/m.dstl", &other), DISTILL_E_IO);
    unlink(path);
    free(bytes);
    distill_masknet_destroy(net), distill_masknet_destroy(back);
    distill_context_destroy(ctx);
    ck_assert_int_eq(ca.live, 0);
}
END_TEST

START_TEST(a_lifelong_curriculum_must_fit_its_net)
{
    counting_alloc ca;
    distill_context *ctx = test_context(&ca, 1);
    distill_masknet *net = make_net(ctx, DISTILL_MASK_RI, DISTILL_MASK_THRESHOLD, 25, 8, 1, 4, 2);
    distill_env_options eo;
    distill_env *grid;
    distill_lifelong *life = NULL;
    const int64_t slots[2] = {0, 0}, one = 0;
    distill_env *envs[2];
    distill_env_options_init(&eo);
    eo.task = DISTILL_ENV_GRID;
    ck_assert_status(distill_env_create(ctx, &eo, &grid), DISTILL_OK);
    envs[0] = envs[1] = grid;
    /* the grid has 4 actions: the net needs 5 outputs, it has 4 */
    ck_assert_status(distill_lifelong_create(ctx, NULL, NULL, net, envs, &one, 1, NULL, &life), DISTILL_E_SHAPE);
    ck_assert_ptr_null(life);
    distill_masknet_destroy(net);
    net = make_net(ctx, DISTILL_MASK_RI, DISTILL_MASK_THRESHOLD, 25, 8, 1, 5, 2);
    ck_assert_status(distill_lifelong_create(ctx, NULL, NULL, net, envs, slots, 2, NULL, &life), DISTILL_E_INVAL);
    ck_assert_status(distill_lifelong_create(ctx, NULL, NULL, net, envs, &one, 1, NULL, &life), DISTILL_OK);
    ck_assert_status(distill_masknet_add_task(net, 1), DISTILL_OK); /* the host trains another task itself */
    ck_assert_status(distill_lifelong_step(life, NULL), DISTILL_E_INVAL);
    ck_assert_int_eq(distill_lifelong_iterations(life), 0);
    distill_lifelong_destroy(life), distill_masknet_destroy(net), distill_env_destroy(grid);
    distill_context_destroy(ctx);
    ck_assert_int_eq(ca.live, 0);
}
END_TEST

Suite *distill_suite_mask(void)
{
    Suite *s = suite_create("mask");
    TCase *tc = tcase_create("mask");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, straight_through_and_lc_gradients_match_central_differences);
    tcase_add_test(tc, binarisations_switch_the_right_weights);
    tcase_add_test(tc, learned_tasks_never_change);
    tcase_add_test(tc, inference_allocates_nothing_and_agrees_with_forward);
    tcase_add_test(tc, the_backbone_comes_from_its_seed_alone);
    tcase_add_test(tc, bad_input_is_refused_and_changes_nothing);
    tcase_add_test(tc, a_sent_mask_reproduces_the_senders_outputs_exactly);
    tcase_add_test(tc, the_decoder_rejects_hostile_messages_and_changes_nothing);
    tcase_add_test(tc, sharing_survives_lost_duplicated_and_reordered_messages);
    tcase_add_test(tc, agents_on_a_bus_share_and_discover_each_other);
    tcase_add_test(tc, a_learned_task_is_a_deployable_policy);
    tcase_add_test(tc, a_saved_net_loads_whole_and_damage_is_a_format_error);
    tcase_add_test(tc, a_lifelong_curriculum_must_fit_its_net);
    suite_add_tcase(s, tc);
    return s;
}
