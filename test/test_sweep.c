/* The allocation-failure sweep: a workflow through every handle (context,
 * datasets, teacher, KRR-ST create/step/checkpoint/resume/save/load, KD
 * create/step/checkpoint/resume/run, model save/load, env, rollout with
 * trajectories, policy from a model, evaluate, save, load, BC, offline-RL
 * distillation create/step/checkpoint/resume/save, Avoid demonstrations, a
 * diffusion teacher create/train/save/load/score, VDD create/step/
 * checkpoint/resume/policy, a mixture policy save/load/act, a masknet
 * add/forward/backward/consolidate under LC, encode and decode) run again and again with the k-th
 * allocation failing, once or from k on, for every k until the workflow
 * completes.  Each failure must be DISTILL_E_NOMEM with a message, leave the
 * handle it was called on as it was, and leak nothing.  A new solver adds
 * its steps to the workflow. */
#include <stdio.h>
#include <unistd.h>

#include "testutil.h"

#define N 40
#define SIDE 8
#define DIM (SIDE * SIDE)
#define K 5

#define DISTILL__TRY_TEST(expr)                         \
    do {                                                \
        distill_status try_st = (expr);                 \
        if (try_st != DISTILL_OK)                       \
            return try_st;                              \
    } while (0)

typedef struct flow {
    counting_alloc ca;
    distill_context *ctx;
    distill_dataset *real, *labelled, *loaded;
    distill_model *teacher_model, *student, *reloaded;
    distill_teacher *teacher;
    distill_krrst *krrst, *krrst2;
    distill_kd *kd;
    distill_env *env;
    distill_model *policy_model;
    distill_policy *policy, *policy2;
    distill_dataset *traj;
    distill_orl *orl, *orl2;
    distill_env *avoid;
    distill_dataset *demos;
    distill_diffusion *diffusion, *diffusion2;
    distill_vdd *vdd, *vdd2;
    distill_policy *moe, *moe2;
    distill_masknet *mask, *mask2;
    unsigned char *message;
    distill_share *agent, *agent2;
    distill_share_bus *bus;
    distill_ppo *ppo;
    distill_env *ct;
    distill_masknet *mask3, *mask4;
    distill_lifelong *life;
    distill_layer_spec feat[4];
    char krrst_ck[64], krrst_set[64], kd_ck[64], model[64], policy_file[64], orl_ck[64], vdd_ck[64];
} flow;

static distill_status make_context(flow *f)
{
    distill_allocator a = {sizeof a, &f->ca, counting_alloc_fn, counting_free_fn};
    distill_context_options o;
    distill_context_options_init(&o);
    o.allocator = &a, o.threads = 1, o.seed = 5;
    return distill_context_create(&o, &f->ctx);
}

static distill_status make_data(flow *f)
{
    float x[N * DIM], y[N];
    int i;
    fill_random(x, N * DIM, 3);
    for (i = 0; i < N; i++)
        y[i] = (float)(i % K);
    DISTILL__TRY_TEST(distill_dataset_from_memory(f->ctx, N, DIM, x, DIM, 0, NULL, 0, DISTILL_DATASET_COPY,
                                                  &f->real));
    DISTILL__TRY_TEST(distill_dataset_set_shape(f->real, 1, SIDE, SIDE));
    return distill_dataset_from_memory(f->ctx, N, DIM, x, DIM, 1, y, 1, DISTILL_DATASET_COPY, &f->labelled);
}

static distill_status dense(flow *f, distill_model **m)
{
    distill_layer_spec l;
    distill_model_options mo;
    distill_layer_spec_init(&l, DISTILL_LAYER_DENSE);
    l.units = K;
    distill_model_options_init(&mo);
    mo.in_c = DIM, mo.in_h = mo.in_w = 1, mo.layers = &l, mo.n_layers = 1;
    return distill_model_create(f->ctx, &mo, m);
}

static distill_status make_teacher(flow *f)
{
    DISTILL__TRY_TEST(dense(f, &f->teacher_model));
    return distill_teacher_from_model(f->ctx, f->teacher_model, &f->teacher);
}

static void krrst_options(flow *f, distill_krrst_options *o)
{
    distill_krrst_options_init(o);
    distill_layer_spec_init(&f->feat[0], DISTILL_LAYER_CONV2D);
    f->feat[0].units = 3, f->feat[0].kernel = 3, f->feat[0].padding = 1;
    distill_layer_spec_init(&f->feat[1], DISTILL_LAYER_RELU);
    distill_layer_spec_init(&f->feat[2], DISTILL_LAYER_AVGPOOL);
    f->feat[2].kernel = 2;
    distill_layer_spec_init(&f->feat[3], DISTILL_LAYER_FLATTEN);
    o->features = f->feat, o->n_features = 4, o->teacher_handle = f->teacher;
    o->m = 4, o->n = 8, o->steps = 10, o->pool_size = 2, o->pool_period = 3, o->ridge = 1e-3;
}

static distill_status krrst_create(flow *f, distill_krrst **out)
{
    distill_krrst_options o;
    krrst_options(f, &o);
    return distill_krrst_create(f->ctx, &o, f->real, out);
}

static distill_status kd_create(flow *f)
{
    distill_kd_options o;
    DISTILL__TRY_TEST(dense(f, &f->student));
    distill_kd_options_init(&o);
    o.mode = DISTILL_KD_CLASSIC, o.teacher_handle = f->teacher, o.epochs = 1, o.batch = 16;
    return distill_kd_create(f->ctx, &o, f->student, f->labelled, NULL, &f->kd);
}

/* The RL layer: an env, a policy on a 4-input network, a recorded
 * evaluation, and the policy's file. */
static distill_status rl_steps(flow *f)
{
    distill_layer_spec l;
    distill_model_options mo;
    distill_space s = {sizeof s, DISTILL_SPACE_DISCRETE, 2, NULL, NULL};
    distill_rollout_options ro;
    double ret[3];
    DISTILL__TRY_TEST(distill_env_create(f->ctx, NULL, &f->env));
    distill_layer_spec_init(&l, DISTILL_LAYER_DENSE);
    l.units = 2;
    distill_model_options_init(&mo);
    mo.in_c = 4, mo.in_h = mo.in_w = 1, mo.layers = &l, mo.n_layers = 1;
    DISTILL__TRY_TEST(distill_model_create(f->ctx, &mo, &f->policy_model));
    DISTILL__TRY_TEST(distill_policy_from_model(f->ctx, f->policy_model, &s, DISTILL_POLICY_GREEDY, 1.0f,
                                                &f->policy));
    distill_rollout_options_init(&ro);
    ro.episodes = 3, ro.epsilon = 0.5, ro.lockstep = 2;
    DISTILL__TRY_TEST(distill_policy_evaluate(f->policy, f->env, &ro, ret, NULL, &f->traj));
    DISTILL__TRY_TEST(distill_policy_save(f->policy, f->policy_file));
    return distill_policy_load(f->ctx, f->policy_file, &f->policy2);
}

static distill_status orl_create(flow *f, distill_orl **out)
{
    distill_orl_options o;
    distill_layer_spec l;
    distill_orl_options_init(&o);
    distill_layer_spec_init(&l, DISTILL_LAYER_DENSE);
    l.units = 2;
    o.n_actions = 2, o.m = 4, o.layers = &l, o.n_layers = 1, o.batch = 8, o.variant = DISTILL_ORL_STUDENT;
    o.student_steps = 2;
    return distill_orl_create(f->ctx, &o, f->traj, out);
}

/* Offline-RL distillation on the recorded trajectories, and BC. */
static distill_status orl_steps(flow *f, long k)
{
    distill_bc_options bo;
    float before[4 * 4];
    distill_status st;
    distill_bc_options_init(&bo);
    bo.n_actions = 2, bo.steps = 3, bo.batch = 8;
    DISTILL__TRY_TEST(distill_bc_train(f->ctx, &bo, f->policy_model, f->traj, NULL));
    DISTILL__TRY_TEST(orl_create(f, &f->orl));
    DISTILL__TRY_TEST(distill_orl_step(f->orl, NULL));
    DISTILL__TRY_TEST(distill_orl_checkpoint(f->orl, f->orl_ck));
    DISTILL__TRY_TEST(orl_create(f, &f->orl2));
    memcpy(before, distill_orl_states(f->orl2), sizeof before);
    if ((st = distill_orl_resume(f->orl2, f->orl_ck)) != DISTILL_OK) {
        ck_assert_msg(memcmp(before, distill_orl_states(f->orl2), sizeof before) == 0 &&
                      distill_orl_steps_done(f->orl2) == 0, "k = %ld: a failed resume changed the ORL solver", k);
        return st;
    }
    return distill_orl_save(f->orl2, f->orl_ck);
}

static distill_status vdd_create(flow *f, int32_t mean_init, distill_vdd **out)
{
    distill_vdd_options o;
    distill_vdd_options_init(&o);
    o.mean_init = mean_init, o.experts = 3, o.hidden = 4, o.gating_hidden = 4, o.layers = 1, o.batch = 4;
    o.samples = 2, o.iterations = 2;
    o.data_units = 1;
    return distill_vdd_create(f->ctx, &o, f->diffusion, f->demos, out);
}

/* Avoid's demonstrations, a diffusion teacher, VDD and its policy. */
static distill_status vdd_steps(flow *f, long k)
{
    distill_env_options eo;
    distill_rollout_options ro;
    distill_diffusion_options d;
    distill_diffusion_train_options t;
    distill_status st;
    float a[4] = {0.01f, 0.02f, 0.0f, -0.01f}, s[8] = {0}, sigma[2] = {0.1f, 0.2f}, out[4], lq[2];
    int32_t e[2] = {-1, 1};
    uint64_t rng = 0;
    unsigned char ws[8192];
    size_t bytes;
    distill_env_options_init(&eo);
    eo.task = DISTILL_ENV_AVOID;
    DISTILL__TRY_TEST(distill_env_create(f->ctx, &eo, &f->avoid));
    distill_rollout_options_init(&ro);
    ro.episodes = 2, ro.lockstep = 2;
    DISTILL__TRY_TEST(distill_env_demos(f->avoid, &ro, NULL, NULL, &f->demos));
    distill_diffusion_options_init(&d);
    d.obs_dim = 2, d.action_dim = 2, d.hidden = 4, d.layers = 1;
    DISTILL__TRY_TEST(distill_diffusion_create(f->ctx, &d, &f->diffusion));
    distill_diffusion_train_options_init(&t);
    t.steps = 2, t.batch = 4;
    DISTILL__TRY_TEST(distill_diffusion_train(f->diffusion, &t, f->demos, NULL));
    DISTILL__TRY_TEST(distill_diffusion_save(f->diffusion, f->vdd_ck));
    DISTILL__TRY_TEST(distill_diffusion_load(f->ctx, f->vdd_ck, &f->diffusion2));
    DISTILL__TRY_TEST(distill_diffusion_score(f->diffusion2, 2, a, s, sigma, out));
    DISTILL__TRY_TEST(vdd_create(f, DISTILL_VDD_MEAN_INIT_UNIFORM, &f->vdd));
    if ((st = distill_vdd_step(f->vdd, NULL)) != DISTILL_OK) {
        ck_assert_msg(distill_vdd_steps_done(f->vdd) == 0, "k = %ld: a failed step counted", k);
        return st;
    }
    DISTILL__TRY_TEST(distill_vdd_checkpoint(f->vdd, f->vdd_ck));
    DISTILL__TRY_TEST(vdd_create(f, DISTILL_VDD_MEAN_INIT_BRANCH, &f->vdd2)); /* its search's too */
    if ((st = distill_vdd_resume(f->vdd2, f->vdd_ck)) != DISTILL_OK) {
        ck_assert_msg(distill_vdd_steps_done(f->vdd2) == 0, "k = %ld: a failed resume changed the VDD solver", k);
        return st;
    }
    DISTILL__TRY_TEST(distill_vdd_policy(f->vdd2, DISTILL_POLICY_COMMITTED, 0, &f->moe));
    DISTILL__TRY_TEST(distill_policy_save(f->moe, f->vdd_ck));
    DISTILL__TRY_TEST(distill_policy_load(f->ctx, f->vdd_ck, &f->moe2));
    DISTILL__TRY_TEST(distill_policy_workspace_size(f->moe2, 2, &bytes));
    ck_assert(bytes <= sizeof ws);
    return distill_policy_act_ex(f->moe2, ws, sizeof ws, 2, s, 2, out, 2, &rng, e, lq);
}

/* What a failed call on a handle must leave as it was. */
typedef struct snapshot {
    float x[8 * DIM], p[DIM * K + K];
    int64_t steps;
} snapshot;

static void snap_krrst(const distill_krrst *s, snapshot *sn)
{
    memcpy(sn->x, distill_krrst_images(s), sizeof(float) * 4 * DIM);
    sn->steps = distill_krrst_steps_done(s);
}

static void snap_kd(distill_kd *kd, distill_model *student, snapshot *sn)
{
    memcpy(sn->p, distill_model_params(student), sizeof(float) * (size_t)distill_model_param_count(student));
    sn->steps = distill_kd_steps_done(kd);
}

static void same_krrst(const distill_krrst *s, const snapshot *sn, const char *what, long k)
{
    ck_assert_msg(distill_krrst_steps_done(s) == sn->steps &&
                  memcmp(sn->x, distill_krrst_images(s), sizeof(float) * 4 * DIM) == 0,
                  "k = %ld: a failed %s changed the KRR-ST solver", k, what);
}

static void same_kd(distill_kd *kd, distill_model *student, const snapshot *sn, const char *what, long k)
{
    ck_assert_msg(distill_kd_steps_done(kd) == sn->steps &&
                  memcmp(sn->p, distill_model_params(student),
                         sizeof(float) * (size_t)distill_model_param_count(student)) == 0,
                  "k = %ld: a failed %s changed the KD solver", k, what);
}

/* The workflow; returns the first failure, having checked that the handle
 * it was called on is unchanged. */
/* A failed call on a masknet leaves its tasks as they were. */
static distill_status same_mask(const distill_masknet *net, int64_t tasks, int64_t training, distill_status st,
                                const char *what, long k)
{
    ck_assert_msg(distill_masknet_tasks(net) == tasks && distill_masknet_training_task(net) == training,
                  "k = %ld: a failed %s changed the masknet's tasks", k, what);
    return st;
}

/* A lifelong agent through two grid tasks, one iteration each, sharing
 * on the bus as agent 3. */
static distill_status lifelong_steps(flow *f, long k)
{
    distill_masknet_options o;
    distill_lifelong_options lo;
    distill_ppo_options po;
    distill_env *envs[2];
    const int64_t slots[2] = {1, 0};
    distill_status st;
    distill_masknet_options_init(&o);
    o.inputs = 25, o.outputs = 5, o.hidden = 6, o.layers = 1, o.max_tasks = 2;
    DISTILL__TRY_TEST(distill_masknet_create(f->ctx, &o, &f->mask3));
    distill_lifelong_options_init(&lo);
    lo.task_iterations = 1;
    distill_ppo_options_init(&po);
    po.envs = 2, po.steps = 8, po.epochs = 1, po.minibatches = 2;
    envs[0] = envs[1] = f->ct;
    DISTILL__TRY_TEST(distill_lifelong_create(f->ctx, &lo, &po, f->mask3, envs, slots, 2, NULL, &f->life));
    if ((st = distill_lifelong_step(f->life, NULL)) != DISTILL_OK) {
        ck_assert_msg(distill_lifelong_iterations(f->life) == 0, "k = %ld: a failed lifelong step counted", k);
        return st;
    }
    return distill_lifelong_step(f->life, NULL);
}

/* Two agents on a bus: the second asks the first for task 0; then PPO on
 * the CT-graph with the first net's next task. */
static distill_status share_steps(flow *f, long k)
{
    distill_share_options so;
    distill_env_options eo;
    distill_ppo_options po;
    distill_network_vtable v;
    distill_status st;
    int i;
    distill_share_options_init(&so);
    so.meta_window = 2;
    DISTILL__TRY_TEST(distill_share_bus_create(f->ctx, 1, 0.0, 3, &f->bus));
    DISTILL__TRY_TEST(distill_share_create(f->ctx, &so, f->mask, 1, distill_share_bus_send, f->bus, &f->agent));
    DISTILL__TRY_TEST(distill_share_create(f->ctx, &so, f->mask2, 2, distill_share_bus_send, f->bus, &f->agent2));
    DISTILL__TRY_TEST(distill_share_bus_attach(f->bus, 1, f->agent));
    DISTILL__TRY_TEST(distill_share_bus_attach(f->bus, 2, f->agent2));
    DISTILL__TRY_TEST(distill_share_set_reward(f->agent, 0, 1.0f));
    DISTILL__TRY_TEST(distill_share_add_peer(f->agent2, 1));
    DISTILL__TRY_TEST(distill_share_query(f->agent2, 0));
    for (i = 0; i < 4; i++)
        if ((st = distill_share_bus_tick(f->bus)) != DISTILL_OK)
            return same_mask(f->mask2, 1, -1, st, "bus tick", k);
    distill_env_options_init(&eo);
    eo.task = DISTILL_ENV_GRID, eo.goal = 3;
    DISTILL__TRY_TEST(distill_env_create(f->ctx, &eo, &f->ct));
    {   /* a net of the grid's shape: 25 cells in, 4 actions and the value out */
        distill_masknet_options o;
        distill_masknet_destroy(f->mask2), distill_share_destroy(f->agent2);
        f->mask2 = NULL, f->agent2 = NULL;
        DISTILL__TRY_TEST(distill_share_bus_attach(f->bus, 2, NULL));
        distill_masknet_options_init(&o);
        o.inputs = 25, o.outputs = 5, o.hidden = 6, o.layers = 1, o.max_tasks = 2;
        DISTILL__TRY_TEST(distill_masknet_create(f->ctx, &o, &f->mask2));
    }
    DISTILL__TRY_TEST(distill_masknet_add_task(f->mask2, 0));
    DISTILL__TRY_TEST(distill_masknet_network(f->mask2, &v));
    distill_ppo_options_init(&po);
    po.envs = 2, po.steps = 8, po.epochs = 1, po.minibatches = 2;
    DISTILL__TRY_TEST(distill_ppo_create(f->ctx, &po, f->ct, &v, &f->ppo));
    DISTILL__TRY_TEST(distill_ppo_step(f->ppo, NULL));
    DISTILL__TRY_TEST(distill_masknet_consolidate(f->mask2));
    DISTILL__TRY_TEST(distill_masknet_add_task(f->mask2, 1));
    DISTILL__TRY_TEST(distill_masknet_network(f->mask2, &v));
    if ((st = distill_ppo_retarget(f->ppo, NULL, &v)) != DISTILL_OK)
        return st;
    DISTILL__TRY_TEST(distill_ppo_step(f->ppo, NULL));
    return lifelong_steps(f, k);
}

/* Two tasks under LC (the second composes the first), forward, backward,
 * consolidation, and the second sent as bits into another net. */
static distill_status mask_steps(flow *f, long k)
{
    distill_masknet_options o;
    distill_mask_meta m;
    float x[6 * 3], y[6 * 2], dy[6 * 2];
    distill_status st;
    size_t len;
    int64_t t;
    distill_masknet_options_init(&o);
    o.inputs = 3, o.outputs = 2, o.hidden = 5, o.layers = 2, o.max_tasks = 3, o.compose = DISTILL_MASK_LC;
    DISTILL__TRY_TEST(distill_masknet_create(f->ctx, &o, &f->mask));
    DISTILL__TRY_TEST(distill_masknet_create(f->ctx, &o, &f->mask2));
    fill_random(x, 18, 2), fill_random(dy, 12, 3);
    for (t = 0; t < 2; t++) {
        if ((st = distill_masknet_add_task(f->mask, t)) != DISTILL_OK)
            return same_mask(f->mask, t, -1, st, "add_task", k);
        DISTILL__TRY_TEST(distill_masknet_forward(f->mask, t, 6, x, 3, y, 2));
        DISTILL__TRY_TEST(distill_masknet_backward(f->mask, dy, 2, x, 3, 0));
        if ((st = distill_masknet_consolidate(f->mask)) != DISTILL_OK)
            return same_mask(f->mask, t + 1, t, st, "consolidate", k);
    }
    distill_mask_meta_init(&m);
    DISTILL__TRY_TEST(distill_masknet_encode(f->mask, 1, &m, NULL, 0, &len));
    if (!(f->message = malloc(len)))
        return DISTILL_E_NOMEM;
    DISTILL__TRY_TEST(distill_masknet_encode(f->mask, 1, &m, f->message, len, &len));
    if ((st = distill_masknet_decode(f->mask2, 1, f->message, len, NULL)) != DISTILL_OK)
        return same_mask(f->mask2, 0, -1, st, "decode", k);
    DISTILL__TRY_TEST(distill_masknet_forward(f->mask2, 1, 6, x, 3, y, 2));
    DISTILL__TRY_TEST(distill_masknet_save(f->mask, f->vdd_ck));
    DISTILL__TRY_TEST(distill_masknet_load(f->ctx, f->vdd_ck, &f->mask4));
    return share_steps(f, k);
}

static distill_status workflow(flow *f, long k)
{
    snapshot sn;
    distill_status st;
    float loss;
    DISTILL__TRY_TEST(make_context(f));
    DISTILL__TRY_TEST(make_data(f));
    DISTILL__TRY_TEST(make_teacher(f));
    DISTILL__TRY_TEST(distill_model_save(f->teacher_model, f->model));
    DISTILL__TRY_TEST(distill_model_load(f->ctx, f->model, &f->reloaded));
    DISTILL__TRY_TEST(krrst_create(f, &f->krrst));
    snap_krrst(f->krrst, &sn);
    if ((st = distill_krrst_step(f->krrst, &loss)) != DISTILL_OK)
        return same_krrst(f->krrst, &sn, "step", k), st;
    DISTILL__TRY_TEST(distill_krrst_checkpoint(f->krrst, f->krrst_ck));
    DISTILL__TRY_TEST(krrst_create(f, &f->krrst2));
    snap_krrst(f->krrst2, &sn);
    if ((st = distill_krrst_resume(f->krrst2, f->krrst_ck)) != DISTILL_OK)
        return same_krrst(f->krrst2, &sn, "resume", k), st;
    DISTILL__TRY_TEST(distill_krrst_save(f->krrst, f->krrst_set));
    DISTILL__TRY_TEST(distill_distilled_load(f->ctx, f->krrst_set, &f->loaded));
    DISTILL__TRY_TEST(kd_create(f));
    snap_kd(f->kd, f->student, &sn);
    if ((st = distill_kd_step(f->kd, &loss)) != DISTILL_OK)
        return same_kd(f->kd, f->student, &sn, "step", k), st;
    DISTILL__TRY_TEST(distill_kd_checkpoint(f->kd, f->kd_ck));
    DISTILL__TRY_TEST(distill_kd_step(f->kd, &loss));
    snap_kd(f->kd, f->student, &sn);
    if ((st = distill_kd_resume(f->kd, f->kd_ck)) != DISTILL_OK)
        return same_kd(f->kd, f->student, &sn, "resume", k), st;
    DISTILL__TRY_TEST(distill_kd_run(f->kd, 0));
    DISTILL__TRY_TEST(rl_steps(f));
    DISTILL__TRY_TEST(orl_steps(f, k));
    DISTILL__TRY_TEST(vdd_steps(f, k));
    return mask_steps(f, k);
}

static void flow_free(flow *f)
{
    distill_lifelong_destroy(f->life), distill_masknet_destroy(f->mask3), distill_masknet_destroy(f->mask4);
    distill_ppo_destroy(f->ppo), distill_env_destroy(f->ct);
    distill_share_destroy(f->agent), distill_share_destroy(f->agent2), distill_share_bus_destroy(f->bus);
    distill_masknet_destroy(f->mask), distill_masknet_destroy(f->mask2);
    free(f->message);
    distill_kd_destroy(f->kd);
    distill_policy_destroy(f->policy), distill_policy_destroy(f->policy2);
    distill_model_destroy(f->policy_model);
    distill_orl_destroy(f->orl), distill_orl_destroy(f->orl2);
    distill_policy_destroy(f->moe), distill_policy_destroy(f->moe2);
    distill_vdd_destroy(f->vdd), distill_vdd_destroy(f->vdd2);
    distill_diffusion_destroy(f->diffusion), distill_diffusion_destroy(f->diffusion2);
    distill_dataset_destroy(f->demos), distill_env_destroy(f->avoid);
    distill_dataset_destroy(f->traj);
    distill_env_destroy(f->env);
    distill_krrst_destroy(f->krrst), distill_krrst_destroy(f->krrst2);
    distill_teacher_destroy(f->teacher);
    distill_model_destroy(f->teacher_model), distill_model_destroy(f->student);
    distill_model_destroy(f->reloaded);
    distill_dataset_destroy(f->real), distill_dataset_destroy(f->labelled), distill_dataset_destroy(f->loaded);
    distill_context_destroy(f->ctx);
    unlink(f->krrst_ck), unlink(f->krrst_set), unlink(f->kd_ck), unlink(f->model);
    unlink(f->policy_file), unlink(f->orl_ck), unlink(f->vdd_ck);
}

/* One run with allocation k failing (once, or from k on; k < 0: none);
 * returns the allocations it made. */
static long run_once(long k, int from_k_on)
{
    flow f;
    distill_status st;
    int pid = (int)getpid();
    memset(&f, 0, sizeof f);
    f.ca.fail_after = from_k_on && k >= 0 ? k : -1, f.ca.fail_once = from_k_on || k < 0 ? 0 : k + 1;
    snprintf(f.krrst_ck, sizeof f.krrst_ck, "/tmp/distill-sweep-%d.ck", pid);
    snprintf(f.krrst_set, sizeof f.krrst_set, "/tmp/distill-sweep-%d.set", pid);
    snprintf(f.kd_ck, sizeof f.kd_ck, "/tmp/distill-sweep-%d.kd", pid);
    snprintf(f.model, sizeof f.model, "/tmp/distill-sweep-%d.model", pid);
    snprintf(f.policy_file, sizeof f.policy_file, "/tmp/distill-sweep-%d.policy", pid);
    snprintf(f.orl_ck, sizeof f.orl_ck, "/tmp/distill-sweep-%d.orl", pid);
    snprintf(f.vdd_ck, sizeof f.vdd_ck, "/tmp/distill-sweep-%d.vdd", pid);
    st = workflow(&f, k);
    ck_assert_msg(k >= 0 || st == DISTILL_OK, "the workflow fails without a failing allocation: %s",
                  f.ctx ? distill_context_last_error(f.ctx) : "no context");
    if (st != DISTILL_OK) {
        ck_assert_msg(st == DISTILL_E_NOMEM, "k = %ld (%s): status %s: %s", k, from_k_on ? "from k on" : "once",
                      distill_status_string(st), f.ctx ? distill_context_last_error(f.ctx) : "no context");
        if (f.ctx) /* a context that failed to exist has nowhere to say so */
            ck_assert_msg(strstr(distill_context_last_error(f.ctx), "memory") ||
                          strstr(distill_context_last_error(f.ctx), "allocate"),
                          "k = %ld: no out-of-memory message: '%s'", k, distill_context_last_error(f.ctx));
    }
    flow_free(&f);
    ck_assert_msg(f.ca.live == 0, "k = %ld: %ld allocations outstanding", k, f.ca.live);
    return f.ca.calls;
}

static void sweep(int from_k_on)
{
    const long total = run_once(-1, 0);
    long k;
    ck_assert_int_gt(total, 40);
    for (k = 0; k < total; k++)
        run_once(k, from_k_on);
}

START_TEST(every_allocation_fails_from_k_on)
{
    sweep(1);
}
END_TEST

START_TEST(each_allocation_fails_once)
{
    sweep(0);
}
END_TEST

Suite *distill_suite_sweep(void)
{
    Suite *s = suite_create("sweep");
    TCase *tc = tcase_create("allocation failure");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, every_allocation_fails_from_k_on);
    tcase_add_test(tc, each_allocation_fails_once);
    suite_add_tcase(s, tc);
    return s;
}
