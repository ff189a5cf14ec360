/* PPO checkpoints (container):
 *   "PPHD"  i64 slots, steps per slot, observation size, actions,
 *           parameters, iterations; u64 stream
 *   "PPST"  i64 next episode, env steps, live (0/1); per slot the task's
 *           state (f64 as i64 bits), steps into the episode, return so far
 *           (f64 bits); the slots' observations (f32); the parameters
 *           (f32); the optimiser's step count (i64) and moments (f32)
 * Episodes in progress are part of the state, so a resume continues
 * bit-identically; a host env's state is not the library's to save. */
#include <math.h>
#include <string.h>

#include "../solver/checkpoint.h"
#include "ppo.h"

#define SEC_HEAD DISTILL__FOURCC('P', 'P', 'H', 'D')
#define SEC_STATE DISTILL__FOURCC('P', 'P', 'S', 'T')

static const char fn_ckpt[] = "distill_ppo_checkpoint", fn_resume[] = "distill_ppo_resume";

static void head_of(const distill_ppo *p, distill__ckpt_head *h)
{
    memset(h, 0, sizeof *h);
    h->section = SEC_HEAD, h->method = "PPO";
    h->sizes = "sizes (slots, steps, observation, actions, parameters)";
    h->values[0] = p->S, h->values[1] = p->T, h->values[2] = p->O, h->values[3] = p->A;
    h->values[4] = p->net.n_params, h->values[5] = p->iter;
    h->n = 6, h->step_at = 5, h->stream = p->stream, h->seed = p->ctx->seed;
}

static int64_t state_bytes(const distill_ppo *p)
{
    return 8 * 3 + p->S * (8 * DISTILL__TASK_STATE + 16) + 4 * p->S * p->O + 4 * p->net.n_params + 8 +
           4 * distill_optimizer_state_count(p->opt);
}

static int64_t bits_of(double d)
{
    int64_t v;
    memcpy(&v, &d, 8);
    return v;
}

static double double_of(int64_t v)
{
    double d;
    memcpy(&d, &v, 8);
    return d;
}

static distill_status put_state(const void *user, distill__writer *w)
{
    const distill_ppo *p = user;
    const int64_t count = distill_optimizer_state_count(p->opt);
    distill__ckpt_head h;
    float *moments;
    int64_t i, k, steps;
    distill_status st;
    head_of(p, &h);
    distill__ckpt_put_head(w, &h);
    distill__section_begin(w, SEC_STATE);
    distill__put_i64(w, p->next_episode), distill__put_i64(w, p->env_steps), distill__put_i64(w, p->live);
    for (i = 0; i < p->S; i++) {
        for (k = 0; k < DISTILL__TASK_STATE; k++)
            distill__put_i64(w, bits_of(p->state[i * DISTILL__TASK_STATE + k]));
        distill__put_i64(w, p->ep_t[i]), distill__put_i64(w, bits_of(p->ep_return[i]));
    }
    distill__put_f32s(w, p->cur, p->S * p->O);
    distill__put_f32s(w, p->net.params, p->net.n_params);
    if (!(moments = distill__alloc_zero(p->ctx, count > 0 ? count : 1, sizeof(float))))
        return distill__fail(p->ctx, DISTILL_E_NOMEM, "%s: out of memory", fn_ckpt);
    st = distill_optimizer_get_state(p->opt, moments, count, &steps);
    if (st == DISTILL_OK) {
        distill__put_i64(w, steps);
        distill__put_f32s(w, moments, count);
    }
    distill__free(p->ctx, moments);
    distill__section_end(w);
    return st;
}

distill_status distill_ppo_checkpoint(const distill_ppo *p, const char *path)
{
    if (!p)
        return DISTILL_E_INVAL;
    if (!p->env->task && p->live)
        return distill__fail(p->ctx, DISTILL_E_UNSUPPORTED, "%s: a host env's episodes in progress cannot be "
                             "saved", fn_ckpt);
    return distill__ckpt_write(p->ctx, fn_ckpt, path, put_state, p);
}

/* Read the state section into scratch (saved) after checking every value. */
static distill_status load_state(void *user, const unsigned char *buf, size_t len, const char *path)
{
    distill_ppo *p = user;
    const int64_t count = distill_optimizer_state_count(p->opt), S = p->S;
    distill__ckpt_head h;
    distill__cursor c, probe;
    int64_t iter = 0, next, env_steps, live, i, k, steps;
    uint64_t stream = 0;
    float *params = p->saved, *moments = p->saved + p->net.n_params;
    head_of(p, &h);
    DISTILL__TRY(distill__ckpt_check_head(p->ctx, fn_resume, path, buf, len, &h, &iter, &stream));
    DISTILL__TRY(distill__ckpt_section(p->ctx, fn_resume, path, buf, len, SEC_STATE, state_bytes(p), &c));
    next = distill__get_i64(&c), env_steps = distill__get_i64(&c), live = distill__get_i64(&c);
    if (next < 0 || env_steps < 0 || (live != 0 && live != 1) || (live && !p->env->task))
        return distill__ckpt_bad(p->ctx, fn_resume, path, "the episode counters are not valid");
    probe = c; /* every slot checked before anything is written */
    for (i = 0; i < S; i++) {
        double state[DISTILL__TASK_STATE];
        for (k = 0; k < DISTILL__TASK_STATE; k++)
            if (!isfinite(state[k] = double_of(distill__get_i64(&probe))))
                return distill__ckpt_bad(p->ctx, fn_resume, path, "a slot's state is not finite");
        if (live && p->env->task->valid && !p->env->task->valid(p->env->param, state))
            return distill__ckpt_bad(p->ctx, fn_resume, path, "a slot's state is not one of the env's");
        if (distill__get_i64(&probe) < 0 || !isfinite(double_of(distill__get_i64(&probe))))
            return distill__ckpt_bad(p->ctx, fn_resume, path, "a slot's episode counters are not valid");
    }
    for (i = 0; i < S * p->O; i++)
        if (!isfinite(distill__get_f32(&probe)))
            return distill__ckpt_bad(p->ctx, fn_resume, path, "an observation is not finite");
    distill__get_f32s(&probe, params, p->net.n_params);
    steps = distill__get_i64(&probe);
    distill__get_f32s(&probe, moments, count);
    for (i = 0; i < p->net.n_params + count; i++)
        if (!isfinite(p->saved[i]))
            return distill__ckpt_bad(p->ctx, fn_resume, path, "a parameter or moment is not finite");
    if (steps < 0 || distill_optimizer_set_state(p->opt, moments, count, steps) != DISTILL_OK)
        return distill__ckpt_bad(p->ctx, fn_resume, path, "the optimiser's state does not fit");
    for (i = 0; i < S; i++) {
        for (k = 0; k < DISTILL__TASK_STATE; k++)
            p->state[i * DISTILL__TASK_STATE + k] = double_of(distill__get_i64(&c));
        p->ep_t[i] = distill__get_i64(&c), p->ep_return[i] = double_of(distill__get_i64(&c));
    }
    distill__get_f32s(&c, p->cur, S * p->O);
    memcpy(p->net.params, params, sizeof(float) * (size_t)p->net.n_params);
    p->iter = iter, p->stream = stream, p->next_episode = next, p->env_steps = env_steps, p->live = (int)live;
    return DISTILL_OK;
}

distill_status distill_ppo_resume(distill_ppo *p, const char *path)
{
    if (!p)
        return DISTILL_E_INVAL;
    return distill__ckpt_read(p->ctx, fn_resume, path, load_state, p);
}
