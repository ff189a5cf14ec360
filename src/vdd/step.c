/* One VDD iteration: expert steps on the teacher's scores, then a gating
 * step on demonstration pairs (distill/vdd.h). */
#include <math.h>
#include <string.h>

#include "../core/rng.h"
#include "internal.h"

#define EXPERT_PURPOSE 0x76646465ULL /* "vdde" */
#define GATING_PURPOSE 0x76646467ULL /* "vddg" */

static const char fn[] = "distill_vdd_step";

/* B demonstration rows drawn with replacement from r. */
static distill_status draw_batch(distill_vdd *v, distill__rng *r, int with_y)
{
    int64_t i;
    for (i = 0; i < v->B; i++)
        v->idx[i] = (int64_t)distill__rng_below(r, (uint64_t)v->n_demos);
    return distill_dataset_get(v->demos, v->idx, v->B, v->obs, v->O, with_y ? v->y : NULL, v->yd);
}

static void row_to_double(const distill_vdd *v, const float *out, double *row)
{
    int64_t j;
    for (j = 0; j < v->R; j++)
        row[j] = out[j];
}

/* Each coordinate of the batch's states moved by N(0, state_noise^2). */
static void jitter_states(distill_vdd *v, distill__rng *r)
{
    int64_t i;
    if (v->o.state_noise <= 0.0)
        return;
    for (i = 0; i < v->B * v->O; i++)
        v->obs[i] += (float)(v->o.state_noise * distill__rng_normal(r));
}

/* The samples a = mu + L eps of every state and expert, with the state
 * beside each and a noise level, ready for the teacher. */
static void make_samples(distill_vdd *v, distill__rng *r)
{
    const int64_t K = v->K, V = v->V, A = v->A;
    double *row = v->work + distill__vdd_work_size(&v->moe), *L = row + v->R;
    int64_t b, k, s, i, j;
    for (b = 0; b < v->B; b++) {
        row_to_double(v, v->out + b * v->R, row);
        for (k = 0; k < K; k++) {
            distill__moe_chol(&v->moe, row, k, L);
            for (s = 0; s < V; s++) {
                const int64_t at = (b * K + k) * V + s;
                float *e = v->eps + at * A, *a = v->acts + at * A;
                for (i = 0; i < A; i++)
                    e[i] = distill__rng_normal(r);
                for (i = 0; i < A; i++) {
                    double x = row[k * A + i];
                    for (j = 0; j <= i; j++)
                        x += L[i * A + j] * (double)e[j];
                    a[i] = (float)x;
                }
                memcpy(v->srows + at * v->O, v->obs + b * v->O, sizeof(float) * (size_t)v->O);
                v->sigma[at] = (float)(v->o.sigma_min + (v->o.sigma_max - v->o.sigma_min) *
                                                             (double)distill__rng_uniform(r));
            }
        }
    }
}

/* logg (K) of state b: the gating's (run on the batch into v->z) or uniform. */
static void log_gate(const distill_vdd *v, int64_t b, double *logg)
{
    distill__moe_log_gate(v->K, v->gating ? v->z + b * v->K : NULL, logg);
}

static distill_status expert_step(distill_vdd *v, int64_t t, double *loss)
{
    const int64_t KVA = v->K * v->V * v->A, n = v->B * v->K * v->V;
    double *row = v->work + distill__vdd_work_size(&v->moe), *drow = row + v->R + v->A * v->A;
    double *logg = drow + v->R, total = 0.0;
    distill__rng r;
    int64_t b, j;
    distill__rng_init(&r, v->ctx->seed, distill__rng_derive(v->stream, EXPERT_PURPOSE, (uint64_t)t, 0), 0);
    DISTILL__TRY(draw_batch(v, &r, 0));
    jitter_states(v, &r);
    DISTILL__TRY(distill_model_forward(v->experts, DISTILL_MODE_TRAIN, v->B, v->obs, v->O, v->out, v->R));
    if (v->gating)
        DISTILL__TRY(distill_model_forward(v->gating, DISTILL_MODE_EVAL, v->B, v->obs, v->O, v->z, v->K));
    make_samples(v, &r);
    DISTILL__TRY(distill_diffusion_score(v->teacher, n, v->acts, v->srows, v->sigma, v->score));
    for (b = 0; b < v->B; b++) {
        row_to_double(v, v->out + b * v->R, row);
        memset(drow, 0, sizeof(double) * (size_t)v->R);
        log_gate(v, b, logg);
        total += distill__vdd_row(&v->moe, row, logg, v->V, v->eps + b * KVA, v->score + b * KVA, drow, v->work);
        for (j = 0; j < v->R; j++)
            v->dout[b * v->R + j] = (float)(drow[j] / (double)v->B);
    }
    *loss = total / (double)v->B;
    if (!isfinite(*loss))
        return distill__fail(v->ctx, DISTILL_E_NUMERIC, "%s: the expert loss is %g at iteration %lld", fn, *loss,
                             (long long)v->step);
    DISTILL__TRY(distill_model_backward(v->experts, v->dout, v->R, NULL, 0, DISTILL_BACKWARD_PARAMS));
    return distill_optimizer_step(v->opt, distill_model_params(v->experts), distill_model_grads(v->experts));
}

static distill_status gating_step(distill_vdd *v)
{
    double *row = v->work + distill__vdd_work_size(&v->moe), *dz = row + v->R, total = 0.0;
    distill__rng r;
    int64_t b, k;
    distill__rng_init(&r, v->ctx->seed, distill__rng_derive(v->stream, GATING_PURPOSE, (uint64_t)v->step, 0), 0);
    DISTILL__TRY(draw_batch(v, &r, 1));
    DISTILL__TRY(distill_model_forward(v->experts, DISTILL_MODE_EVAL, v->B, v->obs, v->O, v->out, v->R));
    DISTILL__TRY(distill_model_forward(v->gating, DISTILL_MODE_TRAIN, v->B, v->obs, v->O, v->z, v->K));
    for (b = 0; b < v->B; b++) {
        row_to_double(v, v->out + b * v->R, row);
        total += distill__vdd_gate_row(&v->moe, row, v->z + b * v->K, v->y + b * v->yd, dz, v->work);
        for (k = 0; k < v->K; k++)
            v->dz[b * v->K + k] = (float)(dz[k] / (double)v->B);
    }
    if (!isfinite(total))
        return distill__fail(v->ctx, DISTILL_E_NUMERIC, "%s: the gating loss is %g at iteration %lld", fn, total,
                             (long long)v->step);
    DISTILL__TRY(distill_model_backward(v->gating, v->dz, v->K, NULL, 0, DISTILL_BACKWARD_PARAMS));
    return distill_optimizer_step(v->gopt, distill_model_params(v->gating), distill_model_grads(v->gating));
}

distill_status distill__vdd_iteration(distill_vdd *v, double *loss)
{
    double l, sum = 0.0;
    int64_t s;
    for (s = 0; s < v->o.expert_steps; s++) {
        DISTILL__TRY(expert_step(v, v->step * v->o.expert_steps + s, &l));
        sum += l;
    }
    if (v->gating)
        DISTILL__TRY(gating_step(v));
    *loss = sum / (double)v->o.expert_steps;
    return DISTILL_OK;
}
