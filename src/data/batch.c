/* Deterministic shuffled mini-batches.  The permutation of an epoch is a
 * Fisher-Yates shuffle drawn from the dataset's RNG stream at an offset
 * fixed by the epoch, so batch b of epoch e is the same whatever was read
 * before, and the permutation is cached for the epoch being read. */
#include "../core/check.h"
#include "../core/rng.h"
#include "internal.h"

/* 2^40 words per epoch: far more than a shuffle of any real dataset draws. */
#define EPOCH_WORDS ((uint64_t)1 << 40)

static distill_status epoch_permutation(distill_dataset *ds, int64_t epoch)
{
    distill__rng r;
    int64_t i;
    if (ds->perm_epoch == epoch)
        return DISTILL_OK;
    if (!ds->perm) {
        ds->perm = distill__alloc(ds->ctx, sizeof(int64_t) * (size_t)ds->n);
        if (!ds->perm)
            return distill__fail(ds->ctx, DISTILL_E_NOMEM, "distill_dataset_batch: out of memory");
    }
    for (i = 0; i < ds->n; i++)
        ds->perm[i] = i;
    distill__rng_init(&r, ds->ctx->seed, ds->stream, (uint64_t)epoch * EPOCH_WORDS);
    for (i = ds->n - 1; i > 0; i--) {
        int64_t j = (int64_t)distill__rng_below(&r, (uint64_t)i + 1), t = ds->perm[i];
        ds->perm[i] = ds->perm[j];
        ds->perm[j] = t;
    }
    ds->perm_epoch = epoch;
    return DISTILL_OK;
}

int64_t distill_dataset_batches(const distill_dataset *ds, int64_t batch_size)
{
    if (!ds || batch_size < 1)
        return 0;
    return (ds->n + batch_size - 1) / batch_size;
}

distill_status distill_dataset_batch(distill_dataset *ds, int64_t epoch, int64_t batch,
                                     int64_t batch_size, float *x, int64_t ldx, float *y,
                                     int64_t ldy, int64_t *idx_out, int64_t *n_out)
{
    static const char fn[] = "distill_dataset_batch";
    int64_t start, n, i;
    if (!ds)
        return DISTILL_E_INVAL;
    if (!n_out || epoch < 0 || batch < 0 || batch_size < 1)
        return distill__fail(ds->ctx, DISTILL_E_INVAL,
                             "%s: need n_out, epoch >= 0, batch >= 0 and batch_size >= 1", fn);
    *n_out = 0;
    start = batch * batch_size;
    if (batch >= distill_dataset_batches(ds, batch_size))
        return DISTILL_OK;
    n = ds->n - start < batch_size ? ds->n - start : batch_size;
    DISTILL__TRY(epoch_permutation(ds, epoch));
    DISTILL__TRY(distill_dataset_get(ds, ds->perm + start, n, x, ldx, y, ldy));
    if (idx_out)
        for (i = 0; i < n; i++)
            idx_out[i] = ds->perm[start + i];
    *n_out = n;
    return DISTILL_OK;
}
