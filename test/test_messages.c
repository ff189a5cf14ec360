/* The message audit: every public call that can reach a context, given a bad
 * argument, fails with its own message.  Before each call an unrelated
 * failure plants a stale message; the call must then leave a status equal to
 * what it returned and a message that is neither empty nor the stale one.
 *
 * Every exported function is named here, in an AUDIT line or in the exempt
 * table with its reason; scripts/check-message-audit.sh compares these names
 * with the library's exports, so a new function cannot skip the audit. */
#include <math.h>
#include <stdio.h>

#include "testutil.h"

#define N 24
#define SIDE 4
#define DIM (SIDE * SIDE)
#define K 3

/* Functions that cannot set a context's message, and why. */
static const char *const exempt[] = {
    /* no context exists yet, or none is reachable (values, sizes, strings) */
    "distill_allocator_size", "distill_backend_size", "distill_context_options_init",
    "distill_context_options_size", "distill_context_create", "distill_context_max_threads",
    "distill_kd_options_init", "distill_kd_options_size", "distill_kd_options_weights",
    "distill_krr_options_init", "distill_krr_options_size", "distill_krrst_options_init",
    "distill_krrst_options_size", "distill_layer_spec_init", "distill_layer_spec_size",
    "distill_model_options_init", "distill_model_options_size", "distill_optimizer_options_init",
    "distill_optimizer_options_size", "distill_ssl_options_init", "distill_ssl_options_size",
    "distill_teacher_vtable_size", "distill_transfer_options_init", "distill_transfer_options_size",
    "distill_status_string", "distill_version_number", "distill_version_string",
    "distill_convnet_layers", "distill_schedule_lr", "distill_krr_coef_rows",
    "distill_space_size", "distill_env_options_init", "distill_env_options_size",
    "distill_env_vtable_size", "distill_rollout_options_init", "distill_rollout_options_size",
    "distill_bc_options_init", "distill_bc_options_size", "distill_env_expert" /* a callback: non-zero */, "distill_orl_options_init",
    "distill_orl_options_size",
    /* workspace queries: pure size arithmetic, callable from inference threads */
    "distill_cholesky_workspace_size", "distill_krr_gram_workspace_size",
    "distill_krr_fit_workspace_size", "distill_krr_predict_workspace_size",
    "distill_krrst_loss_grad_workspace_size", "distill_kd_loss_grad_workspace_size",
    "distill_barlow_twins_workspace_size", "distill_model_workspace_size",
    /* the real-time path: no writes to the shared context (model.h, policy.h) */
    "distill_model_infer", "distill_model_infer_checked", "distill_policy_act",
    "distill_policy_workspace_size",
    /* the error slot itself, and calls that cannot fail (void or a value) */
    "distill_context_last_error", "distill_context_last_status", "distill_context_clear_error",
    "distill_context_destroy", "distill_context_threads", "distill_context_set_seed",
    "distill_context_seed", "distill_context_set_log", "distill_context_set_progress",
    "distill_context_cancel", "distill_context_reset_cancel", "distill_context_cancelled",
    "distill_context_blis_arch", "distill_context_max_jitter", "distill_context_reset_jitter",
    "distill_random_bits", "distill_dataset_destroy", "distill_dataset_count",
    "distill_dataset_x_dim", "distill_dataset_y_dim", "distill_dataset_shape",
    "distill_dataset_batches", "distill_kd_destroy", "distill_kd_steps_done",
    "distill_kd_recent_loss", "distill_kd_teacher_outputs", "distill_kd_soft_targets",
    "distill_kd_shape", "distill_krrst_destroy", "distill_krrst_steps_done",
    "distill_krrst_recent_loss", "distill_krrst_images", "distill_krrst_targets",
    "distill_krrst_shape", "distill_krrst_initial_indices", "distill_model_destroy",
    "distill_model_input_dim", "distill_model_output_dim", "distill_model_n_layers",
    "distill_model_params", "distill_model_grads", "distill_model_buffers",
    "distill_model_param_count", "distill_model_buffer_count", "distill_model_zero_grad",
    "distill_model_reinit", "distill_optimizer_destroy", "distill_optimizer_lr",
    "distill_optimizer_steps", "distill_optimizer_set_lr", "distill_optimizer_reset",
    "distill_optimizer_state_count", "distill_teacher_destroy", "distill_teacher_output_dim",
    "distill_teacher_input_dim", "distill_teacher_rows", "distill_env_destroy", "distill_env_obs_dim",
    "distill_env_action_dim", "distill_env_max_steps", "distill_policy_destroy", "distill_policy_kind",
    "distill_policy_obs_dim", "distill_policy_action_dim", "distill_orl_destroy", "distill_orl_steps_done",
    "distill_orl_states", "distill_orl_actions", "distill_orl_shape", "distill_orl_network",
    /* VDD and the diffusion teacher (0.2): sizes and defaults, getters, and
     * the real-time paths of policy.h and diffusion.h */
    "distill_diffusion_options_init", "distill_diffusion_options_size", "distill_diffusion_train_options_init",
    "distill_diffusion_train_options_size", "distill_score_vtable_size", "distill_diffusion_max_action",
    "distill_diffusion_destroy", "distill_diffusion_obs_dim", "distill_diffusion_action_dim",
    "distill_diffusion_sigma_data", "distill_diffusion_workspace_size", "distill_diffusion_sample",
    "distill_vdd_options_init", "distill_vdd_options_size", "distill_vdd_destroy", "distill_vdd_steps_done",
    "distill_policy_act_ex", "distill_policy_log_prob", "distill_policy_n_experts", "distill_policy_mode",
    "distill_env_route",
    /* modulating masks (0.2): sizes and defaults, getters, the real-time inference */
    "distill_masknet_options_init", "distill_masknet_options_size", "distill_masknet_destroy",
    "distill_masknet_options_get", "distill_masknet_input_dim", "distill_masknet_output_dim",
    "distill_masknet_n_layers", "distill_masknet_layer_shape", "distill_masknet_mask_count",
    "distill_masknet_backbone_hash", "distill_masknet_tasks", "distill_masknet_training_task",
    "distill_masknet_task_learned", "distill_masknet_params", "distill_masknet_grads",
    "distill_masknet_param_count", "distill_masknet_workspace_size", "distill_masknet_infer",
    "distill_mask_meta_init", "distill_mask_meta_size", "distill_share_options_init", "distill_share_options_size",
    "distill_share_stats_size", "distill_share_destroy", "distill_share_peers", "distill_share_reward",
    "distill_share_bus_destroy", "distill_share_bus_counts",
    "distill_share_bus_send" /* a callback: non-zero */, "distill_network_vtable_size", "distill_ppo_options_init",
    "distill_ppo_options_size", "distill_ppo_stats_size", "distill_ppo_destroy", "distill_ppo_iterations",
    /* fail only on NULL (no context to write to), or a bus at 4096 agents; the
     * ticks pass on their agents' own failures */
    "distill_share_tick", "distill_share_bus_tick", "distill_share_bus_attach",
    "distill_lifelong_options_init", "distill_lifelong_options_size", "distill_lifelong_destroy",
    "distill_lifelong_position", "distill_lifelong_iterations",
};

typedef struct fixture {
    counting_alloc ca;
    distill_context *ctx;
    distill_dataset *images, *labelled;
    distill_model *model, *other, *student;
    distill_teacher *teacher;
    distill_optimizer *opt;
    distill_krrst *krrst;
    distill_kd *kd;
    distill_layer_spec feat[4];
    char stale[512];
    int failures;
    char report[8192];
} fixture;

static distill_model *dense(fixture *f, int64_t in, int64_t units)
{
    distill_layer_spec l;
    distill_model_options mo;
    distill_model *m = NULL;
    distill_layer_spec_init(&l, DISTILL_LAYER_DENSE);
    l.units = units;
    distill_model_options_init(&mo);
    mo.in_c = in, mo.in_h = mo.in_w = 1, mo.layers = &l, mo.n_layers = 1;
    ck_assert_status(distill_model_create(f->ctx, &mo, &m), DISTILL_OK);
    return m;
}

static void make_krrst(fixture *f)
{
    distill_krrst_options o;
    distill_krrst_options_init(&o);
    distill_layer_spec_init(&f->feat[0], DISTILL_LAYER_CONV2D);
    f->feat[0].units = 2, f->feat[0].kernel = 3, f->feat[0].padding = 1;
    distill_layer_spec_init(&f->feat[1], DISTILL_LAYER_RELU);
    distill_layer_spec_init(&f->feat[2], DISTILL_LAYER_AVGPOOL);
    f->feat[2].kernel = 2;
    distill_layer_spec_init(&f->feat[3], DISTILL_LAYER_FLATTEN);
    o.features = f->feat, o.n_features = 4, o.teacher_handle = f->teacher;
    o.m = 3, o.n = 6, o.steps = 4, o.pool_size = 1, o.pool_period = 2, o.ridge = 1e-3;
    ck_assert_status(distill_krrst_create(f->ctx, &o, f->images, &f->krrst), DISTILL_OK);
}

static void fixture_init(fixture *f)
{
    float x[N * DIM], y[N];
    distill_kd_options ko;
    distill_optimizer_options oo;
    int i;
    memset(f, 0, sizeof *f);
    f->ctx = test_context(&f->ca, 1);
    fill_random(x, N * DIM, 11);
    for (i = 0; i < N; i++)
        y[i] = (float)(i % K);
    ck_assert_status(distill_dataset_from_memory(f->ctx, N, DIM, x, DIM, 0, NULL, 0, DISTILL_DATASET_COPY,
                                                 &f->images), DISTILL_OK);
    ck_assert_status(distill_dataset_set_shape(f->images, 1, SIDE, SIDE), DISTILL_OK);
    ck_assert_status(distill_dataset_from_memory(f->ctx, N, DIM, x, DIM, 1, y, 1, DISTILL_DATASET_COPY,
                                                 &f->labelled), DISTILL_OK);
    f->model = dense(f, DIM, K);
    f->other = dense(f, DIM + 1, K);
    ck_assert_status(distill_teacher_from_model(f->ctx, f->model, &f->teacher), DISTILL_OK);
    distill_optimizer_options_init(&oo);
    ck_assert_status(distill_optimizer_create(f->ctx, &oo, 8, &f->opt), DISTILL_OK);
    make_krrst(f);
    distill_kd_options_init(&ko);
    ko.mode = DISTILL_KD_CLASSIC, ko.teacher_handle = f->teacher, ko.epochs = 1, ko.batch = 8;
    f->student = dense(f, DIM, K);
    ck_assert_status(distill_kd_create(f->ctx, &ko, f->student, f->labelled, NULL, &f->kd),
                     DISTILL_OK);
}

/* Plant a stale message through an unrelated failure (a second planter for
 * the first planter's own audit). */
static void plant(fixture *f, const char *name)
{
    float out[2];
    distill_status st;
    if (strcmp(name, "distill_context_set_threads") != 0)
        st = distill_context_set_threads(f->ctx, -7);
    else
        st = distill_random_uniform(f->ctx, 0, 0, -3, 0.f, 1.f, out);
    ck_assert_int_ne(st, DISTILL_OK);
    snprintf(f->stale, sizeof f->stale, "%s", distill_context_last_error(f->ctx));
    ck_assert_msg(f->stale[0] != '\0', "the planter left no message");
}

static int is_exempt(const char *name)
{
    size_t i;
    for (i = 0; i < sizeof exempt / sizeof exempt[0]; i++)
        if (strcmp(exempt[i], name) == 0)
            return 1;
    return 0;
}

static void audit_check(fixture *f, const char *name, distill_status st)
{
    const char *msg = distill_context_last_error(f->ctx);
    const char *why = NULL;
    size_t used = strlen(f->report);
    if (is_exempt(name))
        why = "is audited but listed as exempt";
    else if (st == DISTILL_OK)
        why = "succeeded";
    else if (distill_context_last_status(f->ctx) != st)
        why = "left another status";
    else if (msg[0] == '\0')
        why = "left no message";
    else if (strcmp(msg, f->stale) == 0)
        why = "left the stale message";
    if (!why)
        return;
    f->failures++;
    snprintf(f->report + used, sizeof f->report - used, "\n  %s %s (%s; message '%s')", name, why,
             distill_status_string(st), msg);
}

#define AUDIT(name, call)                    \
    do {                                     \
        plant(f, #name);                     \
        audit_check(f, #name, (call));       \
    } while (0)

static void audit_core_data(fixture *f)
{
    float buf[4 * DIM], ybuf[4];
    int64_t idx[2] = {0, 999}, got = 0;
    int32_t bad_class = 99;
    distill_backend be;
    memset(&be, 0, sizeof be);
    be.struct_size = sizeof be;
    AUDIT(distill_context_set_threads, distill_context_set_threads(f->ctx, -1));
    AUDIT(distill_context_set_jitter_limit, distill_context_set_jitter_limit(f->ctx, NAN));
    AUDIT(distill_random_uniform, distill_random_uniform(f->ctx, 0, 0, 4, 0.f, 1.f, NULL));
    AUDIT(distill_random_normal, distill_random_normal(f->ctx, 0, 0, -1, 0.f, 1.f, buf));
    AUDIT(distill_dataset_from_memory,
          distill_dataset_from_memory(f->ctx, -1, DIM, buf, DIM, 0, NULL, 0, DISTILL_DATASET_COPY, NULL));
    AUDIT(distill_dataset_from_idx, distill_dataset_from_idx(f->ctx, "/nonexistent/i", "/nonexistent/l",
                                                             &(distill_dataset *){0}));
    AUDIT(distill_dataset_from_csv, distill_dataset_from_csv(f->ctx, "/nonexistent/c.csv", 0, 0,
                                                             &(distill_dataset *){0}));
    AUDIT(distill_dataset_from_backend,
          distill_dataset_from_backend(f->ctx, &be, DIM, 1, &(distill_dataset *){0}));
    AUDIT(distill_dataset_subset, distill_dataset_subset(f->images, idx, 2, &(distill_dataset *){0}));
    AUDIT(distill_dataset_subset_classes,
          distill_dataset_subset_classes(f->labelled, &bad_class, 1, &(distill_dataset *){0}));
    AUDIT(distill_dataset_set_shape, distill_dataset_set_shape(f->images, 3, 3, 3));
    AUDIT(distill_dataset_get, distill_dataset_get(f->images, idx, 2, buf, DIM, NULL, 0));
    AUDIT(distill_dataset_get_range, distill_dataset_get_range(f->images, -1, 2, buf, DIM, NULL, 0));
    AUDIT(distill_dataset_batch,
          distill_dataset_batch(f->labelled, 0, 0, 0, buf, DIM, ybuf, 1, NULL, &got));
    AUDIT(distill_augment_crop, distill_augment_crop(f->ctx, 0, 0, -1, 1, SIDE, SIDE, 1, buf));
    AUDIT(distill_augment_flip, distill_augment_flip(f->ctx, 0, 0, 1, 1, SIDE, SIDE, 2.f, buf));
    AUDIT(distill_augment_noise, distill_augment_noise(f->ctx, 0, 0, 1, DIM, 1.f, NULL));
    AUDIT(distill_augment_normalize, distill_augment_normalize(f->ctx, 1, 1, SIDE, SIDE, NULL, NULL, buf));
    AUDIT(distill_image_block_mean, distill_image_block_mean(f->ctx, 1, 1, SIDE, SIDE, 0, buf, buf));
    AUDIT(distill_dataset_save, distill_dataset_save(f->images, "/tmp/never-written.dstl"));
    AUDIT(distill_dataset_save_npy, distill_dataset_save_npy(f->images, "/tmp/never-written.npy", NULL));
    AUDIT(distill_npy_save, distill_npy_save(f->ctx, "/nonexistent/x.npy", 1, 1, buf, 1));
    AUDIT(distill_png_save_grid, distill_png_save_grid(f->ctx, "/tmp/x.png", -1, 1, SIDE, SIDE, buf, 1));
}

static void audit_kernels(fixture *f)
{
    float a[16] = {0}, b[16] = {0}, c[16] = {0}, loss = 0.f;
    int32_t labels[2] = {0, 7};
    unsigned char ws[64];
    distill_krr_options ko;
    distill_krr_options_init(&ko);
    AUDIT(distill_sgemm, distill_sgemm(f->ctx, 0, 0, -1, 2, 2, 1.f, a, 2, b, 2, 0.f, c, 2));
    AUDIT(distill_cholesky, distill_cholesky(f->ctx, -1, a, 4, ws, sizeof ws));
    AUDIT(distill_trsm_lower, distill_trsm_lower(f->ctx, 0, -1, 1, a, 4, b, 1));
    AUDIT(distill_cholesky_solve, distill_cholesky_solve(f->ctx, 2, 1, NULL, 2, b, 1));
    AUDIT(distill_krr_gram, distill_krr_gram(f->ctx, &ko, -1, 2, 2, a, 2, b, 2, c, 2, ws, sizeof ws));
    AUDIT(distill_krr_fit, distill_krr_fit(f->ctx, &ko, -1, 2, 1, a, 2, b, 1, c, 1, ws, sizeof ws));
    AUDIT(distill_krr_predict,
          distill_krr_predict(f->ctx, &ko, -1, 2, 2, 1, a, 2, b, 1, c, 2, b, 1, ws, sizeof ws));
    AUDIT(distill_krrst_loss_grad,
          distill_krrst_loss_grad(f->ctx, &ko, -1, 2, 2, 1, a, 2, b, 1, a, 2, b, 1, &loss, c, 2, c, 1, c, 2,
                                  ws, sizeof ws));
    AUDIT(distill_mse_loss_grad, distill_mse_loss_grad(f->ctx, -1, 2, a, 2, b, 2, &loss, c, 2));
    AUDIT(distill_softmax, distill_softmax(f->ctx, 2, 2, a, 2, 0.f, c, 2));
    AUDIT(distill_xent_hard, distill_xent_hard(f->ctx, 2, 2, a, 2, labels, 1.f, &loss, c, 2));
    AUDIT(distill_xent_soft, distill_xent_soft(f->ctx, -1, 2, a, 2, b, 2, 1.f, &loss, c, 2));
    AUDIT(distill_kl_div, distill_kl_div(f->ctx, 2, 2, a, 1, b, 2, 1.f, &loss, c, 2));
    AUDIT(distill_kd_loss_grad,
          distill_kd_loss_grad(f->ctx, 2, 2, a, 2, labels, b, 2, NULL, 0.5f, 1.f, 1.f, &loss, c, 2));
    AUDIT(distill_kd_loss_grad_v2, distill_kd_loss_grad_v2(f->ctx, 2, 2, a, 2, labels, b, 2, NULL, 0.5f, 1.f,
                                                           1.f, &loss, c, 2, ws, sizeof ws));
    AUDIT(distill_kd_mse_loss_grad,
          distill_kd_mse_loss_grad(f->ctx, 2, 2, a, 2, b, 2, c, 2, NULL, 2.f, &loss, c, 2));
    AUDIT(distill_barlow_twins_loss_grad,
          distill_barlow_twins_loss_grad(f->ctx, -1, 2, a, 2, b, 2, 0.01f, &loss, c, 2, c, 2, ws, sizeof ws));
    AUDIT(distill_clip_grad_norm, distill_clip_grad_norm(f->ctx, 4, a, -1.0, NULL));
}

static void audit_model_optim(fixture *f)
{
    float x[2 * DIM], y[2 * K], state[8];
    int64_t c, h, w, steps;
    distill_model_options mo;
    distill_optimizer_options oo;
    distill_ssl_options so;
    static const char junk[] = "not a model";
    distill_model_options_init(&mo);
    distill_optimizer_options_init(&oo);
    distill_ssl_options_init(&so);
    fill_random(x, 2 * DIM, 3);
    AUDIT(distill_model_create, distill_model_create(f->ctx, &mo, &(distill_model *){0}));
    AUDIT(distill_model_clone, distill_model_clone(f->model, NULL));
    AUDIT(distill_model_copy_params, distill_model_copy_params(f->model, f->other));
    AUDIT(distill_model_layer_shape, distill_model_layer_shape(f->model, 99, &c, &h, &w));
    AUDIT(distill_model_layer_params, distill_model_layer_params(f->model, 99, &c, &h));
    AUDIT(distill_model_forward, distill_model_forward(f->model, 0, -1, x, DIM, y, K));
    AUDIT(distill_model_backward, distill_model_backward(f->model, NULL, K, NULL, 0, 0));
    AUDIT(distill_model_mixed_grad,
          distill_model_mixed_grad(f->model, 0, 2, x, DIM, NULL, NULL, x, 1e-3f, x, DIM));
    AUDIT(distill_model_save, distill_model_save(f->model, "/nonexistent/m.dstl"));
    AUDIT(distill_model_load, distill_model_load(f->ctx, "/nonexistent/m.dstl", &(distill_model *){0}));
    AUDIT(distill_model_load_memory,
          distill_model_load_memory(f->ctx, junk, sizeof junk, &(distill_model *){0}));
    AUDIT(distill_optimizer_create, distill_optimizer_create(f->ctx, &oo, -1, &(distill_optimizer *){0}));
    AUDIT(distill_optimizer_step, distill_optimizer_step(f->opt, NULL, NULL));
    AUDIT(distill_optimizer_get_state, distill_optimizer_get_state(f->opt, state, -1, &steps));
    AUDIT(distill_optimizer_set_state, distill_optimizer_set_state(f->opt, NULL, 8, 0));
    AUDIT(distill_barlow_twins_train, distill_barlow_twins_train(f->ctx, &so, NULL, f->images, NULL));
    AUDIT(distill_teacher_from_model, distill_teacher_from_model(f->ctx, NULL, &(distill_teacher *){0}));
    AUDIT(distill_teacher_from_vtable,
          distill_teacher_from_vtable(f->ctx, NULL, DIM, K, &(distill_teacher *){0}));
    AUDIT(distill_teacher_from_outputs,
          distill_teacher_from_outputs(f->ctx, -1, K, y, K, &(distill_teacher *){0}));
    AUDIT(distill_teacher_embed, distill_teacher_embed(f->teacher, -1, x, DIM, y, K));
}

static void audit_methods(fixture *f)
{
    float z[2 * K], dz[2 * K], loss, dx[3 * DIM];
    double score, acc, t = 1.0, lam = 0.5, bt, bl;
    int64_t idx[2] = {0, 1};
    distill_kd_options ko;
    distill_krrst_options so;
    distill_transfer_options to;
    distill_kd_options_init(&ko);
    distill_krrst_options_init(&so);
    distill_transfer_options_init(&to);
    AUDIT(distill_kd_create, distill_kd_create(f->ctx, &ko, NULL, f->labelled, NULL, &(distill_kd *){0}));
    AUDIT(distill_kd_run, distill_kd_run(f->kd, -1));
    AUDIT(distill_kd_checkpoint, distill_kd_checkpoint(f->kd, "/nonexistent/kd.ckpt"));
    AUDIT(distill_kd_resume, distill_kd_resume(f->kd, "/nonexistent/kd.ckpt"));
    AUDIT(distill_kd_loss_grad_rows, distill_kd_loss_grad_rows(f->kd, -1, idx, z, K, &loss, dz, K));
    AUDIT(distill_kd_score, distill_kd_score(f->ctx, 99, f->model, f->labelled, &score));
    AUDIT(distill_kd_train_teacher, distill_kd_train_teacher(f->ctx, &ko, NULL, f->labelled, NULL));
    AUDIT(distill_kd_grid_search, distill_kd_grid_search(f->ctx, &ko, f->model, f->labelled, NULL,
                                                         f->labelled, &t, -1, &lam, 1, &score, &bt, &bl));
    AUDIT(distill_krrst_create, distill_krrst_create(f->ctx, &so, NULL, &(distill_krrst *){0}));
    AUDIT(distill_krrst_run, distill_krrst_run(f->krrst, -1));
    AUDIT(distill_krrst_gradient, distill_krrst_gradient(f->krrst, &loss, dx, 1, NULL, 0));
    AUDIT(distill_krrst_set_synthetic, distill_krrst_set_synthetic(f->krrst, dx, 1, NULL, 0));
    AUDIT(distill_krrst_heldout_error,
          distill_krrst_heldout_error(f->krrst, NULL, NULL, f->labelled, -1, 1, &score));
    AUDIT(distill_krrst_checkpoint, distill_krrst_checkpoint(f->krrst, "/nonexistent/k.ckpt"));
    AUDIT(distill_krrst_resume, distill_krrst_resume(f->krrst, "/nonexistent/k.ckpt"));
    AUDIT(distill_krrst_save, distill_krrst_save(f->krrst, "/nonexistent/k.dstl"));
    AUDIT(distill_krrst_save_npy, distill_krrst_save_npy(f->krrst, "/nonexistent/x.npy", "/nonexistent/y"));
    AUDIT(distill_krrst_save_png, distill_krrst_save_png(f->krrst, "/nonexistent/k.png"));
    AUDIT(distill_distilled_load, distill_distilled_load(f->ctx, "/nonexistent/k.dstl",
                                                         &(distill_dataset *){0}));
    AUDIT(distill_pretrain, distill_pretrain(f->ctx, &to, NULL, f->images));
    AUDIT(distill_linear_probe, distill_linear_probe(f->ctx, &to, f->model, NULL, f->labelled, &acc));
    AUDIT(distill_linear_probes, distill_linear_probes(f->ctx, &to, f->model, NULL, 1, f->labelled, &acc));
    AUDIT(distill_finetune, distill_finetune(f->ctx, &to, f->model, f->labelled, NULL, &acc));
    AUDIT(distill_train_supervised_teacher, distill_train_supervised_teacher(f->ctx, f->model, f->labelled, -1));
}

static int no_act(void *user, int64_t n, const float *obs, int64_t ldobs, float *a, int64_t lda)
{
    (void)user, (void)n, (void)obs, (void)ldobs, (void)a, (void)lda;
    return 0;
}

static void audit_rl(fixture *f)
{
    static const char junk[] = "not a policy";
    distill_env_options eo;
    distill_rollout_options ro;
    distill_space discrete = {sizeof discrete, DISTILL_SPACE_DISCRETE, K, NULL, NULL};
    distill_env *env = NULL;
    distill_policy *p = NULL;
    float obs[4], r, a = 0.0f;
    distill_env_options_init(&eo);
    distill_rollout_options_init(&ro);
    ck_assert_status(distill_env_create(f->ctx, &eo, &env), DISTILL_OK);
    ck_assert_status(distill_policy_from_model(f->ctx, f->model, &discrete, DISTILL_POLICY_GREEDY, 1.0f, &p),
                     DISTILL_OK);
    eo.task = 99;
    AUDIT(distill_env_create, distill_env_create(f->ctx, &eo, &(distill_env *){0}));
    AUDIT(distill_env_from_vtable, distill_env_from_vtable(f->ctx, NULL, &discrete, &discrete, 0,
                                                           &(distill_env *){0}));
    AUDIT(distill_env_obs_space, distill_env_obs_space(env, NULL));
    AUDIT(distill_env_action_space, distill_env_action_space(env, NULL));
    AUDIT(distill_env_reset, distill_env_reset(env, 0, NULL));
    AUDIT(distill_env_step, distill_env_step(env, &a, obs, &r, NULL, NULL));
    ro.episodes = 0;
    AUDIT(distill_env_rollout, distill_env_rollout(env, &ro, no_act, NULL, NULL, NULL, NULL));
    AUDIT(distill_policy_from_model,
          distill_policy_from_model(f->ctx, f->model, NULL, DISTILL_POLICY_GREEDY, 1.0f, &(distill_policy *){0}));
    AUDIT(distill_policy_action_space, distill_policy_action_space(p, NULL));
    AUDIT(distill_policy_save, distill_policy_save(p, "/nonexistent/p.dstl"));
    AUDIT(distill_policy_load, distill_policy_load(f->ctx, "/nonexistent/p.dstl", &(distill_policy *){0}));
    AUDIT(distill_policy_load_memory,
          distill_policy_load_memory(f->ctx, junk, sizeof junk, &(distill_policy *){0}));
    AUDIT(distill_policy_evaluate, distill_policy_evaluate(p, NULL, &ro, NULL, NULL, NULL));
    AUDIT(distill_trajectories_from_hdf5,
          distill_trajectories_from_hdf5(f->ctx, "/nonexistent.h5", &(distill_dataset *){0}));
    AUDIT(distill_bc_train, distill_bc_train(f->ctx, NULL, f->model, f->images, NULL));
    AUDIT(distill_trajectory_top, distill_trajectory_top(f->labelled, 1, 0.5, &(distill_dataset *){0}));
    distill_policy_destroy(p);
    distill_env_destroy(env);
}

/* A host dataset of N states with action i % K that fails once broken. */
static int orl_count(void *user, int64_t *n)
{
    (void)user;
    *n = N;
    return 0;
}

static int orl_load(void *user, const int64_t *idx, int64_t n, float *x, int64_t ldx, float *y, int64_t ldy)
{
    int64_t i, j;
    if (*(const int *)user)
        return 1;
    for (i = 0; i < n; i++) {
        for (j = 0; x && j < DIM; j++)
            x[i * ldx + j] = (float)((idx[i] * 7 + j) % 5) - 2.0f;
        if (y)
            y[i * ldy] = (float)(idx[i] % K);
    }
    return 0;
}

static void audit_orl(fixture *f)
{
    int broken = 0;
    distill_backend be = {sizeof be, 0, NULL, "orl audit", orl_count, orl_load, NULL};
    distill_dataset *host = NULL;
    distill_orl_options o;
    distill_layer_spec l;
    distill_orl *s = NULL;
    float states[2 * DIM];
    distill_orl_options_init(&o);
    distill_layer_spec_init(&l, DISTILL_LAYER_DENSE);
    l.units = K;
    o.n_actions = K, o.m = 3, o.layers = &l, o.n_layers = 1, o.batch = 4;
    ck_assert_status(distill_orl_create(f->ctx, &o, f->labelled, &s), DISTILL_OK);
    o.m = 0;
    AUDIT(distill_orl_create, distill_orl_create(f->ctx, &o, f->labelled, &(distill_orl *){0}));
    AUDIT(distill_orl_run, distill_orl_run(s, -1));
    AUDIT(distill_orl_gradient, distill_orl_gradient(s, NULL, states, 1, NULL, 0));
    AUDIT(distill_orl_set_states, distill_orl_set_states(s, NULL, DIM));
    AUDIT(distill_orl_set_actions, distill_orl_set_actions(s, states, 1));
    AUDIT(distill_orl_dataset, distill_orl_dataset(s, NULL));
    AUDIT(distill_orl_checkpoint, distill_orl_checkpoint(s, "/nonexistent/o.ck"));
    AUDIT(distill_orl_resume, distill_orl_resume(s, "/nonexistent/o.ck"));
    AUDIT(distill_orl_save, distill_orl_save(s, "/nonexistent/o.dstl"));
    AUDIT(distill_orl_save_npy, distill_orl_save_npy(s, "/nonexistent/s.npy", NULL));
    distill_orl_destroy(s), s = NULL;
    be.user = &broken;
    ck_assert_status(distill_dataset_from_backend(f->ctx, &be, DIM, 1, &host), DISTILL_OK);
    o.m = 3;
    ck_assert_status(distill_orl_create(f->ctx, &o, host, &s), DISTILL_OK);
    broken = 1; /* the step reads real batches through the host's loader */
    AUDIT(distill_orl_step, distill_orl_step(s, NULL));
    distill_orl_destroy(s);
    distill_dataset_destroy(host);
}

/* A host teacher that fails once `broken` is set. */
static int breakable_embed(void *user, int64_t n, const float *x, int64_t ldx, float *out, int64_t ldout)
{
    int64_t i, j;
    if (*(const int *)user)
        return -1;
    for (i = 0; i < n; i++)
        for (j = 0; j < K; j++)
            out[i * ldout + j] = x[i * ldx + j];
    return 0;
}

/* The two solver steps fail only on a fault in what they read: a NaN in the
 * KD student, a host teacher failing under KRR-ST's augmentation (which asks
 * the teacher every step). */
static int failing_score(void *u, int64_t n, const float *a, const float *s, const float *sigma, float *out)
{
    (void)u, (void)n, (void)a, (void)s, (void)sigma, (void)out;
    return 1;
}

static void audit_vdd(fixture *f)
{
    static const char junk[] = "not a diffusion";
    distill_score_vtable vt = {sizeof vt, NULL, failing_score, NULL};
    distill_diffusion_options d;
    distill_env_options eo;
    distill_rollout_options ro;
    distill_diffusion *dif = NULL, *host = NULL;
    distill_dataset *demos = NULL;
    distill_env *env = NULL;
    distill_vdd *v = NULL;
    distill_policy *p = NULL;
    distill_space discrete = {sizeof discrete, DISTILL_SPACE_DISCRETE, K, NULL, NULL};
    float a[2] = {0}, s[4] = {0}, sigma[1] = {0.1f}, out[2];
    distill_vdd_options vo;
    distill_env_options_init(&eo);
    eo.task = DISTILL_ENV_AVOID;
    distill_rollout_options_init(&ro);
    ro.episodes = 2;
    ck_assert_status(distill_env_create(f->ctx, &eo, &env), DISTILL_OK);
    ck_assert_status(distill_env_demos(env, &ro, NULL, NULL, &demos), DISTILL_OK);
    distill_diffusion_options_init(&d);
    d.obs_dim = 2, d.action_dim = 2, d.hidden = 4, d.layers = 1;
    ck_assert_status(distill_diffusion_create(f->ctx, &d, &dif), DISTILL_OK);
    ck_assert_status(distill_diffusion_from_score(f->ctx, &vt, 2, 2, &host), DISTILL_OK);
    distill_vdd_options_init(&vo);
    vo.hidden = 4, vo.gating_hidden = 4, vo.batch = 2, vo.samples = 1;
    ck_assert_status(distill_vdd_create(f->ctx, &vo, host, demos, &v), DISTILL_OK);
    ck_assert_status(distill_policy_from_model(f->ctx, f->model, &discrete, DISTILL_POLICY_GREEDY, 1.0f, &p),
                     DISTILL_OK);
    ro.episodes = 0;
    AUDIT(distill_env_demos, distill_env_demos(env, &ro, NULL, NULL, &(distill_dataset *){0}));
    AUDIT(distill_env_route_stats, distill_env_route_stats(demos, NULL, NULL, 2, NULL, NULL));
    AUDIT(distill_diffusion_create, distill_diffusion_create(f->ctx, NULL, &(distill_diffusion *){0}));
    AUDIT(distill_diffusion_from_score, distill_diffusion_from_score(f->ctx, NULL, 2, 2, &(distill_diffusion *){0}));
    AUDIT(distill_diffusion_train, distill_diffusion_train(dif, NULL, NULL, NULL));
    AUDIT(distill_diffusion_score, distill_diffusion_score(host, 1, a, s, sigma, out));
    AUDIT(distill_diffusion_save, distill_diffusion_save(dif, "/nonexistent/d.dstl"));
    AUDIT(distill_diffusion_load, distill_diffusion_load(f->ctx, "/nonexistent/d.dstl", &(distill_diffusion *){0}));
    AUDIT(distill_diffusion_load_memory,
          distill_diffusion_load_memory(f->ctx, junk, sizeof junk, &(distill_diffusion *){0}));
    AUDIT(distill_vdd_create, distill_vdd_create(f->ctx, &vo, NULL, demos, &(distill_vdd *){0}));
    AUDIT(distill_vdd_step, distill_vdd_step(v, NULL));
    AUDIT(distill_vdd_run, distill_vdd_run(v, -1));
    AUDIT(distill_vdd_policy, distill_vdd_policy(v, 7, 0, &(distill_policy *){0}));
    AUDIT(distill_vdd_checkpoint, distill_vdd_checkpoint(v, "/nonexistent/v.ckpt"));
    AUDIT(distill_vdd_resume, distill_vdd_resume(v, "/nonexistent/v.ckpt"));
    AUDIT(distill_policy_set_mode, distill_policy_set_mode(p, DISTILL_POLICY_COMMITTED, 0));
    distill_policy_destroy(p), distill_vdd_destroy(v), distill_diffusion_destroy(host);
    distill_diffusion_destroy(dif), distill_dataset_destroy(demos), distill_env_destroy(env);
}

static void audit_mask(fixture *f)
{
    static const unsigned char junk[64] = "LDMK";
    distill_masknet_options o;
    distill_masknet *net = NULL;
    distill_mask_meta m;
    float x[3] = {0}, y[2], dy[2] = {0};
    size_t len;
    distill_masknet_options_init(&o);
    o.inputs = 3, o.outputs = 2, o.hidden = 4, o.layers = 1, o.max_tasks = 2;
    ck_assert_status(distill_masknet_create(f->ctx, &o, &net), DISTILL_OK);
    distill_mask_meta_init(&m);
    AUDIT(distill_masknet_create, distill_masknet_create(f->ctx, NULL, &(distill_masknet *){0}));
    AUDIT(distill_masknet_consolidate, distill_masknet_consolidate(net));
    AUDIT(distill_masknet_forward, distill_masknet_forward(net, 0, 1, x, 3, y, 2));
    AUDIT(distill_masknet_backward, distill_masknet_backward(net, dy, 2, NULL, 0, 0));
    AUDIT(distill_masknet_encode, distill_masknet_encode(net, 0, &m, NULL, 0, &len));
    AUDIT(distill_masknet_decode, distill_masknet_decode(net, 0, junk, sizeof junk, NULL));
    AUDIT(distill_masknet_save, distill_masknet_save(net, "/nonexistent/m.dstl"));
    AUDIT(distill_masknet_load, distill_masknet_load(f->ctx, "/nonexistent/m.dstl", &(distill_masknet *){0}));
    AUDIT(distill_masknet_load_memory, distill_masknet_load_memory(f->ctx, junk, sizeof junk,
                                                                   &(distill_masknet *){0}));
    AUDIT(distill_mask_message_read, distill_mask_message_read(f->ctx, junk, sizeof junk, &m));
    AUDIT(distill_masknet_network, distill_masknet_network(net, &(distill_network_vtable){0}));
    AUDIT(distill_masknet_policy, distill_masknet_policy(net, 0, 2, DISTILL_POLICY_GREEDY, 1.0f, &(distill_policy *){0}));
    ck_assert_status(distill_masknet_add_task(net, 0), DISTILL_OK);
    AUDIT(distill_masknet_add_task, distill_masknet_add_task(net, 1));
    {
        distill_share *a = NULL;
        distill_share_bus *bus = NULL;
        distill_env *env = NULL;
        distill_ppo *p = NULL;
        distill_model *cp;
        distill_network_vtable v;
        distill_share_stats st;
        ck_assert_status(distill_share_bus_create(f->ctx, 1, 0.0, 1, &bus), DISTILL_OK);
        distill_share_options so;
        distill_share_options_init(&so);
        so.max_peers = 1;
        ck_assert_status(distill_share_create(f->ctx, &so, net, 1, distill_share_bus_send, bus, &a), DISTILL_OK);
        ck_assert_status(distill_share_add_peer(a, 2), DISTILL_OK);
        memset(&st, 0, sizeof st);
        AUDIT(distill_share_create, distill_share_create(f->ctx, NULL, NULL, 1, distill_share_bus_send, bus,
                                                         &(distill_share *){0}));
        AUDIT(distill_share_add_peer, distill_share_add_peer(a, 3)); /* max_peers reached */
        AUDIT(distill_share_set_reward, distill_share_set_reward(a, 99, 1.0f));
        AUDIT(distill_share_query, distill_share_query(a, -1));
        AUDIT(distill_share_receive, distill_share_receive(a, junk, sizeof junk));
        AUDIT(distill_share_get_stats, distill_share_get_stats(a, &st));
        AUDIT(distill_share_bus_create, distill_share_bus_create(f->ctx, -1, 0.0, 1, &(distill_share_bus *){0}));
        ck_assert_status(distill_env_create(f->ctx, NULL, &env), DISTILL_OK);
        ck_assert_status(distill_masknet_network(net, &v), DISTILL_OK);
        AUDIT(distill_ppo_create, distill_ppo_create(f->ctx, NULL, env, &v, &(distill_ppo *){0}));
        AUDIT(distill_ppo_create_model, distill_ppo_create_model(f->ctx, NULL, env, NULL, &(distill_ppo *){0}));
        cp = dense(f, 4, 3);
        ck_assert_status(distill_ppo_create_model(f->ctx, NULL, env, cp, &p), DISTILL_OK);
        AUDIT(distill_ppo_retarget, distill_ppo_retarget(p, NULL, &v));
        AUDIT(distill_ppo_run, distill_ppo_run(p, -1));
        AUDIT(distill_ppo_step, distill_ppo_step(p, (distill_ppo_stats *)&st));
        AUDIT(distill_ppo_checkpoint, distill_ppo_checkpoint(p, "/nonexistent/p.ckpt"));
        AUDIT(distill_ppo_resume, distill_ppo_resume(p, "/nonexistent/p.ckpt"));
        {
            distill_env_options eo;
            distill_env *grid = NULL;
            distill_masknet_options gmo;
            distill_masknet *gnet = NULL;
            distill_lifelong_options lo;
            distill_lifelong *life = NULL;
            const int64_t slot = 0;
            distill_env_options_init(&eo);
            eo.task = DISTILL_ENV_GRID;
            distill_masknet_options_init(&gmo);
            gmo.inputs = 25, gmo.outputs = 5, gmo.hidden = 4, gmo.layers = 1, gmo.max_tasks = 2;
            distill_lifelong_options_init(&lo);
            lo.task_iterations = 1;
            ck_assert_status(distill_env_create(f->ctx, &eo, &grid), DISTILL_OK);
            ck_assert_status(distill_masknet_create(f->ctx, &gmo, &gnet), DISTILL_OK);
            AUDIT(distill_lifelong_create, distill_lifelong_create(f->ctx, &lo, NULL, gnet, &grid, &slot, 0, NULL,
                                                                   &(distill_lifelong *){0}));
            ck_assert_status(distill_lifelong_create(f->ctx, &lo, NULL, gnet, &grid, &slot, 1, NULL, &life),
                             DISTILL_OK);
            AUDIT(distill_lifelong_next, distill_lifelong_next(life));
            ck_assert_status(distill_lifelong_step(life, NULL), DISTILL_OK); /* its one iteration: done */
            AUDIT(distill_lifelong_step, distill_lifelong_step(life, NULL));
            distill_lifelong_destroy(life), distill_masknet_destroy(gnet), distill_env_destroy(grid);
        }
        distill_ppo_destroy(p), distill_env_destroy(env), distill_model_destroy(cp);
        distill_share_destroy(a), distill_share_bus_destroy(bus);
    }
    distill_masknet_destroy(net);
}

static void audit_steps(fixture *f)
{
    float loss;
    int broken = 0;
    distill_teacher_vtable vt = {sizeof vt, &broken, breakable_embed, NULL};
    distill_teacher *t = NULL;
    distill_krrst_options o;
    distill_krrst *s = NULL;
    distill_model_params(f->student)[0] = NAN;
    AUDIT(distill_kd_step, distill_kd_step(f->kd, &loss));
    ck_assert_status(distill_teacher_from_vtable(f->ctx, &vt, DIM, K, &t), DISTILL_OK);
    distill_krrst_options_init(&o);
    o.features = f->feat, o.n_features = 4, o.teacher_handle = t, o.augment_flip = 1;
    o.m = 3, o.n = 6, o.steps = 4, o.pool_size = 1, o.pool_period = 2, o.ridge = 1e-3;
    ck_assert_status(distill_krrst_create(f->ctx, &o, f->images, &s), DISTILL_OK);
    broken = 1;
    AUDIT(distill_krrst_step, distill_krrst_step(s, &loss));
    distill_krrst_destroy(s);
    distill_teacher_destroy(t);
}

static void fixture_free(fixture *f)
{
    distill_kd_destroy(f->kd);
    distill_krrst_destroy(f->krrst);
    distill_optimizer_destroy(f->opt);
    distill_teacher_destroy(f->teacher);
    distill_model_destroy(f->model);
    distill_model_destroy(f->other);
    distill_model_destroy(f->student);
    distill_dataset_destroy(f->images);
    distill_dataset_destroy(f->labelled);
    distill_context_destroy(f->ctx);
}

START_TEST(every_failing_call_sets_its_own_message)
{
    static fixture fx;
    fixture *f = &fx;
    fixture_init(f);
    audit_core_data(f);
    audit_kernels(f);
    audit_model_optim(f);
    audit_methods(f);
    audit_rl(f);
    audit_orl(f);
    audit_vdd(f);
    audit_mask(f);
    audit_steps(f);
    fixture_free(f);
    ck_assert_msg(f->failures == 0, "%d calls failed the message audit:%s", f->failures, f->report);
    ck_assert_int_eq(f->ca.live, 0);
}
END_TEST

Suite *distill_suite_messages(void)
{
    Suite *s = suite_create("messages");
    TCase *tc = tcase_create("audit");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, every_failing_call_sets_its_own_message);
    suite_add_tcase(s, tc);
    return s;
}
