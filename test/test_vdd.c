/* VDD and the diffusion teacher: the per-state gradient against central
 * differences of the true objective (double), responsibilities, positive
 * definiteness, the 8-mode ring, the policy's log q and zero-allocation
 * act, failing host scores, files, the state jitter. */
#include <math.h>
#include <string.h>

#include "testutil.h"
#include "policy/moe.h"
#include "vdd/internal.h"

#define PI 3.14159265358979323846

/* ---- an analytic target: a 2-D GMM (test's own arithmetic) -------------- */

static const double gmm_mu[2][2] = {{1.0, 0.5}, {-0.8, -0.3}};
static const double gmm_sd[2] = {0.6, 0.4};

static double gmm_logp(const double *a, double *grad)
{
    double lp[2], mx, s = 0.0;
    int m;
    for (m = 0; m < 2; m++) {
        const double dx = a[0] - gmm_mu[m][0], dy = a[1] - gmm_mu[m][1], v = gmm_sd[m] * gmm_sd[m];
        lp[m] = log(0.5) - (dx * dx + dy * dy) / (2 * v) - log(2 * PI * v);
    }
    mx = lp[0] > lp[1] ? lp[0] : lp[1];
    for (m = 0; m < 2; m++)
        s += exp(lp[m] - mx);
    if (grad) {
        grad[0] = grad[1] = 0.0;
        for (m = 0; m < 2; m++) {
            const double r = exp(lp[m] - mx) / s, v = gmm_sd[m] * gmm_sd[m];
            grad[0] += r * (gmm_mu[m][0] - a[0]) / v, grad[1] += r * (gmm_mu[m][1] - a[1]) / v;
        }
    }
    return mx + log(s);
}

/* The test's own L of expert k from a full-covariance row (A = 2). */
static void test_chol(const distill__moe *m, const double *row, int k, double L[4])
{
    const double *raw = row + m->K * 2 + k * 3;
    L[0] = log1p(exp(raw[0] + m->shift)) + m->min_std, L[1] = 0.0;
    L[2] = raw[1], L[3] = log1p(exp(raw[2] + m->shift)) + m->min_std;
}

static double test_logN(const double *a, const double *mu, const double L[4])
{
    const double y0 = (a[0] - mu[0]) / L[0], y1 = (a[1] - mu[1] - L[2] * y0) / L[3];
    return -0.5 * (y0 * y0 + y1 * y1) - log(L[0]) - log(L[3]) - log(2 * PI);
}

/* The objective whose gradient the kernel gives: the true log p at the
 * reparameterised samples, responsibilities with q~ frozen at row0, and
 * the entropy. */
static double objective(const distill__moe *m, const double *row, const double *row0, const double *logg,
                        int V, const float *eps)
{
    double total = 0.0;
    int k, v, j;
    for (k = 0; k < m->K; k++) {
        double L[4], acc = 0.0;
        test_chol(m, row, k, L);
        for (v = 0; v < V; v++) {
            const float *e = eps + (k * V + v) * 2;
            double a[2], lp[8], mx = -1e300, s = 0.0;
            a[0] = row[k * 2] + L[0] * e[0];
            a[1] = row[k * 2 + 1] + L[2] * e[0] + L[3] * e[1];
            for (j = 0; j < m->K; j++) {
                double L0[4];
                test_chol(m, row0, j, L0);
                lp[j] = logg[j] + test_logN(a, row0 + j * 2, L0);
                mx = lp[j] > mx ? lp[j] : mx;
            }
            for (j = 0; j < m->K; j++)
                s += exp(lp[j] - mx);
            acc += gmm_logp(a, NULL) + lp[k] - mx - log(s);
        }
        total -= exp(logg[k]) * (acc / V + log(L[0]) + log(L[3]) + log(2 * PI * exp(1.0))) / m->K;
    }
    return total;
}

START_TEST(expert_gradient_matches_central_differences_of_the_objective)
{
    const int K = 3, V = 2;
    const distill__moe m = distill__moe_layout(K, 2, 1, 1e-4, 0.7);
    const int64_t R = distill__moe_row(&m);
    double row[3 * 5], drow[3 * 5], logg[3] = {log(0.5), log(0.3), log(0.2)}, work[256];
    float eps[3 * 2 * 2], score[3 * 2 * 2];
    int64_t i;
    int k, v;
    ck_assert_int_eq(R, 15);
    ck_assert(distill__vdd_work_size(&m) <= 256);
    for (i = 0; i < R; i++)
        row[i] = 0.4 * sin(1.7 * (double)i + 0.3);
    for (i = 0; i < K * V * 2; i++)
        eps[i] = (float)(0.9 * cos(2.3 * (double)i));
    for (k = 0; k < K; k++) /* the teacher's score at each sample of row */
        for (v = 0; v < V; v++) {
            double L[4], a[2], g[2];
            const float *e = eps + (k * V + v) * 2;
            test_chol(&m, row, k, L);
            a[0] = row[k * 2] + L[0] * e[0], a[1] = row[k * 2 + 1] + L[2] * e[0] + L[3] * e[1];
            gmm_logp(a, g);
            score[(k * V + v) * 2] = (float)g[0], score[(k * V + v) * 2 + 1] = (float)g[1];
        }
    memset(drow, 0, sizeof drow);
    (void)distill__vdd_row(&m, row, logg, V, eps, score, drow, work);
    for (i = 0; i < R; i++) {
        const double h = 1e-5;
        double plus[15], minus[15], fd;
        memcpy(plus, row, sizeof plus), memcpy(minus, row, sizeof minus);
        plus[i] += h, minus[i] -= h;
        fd = (objective(&m, plus, row, logg, V, eps) - objective(&m, minus, row, logg, V, eps)) / (2 * h);
        ck_assert_msg(fabs(fd - drow[i]) <= 1e-5 + 1e-4 * fabs(fd), "entry %lld: kernel %.9g, differences %.9g",
                      (long long)i, drow[i], fd);
    }
}
END_TEST


START_TEST(responsibilities_sum_to_one_and_match_a_direct_computation)
{
    const int K = 3;
    const distill__moe m = distill__moe_layout(K, 2, 1, 1e-4, 0.7);
    double row[15], dz[3], work[256], r[3], direct[3], lse, z64[3], sum = 0.0;
    const float z[3] = {0.3f, -1.2f, 0.8f}, a[2] = {0.4f, -0.1f};
    int i, k;
    for (i = 0; i < 15; i++)
        row[i] = 0.5 * cos(0.9 * (double)i);
    (void)distill__vdd_gate_row(&m, row, z, a, dz, work);
    for (k = 0; k < K; k++)
        z64[k] = z[k];
    lse = ref_lse(z64, K, 1.0);
    for (k = 0; k < K; k++) {
        double L[4], ad[2] = {a[0], a[1]};
        test_chol(&m, row, k, L);
        direct[k] = z64[k] - lse + test_logN(ad, row + 2 * k, L);
        r[k] = exp(z64[k] - lse) - dz[k]; /* dz = softmax(z) - r */
        sum += r[k];
    }
    lse = ref_lse(direct, K, 1.0);
    ck_assert(fabs(sum - 1.0) < 1e-12);
    for (k = 0; k < K; k++)
        ck_assert_msg(fabs(r[k] - exp(direct[k] - lse)) < 1e-12, "expert %d: %.15g vs %.15g", k, r[k],
                      exp(direct[k] - lse));
}
END_TEST

START_TEST(covariances_stay_positive_definite_under_extreme_parameters)
{
    static const double extremes[] = {-1e30, -1e4, -80.0, 0.0, 80.0, 1e4};
    const distill__moe m = distill__moe_layout(2, 3, 1, 1e-4, 1.0);
    double row[2 * (3 + 6)], L[9], y[3], a[3] = {0.1, 0.2, 0.3};
    size_t i, j;
    for (i = 0; i < sizeof extremes / sizeof extremes[0]; i++) {
        for (j = 0; j < sizeof row / sizeof row[0]; j++)
            row[j] = j < 6 ? 0.0 : extremes[i];
        distill__moe_chol(&m, row, 1, L);
        for (j = 0; j < 3; j++)
            ck_assert_msg(L[j * 3 + j] >= 1e-4 * 0.999 && isfinite(L[j * 3 + j]), "raw %g: diagonal %g", extremes[i],
                          L[j * 3 + j]);
        ck_assert(!isnan(distill__moe_logpdf(3, a, row + 3, L, y)));
    }
}
END_TEST

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

/* A host score that fails from call fail_at on (-1: never). */
typedef struct flaky {
    int calls, fail_at;
} flaky;

static int flaky_ring(void *u, int64_t n, const float *a, const float *s, const float *sg, float *out)
{
    flaky *f = u;
    if (f->fail_at >= 0 && f->calls++ >= f->fail_at)
        return 1;
    return ring_score(NULL, n, a, s, sg, out);
}

typedef struct ring_setup {
    distill_dataset *data;
    distill_diffusion *teacher;
    distill_vdd *vdd;
} ring_setup;

static void ring_make(distill_context *ctx, ring_setup *r, int64_t iterations, int learn_gating, flaky *f)
{
    float x[64], y[128] = {0};
    distill_score_vtable vt = {sizeof vt, f, f ? flaky_ring : ring_score, NULL};
    distill_vdd_options o;
    int i;
    for (i = 0; i < 64; i++)
        x[i] = 1.0f, y[2 * i] = (float)cos(i), y[2 * i + 1] = (float)sin(i);
    ck_assert_status(distill_dataset_from_memory(ctx, 64, 1, x, 1, 2, y, 2, DISTILL_DATASET_COPY, &r->data),
                     DISTILL_OK);
    ck_assert_status(distill_diffusion_from_score(ctx, &vt, 1, 2, &r->teacher), DISTILL_OK);
    distill_vdd_options_init(&o);
    o.full_cov = 0, o.learn_gating = learn_gating, o.batch = 32, o.samples = 64, o.iterations = iterations;
    o.lr = 5e-4, o.gating_lr = 5e-4; /* the official toy's */
    ck_assert_status(distill_vdd_create(ctx, &o, r->teacher, r->data, &r->vdd), DISTILL_OK);
}

static void ring_free(ring_setup *r)
{
    distill_vdd_destroy(r->vdd), distill_diffusion_destroy(r->teacher), distill_dataset_destroy(r->data);
}

/* Every expert's mean at the observation 1, through the policy. */
static void means_of(distill_vdd *v, float *means)
{
    distill_policy *p;
    float obs[1] = {1.0f};
    size_t bytes;
    void *ws;
    int32_t k;
    ck_assert_status(distill_vdd_policy(v, DISTILL_POLICY_COMMITTED, 0, &p), DISTILL_OK);
    ck_assert_status(distill_policy_workspace_size(p, 1, &bytes), DISTILL_OK);
    ws = malloc(bytes);
    for (k = 0; k < distill_policy_n_experts(p); k++) {
        int32_t e = k;
        uint64_t rng = 0;
        ck_assert_status(distill_policy_act_ex(p, ws, bytes, 1, obs, 1, means + 2 * k, 2, &rng, &e, NULL), DISTILL_OK);
        ck_assert_int_eq(e, k);
    }
    free(ws);
    distill_policy_destroy(p);
}

START_TEST(level0_ring_covers_all_eight_modes)
{
    distill_context *ctx = test_context(NULL, 1);
    ring_setup r;
    float means[16];
    int m, k, covered = 0;
    ring_make(ctx, &r, 2000, 0, NULL); /* the spec's test: 2000 iterations */
    ck_assert_status(distill_vdd_run(r.vdd, 0), DISTILL_OK);
    ck_assert_int_eq(distill_vdd_steps_done(r.vdd), 2000);
    means_of(r.vdd, means);
    for (m = 0; m < 8; m++)
        for (k = 0; k < 8; k++)
            if (hypot(means[2 * k] - 2 * cos(2 * PI * m / 8), means[2 * k + 1] - 2 * sin(2 * PI * m / 8)) < 0.25) {
                covered++;
                break;
            }
    ck_assert_int_eq(covered, 8);
    ring_free(&r);
    distill_context_destroy(ctx);
}
END_TEST

START_TEST(failing_score_is_a_backend_error_and_the_solver_resumes)
{
    distill_context *ctx = test_context(NULL, 1);
    flaky f = {0, -1};
    ring_setup r;
    float before[16], after[16];
    ring_make(ctx, &r, 20, 1, &f);
    ck_assert_status(distill_vdd_step(r.vdd, NULL), DISTILL_OK);
    means_of(r.vdd, before);
    f.calls = 0, f.fail_at = 1; /* the iteration's second expert step fails */
    ck_assert_status(distill_vdd_step(r.vdd, NULL), DISTILL_E_BACKEND);
    ck_assert(strstr(distill_context_last_error(ctx), "score") != NULL);
    ck_assert_int_eq(distill_vdd_steps_done(r.vdd), 1);
    means_of(r.vdd, after);
    ck_assert_mem_eq(before, after, sizeof before);
    f.fail_at = -1;
    ck_assert_status(distill_vdd_step(r.vdd, NULL), DISTILL_OK);
    ck_assert_int_eq(distill_vdd_steps_done(r.vdd), 2);
    ring_free(&r);
    distill_context_destroy(ctx);
}
END_TEST

START_TEST(checkpoints_resume_bit_identically)
{
    distill_context *ctx = test_context(NULL, 1);
    const char *path = "vdd_test.ckpt";
    ring_setup a, b;
    float ma[16], mb[16];
    ring_make(ctx, &a, 6, 1, NULL);
    ck_assert_status(distill_vdd_run(a.vdd, 3), DISTILL_OK);
    ck_assert_status(distill_vdd_checkpoint(a.vdd, path), DISTILL_OK);
    ck_assert_status(distill_vdd_run(a.vdd, 6), DISTILL_OK);
    ring_make(ctx, &b, 6, 1, NULL);
    ck_assert_status(distill_vdd_resume(b.vdd, path), DISTILL_OK);
    ck_assert_int_eq(distill_vdd_steps_done(b.vdd), 3);
    ck_assert_status(distill_vdd_run(b.vdd, 6), DISTILL_OK);
    means_of(a.vdd, ma), means_of(b.vdd, mb);
    ck_assert_mem_eq(ma, mb, sizeof ma);
    remove(path);
    ring_free(&a), ring_free(&b);
    distill_context_destroy(ctx);
}
END_TEST

START_TEST(act_allocates_nothing_and_its_log_q_is_log_prob)
{
    counting_alloc ca;
    distill_context *ctx = test_context(&ca, 1);
    ring_setup r;
    distill_policy *p;
    float obs[4] = {1, 1, 1, 1}, act[8], lq[4], lp[4];
    int32_t experts[4] = {-1, 2, -1, 5};
    uint64_t rng = 3;
    size_t bytes;
    void *ws;
    int64_t calls;
    int i;
    ring_make(ctx, &r, 5, 1, NULL);
    ck_assert_status(distill_vdd_run(r.vdd, 0), DISTILL_OK);
    ck_assert_status(distill_vdd_policy(r.vdd, DISTILL_POLICY_COMMITTED, 0, &p), DISTILL_OK);
    ck_assert_int_eq(distill_policy_kind(p), DISTILL_POLICY_MOE);
    ck_assert_status(distill_policy_workspace_size(p, 4, &bytes), DISTILL_OK);
    ws = malloc(bytes);
    calls = ca.calls;
    ck_assert_status(distill_policy_act_ex(p, ws, bytes, 4, obs, 1, act, 2, &rng, experts, lq), DISTILL_OK);
    ck_assert_status(distill_policy_log_prob(p, ws, bytes, 4, obs, 1, act, 2, lp), DISTILL_OK);
    ck_assert_int_eq(ca.calls, calls);
    ck_assert_int_eq(experts[1], 2);
    ck_assert_int_eq(experts[3], 5);
    for (i = 0; i < 4; i++) {
        ck_assert(experts[i] >= 0 && experts[i] < 8);
        ck_assert_msg(fabsf(lq[i] - lp[i]) < 1e-6f, "row %d: %g vs %g", i, lq[i], lp[i]);
    }
    ck_assert_status(distill_policy_act_ex(p, ws, bytes - 1, 4, obs, 1, act, 2, &rng, NULL, NULL),
                     DISTILL_E_WORKSPACE);
    obs[2] = NAN;
    ck_assert_status(distill_policy_act(p, ws, bytes, 4, obs, 1, act, 2, &rng), DISTILL_E_NUMERIC);
    free(ws);
    distill_policy_destroy(p);
    ring_free(&r);
    distill_context_destroy(ctx);
    ck_assert_int_eq(ca.live, 0);
}
END_TEST

/* Load a file's bytes, damaged: truncated to len, or a byte flipped. */
static unsigned char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    unsigned char *buf;
    long n;
    ck_assert_ptr_nonnull(f);
    fseek(f, 0, SEEK_END), n = ftell(f), fseek(f, 0, SEEK_SET);
    buf = malloc((size_t)n);
    ck_assert_int_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return buf;
}

START_TEST(policy_and_teacher_files_round_trip_and_damage_is_a_format_error)
{
    distill_context *ctx = test_context(NULL, 1);
    ring_setup r;
    distill_policy *p, *q = NULL;
    distill_diffusion *d, *d2 = NULL;
    distill_diffusion_options o;
    distill_diffusion_train_options to;
    unsigned char *buf;
    size_t len, cut;
    float obs[2] = {1.0f, 1.0f}, a1[4], a2[4], x[64], y[64];
    int32_t e1[2] = {3, 6}, e2[2] = {3, 6};
    uint64_t r1 = 5, r2 = 5;
    size_t bytes;
    void *ws;
    int i;
    ring_make(ctx, &r, 3, 1, NULL);
    ck_assert_status(distill_vdd_run(r.vdd, 0), DISTILL_OK);
    ck_assert_status(distill_vdd_policy(r.vdd, DISTILL_POLICY_COMMITTED, 4, &p), DISTILL_OK);
    ck_assert_status(distill_policy_save(p, "vdd_policy.bin"), DISTILL_OK);
    ck_assert_msg(distill_policy_load(ctx, "vdd_policy.bin", &q) == DISTILL_OK, "%s", distill_context_last_error(ctx));
    ck_assert_int_eq(distill_policy_mode(q), DISTILL_POLICY_COMMITTED);
    ck_assert_int_eq(distill_policy_n_experts(q), 8);
    ck_assert_status(distill_policy_workspace_size(p, 2, &bytes), DISTILL_OK);
    ws = malloc(bytes);
    ck_assert_status(distill_policy_act_ex(p, ws, bytes, 2, obs, 1, a1, 2, &r1, e1, NULL), DISTILL_OK);
    ck_assert_status(distill_policy_act_ex(q, ws, bytes, 2, obs, 1, a2, 2, &r2, e2, NULL), DISTILL_OK);
    ck_assert_mem_eq(a1, a2, sizeof a1);
    free(ws);
    buf = slurp("vdd_policy.bin", &len);
    for (cut = 0; cut < len; cut += 1 + len / 23) {
        distill_policy *bad = NULL;
        ck_assert_status(distill_policy_load_memory(ctx, buf, cut, &bad), DISTILL_E_FORMAT);
        ck_assert_ptr_null(bad);
    }
    buf[len / 2] ^= 0x40;
    {
        distill_policy *bad = NULL;
        ck_assert_status(distill_policy_load_memory(ctx, buf, len, &bad), DISTILL_E_FORMAT);
    }
    free(buf);
    distill_policy_destroy(q);
    remove("vdd_policy.bin");
    /* a small trained teacher */
    for (i = 0; i < 64; i++)
        x[i] = (float)(i % 8) / 8.0f, y[i] = (float)((i * 7) % 5) / 5.0f;
    distill_diffusion_options_init(&o);
    o.obs_dim = 2, o.action_dim = 2, o.hidden = 8, o.layers = 2;
    ck_assert_status(distill_diffusion_create(ctx, &o, &d), DISTILL_OK);
    distill_diffusion_train_options_init(&to);
    to.steps = 5, to.batch = 8;
    {
        distill_dataset *ds;
        ck_assert_status(distill_dataset_from_memory(ctx, 32, 2, x, 2, 2, y, 2, DISTILL_DATASET_COPY, &ds), DISTILL_OK);
        ck_assert_status(distill_diffusion_train(d, &to, ds, NULL), DISTILL_OK);
        distill_dataset_destroy(ds);
    }
    ck_assert_status(distill_diffusion_save(d, "vdd_teacher.bin"), DISTILL_OK);
    ck_assert_status(distill_diffusion_load(ctx, "vdd_teacher.bin", &d2), DISTILL_OK);
    {
        float s[2] = {0.3f, 0.6f}, act[2] = {0.1f, -0.2f}, sig[1] = {0.4f}, o1[2], o2[2];
        ck_assert_status(distill_diffusion_score(d, 1, act, s, sig, o1), DISTILL_OK);
        ck_assert_status(distill_diffusion_score(d2, 1, act, s, sig, o2), DISTILL_OK);
        ck_assert_mem_eq(o1, o2, sizeof o1);
    }
    buf = slurp("vdd_teacher.bin", &len);
    for (cut = 0; cut < len; cut += 1 + len / 23) {
        distill_diffusion *bad = NULL;
        ck_assert_status(distill_diffusion_load_memory(ctx, buf, cut, &bad), DISTILL_E_FORMAT);
        ck_assert_ptr_null(bad);
    }
    buf[len - 3] ^= 0x01;
    {
        distill_diffusion *bad = NULL;
        ck_assert_status(distill_diffusion_load_memory(ctx, buf, len, &bad), DISTILL_E_FORMAT);
    }
    free(buf);
    remove("vdd_teacher.bin");
    distill_diffusion_destroy(d), distill_diffusion_destroy(d2);
    distill_policy_destroy(p);
    ring_free(&r);
    distill_context_destroy(ctx);
}
END_TEST

START_TEST(the_denoiser_learns_a_conditional_mean)
{
    /* a = (s, -s) + 0.05 n: at s = 0.5, Heun-8 samples sit near (0.5, -0.5) */
    distill_context *ctx = test_context(NULL, 1);
    enum { N = 4000 };
    static float x[N], y[2 * N], obs[200], act[400];
    distill_diffusion_options o;
    distill_diffusion_train_options to;
    distill_diffusion *d;
    distill_dataset *ds;
    double mx = 0, my = 0, loss;
    uint64_t rng = 1;
    size_t bytes;
    void *ws;
    int i;
    fill_random(x, N, 3);
    fill_random(y, 2 * N, 4);
    for (i = 0; i < N; i++)
        y[2 * i] = x[i] + 0.05f * y[2 * i], y[2 * i + 1] = -x[i] + 0.05f * y[2 * i + 1];
    ck_assert_status(distill_dataset_from_memory(ctx, N, 1, x, 1, 2, y, 2, DISTILL_DATASET_COPY, &ds), DISTILL_OK);
    distill_diffusion_options_init(&o);
    o.obs_dim = 1, o.action_dim = 2, o.hidden = 64;
    ck_assert_status(distill_diffusion_create(ctx, &o, &d), DISTILL_OK);
    distill_diffusion_train_options_init(&to);
    to.steps = 600, to.batch = 256;
    ck_assert_status(distill_diffusion_train(d, &to, ds, &loss), DISTILL_OK);
    for (i = 0; i < 200; i++)
        obs[i] = 0.5f;
    ck_assert_status(distill_diffusion_workspace_size(d, 200, &bytes), DISTILL_OK);
    ws = malloc(bytes);
    ck_assert_status(distill_diffusion_sample(d, ws, bytes, 200, obs, 1, 8, DISTILL_SAMPLER_HEUN, &rng, act, 2),
                     DISTILL_OK);
    for (i = 0; i < 200; i++)
        mx += act[2 * i] / 200.0, my += act[2 * i + 1] / 200.0;
    ck_assert_msg(fabs(mx - 0.5) < 0.1 && fabs(my + 0.5) < 0.1, "sample mean (%g, %g)", mx, my);
    free(ws);
    distill_diffusion_destroy(d), distill_dataset_destroy(ds);
    distill_context_destroy(ctx);
}
END_TEST

static int cancel_at_5(void *user, const char *stage, int64_t done, int64_t total)
{
    (void)stage, (void)total;
    if (done == 5)
        distill_context_cancel(user);
    return 0;
}

START_TEST(a_cancelled_training_changes_nothing)
{
    distill_context *ctx = test_context(NULL, 1);
    float x[64], y[64], a[2] = {0.1f, 0.2f}, s[2] = {0.3f, 0.4f}, sig[1] = {0.3f}, before[2], after[2];
    distill_diffusion_options o;
    distill_diffusion_train_options to;
    distill_diffusion *d;
    distill_dataset *ds;
    fill_random(x, 64, 5), fill_random(y, 64, 6);
    ck_assert_status(distill_dataset_from_memory(ctx, 32, 2, x, 2, 2, y, 2, DISTILL_DATASET_COPY, &ds), DISTILL_OK);
    distill_diffusion_options_init(&o);
    o.obs_dim = 2, o.action_dim = 2, o.hidden = 8, o.layers = 1;
    ck_assert_status(distill_diffusion_create(ctx, &o, &d), DISTILL_OK);
    distill_diffusion_train_options_init(&to);
    to.steps = 20, to.batch = 8;
    ck_assert_status(distill_diffusion_train(d, &to, ds, NULL), DISTILL_OK);
    ck_assert_status(distill_diffusion_score(d, 1, a, s, sig, before), DISTILL_OK);
    distill_context_set_progress(ctx, cancel_at_5, ctx);
    ck_assert_status(distill_diffusion_train(d, &to, ds, NULL), DISTILL_E_CANCELLED);
    distill_context_reset_cancel(ctx);
    ck_assert_status(distill_diffusion_score(d, 1, a, s, sig, after), DISTILL_OK);
    ck_assert_mem_eq(before, after, sizeof before);
    distill_diffusion_destroy(d), distill_dataset_destroy(ds);
    distill_context_destroy(ctx);
}
END_TEST

START_TEST(avoid_demonstrations_take_every_route)
{
    distill_context *ctx = test_context(NULL, 1);
    distill_env_options eo;
    distill_rollout_options ro;
    distill_env *env;
    distill_dataset *tr;
    double ret[200], success, entropy;
    int64_t len[200];
    distill_env_options_init(&eo);
    eo.task = DISTILL_ENV_AVOID;
    ck_assert_status(distill_env_create(ctx, &eo, &env), DISTILL_OK);
    distill_rollout_options_init(&ro);
    ro.episodes = 200, ro.action_noise = 0.004;
    ck_assert_status(distill_env_demos(env, &ro, ret, len, &tr), DISTILL_OK);
    ck_assert_status(distill_env_route_stats(tr, ret, len, 200, &success, &entropy), DISTILL_OK);
    ck_assert_msg(success == 1.0 && entropy > 0.97, "success %g, route entropy %g", success, entropy);
    len[0] += 100000; /* lengths past the rows */
    ck_assert_status(distill_env_route_stats(tr, ret, len, 200, &success, &entropy), DISTILL_E_SHAPE);
    /* the single-route expert of distill_env_expert: one route per side */
    distill_dataset_destroy(tr);
    ck_assert_status(distill_env_rollout(env, &ro, distill_env_expert, env, ret, len, &tr), DISTILL_OK);
    ck_assert_status(distill_env_route_stats(tr, ret, len, 200, &success, &entropy), DISTILL_OK);
    ck_assert_msg(success == 1.0 && entropy > 0.4 && entropy <= 0.5 + 1e-12, "success %g, route entropy %g",
                  success, entropy);
    distill_dataset_destroy(tr), distill_env_destroy(env);
    distill_context_destroy(ctx);
}
END_TEST

/* ---- state_noise: the experts learn the teacher off the demonstrations ---- */

/* A teacher whose actions follow the state: N(a; (s, s), 0.1^2 I). */
static int follow_score(void *user, int64_t n, const float *a, const float *s, const float *sigma, float *out)
{
    int64_t i, j;
    (void)user;
    for (i = 0; i < n; i++)
        for (j = 0; j < 2; j++)
            out[2 * i + j] = -(a[2 * i + j] - s[i]) / (0.01f + sigma[i] * sigma[i]);
    return 0;
}

/* One expert trained on demonstrations at s = 0 only, in a fresh context of
 * one seed; its mean at s = 0.5 (both coordinates averaged), or the create
 * status when not OK (whose message must name state_noise). */
static distill_status follow_train(const distill_vdd_options *o, double *mean)
{
    distill_context *ctx = test_context(NULL, 1);
    float x[16] = {0}, y[32] = {0}, obs[1] = {0.5f}, act[2];
    distill_score_vtable vt = {sizeof vt, NULL, follow_score, NULL};
    distill_dataset *data;
    distill_diffusion *teacher;
    distill_policy *p;
    distill_vdd *v;
    distill_status st;
    size_t bytes;
    uint64_t rng = 0;
    void *ws;
    ck_assert_status(distill_dataset_from_memory(ctx, 16, 1, x, 1, 2, y, 2, DISTILL_DATASET_COPY, &data),
                     DISTILL_OK);
    ck_assert_status(distill_diffusion_from_score(ctx, &vt, 1, 2, &teacher), DISTILL_OK);
    if ((st = distill_vdd_create(ctx, o, teacher, data, &v)) == DISTILL_OK) {
        ck_assert_status(distill_vdd_run(v, 0), DISTILL_OK);
        ck_assert_status(distill_vdd_policy(v, DISTILL_POLICY_GREEDY, 0, &p), DISTILL_OK);
        ck_assert_status(distill_policy_workspace_size(p, 1, &bytes), DISTILL_OK);
        ws = malloc(bytes);
        ck_assert_status(distill_policy_act(p, ws, bytes, 1, obs, 1, act, 2, &rng), DISTILL_OK);
        *mean = 0.5 * ((double)act[0] + (double)act[1]);
        free(ws), distill_policy_destroy(p), distill_vdd_destroy(v);
    } else
        ck_assert_ptr_nonnull(strstr(distill_context_last_error(ctx), "state_noise"));
    distill_diffusion_destroy(teacher), distill_dataset_destroy(data), distill_context_destroy(ctx);
    return st;
}

START_TEST(state_noise_teaches_the_experts_off_the_demonstrations)
{
    distill_vdd_options o, old;
    double clean = 0.0, jittered = 0.0, again = 0.0, legacy = 0.0;
    static const double bad[] = {-0.1, NAN, INFINITY};
    int i;
    distill_vdd_options_init(&o);
    o.experts = 1, o.learn_gating = 0, o.full_cov = 0, o.batch = 32, o.samples = 4, o.iterations = 400;
    o.lr = 1e-2, o.sigma_min = 0.01, o.sigma_max = 0.02, o.init_std = 0.2, o.mean_bias_bound = 0.0;
    ck_assert_status(follow_train(&o, &clean), DISTILL_OK);
    o.state_noise = 0.5;
    ck_assert_status(follow_train(&o, &jittered), DISTILL_OK);
    ck_assert_status(follow_train(&o, &again), DISTILL_OK);
    /* Seen only at s = 0, the expert does not know that its action follows
     * the state; with the states jittered it has seen the teacher there. */
    ck_assert_msg(fabs(clean - 0.5) > 0.3, "no jitter: mean %g at s = 0.5", clean);
    ck_assert_msg(fabs(jittered - 0.5) < 0.1, "jitter 0.5: mean %g at s = 0.5", jittered);
    ck_assert(jittered == again); /* the jitter comes from the solver's stream */
    /* A caller of 0.2 passes the struct without state_noise: no jitter. */
    old = o, old.struct_size = (uint32_t)offsetof(distill_vdd_options, state_noise);
    ck_assert_status(follow_train(&old, &legacy), DISTILL_OK);
    ck_assert(legacy == clean);
    for (i = 0; i < 3; i++) {
        o.state_noise = bad[i];
        ck_assert_status(follow_train(&o, &legacy), DISTILL_E_INVAL);
    }
}
END_TEST

/* ---- mean_init BRANCH: the experts start on the branches ---- */

/* `rows` demonstrations (a multiple of 4) branching at s = 0, actions
 * (+-1, 0) and (+-1.2, 0) (the mean of a branch +-1.1), and unimodal at s
 * in [4, 6], actions near (0.3, 0); a third y column of 100 that is not the
 * action; row `nan_row` (-1: none) has a NaN action.  The ring's teacher
 * (not called: no iteration runs).  The K means at create, through the
 * policy, or the create status when not OK. */
static distill_status branch_means(const distill_vdd_options *o, int64_t rows, int64_t y_dim, int64_t nan_row,
                                   float *means)
{
    distill_context *ctx = test_context(NULL, 1);
    float *x = malloc(sizeof(float) * (size_t)rows), *y = malloc(sizeof(float) * 3 * (size_t)rows);
    distill_score_vtable vt = {sizeof vt, NULL, ring_score, NULL};
    distill_dataset *data;
    distill_diffusion *teacher;
    distill_vdd *v;
    distill_status st;
    int64_t i;
    for (i = 0; i < rows; i++) {
        const int branch = i % 2 == 0; /* the two kinds interleaved, as episodes would be */
        const float size = i % 8 < 4 ? 1.0f : 1.2f;
        x[i] = branch ? 0.0f : 4.0f + 2.0f * (float)i / (float)rows;
        y[3 * i] = branch ? (i % 4 == 0 ? size : -size) : 0.3f + 0.05f * (float)sin((double)i);
        y[3 * i + 1] = i == nan_row ? NAN : 0.0f, y[3 * i + 2] = 100.0f;
    }
    ck_assert_status(distill_dataset_from_memory(ctx, rows, 1, x, 1, y_dim, y, 3, DISTILL_DATASET_COPY, &data),
                     DISTILL_OK);
    ck_assert_status(distill_diffusion_from_score(ctx, &vt, 1, 2, &teacher), DISTILL_OK);
    if ((st = distill_vdd_create(ctx, o, teacher, data, &v)) == DISTILL_OK) {
        means_of(v, means);
        distill_vdd_destroy(v);
    } else
        ck_assert_ptr_nonnull(strstr(distill_context_last_error(ctx), "mean_init"));
    distill_diffusion_destroy(teacher), distill_dataset_destroy(data), distill_context_destroy(ctx);
    free(x), free(y);
    return st;
}

/* Two means on the two branches' averages (within tol of 1.1: the rows
 * drawn from a larger set hold the two sizes in other proportions),
 * whatever the order. */
static void assert_on_both_branches(const float m[4], float tol)
{
    ck_assert_msg(fabsf(fabsf(m[0]) - 1.1f) < tol && fabsf(fabsf(m[2]) - 1.1f) < tol && m[0] * m[2] < 0.0f &&
                  m[1] == 0.0f && m[3] == 0.0f, "means (%g, %g) and (%g, %g)", m[0], m[1], m[2], m[3]);
}

START_TEST(branch_init_starts_one_expert_on_each_branch)
{
    distill_vdd_options o, old;
    float branch[4], again[4], many[4], uniform[4], legacy[4];
    int k;
    distill_vdd_options_init(&o);
    o.experts = 2, o.learn_gating = 0, o.iterations = 0, o.mean_init = DISTILL_VDD_MEAN_INIT_BRANCH;
    /* k-means++ puts one seed on each branch; Lloyd moves it to the
     * branch's mean (k-means++ alone stays on a demonstrated 1 or 1.2). */
    ck_assert_status(branch_means(&o, 96, 3, -1, branch), DISTILL_OK);
    assert_on_both_branches(branch, 1e-6f);
    ck_assert_status(branch_means(&o, 96, 3, -1, again), DISTILL_OK);
    ck_assert(memcmp(branch, again, sizeof branch) == 0);
    /* More rows than are searched (2048 drawn of 4800): averages strictly
     * between the two sizes. */
    ck_assert_status(branch_means(&o, 4800, 2, -1, many), DISTILL_OK);
    assert_on_both_branches(many, 0.099f);
    /* Uniform (the default, and what a caller of the older struct gets):
     * draws in +-1, not the demonstrated actions. */
    o.mean_init = DISTILL_VDD_MEAN_INIT_UNIFORM;
    ck_assert_status(branch_means(&o, 96, 2, -1, uniform), DISTILL_OK);
    for (k = 0; k < 4; k++)
        ck_assert(fabsf(uniform[k]) < 1.0f && uniform[k] != 0.0f);
    old = o, old.mean_init = DISTILL_VDD_MEAN_INIT_BRANCH;
    old.struct_size = (uint32_t)offsetof(distill_vdd_options, mean_init);
    ck_assert_status(branch_means(&old, 96, 2, -1, legacy), DISTILL_OK);
    ck_assert(memcmp(uniform, legacy, sizeof uniform) == 0);
    /* An unknown kind, no actions to start from, a NaN action in one row
     * (however far from the branch). */
    o.mean_init = 2;
    ck_assert_status(branch_means(&o, 96, 2, -1, legacy), DISTILL_E_INVAL);
    o.mean_init = DISTILL_VDD_MEAN_INIT_BRANCH;
    ck_assert_status(branch_means(&o, 96, 1, -1, legacy), DISTILL_E_SHAPE);
    ck_assert_status(branch_means(&o, 96, 2, 95, legacy), DISTILL_E_INVAL);
}
END_TEST

Suite *distill_suite_vdd(void)
{
    Suite *s = suite_create("vdd");
    TCase *tc = tcase_create("vdd");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, expert_gradient_matches_central_differences_of_the_objective);
    tcase_add_test(tc, responsibilities_sum_to_one_and_match_a_direct_computation);
    tcase_add_test(tc, covariances_stay_positive_definite_under_extreme_parameters);
    tcase_add_test(tc, level0_ring_covers_all_eight_modes);
    tcase_add_test(tc, failing_score_is_a_backend_error_and_the_solver_resumes);
    tcase_add_test(tc, checkpoints_resume_bit_identically);
    tcase_add_test(tc, act_allocates_nothing_and_its_log_q_is_log_prob);
    tcase_add_test(tc, policy_and_teacher_files_round_trip_and_damage_is_a_format_error);
    tcase_add_test(tc, the_denoiser_learns_a_conditional_mean);
    tcase_add_test(tc, a_cancelled_training_changes_nothing);
    tcase_add_test(tc, avoid_demonstrations_take_every_route);
    tcase_add_test(tc, state_noise_teaches_the_experts_off_the_demonstrations);
    tcase_add_test(tc, branch_init_starts_one_expert_on_each_branch);
    suite_add_tcase(s, tc);
    return s;
}
