/* Knowledge distillation checkpoints (container):
 *   "KDHD"  i64 rows, input size, outputs, parameters, steps; u64 stream
 *   "KDST"  the student: f32 params, f32 buffers, then its optimiser
 *           (i64 steps, i64 count, f32 moments)
 * The teacher's outputs are not stored: a solver made with the same
 * options, data and teacher computes the same ones. */
#include <string.h>

#include "../solver/checkpoint.h"
#include "../solver/state_io.h"
#include "kd_internal.h"

#define SEC_HEAD DISTILL__FOURCC('K', 'D', 'H', 'D')
#define SEC_STUDENT DISTILL__FOURCC('K', 'D', 'S', 'T')

static void head_of(const distill_kd *kd, distill__ckpt_head *h)
{
    memset(h, 0, sizeof *h);
    h->section = SEC_HEAD, h->method = "KD", h->sizes = "rows, sizes or student";
    h->values[0] = kd->n, h->values[1] = kd->d, h->values[2] = kd->k;
    h->values[3] = distill_model_param_count(kd->student), h->values[4] = kd->steps;
    h->n = 5, h->step_at = 4, h->stream = kd->stream, h->seed = kd->ctx->seed;
}

static distill_status put(const void *user, distill__writer *w)
{
    const distill_kd *kd = user;
    distill__ckpt_head h;
    distill_status st;
    head_of(kd, &h);
    distill__ckpt_put_head(w, &h);
    distill__section_begin(w, SEC_STUDENT);
    st = distill__put_model(w, kd->ctx, kd->student, kd->opt, "distill_kd_checkpoint");
    distill__section_end(w);
    return st;
}

distill_status distill_kd_checkpoint(const distill_kd *kd, const char *path)
{
    if (!kd)
        return DISTILL_E_INVAL;
    return distill__ckpt_write(kd->ctx, "distill_kd_checkpoint", path, put, kd);
}

/* Everything is checked before the solver is touched, so a bad file leaves
 * it as it was. */
static distill_status load(void *user, const unsigned char *buf, size_t len, const char *path)
{
    static const char fn[] = "distill_kd_resume";
    distill_kd *kd = user;
    distill__ckpt_head h;
    distill__cursor st, probe;
    int64_t steps;
    uint64_t stream;
    head_of(kd, &h);
    DISTILL__TRY(distill__ckpt_check_head(kd->ctx, fn, path, buf, len, &h, &steps, &stream));
    if (stream != kd->stream)
        return distill__ckpt_bad(kd->ctx, fn, path, "the checkpoint's seed differs from this solver's");
    DISTILL__TRY(distill__ckpt_section(kd->ctx, fn, path, buf, len, SEC_STUDENT,
                                       distill__model_bytes(kd->student, kd->opt), &st));
    probe = st;
    if (!distill__model_state_fits(&probe, kd->student, kd->opt))
        return distill__ckpt_bad(kd->ctx, fn, path, "the optimiser's step or moment count does not fit");
    if (distill__get_model(&st, kd->ctx, kd->student, kd->opt, fn) != DISTILL_OK)
        return distill__ckpt_bad(kd->ctx, fn, path, "the optimiser state does not fit");
    kd->steps = steps, kd->perm_epoch = -1;
    (void)distill__mean_take(&kd->recent);
    return DISTILL_OK;
}

distill_status distill_kd_resume(distill_kd *kd, const char *path)
{
    if (!kd)
        return DISTILL_E_INVAL;
    return distill__ckpt_read(kd->ctx, "distill_kd_resume", path, load, kd);
}
