/* The environment handle: built-in tasks and the host's callbacks behind
 * one reset/step contract, with the episode bookkeeping (time limit,
 * no step after the end) done here once for both. */
#include <math.h>
#include <string.h>

#include "../core/abi.h"
#include "../core/check.h"
#include "internal.h"

size_t distill_space_size(void) { return sizeof(distill_space); }
size_t distill_env_options_size(void) { return sizeof(distill_env_options); }
size_t distill_env_vtable_size(void) { return sizeof(distill_env_vtable); }

void distill_env_options_init(distill_env_options *o)
{
    if (!o)
        return;
    memset(o, 0, sizeof *o);
    o->struct_size = sizeof *o;
    o->task = DISTILL_ENV_CARTPOLE;
    o->depth = 2;
}

static distill_env *env_new(distill_context *ctx)
{
    distill_env *e = distill__alloc_zero(ctx, 1, sizeof *e);
    if (e) {
        e->ctx = ctx;
    }
    return e;
}

static distill_status own_bounds(distill_env *e, const char *fn);

/* The CT-graph's and the grid's own options. */
static distill_status check_task_options(distill_context *ctx, const char *fn, const distill_env_options *o)
{
    if (o->task == DISTILL_ENV_CTGRAPH && (o->depth < 2 || o->depth > 3))
        return distill__fail(ctx, DISTILL_E_INVAL, "%s: the CT-graph's depth is 2 or 3, got %lld", fn,
                             (long long)o->depth);
    if (o->task == DISTILL_ENV_CTGRAPH && (o->goal < 0 || o->goal >= ((int64_t)1 << o->depth)))
        return distill__fail(ctx, DISTILL_E_INVAL, "%s: the CT-graph's goal is a leaf, 0 .. %lld, got %lld", fn,
                             (long long)(((int64_t)1 << o->depth) - 1), (long long)o->goal);
    if (o->task == DISTILL_ENV_CTGRAPH && o->image_seed > ((uint64_t)1 << 53))
        return distill__fail(ctx, DISTILL_E_INVAL, "%s: image_seed must be at most 2^53", fn);
    if (o->task == DISTILL_ENV_GRID && (o->goal < 0 || o->goal > 3))
        return distill__fail(ctx, DISTILL_E_INVAL, "%s: the grid's goal is a corner, 0 .. 3, got %lld", fn,
                             (long long)o->goal);
    return DISTILL_OK;
}

distill_status distill_env_create(distill_context *ctx, const distill_env_options *opts, distill_env **out)
{
    static const char fn[] = "distill_env_create";
    distill_env_options o;
    const distill__task *task;
    distill_status st;
    distill_env *e;
    if (!ctx)
        return DISTILL_E_INVAL;
    DISTILL__TRY(distill__check_out(ctx, fn, "out", out));
    *out = NULL;
    distill_env_options_init(&o);
    if (opts)
        DISTILL__TRY(distill__struct_read(ctx, fn, "options", opts, sizeof o, sizeof o, &o));
    if (!(task = distill__task_get(o.task)))
        return distill__fail(ctx, DISTILL_E_INVAL, "%s: unknown task %d (DISTILL_ENV_CARTPOLE, _PENDULUM, _AVOID, "
                             "_CTGRAPH or _GRID)", fn, (int)o.task);
    if (o.max_steps < 0)
        return distill__fail(ctx, DISTILL_E_INVAL, "%s: max_steps must be >= 0, got %lld", fn,
                             (long long)o.max_steps);
    DISTILL__TRY(check_task_options(ctx, fn, &o));
    if (!(e = env_new(ctx)))
        return distill__fail(ctx, DISTILL_E_NOMEM, "%s: out of memory", fn);
    e->task = task;
    e->param[0] = (double)o.depth, e->param[1] = (double)o.goal, e->param[2] = (double)o.image_seed;
    e->obs.struct_size = sizeof e->obs;
    e->obs.kind = DISTILL_SPACE_BOX, e->obs.n = task->obs_dim;
    e->obs.low = task->obs_low, e->obs.high = task->obs_high;
    e->action = task->action;
    e->max_steps = o.max_steps ? o.max_steps : task->max_steps ? task->max_steps : 4 * o.depth;
    if (task->obs_dim > DISTILL__BOUNDS_MAX) { /* no bounds in the table: unbounded, owned */
        e->obs.low = e->obs.high = NULL;
        if ((st = own_bounds(e, fn)) != DISTILL_OK) {
            distill_env_destroy(e);
            return st;
        }
    }
    *out = e;
    return DISTILL_OK;
}

/* A caller's space (any size since 0.2) into `out`, checked. */
static distill_status read_space(distill_context *ctx, const char *fn, const char *what,
                                 const distill_space *in, int observation, distill_space *out)
{
    int64_t i;
    if (!in)
        return distill__fail(ctx, DISTILL_E_INVAL, "%s: the %s space is NULL", fn, what);
    DISTILL__TRY(distill__struct_read(ctx, fn, what, in, sizeof *out, sizeof *out, out));
    if (out->kind != DISTILL_SPACE_BOX && (observation || out->kind != DISTILL_SPACE_DISCRETE))
        return distill__fail(ctx, DISTILL_E_INVAL, "%s: the %s space's kind %d is not %s", fn, what,
                             (int)out->kind, observation ? "DISTILL_SPACE_BOX" : "a space kind");
    if (out->n < 1 || out->n > ((int64_t)1 << 24))
        return distill__fail(ctx, DISTILL_E_INVAL, "%s: the %s space's n must be in [1, 2^24], got %lld",
                             fn, what, (long long)out->n);
    for (i = 0; out->kind == DISTILL_SPACE_BOX && i < out->n; i++) {
        float lo = out->low ? out->low[i] : -INFINITY, hi = out->high ? out->high[i] : INFINITY;
        if (isnan(lo) || isnan(hi) || lo > hi)
            return distill__fail(ctx, DISTILL_E_INVAL, "%s: the %s space's bounds at %lld are "
                                 "[%g, %g]", fn, what, (long long)i, (double)lo, (double)hi);
    }
    return DISTILL_OK;
}

/* Copy the two spaces' bounds into one owned block (infinite where absent). */
static distill_status own_bounds(distill_env *e, const char *fn)
{
    const int64_t no = e->obs.n, na = e->action.kind == DISTILL_SPACE_BOX ? e->action.n : 0;
    float *b;
    int64_t i;
    if (!(b = distill__alloc(e->ctx, sizeof(float) * (size_t)(2 * (no + na)))))
        return distill__fail(e->ctx, DISTILL_E_NOMEM, "%s: out of memory", fn);
    for (i = 0; i < no; i++) {
        b[i] = e->obs.low ? e->obs.low[i] : -INFINITY;
        b[no + i] = e->obs.high ? e->obs.high[i] : INFINITY;
    }
    for (i = 0; i < na; i++) {
        b[2 * no + i] = e->action.low ? e->action.low[i] : -INFINITY;
        b[2 * no + na + i] = e->action.high ? e->action.high[i] : INFINITY;
    }
    e->bounds = b;
    e->obs.low = b, e->obs.high = b + no;
    if (na)
        e->action.low = b + 2 * no, e->action.high = b + 2 * no + na;
    else
        e->action.low = e->action.high = NULL;
    return DISTILL_OK;
}

distill_status distill_env_from_vtable(distill_context *ctx, const distill_env_vtable *vtable,
                                       const distill_space *obs, const distill_space *action,
                                       int64_t max_steps, distill_env **out)
{
    static const char fn[] = "distill_env_from_vtable";
    distill_env_vtable vt;
    distill_space os, as;
    distill_env *e;
    distill_status st;
    if (!ctx)
        return DISTILL_E_INVAL;
    DISTILL__TRY(distill__check_out(ctx, fn, "out", out));
    *out = NULL;
    if (!vtable)
        return distill__fail(ctx, DISTILL_E_INVAL, "%s: vtable is NULL", fn);
    memset(&vt, 0, sizeof vt);
    DISTILL__TRY(distill__struct_read(ctx, fn, "vtable", vtable, sizeof vt, sizeof vt, &vt));
    if (!vt.reset || !vt.step)
        return distill__fail(ctx, DISTILL_E_INVAL, "%s: the vtable needs reset and step", fn);
    DISTILL__TRY(read_space(ctx, fn, "observation", obs, 1, &os));
    DISTILL__TRY(read_space(ctx, fn, "action", action, 0, &as));
    if (max_steps < 0)
        return distill__fail(ctx, DISTILL_E_INVAL, "%s: max_steps must be >= 0, got %lld", fn,
                             (long long)max_steps);
    if (!(e = env_new(ctx)))
        return distill__fail(ctx, DISTILL_E_NOMEM, "%s: out of memory", fn);
    e->vt = vt, e->obs = os, e->action = as, e->max_steps = max_steps;
    if ((st = own_bounds(e, fn)) != DISTILL_OK) {
        distill__free(ctx, e);
        return st;
    }
    *out = e;
    return DISTILL_OK;
}

void distill_env_destroy(distill_env *e)
{
    if (!e)
        return;
    if (e->vt.release)
        e->vt.release(e->vt.user);
    distill__free(e->ctx, e->bounds);
    distill__free(e->ctx, e);
}

int64_t distill_env_obs_dim(const distill_env *e) { return e ? e->obs.n : 0; }
int64_t distill_env_action_dim(const distill_env *e)
{
    return !e ? 0 : e->action.kind == DISTILL_SPACE_DISCRETE ? 1 : e->action.n;
}
int64_t distill_env_max_steps(const distill_env *e) { return e ? e->max_steps : 0; }

static distill_status space_out(const distill_env *e, const char *fn, const distill_space *s,
                                distill_space *out)
{
    size_t n;
    if (!e)
        return DISTILL_E_INVAL;
    if (!out || (n = distill__struct_size_of(out)) < sizeof *out)
        return distill__fail(e->ctx, DISTILL_E_INVAL, "%s: out is NULL or its struct_size is not "
                             "distill_space_size()", fn);
    *out = *s;
    return DISTILL_OK;
}

distill_status distill_env_obs_space(const distill_env *e, distill_space *out)
{
    return space_out(e, "distill_env_obs_space", e ? &e->obs : NULL, out);
}

distill_status distill_env_action_space(const distill_env *e, distill_space *out)
{
    return space_out(e, "distill_env_action_space", e ? &e->action : NULL, out);
}

distill_status distill__env_action(const distill_env *e, const char *fn, const float *action, float *clipped)
{
    int64_t i;
    if (!action)
        return distill__fail(e->ctx, DISTILL_E_INVAL, "%s: action is NULL", fn);
    if (e->action.kind == DISTILL_SPACE_DISCRETE) {
        float a = action[0];
        if (!(a >= 0.0f && a < (float)e->action.n) || a != floorf(a))
            return distill__fail(e->ctx, DISTILL_E_INVAL, "%s: action %g is not one of 0 .. %lld", fn,
                                 (double)a, (long long)(e->action.n - 1));
        if (clipped)
            clipped[0] = a;
        return DISTILL_OK;
    }
    for (i = 0; i < e->action.n; i++) {
        float a = action[i];
        if (!isfinite(a))
            return distill__fail(e->ctx, DISTILL_E_INVAL, "%s: action[%lld] is %g", fn, (long long)i,
                                 (double)a);
        if (clipped)
            clipped[i] = a < e->action.low[i] ? e->action.low[i] : a > e->action.high[i] ? e->action.high[i] : a;
    }
    return DISTILL_OK;
}

distill_status distill_env_reset(distill_env *e, uint64_t seed, float *obs)
{
    if (!e)
        return DISTILL_E_INVAL;
    DISTILL__TRY(distill__check_out(e->ctx, "distill_env_reset", "obs", obs));
    e->live = 0, e->t = 0;
    if (e->task) {
        e->task->reset(e->param, seed, e->state);
        e->task->observe(e->state, obs);
    } else if (e->vt.reset(e->vt.user, seed, obs) != 0) {
        return distill__fail(e->ctx, DISTILL_E_BACKEND, "distill_env_reset: the host's reset callback "
                             "failed (seed %llu)", (unsigned long long)seed);
    }
    e->live = 1;
    return DISTILL_OK;
}

distill_status distill_env_step(distill_env *e, const float *action, float *obs, float *reward,
                                int32_t *terminated, int32_t *truncated)
{
    static const char fn[] = "distill_env_step";
    float a[DISTILL__SPACE_MAX], r = 0.0f;
    int32_t term = 0, trunc = 0;
    if (!e)
        return DISTILL_E_INVAL;
    if (!obs || !reward)
        return distill__fail(e->ctx, DISTILL_E_INVAL, "%s: obs and reward must not be NULL", fn);
    if (!e->live)
        return distill__fail(e->ctx, DISTILL_E_INVAL, "%s: no episode is running (reset first; an "
                             "episode that ended needs a reset)", fn);
    if (e->task) {
        DISTILL__TRY(distill__env_action(e, fn, action, a));
        e->task->step(e->state, a, &r, &term);
        e->task->observe(e->state, obs);
    } else {
        DISTILL__TRY(distill__env_action(e, fn, action, NULL));
        if (e->vt.step(e->vt.user, action, obs, &r, &term, &trunc) != 0) {
            e->live = 0;
            return distill__fail(e->ctx, DISTILL_E_BACKEND, "%s: the host's step callback failed at "
                                 "step %lld", fn, (long long)e->t);
        }
    }
    e->t++;
    trunc = trunc || (e->max_steps > 0 && e->t >= e->max_steps);
    term = term != 0;
    if (term || trunc)
        e->live = 0;
    *reward = r;
    if (terminated)
        *terminated = term;
    if (truncated)
        *truncated = trunc && !term;
    return DISTILL_OK;
}
