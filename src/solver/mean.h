/* Private: the mean of the losses since it was last taken, behind the
 * solvers' *_recent_loss calls. */
#ifndef DISTILL_SOLVER_MEAN_H
#define DISTILL_SOLVER_MEAN_H

#include <math.h>
#include <stdint.h>

typedef struct distill__mean {
    double sum;
    int64_t count;
} distill__mean;

static inline void distill__mean_add(distill__mean *m, double v) { m->sum += v, m->count++; }

/* The mean so far (NaN if nothing was added), and start again. */
static inline double distill__mean_take(distill__mean *m)
{
    const double v = m->count ? m->sum / (double)m->count : NAN;
    m->sum = 0.0, m->count = 0;
    return v;
}

#endif /* DISTILL_SOLVER_MEAN_H */
