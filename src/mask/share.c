/* Sharing masks between agents: the protocol's state machine and its
 * envelope.
 *
 *   "LDSH"  u16 version (1)  u8 type  u8 0  u32 sender  u32 task  f32 reward
 *   QUERY, REQ:  nothing more
 *   META:        nothing more (the distance is 0: the same slot)
 *   MASK:        u32 length, then a mask message (message.c)
 *   TABLE:       u16 count, then count u32 agent ids
 *   u32 CRC32 of every byte before it
 * All little-endian. */
#include <math.h>
#include <string.h>

#include "../core/abi.h"
#include "../core/check.h"
#include "../core/container.h"
#include "internal.h"

#define VERSION 1u
#define HEAD 20 /* bytes before the type's own */
enum { QUERY = 0, META = 1, REQ = 2, MASK = 3, TABLE = 4, TYPES = 5 };

struct distill_share {
    distill_context *ctx;
    distill_share_options o;
    distill_masknet *net;
    uint32_t id;
    distill_share_send_fn send;
    void *user;
    uint32_t *peers;
    int64_t n_peers;
    float *reward;          /* T: the knowledge base (0: unknown) */
    int64_t *window;        /* T: ticks left in the META window, -1 closed */
    int64_t *best_peer;     /* T: the window's best META so far (-1 none), then the REQ's peer */
    float *best_reward;     /* T */
    int64_t *pending;       /* T: the peer a REQ went to (-1 none) */
    unsigned char *buf;     /* outgoing messages */
    size_t cap;
    distill_share_stats st;
};

static const char fn_create[] = "distill_share_create", fn_receive[] = "distill_share_receive";

size_t distill_share_options_size(void) { return sizeof(distill_share_options); }
size_t distill_share_stats_size(void) { return sizeof(distill_share_stats); }

void distill_share_options_init(distill_share_options *o)
{
    if (!o)
        return;
    memset(o, 0, sizeof *o);
    o->struct_size = sizeof *o;
    o->payload = DISTILL_MASK_PAYLOAD_BITS;
    o->gate = 0.9;
    o->meta_window = 1;
    o->max_peers = 64;
}

void distill_share_destroy(distill_share *a)
{
    if (!a)
        return;
    distill__free(a->ctx, a->peers);
    distill__free(a->ctx, a->reward);
    distill__free(a->ctx, a->window);
    distill__free(a->ctx, a->buf);
    distill__free(a->ctx, a);
}

distill_status distill_share_create(distill_context *ctx, const distill_share_options *opts, distill_masknet *net,
                                    uint32_t id, distill_share_send_fn send, void *user, distill_share **out)
{
    distill_share *a;
    distill_status st = DISTILL_OK;
    int64_t T, t;
    if (!ctx)
        return DISTILL_E_INVAL;
    DISTILL__TRY(distill__check_out(ctx, fn_create, "out", out));
    *out = NULL;
    if (!net || !send)
        return distill__fail(ctx, DISTILL_E_INVAL, "%s: net and send are required", fn_create);
    if (!(a = distill__alloc_zero(ctx, 1, sizeof *a)))
        return distill__fail(ctx, DISTILL_E_NOMEM, "%s: out of memory", fn_create);
    a->ctx = ctx, a->net = net, a->id = id, a->send = send, a->user = user, T = net->T;
    distill_share_options_init(&a->o);
    if (opts)
        st = distill__struct_read(ctx, fn_create, "options", opts, sizeof a->o, sizeof a->o, &a->o);
    if (st == DISTILL_OK && a->o.payload == DISTILL_MASK_PAYLOAD_BITS && net->o.binarize == DISTILL_MASK_CONTINUOUS)
        st = distill__fail(ctx, DISTILL_E_UNSUPPORTED, "%s: a continuous mask needs its scores (payload F16 or "
                           "F32), bits cannot carry it", fn_create);
    if (st == DISTILL_OK && (a->o.payload < DISTILL_MASK_PAYLOAD_BITS || a->o.payload > DISTILL_MASK_PAYLOAD_F32 ||
                             !(a->o.gate >= 0.0 && isfinite(a->o.gate)) || a->o.meta_window < 0 ||
                             a->o.max_peers < 1 || a->o.max_peers > 65535))
        st = distill__fail(ctx, DISTILL_E_INVAL, "%s: need a DISTILL_MASK_PAYLOAD_* payload, a finite gate >= 0, "
                           "meta_window >= 0 and max_peers in [1, 65535]", fn_create);
    if (st == DISTILL_OK) {
        a->peers = distill__alloc_zero(ctx, a->o.max_peers, sizeof(uint32_t));
        a->reward = distill__alloc_zero(ctx, T * 2, sizeof(float));
        a->window = distill__alloc_zero(ctx, T * 3, sizeof(int64_t));
        if (!a->peers || !a->reward || !a->window)
            st = distill__fail(ctx, DISTILL_E_NOMEM, "%s: out of memory", fn_create);
    }
    if (st != DISTILL_OK) {
        distill_share_destroy(a);
        return st;
    }
    a->best_reward = a->reward + T, a->best_peer = a->window + T, a->pending = a->window + 2 * T;
    for (t = 0; t < T; t++)
        a->window[t] = a->best_peer[t] = a->pending[t] = -1;
    a->st.struct_size = sizeof a->st;
    *out = a;
    return DISTILL_OK;
}

/* ---- the envelope -------------------------------------------------------- */

static void le(unsigned char *p, uint64_t v, int bytes)
{
    int i;
    for (i = 0; i < bytes; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static uint64_t rd(const unsigned char *p, int bytes)
{
    uint64_t v = 0;
    int i;
    for (i = 0; i < bytes; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

static distill_status room(distill_share *a, size_t need)
{
    unsigned char *b;
    if (need <= a->cap)
        return DISTILL_OK;
    if (!(b = distill__alloc(a->ctx, need)))
        return distill__fail(a->ctx, DISTILL_E_NOMEM, "distill_share: out of memory for a %zu-byte message", need);
    distill__free(a->ctx, a->buf);
    a->buf = b, a->cap = need;
    return DISTILL_OK;
}

/* The head into a->buf (room for `body` more bytes and the CRC made). */
static distill_status head(distill_share *a, int type, int64_t t, float reward, size_t body)
{
    uint32_t r;
    DISTILL__TRY(room(a, HEAD + body + 4));
    memcpy(a->buf, "LDSH", 4);
    le(a->buf + 4, VERSION, 2), a->buf[6] = (unsigned char)type, a->buf[7] = 0;
    le(a->buf + 8, a->id, 4), le(a->buf + 12, (uint64_t)t, 4);
    memcpy(&r, &reward, 4);
    le(a->buf + 16, r, 4);
    return DISTILL_OK;
}

/* CRC the message of `body` bytes after the head and send it. */
static distill_status post(distill_share *a, int type, uint32_t to, size_t body)
{
    const size_t len = HEAD + body + 4;
    le(a->buf + HEAD + body, distill__crc32(a->buf, HEAD + body), 4);
    a->st.sent[type]++, a->st.bytes_sent += (int64_t)len;
    if (a->send(a->user, to, a->buf, len))
        a->st.send_failures++;
    return DISTILL_OK;
}

static distill_status send_simple(distill_share *a, int type, uint32_t to, int64_t t, float reward)
{
    DISTILL__TRY(head(a, type, t, reward, 0));
    return post(a, type, to, 0);
}

/* ---- peers and the knowledge base ---------------------------------------- */

static int known(const distill_share *a, uint32_t peer)
{
    int64_t i;
    for (i = 0; i < a->n_peers; i++)
        if (a->peers[i] == peer)
            return 1;
    return peer == a->id;
}

distill_status distill_share_add_peer(distill_share *a, uint32_t peer)
{
    if (!a)
        return DISTILL_E_INVAL;
    if (known(a, peer))
        return DISTILL_OK;
    if (a->n_peers >= a->o.max_peers)
        return distill__fail(a->ctx, DISTILL_E_INVAL, "distill_share_add_peer: the agent keeps %lld peers already",
                             (long long)a->o.max_peers);
    a->peers[a->n_peers++] = peer;
    return DISTILL_OK;
}

int64_t distill_share_peers(const distill_share *a) { return a ? a->n_peers : 0; }

static distill_status check_task(const distill_share *a, const char *fn, int64_t t)
{
    if (t < 0 || t >= a->net->T)
        return distill__fail(a->ctx, DISTILL_E_INVAL, "%s: task %lld is outside [0, %lld)", fn, (long long)t,
                             (long long)a->net->T);
    return DISTILL_OK;
}

distill_status distill_share_set_reward(distill_share *a, int64_t t, float reward)
{
    if (!a)
        return DISTILL_E_INVAL;
    DISTILL__TRY(check_task(a, "distill_share_set_reward", t));
    if (!isfinite(reward))
        return distill__fail(a->ctx, DISTILL_E_NUMERIC, "distill_share_set_reward: the reward is not finite");
    a->reward[t] = reward;
    return DISTILL_OK;
}

float distill_share_reward(const distill_share *a, int64_t t)
{
    return a && t >= 0 && t < a->net->T ? a->reward[t] : 0.0f;
}

distill_status distill_share_get_stats(const distill_share *a, distill_share_stats *out)
{
    size_t size;
    if (!a)
        return DISTILL_E_INVAL;
    if (!out || (size = distill__struct_size_of(out)) < sizeof(uint32_t) || size > sizeof *out)
        return distill__fail(a->ctx, DISTILL_E_INVAL, "distill_share_get_stats: out is NULL or its struct_size "
                             "unknown");
    memcpy(out, &a->st, size);
    out->struct_size = (uint32_t)size;
    return DISTILL_OK;
}

/* ---- the exchange -------------------------------------------------------- */

distill_status distill_share_query(distill_share *a, int64_t t)
{
    int64_t i;
    if (!a)
        return DISTILL_E_INVAL;
    DISTILL__TRY(check_task(a, "distill_share_query", t));
    if (a->window[t] < 0) /* a window still open stays so: queries more often than it lasts must not starve it */
        a->window[t] = a->o.meta_window, a->best_peer[t] = -1, a->best_reward[t] = 0.0f;
    for (i = 0; i < a->n_peers; i++)
        DISTILL__TRY(send_simple(a, QUERY, a->peers[i], t, a->reward[t]));
    return DISTILL_OK;
}

/* Does a peer's reward r beat ours on t by the gate? */
static int worth(const distill_share *a, int64_t t, float r)
{
    return r > 0.0f && a->o.gate * (double)r > (double)a->reward[t];
}

distill_status distill_share_tick(distill_share *a)
{
    int64_t t;
    if (!a)
        return DISTILL_E_INVAL;
    for (t = 0; t < a->net->T; t++) {
        if (a->window[t] < 0 || --a->window[t] > 0)
            continue;
        a->window[t] = -1; /* closed: ask the best peer, if it still beats us */
        if (a->best_peer[t] >= 0 && worth(a, t, a->best_reward[t])) {
            a->pending[t] = a->best_peer[t];
            DISTILL__TRY(send_simple(a, REQ, (uint32_t)a->best_peer[t], t, 0.0f));
        }
    }
    return DISTILL_OK;
}

static distill_status on_query(distill_share *a, uint32_t from, int64_t t, float r)
{
    if (!known(a, from)) { /* a newcomer: our peers, then it joins them */
        int64_t i;
        DISTILL__TRY(head(a, TABLE, 0, 0.0f, 2 + 4 * (size_t)a->n_peers));
        le(a->buf + HEAD, (uint64_t)a->n_peers, 2);
        for (i = 0; i < a->n_peers; i++)
            le(a->buf + HEAD + 2 + 4 * i, a->peers[i], 4);
        DISTILL__TRY(post(a, TABLE, from, 2 + 4 * (size_t)a->n_peers));
        if (a->n_peers < a->o.max_peers)
            a->peers[a->n_peers++] = from;
    }
    if (distill_masknet_task_learned(a->net, t) >= 0 && a->reward[t] > 0.0f &&
        a->o.gate * (double)a->reward[t] > (double)r)
        return send_simple(a, META, from, t, a->reward[t]);
    a->st.ignored++;
    return DISTILL_OK;
}

static void on_meta(distill_share *a, uint32_t from, int64_t t, float r)
{
    if (a->window[t] < 0 || r <= a->best_reward[t]) {
        a->st.ignored++; /* late, or no better than the best so far */
        return;
    }
    a->best_peer[t] = from, a->best_reward[t] = r;
}

static distill_status on_req(distill_share *a, uint32_t from, int64_t t)
{
    distill_mask_meta m;
    size_t len;
    if (distill_masknet_task_learned(a->net, t) < 0) {
        a->st.ignored++;
        return DISTILL_OK;
    }
    distill_mask_meta_init(&m);
    m.payload = a->o.payload, m.reward = a->reward[t], m.sender = a->id;
    if (a->net->T <= DISTILL_MASK_MAX_EMBEDDING) /* the slot's one-hot label; none when it does not fit */
        m.emb_dim = a->net->T, m.embedding[t] = 1.0f;
    DISTILL__TRY(distill_masknet_encode(a->net, t, &m, NULL, 0, &len));
    DISTILL__TRY(head(a, MASK, t, a->reward[t], 4 + len));
    le(a->buf + HEAD, len, 4);
    DISTILL__TRY(distill_masknet_encode(a->net, t, &m, a->buf + HEAD + 4, len, &len));
    return post(a, MASK, from, 4 + len);
}

static distill_status on_mask(distill_share *a, uint32_t from, int64_t t, float r, const unsigned char *body,
                              size_t n)
{
    distill_status st;
    if (n < 4 || rd(body, 4) != n - 4)
        return distill__fail(a->ctx, DISTILL_E_FORMAT, "%s: a MASK whose length field does not fit", fn_receive);
    if (a->pending[t] != (int64_t)from || !worth(a, t, r)) {
        a->st.ignored++; /* unasked, answered already, or no longer better */
        return DISTILL_OK;
    }
    if ((st = distill_masknet_decode(a->net, t, body + 4, n - 4, NULL)) != DISTILL_OK)
        return st;
    a->pending[t] = -1, a->reward[t] = r, a->st.masks_installed++;
    return DISTILL_OK;
}

static distill_status on_table(distill_share *a, const unsigned char *body, size_t n)
{
    int64_t i, count;
    if (n < 2 || (count = (int64_t)rd(body, 2)) * 4 + 2 != (int64_t)n)
        return distill__fail(a->ctx, DISTILL_E_FORMAT, "%s: a TABLE whose count does not fit", fn_receive);
    for (i = 0; i < count; i++) {
        const uint32_t peer = (uint32_t)rd(body + 2 + 4 * i, 4);
        if (!known(a, peer) && a->n_peers < a->o.max_peers)
            a->peers[a->n_peers++] = peer;
    }
    return DISTILL_OK;
}

distill_status distill_share_receive(distill_share *a, const void *msg, size_t len)
{
    const unsigned char *m = msg;
    distill_status st;
    uint32_t from, bits;
    int64_t t;
    int type;
    float r;
    if (!a)
        return DISTILL_E_INVAL;
    if (!msg)
        return distill__fail(a->ctx, DISTILL_E_INVAL, "%s: msg is required", fn_receive);
    if (len < HEAD + 4 || memcmp(m, "LDSH", 4) != 0 || rd(m + 4, 2) != VERSION || m[6] >= TYPES || m[7] != 0 ||
        distill__crc32(m, len - 4) != (uint32_t)rd(m + len - 4, 4)) {
        a->st.rejected++;
        return distill__fail(a->ctx, DISTILL_E_FORMAT, "%s: not a sharing message (%zu bytes: bad magic, version, "
                             "type or CRC)", fn_receive, len);
    }
    type = m[6], from = (uint32_t)rd(m + 8, 4), t = (int64_t)rd(m + 12, 4), bits = (uint32_t)rd(m + 16, 4);
    memcpy(&r, &bits, 4);
    if (t >= a->net->T || !isfinite(r) || from == a->id ||
        (type != MASK && type != TABLE && len != HEAD + 4)) {
        a->st.rejected++;
        return distill__fail(a->ctx, DISTILL_E_FORMAT, "%s: a %d message with task %lld, reward %g, sender %u "
                             "does not fit this agent", fn_receive, type, (long long)t, (double)r, (unsigned)from);
    }
    a->st.received[type]++;
    switch (type) {
    case QUERY: st = on_query(a, from, t, r); break;
    case META: on_meta(a, from, t, r), st = DISTILL_OK; break;
    case REQ: st = on_req(a, from, t); break;
    case MASK: st = on_mask(a, from, t, r, m + HEAD, len - HEAD - 4); break;
    default: st = on_table(a, m + HEAD, len - HEAD - 4); break;
    }
    if (st == DISTILL_E_FORMAT)
        a->st.rejected++;
    return st;
}
