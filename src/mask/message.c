/* Mask messages: the wire format of docs/masks.md, byte by byte.
 *
 *   "LDMK"  u16 version (1)  u16 flags: bits 0-1 payload, bit 2 composed,
 *                                       bits 3-4 binarisation
 *   u64 backbone seed  u32 backbone hash  u16 layers, then per layer u32 out, u32 in
 *   u16 emb_dim  f32 embedding[emb_dim]  f32 reward  u32 sender  u32 task_seq
 *   payload  BITS: per layer ceil(out in / 64) u64 words, bit k of entry
 *                  64 w + k LSB-first, padding bits 0
 *            F16 / F32: the scores (binary16 / binary32)
 *   u32 CRC32 of every byte before it
 * All little-endian. */
#include <math.h>
#include <string.h>

#include "../core/abi.h"
#include "../core/check.h"
#include "../core/container.h"
#include "internal.h"

#define VERSION 1u
#define FLAG_COMPOSED 4u

static const char fn_encode[] = "distill_masknet_encode", fn_decode[] = "distill_masknet_decode",
                  fn_read[] = "distill_mask_message_read";

size_t distill_mask_meta_size(void) { return sizeof(distill_mask_meta); }

void distill_mask_meta_init(distill_mask_meta *m)
{
    if (!m)
        return;
    memset(m, 0, sizeof *m);
    m->struct_size = sizeof *m;
    m->payload = DISTILL_MASK_PAYLOAD_BITS;
}

/* ---- binary16 ------------------------------------------------------------ */

/* Round to nearest even; finite in, finite out (saturating at 65504); a
 * negative score never becomes -0 or +0 (its mask bit would flip). */
static uint16_t to_half(float f)
{
    uint32_t x, sign, man, half, rem, mid, shift;
    int e;
    memcpy(&x, &f, 4);
    sign = (x >> 16) & 0x8000u, man = x & 0x7fffffu;
    e = (int)((x >> 23) & 0xffu) - 127 + 15;
    if (e <= 0) {
        if (e < -10)
            half = 0;
        else {
            man |= 0x800000u, shift = (uint32_t)(14 - e);
            half = man >> shift, rem = man & ((1u << shift) - 1u), mid = 1u << (shift - 1u);
            half += rem > mid || (rem == mid && (half & 1u));
        }
    } else {
        half = (uint32_t)e << 10 | man >> 13, rem = man & 0x1fffu;
        half += rem > 0x1000u || (rem == 0x1000u && (half & 1u));
        if (half >= 0x7c00u)
            half = 0x7bffu;
    }
    if (sign && half == 0 && (x & 0x7fffffffu))
        half = 1; /* the smallest negative: the sign is the mask */
    return (uint16_t)(sign | half);
}

static float from_half(uint16_t h)
{
    const uint32_t sign = (uint32_t)(h & 0x8000u) << 16, e = (h >> 10) & 0x1fu, m = h & 0x3ffu;
    uint32_t x;
    float f;
    if (e == 0) {
        f = ldexpf((float)m, -24);
        return sign ? -f : f;
    }
    x = sign | (e - 15u + 127u) << 23 | m << 13;
    memcpy(&f, &x, 4);
    return f;
}

/* ---- sizes --------------------------------------------------------------- */

static size_t payload_bytes(const distill_masknet *net, int32_t payload)
{
    size_t n = 0;
    int64_t l;
    if (payload == DISTILL_MASK_PAYLOAD_F16)
        return 2 * (size_t)net->P;
    if (payload == DISTILL_MASK_PAYLOAD_F32)
        return 4 * (size_t)net->P;
    for (l = 0; l < net->L; l++)
        n += 8 * (size_t)((net->out[l] * net->in[l] + 63) / 64);
    return n;
}

static size_t header_bytes(int64_t layers, int64_t emb_dim)
{
    return 4 + 2 + 2 + 8 + 4 + 2 + 8 * (size_t)layers + 2 + 4 * (size_t)emb_dim + 4 + 4 + 4;
}

/* ---- writing ------------------------------------------------------------- */

static unsigned char *put(unsigned char *p, uint64_t v, int bytes)
{
    int i;
    for (i = 0; i < bytes; i++)
        *p++ = (unsigned char)(v >> (8 * i));
    return p;
}

static unsigned char *put_f32(unsigned char *p, float f)
{
    uint32_t x;
    memcpy(&x, &f, 4);
    return put(p, x, 4);
}

/* The mask bits of scores s, layer by layer, from the same function the
 * forward pass uses (scratch: net->scratch_grad). */
static unsigned char *put_bits(distill_masknet *net, const float *s, unsigned char *p)
{
    int64_t l, i;
    for (l = 0; l < net->L; l++) {
        const int64_t n = net->out[l] * net->in[l];
        float *weff = net->scratch_grad;
        uint64_t word = 0;
        distill__mask_weights(net, l, s, weff);
        for (i = 0; i < n; i++) {
            word |= (uint64_t)(weff[i] != 0.0f) << (i & 63);
            if ((i & 63) == 63 || i == n - 1)
                p = put(p, word, 8), word = 0;
        }
    }
    return p;
}

static distill_status check_encode(distill_masknet *net, int64_t t, const distill_mask_meta *m)
{
    if (t < 0 || t >= net->T || !net->task[t])
        return distill__fail(net->ctx, DISTILL_E_INVAL, "%s: task %lld is not held", fn_encode,
                             (long long)t);
    if (m->payload < DISTILL_MASK_PAYLOAD_BITS || m->payload > DISTILL_MASK_PAYLOAD_F32)
        return distill__fail(net->ctx, DISTILL_E_INVAL, "%s: payload must be DISTILL_MASK_PAYLOAD_BITS, _F16 or "
                             "_F32, got %d", fn_encode, (int)m->payload);
    if (m->payload == DISTILL_MASK_PAYLOAD_BITS && net->o.binarize == DISTILL_MASK_CONTINUOUS)
        return distill__fail(net->ctx, DISTILL_E_UNSUPPORTED, "%s: a continuous mask needs its scores (F16 or "
                             "F32), bits cannot carry it", fn_encode);
    if (m->emb_dim < 0 || m->emb_dim > DISTILL_MASK_MAX_EMBEDDING)
        return distill__fail(net->ctx, DISTILL_E_INVAL, "%s: emb_dim must be in [0, %d], got %lld", fn_encode,
                             DISTILL_MASK_MAX_EMBEDDING, (long long)m->emb_dim);
    if (!isfinite(m->reward) || distill__check_finite(net->ctx, fn_encode, "embedding", m->embedding, 1,
                                                      m->emb_dim, m->emb_dim) != DISTILL_OK)
        return distill__fail(net->ctx, DISTILL_E_NUMERIC, "%s: the reward and embedding must be finite", fn_encode);
    return DISTILL_OK;
}

distill_status distill_masknet_encode(distill_masknet *net, int64_t t, const distill_mask_meta *meta, void *buf,
                                      size_t cap, size_t *len)
{
    distill_mask_meta m;
    const float *s;
    unsigned char *p;
    size_t need;
    int64_t l, i;
    if (!net)
        return DISTILL_E_INVAL;
    DISTILL__TRY(distill__check_out(net->ctx, fn_encode, "len", len));
    distill_mask_meta_init(&m);
    if (meta)
        DISTILL__TRY(distill__struct_read(net->ctx, fn_encode, "meta", meta, sizeof m, sizeof m, &m));
    DISTILL__TRY(check_encode(net, t, &m));
    need = header_bytes(net->L, m.emb_dim) + payload_bytes(net, m.payload) + 4;
    *len = need;
    if (!buf)
        return DISTILL_OK;
    if (cap < need)
        return distill__fail(net->ctx, DISTILL_E_INVAL, "%s: the message needs %zu bytes, the buffer has %zu",
                             fn_encode, need, cap);
    s = net->frozen[t] ? net->task[t] : distill__mask_effective(net, t);
    if (distill__check_finite(net->ctx, fn_encode, "the task's scores", s, 1, net->P, net->P) != DISTILL_OK)
        return DISTILL_E_NUMERIC;
    p = (unsigned char *)buf;
    memcpy(p, "LDMK", 4), p += 4;
    p = put(p, VERSION, 2);
    p = put(p, (uint64_t)m.payload | (distill__mask_composed(net, t) ? FLAG_COMPOSED : 0u) |
                   (uint64_t)net->o.binarize << 3, 2);
    p = put(p, net->o.backbone_seed, 8), p = put(p, net->hash, 4), p = put(p, (uint64_t)net->L, 2);
    for (l = 0; l < net->L; l++)
        p = put(p, (uint64_t)net->out[l], 4), p = put(p, (uint64_t)net->in[l], 4);
    p = put(p, (uint64_t)m.emb_dim, 2);
    for (i = 0; i < m.emb_dim; i++)
        p = put_f32(p, m.embedding[i]);
    p = put_f32(p, m.reward), p = put(p, m.sender, 4), p = put(p, m.task_seq, 4);
    if (m.payload == DISTILL_MASK_PAYLOAD_BITS)
        p = put_bits(net, s, p);
    for (i = 0; m.payload == DISTILL_MASK_PAYLOAD_F16 && i < net->P; i++)
        p = put(p, to_half(s[i]), 2);
    for (i = 0; m.payload == DISTILL_MASK_PAYLOAD_F32 && i < net->P; i++)
        p = put_f32(p, s[i]);
    put(p, distill__crc32(buf, need - 4), 4);
    return DISTILL_OK;
}

/* ---- reading ------------------------------------------------------------- */

typedef struct reader {
    const unsigned char *p, *end;
} reader;

static uint64_t get(reader *r, int bytes)
{
    uint64_t v = 0;
    int i;
    if (r->end - r->p < bytes) {
        r->p = r->end + 1; /* marks the overrun */
        return 0;
    }
    for (i = 0; i < bytes; i++)
        v |= (uint64_t)r->p[i] << (8 * i);
    r->p += bytes;
    return v;
}

static float get_f32(reader *r)
{
    const uint32_t x = (uint32_t)get(r, 4);
    float f;
    memcpy(&f, &x, 4);
    return f;
}

/* What a header says, checked for itself (not against a net). */
typedef struct header {
    distill_mask_meta meta;
    int64_t layers, out[DISTILL_MASK_MAX_LAYERS], in[DISTILL_MASK_MAX_LAYERS];
    const unsigned char *payload;
    size_t payload_len;
} header;

#define BAD(...) distill__fail(ctx, DISTILL_E_FORMAT, __VA_ARGS__)

static distill_status parse_header(distill_context *ctx, const char *fn, const unsigned char *buf, size_t len,
                                   header *h)
{
    reader r = {buf, buf + len};
    uint32_t flags;
    int64_t l, i;
    if (len < header_bytes(1, 0) + 4 || memcmp(buf, "LDMK", 4) != 0)
        return BAD("%s: not a mask message (%zu bytes, magic %s)", fn, len, len >= 4 ? "wrong" : "missing");
    if (distill__crc32(buf, len - 4) != (uint32_t)(buf[len - 4] | buf[len - 3] << 8 | buf[len - 2] << 16 |
                                                   (uint32_t)buf[len - 1] << 24))
        return BAD("%s: the message fails its CRC check", fn);
    r.p += 4, r.end -= 4;
    if (get(&r, 2) != VERSION)
        return BAD("%s: format version %u, this library reads %u", fn, (unsigned)(buf[4] | buf[5] << 8), VERSION);
    flags = (uint32_t)get(&r, 2);
    distill_mask_meta_init(&h->meta);
    h->meta.payload = (int32_t)(flags & 3u), h->meta.consolidated = (flags & FLAG_COMPOSED) != 0;
    h->meta.binarize = (int32_t)(flags >> 3 & 3u);
    if (h->meta.payload > DISTILL_MASK_PAYLOAD_F32 || h->meta.binarize > DISTILL_MASK_TOPK || (flags >> 5) != 0)
        return BAD("%s: unknown flags 0x%04x", fn, (unsigned)flags);
    h->meta.backbone_seed = get(&r, 8), h->meta.backbone_hash = (uint32_t)get(&r, 4);
    h->layers = (int64_t)get(&r, 2);
    if (h->layers < 1 || h->layers > DISTILL_MASK_MAX_LAYERS)
        return BAD("%s: %lld layers", fn, (long long)h->layers);
    for (l = 0; l < h->layers; l++)
        h->out[l] = (int64_t)get(&r, 4), h->in[l] = (int64_t)get(&r, 4);
    h->meta.emb_dim = (int64_t)get(&r, 2);
    if (h->meta.emb_dim > DISTILL_MASK_MAX_EMBEDDING)
        return BAD("%s: an embedding of %lld values", fn, (long long)h->meta.emb_dim);
    for (i = 0; i < h->meta.emb_dim; i++)
        h->meta.embedding[i] = get_f32(&r);
    h->meta.reward = get_f32(&r), h->meta.sender = (uint32_t)get(&r, 4), h->meta.task_seq = (uint32_t)get(&r, 4);
    if (r.p > r.end)
        return BAD("%s: the header is truncated", fn);
    if (!isfinite(h->meta.reward) || distill__check_finite(NULL, fn, "", h->meta.embedding, 1, h->meta.emb_dim,
                                                           h->meta.emb_dim) != DISTILL_OK)
        return BAD("%s: a reward or embedding value is not finite", fn);
    h->payload = r.p, h->payload_len = (size_t)(r.end - r.p);
    return DISTILL_OK;
}

distill_status distill_mask_message_read(distill_context *ctx, const void *buf, size_t len, distill_mask_meta *meta)
{
    header h;
    size_t size;
    if (!ctx)
        return DISTILL_E_INVAL;
    if (!buf || !meta)
        return distill__fail(ctx, DISTILL_E_INVAL, "%s: buf and meta are required", fn_read);
    size = distill__struct_size_of(meta);
    if (size < sizeof(uint32_t) || size > sizeof *meta)
        return distill__fail(ctx, DISTILL_E_ABI, "%s: meta's struct_size %zu is not one this library knows", fn_read,
                             size);
    DISTILL__TRY(parse_header(ctx, fn_read, buf, len, &h));
    h.meta.struct_size = (uint32_t)size;
    memcpy(meta, &h.meta, size);
    return DISTILL_OK;
}

/* Does the message fit this net: backbone, binarisation, shapes, size? */
static distill_status check_fit(distill_masknet *net, const header *h)
{
    distill_context *ctx = net->ctx;
    int64_t l;
    if (h->meta.backbone_seed != net->o.backbone_seed || h->meta.backbone_hash != net->hash)
        return BAD("%s: the mask is for another backbone (seed %llu, hash %08x; this net: %llu, %08x)", fn_decode,
                   (unsigned long long)h->meta.backbone_seed, (unsigned)h->meta.backbone_hash,
                   (unsigned long long)net->o.backbone_seed, (unsigned)net->hash);
    if (h->layers != net->L)
        return BAD("%s: %lld layers, this net has %lld", fn_decode, (long long)h->layers, (long long)net->L);
    for (l = 0; l < net->L; l++)
        if (h->out[l] != net->out[l] || h->in[l] != net->in[l])
            return BAD("%s: layer %lld is %lld x %lld, this net's is %lld x %lld", fn_decode, (long long)l,
                       (long long)h->out[l], (long long)h->in[l], (long long)net->out[l], (long long)net->in[l]);
    if (h->meta.binarize != net->o.binarize)
        return BAD("%s: the mask was binarised another way (%d; this net: %d)", fn_decode, (int)h->meta.binarize,
                   (int)net->o.binarize);
    if (h->meta.payload == DISTILL_MASK_PAYLOAD_BITS && net->o.binarize == DISTILL_MASK_CONTINUOUS)
        return BAD("%s: bits cannot carry a continuous mask", fn_decode);
    if (h->payload_len != payload_bytes(net, h->meta.payload))
        return BAD("%s: a payload of %zu bytes, %zu expected", fn_decode, h->payload_len,
                   payload_bytes(net, h->meta.payload));
    return DISTILL_OK;
}

/* BITS -> scores: on +kappa, off -kappa (TOPK: off +kappa / 2, so the same
 * entries are the largest), kappa = 1 / sqrt(fan_in), the scores' scale. */
static distill_status bits_to_scores(distill_masknet *net, const unsigned char *p, float *s)
{
    distill_context *ctx = net->ctx;
    const int topk = net->o.binarize == DISTILL_MASK_TOPK;
    int64_t l, i;
    for (l = 0; l < net->L; l++) {
        const int64_t n = net->out[l] * net->in[l], words = (n + 63) / 64;
        const float kappa = 1.0f / sqrtf((float)net->in[l]);
        int64_t on = 0, k = (int64_t)(net->o.topk * (double)n + 0.5);
        reader r = {p, p + 8 * words};
        for (i = 0; i < words; i++) {
            const uint64_t word = get(&r, 8);
            const int64_t bits = n - 64 * i < 64 ? n - 64 * i : 64;
            int64_t b;
            if (bits < 64 && (word >> bits) != 0)
                return BAD("%s: layer %lld's padding bits are not 0", fn_decode, (long long)l);
            for (b = 0; b < bits; b++) {
                const int bit = (int)(word >> b & 1u);
                s[net->off[l] + 64 * i + b] = bit ? kappa : topk ? 0.5f * kappa : -kappa;
                on += bit;
            }
        }
        k = k < 1 ? 1 : k > n ? n : k;
        if (topk && on != k)
            return BAD("%s: layer %lld has %lld entries on, top-k keeps %lld", fn_decode, (long long)l,
                       (long long)on, (long long)k);
        p += 8 * words;
    }
    return DISTILL_OK;
}

static distill_status payload_to_scores(distill_masknet *net, const header *h, float *s)
{
    distill_context *ctx = net->ctx;
    reader r = {h->payload, h->payload + h->payload_len};
    int64_t i;
    if (h->meta.payload == DISTILL_MASK_PAYLOAD_BITS)
        return bits_to_scores(net, h->payload, s);
    for (i = 0; i < net->P; i++) {
        if (h->meta.payload == DISTILL_MASK_PAYLOAD_F16) {
            const uint16_t v = (uint16_t)get(&r, 2);
            if ((v & 0x7c00u) == 0x7c00u)
                return BAD("%s: score %lld is not finite", fn_decode, (long long)i);
            s[i] = from_half(v);
        } else if (!isfinite(s[i] = get_f32(&r)))
            return BAD("%s: score %lld is not finite", fn_decode, (long long)i);
    }
    return DISTILL_OK;
}

distill_status distill_masknet_decode(distill_masknet *net, int64_t t, const void *buf, size_t len,
                                      distill_mask_meta *meta)
{
    distill_context *ctx;
    distill_model *frozen = NULL;
    distill_status st;
    float *scores;
    header h;
    if (!net)
        return DISTILL_E_INVAL;
    ctx = net->ctx;
    if (!buf)
        return distill__fail(ctx, DISTILL_E_INVAL, "%s: buf is required", fn_decode);
    if (t < 0 || t >= net->T)
        return distill__fail(ctx, DISTILL_E_INVAL, "%s: task %lld is outside [0, %lld)", fn_decode, (long long)t,
                             (long long)net->T);
    if (meta && (distill__struct_size_of(meta) < sizeof(uint32_t) || distill__struct_size_of(meta) > sizeof *meta))
        return distill__fail(ctx, DISTILL_E_ABI, "%s: meta's struct_size is not one this library knows", fn_decode);
    DISTILL__TRY(parse_header(ctx, fn_decode, buf, len, &h));
    DISTILL__TRY(check_fit(net, &h));
    if (!(scores = distill__alloc_zero(ctx, net->block, sizeof(float))))
        return distill__fail(ctx, DISTILL_E_NOMEM, "%s: out of memory", fn_decode);
    st = payload_to_scores(net, &h, scores);
    if (st == DISTILL_OK && t != net->training)
        st = distill__mask_freeze(net, t, scores, &frozen);
    if (st != DISTILL_OK) {
        distill__free(ctx, scores);
        return st;
    }
    if (net->task[t]) { /* overwrite */
        memcpy(net->task[t], scores, sizeof(float) * (size_t)net->P);
        distill__free(ctx, scores);
        if (t == net->training) /* it computes the received mask itself, composing nothing from now on */
            net->n_comp = 0;
    } else
        net->task[t] = scores, net->n_tasks++;
    if (frozen) {
        distill_model_destroy(net->frozen[t]);
        net->frozen[t] = frozen;
    }
    net->fwd_task = -1;
    if (meta) {
        const size_t size = distill__struct_size_of(meta);
        h.meta.struct_size = (uint32_t)size;
        memcpy(meta, &h.meta, size);
    }
    return DISTILL_OK;
}
