/* libFuzzer target: the mask-message decoder must return a status for any
 * bytes, never crash, and leave the receiving net as it was when it fails;
 * a message it accepts must evaluate.  Each input is tried as it is and
 * with its trailing CRC made right, so mutations reach the checks behind
 * the CRC. */
#include <stdlib.h>
#include <string.h>

#include "distill/distill.h"
#include "fuzz_util.h"

/* One net per binarisation (the messages' flags pick one), same backbone. */
static distill_masknet *net_for(int binarize)
{
    static distill_masknet *nets[3];
    if (binarize < 0 || binarize > 2)
        binarize = 0;
    if (!nets[binarize]) {
        distill_masknet_options o;
        distill_masknet_options_init(&o);
        o.inputs = 5, o.outputs = 3, o.hidden = 9, o.layers = 2, o.max_tasks = 4, o.binarize = binarize;
        if (distill_masknet_create(fuzz_context(), &o, &nets[binarize]) != DISTILL_OK)
            abort();
    }
    return nets[binarize];
}

static void decode(const unsigned char *data, size_t size)
{
    distill_masknet *net = net_for(size > 6 ? data[6] >> 3 & 3 : 0);
    distill_mask_meta meta;
    const int64_t before = distill_masknet_tasks(net);
    distill_mask_meta_init(&meta);
    if (distill_mask_message_read(fuzz_context(), data, size, &meta) == DISTILL_OK && meta.emb_dim > 256)
        abort();
    if (distill_masknet_decode(net, 2, data, size, &meta) == DISTILL_OK) {
        float x[5] = {0.1f, -0.2f, 0.3f, 0.0f, 1.0f}, y[3];
        if (distill_masknet_forward(net, 2, 1, x, 5, y, 3) != DISTILL_OK)
            abort();
    } else if (distill_masknet_tasks(net) != before)
        abort(); /* a failed decode changed the net */
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    fuzz_both_trailer(data, size, decode);
    return 0;
}

/* Seeds: a learned task as bits, F16 and F32 (threshold), and as bits of a
 * top-k net, with a two-value embedding. */
size_t fuzz_seed(int i, unsigned char *buf, size_t cap)
{
    distill_masknet *net;
    distill_mask_meta m;
    size_t len;
    if (i > 3)
        return 0;
    net = net_for(i == 3 ? 2 : 0);
    if (distill_masknet_task_learned(net, 0) != 1 &&
        (distill_masknet_add_task(net, 0) != DISTILL_OK || distill_masknet_consolidate(net) != DISTILL_OK))
        abort();
    distill_mask_meta_init(&m);
    m.payload = i == 3 ? 0 : i, m.reward = 0.5f, m.sender = 1, m.emb_dim = 2, m.embedding[1] = 1.0f;
    if (distill_masknet_encode(net, 0, &m, buf, cap, &len) != DISTILL_OK)
        abort();
    return len;
}
