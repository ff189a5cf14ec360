/* Private: the diffusion handle's layout and the EDM preconditioning. */
#ifndef DISTILL_DIFFUSION_INTERNAL_H
#define DISTILL_DIFFUSION_INTERNAL_H

#include <math.h>

#include "../core/internal.h"
#include "distill/diffusion.h"
#include "distill/model.h"

struct distill_diffusion {
    distill_context *ctx;
    distill_diffusion_options o;
    distill_model *net;        /* F; NULL for a host score */
    distill_score_vtable vt;   /* the host's score (net == NULL) */
    float *obs_mean, *obs_std; /* normalisation of the observations (obs_dim each) */
    int32_t fitted;            /* trained at least once: normalisation and sigma_data fixed */
    float *scratch;            /* score's rows: F's input and output for `scratch_rows` rows */
    int64_t scratch_rows;
};

/* The preconditioning of Karras et al. (2022) at noise level sigma. */
typedef struct distill__edm {
    float skip, out, in, noise;
} distill__edm;

static inline distill__edm distill__edm_at(double sigma, double sd)
{
    const double v = sigma * sigma + sd * sd;
    distill__edm c;
    c.skip = (float)(sd * sd / v);
    c.out = (float)(sigma * sd / sqrt(v));
    c.in = (float)(1.0 / sqrt(v));
    c.noise = (float)(0.25 * log(sigma));
    return c;
}

/* F's input row for action a at noise level c: [c_in a, normalised s, c_noise]. */
void distill__diffusion_input(const distill_diffusion *d, const float *a, const float *s, distill__edm c,
                              float *row);

/* A denoiser (untrained) with the options' sizes; the options are checked. */
distill_status distill__diffusion_make(distill_context *ctx, const char *fn, const distill_diffusion_options *o,
                                       distill_model *net, distill_diffusion **out);

#endif /* DISTILL_DIFFUSION_INTERNAL_H */
