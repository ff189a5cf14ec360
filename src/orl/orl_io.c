/* Offline-RL distillation files.
 *
 * Checkpoint (container):
 *   "ORHD"  i64 m, state size, network outputs, variant, step, real rows,
 *           learned floats per state, learned actions (0/1); u64 stream
 *   "ORST"  f32 the learned state parameters (m x floats per state)
 *   "ORAD"  their Adam (i64 steps, i64 count, f32 moments)
 *   "ORAC"  continuous actions: f32 actions (m x action floats) (their
 *           starting real rows depend on the solver's stream, restored too),
 *           then, when learned, their Adam
 *   "ORSN"  DISTILL_ORL_STUDENT only: the student (f32 params, f32
 *           buffers, then its optimiser)
 * The labels and buckets are not stored: a solver made with the same
 * options and data has the same ones.  The distilled set: the file of
 * src/solver/distilled.h (x: states, y: the action). */
#include <string.h>

#include "../solver/checkpoint.h"
#include "../data/distilled.h"
#include "../solver/state_io.h"
#include "distill/io.h"
#include "orl_internal.h"

#define SEC_HEAD DISTILL__FOURCC('O', 'R', 'H', 'D')
#define SEC_STATES DISTILL__FOURCC('O', 'R', 'S', 'T')
#define SEC_ADAM DISTILL__FOURCC('O', 'R', 'A', 'D')
#define SEC_STUDENT DISTILL__FOURCC('O', 'R', 'S', 'N')
#define SEC_ACTIONS DISTILL__FOURCC('O', 'R', 'A', 'C')

static void head_of(const distill_orl *s, distill__ckpt_head *h)
{
    memset(h, 0, sizeof *h);
    h->section = SEC_HEAD, h->method = "offline-RL distillation";
    h->sizes = "sizes (m, state size, actions, variant, real rows, parametrisation, learned actions)";
    h->values[0] = s->m, h->values[1] = s->dim, h->values[2] = s->k, h->values[3] = s->o.variant;
    h->values[4] = s->step, h->values[5] = distill_dataset_count(s->real), h->values[6] = s->pdim;
    h->values[7] = s->o.learn_actions != 0;
    h->n = 8, h->step_at = 4, h->stream = s->stream, h->seed = s->ctx->seed;
}

static distill_status put_state(const void *user, distill__writer *w)
{
    static const char fn[] = "distill_orl_checkpoint";
    const distill_orl *s = user;
    distill__ckpt_head h;
    head_of(s, &h);
    distill__ckpt_put_head(w, &h);
    distill__section_begin(w, SEC_STATES);
    distill__put_f32s(w, s->params, s->m * s->pdim);
    distill__section_end(w);
    distill__section_begin(w, SEC_ADAM);
    DISTILL__TRY(distill__put_optimizer(w, s->ctx, s->opt, fn));
    distill__section_end(w);
    if (!s->discrete) {
        distill__section_begin(w, SEC_ACTIONS);
        distill__put_f32s(w, s->labels, s->m * s->ad);
        if (s->act_opt)
            DISTILL__TRY(distill__put_optimizer(w, s->ctx, s->act_opt, fn));
        distill__section_end(w);
    }
    if (s->o.variant == DISTILL_ORL_STUDENT) {
        distill__section_begin(w, SEC_STUDENT);
        DISTILL__TRY(distill__put_model(w, s->ctx, s->net, s->student_opt, fn));
        distill__section_end(w);
    }
    return DISTILL_OK;
}

distill_status distill_orl_checkpoint(const distill_orl *s, const char *path)
{
    if (!s)
        return DISTILL_E_INVAL;
    return distill__ckpt_write(s->ctx, "distill_orl_checkpoint", path, put_state, s);
}

static const char fn_resume[] = "distill_orl_resume";

/* Everything is checked before the solver changes: a refused file leaves
 * it as it was. */
static distill_status load_state(void *user, const unsigned char *buf, size_t len, const char *path)
{
    distill_orl *s = user;
    distill__ckpt_head h;
    distill__cursor cst, cad, csn, cac, probe;
    int64_t step = 0;
    uint64_t stream = 0;
    const int student = s->o.variant == DISTILL_ORL_STUDENT;
    head_of(s, &h);
    DISTILL__TRY(distill__ckpt_check_head(s->ctx, fn_resume, path, buf, len, &h, &step, &stream));
    DISTILL__TRY(distill__ckpt_section(s->ctx, fn_resume, path, buf, len, SEC_STATES, 4 * s->m * s->pdim, &cst));
    if (!s->discrete)
        DISTILL__TRY(distill__ckpt_section(s->ctx, fn_resume, path, buf, len, SEC_ACTIONS,
                                           4 * s->m * s->ad + (s->act_opt ? distill__optimizer_bytes(s->act_opt) : 0),
                                           &cac));
    DISTILL__TRY(distill__ckpt_section(s->ctx, fn_resume, path, buf, len, SEC_ADAM,
                                       distill__optimizer_bytes(s->opt), &cad));
    if (student)
        DISTILL__TRY(distill__ckpt_section(s->ctx, fn_resume, path, buf, len, SEC_STUDENT,
                                           distill__model_bytes(s->net, s->student_opt), &csn));
    probe = cad;
    if (!distill__optimizer_state_fits(&probe, s->opt))
        return distill__ckpt_bad(s->ctx, fn_resume, path, "the states' optimiser counts do not fit this solver");
    if (s->act_opt) {
        probe = cac;
        probe.p += 4 * s->m * s->ad;
        if (!distill__optimizer_state_fits(&probe, s->act_opt))
            return distill__ckpt_bad(s->ctx, fn_resume, path, "the actions' optimiser counts do not fit this solver");
    }
    if (student && (probe = csn, !distill__model_state_fits(&probe, s->net, s->student_opt)))
        return distill__ckpt_bad(s->ctx, fn_resume, path, "the student's optimiser counts do not fit this solver");
    /* everything agrees: from here on nothing can be malformed */
    distill__get_f32s(&cst, s->params, s->m * s->pdim);
    distill__orl_map(s, s->params, s->states);
    DISTILL__TRY(distill__get_optimizer(&cad, s->ctx, s->opt, fn_resume));
    if (!s->discrete)
        distill__get_f32s(&cac, s->labels, s->m * s->ad);
    if (s->act_opt)
        DISTILL__TRY(distill__get_optimizer(&cac, s->ctx, s->act_opt, fn_resume));
    s->step = step, s->stream = stream;
    if (student)
        return distill__get_model(&csn, s->ctx, s->net, s->student_opt, fn_resume);
    return distill__orl_first_network(s);
}

distill_status distill_orl_resume(distill_orl *s, const char *path)
{
    if (!s)
        return DISTILL_E_INVAL;
    return distill__ckpt_read(s->ctx, fn_resume, path, load_state, s);
}

distill_status distill_orl_save(const distill_orl *s, const char *path)
{
    if (!s)
        return DISTILL_E_INVAL;
    return distill__distilled_save(s->ctx, "distill_orl_save", path, s->m, s->c, s->h, s->w, s->ad, s->states,
                                   s->labels);
}

distill_status distill_orl_save_npy(const distill_orl *s, const char *states_path, const char *actions_path)
{
    if (!s)
        return DISTILL_E_INVAL;
    if (states_path)
        DISTILL__TRY(distill_npy_save(s->ctx, states_path, s->m, s->dim, s->states, s->dim));
    if (actions_path)
        DISTILL__TRY(distill_npy_save(s->ctx, actions_path, s->m, s->ad, s->labels, s->ad));
    return DISTILL_OK;
}
