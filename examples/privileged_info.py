"""Generalized distillation from Python (docs/kd.md): a teacher that sees a
privileged feature (the clean direction behind the label) teaches a student
that sees only the 50 regular features.  Run with
DISTILL_LIB=lib/libdistill.so PYTHONPATH=python /usr/bin/python3 examples/privileged_info.py"""
import numpy as np

import distill

rng = np.random.default_rng(42)
n, n_test, d = 200, 2000, 50
x = rng.standard_normal((n + n_test, d)).astype(np.float32)
x_star = (x @ rng.standard_normal(d) / 7.0).astype(np.float32)[:, None]   # privileged
y = (x_star[:, 0] + 0.15 * rng.standard_normal(n + n_test) > 0).astype(np.float32)

with distill.Context(seed=0, threads=1) as ctx:
    train = distill.Dataset.from_numpy(ctx, x[:n], y[:n])
    priv = distill.Dataset.from_numpy(ctx, x_star[:n])
    test = distill.Dataset.from_numpy(ctx, x[n:], y[n:])
    layers = [dict(kind="dense", units=2, init="glorot_uniform")]

    teacher = distill.Model(ctx, layers, input_shape=(1, 1, 1))
    distill.kd.train_teacher(ctx, teacher, train, priv, epochs=1000)

    acc = {}
    for name, lam in (("student alone", 0.0), ("distilled", 1.0)):
        student = distill.Model(ctx, layers, input_shape=(d, 1, 1))
        distill.Kd(ctx, student, train, priv, teacher=teacher, T=1.0, lam=lam, epochs=1000).run()
        acc[name] = distill.kd.score(ctx, student, test)
    print("test accuracy: " + ", ".join(f"{k} {v:.3f}" for k, v in acc.items()))
    assert acc["distilled"] > acc["student alone"]
