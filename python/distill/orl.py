"""Dataset distillation for offline RL (orl.h): a few synthetic states with
fixed action labels whose behaviour-cloning gradients match the real data's.

    orl = distill.Orl(ctx, data, n_actions=2, layers=[dict(kind="dense", units=32), "tanh",
                                                      dict(kind="dense", units=2)], m=10)
    orl.run(500)
    distill.bc_train(ctx, student, orl.dataset(), n_actions=2)
"""
import ctypes

import numpy as np

from ._lib import lib, LayerSpec, OrlOptions
from .core import Handle, _path
from .data import Dataset
from .kernels import _mat, _p
from .krrst import _options
from .model import _spec
from .rl import BC_LOSSES

VARIANTS = {"fixed": 0, "reinit": 1, "student": 2}


class Orl(Handle):
    """Orl(ctx, real, n_actions, layers, variant="reinit", loss="mse", obs_low=None,
    obs_high=None, **options): the solver over `real` (a Dataset whose y starts
    with the action: an index for n_actions >= 2, the action vector for
    n_actions=0, continuous).  options: the fields of distill_orl_options (m,
    batch, steps, lr, student_steps, student_lr, learn_actions, angle_pairs).
    The solver keeps `real` alive."""

    _destroy = lib.distill_orl_destroy

    def __init__(self, ctx, real, n_actions, layers, variant="reinit", loss="mse", obs_low=None, obs_high=None,
                 **options):
        if variant not in VARIANTS or loss not in BC_LOSSES:
            raise ValueError(f"variant must be one of {sorted(VARIANTS)} and loss one of {sorted(BC_LOSSES)}")
        self.ctx, self._keep = ctx, [real]
        o = _options(OrlOptions, lib.distill_orl_options_init, "offline-RL", options,
                     ("layers", "n_layers", "obs_low", "obs_high", "variant", "loss", "n_actions"))
        specs = (LayerSpec * len(layers))(*[_spec(l) for l in layers])
        o.layers, o.n_layers, o.n_actions = specs, len(layers), n_actions
        o.variant, o.loss = VARIANTS[variant], BC_LOSSES[loss]
        fp = ctypes.POINTER(ctypes.c_float)
        for name, bound in (("obs_low", obs_low), ("obs_high", obs_high)):
            if bound is not None:
                b = np.ascontiguousarray(bound, dtype=np.float32).ravel()
                if b.size != real.x_dim:
                    raise ValueError(f"{name} needs {real.x_dim} values, got {b.size}")
                setattr(o, name, b.ctypes.data_as(fp))
                self._keep.append(b)
        self._handle = ctypes.c_void_p()
        ctx.check(lib.distill_orl_create(ctx.handle, ctypes.byref(o), real._handle, ctypes.byref(self._handle)))

    def _shape(self):
        m, d, a = ctypes.c_int64(), ctypes.c_int64(), ctypes.c_int64()
        lib.distill_orl_shape(self._handle, ctypes.byref(m), ctypes.byref(d), ctypes.byref(a))
        return m.value, d.value, a.value

    def step(self):
        """One outer step; returns the matching loss before it."""
        loss = ctypes.c_double()
        self.ctx.check(lib.distill_orl_step(self._handle, ctypes.byref(loss)))
        return loss.value

    def run(self, until=0):
        """Steps until `until` are done (0: the options' steps), with progress and cancellation."""
        self.ctx.check(lib.distill_orl_run(self._handle, until))
        return self

    @property
    def steps_done(self):
        """Outer steps taken (also after a resume)."""
        return lib.distill_orl_steps_done(self._handle)

    def gradient(self, actions=False):
        """(loss, d loss / d states) for the next step's network, and with
        actions=True (continuous) d loss / d actions too; changes nothing."""
        m, d, a = self._shape()
        g = np.empty((m, d), np.float32)
        ga = np.empty((m, a), np.float32) if actions else None
        loss = ctypes.c_double()
        self.ctx.check(lib.distill_orl_gradient(self._handle, ctypes.byref(loss), _p(g), d, _p(ga), a))
        return (loss.value, g, ga) if actions else (loss.value, g)

    @property
    def states(self):
        """The synthetic states (m, state size), a copy."""
        m, d, _ = self._shape()
        return np.ctypeslib.as_array(lib.distill_orl_states(self._handle), shape=(m, d)).copy()

    @states.setter
    def states(self, x):
        m, d, _ = self._shape()
        x = _mat(x, "states", rows=m, cols=d)
        self.ctx.check(lib.distill_orl_set_states(self._handle, _p(x), d))

    @property
    def actions(self):
        """The states' actions (m,) for discrete labels, (m, action floats) for continuous; a copy."""
        m, _, a = self._shape()
        out = np.ctypeslib.as_array(lib.distill_orl_actions(self._handle), shape=(m, a)).copy()
        return out[:, 0] if a == 1 and lib.distill_model_output_dim(lib.distill_orl_network(self._handle)) > 1 \
            else out

    @actions.setter
    def actions(self, x):
        m, _, a = self._shape()
        x = _mat(x, "actions", rows=m, cols=a)
        self.ctx.check(lib.distill_orl_set_actions(self._handle, _p(x), a))

    @property
    def network_params(self):
        """The parameters of the next step's network (a copy)."""
        net = lib.distill_orl_network(self._handle)
        n = lib.distill_model_param_count(net)
        return np.ctypeslib.as_array(lib.distill_model_params(net), shape=(n,)).copy()

    def dataset(self):
        """The distilled set as a new Dataset (x: states, y: the action)."""
        out = ctypes.c_void_p()
        self.ctx.check(lib.distill_orl_dataset(self._handle, ctypes.byref(out)))
        return Dataset(self.ctx, out)

    def checkpoint(self, path):
        """Write a checkpoint that resumes bit-identically."""
        self.ctx.check(lib.distill_orl_checkpoint(self._handle, _path(path)))

    def resume(self, path):
        """Continue from a checkpoint (a refused file changes nothing)."""
        self.ctx.check(lib.distill_orl_resume(self._handle, _path(path)))

    def save(self, path):
        """The distilled set as a file distill.load_distilled reads back."""
        self.ctx.check(lib.distill_orl_save(self._handle, _path(path)))

    def save_npy(self, states_path=None, actions_path=None):
        """The states and actions as .npy arrays (either path may be None)."""
        self.ctx.check(lib.distill_orl_save_npy(self._handle, None if states_path is None else _path(states_path),
                                                None if actions_path is None else _path(actions_path)))
