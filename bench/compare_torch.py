"""Optional: PyTorch against libdistill in the same run.

- the KRR-ST loss + gradients (autograd through linalg.solve) at the shapes
  of bench_kernels;
- the generalized-distillation student step of bench_gd_fmnist (one thread);
- the networks of bench_nn: ConvNet-3 and the 784-512-512-10 MLP
  (forward + backward to parameters, batch 256), and the 10-64-64-2 policy
  at batch 1 (inference).  libdistill's figures come from running
  build/rel/bench/bench_nn in the same run.

Skipped (exit 0) when Debian's python3-torch is absent.

Usage: /usr/bin/python3 bench/compare_torch.py [threads]
The last line is one JSON object."""
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_common import same_blis_arch  # noqa: E402
same_blis_arch()  # before PyTorch's BLAS loads

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))

try:
    import torch
except ImportError:
    print(json.dumps({"bench": "compare_torch", "skipped": "python3-torch is not installed"}))
    sys.exit(0)

import numpy as np  # noqa: E402

import distill  # noqa: E402

THREADS = int(sys.argv[1]) if len(sys.argv) > 1 else 2
SHAPES = {"small": (100, 256, 1153, 128), "big": (1000, 1024, 8193, 512)}


def best_of(fn, reps):
    fn()
    best = float("inf")
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def torch_step(fs, ys, fr, yr):
    """The reference code's formulation: solve, mse_loss, autograd."""
    fs = fs.clone().requires_grad_(True)
    ys = ys.clone().requires_grad_(True)
    ones_s = torch.ones(fs.shape[0], 1)
    ones_r = torch.ones(fr.shape[0], 1)
    f1, r1 = torch.cat([fs, ones_s], 1), torch.cat([fr, ones_r], 1)
    kss, krs = f1 @ f1.T, r1 @ f1.T
    lam = 1e-6 * torch.trace(kss).detach()
    a = torch.linalg.solve(kss + lam * torch.eye(kss.shape[0]), ys)
    loss = torch.nn.functional.mse_loss(krs @ a, yr)
    loss.backward()
    return loss.item(), fs.grad, ys.grad


def torch_nets():
    """img/s of forward+backward (batch 256) and batch-1 inference in us."""
    nn = torch.nn
    conv = nn.Sequential(*[m for i, c in enumerate((32, 64, 128))
                           for m in (nn.Conv2d((1, 32, 64)[i], c, 3, padding=1), nn.ReLU(),
                                     nn.AvgPool2d(2))], nn.Flatten())
    mlp = nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(),
                        nn.Linear(512, 10))
    pol = nn.Sequential(nn.Linear(10, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(),
                        nn.Linear(64, 2)).eval()
    out = {}
    for name, net, x in (("convnet", conv, torch.rand(256, 1, 28, 28)),
                         ("mlp", mlp, torch.rand(256, 784))):
        def step():
            net.zero_grad()
            y = net(x)
            y.backward(torch.full_like(y, 1e-3))
        out[f"torch_{name}_fwdbwd_img_s"] = round(256 / best_of(step, 5 if name == "convnet" else 20))
    x1 = torch.rand(1, 10)
    with torch.no_grad():
        t = best_of(lambda: [pol(x1) for _ in range(1000)], 5)
    out["torch_mlp_b1_infer_us"] = round(t * 1e6 / 1000, 2)
    return out


def interleaved_convnet(rounds=12):
    """ConvNet-3 forward+backward, libdistill (through the binding) and
    PyTorch timed alternately, best of `rounds` each: both see the same
    machine state, which a shared machine otherwise does not give."""
    nn = torch.nn
    conv = nn.Sequential(*[m for i, c in enumerate((32, 64, 128))
                           for m in (nn.Conv2d((1, 32, 64)[i], c, 3, padding=1), nn.ReLU(),
                                     nn.AvgPool2d(2))], nn.Flatten())
    xt = torch.rand(256, 1, 28, 28)
    layers = []
    for c in (32, 64, 128):
        layers += [dict(kind="conv2d", units=c, kernel=3, padding=1), "relu",
                   dict(kind="avgpool", kernel=2)]
    with distill.Context(seed=0, threads=THREADS) as ctx:
        m = distill.Model(ctx, layers + ["flatten"], input_shape=(1, 28, 28))
        x = xt.numpy().reshape(256, -1).copy()
        dy = np.full((256, m.output_dim), 1e-3, np.float32)

        def ours():
            m.forward(x, train=True)
            m.backward(dy, input_grad=False)

        def theirs():
            conv.zero_grad()
            y = conv(xt)
            y.backward(torch.full_like(y, 1e-3))

        best = [float("inf"), float("inf")]
        ours(), theirs()
        for _ in range(rounds):
            for k, fn in enumerate((ours, theirs)):
                t0 = time.perf_counter()
                fn()
                best[k] = min(best[k], time.perf_counter() - t0)
        m.close()
    return 256 / best[0], 256 / best[1]


def ours_nets():
    import subprocess
    exe = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "build", "rel", "bench", "bench_nn")
    if not os.path.exists(exe):
        return {}
    res = subprocess.run([exe, str(THREADS)], capture_output=True, text=True, check=True)
    return json.loads(res.stdout.strip().splitlines()[-1])


def torch_gd_step_us(reps=5, steps=1000):
    """The generalized-distillation student step of bench_gd_fmnist in
    PyTorch: 49-20-20-10 ReLU MLP, batch 128, (1 - lam) CE + lam T^2 CE(s, p),
    backward, RMSprop; one thread.  Best of `reps` runs of `steps` steps."""
    nn = torch.nn
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(49, 20), nn.ReLU(), nn.Linear(20, 20), nn.ReLU(), nn.Linear(20, 10))
    opt = torch.optim.RMSprop(net.parameters(), lr=1e-3, alpha=0.9, eps=1e-6)
    x_all, y_all = torch.rand(1280, 49), torch.randint(0, 10, (1280,))
    s_all = torch.softmax(torch.randn(1280, 10) / 10.0, 1)
    lam, t = 0.5, 10.0

    def run():
        for i in range(steps):
            j = (i % 10) * 128
            logp = torch.log_softmax(net(x_all[j:j + 128]), 1)
            loss = ((1 - lam) * nn.functional.nll_loss(logp, y_all[j:j + 128])
                    - lam * t * t * (s_all[j:j + 128] * logp).sum(1).mean())
            opt.zero_grad()
            loss.backward()
            opt.step()
    best = best_of(run, reps) / steps * 1e6
    torch.set_num_threads(threads)
    return best


def ours_gd_step_us():
    import subprocess
    exe = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "build", "rel", "bench", "bench_gd_fmnist")
    if not os.path.exists(exe):
        return None
    res = subprocess.run([exe, "--step"], capture_output=True, text=True, check=True)
    return json.loads(res.stdout.strip().splitlines()[-1])["gd_step_us"]


def gd_step(rounds=3):
    """Ours (bench_gd_fmnist --step) and PyTorch's step alternately, the
    best of each: the same machine state for both."""
    ours, theirs = float("inf"), float("inf")
    for _ in range(rounds):
        o = ours_gd_step_us()
        if o is None:
            return {}
        ours, theirs = min(ours, o), min(theirs, torch_gd_step_us())
    print(f"GD student step (49-20-20-10, batch 128, 1 thread): libdistill {ours:.1f} us, "
          f"torch {theirs:.1f} us (libdistill {theirs / ours:.2f}x as fast)")
    return {"gd_step_us": round(ours, 2), "torch_gd_step_us": round(theirs, 2),
            "ratio_gd_step": round(theirs / ours, 2)}


def main():
    torch.set_num_threads(THREADS)
    out = {"bench": "compare_torch", "torch": torch.__version__, "threads": THREADS}
    with distill.Context(seed=0, threads=THREADS) as ctx:
        out["blis_arch"] = ctx.blis_arch
        rng = np.random.default_rng(0)
        for name, (m, n, d, k) in SHAPES.items():
            fs, ys = rng.standard_normal((m, d), np.float32), rng.standard_normal((m, k), np.float32)
            fr, yr = rng.standard_normal((n, d), np.float32), rng.standard_normal((n, k), np.float32)
            reps = 3 if name == "big" else 20
            t_ours = best_of(lambda: distill.krrst_loss_grad(ctx, fs, ys, fr, yr), reps)
            tt = [torch.from_numpy(x) for x in (fs, ys, fr, yr)]
            t_torch = best_of(lambda: torch_step(*tt), reps)
            ours = distill.krrst_loss_grad(ctx, fs, ys, fr, yr)
            ref = torch_step(*tt)
            rel = float(np.max(np.abs(ours[1] - ref[1].numpy())) / np.max(np.abs(ref[1].numpy())))
            print(f"{name:5s} (m,n,d,k)={m, n, d, k}: libdistill {1e3 * t_ours:8.1f} ms, "
                  f"torch {1e3 * t_torch:8.1f} ms, speed-up {t_torch / t_ours:5.2f}x, "
                  f"dFs rel diff {rel:.1e}")
            out[f"krr_{name}_ms"] = round(1e3 * t_ours, 2)
            out[f"torch_{name}_ms"] = round(1e3 * t_torch, 2)
            out[f"speedup_{name}"] = round(t_torch / t_ours, 2)
    ours, theirs = ours_nets(), torch_nets()
    a, b = interleaved_convnet()
    out["interleaved_convnet_img_s"] = round(a)
    out["interleaved_torch_convnet_img_s"] = round(b)
    out["interleaved_ratio_convnet"] = round(a / b, 2)
    print(f"ConvNet-3 interleaved: libdistill {a:.0f} img/s, torch {b:.0f} img/s "
          f"(libdistill {a / b:.2f}x as fast)")
    out.update(theirs)
    for key in ("convnet_fwdbwd_img_s", "mlp_fwdbwd_img_s", "mlp_b1_infer_us"):
        if key in ours:
            out[key] = ours[key]
            ratio = (ours[key] / theirs["torch_" + key] if key.endswith("img_s")
                     else theirs["torch_" + key] / ours[key])
            out["ratio_" + key] = round(ratio, 2)
            print(f"{key}: libdistill {ours[key]}, torch {theirs['torch_' + key]} "
                  f"(libdistill {ratio:.2f}x as fast)")
    out.update(gd_step())
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import krrst_torch
    k = krrst_torch.measure(12, processes=0)
    out.update(krrst_step_ms=k["step_ms"], torch_krrst_step_ms=k["torch_step_ms"],
               torch_alone_krrst_step_ms=k["torch_alone_step_ms"], ratio_krrst_step=k["ratio_mean"])
    print(f"KRR-ST outer step: libdistill {k['step_ms']} ms, torch {k['torch_step_ms']} ms "
          f"(alone {k['torch_alone_step_ms']} ms): libdistill {k['ratio_mean']}x as fast")
    print(json.dumps(out))


if __name__ == "__main__":
    main()
