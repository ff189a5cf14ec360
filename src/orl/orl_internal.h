/* Private: the offline-RL distillation solver's layout. */
#ifndef DISTILL_ORL_INTERNAL_H
#define DISTILL_ORL_INTERNAL_H

#include "../core/internal.h"
#include "distill/optim.h"
#include "distill/orl.h"

struct distill_orl {
    distill_context *ctx;
    distill_orl_options o;       /* pointers cleared; layers copied below */
    distill_layer_spec *layers;
    distill_dataset *real;
    distill_model *net;          /* the network gradients are matched on */
    distill_optimizer *opt;      /* Adam on the state parameters */
    distill_optimizer *act_opt;  /* Adam on the actions (learn_actions) */
    distill_optimizer *student_opt; /* DISTILL_ORL_STUDENT */
    int discrete;
    int64_t m, dim, k, ad, nb, yd, pdim, angles, step, c, h, w;
    float *params;               /* m x pdim: what the optimiser moves */
    float *states, *labels;      /* m x dim (params mapped); m x ad */
    float *dparams, *dlabels, *dstates;
    float *low, *high;           /* dim each, or NULL */
    uint64_t stream;
    /* bucket b (an action, or everything when continuous): real rows
     * real_idx[real_start[b] .. real_start[b+1]), synthetic rows
     * syn_start[b] .. syn_start[b+1] */
    int64_t *real_idx, *real_start, *syn_start, *pick;
    float *gr, *gs, *v;          /* one parameter vector each */
    float *gr_cache;             /* nb parameter vectors: variant A on whole buckets */
    int gr_cached;
    /* scratch for the largest real batch or synthetic bucket (lab: x max(yd, ad)) */
    float *xb, *zb, *zb2, *dzb, *lab;
};

/* The matching loss and (dstates non-NULL) its gradient with respect to
 * the states, and (dlabels non-NULL, continuous) to the actions, for the
 * network distill__orl_network_for set up. */
distill_status distill__orl_match(distill_orl *s, double *loss, float *dstates, int64_t ldd, float *dlabels);
/* The fixed network (variant A) or the student's start (B), from the
 * solver's stream: again after a resume restores the stream. */
distill_status distill__orl_first_network(distill_orl *s);
/* Make s->net the network of step `step`. */
distill_status distill__orl_network_for(distill_orl *s, int64_t step);

/* states = the map of params (angles onto the circle); dparams = its
 * transpose Jacobian applied to dstates. */
void distill__orl_map(const distill_orl *s, const float *params, float *states);
void distill__orl_map_grad(const distill_orl *s, const float *params, const float *dstates, float *dparams);
/* params from states (angles from the pairs). */
void distill__orl_unmap(const distill_orl *s, const float *states, int64_t ld, float *params);

#endif /* DISTILL_ORL_INTERNAL_H */
