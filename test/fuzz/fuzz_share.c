/* libFuzzer target: an agent's message handler must return a status for
 * any bytes, never crash, and install a mask only as the answer to its own
 * request.  Each input is tried as it is and with its trailing CRC made
 * right. */
#include <stdlib.h>
#include <string.h>

#include "distill/distill.h"
#include "fuzz_util.h"

static int discard(void *user, uint32_t to, const void *msg, size_t len)
{
    (void)user, (void)to, (void)msg, (void)len;
    return 0;
}

static distill_masknet *net_of(int i)
{
    static distill_masknet *nets[2];
    if (!nets[i]) {
        distill_masknet_options o;
        distill_masknet_options_init(&o);
        o.inputs = 3, o.outputs = 2, o.hidden = 5, o.layers = 1, o.max_tasks = 4;
        if (distill_masknet_create(fuzz_context(), &o, &nets[i]) != DISTILL_OK ||
            distill_masknet_add_task(nets[i], 1) != DISTILL_OK || distill_masknet_consolidate(nets[i]) != DISTILL_OK)
            abort();
    }
    return nets[i];
}

/* Agent 7, the receiver, knows agent 3 (the seeds' sender); the mask
 * decoder behind a MASK has its own target (fuzz_mask). */
static distill_share *receiver(void)
{
    static distill_share *a;
    if (!a && (distill_share_create(fuzz_context(), NULL, net_of(0), 7, discard, NULL, &a) != DISTILL_OK ||
               distill_share_add_peer(a, 3) != DISTILL_OK))
        abort();
    return a;
}

static void receive(const unsigned char *data, size_t size)
{
    distill_share *a = receiver();
    const int64_t before = distill_masknet_tasks(net_of(0));
    if (distill_share_receive(a, data, size) != DISTILL_OK && distill_masknet_tasks(net_of(0)) != before)
        abort(); /* a rejected message changed the net */
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    fuzz_both_trailer(data, size, receive);
    return 0;
}

/* Seeds: what agent 3 sends: a QUERY, a META, a TABLE and a MASK of task 1. */
typedef struct capture {
    unsigned char *buf;
    size_t cap, len;
} capture;

static int keep(void *user, uint32_t to, const void *msg, size_t len)
{
    capture *c = user;
    (void)to;
    c->len = len <= c->cap ? len : 0;
    if (c->len)
        memcpy(c->buf, msg, len);
    return 0;
}

size_t fuzz_seed(int i, unsigned char *buf, size_t cap)
{
    capture c = {buf, cap, 0};
    distill_share *s, *probe;
    if (i > 3)
        return 0;
    if (distill_share_create(fuzz_context(), NULL, net_of(1), 3, keep, &c, &s) != DISTILL_OK ||
        distill_share_set_reward(s, 1, 1.0f) != DISTILL_OK || distill_share_add_peer(s, 7) != DISTILL_OK)
        abort();
    if (i == 0 && distill_share_query(s, 2) != DISTILL_OK)
        abort();
    if (i > 0) { /* a newcomer's QUERY draws a TABLE and a META; a REQ draws the MASK */
        capture q = {malloc(4096), 4096, 0};
        if (!q.buf || distill_share_create(fuzz_context(), NULL, net_of(0), 9, keep, &q, &probe) != DISTILL_OK ||
            distill_share_add_peer(probe, 3) != DISTILL_OK || distill_share_query(probe, 1) != DISTILL_OK)
            abort();
        if (i == 3) {
            if (distill_share_receive(s, q.buf, q.len) != DISTILL_OK) /* META to the probe */
                abort();
            if (distill_share_receive(probe, c.buf, c.len) != DISTILL_OK || distill_share_tick(probe) != DISTILL_OK)
                abort();
        }
        if (distill_share_receive(s, q.buf, q.len) != DISTILL_OK)
            abort();
        distill_share_destroy(probe);
        free(q.buf);
    }
    distill_share_destroy(s);
    return c.len;
}
