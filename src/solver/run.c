/* The solvers' shared run loop (run.h). */
#include "run.h"

distill_status distill__run_steps(distill_context *ctx, const char *stage, const int64_t *done, int64_t until,
                                  distill__step_fn step, void *solver)
{
    if (*done < until)
        DISTILL__TRY(distill__progress(ctx, stage, *done, until));
    while (*done < until) {
        DISTILL__TRY(step(solver));
        DISTILL__TRY(distill__progress(ctx, stage, *done, until));
    }
    return DISTILL_OK;
}
