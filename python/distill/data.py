"""Datasets (memory, IDX, CSV, Python backends) and augmentations."""
import ctypes

import numpy as np

from ._lib import lib, Backend, COUNT_FN, LOAD_FN, RELEASE_FN
from .core import Handle, _path
from .kernels import _mat, _p

COPY, BORROW = 0, 1


class Dataset(Handle):
    """n samples of x_dim floats (images C x H x W) with y_dim targets.

    Build with Dataset.from_numpy / from_idx / from_csv / from_backend."""

    _destroy = lib.distill_dataset_destroy

    def __init__(self, ctx, handle, keep=None):
        self.ctx = ctx
        self._handle = handle
        self._keep = keep  # arrays or callbacks the C side points into

    @classmethod
    def _make(cls, ctx, status, out, keep=None):
        ctx.check(status)
        return cls(ctx, out, keep)

    @classmethod
    def from_numpy(cls, ctx, x, y=None, copy=True):
        """A dataset of rows x (n, d) and targets y (n,) or (n, k); copied unless copy=False (then
        x and y must outlive it)."""
        x = _mat(x, "x")
        if y is not None:
            y = _mat(y, "y", rows=x.shape[0], cols=1 if np.ndim(y) == 1 else None)
        out = ctypes.c_void_p()
        st = lib.distill_dataset_from_memory(
            ctx.handle, x.shape[0], x.shape[1], _p(x), x.shape[1],
            0 if y is None else y.shape[1], _p(y), 0 if y is None else y.shape[1],
            COPY if copy else BORROW, ctypes.byref(out))
        return cls._make(ctx, st, out, None if copy else (x, y))

    @classmethod
    def from_idx(cls, ctx, images, labels=None):
        """A dataset from IDX files (gzip or plain), e.g. Fashion-MNIST; labels may be None."""
        out = ctypes.c_void_p()
        st = lib.distill_dataset_from_idx(ctx.handle, _path(images),
                                          _path(labels) if labels else None, ctypes.byref(out))
        return cls._make(ctx, st, out)

    @classmethod
    def from_csv(cls, ctx, path, has_header=False, label_column=-1, missing=False):
        """missing: empty fields, "nan" and "NA" load as NaN (a missing label
        or privileged value for distill.kd) instead of failing."""
        out = ctypes.c_void_p()
        st = lib.distill_dataset_from_csv(ctx.handle, _path(path),
                                          int(bool(has_header)) | (2 if missing else 0),
                                          label_column, ctypes.byref(out))
        return cls._make(ctx, st, out)

    @classmethod
    def from_backend(cls, ctx, count, load, x_dim, y_dim=0, name="python"):
        """load(idx: int64 array) -> (x (n, x_dim), y (n, y_dim) or None).

        An exception in load makes the library call fail with DistillError
        (DISTILL_E_BACKEND); the dataset stays usable."""
        def c_count(user, n):
            n[0] = int(count)
            return 0

        def c_load(user, idx, n, x, ldx, y, ldy):
            try:
                ids = np.ctypeslib.as_array(idx, shape=(n,)).copy()
                bx, by = load(ids)
                np.ctypeslib.as_array(x, shape=(n, ldx))[:, :x_dim] = bx
                if y_dim > 0 and y:
                    np.ctypeslib.as_array(y, shape=(n, ldy))[:, :y_dim] = \
                        np.asarray(by, dtype=np.float32).reshape(n, y_dim)
                return 0
            except Exception:  # nothing may unwind through C
                return 1

        cbs = (COUNT_FN(c_count), LOAD_FN(c_load), RELEASE_FN())
        b = Backend(ctypes.sizeof(Backend), 0, None, name.encode(), *cbs)
        out = ctypes.c_void_p()
        st = lib.distill_dataset_from_backend(ctx.handle, ctypes.byref(b), x_dim, y_dim,
                                              ctypes.byref(out))
        return cls._make(ctx, st, out, cbs)

    def __len__(self):
        return lib.distill_dataset_count(self._handle)

    @property
    def x_dim(self):
        """Values per sample."""
        return lib.distill_dataset_x_dim(self._handle)

    @property
    def y_dim(self):
        """Targets per sample (0: none)."""
        return lib.distill_dataset_y_dim(self._handle)

    @property
    def shape(self):
        """The image shape (c, h, w) of a sample, or None."""
        c, h, w = ctypes.c_int64(), ctypes.c_int64(), ctypes.c_int64()
        lib.distill_dataset_shape(self._handle, ctypes.byref(c), ctypes.byref(h), ctypes.byref(w))
        return c.value, h.value, w.value

    @shape.setter
    def shape(self, chw):
        self.ctx.check(lib.distill_dataset_set_shape(self._handle, *chw))

    def _out(self, n):
        x = np.empty((n, self.x_dim), np.float32)
        y = np.empty((n, max(self.y_dim, 1)), np.float32) if self.y_dim else None
        return x, y

    def get(self, idx):
        """Samples idx as (x (n, x_dim), y (n, y_dim) or None), copies."""
        idx = np.ascontiguousarray(idx, dtype=np.int64).ravel()
        x, y = self._out(len(idx))
        self.ctx.check(lib.distill_dataset_get(self._handle, idx.ctypes.data, len(idx), _p(x),
                                               self.x_dim, _p(y), self.y_dim))
        return x, y

    def get_range(self, start, n):
        """Rows [start, start + n) as (x, y)."""
        x, y = self._out(n)
        self.ctx.check(lib.distill_dataset_get_range(self._handle, start, n, _p(x), self.x_dim, _p(y),
                                                     self.y_dim))
        return x, y

    def labels(self, idx=None):
        """The targets (n, y_dim) of rows idx (all rows when None), without
        copying the inputs."""
        idx = np.arange(len(self), dtype=np.int64) if idx is None else \
            np.ascontiguousarray(idx, dtype=np.int64).ravel()
        if not self.y_dim:
            raise ValueError("the dataset has no targets")
        y = np.empty((len(idx), self.y_dim), np.float32)
        self.ctx.check(lib.distill_dataset_get(self._handle, idx.ctypes.data, len(idx), None, 0,
                                               _p(y), self.y_dim))
        return y

    def batches(self, batch_size):
        """Batches of batch_size samples per epoch (the last may be short)."""
        return lib.distill_dataset_batches(self._handle, batch_size)

    def batch(self, epoch, index, batch_size):
        """(x, y, idx) of mini-batch `index` of the shuffled epoch."""
        x, y = self._out(batch_size)
        idx = np.empty(batch_size, np.int64)
        n = ctypes.c_int64()
        self.ctx.check(lib.distill_dataset_batch(self._handle, epoch, index, batch_size, _p(x),
                                                 self.x_dim, _p(y), self.y_dim, idx.ctypes.data,
                                                 ctypes.byref(n)))
        k = n.value
        return x[:k], None if y is None else y[:k], idx[:k]

    def save(self, path):
        """Write the rows, targets and image shape to a file distill.load_distilled reads back."""
        self.ctx.check(lib.distill_dataset_save(self._handle, _path(path)))

    def save_npy(self, x_path=None, y_path=None):
        """The rows and the targets as .npy arrays (either path may be None)."""
        self.ctx.check(lib.distill_dataset_save_npy(self._handle, None if x_path is None else _path(x_path),
                                                    None if y_path is None else _path(y_path)))

    def subset(self, idx):
        """A view of rows idx (the source stays alive as long as the view)."""
        idx = np.ascontiguousarray(idx, dtype=np.int64).ravel()
        out = ctypes.c_void_p()
        self.ctx.check(lib.distill_dataset_subset(self._handle, idx.ctypes.data, len(idx),
                                                  ctypes.byref(out)))
        return Dataset(self.ctx, out, self._keep)

    def subset_classes(self, classes):
        """A view of the rows whose label (y[0]) is in classes."""
        cl = np.ascontiguousarray(classes, dtype=np.int32).ravel()
        out = ctypes.c_void_p()
        self.ctx.check(lib.distill_dataset_subset_classes(self._handle, cl.ctypes.data, len(cl),
                                                          ctypes.byref(out)))
        return Dataset(self.ctx, out, self._keep)


def _images(x):
    a = np.asarray(x)
    if a.dtype != np.float32 or a.ndim != 4 or not a.flags.c_contiguous:
        raise ValueError("images must be a C-contiguous float32 array (n, c, h, w)")
    return a


def augment_crop(ctx, x, pad, stream=0, offset=0):
    """Random crop with zero padding, in place on x (n, c, h, w)."""
    a = _images(x)
    ctx.check(lib.distill_augment_crop(ctx.handle, stream, offset, *a.shape, pad, a.ctypes.data))
    return a


def augment_flip(ctx, x, p=0.5, stream=0, offset=0):
    """Mirror images x (n, c*h*w) of the shape set on them, each with probability p, in place;
    draws from (stream, offset)."""
    a = _images(x)
    ctx.check(lib.distill_augment_flip(ctx.handle, stream, offset, *a.shape, p, a.ctypes.data))
    return a


def augment_noise(ctx, x, std, stream=0, offset=0):
    """Add N(0, std^2) noise to x in place; draws from (stream, offset)."""
    a = np.asarray(x)
    if a.dtype != np.float32 or not a.flags.c_contiguous:
        raise ValueError("x must be a C-contiguous float32 array")
    ctx.check(lib.distill_augment_noise(ctx.handle, stream, offset, a.shape[0],
                                        a.size // max(a.shape[0], 1), std, a.ctypes.data))
    return a


def image_block_mean(ctx, x, shape, block):
    """The block x block means of images x (n, c*h*w) of shape (c, h, w):
    an (n, c*(h/block)*(w/block)) array (e.g. Fashion-MNIST's 7x7 view)."""
    c, h, w = shape
    a = np.ascontiguousarray(x, dtype=np.float32).reshape(-1, c * h * w)
    out = np.empty((a.shape[0], c * (h // block) * (w // block)), np.float32)
    ctx.check(lib.distill_image_block_mean(ctx.handle, a.shape[0], c, h, w, block, a.ctypes.data,
                                           out.ctypes.data))
    return out


def augment_normalize(ctx, x, mean, std):
    """x = (x - mean) / std per channel, in place."""
    a = _images(x)
    m = np.ascontiguousarray(mean, dtype=np.float32)
    s = np.ascontiguousarray(std, dtype=np.float32)
    ctx.check(lib.distill_augment_normalize(ctx.handle, *a.shape, m.ctypes.data, s.ctypes.data,
                                            a.ctypes.data))
    return a
