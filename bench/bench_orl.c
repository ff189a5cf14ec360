/* Offline-RL dataset distillation, measured (issue: offline-RL).
 *
 * CartPole: 100 episodes of the library's linear expert with epsilon 0.3; BC on all
 * of it, on the best 25% of episodes, on m random states, and on m distilled
 * states (variant C, Adam on the states), each student the same MLP
 * 4-32-32-2 with the same BC budget, scored by the mean return over 100
 * seeded episodes, over 5 seeds.  Fashion-MNIST stand-in: class = action,
 * 10 states per class, a small ConvNet.  Speed: one CartPole outer step at
 * m = 10 and a batch-1 policy act.
 *
 *   bench_orl [--quick]      last line: one JSON object */
#include <stdio.h>
#include <string.h>

#include "bench_util.h"
#include "distill/distill.h"

#define SEEDS 5
#define EVAL_EPISODES 100

static int quick;

static void die(distill_context *ctx, distill_status st, const char *what)
{
    fprintf(stderr, "bench_orl: %s: %s (%s)\n", what, distill_status_string(st),
            ctx ? distill_context_last_error(ctx) : "");
    exit(1);
}

#define TRY(ctx, expr)                              \
    do {                                            \
        distill_status st_ = (expr);                \
        if (st_ != DISTILL_OK)                      \
            die(ctx, st_, #expr);                   \
    } while (0)

/* ---- CartPole --------------------------------------------------------------- */

static void mlp_layers(distill_layer_spec *l, int64_t hidden, int64_t out)
{
    distill_layer_spec_init(&l[0], DISTILL_LAYER_DENSE);
    l[0].units = hidden;
    distill_layer_spec_init(&l[1], DISTILL_LAYER_RELU);
    distill_layer_spec_init(&l[2], DISTILL_LAYER_DENSE);
    l[2].units = hidden;
    distill_layer_spec_init(&l[3], DISTILL_LAYER_RELU);
    distill_layer_spec_init(&l[4], DISTILL_LAYER_DENSE);
    l[4].units = out;
}

/* How a task's BC students are made, trained and scored: the same code for
 * CartPole (2 discrete actions) and Pendulum (one continuous torque, passed
 * through: the env clips it). */
typedef struct task_arm {
    int64_t obs, n_actions;   /* n_actions 0: one continuous action */
    uint64_t init_base;       /* the student's initialisation stream, + seed */
    int64_t bc_steps, episodes;
    uint64_t eval_seed;
} task_arm;

static task_arm cartpole_arm(void)
{
    task_arm t = {4, 2, 1000, 0, EVAL_EPISODES, 100000};
    t.bc_steps = quick ? 300 : 1000;
    return t;
}

static task_arm pendulum_arm(void)
{
    task_arm t = {3, 0, 3000, 0, 0, 200000};
    t.bc_steps = quick ? 300 : 2000, t.episodes = quick ? 20 : EVAL_EPISODES;
    return t;
}

static distill_model *student(distill_context *ctx, const task_arm *t, uint64_t seed)
{
    distill_layer_spec l[5];
    distill_model_options mo;
    distill_model *m = NULL;
    mlp_layers(l, 32, t->n_actions ? t->n_actions : 1);
    distill_model_options_init(&mo);
    mo.in_c = t->obs, mo.in_h = mo.in_w = 1, mo.layers = l, mo.n_layers = 5;
    TRY(ctx, distill_model_create(ctx, &mo, &m));
    TRY(ctx, distill_model_reinit(m, t->init_base + seed));
    return m;
}

static double mean(const double *x, int n)
{
    double s = 0.0;
    int i;
    for (i = 0; i < n; i++)
        s += x[i];
    return s / n;
}

static double stddev(const double *x, int n)
{
    double mu = mean(x, n), s = 0.0;
    int i;
    for (i = 0; i < n; i++)
        s += (x[i] - mu) * (x[i] - mu);
    return sqrt(s / (n > 1 ? n - 1 : 1));
}

/* BC (squared error of the softmax, or of the action) of a fresh student
 * on data, then its mean return. */
static double bc_return(distill_context *ctx, distill_env *env, distill_dataset *data, const task_arm *t,
                        uint64_t seed)
{
    distill_model *m = student(ctx, t, seed);
    distill_space s = {sizeof s, DISTILL_SPACE_DISCRETE, 2, NULL, NULL};
    distill_bc_options bo;
    distill_rollout_options ro;
    distill_policy *p = NULL;
    double ret[EVAL_EPISODES];
    if (!t->n_actions)
        s.kind = DISTILL_SPACE_BOX, s.n = 1;
    distill_bc_options_init(&bo);
    bo.n_actions = t->n_actions, bo.loss = DISTILL_BC_MSE, bo.steps = t->bc_steps, bo.batch = 256, bo.stream = seed;
    TRY(ctx, distill_bc_train(ctx, &bo, m, data, NULL));
    TRY(ctx, distill_policy_from_model(ctx, m, &s, DISTILL_POLICY_GREEDY, 1.0f, &p));
    distill_rollout_options_init(&ro);
    ro.episodes = t->episodes, ro.seed = t->eval_seed;
    TRY(ctx, distill_policy_evaluate(p, env, &ro, ret, NULL, NULL));
    distill_policy_destroy(p);
    distill_model_destroy(m);
    return mean(ret, (int)t->episodes);
}

static distill_dataset *random_states(distill_context *ctx, distill_dataset *data, int64_t m, uint64_t seed)
{
    int64_t *idx = malloc(sizeof(int64_t) * (size_t)m), i, n = distill_dataset_count(data);
    distill_dataset *out = NULL;
    bench_rng r = {seed * 7919 + 17};
    if (!idx)
        exit(1);
    for (i = 0; i < m; i++)
        idx[i] = (int64_t)(bench_uniform(&r) * (double)n) % n;
    TRY(ctx, distill_dataset_subset(data, idx, m, &out));
    free(idx);
    return out;
}

static distill_orl *orl_solver(distill_context *ctx, distill_dataset *data, int64_t m, distill_layer_spec *l)
{
    distill_orl_options o;
    distill_orl *s = NULL;
    distill_orl_options_init(&o);
    mlp_layers(l, 32, 2);
    o.variant = DISTILL_ORL_REINIT, o.m = m, o.n_actions = 2, o.layers = l, o.n_layers = 5;
    o.batch = 256, o.lr = 0.01, o.loss = DISTILL_BC_MSE;
    TRY(ctx, distill_orl_create(ctx, &o, data, &s));
    return s;
}

static double distilled_return(distill_context *ctx, distill_env *env, distill_dataset *data, int64_t m,
                               uint64_t seed)
{
    const task_arm arm = cartpole_arm();
    distill_layer_spec l[5];
    distill_orl *s;
    distill_dataset *set = NULL;
    double r;
    distill_context_set_seed(ctx, seed);
    s = orl_solver(ctx, data, m, l);
    TRY(ctx, distill_orl_run(s, quick ? 300 : 2000));
    TRY(ctx, distill_orl_dataset(s, &set));
    r = bc_return(ctx, env, set, &arm, seed);
    distill_dataset_destroy(set);
    distill_orl_destroy(s);
    return r;
}

typedef struct cartpole_figures {
    double full, pct10, pct25, random[2], distilled[2], distilled_m10_std, step_ms, act_us;
} cartpole_figures;

typedef struct step_arg {
    distill_orl *s;
} step_arg;

static void one_step(void *arg)
{
    if (distill_orl_step(((step_arg *)arg)->s, NULL) != DISTILL_OK)
        exit(1);
}

typedef struct act_arg {
    distill_policy *p;
    void *ws;
    size_t bytes;
    float obs[4], a[1];
} act_arg;

static void many_acts(void *arg)
{
    act_arg *u = arg;
    int i;
    for (i = 0; i < 10000; i++) {
        u->obs[0] = (float)i * 1e-4f;
        if (distill_policy_act(u->p, u->ws, u->bytes, 1, u->obs, 4, u->a, 1, NULL) != DISTILL_OK)
            exit(1);
    }
}

static void cartpole_speed(distill_context *ctx, distill_dataset *data, cartpole_figures *f)
{
    distill_layer_spec l[5];
    step_arg sa;
    act_arg aa;
    const task_arm arm = cartpole_arm();
    distill_model *m = student(ctx, &arm, 0);
    distill_space s = {sizeof s, DISTILL_SPACE_DISCRETE, 2, NULL, NULL};
    sa.s = orl_solver(ctx, data, 10, l);
    f->step_ms = 1e3 * bench_median(one_step, &sa, 21);
    distill_orl_destroy(sa.s);
    memset(&aa, 0, sizeof aa);
    TRY(ctx, distill_policy_from_model(ctx, m, &s, DISTILL_POLICY_GREEDY, 1.0f, &aa.p));
    TRY(ctx, distill_policy_workspace_size(aa.p, 1, &aa.bytes));
    aa.ws = malloc(aa.bytes);
    f->act_us = 1e6 * bench_best(many_acts, &aa, 5) / 10000;
    free(aa.ws);
    distill_policy_destroy(aa.p);
    distill_model_destroy(m);
}

static void cartpole(distill_context *ctx, cartpole_figures *f)
{
    const task_arm arm = cartpole_arm();
    static const int64_t ms[2] = {10, 2};
    distill_env *env = NULL;
    distill_rollout_options ro;
    distill_dataset *data = NULL, *top = NULL, *top10 = NULL;
    double full[SEEDS], pct[SEEDS], pct10[SEEDS], rnd[2][SEEDS], dis[2][SEEDS];
    int seed, j;
    const int seeds = quick ? 2 : SEEDS;
    TRY(ctx, distill_env_create(ctx, NULL, &env));
    distill_rollout_options_init(&ro);
    ro.episodes = 100, ro.seed = 1, ro.epsilon = 0.3;
    TRY(ctx, distill_env_rollout(env, &ro, distill_env_expert, env, NULL, NULL, &data));
    TRY(ctx, distill_trajectory_top(data, 1, 0.25, &top));
    TRY(ctx, distill_trajectory_top(data, 1, 0.10, &top10));
    fprintf(stderr, "cartpole: %lld offline states\n", (long long)distill_dataset_count(data));
    for (seed = 0; seed < seeds; seed++) {
        full[seed] = bc_return(ctx, env, data, &arm, (uint64_t)seed);
        pct[seed] = bc_return(ctx, env, top, &arm, (uint64_t)seed);
        pct10[seed] = bc_return(ctx, env, top10, &arm, (uint64_t)seed);
        for (j = 0; j < 2; j++) {
            distill_dataset *r = random_states(ctx, data, ms[j], (uint64_t)seed);
            rnd[j][seed] = bc_return(ctx, env, r, &arm, (uint64_t)seed);
            distill_dataset_destroy(r);
            dis[j][seed] = distilled_return(ctx, env, data, ms[j], (uint64_t)seed + 1);
        }
        fprintf(stderr, "cartpole seed %d: full %.1f pct25 %.1f random m10 %.1f m2 %.1f distilled m10 %.1f m2 %.1f\n",
                seed, full[seed], pct[seed], rnd[0][seed], rnd[1][seed], dis[0][seed], dis[1][seed]);
    }
    f->full = mean(full, seeds), f->pct25 = mean(pct, seeds), f->pct10 = mean(pct10, seeds);
    for (j = 0; j < 2; j++)
        f->random[j] = mean(rnd[j], seeds), f->distilled[j] = mean(dis[j], seeds);
    f->distilled_m10_std = stddev(dis[0], seeds);
    cartpole_speed(ctx, data, f);
    distill_dataset_destroy(top), distill_dataset_destroy(top10);
    distill_dataset_destroy(data);
    distill_env_destroy(env);
}

/* ---- Pendulum: continuous actions ------------------------------------------- */

#define M_CONT 20

typedef struct pendulum_figures {
    double full, random, distilled, expert;
} pendulum_figures;

static void pendulum(distill_context *ctx, pendulum_figures *f)
{
    const task_arm arm = pendulum_arm();
    distill_env_options eo;
    distill_env *env = NULL;
    distill_rollout_options ro;
    distill_dataset *data = NULL;
    double full[SEEDS], rnd[SEEDS], dis[SEEDS], ex[100];
    const int seeds = quick ? 1 : SEEDS;
    int seed;
    distill_env_options_init(&eo);
    eo.task = DISTILL_ENV_PENDULUM;
    TRY(ctx, distill_env_create(ctx, &eo, &env));
    distill_rollout_options_init(&ro);
    ro.episodes = 100, ro.seed = 7, ro.action_noise = 0.3;
    TRY(ctx, distill_env_rollout(env, &ro, distill_env_expert, env, ex, NULL, &data));
    f->expert = mean(ex, 100);
    for (seed = 0; seed < seeds; seed++) {
        distill_layer_spec l[5];
        distill_orl_options o;
        distill_orl *s = NULL;
        distill_dataset *r = random_states(ctx, data, M_CONT, (uint64_t)seed), *set = NULL;
        full[seed] = bc_return(ctx, env, data, &arm, (uint64_t)seed);
        rnd[seed] = bc_return(ctx, env, r, &arm, (uint64_t)seed);
        distill_context_set_seed(ctx, (uint64_t)seed + 1);
        distill_orl_options_init(&o);
        mlp_layers(l, 32, 1);
        o.variant = DISTILL_ORL_REINIT, o.m = M_CONT, o.n_actions = 0, o.learn_actions = 1, o.angle_pairs = 1;
        o.layers = l, o.n_layers = 5, o.batch = 256, o.lr = 0.01;
        TRY(ctx, distill_orl_create(ctx, &o, data, &s));
        TRY(ctx, distill_orl_run(s, quick ? 100 : 1000));
        TRY(ctx, distill_orl_dataset(s, &set));
        dis[seed] = bc_return(ctx, env, set, &arm, (uint64_t)seed);
        fprintf(stderr, "pendulum seed %d: expert %.1f full %.1f random m%d %.1f distilled %.1f\n", seed, f->expert,
                full[seed], M_CONT, rnd[seed], dis[seed]);
        distill_dataset_destroy(set), distill_dataset_destroy(r);
        distill_orl_destroy(s);
    }
    f->full = mean(full, seeds), f->random = mean(rnd, seeds), f->distilled = mean(dis, seeds);
    distill_dataset_destroy(data);
    distill_env_destroy(env);
}

/* ---- Fashion-MNIST stand-in: class = action --------------------------------- */

#define FMNIST "/usr/share/datasets/fashion-mnist/"
#define SIDE 14
#define PIX (SIDE * SIDE)

/* 28 x 28 images averaged to 14 x 14, with labels. */
static distill_dataset *fmnist(distill_context *ctx, const char *images, const char *labels, int64_t limit)
{
    distill_dataset *raw = NULL, *out = NULL;
    int64_t n;
    float *x28, *x, *y;
    if (distill_dataset_from_idx(ctx, images, labels, &raw) != DISTILL_OK)
        die(ctx, DISTILL_E_IO, "Fashion-MNIST (apt-get install dataset-fashion-mnist)");
    n = distill_dataset_count(raw) < limit ? distill_dataset_count(raw) : limit;
    x28 = malloc(sizeof(float) * (size_t)(n * 784)), x = malloc(sizeof(float) * (size_t)(n * PIX));
    y = malloc(sizeof(float) * (size_t)n);
    if (!x28 || !x || !y)
        exit(1);
    TRY(ctx, distill_dataset_get_range(raw, 0, n, x28, 784, y, 1));
    TRY(ctx, distill_image_block_mean(ctx, n, 1, 28, 28, 2, x28, x));
    TRY(ctx, distill_dataset_from_memory(ctx, n, PIX, x, PIX, 1, y, 1, DISTILL_DATASET_COPY, &out));
    TRY(ctx, distill_dataset_set_shape(out, 1, SIDE, SIDE));
    free(x28), free(x), free(y);
    distill_dataset_destroy(raw);
    return out;
}

static int convnet_layers(distill_layer_spec *l)
{
    distill_layer_spec_init(&l[0], DISTILL_LAYER_CONV2D);
    l[0].units = 8, l[0].kernel = 3, l[0].padding = 1;
    distill_layer_spec_init(&l[1], DISTILL_LAYER_RELU);
    distill_layer_spec_init(&l[2], DISTILL_LAYER_AVGPOOL);
    l[2].kernel = 2;
    distill_layer_spec_init(&l[3], DISTILL_LAYER_CONV2D);
    l[3].units = 16, l[3].kernel = 3, l[3].padding = 1;
    distill_layer_spec_init(&l[4], DISTILL_LAYER_RELU);
    distill_layer_spec_init(&l[5], DISTILL_LAYER_AVGPOOL);
    l[5].kernel = 2;
    distill_layer_spec_init(&l[6], DISTILL_LAYER_FLATTEN);
    distill_layer_spec_init(&l[7], DISTILL_LAYER_DENSE);
    l[7].units = 10;
    return 8;
}

/* BC (softmax MSE, as the matching) of a fresh ConvNet, then test accuracy. */
static double fmnist_accuracy(distill_context *ctx, distill_dataset *train, distill_dataset *test, uint64_t seed,
                              int64_t steps)
{
    distill_layer_spec l[8];
    distill_model_options mo;
    distill_bc_options bo;
    distill_model *m = NULL;
    double acc;
    distill_model_options_init(&mo);
    mo.in_c = 1, mo.in_h = mo.in_w = SIDE, mo.layers = l, mo.n_layers = convnet_layers(l);
    TRY(ctx, distill_model_create(ctx, &mo, &m));
    TRY(ctx, distill_model_reinit(m, 2000 + seed));
    distill_bc_options_init(&bo);
    bo.n_actions = 10, bo.loss = DISTILL_BC_MSE, bo.steps = steps, bo.batch = 128, bo.stream = seed;
    TRY(ctx, distill_bc_train(ctx, &bo, m, train, NULL));
    TRY(ctx, distill_kd_score(ctx, DISTILL_KD_CLASSIC, m, test, &acc));
    distill_model_destroy(m);
    return 100.0 * acc;
}

/* 10 random training images per class. */
static distill_dataset *per_class(distill_context *ctx, distill_dataset *train, int64_t per, uint64_t seed)
{
    const int64_t n = distill_dataset_count(train);
    int64_t idx[10 * 64], got[10] = {0}, taken = 0, tries;
    float y;
    distill_dataset *out = NULL;
    bench_rng r = {seed * 104729 + 3};
    for (tries = 0; taken < 10 * per && tries < 100 * n; tries++) {
        const int64_t i = (int64_t)(bench_uniform(&r) * (double)n) % n;
        TRY(ctx, distill_dataset_get_range(train, i, 1, NULL, 0, &y, 1));
        if (got[(int)y] < per)
            got[(int)y]++, idx[taken++] = i;
    }
    TRY(ctx, distill_dataset_subset(train, idx, taken, &out));
    return out;
}

typedef struct fmnist_figures {
    double random, distilled, full;
} fmnist_figures;

static void fashion(distill_context *ctx, fmnist_figures *f)
{
    distill_dataset *train = fmnist(ctx, FMNIST "train-images-idx3-ubyte.gz", FMNIST "train-labels-idx1-ubyte.gz",
                                    quick ? 5000 : 20000);
    distill_dataset *test = fmnist(ctx, FMNIST "t10k-images-idx3-ubyte.gz", FMNIST "t10k-labels-idx1-ubyte.gz",
                                   quick ? 2000 : 10000);
    double rnd[SEEDS], dis[SEEDS];
    float low[PIX], high[PIX];
    int seed, i;
    const int seeds = quick ? 1 : SEEDS;
    for (i = 0; i < PIX; i++)
        low[i] = 0.0f, high[i] = 1.0f;
    f->full = fmnist_accuracy(ctx, train, test, 0, quick ? 200 : 1500);
    for (seed = 0; seed < seeds; seed++) {
        distill_layer_spec l[8];
        distill_orl_options o;
        distill_orl *s = NULL;
        distill_dataset *r = per_class(ctx, train, 10, (uint64_t)seed), *set = NULL;
        rnd[seed] = fmnist_accuracy(ctx, r, test, (uint64_t)seed, 300);
        distill_context_set_seed(ctx, (uint64_t)seed + 1);
        distill_orl_options_init(&o);
        o.variant = DISTILL_ORL_REINIT, o.m = 100, o.n_actions = 10, o.layers = l, o.n_layers = convnet_layers(l);
        o.batch = 64, o.lr = 0.01, o.obs_low = low, o.obs_high = high;
        TRY(ctx, distill_orl_create(ctx, &o, train, &s));
        TRY(ctx, distill_orl_run(s, quick ? 10 : 100));
        TRY(ctx, distill_orl_dataset(s, &set));
        dis[seed] = fmnist_accuracy(ctx, set, test, (uint64_t)seed, 300);
        fprintf(stderr, "fashion seed %d: random %.2f%% distilled %.2f%% (full %.2f%%)\n", seed, rnd[seed], dis[seed],
                f->full);
        distill_dataset_destroy(set), distill_dataset_destroy(r);
        distill_orl_destroy(s);
    }
    f->random = mean(rnd, seeds), f->distilled = mean(dis, seeds);
    distill_dataset_destroy(train), distill_dataset_destroy(test);
}

int main(int argc, char **argv)
{
    distill_context_options co;
    distill_context *ctx = NULL;
    cartpole_figures cp;
    fmnist_figures fm;
    pendulum_figures pd;
    quick = argc > 1 && strcmp(argv[1], "--quick") == 0;
    distill_context_options_init(&co);
    co.threads = 1;
    TRY(ctx, distill_context_create(&co, &ctx));
    cartpole(ctx, &cp);
    pendulum(ctx, &pd);
    if (getenv("BENCH_ORL_ONLY_PENDULUM"))
        return 0;
    fashion(ctx, &fm);
    printf("{\"return_full_bc\": %.1f, \"return_pct10_bc\": %.1f, \"return_pct25_bc\": %.1f, \"return_random_m10\": %.1f, "
           "\"return_distilled_m10\": %.1f, \"return_random_m2\": %.1f, \"return_distilled_m2\": %.1f, "
           "\"return_distilled_m10_std\": %.1f, \"acc_random_10pc\": %.2f, \"acc_distilled_10pc\": %.2f, "
           "\"acc_full\": %.2f, \"return_expert_cont\": %.1f, \"return_full_bc_cont\": %.1f, "
           "\"return_random_cont\": %.1f, \"return_distilled_cont\": %.1f, \"m_cont\": %d, \"orl_step_ms\": %.3f, \"policy_act_us\": %.3f, \"threads\": %d, "
           "\"blis_arch\": \"%s\"}\n",
           cp.full, cp.pct10, cp.pct25, cp.random[0], cp.distilled[0], cp.random[1], cp.distilled[1], cp.distilled_m10_std,
           fm.random, fm.distilled, fm.full, pd.expert, pd.full, pd.random, pd.distilled, M_CONT, cp.step_ms, cp.act_us, (int)distill_context_threads(ctx), distill_context_blis_arch(ctx));
    distill_context_destroy(ctx);
    return 0;
}
