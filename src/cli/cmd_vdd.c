/* distill vdd: demonstrations (the Avoid task's scripted multi-route expert,
 * or a file), a diffusion teacher trained on them, a mixture-of-experts
 * student distilled from it (docs/vdd.md), both saved; on Avoid both are
 * scored by success rate and route entropy over seeded episodes. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"

static void help(void)
{
    fputs("distill vdd [--data FILE.dstl|FILE.csv|FILE.h5] [--action-dim A] [--episodes 400] [--noise 0.002]\n"
          "  [--teacher FILE | --teacher-steps 6000 --hidden 128] [--iterations 2000] [--experts K] [--diag]\n"
          "  [--uniform-gating] [--samples 4] [--batch 128] [--sigma-max S] [--state-noise N]\n"
          "  [--mean-init uniform|branch]\n"
          "  [--mode committed|sample|greedy] [--eval-episodes 200] [--out DIR] [--seed 0] [--threads 0]\n"
          "Trains an EDM diffusion teacher on demonstrations (the Avoid point robot's scripted expert,\n"
          "four routes; or --data: a distilled-set file with x the observation and y the action, a CSV\n"
          "whose last A columns are the action, or a D4RL/Minari HDF5 file), distils it into a mixture\n"
          "of Gaussian experts (VDD), writes DIR/teacher.dstl and DIR/policy.dstl, and on Avoid scores\n"
          "the teacher (Euler-8) and the student (--mode) by success rate and route entropy.  --teacher\n"
          "reuses a teacher.dstl of an earlier run instead of training one.  --sigma-max: the largest\n"
          "noise level of the teacher's scores, in units of the actions' scale (0.15 on Avoid, whose\n"
          "routes leave the start 24 degrees apart; 0.3 with --data).  --state-noise: the std of the\n"
          "jitter of the expert steps' states, in the observations' units (0.06 on Avoid, 0 with --data).\n"
          "--mean-init: where the experts' means start: uniform draws, or branch, the demonstrated\n"
          "actions where the demonstrations branch (branch on Avoid, uniform with --data).  --experts:\n"
          "12 on Avoid, 8 with --data.\n",
          stderr);
}

typedef struct run {
    distill_context *ctx;
    distill_env *env;             /* Avoid, for demonstrations and scoring */
    distill_dataset *demos;
    distill_diffusion *teacher;
    distill_policy *student;
    int64_t action_dim, eval_episodes;
    double teacher_loss, score[2][2]; /* [teacher, student][success, entropy] */
    int scored;
    int32_t mean_init; /* DISTILL_VDD_MEAN_INIT_*, or -1: the default (branch on Avoid) */
    const char *out, *mode;
} run;

static int ends_with(const char *s, const char *tail)
{
    const size_t n = strlen(s), m = strlen(tail);
    return n >= m && strcmp(s + n - m, tail) == 0;
}

/* A CSV of observations then A action columns, split into x and y. */
static distill_status csv_demos(run *r, const char *file)
{
    distill_dataset *all = NULL;
    int64_t n, cols;
    float *rows = NULL;
    distill_status st = distill_dataset_from_csv(r->ctx, file, cli_csv_has_header(file) ? DISTILL_CSV_HEADER : 0, -1,
                                                 &all);
    if (st != DISTILL_OK)
        return st;
    n = distill_dataset_count(all), cols = distill_dataset_x_dim(all);
    if (cols <= r->action_dim) {
        distill_dataset_destroy(all);
        fprintf(stderr, "distill vdd: %s has %lld columns; --action-dim %lld leaves no observation\n", file,
                (long long)cols, (long long)r->action_dim);
        return DISTILL_E_SHAPE;
    }
    if (!(rows = malloc(sizeof(float) * (size_t)(n * cols))))
        st = DISTILL_E_NOMEM;
    if (st == DISTILL_OK)
        st = distill_dataset_get_range(all, 0, n, rows, cols, NULL, 0);
    if (st == DISTILL_OK)
        st = distill_dataset_from_memory(r->ctx, n, cols - r->action_dim, rows, cols, r->action_dim,
                                         rows + cols - r->action_dim, cols, DISTILL_DATASET_COPY, &r->demos);
    free(rows);
    distill_dataset_destroy(all);
    return st;
}

static distill_status demos_for(run *r, int argc, char **argv)
{
    const char *file = cli_opt(argc, argv, "--data", NULL);
    distill_rollout_options ro;
    distill_status st;
    if (!file) {
        distill_rollout_options_init(&ro);
        ro.episodes = cli_long(argc, argv, "--episodes", 400), ro.seed = distill_context_seed(r->ctx);
        ro.action_noise = cli_double(argc, argv, "--noise", 0.002);
        r->action_dim = 2;
        return distill_env_demos(r->env, &ro, NULL, NULL, &r->demos);
    }
    if (ends_with(file, ".csv")) {
        if (r->action_dim < 1) {
            fputs("distill vdd: a CSV needs --action-dim (its last columns are the action)\n", stderr);
            return DISTILL_E_INVAL;
        }
        return csv_demos(r, file);
    }
    st = ends_with(file, ".h5") || ends_with(file, ".hdf5") ? distill_trajectories_from_hdf5(r->ctx, file, &r->demos)
                                                              : distill_distilled_load(r->ctx, file, &r->demos);
    if (st == DISTILL_OK && r->action_dim < 1) /* a trajectory set's y ends with the extra columns */
        r->action_dim = distill_dataset_y_dim(r->demos) -
                        (ends_with(file, ".h5") || ends_with(file, ".hdf5") ? DISTILL_TRAJ_EXTRA : 0);
    return st;
}

static distill_status train_teacher(run *r, int argc, char **argv)
{
    const char *saved = cli_opt(argc, argv, "--teacher", NULL);
    distill_diffusion_options o;
    distill_diffusion_train_options to;
    char path[1024];
    distill_status st;
    if (saved) { /* a teacher from an earlier run: not trained again, not copied */
        st = distill_diffusion_load(r->ctx, saved, &r->teacher);
        if (st == DISTILL_OK && (distill_diffusion_obs_dim(r->teacher) != distill_dataset_x_dim(r->demos) ||
                                 distill_diffusion_action_dim(r->teacher) != r->action_dim)) {
            fprintf(stderr, "distill vdd: --teacher takes %lld observations and %lld action floats, the "
                    "demonstrations have %lld and %lld\n", (long long)distill_diffusion_obs_dim(r->teacher),
                    (long long)distill_diffusion_action_dim(r->teacher), (long long)distill_dataset_x_dim(r->demos),
                    (long long)r->action_dim);
            st = DISTILL_E_SHAPE;
        }
        r->teacher_loss = NAN;
        return st;
    }
    distill_diffusion_options_init(&o);
    o.obs_dim = distill_dataset_x_dim(r->demos), o.action_dim = r->action_dim;
    o.hidden = cli_long(argc, argv, "--hidden", 128);
    distill_diffusion_train_options_init(&to);
    to.steps = cli_long(argc, argv, "--teacher-steps", 6000);
    st = distill_diffusion_create(r->ctx, &o, &r->teacher);
    if (st == DISTILL_OK)
        st = distill_diffusion_train(r->teacher, &to, r->demos, &r->teacher_loss);
    snprintf(path, sizeof path, "%s/teacher.dstl", r->out);
    return st == DISTILL_OK ? distill_diffusion_save(r->teacher, path) : st;
}

static int32_t mode_of(const char *name)
{
    return strcmp(name, "greedy") == 0 ? DISTILL_POLICY_GREEDY : strcmp(name, "sample") == 0 ? DISTILL_POLICY_SAMPLE
                                                                                            : DISTILL_POLICY_COMMITTED;
}

static distill_status distil(run *r, int argc, char **argv)
{
    distill_vdd_options o;
    distill_vdd *v = NULL;
    distill_status st;
    char path[1024];
    const int avoid = !cli_opt(argc, argv, "--data", NULL); /* Avoid's close routes: narrower noise, jitter */
    distill_vdd_options_init(&o);
    o.data_units = 1; /* noise levels and spreads in units of the actions' scale */
    o.iterations = cli_long(argc, argv, "--iterations", 2000);
    o.experts = cli_long(argc, argv, "--experts", avoid ? 12 : 8);
    o.samples = cli_long(argc, argv, "--samples", 4), o.batch = cli_long(argc, argv, "--batch", 128);
    o.full_cov = !cli_flag(argc, argv, "--diag"), o.learn_gating = !cli_flag(argc, argv, "--uniform-gating");
    o.sigma_max = cli_double(argc, argv, "--sigma-max", avoid ? 0.15 : 0.3);
    o.state_noise = cli_double(argc, argv, "--state-noise", avoid ? 0.06 : 0.0);
    o.mean_init = r->mean_init >= 0 ? r->mean_init : avoid ? DISTILL_VDD_MEAN_INIT_BRANCH
                                                            : DISTILL_VDD_MEAN_INIT_UNIFORM;
    st = distill_vdd_create(r->ctx, &o, r->teacher, r->demos, &v);
    if (st == DISTILL_OK)
        st = distill_vdd_run(v, 0);
    if (st == DISTILL_OK)
        st = distill_vdd_policy(v, mode_of(r->mode), 0, &r->student);
    distill_vdd_destroy(v);
    snprintf(path, sizeof path, "%s/policy.dstl", r->out);
    return st == DISTILL_OK ? distill_policy_save(r->student, path) : st;
}

typedef struct teacher_act_user {
    distill_diffusion *t;
    void *ws;
    size_t bytes;
    uint64_t rng;
} teacher_act_user;

static int teacher_act(void *user, int64_t n, const float *obs, int64_t ldobs, float *actions, int64_t ldact)
{
    teacher_act_user *u = user;
    return distill_diffusion_sample(u->t, u->ws, u->bytes, n, obs, ldobs, 8, DISTILL_SAMPLER_EULER, &u->rng, actions,
                                    ldact) != DISTILL_OK;
}

static distill_status evaluate(run *r)
{
    distill_rollout_options ro;
    distill_dataset *tr = NULL;
    teacher_act_user u;
    double *ret = malloc(sizeof(double) * (size_t)r->eval_episodes);
    int64_t *len = malloc(sizeof(int64_t) * (size_t)r->eval_episodes);
    distill_status st = ret && len ? DISTILL_OK : DISTILL_E_NOMEM;
    distill_rollout_options_init(&ro);
    ro.episodes = r->eval_episodes, ro.seed = 100000;
    u.t = r->teacher, u.rng = distill_context_seed(r->ctx), u.ws = NULL;
    if (st == DISTILL_OK)
        st = distill_diffusion_workspace_size(r->teacher, ro.lockstep, &u.bytes);
    if (st == DISTILL_OK && !(u.ws = malloc(u.bytes)))
        st = DISTILL_E_NOMEM;
    if (st == DISTILL_OK)
        st = distill_env_rollout(r->env, &ro, teacher_act, &u, ret, len, &tr);
    if (st == DISTILL_OK)
        st = distill_env_route_stats(tr, ret, len, r->eval_episodes, &r->score[0][0], &r->score[0][1]);
    distill_dataset_destroy(tr), tr = NULL;
    if (st == DISTILL_OK)
        st = distill_policy_evaluate(r->student, r->env, &ro, ret, len, &tr);
    if (st == DISTILL_OK)
        st = distill_env_route_stats(tr, ret, len, r->eval_episodes, &r->score[1][0], &r->score[1][1]);
    distill_dataset_destroy(tr);
    free(u.ws), free(ret), free(len);
    r->scored = st == DISTILL_OK;
    return st;
}

static void report(const run *r)
{
    char b[4][32];
    printf("{\"command\":\"vdd\",\"ok\":true,\"demonstrations\":%lld,\"obs_dim\":%lld,\"action_dim\":%lld,"
           "\"teacher_loss\":%s,\"experts\":%lld,\"mode\":\"%s\",", (long long)distill_dataset_count(r->demos),
           (long long)distill_dataset_x_dim(r->demos), (long long)r->action_dim,
           cli_json_number(r->teacher_loss, b[0]), (long long)distill_policy_n_experts(r->student), r->mode);
    if (r->scored)
        printf("\"success_teacher\":%s,\"success_student\":%s,\"route_entropy_teacher\":%s,"
               "\"route_entropy_student\":%s,", cli_json_number(r->score[0][0], b[0]),
               cli_json_number(r->score[1][0], b[1]), cli_json_number(r->score[0][1], b[2]),
               cli_json_number(r->score[1][1], b[3]));
    printf("\"out\":");
    cli_json_string(stdout, r->out);
    printf("}\n");
}

static const cli_spec options[] = {
    {"--data", CLI_PATH, 0, 0},          {"--action-dim", CLI_INT, 1, 16},
    {"--episodes", CLI_INT, 1, 1e5},     {"--noise", CLI_REAL, 0, 1},
    {"--teacher-steps", CLI_INT, 1, 1e8}, {"--hidden", CLI_INT, 1, 4096},
    {"--iterations", CLI_INT, 0, 1e8},   {"--experts", CLI_INT, 1, 64},
    {"--diag", CLI_FLAG, 0, 0},          {"--uniform-gating", CLI_FLAG, 0, 0},
    {"--samples", CLI_INT, 1, 1024},     {"--batch", CLI_INT, 1, 1e6},
    {"--mode", CLI_TEXT, 0, 0},          {"--eval-episodes", CLI_INT, 1, 1e5},
    {"--out", CLI_PATH, 0, 0},           {"--teacher", CLI_PATH, 0, 0},
    {"--sigma-max", CLI_REAL, 0.05, 100}, /* at least the smallest level, 0.05 */
    {"--state-noise", CLI_REAL, 0, 100}, {"--mean-init", CLI_TEXT, 0, 0},
};

int cmd_vdd(int argc, char **argv)
{
    run r;
    distill_env_options eo;
    const char *init;
    int rc = 0;
    if (argc > 1 && strcmp(argv[1], "--help") == 0) {
        help();
        printf("{\"command\":\"vdd\",\"ok\":true,\"help\":true}\n");
        return 0;
    }
    memset(&r, 0, sizeof r);
    if (!cli_check_args("vdd", argc, argv, options, (int)(sizeof options / sizeof options[0])))
        return cli_bad_args("vdd");
    r.mode = cli_opt(argc, argv, "--mode", "committed");
    if (strcmp(r.mode, "committed") != 0 && strcmp(r.mode, "sample") != 0 && strcmp(r.mode, "greedy") != 0) {
        fprintf(stderr, "distill vdd: --mode is committed, sample or greedy, not '%s'\n", r.mode);
        return cli_bad_args("vdd");
    }
    init = cli_opt(argc, argv, "--mean-init", NULL);
    r.mean_init = !init ? -1 : strcmp(init, "uniform") == 0 ? DISTILL_VDD_MEAN_INIT_UNIFORM
                             : strcmp(init, "branch") == 0 ? DISTILL_VDD_MEAN_INIT_BRANCH : -2;
    if (r.mean_init == -2) {
        fprintf(stderr, "distill vdd: --mean-init is uniform or branch, not '%s'\n", init);
        return cli_bad_args("vdd");
    }
    r.action_dim = cli_long(argc, argv, "--action-dim", 0), r.out = cli_opt(argc, argv, "--out", "distill-vdd");
    r.eval_episodes = cli_long(argc, argv, "--eval-episodes", 200);
    if (!(r.ctx = cli_context(argc, argv)))
        return cli_fail(NULL, "vdd", "context");
    distill_env_options_init(&eo);
    eo.task = DISTILL_ENV_AVOID;
    mkdir(r.out, 0755); /* may exist; a write into it says what is wrong */
    if (distill_env_create(r.ctx, &eo, &r.env) != DISTILL_OK || demos_for(&r, argc, argv) != DISTILL_OK)
        rc = cli_fail(r.ctx, "vdd", "collecting or reading the demonstrations");
    else if (distill_dataset_y_dim(r.demos) < r.action_dim || r.action_dim < 1)
        rc = cli_fail(NULL, "vdd", "--data: y must start with the action (--action-dim floats)");
    else if (train_teacher(&r, argc, argv) != DISTILL_OK)
        rc = cli_fail(r.ctx, "vdd", "training the diffusion teacher");
    else if (distil(&r, argc, argv) != DISTILL_OK)
        rc = cli_fail(r.ctx, "vdd", "distilling the student");
    else if (distill_dataset_x_dim(r.demos) == 2 && r.action_dim == 2 && evaluate(&r) != DISTILL_OK)
        rc = cli_fail(r.ctx, "vdd", "scoring on the Avoid task");
    if (rc == 0)
        report(&r);
    distill_policy_destroy(r.student), distill_diffusion_destroy(r.teacher);
    distill_dataset_destroy(r.demos), distill_env_destroy(r.env);
    distill_context_destroy(r.ctx);
    return rc;
}
