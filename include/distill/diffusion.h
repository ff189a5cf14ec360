/* libdistill: diffusion policies (docs/vdd.md).  A distill_diffusion is one
 * handle for a conditional score model of actions given observations,
 * whatever it is made from:
 *
 *   distill_diffusion_create      the library's own EDM/BESO denoiser
 *                                 D(a, s, sigma), trained by denoising score
 *                                 matching (distill_diffusion_train) and
 *                                 sampled with Euler or Heun steps;
 *   distill_diffusion_from_score  the host's score function (a vtable), e.g.
 *                                 a PyTorch model behind ctypes: what VDD
 *                                 distils needs only the score, never its
 *                                 gradient.
 *
 * THE DENOISER (Karras et al. 2022, the preconditioning BESO uses): with
 * sd = sigma_data,
 *   c_skip = sd^2 / (sigma^2 + sd^2),  c_out = sigma sd / sqrt(sigma^2 + sd^2),
 *   c_in = 1 / sqrt(sigma^2 + sd^2),   c_noise = ln(sigma) / 4,
 *   D(a, s, sigma) = c_skip a + c_out F([c_in a, (s - mean) / std, c_noise]),
 * F an MLP (Mish).  Training draws ln(sigma / sd) ~ N(-1.2, 1.2^2) and regresses
 * F onto (a0 - c_skip a) / c_out for a = a0 + sigma n (the weighted loss of
 * EDM in its plain form).  The score is (D(a, s, sigma) - a) / sigma^2.
 *
 * Observations are rows of obs_dim floats (a short state history is
 * simply a longer row); actions rows of action_dim floats (an action chunk
 * of h steps is a row of h x the action size, which the host executes in
 * turn).
 *
 * SAMPLING: x_0 = sigma_max n; Karras' schedule of `steps` noise levels
 * from sigma_max to sigma_min (rho = 7; both in units of sigma_data, so that
 * 8 steps spend as many levels near the actions' scale for a robot's
 * centimetre steps as for unit-scale actions), then 0; Euler steps, or Heun's
 * second-order correction on every step but the last.  distill_diffusion_
 * sample takes a caller workspace and allocates nothing: the teacher the
 * VDD student is timed against.
 *
 * THREAD SAFETY: as the context; distill_diffusion_sample may run on many
 * threads at once on a diffusion nobody trains, each with its own
 * workspace. */
#ifndef DISTILL_DIFFUSION_H
#define DISTILL_DIFFUSION_H

#include <stddef.h>
#include <stdint.h>

#include "core.h"
#include "data.h"
#include "export.h"
#include "status.h"

DISTILL_BEGIN_DECLS

typedef struct distill_diffusion distill_diffusion;

typedef struct distill_diffusion_options {
    uint32_t struct_size; /* sizeof(distill_diffusion_options) */
    int64_t obs_dim;      /* >= 1 */
    int64_t action_dim;   /* 1 .. DISTILL_DIFFUSION_MAX_ACTION */
    int64_t hidden;       /* units of each hidden layer (128) */
    int64_t layers;       /* hidden layers (3) */
    double sigma_data;    /* the data's scale (0: the action std of the training data) */
    double sigma_min;     /* sampler's smallest noise level, in units of sigma_data (0.002) */
    double sigma_max;     /* sampler's largest, in units of sigma_data (10) */
} distill_diffusion_options;

#define DISTILL_DIFFUSION_MAX_ACTION 64
DISTILL_API int64_t distill_diffusion_max_action(void);

DISTILL_API void distill_diffusion_options_init(distill_diffusion_options *opts);
DISTILL_API size_t distill_diffusion_options_size(void);

/* A new, untrained denoiser (parameters from a stream of its own). */
DISTILL_API DISTILL_NODISCARD distill_status
distill_diffusion_create(distill_context *ctx, const distill_diffusion_options *opts,
                         distill_diffusion **out);

/* The host's score: out (n x action_dim) = grad_a log p_sigma(a | s) for
 * the rows a (n x action_dim), s (n x obs_dim) and noise levels sigma (n),
 * all contiguous.  Return 0, or non-zero on failure. */
typedef struct distill_score_vtable {
    uint32_t struct_size; /* sizeof(distill_score_vtable) */
    void *user;
    int (*score)(void *user, int64_t n, const float *a, const float *s, const float *sigma, float *out);
    /* Optional: called once, when the handle is destroyed. */
    void (*release)(void *user);
} distill_score_vtable;
DISTILL_API size_t distill_score_vtable_size(void);

/* A diffusion made of the host's score (copied).  It can be scored (and so
 * distilled), not trained, sampled or saved (DISTILL_E_UNSUPPORTED).  On
 * failure `release` is not called. */
DISTILL_API DISTILL_NODISCARD distill_status
distill_diffusion_from_score(distill_context *ctx, const distill_score_vtable *vtable, int64_t obs_dim,
                             int64_t action_dim, distill_diffusion **out);
/* NULL-safe. */
DISTILL_API void distill_diffusion_destroy(distill_diffusion *d);

DISTILL_API int64_t distill_diffusion_obs_dim(const distill_diffusion *d);
DISTILL_API int64_t distill_diffusion_action_dim(const distill_diffusion *d);
/* The sigma_data in force (set by the first training when the options said 0). */
DISTILL_API double distill_diffusion_sigma_data(const distill_diffusion *d);

typedef struct distill_diffusion_train_options {
    uint32_t struct_size; /* sizeof(distill_diffusion_train_options) */
    int64_t steps;        /* Adam steps (5000) */
    int64_t batch;        /* rows per step (512) */
    double lr;            /* Adam's learning rate, decayed linearly to 0 (3e-3) */
    uint64_t stream;      /* the batches' and noises' stream (0) */
} distill_diffusion_train_options;
DISTILL_API void distill_diffusion_train_options_init(distill_diffusion_train_options *opts);
DISTILL_API size_t distill_diffusion_train_options_size(void);

/* Denoising score matching on demonstrations: x = observations (obs_dim),
 * y starts with the action (action_dim; a trajectory dataset qualifies).
 * The first training also fixes the observation normalisation (and
 * sigma_data when the options left it 0).  final_loss (may be NULL): the
 * mean loss of the last 10% of steps.  Progress per step, cancellation
 * between steps; a failed or cancelled call leaves the handle as it was. */
DISTILL_API DISTILL_NODISCARD distill_status
distill_diffusion_train(distill_diffusion *d, const distill_diffusion_train_options *opts,
                        distill_dataset *demos, double *final_loss);

/* out (n x action_dim) = the score at the rows a, s, sigma (all contiguous;
 * sigma > 0).  A failing host callback is DISTILL_E_BACKEND; non-finite
 * input or output DISTILL_E_NUMERIC. */
DISTILL_API DISTILL_NODISCARD distill_status
distill_diffusion_score(distill_diffusion *d, int64_t n, const float *a, const float *s,
                        const float *sigma, float *out);

#define DISTILL_SAMPLER_EULER 0
#define DISTILL_SAMPLER_HEUN 1

/* Bytes of workspace for distill_diffusion_sample on up to max_batch rows. */
DISTILL_API DISTILL_NODISCARD distill_status
distill_diffusion_workspace_size(const distill_diffusion *d, int64_t max_batch, size_t *bytes);
/* actions (n x action_dim, ldact) sampled for obs (n x obs_dim, ldobs) with
 * `steps` (1 .. 1000) noise levels and DISTILL_SAMPLER_*; the noise comes
 * from the caller's counter *rng_state (advanced).  Allocates nothing,
 * takes no lock, sets no message (as distill_policy_act). */
DISTILL_API DISTILL_NODISCARD distill_status
distill_diffusion_sample(const distill_diffusion *d, void *ws, size_t ws_bytes, int64_t n, const float *obs,
                         int64_t ldobs, int32_t steps, int32_t sampler, uint64_t *rng_state, float *actions,
                         int64_t ldact);

/* The container format (atomically replaced); load checks everything and
 * gives DISTILL_E_FORMAT for a malformed file. */
DISTILL_API DISTILL_NODISCARD distill_status distill_diffusion_save(const distill_diffusion *d,
                                                                    const char *path);
DISTILL_API DISTILL_NODISCARD distill_status distill_diffusion_load(distill_context *ctx, const char *path,
                                                                    distill_diffusion **out);
DISTILL_API DISTILL_NODISCARD distill_status distill_diffusion_load_memory(distill_context *ctx,
                                                                           const void *buf, size_t len,
                                                                           distill_diffusion **out);

DISTILL_END_DECLS

#endif /* DISTILL_DIFFUSION_H */
