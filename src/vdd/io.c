/* VDD checkpoints (container):
 *   "VDHD"  i64 K, A, obs size, rows of the experts' network, experts
 *           (0/1 learned gating), step, demonstration rows; u64 stream
 *   "VDEX"  the experts' network (f32 params, f32 buffers, its Adam)
 *   "VDGT"  with a learned gating: the gating network, likewise */
#include <string.h>

#include "../solver/checkpoint.h"
#include "../solver/state_io.h"
#include "internal.h"

#define SEC_HEAD DISTILL__FOURCC('V', 'D', 'H', 'D')
#define SEC_EXPERTS DISTILL__FOURCC('V', 'D', 'E', 'X')
#define SEC_GATING DISTILL__FOURCC('V', 'D', 'G', 'T')

static void head_of(const distill_vdd *v, distill__ckpt_head *h)
{
    memset(h, 0, sizeof *h);
    h->section = SEC_HEAD, h->method = "VDD";
    h->sizes = "sizes (experts, action, observation, row, gating, demonstrations)";
    h->values[0] = v->K, h->values[1] = v->A, h->values[2] = v->O, h->values[3] = v->R;
    h->values[4] = v->gating != NULL, h->values[5] = v->step, h->values[6] = v->n_demos;
    h->n = 7, h->step_at = 5, h->stream = v->stream, h->seed = v->ctx->seed;
}

static distill_status put_state(const void *user, distill__writer *w)
{
    static const char fn[] = "distill_vdd_checkpoint";
    const distill_vdd *v = user;
    distill__ckpt_head h;
    head_of(v, &h);
    distill__ckpt_put_head(w, &h);
    distill__section_begin(w, SEC_EXPERTS);
    DISTILL__TRY(distill__put_model(w, v->ctx, v->experts, v->opt, fn));
    distill__section_end(w);
    if (v->gating) {
        distill__section_begin(w, SEC_GATING);
        DISTILL__TRY(distill__put_model(w, v->ctx, v->gating, v->gopt, fn));
        distill__section_end(w);
    }
    return DISTILL_OK;
}

distill_status distill_vdd_checkpoint(const distill_vdd *v, const char *path)
{
    if (!v)
        return DISTILL_E_INVAL;
    return distill__ckpt_write(v->ctx, "distill_vdd_checkpoint", path, put_state, v);
}

static const char fn_resume[] = "distill_vdd_resume";

/* Everything is checked before the solver changes. */
static distill_status load_state(void *user, const unsigned char *buf, size_t len, const char *path)
{
    distill_vdd *v = user;
    distill__ckpt_head h;
    distill__cursor ce, cg, probe;
    int64_t step = 0;
    uint64_t stream = 0;
    head_of(v, &h);
    DISTILL__TRY(distill__ckpt_check_head(v->ctx, fn_resume, path, buf, len, &h, &step, &stream));
    DISTILL__TRY(distill__ckpt_section(v->ctx, fn_resume, path, buf, len, SEC_EXPERTS,
                                       distill__model_bytes(v->experts, v->opt), &ce));
    if (v->gating)
        DISTILL__TRY(distill__ckpt_section(v->ctx, fn_resume, path, buf, len, SEC_GATING,
                                           distill__model_bytes(v->gating, v->gopt), &cg));
    probe = ce;
    if (!distill__model_state_fits(&probe, v->experts, v->opt))
        return distill__ckpt_bad(v->ctx, fn_resume, path, "the experts' optimiser counts do not fit this solver");
    if (v->gating && (probe = cg, !distill__model_state_fits(&probe, v->gating, v->gopt)))
        return distill__ckpt_bad(v->ctx, fn_resume, path, "the gating's optimiser counts do not fit this solver");
    DISTILL__TRY(distill__get_model(&ce, v->ctx, v->experts, v->opt, fn_resume));
    if (v->gating)
        DISTILL__TRY(distill__get_model(&cg, v->ctx, v->gating, v->gopt, fn_resume));
    v->step = step, v->stream = stream;
    return DISTILL_OK;
}

distill_status distill_vdd_resume(distill_vdd *v, const char *path)
{
    if (!v)
        return DISTILL_E_INVAL;
    return distill__ckpt_read(v->ctx, fn_resume, path, load_state, v);
}
