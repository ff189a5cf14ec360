/* learning: optimisers against double-precision update rules, schedules,
 * clipping, state round trips and bad gradients. */
#include "testutil.h"

enum { N = 7, STEPS = 6 };

static distill_optimizer *make(distill_context *ctx, int kind, double lr, double mom, int nesterov,
                               double wd)
{
    distill_optimizer_options o;
    distill_optimizer *opt;
    distill_optimizer_options_init(&o);
    o.kind = kind, o.lr = lr, o.momentum = mom, o.nesterov = nesterov, o.weight_decay = wd;
    ck_assert_status(distill_optimizer_create(ctx, &o, N, &opt), DISTILL_OK);
    return opt;
}

/* gradient of 0.5 |p - c|^2 plus a fixed perturbation per step */
static void grad_at(const double *p, int t, double *g)
{
    int i;
    for (i = 0; i < N; i++)
        g[i] = p[i] - 0.1 * i + 0.05 * ((t * 7 + i) % 5 - 2);
}

START_TEST(updates_match_reference_rules)
{
    const int kind = _i % 4, variant = _i / 4; /* variant: momentum/nesterov or wd on/off */
    const double lr = 0.05, mom = kind == DISTILL_OPTIM_SGD ? 0.9 : 0, wd = variant ? 0.01 : 0;
    const int nesterov = kind == DISTILL_OPTIM_SGD && variant;
    distill_context *ctx = test_context(NULL, 1);
    distill_optimizer *opt = make(ctx, kind, lr, mom, nesterov, wd);
    double p[N], m[N] = {0}, v[N] = {0}, g[N];
    float pf[N], gf[N];
    int t, i;
    for (i = 0; i < N; i++)
        p[i] = pf[i] = (float)(0.5 - 0.2 * i);
    for (t = 0; t < STEPS; t++) {
        for (i = 0; i < N; i++)
            p[i] = pf[i]; /* follow the float trajectory, compare one step at a time */
        grad_at(p, t, g);
        for (i = 0; i < N; i++)
            gf[i] = (float)g[i];
        ck_assert_status(distill_optimizer_step(opt, pf, gf), DISTILL_OK);
        for (i = 0; i < N; i++) {
            double d = g[i];
            if (kind == DISTILL_OPTIM_SGD) {
                d += wd * p[i];
                m[i] = t == 0 ? d : mom * m[i] + d;
                p[i] -= lr * (nesterov ? d + mom * m[i] : m[i]);
            } else if (kind == DISTILL_OPTIM_RMSPROP) {
                d += wd * p[i];
                v[i] = 0.99 * v[i] + 0.01 * d * d;
                p[i] -= lr * d / (sqrt(v[i]) + 1e-8);
            } else {
                if (kind == DISTILL_OPTIM_ADAMW)
                    p[i] -= lr * wd * p[i];
                else
                    d += wd * p[i];
                m[i] = 0.9 * m[i] + 0.1 * d;
                v[i] = 0.999 * v[i] + 0.001 * d * d;
                p[i] -= lr * (m[i] / (1 - pow(0.9, t + 1))) / (sqrt(v[i] / (1 - pow(0.999, t + 1))) + 1e-8);
            }
            ck_assert_msg(fabs(pf[i] - p[i]) < 1e-5, "kind %d variant %d step %d: %g vs %g", kind, variant, t,
                          pf[i], p[i]);
        }
    }
    ck_assert_int_eq(distill_optimizer_steps(opt), STEPS);
    distill_optimizer_destroy(opt);
    distill_context_destroy(ctx);
}
END_TEST

/* Keras' RMSprop divides by sqrt(v + eps): with a large eps the two forms
 * part visibly, and an unknown flag is refused. */
START_TEST(rmsprop_eps_inside_sqrt)
{
    distill_context *ctx = test_context(NULL, 1);
    distill_optimizer_options o;
    distill_optimizer *opt;
    double p[N], v[N] = {0}, g[N];
    float pf[N], gf[N];
    int t, i;
    distill_optimizer_options_init(&o);
    o.kind = DISTILL_OPTIM_RMSPROP, o.lr = 0.01, o.alpha = 0.9, o.eps = 0.1;
    o.flags = 1u << 7;
    ck_assert_status(distill_optimizer_create(ctx, &o, N, &opt), DISTILL_E_INVAL);
    o.flags = DISTILL_OPTIM_EPS_IN_SQRT;
    ck_assert_status(distill_optimizer_create(ctx, &o, N, &opt), DISTILL_OK);
    for (i = 0; i < N; i++)
        p[i] = pf[i] = (float)(0.5 - 0.2 * i);
    for (t = 0; t < STEPS; t++) {
        grad_at(p, t, g);
        for (i = 0; i < N; i++)
            gf[i] = (float)g[i];
        ck_assert_status(distill_optimizer_step(opt, pf, gf), DISTILL_OK);
        for (i = 0; i < N; i++) {
            v[i] = 0.9 * v[i] + 0.1 * g[i] * g[i];
            p[i] -= 0.01 * g[i] / sqrt(v[i] + 0.1);
            ck_assert_msg(fabs(pf[i] - p[i]) < 1e-6, "step %d: %g vs %g", t, pf[i], p[i]);
            p[i] = pf[i];
        }
    }
    distill_optimizer_destroy(opt);
    distill_context_destroy(ctx);
}
END_TEST

START_TEST(schedules)
{
    distill_optimizer_options o;
    distill_optimizer_options_init(&o);
    o.lr = 1.0, o.total_steps = 100, o.final_lr_factor = 0.001;
    ck_assert_double_eq_tol(distill_schedule_lr(&o, 57), 1.0, 1e-12);
    o.schedule = DISTILL_SCHEDULE_LINEAR;
    ck_assert_double_eq_tol(distill_schedule_lr(&o, 0), 1.0, 1e-12);
    ck_assert_double_eq_tol(distill_schedule_lr(&o, 50), 1.0 - 0.5 * 0.999, 1e-12);
    ck_assert_double_eq_tol(distill_schedule_lr(&o, 100), 0.001, 1e-12);
    ck_assert_double_eq_tol(distill_schedule_lr(&o, 1000), 0.001, 1e-12);
    o.schedule = DISTILL_SCHEDULE_COSINE, o.warmup_steps = 10, o.final_lr_factor = 0;
    ck_assert_double_eq_tol(distill_schedule_lr(&o, 0), 0.1, 1e-12);
    ck_assert_double_eq_tol(distill_schedule_lr(&o, 9), 1.0, 1e-12);
    ck_assert_double_eq_tol(distill_schedule_lr(&o, 10), 1.0, 1e-12);
    ck_assert_double_eq_tol(distill_schedule_lr(&o, 60), 0.5, 1e-12);
    ck_assert_double_eq_tol(distill_schedule_lr(&o, 110), 0.0, 1e-12);
}
END_TEST

START_TEST(clipping_state_and_bad_gradients)
{
    distill_context *ctx = test_context(NULL, 1);
    distill_optimizer_options o;
    distill_optimizer *a, *b;
    float p[N], q[N], g[N], g2[N], state[2 * N];
    double norm;
    int64_t steps;
    int i;
    fill_random(g, N, 3);
    for (i = 0; i < N; i++)
        g[i] *= 10, p[i] = q[i] = 0.5f;
    memcpy(g2, g, sizeof g);
    ck_assert_status(distill_clip_grad_norm(ctx, N, g2, 1.0, &norm), DISTILL_OK);
    ck_assert_double_gt(norm, 1.0);
    for (i = 0, norm = 0; i < N; i++)
        norm += (double)g2[i] * g2[i];
    ck_assert_double_eq_tol(sqrt(norm), 1.0, 1e-6);
    /* clip_norm in the options equals clipping first */
    distill_optimizer_options_init(&o);
    o.kind = DISTILL_OPTIM_SGD, o.lr = 0.1, o.clip_norm = 1.0;
    ck_assert_status(distill_optimizer_create(ctx, &o, N, &a), DISTILL_OK);
    ck_assert_status(distill_optimizer_step(a, p, g), DISTILL_OK);
    for (i = 0; i < N; i++)
        ck_assert_float_eq_tol(p[i], q[i] - 0.1f * g2[i], 1e-6f);
    distill_optimizer_destroy(a);
    /* state round trip: b continues exactly where a stopped */
    a = make(ctx, DISTILL_OPTIM_ADAMW, 0.01, 0, 0, 0.1);
    b = make(ctx, DISTILL_OPTIM_ADAMW, 0.01, 0, 0, 0.1);
    ck_assert_status(distill_optimizer_step(a, p, g), DISTILL_OK);
    ck_assert_status(distill_optimizer_step(a, p, g), DISTILL_OK);
    ck_assert_int_eq(distill_optimizer_state_count(a), 2 * N);
    ck_assert_status(distill_optimizer_get_state(a, state, 2 * N, &steps), DISTILL_OK);
    ck_assert_status(distill_optimizer_set_state(b, state, 2 * N, steps), DISTILL_OK);
    memcpy(q, p, sizeof p);
    ck_assert_status(distill_optimizer_step(a, p, g), DISTILL_OK);
    ck_assert_status(distill_optimizer_step(b, q, g), DISTILL_OK);
    ck_assert_mem_eq(p, q, sizeof p);
    ck_assert_fails(ctx, distill_optimizer_set_state(b, state, 3, steps), DISTILL_E_SHAPE, "state values");
    /* a NaN gradient: clear error, parameters untouched */
    g[4] = NAN;
    memcpy(q, p, sizeof p);
    ck_assert_fails(ctx, distill_optimizer_step(a, p, g), DISTILL_E_NUMERIC, "grads[0, 4] is NaN");
    ck_assert_mem_eq(p, q, sizeof p);
    distill_optimizer_destroy(a);
    distill_optimizer_destroy(b);
    distill_optimizer_options_init(&o);
    o.lr = -1;
    ck_assert_fails(ctx, distill_optimizer_create(ctx, &o, N, &a), DISTILL_E_INVAL, "lr");
    o.lr = 0.1, o.schedule = DISTILL_SCHEDULE_COSINE;
    ck_assert_fails(ctx, distill_optimizer_create(ctx, &o, N, &a), DISTILL_E_INVAL, "total_steps");
    distill_context_destroy(ctx);
}
END_TEST

Suite *distill_suite_optim(void)
{
    Suite *s = suite_create("learning-optim");
    TCase *tc = tcase_create("optim");
    tcase_add_loop_test(tc, updates_match_reference_rules, 0, 8);
    tcase_add_test(tc, rmsprop_eps_inside_sqrt);
    tcase_add_test(tc, schedules);
    tcase_add_test(tc, clipping_state_and_bad_gradients);
    suite_add_tcase(s, tc);
    return s;
}
