/* Behaviour cloning: one trainer for every BC arm (all data, a few real
 * states, percentile BC, a distilled set), and the percentile selection. */
#include <math.h>
#include <string.h>

#include "../core/abi.h"
#include "../core/check.h"
#include "../core/rng.h"
#include "bc.h"
#include "distill/optim.h"

#define BC_PURPOSE 0x6263ULL /* "bc" */

size_t distill_bc_options_size(void) { return sizeof(distill_bc_options); }

void distill_bc_options_init(distill_bc_options *o)
{
    if (!o)
        return;
    memset(o, 0, sizeof *o);
    o->struct_size = sizeof *o;
    o->loss = DISTILL_BC_XENT;
    o->steps = 1000;
    o->batch = 256;
    o->lr = 0.005;
}

static const char fn_train[] = "distill_bc_train";

static distill_status check_train(distill_context *ctx, const distill_bc_options *o, distill_model *s,
                                  distill_dataset *d)
{
    const int64_t k = distill_model_output_dim(s);
    if (!s || !d)
        return distill__fail(ctx, DISTILL_E_INVAL, "%s: student and data are required", fn_train);
    if (o->loss < DISTILL_BC_MSE || o->loss > DISTILL_BC_XENT)
        return distill__fail(ctx, DISTILL_E_INVAL, "%s: loss %d is not a DISTILL_BC_* kind", fn_train, (int)o->loss);
    if (o->n_actions != 0 && (o->n_actions < 2 || o->n_actions > DISTILL_BC_MAX_ACTIONS || o->n_actions != k))
        return distill__fail(ctx, DISTILL_E_INVAL, "%s: n_actions %lld must be 0 (continuous) or in [2, %d] "
                             "and equal the student's %lld outputs", fn_train, (long long)o->n_actions,
                             DISTILL_BC_MAX_ACTIONS, (long long)k);
    if (o->steps < 1 || o->batch < 1 || !(o->lr > 0.0 && isfinite(o->lr)))
        return distill__fail(ctx, DISTILL_E_INVAL, "%s: steps and batch must be >= 1 and lr > 0, got %lld, "
                             "%lld, %g", fn_train, (long long)o->steps, (long long)o->batch, o->lr);
    if (distill_dataset_x_dim(d) != distill_model_input_dim(s))
        return distill__fail(ctx, DISTILL_E_SHAPE, "%s: the data has %lld features, the student takes %lld",
                             fn_train, (long long)distill_dataset_x_dim(d), (long long)distill_model_input_dim(s));
    if (distill_dataset_y_dim(d) < (o->n_actions ? 1 : k))
        return distill__fail(ctx, DISTILL_E_SHAPE, "%s: the data's y has %lld columns; the action needs %lld",
                             fn_train, (long long)distill_dataset_y_dim(d), (long long)(o->n_actions ? 1 : k));
    return DISTILL_OK;
}

/* Every discrete action of the data checked before the student changes. */
static distill_status check_all_actions(distill_context *ctx, distill_dataset *d, int64_t k, float *y,
                                        int64_t chunk)
{
    const int64_t n = distill_dataset_count(d), yd = distill_dataset_y_dim(d);
    int64_t at, c;
    for (at = 0; at < n; at += c) {
        c = n - at < chunk ? n - at : chunk;
        DISTILL__TRY(distill_dataset_get_range(d, at, c, NULL, 0, y, yd));
        DISTILL__TRY(distill__bc_check_actions(ctx, fn_train, c, y, yd, k));
    }
    return DISTILL_OK;
}

typedef struct bc_run {
    distill_context *ctx;
    distill_bc_options o;
    distill_model *s;
    distill_dataset *d;
    distill_optimizer *opt;
    int64_t n, din, k, yd, batch, *perm;
    float *x, *y, *z, *dz, *saved;
} bc_run;

static distill_status bc_steps(bc_run *r, double *final_loss)
{
    const int64_t per_epoch = (r->n + r->batch - 1) / r->batch, tail = r->o.steps / 10 + 1;
    double loss, tail_sum = 0.0;
    int64_t step, epoch = -1;
    for (step = 0; step < r->o.steps; step++) {
        const int64_t e = step / per_epoch, start = (step % per_epoch) * r->batch;
        const int64_t b = r->n - start < r->batch ? r->n - start : r->batch;
        if (e != epoch) {
            distill__rng_permutation(r->ctx->seed, distill__rng_derive(BC_PURPOSE, r->o.stream, (uint64_t)e, 0),
                                     r->n, r->perm);
            epoch = e;
        }
        DISTILL__TRY(distill_dataset_get(r->d, r->perm + start, b, r->x, r->din, r->y, r->yd));
        DISTILL__TRY(distill_model_forward(r->s, DISTILL_MODE_TRAIN, b, r->x, r->din, r->z, r->k));
        distill__bc_loss_grad(r->o.loss, r->o.n_actions != 0, b, r->k, r->z, r->k, r->y, r->yd, &loss, r->dz, r->k);
        if (!isfinite(loss))
            return distill__fail(r->ctx, DISTILL_E_NUMERIC, "%s: the loss is %g at step %lld", fn_train, loss,
                                 (long long)step);
        DISTILL__TRY(distill_model_backward(r->s, r->dz, r->k, NULL, 0, DISTILL_BACKWARD_PARAMS));
        DISTILL__TRY(distill_optimizer_step(r->opt, distill_model_params(r->s), distill_model_grads(r->s)));
        if (step >= r->o.steps - tail)
            tail_sum += loss;
        DISTILL__TRY(distill__progress(r->ctx, "bc", step + 1, r->o.steps));
    }
    if (final_loss)
        *final_loss = tail_sum / (double)(r->o.steps < tail ? r->o.steps : tail);
    return DISTILL_OK;
}

static distill_status bc_setup(bc_run *r)
{
    distill_optimizer_options oo;
    const int64_t np = distill_model_param_count(r->s), nb = distill_model_buffer_count(r->s);
    size_t floats = 0;
    DISTILL__TRY(distill__check_count(r->ctx, fn_train, "batch x features", r->batch, r->din + r->yd + 2 * r->k,
                                      sizeof(float)));
    floats = (size_t)(r->batch * (r->din + r->yd + 2 * r->k) + np + nb);
    r->x = distill__alloc(r->ctx, sizeof(float) * floats);
    r->perm = distill__alloc(r->ctx, sizeof(int64_t) * (size_t)r->n);
    if (!r->x || !r->perm)
        return distill__fail(r->ctx, DISTILL_E_NOMEM, "%s: out of memory", fn_train);
    r->y = r->x + r->batch * r->din, r->z = r->y + r->batch * r->yd, r->dz = r->z + r->batch * r->k;
    r->saved = r->dz + r->batch * r->k;
    memcpy(r->saved, distill_model_params(r->s), sizeof(float) * (size_t)np);
    memcpy(r->saved + np, distill_model_buffers(r->s), sizeof(float) * (size_t)nb);
    distill_optimizer_options_init(&oo);
    oo.kind = DISTILL_OPTIM_ADAM, oo.lr = r->o.lr;
    return distill_optimizer_create(r->ctx, &oo, np, &r->opt);
}

distill_status distill_bc_train(distill_context *ctx, const distill_bc_options *opts, distill_model *student,
                                distill_dataset *data, double *final_loss)
{
    bc_run r;
    distill_status st;
    if (!ctx)
        return DISTILL_E_INVAL;
    memset(&r, 0, sizeof r);
    distill_bc_options_init(&r.o);
    if (opts)
        DISTILL__TRY(distill__struct_read(ctx, fn_train, "options", opts, sizeof r.o, sizeof r.o, &r.o));
    DISTILL__TRY(check_train(ctx, &r.o, student, data));
    r.ctx = ctx, r.s = student, r.d = data, r.n = distill_dataset_count(data);
    r.din = distill_model_input_dim(student), r.k = distill_model_output_dim(student);
    r.yd = distill_dataset_y_dim(data), r.batch = r.o.batch < r.n ? r.o.batch : r.n;
    st = bc_setup(&r);
    if (st == DISTILL_OK && r.o.n_actions)
        st = check_all_actions(ctx, data, r.k, r.y, r.batch);
    if (st == DISTILL_OK)
        st = bc_steps(&r, final_loss);
    if (st != DISTILL_OK && r.saved) { /* a failed call changes nothing */
        const int64_t np = distill_model_param_count(student);
        memcpy(distill_model_params(student), r.saved, sizeof(float) * (size_t)np);
        memcpy(distill_model_buffers(student), r.saved + np,
               sizeof(float) * (size_t)distill_model_buffer_count(student));
    }
    distill_optimizer_destroy(r.opt);
    distill__free(ctx, r.x);
    distill__free(ctx, r.perm);
    return st;
}
