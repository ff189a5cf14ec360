/* libFuzzer target: the masknet loader must return a status for any bytes
 * and never crash; a net it accepts must run every task it holds. */
#include <stdlib.h>
#include <string.h>

#include "distill/distill.h"
#include "fuzz_util.h"

static void load(const unsigned char *data, size_t size)
{
    distill_masknet *net = NULL;
    if (distill_masknet_load_memory(fuzz_context(), data, size, &net) == DISTILL_OK) {
        float x[64] = {0}, y[64];
        int64_t t;
        if (distill_masknet_input_dim(net) <= 64 && distill_masknet_output_dim(net) <= 64)
            for (t = 0; t < 1024; t++)
                if (distill_masknet_task_learned(net, t) >= 0 &&
                    distill_masknet_forward(net, t, 1, x, 64, y, 64) != DISTILL_OK)
                    abort();
        distill_masknet_destroy(net);
    }
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    fuzz_both(data, size, load);
    return 0;
}

/* Seeds: an RI net with a learned task; an LC net with two learned tasks
 * and one in training (its composition in the file). */
size_t fuzz_seed(int i, unsigned char *buf, size_t cap)
{
    distill_masknet_options o;
    distill_masknet *net;
    if (i > 1)
        return 0;
    distill_masknet_options_init(&o);
    o.inputs = 3, o.outputs = 2, o.hidden = 4, o.layers = 1, o.max_tasks = 3, o.compose = i;
    if (distill_masknet_create(fuzz_context(), &o, &net) || distill_masknet_add_task(net, 1) ||
        distill_masknet_consolidate(net))
        abort();
    if (i == 1 && (distill_masknet_add_task(net, 0) || distill_masknet_consolidate(net) ||
                   distill_masknet_add_task(net, 2)))
        abort();
    if (distill_masknet_save(net, fuzz_scratch()))
        abort();
    distill_masknet_destroy(net);
    return fuzz_take_scratch(buf, cap);
}
