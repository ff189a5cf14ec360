/* Knowledge distillation checkpoints (container):
 *   "KDHD"  i64 rows, input size, outputs, parameters, steps; u64 stream
 *   "KDST"  the student: f32 params, f32 buffers, then its optimiser
 *           (i64 steps, i64 count, f32 moments)
 * The teacher's outputs are not stored: a solver made with the same
 * options, data and teacher computes the same ones. */
#include <string.h>

#include "../core/container.h"
#include "kd_internal.h"
#include "../solver/state_io.h"

#define SEC_HEAD DISTILL__FOURCC('K', 'D', 'H', 'D')
#define SEC_STUDENT DISTILL__FOURCC('K', 'D', 'S', 'T')

distill_status distill_kd_checkpoint(const distill_kd *kd, const char *path)
{
    static const char fn[] = "distill_kd_checkpoint";
    distill__writer w;
    distill_status st;
    if (!kd)
        return DISTILL_E_INVAL;
    if (!path)
        return distill__fail(kd->ctx, DISTILL_E_INVAL, "%s: path is NULL", fn);
    distill__writer_init(&w, kd->ctx);
    distill__section_begin(&w, SEC_HEAD);
    distill__put_i64(&w, kd->n), distill__put_i64(&w, kd->d), distill__put_i64(&w, kd->k);
    distill__put_i64(&w, distill_model_param_count(kd->student)), distill__put_i64(&w, kd->steps);
    distill__put_i64(&w, (int64_t)kd->stream);
    distill__section_end(&w);
    distill__section_begin(&w, SEC_STUDENT);
    st = distill__put_model(&w, kd->ctx, kd->student, kd->opt, fn);
    distill__section_end(&w);
    if (st != DISTILL_OK) {
        distill__writer_free(&w);
        return st;
    }
    return distill__writer_commit(&w, path);
}

static distill_status bad(distill_kd *kd, const char *path, const char *what)
{
    return distill__fail(kd->ctx, DISTILL_E_FORMAT, "distill_kd_resume: %s: %s", path, what);
}

/* Everything is checked before the solver is touched, so a bad file leaves
 * it as it was. */
static distill_status load(distill_kd *kd, const unsigned char *buf, size_t len, const char *path)
{
    distill__cursor head, st, probe;
    int64_t v[5], i;
    uint64_t stream;
    if (!distill__container_find(buf, len, SEC_HEAD, &head))
        return bad(kd, path, "no KD header section");
    for (i = 0; i < 5; i++)
        v[i] = distill__get_i64(&head);
    stream = (uint64_t)distill__get_i64(&head);
    if (head.bad)
        return bad(kd, path, "header section too short");
    if (v[0] != kd->n || v[1] != kd->d || v[2] != kd->k || v[3] != distill_model_param_count(kd->student) ||
        v[4] < 0 || stream != kd->stream)
        return bad(kd, path, "the checkpoint's rows, sizes, student or seed differ from this solver's");
    if (!distill__container_find(buf, len, SEC_STUDENT, &st) ||
        st.end - st.p != distill__model_bytes(kd->student, kd->opt))
        return bad(kd, path, "the student section is missing or has the wrong length");
    probe = st;
    if (!distill__model_state_fits(&probe, kd->student, kd->opt))
        return bad(kd, path, "the optimiser's step or moment count does not fit");
    if (distill__get_model(&st, kd->ctx, kd->student, kd->opt, "distill_kd_resume") != DISTILL_OK)
        return bad(kd, path, "the optimiser state does not fit");
    kd->steps = v[4], kd->perm_epoch = -1;
    (void)distill__mean_take(&kd->recent);
    return DISTILL_OK;
}

distill_status distill_kd_resume(distill_kd *kd, const char *path)
{
    unsigned char *buf;
    size_t len;
    distill_status st;
    if (!kd)
        return DISTILL_E_INVAL;
    if (!path)
        return distill__fail(kd->ctx, DISTILL_E_INVAL, "distill_kd_resume: path is NULL");
    DISTILL__TRY(distill__container_read(kd->ctx, path, DISTILL__FILE_LIMIT, &buf, &len));
    st = load(kd, buf, len, path);
    distill__free(kd->ctx, buf);
    return st;
}
