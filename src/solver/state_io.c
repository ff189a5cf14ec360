/* A model's and an optimiser's state in a container section (state_io.h). */
#include <math.h>

#include "../core/internal.h"
#include "../nn/internal.h"
#include "state_io.h"

distill_status distill__put_optimizer(distill__writer *w, distill_context *ctx, const distill_optimizer *o,
                                      const char *fn)
{
    const int64_t n = distill_optimizer_state_count(o);
    (void)ctx, (void)fn;
    distill__put_i64(w, distill__optimizer_steps(o)), distill__put_i64(w, n);
    distill__put_f32s(w, distill__optimizer_state_view(o), n);
    return DISTILL_OK;
}

distill_status distill__put_model(distill__writer *w, distill_context *ctx, distill_model *m,
                                  const distill_optimizer *o, const char *fn)
{
    distill__put_f32s(w, distill_model_params(m), distill_model_param_count(m));
    distill__put_f32s(w, distill_model_buffers(m), distill_model_buffer_count(m));
    return distill__put_optimizer(w, ctx, o, fn);
}

int64_t distill__optimizer_bytes(const distill_optimizer *o) { return 16 + 4 * distill_optimizer_state_count(o); }

int64_t distill__model_bytes(const distill_model *m, const distill_optimizer *o)
{
    return 4 * (distill_model_param_count(m) + distill_model_buffer_count(m)) + distill__optimizer_bytes(o);
}

/* n floats at *c, all finite (a file whose CRCs were made to fit its
 * damage still cannot put a NaN into a solver); advances *c past them. */
static int finite_floats(distill__cursor *c, int64_t n)
{
    int64_t i;
    if (c->bad || c->end - c->p < 4 * n)
        return 0;
    for (i = 0; i < n; i++)
        if (!isfinite(distill__get_f32(c)))
            return 0;
    return 1;
}

int distill__optimizer_state_fits(distill__cursor *c, const distill_optimizer *o)
{
    const int64_t steps = distill__get_i64(c), n = distill__get_i64(c);
    if (c->bad || steps < 0 || n != distill_optimizer_state_count(o))
        return 0;
    return finite_floats(c, n);
}

int distill__model_state_fits(distill__cursor *c, const distill_model *m, const distill_optimizer *o)
{
    return finite_floats(c, distill_model_param_count(m) + distill_model_buffer_count(m)) &&
           distill__optimizer_state_fits(c, o);
}

distill_status distill__get_optimizer(distill__cursor *c, distill_context *ctx, distill_optimizer *o,
                                      const char *fn)
{
    const int64_t steps = distill__get_i64(c), n = distill__get_i64(c);
    if (n != distill_optimizer_state_count(o) || steps < 0)
        return distill__fail(ctx, DISTILL_E_FORMAT, "%s: the optimiser state does not fit", fn);
    distill__get_f32s(c, distill__optimizer_state(o), n); /* in place: nothing to allocate */
    distill__optimizer_set_steps(o, steps);
    return DISTILL_OK;
}

distill_status distill__get_model(distill__cursor *c, distill_context *ctx, distill_model *m,
                                  distill_optimizer *o, const char *fn)
{
    distill__get_f32s(c, distill_model_params(m), distill_model_param_count(m));
    distill__get_f32s(c, distill_model_buffers(m), distill_model_buffer_count(m));
    return distill__get_optimizer(c, ctx, o, fn);
}
