/* ABI: programs built against 0.1 keep working.  Each struct below is a
 * frozen copy of a public struct as release 0.1 shipped it (never edit
 * them; add the next release's copies beside them).  A test checks that
 * every 0.1 member still sits at its 0.1 offset, and that each reader
 * accepts a struct of its 0.1 size, placed at the end of a heap block of
 * exactly that size (so that reading past it trips the sanitizers), with
 * the members added since then at their defaults. */
#include <stddef.h>

#include "testutil.h"

typedef struct v01_allocator {
    uint32_t struct_size;
    void *user;
    void *(*alloc)(void *user, size_t size, size_t align);
    void (*free)(void *user, void *ptr);
} v01_allocator;

typedef struct v01_context_options {
    uint32_t struct_size;
    uint32_t flags;
    uint64_t seed;
    int32_t threads;
    int32_t log_level;
    const v01_allocator *allocator;
    distill_log_fn log;
    void *log_user;
    distill_progress_fn progress;
    void *progress_user;
} v01_context_options;

typedef struct v01_krr_options {
    uint32_t struct_size;
    uint32_t flags;
    int32_t kernel, bias, ridge_mode, form;
    double ridge, gamma;
} v01_krr_options;

typedef struct v01_backend {
    uint32_t struct_size;
    uint32_t flags;
    void *user;
    const char *name;
    int (*count)(void *user, int64_t *n);
    int (*load_batch)(void *user, const int64_t *idx, int64_t n, float *x, int64_t ldx, float *y,
                      int64_t ldy);
    void (*release)(void *user);
} v01_backend;

typedef struct v01_layer_spec {
    uint32_t struct_size;
    int32_t kind;
    int64_t units;
    int32_t kernel, stride, padding, bias, init;
    float init_gain, momentum, eps;
} v01_layer_spec;

typedef struct v01_model_options {
    uint32_t struct_size;
    uint32_t flags;
    int64_t in_c, in_h, in_w;
    const v01_layer_spec *layers;
    int64_t n_layers;
} v01_model_options;

typedef struct v01_optimizer_options {
    uint32_t struct_size;
    uint32_t flags;
    int32_t kind, nesterov;
    double lr, momentum, weight_decay, beta1, beta2, eps, alpha, clip_norm;
    int32_t schedule, reserved;
    int64_t total_steps, warmup_steps;
    double final_lr_factor;
} v01_optimizer_options;

typedef struct v01_ssl_options {
    uint32_t struct_size;
    uint32_t flags;
    int64_t epochs, batch, projector;
    double lambda, lr, weight_decay;
    int32_t augment_crop_pad, augment_flip;
    double augment_noise;
} v01_ssl_options;

typedef struct v01_transfer_options {
    uint32_t struct_size;
    uint32_t flags;
    int64_t pretrain_steps, pretrain_batch;
    double pretrain_lr, pretrain_weight_decay;
    int64_t probe_steps;
    double probe_lr, probe_weight_decay;
    int64_t finetune_steps, finetune_batch;
    double finetune_lr, finetune_weight_decay, momentum;
    uint64_t seed;
} v01_transfer_options;

/* 0.1 named this struct distill_teacher. */
typedef struct v01_teacher {
    uint32_t struct_size;
    void *user;
    int (*embed)(void *user, int64_t n, const float *x, int64_t ldx, float *out, int64_t ldout);
    void (*release)(void *user);
} v01_teacher;

typedef struct v01_krrst_options {
    uint32_t struct_size;
    uint32_t flags;
    int64_t m, n, k, steps;
    const v01_layer_spec *features;
    int64_t n_features, pool_size, pool_period;
    int32_t pool_reference, augment_flip, augment_crop_pad, reserved;
    double pool_lr, pool_momentum, pool_weight_decay, lr, final_lr_factor, ridge;
    const distill_model *teacher;
    const v01_teacher *teacher_fn;
    const float *teacher_targets;
    int64_t teacher_ld;
} v01_krrst_options;

typedef struct v01_kd_options {
    uint32_t struct_size;
    uint32_t flags;
    int32_t mode, preset;
    double temperature, lambda, student_t, soft_scale;
    int64_t epochs, batch;
    const v01_optimizer_options *optimizer;
    uint64_t seed;
    const distill_model *teacher;
    const v01_teacher *teacher_fn;
    const float *teacher_outputs;
    int64_t teacher_ld;
} v01_kd_options;

/* Every 0.1 member at its 0.1 offset, and the struct no smaller. */
#define SAME(old, cur, member) \
    ck_assert_msg(offsetof(old, member) == offsetof(cur, member), #cur "." #member " moved")
#define NOT_SMALLER(old, cur) ck_assert_uint_ge(sizeof(cur), sizeof(old))

START_TEST(members_keep_their_01_offsets)
{
    NOT_SMALLER(v01_allocator, distill_allocator);
    SAME(v01_allocator, distill_allocator, user); SAME(v01_allocator, distill_allocator, alloc);
    SAME(v01_allocator, distill_allocator, free);
    NOT_SMALLER(v01_context_options, distill_context_options);
    SAME(v01_context_options, distill_context_options, flags);
    SAME(v01_context_options, distill_context_options, seed);
    SAME(v01_context_options, distill_context_options, threads);
    SAME(v01_context_options, distill_context_options, log_level);
    SAME(v01_context_options, distill_context_options, allocator);
    SAME(v01_context_options, distill_context_options, log);
    SAME(v01_context_options, distill_context_options, log_user);
    SAME(v01_context_options, distill_context_options, progress);
    SAME(v01_context_options, distill_context_options, progress_user);
    NOT_SMALLER(v01_krr_options, distill_krr_options);
    SAME(v01_krr_options, distill_krr_options, kernel); SAME(v01_krr_options, distill_krr_options, bias);
    SAME(v01_krr_options, distill_krr_options, ridge_mode); SAME(v01_krr_options, distill_krr_options, form);
    SAME(v01_krr_options, distill_krr_options, ridge); SAME(v01_krr_options, distill_krr_options, gamma);
    NOT_SMALLER(v01_backend, distill_backend);
    SAME(v01_backend, distill_backend, user); SAME(v01_backend, distill_backend, name);
    SAME(v01_backend, distill_backend, count); SAME(v01_backend, distill_backend, load_batch);
    SAME(v01_backend, distill_backend, release);
    NOT_SMALLER(v01_layer_spec, distill_layer_spec);
    SAME(v01_layer_spec, distill_layer_spec, kind); SAME(v01_layer_spec, distill_layer_spec, units);
    SAME(v01_layer_spec, distill_layer_spec, kernel); SAME(v01_layer_spec, distill_layer_spec, stride);
    SAME(v01_layer_spec, distill_layer_spec, padding); SAME(v01_layer_spec, distill_layer_spec, bias);
    SAME(v01_layer_spec, distill_layer_spec, init); SAME(v01_layer_spec, distill_layer_spec, init_gain);
    SAME(v01_layer_spec, distill_layer_spec, momentum); SAME(v01_layer_spec, distill_layer_spec, eps);
    NOT_SMALLER(v01_model_options, distill_model_options);
    SAME(v01_model_options, distill_model_options, in_c); SAME(v01_model_options, distill_model_options, in_w);
    SAME(v01_model_options, distill_model_options, layers);
    SAME(v01_model_options, distill_model_options, n_layers);
    NOT_SMALLER(v01_optimizer_options, distill_optimizer_options);
    SAME(v01_optimizer_options, distill_optimizer_options, kind);
    SAME(v01_optimizer_options, distill_optimizer_options, lr);
    SAME(v01_optimizer_options, distill_optimizer_options, eps);
    SAME(v01_optimizer_options, distill_optimizer_options, clip_norm);
    SAME(v01_optimizer_options, distill_optimizer_options, schedule);
    SAME(v01_optimizer_options, distill_optimizer_options, total_steps);
    SAME(v01_optimizer_options, distill_optimizer_options, final_lr_factor);
    NOT_SMALLER(v01_ssl_options, distill_ssl_options);
    SAME(v01_ssl_options, distill_ssl_options, epochs); SAME(v01_ssl_options, distill_ssl_options, lambda);
    SAME(v01_ssl_options, distill_ssl_options, augment_crop_pad);
    SAME(v01_ssl_options, distill_ssl_options, augment_noise);
    NOT_SMALLER(v01_transfer_options, distill_transfer_options);
    SAME(v01_transfer_options, distill_transfer_options, pretrain_steps);
    SAME(v01_transfer_options, distill_transfer_options, probe_lr);
    SAME(v01_transfer_options, distill_transfer_options, finetune_batch);
    SAME(v01_transfer_options, distill_transfer_options, momentum);
    SAME(v01_transfer_options, distill_transfer_options, seed);
    NOT_SMALLER(v01_teacher, distill_teacher_vtable);
    SAME(v01_teacher, distill_teacher_vtable, user); SAME(v01_teacher, distill_teacher_vtable, embed);
    SAME(v01_teacher, distill_teacher_vtable, release);
    NOT_SMALLER(v01_krrst_options, distill_krrst_options);
    SAME(v01_krrst_options, distill_krrst_options, m); SAME(v01_krrst_options, distill_krrst_options, steps);
    SAME(v01_krrst_options, distill_krrst_options, features);
    SAME(v01_krrst_options, distill_krrst_options, pool_reference);
    SAME(v01_krrst_options, distill_krrst_options, reserved);
    SAME(v01_krrst_options, distill_krrst_options, ridge);
    SAME(v01_krrst_options, distill_krrst_options, teacher);
    SAME(v01_krrst_options, distill_krrst_options, teacher_fn);
    SAME(v01_krrst_options, distill_krrst_options, teacher_targets);
    SAME(v01_krrst_options, distill_krrst_options, teacher_ld);
    NOT_SMALLER(v01_kd_options, distill_kd_options);
    SAME(v01_kd_options, distill_kd_options, mode); SAME(v01_kd_options, distill_kd_options, temperature);
    SAME(v01_kd_options, distill_kd_options, soft_scale); SAME(v01_kd_options, distill_kd_options, batch);
    SAME(v01_kd_options, distill_kd_options, optimizer); SAME(v01_kd_options, distill_kd_options, seed);
    SAME(v01_kd_options, distill_kd_options, teacher); SAME(v01_kd_options, distill_kd_options, teacher_fn);
    SAME(v01_kd_options, distill_kd_options, teacher_outputs);
    SAME(v01_kd_options, distill_kd_options, teacher_ld);
}
END_TEST

START_TEST(readers_accept_01_sizes)
{
    distill_context *ctx = test_context(NULL, 1);
    distill_context_options co;
    distill_context *c2;
    distill_krr_options ko;
    distill_optimizer_options oo;
    distill_optimizer *opt;
    distill_layer_spec spec;
    distill_model_options mo;
    distill_model *model;
    void *p, *ws;
    size_t ws_bytes;
    float k[4], x[4] = {1, 2, 3, 4};
    /* context options and allocator */
    distill_context_options_init(&co);
    co.seed = 77;
    p = test_struct_at_size(&co, sizeof(v01_context_options));
    ck_assert_int_eq(distill_context_create(p, &c2), DISTILL_OK);
    ck_assert_uint_eq(distill_context_seed(c2), 77);
    distill_context_destroy(c2), free(p);
    /* KRR options */
    distill_krr_options_init(&ko);
    p = test_struct_at_size(&ko, sizeof(v01_krr_options));
    ck_assert_int_eq(distill_krr_gram_workspace_size(p, 2, 2, 2, &ws_bytes), DISTILL_OK);
    ws = malloc(ws_bytes + 1);
    ck_assert_int_eq(distill_krr_gram(ctx, p, 2, 2, 2, x, 2, x, 2, k, 2, ws, ws_bytes), DISTILL_OK);
    ck_assert_float_eq(k[1], 1 * 3 + 2 * 4 + 1); /* linear kernel on [x, 1] */
    free(p), free(ws);
    /* optimiser options */
    distill_optimizer_options_init(&oo);
    p = test_struct_at_size(&oo, sizeof(v01_optimizer_options));
    ck_assert_int_eq(distill_optimizer_create(ctx, p, 4, &opt), DISTILL_OK);
    distill_optimizer_destroy(opt), free(p);
    /* a model from 0.1-size options and layer specs */
    distill_layer_spec_init(&spec, DISTILL_LAYER_DENSE);
    spec.units = 3;
    distill_model_options_init(&mo);
    mo.in_c = 4, mo.in_h = mo.in_w = 1, mo.n_layers = 1;
    mo.layers = test_struct_at_size(&spec, sizeof(v01_layer_spec));
    p = test_struct_at_size(&mo, sizeof(v01_model_options));
    ck_assert_int_eq(distill_model_create(ctx, p, &model), DISTILL_OK);
    ck_assert_int_eq(distill_model_output_dim(model), 3);
    distill_model_destroy(model), free(p), free((void *)mo.layers);
    distill_context_destroy(ctx);
}
END_TEST

static int one_count(void *user, int64_t *n) { (void)user; *n = 3; return 0; }
static int one_load(void *user, const int64_t *idx, int64_t n, float *x, int64_t ldx, float *y,
                    int64_t ldy)
{
    int64_t i;
    (void)user, (void)y, (void)ldy;
    for (i = 0; i < n; i++)
        x[i * ldx] = (float)idx[i];
    return 0;
}

START_TEST(backend_of_01_size)
{
    distill_context *ctx = test_context(NULL, 1);
    distill_backend b;
    distill_dataset *ds;
    void *p;
    memset(&b, 0, sizeof b);
    b.struct_size = sizeof b, b.count = one_count, b.load_batch = one_load, b.name = "v01";
    p = test_struct_at_size(&b, sizeof(v01_backend));
    ck_assert_int_eq(distill_dataset_from_backend(ctx, p, 1, 0, &ds), DISTILL_OK);
    ck_assert_int_eq(distill_dataset_count(ds), 3);
    distill_dataset_destroy(ds), free(p);
    distill_context_destroy(ctx);
}
END_TEST

/* The struct rules themselves: too small, larger with a member this
 * library lacks, larger with only zeros, and a garbage size. */
START_TEST(struct_sizes_outside_the_rule)
{
    distill_context *ctx = test_context(NULL, 1);
    unsigned char big[sizeof(distill_optimizer_options) + 16];
    distill_optimizer_options oo;
    distill_optimizer *opt;
    uint32_t s;
    distill_optimizer_options_init(&oo);
    memset(big, 0, sizeof big);
    memcpy(big, &oo, sizeof oo);
    s = sizeof big;
    memcpy(big, &s, sizeof s);
    ck_assert_int_eq(distill_optimizer_create(ctx, (void *)big, 4, &opt), DISTILL_OK);
    distill_optimizer_destroy(opt);
    big[sizeof oo + 3] = 1;
    ck_assert_int_eq(distill_optimizer_create(ctx, (void *)big, 4, &opt), DISTILL_E_ABI);
    ck_assert_ptr_nonnull(strstr(distill_context_last_error(ctx), "later libdistill"));
    s = sizeof(v01_optimizer_options) - 8;
    memcpy(big, &s, sizeof s);
    ck_assert_int_eq(distill_optimizer_create(ctx, (void *)big, 4, &opt), DISTILL_E_ABI);
    ck_assert_ptr_nonnull(strstr(distill_context_last_error(ctx), "below the smallest"));
    s = 0xdeadbeefu;
    memcpy(big, &s, sizeof s);
    ck_assert_int_eq(distill_optimizer_create(ctx, (void *)big, 4, &opt), DISTILL_E_ABI);
    distill_context_destroy(ctx);
}
END_TEST

Suite *distill_suite_abi(void)
{
    Suite *s = suite_create("abi");
    TCase *tc = tcase_create("0.1 layouts");
    tcase_add_test(tc, members_keep_their_01_offsets);
    tcase_add_test(tc, readers_accept_01_sizes);
    tcase_add_test(tc, backend_of_01_size);
    tcase_add_test(tc, struct_sizes_outside_the_rule);
    suite_add_tcase(s, tc);
    return s;
}
