/* The in-process bus: a FIFO of messages with delivery times, seeded
 * losses, and agents that come and go. */
#include <string.h>

#include "../core/check.h"
#include "../core/rng.h"
#include "internal.h"

#define BUS_PURPOSE 0x62757373ULL /* "buss" */
#define MAX_AGENTS 4096

typedef struct parcel {
    struct parcel *next;
    uint32_t to;
    int64_t due;
    size_t len;
    unsigned char bytes[];
} parcel;

typedef struct route {
    uint32_t id;
    distill_share *agent;
} route;

struct distill_share_bus {
    distill_context *ctx;
    int64_t latency, now;
    double drop;
    distill__rng rng;
    parcel *head, *tail;
    route routes[MAX_AGENTS];
    int64_t n_routes;
    int64_t delivered, bytes, lost;
    int failed; /* a send could not allocate: the next tick says so */
};

distill_status distill_share_bus_create(distill_context *ctx, int64_t latency, double drop, uint64_t seed,
                                        distill_share_bus **out)
{
    static const char fn[] = "distill_share_bus_create";
    distill_share_bus *b;
    if (!ctx)
        return DISTILL_E_INVAL;
    DISTILL__TRY(distill__check_out(ctx, fn, "out", out));
    *out = NULL;
    if (latency < 0 || latency > ((int64_t)1 << 40) || !(drop >= 0.0 && drop <= 1.0))
        return distill__fail(ctx, DISTILL_E_INVAL, "%s: need latency in [0, 2^40] and drop in [0, 1], got %lld and %g", fn,
                             (long long)latency, drop);
    if (!(b = distill__alloc_zero(ctx, 1, sizeof *b)))
        return distill__fail(ctx, DISTILL_E_NOMEM, "%s: out of memory", fn);
    b->ctx = ctx, b->latency = latency, b->drop = drop;
    distill__rng_init(&b->rng, seed, BUS_PURPOSE, 0);
    *out = b;
    return DISTILL_OK;
}

void distill_share_bus_destroy(distill_share_bus *b)
{
    parcel *p, *next;
    if (!b)
        return;
    for (p = b->head; p; p = next)
        next = p->next, distill__free(b->ctx, p);
    distill__free(b->ctx, b);
}

int distill_share_bus_send(void *bus, uint32_t to, const void *msg, size_t len)
{
    distill_share_bus *b = bus;
    parcel *p;
    if (!b || !msg)
        return 1;
    if (b->drop > 0.0 && (double)distill__rng_uniform(&b->rng) < b->drop) {
        b->lost++; /* lost on the way: the sender does not know */
        return 0;
    }
    if (len > ((size_t)1 << 31) || !(p = distill__alloc(b->ctx, sizeof *p + len))) {
        b->failed = 1;
        return 1;
    }
    p->next = NULL, p->to = to, p->due = b->now + b->latency, p->len = len;
    memcpy(p->bytes, msg, len);
    if (b->tail)
        b->tail->next = p;
    else
        b->head = p;
    b->tail = p;
    return 0;
}

distill_status distill_share_bus_attach(distill_share_bus *b, uint32_t id, distill_share *agent)
{
    int64_t i;
    if (!b)
        return DISTILL_E_INVAL;
    for (i = 0; i < b->n_routes; i++)
        if (b->routes[i].id == id) {
            b->routes[i].agent = agent;
            return DISTILL_OK;
        }
    if (!agent)
        return DISTILL_OK;
    if (b->n_routes >= MAX_AGENTS)
        return distill__fail(b->ctx, DISTILL_E_INVAL, "distill_share_bus_attach: the bus routes %d agents already",
                             MAX_AGENTS);
    b->routes[b->n_routes].id = id, b->routes[b->n_routes++].agent = agent;
    return DISTILL_OK;
}

static distill_share *lookup(const distill_share_bus *b, uint32_t id)
{
    int64_t i;
    for (i = 0; i < b->n_routes; i++)
        if (b->routes[i].id == id)
            return b->routes[i].agent;
    return NULL;
}

distill_status distill_share_bus_tick(distill_share_bus *b)
{
    int64_t i;
    if (!b)
        return DISTILL_E_INVAL;
    if (b->failed) {
        b->failed = 0;
        return distill__fail(b->ctx, DISTILL_E_NOMEM, "distill_share_bus_tick: a message was lost for want of "
                             "memory");
    }
    b->now++;
    /* latency 0: replies sent during the delivery are due now and delivered
     * in this same loop (every exchange of the protocol ends) */
    while (b->head && b->head->due <= b->now) {
        parcel *p = b->head;
        distill_share *to = lookup(b, p->to);
        distill_status st = DISTILL_OK;
        b->head = p->next;
        if (!b->head)
            b->tail = NULL;
        if (to) {
            b->delivered++, b->bytes += (int64_t)p->len;
            st = distill_share_receive(to, p->bytes, p->len);
        } else
            b->lost++;
        distill__free(b->ctx, p);
        if (st != DISTILL_OK && st != DISTILL_E_FORMAT)
            return st;
    }
    for (i = 0; i < b->n_routes; i++)
        if (b->routes[i].agent)
            DISTILL__TRY(distill_share_tick(b->routes[i].agent));
    return DISTILL_OK;
}

void distill_share_bus_counts(const distill_share_bus *b, int64_t *delivered, int64_t *bytes, int64_t *lost)
{
    if (delivered)
        *delivered = b ? b->delivered : 0;
    if (bytes)
        *bytes = b ? b->bytes : 0;
    if (lost)
        *lost = b ? b->lost : 0;
}
