/* bench_masks: modulating masks on the mini CT-graph (issue 14, docs/masks.md).
 * Drives `distill masks` (BENCH_DISTILL, BENCH_DISTILL_MPI: the programs) for
 * the lifelong, fine-tuning and sharing runs, and times PPO on CartPole
 * through the library.  Last line: one JSON object with forgetting_max,
 * ppo_finetune_forgetting, avg_performance, forward_transfer,
 * first_task_iters, lc_vs_ri_steps, lc_vs_ri_related, speedup_4,
 * sharing_gain_4, icr_drop50_final, mask_bytes_bits, mask_bytes_f32,
 * mpi_agents_ok, ppo_cartpole_steps_s, threads, blis_arch. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_util.h"
#include "distill/distill.h"

#define SEEDS 5
#define TASKS 8
#define BUDGET 60
#define SHARE_SEEDS 3

/* Run a command; its last stdout line into line (cap bytes). */
static int run(const char *cmd, char *line, size_t cap)
{
    char buf[8192];
    FILE *p = popen(cmd, "r");
    line[0] = '\0';
    if (!p)
        return -1;
    while (fgets(buf, sizeof buf, p))
        if (buf[0] == '{')
            snprintf(line, cap, "%s", buf);
    return pclose(p) == 0 && line[0] ? 0 : -1;
}

/* The number after "key": (NaN if absent). */
static double num(const char *json, const char *key)
{
    char pat[64];
    const char *at;
    snprintf(pat, sizeof pat, "\"%s\":", key);
    at = strstr(json, pat);
    return at ? strtod(at + strlen(pat), NULL) : NAN;
}

/* The array after "key": into v (n values); returns the count read. */
static int nums(const char *json, const char *key, double *v, int n)
{
    char pat[64];
    const char *at;
    int i;
    snprintf(pat, sizeof pat, "\"%s\":[", key);
    if (!(at = strstr(json, pat)))
        return 0;
    at += strlen(pat);
    for (i = 0; i < n; i++) {
        char *end;
        v[i] = strtod(at, &end);
        if (end == at)
            return i;
        at = end + (*end == ',');
    }
    return n;
}

static const char *program(const char *env, const char *def)
{
    const char *p = getenv(env);
    return p && *p ? p : def;
}

/* ---- PPO on CartPole: env steps per second ---------------------------- */

static double cartpole_steps_per_second(int threads)
{
    distill_context_options co;
    distill_context *ctx;
    distill_layer_spec l[5];
    distill_model_options mo;
    distill_model *m;
    distill_env *env;
    distill_ppo_options po;
    distill_ppo *p;
    distill_ppo_stats st;
    double t0, t;
    int i;
    distill_context_options_init(&co);
    co.threads = threads, co.seed = 1;
    if (distill_context_create(&co, &ctx) || distill_env_create(ctx, NULL, &env))
        return NAN;
    for (i = 0; i < 5; i += 2) {
        distill_layer_spec_init(&l[i], DISTILL_LAYER_DENSE);
        l[i].units = i < 4 ? 64 : 3, l[i].init = DISTILL_INIT_ORTHOGONAL, l[i].init_gain = i < 4 ? 1.414f : 0.01f;
        if (i < 4)
            distill_layer_spec_init(&l[i + 1], DISTILL_LAYER_TANH);
    }
    distill_model_options_init(&mo);
    mo.in_c = 4, mo.in_h = mo.in_w = 1, mo.layers = l, mo.n_layers = 5;
    distill_ppo_options_init(&po); /* bench/ppo_torch.py runs the same shape and settings */
    po.optimizer = DISTILL_OPTIM_ADAM, po.lr = 3e-3, po.envs = 8, po.steps = 128, po.epochs = 4, po.minibatches = 4;
    po.lambda = 0.95, po.clip = 0.2, po.entropy = 0.0, po.max_grad_norm = 0.5, po.value_coef = 0.01;
    if (distill_model_create(ctx, &mo, &m) || distill_ppo_create_model(ctx, &po, env, m, &p))
        return NAN;
    st.struct_size = sizeof st;
    t0 = bench_now();
    for (i = 0; i < 50; i++)
        if (distill_ppo_step(p, &st))
            return NAN;
    t = bench_now() - t0;
    distill_ppo_destroy(p), distill_model_destroy(m), distill_env_destroy(env), distill_context_destroy(ctx);
    return (double)st.env_steps / t;
}

/* ---- lifelong: RI and LC over seeds ------------------------------------- */

typedef struct lifelong_runs {
    double iters[2][SEEDS][TASKS], auc[2][SEEDS][TASKS], forget, avg[2], bits, f32, first[SEEDS];
} lifelong_runs;

static int lifelong(const char *bin, int threads, lifelong_runs *r)
{
    static const char *const compose[2] = {"ri", "lc"};
    char cmd[1024], line[8192];
    int c, s, k;
    memset(r, 0, sizeof *r);
    for (c = 0; c < 2; c++)
        for (s = 0; s < SEEDS; s++) {
            snprintf(cmd, sizeof cmd, "%s masks --compose %s --budget %d --seed %d --threads %d 2>/dev/null", bin,
                     compose[c], BUDGET, s + 1, threads);
            if (run(cmd, line, sizeof line) || nums(line, "iters_to_90", r->iters[c][s], TASKS) != TASKS ||
                nums(line, "auc", r->auc[c][s], TASKS) != TASKS)
                return fprintf(stderr, "bench_masks: %s failed: %s\n", cmd, line), -1;
            for (k = 0; k < TASKS; k++) /* not reached in the budget: the budget */
                r->iters[c][s][k] = r->iters[c][s][k] < 0 ? BUDGET : r->iters[c][s][k];
            r->forget = fmax(r->forget, num(line, "forgetting_max"));
            r->avg[c] += num(line, "avg_performance") / SEEDS;
            r->bits = num(line, "mask_bytes_bits"), r->f32 = num(line, "mask_bytes_f32");
            if (c == 0)
                r->first[s] = r->iters[0][s][0];
            fprintf(stderr, "bench_masks: %s seed %d: %s", compose[c], s + 1, line);
        }
    return 0;
}

/* Mean iterations to 0.9 of LC over RI on the tasks where `pick` says. */
static double lc_over_ri(const lifelong_runs *r, int related_only)
{
    double sum[2] = {0, 0};
    int c, s, k;
    for (c = 0; c < 2; c++)
        for (s = 0; s < SEEDS; s++)
            for (k = 1; k < TASKS; k++)
                if (!related_only || k % 4 != 0) /* tasks 1-3 and 5-7 share their image seed with an earlier one */
                    sum[c] += r->iters[c][s][k];
    return sum[1] / sum[0];
}

/* Continual World's forward transfer of LC, RI (from scratch) the reference:
 * per task (2..8) (AUC - AUC_ref) / (1 - AUC_ref), AUCs averaged over seeds. */
static double forward_transfer(const lifelong_runs *r)
{
    double ft = 0.0;
    int s, k;
    for (k = 1; k < TASKS; k++) {
        double a = 0.0, b = 0.0;
        for (s = 0; s < SEEDS; s++)
            a += r->auc[1][s][k] / SEEDS, b += r->auc[0][s][k] / SEEDS;
        ft += (a - b) / (1.0 - b) / (TASKS - 1);
    }
    return ft;
}

/* ---- sharing ------------------------------------------------------------ */

static int share_run(const char *bin, int threads, const char *extra, int seed, char *line, size_t cap)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "%s masks --budget %d --seed %d --threads %d %s 2>/dev/null", bin, BUDGET, seed, threads,
             extra);
    if (run(cmd, line, cap))
        return fprintf(stderr, "bench_masks: %s failed\n", cmd), -1;
    fprintf(stderr, "bench_masks: %s: %s", extra, line);
    return 0;
}

int main(void)
{
    const char *bin = program("BENCH_DISTILL", "build/rel/bin/distill");
    const char *mpi = program("BENCH_DISTILL_MPI", "build/rel/mpi/bin/distill");
    const int threads = 1; /* agents are small: one thread each, as in the spec's budget */
    lifelong_runs r;
    char line[8192], cmd[1024];
    double gain = 0.0, one = 0.0, four = 0.0, icr0 = 0.0, icr50 = 0.0, finetune, cartpole;
    int seed, i, gains = 0, mpi_ok = -1;
    char arch[64] = "unknown";
    if (lifelong(bin, threads, &r))
        return 1;
    if (share_run(bin, threads, "--finetune", 1, line, sizeof line))
        return 1;
    finetune = num(line, "ppo_finetune_forgetting");
    for (seed = 1; seed <= SHARE_SEEDS; seed++) {
        double with[64], without[64];
        int n;
        if (share_run(bin, threads, "--agents 4", seed, line, sizeof line))
            return 1;
        n = nums(line, "tt80_agents", with, 4), four += num(line, "tt80_collective") / SHARE_SEEDS;
        icr0 += num(line, "icr_final") / SHARE_SEEDS;
        if (share_run(bin, threads, "--agents 4 --no-share", seed, line, sizeof line) ||
            nums(line, "tt80_agents", without, 4) != n)
            return 1;
        for (i = 0; i < n; i++)
            if (with[i] > 0 && without[i] > 0)
                gain += without[i] / with[i], gains++;
        if (share_run(bin, threads, "--agents 1 --no-share --drop 0", seed, line, sizeof line))
            return 1;
        one += num(line, "tt80_collective") / SHARE_SEEDS;
        if (share_run(bin, threads, "--agents 4 --drop 0.5", seed, line, sizeof line))
            return 1;
        icr50 += num(line, "icr_final") / SHARE_SEEDS;
    }
    snprintf(cmd, sizeof cmd, "command -v mpirun >/dev/null 2>&1 && test -x %s && mpirun --allow-run-as-root "
             "--oversubscribe -n 4 %s masks --mpi --budget %d --threads 1 2>/dev/null", mpi, mpi, BUDGET);
    if (run(cmd, line, sizeof line) == 0) {
        mpi_ok = strstr(line, "\"mpi_agents_ok\":true") != NULL;
        fprintf(stderr, "bench_masks: mpi: %s", line);
    } else
        fprintf(stderr, "bench_masks: no MPI build (%s) or mpirun: mpi_agents_ok null\n", mpi);
    cartpole = cartpole_steps_per_second(threads);
    {
        distill_context *ctx = NULL;
        if (distill_context_create(NULL, &ctx) == DISTILL_OK)
            snprintf(arch, sizeof arch, "%s", distill_context_blis_arch(ctx));
        distill_context_destroy(ctx);
    }
    qsort(r.first, SEEDS, sizeof r.first[0], bench_cmp);
    printf("{\"forgetting_max\": %.9g, \"ppo_finetune_forgetting\": %.3f, \"avg_performance\": %.3f, "
           "\"avg_performance_lc\": %.3f, \"forward_transfer\": %.3f, \"first_task_iters\": %.0f, "
           "\"lc_vs_ri_steps\": %.3f, \"lc_vs_ri_related\": %.3f, \"speedup_4\": %.2f, \"sharing_gain_4\": %.2f, "
           "\"icr_drop50_final\": %.3f, \"mask_bytes_bits\": %.0f, \"mask_bytes_f32\": %.0f, \"mpi_agents_ok\": %s, "
           "\"ppo_cartpole_steps_s\": %.0f, \"seeds\": %d, \"share_seeds\": %d, \"threads\": %d, \"blis_arch\": \"%s\"}\n",
           r.forget, finetune, r.avg[0], r.avg[1], forward_transfer(&r), r.first[SEEDS / 2], lc_over_ri(&r, 0),
           lc_over_ri(&r, 1), one / four, gains ? gain / gains : NAN, icr50 / icr0, r.bits, r.f32,
           mpi_ok < 0 ? "null" : mpi_ok ? "true" : "false", cartpole, SEEDS, SHARE_SEEDS, threads, arch);
    return 0;
}
