/* distill masks --mpi: one agent per MPI rank, masks shared over
 * non-blocking point-to-point messages (make MPI=1).  No agent waits for
 * another: each polls what has arrived between its own iterations; an agent
 * done with its curriculum says so (an empty message) and keeps answering
 * until every agent is done. */
#include "masks.h"

#ifdef DISTILL_HAVE_MPI
#include <math.h>
#include <mpi.h>
#include <stdlib.h>
#include <string.h>

#define TAG 7101

typedef struct outbox {
    MPI_Request req[1024];
    void *buf[1024];
    int n;
} outbox;

/* Free the sends that completed. */
static void reap(outbox *o)
{
    int i = 0;
    while (i < o->n) {
        int done = 0;
        MPI_Test(&o->req[i], &done, MPI_STATUS_IGNORE);
        if (done) {
            free(o->buf[i]);
            o->req[i] = o->req[o->n - 1], o->buf[i] = o->buf[o->n - 1], o->n--;
        } else
            i++;
    }
}

static int mpi_send(void *user, uint32_t to, const void *msg, size_t len)
{
    outbox *o = user;
    void *copy;
    reap(o);
    if (o->n == 1024 || len > (size_t)1 << 30 || !(copy = malloc(len ? len : 1)))
        return 1;
    memcpy(copy, msg, len);
    if (MPI_Isend(copy, (int)len, MPI_BYTE, (int)to, TAG, MPI_COMM_WORLD, &o->req[o->n]) != MPI_SUCCESS) {
        free(copy);
        return 1;
    }
    o->buf[o->n++] = copy;
    return 0;
}

/* Hand everything that has arrived to the agent; count DONE messages. */
static distill_status poll_all(masks_agent *a, int *done_seen, unsigned char **buf, int *cap)
{
    for (;;) {
        int flag = 0, len = 0;
        MPI_Status st;
        MPI_Iprobe(MPI_ANY_SOURCE, TAG, MPI_COMM_WORLD, &flag, &st);
        if (!flag)
            return DISTILL_OK;
        MPI_Get_count(&st, MPI_BYTE, &len);
        if (len > *cap) {
            unsigned char *b = realloc(*buf, (size_t)len);
            if (!b)
                return DISTILL_E_NOMEM;
            *buf = b, *cap = len;
        }
        MPI_Recv(*buf, len, MPI_BYTE, st.MPI_SOURCE, TAG, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        if (len == 0)
            (*done_seen)++;
        else if (a && distill_share_receive(a->share, *buf, (size_t)len) == DISTILL_E_NOMEM)
            return DISTILL_E_NOMEM; /* a malformed message is counted and dropped */
    }
}

static distill_status run_rank(masks_agent *a, const masks_world *w, const masks_setup *s, int rank, int world,
                               outbox *o, int64_t *ticks)
{
    unsigned char *buf = NULL;
    int cap = 0, done_seen = 0, said = 0, r;
    distill_status st = DISTILL_OK;
    for (*ticks = 0; st == DISTILL_OK && (!a->done || done_seen < world - 1);) {
        st = poll_all(a, &done_seen, &buf, &cap);
        if (st == DISTILL_OK && !a->done) {
            st = masks_agent_step(a, w, s);
            ++*ticks;
        }
        if (st == DISTILL_OK)
            st = distill_share_tick(a->share);
        if ((st != DISTILL_OK || a->done) && !said) /* done, or failed: the others must not wait for us */
            for (r = 0, said = 1; r < world; r++)
                if (r != rank && mpi_send(o, (uint32_t)r, "", 0) && st == DISTILL_OK)
                    st = DISTILL_E_BACKEND;
        reap(o);
    }
    free(buf);
    return st;
}

/* Leave together: keep receiving (and dropping) until every send of ours
 * has gone out, then until everyone's has (a large send completes only
 * when its receiver takes it). */
static void drain(outbox *o)
{
    unsigned char *buf = NULL;
    int cap = 0, seen = 0, done = 0;
    MPI_Request bar;
    while (o->n > 0) {
        (void)poll_all(NULL, &seen, &buf, &cap);
        reap(o);
    }
    MPI_Ibarrier(MPI_COMM_WORLD, &bar);
    while (!done) {
        (void)poll_all(NULL, &seen, &buf, &cap);
        MPI_Test(&bar, &done, MPI_STATUS_IGNORE);
    }
    (void)poll_all(NULL, &seen, &buf, &cap);
    free(buf);
}

int cmd_masks_mpi(int argc, char **argv, const masks_setup *setup)
{
    static outbox o;
    distill_context *ctx = NULL;
    masks_world w;
    masks_agent a;
    masks_setup s = *setup;
    distill_share_stats ss;
    distill_status st;
    int rank = 0, world = 1, r, ok_local, *ok = NULL;
    int64_t ticks = 0, k, *all_ticks = NULL, received, *all_received = NULL;
    if (cli_mpi_init(&rank, &world) != 0)
        return cli_fail(NULL, "masks", "MPI");
    memset(&a, 0, sizeof a), memset(&w, 0, sizeof w);
    if (!(ctx = cli_context(argc, argv)))
        return cli_mpi_finalize(), cli_fail(NULL, "masks", "context");
    distill_context_set_seed(ctx, distill_context_seed(ctx) + (uint64_t)rank); /* own scores and episodes */
    st = masks_world_init(&w, ctx, cli_long(argc, argv, "--depth", 2), cli_long(argc, argv, "--image-seeds", 2));
    s.first = w.n_tasks ? rank * w.n_tasks / world % w.n_tasks : 0; /* spread, as on the bus */
    if (st == DISTILL_OK)
        st = masks_agent_init(&a, &w, &s, (uint32_t)rank, mpi_send, &o);
    for (r = 0; r < world && st == DISTILL_OK; r++)
        st = distill_share_add_peer(a.share, (uint32_t)r);
    if (st == DISTILL_OK)
        st = run_rank(&a, &w, &s, rank, world, &o, &ticks);
    else /* the others must not wait for an agent that never started */
        for (r = 0; r < world; r++)
            if (r != rank)
                (void)mpi_send(&o, (uint32_t)r, "", 0);
    drain(&o);
    ok_local = st == DISTILL_OK;
    for (k = 0; ok_local && k < w.n_tasks; k++)
        ok_local = distill_masknet_task_learned(a.net, k) == 1;
    ss.struct_size = sizeof ss;
    received = a.share && distill_share_get_stats(a.share, &ss) == DISTILL_OK ? ss.masks_installed : 0;
    if (rank == 0) {
        ok = malloc(sizeof(int) * (size_t)world), all_ticks = malloc(sizeof(int64_t) * (size_t)world);
        all_received = malloc(sizeof(int64_t) * (size_t)world);
        if (!ok || !all_ticks || !all_received) {
            fprintf(stderr, "distill masks: rank 0: out of memory for the summary\n");
            MPI_Abort(MPI_COMM_WORLD, 1);
        }
    }
    MPI_Gather(&ok_local, 1, MPI_INT, ok, 1, MPI_INT, 0, MPI_COMM_WORLD);
    MPI_Gather(&ticks, 1, MPI_INT64_T, all_ticks, 1, MPI_INT64_T, 0, MPI_COMM_WORLD);
    MPI_Gather(&received, 1, MPI_INT64_T, all_received, 1, MPI_INT64_T, 0, MPI_COMM_WORLD);
    if (rank == 0 && ok && all_ticks && all_received) {
        int all = 1;
        for (r = 0; r < world; r++)
            all &= ok[r];
        printf("{\"command\":\"masks\",\"ok\":true,\"mode\":\"mpi\",\"agents\":%d,\"tasks\":%lld,\"mpi_agents_ok\":%s,"
               "\"ticks\":[", world, (long long)w.n_tasks, all ? "true" : "false");
        for (r = 0; r < world; r++)
            printf("%s%lld", r ? "," : "", (long long)all_ticks[r]);
        printf("],\"masks_received\":[");
        for (r = 0; r < world; r++)
            printf("%s%lld", r ? "," : "", (long long)all_received[r]);
        printf("]}\n");
    }
    free(ok), free(all_ticks), free(all_received);
    if (st != DISTILL_OK && rank == 0)
        fprintf(stderr, "distill masks: rank 0: %s\n", distill_context_last_error(ctx));
    masks_agent_free(&a), masks_world_free(&w);
    distill_context_destroy(ctx);
    cli_mpi_finalize();
    return st == DISTILL_OK ? 0 : 1;
}

#else

int cmd_masks_mpi(int argc, char **argv, const masks_setup *s)
{
    int rank, world;
    (void)argc, (void)argv, (void)s;
    cli_mpi_init(&rank, &world); /* says what is missing */
    return cli_fail(NULL, "masks", "--mpi needs the program built with MPI (make MPI=1)");
}

#endif
