"""Teachers (distill_teacher): one handle for the teacher a solver learns
from, made from a Model, a Python callable or precomputed outputs."""
import ctypes

import numpy as np

from ._lib import lib
from .core import Handle
from .kernels import _mat, _p
from .model import Model


class Teacher(Handle):
    """Teacher(ctx, source, k=None, input_dim=0).

    source: a Model (cloned), a callable f(x) -> (n, k) array (give k; the
    input size may be given as input_dim, 0 = any) or an (rows, k) array of
    precomputed outputs (copied; a row holding NaN has no output).

    The C handle counts references: every solver given this Teacher takes
    its own, and the Python solver object also keeps this object (and so
    the callable) alive, so closing it early is safe."""

    _destroy = lib.distill_teacher_destroy

    def __init__(self, ctx, source, k=None, input_dim=0):
        self.ctx, self._keep = ctx, []
        self._handle = ctypes.c_void_p()
        out = ctypes.byref(self._handle)
        if isinstance(source, Model):
            ctx.check(lib.distill_teacher_from_model(ctx.handle, source._handle, out))
        elif callable(source):
            if not k or k < 1:
                raise ValueError("a callable teacher needs k >= 1")
            from .krrst import callable_teacher
            vt = callable_teacher(source, k)
            self._keep.append(vt)  # the callbacks live as long as this object
            ctx.check(lib.distill_teacher_from_vtable(ctx.handle, ctypes.byref(vt), input_dim, k, out))
        else:
            t = np.ascontiguousarray(source, dtype=np.float32)
            if t.ndim != 2:
                raise ValueError("teacher outputs must be a 2-D array (rows, k)")
            ctx.check(lib.distill_teacher_from_outputs(ctx.handle, t.shape[0], t.shape[1], _p(t),
                                                       t.shape[1], out))

    @property
    def output_dim(self):
        """Outputs per sample (k)."""
        return lib.distill_teacher_output_dim(self._handle)

    @property
    def input_dim(self):
        """The input size (0: any, or precomputed outputs)."""
        return lib.distill_teacher_input_dim(self._handle)

    @property
    def rows(self):
        """Precomputed outputs: their row count; 0 otherwise."""
        return lib.distill_teacher_rows(self._handle)

    def __call__(self, x):
        """The teacher's outputs (n, k) for inputs x (n, input_dim)."""
        x = _mat(x, "x")
        y = np.empty((x.shape[0], self.output_dim), dtype=np.float32)
        self.ctx.check(lib.distill_teacher_embed(self._handle, x.shape[0], _p(x), x.shape[1], _p(y),
                                                 y.shape[1]))
        return y
