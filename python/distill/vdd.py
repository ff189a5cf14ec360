"""Diffusion policies and their distillation into mixtures of experts
(diffusion.h, vdd.h; docs/vdd.md).

    env = distill.Env(ctx, "avoid")
    _, _, demos = env.demos(episodes=400, action_noise=0.004)
    teacher = distill.Diffusion(ctx, obs_dim=2, action_dim=2)
    teacher.train(demos, steps=6000)
    vdd = distill.Vdd(ctx, teacher, demos, data_units=1, iterations=2000).run()
    policy = vdd.policy("committed")
    returns, lengths = policy.evaluate(env, episodes=100)
"""
import ctypes
import threading

import numpy as np

from ._lib import (lib, DiffusionOptions, DiffusionTrainOptions, ScoreVtable, VddOptions, SCORE_FN,
                   RELEASE_FN)
from .core import Handle, _path, error
from .kernels import _p
from .krrst import _options
from .rl import Policy, _MODES

SAMPLERS = {"euler": 0, "heun": 1}


class Diffusion(Handle):
    """Diffusion(ctx, obs_dim, action_dim, **options): the library's EDM
    denoiser (options: hidden, layers, sigma_data, sigma_min, sigma_max);
    Diffusion.from_score(ctx, fn, obs_dim, action_dim): the host's score
    function fn(a, s, sigma) -> grad_a log p (numpy arrays of n rows), e.g.
    a PyTorch model; Diffusion.load(ctx, path)."""

    _destroy = lib.distill_diffusion_destroy

    def __init__(self, ctx, obs_dim=None, action_dim=None, _handle=None, **options):
        self.ctx, self._keep, self._tls = ctx, [], threading.local()
        if _handle is not None:
            self._handle = _handle
            return
        o = _options(DiffusionOptions, lib.distill_diffusion_options_init, "diffusion", options)
        o.obs_dim, o.action_dim = int(obs_dim), int(action_dim)
        self._handle = ctypes.c_void_p()
        ctx.check(lib.distill_diffusion_create(ctx.handle, ctypes.byref(o), ctypes.byref(self._handle)))

    @classmethod
    def from_score(cls, ctx, fn, obs_dim, action_dim):
        """A teacher made of a Python score function (it is called with
        float32 arrays a (n, action_dim), s (n, obs_dim), sigma (n,) and
        returns (n, action_dim)); an exception in it becomes a
        DISTILL_E_BACKEND error of the call that asked."""
        od, ad = int(obs_dim), int(action_dim)

        def score(user, n, a, s, sigma, out):
            try:
                r = fn(np.ctypeslib.as_array(a, shape=(n, ad)).copy(), np.ctypeslib.as_array(s, shape=(n, od)).copy(),
                       np.ctypeslib.as_array(sigma, shape=(n,)).copy())
                np.ctypeslib.as_array(out, shape=(n, ad))[:] = np.asarray(r, dtype=np.float32).reshape(n, ad)
                return 0
            except Exception:  # the library reports DISTILL_E_BACKEND
                return 1

        vt = ScoreVtable(ctypes.sizeof(ScoreVtable), None, SCORE_FN(score), RELEASE_FN())
        out = ctypes.c_void_p()
        ctx.check(lib.distill_diffusion_from_score(ctx.handle, ctypes.byref(vt), od, ad, ctypes.byref(out)))
        d = cls(ctx, _handle=out)
        d._keep.append(vt)  # the callback lives as long as the handle
        return d

    @classmethod
    def load(cls, ctx, path):
        """A denoiser saved by save."""
        out = ctypes.c_void_p()
        ctx.check(lib.distill_diffusion_load(ctx.handle, _path(path), ctypes.byref(out)))
        return cls(ctx, _handle=out)

    def save(self, path):
        """Save in the container format (atomically replaced)."""
        self.ctx.check(lib.distill_diffusion_save(self._handle, _path(path)))

    @property
    def obs_dim(self):
        """Floats per observation."""
        return lib.distill_diffusion_obs_dim(self._handle)

    @property
    def action_dim(self):
        """Floats per action."""
        return lib.distill_diffusion_action_dim(self._handle)

    @property
    def sigma_data(self):
        """The actions' scale (set by the first training unless given)."""
        return lib.distill_diffusion_sigma_data(self._handle)

    def train(self, demos, **options):
        """Denoising score matching on demos (a Dataset: x observations, y
        starting with the action); options: steps, batch, lr, stream.
        Returns the mean loss of the last 10% of steps."""
        o = _options(DiffusionTrainOptions, lib.distill_diffusion_train_options_init, "diffusion training",
                     options)
        loss = ctypes.c_double()
        self.ctx.check(lib.distill_diffusion_train(self._handle, ctypes.byref(o), demos._handle, ctypes.byref(loss)))
        return loss.value

    def score(self, a, s, sigma):
        """grad_a log p_sigma(a | s) for rows a (n, action_dim), s (n, obs_dim), sigma (n,) or a scalar."""
        a = np.ascontiguousarray(a, dtype=np.float32).reshape(-1, self.action_dim)
        n = a.shape[0]
        s = np.ascontiguousarray(s, dtype=np.float32).reshape(n, self.obs_dim)
        sg = np.ascontiguousarray(np.broadcast_to(np.asarray(sigma, dtype=np.float32), (n,)))
        out = np.empty_like(a)
        self.ctx.check(lib.distill_diffusion_score(self._handle, n, _p(a), _p(s), _p(sg), _p(out)))
        return out

    def sample(self, obs, steps=8, sampler="euler"):
        """Actions for one observation (1-D) or a batch (n, obs_dim) through
        the allocation-free sampler (a workspace and noise counter per thread)."""
        if sampler not in SAMPLERS:
            raise ValueError(f"sampler must be one of {sorted(SAMPLERS)}, got {sampler!r}")
        one = np.ndim(obs) == 1
        x = np.ascontiguousarray(np.reshape(obs, (1, -1)) if one else obs, dtype=np.float32)
        if x.ndim != 2 or x.shape[1] != self.obs_dim:
            raise ValueError(f"observations must be (n, {self.obs_dim}), got {np.shape(obs)}")
        n = x.shape[0]
        ws = getattr(self._tls, "ws", None)
        if ws is None or ws[0] < n:
            size = ctypes.c_size_t()
            self.ctx.check(lib.distill_diffusion_workspace_size(self._handle, n, ctypes.byref(size)))
            ws = self._tls.ws = (n, ctypes.create_string_buffer(size.value), size.value)
            if not hasattr(self._tls, "rng"):
                self._tls.rng = ctypes.c_uint64((threading.get_ident() & 0xffffffff) << 24)
        a = np.empty((n, self.action_dim), np.float32)
        st = lib.distill_diffusion_sample(self._handle, ws[1], ws[2], n, _p(x), x.shape[1], steps,
                                          SAMPLERS[sampler], ctypes.byref(self._tls.rng), _p(a), a.shape[1])
        if st != 0:
            raise error(st, "distill_diffusion_sample: an untrained or host diffusion, NaN or Inf in the "
                            "observations, or a bad argument")
        return a[0] if one else a


_MEAN_INITS = {"uniform": 0, "branch": 1}  # DISTILL_VDD_MEAN_INIT_*


class Vdd(Handle):
    """Vdd(ctx, teacher, demos, **options): the VDD solver distilling a
    Diffusion into a mixture of Gaussian experts; options: the fields of
    distill_vdd_options (experts, full_cov, learn_gating, hidden, layers,
    gating_hidden, batch, samples, expert_steps, iterations, lr, gating_lr,
    sigma_min, sigma_max, min_std, init_std, mean_bias_bound, data_units,
    state_noise, mean_init: "uniform" or "branch").
    The solver keeps the teacher and demos alive."""

    _destroy = lib.distill_vdd_destroy

    def __init__(self, ctx, teacher, demos, **options):
        self.ctx, self._keep = ctx, [teacher, demos]
        if isinstance(options.get("mean_init"), str):
            if options["mean_init"] not in _MEAN_INITS:
                raise ValueError(f"mean_init is 'uniform' or 'branch', not {options['mean_init']!r}")
            options = dict(options, mean_init=_MEAN_INITS[options["mean_init"]])
        o = _options(VddOptions, lib.distill_vdd_options_init, "VDD", options, ("reserved", "reserved2"))
        self._handle = ctypes.c_void_p()
        ctx.check(lib.distill_vdd_create(ctx.handle, ctypes.byref(o), teacher._handle, demos._handle,
                                         ctypes.byref(self._handle)))

    def step(self):
        """One iteration; returns its mean expert loss."""
        loss = ctypes.c_double()
        self.ctx.check(lib.distill_vdd_step(self._handle, ctypes.byref(loss)))
        return loss.value

    def run(self, until=0):
        """Iterations until `until` are done (0: the options'), with progress and cancellation."""
        self.ctx.check(lib.distill_vdd_run(self._handle, until))
        return self

    @property
    def steps_done(self):
        """Iterations taken (also after a resume)."""
        return lib.distill_vdd_steps_done(self._handle)

    def policy(self, mode="committed", commit_steps=0):
        """The student as a deployable Policy (a copy)."""
        if mode not in _MODES:
            raise ValueError(f"mode must be one of {sorted(_MODES)}, got {mode!r}")
        out = ctypes.c_void_p()
        self.ctx.check(lib.distill_vdd_policy(self._handle, _MODES[mode], commit_steps, ctypes.byref(out)))
        return Policy(self.ctx, out)

    def checkpoint(self, path):
        """A checkpoint that resumes bit-identically."""
        self.ctx.check(lib.distill_vdd_checkpoint(self._handle, _path(path)))

    def resume(self, path):
        """Continue from a checkpoint of a solver with the same options, teacher and data."""
        self.ctx.check(lib.distill_vdd_resume(self._handle, _path(path)))
