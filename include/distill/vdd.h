/* libdistill: variational diffusion distillation (VDD; Zhou et al. 2024;
 * docs/vdd.md).  A diffusion policy (a distill_diffusion: the library's
 * denoiser or the host's score function) is distilled into a mixture of K
 * Gaussian experts q(a|s) = sum_k g_k(s) N(a; mu_k(s), L_k(s) L_k(s)^T)
 * that acts in one small forward pass and keeps every mode.
 *
 * The experts share one backbone (an MLP, Mish, orthogonal init) whose last
 * layer gives K means and K Cholesky factors (full or diagonal; a diagonal
 * entry is softplus(raw + shift) + min_std, init_std at raw = 0); the
 * means' biases start uniform in +-mean_bias_bound, spreading the experts,
 * or (mean_init BRANCH) on the demonstrated actions where the
 * demonstrations branch.
 * The gating is a second MLP on the observation (or uniform).
 *
 * ONE ITERATION: expert_steps times, a batch of demonstration states
 * (jittered by state_noise), V
 * reparameterised samples a = mu_k + L_k eps per expert, the teacher's
 * score at each (stop-gradient, at a noise level drawn uniformly in
 * [sigma_min, sigma_max]; the teacher's gradient is never needed), the
 * responsibilities log q~(k | a) of the current mixture (stop-gradient in
 * its parameters, by hand-written triangular solves), and an Adam step on
 *     loss = -mean_{s,k} g_k(s) [ mean_v (<score, a> + log q~(k|a)) + H_k(s) ];
 * then (learn_gating) one Adam step of the gating on demonstration pairs
 * (s, a), soft cross-entropy against the current responsibilities.
 *
 * Results are bit-identical for the same seed, thread count and teacher, and
 * a checkpoint resumes bit-identically.  A failing host score gives
 * DISTILL_E_BACKEND and leaves the solver as it was before the step
 * (resumable). */
#ifndef DISTILL_VDD_H
#define DISTILL_VDD_H

#include <stddef.h>
#include <stdint.h>

#include "core.h"
#include "data.h"
#include "diffusion.h"
#include "export.h"
#include "policy.h"
#include "status.h"

DISTILL_BEGIN_DECLS

typedef struct distill_vdd distill_vdd;

typedef struct distill_vdd_options {
    uint32_t struct_size;   /* sizeof(distill_vdd_options) */
    int64_t experts;        /* K, 1 .. 64 (8) */
    int32_t full_cov;       /* 1: full Cholesky factors, 0: diagonal (1) */
    int32_t learn_gating;   /* 1: a learned gating, 0: uniform (1) */
    int64_t hidden;         /* backbone units (64) */
    int64_t layers;         /* backbone hidden layers (2) */
    int64_t gating_hidden;  /* gating units, two hidden layers (64) */
    int64_t batch;          /* states per expert step (128) */
    int64_t samples;        /* V: samples per expert and state (4) */
    int64_t expert_steps;   /* expert steps per iteration (2) */
    int64_t iterations;     /* for distill_vdd_run(vdd, 0) (3000) */
    double lr;              /* Adam, experts, decayed linearly to 0 over iterations (1e-3) */
    double gating_lr;       /* Adam, gating (1e-3) */
    double sigma_min;       /* the teacher's score noise, uniform in [sigma_min, sigma_max] (0.05) */
    double sigma_max;       /* (0.3) */
    double min_std;         /* (1e-4) */
    double init_std;        /* (1.0) */
    double mean_bias_bound; /* (1.0) */
    int32_t data_units;     /* 1: sigma_min, sigma_max, min_std, init_std and mean_bias_bound are in
                               units of the teacher's sigma_data (the actions' scale; 1 for a host
                               score), so one set of numbers fits any action scale (0) */
    int32_t reserved;
    double state_noise;     /* the std of a Gaussian added to each coordinate of the expert steps' states,
                               in the observations' units: the experts also learn the teacher's actions
                               just off the demonstrations, where a rollout drifts (0: none) */
    int32_t mean_init;      /* where the experts' means start: DISTILL_VDD_MEAN_INIT_UNIFORM (0), biases
                               uniform in +-mean_bias_bound; _BRANCH (1), the demonstrated actions at the
                               demonstrated state whose neighbours' actions spread most: K means of
                               those actions, seeded by k-means++ and moved by Lloyd's iterations
                               (needs the demos' actions) */
    int32_t reserved2;
} distill_vdd_options;

enum { DISTILL_VDD_MEAN_INIT_UNIFORM = 0, DISTILL_VDD_MEAN_INIT_BRANCH = 1 };

DISTILL_API void distill_vdd_options_init(distill_vdd_options *opts);
DISTILL_API size_t distill_vdd_options_size(void);

/* teacher: the diffusion to distil; demos: x = observations (the teacher's
 * obs_dim), y starting with the action (needed with learn_gating); the
 * solver keeps references to both, which must outlive it. */
DISTILL_API DISTILL_NODISCARD distill_status
distill_vdd_create(distill_context *ctx, const distill_vdd_options *opts, distill_diffusion *teacher,
                   distill_dataset *demos, distill_vdd **out);
DISTILL_API void distill_vdd_destroy(distill_vdd *vdd);

/* One iteration; *loss (may be NULL): the mean expert loss of it. */
DISTILL_API DISTILL_NODISCARD distill_status distill_vdd_step(distill_vdd *vdd, double *loss);
/* Iterations until `until` are done (0: the options'), with progress and
 * cancellation between iterations. */
DISTILL_API DISTILL_NODISCARD distill_status distill_vdd_run(distill_vdd *vdd, int64_t until);
DISTILL_API int64_t distill_vdd_steps_done(const distill_vdd *vdd);

/* The student as a deployable policy (a copy: DISTILL_POLICY_MOE) acting in
 * `mode` (DISTILL_POLICY_GREEDY, _SAMPLE or _COMMITTED; commit_steps as
 * distill_policy_set_mode). */
DISTILL_API DISTILL_NODISCARD distill_status distill_vdd_policy(const distill_vdd *vdd, int32_t mode,
                                                                int64_t commit_steps, distill_policy **out);

/* A checkpoint (resumes bit-identically under the same options, teacher,
 * data and context seed). */
DISTILL_API DISTILL_NODISCARD distill_status distill_vdd_checkpoint(const distill_vdd *vdd, const char *path);
DISTILL_API DISTILL_NODISCARD distill_status distill_vdd_resume(distill_vdd *vdd, const char *path);

DISTILL_END_DECLS

#endif /* DISTILL_VDD_H */
