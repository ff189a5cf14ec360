"""Environments, rollouts and deployable policies (env.h, rl.h, policy.h).

    env = distill.Env(ctx, "cartpole")
    returns, lengths = env.rollout(lambda obs: (obs[:, 2] > 0).astype(np.float32), episodes=10)
    policy = distill.Policy.from_model(ctx, model, env)
    returns, lengths = policy.evaluate(env, episodes=100)
"""
import ctypes
import threading

import numpy as np

from ._lib import (lib, Space, EnvOptions, EnvVtable, RolloutOptions, BcOptions, ENV_RESET_FN,
                   ENV_STEP_FN, ACT_FN, RELEASE_FN)
from .core import Handle, _path, error
from .data import Dataset
from .kernels import _p

SPACE_DISCRETE, SPACE_BOX = 1, 2
ENV_CARTPOLE, ENV_PENDULUM, ENV_AVOID, ENV_CTGRAPH, ENV_GRID = 1, 2, 3, 4, 5
TRAJ_REWARD, TRAJ_DONE, TRAJ_EPISODE, TRAJ_RTG, TRAJ_EXTRA = 0, 1, 2, 3, 4
POLICY_GREEDY, POLICY_SAMPLE, POLICY_COMMITTED = 0, 1, 2
POLICY_NETWORK, POLICY_MOE = 1, 2
_MODES = {"greedy": POLICY_GREEDY, "sample": POLICY_SAMPLE, "committed": POLICY_COMMITTED}
BC_LOSSES = {"mse": 0, "mae": 1, "xent": 2}
_TASKS = {"cartpole": ENV_CARTPOLE, "pendulum": ENV_PENDULUM, "avoid": ENV_AVOID, "ctgraph": ENV_CTGRAPH,
          "grid": ENV_GRID}


def _space(n_actions=None, low=None, high=None):
    """A distill_space for n discrete actions, or a box from its bounds;
    the bound arrays are returned too (the struct points into them)."""
    if n_actions is not None:
        return Space(ctypes.sizeof(Space), SPACE_DISCRETE, int(n_actions), None, None), ()
    lo = np.ascontiguousarray(low, dtype=np.float32).ravel()
    hi = np.ascontiguousarray(high, dtype=np.float32).ravel()
    if lo.shape != hi.shape or lo.size == 0:
        raise ValueError("a box needs low and high bounds of one length")
    fp = ctypes.POINTER(ctypes.c_float)
    return Space(ctypes.sizeof(Space), SPACE_BOX, lo.size, lo.ctypes.data_as(fp),
                 hi.ctypes.data_as(fp)), (lo, hi)


def _space_dict(s):
    """A distill_space read back as a dict (bounds copied)."""
    d = {"kind": "discrete" if s.kind == SPACE_DISCRETE else "box", "n": s.n}
    if s.kind == SPACE_BOX:
        d["low"] = np.array(s.low[:s.n], dtype=np.float32)
        d["high"] = np.array(s.high[:s.n], dtype=np.float32)
    return d


def _rollout_options(episodes, seed, epsilon, action_noise, lockstep):
    o = RolloutOptions()
    lib.distill_rollout_options_init(ctypes.byref(o))
    o.episodes, o.seed, o.epsilon, o.action_noise = episodes, seed, epsilon, action_noise
    if lockstep is not None:
        o.lockstep = lockstep
    return o


class Env(Handle):
    """Env(ctx, task, ...): a built-in task ("cartpole", "pendulum", "avoid":
    the point robot of docs/vdd.md; "ctgraph" with depth, goal and
    image_seed, "grid" with goal: docs/masks.md) or a Python environment.

    A Python environment is an object with reset(seed) -> observation and
    step(action) -> (observation, reward, terminated, truncated), like
    Gymnasium's; give obs_dim and either n_actions (discrete: step receives
    an int) or action_low/action_high (a box: step receives a float32
    array).  An exception in it becomes a BackendError-status DistillError
    and leaves the Env usable.  max_steps truncates episodes (0: the task's
    own limit)."""

    _destroy = lib.distill_env_destroy

    def __init__(self, ctx, task="cartpole", obs_dim=None, n_actions=None, action_low=None,
                 action_high=None, max_steps=0, depth=2, goal=0, image_seed=0):
        self.ctx, self._keep = ctx, []
        self._handle = ctypes.c_void_p()
        out = ctypes.byref(self._handle)
        if isinstance(task, str):
            if task.lower() not in _TASKS:
                raise ValueError(f"unknown task {task!r} (one of {sorted(_TASKS)})")
            o = EnvOptions()
            lib.distill_env_options_init(ctypes.byref(o))
            o.task, o.max_steps = _TASKS[task.lower()], max_steps
            o.depth, o.goal, o.image_seed = depth, goal, image_seed
            ctx.check(lib.distill_env_create(ctx.handle, ctypes.byref(o), out))
            return
        if obs_dim is None or (n_actions is None) == (action_low is None):
            raise ValueError("a Python environment needs obs_dim and either n_actions or action bounds")
        obs_space = Space(ctypes.sizeof(Space), SPACE_BOX, int(obs_dim), None, None)
        act_space, bounds = _space(n_actions, action_low, action_high)
        vt = self._vtable(task, int(obs_dim), n_actions)
        self._keep += [vt, bounds]
        ctx.check(lib.distill_env_from_vtable(ctx.handle, ctypes.byref(vt), ctypes.byref(obs_space),
                                              ctypes.byref(act_space), max_steps, out))
        vt._adim[0] = self.action_dim

    @staticmethod
    def _vtable(env, od, n_actions):
        ad = 1 if n_actions is not None else None

        def reset(user, seed, obs):
            try:
                np.ctypeslib.as_array(obs, shape=(od,))[:] = np.asarray(env.reset(seed), np.float32).ravel()
                return 0
            except Exception:  # the library reports DISTILL_E_BACKEND
                return 1

        def step(user, action, obs, reward, terminated, truncated):
            try:
                if ad == 1:
                    a = int(action[0])
                else:
                    a = np.array(np.ctypeslib.as_array(action, shape=(env_adim[0],)))
                o, r, term, trunc = env.step(a)
                np.ctypeslib.as_array(obs, shape=(od,))[:] = np.asarray(o, np.float32).ravel()
                reward[0], terminated[0], truncated[0] = float(r), bool(term), bool(trunc)
                return 0
            except Exception:
                return 1

        env_adim = [0]
        vt = EnvVtable(ctypes.sizeof(EnvVtable), None, ENV_RESET_FN(reset), ENV_STEP_FN(step),
                       RELEASE_FN(0))
        vt._adim = env_adim  # filled once the action space is known
        return vt

    @property
    def obs_dim(self):
        """Floats per observation."""
        return lib.distill_env_obs_dim(self._handle)

    @property
    def action_dim(self):
        """Floats per action row (1 for a discrete space)."""
        return lib.distill_env_action_dim(self._handle)

    @property
    def max_steps(self):
        """The truncation limit in force (0: none)."""
        return lib.distill_env_max_steps(self._handle)

    @property
    def action_space(self):
        """{"kind": "discrete" | "box", "n": ..., "low", "high"}."""
        s = Space(ctypes.sizeof(Space))
        self.ctx.check(lib.distill_env_action_space(self._handle, ctypes.byref(s)))
        return _space_dict(s)

    @property
    def observation_space(self):
        """The observation box as a dict (bounds may be infinite)."""
        s = Space(ctypes.sizeof(Space))
        self.ctx.check(lib.distill_env_obs_space(self._handle, ctypes.byref(s)))
        return _space_dict(s)

    def reset(self, seed=0):
        """Start an episode; returns the first observation (1-D)."""
        obs = np.empty(self.obs_dim, np.float32)
        self.ctx.check(lib.distill_env_reset(self._handle, seed, _p(obs)))
        return obs

    def step(self, action):
        """Apply one action; returns (observation, reward, terminated, truncated)."""
        a = np.ascontiguousarray(np.atleast_1d(action), dtype=np.float32).ravel()
        if a.size != self.action_dim:
            raise ValueError(f"action has {a.size} values, expected {self.action_dim}")
        obs = np.empty(self.obs_dim, np.float32)
        r, term, trunc = ctypes.c_float(), ctypes.c_int32(), ctypes.c_int32()
        self.ctx.check(lib.distill_env_step(self._handle, _p(a), _p(obs), ctypes.byref(r), ctypes.byref(term),
                                            ctypes.byref(trunc)))
        return obs, r.value, bool(term.value), bool(trunc.value)

    def rollout(self, act, episodes=10, seed=0, epsilon=0.0, action_noise=0.0, lockstep=None, record=False):
        """Run seeded episodes of `act` (a Policy, "expert" for a built-in
        task's scripted expert, or a callable mapping observations
        (n, obs_dim) to actions (n,) or (n, action_dim)).
        Returns (returns, lengths), plus a trajectory Dataset when record
        (x: observations; y: action, reward, done, episode, return-to-go)."""
        if isinstance(act, Policy):
            return act.evaluate(self, episodes, seed, epsilon, action_noise, lockstep, record)
        if isinstance(act, str) and act == "expert":  # the built-in task's scripted expert
            return self._rollout(ctypes.cast(lib.distill_env_expert, ACT_FN), self._handle, episodes, seed,
                                 epsilon, action_noise, lockstep, record)
        ad = self.action_dim

        def cb(user, n, obs, ldobs, actions, ldact):
            try:
                o = np.ctypeslib.as_array(obs, shape=(n, ldobs))[:, :self.obs_dim]
                a = np.asarray(act(np.array(o)), dtype=np.float32).reshape(n, ad)
                np.ctypeslib.as_array(actions, shape=(n, ldact))[:, :ad] = a
                return 0
            except Exception:  # the library reports DISTILL_E_BACKEND
                return 1

        return self._rollout(ACT_FN(cb), None, episodes, seed, epsilon, action_noise, lockstep, record)

    def demos(self, episodes=100, seed=0, action_noise=0.0, lockstep=None):
        """The built-in task's scripted expert, recorded: (returns, lengths,
        trajectory Dataset).  Avoid's expert takes one of four routes per
        episode (multi-modal demonstrations)."""
        o = _rollout_options(episodes, seed, 0.0, action_noise, lockstep)
        returns, lengths = np.empty(episodes, np.float64), np.empty(episodes, np.int64)
        traj = ctypes.c_void_p()
        self.ctx.check(lib.distill_env_demos(self._handle, ctypes.byref(o), _p(returns), _p(lengths),
                                             ctypes.byref(traj)))
        return returns, lengths, Dataset(self.ctx, traj)

    def _rollout(self, fn, user, episodes, seed, epsilon, action_noise, lockstep, record):
        o = _rollout_options(episodes, seed, epsilon, action_noise, lockstep)
        returns, lengths = np.empty(episodes, np.float64), np.empty(episodes, np.int64)
        traj = ctypes.c_void_p()
        self.ctx.check(lib.distill_env_rollout(self._handle, ctypes.byref(o), fn, user, _p(returns),
                                               _p(lengths), ctypes.byref(traj) if record else None))
        if record:
            return returns, lengths, Dataset(self.ctx, traj)
        return returns, lengths


class Policy(Handle):
    """A deployable policy (distill_policy): Policy.from_model or
    Policy.load.  act(obs) takes one observation (1-D) or a batch (2-D) and
    returns the action(s) through the allocation-free path, with a
    workspace and a sampling counter per thread."""

    _destroy = lib.distill_policy_destroy

    def __init__(self, ctx, handle):
        self.ctx = ctx
        self._handle = handle
        self._tls = threading.local()

    @classmethod
    def from_model(cls, ctx, model, env=None, n_actions=None, low=None, high=None, sample=False,
                   temperature=1.0):
        """A policy running a copy of `model`: the action space is env's, or
        n_actions discrete actions, or the box [low, high].  sample=True
        draws discrete actions from softmax(logits / temperature)."""
        if env is not None:
            sp = env.action_space
            n_actions, low, high = (sp["n"], None, None) if sp["kind"] == "discrete" else \
                (None, sp["low"], sp["high"])
        if (n_actions is None) == (low is None):
            raise ValueError("give env, n_actions or low and high")
        space, bounds = _space(n_actions, low, high)
        out = ctypes.c_void_p()
        ctx.check(lib.distill_policy_from_model(ctx.handle, model._handle, ctypes.byref(space),
                                                POLICY_SAMPLE if sample else POLICY_GREEDY, temperature,
                                                ctypes.byref(out)))
        del bounds  # copied by the library
        return cls(ctx, out)

    @classmethod
    def load(cls, ctx, path):
        """A policy saved by Policy.save."""
        out = ctypes.c_void_p()
        ctx.check(lib.distill_policy_load(ctx.handle, _path(path), ctypes.byref(out)))
        return cls(ctx, out)

    def save(self, path):
        """Save in the container format (atomically replaced)."""
        self.ctx.check(lib.distill_policy_save(self._handle, _path(path)))

    @property
    def obs_dim(self):
        """Floats per observation."""
        return lib.distill_policy_obs_dim(self._handle)

    @property
    def action_dim(self):
        """Floats per action row (1 for a discrete space)."""
        return lib.distill_policy_action_dim(self._handle)

    @property
    def action_space(self):
        """{"kind": "discrete" | "box", "n": ..., "low", "high"}."""
        s = Space(ctypes.sizeof(Space))
        self.ctx.check(lib.distill_policy_action_space(self._handle, ctypes.byref(s)))
        return _space_dict(s)

    @property
    def kind(self):
        """"network" or "moe" (a mixture of experts from VDD)."""
        return "moe" if lib.distill_policy_kind(self._handle) == POLICY_MOE else "network"

    @property
    def n_experts(self):
        """Experts of a mixture (0 for a network)."""
        return lib.distill_policy_n_experts(self._handle)

    @property
    def mode(self):
        """"greedy", "sample" or "committed"."""
        m = lib.distill_policy_mode(self._handle)
        return {v: k for k, v in _MODES.items()}[m]

    def set_mode(self, mode, commit_steps=0):
        """A mixture's mode: "greedy", "sample" or "committed" (keep the
        drawn expert for the episode, or for commit_steps steps)."""
        if mode not in _MODES:
            raise ValueError(f"mode must be one of {sorted(_MODES)}, got {mode!r}")
        self.ctx.check(lib.distill_policy_set_mode(self._handle, _MODES[mode], commit_steps))

    def _rows(self, obs):
        one = np.ndim(obs) == 1
        x = np.ascontiguousarray(np.reshape(obs, (1, -1)) if one else obs, dtype=np.float32)
        if x.ndim != 2 or x.shape[1] != self.obs_dim:
            raise ValueError(f"observations must be (n, {self.obs_dim}), got {np.shape(obs)}")
        return one, x

    def _workspace(self, n):
        ws = getattr(self._tls, "ws", None)
        if ws is None or ws[0] < n:
            size = ctypes.c_size_t()
            self.ctx.check(lib.distill_policy_workspace_size(self._handle, n, ctypes.byref(size)))
            ws = self._tls.ws = (n, ctypes.create_string_buffer(size.value), size.value)
            if not hasattr(self._tls, "rng"):  # a sampling counter per thread
                self._tls.rng = ctypes.c_uint64((threading.get_ident() & 0xffffffff) << 24)
        return ws

    def act(self, obs):
        """Action(s) for one observation (1-D in, 1-D out) or a batch (n, obs_dim)."""
        one, x = self._rows(obs)
        if x.shape[0] == 0:
            return np.empty((0, self.action_dim), np.float32)
        n = x.shape[0]
        ws = self._workspace(n)
        a = np.empty((n, self.action_dim), np.float32)
        st = lib.distill_policy_act(self._handle, ws[1], ws[2], n, _p(x), x.shape[1], _p(a), a.shape[1],
                                    ctypes.byref(self._tls.rng))
        if st != 0:
            # act has no context, so no message of its own
            raise error(st, "distill_policy_act: NaN or Inf in the observations, or a bad argument")
        return a[0] if one else a

    def act_ex(self, obs, experts=None):
        """A mixture's act with what a controller watches: (actions, experts,
        log_q).  experts (int32, one per row; -1 = draw) carries committed
        experts between calls; log_q is log q(a|s) of each action returned."""
        one, x = self._rows(obs)
        n = x.shape[0]
        e = np.full(n, -1, np.int32) if experts is None else np.ascontiguousarray(experts, dtype=np.int32).ravel()
        if e.size != n:
            raise ValueError(f"experts needs {n} entries, got {e.size}")
        ws = self._workspace(max(n, 1))
        a, lq = np.empty((n, self.action_dim), np.float32), np.empty(n, np.float32)
        st = lib.distill_policy_act_ex(self._handle, ws[1], ws[2], n, _p(x), x.shape[1], _p(a), a.shape[1],
                                       ctypes.byref(self._tls.rng), _p(e), _p(lq))
        if st != 0:
            raise error(st, "distill_policy_act_ex: not a mixture, NaN or Inf in the observations, or a bad argument")
        return (a[0], int(e[0]), float(lq[0])) if one else (a, e, lq)

    def log_prob(self, obs, actions):
        """log q(a|s) of given actions under a mixture (1-D in: a float)."""
        one, x = self._rows(obs)
        n = x.shape[0]
        a = np.ascontiguousarray(np.reshape(actions, (n, -1)), dtype=np.float32)
        if a.shape[1] != self.action_dim:
            raise ValueError(f"actions must be (n, {self.action_dim}), got {np.shape(actions)}")
        ws = self._workspace(max(n, 1))
        lq = np.empty(n, np.float32)
        st = lib.distill_policy_log_prob(self._handle, ws[1], ws[2], n, _p(x), x.shape[1], _p(a), a.shape[1],
                                         _p(lq))
        if st != 0:
            raise error(st, "distill_policy_log_prob: not a mixture, NaN or Inf in the input, or a bad argument")
        return float(lq[0]) if one else lq

    def evaluate(self, env, episodes=100, seed=0, epsilon=0.0, action_noise=0.0, lockstep=None,
                 record=False):
        """Per-episode (returns, lengths) over seeded episodes on env (plus
        the trajectory Dataset when record)."""
        o = _rollout_options(episodes, seed, epsilon, action_noise, lockstep)
        returns, lengths = np.empty(episodes, np.float64), np.empty(episodes, np.int64)
        traj = ctypes.c_void_p()
        self.ctx.check(lib.distill_policy_evaluate(self._handle, env._handle, ctypes.byref(o), _p(returns),
                                                   _p(lengths), ctypes.byref(traj) if record else None))
        if record:
            return returns, lengths, Dataset(env.ctx, traj)
        return returns, lengths


def bc_train(ctx, student, data, n_actions=0, loss="xent", steps=1000, batch=256, lr=0.005, stream=0):
    """Behaviour cloning: train `student` (a Model) in place on `data` (a
    Dataset whose y starts with the action: an index for n_actions >= 2
    discrete actions, the action vector for n_actions=0).  loss: "mse" or
    "mae" (on softmax vs one-hot) or "xent"; continuous actions use squared
    error.  Returns the mean loss of the last 10% of steps; a failure leaves
    the student as it was."""
    if loss not in BC_LOSSES:
        raise ValueError(f"loss must be one of {sorted(BC_LOSSES)}, got {loss!r}")
    o = BcOptions()
    lib.distill_bc_options_init(ctypes.byref(o))
    o.loss, o.n_actions, o.steps, o.batch, o.lr, o.stream = BC_LOSSES[loss], n_actions, steps, batch, lr, stream
    final = ctypes.c_double()
    ctx.check(lib.distill_bc_train(ctx.handle, ctypes.byref(o), student._handle, data._handle,
                                   ctypes.byref(final)))
    return final.value


def trajectory_top(data, fraction, action_dim=1):
    """The rows of the best `fraction` of a trajectory Dataset's episodes by
    return (percentile BC's data), as a new Dataset."""
    out = ctypes.c_void_p()
    data.ctx.check(lib.distill_trajectory_top(data._handle, action_dim, fraction, ctypes.byref(out)))
    return Dataset(data.ctx, out, keep=data)


def trajectories_from_hdf5(ctx, path):
    """Offline data in the D4RL or Minari HDF5 layout as a trajectory Dataset
    (needs a library built with `make HDF5=1`; otherwise DistillError
    DISTILL_E_UNSUPPORTED)."""
    out = ctypes.c_void_p()
    ctx.check(lib.distill_trajectories_from_hdf5(ctx.handle, _path(path), ctypes.byref(out)))
    return Dataset(ctx, out)


def route(obs):
    """The route an Avoid episode took from its observations (rows of at
    least (x, y)): 0-3 the four routes, 4-5 the crossings, -1 none."""
    x = np.ascontiguousarray(obs, dtype=np.float32)
    if x.ndim != 2 or x.shape[1] < 2:
        raise ValueError(f"observations must be (steps, >= 2), got {np.shape(obs)}")
    return int(lib.distill_env_route(_p(x), x.shape[0], x.shape[1]))


def route_stats(trajectories, returns, lengths):
    """Avoid's scores of a recorded evaluation: (success rate, route entropy
    over log 4 of the successful episodes)."""
    ret = np.ascontiguousarray(returns, dtype=np.float64)
    lens = np.ascontiguousarray(lengths, dtype=np.int64)
    if ret.shape != lens.shape or ret.ndim != 1:
        raise ValueError("returns and lengths must be 1-D and of one length")
    s, h = ctypes.c_double(), ctypes.c_double()
    trajectories.ctx.check(lib.distill_env_route_stats(trajectories._handle, _p(ret), _p(lens), ret.size,
                                                       ctypes.byref(s), ctypes.byref(h)))
    return s.value, h.value
