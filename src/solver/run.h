/* Private: the run loop every solver's *_run shares: steps until a count
 * is reached, reporting progress and honouring cancellation between steps
 * (a context cancelled before the call takes no step). */
#ifndef DISTILL_SOLVER_RUN_H
#define DISTILL_SOLVER_RUN_H

#include <stdint.h>

#include "../core/internal.h"

typedef distill_status (*distill__step_fn)(void *solver);

/* *done is the solver's step counter, which each step advances. */
distill_status distill__run_steps(distill_context *ctx, const char *stage, const int64_t *done, int64_t until,
                                  distill__step_fn step, void *solver);

#endif /* DISTILL_SOLVER_RUN_H */
