/* PPO: the per-sample loss gradient against central differences (double),
 * CartPole solved (mean return >= 475), bit-identical reruns, a failing
 * network callback, bad arguments. */
#include <unistd.h>

#include "testutil.h"
#include "rl/ppo.h"

START_TEST(ppo_loss_gradient_matches_central_differences)
{
    /* (ratio inside the clip, A > 0), (ratio above it, A > 0: no policy
     * gradient), (below it, A < 0: none), (above it, A < 0: flows) */
    static const double logp_shift[4] = {0.02, 0.5, -0.5, 0.5}, advs[4] = {1.3, 1.3, -0.7, -0.7};
    double z[4] = {0.3, -1.1, 0.7, 2.5}, dz[4], fd[4], st[4] = {0};
    float got[4];
    int c, j, a = 1;
    for (c = 0; c < 4; c++) {
        double lse = 0.0, logp_old;
        for (j = 0; j < 3; j++)
            lse += exp(z[j]);
        logp_old = z[a] - log(lse) - logp_shift[c];
        (void)distill__ppo_sample_loss(3, z, a, logp_old, advs[c], 1.7, 0.2, 0.05, 0.5, dz, st);
        for (j = 0; j < 4; j++) {
            const double h = 1e-6, keep = z[j];
            double up, down;
            z[j] = keep + h, up = distill__ppo_sample_loss(3, z, a, logp_old, advs[c], 1.7, 0.2, 0.05, 0.5, fd, st);
            z[j] = keep - h, down = distill__ppo_sample_loss(3, z, a, logp_old, advs[c], 1.7, 0.2, 0.05, 0.5, fd, st);
            z[j] = keep, fd[j] = (up - down) / (2.0 * h), got[j] = (float)dz[j];
        }
        ck_assert_msg(rel_err_fd(got, fd, 4) < 1e-6, "case %d: relative error %g", c, rel_err_fd(got, fd, 4));
    }
}
END_TEST

/* CartPole's actor-critic: two tanh layers of 64, orthogonal init, a small
 * last layer (2 logits and the value). */
static distill_model *cartpole_net(distill_context *ctx)
{
    distill_layer_spec l[5];
    distill_model_options mo;
    distill_model *m = NULL;
    int i;
    for (i = 0; i < 5; i += 2) {
        distill_layer_spec_init(&l[i], DISTILL_LAYER_DENSE);
        l[i].units = i < 4 ? 64 : 3, l[i].init = DISTILL_INIT_ORTHOGONAL, l[i].init_gain = i < 4 ? 1.414f : 0.01f;
        if (i < 4)
            distill_layer_spec_init(&l[i + 1], DISTILL_LAYER_TANH);
    }
    distill_model_options_init(&mo);
    mo.in_c = 4, mo.in_h = mo.in_w = 1, mo.layers = l, mo.n_layers = 5;
    ck_assert_status(distill_model_create(ctx, &mo, &m), DISTILL_OK);
    return m;
}

static void cartpole_options(distill_ppo_options *o)
{
    distill_ppo_options_init(o);
    o->optimizer = DISTILL_OPTIM_ADAM, o->lr = 3e-3, o->envs = 8, o->steps = 128, o->epochs = 4;
    o->minibatches = 4, o->lambda = 0.95, o->clip = 0.2, o->entropy = 0.0, o->max_grad_norm = 0.5;
    o->value_coef = 0.01; /* a shared trunk: returns of hundreds must not drown the policy's gradient */
}

/* Greedy on the first two outputs. */
static int greedy_act(void *user, int64_t n, const float *obs, int64_t ldobs, float *actions, int64_t ldact)
{
    float y[64 * 3];
    int64_t i;
    if (n > 64 || distill_model_forward(user, DISTILL_MODE_EVAL, n, obs, ldobs, y, 3) != DISTILL_OK)
        return 1;
    for (i = 0; i < n; i++)
        actions[i * ldact] = y[i * 3 + 1] > y[i * 3] ? 1.0f : 0.0f;
    return 0;
}

START_TEST(ppo_solves_cartpole)
{
    distill_context *ctx = test_context(NULL, 1);
    distill_model *m = cartpole_net(ctx);
    distill_env *env;
    distill_ppo_options o;
    distill_ppo *p;
    distill_ppo_stats st;
    distill_rollout_options ro;
    double ret[20], mean = 0.0;
    int i, good = 0;
    ck_assert_status(distill_env_create(ctx, NULL, &env), DISTILL_OK);
    cartpole_options(&o);
    ck_assert_status(distill_ppo_create_model(ctx, &o, env, m, &p), DISTILL_OK);
    st.struct_size = sizeof st;
    for (i = 0; i < 250 && good < 3; i++) { /* until three iterations in a row end only 500-step episodes */
        ck_assert_status(distill_ppo_step(p, &st), DISTILL_OK);
        good = st.episodes == 0 || st.mean_return >= 499.0 ? good + (st.episodes > 0) : 0;
    }
    distill_rollout_options_init(&ro);
    ro.episodes = 20, ro.seed = 1000;
    ck_assert_status(distill_env_rollout(env, &ro, greedy_act, m, ret, NULL, NULL), DISTILL_OK);
    for (i = 0; i < 20; i++)
        mean += ret[i] / 20.0;
    ck_assert_msg(mean >= 475.0, "mean greedy return %g after %lld iterations", mean,
                  (long long)distill_ppo_iterations(p));
    distill_ppo_destroy(p), distill_env_destroy(env), distill_model_destroy(m);
    distill_context_destroy(ctx);
}
END_TEST

static float *train_copy(int threads, uint64_t seed, int64_t *count)
{
    distill_context_options co;
    distill_context *ctx;
    distill_model *m;
    distill_env *env;
    distill_ppo_options o;
    distill_ppo *p;
    float *out;
    distill_context_options_init(&co);
    co.threads = threads, co.seed = seed;
    ck_assert_status(distill_context_create(&co, &ctx), DISTILL_OK);
    m = cartpole_net(ctx);
    ck_assert_status(distill_env_create(ctx, NULL, &env), DISTILL_OK);
    cartpole_options(&o);
    o.steps = 32;
    ck_assert_status(distill_ppo_create_model(ctx, &o, env, m, &p), DISTILL_OK);
    ck_assert_status(distill_ppo_run(p, 3), DISTILL_OK);
    *count = distill_model_param_count(m);
    out = malloc(sizeof(float) * (size_t)*count);
    memcpy(out, distill_model_params(m), sizeof(float) * (size_t)*count);
    distill_ppo_destroy(p), distill_env_destroy(env), distill_model_destroy(m);
    distill_context_destroy(ctx);
    return out;
}

START_TEST(ppo_reruns_are_bit_identical)
{
    int64_t n;
    float *a = train_copy(2, 3, &n), *b = train_copy(2, 3, &n), *c = train_copy(2, 4, &n);
    ck_assert(memcmp(a, b, sizeof(float) * (size_t)n) == 0);
    ck_assert(memcmp(a, c, sizeof(float) * (size_t)n) != 0);
    free(a), free(b), free(c);
}
END_TEST

typedef struct failing_net {
    distill_model *m;
    int calls, fail_at;
} failing_net;

static int fail_forward(void *user, int64_t n, const float *x, int64_t ldx, float *y, int64_t ldy)
{
    failing_net *f = user;
    return distill_model_forward(f->m, DISTILL_MODE_TRAIN, n, x, ldx, y, ldy) != DISTILL_OK;
}

static int fail_backward(void *user, const float *dy, int64_t lddy)
{
    failing_net *f = user;
    if (++f->calls == f->fail_at)
        return 1;
    return distill_model_backward(f->m, dy, lddy, NULL, 0, DISTILL_BACKWARD_PARAMS) != DISTILL_OK;
}

START_TEST(a_failing_network_is_a_backend_error_and_changes_nothing)
{
    counting_alloc ca;
    distill_context *ctx = test_context(&ca, 1);
    failing_net f = {NULL, 0, 3};
    distill_network_vtable v;
    distill_env_options eo;
    distill_env *env, *pend;
    distill_ppo_options o;
    distill_ppo *p = NULL;
    float *before;
    int64_t n;
    f.m = cartpole_net(ctx);
    n = distill_model_param_count(f.m);
    ck_assert_status(distill_env_create(ctx, NULL, &env), DISTILL_OK);
    memset(&v, 0, sizeof v);
    v.struct_size = sizeof v, v.user = &f, v.inputs = 4, v.outputs = 3, v.n_params = n;
    v.params = distill_model_params(f.m), v.grads = distill_model_grads(f.m);
    v.forward = fail_forward, v.backward = fail_backward;
    cartpole_options(&o);
    o.steps = 16;
    ck_assert_status(distill_ppo_create(ctx, &o, env, &v, &p), DISTILL_OK);
    before = malloc(sizeof(float) * (size_t)n);
    memcpy(before, v.params, sizeof(float) * (size_t)n);
    ck_assert_status(distill_ppo_step(p, NULL), DISTILL_E_BACKEND);
    ck_assert(memcmp(before, v.params, sizeof(float) * (size_t)n) == 0);
    ck_assert_int_eq(distill_ppo_iterations(p), 0);
    ck_assert_status(distill_ppo_step(p, NULL), DISTILL_OK); /* usable again */
    ck_assert_int_eq(distill_ppo_iterations(p), 1);
    distill_ppo_destroy(p);
    /* bad arguments */
    distill_env_options_init(&eo);
    eo.task = DISTILL_ENV_PENDULUM;
    ck_assert_status(distill_env_create(ctx, &eo, &pend), DISTILL_OK);
    ck_assert_status(distill_ppo_create(ctx, &o, pend, &v, &p), DISTILL_E_UNSUPPORTED);
    v.outputs = 2;
    ck_assert_status(distill_ppo_create(ctx, &o, env, &v, &p), DISTILL_E_SHAPE);
    v.outputs = 3, o.minibatches = 10000;
    ck_assert_status(distill_ppo_create(ctx, &o, env, &v, &p), DISTILL_E_INVAL);
    ck_assert_ptr_null(p);
    free(before);
    distill_env_destroy(env), distill_env_destroy(pend), distill_model_destroy(f.m);
    distill_context_destroy(ctx);
    ck_assert_int_eq(ca.live, 0);
}
END_TEST

START_TEST(ppo_checkpoints_resume_bit_identically)
{
    distill_context *ctx = test_context(NULL, 2);
    distill_model *m = cartpole_net(ctx), *m2 = cartpole_net(ctx);
    distill_env *env;
    distill_ppo_options o;
    distill_ppo *p, *q;
    const int64_t n = distill_model_param_count(m);
    float *mid, *end;
    char path[64];
    FILE *f;
    long size, cut;
    unsigned char *bytes;
    snprintf(path, sizeof path, "/tmp/distill-ppo-%d.ckpt", (int)getpid());
    ck_assert_status(distill_env_create(ctx, NULL, &env), DISTILL_OK);
    cartpole_options(&o);
    o.steps = 24; /* episodes run across iterations */
    ck_assert_status(distill_ppo_create_model(ctx, &o, env, m, &p), DISTILL_OK);
    ck_assert_status(distill_ppo_create_model(ctx, &o, env, m2, &q), DISTILL_OK);
    ck_assert_status(distill_ppo_run(p, 2), DISTILL_OK);
    ck_assert_status(distill_ppo_checkpoint(p, path), DISTILL_OK);
    ck_assert_status(distill_ppo_run(p, 4), DISTILL_OK);
    end = malloc(sizeof(float) * (size_t)n), mid = malloc(sizeof(float) * (size_t)n);
    memcpy(end, distill_model_params(m), sizeof(float) * (size_t)n);
    /* damaged copies are refused and change nothing */
    ck_assert_ptr_nonnull(f = fopen(path, "rb"));
    fseek(f, 0, SEEK_END), size = ftell(f), fseek(f, 0, SEEK_SET);
    bytes = malloc((size_t)size);
    ck_assert_int_eq((long)fread(bytes, 1, (size_t)size, f), size);
    fclose(f);
    memcpy(mid, distill_model_params(m2), sizeof(float) * (size_t)n);
    for (cut = 1; cut < size; cut += size / 7) {
        ck_assert_ptr_nonnull(f = fopen(path, "wb"));
        ck_assert_int_eq((long)fwrite(bytes, 1, (size_t)cut, f), cut);
        fclose(f);
        ck_assert_status(distill_ppo_resume(q, path), DISTILL_E_FORMAT);
    }
    ck_assert(memcmp(mid, distill_model_params(m2), sizeof(float) * (size_t)n) == 0);
    ck_assert_int_eq(distill_ppo_iterations(q), 0);
    ck_assert_ptr_nonnull(f = fopen(path, "wb"));
    ck_assert_int_eq((long)fwrite(bytes, 1, (size_t)size, f), size);
    fclose(f);
    ck_assert_status(distill_ppo_resume(q, path), DISTILL_OK);
    ck_assert_int_eq(distill_ppo_iterations(q), 2);
    ck_assert_status(distill_ppo_run(q, 4), DISTILL_OK);
    ck_assert(memcmp(end, distill_model_params(m2), sizeof(float) * (size_t)n) == 0);
    unlink(path);
    free(bytes), free(mid), free(end);
    distill_ppo_destroy(p), distill_ppo_destroy(q), distill_env_destroy(env);
    distill_model_destroy(m), distill_model_destroy(m2);
    distill_context_destroy(ctx);
}
END_TEST

Suite *distill_suite_ppo(void)
{
    Suite *s = suite_create("ppo");
    TCase *tc = tcase_create("ppo");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, ppo_loss_gradient_matches_central_differences);
    tcase_add_test(tc, ppo_solves_cartpole);
    tcase_add_test(tc, ppo_reruns_are_bit_identical);
    tcase_add_test(tc, a_failing_network_is_a_backend_error_and_changes_nothing);
    tcase_add_test(tc, ppo_checkpoints_resume_bit_identically);
    suite_add_tcase(s, tc);
    return s;
}
