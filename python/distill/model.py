"""Networks (distill_model) and optimisers (distill_optimizer)."""
import ctypes
import threading

import numpy as np


from ._lib import lib, LayerSpec, ModelOptions, OptimizerOptions, LOSS_GRAD_FN
from .core import Handle, _path, error
from .kernels import _mat, _p

KINDS = {"dense": 1, "conv2d": 2, "avgpool": 3, "maxpool": 4, "batchnorm": 5, "layernorm": 6,
         "relu": 7, "tanh": 8, "sigmoid": 9, "gelu": 10, "mish": 11, "softplus": 12,
         "flatten": 13, "residual_mlp": 14}
INITS = {"default": 0, "kaiming_normal": 1, "kaiming_uniform": 2, "orthogonal": 3, "zeros": 4,
         "signed_constant": 5, "glorot_uniform": 6}
EVAL, TRAIN = 0, 1
BACKWARD_PARAMS, BACKWARD_ACCUMULATE = 1, 2


def _spec(layer):
    """A LayerSpec from a name ("relu") or a dict(kind="conv2d", units=32, ...)."""
    d = {"kind": layer} if isinstance(layer, str) else dict(layer)
    s = LayerSpec()
    kind = d.pop("kind")
    lib.distill_layer_spec_init(ctypes.byref(s), KINDS[kind] if isinstance(kind, str) else kind)
    if isinstance(d.get("init"), str):
        d["init"] = INITS[d["init"]]
    for k, v in d.items():
        if not hasattr(s, k) or k == "struct_size":
            raise TypeError(f"unknown layer field {k!r}")
        setattr(s, k, v)
    return s


class Model(Handle):
    """A network from a list of layers, e.g.

        Model(ctx, [dict(kind="dense", units=64), "relu", dict(kind="dense", units=2)],
              input_shape=(10,))

    params, grads and buffers are numpy views on the model's own arrays."""

    _destroy = lib.distill_model_destroy

    def __init__(self, ctx, layers=None, input_shape=(1,), _handle=None):
        self.ctx = ctx
        self._ws = threading.local()
        if _handle is not None:
            self._handle = _handle
            return
        specs = (LayerSpec * len(layers))(*[_spec(l) for l in layers])
        o = ModelOptions()
        lib.distill_model_options_init(ctypes.byref(o))
        shape = tuple(input_shape) + (1,) * (3 - len(input_shape))
        o.in_c, o.in_h, o.in_w = shape
        o.layers, o.n_layers = specs, len(layers)
        self._handle = ctypes.c_void_p()
        ctx.check(lib.distill_model_create(ctx.handle, ctypes.byref(o), ctypes.byref(self._handle)))

    @classmethod
    def load(cls, ctx, path):
        """A model saved by save() (path: str or pathlib.Path)."""
        out = ctypes.c_void_p()
        ctx.check(lib.distill_model_load(ctx.handle, _path(path), ctypes.byref(out)))
        return cls(ctx, _handle=out)

    def save(self, path):
        """Save the spec, parameters and buffers; the file is replaced atomically."""
        self.ctx.check(lib.distill_model_save(self._handle, _path(path)))

    def clone(self):
        """An independent copy (same spec, parameters and buffers)."""
        out = ctypes.c_void_p()
        self.ctx.check(lib.distill_model_clone(self._handle, ctypes.byref(out)))
        return Model(self.ctx, _handle=out)

    def copy_params_from(self, other):
        """Copy another model's parameters and buffers into this one (same spec)."""
        self.ctx.check(lib.distill_model_copy_params(self._handle, other._handle))

    def reinit(self, stream):
        """Fresh parameters drawn from the context's random stream `stream`."""
        self.ctx.check(lib.distill_model_reinit(self._handle, stream))

    @property
    def input_dim(self):
        """Values per input sample."""
        return lib.distill_model_input_dim(self._live())

    @property
    def output_dim(self):
        """Values per output sample."""
        return lib.distill_model_output_dim(self._live())

    def _live(self):
        """The C handle, or ValueError once closed (a closed model used to
        say "x has 4 columns, expected 0")."""
        if not self._handle:
            raise ValueError("the model is closed")
        return self._handle

    def _rows(self, x):
        """x as (n, input_dim) float32 rows; n >= 1."""
        x = np.asarray(x)
        if x.ndim == 0 or x.shape[0] == 0:
            raise ValueError(f"x has no rows (shape {x.shape})")
        return _mat(np.reshape(x, (x.shape[0], -1)), "x", cols=self.input_dim)

    def _view(self, fn, count):
        """A writable view on the model's own array that keeps the model
        alive (the array outlives nothing: closing the model explicitly
        still ends it)."""
        n = count(self._handle)
        if n == 0:
            return np.empty(0, np.float32)
        buf = (ctypes.c_float * n).from_address(ctypes.addressof(fn(self._handle).contents))
        buf._owner = self
        return np.frombuffer(buf, dtype=np.float32)

    @property
    def params(self):
        """All parameters: a writable view on the model's own array (it keeps the model alive)."""
        return self._view(lib.distill_model_params, lib.distill_model_param_count)

    @property
    def grads(self):
        """The parameter gradients of the last backward pass: a writable view, as params."""
        return self._view(lib.distill_model_grads, lib.distill_model_param_count)

    @property
    def buffers(self):
        """Batch-norm running statistics: a writable view, as params."""
        return self._view(lib.distill_model_buffers, lib.distill_model_buffer_count)

    def layer_shape(self, i):
        """(c, h, w) of layer i's output (i = -1: the input)."""
        c, h, w = ctypes.c_int64(), ctypes.c_int64(), ctypes.c_int64()
        self.ctx.check(lib.distill_model_layer_shape(self._handle, i, ctypes.byref(c), ctypes.byref(h),
                                                     ctypes.byref(w)))
        return c.value, h.value, w.value

    def layer_params(self, i):
        """Layer i's parameters within params: (offset, count)."""
        off, cnt = ctypes.c_int64(), ctypes.c_int64()
        self.ctx.check(lib.distill_model_layer_params(self._handle, i, ctypes.byref(off),
                                                      ctypes.byref(cnt)))
        return self.params[off.value:off.value + cnt.value]

    def forward(self, x, train=False):
        """Outputs (n, output_dim) for inputs x (n, ...), or (output_dim,) for
        one 1-D sample; train=True keeps what backward needs."""
        one = np.ndim(x) == 1
        x = self._rows(np.reshape(x, (1, -1)) if one else x)
        y = np.empty((x.shape[0], self.output_dim), np.float32)
        self.ctx.check(lib.distill_model_forward(self._handle, int(train), x.shape[0], _p(x),
                                                 x.shape[1], _p(y), y.shape[1]))
        return y[0] if one else y

    def backward(self, dy, input_grad=True, params=True, accumulate=False):
        """Backpropagate dL/dy of the last forward; returns dL/dx (or None)."""
        dy = _mat(dy, "dy", cols=self.output_dim)
        dx = np.empty((dy.shape[0], self.input_dim), np.float32) if input_grad else None
        flags = (BACKWARD_ACCUMULATE if accumulate else BACKWARD_PARAMS) if params else 0
        self.ctx.check(lib.distill_model_backward(self._handle, _p(dy), dy.shape[1], _p(dx),
                                                  self.input_dim if input_grad else 0, flags))
        return dx

    def infer(self, x, checked=False):
        """Eval-mode outputs through the allocation-free path.  checked=True
        refuses NaN or Inf in the input or the output (NumericError);
        otherwise a NaN row gives whatever the layers make of it."""
        one = np.ndim(x) == 1  # one sample in, one out
        x = self._rows(np.reshape(x, (1, -1)) if one else x)
        n = x.shape[0]
        # one workspace per thread: ctypes releases the GIL, so another
        # thread may be inside infer with this model right now
        ws = getattr(self._ws, "buf", None)
        if ws is None or ws[0] < n:
            size = ctypes.c_size_t()
            self.ctx.check(lib.distill_model_workspace_size(self._handle, n, ctypes.byref(size)))
            ws = self._ws.buf = (n, ctypes.create_string_buffer(size.value), size.value)
        y = np.empty((n, self.output_dim), np.float32)
        fn = lib.distill_model_infer_checked if checked else lib.distill_model_infer
        st = fn(self._handle, ws[1], ws[2], n, _p(x), x.shape[1], _p(y), y.shape[1])
        if st != 0:
            # infer has no context, so no message of its own
            raise error(st, "NaN or Inf in the input or output" if checked else "distill_model_infer failed")
        return y[0] if one else y

    def mixed_grad(self, x, loss_grad, v, eps=0.0, train=False):
        """d/dx <dL/dtheta, v>; loss_grad(y) returns dL/dy for outputs y."""
        x = self._rows(x)
        v = np.ascontiguousarray(v, dtype=np.float32).ravel()
        if v.size != len(self.params):
            raise ValueError("v must have one value per parameter")
        k = self.output_dim

        def cb(user, n, y, ldy, dy, lddy):
            try:
                yy = np.ctypeslib.as_array(y, shape=(n, ldy))[:, :k]
                np.ctypeslib.as_array(dy, shape=(n, lddy))[:, :k] = loss_grad(yy.copy())
                return 0
            except Exception:
                return 1

        fn = LOSS_GRAD_FN(cb)
        dx = np.empty_like(x)
        self.ctx.check(lib.distill_model_mixed_grad(self._handle, int(train), x.shape[0], _p(x),
                                                    x.shape[1], fn, None, v.ctypes.data, eps,
                                                    _p(dx), dx.shape[1]))
        return dx


OPTIMIZERS = {"sgd": 0, "adam": 1, "adamw": 2, "rmsprop": 3}
SCHEDULES = {"constant": 0, "linear": 1, "cosine": 2}


def _optimizer_options(kind, schedule, options):
    o = OptimizerOptions()
    lib.distill_optimizer_options_init(ctypes.byref(o))
    o.kind = OPTIMIZERS[kind]
    o.schedule = SCHEDULES[schedule]
    for k, v in options.items():
        if not hasattr(o, k) or k in ("struct_size", "kind", "schedule"):
            raise TypeError(f"unknown optimiser option {k!r}")
        setattr(o, k, v)
    return o


def schedule_lr(step, kind="sgd", schedule="constant", **options):
    """The learning rate a schedule gives at `step` (0-based)."""
    return lib.distill_schedule_lr(ctypes.byref(_optimizer_options(kind, schedule, options)), step)


class Optimizer(Handle):
    """Optimizer(ctx, n_params, kind="adamw", lr=1e-3, schedule="linear",
    total_steps=1000, ...); step(params, grads) updates params in place."""

    _destroy = lib.distill_optimizer_destroy

    def __init__(self, ctx, n_params, kind="sgd", schedule="constant", **options):
        o = _optimizer_options(kind, schedule, options)
        self.ctx = ctx
        self.n = n_params
        self._handle = ctypes.c_void_p()
        ctx.check(lib.distill_optimizer_create(ctx.handle, ctypes.byref(o), n_params,
                                               ctypes.byref(self._handle)))

    def step(self, params, grads):
        """One update of params (a float32 array, in place) from grads."""
        for a, name in ((params, "params"), (grads, "grads")):
            if (not isinstance(a, np.ndarray) or a.dtype != np.float32 or a.size != self.n or
                    not a.flags.c_contiguous):
                raise ValueError(f"{name} must be a contiguous float32 array of {self.n} values")
        if not params.flags.writeable:
            raise ValueError("params must be writeable")
        self.ctx.check(lib.distill_optimizer_step(self._handle, params.ctypes.data,
                                                  grads.ctypes.data))

    @property
    def lr(self):
        """The learning rate the next step will use (after the schedule)."""
        return lib.distill_optimizer_lr(self._handle)

    @property
    def steps(self):
        """Steps taken."""
        return lib.distill_optimizer_steps(self._handle)

    def get_state(self):
        """(moments, steps): a copy of the optimiser's state, for checkpoints."""
        n = lib.distill_optimizer_state_count(self._handle)
        s = np.empty(max(n, 1), np.float32)
        steps = ctypes.c_int64()
        self.ctx.check(lib.distill_optimizer_get_state(self._handle, s.ctypes.data, n,
                                                       ctypes.byref(steps)))
        return s[:n], steps.value

    def set_state(self, state, steps):
        """Restore a state from get_state()."""
        s = np.ascontiguousarray(state, dtype=np.float32)
        self.ctx.check(lib.distill_optimizer_set_state(self._handle, s.ctypes.data, s.size, steps))


def npy_save(ctx, path, array):
    """Write a 1-D or 2-D float32 array as .npy through the library."""
    a = np.ascontiguousarray(array, dtype=np.float32)
    if a.ndim == 1:
        ctx.check(lib.distill_npy_save(ctx.handle, _path(path), 0, a.size, a.ctypes.data, a.size))
    else:
        a = a.reshape(a.shape[0], -1)
        ctx.check(lib.distill_npy_save(ctx.handle, _path(path), a.shape[0], a.shape[1],
                                       a.ctypes.data, a.shape[1]))
