"""Python binding tests: the KRR-ST loss and gradients against a numpy
reference, the other kernels against numpy, and errors as exceptions.

Runs on the standard unittest runner, each test with a context of its own,
then prints 'python: N passed, N failed' (Debian's /usr/bin/python3 and numpy)."""
import os
import sys
import unittest

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))
import distill  # noqa: E402

RNG = np.random.default_rng(1234)


def krrst_reference(fs, ys, fr, yr, ridge=1e-6):
    """The KRR-ST loss and its gradients in float64, straight from krrst.md 1.8."""
    fs1 = np.hstack([fs, np.ones((fs.shape[0], 1))])
    fr1 = np.hstack([fr, np.ones((fr.shape[0], 1))])
    kss, krs = fs1 @ fs1.T, fr1 @ fs1.T
    s = kss + ridge * np.trace(kss) * np.eye(len(kss))
    a = np.linalg.solve(s, ys)
    p = krs @ a
    n, k = yr.shape
    g = 2 * (p - yr) / (n * k)
    b = np.linalg.solve(s, krs.T @ g)
    dfs = (a @ (g.T @ fr1) - b @ (a.T @ fs1) - a @ (b.T @ fs1))[:, :-1]
    dfr = (g @ a.T @ fs1)[:, :-1]
    return np.mean((p - yr) ** 2), dfs, b, dfr


def rel(a, b):
    return np.max(np.abs(a - b)) / (np.max(np.abs(b)) + 1e-30)


def test_krrst_matches_numpy(ctx):
    for m, n, d, k in [(10, 40, 64, 8), (1, 1, 1, 1), (30, 20, 12, 5), (100, 256, 1153, 128)]:
        fs, fr = RNG.standard_normal((m, d)), RNG.standard_normal((n, d))
        ys, yr = RNG.standard_normal((m, k)), RNG.standard_normal((n, k))
        f32 = [x.astype(np.float32) for x in (fs, ys, fr, yr)]
        loss, dfs, dys, dfr = distill.krrst_loss_grad(ctx, *f32, grad_fr=True)
        ref = krrst_reference(*[x.astype(np.float64) for x in f32])
        assert abs(loss - ref[0]) <= 1e-3 * (1 + ref[0]), (m, n, d, k, loss, ref[0])
        for got, want, name in zip((dfs, dys, dfr), ref[1:], ("dFs", "dYs", "dFr")):
            assert rel(got, want) < 1e-2, (name, m, n, d, k, rel(got, want))


def test_krrst_finite_difference_through_binding(ctx):
    m, n, d, k = 5, 9, 7, 3
    fs, ys = RNG.standard_normal((m, d)), RNG.standard_normal((m, k))
    fr, yr = RNG.standard_normal((n, d)), RNG.standard_normal((n, k))
    _, dfs, dys, _ = distill.krrst_loss_grad(ctx, fs, ys, fr, yr)
    fs64 = fs.astype(np.float32).astype(np.float64)
    lam = 1e-6 * (np.sum(fs64 ** 2) + m)

    def loss(f, y):
        f1 = np.hstack([f, np.ones((m, 1))])
        r1 = np.hstack([fr.astype(np.float32).astype(np.float64), np.ones((n, 1))])
        a = np.linalg.solve(f1 @ f1.T + lam * np.eye(m), y)
        return np.mean((r1 @ f1.T @ a - yr.astype(np.float32)) ** 2)

    y64 = ys.astype(np.float32).astype(np.float64)
    h = 1e-6
    fd = np.zeros_like(fs64)
    for idx in np.ndindex(*fs64.shape):
        e = np.zeros_like(fs64)
        e[idx] = h
        fd[idx] = (loss(fs64 + e, y64) - loss(fs64 - e, y64)) / (2 * h)
    assert rel(dfs, fd) < 2e-3, rel(dfs, fd)
    fdy = np.zeros_like(y64)
    for idx in np.ndindex(*y64.shape):
        e = np.zeros_like(y64)
        e[idx] = h
        fdy[idx] = (loss(fs64, y64 + e) - loss(fs64, y64 - e)) / (2 * h)
    assert rel(dys, fdy) < 2e-3, rel(dys, fdy)


def test_krr_fit_predict_dual_primal(ctx):
    fs, ys, fq = RNG.standard_normal((50, 8)), RNG.standard_normal((50, 2)), RNG.standard_normal((7, 8))
    preds = []
    for form in (distill.KRR_DUAL, distill.KRR_PRIMAL):
        o = distill.krr_options(form=form, ridge=1e-3)
        w = distill.krr_fit(ctx, fs, ys, o)
        preds.append(distill.krr_predict(ctx, w, fq, opts=o))
    f1 = np.hstack([fs, np.ones((50, 1))])
    lam = 1e-3 * np.sum(f1 ** 2)
    w = np.linalg.solve(f1.T @ f1 + lam * np.eye(9), f1.T @ ys)
    ref = np.hstack([fq, np.ones((7, 1))]) @ w
    for p in preds:
        assert rel(p, ref) < 1e-3, rel(p, ref)


def test_gemm_cholesky_gram(ctx):
    a, b = RNG.standard_normal((13, 7)), RNG.standard_normal((9, 7))
    assert rel(distill.sgemm(ctx, a, b, trans_b=True), a @ b.T) < 1e-5
    assert rel(distill.krr_gram(ctx, a, b, distill.krr_options(bias=0)), a @ b.T) < 1e-5
    spd = a.T @ a + np.eye(7)
    l = distill.cholesky(ctx, spd)
    assert rel(l @ l.T, spd) < 1e-5
    x = distill.cholesky_solve(ctx, l, np.ones((7, 1)))
    assert rel(spd @ x, np.ones((7, 1))) < 1e-4


def test_losses(ctx):
    z = RNG.standard_normal((6, 4)).astype(np.float32) * 3
    y = np.array([0, 1, 2, 3, -1, 0])
    t = 2.0
    q = np.exp(z / t) / np.exp(z / t).sum(1, keepdims=True)
    assert rel(distill.softmax(ctx, z, t), q) < 1e-5
    loss, dz = distill.xent_hard(ctx, z, y, t)
    rows = y >= 0
    ref = -np.log(q[rows, y[rows]]).sum() / 6
    assert abs(loss - ref) < 1e-5
    onehot = np.zeros_like(q)
    onehot[rows, y[rows]] = 1
    assert rel(dz, (q - onehot) * rows[:, None] / (t * 6)) < 1e-5
    s = q[::-1].copy()
    loss, dz = distill.kd_loss_grad(ctx, z, soft=s, lam=1.0, student_t=t, soft_scale=t * t)
    assert rel(dz, t * (q - s) / 6) < 1e-5  # Hinton: (1/T)(q - s) T^2
    loss, g = distill.mse_loss_grad(ctx, z, s)
    assert abs(loss - np.mean((z - s) ** 2)) < 1e-5


def test_errors_are_exceptions(ctx):
    bad = RNG.standard_normal((4, 3)).astype(np.float32)
    bad[2, 1] = np.nan
    try:
        distill.krrst_loss_grad(ctx, bad, np.ones((4, 2)), np.ones((5, 3)), np.ones((5, 2)))
    except distill.NumericError as e:
        assert e.name == "DISTILL_E_NUMERIC" and "Fs[2, 1] is NaN" in str(e), str(e)
    else:
        raise AssertionError("NaN not reported")
    try:
        distill.cholesky(ctx, -np.eye(3))
    except distill.DistillError as e:
        assert "pivot 0" in str(e), str(e)
    else:
        raise AssertionError("indefinite matrix not reported")
    try:
        ctx.threads = -1
    except distill.DistillError as e:
        assert e.status == -1
    else:
        raise AssertionError("negative threads accepted")
    try:
        distill.sgemm(ctx, np.zeros((2, 3)), np.zeros((2, 3)))
    except ValueError:
        pass
    else:
        raise AssertionError("inner dimension mismatch accepted")


def test_determinism_and_rng(ctx):
    a = distill.random_normal(ctx, 1000, stream=5)
    b = distill.random_normal(ctx, 1000, stream=5)
    assert np.array_equal(a, b) and abs(a.mean()) < 0.1 and abs(a.std() - 1) < 0.1
    fs, ys = RNG.standard_normal((40, 30)), RNG.standard_normal((40, 4))
    fr, yr = RNG.standard_normal((60, 30)), RNG.standard_normal((60, 4))
    r1 = distill.krrst_loss_grad(ctx, fs, ys, fr, yr)
    r2 = distill.krrst_loss_grad(ctx, fs, ys, fr, yr)
    assert r1[0] == r2[0] and np.array_equal(r1[1], r2[1]) and np.array_equal(r1[2], r2[2])


def test_log_callback_and_arch(ctx):
    lines = []
    with distill.Context(threads=1, log=lambda lvl, msg: lines.append(msg),
                         log_level=distill.LOG_INFO) as c2:
        arch = c2.blis_arch
    assert arch and any(arch in ln for ln in lines), lines
    assert "BLIS_ARCH_TYPE" not in os.environ  # the selection leaves the environment alone
    for bad in (-1, 100000):  # 100000 threads crashed inside BLIS's OpenMP
        try:
            distill.Context(threads=bad)
            raise AssertionError(f"threads={bad} accepted")
        except ValueError as e:
            assert "threads" in str(e)
    try:
        distill.Context(blis_as_is=True).close()  # accepted (BLIS is already settled here)
    except distill.DistillError as e:
        raise AssertionError(e)


def test_dataset_numpy_batches_and_idx(ctx):
    x = np.arange(40, dtype=np.float32).reshape(10, 4)
    y = np.arange(10, dtype=np.float32) % 3
    ds = distill.Dataset.from_numpy(ctx, x, y)
    assert len(ds) == 10 and ds.x_dim == 4 and ds.y_dim == 1
    seen = []
    for b in range(ds.batches(4)):
        bx, by, idx = ds.batch(0, b, 4)
        assert np.array_equal(bx, x[idx]) and np.array_equal(by[:, 0], y[idx])
        seen += list(idx)
    assert sorted(seen) == list(range(10))
    sub = ds.subset_classes([2])
    assert len(sub) == 3
    fm = "/usr/share/datasets/fashion-mnist/"
    test = distill.Dataset.from_idx(ctx, fm + "t10k-images-idx3-ubyte.gz", fm + "t10k-labels-idx1-ubyte.gz")
    assert len(test) == 10000 and test.shape == (1, 28, 28)


def test_python_backend(ctx):
    calls = {"n": 0, "fail": False}

    def load(idx):
        calls["n"] += 1
        if calls["fail"]:
            raise RuntimeError("disk on fire")
        return np.stack([idx * 1.0, idx * 2.0], 1), idx % 2

    ds = distill.Dataset.from_backend(ctx, 20, load, x_dim=2, y_dim=1, name="py-loader")
    bx, by = ds.get([3, 7])
    assert np.array_equal(bx, [[3, 6], [7, 14]]) and np.array_equal(by[:, 0], [1, 1])
    calls["fail"] = True
    try:
        ds.get([1])
    except distill.DistillError as e:
        assert e.name == "DISTILL_E_BACKEND" and "py-loader" in str(e), str(e)
    else:
        raise AssertionError("a failing backend was not reported")
    calls["fail"] = False
    assert ds.get([5])[0][0, 1] == 10  # still usable


def test_model_gradients_against_numpy(ctx):
    m = distill.Model(ctx, [dict(kind="dense", units=5), "tanh", dict(kind="dense", units=2)],
                      input_shape=(3,))
    x = RNG.standard_normal((4, 3)).astype(np.float32)
    dy = RNG.standard_normal((4, 2)).astype(np.float32)
    p = m.params.astype(np.float64)
    w1, b1 = p[:15].reshape(5, 3), p[15:20]
    w2, b2 = p[20:30].reshape(2, 5), p[30:32]
    h = np.tanh(x @ w1.T + b1)
    y = h @ w2.T + b2
    assert rel(m.forward(x, train=True), y) < 1e-5
    dx = m.backward(dy)
    dh = dy @ w2 * (1 - h ** 2)
    assert rel(dx, dh @ w1) < 1e-4
    g = m.grads
    assert rel(g[:15].reshape(5, 3), dh.T @ x) < 1e-4
    assert rel(g[20:30].reshape(2, 5), dy.T @ h) < 1e-4
    assert rel(m.infer(x), y) < 1e-5


def test_training_save_load_npy(ctx):
    import tempfile
    m = distill.Model(ctx, [dict(kind="dense", units=16), "relu", dict(kind="dense", units=1)],
                      input_shape=(2,))
    opt = distill.Optimizer(ctx, len(m.params), kind="adam", lr=1e-2)
    x = RNG.uniform(-1, 1, (64, 2)).astype(np.float32)
    t = (x[:, :1] * x[:, 1:]).astype(np.float32)
    losses = []
    for _ in range(300):
        y = m.forward(x, train=True)
        loss, g = distill.mse_loss_grad(ctx, y, t)
        m.backward(g, input_grad=False)
        opt.step(m.params, m.grads)
        losses.append(loss)
    assert losses[-1] < 0.2 * losses[0], (losses[0], losses[-1])
    with tempfile.TemporaryDirectory() as d:
        m.save(d + "/m.dst")
        back = distill.Model.load(ctx, d + "/m.dst")
        assert np.array_equal(back.forward(x), m.forward(x))
        distill.npy_save(ctx, d + "/x.npy", x)
        assert np.array_equal(np.load(d + "/x.npy"), x)
        with open(d + "/bad.dst", "wb") as f:
            f.write(b"DSTLFILE garbage")
        try:
            distill.Model.load(ctx, d + "/bad.dst")
        except distill.DistillError as e:
            assert e.name == "DISTILL_E_FORMAT"
        else:
            raise AssertionError("garbage loaded")


def _krrst_setup(ctx, **kw):
    rng = np.random.default_rng(3)
    real = distill.Dataset.from_numpy(ctx, rng.random((40, 64), dtype=np.float32))
    real.shape = (1, 8, 8)
    teacher = distill.Model(ctx, [dict(kind="dense", units=4)], input_shape=(64,))
    feats = [dict(kind="conv2d", units=3, kernel=3, padding=1), "tanh",
             dict(kind="avgpool", kernel=2), "flatten"]
    opts = dict(m=5, n=12, pool_size=2, pool_period=4, ridge=1e-3)
    opts.update(kw)
    return real, teacher, feats, opts


def test_krrst_solver(ctx):
    import tempfile
    real, teacher, feats, opts = _krrst_setup(ctx)
    s = distill.Krrst(ctx, real, teacher, features=feats, **opts)
    assert s.shape == (5, 1, 8, 8, 4)
    loss, dx, dy = s.gradient()
    x0, y0 = s.images, s.targets
    v = np.random.default_rng(1).standard_normal(x0.shape).astype(np.float32)
    eps = 1e-2
    s.set_synthetic(images=x0 + eps * v)
    lp = s.gradient()[0]
    s.set_synthetic(images=x0 - eps * v)
    lm = s.gradient()[0]
    fd, an = (lp - lm) / (2 * eps), float(np.sum(dx * v))
    assert abs(fd - an) <= 5e-2 * abs(an), (fd, an)  # float32 loss: the double checks are in C
    s.set_synthetic(images=x0)
    # a step reports the loss that gradient() saw just before it
    for i in range(3):
        seen = s.gradient()[0]
        assert s.step() == seen and s.steps_done == i + 1
    with tempfile.TemporaryDirectory() as d:
        s.save(d + "/set.dstl")
        back = distill.load_distilled(ctx, d + "/set.dstl")
        assert len(back) == 5 and back.y_dim == 4 and back.shape == (1, 8, 8)
        s.save_npy(d + "/x.npy", d + "/y.npy")
        assert np.array_equal(np.load(d + "/x.npy"), s.images)
        s.save_png(d + "/grid.png")
        assert open(d + "/grid.png", "rb").read(8) == b"\x89PNG\r\n\x1a\n"
    # KRR from zero targets predicts zero: its error is the teacher's mean
    # square on the held-out images; the distilled targets must do better
    zero = s.heldout_error(real, 20, nets=2, targets=np.zeros_like(s.targets))
    err = s.heldout_error(real, 20, nets=2)
    assert 0 < err < zero, (err, zero)
    s.close()


def test_krrst_synthetic_augmentation(ctx):
    """The options' new tail reaches C: an augmented run moves the images
    otherwise than a plain one; a negative padding is refused."""
    runs = []
    for kw in (dict(), dict(), dict(synthetic_flip=1, synthetic_crop_pad=2)):
        with distill.Context(seed=0, threads=1) as c:
            real, teacher, feats, opts = _krrst_setup(c, **kw)
            s = distill.Krrst(c, real, teacher, features=feats, **opts)
            s.run(3)
            runs.append(s.images.copy())
            s.close()
    assert np.array_equal(runs[0], runs[1]) and not np.array_equal(runs[0], runs[2])
    real, teacher, feats, opts = _krrst_setup(ctx, synthetic_crop_pad=-1)
    try:
        distill.Krrst(ctx, real, teacher, features=feats, **opts)
    except distill.DistillError as e:
        assert "synthetic_crop_pad" in str(e), str(e)
    else:
        raise AssertionError("negative padding accepted")


def test_views_and_children_keep_their_owners(ctx):
    """A parameter view outlives its Model object; a context collected in a
    cycle with its children is freed after them; 8 threads infer on one
    model, each with its own workspace."""
    import gc
    import threading
    m = distill.Model(ctx, [dict(kind="dense", units=3)], input_shape=(4,))
    p = m.params
    expect = p.copy()
    del m
    gc.collect()
    junk = [np.ones(1000, np.float32) for _ in range(50)]  # reuse freed memory, if it was freed
    assert np.array_equal(p, expect)
    p[:] = 1.0  # still the model's own (writable) memory
    del junk
    # a context and a child in one garbage cycle: whatever order the
    # collector finalises them in, the child's C side goes first
    for _ in range(20):
        c = distill.Context(seed=1)
        child = distill.Model(c, [dict(kind="dense", units=2)], input_shape=(3,))
        child.cycle, c.cycle = c, child
        del c, child
        gc.collect()
    # many threads, one frozen model, batch sizes that make each thread
    # grow its workspace at different times
    m = distill.Model(ctx, [dict(kind="dense", units=16), "relu", dict(kind="dense", units=2)],
                      input_shape=(8,))
    x = np.random.default_rng(0).standard_normal((64, 8)).astype(np.float32)
    ref = m.infer(x)
    errors = []

    def work(t):
        for r in range(200):
            n = 1 + (r * 7 + t) % 64
            if not np.allclose(m.infer(x[:n]), ref[:n], atol=1e-6):
                errors.append((t, r))

    threads = [threading.Thread(target=work, args=(t,)) for t in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert not errors, errors[:3]
    bad = x[:2].copy()
    bad[1, 3] = np.nan
    m.infer(bad)  # checks no numbers, as documented
    try:
        m.infer(bad, checked=True)
        raise AssertionError("a NaN row passed the checked inference")
    except distill.NumericError:
        pass


def test_failures_never_show_an_earlier_message(ctx):
    import ctypes
    from distill._lib import lib as clib
    m = distill.Model(ctx, [dict(kind="dense", units=2)], input_shape=(3,))
    try:
        m.layer_shape(7)
        raise AssertionError("layer 7 of 1")
    except distill.DistillError as e:
        assert "layer 7" in str(e)  # its own message
    size = ctypes.c_size_t()
    try:  # a workspace query has no context to write a message to
        ctx.check(clib.distill_model_workspace_size(m._handle, 0, ctypes.byref(size)))
        raise AssertionError("max_batch 0 accepted")
    except distill.DistillError as e:
        assert "layer 7" not in str(e) and "no message" in str(e), str(e)


def test_python_conventions(ctx):
    """pathlib paths, exception classes numpy users catch, a repr, and the
    package docstring's example runs as written."""
    import pathlib
    import re
    import tempfile
    m = distill.Model(ctx, [dict(kind="dense", units=2)], input_shape=(3,))
    with tempfile.TemporaryDirectory() as d:
        p = pathlib.Path(d) / "m.dstl"
        m.save(p)
        assert np.array_equal(distill.Model.load(ctx, p).params, m.params)
        try:
            distill.Model.load(ctx, pathlib.Path(d) / "missing.dstl")
            raise AssertionError("a missing file loaded")
        except OSError as e:
            assert isinstance(e, distill.FileError)
    try:
        m.layer_shape(9)
        raise AssertionError("layer 9")
    except ValueError as e:
        assert isinstance(e, distill.InvalidError)
    x = np.arange(3, dtype=np.float32)
    assert m.infer(x).shape == (2,) and np.allclose(m.infer(x), m.forward(x))  # 1-D in, 1-D out
    assert np.allclose(m.forward(x[None])[0], m.forward(x))
    assert "Model" in repr(m) and "closed" not in repr(m)
    m.close()
    assert "closed" in repr(m)
    example = re.search(r"\n\n((?:    .*\n)+)", distill.__doc__).group(1)
    exec(compile("\n".join(l[4:] for l in example.splitlines()), "distill.__doc__", "exec"), {})


def test_one_naming_rule(ctx):
    """steps_done is a property on every solver; lambda_ everywhere (0.1's
    lam still works)."""
    z = np.random.default_rng(0).standard_normal((4, 3)).astype(np.float32)
    s = distill.softmax(ctx, z)
    a = distill.kd_loss_grad(ctx, z, soft=s, lambda_=0.3)
    b = distill.kd_loss_grad(ctx, z, soft=s, lam=0.3)
    assert a[0] == b[0] and np.array_equal(a[1], b[1])
    assert distill.kd.kd_options(lambda_=0.25).lambda_ == 0.25 == distill.kd.kd_options(lam=0.25).lambda_
    for cls in (distill.Krrst, distill.Kd):
        assert isinstance(vars(cls)["steps_done"], property), cls


def test_every_public_callable_has_a_docstring(ctx):
    import inspect
    missing = set()

    def walk(name, obj):
        if inspect.isclass(obj):
            if not obj.__doc__:
                missing.add(name)
            for k, v in vars(obj).items():
                if k.startswith("_"):
                    continue
                f = v.fget if isinstance(v, property) else \
                    v.__func__ if isinstance(v, (classmethod, staticmethod)) else v
                if (callable(f) or isinstance(v, property)) and not getattr(f, "__doc__", None):
                    missing.add(f"{obj.__name__}.{k}")
        elif callable(obj) and not obj.__doc__:
            missing.add(name)

    for n in distill.__all__:
        o = getattr(distill, n)
        if inspect.ismodule(o):
            for k in dir(o):
                v = getattr(o, k)
                if not k.startswith("_") and (inspect.isfunction(v) or inspect.isclass(v)) \
                        and v.__module__.startswith("distill"):
                    walk(k, v)
        else:
            walk(n, o)
    assert not missing, sorted(missing)


def test_zero_rows_and_closed_models_say_so(ctx):
    m = distill.Model(ctx, [dict(kind="dense", units=2)], input_shape=(4,))
    for call in (m.forward, m.infer):
        try:
            call(np.zeros((0, 4), np.float32))
            raise AssertionError("zero rows accepted")
        except ValueError as e:
            assert "no rows" in str(e)
    m.close()
    try:
        m.infer(np.zeros((1, 4), np.float32))
        raise AssertionError("a closed model ran")
    except ValueError as e:
        assert "closed" in str(e)


def test_singular_fit_is_reported(ctx):
    """KRR on duplicate points is singular: the fit 'succeeds' only with
    jitter, which the context reports, and refuses past a limit."""
    x = np.ones((6, 3), np.float32)
    y = np.arange(6, dtype=np.float32).reshape(6, 1)
    with distill.Context(threads=1) as c:
        opts = distill.krr_options(ridge=0.0, ridge_mode=distill.RIDGE_ABSOLUTE, bias=0)
        distill.krr_fit(c, x, y, opts)
        assert c.max_jitter > 0
        c.reset_jitter()
        assert c.max_jitter == 0
        c.jitter_limit = 1e-9
        try:
            distill.krr_fit(c, x, y, opts)
            raise AssertionError("a singular fit passed the jitter limit")
        except distill.NumericError as e:
            assert "limit" in str(e)


def test_labels_are_refused_unless_whole_real_and_in_range(ctx):
    z = np.zeros((1, 3), np.float32)
    for bad in (np.array([2**32 + 1]), np.array([1.7]), np.array([1 + 2j]), np.array([np.nan]),
                np.array(["1"])):
        try:
            distill.xent_hard(ctx, z, bad)
            raise AssertionError(f"labels {bad!r} accepted")
        except ValueError as e:
            assert "labels" in str(e)
    for good in (np.array([2]), np.array([2.0]), np.array([-1]), [1]):
        distill.xent_hard(ctx, z, good)


def test_teacher_handle(ctx):
    """One Teacher from a model, a callable or outputs: the same outputs,
    solvers keep it alive, and the 0.1 ways give the same solver."""
    real, model, feats, opts = _krrst_setup(ctx)
    x = np.random.default_rng(2).random((6, 64), dtype=np.float32)
    from_model = distill.Teacher(ctx, model)
    assert (from_model.output_dim, from_model.input_dim, from_model.rows) == (4, 64, 0)
    ref = from_model(x)
    from_fn = distill.Teacher(ctx, lambda a: model.forward(a), k=4, input_dim=64)
    assert np.array_equal(from_fn(x), ref)
    outputs = distill.Teacher(ctx, ref)
    assert outputs.rows == 6
    try:
        outputs(x)
        raise AssertionError("precomputed outputs answered new inputs")
    except distill.DistillError as e:
        assert "precomputed" in str(e)
    # the same solver from the handle and from 0.1's callable field (fresh
    # contexts with one seed: each solver draws a stream from its context)
    runs = []
    for use_handle in (True, False):
        with distill.Context(seed=ctx.seed, threads=1) as c:
            r, m, f, o = _krrst_setup(c)
            fn = lambda a, m=m: m.forward(a)
            t = distill.Teacher(c, fn, k=4, input_dim=64) if use_handle else fn
            s = distill.Krrst(c, r, t, features=f, k=4, **o)
            if use_handle:
                t.close()  # the solver holds its own reference, and the Python object
            s.run(2)
            runs.append((s.images.copy(), s.targets.copy()))
    assert np.array_equal(runs[0][0], runs[1][0]) and np.array_equal(runs[0][1], runs[1][1])


def test_krrst_python_teacher(ctx):
    real, teacher, feats, opts = _krrst_setup(ctx, augment_flip=1)
    w = np.random.default_rng(5).standard_normal((64, 4)).astype(np.float32)
    calls = []

    def embed(x):
        calls.append(len(x))
        if len(calls) == 4:
            raise RuntimeError("teacher down")
        return x @ w
    s = distill.Krrst(ctx, real, embed, features=feats, k=4, **opts)
    s.step()
    s.step()
    try:
        s.step()
        raise AssertionError("the failing teacher was not reported")
    except distill.DistillError as e:
        assert "embed" in str(e)
    assert s.steps_done == 2
    s.step()  # the teacher is back
    s.close()


def test_transfer_protocol(ctx):
    rng = np.random.default_rng(9)

    def two_class(n):
        y = (np.arange(n) % 2).astype(np.float32)
        x = 0.3 * rng.random((n, 64), dtype=np.float32)
        x[y == 1] += np.tile((np.arange(8) < 4).astype(np.float32), 8)
        ds = distill.Dataset.from_numpy(ctx, x, y + 5)
        ds.shape = (1, 8, 8)
        return ds
    train, test = two_class(40), two_class(200)
    # 8 channels: with 3, an unlucky draw could lose every ReLU while fine-tuning (chance accuracy)
    enc = distill.Model(ctx, [dict(kind="conv2d", units=8, kernel=3, padding=1), "relu",
                              dict(kind="avgpool", kernel=2), "flatten"], input_shape=(1, 8, 8))
    targets = distill.Dataset.from_numpy(ctx, rng.random((10, 64), dtype=np.float32),
                                         rng.standard_normal((10, 3)).astype(np.float32))
    targets.shape = (1, 8, 8)
    before = enc.params.copy()
    distill.pretrain(ctx, enc, targets, pretrain_steps=10)
    assert not np.array_equal(before, enc.params)
    lp = distill.linear_probe(ctx, enc, train, test, probe_steps=200)
    assert lp >= 0.95
    assert distill.linear_probes(ctx, enc, [train, train], test, probe_steps=200) == [lp, lp]
    try:
        distill.linear_probes(ctx, enc, [], test)
    except distill.DistillError as e:
        assert "n_train must be 1.." in str(e), str(e)
    else:
        raise AssertionError("no training sets accepted")
    assert distill.finetune(ctx, enc, train, test, finetune_steps=100, finetune_batch=20) >= 0.95


def test_barlow_twins(ctx):
    rng = np.random.default_rng(2)
    za = rng.standard_normal((16, 5)).astype(np.float32)
    zb = (za + 0.5 * rng.standard_normal((16, 5))).astype(np.float32)

    def ref(a, b, lam=5e-3):
        a = (a - a.mean(0)) / np.sqrt(a.var(0) + 1e-5)
        b = (b - b.mean(0)) / np.sqrt(b.var(0) + 1e-5)
        c = a.T @ b / len(a)
        off = c - np.diag(np.diag(c))
        return np.sum((1 - np.diag(c)) ** 2) + lam * np.sum(off ** 2)
    loss, dza, dzb = distill.barlow_twins_loss_grad(ctx, za, zb)
    assert abs(loss - ref(za.astype(np.float64), zb.astype(np.float64))) < 1e-4 * loss
    h, a = 1e-6, za.astype(np.float64)
    a[3, 2] += h
    fp = ref(a, zb.astype(np.float64))
    a[3, 2] -= 2 * h
    fd = (fp - ref(a, zb.astype(np.float64))) / (2 * h)
    assert abs(fd - dza[3, 2]) < 1e-3 * (1 + abs(fd)), (fd, dza[3, 2])
    real, teacher, feats, _ = _krrst_setup(ctx)
    enc = distill.Model(ctx, feats, input_shape=(1, 8, 8))
    # whole-set batches: a short last batch makes the batch statistics noisy and the
    # last epoch's loss jumpy (later/first was 0.25-0.42 over six context seeds)
    kw = dict(batch=40, projector=16, lr=3e-3, lambda_=0.05, augment_noise=0.02, augment_crop_pad=1)
    first = distill.barlow_twins_train(ctx, enc, real, epochs=1, **kw)
    later = distill.barlow_twins_train(ctx, enc, real, epochs=300, **kw)
    assert later < 0.6 * first, (first, later)


def test_handles_outliving_their_context(ctx):
    """Closing a context closes the handles made in it: later calls raise,
    and collecting the objects afterwards does not touch freed memory."""
    import gc
    other = distill.Context(seed=1)
    ds = distill.Dataset.from_numpy(other, np.ones((4, 3), np.float32), np.zeros(4, np.float32))
    m = distill.Model(other, [dict(kind="dense", units=2)], input_shape=(3, 1, 1))
    kd = distill.Kd(other, m, ds, teacher=np.zeros((4, 2), np.float32), mode="classic")
    other.close()
    for call in (lambda: m.forward(np.ones((1, 3), np.float32)), kd.step, lambda: len(ds.labels())):
        try:
            call()
            raise AssertionError("a call on a closed context's handle went through")
        except (ValueError, distill.DistillError):
            pass
    del ds, m, kd
    gc.collect()


def _gd_problem(n, d=50, seed=3):
    """Clean labels as privileged information (gd.md experiment 1)."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, d)).astype(np.float32)
    xs = (x @ rng.standard_normal(d)).astype(np.float32)[:, None]
    y = (xs[:, 0] + rng.standard_normal(n) > 0).astype(np.float32)
    xs = (xs - xs.mean()) / xs.std()
    return x, xs, y


def test_kd_solver_and_teachers(ctx):
    x, xs, y = _gd_problem(1200)
    x = (x - x[:200].mean(0)) / x[:200].std(0)
    train = distill.Dataset.from_numpy(ctx, x[:200], y[:200])
    priv = distill.Dataset.from_numpy(ctx, xs[:200])
    test = distill.Dataset.from_numpy(ctx, x[200:], y[200:])
    test_priv = distill.Dataset.from_numpy(ctx, xs[200:], y[200:])
    dense = [dict(kind="dense", units=2, init="glorot_uniform")]
    teacher = distill.Model(ctx, dense, input_shape=(1, 1, 1))
    fast = dict(kind="rmsprop", lr=1e-2, alpha=0.9, eps=1e-6, flags=distill.kd.OPTIM_EPS_IN_SQRT)
    distill.kd.train_teacher(ctx, teacher, train, priv, epochs=300, optimizer=fast)
    assert distill.kd.score(ctx, teacher, test_priv) > 0.85
    accs = []
    for lam in (0.0, 1.0):
        student = distill.Model(ctx, dense, input_shape=(50, 1, 1))
        kd = distill.Kd(ctx, student, train, priv, teacher=teacher, T=1.0, lam=lam, epochs=1000, seed=1)
        kd.run()
        assert kd.steps_done == 2000
        accs.append(kd.score(test))
    assert accs[1] > accs[0] + 0.03, accs  # gd.md experiment 1: 95 against 88
    # the teacher as a Python callable and as precomputed outputs give the same soft targets
    z = teacher.forward(xs[:200])
    z[5] = np.nan  # row 5 has no privileged input
    student = distill.Model(ctx, dense, input_shape=(50, 1, 1))
    by_outputs = distill.Kd(ctx, student, train, teacher=z, T=2.0)
    by_callable = distill.Kd(ctx, student, train, priv, teacher=lambda a: teacher.forward(a), T=2.0)
    s1, s2 = by_outputs.soft_targets(), by_callable.soft_targets()
    assert np.all(s1[5] == 0) and np.isnan(by_outputs.teacher_outputs()[5]).all()
    assert np.allclose(np.delete(s1, 5, 0), np.delete(s2, 5, 0), atol=1e-6)
    # the loss of rows: the Hinton identity (1/T)(q - s) T^2 / n at lambda 1
    hinton = distill.Kd(ctx, student, train, teacher=z, mode="classic", preset="hinton2015", T=3.0, lam=1.0)
    zs = np.random.default_rng(0).standard_normal((4, 2)).astype(np.float32)
    idx = np.array([0, 1, 2, 3])
    _, dz = hinton.loss_grad_rows(idx, zs)
    q = np.exp(zs / 3) / np.exp(zs / 3).sum(1, keepdims=True)
    sref = np.exp(z[:4] / 3) / np.exp(z[:4] / 3).sum(1, keepdims=True)
    assert np.allclose(dz, (q - sref) * 3 / 4, atol=1e-6)
    # a failing callable teacher is an exception, not a crash
    try:
        distill.Kd(ctx, student, train, priv, teacher=lambda a: 1 / 0)
        raise AssertionError("no error")
    except distill.DistillError as e:
        assert "teacher" in str(e)
    t, lam, scores = distill.kd.grid_search(ctx, student, train, priv, teacher=teacher,
                                            temperatures=(1, 4), lambdas=(0, 1), epochs=20)
    # the first pair (T-major) with the highest accuracy
    first = np.flatnonzero(scores.ravel() == scores.max())[0]
    assert scores.shape == (2, 2) and (t, lam) == ((1, 4)[first // 2], (0, 1)[first % 2])


# Exported C functions the binding deliberately leaves out: Python sizes
# and allocates the kernels' workspaces itself (passing NULL).
NOT_BOUND = {"distill_barlow_twins_workspace_size", "distill_krr_fit_workspace_size",
             "distill_krr_gram_workspace_size", "distill_krr_predict_workspace_size"}


def test_binding_covers_the_exports(ctx):
    """Every exported distill_* function has a signature in _lib.py (or is
    listed above): the binding stays in step with the C API."""
    import subprocess
    from distill._lib import lib as clib
    out = subprocess.run(["nm", "-D", "--defined-only", clib._name], capture_output=True, text=True,
                         check=True).stdout
    exported = {ln.split()[2].split("@")[0] for ln in out.splitlines()
                if len(ln.split()) == 3 and ln.split()[1] == "T" and ln.split()[2].startswith("distill_")}
    src = open(os.path.join(os.path.dirname(distill.__file__), "_lib.py")).read()
    missing = sorted(f for f in exported - NOT_BOUND if f'_sig("{f}"' not in src)
    assert not missing, f"exported but not bound in Python: {missing}"
    assert distill.schedule_lr(50, schedule="linear", lr=1.0, total_steps=100) == 0.5
    ds = distill.Dataset.from_numpy(ctx, np.arange(12, dtype=np.float32).reshape(4, 3),
                                    np.arange(4, dtype=np.float32))
    x, y = ds.get_range(1, 2)
    assert x[0, 0] == 3 and y[1, 0] == 2
    m = distill.Model(ctx, [dict(kind="conv2d", units=4, kernel=3, padding=1)], input_shape=(1, 6, 6))
    assert m.layer_shape(0) == (4, 6, 6) and m.layer_shape(-1) == (1, 6, 6)
    ctx.clear_error()
    assert ctx.last_error == ""


def test_progress_callback_cancels(ctx):
    x = np.random.default_rng(4).standard_normal((64, 5)).astype(np.float32)
    train = distill.Dataset.from_numpy(ctx, x, (x[:, 0] > 0).astype(np.float32))
    student = distill.Model(ctx, [dict(kind="dense", units=2)], input_shape=(5, 1, 1))
    kd = distill.Kd(ctx, student, train, teacher=np.zeros((64, 2), np.float32), mode="classic", batch=8,
                    epochs=3)
    seen = []
    ctx.set_progress(lambda stage, done, total: seen.append((stage, done, total)) or done == 5)
    try:
        kd.run()
        raise AssertionError("not cancelled")
    except distill.DistillError as e:
        assert e.name == "DISTILL_E_CANCELLED" and kd.steps_done == 5
    ctx.set_progress(None)
    ctx.reset_cancel()
    import tempfile
    with tempfile.TemporaryDirectory() as d:
        kd.checkpoint(d + "/kd.dstl")
        kd.run()
        assert kd.steps_done == 24 and seen[-1] == ("kd", 5, 24)
        full = student.params.copy()
        kd.resume(d + "/kd.dstl")  # back to step 5 and the student of then
        assert kd.steps_done == 5 and not np.array_equal(student.params, full)
        kd.run()
        assert np.array_equal(student.params, full) and kd.steps_done == 24


def test_kd_regression_and_views(ctx):
    p = np.random.default_rng(1).standard_normal((6, 3)).astype(np.float32)
    y = p + 1
    y[2, 1] = np.nan
    loss, g = distill.kd_mse_loss_grad(ctx, p, y=y, lam=0.0)
    ref = np.where(np.isnan(y), 0, p - y)
    assert abs(loss - np.sum(ref ** 2) / 18) < 1e-5 and np.allclose(g, 2 * ref / 18, atol=1e-7)
    ds = distill.Dataset.from_numpy(ctx, np.zeros((4, 3), np.float32), np.arange(4, dtype=np.float32))
    assert np.array_equal(ds.labels([3, 1])[:, 0], [3, 1]) and ds.labels().shape == (4, 1)
    img = np.arange(2 * 16, dtype=np.float32).reshape(2, 16)
    small = distill.image_block_mean(ctx, img, (1, 4, 4), 2)
    assert small.shape == (2, 4) and small[0, 0] == (0 + 1 + 4 + 5) / 4
    assert distill.kd.weights("gd", "default", 5.0) == (1.0, 25.0)
    assert distill.kd.weights("policy", "default", 0.1) == (1.0, 1.0)


def test_env_rollout_and_policy(ctx):
    env = distill.Env(ctx, "cartpole")
    assert env.obs_dim == 4 and env.action_dim == 1 and env.max_steps == 500
    assert env.action_space == {"kind": "discrete", "n": 2}
    obs = env.reset(7)
    assert obs.shape == (4,) and np.array_equal(obs, env.reset(7))
    obs, r, term, trunc = env.step(1)
    assert r == 1.0 and not term and not trunc
    with np.testing.assert_raises(distill.InvalidError):
        env.step(2)

    def controller(o):
        return (0.5 * o[:, 1] + 10 * o[:, 2] + 2 * o[:, 3] > 0).astype(np.float32)
    ret, lengths, traj = env.rollout(controller, episodes=6, seed=3, epsilon=0.2, record=True)
    ret2, _ = env.rollout(controller, episodes=6, seed=3, epsilon=0.2, lockstep=1)
    assert np.array_equal(ret, ret2) and ret.mean() > 100 and len(traj) == lengths.sum() and traj.y_dim == 5
    with np.testing.assert_raises(distill.DistillError):  # the callable raising is E_BACKEND
        env.rollout(lambda o: 1 / 0, episodes=2)
    model = distill.Model(ctx, [dict(kind="dense", units=2)], input_shape=(4,))
    policy = distill.Policy.from_model(ctx, model, env)
    a = policy.act(obs)
    assert a.shape == (1,) and a[0] == np.argmax(model.infer(obs))
    assert policy.act(np.zeros((0, 4))).shape == (0, 1)
    with np.testing.assert_raises(distill.NumericError):
        policy.act(np.full(4, np.nan))
    import pathlib
    import tempfile
    with tempfile.TemporaryDirectory() as d:
        policy.save(pathlib.Path(d) / "p.dstl")
        again = distill.Policy.load(ctx, pathlib.Path(d) / "p.dstl")
    assert np.all(env.rollout("expert", episodes=3)[0] == 500)
    r1, l1 = policy.evaluate(env, episodes=5, seed=1)
    r2, l2 = env.rollout(again, episodes=5, seed=1)
    assert np.array_equal(r1, r2) and np.array_equal(l1, l2)
    try:  # the default build has no HDF5: it says so, as its own error
        distill.trajectories_from_hdf5(ctx, pathlib.Path("/nonexistent.h5"))
        raise AssertionError("read a file that does not exist")
    except distill.DistillError as e:
        assert e.name in ("DISTILL_E_UNSUPPORTED", "DISTILL_E_IO"), e.name
    with tempfile.TemporaryDirectory() as d:  # trajectories to .npy: the rows and their y columns
        traj.save_npy(pathlib.Path(d) / "x.npy", pathlib.Path(d) / "y.npy")
        y = np.load(pathlib.Path(d) / "y.npy")
        assert y.shape == (len(traj), 5) and y[0, 1 + distill.rl.TRAJ_RTG] == ret[0]
    top = distill.trajectory_top(traj, 0.5)
    assert len(top) == np.sort(lengths)[::-1][:3].sum()  # CartPole: return = length
    with np.testing.assert_raises(distill.InvalidError):
        distill.trajectory_top(traj, 0.0)
    student = distill.Model(ctx, [dict(kind="dense", units=16), "tanh", dict(kind="dense", units=2)],
                            input_shape=(4,))
    before = student.params.copy()
    with np.testing.assert_raises(distill.InvalidError):
        distill.bc_train(ctx, student, traj, n_actions=3)
    assert np.array_equal(before, student.params)
    loss = distill.bc_train(ctx, student, traj, n_actions=2, steps=200, batch=64)
    assert np.isfinite(loss) and not np.array_equal(before, student.params)


def test_orl_distils_cartpole_states(ctx):
    env = distill.Env(ctx, "cartpole")

    def controller(o):
        return (0.5 * o[:, 1] + 10 * o[:, 2] + 2 * o[:, 3] > 0).astype(np.float32)
    _, _, data = env.rollout(controller, episodes=10, seed=2, epsilon=0.3, record=True)
    layers = [dict(kind="dense", units=16), "tanh", dict(kind="dense", units=2)]
    orl = distill.Orl(ctx, data, 2, layers, m=4, batch=64, variant="fixed")
    assert orl.states.shape == (4, 4) and orl.actions.tolist() == [0, 0, 1, 1]
    before = orl.states
    loss0, g = orl.gradient()
    assert g.shape == (4, 4) and np.isfinite(loss0) and np.array_equal(orl.states, before)
    orl.run(5)
    assert orl.steps_done == 5 and not np.array_equal(orl.states, before)
    with np.testing.assert_raises(distill.InvalidError):
        orl.run(-1)
    with np.testing.assert_raises(ValueError):
        distill.Orl(ctx, data, 2, layers, variant="nope")
    import pathlib
    import tempfile
    with tempfile.TemporaryDirectory() as d:
        orl.checkpoint(pathlib.Path(d) / "o.ck")
        end = orl.run(8).states
        orl.resume(pathlib.Path(d) / "o.ck")
        assert orl.steps_done == 5 and np.array_equal(orl.run(8).states, end)
        orl.save(pathlib.Path(d) / "set.dstl")
        back = distill.load_distilled(ctx, pathlib.Path(d) / "set.dstl")
        assert np.array_equal(back.get_range(0, 4)[0], orl.states)
    student = distill.Model(ctx, layers, input_shape=(4,))
    assert np.isfinite(distill.bc_train(ctx, student, orl.dataset(), n_actions=2, steps=50, batch=4))
    del data  # the solver keeps its real data alive
    orl.step()


class Walk:
    """A Python environment: a 1-d walk with a box action."""

    def __init__(self):
        self.x, self.fail = 0.0, False

    def reset(self, seed):
        self.x = float(seed % 3)
        return [self.x]

    def step(self, a):
        if self.fail:
            raise RuntimeError("broken")
        self.x += float(a[0])
        return [self.x], -abs(self.x), abs(self.x) > 5, False


def test_python_env_and_box_policy(ctx):
    w = Walk()
    env = distill.Env(ctx, w, obs_dim=1, action_low=[-1], action_high=[1], max_steps=20)
    assert env.action_space["kind"] == "box" and env.max_steps == 20
    assert env.reset(2)[0] == 2.0 and env.step(0.5)[0][0] == 2.5
    ret, lengths = env.rollout(lambda o: -np.sign(o) * 0.5, episodes=3)
    assert np.all(lengths == 20) and ret[0] == 0.0
    w.fail = True
    with np.testing.assert_raises(distill.DistillError):
        env.rollout(lambda o: o, episodes=2)
    w.fail = False
    assert env.reset(1)[0] == 1.0  # still usable
    model = distill.Model(ctx, [dict(kind="dense", units=1)], input_shape=(1,))
    policy = distill.Policy.from_model(ctx, model, env)
    a = policy.act(np.array([[3.0], [-3.0]], np.float32))
    assert a.shape == (2, 1) and np.all(np.abs(a) <= 1)
    del model, env
    assert policy.evaluate(distill.Env(ctx, w, obs_dim=1, action_low=[-1], action_high=[1],
                                       max_steps=5), episodes=2)[1].tolist() == [5, 5]


def test_vdd_from_a_python_score(ctx):
    """A Python score (the 8-mode ring's) distilled; the policy's act_ex,
    log_prob and modes; a failing score; a resume; files."""
    modes = 2 * np.stack([np.cos(np.arange(8) * np.pi / 4), np.sin(np.arange(8) * np.pi / 4)], 1)
    calls = {"fail": False}

    def ring(a, s, sigma):
        if calls["fail"]:
            raise RuntimeError("teacher down")
        d = modes[None, :, :] - a[:, None, :]
        lp = -(d ** 2).sum(2) / 0.5
        w = np.exp(lp - lp.max(1, keepdims=True))
        w /= w.sum(1, keepdims=True)
        return (w[:, :, None] * d).sum(1) / 0.25

    teacher = distill.Diffusion.from_score(ctx, ring, obs_dim=1, action_dim=2)
    demos = distill.Dataset.from_numpy(ctx, np.ones((16, 1), np.float32), np.zeros((16, 2), np.float32))
    vdd = distill.Vdd(ctx, teacher, demos, full_cov=0, learn_gating=0, batch=8, samples=8, iterations=40)
    del teacher  # the solver keeps its teacher (and the callback) alive
    vdd.run()
    assert vdd.steps_done == 40
    p = vdd.policy("sample")
    assert p.kind == "moe" and p.n_experts == 8 and p.mode == "sample"
    a, e, lq = p.act_ex(np.ones((5, 1), np.float32))
    assert a.shape == (5, 2) and e.shape == (5,) and np.all((e >= 0) & (e < 8))
    assert np.allclose(p.log_prob(np.ones((5, 1)), a), lq, atol=1e-5)
    p.set_mode("committed")
    _, kept, _ = p.act_ex(np.ones((3, 1), np.float32), experts=[2, 5, -1])
    assert kept[0] == 2 and kept[1] == 5
    with np.testing.assert_raises(ValueError):
        p.set_mode("nope")
    calls["fail"] = True
    with np.testing.assert_raises(distill.DistillError):
        vdd.step()
    assert vdd.steps_done == 40
    calls["fail"] = False
    import pathlib
    import tempfile
    with tempfile.TemporaryDirectory() as d:
        vdd.checkpoint(pathlib.Path(d) / "v.ck")
        vdd.run(42)
        after = vdd.policy("committed").act_ex(np.ones((1, 1), np.float32), experts=[3])[0]
        vdd.resume(pathlib.Path(d) / "v.ck")
        assert vdd.steps_done == 40
        vdd.run(42)
        again = vdd.policy("committed").act_ex(np.ones((1, 1), np.float32), experts=[3])[0]
        assert np.array_equal(after, again)
        p.save(pathlib.Path(d) / "p.dstl")
        q = distill.Policy.load(ctx, pathlib.Path(d) / "p.dstl")
        assert q.kind == "moe" and q.mode == "committed"
    with np.testing.assert_raises(distill.DistillError):  # the last field of the options reaches the library
        distill.Vdd(ctx, distill.Diffusion.from_score(ctx, ring, obs_dim=1, action_dim=2), demos, state_noise=-1.0)
    # mean_init "branch": the two experts start on the two demonstrated actions
    fork = distill.Dataset.from_numpy(ctx, np.ones((16, 1), np.float32),
                                      np.array([[2, 0], [-2, 0]] * 8, np.float32))
    v = distill.Vdd(ctx, distill.Diffusion.from_score(ctx, ring, obs_dim=1, action_dim=2), fork, experts=2,
                    learn_gating=0, mean_init="branch", iterations=0)
    means = v.policy("committed").act_ex(np.ones((2, 1), np.float32), experts=[0, 1])[0]
    assert sorted(means[:, 0].tolist()) == [-2.0, 2.0] and means[:, 1].tolist() == [0.0, 0.0]
    with np.testing.assert_raises(ValueError):
        distill.Vdd(ctx, distill.Diffusion.from_score(ctx, ring, obs_dim=1, action_dim=2), fork, mean_init="kmeans")


def test_diffusion_teacher_and_avoid(ctx):
    env = distill.Env(ctx, "avoid")
    ret, lengths, demos = env.demos(episodes=8, action_noise=0.004)
    assert np.all(ret == 1.0) and demos.x_dim == 2
    x = demos.get_range(0, int(lengths[0]))[0]
    assert 0 <= distill.route(x) <= 3
    success, entropy = distill.route_stats(demos, ret, lengths)
    assert success == 1.0 and 0.0 < entropy <= 1.0
    t = distill.Diffusion(ctx, obs_dim=2, action_dim=2, hidden=16, layers=2)
    loss = t.train(demos, steps=20, batch=32)
    assert np.isfinite(loss) and t.sigma_data > 0
    a = t.sample(np.zeros((3, 2), np.float32), steps=4, sampler="heun")
    assert a.shape == (3, 2) and np.all(np.isfinite(a))
    sc = t.score(a, np.zeros((3, 2)), 0.01)
    assert sc.shape == (3, 2)
    import pathlib
    import tempfile
    with tempfile.TemporaryDirectory() as d:
        t.save(pathlib.Path(d) / "t.dstl")
        u = distill.Diffusion.load(ctx, pathlib.Path(d) / "t.dstl")
        assert np.array_equal(u.score(a, np.zeros((3, 2)), 0.01), sc)
    with np.testing.assert_raises(distill.DistillError):
        t.sample(np.full((1, 2), np.nan, np.float32))


def test_masks_through_the_binding(ctx):
    """A masknet learns a grid task by PPO and keeps it; its bits reproduce
    it in another net; two agents share over a bus; a lifelong curriculum;
    views keep their net alive."""
    net = distill.Masknet(ctx, inputs=25, outputs=5, hidden=16, layers=1, max_tasks=4, compose="lc")
    envs = [distill.Env(ctx, "grid", goal=g) for g in range(2)]
    net.add_task(0)
    params = net.params
    params_before = params.copy()
    ppo = distill.Ppo(ctx, envs[0], net, lr=1e-2, envs=4, steps=32, epochs=2, minibatches=4, entropy=0.01)
    st = ppo.step()
    assert st["env_steps"] == 128 and not np.array_equal(params, params_before)
    ppo.run(20)
    net.consolidate()
    x = np.eye(25, dtype=np.float32)
    y0 = net.forward(0, x)
    assert np.allclose(net.infer(0, x), y0, atol=1e-5)
    net.add_task(1)
    ppo.retarget(envs[1], net)
    ppo.run(23)
    assert np.array_equal(net.forward(0, x), y0)            # task 0 unchanged, bit for bit
    other = distill.Masknet(ctx, inputs=25, outputs=5, hidden=16, layers=1, max_tasks=4, compose="lc")
    head = other.decode(0, net.encode(0, reward=0.5, embedding=[1, 0, 0, 0]))
    assert head["reward"] == 0.5 and head["embedding"] == [1, 0, 0, 0]
    assert np.array_equal(other.forward(0, x), y0)
    import tempfile
    with tempfile.TemporaryDirectory() as d:
        other.save(os.path.join(d, "net.dstl"))
        again = distill.Masknet.load(ctx, os.path.join(d, "net.dstl"))
    assert again.learned(0) == 1 and np.array_equal(again.forward(0, x), y0)
    assert len(net.encode(0, "bits")) * 10 < len(net.encode(0, "f32"))
    p = net.policy(0, n_actions=4)
    returns, _ = p.evaluate(envs[0], episodes=5)
    assert returns.shape == (5,)
    bus = distill.Bus(ctx, latency=1)
    a = distill.Share(ctx, net, 1, bus=bus, meta_window=2)
    b = distill.Share(ctx, other, 2, bus=bus, meta_window=2)
    a.set_reward(0, 0.9)
    a.add_peer(2), b.add_peer(1)
    net2 = other
    assert net2.learned(0) == 1 and net2.learned(1) == -1
    del net  # the agent and the params view keep it alive
    assert params.shape[0] > 0 and a.peers == 1
    sent = []
    lonely = distill.Share(ctx, distill.Masknet(ctx, inputs=25, outputs=5, hidden=16, layers=1, max_tasks=4), 9,
                           send=lambda to, msg: sent.append((to, msg)))
    lonely.add_peer(1)
    lonely.query(0)
    assert len(sent) == 1 and sent[0][0] == 1
    a.receive(sent[0][1])                    # a newcomer: a TABLE and a META, lost (9 is not on the bus)
    for _ in range(3):
        bus.tick()
    assert bus.counts[2] == 2 and a.stats["sent"][1] == 1 and a.stats["sent"][4] == 1
    with np.testing.assert_raises(distill.DistillError):
        a.receive(b"LDSH" + bytes(20))
    life_net = distill.Masknet(ctx, inputs=25, outputs=5, hidden=16, layers=1, max_tasks=4)
    life = distill.Lifelong(ctx, life_net, envs, task_iterations=3, done_return=2.0,
                            ppo=dict(envs=2, steps=16, minibatches=2))
    while not life.done:
        life.step()
    assert life.iterations == 6 and life_net.learned(0) == 1 and life_net.learned(1) == 1


class BindingTests(unittest.TestCase):
    """Every test_* function above, each with a context of its own."""

    def setUp(self):
        self.ctx = distill.Context(seed=7, threads=2)

    def tearDown(self):
        self.ctx.close()


for _name, _fn in sorted(globals().items()):
    if _name.startswith("test_") and callable(_fn):
        setattr(BindingTests, _name, lambda self, fn=_fn: fn(self.ctx))


def main():
    """The standard unittest runner, then the closing line CI reads."""
    suite = unittest.defaultTestLoader.loadTestsFromTestCase(BindingTests)
    result = unittest.TextTestRunner(verbosity=2, stream=sys.stdout).run(suite)
    failed = len(result.failures) + len(result.errors)
    print(f"python: {result.testsRun - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
