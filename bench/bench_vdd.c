/* VDD benchmarks (docs/vdd.md): level 0, the 8-mode ring with its analytic
 * score (3 seeds); level 1, the state-conditioned 4-mode GMM with a learned
 * EDM teacher (3 seeds, median); level 2, the Avoid point robot with a
 * teacher trained on multi-route demonstrations (8 student seeds of 12
 * experts, their means started on the branches, median);
 * and the act latencies of the teacher (Euler-8) and the student, on the
 * quietest core.  Last line: one JSON object. */
#if defined(__linux__)
#define _GNU_SOURCE /* sched_setaffinity: the act is timed on one core */
#include <sched.h>
#endif
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_util.h"
#include "distill/distill.h"

#define PI 3.14159265358979323846
#define CHECK(x)                                                                                   \
    do {                                                                                           \
        if ((x) != DISTILL_OK) {                                                                   \
            fprintf(stderr, "%s:%d: %s: %s\n", __FILE__, __LINE__, #x, distill_context_last_error(ctx)); \
            exit(1);                                                                               \
        }                                                                                          \
    } while (0)

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static double median3(double *v) { return median(v, 3); }

/* splitmix64 uniforms and normals for the data (independent of the library's streams). */
static unsigned long long rs = 12345;
static double urand(void)
{
    unsigned long long z = (rs += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL, z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return ((double)((z ^ (z >> 31)) >> 11) + 0.5) / 9007199254740992.0;
}
static double nrand(void) { return sqrt(-2 * log(urand())) * cos(2 * PI * urand()); }

static distill_context *context(uint64_t seed)
{
    distill_context_options co;
    distill_context *ctx = NULL;
    distill_context_options_init(&co);
    co.seed = seed;
    if (distill_context_create(&co, &ctx) != DISTILL_OK)
        exit(1);
    return ctx;
}

/* ---- level 0 ------------------------------------------------------------- */

static int ring_score(void *u, int64_t n, const float *a, const float *s, const float *sg, float *out)
{
    int64_t i;
    int m;
    (void)u, (void)s, (void)sg;
    for (i = 0; i < n; i++) {
        double lp[8], mx = -1e300, w = 0, gx = 0, gy = 0;
        for (m = 0; m < 8; m++) {
            const double dx = a[2 * i] - 2 * cos(2 * PI * m / 8), dy = a[2 * i + 1] - 2 * sin(2 * PI * m / 8);
            lp[m] = -(dx * dx + dy * dy) / 0.5, mx = lp[m] > mx ? lp[m] : mx;
        }
        for (m = 0; m < 8; m++) {
            const double r = exp(lp[m] - mx);
            w += r, gx += r * (2 * cos(2 * PI * m / 8) - a[2 * i]) / 0.25;
            gy += r * (2 * sin(2 * PI * m / 8) - a[2 * i + 1]) / 0.25;
        }
        out[2 * i] = (float)(gx / w), out[2 * i + 1] = (float)(gy / w);
    }
    return 0;
}

/* The expert means of a mixture policy at one observation. */
static void expert_means(distill_context *ctx, distill_policy *p, const float *obs, float *means)
{
    const int64_t K = distill_policy_n_experts(p), A = distill_policy_action_dim(p);
    size_t b;
    void *ws;
    int64_t k;
    CHECK(distill_policy_workspace_size(p, 1, &b));
    ws = malloc(b);
    CHECK(distill_policy_set_mode(p, DISTILL_POLICY_COMMITTED, 0));
    for (k = 0; k < K; k++) {
        int32_t e = (int32_t)k;
        uint64_t r = 0;
        CHECK(distill_policy_act_ex(p, ws, b, 1, obs, 1, means + k * A, A, &r, &e, NULL));
    }
    free(ws);
}

static int ring_run(uint64_t seed)
{
    distill_context *ctx = context(seed);
    float x[64], y[128] = {0}, obs[1] = {1.0f}, means[16];
    distill_score_vtable vt = {sizeof vt, NULL, ring_score, NULL};
    distill_diffusion *t;
    distill_dataset *ds;
    distill_vdd_options o;
    distill_vdd *v;
    distill_policy *p;
    int i, m, k, covered = 0;
    for (i = 0; i < 64; i++)
        x[i] = 1.0f;
    CHECK(distill_dataset_from_memory(ctx, 64, 1, x, 1, 2, y, 2, DISTILL_DATASET_COPY, &ds));
    CHECK(distill_diffusion_from_score(ctx, &vt, 1, 2, &t));
    distill_vdd_options_init(&o);
    o.full_cov = 0, o.learn_gating = 0, o.batch = 32, o.samples = 64, o.iterations = 2000;
    o.lr = 5e-4; /* the official toy's */
    CHECK(distill_vdd_create(ctx, &o, t, ds, &v));
    CHECK(distill_vdd_run(v, 0));
    CHECK(distill_vdd_policy(v, DISTILL_POLICY_GREEDY, 0, &p));
    expert_means(ctx, p, obs, means);
    for (m = 0; m < 8; m++)
        for (k = 0; k < 8; k++)
            if (hypot(means[2 * k] - 2 * cos(2 * PI * m / 8), means[2 * k + 1] - 2 * sin(2 * PI * m / 8)) < 0.25) {
                covered++;
                break;
            }
    distill_policy_destroy(p), distill_vdd_destroy(v), distill_diffusion_destroy(t), distill_dataset_destroy(ds);
    distill_context_destroy(ctx);
    fprintf(stderr, "ring seed %llu: %d of 8 modes\n", (unsigned long long)seed, covered);
    return covered;
}

/* ---- level 1 ------------------------------------------------------------- */

#define GMM_M 4
#define GMM_SD 0.15

static void gmm_mode(double s, int m, double *c)
{
    const double ang = 2 * PI * m / GMM_M + PI * s / 2;
    c[0] = 1.5 * cos(ang), c[1] = 1.5 * sin(ang);
}

static void gmm_draw(int64_t n, float *x, float *y)
{
    int64_t i;
    for (i = 0; i < n; i++) {
        double c[2];
        x[i] = (float)(2 * urand() - 1);
        gmm_mode(x[i], (int)(urand() * GMM_M) % GMM_M, c);
        y[2 * i] = (float)(c[0] + GMM_SD * nrand()), y[2 * i + 1] = (float)(c[1] + GMM_SD * nrand());
    }
}

static double gmm_true_logp(double s, const float *a)
{
    double lp = 0.0;
    int m;
    for (m = 0; m < GMM_M; m++) {
        double c[2];
        gmm_mode(s, m, c);
        lp += exp(-((a[0] - c[0]) * (a[0] - c[0]) + (a[1] - c[1]) * (a[1] - c[1])) / (2 * GMM_SD * GMM_SD));
    }
    return log(lp / GMM_M / (2 * PI * GMM_SD * GMM_SD));
}

typedef struct gmm_result {
    double nll_student, nll_teacher, nll_true, coverage, mean_coverage;
} gmm_result;

/* -mean log q on rows (obs, act). */
static double nll(distill_context *ctx, distill_policy *p, int64_t n, const float *obs, const float *act)
{
    size_t b;
    void *ws;
    float *lq = malloc(sizeof(float) * (size_t)n);
    double s = 0.0;
    int64_t i;
    CHECK(distill_policy_workspace_size(p, n, &b));
    ws = malloc(b);
    CHECK(distill_policy_log_prob(p, ws, b, n, obs, 1, act, 2, lq));
    for (i = 0; i < n; i++)
        s -= lq[i];
    free(ws), free(lq);
    return s / (double)n;
}

/* For 50 states, the modes that get at least half their share (0.5/M) of
 * the mixture's mass within 2 std (a Monte Carlo integral of q over the
 * disc), and the modes some expert's mean lies within 2 std of. */
static void gmm_coverage(distill_context *ctx, distill_policy *p, gmm_result *r)
{
    enum { DISC = 400 };
    float obs[DISC], act[2 * DISC], lq[DISC], means[2 * 64];
    const int64_t K = distill_policy_n_experts(p);
    size_t b;
    void *ws;
    int t, m, i, k, covered = 0, mean_covered = 0;
    CHECK(distill_policy_workspace_size(p, DISC, &b));
    ws = malloc(b);
    for (t = 0; t < 50; t++) {
        const double s = -0.98 + 0.04 * t;
        for (i = 0; i < DISC; i++)
            obs[i] = (float)s;
        expert_means(ctx, p, obs, means);
        for (m = 0; m < GMM_M; m++) {
            double c[2], mass = 0.0;
            gmm_mode(s, m, c);
            for (i = 0; i < DISC; i++) { /* uniform points of the disc of radius 2 std */
                const double rr = 2 * GMM_SD * sqrt(urand()), th = 2 * PI * urand();
                act[2 * i] = (float)(c[0] + rr * cos(th)), act[2 * i + 1] = (float)(c[1] + rr * sin(th));
            }
            CHECK(distill_policy_log_prob(p, ws, b, DISC, obs, 1, act, 2, lq));
            for (i = 0; i < DISC; i++)
                mass += exp(lq[i]);
            mass *= PI * 4 * GMM_SD * GMM_SD / DISC;
            covered += mass >= 0.5 / GMM_M;
            for (k = 0; k < K; k++)
                if (hypot(means[2 * k] - c[0], means[2 * k + 1] - c[1]) < 2 * GMM_SD) {
                    mean_covered++;
                    break;
                }
        }
    }
    free(ws);
    r->coverage = covered / (50.0 * GMM_M), r->mean_coverage = mean_covered / (50.0 * GMM_M);
}

static distill_diffusion *gmm_teacher(distill_context *ctx, distill_dataset *ds)
{
    distill_diffusion_options o;
    distill_diffusion_train_options to;
    distill_diffusion *t;
    double loss;
    distill_diffusion_options_init(&o);
    o.obs_dim = 1, o.action_dim = 2;
    CHECK(distill_diffusion_create(ctx, &o, &t));
    distill_diffusion_train_options_init(&to);
    to.steps = 6000;
    CHECK(distill_diffusion_train(t, &to, ds, &loss));
    fprintf(stderr, "gmm teacher: loss %.3f\n", loss);
    return t;
}

/* Teacher samples (Heun-8) for the held-out states. */
static void teacher_samples(distill_context *ctx, distill_diffusion *t, int64_t n, const float *obs, float *act)
{
    size_t b;
    void *ws;
    uint64_t r = 99;
    CHECK(distill_diffusion_workspace_size(t, n, &b));
    ws = malloc(b);
    CHECK(distill_diffusion_sample(t, ws, b, n, obs, 1, 8, DISTILL_SAMPLER_HEUN, &r, act, 2));
    free(ws);
}

static void gmm_levels(int64_t iterations, gmm_result *out)
{
    enum { TRAIN = 50000, HELD = 10000 };
    distill_context *tctx = context(1);
    distill_context *ctx = tctx;
    float *x = malloc(sizeof(float) * TRAIN), *y = malloc(sizeof(float) * 2 * TRAIN);
    float *hx = malloc(sizeof(float) * HELD), *hy = malloc(sizeof(float) * 2 * HELD), *ty = malloc(sizeof(float) * 2 * HELD);
    double ns[3], nt[3], cov[3], mcov[3], ntrue = 0.0;
    distill_dataset *ds;
    distill_diffusion *t;
    int64_t i;
    int seed;
    gmm_draw(TRAIN, x, y);
    gmm_draw(HELD, hx, hy);
    for (i = 0; i < HELD; i++)
        ntrue -= gmm_true_logp(hx[i], hy + 2 * i) / HELD;
    CHECK(distill_dataset_from_memory(ctx, TRAIN, 1, x, 1, 2, y, 2, DISTILL_DATASET_COPY, &ds));
    t = gmm_teacher(ctx, ds);
    teacher_samples(ctx, t, HELD, hx, ty);
    for (seed = 0; seed < 3; seed++) {
        distill_vdd_options o;
        distill_vdd *v;
        distill_policy *p;
        gmm_result r;
        distill_context_set_seed(ctx, (uint64_t)seed + 1);
        distill_vdd_options_init(&o);
        o.iterations = iterations;
        CHECK(distill_vdd_create(ctx, &o, t, ds, &v));
        CHECK(distill_vdd_run(v, 0));
        CHECK(distill_vdd_policy(v, DISTILL_POLICY_SAMPLE, 0, &p));
        ns[seed] = nll(ctx, p, HELD, hx, hy), nt[seed] = nll(ctx, p, HELD, hx, ty);
        gmm_coverage(ctx, p, &r);
        cov[seed] = r.coverage, mcov[seed] = r.mean_coverage;
        fprintf(stderr, "gmm seed %d: nll true samples %.3f, teacher samples %.3f, coverage %.3f, means %.3f\n",
                seed + 1, ns[seed], nt[seed], cov[seed], mcov[seed]);
        distill_policy_destroy(p), distill_vdd_destroy(v);
    }
    out->nll_student = median3(ns), out->nll_teacher = median3(nt), out->nll_true = ntrue;
    out->coverage = median3(cov), out->mean_coverage = median3(mcov);
    distill_diffusion_destroy(t), distill_dataset_destroy(ds), distill_context_destroy(tctx);
    free(x), free(y), free(hx), free(hy), free(ty);
}

/* ---- level 2 ------------------------------------------------------------- */

/* Avoid's VDD noise levels reach 0.15 sigma_data (not the spec's 0.3): the
 * routes leave the start 24 degrees apart, and wider noise merges them.
 * The expert steps' states are jittered by 0.06 (a fifth of the positions'
 * spread): a committed rollout drifts off the demonstrations, and the
 * experts learn there what the teacher does. */
#define AVOID_SIGMA_MAX 0.15
#define AVOID_STATE_NOISE 0.06
#define AVOID_EXPERTS 12 /* two or three to a route once they start on the branches */

typedef struct avoid_result {
    double teacher_success, teacher_entropy, student_success[3], student_entropy[3];
    double teacher_us, student_us, student_p99_us;
    int core; /* the core the act times were taken on (-1: not pinned) */
} avoid_result;

typedef struct teacher_user {
    distill_diffusion *t;
    void *ws;
    size_t bytes;
    uint64_t rng;
} teacher_user;

static int teacher_act(void *user, int64_t n, const float *obs, int64_t ldobs, float *actions, int64_t ldact)
{
    teacher_user *u = user;
    return distill_diffusion_sample(u->t, u->ws, u->bytes, n, obs, ldobs, 8, DISTILL_SAMPLER_EULER, &u->rng,
                                    actions, ldact) != DISTILL_OK;
}

static void score_routes(distill_dataset *tr, const double *ret, const int64_t *len, int64_t episodes,
                         double *success, double *entropy)
{
    if (distill_env_route_stats(tr, ret, len, episodes, success, entropy) != DISTILL_OK)
        exit(1);
}

/* One round of act times (batch 1): its median and 99th percentile, us. */
static void act_round(distill_policy *p, distill_diffusion *t, void *ws, size_t b, double *p50, double *p99)
{
    enum { REPS = 20000 };
    static double tv[REPS];
    float obs[2] = {0.01f, 0.2f}, a[2];
    uint64_t r = 1;
    int i;
    for (i = 0; i < REPS; i++) {
        const double t0 = bench_now();
        if (p)
            (void)!distill_policy_act(p, ws, b, 1, obs, 2, a, 2, &r);
        else
            (void)!distill_diffusion_sample(t, ws, b, 1, obs, 2, 8, DISTILL_SAMPLER_EULER, &r, a, 2);
        tv[i] = bench_now() - t0;
    }
    qsort(tv, REPS, sizeof tv[0], cmp_double);
    *p50 = 1e6 * tv[REPS / 2], *p99 = 1e6 * tv[REPS * 99 / 100];
}

/* The act time of the student (p) or the teacher (t): `rounds` rounds
 * (at most 5), the median of their medians and of their 99th percentiles. */
static double act_latency(distill_policy *p, distill_diffusion *t, int rounds, double *p99)
{
    double p50s[5], p99s[5];
    size_t b;
    void *ws;
    int i;
    if ((p ? distill_policy_workspace_size(p, 1, &b) : distill_diffusion_workspace_size(t, 1, &b)) != DISTILL_OK ||
        !(ws = malloc(b)))
        exit(1);
    for (i = 0; i < rounds; i++)
        act_round(p, t, ws, b, &p50s[i], &p99s[i]);
    free(ws);
    if (p99)
        *p99 = median(p99s, rounds);
    return median(p50s, rounds);
}

/* A control loop pins itself to a core; the act times are taken on the
 * quietest core this process may use (on this shared machine one vCPU runs
 * the same code about 1.6x slower than the other).  Returns the core, or
 * -1 (no pinning) off Linux. */
static int pin_quietest(distill_policy *p)
{
#if defined(__linux__)
    cpu_set_t allowed, one;
    double best = INFINITY, us;
    int cpu, pick = -1;
    if (sched_getaffinity(0, sizeof allowed, &allowed) != 0)
        return -1;
    for (cpu = 0; cpu < CPU_SETSIZE && cpu < 64; cpu++) {
        if (!CPU_ISSET(cpu, &allowed))
            continue;
        CPU_ZERO(&one);
        CPU_SET(cpu, &one);
        if (sched_setaffinity(0, sizeof one, &one) != 0)
            continue;
        us = act_latency(p, NULL, 1, NULL);
        if (us < best)
            best = us, pick = cpu;
    }
    if (pick >= 0) {
        CPU_ZERO(&one);
        CPU_SET(pick, &one);
        (void)sched_setaffinity(0, sizeof one, &one);
    } else
        (void)sched_setaffinity(0, sizeof allowed, &allowed);
    return pick;
#else
    (void)p;
    return -1;
#endif
}

/* One student (VDD under the context's current seed) scored in each mode;
 * the committed one is kept in *keep for the latency figures. */
static void avoid_student(distill_context *ctx, distill_env *env, distill_diffusion *t, distill_dataset *demos,
                          int64_t iterations, double success[3], double entropy[3], distill_policy **keep)
{
    enum { EPISODES = 200 };
    static const int32_t modes[3] = {DISTILL_POLICY_COMMITTED, DISTILL_POLICY_SAMPLE, DISTILL_POLICY_GREEDY};
    const double sd = distill_diffusion_sigma_data(t);
    distill_rollout_options ro;
    distill_dataset *tr;
    distill_vdd_options o;
    distill_vdd *v;
    distill_policy *p;
    double ret[EPISODES];
    int64_t len[EPISODES];
    int i;
    distill_vdd_options_init(&o); /* the action scale is sigma_data: noise, spread and std follow it */
    o.iterations = iterations, o.sigma_min = 0.05 * sd, o.sigma_max = AVOID_SIGMA_MAX * sd;
    o.init_std = sd, o.mean_bias_bound = sd, o.min_std = 1e-4 * sd, o.state_noise = AVOID_STATE_NOISE;
    o.mean_init = DISTILL_VDD_MEAN_INIT_BRANCH, o.experts = AVOID_EXPERTS; /* none starts between two routes */
    CHECK(distill_vdd_create(ctx, &o, t, demos, &v));
    CHECK(distill_vdd_run(v, 0));
    CHECK(distill_vdd_policy(v, DISTILL_POLICY_COMMITTED, 0, &p));
    distill_rollout_options_init(&ro);
    ro.episodes = EPISODES, ro.seed = 5000;
    for (i = 0; i < 3; i++) {
        CHECK(distill_policy_set_mode(p, modes[i], 0));
        CHECK(distill_policy_evaluate(p, env, &ro, ret, len, &tr));
        score_routes(tr, ret, len, EPISODES, &success[i], &entropy[i]);
        distill_dataset_destroy(tr);
    }
    fprintf(stderr, "avoid student seed %llu: committed %.3f / %.3f, sample %.3f / %.3f, greedy %.3f / %.3f\n",
            (unsigned long long)distill_context_seed(ctx), success[0], entropy[0], success[1], entropy[1],
            success[2], entropy[2]);
    distill_vdd_destroy(v);
    if (*keep)
        distill_policy_destroy(p);
    else
        *keep = p;
}

/* Level 2: one teacher, the students of eight seeds (medians: a student's
 * success varies with the seed more than the GMM's figures do). */
static void avoid_level(int64_t iterations, avoid_result *out)
{
    enum { EPISODES = 200, SEEDS = 8 };
    distill_context *ctx = context(3);
    distill_env_options eo;
    distill_env *env;
    distill_rollout_options ro;
    distill_dataset *demos, *tr;
    distill_diffusion_options dopt;
    distill_diffusion_train_options to;
    distill_diffusion *t;
    distill_policy *p = NULL;
    teacher_user tu;
    double ret[EPISODES], loss, success[3][SEEDS], entropy[3][SEEDS], row_s[3], row_h[3];
    int64_t len[EPISODES];
    int i, seed;
    distill_env_options_init(&eo);
    eo.task = DISTILL_ENV_AVOID;
    CHECK(distill_env_create(ctx, &eo, &env));
    distill_rollout_options_init(&ro);
    ro.episodes = 400, ro.action_noise = 0.002, ro.seed = 1000;
    CHECK(distill_env_demos(env, &ro, NULL, NULL, &demos));
    distill_diffusion_options_init(&dopt);
    dopt.obs_dim = 2, dopt.action_dim = 2;
    CHECK(distill_diffusion_create(ctx, &dopt, &t));
    distill_diffusion_train_options_init(&to);
    to.steps = 6000;
    CHECK(distill_diffusion_train(t, &to, demos, &loss));
    fprintf(stderr, "avoid teacher: loss %.3f, sigma_data %.4f\n", loss, distill_diffusion_sigma_data(t));
    distill_rollout_options_init(&ro);
    ro.episodes = EPISODES, ro.seed = 5000;
    tu.t = t, tu.rng = 7;
    CHECK(distill_diffusion_workspace_size(t, ro.lockstep, &tu.bytes));
    tu.ws = malloc(tu.bytes);
    CHECK(distill_env_rollout(env, &ro, teacher_act, &tu, ret, len, &tr));
    score_routes(tr, ret, len, EPISODES, &out->teacher_success, &out->teacher_entropy);
    distill_dataset_destroy(tr), free(tu.ws);
    for (seed = 0; seed < SEEDS; seed++) {
        distill_context_set_seed(ctx, (uint64_t)seed + 1);
        avoid_student(ctx, env, t, demos, iterations, row_s, row_h, &p);
        for (i = 0; i < 3; i++)
            success[i][seed] = row_s[i], entropy[i][seed] = row_h[i];
    }
    for (i = 0; i < 3; i++)
        out->student_success[i] = median(success[i], SEEDS), out->student_entropy[i] = median(entropy[i], SEEDS);
    CHECK(distill_policy_set_mode(p, DISTILL_POLICY_SAMPLE, 0));
    out->core = pin_quietest(p);
    out->student_us = act_latency(p, NULL, 5, &out->student_p99_us);
    out->teacher_us = act_latency(NULL, t, 5, NULL);
    distill_policy_destroy(p), distill_diffusion_destroy(t);
    distill_dataset_destroy(demos), distill_env_destroy(env), distill_context_destroy(ctx);
}

/* --latency POLICY: the act time of a saved policy alone (what
 * bench/vdd_torch.py alternates with PyTorch's sampler). */
static int latency_only(const char *path)
{
    distill_context *ctx = context(0);
    distill_policy *p;
    double p99, us;
    int core;
    CHECK(distill_policy_load(ctx, path, &p));
    core = pin_quietest(p);
    us = act_latency(p, NULL, 5, &p99);
    printf("{\"student_act_us\": %.3f, \"student_act_p99_us\": %.3f, \"act_core\": %d}\n", us, p99, core);
    distill_policy_destroy(p);
    distill_context_destroy(ctx);
    return 0;
}

int main(int argc, char **argv)
{
    /* --quick: short runs; --only ring|gmm|avoid: one level (the others report zeros) */
    if (argc == 3 && strcmp(argv[1], "--latency") == 0)
        return latency_only(argv[2]);
    const int quick = argc > 1 && strcmp(argv[1], "--quick") == 0;
    const char *only = argc > 2 && strcmp(argv[argc - 2], "--only") == 0 ? argv[argc - 1] : "";
    distill_context *ctx = context(0);
    avoid_result av;
    gmm_result g;
    int seed, ring_min = 0, ring_all = 0;
    memset(&av, 0, sizeof av), memset(&g, 0, sizeof g);
    av.core = -1;
    av.student_us = 1.0;
    if (!*only || strcmp(only, "ring") == 0)
        for (seed = 1, ring_min = 8; seed <= 3; seed++) {
            const int c = ring_run((uint64_t)seed);
            ring_min = c < ring_min ? c : ring_min, ring_all += c == 8;
        }
    if (!*only || strcmp(only, "gmm") == 0)
        gmm_levels(quick ? 500 : 2500, &g);
    if (!*only || strcmp(only, "avoid") == 0)
        avoid_level(quick ? 300 : 5000, &av);
    printf("{\"ring_modes_covered\": %d, \"ring_seeds_all_modes\": %d, \"gmm_nll_student\": %.3f, "
           "\"gmm_nll_teacher\": %.3f, \"gmm_nll_true\": %.3f, \"gmm_mode_coverage\": %.3f, "
           "\"gmm_mean_coverage\": %.3f, \"avoid_success_teacher\": %.3f, \"avoid_success_student\": %.3f, "
           "\"avoid_entropy_teacher\": %.3f, \"avoid_entropy_student\": %.3f, \"avoid_student_mode\": \"committed\", "
           "\"avoid_success_student_sample\": %.3f, \"avoid_entropy_student_sample\": %.3f, "
           "\"avoid_success_student_greedy\": %.3f, \"avoid_entropy_student_greedy\": %.3f, "
           "\"teacher_act_us\": %.2f, \"student_act_us\": %.3f, \"student_act_p99_us\": %.3f, \"speedup\": %.1f, "
           "\"act_core\": %d, \"threads\": %d, \"blis_arch\": \"%s\"}\n",
           ring_min, ring_all, g.nll_student, g.nll_teacher, g.nll_true, g.coverage, g.mean_coverage,
           av.teacher_success, av.student_success[0], av.teacher_entropy, av.student_entropy[0],
           av.student_success[1], av.student_entropy[1], av.student_success[2], av.student_entropy[2], av.teacher_us,
           av.student_us, av.student_p99_us, av.teacher_us / av.student_us, av.core, (int)distill_context_threads(ctx),
           distill_context_blis_arch(ctx));
    distill_context_destroy(ctx);
    return 0;
}
