/* libdistill: modulating masks (Ben-Iwhiwhu et al. 2023; Nath et al. 2023;
 * docs/masks.md).  A distill_masknet is an MLP whose weights never train:
 * every layer is bias-free with frozen weights W = +-sqrt(2 / fan_in), the
 * signs drawn from a backbone seed (never stored or sent: every agent with
 * the same seed and shapes has the same backbone).  What a task learns is a
 * real score per weight, S[t]; the task's network uses W (.) M(S[t]):
 *
 *   DISTILL_MASK_THRESHOLD   M = 1[S >= 0]               (the papers' default)
 *   DISTILL_MASK_CONTINUOUS  M = S 1[S >= 0]
 *   DISTILL_MASK_TOPK        M = 1 for the `topk` fraction of each layer's
 *                            entries with the largest |S| (edge-popup)
 *
 * The gradient reaches S through the straight-through estimator (dL/dS :=
 * dL/dM; CONTINUOUS: the true derivative, 1[S >= 0] dL/dM).
 *
 * TASKS.  distill_masknet_add_task makes task t (scores uniform in
 * +-1/sqrt(fan_in)) the one in training; distill_masknet_consolidate ends
 * it, and from then on its outputs never change (zero forgetting by
 * construction: only the training task's scores, and its row of beta,
 * receive gradient).  With `task_input` the one-hot label of the task
 * (max_tasks values) is appended to the observation inside the network.
 *
 * COMPOSITION (compose), for the task t in training when tasks J are
 * learned (J fixed when t was added; none: t alone):
 *   DISTILL_MASK_RI   its own scores alone (random init);
 *   DISTILL_MASK_LC   S_eff = sum_{j in J} p_j S[j] + p_t S[t] per layer,
 *                     p = softmax(beta_l[t, J + t]) with beta_l[t] a
 *                     learned row per layer (all logits equal at the start);
 *   DISTILL_MASK_BLC  as LC, p_t starting at 0.5 and J sharing the other half.
 * Consolidation stores S[t] <- S_eff, so a learned task stands alone.
 *
 * TRAINABLE PARAMETERS.  distill_masknet_params is the training task's
 * block: its scores, layer by layer (row-major out x in, as
 * distill_masknet_layer_shape gives), then max_tasks logits of beta per
 * layer (entries outside J + t are unused, their gradient 0).  Any optimiser on
 * this buffer trains the task (distill_optimizer: RMSprop, as the papers).
 * beta_l[t, j] sits at index P + l max_tasks + j (P: mask_count).
 *
 * THREAD SAFETY: as the context; distill_masknet_infer (a learned task,
 * the caller's workspace) allocates nothing and may run on many threads
 * while no other call changes the net. */
#ifndef DISTILL_MASK_H
#define DISTILL_MASK_H

#include <stddef.h>
#include <stdint.h>

#include "core.h"
#include "export.h"
#include "policy.h"
#include "rl.h"
#include "status.h"

DISTILL_BEGIN_DECLS

typedef struct distill_masknet distill_masknet;

#define DISTILL_MASK_THRESHOLD 0
#define DISTILL_MASK_CONTINUOUS 1
#define DISTILL_MASK_TOPK 2

#define DISTILL_MASK_RI 0
#define DISTILL_MASK_LC 1
#define DISTILL_MASK_BLC 2

#define DISTILL_MASK_MAX_LAYERS 16
#define DISTILL_MASK_MAX_TASKS 1024

typedef struct distill_masknet_options {
    uint32_t struct_size;   /* sizeof(distill_masknet_options) */
    int32_t binarize;       /* DISTILL_MASK_THRESHOLD (default), _CONTINUOUS or _TOPK */
    int64_t inputs;         /* observation values, >= 1 (required) */
    int64_t outputs;        /* >= 1 (required); for PPO: actions + 1 (the value) */
    int64_t hidden;         /* units per hidden layer (64) */
    int64_t layers;         /* hidden layers (ReLU), 0 .. DISTILL_MASK_MAX_LAYERS - 1 (3) */
    int64_t max_tasks;      /* tasks the net can hold, 1 .. DISTILL_MASK_MAX_TASKS (8) */
    int32_t task_input;     /* 1: append the one-hot task label (max_tasks values) to the input (1) */
    int32_t compose;        /* DISTILL_MASK_RI (default), _LC or _BLC */
    uint64_t backbone_seed; /* the signs of W (9157, the papers' code) */
    double topk;            /* DISTILL_MASK_TOPK: fraction of each layer kept, in (0, 1] (0.5) */
} distill_masknet_options;

DISTILL_API void distill_masknet_options_init(distill_masknet_options *opts);
DISTILL_API size_t distill_masknet_options_size(void);

/* Scores are drawn from the context's seed (the backbone from
 * backbone_seed only). */
DISTILL_API DISTILL_NODISCARD distill_status
distill_masknet_create(distill_context *ctx, const distill_masknet_options *opts, distill_masknet **out);
/* NULL-safe. */
DISTILL_API void distill_masknet_destroy(distill_masknet *net);
/* The options the net was made with (struct_size set by the caller). */
DISTILL_API DISTILL_NODISCARD distill_status distill_masknet_options_get(const distill_masknet *net,
                                                                        distill_masknet_options *opts);

/* ---- Shape ------------------------------------------------------------- */

DISTILL_API int64_t distill_masknet_input_dim(const distill_masknet *net);  /* options' inputs */
DISTILL_API int64_t distill_masknet_output_dim(const distill_masknet *net);
DISTILL_API int64_t distill_masknet_n_layers(const distill_masknet *net);   /* layers + 1 */
/* Layer i's weights are out x in (in counts the task label for i = 0). */
DISTILL_API DISTILL_NODISCARD distill_status
distill_masknet_layer_shape(const distill_masknet *net, int64_t layer, int64_t *out, int64_t *in);
/* Mask entries per task (the sum of out x in). */
DISTILL_API int64_t distill_masknet_mask_count(const distill_masknet *net);
/* CRC32 of the shapes and the backbone's signs: two nets whose hashes and
 * seeds agree compute the same function from the same mask. */
DISTILL_API uint32_t distill_masknet_backbone_hash(const distill_masknet *net);

/* ---- Tasks ------------------------------------------------------------- */

/* Tasks held (learned or in training).  Tasks are slots 0 .. max_tasks - 1
 * (with task_input, slot t is the label e_t: agents sharing masks use the
 * same slot for the same task). */
DISTILL_API int64_t distill_masknet_tasks(const distill_masknet *net);
/* The task in training, or -1. */
DISTILL_API int64_t distill_masknet_training_task(const distill_masknet *net);
/* 1 if task t is learned (consolidated), 0 if in training, -1 if not held. */
DISTILL_API int32_t distill_masknet_task_learned(const distill_masknet *net, int64_t t);
/* Start task t (a slot not held) as the one in training; LC and BLC
 * compose the tasks learned at this moment.  DISTILL_E_INVAL if another
 * task is still in training or t is held or out of range. */
DISTILL_API DISTILL_NODISCARD distill_status distill_masknet_add_task(distill_masknet *net, int64_t t);
/* End the training task: S[t] <- S_eff; it is learned from now on. */
DISTILL_API DISTILL_NODISCARD distill_status distill_masknet_consolidate(distill_masknet *net);

/* ---- Training ------------------------------------------------------------ */

/* The training task's block (see TRAINABLE PARAMETERS), NULL without one. */
DISTILL_API float *distill_masknet_params(distill_masknet *net);
DISTILL_API float *distill_masknet_grads(distill_masknet *net);
DISTILL_API int64_t distill_masknet_param_count(const distill_masknet *net);

/* y (n x outputs, ldy) for observations x (n x inputs, ldx) under task t
 * (learned or in training).  For the training task it keeps what backward
 * needs and reads the scores as they are now. */
DISTILL_API DISTILL_NODISCARD distill_status
distill_masknet_forward(distill_masknet *net, int64_t t, int64_t n, const float *x, int64_t ldx, float *y,
                        int64_t ldy);
/* Backpropagate dL/dy of the last forward, which must have been on the
 * training task: the training block's gradient is written (accumulate 0)
 * or added to (1); dx (n x inputs, may be NULL) receives dL/dx. */
DISTILL_API DISTILL_NODISCARD distill_status
distill_masknet_backward(distill_masknet *net, const float *dy, int64_t lddy, float *dx, int64_t lddx,
                         int accumulate);

/* The training task as a network for distill_ppo (rl.h): forward and
 * backward of the task in training, its block as the parameters.  Take it
 * again after each distill_masknet_add_task (distill_ppo_retarget). */
DISTILL_API DISTILL_NODISCARD distill_status distill_masknet_network(distill_masknet *net,
                                                                    distill_network_vtable *out);

/* A learned task as a deployable policy (policy.h; a network policy, so it
 * saves, loads and acts as any other): its first n_actions outputs are the
 * logits of a discrete action space (the value output of a PPO net is
 * left out); mode DISTILL_POLICY_GREEDY or _SAMPLE (softmax(z / T)). */
DISTILL_API DISTILL_NODISCARD distill_status
distill_masknet_policy(const distill_masknet *net, int64_t t, int64_t n_actions, int32_t mode, float temperature,
                       distill_policy **out);

/* ---- Files ----------------------------------------------------------------
 * The whole net in the container format: its options, the backbone's hash
 * (the backbone itself comes from its seed), every held task's block and
 * which is learned, and the training task with its composition, so a
 * lifelong agent stops and goes on.  Saving replaces the file atomically;
 * loading checks everything (another backbone, bad counts, a non-finite
 * value: DISTILL_E_FORMAT). */
DISTILL_API DISTILL_NODISCARD distill_status distill_masknet_save(const distill_masknet *net, const char *path);
DISTILL_API DISTILL_NODISCARD distill_status distill_masknet_load(distill_context *ctx, const char *path,
                                                                  distill_masknet **out);
DISTILL_API DISTILL_NODISCARD distill_status distill_masknet_load_memory(distill_context *ctx, const void *buf,
                                                                         size_t len, distill_masknet **out);

/* ---- Allocation-free inference of a learned task ------------------------ */

DISTILL_API DISTILL_NODISCARD distill_status
distill_masknet_workspace_size(const distill_masknet *net, int64_t max_batch, size_t *bytes);
/* y = f_t(x) for a learned task t with the caller's workspace (W (.) M is
 * cached per learned task): no allocation, no lock, no log. */
DISTILL_API DISTILL_NODISCARD distill_status
distill_masknet_infer(const distill_masknet *net, int64_t t, void *ws, size_t ws_bytes, int64_t n,
                      const float *x, int64_t ldx, float *y, int64_t ldy);

/* ---- Mask messages: one task's mask on the wire (docs/masks.md) --------
 * A message carries a header (format version, the backbone's seed and
 * hash, the layer shapes, the binarisation, a task embedding, the sender's
 * reward, sender id and sequence number), a payload and a CRC32 of all of
 * it.  Payloads: BITS (1 bit per weight, M itself: the receiver computes
 * exactly the sender's function; not for CONTINUOUS masks), F16 or F32
 * (the scores, so training can go on from them).  Decoding checks every
 * byte before it changes anything. */

#define DISTILL_MASK_PAYLOAD_BITS 0
#define DISTILL_MASK_PAYLOAD_F16 1
#define DISTILL_MASK_PAYLOAD_F32 2
#define DISTILL_MASK_MAX_EMBEDDING 256

typedef struct distill_mask_meta {
    uint32_t struct_size;    /* sizeof(distill_mask_meta) */
    int32_t payload;         /* DISTILL_MASK_PAYLOAD_* (BITS) */
    float reward;            /* the sender's latest return on the task (0) */
    uint32_t sender;         /* the sender's id (0) */
    uint32_t task_seq;       /* the sender's sequence number (0) */
    int32_t consolidated;    /* read: 1 when the mask was composed by LC/BLC before it was sent */
    uint64_t backbone_seed;  /* read: the sender's backbone */
    uint32_t backbone_hash;  /* read */
    int32_t binarize;        /* read: the sender's DISTILL_MASK_* binarisation */
    int64_t emb_dim;         /* values of embedding used, 0 .. DISTILL_MASK_MAX_EMBEDDING (0) */
    float embedding[DISTILL_MASK_MAX_EMBEDDING]; /* the task's embedding (e.g. its one-hot label) */
} distill_mask_meta;

DISTILL_API void distill_mask_meta_init(distill_mask_meta *meta);
DISTILL_API size_t distill_mask_meta_size(void);

/* Encode task t (learned, or the one in training: its composed scores) as
 * a message with meta's payload, reward, sender, task_seq and embedding
 * (scores that are not finite: DISTILL_E_NUMERIC).
 * buf NULL (cap 0): *len receives the size only.  Too small a cap is
 * DISTILL_E_INVAL and writes nothing. */
DISTILL_API DISTILL_NODISCARD distill_status
distill_masknet_encode(distill_masknet *net, int64_t t, const distill_mask_meta *meta, void *buf,
                       size_t cap, size_t *len);
/* Read and check a message's header and CRC (any net): meta receives it. */
DISTILL_API DISTILL_NODISCARD distill_status
distill_mask_message_read(distill_context *ctx, const void *buf, size_t len, distill_mask_meta *meta);
/* Install a message's mask as task t (with task_input: the sender's slot
 * for the task): a held task's scores are overwritten (a learned task
 * stays learned; the task in training computes exactly the received mask,
 * its LC composition dropped, and keeps training from it), a slot not held
 * becomes a learned task.  Another backbone or binarisation, other shapes, a bad
 * CRC or any malformed byte is DISTILL_E_FORMAT with a message, and the net
 * is left as it was.  meta (may be NULL) receives the header. */
DISTILL_API DISTILL_NODISCARD distill_status
distill_masknet_decode(distill_masknet *net, int64_t t, const void *buf, size_t len, distill_mask_meta *meta);

/* ---- Sharing masks between agents (docs/masks.md, "Sharing") -----------
 * The protocol of L2D2-C as a state machine on byte buffers: the host
 * carries messages over its own transport (a send callback; it polls its
 * transport and hands what arrives to distill_share_receive).  A task is
 * a masknet slot; its embedding is the slot's one-hot label (L1 distance,
 * threshold 0: the same slot).
 *
 *   distill_share_query(t):  QUERY(t, own reward) to every known peer; opens
 *                            a META window for t unless one is open
 *   a peer on QUERY:         adds the sender (TABLE of its peers back to a
 *                            newcomer); META(t, r) for a task it holds
 *                            with r > 0 and gate r > the asker's reward
 *   distill_share_tick:      when the query's window (meta_window ticks)
 *                            closes, REQ(t) to the best META (highest r)
 *                            if still gate r > own reward
 *   a peer on REQ:           MASK(t, r, the encoded mask)
 *   on MASK:                 only as the answer to an open REQ, and if
 *                            still gate r > own reward: installed into
 *                            slot t (distill_masknet_decode), own reward r
 *
 * Lost, duplicated, late or reordered messages never corrupt an agent: a
 * MASK nobody asked for (or asked for already) is ignored, a malformed
 * message is DISTILL_E_FORMAT and changes nothing, and nothing waits on a
 * reply. */

typedef struct distill_share distill_share;

/* Send `len` bytes to agent `to`; return 0, or non-zero if it could not
 * (counted, not an error: peers may leave). */
typedef int (*distill_share_send_fn)(void *user, uint32_t to, const void *msg, size_t len);

typedef struct distill_share_options {
    uint32_t struct_size;  /* sizeof(distill_share_options) */
    int32_t payload;       /* how masks travel: DISTILL_MASK_PAYLOAD_BITS (default), _F16 or _F32 */
    double gate;           /* a peer's reward r counts when gate r > own reward (0.9) */
    int64_t meta_window;   /* ticks from a QUERY to the choice of a peer (1) */
    int64_t max_peers;     /* peers an agent keeps (64) */
} distill_share_options;

DISTILL_API void distill_share_options_init(distill_share_options *opts);
DISTILL_API size_t distill_share_options_size(void);

typedef struct distill_share_stats {
    uint32_t struct_size;    /* sizeof(distill_share_stats) */
    int64_t sent[5];         /* messages sent by type: QUERY, META, REQ, MASK, TABLE */
    int64_t received[5];
    int64_t bytes_sent;
    int64_t send_failures;   /* the send callback's non-zero returns */
    int64_t masks_installed; /* masks taken from peers */
    int64_t ignored;         /* well-formed messages with nothing to do (late, unasked, gated) */
    int64_t rejected;        /* malformed messages */
} distill_share_stats;

DISTILL_API size_t distill_share_stats_size(void);

/* An agent `id` sharing the masks of `net` (kept by reference). */
DISTILL_API DISTILL_NODISCARD distill_status
distill_share_create(distill_context *ctx, const distill_share_options *opts, distill_masknet *net, uint32_t id,
                     distill_share_send_fn send, void *user, distill_share **out);
DISTILL_API void distill_share_destroy(distill_share *agent);
/* Know peer `id` (bootstrap); adding a known peer or oneself changes nothing. */
DISTILL_API DISTILL_NODISCARD distill_status distill_share_add_peer(distill_share *agent, uint32_t peer);
DISTILL_API int64_t distill_share_peers(const distill_share *agent);
/* The agent's own latest return on task t (its knowledge base). */
DISTILL_API DISTILL_NODISCARD distill_status distill_share_set_reward(distill_share *agent, int64_t t, float reward);
/* The knowledge base's reward of task t (0 when unknown). */
DISTILL_API float distill_share_reward(const distill_share *agent, int64_t t);
DISTILL_API DISTILL_NODISCARD distill_status distill_share_query(distill_share *agent, int64_t t);
/* Handle one message from the transport. */
DISTILL_API DISTILL_NODISCARD distill_status distill_share_receive(distill_share *agent, const void *msg,
                                                                   size_t len);
/* One unit of time: closes the META windows that are due. */
DISTILL_API DISTILL_NODISCARD distill_status distill_share_tick(distill_share *agent);
DISTILL_API DISTILL_NODISCARD distill_status distill_share_get_stats(const distill_share *agent,
                                                                     distill_share_stats *stats);

/* ---- An in-process bus: agents of one process, simulated time -----------
 * A message an agent sends between two ticks (from its own calls) is
 * delivered max(1, latency) ticks later; one sent while a tick delivers
 * (an answer) latency ticks later, so with latency 0 a QUERY and its META,
 * or a REQ and its MASK, complete within one tick (messages that are fast
 * next to an agent's iteration).  Messages arrive in the order sent; each is lost with probability `drop` (a seeded draw);
 * messages to an agent not attached are lost (it left).  Agents attach and
 * detach at any tick.  Pass distill_share_bus_send and the bus as the
 * agents' send callback and user. */

typedef struct distill_share_bus distill_share_bus;

DISTILL_API DISTILL_NODISCARD distill_status
distill_share_bus_create(distill_context *ctx, int64_t latency, double drop, uint64_t seed, distill_share_bus **out);
DISTILL_API void distill_share_bus_destroy(distill_share_bus *bus);
/* A distill_share_send_fn (user: the bus). */
DISTILL_API int distill_share_bus_send(void *bus, uint32_t to, const void *msg, size_t len);
/* Route messages for `id` to agent (NULL: detach, the agent left). */
DISTILL_API DISTILL_NODISCARD distill_status distill_share_bus_attach(distill_share_bus *bus, uint32_t id,
                                                                      distill_share *agent);
/* One tick: deliver what is due, then distill_share_tick every attached agent. */
DISTILL_API DISTILL_NODISCARD distill_status distill_share_bus_tick(distill_share_bus *bus);
/* Messages and bytes delivered, messages lost (dropped or unroutable). */
DISTILL_API void distill_share_bus_counts(const distill_share_bus *bus, int64_t *delivered, int64_t *bytes,
                                          int64_t *lost);

/* ---- A lifelong agent: a curriculum of tasks on one masknet ------------
 * distill_lifelong drives a masknet through a curriculum: task k of it is
 * env envs[k] learned in slot slots[k] by PPO (rl.h); a task ends when an
 * iteration's mean return reaches done_return or after task_iterations
 * iterations, and is consolidated; a slot already learned (from a peer) is
 * skipped.  With a sharing agent (may be NULL) the agent's knowledge base
 * follows its returns and it queries its current task when it starts it
 * and every query_every iterations: a better peer's mask replaces the
 * task's scores and training goes on from it. */

typedef struct distill_lifelong distill_lifelong;

typedef struct distill_lifelong_options {
    uint32_t struct_size;    /* sizeof(distill_lifelong_options) */
    int32_t reserved;
    int64_t task_iterations; /* the most PPO iterations a task gets (100) */
    double done_return;      /* an iteration's mean return that ends a task early (0.9; > 1e300: never) */
    int64_t query_every;     /* with sharing: iterations between queries of the current task (5) */
} distill_lifelong_options;

DISTILL_API void distill_lifelong_options_init(distill_lifelong_options *opts);
DISTILL_API size_t distill_lifelong_options_size(void);

/* envs (n_tasks, kept by reference) and slots (copied): the curriculum;
 * ppo: the learner's options (NULL: the defaults). */
DISTILL_API DISTILL_NODISCARD distill_status
distill_lifelong_create(distill_context *ctx, const distill_lifelong_options *opts, const distill_ppo_options *ppo,
                        distill_masknet *net, distill_env *const *envs, const int64_t *slots, int64_t n_tasks,
                        distill_share *share, distill_lifelong **out);
DISTILL_API void distill_lifelong_destroy(distill_lifelong *agent);
/* One PPO iteration of the current task (starting, skipping and ending
 * tasks as above); stats may be NULL.  DISTILL_E_INVAL when the curriculum
 * is done. */
DISTILL_API DISTILL_NODISCARD distill_status distill_lifelong_step(distill_lifelong *agent, distill_ppo_stats *stats);
/* End the current task now (the host's own criterion): consolidate it and
 * move on.  DISTILL_E_INVAL when no task is under way. */
DISTILL_API DISTILL_NODISCARD distill_status distill_lifelong_next(distill_lifelong *agent);
/* The curriculum position (0 .. n_tasks; n_tasks: done) and the
 * iterations spent so far (in all tasks). */
DISTILL_API int64_t distill_lifelong_position(const distill_lifelong *agent);
DISTILL_API int64_t distill_lifelong_iterations(const distill_lifelong *agent);

DISTILL_END_DECLS

#endif /* DISTILL_MASK_H */
