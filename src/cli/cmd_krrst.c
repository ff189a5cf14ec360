/* distill krrst: teacher (given, or a supervised one trained here), KRR-ST
 * distillation of the source classes, export. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "cli.h"

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static void help(void)
{
    fputs("distill krrst [--data DIR or FILE.csv] [--classes 0-4]\n"
          "  [--teacher FILE | --teacher-kind supervised|barlow --teacher-epochs 2 (10 for barlow)]\n"
          "  [--m 100] [--n 256] [--k 128] [--steps 1000] [--lr 1e-3] [--pool 4] [--period 200]\n"
          "  [--flip 0] [--crop 0] (the real batch) [--syn-flip 0] [--syn-crop 0] (the synthetic\n"
          "  images, differentiably) [--pool-reference 0 (1: the official code's pool, never\n"
          "  reset after its first T steps)] [--checkpoint-every 0] [--export-every 0] [--resume FILE]\n"
          "  [--limit N (first N source images)] [--out DIR]\n"
          "  [--mpi (make MPI=1; under mpirun: --n is the world's batch)] [--seed 0] [--threads 0]\n"
          "Writes DIR/teacher.dstl (when trained here), initial.dstl, distilled.dstl,\n"
          "images.npy, targets.npy, distilled.png, initial.png and checkpoint.dstl\n"
          "(and distilled_STEP.dstl every --export-every steps); with --mpi, rank r > 0\n"
          "writes the same into DIR/rankR and rank 0 prints the summary.\n", stderr);
}

static void path(char *buf, size_t n, const char *dir, const char *name)
{
    snprintf(buf, n, "%s/%s", dir, name);
}

/* The teacher: loaded, or a supervised ConvNet-3 + dense k trained on the
 * source's labels (named as such in the summary). */
static distill_status get_teacher(distill_context *ctx, int argc, char **argv, distill_dataset *src,
                                  const char *out, distill_model **teacher, const char **kind)
{
    const char *file = cli_opt(argc, argv, "--teacher", NULL);
    char p[1024];
    distill_status st;
    path(p, sizeof p, out, "teacher.dstl");
    if (file) { /* kept beside the results, so the directory is complete */
        *kind = "file";
        if ((st = distill_model_load(ctx, file, teacher)) != DISTILL_OK)
            return st;
        return strcmp(file, p) == 0 ? DISTILL_OK : distill_model_save(*teacher, p);
    }
    *kind = strcmp(cli_opt(argc, argv, "--teacher-kind", "supervised"), "barlow") == 0 ? "barlow-twins" : "supervised";
    if ((st = cli_convnet(ctx, src, cli_long(argc, argv, "--k", 128), teacher)) != DISTILL_OK)
        return st;
    if (strcmp(*kind, "supervised") == 0)
        st = distill_train_supervised_teacher(ctx, *teacher, src, cli_long(argc, argv, "--teacher-epochs", 2));
    else {
        distill_ssl_options so;
        distill_ssl_options_init(&so);
        so.epochs = cli_long(argc, argv, "--teacher-epochs", 10);
        st = distill_barlow_twins_train(ctx, &so, *teacher, src, NULL);
    }
    if (st != DISTILL_OK)
        return st;
    return distill_model_save(*teacher, p);
}

typedef struct summary {
    double loss_first, loss_last, held0, held1, step_ms;
    int64_t steps;
} summary;

/* The next step at which to stop: a multiple of `every` (0: never), or end. */
static int64_t next_stop(int64_t done, int64_t every, int64_t end)
{
    const int64_t next = every > 0 ? (done / every + 1) * every : end;
    return next < end ? next : end;
}

static distill_status snapshot(distill_krrst *s, const char *out, int64_t step, int64_t ck_every,
                               int64_t ex_every)
{
    char p[1024];
    if (ck_every > 0 && step % ck_every == 0) {
        path(p, sizeof p, out, "checkpoint.dstl");
        if (distill_krrst_checkpoint(s, p) != DISTILL_OK)
            return DISTILL_E_IO;
    }
    if (ex_every > 0 && step % ex_every == 0) {
        char name[64];
        snprintf(name, sizeof name, "distilled_%lld.dstl", (long long)step);
        path(p, sizeof p, out, name);
        if (distill_krrst_save(s, p) != DISTILL_OK)
            return DISTILL_E_IO;
    }
    return DISTILL_OK;
}

static distill_status distil(distill_context *ctx, int argc, char **argv, distill_krrst *s,
                             const char *out, summary *sum)
{
    const int64_t steps = cli_long(argc, argv, "--steps", 1000);
    const int64_t ck_every = cli_long(argc, argv, "--checkpoint-every", 0);
    const int64_t ex_every = cli_long(argc, argv, "--export-every", 0);
    const int64_t start = distill_krrst_steps_done(s), first = start + (steps - start < 20 ? steps - start : 20);
    char p[1024];
    double t0 = now();
    int64_t done = start;
    sum->loss_first = NAN;
    while (done < steps) {
        int64_t next = next_stop(done, ck_every, steps), ex = next_stop(done, ex_every, steps);
        next = ex < next ? ex : next;
        if (done < first && first < next)
            next = first; /* the loss at the start, over 20 steps */
        if (distill_krrst_run(s, next) != DISTILL_OK)
            return distill_context_last_status(ctx);
        if (done < first && next == first)
            sum->loss_first = distill_krrst_recent_loss(s);
        done = next;
        if (snapshot(s, out, done, ck_every, ex_every) != DISTILL_OK)
            return distill_context_last_status(ctx);
    }
    sum->steps = done;
    sum->step_ms = done > start ? 1e3 * (now() - t0) / (double)(done - start) : 0;
    sum->loss_last = distill_krrst_recent_loss(s); /* the steps after the first 20 */
    if (isnan(sum->loss_last))
        sum->loss_last = sum->loss_first; /* a run of 20 steps or fewer */
    if (ck_every > 0 && done > start && done % ck_every == 0)
        return DISTILL_OK; /* the snapshot just wrote it */
    path(p, sizeof p, out, "checkpoint.dstl");
    return distill_krrst_checkpoint(s, p);
}

static distill_status export_all(distill_krrst *s, const char *out)
{
    char a[1024], b[1024];
    distill_status st;
    path(a, sizeof a, out, "distilled.dstl");
    if ((st = distill_krrst_save(s, a)) != DISTILL_OK)
        return st;
    path(a, sizeof a, out, "images.npy"), path(b, sizeof b, out, "targets.npy");
    if ((st = distill_krrst_save_npy(s, a, b)) != DISTILL_OK)
        return st;
    path(a, sizeof a, out, "distilled.png");
    return distill_krrst_save_png(s, a);
}

static int run(distill_context *ctx, int argc, char **argv, distill_dataset *src, distill_dataset *held)
{
    const char *kind = "";
    char out_buf[DISTILL_CLI_MAX_PATH + 16]; /* --out is at most DISTILL_CLI_MAX_PATH */
    const char *out = cli_opt(argc, argv, "--out", "distill-out");
    int rank = 0, world = 1;
    const char *resume = cli_opt(argc, argv, "--resume", NULL);
    const int64_t n_held = distill_dataset_count(held) < 500 ? distill_dataset_count(held) : 500;
    distill_model *teacher = NULL;
    distill_krrst_options o;
    distill_krrst *s = NULL;
    summary sum = {0};
    char p[1024];
    int rc = 1;
    if (cli_flag(argc, argv, "--mpi")) {
        if (cli_mpi_init(&rank, &world) != 0)
            return cli_fail(NULL, "krrst", "--mpi: MPI");
        mkdir(out, 0755);
        if (rank > 0) { /* every rank writes what rank 0 writes, into a folder of its own; rank 0 reports */
            snprintf(out_buf, sizeof out_buf, "%s/rank%d", out, rank);
            out = out_buf;
            fflush(stdout);
            if (!freopen("/dev/null", "w", stdout))
                return cli_fail(NULL, "krrst", "--mpi: silencing a rank's stdout");
        }
    }
    mkdir(out, 0755);
    if (get_teacher(ctx, argc, argv, src, out, &teacher, &kind) != DISTILL_OK)
        return cli_fail(ctx, "krrst", "teacher");
    distill_krrst_options_init(&o);
    o.m = cli_long(argc, argv, "--m", 100), o.n = cli_long(argc, argv, "--n", 256);
    o.steps = cli_long(argc, argv, "--steps", 1000), o.lr = cli_double(argc, argv, "--lr", 1e-3);
    o.pool_size = cli_long(argc, argv, "--pool", 4), o.pool_period = cli_long(argc, argv, "--period", 200);
    o.augment_flip = (int32_t)cli_long(argc, argv, "--flip", 0);
    o.augment_crop_pad = (int32_t)cli_long(argc, argv, "--crop", 0);
    o.synthetic_flip = (int32_t)cli_long(argc, argv, "--syn-flip", 0);
    o.synthetic_crop_pad = (int32_t)cli_long(argc, argv, "--syn-crop", 0);
    o.pool_reference = (int32_t)cli_long(argc, argv, "--pool-reference", 0);
    o.teacher = teacher;
    o.rank = rank, o.world = world, o.allreduce = world > 1 ? cli_mpi_allreduce : NULL;
    if (world > 1) /* the world's batch is --n; each rank takes its share */
        o.n = o.n / world > 0 ? o.n / world : 1;
    if (distill_krrst_create(ctx, &o, src, &s) != DISTILL_OK) {
        cli_fail(ctx, "krrst", "create");
        goto done;
    }
    path(p, sizeof p, out, "initial.dstl");
    if (distill_krrst_save(s, p) != DISTILL_OK ||
        (path(p, sizeof p, out, "initial.png"), distill_krrst_save_png(s, p)) != DISTILL_OK ||
        distill_krrst_heldout_error(s, distill_krrst_images(s), distill_krrst_targets(s), held, n_held, 4, &sum.held0) != DISTILL_OK ||
        (resume && distill_krrst_resume(s, resume) != DISTILL_OK) ||
        distil(ctx, argc, argv, s, out, &sum) != DISTILL_OK || export_all(s, out) != DISTILL_OK ||
        distill_krrst_heldout_error(s, distill_krrst_images(s), distill_krrst_targets(s), held, n_held, 4, &sum.held1) != DISTILL_OK) {
        cli_fail(ctx, "krrst", "distillation");
        goto done;
    }
    fprintf(stderr, "KRR-ST: %lld steps, %.1f ms/step, loss %.4g -> %.4g, held-out KRR error %.4g -> %.4g\n",
            (long long)sum.steps, sum.step_ms, sum.loss_first, sum.loss_last, sum.held0, sum.held1);
    {
        char first[32], last[32];
        printf("{\"command\":\"krrst\",\"ok\":true,\"teacher\":\"%s\",\"m\":%lld,\"steps\":%lld,"
               "\"step_ms\":%.2f,\"loss_first\":%s,\"loss_last\":%s,\"heldout_initial\":%.6g,"
               "\"heldout_final\":%.6g,\"krr_heldout_drop\":%.4f,\"out\":",
               kind, (long long)o.m, (long long)sum.steps, sum.step_ms, cli_json_number(sum.loss_first, first),
               cli_json_number(sum.loss_last, last), sum.held0, sum.held1, 1.0 - sum.held1 / sum.held0);
    }
    cli_json_string(stdout, out);
    printf("}\n");
    rc = 0;
done:
    distill_krrst_destroy(s);
    distill_model_destroy(teacher);
    return rc;
}

static const cli_spec options[] = {
    {"--data", CLI_PATH, 0, 0},           {"--classes", CLI_TEXT, 0, 0},
    {"--limit", CLI_INT, 0, 1e9},         {"--m", CLI_INT, 1, 1e6},
    {"--n", CLI_INT, 1, 1e6},             {"--k", CLI_INT, 1, 65536},
    {"--steps", CLI_INT, 1, 1e9},         {"--pool", CLI_INT, 1, 1024},
    {"--period", CLI_INT, 1, 1e9},        {"--lr", CLI_REAL, 1e-12, 10},
    {"--flip", CLI_INT, 0, 1},            {"--crop", CLI_INT, 0, 64},
    {"--syn-flip", CLI_INT, 0, 1},        {"--syn-crop", CLI_INT, 0, 64},
    {"--pool-reference", CLI_INT, 0, 1},
    {"--teacher", CLI_PATH, 0, 0},        {"--teacher-kind", CLI_TEXT, 0, 0},
    {"--teacher-epochs", CLI_INT, 1, 1e4}, {"--out", CLI_PATH, 0, 0},
    {"--resume", CLI_PATH, 0, 0},         {"--export-every", CLI_INT, 0, 1e9},
    {"--checkpoint-every", CLI_INT, 0, 1e9}, {"--mpi", CLI_FLAG, 0, 0},
};

int cmd_krrst(int argc, char **argv)
{
    const char *data = cli_opt(argc, argv, "--data", FMNIST_DIR);
    int32_t classes[64];
    int nc, rc;
    distill_dataset *src = NULL, *held = NULL;
    distill_context *ctx;
    if (argc > 1 && strcmp(argv[1], "--help") == 0) {
        help();
        printf("{\"command\":\"krrst\",\"ok\":true,\"help\":true}\n");
        return 0;
    }
    if (!cli_check_args("krrst", argc, argv, options, (int)(sizeof options / sizeof options[0])))
        return cli_bad_args("krrst");
    if ((nc = cli_classes(cli_opt(argc, argv, "--classes", "0-4"), classes)) < 1) {
        fprintf(stderr, "distill krrst: --classes takes a-b or a,b,c (classes 0 to 63)\n");
        return cli_bad_args("krrst");
    }
    if (!(ctx = cli_context(argc, argv)))
        return cli_fail(NULL, "krrst", "context");
    if (cli_load_data(ctx, data, 1, classes, nc, &src) != DISTILL_OK ||
        cli_load_data(ctx, data, 0, classes, nc, &held) != DISTILL_OK ||
        cli_limit(&src, cli_long(argc, argv, "--limit", 0)) != DISTILL_OK)
        rc = cli_fail(ctx, "krrst", "data");
    else
        rc = run(ctx, argc, argv, src, held);
    cli_mpi_finalize();
    distill_dataset_destroy(src), distill_dataset_destroy(held);
    distill_context_destroy(ctx);
    return rc;
}
