/* Environments and rollouts: the built-in tasks against transitions
 * computed independently (float64 Python, straight from Gymnasium's
 * CartPole-v1 and Pendulum-v1 equations, starting from our reset's
 * observation), host vtables, failing callbacks, and rollouts that do not
 * depend on how many episodes run side by side. */
#include <math.h>

#include "testutil.h"
#include "rl/bc.h"

static distill_env *builtin(distill_context *ctx, int32_t task, int64_t max_steps)
{
    distill_env_options o;
    distill_env *e = NULL;
    distill_env_options_init(&o);
    o.task = task, o.max_steps = max_steps;
    ck_assert_status(distill_env_create(ctx, &o, &e), DISTILL_OK);
    return e;
}

START_TEST(cartpole_matches_reference_transitions)
{
    static const float first[4] = {-0.039264299f, 0.042717196f, 0.0239697993f, 0.0132674398f};
    static const double want[5][4] = {
        {-0.0384099551, 0.237487334, 0.0242351481, -0.271757396},
        {-0.0336602084, 0.0420280962, 0.0188000002, 0.0284697999},
        {-0.0328196465, 0.236875468, 0.0193693962, -0.258222734},
        {-0.0280821371, 0.431715615, 0.0142049415, -0.544733886},
        {-0.0194478248, 0.236396967, 0.00331026375, -0.24760936},
    };
    static const float actions[5] = {1, 0, 1, 1, 0};
    distill_context *ctx = test_context(NULL, 1);
    distill_env *e = builtin(ctx, DISTILL_ENV_CARTPOLE, 0);
    float obs[4], r;
    int32_t term, trunc;
    int i, j;
    ck_assert_int_eq(distill_env_obs_dim(e), 4);
    ck_assert_int_eq(distill_env_action_dim(e), 1);
    ck_assert_int_eq(distill_env_max_steps(e), 500);
    ck_assert_status(distill_env_reset(e, 7, obs), DISTILL_OK);
    for (j = 0; j < 4; j++) /* the reset is a pure function of the seed, forever */
        ck_assert_msg(obs[j] == first[j], "reset obs[%d] = %.9g, expected %.9g", j, obs[j], first[j]);
    for (i = 0; i < 5; i++) {
        ck_assert_status(distill_env_step(e, &actions[i], obs, &r, &term, &trunc), DISTILL_OK);
        ck_assert(r == 1.0f && !term && !trunc);
        for (j = 0; j < 4; j++)
            ck_assert_msg(fabs(obs[j] - want[i][j]) < 1e-6, "step %d obs[%d] = %.9g, expected %.9g", i, j,
                          obs[j], want[i][j]);
    }
    distill_env_destroy(e);
    distill_context_destroy(ctx);
}
END_TEST

START_TEST(pendulum_matches_reference_transitions)
{
    static const double want[4][4] = {
        {0.344347542, 0.93884225, 1.39857424, -1.34712788},
        {0.258441399, 0.966026937, 1.80270593, -1.68617787},
        {0.132778852, 0.991145689, 2.56472613, -2.039534},
        {-0.0472145768, 0.99888477, 3.60808539, -2.72854533},
    };
    static const float torque[4] = {1.5f, -3.0f, 0.25f, 2.0f}; /* -3 is clipped to -2 */
    distill_context *ctx = test_context(NULL, 1);
    distill_env *e = builtin(ctx, DISTILL_ENV_PENDULUM, 0);
    distill_space as;
    float obs[3], r;
    int32_t term, trunc;
    int i, j;
    as.struct_size = sizeof as;
    ck_assert_status(distill_env_action_space(e, &as), DISTILL_OK);
    ck_assert(as.kind == DISTILL_SPACE_BOX && as.n == 1 && as.low[0] == -2.0f && as.high[0] == 2.0f);
    ck_assert_status(distill_env_reset(e, 11, obs), DISTILL_OK);
    ck_assert(fabs(obs[0] - 0.409104496) < 1e-8 && fabs(obs[2] - 0.489208579) < 1e-7);
    for (i = 0; i < 4; i++) {
        ck_assert_status(distill_env_step(e, &torque[i], obs, &r, &term, &trunc), DISTILL_OK);
        for (j = 0; j < 3; j++)
            ck_assert_msg(fabs(obs[j] - want[i][j]) < 1e-6, "step %d obs[%d] = %.9g, expected %.9g", i, j,
                          obs[j], want[i][j]);
        ck_assert_msg(fabs(r - want[i][3]) < 1e-5, "step %d reward %.9g, expected %.9g", i, r, want[i][3]);
    }
    distill_env_destroy(e);
    distill_context_destroy(ctx);
}
END_TEST

/* Time limits, termination, and steps outside an episode. */
START_TEST(episodes_end_and_refuse_further_steps)
{
    distill_context *ctx = test_context(NULL, 1);
    distill_env *e = builtin(ctx, DISTILL_ENV_PENDULUM, 0), *cp = builtin(ctx, DISTILL_ENV_CARTPOLE, 0);
    float obs[4], r, zero = 0.0f, right = 1.0f, bad = 2.0f, half = 0.5f;
    int32_t term = 0, trunc = 0;
    int t;
    ck_assert_fails(ctx, distill_env_step(e, &zero, obs, &r, &term, &trunc), DISTILL_E_INVAL, "reset first");
    ck_assert_status(distill_env_reset(e, 1, obs), DISTILL_OK);
    for (t = 0; t < 200; t++)
        ck_assert_status(distill_env_step(e, &zero, obs, &r, &term, &trunc), DISTILL_OK);
    ck_assert(trunc && !term); /* Pendulum-v1: 200 steps, never terminates */
    ck_assert_fails(ctx, distill_env_step(e, &zero, obs, &r, NULL, NULL), DISTILL_E_INVAL, "reset");
    ck_assert_status(distill_env_reset(cp, 3, obs), DISTILL_OK);
    ck_assert_fails(ctx, distill_env_step(cp, &bad, obs, &r, NULL, NULL), DISTILL_E_INVAL, "not one of");
    ck_assert_fails(ctx, distill_env_step(cp, &half, obs, &r, NULL, NULL), DISTILL_E_INVAL, "not one of");
    for (t = 0, term = 0; t < 100 && !term; t++) /* always pushing right tips the pole */
        ck_assert_status(distill_env_step(cp, &right, obs, &r, &term, &trunc), DISTILL_OK);
    ck_assert(term && !trunc && t < 100);
    distill_env_destroy(e);
    distill_env_destroy(cp);
    distill_context_destroy(ctx);
}
END_TEST

/* A host env: a 1-d walk with a box action, whose step can be made to fail
 * at a chosen call. */
typedef struct walk {
    float x;
    int steps, fail_at, released;
} walk;

static int walk_reset(void *user, uint64_t seed, float *obs)
{
    walk *w = user;
    w->x = (float)(seed % 5);
    obs[0] = w->x;
    return 0;
}

static int walk_step(void *user, const float *a, float *obs, float *reward, int32_t *term, int32_t *trunc)
{
    walk *w = user;
    if (++w->steps == w->fail_at)
        return 1;
    w->x += a[0];
    obs[0] = w->x, *reward = -fabsf(w->x), *term = fabsf(w->x) > 10.0f, *trunc = 0;
    return 0;
}

static void walk_release(void *user) { ((walk *)user)->released++; }

static distill_env *walk_env(distill_context *ctx, walk *w, int64_t max_steps)
{
    static const float lo = -1.0f, hi = 1.0f;
    distill_env_vtable vt = {sizeof vt, NULL, walk_reset, walk_step, walk_release};
    distill_space os = {sizeof os, DISTILL_SPACE_BOX, 1, NULL, NULL};
    distill_space as = {sizeof as, DISTILL_SPACE_BOX, 1, &lo, &hi};
    distill_env *e = NULL;
    vt.user = w;
    ck_assert_status(distill_env_from_vtable(ctx, &vt, &os, &as, max_steps, &e), DISTILL_OK);
    return e;
}

/* Policies as callbacks: a push towards 0, a CartPole controller. */
static int towards_zero(void *user, int64_t n, const float *obs, int64_t ldobs, float *a, int64_t lda)
{
    int64_t i;
    (void)user;
    for (i = 0; i < n; i++)
        a[i * lda] = obs[i * ldobs] > 0 ? -0.5f : 0.5f;
    return 0;
}

static int balance(void *user, int64_t n, const float *obs, int64_t ldobs, float *a, int64_t lda)
{
    int64_t i;
    (void)user;
    for (i = 0; i < n; i++) {
        const float *o = obs + i * ldobs;
        a[i * lda] = 0.1f * o[0] + 0.5f * o[1] + 10.0f * o[2] + 2.0f * o[3] > 0 ? 1.0f : 0.0f;
    }
    return 0;
}

static int failing_act(void *user, int64_t n, const float *obs, int64_t ldobs, float *a, int64_t lda)
{
    int *calls = user;
    (void)n, (void)obs, (void)ldobs, (void)a, (void)lda;
    return ++*calls == 3;
}

START_TEST(host_env_failures_are_backend_errors_and_leave_it_usable)
{
    counting_alloc ca;
    distill_context *ctx = test_context(&ca, 1);
    walk w = {0, 0, 7, 0};
    distill_env *e = walk_env(ctx, &w, 20);
    distill_rollout_options o;
    distill_dataset *traj = (distill_dataset *)&o;
    double ret[3];
    int calls = 0;
    float obs[1], r, a = 0.5f;
    distill_rollout_options_init(&o);
    o.episodes = 3;
    ck_assert_fails(ctx, distill_env_rollout(e, &o, towards_zero, NULL, ret, NULL, &traj), DISTILL_E_BACKEND,
                    "step callback failed");
    ck_assert_ptr_null(traj);
    ck_assert_fails(ctx, distill_env_rollout(e, &o, failing_act, &calls, ret, NULL, NULL), DISTILL_E_BACKEND,
                    "act callback failed");
    w.fail_at = -1;
    ck_assert_status(distill_env_reset(e, 2, obs), DISTILL_OK); /* still usable */
    ck_assert_status(distill_env_step(e, &a, obs, &r, NULL, NULL), DISTILL_OK);
    ck_assert(obs[0] == 2.5f && r == -2.5f);
    ck_assert_status(distill_env_rollout(e, &o, towards_zero, NULL, ret, NULL, NULL), DISTILL_OK);
    distill_env_destroy(e);
    ck_assert_int_eq(w.released, 1);
    distill_context_destroy(ctx);
    ck_assert_int_eq(ca.live, 0);
}
END_TEST

/* Same options, any lockstep: the same returns, lengths and data; the
 * trajectory dataset holds whole episodes in order with their returns-to-go. */
START_TEST(rollouts_are_deterministic_and_recorded_whole)
{
    distill_context *ctx = test_context(NULL, 1);
    distill_env *e = builtin(ctx, DISTILL_ENV_CARTPOLE, 0);
    distill_rollout_options o;
    distill_dataset *d1 = NULL, *d2 = NULL;
    double r1[12], r2[12], total = 0.0;
    int64_t l1[12], l2[12], rows, i, at = 0, ep;
    float *x1, *y1, *x2, *y2;
    distill_rollout_options_init(&o);
    o.episodes = 12, o.seed = 100, o.epsilon = 0.3, o.lockstep = 5;
    ck_assert_status(distill_env_rollout(e, &o, balance, NULL, r1, l1, &d1), DISTILL_OK);
    o.lockstep = 1;
    ck_assert_status(distill_env_rollout(e, &o, balance, NULL, r2, l2, &d2), DISTILL_OK);
    ck_assert_mem_eq(r1, r2, sizeof r1);
    ck_assert_mem_eq(l1, l2, sizeof l1);
    rows = distill_dataset_count(d1);
    ck_assert_int_eq(rows, distill_dataset_count(d2));
    ck_assert_int_eq(distill_dataset_y_dim(d1), 1 + DISTILL_TRAJ_EXTRA);
    x1 = malloc(sizeof(float) * (size_t)rows * 4), x2 = malloc(sizeof(float) * (size_t)rows * 4);
    y1 = malloc(sizeof(float) * (size_t)rows * 5), y2 = malloc(sizeof(float) * (size_t)rows * 5);
    ck_assert_status(distill_dataset_get_range(d1, 0, rows, x1, 4, y1, 5), DISTILL_OK);
    ck_assert_status(distill_dataset_get_range(d2, 0, rows, x2, 4, y2, 5), DISTILL_OK);
    ck_assert_mem_eq(x1, x2, sizeof(float) * (size_t)rows * 4);
    ck_assert_mem_eq(y1, y2, sizeof(float) * (size_t)rows * 5);
    for (ep = 0; ep < 12; ep++) {
        const float *first = y1 + at * 5, *last = y1 + (at + l1[ep] - 1) * 5;
        ck_assert(first[1 + DISTILL_TRAJ_EPISODE] == (float)ep && last[1 + DISTILL_TRAJ_EPISODE] == (float)ep);
        ck_assert_msg(fabs(first[1 + DISTILL_TRAJ_RTG] - r1[ep]) < 1e-3, "episode %lld: rtg %g, return %g",
                      (long long)ep, first[1 + DISTILL_TRAJ_RTG], r1[ep]);
        ck_assert(last[1 + DISTILL_TRAJ_RTG] == last[1 + DISTILL_TRAJ_REWARD]);
        ck_assert(last[1 + DISTILL_TRAJ_DONE] == (l1[ep] == 500 ? 2.0f : 1.0f));
        for (i = at; i < at + l1[ep] - 1; i++)
            ck_assert(y1[i * 5 + 1 + DISTILL_TRAJ_DONE] == 0.0f);
        at += l1[ep], total += r1[ep];
    }
    ck_assert_int_eq(at, rows);
    ck_assert_msg(total / 12 > 100, "the controller with 30%% noise should balance a while: %g", total / 12);
    free(x1), free(x2), free(y1), free(y2);
    distill_dataset_destroy(d1);
    distill_dataset_destroy(d2);
    distill_env_destroy(e);
    distill_context_destroy(ctx);
}
END_TEST

START_TEST(bad_env_arguments_are_refused_with_messages)
{
    distill_context *ctx = test_context(NULL, 1);
    distill_env_options o;
    distill_env_vtable vt = {sizeof vt, NULL, walk_reset, NULL, NULL};
    distill_space os = {sizeof os, DISTILL_SPACE_BOX, 1, NULL, NULL}, as = os;
    distill_rollout_options ro;
    distill_env *e = NULL;
    float lo = 1.0f, hi = -1.0f;
    distill_env_options_init(&o);
    o.task = 99;
    ck_assert_fails(ctx, distill_env_create(ctx, &o, &e), DISTILL_E_INVAL, "unknown task");
    ck_assert_fails(ctx, distill_env_from_vtable(ctx, &vt, &os, &as, 0, &e), DISTILL_E_INVAL, "reset and step");
    vt.step = walk_step;
    as.low = &lo, as.high = &hi;
    ck_assert_fails(ctx, distill_env_from_vtable(ctx, &vt, &os, &as, 0, &e), DISTILL_E_INVAL, "bounds");
    as.kind = DISTILL_SPACE_DISCRETE, as.n = 0;
    ck_assert_fails(ctx, distill_env_from_vtable(ctx, &vt, &os, &as, 0, &e), DISTILL_E_INVAL, "n must be");
    os.kind = DISTILL_SPACE_DISCRETE, as.n = 3;
    ck_assert_fails(ctx, distill_env_from_vtable(ctx, &vt, &os, &as, 0, &e), DISTILL_E_INVAL, "observation");
    ck_assert_ptr_null(e);
    e = builtin(ctx, DISTILL_ENV_PENDULUM, 0);
    distill_rollout_options_init(&ro);
    ro.epsilon = 1.5;
    ck_assert_fails(ctx, distill_env_rollout(e, &ro, towards_zero, NULL, NULL, NULL, NULL), DISTILL_E_INVAL,
                    "epsilon");
    ro.epsilon = 0, ro.episodes = 0;
    ck_assert_fails(ctx, distill_env_rollout(e, &ro, towards_zero, NULL, NULL, NULL, NULL), DISTILL_E_INVAL,
                    "episodes");
    distill_env_destroy(e);
    distill_context_destroy(ctx);
}
END_TEST

/* dz of a BC loss against central differences of its own loss, in double
 * (the perturbed z are the floats actually evaluated); the worst error. */
static double bc_fd_error(int32_t kind, int discrete, int64_t n, int64_t k, float *z, const float *a, int64_t lda)
{
    float dz[64];
    double lp, lm, worst = 0.0;
    int64_t i;
    distill__bc_loss_grad(kind, discrete, n, k, z, k, a, lda, NULL, dz, k);
    for (i = 0; i < n * k; i++) {
        const float z0 = z[i], zp = z0 + 1e-2f, zm = z0 - 1e-2f;
        double fd;
        z[i] = zp;
        distill__bc_loss_grad(kind, discrete, n, k, z, k, a, lda, &lp, NULL, 0);
        z[i] = zm;
        distill__bc_loss_grad(kind, discrete, n, k, z, k, a, lda, &lm, NULL, 0);
        z[i] = z0;
        fd = (lp - lm) / ((double)zp - (double)zm);
        worst = fabs(fd - dz[i]) > worst ? fabs(fd - dz[i]) : worst;
    }
    return worst;
}

START_TEST(bc_loss_gradients_match_central_differences)
{
    enum { N = 5, K = 4 };
    float z[N * K], a[N * 2], targets[N * K];
    int64_t i;
    fill_random(z, N * K, 21);
    fill_random(targets, N * K, 22);
    for (i = 0; i < N; i++)
        a[2 * i] = (float)(i % K), a[2 * i + 1] = 0.5f;
    ck_assert_msg(bc_fd_error(DISTILL_BC_MSE, 1, N, K, z, a, 2) < 1e-5, "softmax MSE");
    ck_assert_msg(bc_fd_error(DISTILL_BC_MAE, 1, N, K, z, a, 2) < 1e-4, "softmax MAE");
    ck_assert_msg(bc_fd_error(DISTILL_BC_XENT, 1, N, K, z, a, 2) < 1e-5, "cross-entropy");
    ck_assert_msg(bc_fd_error(DISTILL_BC_MSE, 0, N, K, z, targets, K) < 1e-5, "continuous squared error");
}
END_TEST

static distill_model *cartpole_mlp(distill_context *ctx)
{
    distill_layer_spec l[3];
    distill_model_options mo;
    distill_model *m = NULL;
    distill_layer_spec_init(&l[0], DISTILL_LAYER_DENSE);
    l[0].units = 32;
    distill_layer_spec_init(&l[1], DISTILL_LAYER_TANH);
    distill_layer_spec_init(&l[2], DISTILL_LAYER_DENSE);
    l[2].units = 2;
    distill_model_options_init(&mo);
    mo.in_c = 4, mo.in_h = mo.in_w = 1, mo.layers = l, mo.n_layers = 3;
    ck_assert_status(distill_model_create(ctx, &mo, &m), DISTILL_OK);
    return m;
}

static int cancel_at(void *user, const char *stage, int64_t done, int64_t total)
{
    (void)stage, (void)total;
    return done == *(int64_t *)user;
}

/* BC on a noisy controller's data learns to balance; percentile selection
 * keeps the best episodes whole; a failed training changes nothing. */
START_TEST(bc_learns_the_controller_and_fails_cleanly)
{
    distill_context *ctx = test_context(NULL, 1);
    distill_env *e = builtin(ctx, DISTILL_ENV_CARTPOLE, 0);
    distill_model *m = cartpole_mlp(ctx);
    distill_space s = {sizeof s, DISTILL_SPACE_DISCRETE, 2, NULL, NULL};
    distill_rollout_options o;
    distill_bc_options bo;
    distill_dataset *traj = NULL, *top = NULL;
    distill_policy *p = NULL;
    double ret[20], before_ret[20], loss, mean = 0.0, best_kept = 1e9, worst_all = 1e9;
    int64_t len[20], stop = 50, i;
    float *saved;
    distill_rollout_options_init(&o);
    o.episodes = 20, o.seed = 1, o.epsilon = 0.3;
    ck_assert_status(distill_env_rollout(e, &o, balance, NULL, before_ret, len, &traj), DISTILL_OK);
    /* percentile: the best quarter of 20 episodes is 5 whole episodes */
    ck_assert_status(distill_trajectory_top(traj, 1, 0.25, &top), DISTILL_OK);
    {
        int64_t kept = 0, order[20];
        for (i = 0; i < 20; i++)
            order[i] = i;
        for (i = 0; i < 20; i++) { /* the 5 best returns, earlier first on ties */
            int64_t j, b = i;
            for (j = i + 1; j < 20; j++)
                if (before_ret[order[j]] > before_ret[order[b]])
                    b = j;
            j = order[i], order[i] = order[b], order[b] = j;
        }
        for (i = 0; i < 5; i++)
            kept += len[order[i]], best_kept = before_ret[order[i]] < best_kept ? before_ret[order[i]] : best_kept;
        for (i = 0; i < 20; i++)
            worst_all = before_ret[i] < worst_all ? before_ret[i] : worst_all;
        ck_assert_int_eq(distill_dataset_count(top), kept);
        ck_assert(best_kept >= worst_all);
    }
    distill_bc_options_init(&bo);
    bo.n_actions = 2, bo.steps = 1500, bo.batch = 128, bo.lr = 0.01;
    saved = malloc(sizeof(float) * (size_t)distill_model_param_count(m));
    memcpy(saved, distill_model_params(m), sizeof(float) * (size_t)distill_model_param_count(m));
    distill_context_set_progress(ctx, cancel_at, &stop);
    ck_assert_status(distill_bc_train(ctx, &bo, m, traj, &loss), DISTILL_E_CANCELLED);
    ck_assert_mem_eq(saved, distill_model_params(m), sizeof(float) * (size_t)distill_model_param_count(m));
    distill_context_set_progress(ctx, NULL, NULL);
    distill_context_reset_cancel(ctx);
    bo.n_actions = 3;
    ck_assert_fails(ctx, distill_bc_train(ctx, &bo, m, traj, &loss), DISTILL_E_INVAL, "n_actions");
    bo.n_actions = 2;
    ck_assert_status(distill_bc_train(ctx, &bo, m, traj, &loss), DISTILL_OK);
    ck_assert(isfinite(loss) && loss < 0.6);
    ck_assert_status(distill_policy_from_model(ctx, m, &s, DISTILL_POLICY_GREEDY, 1.0f, &p), DISTILL_OK);
    o.epsilon = 0, o.seed = 1000;
    ck_assert_status(distill_policy_evaluate(p, e, &o, ret, len, NULL), DISTILL_OK);
    for (i = 0; i < 20; i++)
        mean += ret[i] / 20;
    ck_assert_msg(mean > 150, "BC on the noisy controller's data returns %g", mean);
    free(saved);
    distill_policy_destroy(p);
    distill_dataset_destroy(traj), distill_dataset_destroy(top);
    distill_model_destroy(m);
    distill_env_destroy(e);
    distill_context_destroy(ctx);
}
END_TEST

/* The scripted experts: CartPole to its limit, Pendulum swung up. */
START_TEST(experts_solve_their_tasks)
{
    distill_context *ctx = test_context(NULL, 1);
    distill_env *cp = builtin(ctx, DISTILL_ENV_CARTPOLE, 0), *pd = builtin(ctx, DISTILL_ENV_PENDULUM, 0);
    walk w = {0, 0, -1, 0};
    distill_env *host = walk_env(ctx, &w, 5);
    distill_rollout_options o;
    double ret[10];
    float obs[1] = {0}, a[1];
    int i;
    distill_rollout_options_init(&o);
    o.episodes = 10;
    ck_assert_status(distill_env_rollout(cp, &o, distill_env_expert, cp, ret, NULL, NULL), DISTILL_OK);
    for (i = 0; i < 10; i++)
        ck_assert_msg(ret[i] == 500.0, "CartPole expert: episode %d returned %g", i, ret[i]);
    ck_assert_status(distill_env_rollout(pd, &o, distill_env_expert, pd, ret, NULL, NULL), DISTILL_OK);
    for (i = 0; i < 10; i++)
        ck_assert_msg(ret[i] > -400.0, "Pendulum expert: episode %d returned %g", i, ret[i]);
    ck_assert_int_ne(distill_env_expert(host, 1, obs, 1, a, 1), 0);
    ck_assert_fails(ctx, distill_env_rollout(host, &o, distill_env_expert, host, ret, NULL, NULL), DISTILL_E_BACKEND,
                    "act callback");
    distill_env_destroy(cp), distill_env_destroy(pd), distill_env_destroy(host);
    distill_context_destroy(ctx);
}
END_TEST

/* Run the action sequence acts (n) on env from a reset; returns the return,
 * *steps the steps taken before the episode ended (n if it did not). */
static double run_actions(distill_env *env, const float *acts, int n, int *steps, float *first_obs)
{
    float obs[64];
    float r;
    double total = 0.0;
    int32_t term = 0, trunc = 0;
    int i;
    ck_assert_status(distill_env_reset(env, 1, obs), DISTILL_OK);
    if (first_obs)
        memcpy(first_obs, obs, sizeof obs);
    for (i = 0; i < n && !term && !trunc; i++) {
        ck_assert_status(distill_env_step(env, &acts[i], obs, &r, &term, &trunc), DISTILL_OK);
        total += r;
    }
    *steps = i;
    return total;
}

START_TEST(ctgraph_rewards_its_goal_leaf_only)
{
    distill_context *ctx = test_context(NULL, 1);
    distill_env_options o;
    distill_env *env;
    float seen[2][64], obs[64];
    int depth, goal, leaf, steps, i;
    distill_env_options_init(&o);
    o.task = DISTILL_ENV_CTGRAPH;
    for (depth = 2; depth <= 3; depth++)
        for (goal = 0; goal < (1 << depth); goal++) {
            o.depth = depth, o.goal = goal, o.image_seed = 3;
            ck_assert_status(distill_env_create(ctx, &o, &env), DISTILL_OK);
            ck_assert_int_eq(distill_env_obs_dim(env), 64);
            for (leaf = 0; leaf < (1 << depth); leaf++) { /* wait, turn, wait, turn, ... */
                float acts[8];
                int d;
                for (d = 0; d < depth; d++)
                    acts[2 * d] = 0.0f, acts[2 * d + 1] = (float)(1 + (leaf >> (depth - 1 - d) & 1));
                ck_assert(run_actions(env, acts, 2 * depth, &steps, NULL) == (leaf == goal ? 1.0 : 0.0));
                ck_assert_int_eq(steps, 2 * depth);
            }
            {   /* a turn at the start, or a wait at a decision, crashes */
                const float turn[1] = {1.0f}, waits[2] = {0.0f, 0.0f};
                ck_assert(run_actions(env, turn, 1, &steps, NULL) == 0.0 && steps == 1);
                ck_assert(run_actions(env, waits, 2, &steps, NULL) == 0.0 && steps == 2);
                ck_assert_status(distill_env_step(env, waits, obs, &obs[0], NULL, NULL), DISTILL_E_INVAL); /* ended */
            }
            distill_env_destroy(env);
        }
    for (i = 0; i < 2; i++) { /* the images: every node its own, in [0, 1], from the seed */
        const float wait[1] = {0.0f};
        float r;
        o.depth = 2, o.goal = 0, o.image_seed = (uint64_t)i;
        ck_assert_status(distill_env_create(ctx, &o, &env), DISTILL_OK);
        (void)run_actions(env, wait, 0, &steps, seen[i]);
        ck_assert_status(distill_env_step(env, wait, obs, &r, NULL, NULL), DISTILL_OK);
        ck_assert(memcmp(obs, seen[i], sizeof obs) != 0);
        for (steps = 0; steps < 64; steps++)
            ck_assert(seen[i][steps] >= 0.0f && seen[i][steps] < 1.0f);
        distill_env_destroy(env);
    }
    ck_assert(memcmp(seen[0], seen[1], sizeof seen[0]) != 0);
    o.depth = 4;
    ck_assert_status(distill_env_create(ctx, &o, &env), DISTILL_E_INVAL);
    o.depth = 2, o.goal = 4;
    ck_assert_status(distill_env_create(ctx, &o, &env), DISTILL_E_INVAL);
    distill_context_destroy(ctx);
}
END_TEST

START_TEST(grid_rewards_its_corner)
{
    distill_context *ctx = test_context(NULL, 1);
    distill_env_options o;
    distill_env *env;
    float obs[64];
    int goal, steps, i;
    distill_env_options_init(&o);
    o.task = DISTILL_ENV_GRID;
    for (goal = 0; goal < 4; goal++) {
        float acts[20];
        o.goal = goal;
        ck_assert_status(distill_env_create(ctx, &o, &env), DISTILL_OK);
        ck_assert_int_eq(distill_env_obs_dim(env), 25);
        /* up or down twice, left or right twice: the corner in 4 steps */
        acts[0] = acts[1] = goal & 2 ? 1.0f : 0.0f, acts[2] = acts[3] = goal & 1 ? 3.0f : 2.0f;
        ck_assert(run_actions(env, acts, 4, &steps, obs) == 1.0 && steps == 4);
        ck_assert(obs[12] == 1.0f); /* started in the middle */
        for (i = 0; i < 20; i++) /* into the wall and back: no goal, the time limit */
            acts[i] = i & 1 ? 0.0f : 1.0f;
        ck_assert(run_actions(env, acts, 20, &steps, NULL) == 0.0 && steps == 20);
        distill_env_destroy(env);
    }
    o.goal = 4;
    ck_assert_status(distill_env_create(ctx, &o, &env), DISTILL_E_INVAL);
    distill_context_destroy(ctx);
}
END_TEST

Suite *distill_suite_rl(void)
{
    Suite *s = suite_create("rl");
    TCase *tc = tcase_create("env");
    tcase_add_test(tc, cartpole_matches_reference_transitions);
    tcase_add_test(tc, pendulum_matches_reference_transitions);
    tcase_add_test(tc, episodes_end_and_refuse_further_steps);
    tcase_add_test(tc, host_env_failures_are_backend_errors_and_leave_it_usable);
    tcase_add_test(tc, rollouts_are_deterministic_and_recorded_whole);
    tcase_add_test(tc, bad_env_arguments_are_refused_with_messages);
    tcase_add_test(tc, bc_loss_gradients_match_central_differences);
    tcase_add_test(tc, bc_learns_the_controller_and_fails_cleanly);
    tcase_add_test(tc, experts_solve_their_tasks);
    tcase_add_test(tc, ctgraph_rewards_its_goal_leaf_only);
    tcase_add_test(tc, grid_rewards_its_corner);
    suite_add_tcase(s, tc);
    return s;
}
