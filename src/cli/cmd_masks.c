/* distill masks: lifelong RL on the mini CT-graph with modulating masks
 * (docs/masks.md): one agent through every task (RI, LC or BLC), the
 * fine-tuned plain-network baseline, or N agents sharing masks over an
 * in-process bus (latency, losses) or over MPI ranks (make MPI=1). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "masks.h"

static void help(void)
{
    fputs("distill masks [--depth 2] [--image-seeds 2] [--compose ri|lc|blc] [--budget 60] [--done 0.9]\n"
          "  [--lr 1e-3] [--hidden 64] [--agents 1] [--no-share] [--drop 0] [--latency 0]\n"
          "  [--payload bits|f16|f32] [--finetune] [--mpi] [--out FILE] [--seed 0] [--threads 0]\n"
          "Learns the mini CT-graph's tasks (image seeds x 2^depth goal leaves) one after another\n"
          "with PPO on a masknet: one binary mask per task on a fixed random backbone, no forgetting.\n"
          "A task ends when the probability that the sampled policy follows its path reaches --done\n"
          "or after --budget iterations of 512 samples.  --agents N: N agents, agent i starting at\n"
          "task i, sharing masks over an in-process bus (--latency: in iterations, 0: within one;\n"
          "--drop: the probability a message is lost;\n"
          "--no-share: the same agents alone); --mpi: one agent per MPI rank.  --finetune: a plain\n"
          "network fine-tuned through the same tasks (the forgetting baseline).  --out: the one\n"
          "agent's masknet saved there (every task; distill_masknet_load reads it).\n", stderr);
}

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static void json_reals(const char *name, const double *v, int64_t n)
{
    char b[32];
    int64_t i;
    printf("\"%s\":[", name);
    for (i = 0; i < n; i++)
        printf("%s%s", i ? "," : "", cli_json_number(v[i], b));
    printf("]");
}

static void json_ints(const char *name, const int64_t *v, int64_t n)
{
    int64_t i;
    printf("\"%s\":[", name);
    for (i = 0; i < n; i++)
        printf("%s%lld", i ? "," : "", (long long)v[i]);
    printf("]");
}

/* ---- one agent: the lifelong run ----------------------------------------- */

static int net_outputs(void *user, int64_t k, int64_t n, const float *x, float *y, int64_t ldy)
{
    return distill_masknet_forward(user, k, n, x, 64, y, ldy) != DISTILL_OK;
}

/* Bytes of task k's mask as each payload. */
static distill_status mask_sizes(distill_masknet *net, int64_t k, size_t sizes[3])
{
    distill_mask_meta m;
    int p;
    distill_mask_meta_init(&m);
    for (p = 0; p < 3; p++) {
        m.payload = p;
        MASKS_TRY(distill_masknet_encode(net, k, &m, NULL, 0, &sizes[p]));
    }
    return DISTILL_OK;
}

static int lifelong(distill_context *ctx, const masks_world *w, const masks_setup *s, const char *compose,
                    const char *out)
{
    masks_agent a;
    float before[MASKS_MAX_TASKS][6 * 4], after[6 * 4];
    double final[MASKS_MAX_TASKS], auc[MASKS_MAX_TASKS], forget = 0.0, avg = 0.0, t0 = now();
    size_t sizes[3] = {0, 0, 0};
    int64_t k, i, learned_at[MASKS_MAX_TASKS];
    if (masks_agent_init(&a, w, s, 0, NULL, NULL) != DISTILL_OK) {
        masks_agent_free(&a);
        return cli_fail(ctx, "masks", "making the agent");
    }
    for (k = 0; k < w->n_tasks; k++)
        learned_at[k] = 0;
    while (!a.done) {
        if (masks_agent_step(&a, w, s) != DISTILL_OK) {
            masks_agent_free(&a);
            return cli_fail(ctx, "masks", "training");
        }
        for (k = 0; k < w->n_tasks; k++) /* each task's outputs on its path when it is learned */
            if (!learned_at[k] && distill_masknet_task_learned(a.net, k) == 1) {
                learned_at[k] = 1;
                if (distill_masknet_forward(a.net, k, w->steps, w->path_obs[k], 64, before[k], 4) != DISTILL_OK) {
                    masks_agent_free(&a);
                    return cli_fail(ctx, "masks", "evaluating");
                }
            }
    }
    for (k = 0; k < w->n_tasks; k++) { /* after every later task: the same outputs, bit for bit */
        if (distill_masknet_forward(a.net, k, w->steps, w->path_obs[k], 64, after, 4) != DISTILL_OK) {
            masks_agent_free(&a);
            return cli_fail(ctx, "masks", "evaluating");
        }
        for (i = 0; i < w->steps * 4; i++)
            forget = fmax(forget, fabs((double)after[i] - (double)before[k][i]));
        final[k] = masks_path_prob(w, k, net_outputs, a.net, 4), avg += final[k] / (double)w->n_tasks;
        /* over the whole budget, the task held at its end value after it ended (it never changes again) */
        auc[k] = (a.auc[k] + (double)(s->budget - a.in_task[k]) * final[k]) / (double)s->budget;
    }
    if (mask_sizes(a.net, 0, sizes) != DISTILL_OK) {
        masks_agent_free(&a);
        return cli_fail(ctx, "masks", "encoding");
    }
    if (out && distill_masknet_save(a.net, out) != DISTILL_OK) {
        masks_agent_free(&a);
        return cli_fail(ctx, "masks", "saving the masknet");
    }
    printf("{\"command\":\"masks\",\"ok\":true,\"mode\":\"lifelong\",\"compose\":\"%s\",\"tasks\":%lld,", compose,
           (long long)w->n_tasks);
    json_ints("iters_to_90", a.to90, w->n_tasks), printf(","), json_ints("iterations", a.in_task, w->n_tasks);
    printf(","), json_reals("auc", auc, w->n_tasks), printf(","), json_reals("final", final, w->n_tasks);
    printf(",\"forgetting_max\":%.9g,\"avg_performance\":%.6g,\"mask_entries\":%lld,\"mask_bytes_bits\":%zu,"
           "\"mask_bytes_f16\":%zu,\"mask_bytes_f32\":%zu,\"env_steps\":%lld,\"seconds\":%.3f,\"out\":", forget,
           avg, (long long)distill_masknet_mask_count(a.net), sizes[0], sizes[1], sizes[2], (long long)a.env_steps,
           now() - t0);
    if (out)
        cli_json_string(stdout, out);
    else
        printf("null");
    printf("}\n");
    masks_agent_free(&a);
    return 0;
}

/* ---- the fine-tuned baseline: one plain network through every task -------- */

typedef struct plain {
    distill_model *m;
    int64_t label, T;
    float *x;                       /* rows of [observation | one-hot label] */
    int64_t cap;
} plain;

static int plain_rows(plain *p, int64_t n, const float *x, int64_t ldx)
{
    int64_t r;
    if (n > p->cap) {
        float *b = realloc(p->x, sizeof(float) * (size_t)(n * (64 + p->T)));
        if (!b)
            return 1;
        p->x = b, p->cap = n;
    }
    for (r = 0; r < n; r++) {
        memcpy(p->x + r * (64 + p->T), x + r * ldx, 64 * sizeof(float));
        memset(p->x + r * (64 + p->T) + 64, 0, sizeof(float) * (size_t)p->T);
        p->x[r * (64 + p->T) + 64 + p->label] = 1.0f;
    }
    return 0;
}

static int plain_forward(void *user, int64_t n, const float *x, int64_t ldx, float *y, int64_t ldy)
{
    plain *p = user;
    return plain_rows(p, n, x, ldx) ||
           distill_model_forward(p->m, DISTILL_MODE_TRAIN, n, p->x, 64 + p->T, y, ldy) != DISTILL_OK;
}

static int plain_backward(void *user, const float *dy, int64_t lddy)
{
    plain *p = user;
    return distill_model_backward(p->m, dy, lddy, NULL, 0, DISTILL_BACKWARD_PARAMS) != DISTILL_OK;
}

static int plain_outputs(void *user, int64_t k, int64_t n, const float *x, float *y, int64_t ldy)
{
    plain *p = user;
    p->label = k;
    return plain_rows(p, n, x, 64) ||
           distill_model_forward(p->m, DISTILL_MODE_EVAL, n, p->x, 64 + p->T, y, ldy) != DISTILL_OK;
}

static distill_status make_plain(distill_context *ctx, const masks_world *w, int64_t hidden, plain *p)
{
    distill_layer_spec l[7];
    distill_model_options mo;
    int i;
    memset(p, 0, sizeof *p);
    p->T = w->n_tasks;
    for (i = 0; i < 7; i += 2) {
        distill_layer_spec_init(&l[i], DISTILL_LAYER_DENSE);
        l[i].units = i < 6 ? hidden : 4;
        if (i < 6)
            distill_layer_spec_init(&l[i + 1], DISTILL_LAYER_RELU);
    }
    distill_model_options_init(&mo);
    mo.in_c = 64 + p->T, mo.in_h = mo.in_w = 1, mo.layers = l, mo.n_layers = 7;
    return distill_model_create(ctx, &mo, &p->m);
}

static distill_status finetune_run(distill_context *ctx, const masks_world *w, const masks_setup *s, plain *p,
                                   double *after, double *final, int64_t *iters)
{
    distill_network_vtable v;
    distill_ppo_options po;
    distill_ppo *ppo = NULL;
    distill_status st = DISTILL_OK;
    int64_t k, i;
    memset(&v, 0, sizeof v);
    v.struct_size = sizeof v, v.user = p, v.inputs = 64, v.outputs = 4;
    v.n_params = distill_model_param_count(p->m), v.params = distill_model_params(p->m);
    v.grads = distill_model_grads(p->m), v.forward = plain_forward, v.backward = plain_backward;
    distill_ppo_options_init(&po);
    po.lr = s->lr;
    for (k = 0; k < w->n_tasks && st == DISTILL_OK; k++) {
        p->label = k;
        st = ppo ? distill_ppo_retarget(ppo, w->env[k], NULL) : distill_ppo_create(ctx, &po, w->env[k], &v, &ppo);
        for (i = 0; i < s->budget && st == DISTILL_OK; i++) {
            st = distill_ppo_step(ppo, NULL);
            iters[k] = i + 1;
            if (st == DISTILL_OK && masks_path_prob(w, k, plain_outputs, p, 4) >= s->done)
                break;
            p->label = k;
        }
        after[k] = masks_path_prob(w, k, plain_outputs, p, 4);
    }
    for (k = 0; k < w->n_tasks && st == DISTILL_OK; k++)
        final[k] = masks_path_prob(w, k, plain_outputs, p, 4);
    distill_ppo_destroy(ppo);
    return st;
}

static int finetune(distill_context *ctx, const masks_world *w, const masks_setup *s)
{
    plain p;
    double after[MASKS_MAX_TASKS], final[MASKS_MAX_TASKS], drop = 0.0;
    int64_t iters[MASKS_MAX_TASKS], k;
    distill_status st = make_plain(ctx, w, s->hidden, &p);
    if (st == DISTILL_OK)
        st = finetune_run(ctx, w, s, &p, after, final, iters);
    distill_model_destroy(p.m), free(p.x);
    if (st != DISTILL_OK)
        return cli_fail(ctx, "masks", "fine-tuning the plain network");
    for (k = 0; k + 1 < w->n_tasks; k++) /* the earlier tasks: learned, then lost? */
        drop += (after[k] - final[k]) / (double)(w->n_tasks - 1);
    printf("{\"command\":\"masks\",\"ok\":true,\"mode\":\"finetune\",\"tasks\":%lld,", (long long)w->n_tasks);
    json_ints("iterations", iters, w->n_tasks), printf(","), json_reals("after_task", after, w->n_tasks);
    printf(","), json_reals("final", final, w->n_tasks);
    printf(",\"ppo_finetune_forgetting\":%.6g}\n", drop);
    return 0;
}

/* ---- N agents on an in-process bus -------------------------------------- */

typedef struct colony {
    masks_agent a[MASKS_MAX_AGENTS];
    int64_t n, ticks, tt80[MASKS_MAX_AGENTS], tt80_all, received[MASKS_MAX_AGENTS];
    double icr;
} colony;

/* The collective return: each task's best value over the agents. */
static double icr_of(const colony *c, const masks_world *w)
{
    double total = 0.0;
    int64_t k, i;
    for (k = 0; k < w->n_tasks; k++) {
        double best = 0.0;
        for (i = 0; i < c->n; i++)
            best = fmax(best, c->a[i].value[k]);
        total += best;
    }
    return total;
}

static distill_status colony_run(colony *c, const masks_world *w, const masks_setup *s, distill_share_bus *bus)
{
    const double target = 0.8 * (double)w->n_tasks;
    int64_t i, live = 1, limit = 4 * s->budget * w->n_tasks;
    for (i = 0; i < c->n; i++)
        c->tt80[i] = -1;
    c->tt80_all = -1;
    for (c->ticks = 0; live && c->ticks < limit; c->ticks++) {
        live = 0;
        for (i = 0; i < c->n; i++) {
            MASKS_TRY(masks_agent_step(&c->a[i], w, s));
            live |= !c->a[i].done;
            if (c->tt80[i] < 0 && masks_agent_total(&c->a[i], w) >= target)
                c->tt80[i] = c->ticks + 1;
        }
        if (bus)
            MASKS_TRY(distill_share_bus_tick(bus));
        c->icr = icr_of(c, w);
        if (c->tt80_all < 0 && c->icr >= target)
            c->tt80_all = c->ticks + 1;
    }
    return DISTILL_OK;
}

static int share_report(distill_context *ctx, const masks_world *w, colony *c, distill_share_bus *bus, double drop,
                        int sharing)
{
    int64_t delivered = 0, bytes = 0, lost = 0, i, k, all = 1;
    distill_share_stats st;
    double tt[MASKS_MAX_AGENTS];
    (void)ctx;
    distill_share_bus_counts(bus, &delivered, &bytes, &lost);
    for (i = 0; i < c->n; i++) {
        st.struct_size = sizeof st;
        c->received[i] = c->a[i].share && distill_share_get_stats(c->a[i].share, &st) == DISTILL_OK
                             ? st.masks_installed : 0;
        tt[i] = (double)c->tt80[i];
        for (k = 0; k < w->n_tasks; k++)
            all &= distill_masknet_task_learned(c->a[i].net, k) == 1;
    }
    printf("{\"command\":\"masks\",\"ok\":true,\"mode\":\"share\",\"agents\":%lld,\"sharing\":%s,\"drop\":%.6g,"
           "\"tasks\":%lld,\"ticks\":%lld,\"icr_final\":%.6g,\"tt80_collective\":%lld,", (long long)c->n,
           sharing ? "true" : "false", drop, (long long)w->n_tasks, (long long)c->ticks, c->icr,
           (long long)c->tt80_all);
    json_reals("tt80_agents", tt, c->n), printf(","), json_ints("masks_received", c->received, c->n);
    printf(",\"messages\":%lld,\"bytes\":%lld,\"lost\":%lld,\"all_learned\":%s}\n", (long long)delivered,
           (long long)bytes, (long long)lost, all ? "true" : "false");
    return 0;
}

static int share(distill_context *ctx, const masks_world *w, masks_setup s, int64_t agents, int sharing,
                 double drop, int64_t latency)
{
    static colony c;
    distill_share_bus *bus = NULL;
    distill_status st;
    int64_t i, j;
    int rc;
    memset(&c, 0, sizeof c);
    st = distill_share_bus_create(ctx, latency, drop, distill_context_seed(ctx) + 17, &bus);
    for (i = 0; i < agents && st == DISTILL_OK; i++, c.n++) {
        s.first = i * w->n_tasks / agents; /* spread: agents mostly work on different tasks */
        st = masks_agent_init(&c.a[i], w, &s, (uint32_t)i, sharing ? distill_share_bus_send : NULL, bus);
        if (st == DISTILL_OK && sharing)
            st = distill_share_bus_attach(bus, (uint32_t)i, c.a[i].share);
        for (j = 0; j < i && st == DISTILL_OK && sharing; j++) /* everybody knows everybody: bootstrap */
            if ((st = distill_share_add_peer(c.a[i].share, (uint32_t)j)) == DISTILL_OK)
                st = distill_share_add_peer(c.a[j].share, (uint32_t)i);
    }
    if (st == DISTILL_OK)
        st = colony_run(&c, w, &s, sharing ? bus : NULL);
    rc = st == DISTILL_OK ? share_report(ctx, w, &c, bus, drop, sharing) : cli_fail(ctx, "masks", "the agents");
    for (i = 0; i < c.n; i++)
        masks_agent_free(&c.a[i]);
    distill_share_bus_destroy(bus);
    return rc;
}

/* ---- the command ----------------------------------------------------------- */

static const cli_spec options[] = {
    {"--depth", CLI_INT, 2, 3},          {"--image-seeds", CLI_INT, 1, 2},
    {"--compose", CLI_TEXT, 0, 0},       {"--budget", CLI_INT, 1, 1e6},
    {"--done", CLI_REAL, 0, 1},          {"--lr", CLI_REAL, 1e-8, 1},
    {"--hidden", CLI_INT, 1, 4096},      {"--agents", CLI_INT, 1, MASKS_MAX_AGENTS},
    {"--no-share", CLI_FLAG, 0, 0},      {"--drop", CLI_REAL, 0, 1},
    {"--latency", CLI_INT, 0, 1000},     {"--payload", CLI_TEXT, 0, 0},
    {"--finetune", CLI_FLAG, 0, 0},      {"--mpi", CLI_FLAG, 0, 0},
    {"--out", CLI_PATH, 0, 0},
};

static int pick(const char *what, const char *v, const char *const *names, int n)
{
    int i;
    for (i = 0; i < n; i++)
        if (strcmp(v, names[i]) == 0)
            return i;
    fprintf(stderr, "distill masks: %s '%s' is not one of", what, v);
    for (i = 0; i < n; i++)
        fprintf(stderr, " %s", names[i]);
    fputc('\n', stderr);
    return -1;
}

int cmd_masks(int argc, char **argv)
{
    static const char *const composes[3] = {"ri", "lc", "blc"}, *const payloads[3] = {"bits", "f16", "f32"};
    distill_context *ctx;
    masks_world w;
    masks_setup s;
    const char *compose;
    int rc;
    if (argc > 1 && strcmp(argv[1], "--help") == 0) {
        help();
        printf("{\"command\":\"masks\",\"ok\":true,\"help\":true}\n");
        return 0;
    }
    if (!cli_check_args("masks", argc, argv, options, (int)(sizeof options / sizeof options[0])))
        return cli_bad_args("masks");
    memset(&s, 0, sizeof s);
    compose = cli_opt(argc, argv, "--compose", "ri");
    if ((s.compose = pick("--compose", compose, composes, 3)) < 0 ||
        (s.payload = pick("--payload", cli_opt(argc, argv, "--payload", "bits"), payloads, 3)) < 0)
        return cli_bad_args("masks");
    s.hidden = cli_long(argc, argv, "--hidden", 64), s.budget = cli_long(argc, argv, "--budget", 60);
    s.done = cli_double(argc, argv, "--done", 0.9), s.lr = cli_double(argc, argv, "--lr", 1e-3);
    s.window = cli_flag(argc, argv, "--mpi") ? 4 : 2 * cli_long(argc, argv, "--latency", 0); /* a QUERY and its META */
    if (cli_flag(argc, argv, "--mpi"))
        return cmd_masks_mpi(argc, argv, &s);
    if (!(ctx = cli_context(argc, argv)))
        return cli_fail(NULL, "masks", "context");
    if (masks_world_init(&w, ctx, cli_long(argc, argv, "--depth", 2), cli_long(argc, argv, "--image-seeds", 2)) !=
        DISTILL_OK)
        rc = cli_fail(ctx, "masks", "making the CT-graph tasks");
    else if (cli_flag(argc, argv, "--finetune"))
        rc = finetune(ctx, &w, &s);
    else if (cli_long(argc, argv, "--agents", 1) == 1 && !cli_flag(argc, argv, "--drop"))
        rc = lifelong(ctx, &w, &s, compose, cli_opt(argc, argv, "--out", NULL));
    else
        rc = share(ctx, &w, s, cli_long(argc, argv, "--agents", 1), !cli_flag(argc, argv, "--no-share"),
                   cli_double(argc, argv, "--drop", 0.0), cli_long(argc, argv, "--latency", 0));
    masks_world_free(&w);
    distill_context_destroy(ctx);
    return rc;
}
