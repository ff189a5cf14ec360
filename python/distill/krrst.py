"""KRR-ST dataset distillation (distill_krrst) and the transfer protocol."""
import ctypes

import numpy as np

from ._lib import (lib, KrrstOptions, TransferOptions, TeacherVtable, EMBED_FN, RELEASE_FN,
                   LayerSpec)
from .core import Handle, _path
from .data import Dataset
from .kernels import _mat, _p
from .model import Model, _spec


class Krrst(Handle):
    """A KRR-ST solver distilling the image dataset `real` (shape set).

    teacher: a Teacher (the solver keeps it alive), a Model, a callable
    f(x) -> (n, k) array (give k), or an (N, k) array of targets for the
    images of `real`.  Other keywords are
    fields of distill_krrst_options (m, n, steps, lr, pool_size, ...);
    `features` is a list of layers as for Model."""

    _destroy = lib.distill_krrst_destroy

    def __init__(self, ctx, real, teacher, features=None, **options):
        self.ctx, self._keep = ctx, [real]
        o = _options(KrrstOptions, lib.distill_krrst_options_init, "KRR-ST", options,
                     ("teacher", "teacher_fn", "teacher_targets", "features", "teacher_handle", "allreduce",
                      "allreduce_user"))
        if features is not None:
            specs = (LayerSpec * len(features))(*[_spec(f) for f in features])
            o.features, o.n_features = specs, len(features)
            self._keep.append(specs)
        self._set_teacher(o, teacher)
        self._handle = ctypes.c_void_p()
        ctx.check(lib.distill_krrst_create(ctx.handle, ctypes.byref(o), real._handle,
                                           ctypes.byref(self._handle)))

    def _set_teacher(self, o, teacher):
        from .teacher import Teacher
        if isinstance(teacher, Teacher):
            o.teacher_handle = teacher._handle
            self._keep.append(teacher)
        elif isinstance(teacher, Model):
            o.teacher = teacher._handle
        elif callable(teacher):
            if o.k < 1:
                raise ValueError("a callable teacher needs k=")
            vt = callable_teacher(teacher, o.k)
            o.teacher_fn = ctypes.pointer(vt)
            self._keep.append(vt)
        else:
            t = _mat(teacher, "teacher targets")
            o.teacher_targets, o.teacher_ld, o.k = _p(t), t.shape[1], t.shape[1]
            self._keep.append(t)

    def step(self):
        """One outer step; returns the loss."""
        loss = ctypes.c_float()
        self.ctx.check(lib.distill_krrst_step(self._handle, ctypes.byref(loss)))
        return loss.value

    def run(self, until=0):
        """Steps until `until` are done (0: the options' steps), with progress and cancellation."""
        self.ctx.check(lib.distill_krrst_run(self._handle, until))

    @property
    def steps_done(self):
        """Outer steps taken (also after a resume)."""
        return lib.distill_krrst_steps_done(self._handle)

    def recent_loss(self):
        """Mean loss since the last call (NaN if none)."""
        return lib.distill_krrst_recent_loss(self._handle)

    @property
    def shape(self):
        """(m, c, h, w, k): synthetic images, their shape, target size."""
        v = [ctypes.c_int64() for _ in range(5)]
        lib.distill_krrst_shape(self._handle, *[ctypes.byref(x) for x in v])
        return tuple(x.value for x in v)  # m, c, h, w, k

    @property
    def images(self):
        """The synthetic images (m, c*h*w), a copy."""
        m, c, h, w, _ = self.shape
        return np.ctypeslib.as_array(lib.distill_krrst_images(self._handle), shape=(m, c * h * w)).copy()

    @property
    def targets(self):
        """The synthetic targets (m, k), a copy."""
        m, _, _, _, k = self.shape
        return np.ctypeslib.as_array(lib.distill_krrst_targets(self._handle), shape=(m, k)).copy()

    @property
    def initial_indices(self):
        """Rows of the real set the synthetic images started from."""
        m = self.shape[0]
        return np.ctypeslib.as_array(lib.distill_krrst_initial_indices(self._handle), shape=(m,)).copy()

    def gradient(self):
        """(loss, dL/dimages, dL/dtargets) for the next step's batch; changes nothing."""
        m, c, h, w, k = self.shape
        dx = np.empty((m, c * h * w), np.float32)
        dy = np.empty((m, k), np.float32)
        loss = ctypes.c_float()
        self.ctx.check(lib.distill_krrst_gradient(self._handle, ctypes.byref(loss), _p(dx),
                                                  dx.shape[1], _p(dy), k))
        return loss.value, dx, dy

    def set_synthetic(self, images=None, targets=None):
        """Replace the synthetic images and/or targets (the optimiser keeps its moments)."""
        m, c, h, w, k = self.shape
        x = None if images is None else _mat(images, "images", m, c * h * w)
        y = None if targets is None else _mat(targets, "targets", m, k)
        self.ctx.check(lib.distill_krrst_set_synthetic(self._handle, _p(x), c * h * w, _p(y), k))

    def heldout_error(self, heldout, n, nets=4, images=None, targets=None):
        """Mean squared error of KRR from (images, targets) (default: the solver's) onto the
        teacher's outputs for heldout's first n images, under `nets` fresh networks."""
        m, c, h, w, k = self.shape
        x = _mat(self.images if images is None else images, "images", m, c * h * w)
        y = _mat(self.targets if targets is None else targets, "targets", m, k)
        err = ctypes.c_double()
        self.ctx.check(lib.distill_krrst_heldout_error(self._handle, _p(x), _p(y), heldout._handle,
                                                       n, nets, ctypes.byref(err)))
        return err.value

    def checkpoint(self, path):
        """Save the whole state (bit-identical resume)."""
        self.ctx.check(lib.distill_krrst_checkpoint(self._handle, _path(path)))

    def resume(self, path):
        """Continue from a checkpoint; a file that does not fit changes nothing."""
        self.ctx.check(lib.distill_krrst_resume(self._handle, _path(path)))

    def save(self, path):
        """Save the distilled set (read back by load_distilled)."""
        self.ctx.check(lib.distill_krrst_save(self._handle, _path(path)))

    def save_npy(self, images_path, targets_path):
        """Save images and targets as .npy arrays."""
        self.ctx.check(lib.distill_krrst_save_npy(self._handle, _path(images_path),
                                                  _path(targets_path)))

    def save_png(self, path):
        """Save the images as a PNG grid."""
        self.ctx.check(lib.distill_krrst_save_png(self._handle, _path(path)))


def callable_teacher(fn, k):
    """A distill_teacher_vtable calling fn(x) -> (n, k) array; keep it alive
    as long as the solver.  An exception becomes DISTILL_E_BACKEND."""
    def embed(user, n, x, ldx, out, ldout):
        try:
            xa = np.ctypeslib.as_array(x, shape=(n, ldx))
            ya = np.asarray(fn(xa), dtype=np.float32).reshape(n, k)
            np.ctypeslib.as_array(out, shape=(n, ldout))[:, :k] = ya
            return 0
        except Exception:  # the library reports DISTILL_E_BACKEND
            return 1
    return TeacherVtable(ctypes.sizeof(TeacherVtable), None, EMBED_FN(embed), RELEASE_FN(0))


def load_distilled(ctx, path):
    """A distilled set saved by Krrst.save, as a Dataset (x images, y targets)."""
    out = ctypes.c_void_p()
    ctx.check(lib.distill_distilled_load(ctx.handle, _path(path), ctypes.byref(out)))
    return Dataset(ctx, out)


def png_save_grid(ctx, path, images, shape, cols=0):
    """Save images (n, c*h*w) of shape (c, h, w), values in [0, 1], as a PNG grid."""
    c, h, w = shape
    x = _mat(images, "images", cols=c * h * w)
    ctx.check(lib.distill_png_save_grid(ctx.handle, _path(path), x.shape[0], c, h, w, _p(x), cols))


def _options(struct, init, what, overrides, reserved=()):
    """An options struct filled by the library's init, then the overrides."""
    o = struct()
    init(ctypes.byref(o))
    for key, v in overrides.items():
        if not hasattr(o, key) or key == "struct_size" or key in reserved:
            raise TypeError(f"unknown {what} option {key!r}")
        setattr(o, key, v)
    return o


def _transfer_options(**overrides):
    return _options(TransferOptions, lib.distill_transfer_options_init, "transfer", overrides)


def pretrain(ctx, encoder, dataset, **options):
    """Train encoder (+ a temporary head) by MSE onto the dataset's targets."""
    o = _transfer_options(**options)
    ctx.check(lib.distill_pretrain(ctx.handle, ctypes.byref(o), encoder._handle, dataset._handle))


def linear_probe(ctx, encoder, train, test, **options):
    """Experimental: test accuracy of a softmax probe on the frozen encoder's features (transfer
    options as keywords)."""
    o, acc = _transfer_options(**options), ctypes.c_double()
    ctx.check(lib.distill_linear_probe(ctx.handle, ctypes.byref(o), encoder._handle, train._handle,
                                       test._handle, ctypes.byref(acc)))
    return acc.value


def linear_probes(ctx, encoder, trains, test, **options):
    """Experimental: linear_probe trained on each dataset of trains (say, several draws of the few
    labels), the test features computed once; a list of accuracies in trains' order."""
    trains = list(trains)
    o = _transfer_options(**options)
    handles = (ctypes.c_void_p * len(trains))(*[t._handle for t in trains])
    acc = (ctypes.c_double * len(trains))()
    ctx.check(lib.distill_linear_probes(ctx.handle, ctypes.byref(o), encoder._handle, handles, len(trains),
                                        test._handle, acc))
    return list(acc)


def finetune(ctx, encoder, train, test, **options):
    """Experimental: test accuracy after fine-tuning a copy of the encoder with a new head."""
    o, acc = _transfer_options(**options), ctypes.c_double()
    ctx.check(lib.distill_finetune(ctx.handle, ctypes.byref(o), encoder._handle, train._handle,
                                   test._handle, ctypes.byref(acc)))
    return acc.value


def train_supervised_teacher(ctx, encoder, labelled, epochs=2):
    """Experimental: train encoder (with a temporary linear head) on the labelled set by cross-
    entropy."""
    ctx.check(lib.distill_train_supervised_teacher(ctx.handle, encoder._handle, labelled._handle,
                                                   epochs))


def barlow_twins_train(ctx, encoder, images, **options):
    """Train encoder by Barlow Twins on the image dataset; returns the last
    epoch's mean loss.  Keywords: fields of distill_ssl_options (`lambda_`
    for lambda)."""
    from ._lib import SslOptions
    o = _options(SslOptions, lib.distill_ssl_options_init, "SSL", options)
    loss = ctypes.c_float()
    ctx.check(lib.distill_barlow_twins_train(ctx.handle, ctypes.byref(o), encoder._handle,
                                             images._handle, ctypes.byref(loss)))
    return loss.value
