/* distill transfer: pre-train fresh ConvNets on each arm's set, then a
 * linear probe and fine-tuning on the target classes, over seeds:
 *   A  the distilled set        A0 its initial real subset
 *   B  other random real images with teacher targets     C  no pre-training */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

enum { ARM_A, ARM_A0, ARM_B, ARM_C, N_ARMS };
enum { MAX_SEEDS = 64, MAX_DRAWS = 64 }; /* draw r of seed s uses the labels' stream s + MAX_SEEDS r */
static const char *const arm_name[N_ARMS] = {"A", "A0", "B", "C"};

static void help(void)
{
    fputs("distill transfer [--dir DIR] [--data DIR or FILE.csv] [--source-classes 0-4] [--classes 5-9]\n"
          "  [--seeds 3] [--probe-labels 10] [--ft-labels 50] [--pretrain-steps 300]\n"
          "  [--probe-steps 300] [--probe-lr 1e-2] [--probe-wd 1] [--probe-draws 1]\n"
          "  [--finetune-steps 300 (0: no fine-tuning)] [--arms A,A0,B,C]\n"
          "  [--set FILE] [--test-limit N] [--seed 0] [--threads 0]\n"
          "Reads DIR/teacher.dstl, initial.dstl and distilled.dstl (from distill krrst);\n"
          "--set evaluates another distilled set as arm A.  --probe-draws R: each seed's\n"
          "probe score is the mean over R draws of the probe's labels (draw 0 is the one\n"
          "draw of --probe-draws 1; lp*_one_draw reports it alone).\n", stderr);
}

typedef struct arms {
    int want[N_ARMS];
    distill_dataset *set[N_ARMS]; /* C: NULL */
    distill_dataset *target_train, *probe_train[MAX_DRAWS], *ft_train, *test;
    int draws;
    double lp[N_ARMS][MAX_SEEDS], lp1[N_ARMS][MAX_SEEDS], ft[N_ARMS][MAX_SEEDS]; /* lp1: draw 0 alone */
} arms;

/* Arm B: m random source images with teacher targets. */
static distill_status random_arm(distill_context *ctx, distill_dataset *src, distill_model *teacher,
                                 int64_t m, distill_dataset **out)
{
    const int64_t n = distill_dataset_count(src), dim = distill_dataset_x_dim(src), k = distill_model_output_dim(teacher);
    int64_t i, c, h, w, *idx = malloc(sizeof(int64_t) * (size_t)m);
    float *x = malloc(sizeof(float) * (size_t)(m * dim)), *y = malloc(sizeof(float) * (size_t)(m * k));
    distill_dataset_shape(src, &c, &h, &w);
    distill_status st = idx && x && y ? DISTILL_OK : DISTILL_E_NOMEM;
    for (i = 0; st == DISTILL_OK && i < m; i++)
        idx[i] = (int64_t)(distill_random_bits(ctx, 8, (uint64_t)i) % (uint64_t)n);
    if (st == DISTILL_OK)
        st = distill_dataset_get(src, idx, m, x, dim, NULL, 0);
    if (st == DISTILL_OK)
        st = distill_model_forward(teacher, DISTILL_MODE_EVAL, m, x, dim, y, k);
    if (st == DISTILL_OK)
        st = distill_dataset_from_memory(ctx, m, dim, x, dim, k, y, k, DISTILL_DATASET_COPY, out);
    if (st == DISTILL_OK)
        st = distill_dataset_set_shape(*out, c, h, w);
    free(idx), free(x), free(y);
    return st;
}

/* The seed's probe score: the mean over the draws of its labels. */
static distill_status probe_draws(distill_context *ctx, const distill_transfer_options *o, distill_model *enc,
                                  arms *a, int arm, int seed)
{
    double acc[MAX_DRAWS], sum = 0;
    int r;
    distill_status st = distill_linear_probes(ctx, o, enc, a->probe_train, a->draws, a->test, acc);
    if (st != DISTILL_OK)
        return st;
    for (r = 0; r < a->draws; r++)
        sum += acc[r];
    a->lp[arm][seed] = sum / a->draws, a->lp1[arm][seed] = acc[0];
    return DISTILL_OK;
}

static distill_status one(distill_context *ctx, const distill_transfer_options *shared, arms *a, int arm,
                          int seed)
{
    distill_transfer_options opts = *shared, *o = &opts;
    distill_model *enc;
    distill_status st;
    opts.seed = (uint64_t)seed; /* paired: every arm of a seed draws alike */
    if ((st = cli_convnet(ctx, a->test, 0, &enc)) != DISTILL_OK)
        return st;
    st = distill_model_reinit(enc, 1000 + (uint64_t)seed); /* paired: every arm starts alike */
    if (st == DISTILL_OK && a->set[arm])
        st = distill_pretrain(ctx, o, enc, a->set[arm]);
    if (st == DISTILL_OK)
        st = probe_draws(ctx, o, enc, a, arm, seed);
    a->ft[arm][seed] = NAN;
    if (st == DISTILL_OK && o->finetune_steps > 0)
        st = distill_finetune(ctx, o, enc, a->ft_train, a->test, &a->ft[arm][seed]);
    distill_model_destroy(enc);
    return st;
}

static void print_table(const arms *a, int seeds, long probe_labels, long ft_labels)
{
    static const char *const what[N_ARMS] = {"distilled set", "its initial real subset",
                                             "other real images + teacher", "none"};
    int arm;
    fprintf(stderr, "\narm  pre-training data                 lp%ld (%d seeds)     ft%ld\n", probe_labels,
            seeds, ft_labels);
    for (arm = 0; arm < N_ARMS; arm++) {
        double lm, ls, fm, fs;
        if (!a->want[arm])
            continue;
        cli_stats(a->lp[arm], seeds, &lm, &ls);
        cli_stats(a->ft[arm], seeds, &fm, &fs);
        fprintf(stderr, "%-4s %-32s %6.2f +- %4.2f    %6.2f +- %4.2f\n", arm_name[arm], what[arm],
                100 * lm, 100 * ls, 100 * fm, 100 * fs);
    }
}

static void report(const arms *a, int seeds, long probe_labels, long ft_labels, int64_t m)
{
    double mean, sd;
    int arm;
    print_table(a, seeds, probe_labels, ft_labels);
    printf("{\"command\":\"transfer\",\"ok\":true,\"m\":%lld,\"seeds\":%d,\"probe_draws\":%d", (long long)m,
           seeds, a->draws);
    for (arm = 0; arm < N_ARMS; arm++) {
        if (!a->want[arm])
            continue;
        cli_stats(a->lp[arm], seeds, &mean, &sd);
        printf(",\"lp%ld_%s\":%.4f,\"lp%ld_%s_std\":%.4f", probe_labels, arm_name[arm], mean,
               probe_labels, arm_name[arm], sd);
        cli_stats(a->lp1[arm], seeds, &mean, &sd);
        if (a->draws > 1)
            printf(",\"lp%ld_%s_one_draw\":%.4f,\"lp%ld_%s_one_draw_std\":%.4f", probe_labels, arm_name[arm],
                   mean, probe_labels, arm_name[arm], sd);
        cli_stats(a->ft[arm], seeds, &mean, &sd);
        if (mean == mean) /* no NaN in JSON: fine-tuning may be off */
            printf(",\"ft%ld_%s\":%.4f,\"ft%ld_%s_std\":%.4f", ft_labels, arm_name[arm], mean,
                   ft_labels, arm_name[arm], sd);
    }
    printf("}\n");
}

static void free_labelled(arms *a)
{
    int r;
    for (r = 0; r < MAX_DRAWS; r++)
        distill_dataset_destroy(a->probe_train[r]), a->probe_train[r] = NULL;
    distill_dataset_destroy(a->ft_train), a->ft_train = NULL;
}

static int run(distill_context *ctx, int argc, char **argv, arms *a)
{
    const int seeds = (int)cli_long(argc, argv, "--seeds", 3);
    const long pl = cli_long(argc, argv, "--probe-labels", 10), fl = cli_long(argc, argv, "--ft-labels", 50);
    distill_transfer_options o;
    int seed, arm;
    int r;
    a->draws = (int)cli_long(argc, argv, "--probe-draws", 1);
    if (seeds < 1 || seeds > MAX_SEEDS)
        return cli_fail(ctx, "transfer", "--seeds must be 1..64");
    distill_transfer_options_init(&o);
    o.pretrain_steps = cli_long(argc, argv, "--pretrain-steps", 300);
    o.probe_steps = cli_long(argc, argv, "--probe-steps", 300);
    o.probe_lr = cli_double(argc, argv, "--probe-lr", o.probe_lr);
    o.probe_weight_decay = cli_double(argc, argv, "--probe-wd", o.probe_weight_decay);
    o.finetune_steps = cli_long(argc, argv, "--finetune-steps", 300);
    for (seed = 0; seed < seeds; seed++) {
        free_labelled(a);
        for (r = 0; r < a->draws; r++)
            if (cli_per_class(ctx, a->target_train, pl, (uint64_t)(seed + MAX_SEEDS * r), &a->probe_train[r]) !=
                DISTILL_OK)
                return cli_fail(ctx, "transfer", "labelled subsets");
        if (cli_per_class(ctx, a->target_train, fl, (uint64_t)seed, &a->ft_train) != DISTILL_OK)
            return cli_fail(ctx, "transfer", "labelled subsets");
        for (arm = 0; arm < N_ARMS; arm++) {
            if (!a->want[arm])
                continue;
            if (one(ctx, &o, a, arm, seed) != DISTILL_OK)
                return cli_fail(ctx, "transfer", arm_name[arm]);
            fprintf(stderr, "seed %d arm %-2s: linear probe %.2f%%, fine-tuning %.2f%%\n", seed,
                    arm_name[arm], 100 * a->lp[arm][seed], 100 * a->ft[arm][seed]);
        }
    }
    report(a, seeds, pl, fl, distill_dataset_count(a->set[ARM_A]));
    return 0;
}

static distill_status load(distill_context *ctx, int argc, char **argv, arms *a, distill_model **teacher)
{
    const char *dir = cli_opt(argc, argv, "--dir", "distill-out");
    const char *data = cli_opt(argc, argv, "--data", FMNIST_DIR);
    int32_t src_c[64], tgt_c[64];
    int ns = cli_classes(cli_opt(argc, argv, "--source-classes", "0-4"), src_c);
    int nt = cli_classes(cli_opt(argc, argv, "--classes", "5-9"), tgt_c);
    distill_dataset *src = NULL;
    char p[1024];
    distill_status st;
    if (ns < 1 || nt < 1) {
        fprintf(stderr, "distill transfer: --classes and --source-classes take a-b or a,b,c (0 to 63)\n");
        return DISTILL_E_INVAL;
    }
    snprintf(p, sizeof p, "%s/teacher.dstl", dir);
    if ((st = distill_model_load(ctx, p, teacher)) != DISTILL_OK)
        return st;
    snprintf(p, sizeof p, "%s/distilled.dstl", dir);
    if (cli_opt(argc, argv, "--set", NULL))
        snprintf(p, sizeof p, "%s", cli_opt(argc, argv, "--set", NULL));
    if ((st = distill_distilled_load(ctx, p, &a->set[ARM_A])) != DISTILL_OK)
        return st;
    snprintf(p, sizeof p, "%s/initial.dstl", dir);
    if ((st = distill_distilled_load(ctx, p, &a->set[ARM_A0])) != DISTILL_OK)
        return st;
    if ((st = cli_load_data(ctx, data, 1, src_c, ns, &src)) != DISTILL_OK)
        return st;
    st = random_arm(ctx, src, *teacher, distill_dataset_count(a->set[ARM_A]), &a->set[ARM_B]);
    distill_dataset_destroy(src);
    if (st == DISTILL_OK)
        st = cli_load_data(ctx, data, 1, tgt_c, nt, &a->target_train);
    if (st == DISTILL_OK)
        st = cli_load_data(ctx, data, 0, tgt_c, nt, &a->test);
    if (st == DISTILL_OK)
        st = cli_limit(&a->test, cli_long(argc, argv, "--test-limit", 0));
    return st;
}

static const cli_spec options[] = {
    {"--dir", CLI_PATH, 0, 0},             {"--data", CLI_PATH, 0, 0},
    {"--set", CLI_PATH, 0, 0},             {"--arms", CLI_TEXT, 0, 0},
    {"--classes", CLI_TEXT, 0, 0},         {"--source-classes", CLI_TEXT, 0, 0},
    {"--seeds", CLI_INT, 1, 1000},         {"--probe-labels", CLI_INT, 1, 1e6},
    {"--ft-labels", CLI_INT, 1, 1e6},      {"--pretrain-steps", CLI_INT, 0, 1e9},
    {"--probe-steps", CLI_INT, 0, 1e9},    {"--finetune-steps", CLI_INT, 0, 1e9},
    {"--probe-lr", CLI_REAL, 1e-12, 10},   {"--probe-wd", CLI_REAL, 0, 1e6},
    {"--test-limit", CLI_INT, 0, 1e9},     {"--probe-draws", CLI_INT, 1, MAX_DRAWS},
};

int cmd_transfer(int argc, char **argv)
{
    arms *a;
    distill_model *teacher = NULL;
    distill_context *ctx;
    int rc, i;
    if (argc > 1 && strcmp(argv[1], "--help") == 0) {
        help();
        printf("{\"command\":\"transfer\",\"ok\":true,\"help\":true}\n");
        return 0;
    }
    if (!cli_check_args("transfer", argc, argv, options, (int)(sizeof options / sizeof options[0])))
        return cli_bad_args("transfer");
    if (!(ctx = cli_context(argc, argv)))
        return cli_fail(NULL, "transfer", "context");
    if (!(a = calloc(1, sizeof *a))) {
        distill_context_destroy(ctx);
        return cli_fail(NULL, "transfer", "out of memory");
    }
    {
        const char *want = cli_opt(argc, argv, "--arms", "A,A0,B,C");
        char buf[64];
        snprintf(buf, sizeof buf, ",%s,", want);
        for (i = 0; i < N_ARMS; i++) {
            char key[8];
            snprintf(key, sizeof key, ",%s,", arm_name[i]);
            a->want[i] = strstr(buf, key) != NULL;
        }
    }
    if (load(ctx, argc, argv, a, &teacher) != DISTILL_OK)
        rc = cli_fail(ctx, "transfer", "loading the teacher, the sets or the data (run distill krrst first)");
    else
        rc = run(ctx, argc, argv, a);
    for (i = 0; i < N_ARMS; i++)
        distill_dataset_destroy(a->set[i]);
    free_labelled(a);
    distill_dataset_destroy(a->target_train), distill_dataset_destroy(a->test);
    distill_model_destroy(teacher);
    free(a);
    distill_context_destroy(ctx);
    return rc;
}
