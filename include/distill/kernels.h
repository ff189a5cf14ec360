/* libdistill: kernels, the inner loops hosts call directly.
 *
 * Pure functions on caller-owned float buffers.  Matrices are row-major:
 * element (i, j) of X is X[i * ldx + j], and ldx >= the number of columns.
 * Functions that need scratch memory take (ws, ws_bytes) and have a
 * *_workspace_size() query; with a large enough workspace they allocate
 * nothing themselves (BLIS keeps its own packing buffers), with ws == NULL
 * they allocate through the context and free before returning.
 *
 * Every call validates its arguments (NULL, sizes < 1, leading dimensions,
 * workspace size, NaN/Inf where it would poison the result) and returns a
 * status; on failure the message is in distill_context_last_error(ctx) and
 * outputs are unspecified unless a function says otherwise.
 *
 * THREAD SAFETY: as the context (one thread at a time per context).  The
 * thread count of each BLIS call is the context's, passed per call. */
#ifndef DISTILL_KERNELS_H
#define DISTILL_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#include "core.h"
#include "export.h"
#include "status.h"

DISTILL_BEGIN_DECLS

/* ---- BLIS ------------------------------------------------------------- */

/* The BLIS sub-configuration in use ("skx", "haswell", "generic", ...).
 * Unless BLIS_ARCH_TYPE is set in the environment, the library selects the
 * best one the CPU supports before BLIS initialises (see docs/performance.md).
 * Static storage; never NULL.  Initialises BLIS if needed. */
DISTILL_API const char *distill_context_blis_arch(distill_context *ctx);

/* ---- GEMM ------------------------------------------------------------- */

enum { DISTILL_NO_TRANS = 0, DISTILL_TRANS = 1 };

/* C = alpha * op(A) * op(B) + beta * C, where op(A) is m x k, op(B) is k x n
 * and C is m x n.  With beta == 0, C need not be initialised. */
DISTILL_API DISTILL_NODISCARD distill_status
distill_sgemm(distill_context *ctx, int trans_a, int trans_b, int64_t m, int64_t n,
              int64_t k, float alpha, const float *a, int64_t lda, const float *b,
              int64_t ldb, float beta, float *c, int64_t ldc);

/* ---- Cholesky --------------------------------------------------------- */

/* Factor the symmetric positive definite n x n matrix A (its lower triangle
 * is read) as L L^T; L overwrites the lower triangle, the strict upper
 * triangle is left alone.  If a pivot is not positive, the factorisation is
 * retried at most three times with a growing diagonal jitter (logged as a
 * warning); if it still fails A is restored and DISTILL_E_NUMERIC names the
 * pivot.  A jitter lets a singular system (a KRR fit on duplicate points)
 * "succeed" with huge solutions: the context records the largest one
 * (distill_context_max_jitter) and can refuse it past a limit
 * (distill_context_set_jitter_limit).  Blocked (recursive) on BLIS
 * syrk/trsm. */
DISTILL_API DISTILL_NODISCARD distill_status
distill_cholesky_workspace_size(int64_t n, size_t *bytes);
/* The largest diagonal jitter any factorisation on ctx needed since the
 * context was made or last reset, relative to its matrix's mean diagonal
 * (0: none).  Every KRR fit, KRR-ST step and solve goes through it. */
DISTILL_API double distill_context_max_jitter(const distill_context *ctx);
DISTILL_API void distill_context_reset_jitter(distill_context *ctx);
/* Refuse (DISTILL_E_NUMERIC) a factorisation that needs a relative jitter
 * above limit (0, the default: accept any of the three retries). */
DISTILL_API DISTILL_NODISCARD distill_status
distill_context_set_jitter_limit(distill_context *ctx, double limit);
DISTILL_API DISTILL_NODISCARD distill_status
distill_cholesky(distill_context *ctx, int64_t n, float *a, int64_t lda, void *ws,
                 size_t ws_bytes);

/* Solve op(L) X = B in place (B is n x nrhs), L lower triangular n x n.
 * trans = DISTILL_NO_TRANS solves L X = B, DISTILL_TRANS solves L^T X = B. */
DISTILL_API DISTILL_NODISCARD distill_status
distill_trsm_lower(distill_context *ctx, int trans, int64_t n, int64_t nrhs, const float *l,
                   int64_t ldl, float *b, int64_t ldb);

/* Solve (L L^T) X = B in place, with L from distill_cholesky. */
DISTILL_API DISTILL_NODISCARD distill_status
distill_cholesky_solve(distill_context *ctx, int64_t n, int64_t nrhs, const float *l,
                       int64_t ldl, float *b, int64_t ldb);

/* ---- Kernel ridge regression ------------------------------------------ */

enum { DISTILL_KERNEL_LINEAR = 0, DISTILL_KERNEL_RBF = 1 };
enum { DISTILL_RIDGE_ABSOLUTE = 0, DISTILL_RIDGE_RELATIVE = 1 };
enum { DISTILL_KRR_AUTO = 0, DISTILL_KRR_DUAL = 1, DISTILL_KRR_PRIMAL = 2 };

typedef struct distill_krr_options {
    uint32_t struct_size; /* sizeof(distill_krr_options) */
    uint32_t flags;       /* reserved, 0 */
    int32_t kernel;       /* DISTILL_KERNEL_LINEAR (default) or _RBF */
    int32_t bias;         /* 1 (default): append a constant-1 feature, i.e. add 1 to k(a, b) */
    int32_t ridge_mode;   /* DISTILL_RIDGE_RELATIVE (default): lambda = ridge * trace(K_ss) */
    int32_t form;         /* linear kernel fit: DISTILL_KRR_AUTO (default), _DUAL or _PRIMAL */
    double ridge;         /* default 1e-6, as in KRR-ST; lambda is never differentiated */
    double gamma;         /* RBF: k(a, b) = exp(-gamma |a - b|^2); 0 (default) = 1/d */
} distill_krr_options;

DISTILL_API void distill_krr_options_init(distill_krr_options *opts);
DISTILL_API size_t distill_krr_options_size(void);

/* K (na x nb) = k(A_i, B_j) for A (na x d) and B (nb x d). */
DISTILL_API DISTILL_NODISCARD distill_status
distill_krr_gram_workspace_size(const distill_krr_options *opts, int64_t na, int64_t nb,
                                int64_t d, size_t *bytes);
DISTILL_API DISTILL_NODISCARD distill_status
distill_krr_gram(distill_context *ctx, const distill_krr_options *opts, int64_t na, int64_t nb,
                 int64_t d, const float *a, int64_t lda, const float *b, int64_t ldb, float *k,
                 int64_t ldk, void *ws, size_t ws_bytes);

/* Rows of the coefficient matrix distill_krr_fit writes: d + bias for the
 * linear kernel (primal weights W, bias last, whichever form solved it), m
 * for RBF (dual coefficients alpha). */
DISTILL_API int64_t distill_krr_coef_rows(const distill_krr_options *opts, int64_t m,
                                          int64_t d);

/* Fit on the support set Fs (m x d) with targets Ys (m x k).  The linear
 * kernel solves the dual (m x m) or primal ((d+bias) x (d+bias)) system;
 * DISTILL_KRR_AUTO takes the smaller.  Both give the same coefficients up
 * to rounding.  Systems are factored in double precision. */
DISTILL_API DISTILL_NODISCARD distill_status
distill_krr_fit_workspace_size(const distill_krr_options *opts, int64_t m, int64_t d,
                               int64_t k, size_t *bytes);
DISTILL_API DISTILL_NODISCARD distill_status
distill_krr_fit(distill_context *ctx, const distill_krr_options *opts, int64_t m, int64_t d,
                int64_t k, const float *fs, int64_t ldfs, const float *ys, int64_t ldys,
                float *coef, int64_t ldcoef, void *ws, size_t ws_bytes);

/* P (n x k) = predictions at Fq (n x d) from coefficients of distill_krr_fit.
 * Fs (the support set, m x d) is needed only by the RBF kernel. */
DISTILL_API DISTILL_NODISCARD distill_status
distill_krr_predict_workspace_size(const distill_krr_options *opts, int64_t m, int64_t n,
                                   int64_t d, size_t *bytes);
DISTILL_API DISTILL_NODISCARD distill_status
distill_krr_predict(distill_context *ctx, const distill_krr_options *opts, int64_t m,
                    int64_t n, int64_t d, int64_t k, const float *fs, int64_t ldfs,
                    const float *coef, int64_t ldcoef, const float *fq, int64_t ldfq, float *p,
                    int64_t ldp, void *ws, size_t ws_bytes);

/* The KRR-ST outer loss (linear kernel, dual form):
 *     L = mean_{n x k} ( K_rs (K_ss + lambda I)^-1 Ys - Yr )^2
 * with K_ss = Fs' Fs'^T, K_rs = Fr' Fs'^T and Fs' = [Fs, 1] when
 * bias is set; lambda from opts (not differentiated).  Writes *loss and,
 * for each non-NULL output, dL/dFs (m x d), dL/dYs (m x k), dL/dFr (n x d),
 * using one Cholesky factor for both solves (docs/kernels.md). */
DISTILL_API DISTILL_NODISCARD distill_status
distill_krrst_loss_grad_workspace_size(const distill_krr_options *opts, int64_t m, int64_t n,
                                       int64_t d, int64_t k, size_t *bytes);
DISTILL_API DISTILL_NODISCARD distill_status
distill_krrst_loss_grad(distill_context *ctx, const distill_krr_options *opts, int64_t m,
                        int64_t n, int64_t d, int64_t k, const float *fs, int64_t ldfs,
                        const float *ys, int64_t ldys, const float *fr, int64_t ldfr,
                        const float *yr, int64_t ldyr, float *loss, float *dfs, int64_t lddfs,
                        float *dys, int64_t lddys, float *dfr, int64_t lddfr, void *ws,
                        size_t ws_bytes);

/* ---- Losses on rows of logits or outputs ------------------------------ */

/* L = mean over n*k of (P - Y)^2; G = dL/dP = 2 (P - Y) / (n k) if G != NULL. */
DISTILL_API DISTILL_NODISCARD distill_status
distill_mse_loss_grad(distill_context *ctx, int64_t n, int64_t k, const float *p, int64_t ldp,
                      const float *y, int64_t ldy, float *loss, float *g, int64_t ldg);

/* out_i = softmax(z_i / T), row by row (out may equal z). */
DISTILL_API DISTILL_NODISCARD distill_status
distill_softmax(distill_context *ctx, int64_t n, int64_t c, const float *z, int64_t ldz,
                float temperature, float *out, int64_t ldout);

/* Cross-entropy of softmax(z_i / T) against hard labels (0 <= label < c, or
 * a negative label for a row without one, which contributes nothing).
 * L = mean over the n rows; dZ = dL/dZ if dz != NULL. */
DISTILL_API DISTILL_NODISCARD distill_status
distill_xent_hard(distill_context *ctx, int64_t n, int64_t c, const float *z, int64_t ldz,
                  const int32_t *labels, float temperature, float *loss, float *dz,
                  int64_t lddz);

/* Cross-entropy of softmax(z_i / T) against target distributions T_i
 * (non-negative rows): L = mean_i -sum_j t_ij log q_ij. */
DISTILL_API DISTILL_NODISCARD distill_status
distill_xent_soft(distill_context *ctx, int64_t n, int64_t c, const float *z, int64_t ldz,
                  const float *t, int64_t ldt, float temperature, float *loss, float *dz,
                  int64_t lddz);

/* KL(t_i || softmax(z_i / T)) averaged over rows; same gradient as
 * distill_xent_soft (the entropy of t does not depend on z). */
DISTILL_API DISTILL_NODISCARD distill_status
distill_kl_div(distill_context *ctx, int64_t n, int64_t c, const float *z, int64_t ldz,
               const float *t, int64_t ldt, float temperature, float *loss, float *dz,
               int64_t lddz);

/* The fused distillation loss on student logits Z (n x c):
 *     L = mean_i [ (1 - lambda) CE(y_i, softmax(z_i))
 *                  + lambda * scale * CE(s_i, softmax(z_i / T_s)) ]
 *     dL/dz_i = [ (1 - lambda)(p_i - y_i) + lambda * scale * (q_i - s_i) / T_s ] / n
 * (for soft rows summing to one).  labels may be NULL (no hard term); a
 * negative label drops the hard term of that row.  soft_mask (n bytes) may
 * be NULL; a 0 entry drops the soft term of that row (no privileged input).
 * See docs/kernels.md for the presets of gd.md. */
DISTILL_API DISTILL_NODISCARD distill_status
distill_kd_loss_grad(distill_context *ctx, int64_t n, int64_t c, const float *z, int64_t ldz,
                     const int32_t *labels, const float *s, int64_t lds,
                     const uint8_t *soft_mask, float lambda, float student_t,
                     float soft_scale, float *loss, float *dz, int64_t lddz);
/* The same with a caller's workspace (0.2): above 256 classes the 0.1 call
 * allocates two rows of scratch through the context; given ws of
 * distill_kd_loss_grad_workspace_size(c) bytes, this one allocates nothing
 * (ws may be NULL for c <= 256). */
DISTILL_API DISTILL_NODISCARD distill_status
distill_kd_loss_grad_workspace_size(int64_t c, size_t *bytes);
DISTILL_API DISTILL_NODISCARD distill_status
distill_kd_loss_grad_v2(distill_context *ctx, int64_t n, int64_t c, const float *z, int64_t ldz,
                        const int32_t *labels, const float *s, int64_t lds,
                        const uint8_t *soft_mask, float lambda, float student_t,
                        float soft_scale, float *loss, float *dz, int64_t lddz, void *ws,
                        size_t ws_bytes);

/* The distillation loss on continuous outputs P (n x k): regression
 * distillation (T = the teacher's outputs / temperature) and logit
 * matching (T = the teacher's logits):
 *     L = 1/(n k) sum_i [ (1 - lambda) sum_{j: y_ij not NaN} (p_ij - y_ij)^2
 *                         + lambda [mask_i] sum_j (p_ij - t_ij)^2 ]
 * Y or T may be NULL (no such term); a NaN in Y is a missing target;
 * soft_mask as in distill_kd_loss_grad. */
DISTILL_API DISTILL_NODISCARD distill_status
distill_kd_mse_loss_grad(distill_context *ctx, int64_t n, int64_t k, const float *p, int64_t ldp,
                         const float *y, int64_t ldy, const float *t, int64_t ldt,
                         const uint8_t *soft_mask, float lambda, float *loss, float *g,
                         int64_t ldg);

/* The Barlow Twins loss of two views' embeddings Za, Zb (n x d, n >= 2),
 * each batch-normalised per column (biased variance, eps 1e-5):
 *     C = Za~^T Zb~ / n,  L = sum_i (1 - C_ii)^2 + lambda sum_{i != j} C_ij^2
 * with dL/dZa, dL/dZb for the non-NULL outputs.  ws may be NULL (then
 * allocated) or hold distill_barlow_twins_workspace_size bytes. */
DISTILL_API DISTILL_NODISCARD distill_status
distill_barlow_twins_workspace_size(int64_t n, int64_t d, size_t *bytes);
DISTILL_API DISTILL_NODISCARD distill_status
distill_barlow_twins_loss_grad(distill_context *ctx, int64_t n, int64_t d, const float *za,
                               int64_t ldza, const float *zb, int64_t ldzb, float lambda,
                               float *loss, float *dza, int64_t lddza, float *dzb, int64_t lddzb,
                               void *ws, size_t ws_bytes);

DISTILL_END_DECLS

#endif /* DISTILL_KERNELS_H */
