/* Private: a model's and an optimiser's state in the library's container,
 * shared by the solvers' checkpoints (KRR-ST's pool, KD's student). */
#ifndef DISTILL_SOLVER_STATE_IO_H
#define DISTILL_SOLVER_STATE_IO_H

#include "../core/container.h"
#include "distill/model.h"
#include "distill/optim.h"

/* i64 steps, i64 count, f32 moments. */
distill_status distill__put_optimizer(distill__writer *w, distill_context *ctx, const distill_optimizer *o,
                                      const char *fn);
/* f32 params, f32 buffers, then the optimiser. */
distill_status distill__put_model(distill__writer *w, distill_context *ctx, distill_model *m,
                                  const distill_optimizer *o, const char *fn);
/* Their sizes in bytes, to check a section before reading it. */
int64_t distill__optimizer_bytes(const distill_optimizer *o);
int64_t distill__model_bytes(const distill_model *m, const distill_optimizer *o);
/* Do the optimiser's (or the model's, then its optimiser's) step and
 * moment counts at *c fit, and is every float finite?  Advances *c past
 * them; reads nothing into the model, so a solver can check a whole file
 * before it changes anything. */
int distill__optimizer_state_fits(distill__cursor *c, const distill_optimizer *o);
int distill__model_state_fits(distill__cursor *c, const distill_model *m, const distill_optimizer *o);
/* Read them back (the section's length was checked): DISTILL_E_FORMAT if
 * the moment count or step count is wrong. */
distill_status distill__get_optimizer(distill__cursor *c, distill_context *ctx, distill_optimizer *o,
                                      const char *fn);
distill_status distill__get_model(distill__cursor *c, distill_context *ctx, distill_model *m,
                                  distill_optimizer *o, const char *fn);

#endif /* DISTILL_SOLVER_STATE_IO_H */
