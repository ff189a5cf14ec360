"""A/B two builds of libdistill on the ConvNet-3 step, in one process.

    /usr/bin/python3 bench/ab_convnet.py A.so B.so [rounds]

Both libraries are loaded side by side (ctypes keeps their symbols apart)
and their training steps alternate, best of `rounds` each, so both see the
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


def convnet_step(d):
    ctx = d.Context(seed=0, threads=2)
    layers = []
    for c in (32, 64, 128):
        layers += [dict(kind="conv2d", units=c, kernel=3, padding=1), "relu",
                   dict(kind="avgpool", kernel=2)]
    m = d.Model(ctx, layers + ["flatten"], input_shape=(1, 28, 28))
    x = np.random.default_rng(0).random((256, 784), dtype=np.float32)
    dy = np.full((256, m.output_dim), 1e-3, np.float32)

    def step():
        m.forward(x, train=True)
        m.backward(dy, input_grad=False)
    return (ctx, m), step


def main():
    if len(sys.argv) < 3:
        print(__doc__)
        return 2
    rounds = int(sys.argv[3]) if len(sys.argv) > 3 else 15
    keep_a, a = convnet_step(load(sys.argv[1]))
    keep_b, b = convnet_step(load(sys.argv[2]))
    best = [float("inf"), float("inf")]
    a(), b()
    for _ in range(rounds):
        for k, step in enumerate((a, b)):
            t0 = time.perf_counter()
            step()
            best[k] = min(best[k], time.perf_counter() - t0)
    ia, ib = 256 / best[0], 256 / best[1]
    print(f"A {ia:.0f} img/s, B {ib:.0f} img/s, B/A {ib / ia:.3f}")
    print(json.dumps({"bench": "ab_convnet", "a_img_s": round(ia), "b_img_s": round(ib),
                      "b_over_a": round(ib / ia, 3)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
