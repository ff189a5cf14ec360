/* The learning layer's forward for callers above it that need outputs
 * only: features of a real batch, a teacher's targets, a probe's inputs. */
#ifndef DISTILL_NN_PREDICT_H
#define DISTILL_NN_PREDICT_H

#include "distill/model.h"

/* distill_model_forward in eval mode, the same bits, with each
 * conv-BN-ReLU-2x2 pool block as one pass (block.c).  No backward may
 * follow: distill_model_backward after it fails as after no forward. */
distill_status distill__model_predict(distill_model *m, int64_t n, const float *x, int64_t ldx, float *y,
                                      int64_t ldy);

#endif
