/* Private to the learning layer: the model's layout and the per-kind layer
 * operations. */
#ifndef DISTILL_NN_INTERNAL_H
#define DISTILL_NN_INTERNAL_H

#include <stdint.h>

#include "../core/internal.h"
#include "../core/parallel.h"
#include "../core/rng.h"
#include "distill/kernels.h"
#include "distill/model.h"
#include "distill/optim.h"

/* How a forward or backward pass runs: training passes use BLIS with the
 * context's threads; inference uses plain loops (no allocation, no threads)
 * and never touches the context. */
typedef struct nn_env {
    distill_context *ctx; /* NULL: inference */
    int train;            /* batch norm uses batch statistics */
    int threads;          /* for BLIS and the layers' loops (1 inside a parallel region) */
} nn_env;

/* Threads for the layer's own loops and its GEMMs (1 for inference). */
static inline int nn_threads(const nn_env *e) { return e->ctx && e->threads > 1 ? e->threads : 1; }
/* The same for element-wise passes over `count` floats: an OpenMP region
 * costs microseconds, more than a small MLP's whole activation pass. */
static inline int nn_threads_for(const nn_env *e, int64_t count)
{
    return count >= ((int64_t)1 << 16) ? nn_threads(e) : 1;
}

/* Loops worth wider vectors (the inference GEMM, Mish): x86-64 builds get
 * AVX-512 and AVX2 clones picked at load time.  No clone contracts into
 * fused multiply-adds, so every clone gives the same bits: GCC does not in
 * C99 mode, and clang, which does by default whatever the -std, is told
 * not to by DISTILL__NO_CONTRACT at the top of each file with clones. */
#if defined(__clang__)
#define DISTILL__NO_CONTRACT _Pragma("STDC FP_CONTRACT OFF")
#else
#define DISTILL__NO_CONTRACT
#endif
#if defined(__x86_64__) && defined(__GNUC__) && !defined(DISTILL_NO_CLONES) && \
    (!defined(__clang__) || __clang_major__ >= 14)
#define DISTILL__X86_VECTORS 1
#define DISTILL__CLONES __attribute__((target_clones("avx512f", "arch=haswell", "default")))
#else
#define DISTILL__X86_VECTORS 0
#define DISTILL__CLONES
#endif
/* Loops written with AVX2 intrinsics (relu_pool_x86.c, norm_sums_x86.c,
 * conv_panels.c), under DISTILL__X86_VECTORS and called only when the CPU
 * has AVX2 (distill__cpu_avx2). */
#if DISTILL__X86_VECTORS
#define DISTILL__AVX2 __attribute__((target("avx2")))
static inline int distill__cpu_avx2(void) { return __builtin_cpu_supports("avx2"); }
#endif

/* C = alpha op(A) op(B) + beta C, row-major, through BLIS or plain loops. */
/* C = alpha op(A) op(B) + beta C by packed loops when the shape is small
 * (gemm_small.c); returns 0, doing nothing, when it is not. */
int nn_gemm_small(int ta, int tb, int64_t m, int64_t n, int64_t k, float alpha, const float *a,
                  int64_t lda, const float *b, int64_t ldb, float beta, float *c, int64_t ldc);
/* Whether nn_gemm_small takes an m x n x k product. */
int nn_gemm_small_fits(int64_t m, int64_t n, int64_t k);
void nn_gemm(const nn_env *e, int ta, int tb, int64_t m, int64_t n, int64_t k, float alpha,
             const float *a, int64_t lda, const float *b, int64_t ldb, float beta, float *c,
             int64_t ldc);

/* BLIS's one-time set-up (it writes the context), for a caller about to
 * run one-thread GEMMs on several threads at once. */
void nn_gemm_prepare(const nn_env *e);

/* C += A B^T with plain loops, for long reductions into small outputs. */
void nn_gemm_nt_acc(int64_t m, int64_t n, int64_t k, const float *a, int64_t lda, const float *b,
                    int64_t ldb, float *c, int64_t ldc);

typedef struct nn_layer nn_layer;

typedef struct nn_ops {
    /* Output shape from the input shape; DISTILL_E_SHAPE if it cannot be. */
    distill_status (*shape)(nn_layer *l);
    int64_t (*param_count)(const nn_layer *l);
    int64_t (*buffer_count)(const nn_layer *l);
    /* Floats of scratch for n samples (forward and backward), and of
     * per-layer cache kept from forward to backward. */
    int64_t (*scratch)(const nn_layer *l, int64_t n);
    int64_t (*cache)(const nn_layer *l, int64_t n);
    void (*init)(nn_layer *l, float *p, float *buf, distill__rng *r);
    void (*forward)(const nn_env *e, const nn_layer *l, const float *p, float *buf, int64_t n,
                    const float *x, float *y, float *cache, float *scratch);
    /* dx may be NULL; dp may be NULL (no parameter gradients); dp is added to. */
    void (*backward)(const nn_env *e, const nn_layer *l, const float *p, const float *buf,
                     int64_t n, const float *x, const float *y, const float *dy, float *dx,
                     float *dp, const float *cache, float *scratch);
} nn_ops;

/* Activation layouts inside a pass.  The API is batch-first (N C H W);
 * convolutions write channel-first (C N H W: their GEMM's own output, no
 * transpose), and element-wise, pooling and batch-norm layers pass either
 * layout through.  Layers that see a sample as a vector (dense, layer norm,
 * flatten, residual) take batch-first, and the pass converts in between. */
struct nn_layer {
    distill_layer_spec spec;
    const nn_ops *ops;
    int64_t in_c, in_h, in_w, out_c, out_h, out_w;
    int64_t in_dim, out_dim;
    int64_t p_off, p_count, b_off, b_count;
    int cf_in, cf_out; /* input / output channel-first */
};

/* Offset of plane (sample i, channel c) of size hw in a batch of n with C
 * channels, batch-first or channel-first. */
static inline int64_t nn_plane(int cf, int64_t n, int64_t C, int64_t i, int64_t c, int64_t hw)
{
    return (cf ? c * n + i : i * C + c) * hw;
}

/* Convert n samples of C planes of hw floats between the layouts. */
void distill__to_channel_first(int64_t n, int64_t C, int64_t hw, const float *src, float *dst);
void distill__to_batch_first(int64_t n, int64_t C, int64_t hw, const float *src, float *dst);

/* Table entries for layers without parameters, buffers, scratch or cache
 * (model.c). */
int64_t distill__nn_none(const nn_layer *l);
int64_t distill__nn_none_n(const nn_layer *l, int64_t n);
void distill__nn_no_init(nn_layer *l, float *p, float *buf, distill__rng *r);

/* Per-kind operation tables. */
extern const nn_ops distill__dense_ops, distill__conv2d_ops, distill__avgpool_ops,
    distill__maxpool_ops, distill__batchnorm_ops, distill__layernorm_ops,
    distill__activation_ops, distill__flatten_ops, distill__residual_ops;

/* Activations (kind DISTILL_LAYER_RELU ... SOFTPLUS): value and derivative. */
float distill__act(int kind, float x);
float distill__act_grad(int kind, float x);
/* y = act(x) over n floats, in the vectorised loops forward uses. */
void distill__act_rows(int kind, const float *x, float *y, int64_t n);

/* Initialise weights (rows x fan_in) by spec->init; bias (rows, may be NULL);
 * draws from r. */
void distill__init_weights(const distill_layer_spec *spec, int64_t rows, int64_t fan_in,
                           float *w, float *bias, distill__rng *r);

/* ReLU then 2x2 average pooling in one pass (x: the ReLU's input). */
int distill__fusable_relu_pool(const nn_layer *relu, const nn_layer *pool);
void distill__relu_pool_forward(const nn_env *e, const nn_layer *pool, int64_t n, const float *x,
                                float *y);
void distill__relu_pool_backward(const nn_env *e, const nn_layer *pool, int64_t n,
                                 const float *x, const float *dy, float *dx);

/* The ReLU's gradient through the pool when its input is v = a x + b
 * (recomputed from x; 1, 0 is x itself): planes [lo, hi) (pool.c). */
void distill__affine_relu_pool_grad_planes(const nn_layer *pool, float a, float b, const float *x,
                                           const float *dy, float *dx, int64_t lo, int64_t hi);

/* Batch norm, ReLU, 2x2 average pool (l[0 .. 2] of the `left` layers from
 * there) as one pass each way in training passes (norm.c): p, buf and
 * cache are batch norm's, x its input, y the pool's output; backward's dy
 * is the pool's output gradient, dx (required, and aliasing neither x nor
 * dy) batch norm's input gradient, dp (may be NULL) batch norm's parameter
 * gradient, added to. */
int distill__fusable_bn_relu_pool(const nn_layer *l, int64_t left);
void distill__bn_relu_pool_forward(const nn_env *e, const nn_layer *l, const float *p, float *buf, int64_t n,
                                   const float *x, float *y, float *cache);
void distill__bn_relu_pool_backward(const nn_env *e, const nn_layer *l, const float *p, const float *buf,
                                    int64_t n, const float *x, const float *dy, float *dx, float *dp,
                                    const float *cache);

/* Batch norm's sums over eight planes (norm.c; gp NULL: of x and x^2,
 * else of g and g (x - mean)), each plane's one chain of float adds in
 * position order: portable, and in AVX2 (norm_sums_x86.c: 0, doing nothing,
 * without AVX2), the same bits. */
void distill__plane_sums8_c(const float *const xp[8], const float *const gp[8], int64_t hw, float mean,
                            float s1[8], float s2[8]);
int distill__plane_sums8_avx2(const float *const xp[8], const float *const gp[8], int64_t hw, float mean,
                              float s1[8], float s2[8]);

/* Batch norm's eval-mode map of channel c, y = a x + b (norm.c). */
void distill__bn_eval_affine(const nn_layer *l, const float *p, const float *buf, int64_t c, float *a,
                             float *b);
/* Planes [lo, hi) of x through v = a x + b, ReLU and the 2x2 pool (pool.c). */
void distill__affine_relu_pool_planes(const nn_layer *pool, float a, float b, const float *x, float *y,
                                      int64_t lo, int64_t hi);
/* The two fused ReLU-pool loops above as portable C (pool.c) and in AVX2
 * (relu_pool_x86.c: 0, doing nothing, without AVX2), the same bits. */
void distill__affine_relu_pool_planes_c(const nn_layer *pool, float a, float b, const float *x, float *y,
                                        int64_t lo, int64_t hi);
void distill__affine_relu_pool_grad_planes_c(const nn_layer *pool, float a, float b, const float *x,
                                             const float *dy, float *dx, int64_t lo, int64_t hi);
int distill__affine_relu_pool_planes_avx2(const nn_layer *pool, float a, float b, const float *x, float *y,
                                          int64_t lo, int64_t hi);
int distill__affine_relu_pool_grad_planes_avx2(const nn_layer *pool, float a, float b, const float *x,
                                               const float *dy, float *dx, int64_t lo, int64_t hi);

/* A same-size stride-1 convolution's forward GEMM on BLIS's micro-kernel
 * with panels packed here (conv_panels.c): the weights once per pass, the
 * pixels straight from the input planes, where im2col and BLIS's packing
 * copied them twice; the same bits as the columns and nn_gemm.  Weights:
 * [W | b] (distill__conv_weights) packed into `room` (this many floats),
 * NULL when the path does not apply to the layer.  Forward: y (leading
 * dimension ldy) for images [i0, i0 + cn) of a batch of n, on one thread,
 * with `slot` (slot_floats) for a panel; 0, doing nothing, when the chunk
 * is not for this path (then: columns and nn_gemm). */
int64_t distill__conv_panel_room(const nn_layer *l);
const float *distill__conv_pack_weights(const nn_env *e, const nn_layer *l, const float *w, float *room);
int distill__conv_forward_panels(const nn_env *e, const nn_layer *l, const float *wp, int64_t n, int64_t i0,
                                 int64_t cn, const float *x, float *y, int64_t ldy, float *slot,
                                 int64_t slot_floats);
/* A stride-1 convolution whose output has its input's size, over planes
 * that lie next to each other for consecutive images (conv.c). */
int distill__conv_same_planes(const nn_layer *l);

/* Convolution pieces (conv.c): rows of the columns (ic k k, + 1 with a
 * bias), images per chunk when each output position holds `extra` more
 * floats, a chunk's columns, and the GEMM's weights ([W | b] built in wb,
 * oc x rows floats, when there is a bias). */
int64_t distill__conv_rows(const nn_layer *l);
#define DISTILL__CONV_CHUNK_FLOATS ((int64_t)1 << 20) /* 4 MiB of chunks, shared by the threads */
#define DISTILL__MAX_WAYS 8 /* threads that share a pass's chunks, at most */
int64_t distill__conv_chunk(const nn_layer *l, int64_t n, int64_t extra, int64_t ways);
/* A batch of n in chunks of `step` images, shared by `ways` threads: way
 * t's chunks [c0, c1), the first image of chunk c and how many it holds
 * (ceil(n / step) chunks of even sizes, at most step). */
void distill__chunk_share(int64_t n, int64_t step, int64_t ways, int64_t t, int64_t *c0, int64_t *c1);
int64_t distill__chunk_start(int64_t n, int64_t step, int64_t c);
int64_t distill__chunk_images(int64_t n, int64_t step, int64_t c);
void distill__conv_columns(const nn_env *e, const nn_layer *l, int64_t n, int64_t i0, int64_t cn,
                           const float *x, float *cols);
const float *distill__conv_weights(const nn_layer *l, const float *p, float *wb);

/* Conv, batch norm, ReLU, 2x2 average pool in eval mode as one pass
 * (block.c): l[0 .. 3] of the `left` layers from there; p and buf are the
 * model's, x the conv's input (channel-first or not), y the pool's output
 * (channel-first); scratch holds distill__block_scratch floats. */
int distill__fusable_block(const nn_layer *l, int64_t left);
int64_t distill__block_scratch(const nn_layer *conv, int64_t n);
void distill__block_forward(const nn_env *e, const nn_layer *l, const float *p, const float *buf,
                            int64_t n, const float *x, float *y, float *scratch);

/* Dense-layer pieces shared with the residual block. */
void distill__dense_fwd(const nn_env *e, int64_t n, int64_t in, int64_t out, const float *w,
                        const float *b, const float *x, float *y);
void distill__dense_bwd(const nn_env *e, int64_t n, int64_t in, int64_t out, const float *w,
                        const float *x, const float *dy, float *dx, float *dw, float *db);

struct distill_model {
    distill_context *ctx;
    int64_t n_layers;
    nn_layer *layers;
    int64_t in_c, in_h, in_w;
    int64_t n_params, n_buffers;
    float *params, *grads, *buffers;
    uint64_t stream;
    /* training state: activations a_0 .. a_L for `cap` samples */
    int64_t cap, n_last;
    float **acts, **caches, *scratch, *grad_a, *grad_b;
    int has_forward;
    int train_last;        /* mode of the last forward */
};

void distill__model_release_training(distill_model *m);

/* The passes' layout conversions (layout.c); tmp holds n * max_dim floats. */
void distill__fix_input(const distill_model *m, int64_t i, int64_t n, float *act, float *tmp);
void distill__fix_input_grad(const distill_model *m, int64_t i, int64_t n, float *grad, float *tmp);
void distill__output_rows(const distill_model *m, int64_t n, const float *out, float *tmp,
                          float *y, int64_t ldy);
void distill__output_grad(const distill_model *m, int64_t n, const float *dy, int64_t lddy,
                          float *tmp, float *g);
/* distill_model_create, failing with DISTILL_E_FORMAT before allocating the
 * parameters when their count (or the buffers') differs from the expected
 * one (-1: any). */
distill_status distill__model_create_expect(distill_context *ctx, const distill_model_options *opts,
                                            int64_t n_params, int64_t n_buffers, distill_model **out);

/* The model's sections (spec, parameters, buffers) into a container that
 * may hold others: a policy file is a model file plus its own section, and
 * distill_model_load_memory reads the model back out of it. */
struct distill__writer;
void distill__model_put(struct distill__writer *w, const distill_model *m);

/* An optimiser's state (distill_optimizer_state_count floats) in place,
 * for checkpoints that read and write it without a copy (so a resume that
 * has checked its file allocates nothing while it writes). */
float *distill__optimizer_state(distill_optimizer *o);
const float *distill__optimizer_state_view(const distill_optimizer *o);
int64_t distill__optimizer_steps(const distill_optimizer *o);
void distill__optimizer_set_steps(distill_optimizer *o, int64_t steps);

#endif /* DISTILL_NN_INTERNAL_H */
