/* libdistill: networks (distill_model).
 *
 * A model is built from an array of layer descriptors.  All parameters
 * live in one flat float array (and the batch-norm running statistics in a
 * second one, the "buffers"), both readable and writable by the host, with
 * a view per layer.  Forward runs in train or eval mode; backward gives the
 * parameter gradients, the input gradients, or both.  Inference through
 * distill_model_infer() takes a caller workspace and allocates nothing,
 * takes no lock and starts no thread.
 *
 * Samples are rows: an image input is C x H x W, channel-major, and dense
 * layers see a sample as a flat vector.
 *
 * THREAD SAFETY: one thread at a time per model, except
 * distill_model_infer(), which any number of threads may call at once on a
 * model nobody is modifying, each with its own workspace. */
#ifndef DISTILL_MODEL_H
#define DISTILL_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "core.h"
#include "export.h"
#include "status.h"

DISTILL_BEGIN_DECLS

typedef struct distill_model distill_model;

enum {
    DISTILL_LAYER_DENSE = 1,        /* units outputs; bias */
    DISTILL_LAYER_CONV2D = 2,       /* units output channels, kernel x kernel, stride, padding; bias */
    DISTILL_LAYER_AVGPOOL = 3,      /* kernel x kernel window, stride (0 = kernel) */
    DISTILL_LAYER_MAXPOOL = 4,
    DISTILL_LAYER_BATCHNORM = 5,    /* per channel; momentum, eps; affine */
    DISTILL_LAYER_LAYERNORM = 6,    /* over a sample's features; eps; affine */
    DISTILL_LAYER_RELU = 7,
    DISTILL_LAYER_TANH = 8,
    DISTILL_LAYER_SIGMOID = 9,
    DISTILL_LAYER_GELU = 10,        /* exact (erf) form */
    DISTILL_LAYER_MISH = 11,
    DISTILL_LAYER_SOFTPLUS = 12,
    DISTILL_LAYER_FLATTEN = 13,
    DISTILL_LAYER_RESIDUAL_MLP = 14 /* y = x + W2 relu(W1 x + b1) + b2, units hidden */
};

enum {
    DISTILL_INIT_DEFAULT = 0,         /* U(+-1/sqrt(fan_in)) weights and biases (PyTorch's) */
    DISTILL_INIT_KAIMING_NORMAL = 1,  /* N(0, 2/fan_in), zero bias */
    DISTILL_INIT_KAIMING_UNIFORM = 2, /* U(+-sqrt(6/fan_in)), zero bias */
    DISTILL_INIT_ORTHOGONAL = 3,      /* orthogonal rows/columns times init_gain, zero bias */
    DISTILL_INIT_ZEROS = 4,
    DISTILL_INIT_SIGNED_CONSTANT = 5, /* +-init_gain*sqrt(2/fan_in) with random sign, zero bias */
    DISTILL_INIT_GLOROT_UNIFORM = 6   /* U(+-sqrt(6/(fan_in+fan_out))), zero bias (Keras') */
};

typedef struct distill_layer_spec {
    uint32_t struct_size; /* sizeof(distill_layer_spec); the same for every element */
    int32_t kind;         /* DISTILL_LAYER_* */
    int64_t units;        /* dense / residual hidden width; conv output channels */
    int32_t kernel;       /* conv and pool window */
    int32_t stride;       /* conv (0 = 1) and pool (0 = kernel) */
    int32_t padding;      /* conv zero padding */
    int32_t bias;         /* dense / conv / residual: 1 = with bias (default) */
    int32_t init;         /* DISTILL_INIT_* */
    float init_gain;      /* orthogonal and signed-constant gain (0 = 1) */
    float momentum;       /* batch norm running-statistics momentum (0 = 0.1) */
    float eps;            /* batch / layer norm epsilon (0 = 1e-5) */
} distill_layer_spec;

/* Fill one descriptor with defaults for `kind`. */
DISTILL_API void distill_layer_spec_init(distill_layer_spec *spec, int32_t kind);
DISTILL_API size_t distill_layer_spec_size(void);

/* The ConvNet of the dataset-distillation literature: `blocks` x (conv 3x3
 * pad 1 with width << i channels, batch norm if `batchnorm`, ReLU, 2x2
 * average pool), then flatten.  Writes the descriptors into out (room for
 * `cap`) and returns how many (4 or 3 per block, plus 1); 0 if out is NULL,
 * cap is too small, blocks < 1 or width < 1. */
DISTILL_API int64_t distill_convnet_layers(int64_t blocks, int64_t width, int batchnorm,
                                           distill_layer_spec *out, int64_t cap);

typedef struct distill_model_options {
    uint32_t struct_size;   /* sizeof(distill_model_options) */
    uint32_t flags;         /* reserved, 0 */
    int64_t in_c, in_h, in_w; /* input sample shape; a vector is d x 1 x 1 */
    const distill_layer_spec *layers;
    int64_t n_layers;
} distill_model_options;

DISTILL_API void distill_model_options_init(distill_model_options *opts);
DISTILL_API size_t distill_model_options_size(void);

/* Build a model and initialise its parameters from the context's RNG (a
 * stream of the model's own).  The layers are copied. */
DISTILL_API DISTILL_NODISCARD distill_status
distill_model_create(distill_context *ctx, const distill_model_options *opts,
                     distill_model **out);
DISTILL_API void distill_model_destroy(distill_model *model);

/* A new model with the same spec, parameters and buffers. */
DISTILL_API DISTILL_NODISCARD distill_status distill_model_clone(const distill_model *model,
                                                                 distill_model **out);
/* Copy parameters and buffers between models of the same spec. */
DISTILL_API DISTILL_NODISCARD distill_status distill_model_copy_params(distill_model *dst,
                                                                       const distill_model *src);
/* Draw fresh parameters (and reset buffers) from stream `stream`. */
DISTILL_API DISTILL_NODISCARD distill_status distill_model_reinit(distill_model *model,
                                                                  uint64_t stream);

DISTILL_API int64_t distill_model_input_dim(const distill_model *model);
DISTILL_API int64_t distill_model_output_dim(const distill_model *model);
DISTILL_API int64_t distill_model_n_layers(const distill_model *model);
/* Output shape of layer i (i = -1: the input). */
DISTILL_API DISTILL_NODISCARD distill_status
distill_model_layer_shape(const distill_model *model, int64_t layer, int64_t *c, int64_t *h,
                          int64_t *w);

/* The flat parameter, gradient and buffer arrays (owned by the model). */
DISTILL_API float *distill_model_params(distill_model *model);
DISTILL_API float *distill_model_grads(distill_model *model);
DISTILL_API float *distill_model_buffers(distill_model *model);
DISTILL_API int64_t distill_model_param_count(const distill_model *model);
DISTILL_API int64_t distill_model_buffer_count(const distill_model *model);
/* Where layer i's parameters sit in the flat array (weights first, then
 * bias; batch/layer norm: gamma then beta). */
DISTILL_API DISTILL_NODISCARD distill_status
distill_model_layer_params(const distill_model *model, int64_t layer, int64_t *offset,
                           int64_t *count);

enum { DISTILL_MODE_EVAL = 0, DISTILL_MODE_TRAIN = 1 };

/* y (n x output_dim) = f(x); keeps what backward needs.  Train mode uses
 * batch statistics in batch norm and updates its running statistics. */
DISTILL_API DISTILL_NODISCARD distill_status
distill_model_forward(distill_model *model, int mode, int64_t n, const float *x, int64_t ldx,
                      float *y, int64_t ldy);

enum {
    DISTILL_BACKWARD_PARAMS = 1,    /* write dL/dparams into the gradient array */
    DISTILL_BACKWARD_ACCUMULATE = 2 /* add to it instead */
};

/* Backpropagate dL/dy of the last forward.  dx (n x input_dim) may be NULL;
 * flags may be 0 (input gradient only).  The parameters and buffers must be
 * those the forward ran with: backward recomputes some of its values. */
DISTILL_API DISTILL_NODISCARD distill_status
distill_model_backward(distill_model *model, const float *dy, int64_t lddy, float *dx,
                       int64_t lddx, int flags);

DISTILL_API void distill_model_zero_grad(distill_model *model);

/* The host's loss: write dL/dy for outputs y; return 0, or non-zero to stop. */
typedef int (*distill_loss_grad_fn)(void *user, int64_t n, const float *y, int64_t ldy,
                                    float *dy, int64_t lddy);

/* dx = d/dx < dL/dtheta (theta; x), v > for a parameter-shaped v: the input
 * gradient of a gradient-matching loss.  Central differences in theta:
 * (dL/dx(theta + eps v) - dL/dx(theta - eps v)) / (2 eps); eps 0 picks a
 * step from the sizes of theta and v.  Parameters, gradients and buffers are
 * left as they were. */
DISTILL_API DISTILL_NODISCARD distill_status
distill_model_mixed_grad(distill_model *model, int mode, int64_t n, const float *x,
                         int64_t ldx, distill_loss_grad_fn loss_grad, void *user,
                         const float *v, float eps, float *dx, int64_t lddx);

/* ---- Files --------------------------------------------------------------- */

/* Save the spec, parameters and buffers in the library's container format.
 * The file is replaced atomically: an interrupted save leaves the previous
 * file intact. */
DISTILL_API DISTILL_NODISCARD distill_status distill_model_save(const distill_model *model,
                                                                const char *path);
/* Load a saved model; anything malformed gives DISTILL_E_FORMAT. */
DISTILL_API DISTILL_NODISCARD distill_status
distill_model_load(distill_context *ctx, const char *path, distill_model **out);
DISTILL_API DISTILL_NODISCARD distill_status
distill_model_load_memory(distill_context *ctx, const void *buf, size_t len,
                          distill_model **out);

/* ---- Allocation-free inference (eval mode) ---------------------------- */

DISTILL_API DISTILL_NODISCARD distill_status
distill_model_workspace_size(const distill_model *model, int64_t max_batch, size_t *bytes);
/* y = f(x) in eval mode with the caller's workspace: no allocation, no
 * lock, no thread, no log.  n <= the max_batch the workspace was sized for.
 * What it checks: the pointers, n >= 1, the leading dimensions and the
 * workspace's size (DISTILL_E_INVAL, _SHAPE, _WORKSPACE), and nothing in the
 * numbers: a NaN or Inf input row gives whatever the layers make of it
 * (often finite output) with DISTILL_OK.  distill_model_infer_checked adds
 * that check. */
DISTILL_API DISTILL_NODISCARD distill_status
distill_model_infer(const distill_model *model, void *ws, size_t ws_bytes, int64_t n,
                    const float *x, int64_t ldx, float *y, int64_t ldy);
/* distill_model_infer, refusing non-finite numbers (0.2): DISTILL_E_NUMERIC
 * when x holds a NaN or Inf (nothing is computed) or y would (y is then
 * written).  One pass over the input and one over the output, still no
 * allocation: what a controller can afford to reject a bad sensor row. */
DISTILL_API DISTILL_NODISCARD distill_status
distill_model_infer_checked(const distill_model *model, void *ws, size_t ws_bytes, int64_t n,
                            const float *x, int64_t ldx, float *y, int64_t ldy);

DISTILL_END_DECLS

#endif /* DISTILL_MODEL_H */
