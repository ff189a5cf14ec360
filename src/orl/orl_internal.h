/* Private: the offline-RL distillation solver's layout. */
#ifndef DISTILL_ORL_INTERNAL_H
#define DISTILL_ORL_INTERNAL_H

#include "../core/internal.h"
#include "distill/optim.h"
#include "distill/orl.h"

struct distill_orl {
    distill_context *ctx;
    distill_orl_options o;      /* pointers cleared; layers copied below */
    distill_layer_spec *layers;
    distill_dataset *real;
    distill_model *net;         /* the network gradients are matched on */
    distill_optimizer *opt;     /* Adam on the states */
    distill_optimizer *student_opt; /* DISTILL_ORL_STUDENT */
    float *states, *labels;     /* m x dim; m action indices */
    float *low, *high;          /* dim each, or NULL */
    int64_t m, dim, k, step, c, h, w;
    uint64_t stream;
    /* bucket a: real rows real_idx[real_start[a] .. real_start[a+1]),
     * synthetic rows syn_start[a] .. syn_start[a+1] */
    int64_t *real_idx, *real_start, *syn_start, *pick;
    int64_t rows;               /* scratch rows: the largest real batch or bucket */
    float *gr, *gs, *v;         /* one parameter vector each */
    float *gr_cache;            /* k parameter vectors: variant A on whole buckets */
    int gr_cached;
    float *xb, *zb, *dzb, *lab; /* scratch rows */
    float *dstates;             /* m x dim */
};

/* The matching loss and (dstates non-NULL) its gradient for the network of
 * step `step` (set up by distill__orl_network_for). */
distill_status distill__orl_match(distill_orl *s, double *loss, float *dstates, int64_t ldd);
/* The fixed network (variant A) or the student's start (B), from the
 * solver's stream: again after a resume restores the stream. */
distill_status distill__orl_first_network(distill_orl *s);
/* Make s->net the network of step `step`. */
distill_status distill__orl_network_for(distill_orl *s, int64_t step);

#endif /* DISTILL_ORL_INTERNAL_H */
