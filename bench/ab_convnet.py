"""A/B two builds of libdistill on the ConvNet-3 step, in one process.

    /usr/bin/python3 bench/ab_convnet.py A.so B.so [rounds] [train|eval|krrst|krrst10]

train (the default): forward and backward to the parameters of 256 images
in train mode; eval: the eval-mode forward of 256 images (a KRR-ST real
batch); krrst: one KRR-ST outer step at m = 100, n = 256, k = 128 with the
pool update (targets precomputed); krrst10: the same at m = 10, n = 1024
(bench_krrst's m = 10 setting, where the real batch's forward dominates).
Both libraries are loaded side by side (ctypes keeps their symbols apart)
and their steps alternate, best of `rounds` each, so both see the
same machine state: on this shared machine single benchmark runs swing by
30%, while an A/A comparison by this method agrees to about 2%.  Copy
lib/libdistill.so.0.1.0 aside before and after a change to compare them.
The last line is one JSON object."""
import json
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))


def load(path):
    """A fresh import of the binding bound to the library at `path`."""
    os.environ["DISTILL_LIB"] = path
    for k in [k for k in sys.modules if k == "distill" or k.startswith("distill.")]:
        del sys.modules[k]
    import distill
    return distill


def convnet_step(d, what):
    ctx = d.Context(seed=0, threads=2)
    x = np.random.default_rng(0).random((256, 784), dtype=np.float32)
    if what.startswith("krrst"):  # the solver's own ConvNet-3 with batch norm
        real = d.Dataset.from_numpy(ctx, np.random.default_rng(1).random((2048, 784), dtype=np.float32))
        real.shape = (1, 28, 28)
        targets = np.random.default_rng(2).standard_normal((2048, 128)).astype(np.float32)
        m, n = (10, 1024) if what == "krrst10" else (100, 256)
        s = d.Krrst(ctx, real, targets, m=m, n=n, steps=10 ** 6)
        return (ctx, real, targets, s), s.step
    layers = []
    for c in (32, 64, 128):
        layers += [dict(kind="conv2d", units=c, kernel=3, padding=1)]
        layers += ["batchnorm"] if what == "eval" else []
        layers += ["relu", dict(kind="avgpool", kernel=2)]
    m = d.Model(ctx, layers + ["flatten"], input_shape=(1, 28, 28))
    dy = np.full((256, m.output_dim), 1e-3, np.float32)

    def step():
        m.forward(x, train=what == "train")
        if what == "train":
            m.backward(dy, input_grad=False)
    return (ctx, m), step


def main():
    if len(sys.argv) < 3:
        print(__doc__)
        return 2
    rounds = int(sys.argv[3]) if len(sys.argv) > 3 else 15
    what = sys.argv[4] if len(sys.argv) > 4 else "train"
    if what not in ("train", "eval", "krrst", "krrst10"):
        print(__doc__)
        return 2
    keep_a, a = convnet_step(load(sys.argv[1]), what)
    keep_b, b = convnet_step(load(sys.argv[2]), what)
    best = [float("inf"), float("inf")]
    a(), b()
    for _ in range(rounds):
        for k, step in enumerate((a, b)):
            t0 = time.perf_counter()
            step()
            best[k] = min(best[k], time.perf_counter() - t0)
    imgs = 1024 if what == "krrst10" else 256  # the real batch
    ia, ib = imgs / best[0], imgs / best[1]
    print(f"{what}: A {1e3 * best[0]:.1f} ms ({ia:.0f} img/s), B {1e3 * best[1]:.1f} ms ({ib:.0f} img/s), "
          f"B/A {ib / ia:.3f}")
    print(json.dumps({"bench": "ab_convnet", "what": what, "a_ms": round(1e3 * best[0], 2),
                      "b_ms": round(1e3 * best[1], 2), "a_img_s": round(ia), "b_img_s": round(ib),
                      "b_over_a": round(ib / ia, 3)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
