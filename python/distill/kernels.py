"""The kernels layer: GEMM, Cholesky, KRR, KRR-ST loss and gradients, losses."""
import ctypes

import numpy as np

from ._lib import lib, KrrOptions

KERNEL_LINEAR, KERNEL_RBF = 0, 1
RIDGE_ABSOLUTE, RIDGE_RELATIVE = 0, 1
KRR_AUTO, KRR_DUAL, KRR_PRIMAL = 0, 1, 2


def _mat(x, name, rows=None, cols=None):
    """A C-ordered float32 2-D view (a copy only when needed)."""
    a = np.ascontiguousarray(x, dtype=np.float32)
    if a.ndim == 1:
        a = a.reshape(-1, 1) if cols == 1 else a.reshape(1, -1)
    if a.ndim != 2:
        raise ValueError(f"{name} must be 2-D, got shape {np.shape(x)}")
    if rows is not None and a.shape[0] != rows:
        raise ValueError(f"{name} has {a.shape[0]} rows, expected {rows}")
    if cols is not None and a.shape[1] != cols:
        raise ValueError(f"{name} has {a.shape[1]} columns, expected {cols}")
    return a


def _p(a):
    return None if a is None else a.ctypes.data


def _ld(a):
    return 0 if a is None else a.shape[1]


def _out(rows, cols):
    return np.empty((rows, cols), dtype=np.float32)


def random_uniform(ctx, n, lo=0.0, hi=1.0, stream=0, offset=0):
    """n floats U[lo, hi): elements offset.. of the counter-based stream `stream`."""
    out = np.empty(n, dtype=np.float32)
    ctx.check(lib.distill_random_uniform(ctx.handle, stream, offset, n, lo, hi, _p(out)))
    return out


def random_normal(ctx, n, mean=0.0, std=1.0, stream=0, offset=0):
    """n floats N(mean, std^2): elements offset.. of stream `stream`."""
    out = np.empty(n, dtype=np.float32)
    ctx.check(lib.distill_random_normal(ctx.handle, stream, offset, n, mean, std, _p(out)))
    return out


def sgemm(ctx, a, b, trans_a=False, trans_b=False, alpha=1.0, beta=0.0, c=None):
    """alpha op(a) op(b) + beta c, as a new array (c is not modified)."""
    a, b = _mat(a, "a"), _mat(b, "b")
    m = a.shape[1] if trans_a else a.shape[0]
    k = a.shape[0] if trans_a else a.shape[1]
    n = b.shape[0] if trans_b else b.shape[1]
    if (b.shape[1] if trans_b else b.shape[0]) != k:
        raise ValueError(f"inner dimensions differ: op(a) is {m}x{k}, op(b) has shape "
                         f"{b.shape[::-1] if trans_b else b.shape}")
    out = _out(m, n) if c is None else _mat(c, "c", m, n).copy()
    ctx.check(lib.distill_sgemm(ctx.handle, int(trans_a), int(trans_b), m, n, k, alpha,
                                _p(a), _ld(a), _p(b), _ld(b), beta if c is not None else 0.0,
                                _p(out), _ld(out)))
    return out


def cholesky(ctx, a):
    """Lower-triangular L with a = L L^T (the strict upper triangle is zeroed)."""
    a = _mat(a, "a").copy()
    n = a.shape[0]
    if a.shape[1] != n:
        raise ValueError("a must be square")
    ctx.check(lib.distill_cholesky(ctx.handle, n, _p(a), n, None, 0))
    return np.tril(a)


def trsm_lower(ctx, l, b, trans=False):
    """X with L X = B (L^T X = B when trans), L lower triangular."""
    l, b = _mat(l, "l"), _mat(b, "b", rows=l.shape[0]).copy()
    ctx.check(lib.distill_trsm_lower(ctx.handle, int(trans), l.shape[0], b.shape[1], _p(l),
                                     _ld(l), _p(b), _ld(b)))
    return b


def cholesky_solve(ctx, l, b):
    """x with (L L^T) x = b."""
    l, b = _mat(l, "l"), _mat(b, "b", rows=l.shape[0]).copy()
    ctx.check(lib.distill_cholesky_solve(ctx.handle, l.shape[0], b.shape[1], _p(l), _ld(l),
                                         _p(b), _ld(b)))
    return b


def krr_options(**kw):
    """distill_krr_options with defaults (linear kernel, bias, ridge 1e-6 * trace)."""
    return KrrOptions.default(**kw)


def _opts(opts):
    return ctypes.byref(opts if opts is not None else KrrOptions.default())


def krr_gram(ctx, a, b, opts=None):
    """The kernel matrix K (na, nb) between rows of a and b."""
    a = _mat(a, "a")
    b = _mat(b, "b", cols=a.shape[1])
    k = _out(a.shape[0], b.shape[0])
    ctx.check(lib.distill_krr_gram(ctx.handle, _opts(opts), a.shape[0], b.shape[0], a.shape[1],
                                   _p(a), _ld(a), _p(b), _ld(b), _p(k), _ld(k), None, 0))
    return k


def krr_fit(ctx, fs, ys, opts=None):
    """Coefficients: primal weights (d+bias, k) for the linear kernel, alpha (m, k) for RBF."""
    fs = _mat(fs, "fs")
    ys = _mat(ys, "ys", rows=fs.shape[0], cols=1 if np.ndim(ys) == 1 else None)
    m, d = fs.shape
    rows = lib.distill_krr_coef_rows(_opts(opts), m, d)
    if rows < 1:
        raise ValueError("invalid KRR options")
    coef = _out(rows, ys.shape[1])
    ctx.check(lib.distill_krr_fit(ctx.handle, _opts(opts), m, d, ys.shape[1], _p(fs), _ld(fs),
                                  _p(ys), _ld(ys), _p(coef), _ld(coef), None, 0))
    return coef


def krr_predict(ctx, coef, fq, fs=None, opts=None):
    """Predictions for query rows fq from krr_fit's coefficients (fs: the support rows, for the
    dual form)."""
    fq = _mat(fq, "fq")
    coef = _mat(coef, "coef")
    fs = None if fs is None else _mat(fs, "fs", cols=fq.shape[1])
    m = fs.shape[0] if fs is not None else coef.shape[0]
    p = _out(fq.shape[0], coef.shape[1])
    ctx.check(lib.distill_krr_predict(ctx.handle, _opts(opts), m, fq.shape[0], fq.shape[1],
                                      coef.shape[1], _p(fs), _ld(fs), _p(coef), _ld(coef),
                                      _p(fq), _ld(fq), _p(p), _ld(p), None, 0))
    return p


def krrst_loss_grad(ctx, fs, ys, fr, yr, opts=None, grad_fs=True, grad_ys=True,
                    grad_fr=False):
    """(loss, dL/dFs, dL/dYs, dL/dFr) of the KRR-ST loss; gradients not asked for are None."""
    fs = _mat(fs, "fs")
    m, d = fs.shape
    ys = _mat(ys, "ys", rows=m)
    k = ys.shape[1]
    fr = _mat(fr, "fr", cols=d)
    n = fr.shape[0]
    yr = _mat(yr, "yr", rows=n, cols=k)
    dfs = _out(m, d) if grad_fs else None
    dys = _out(m, k) if grad_ys else None
    dfr = _out(n, d) if grad_fr else None
    loss = ctypes.c_float()
    ctx.check(lib.distill_krrst_loss_grad(ctx.handle, _opts(opts), m, n, d, k, _p(fs), _ld(fs),
                                          _p(ys), _ld(ys), _p(fr), _ld(fr), _p(yr), _ld(yr),
                                          ctypes.byref(loss), _p(dfs), _ld(dfs), _p(dys),
                                          _ld(dys), _p(dfr), _ld(dfr), None, 0))
    return loss.value, dfs, dys, dfr


def mse_loss_grad(ctx, p, y):
    """(mean squared error, dL/dp)."""
    p = _mat(p, "p")
    y = _mat(y, "y", *p.shape)
    g = _out(*p.shape)
    loss = ctypes.c_float()
    ctx.check(lib.distill_mse_loss_grad(ctx.handle, p.shape[0], p.shape[1], _p(p), _ld(p), _p(y),
                                        _ld(y), ctypes.byref(loss), _p(g), _ld(g)))
    return loss.value, g


def softmax(ctx, z, temperature=1.0):
    """Row-wise softmax(z / temperature)."""
    z = _mat(z, "z")
    out = _out(*z.shape)
    ctx.check(lib.distill_softmax(ctx.handle, z.shape[0], z.shape[1], _p(z), _ld(z),
                                  temperature, _p(out), _ld(out)))
    return out


def _labels(labels, n):
    """Class indices as int32: whole, real and in range, or ValueError (a
    plain cast turned 2**32 + 1 into class 1, 1.7 into 1 and dropped the
    imaginary part of complex input)."""
    if labels is None:
        return None
    a = np.asarray(labels)
    if a.shape != (n,):
        raise ValueError(f"labels must have shape ({n},), got {a.shape}")
    if a.dtype.kind not in "biuf":
        raise ValueError(f"labels must be real numbers, not {a.dtype}")
    if a.dtype.kind == "f" and not np.all(np.isfinite(a) & (a == np.round(a))):
        raise ValueError("labels must be whole numbers (a negative one marks a row without a label)")
    if a.size and (a.min() < np.iinfo(np.int32).min or a.max() > np.iinfo(np.int32).max):
        raise ValueError("labels must fit in 32 bits")
    return np.ascontiguousarray(a, dtype=np.int32)


def xent_hard(ctx, z, labels, temperature=1.0):
    """(loss, dL/dz); a negative label marks a row without one."""
    z = _mat(z, "z")
    lab = _labels(labels, z.shape[0])
    dz = _out(*z.shape)
    loss = ctypes.c_float()
    ctx.check(lib.distill_xent_hard(ctx.handle, z.shape[0], z.shape[1], _p(z), _ld(z), _p(lab),
                                    temperature, ctypes.byref(loss), _p(dz), _ld(dz)))
    return loss.value, dz


def _soft(fn, ctx, z, t, temperature):
    z = _mat(z, "z")
    t = _mat(t, "targets", *z.shape)
    dz = _out(*z.shape)
    loss = ctypes.c_float()
    ctx.check(fn(ctx.handle, z.shape[0], z.shape[1], _p(z), _ld(z), _p(t), _ld(t), temperature,
                 ctypes.byref(loss), _p(dz), _ld(dz)))
    return loss.value, dz


def xent_soft(ctx, z, targets, temperature=1.0):
    """(cross-entropy to soft targets, dL/dz)."""
    return _soft(lib.distill_xent_soft, ctx, z, targets, temperature)


def kl_div(ctx, z, targets, temperature=1.0):
    """(KL(targets || softmax(z / T)), dL/dz)."""
    return _soft(lib.distill_kl_div, ctx, z, targets, temperature)


def _mask(soft_mask, n):
    mask = None if soft_mask is None else np.ascontiguousarray(soft_mask, dtype=np.uint8)
    if mask is not None and mask.shape != (n,):
        raise ValueError(f"soft_mask must have shape ({n},)")
    return mask


def kd_loss_grad(ctx, z, labels=None, soft=None, soft_mask=None, lambda_=0.5, student_t=1.0,
                 soft_scale=1.0, lam=None):
    """The fused distillation loss (see docs/kernels.md) and dL/dz."""
    lam = lambda_ if lam is None else lam  # lam: the name 0.1 used
    z = _mat(z, "z")
    n, c = z.shape
    lab = _labels(labels, n)
    s = None if soft is None else _mat(soft, "soft", n, c)
    mask = _mask(soft_mask, n)
    dz = _out(n, c)
    loss = ctypes.c_float()
    ctx.check(lib.distill_kd_loss_grad(ctx.handle, n, c, _p(z), _ld(z), _p(lab), _p(s), _ld(s),
                                       _p(mask), lam, student_t, soft_scale, ctypes.byref(loss),
                                       _p(dz), _ld(dz)))
    return loss.value, dz


def kd_mse_loss_grad(ctx, p, y=None, t=None, soft_mask=None, lambda_=0.5, lam=None):
    """Regression distillation / logit matching (docs/kernels.md): loss and
    dL/dp; NaN in y marks a missing target."""
    lam = lambda_ if lam is None else lam  # lam: the name 0.1 used
    p = _mat(p, "p")
    n, k = p.shape
    y = None if y is None else _mat(y, "y", n, k)
    t = None if t is None else _mat(t, "t", n, k)
    mask = _mask(soft_mask, n)
    g = _out(n, k)
    loss = ctypes.c_float()
    ctx.check(lib.distill_kd_mse_loss_grad(ctx.handle, n, k, _p(p), _ld(p), _p(y), _ld(y), _p(t),
                                           _ld(t), _p(mask), lam, ctypes.byref(loss), _p(g),
                                           _ld(g)))
    return loss.value, g


def barlow_twins_loss_grad(ctx, za, zb, lambda_=5e-3, lam=None):
    """(loss, dL/dZa, dL/dZb) of the Barlow Twins loss of two views."""
    lam = lambda_ if lam is None else lam  # lam: the name 0.1 used
    za = _mat(za, "za")
    zb = _mat(zb, "zb", za.shape[0], za.shape[1])
    n, d = za.shape
    dza, dzb = _out(n, d), _out(n, d)
    loss = ctypes.c_float()
    ctx.check(lib.distill_barlow_twins_loss_grad(ctx.handle, n, d, _p(za), d, _p(zb), d, lam,
                                                 ctypes.byref(loss), _p(dza), d, _p(dzb), d,
                                                 None, 0))
    return loss.value, dza, dzb
