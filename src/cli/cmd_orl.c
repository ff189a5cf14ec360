/* distill orl: offline data from a built-in task's scripted expert with
 * exploration noise (or a dataset file), m states distilled from it, and
 * every arm scored by the mean return of a BC student over seeded episodes:
 *   full     BC on all the data          pct10, pct25  BC on the best 10% or 25% of episodes
 *   random   BC on m random real states   distilled     BC on the m distilled states */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"

enum { ARM_FULL, ARM_PCT10, ARM_PCT25, ARM_RANDOM, ARM_DISTILLED, N_ARMS };
static const char *const arm_name[N_ARMS] = {"full", "pct10", "pct25", "random", "distilled"};

static void help(void)
{
    fputs("distill orl [--task cartpole|pendulum] [--data FILE.dstl] [--episodes 100] [--epsilon 0.3]\n"
          "  [--noise 0.3 (pendulum)] [--m 10] [--steps 2000] [--variant fixed|reinit|student] [--lr 0.01]\n"
          "  [--batch 256] [--bc-steps 1000] [--eval-episodes 100] [--seeds 3] [--out DIR]\n"
          "  [--seed 0] [--threads 0]\n"
          "Collects offline data from the task's scripted expert (or reads --data: x states, y the action\n"
          "first), distils m states (docs/orl.md) and scores BC students on the full data, the best 10%\n"
          "and 25% of episodes (collected data only), m random states and the m distilled states.  Writes\n"
          "DIR/distilled.dstl, DIR/states.npy, DIR/actions.npy and DIR/policy.dstl (the distilled arm's\n"
          "first student).\n", stderr);
}

typedef struct run {
    distill_context *ctx;
    distill_env *env;
    distill_dataset *data, *top[2]; /* the best 10% and 25% of episodes; NULL for --data */
    int discrete;
    int64_t m, steps, bc_steps, eval_episodes, batch;
    int32_t variant;
    double lr, ret[N_ARMS][64];
    const char *out;
} run;

static void layers_for(const run *r, distill_layer_spec *l)
{
    distill_layer_spec_init(&l[0], DISTILL_LAYER_DENSE);
    l[0].units = 32;
    distill_layer_spec_init(&l[1], DISTILL_LAYER_RELU);
    distill_layer_spec_init(&l[2], DISTILL_LAYER_DENSE);
    l[2].units = 32;
    distill_layer_spec_init(&l[3], DISTILL_LAYER_RELU);
    distill_layer_spec_init(&l[4], DISTILL_LAYER_DENSE);
    l[4].units = r->discrete ? 2 : 1;
}

/* BC of a fresh student (paired by seed across arms) and its mean return;
 * the policy is saved when `save` names a file. */
static distill_status score(run *r, distill_dataset *set, int seed, double *ret, const char *save)
{
    distill_layer_spec l[5];
    distill_model_options mo;
    distill_bc_options bo;
    distill_rollout_options ro;
    distill_space s = {sizeof s, DISTILL_SPACE_DISCRETE, 2, NULL, NULL};
    distill_model *m = NULL;
    distill_policy *p = NULL;
    double *rets = malloc(sizeof(double) * (size_t)r->eval_episodes), sum = 0.0;
    distill_status st = rets ? DISTILL_OK : DISTILL_E_NOMEM;
    int64_t i;
    layers_for(r, l);
    distill_model_options_init(&mo);
    mo.in_c = distill_env_obs_dim(r->env), mo.in_h = mo.in_w = 1, mo.layers = l, mo.n_layers = 5;
    if (!r->discrete)
        s.kind = DISTILL_SPACE_BOX, s.n = 1; /* unbounded: the env clips the torque */
    distill_bc_options_init(&bo);
    bo.n_actions = r->discrete ? 2 : 0, bo.loss = DISTILL_BC_MSE, bo.steps = r->bc_steps, bo.batch = 256;
    bo.stream = (uint64_t)seed;
    if (st == DISTILL_OK)
        st = distill_model_create(r->ctx, &mo, &m);
    if (st == DISTILL_OK)
        st = distill_model_reinit(m, 1000 + (uint64_t)seed);
    if (st == DISTILL_OK)
        st = distill_bc_train(r->ctx, &bo, m, set, NULL);
    if (st == DISTILL_OK)
        st = distill_policy_from_model(r->ctx, m, &s, DISTILL_POLICY_GREEDY, 1.0f, &p);
    distill_rollout_options_init(&ro);
    ro.episodes = r->eval_episodes, ro.seed = 100000;
    if (st == DISTILL_OK)
        st = distill_policy_evaluate(p, r->env, &ro, rets, NULL, NULL);
    for (i = 0; st == DISTILL_OK && i < r->eval_episodes; i++)
        sum += rets[i];
    *ret = sum / (double)r->eval_episodes;
    if (st == DISTILL_OK && save)
        st = distill_policy_save(p, save);
    distill_policy_destroy(p);
    distill_model_destroy(m);
    free(rets);
    return st;
}

static distill_status random_arm(run *r, int seed, distill_dataset **out)
{
    const int64_t n = distill_dataset_count(r->data);
    int64_t *idx = malloc(sizeof(int64_t) * (size_t)r->m), i;
    distill_status st = idx ? DISTILL_OK : DISTILL_E_NOMEM;
    for (i = 0; st == DISTILL_OK && i < r->m; i++)
        idx[i] = (int64_t)(distill_random_bits(r->ctx, 9 + (uint64_t)seed, (uint64_t)i) % (uint64_t)n);
    if (st == DISTILL_OK)
        st = distill_dataset_subset(r->data, idx, r->m, out);
    free(idx);
    return st;
}

static distill_status distil(run *r, int seed, distill_orl **out)
{
    distill_layer_spec l[5];
    distill_orl_options o;
    layers_for(r, l);
    distill_orl_options_init(&o);
    o.variant = r->variant, o.m = r->m, o.n_actions = r->discrete ? 2 : 0, o.layers = l, o.n_layers = 5;
    o.batch = r->batch, o.lr = r->lr, o.learn_actions = !r->discrete, o.angle_pairs = !r->discrete;
    const uint64_t user_seed = distill_context_seed(r->ctx);
    distill_status st;
    distill_context_set_seed(r->ctx, user_seed + (uint64_t)seed + 1); /* the solver's own draws */
    st = distill_orl_create(r->ctx, &o, r->data, out);
    if (st == DISTILL_OK)
        st = distill_orl_run(*out, r->steps);
    distill_context_set_seed(r->ctx, user_seed); /* the arms' BC stays paired */
    return st;
}

/* The first seed's distilled set and student go to --out. */
static distill_status save_outputs(run *r, distill_orl *s, char *policy_path, size_t cap)
{
    char p[1024], a[1024];
    distill_status st;
    snprintf(p, sizeof p, "%s/distilled.dstl", r->out);
    if ((st = distill_orl_save(s, p)) != DISTILL_OK)
        return st;
    snprintf(p, sizeof p, "%s/states.npy", r->out);
    snprintf(a, sizeof a, "%s/actions.npy", r->out);
    snprintf(policy_path, cap, "%s/policy.dstl", r->out);
    return distill_orl_save_npy(s, p, a);
}

static distill_status one_seed(run *r, int seed)
{
    distill_dataset *rnd = NULL, *set = NULL;
    distill_orl *s = NULL;
    char policy[1024] = "";
    distill_status st = score(r, r->data, seed, &r->ret[ARM_FULL][seed], NULL);
    r->ret[ARM_PCT10][seed] = r->ret[ARM_PCT25][seed] = NAN;
    if (st == DISTILL_OK && r->top[0])
        st = score(r, r->top[0], seed, &r->ret[ARM_PCT10][seed], NULL);
    if (st == DISTILL_OK && r->top[1])
        st = score(r, r->top[1], seed, &r->ret[ARM_PCT25][seed], NULL);
    if (st == DISTILL_OK)
        st = random_arm(r, seed, &rnd);
    if (st == DISTILL_OK)
        st = score(r, rnd, seed, &r->ret[ARM_RANDOM][seed], NULL);
    if (st == DISTILL_OK)
        st = distil(r, seed, &s);
    if (st == DISTILL_OK && seed == 0)
        st = save_outputs(r, s, policy, sizeof policy);
    if (st == DISTILL_OK)
        st = distill_orl_dataset(s, &set);
    if (st == DISTILL_OK)
        st = score(r, set, seed, &r->ret[ARM_DISTILLED][seed], policy[0] ? policy : NULL);
    distill_dataset_destroy(rnd), distill_dataset_destroy(set);
    distill_orl_destroy(s);
    return st;
}

/* Offline data: the expert's noisy episodes (and their best quarter), or --data. */
static distill_status data_for(run *r, int argc, char **argv)
{
    const char *file = cli_opt(argc, argv, "--data", NULL);
    distill_rollout_options ro;
    distill_status st;
    if (file) {
        return distill_distilled_load(r->ctx, file, &r->data);
    }
    distill_rollout_options_init(&ro);
    ro.episodes = cli_long(argc, argv, "--episodes", 100), ro.seed = distill_context_seed(r->ctx);
    if (r->discrete)
        ro.epsilon = cli_double(argc, argv, "--epsilon", 0.3);
    else
        ro.action_noise = cli_double(argc, argv, "--noise", 0.3);
    if ((st = distill_env_rollout(r->env, &ro, distill_env_expert, r->env, NULL, NULL, &r->data)) != DISTILL_OK)
        return st;
    if ((st = distill_trajectory_top(r->data, 1, 0.10, &r->top[0])) != DISTILL_OK)
        return st;
    return distill_trajectory_top(r->data, 1, 0.25, &r->top[1]);
}

static void report(const run *r, const char *task, int seeds)
{
    char b1[32], b2[32];
    int arm;
    printf("{\"command\":\"orl\",\"ok\":true,\"task\":\"%s\",\"m\":%lld,\"offline_states\":%lld,\"seeds\":%d,"
           "\"returns\":{", task, (long long)r->m, (long long)distill_dataset_count(r->data), seeds);
    for (arm = 0; arm < N_ARMS; arm++) {
        double mean, sd;
        cli_stats(r->ret[arm], seeds, &mean, &sd);
        printf("%s\"%s\":{\"mean\":%s,\"std\":%s}", arm ? "," : "", arm_name[arm], cli_json_number(mean, b1),
               cli_json_number(sd, b2));
    }
    printf("},\"out\":");
    cli_json_string(stdout, r->out);
    printf("}\n");
}

static const cli_spec options[] = {
    {"--task", CLI_TEXT, 0, 0},          {"--data", CLI_PATH, 0, 0},
    {"--episodes", CLI_INT, 1, 1e5},     {"--epsilon", CLI_REAL, 0, 1},
    {"--noise", CLI_REAL, 0, 10},        {"--m", CLI_INT, 1, 1e5},
    {"--steps", CLI_INT, 0, 1e8},        {"--variant", CLI_TEXT, 0, 0},
    {"--lr", CLI_REAL, 1e-12, 100},      {"--batch", CLI_INT, 0, 1e7},
    {"--bc-steps", CLI_INT, 1, 1e8},     {"--eval-episodes", CLI_INT, 1, 1e5},
    {"--seeds", CLI_INT, 1, 64},         {"--out", CLI_PATH, 0, 0},
};

static int parse(run *r, int argc, char **argv, const char **task)
{
    const char *variant = cli_opt(argc, argv, "--variant", "reinit");
    *task = cli_opt(argc, argv, "--task", "cartpole");
    if (strcmp(*task, "cartpole") != 0 && strcmp(*task, "pendulum") != 0) {
        fprintf(stderr, "distill orl: --task is cartpole or pendulum, not '%s'\n", *task);
        return 0;
    }
    r->variant = strcmp(variant, "fixed") == 0 ? DISTILL_ORL_FIXED : strcmp(variant, "student") == 0
                 ? DISTILL_ORL_STUDENT : strcmp(variant, "reinit") == 0 ? DISTILL_ORL_REINIT : -1;
    if (r->variant < 0) {
        fprintf(stderr, "distill orl: --variant is fixed, reinit or student, not '%s'\n", variant);
        return 0;
    }
    r->discrete = strcmp(*task, "cartpole") == 0;
    r->m = cli_long(argc, argv, "--m", r->discrete ? 10 : 20), r->steps = cli_long(argc, argv, "--steps", 2000);
    r->lr = cli_double(argc, argv, "--lr", 0.01), r->batch = cli_long(argc, argv, "--batch", 256);
    r->bc_steps = cli_long(argc, argv, "--bc-steps", r->discrete ? 1000 : 2000);
    r->eval_episodes = cli_long(argc, argv, "--eval-episodes", 100);
    r->out = cli_opt(argc, argv, "--out", "distill-orl");
    return 1;
}

int cmd_orl(int argc, char **argv)
{
    run r;
    const char *task;
    distill_env_options eo;
    int seeds, seed, rc = 0;
    if (argc > 1 && strcmp(argv[1], "--help") == 0) {
        help();
        printf("{\"command\":\"orl\",\"ok\":true,\"help\":true}\n");
        return 0;
    }
    memset(&r, 0, sizeof r);
    if (!cli_check_args("orl", argc, argv, options, (int)(sizeof options / sizeof options[0])) ||
        !parse(&r, argc, argv, &task))
        return cli_bad_args("orl");
    seeds = (int)cli_long(argc, argv, "--seeds", 3);
    if (!(r.ctx = cli_context(argc, argv)))
        return cli_fail(NULL, "orl", "context");
    distill_env_options_init(&eo);
    eo.task = r.discrete ? DISTILL_ENV_CARTPOLE : DISTILL_ENV_PENDULUM;
    mkdir(r.out, 0755); /* may exist; a write into it says what is wrong */
    if (distill_env_create(r.ctx, &eo, &r.env) != DISTILL_OK || data_for(&r, argc, argv) != DISTILL_OK)
        rc = cli_fail(r.ctx, "orl", "collecting or reading the offline data");
    else if (distill_dataset_x_dim(r.data) != distill_env_obs_dim(r.env) || distill_dataset_y_dim(r.data) < 1)
        rc = cli_fail(NULL, "orl", "--data: the states must have the task's observation size, and y the action");
    for (seed = 0; rc == 0 && seed < seeds; seed++) {
        if (one_seed(&r, seed) != DISTILL_OK)
            rc = cli_fail(r.ctx, "orl", "distilling or scoring");
        else
            fprintf(stderr, "seed %d: full %.1f, pct10 %.1f, pct25 %.1f, random %.1f, distilled %.1f\n", seed,
                    r.ret[ARM_FULL][seed], r.ret[ARM_PCT10][seed], r.ret[ARM_PCT25][seed], r.ret[ARM_RANDOM][seed],
                    r.ret[ARM_DISTILLED][seed]);
    }
    if (rc == 0)
        report(&r, task, seeds);
    distill_dataset_destroy(r.data), distill_dataset_destroy(r.top[0]), distill_dataset_destroy(r.top[1]);
    distill_env_destroy(r.env);
    distill_context_destroy(r.ctx);
    return rc;
}
