/* A same-size stride-1 convolution's forward GEMM on BLIS's micro-kernel,
 * its operands packed here.
 *
 * Through nn_gemm, a chunk's pixels were copied twice before any
 * arithmetic: im2col wrote the columns (plus a second pass zeroing what a
 * shifted copy took from outside each plane), then BLIS packed them into
 * its kernel's panels (on skx, which has no packing kernel for its 32-row
 * panels, by a generic strided copy: a third of the forward GEMM's time).
 * Here each run of pixels goes from the input planes straight into the
 * panel, with the taps that fall outside a plane masked as it is read; the
 * weights are packed once per pass.  The kernel, its k blocks and its beta
 * are the ones BLIS uses for the same product, so the output is the same
 * bits (test_model.c compares the two paths). */
#include <stdint.h>
#include <string.h>

#include "../kernels/blas.h"
#include "internal.h"

/* Kernel taps (k x k) and panel widths this path takes; 16 floats of
 * slack align the pixel panel and the weights' base to 64 bytes (skx's
 * kernel loads its A operand, the pixels, aligned; haswell's broadcasts A,
 * the weights, and loads B, the pixels, aligned). */
enum { MAX_TAPS = 64, MAX_PANEL = 64, SLACK = 16 };

typedef struct panel_shape {
    distill__sgemm_ukr u;
    int64_t pw, ww; /* pixels and output channels per panel */
} panel_shape;

/* The kernel's tile is pixels x channels when it stores by columns (a
 * pixel run is contiguous in y), else channels x pixels. */
static int shape_of(const nn_env *e, const nn_layer *l, panel_shape *s)
{
    const int64_t k = l->spec.kernel;
    if (!e->ctx || !distill__conv_same_planes(l) || k * k > MAX_TAPS)
        return 0;
    distill__blis_prepare(e->ctx);
    if (!distill__sgemm_ukr_get(&s->u))
        return 0;
    s->pw = s->u.by_columns ? s->u.mr : s->u.nr;
    s->ww = s->u.by_columns ? s->u.nr : s->u.mr;
    return s->pw <= MAX_PANEL && s->ww <= MAX_PANEL;
}

static float *aligned(float *p) { return (float *)(((uintptr_t)p + 63) & ~(uintptr_t)63); }

/* The weights' panels: ceil(oc / ww) of KB rows of ww. */
static int64_t weight_floats(const nn_layer *l, const panel_shape *s)
{
    return (l->out_c + s->ww - 1) / s->ww * s->ww * distill__conv_rows(l);
}

/* The taps' masks: per tap, one per plane position and pw more (a run of
 * pw positions from any start is then contiguous, wrapping into the next
 * image's plane). */
static int64_t mask_stride(const nn_layer *l, int64_t pw) { return l->in_h * l->in_w + pw; }

int64_t distill__conv_panel_room(const nn_layer *l)
{
    const int64_t taps = l->spec.kernel * l->spec.kernel;
    return (l->out_c + MAX_PANEL) * distill__conv_rows(l) + taps * (l->in_h * l->in_w + MAX_PANEL) + SLACK;
}

/* mask[tap][j]: position j mod hw of a plane reads inside the plane at tap
 * (ky, kx); the same for every channel and image. */
static void tap_masks(const nn_layer *l, int64_t pw, int32_t *mask)
{
    const int64_t k = l->spec.kernel, pad = l->spec.padding, H = l->in_h, W = l->in_w, stride = mask_stride(l, pw);
    int64_t tap, j, y, x;
    for (tap = 0; tap < k * k; tap++) {
        const int64_t dy = tap / k - pad, dx = tap % k - pad;
        int32_t *m = mask + tap * stride;
        for (y = 0; y < H; y++)
            for (x = 0; x < W; x++)
                m[y * W + x] = y + dy >= 0 && y + dy < H && x + dx >= 0 && x + dx < W ? -1 : 0;
        for (j = H * W; j < stride; j++)
            m[j] = m[j - H * W];
    }
}

/* Panel o of the weights: rows r of ww channels [o ww, o ww + ww), zero
 * past the last channel; then the taps' masks. */
const float *distill__conv_pack_weights(const nn_env *e, const nn_layer *l, const float *w, float *room)
{
    const int64_t oc = l->out_c, KB = distill__conv_rows(l);
    float *wp = aligned(room);
    panel_shape s;
    int64_t o0, r, t;
    if (!shape_of(e, l, &s))
        return NULL;
    for (o0 = 0; o0 < oc; o0 += s.ww) {
        float *pan = wp + o0 * KB;
        for (r = 0; r < KB; r++)
            for (t = 0; t < s.ww; t++)
                pan[r * s.ww + t] = o0 + t < oc ? w[(o0 + t) * KB + r] : 0.0f;
    }
    tap_masks(l, s.pw, (int32_t *)(wp + weight_floats(l, &s)));
    return wp;
}

/* One channel's rows of a panel: row tap = the pw values at base + off[tap]
 * where masked in, else 0 (base: the channel's span at the panel's first
 * pixel; masked-out values are never read). */
static void channel_rows_c(const float *base, const int64_t *off, int64_t taps, const int32_t *const *mask,
                           int64_t pw, float *dst)
{
    int64_t tap, t;
    for (tap = 0; tap < taps; tap++)
        for (t = 0; t < pw; t++)
            dst[tap * pw + t] = mask[tap][t] ? base[off[tap] + t] : 0.0f;
}

#if DISTILL__X86_VECTORS
#include <immintrin.h>

/* The same with masked loads, which read no masked-out value (pw a
 * multiple of 8). */
DISTILL__AVX2 static void channel_rows_avx2(const float *base, const int64_t *off, int64_t taps,
                                            const int32_t *const *mask, int64_t pw, float *dst)
{
    int64_t tap, t;
    for (tap = 0; tap < taps; tap++)
        for (t = 0; t < pw; t += 8)
            _mm256_storeu_ps(dst + tap * pw + t,
                             _mm256_maskload_ps(base + off[tap] + t,
                                                _mm256_loadu_si256((const __m256i *)(mask[tap] + t))));
}

/* All channels' rows with AVX-512's masked loads: a tap's mask is the same
 * for every channel, so its mask registers are made once per panel (pw a
 * multiple of 16). */
__attribute__((target("avx512f,avx512dq"))) static void rows_avx512(const float *base, int64_t cstride, int64_t C,
                                                                     const int64_t *off, int64_t taps,
                                                                     const int32_t *const *mask, int64_t pw,
                                                                     float *pan)
{
    __mmask16 km[MAX_TAPS][MAX_PANEL / 16];
    int64_t tap, v, c;
    for (tap = 0; tap < taps; tap++)
        for (v = 0; v < pw / 16; v++)
            km[tap][v] = _mm512_movepi32_mask(_mm512_loadu_si512((const void *)(mask[tap] + 16 * v)));
    for (c = 0; c < C; c++) {
        const float *b = base + c * cstride;
        float *d = pan + c * taps * pw;
        for (tap = 0; tap < taps; tap++)
            for (v = 0; v < pw / 16; v++)
                _mm512_storeu_ps(d + tap * pw + 16 * v, _mm512_maskz_loadu_ps(km[tap][v], b + off[tap] + 16 * v));
    }
}

/* 2: AVX-512, 1: AVX2, 0: portable. */
static int vector_rows(int64_t pw)
{
    if (pw % 16 == 0 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq"))
        return 2;
    return pw % 8 == 0 && distill__cpu_avx2();
}
#else
static void rows_avx512(const float *base, int64_t cstride, int64_t C, const int64_t *off, int64_t taps,
                        const int32_t *const *mask, int64_t pw, float *pan)
{
    (void)base, (void)cstride, (void)C, (void)off, (void)taps, (void)mask, (void)pw, (void)pan;
}

static void channel_rows_avx2(const float *base, const int64_t *off, int64_t taps, const int32_t *const *mask,
                              int64_t pw, float *dst)
{
    channel_rows_c(base, off, taps, mask, pw, dst);
}

static int vector_rows(int64_t pw) { return (void)pw, 0; }
#endif

/* The panel of pixels [p0, p0 + pw) of images [i0, i0 + cn) of a batch of
 * n: KB rows of pw, the columns' rows (channel, tap) and the bias's ones. */
static void pack_pixels(const nn_layer *l, int64_t n, int64_t i0, int64_t np, const float *x, int64_t p0,
                        int64_t pw, const int32_t *const *mask, float *pan)
{
    const int64_t k = l->spec.kernel, taps = k * k, pad = l->spec.padding, W = l->in_w, hw = l->in_h * W;
    const int64_t C = l->in_c, K = C * taps;
    const int vec = vector_rows(pw);
    const float *x0 = x + nn_plane(l->cf_in, n, C, i0, 0, hw) + p0;
    int64_t off[MAX_TAPS], c, t;
    for (t = 0; t < taps; t++)
        off[t] = (t / k - pad) * W + (t % k - pad);
    if (vec == 2) /* channels' spans lie evenly apart (planes_adjacent: channel-first, or one channel) */
        rows_avx512(x0, C > 1 ? nn_plane(l->cf_in, n, C, i0, 1, hw) - nn_plane(l->cf_in, n, C, i0, 0, hw) : 0, C,
                    off, taps, mask, pw, pan);
    for (c = 0; c < C && vec != 2; c++) {
        const float *base = x + nn_plane(l->cf_in, n, C, i0, c, hw) + p0;
        if (vec)
            channel_rows_avx2(base, off, taps, mask, pw, pan + c * taps * pw);
        else
            channel_rows_c(base, off, taps, mask, pw, pan + c * taps * pw);
    }
    for (t = 0; l->spec.bias && t < pw; t++)
        pan[K * pw + t] = p0 + t < np ? 1.0f : 0.0f;
}

/* C's tile (pixels [p0, p0 + m), channels [o0, o0 + no)) over the k blocks
 * BLIS would take: blocks of kc while more than kc_max are left. */
static void tile(const panel_shape *s, int64_t KB, const float *pan, const float *wpan, int64_t m, int64_t no,
                 float *ct, int64_t ldy)
{
    int64_t k0, kb;
    for (k0 = 0; k0 < KB; k0 += kb) {
        const float beta = k0 ? 1.0f : 0.0f;
        kb = KB - k0 <= s->u.kc_max ? KB - k0 : s->u.kc;
        if (s->u.by_columns)
            distill__sgemm_ukr_run(&s->u, m, no, kb, pan + k0 * s->pw, wpan + k0 * s->ww, beta, ct, 1, ldy);
        else
            distill__sgemm_ukr_run(&s->u, no, m, kb, wpan + k0 * s->ww, pan + k0 * s->pw, beta, ct, ldy, 1);
    }
}

int distill__conv_forward_panels(const nn_env *e, const nn_layer *l, const float *wp, int64_t n, int64_t i0,
                                 int64_t cn, const float *x, float *y, int64_t ldy, float *slot,
                                 int64_t slot_floats)
{
    const int64_t oc = l->out_c, KB = distill__conv_rows(l), hw = l->out_h * l->out_w, np = cn * hw;
    const int64_t taps = l->spec.kernel * l->spec.kernel;
    int32_t last[MAX_TAPS][MAX_PANEL]; /* the last panel's, cut at np */
    const int32_t *mask[MAX_TAPS], *tab;
    float *pan = aligned(slot);
    panel_shape s;
    int64_t p0, o0, tap, t;
    /* where nn_gemm would not run BLIS's packed path, its bits are not the kernel's */
    if (!wp || nn_threads(e) != 1 || nn_gemm_small_fits(oc, np, KB) || !shape_of(e, l, &s) ||
        distill__sgemm_ukr_declines(&s.u, oc, np, KB) || s.pw * KB + SLACK > slot_floats)
        return 0;
    tab = (const int32_t *)(wp + weight_floats(l, &s));
    for (p0 = 0; p0 < np; p0 += s.pw) {
        const int64_t m = np - p0 < s.pw ? np - p0 : s.pw;
        for (tap = 0; tap < taps; tap++) {
            mask[tap] = tab + tap * mask_stride(l, s.pw) + p0 % hw;
            if (m < s.pw) {
                for (t = 0; t < s.pw; t++)
                    last[tap][t] = t < m ? mask[tap][t] : 0;
                mask[tap] = last[tap];
            }
        }
        pack_pixels(l, n, i0, np, x, p0, s.pw, mask, pan);
        for (o0 = 0; o0 < oc; o0 += s.ww)
            tile(&s, KB, pan, wp + o0 * KB, m, oc - o0 < s.ww ? oc - o0 : s.ww, y + o0 * ldy + p0, ldy);
    }
    return 1;
}
