/* libFuzzer target: the model loader (container checks, spec validation,
 * parameter sections) must return a status for any bytes, never crash, and
 * never allocate for sizes the input only claims. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "distill/distill.h"
#include "fuzz_util.h"


static void load(const unsigned char *data, size_t size)
{
    distill_model *m = NULL;
    if (distill_model_load_memory(fuzz_context(), data, size, &m) == DISTILL_OK) {
        float x[64] = {0}, y[64];
        if (distill_model_input_dim(m) <= 64 && distill_model_output_dim(m) <= 64 &&
            distill_model_forward(m, DISTILL_MODE_EVAL, 1, x, 64, y, 64) == DISTILL_OK)
            (void)y[0];
        distill_model_destroy(m);
    }
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    fuzz_both(data, size, load);
    return 0;
}

/* Seeds: two small models saved by the library itself. */
size_t fuzz_seed(int i, unsigned char *buf, size_t cap)
{
    distill_layer_spec l[4];
    distill_model_options o;
    distill_model *m;
    char path[] = "/tmp/distill-fuzz-seed-XXXXXX";
    FILE *f;
    size_t n;
    int fd;
    if (i > 1)
        return 0;
    distill_layer_spec_init(&l[0], i ? DISTILL_LAYER_CONV2D : DISTILL_LAYER_DENSE);
    l[0].units = 3, l[0].kernel = 2;
    distill_layer_spec_init(&l[1], DISTILL_LAYER_BATCHNORM);
    distill_layer_spec_init(&l[2], DISTILL_LAYER_TANH);
    distill_layer_spec_init(&l[3], DISTILL_LAYER_DENSE);
    l[3].units = 2;
    distill_model_options_init(&o);
    o.in_c = i ? 1 : 4, o.in_h = i ? 3 : 1, o.in_w = i ? 3 : 1, o.layers = l, o.n_layers = 4;
    if ((fd = mkstemp(path)) < 0)
        return 0;
    close(fd);
    if (distill_model_create(fuzz_context(), &o, &m) != DISTILL_OK || distill_model_save(m, path) != DISTILL_OK)
        abort();
    distill_model_destroy(m);
    f = fopen(path, "rb");
    n = f ? fread(buf, 1, cap, f) : 0;
    if (f)
        fclose(f);
    unlink(path);
    return n;
}
