/* The held-out KRR error (spec, small-scale success criteria): how well a
 * synthetic set, through KRR under fresh networks, predicts the teacher on
 * real images it never saw. */
#include <string.h>

#include "../nn/predict.h"
#include "krrst_internal.h"

/* Streams of the evaluation networks: a function of the seed only, so two
 * sets (or two solvers) are compared under the same networks. */
#define HELDOUT_BASE 0x4b52525354ull

typedef struct heldout_buf {
    float *xh, *yh, *fh, *fs;
    void *ws;
    size_t ws_bytes;
} heldout_buf;

static void buf_free(distill_context *ctx, heldout_buf *b)
{
    distill__free(ctx, b->xh), distill__free(ctx, b->yh);
    distill__free(ctx, b->fh), distill__free(ctx, b->fs), distill__free(ctx, b->ws);
}

static distill_status buf_alloc(distill_krrst *s, const distill_krr_options *ko, int64_t n, heldout_buf *b)
{
    const int64_t m = s->o.m;
    memset(b, 0, sizeof *b);
    DISTILL__TRY(distill_krrst_loss_grad_workspace_size(ko, m, n, s->d, s->k, &b->ws_bytes));
    b->xh = distill__alloc(s->ctx, sizeof(float) * (size_t)(n * s->dim));
    b->yh = distill__alloc(s->ctx, sizeof(float) * (size_t)(n * s->k));
    b->fh = distill__alloc(s->ctx, sizeof(float) * (size_t)(n * s->d));
    b->fs = distill__alloc(s->ctx, sizeof(float) * (size_t)(m * s->d));
    b->ws = distill__alloc(s->ctx, b->ws_bytes);
    if (!b->xh || !b->yh || !b->fh || !b->fs || !b->ws)
        return distill__fail(s->ctx, DISTILL_E_NOMEM, "distill_krrst_heldout_error: out of memory");
    return DISTILL_OK;
}

static distill_status one_net(distill_krrst *s, const distill_krr_options *ko, int64_t net,
                              const float *x, const float *y, int64_t n, heldout_buf *b, float *err)
{
    distill_model *f;
    distill_status st;
    DISTILL__TRY(distill__krrst_feature_model(s, distill__krrst_stream(HELDOUT_BASE, KRRST_HELDOUT, (uint64_t)net, 0), &f));
    st = distill__model_predict(f, n, b->xh, s->dim, b->fh, s->d);
    if (st == DISTILL_OK)
        st = distill__model_predict(f, s->o.m, x, s->dim, b->fs, s->d);
    if (st == DISTILL_OK)
        st = distill_krrst_loss_grad(s->ctx, ko, s->o.m, n, s->d, s->k, b->fs, s->d, y, s->k, b->fh,
                                     s->d, b->yh, s->k, err, NULL, 0, NULL, 0, NULL, 0, b->ws, b->ws_bytes);
    distill_model_destroy(f);
    return st;
}

distill_status distill_krrst_heldout_error(distill_krrst *s, const float *x, const float *y,
                                           distill_dataset *heldout, int64_t n, int64_t nets,
                                           double *error)
{
    static const char fn[] = "distill_krrst_heldout_error";
    distill_krr_options ko;
    heldout_buf b;
    distill_status st;
    int64_t i;
    double sum = 0;
    if (!s)
        return DISTILL_E_INVAL;
    if (!x || !y || !heldout || !error || nets < 1 || n < 1 || n > distill_dataset_count(heldout) ||
        distill_dataset_x_dim(heldout) != s->dim)
        return distill__fail(s->ctx, DISTILL_E_INVAL, "%s: need x, y, error, nets >= 1 and a held-out "
                             "set of at least n images of the solver's size", fn);
    if (s->teacher.t->outputs) /* as in 0.1: they answer for the real set only */
        return distill__fail(s->ctx, DISTILL_E_INVAL, "%s: precomputed teacher targets exist only for "
                             "the real set's images", fn);
    distill_krr_options_init(&ko);
    ko.ridge = s->o.ridge;
    st = buf_alloc(s, &ko, n, &b);
    if (st == DISTILL_OK)
        st = distill_dataset_get_range(heldout, 0, n, b.xh, s->dim, NULL, 0);
    if (st == DISTILL_OK)
        st = distill__teacher_use_embed(&s->teacher, s->ctx, n, b.xh, s->dim, NULL, b.yh, s->k);
    for (i = 0; st == DISTILL_OK && i < nets; i++) {
        float e;
        if ((st = one_net(s, &ko, i, x, y, n, &b, &e)) == DISTILL_OK)
            sum += e;
    }
    buf_free(s->ctx, &b);
    if (st == DISTILL_OK)
        *error = sum / (double)nets;
    return st;
}
