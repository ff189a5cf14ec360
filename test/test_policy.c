/* Deployable policies: act allocates nothing and agrees with the network's
 * forward pass; box squashing; sampling driven by the caller's counter;
 * files that round-trip and malformed ones refused; evaluation. */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <unistd.h>

#include "testutil.h"

static distill_model *mlp(distill_context *ctx, int64_t in, int64_t out, uint64_t stream)
{
    distill_layer_spec l[3];
    distill_model_options mo;
    distill_model *m = NULL;
    distill_layer_spec_init(&l[0], DISTILL_LAYER_DENSE);
    l[0].units = 16;
    distill_layer_spec_init(&l[1], DISTILL_LAYER_TANH);
    distill_layer_spec_init(&l[2], DISTILL_LAYER_DENSE);
    l[2].units = out;
    distill_model_options_init(&mo);
    mo.in_c = in, mo.in_h = mo.in_w = 1, mo.layers = l, mo.n_layers = 3;
    ck_assert_status(distill_model_create(ctx, &mo, &m), DISTILL_OK);
    ck_assert_status(distill_model_reinit(m, stream), DISTILL_OK);
    return m;
}

static distill_policy *discrete_policy(distill_context *ctx, distill_model *m, int64_t n, int32_t mode)
{
    distill_space s = {sizeof s, DISTILL_SPACE_DISCRETE, 0, NULL, NULL};
    distill_policy *p = NULL;
    s.n = n;
    ck_assert_status(distill_policy_from_model(ctx, m, &s, mode, 1.0f, &p), DISTILL_OK);
    return p;
}

static void *workspace(const distill_policy *p, int64_t batch, size_t *bytes)
{
    void *ws;
    ck_assert_status(distill_policy_workspace_size(p, batch, bytes), DISTILL_OK);
    ck_assert_int_eq(posix_memalign(&ws, 64, *bytes), 0);
    return ws;
}

START_TEST(act_allocates_nothing_and_agrees_with_forward)
{
    counting_alloc ca;
    distill_context *ctx = test_context(&ca, 1);
    distill_model *m = mlp(ctx, 4, 3, 9);
    distill_policy *p = discrete_policy(ctx, m, 3, DISTILL_POLICY_GREEDY);
    float obs[50 * 4], logits[50 * 3], act[50];
    size_t bytes;
    void *ws = workspace(p, 50, &bytes);
    long calls = ca.calls, c_calls;
    int64_t i, j, best;
    distill_status st;
    fill_random(obs, 50 * 4, 4);
    /* no ck_assert between the counts: Check, linked statically, allocates */
    c_calls = test_c_allocations();
    st = distill_policy_act(p, ws, bytes, 50, obs, 4, act, 1, NULL);
    c_calls = test_c_allocations() - c_calls;
    ck_assert_status(st, DISTILL_OK);
    ck_assert_int_eq(c_calls, 0);
    ck_assert_int_eq(ca.calls, calls);
    ck_assert_status(distill_model_forward(m, 0, 50, obs, 4, logits, 3), DISTILL_OK);
    for (i = 0; i < 50; i++) {
        for (j = 1, best = 0; j < 3; j++)
            if (logits[i * 3 + j] > logits[i * 3 + best])
                best = j;
        ck_assert_msg(act[i] == (float)best, "row %lld: act %g, argmax %lld", (long long)i, act[i],
                      (long long)best);
    }
    /* the policy is a frozen copy: changing the model changes nothing */
    distill_model_params(m)[0] += 100.0f;
    ck_assert_status(distill_policy_act(p, ws, bytes, 50, obs, 4, logits, 1, NULL), DISTILL_OK);
    ck_assert_mem_eq(logits, act, sizeof act);
    obs[5] = NAN;
    ck_assert_status(distill_policy_act(p, ws, bytes, 50, obs, 4, act, 1, NULL), DISTILL_E_NUMERIC);
    ck_assert_status(distill_policy_act(p, ws, bytes - 1, 50, obs, 4, act, 1, NULL), DISTILL_E_WORKSPACE);
    ck_assert_status(distill_policy_act(p, ws, bytes, 50, obs, 3, act, 1, NULL), DISTILL_E_SHAPE);
    free(ws);
    distill_policy_destroy(p);
    distill_model_destroy(m);
    distill_context_destroy(ctx);
    ck_assert_int_eq(ca.live, 0);
}
END_TEST

START_TEST(box_actions_are_squashed_into_the_bounds)
{
    distill_context *ctx = test_context(NULL, 1);
    distill_model *m = mlp(ctx, 3, 2, 5);
    const float low[2] = {-2.0f, -INFINITY}, high[2] = {2.0f, INFINITY};
    distill_space s = {sizeof s, DISTILL_SPACE_BOX, 2, low, high};
    distill_policy *p = NULL;
    float obs[20 * 3], y[20 * 2], act[20 * 2];
    size_t bytes;
    void *ws;
    int64_t i;
    ck_assert_fails(ctx, distill_policy_from_model(ctx, m, &s, DISTILL_POLICY_SAMPLE, 1.0f, &p), DISTILL_E_INVAL,
                    "mode");
    ck_assert_status(distill_policy_from_model(ctx, m, &s, DISTILL_POLICY_GREEDY, 1.0f, &p), DISTILL_OK);
    ck_assert_int_eq(distill_policy_action_dim(p), 2);
    ws = workspace(p, 20, &bytes);
    fill_random(obs, 20 * 3, 8);
    for (i = 0; i < 20 * 3; i++)
        obs[i] *= 5.0f;
    ck_assert_status(distill_policy_act(p, ws, bytes, 20, obs, 3, act, 2, NULL), DISTILL_OK);
    ck_assert_status(distill_model_forward(m, 0, 20, obs, 3, y, 2), DISTILL_OK);
    for (i = 0; i < 20; i++) {
        ck_assert(fabsf(act[2 * i] - 2.0f * tanhf(y[2 * i])) < 1e-6f);
        ck_assert(act[2 * i] >= -2.0f && act[2 * i] <= 2.0f);
        ck_assert(fabsf(act[2 * i + 1] - y[2 * i + 1]) < 1e-5f); /* unbounded: passed through */
    }
    free(ws);
    distill_policy_destroy(p);
    distill_model_destroy(m);
    distill_context_destroy(ctx);
}
END_TEST

/* Draws are a pure function of the caller's counter, which advances by n;
 * over many draws both actions of a near-even softmax appear. */
START_TEST(sampling_follows_the_callers_counter)
{
    distill_context *ctx = test_context(NULL, 1);
    distill_model *m = mlp(ctx, 2, 2, 3);
    distill_policy *p = discrete_policy(ctx, m, 2, DISTILL_POLICY_SAMPLE);
    float obs[256 * 2] = {0}, a1[256], a2[256];
    uint64_t r1 = 1000, r2 = 1000;
    size_t bytes;
    void *ws = workspace(p, 256, &bytes);
    int64_t i, ones = 0;
    ck_assert_status(distill_policy_act(p, ws, bytes, 256, obs, 2, a1, 1, NULL), DISTILL_E_INVAL);
    ck_assert_status(distill_policy_act(p, ws, bytes, 256, obs, 2, a1, 1, &r1), DISTILL_OK);
    ck_assert_status(distill_policy_act(p, ws, bytes, 256, obs, 2, a2, 1, &r2), DISTILL_OK);
    ck_assert_mem_eq(a1, a2, sizeof a1);
    ck_assert(r1 == 1256 && r2 == 1256);
    for (i = 0; i < 256; i++)
        ones += a1[i] == 1.0f;
    ck_assert_msg(ones > 20 && ones < 236, "%lld of 256 draws were action 1", (long long)ones);
    ck_assert_status(distill_policy_act(p, ws, bytes, 256, obs, 2, a2, 1, &r2), DISTILL_OK);
    ck_assert_msg(memcmp(a1, a2, sizeof a1) != 0, "the next draws repeat the first");
    free(ws);
    distill_policy_destroy(p);
    distill_model_destroy(m);
    distill_context_destroy(ctx);
}
END_TEST

START_TEST(files_round_trip_and_malformed_ones_are_refused)
{
    counting_alloc ca;
    distill_context *ctx = test_context(&ca, 1);
    distill_model *m = mlp(ctx, 3, 1, 2);
    const float low = -2.0f, high = 2.0f;
    distill_space s = {sizeof s, DISTILL_SPACE_BOX, 1, &low, &high};
    distill_policy *p = NULL, *q = NULL;
    char path[64], mpath[64];
    float obs[8 * 3], a[8], b[8];
    size_t bytes;
    void *ws;
    unsigned char *buf;
    size_t len;
    long k;
    snprintf(path, sizeof path, "/tmp/distill_policy_%d.dstl", (int)getpid());
    snprintf(mpath, sizeof mpath, "/tmp/distill_policy_model_%d.dstl", (int)getpid());
    ck_assert_status(distill_policy_from_model(ctx, m, &s, DISTILL_POLICY_GREEDY, 1.0f, &p), DISTILL_OK);
    ck_assert_status(distill_policy_save(p, path), DISTILL_OK);
    ck_assert_status(distill_policy_load(ctx, path, &q), DISTILL_OK);
    ws = workspace(p, 8, &bytes);
    fill_random(obs, 8 * 3, 1);
    ck_assert_status(distill_policy_act(p, ws, bytes, 8, obs, 3, a, 1, NULL), DISTILL_OK);
    ck_assert_status(distill_policy_act(q, ws, bytes, 8, obs, 3, b, 1, NULL), DISTILL_OK);
    ck_assert_mem_eq(a, b, sizeof a);
    distill_policy_destroy(q), q = NULL;
    buf = test_slurp(path, &len);
    for (k = 0; k < (long)len; k += 3) /* every truncation */
        ck_assert_status(distill_policy_load_memory(ctx, buf, (size_t)k, &q), DISTILL_E_FORMAT);
    for (k = 0; k < (long)len * 8; k += 7) { /* bit flips */
        buf[k / 8] ^= (unsigned char)(1u << (k % 8));
        ck_assert_msg(distill_policy_load_memory(ctx, buf, (size_t)len, &q) == DISTILL_E_FORMAT,
                      "flipping bit %ld loaded", k);
        buf[k / 8] ^= (unsigned char)(1u << (k % 8));
    }
    ck_assert_ptr_null(q);
    free(buf);
    ck_assert_status(distill_model_save(m, mpath), DISTILL_OK);
    ck_assert_fails(ctx, distill_policy_load(ctx, mpath, &q), DISTILL_E_FORMAT, "no policy section");
    unlink(path), unlink(mpath);
    free(ws);
    distill_policy_destroy(p);
    distill_model_destroy(m);
    distill_context_destroy(ctx);
    ck_assert_int_eq(ca.live, 0);
}
END_TEST

typedef struct forward_user {
    distill_model *m;
} forward_user;

/* The same greedy policy written as a callback over the model. */
static int forward_argmax(void *user, int64_t n, const float *obs, int64_t ldobs, float *a, int64_t lda)
{
    forward_user *u = user;
    float z[64 * 2];
    int64_t i;
    if (n > 64 || distill_model_forward(u->m, 0, n, obs, ldobs, z, 2) != DISTILL_OK)
        return 1;
    for (i = 0; i < n; i++)
        a[i * lda] = z[2 * i + 1] > z[2 * i] ? 1.0f : 0.0f;
    return 0;
}

START_TEST(evaluate_is_a_rollout_of_act)
{
    distill_context *ctx = test_context(NULL, 1);
    distill_model *m = mlp(ctx, 4, 2, 17);
    distill_policy *p = discrete_policy(ctx, m, 2, DISTILL_POLICY_GREEDY);
    distill_env_options eo;
    distill_env *e = NULL, *pd = NULL;
    distill_rollout_options o;
    forward_user u = {m};
    double r1[20], r2[20];
    int64_t l1[20], l2[20];
    distill_env_options_init(&eo);
    ck_assert_status(distill_env_create(ctx, &eo, &e), DISTILL_OK);
    eo.task = DISTILL_ENV_PENDULUM;
    ck_assert_status(distill_env_create(ctx, &eo, &pd), DISTILL_OK);
    distill_rollout_options_init(&o);
    o.episodes = 20, o.seed = 5;
    ck_assert_status(distill_policy_evaluate(p, e, &o, r1, l1, NULL), DISTILL_OK);
    ck_assert_status(distill_env_rollout(e, &o, forward_argmax, &u, r2, l2, NULL), DISTILL_OK);
    ck_assert_mem_eq(r1, r2, sizeof r1);
    ck_assert_mem_eq(l1, l2, sizeof l1);
    ck_assert_fails(ctx, distill_policy_evaluate(p, pd, &o, r1, l1, NULL), DISTILL_E_SHAPE, "observations");
    distill_env_destroy(e);
    distill_env_destroy(pd);
    distill_policy_destroy(p);
    distill_model_destroy(m);
    distill_context_destroy(ctx);
}
END_TEST

/* Eight threads acting on one frozen policy, each with its own workspace
 * and counter, give what one thread gives. */
typedef struct actor {
    const distill_policy *p;
    const float *obs;
    float act[200];
    uint64_t rng;
    int failed;
} actor;

static void *act_many(void *arg)
{
    actor *a = arg;
    size_t bytes = 0;
    void *ws = NULL;
    int rep;
    if (distill_policy_workspace_size(a->p, 200, &bytes) != DISTILL_OK || posix_memalign(&ws, 64, bytes) != 0) {
        a->failed = 1;
        return NULL;
    }
    for (rep = 0; rep < 50; rep++) {
        uint64_t r = a->rng;
        a->failed |= distill_policy_act(a->p, ws, bytes, 200, a->obs, 4, a->act, 1, &r) != DISTILL_OK;
    }
    free(ws);
    return NULL;
}

START_TEST(many_threads_act_on_one_policy)
{
    distill_context *ctx = test_context(NULL, 1);
    distill_model *m = mlp(ctx, 4, 3, 11);
    distill_policy *p = discrete_policy(ctx, m, 3, DISTILL_POLICY_SAMPLE);
    static float obs[200 * 4];
    actor one, many[8];
    pthread_t th[8];
    int i;
    fill_random(obs, 200 * 4, 12);
    memset(&one, 0, sizeof one);
    one.p = p, one.obs = obs, one.rng = 77;
    act_many(&one);
    ck_assert(!one.failed);
    for (i = 0; i < 8; i++) {
        memset(&many[i], 0, sizeof many[i]);
        many[i].p = p, many[i].obs = obs, many[i].rng = 77;
        ck_assert_int_eq(pthread_create(&th[i], NULL, act_many, &many[i]), 0);
    }
    for (i = 0; i < 8; i++) {
        ck_assert_int_eq(pthread_join(th[i], NULL), 0);
        ck_assert(!many[i].failed);
        ck_assert_mem_eq(many[i].act, one.act, sizeof one.act);
    }
    distill_policy_destroy(p);
    distill_model_destroy(m);
    distill_context_destroy(ctx);
}
END_TEST

Suite *distill_suite_policy(void)
{
    Suite *s = suite_create("policy");
    TCase *tc = tcase_create("policy");
    tcase_add_test(tc, act_allocates_nothing_and_agrees_with_forward);
    tcase_add_test(tc, box_actions_are_squashed_into_the_bounds);
    tcase_add_test(tc, sampling_follows_the_callers_counter);
    tcase_add_test(tc, files_round_trip_and_malformed_ones_are_refused);
    tcase_add_test(tc, evaluate_is_a_rollout_of_act);
    tcase_add_test(tc, many_threads_act_on_one_policy);
    suite_add_tcase(s, tc);
    return s;
}
