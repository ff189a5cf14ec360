/* Private: the VDD solver's layout and its per-state kernels. */
#ifndef DISTILL_VDD_INTERNAL_H
#define DISTILL_VDD_INTERNAL_H

#include "../core/internal.h"
#include "../policy/moe.h"
#include "distill/optim.h"
#include "distill/vdd.h"

/* The options' size before state_noise (the first 0.2 snapshots): still
 * accepted, as no jitter; any size up to the whole struct is read, so the
 * size before mean_init gives uniform means. */
#define DISTILL__VDD_OPTIONS_SIZE_0_2 offsetof(distill_vdd_options, state_noise)

struct distill_vdd {
    distill_context *ctx;
    distill_vdd_options o;
    distill_diffusion *teacher;
    distill_dataset *demos;
    distill__moe moe;
    int64_t O, A, R, K, V, B, yd, n_demos;
    distill_model *experts, *gating; /* gating NULL: uniform */
    distill_optimizer *opt, *gopt;
    uint64_t stream;
    int64_t step;                    /* iterations done */
    int64_t *idx;                    /* B demonstration rows */
    float *obs, *y, *out, *dout, *z, *dz;   /* B x O, B x yd, B x R (twice), B x K (twice) */
    float *eps, *acts, *srows, *sigma, *score; /* B K V rows of A, A, O, 1, A floats */
    float *saved;                    /* the parameters and moments before a step: a failed step restores them */
    double *work;                    /* the kernels' doubles */
};

/* The means' biases by o.mean_init (init.c). */
distill_status distill__vdd_init_means(distill_vdd *v);

/* Doubles of scratch the kernels need. */
int64_t distill__vdd_work_size(const distill__moe *m);

/* One state's expert loss
 *   loss = -(1/K) sum_k g_k [ (1/V) sum_v (<score_kv, a_kv> + log q~(k | a_kv)) + H_k ],
 * a_kv = mu_k + L_k eps_kv from row (R doubles: means, raw Cholesky
 * entries), with score and q~'s parameters held fixed: returns it and adds
 * its gradient in the row to drow.  logg: the K log gate values; eps and
 * score: K x V x A floats. */
double distill__vdd_row(const distill__moe *m, const double *row, const double *logg, int64_t V,
                        const float *eps, const float *score, double *drow, double *work);

/* One demonstration pair's gating loss -sum_k r_k log g_k(z), r the
 * responsibilities of action a under the experts (row) and the gate:
 * returns it and writes dz (K) = softmax(z) - r. */
double distill__vdd_gate_row(const distill__moe *m, const double *row, const float *z, const float *a, double *dz,
                             double *work);

/* The iteration's expert steps and gating step (vdd_step.c). */
distill_status distill__vdd_iteration(distill_vdd *v, double *loss);

/* Parameters and optimiser moments of both networks, in and out of `saved`. */
int64_t distill__vdd_saved_count(const distill_vdd *v);
void distill__vdd_save_state(distill_vdd *v);
void distill__vdd_restore_state(distill_vdd *v);

#endif /* DISTILL_VDD_INTERNAL_H */
