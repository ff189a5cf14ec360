/* Private: a model frozen for inference one row at a time (the real-time
 * act of src/policy).  Dense layers keep their weights transposed (in x
 * out), so that a row's output is a sum of weight rows scaled by its
 * inputs: one vector pass over the outputs per input, where
 * distill_model_infer pays a dot product and its reduction per output
 * (most of a batch-1 act of a small MLP).  Models of dense and
 * element-wise activation layers only.  Made once from a model that will
 * not change, then read by any number of threads: no allocation, no lock,
 * no message. */
#ifndef DISTILL_NN_FROZEN_H
#define DISTILL_NN_FROZEN_H

#include "distill/model.h"

typedef struct distill__frozen distill__frozen;

/* DISTILL_E_UNSUPPORTED (no message) for a model with other layers;
 * DISTILL_E_NOMEM with a message in the model's context. */
distill_status distill__frozen_make(const distill_model *m, distill__frozen **out);
void distill__frozen_free(distill__frozen *f);
/* Floats of scratch one row needs. */
int64_t distill__frozen_scratch(const distill__frozen *f);
/* y (the model's outputs) of one row x; DISTILL_E_NUMERIC (nothing else
 * checked) when x or y holds NaN or Inf, as distill_model_infer_checked. */
distill_status distill__frozen_row(const distill__frozen *f, const float *x, float *y, float *scratch);

#endif /* DISTILL_NN_FROZEN_H */
