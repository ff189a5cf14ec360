/* libFuzzer target: the distilled-set loader (container checks, shape
 * section, array sizes) must return a status for any bytes, never crash,
 * and never allocate for sizes the input only claims.  The loader reads
 * files, so each input goes through a temporary file. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "distill/distill.h"
#include "fuzz_util.h"



static void load(const unsigned char *data, size_t size)
{
    distill_dataset *ds = NULL;
    if (!fuzz_write_scratch(data, size))
        return;
    if (distill_distilled_load(fuzz_context(), fuzz_scratch(), &ds) == DISTILL_OK) {
        int64_t i = distill_dataset_count(ds) - 1;
        float *row = malloc(sizeof(float) * (size_t)(distill_dataset_x_dim(ds) + distill_dataset_y_dim(ds)));
        if (row && distill_dataset_get(ds, &i, 1, row, distill_dataset_x_dim(ds),
                                       row + distill_dataset_x_dim(ds), distill_dataset_y_dim(ds)) != DISTILL_OK)
            abort(); /* a loaded set must be readable */
        free(row);
        distill_dataset_destroy(ds);
    }
    unlink(fuzz_scratch());
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    fuzz_both(data, size, load);
    return 0;
}

/* Seed: a tiny distilled set saved by a KRR-ST solver. */
size_t fuzz_seed(int i, unsigned char *buf, size_t cap)
{
    float x[20 * 16];
    distill_dataset *real;
    distill_layer_spec l[2];
    distill_krrst_options o;
    distill_model *teacher;
    distill_model_options mo;
    distill_krrst *s;
    int j;
    if (i > 0)
        return 0;
    for (j = 0; j < 20 * 16; j++)
        x[j] = (float)(j % 7) / 7.0f;
    distill_layer_spec_init(&l[0], DISTILL_LAYER_DENSE);
    l[0].units = 3;
    distill_layer_spec_init(&l[1], DISTILL_LAYER_DENSE);
    l[1].units = 5;
    distill_model_options_init(&mo);
    mo.in_c = 16, mo.in_h = mo.in_w = 1, mo.layers = l, mo.n_layers = 1;
    distill_krrst_options_init(&o);
    o.m = 3, o.n = 4, o.pool_size = 1, o.pool_period = 2, o.features = &l[1], o.n_features = 1;
    if (distill_dataset_from_memory(fuzz_context(), 20, 16, x, 16, 0, NULL, 0, DISTILL_DATASET_COPY, &real) ||
        distill_dataset_set_shape(real, 1, 4, 4) || distill_model_create(fuzz_context(), &mo, &teacher))
        abort();
    o.teacher = teacher;
    if (distill_krrst_create(fuzz_context(), &o, real, &s) || distill_krrst_save(s, fuzz_scratch())) {
        fprintf(stderr, "fuzz_distilled seed: %s\n", distill_context_last_error(fuzz_context()));
        abort();
    }
    distill_krrst_destroy(s), distill_model_destroy(teacher), distill_dataset_destroy(real);
    return fuzz_take_scratch(buf, cap);
}
