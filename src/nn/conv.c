/* 2-D convolution by im2col and GEMM.
 *
 * W is oc x (ic k k), b is oc.  For n images the columns matrix is
 * (ic k k) x (n OH OW), and the GEMM W cols writes the output channel-first
 * (C x N x H x W, see nn_layer) in place: no transposes.  Backward:
 * dW^T += cols dT^T and dcols = W^T dT, folded back by col2im; dT is the
 * channel-first output gradient, read in place.
 *
 * The batch goes through in chunks whose columns fit in cache (im2col and
 * the GEMM then touch cache, not memory).  No pass keeps them: backward
 * builds each chunk's columns again for the weight gradient.  Kept, they
 * went through memory three times (written, the write's read for
 * ownership, read back by the weight gradient), which cost more than
 * building them twice in cache (a ConvNet-3 training step at batch 256
 * ran 8% faster without them), and they were the largest buffer of a
 * training pass (96 MB at batch 256).  On a 2-core machine convolution is
 * bound by memory traffic as much as by arithmetic. */
#include <string.h>

#include "internal.h"

static int64_t stride_of(const nn_layer *l) { return l->spec.stride > 0 ? l->spec.stride : 1; }

static distill_status conv_shape(nn_layer *l)
{
    const int64_t k = l->spec.kernel, s = stride_of(l), pad = l->spec.padding;
    if (l->spec.units < 1 || k < 1 || pad < 0 || l->in_h + 2 * pad < k || l->in_w + 2 * pad < k ||
        l->in_c > ((int64_t)1 << 28) / (k * k)) /* the columns' height, ic k k, stays sane */
        return DISTILL_E_SHAPE;
    l->out_c = l->spec.units;
    l->out_h = (l->in_h + 2 * pad - k) / s + 1;
    l->out_w = (l->in_w + 2 * pad - k) / s + 1;
    return DISTILL_OK;
}

static int64_t ckk(const nn_layer *l) { return l->in_c * l->spec.kernel * l->spec.kernel; }
static int64_t positions(const nn_layer *l) { return l->out_h * l->out_w; }

static int64_t conv_params(const nn_layer *l)
{
    return l->out_c * ckk(l) + (l->spec.bias ? l->out_c : 0);
}

/* Images per chunk for a batch of n when `ways` threads each hold a chunk
 * whose output positions have `extra` floats besides their columns (a
 * fused block's output, block.c): together they fill the 4 MiB, and the
 * chunks are evened out so that the threads' shares differ by at most one. */
int64_t distill__conv_chunk(const nn_layer *l, int64_t n, int64_t extra, int64_t ways)
{
    const int64_t per_image = (ckk(l) + 1 + extra) * positions(l) * ways, share = (n + ways - 1) / ways;
    const int64_t fit = DISTILL__CONV_CHUNK_FLOATS / (per_image > 0 ? per_image : 1);
    const int64_t most = fit < 1 ? 1 : (fit < share ? fit : share);
    int64_t rounds;
    if (share < 1)
        return 1;
    rounds = (share + most - 1) / most;
    return (share + rounds - 1) / rounds;
}

/* A layer's chunks are laid out for two threads whatever the thread count
 * (when training kept the columns, backward had to find them as forward
 * left them); the chunks are the weight gradient's partial sums, so
 * another layout would change every trained model's bits. */
#define CONV_WAYS 2
/* Threads share a layer's chunks up to DISTILL__MAX_WAYS ways, each with its own
 * slot of scratch and, for a weight gradient of up to SMALL_DW values
 * (ckk * oc), its own partial sum (beyond that, or when one image's
 * columns outgrow a way's 2 MiB, the chunks run in turn, each GEMM on
 * every thread). */
#define SMALL_DW 131072

static int64_t chunk_of(const nn_layer *l, int64_t n) { return distill__conv_chunk(l, n, 0, CONV_WAYS); }
static int64_t chunks_of(const nn_layer *l, int64_t n) { return (n + chunk_of(l, n) - 1) / chunk_of(l, n); }
static int64_t dw_size(const nn_layer *l) { return (ckk(l) + 1) * l->out_c; } /* [dW | db]^T, or [W | b] */
static int64_t way_fit(const nn_layer *l)
{
    return DISTILL__CONV_CHUNK_FLOATS / ((ckk(l) + 1) * positions(l) * CONV_WAYS);
}

/* Images the threads' slots hold for any batch up to n on any thread
 * count: ways x chunk, where a chunk has s = min(fit, ceil(n / 2)) images
 * at most, ways <= DISTILL__MAX_WAYS and ways x chunk < n + chunk.  It never
 * shrinks as n grows: the model keeps the scratch of its largest batch. */
static int64_t slot_images(const nn_layer *l, int64_t n)
{
    const int64_t fit = way_fit(l), half = (n + 1) / 2, s = fit < half ? fit : half;
    if (fit < 1 || n < 1)
        return 1;
    return n + s - 1 < DISTILL__MAX_WAYS * s ? n + s - 1 : DISTILL__MAX_WAYS * s;
}

static int64_t slots_room(const nn_layer *l, int64_t n) { return (ckk(l) + 1) * positions(l) * slot_images(l, n); }

/* The threads' slots of columns (or dcols), then dW^T or [W | b], then the
 * threads' partial sums of dW^T (backward) or the packed weights (forward,
 * conv_panels.c). */
static int64_t conv_scratch(const nn_layer *l, int64_t n)
{
    const int64_t dw = dw_size(l), parts = dw <= SMALL_DW ? DISTILL__MAX_WAYS * dw : 0;
    const int64_t panels = distill__conv_panel_room(l);
    return slots_room(l, n) + dw + (parts > panels ? parts : panels);
}

static void conv_init(nn_layer *l, float *p, float *buf, distill__rng *r)
{
    (void)buf;
    distill__init_weights(&l->spec, l->out_c, ckk(l), p,
                          l->spec.bias ? p + l->out_c * ckk(l) : NULL, r);
}

/* The output columns ox in [*lo, *hi) read inside the image for kernel
 * column kx: 0 <= ox s + kx - pad < W. */
static void valid_range(int64_t kx, int64_t s, int64_t pad, int64_t w, int64_t ow, int64_t *lo,
                        int64_t *hi)
{
    int64_t a = pad - kx, b = w + pad - kx; /* ox s in [a, b) */
    *lo = a <= 0 ? 0 : (a + s - 1) / s;
    *hi = b <= 0 ? 0 : (b + s - 1) / s;
    *hi = *hi < ow ? *hi : ow;
    *lo = *lo < *hi ? *lo : *hi;
}

/* A stride-1 convolution whose output has its input's size ("same"
 * padding): every kernel offset (dy, dx) maps a whole plane onto a whole
 * plane shifted by dy W + dx, so rows of columns are long copies, with
 * the few values that wrap around a row's end fixed up after. */
static int same_size(const nn_layer *l)
{
    return stride_of(l) == 1 && l->out_h == l->in_h && l->out_w == l->in_w;
}

/* The planes of images i0 .. i0 + n of channel c lie next to each other
 * in channel-first layout, and in sample-first layout with one channel. */
static int planes_adjacent(const nn_layer *l) { return l->cf_in || l->in_c == 1; }

int distill__conv_same_planes(const nn_layer *l) { return same_size(l) && planes_adjacent(l); }

/* Zero what a shifted copy of n adjacent planes took from outside each
 * plane: the rows y + dy outside [0, H) (a neighbouring image's, or past
 * the ends) and the columns x + dx outside [0, W) (the next row's).  The
 * loops stride across planes and rows: as runs along a row, the compiler
 * makes them a memset call each, of one to a few floats. */
static void zero_outside(float *planes, int64_t n, int64_t H, int64_t W, int64_t dy, int64_t dx)
{
    const int64_t HW = H * W, rows = dy < 0 ? -dy : dy, cut = (rows < H ? rows : H) * W;
    const int64_t first = dy < 0 ? 0 : HW - cut, a = dx < 0 ? 0 : W - dx, b = dx < 0 ? -dx : W;
    int64_t i, j, x;
    for (j = first; j < first + cut; j++)
        for (i = 0; i < n; i++)
            planes[i * HW + j] = 0.0f;
    for (x = a < 0 ? 0 : a; dx != 0 && x < b && x < W; x++)
        for (j = x; j < n * HW; j += W)
            planes[j] = 0.0f;
}

/* The flat positions [*j0, *j1) of `total` whose source j + off is inside. */
static void inside_span(int64_t total, int64_t off, int64_t *j0, int64_t *j1)
{
    *j0 = off < 0 ? (-off < total ? -off : total) : 0;
    *j1 = off > 0 ? (off < total ? total - off : 0) : total;
    if (*j1 < *j0)
        *j1 = *j0;
}

/* The row of columns for offset (dy, dx) over n adjacent planes: one long
 * copy of the whole span (a call per plane cost more than the copy on
 * 7 x 7 planes), then the values from outside each plane zeroed. */
static void im2col_planes_same(const float *src, float *restrict dst, int64_t n, int64_t H,
                               int64_t W, int64_t dy, int64_t dx)
{
    const int64_t total = n * H * W, off = dy * W + dx;
    int64_t j0, j1, j;
    inside_span(total, off, &j0, &j1);
    for (j = 0; j < j0; j++)
        dst[j] = 0.0f;
    for (j = j0; j < j1; j++)
        dst[j] = src[j + off];
    for (j = j1; j < total; j++)
        dst[j] = 0.0f;
    zero_outside(dst, n, H, W, dy, dx);
}

/* One image's row of columns for kernel offset (ky, kx), any stride and
 * padding: built from its plane (src = plane, dst = row), or (back) added
 * back onto it (src = row, dst = plane).  Rows are short (ow values), so
 * plain loops beat memcpy calls. */
static void row_general(const nn_layer *l, int back, const float *src, float *dst, int64_t ky,
                        int64_t kx)
{
    const int64_t s = stride_of(l), pad = l->spec.padding, H = l->in_h, W = l->in_w;
    const int64_t oh = l->out_h, ow = l->out_w;
    int64_t oy, ox, lo, hi;
    valid_range(kx, s, pad, W, ow, &lo, &hi);
    for (oy = 0; oy < oh; oy++) {
        const int64_t sy = oy * s + ky - pad;
        for (ox = 0; ox < ow; ox++) {
            const int inside = sy >= 0 && sy < H && ox >= lo && ox < hi;
            const int64_t p = sy * W + ox * s + kx - pad, q = oy * ow + ox;
            if (!back)
                dst[q] = inside ? src[p] : 0.0f;
            else if (inside)
                dst[p] += src[q];
        }
    }
}

/* cols[(c k + ky) k + kx][i OHW + oy OW + ox] = x_{i0+i}[c][oy s + ky - pad][ox s + kx - pad]
 * for the n images from i0 of a batch of n_all (in the layer's input layout). */
static void im2col_rows(const nn_layer *l, int64_t n_all, int64_t i0, int64_t n, const float *x,
                        float *cols, int64_t r0, int64_t r1)
{
    const int64_t k = l->spec.kernel, pad = l->spec.padding, H = l->in_h, W = l->in_w;
    const int64_t ohw = l->out_h * l->out_w, np = n * ohw;
    int64_t r, i;
    for (r = r0; r < r1; r++) {
        const int64_t c = r / (k * k), ky = r / k % k, kx = r % k;
        float *row = cols + r * np;
        if (same_size(l) && planes_adjacent(l)) {
            im2col_planes_same(x + nn_plane(l->cf_in, n_all, l->in_c, i0, c, H * W), row, n, H, W,
                               ky - pad, kx - pad);
            continue;
        }
        for (i = 0; i < n; i++) {
            const float *plane = x + nn_plane(l->cf_in, n_all, l->in_c, i0 + i, c, H * W);
            if (same_size(l))
                im2col_planes_same(plane, row + i * ohw, 1, H, W, ky - pad, kx - pad);
            else
                row_general(l, 0, plane, row + i * ohw, ky, kx);
        }
    }
}

/* n adjacent planes += the column row src shifted back by (dy, dx): src's
 * values that came from outside their plane are zeroed first (they are the
 * padding's gradient, discarded), so one long loop adds the rest. */
static void col2im_planes_same(float *src, float *restrict dst, int64_t n, int64_t H, int64_t W,
                               int64_t dy, int64_t dx)
{
    const int64_t off = dy * W + dx;
    int64_t j0, j1, j;
    zero_outside(src, n, H, W, dy, dx);
    inside_span(n * H * W, off, &j0, &j1);
    for (j = j0; j < j1; j++)
        dst[j + off] += src[j];
}

/* dx += the columns of channels [c0, c1) folded back onto the n images from
 * i0 of a batch of n_all (in the layer's input layout).  The columns are
 * scratch and may be overwritten. */
static void col2im_channels(const nn_layer *l, int64_t n_all, int64_t i0, int64_t n,
                            float *cols, float *dx, int64_t c0, int64_t c1)
{
    const int64_t k = l->spec.kernel, pad = l->spec.padding, H = l->in_h, W = l->in_w;
    const int64_t ohw = l->out_h * l->out_w, np = n * ohw;
    int64_t c, r, i;
    for (c = c0; c < c1; c++)
        for (r = c * k * k; r < (c + 1) * k * k; r++) {
            const int64_t ky = r / k % k, kx = r % k;
            float *row = cols + r * np;
            if (same_size(l) && planes_adjacent(l)) {
                col2im_planes_same(row, dx + nn_plane(l->cf_in, n_all, l->in_c, i0, c, H * W), n, H,
                                   W, ky - pad, kx - pad);
                continue;
            }
            for (i = 0; i < n; i++) {
                float *plane = dx + nn_plane(l->cf_in, n_all, l->in_c, i0 + i, c, H * W);
                if (same_size(l))
                    col2im_planes_same(row + i * ohw, plane, 1, H, W, ky - pad, kx - pad);
                else
                    row_general(l, 1, row + i * ohw, plane, ky, kx);
            }
        }
}

/* The columns of images i0 .. i0 + cn of the batch, with the bias's row of
 * ones when the layer has one. */
void distill__conv_columns(const nn_env *e, const nn_layer *l, int64_t n, int64_t i0, int64_t cn,
                           const float *x, float *cols)
{
    const int64_t K = ckk(l), np = cn * positions(l);
    int64_t j;
    DISTILL__SPLIT(nn_threads(e), K, lo, hi, im2col_rows(l, n, i0, cn, x, cols, lo, hi));
    for (j = 0; l->spec.bias && j < np; j++)
        cols[K * np + j] = 1.0f;
}

int64_t distill__conv_rows(const nn_layer *l) { return ckk(l) + (l->spec.bias ? 1 : 0); }

/* The bias rides in the GEMM: W gains a column b and the columns a row of
 * ones, which saves a pass over the output. */
const float *distill__conv_weights(const nn_layer *l, const float *p, float *wb)
{
    const int64_t oc = l->out_c, K = ckk(l), KB = K + 1;
    int64_t o;
    if (!l->spec.bias)
        return p;
    for (o = 0; o < oc; o++) { /* [W | b], oc x (K + 1) */
        memcpy(wb + o * KB, p + o * K, sizeof(float) * (size_t)K);
        wb[o * KB + K] = p[oc * K + o];
    }
    return wb;
}

/* A layer's pass over its chunks, shared between `ways` threads: each
 * runs whole chunks with one-thread GEMMs in its own slot of scratch, so a
 * pass forks once instead of at every GEMM and loop (on a shared 2-core
 * machine those barriers cost as much as the split gains).  With one way
 * the chunks run in turn, each GEMM and loop on every thread. */
typedef struct conv_pass {
    nn_env env; /* one thread when the chunks are shared */
    const nn_layer *l;
    const float *w, *wp, *x, *dy; /* wp: the packed weights, or NULL */
    float *y, *dx, *slots, *parts, *dwt;
    int64_t n, step, ways;
} conv_pass;

static int64_t slot_floats(const conv_pass *c) { return (ckk(c->l) + 1) * c->step * positions(c->l); }

static conv_pass pass_of(const nn_env *e, const nn_layer *l, int64_t n, int64_t ways)
{
    conv_pass c;
    memset(&c, 0, sizeof c);
    c.env = *e, c.l = l, c.n = n, c.step = chunk_of(l, n), c.ways = ways;
    nn_gemm_prepare(e); /* before any thread's GEMM: shares' or dw_split's */
    if (ways > 1)
        c.env.threads = 1;
    return c;
}

void distill__chunk_share(int64_t n, int64_t step, int64_t ways, int64_t t, int64_t *c0, int64_t *c1)
{
    const int64_t chunks = (n + step - 1) / step;
    *c0 = chunks * t / ways, *c1 = chunks * (t + 1) / ways;
}

/* The ceil(n / step) chunks share the images evenly (sizes differ by at
 * most one): whole chunks of `step` and a small last one left one thread's
 * share of 100 images at 54 against 46. */
int64_t distill__chunk_start(int64_t n, int64_t step, int64_t c)
{
    return n > 0 && step > 0 ? c * n / ((n + step - 1) / step) : 0;
}

int64_t distill__chunk_images(int64_t n, int64_t step, int64_t c)
{
    return distill__chunk_start(n, step, c + 1) - distill__chunk_start(n, step, c);
}

/* The slot of share t's chunk of columns (or dcols). */
static float *slot_at(const conv_pass *c, int64_t t) { return c->slots + t * slot_floats(c); }

static void forward_share(const conv_pass *c, int64_t t)
{
    const nn_layer *l = c->l;
    const int64_t oc = l->out_c, hw = positions(l), KB = distill__conv_rows(l);
    int64_t k, k0, k1;
    distill__chunk_share(c->n, c->step, c->ways, t, &k0, &k1);
    for (k = k0; k < k1; k++) {
        const int64_t i0 = distill__chunk_start(c->n, c->step, k), cn = distill__chunk_images(c->n, c->step, k);
        const int64_t np = cn * hw;
        float *cols = slot_at(c, t);
        if (distill__conv_forward_panels(&c->env, l, c->wp, c->n, i0, cn, c->x, c->y + i0 * hw, c->n * hw, cols,
                                         slot_floats(c)))
            continue;
        distill__conv_columns(&c->env, l, c->n, i0, cn, c->x, cols);
        nn_gemm(&c->env, DISTILL_NO_TRANS, DISTILL_NO_TRANS, oc, np, KB, 1.0f, c->w, KB, cols, np, 0.0f,
                c->y + i0 * hw, c->n * hw);
    }
}

/* Threads for a pass over the chunks of a batch of n; `reduces`: the pass
 * sums a weight gradient, which shares only as partial sums of up to
 * SMALL_DW values. */
static int64_t ways_of(const nn_env *e, const nn_layer *l, int64_t n, int reduces)
{
    const int64_t chunks = chunks_of(l, n), t = nn_threads(e) < DISTILL__MAX_WAYS ? nn_threads(e) : DISTILL__MAX_WAYS;
    if ((reduces && dw_size(l) > SMALL_DW) || way_fit(l) < 1)
        return 1;
    return t < chunks ? t : chunks;
}

static void conv_forward(const nn_env *e, const nn_layer *l, const float *p, float *buf,
                         int64_t n, const float *x, float *y, float *cache, float *scratch)
{
    conv_pass c = pass_of(e, l, n, ways_of(e, l, n, 0));
    (void)buf, (void)cache;
    c.x = x, c.y = y, c.slots = scratch;
    c.w = distill__conv_weights(l, p, scratch + slots_room(l, n));
    c.wp = distill__conv_pack_weights(e, l, c.w, scratch + slots_room(l, n) + dw_size(l));
    DISTILL__SPLIT(c.ways, c.ways, t0, t1, forward_share(&c, t0));
}

/* Below this many rows of columns (conv1's 9 + 1), BLIS spends a weight
 * gradient's time packing; dot products over L1-sized blocks run ~1.5x faster. */
#define FEW_ROWS 16

/* part = cols[:, j0:j1] dT[:, j0:j1]^T for the positions of split t of ns. */
static void dw_part(const nn_env *one, int64_t K, int64_t oc, int64_t np, const float *cols,
                    const float *dt, int64_t ldt, float *part, int64_t t, int64_t ns)
{
    const int64_t j0 = np * t / ns, j1 = np * (t + 1) / ns;
    if (K <= FEW_ROWS) {
        memset(part, 0, sizeof(float) * (size_t)(K * oc));
        nn_gemm_nt_acc(K, oc, j1 - j0, cols + j0, np, dt + j0, ldt, part, oc);
    } else
        nn_gemm(one, DISTILL_NO_TRANS, DISTILL_TRANS, K, oc, j1 - j0, 1.0f, cols + j0, np, dt + j0,
                ldt, 0.0f, part, oc);
}

/* dwt += cols dT^T, as thread-split partial sums added in split order. */
static void dw_split(const nn_env *e, int64_t K, int64_t oc, int64_t np, const float *cols,
                     const float *dt, int64_t ldt, float *dwt, float *parts)
{
    const int64_t ns = nn_threads(e) < DISTILL__MAX_WAYS ? nn_threads(e) : DISTILL__MAX_WAYS;
    nn_env one = *e;
    int64_t t, j;
    one.threads = 1;
    DISTILL__SPLIT(ns, ns, t0, t1, dw_part(&one, K, oc, np, cols, dt, ldt, parts + t0 * K * oc, t0, ns));
    for (t = 0; t < ns; t++)
        for (j = 0; j < K * oc; j++)
            dwt[j] += parts[t * K * oc + j];
}

/* dwt += a chunk's cols dT^T: a shared pass adds to its share's partial
 * sum, a pass in turn on several threads splits the chunk's positions when
 * dW is small (a shared pass runs on one thread each). */
static void chunk_dw(const conv_pass *c, int64_t t, int64_t np, const float *cols, const float *dt)
{
    const int64_t KB = distill__conv_rows(c->l), oc = c->l->out_c, ldt = c->n * positions(c->l);
    float *acc = c->ways > 1 ? c->parts + t * KB * oc : c->dwt;
    if (nn_threads(&c->env) > 1 && dw_size(c->l) <= SMALL_DW) /* the partials' room */
        dw_split(&c->env, KB, oc, np, cols, dt, ldt, c->dwt, c->parts);
    else if (KB <= FEW_ROWS)
        nn_gemm_nt_acc(KB, oc, np, cols, np, dt, ldt, acc, oc);
    else
        nn_gemm(&c->env, DISTILL_NO_TRANS, DISTILL_TRANS, KB, oc, np, 1.0f, cols, np, dt, ldt, 1.0f, acc, oc);
}

/* The input planes of images [i0, i0 + cn), zeroed before col2im adds. */
static void zero_planes(const nn_layer *l, int64_t n, int64_t i0, int64_t cn, float *dx)
{
    const int64_t HW = l->in_h * l->in_w;
    int64_t ch, i;
    for (ch = 0; ch < l->in_c; ch++)
        for (i = i0; i < i0 + cn; i++)
            memset(dx + nn_plane(l->cf_in, n, l->in_c, i, ch, HW), 0, sizeof(float) * (size_t)HW);
}

/* dy is channel-first: each chunk's dT is read in place (leading
 * dimension n hw). */
static void backward_share(const conv_pass *c, const float *p, int64_t t)
{
    const nn_layer *l = c->l;
    const int64_t oc = l->out_c, hw = positions(l), K = ckk(l), KB = distill__conv_rows(l);
    int64_t k, k0, k1;
    if (c->dwt && c->ways > 1)
        memset(c->parts + t * KB * oc, 0, sizeof(float) * (size_t)(KB * oc));
    distill__chunk_share(c->n, c->step, c->ways, t, &k0, &k1);
    for (k = k0; k < k1; k++) {
        const int64_t i0 = distill__chunk_start(c->n, c->step, k), cn = distill__chunk_images(c->n, c->step, k);
        const int64_t np = cn * hw;
        const float *dt = c->dy + i0 * hw;
        float *slot = slot_at(c, t);
        if (c->dwt) { /* the chunk's columns again */
            distill__conv_columns(&c->env, l, c->n, i0, cn, c->x, slot);
            chunk_dw(c, t, np, slot, dt);
        }
        if (c->dx) { /* dcols reuses the slot */
            nn_gemm(&c->env, DISTILL_TRANS, DISTILL_NO_TRANS, K, np, oc, 1.0f, p, K, dt, c->n * hw, 0.0f,
                    slot, np);
            zero_planes(l, c->n, i0, cn, c->dx);
            DISTILL__SPLIT(nn_threads(&c->env), l->in_c, lo, hi, col2im_channels(l, c->n, i0, cn, slot, c->dx, lo, hi));
        }
    }
}

static void conv_backward(const nn_env *e, const nn_layer *l, const float *p, const float *buf,
                          int64_t n, const float *x, const float *y, const float *dy, float *dx,
                          float *dp, const float *cache, float *scratch)
{
    conv_pass c = pass_of(e, l, n, ways_of(e, l, n, dp != NULL));
    const int64_t oc = l->out_c, K = ckk(l), KB = distill__conv_rows(l);
    int64_t t, r, o, j;
    (void)buf, (void)y, (void)cache;
    c.x = x, c.dy = dy, c.dx = dx, c.slots = scratch;
    /* [dW | db]^T (KB x oc), whose row of ones in the columns gives the
     * bias gradient (this orientation of the long reduction runs faster),
     * then the partial sums */
    c.dwt = dp ? scratch + slots_room(l, n) : NULL;
    c.parts = c.dwt ? c.dwt + KB * oc : NULL;
    if (dp)
        memset(c.dwt, 0, sizeof(float) * (size_t)(KB * oc));
    DISTILL__SPLIT(c.ways, c.ways, t0, t1, backward_share(&c, p, t0));
    if (!dp)
        return;
    for (t = 0; c.ways > 1 && t < c.ways; t++) /* the shares' sums, in order */
        for (j = 0; j < KB * oc; j++)
            c.dwt[j] += c.parts[t * KB * oc + j];
    for (o = 0; o < oc; o++) /* dW, then db (the row of ones), in the parameters' layout */
        for (r = 0; r < KB; r++)
            dp[(r < K ? o * K + r : oc * K + o)] += c.dwt[r * oc + o];
}

const nn_ops distill__conv2d_ops = {conv_shape, conv_params, distill__nn_none, conv_scratch, distill__nn_none_n,
                                    conv_init, conv_forward, conv_backward};
