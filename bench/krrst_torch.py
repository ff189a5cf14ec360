"""Optional: one KRR-ST outer step, libdistill against PyTorch, same run.

The step (docs/krrst.md): features of n = 256 real and m = 100 synthetic
1x28x28 images through ConvNet-3 32-64-128 with batch norm (eval mode), the
KRR loss with k = 128 targets, gradients to the images and targets, an
AdamW update, and the pool update (one full-batch SGD step of the network
and a linear head, train mode).  Teacher targets are precomputed on both
sides.  PyTorch gets oneDNN convolutions and, for its BLAS, the BLIS
sub-configuration libdistill chose (torch_common.same_blis_arch); 2
threads.  Each side first runs WARMUP untimed steps, so that every pool
network has almost surely run once.  The two steps alternate so
both see the same machine; best and mean of `rounds` each.  Then each side
alone in its own process, the processes alternating for 4 rounds of 12
steps (`proc_*`, medians over the rounds): the figure `bench_krrst` takes,
since one process's "alone" phases come minutes apart on a machine whose
speed drifts by a quarter, and alternating steps in one process share an
OpenMP runtime whose idle threads spin.

Usage: /usr/bin/python3 bench/krrst_torch.py [rounds]; skipped (exit 0)
without Debian's python3-torch.  The last line is one JSON object."""
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_common import same_blis_arch  # noqa: E402
same_blis_arch()  # before PyTorch's BLAS loads
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))

try:
    import torch
except ImportError:
    print(json.dumps({"bench": "krrst_torch", "skipped": "python3-torch is not installed"}))
    sys.exit(0)

import numpy as np  # noqa: E402

import distill  # noqa: E402

M, N, K, THREADS = 100, 256, 128, 2
POOL = 4
# Steps run untimed before each side is measured, so that every pool network
# has been picked at least once (with 4 networks, 12 picks miss one with
# probability 4 (3/4)^12 = 0.13; 24 with 0.004): a network's first step on
# either side allocates its buffers, which a distillation of thousands of
# steps pays once.
WARMUP = 6 * POOL


def convnet():
    layers = []
    for i, c in enumerate((32, 64, 128)):
        layers += [torch.nn.Conv2d((1, 32, 64)[i], c, 3, padding=1), torch.nn.BatchNorm2d(c),
                   torch.nn.ReLU(), torch.nn.AvgPool2d(2)]
    return torch.nn.Sequential(*layers, torch.nn.Flatten())


class TorchKrrst:
    def __init__(self, real, targets):
        self.real, self.targets = torch.from_numpy(real).view(-1, 1, 28, 28), torch.from_numpy(targets)
        self.x = self.real[:M].clone().requires_grad_(True)
        self.y = self.targets[:M].clone().requires_grad_(True)
        self.opt = torch.optim.AdamW([self.x, self.y], lr=1e-3, weight_decay=0)
        self.pool = []
        for _ in range(POOL):
            f, h = convnet(), torch.nn.Linear(1152, K)
            self.pool.append((f, h, torch.optim.SGD(list(f.parameters()) + list(h.parameters()),
                                                    lr=0.1, momentum=0.9, weight_decay=1e-3)))
        self.gen = torch.Generator().manual_seed(0)

    def step(self):
        f, h, popt = self.pool[int(torch.randint(POOL, (1,), generator=self.gen))]
        idx = torch.randint(len(self.real), (N,), generator=self.gen)
        xr, yr = self.real[idx], self.targets[idx]
        f.eval()
        with torch.no_grad():
            fr = torch.cat([f(xr), torch.ones(N, 1)], 1)
        fs = torch.cat([f(self.x), torch.ones(M, 1)], 1)
        kss, krs = fs @ fs.T, fr @ fs.T
        lam = 1e-6 * torch.trace(kss).detach()
        a = torch.linalg.solve(kss + lam * torch.eye(M), self.y)
        loss = torch.nn.functional.mse_loss(krs @ a, yr)
        self.opt.zero_grad()
        loss.backward()
        self.opt.step()
        f.train(), h.train()
        popt.zero_grad()
        torch.nn.functional.mse_loss(h(f(self.x.detach())), self.y.detach()).backward()
        popt.step()
        return loss.item()


def data():
    """The real images and their precomputed targets, the same on both sides."""
    rng = np.random.default_rng(0)
    real = rng.random((5000, 784), dtype=np.float32)
    return real, rng.standard_normal((5000, K)).astype(np.float32) * 0.1


def our_solver(ctx, real, targets):
    ds = distill.Dataset.from_numpy(ctx, real)
    ds.shape = (1, 28, 28)
    return distill.Krrst(ctx, ds, targets, m=M, n=N, pool_size=POOL, pool_period=200)


def timed(step, count, warmup=WARMUP):
    """`warmup` untimed steps, then the seconds of each of `count`."""
    for _ in range(warmup):
        step()
    times = []
    for _ in range(count):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    return times


def side_main(side, steps):
    """One side alone in this process (`--side torch|ours STEPS`): WARMUP
    untimed steps, then STEPS timed; the last line is one JSON object."""
    torch.set_num_threads(THREADS)
    real, targets = data()
    if side == "torch":
        times = timed(TorchKrrst(real, targets).step, steps)
    else:
        with distill.Context(seed=0, threads=THREADS) as ctx:
            ours = our_solver(ctx, real, targets)
            times = timed(ours.step, steps)
            ours.close()
    print(json.dumps({"side": side, "mean_ms": round(1e3 * float(np.mean(times)), 2),
                      "best_ms": round(1e3 * min(times), 2)}))


def alternate_processes(rounds=4, steps=12):
    """Each side alone in its own process, the two alternating (torch first
    in even rounds, libdistill first in odd ones): no shared OpenMP runtime
    or BLIS between them, and the machine's slow drifts fall on both.  The
    median over the rounds of each process's mean step."""
    per = {"torch": [], "ours": []}
    for r in range(rounds):
        for side in (("torch", "ours") if r % 2 == 0 else ("ours", "torch")):
            res = subprocess.run([sys.executable, os.path.abspath(__file__), "--side", side, str(steps)],
                                 capture_output=True, text=True, check=True)
            per[side].append(json.loads(res.stdout.strip().splitlines()[-1])["mean_ms"])
    return {"proc_step_ms": round(float(np.median(per["ours"])), 2),
            "proc_torch_step_ms": round(float(np.median(per["torch"])), 2),
            "proc_rounds_ms": per["ours"], "proc_torch_rounds_ms": per["torch"]}


def measure(rounds=20, processes=4):
    """The figures as a dict (see the module's doc); `processes` rounds of
    alternating whole processes (0: none)."""
    torch.set_num_threads(THREADS)
    real, targets = data()
    ours_t, theirs_t = [], []
    theirs = TorchKrrst(real, targets)
    alone_t = timed(theirs.step, rounds)  # PyTorch alone first, before libdistill's solver exists
    with distill.Context(seed=0, threads=THREADS) as ctx:
        blis_arch = ctx.blis_arch
        ours = our_solver(ctx, real, targets)
        ours_alone_t = timed(ours.step, rounds)  # libdistill alone
        for _ in range(rounds):
            for fn, acc in ((ours.step, ours_t), (theirs.step, theirs_t)):
                t0 = time.perf_counter()
                fn()
                acc.append(time.perf_counter() - t0)
        ours.close()
    out = {"bench": "krrst_torch", "torch": torch.__version__, "threads": THREADS,
           "blis_arch_env": os.environ.get("BLIS_ARCH_TYPE"), "blis_arch": blis_arch,
           "step_ms": round(1e3 * float(np.mean(ours_t)), 2),
           "step_ms_best": round(1e3 * min(ours_t), 2),
           "torch_step_ms": round(1e3 * float(np.mean(theirs_t)), 2),
           "torch_step_ms_best": round(1e3 * min(theirs_t), 2),
           "torch_alone_step_ms": round(1e3 * float(np.mean(alone_t)), 2),
           "torch_alone_step_ms_best": round(1e3 * min(alone_t), 2),
           "alone_step_ms": round(1e3 * float(np.mean(ours_alone_t)), 2),
           "alone_step_ms_best": round(1e3 * min(ours_alone_t), 2)}
    out["ratio_alone"] = round(out["torch_alone_step_ms"] / out["alone_step_ms"], 2)
    out["ratio_mean"] = round(out["torch_step_ms"] / out["step_ms"], 2)
    if processes > 0:
        out.update(alternate_processes(processes))
        out["ratio_processes"] = round(out["proc_torch_step_ms"] / out["proc_step_ms"], 2)
    return out


def main():
    if len(sys.argv) > 3 and sys.argv[1] == "--side" and sys.argv[2] in ("torch", "ours"):
        side_main(sys.argv[2], int(sys.argv[3]))
        return
    out = measure(int(sys.argv[1]) if len(sys.argv) > 1 else 20)
    print(f"KRR-ST outer step (m={M}, n={N}, k={K}, ConvNet-3 + BN, pool update): libdistill "
          f"{out['step_ms']} ms (best {out['step_ms_best']}), PyTorch {out['torch_step_ms']} ms "
          f"(best {out['torch_step_ms_best']}; alone {out['torch_alone_step_ms']}, best "
          f"{out['torch_alone_step_ms_best']}): libdistill {out['ratio_mean']}x as fast alternating; "
          f"alone {out['alone_step_ms']} ms vs {out['torch_alone_step_ms']} ms: {out['ratio_alone']}x; "
          f"alternating processes {out['proc_step_ms']} ms vs {out['proc_torch_step_ms']} ms: "
          f"{out['ratio_processes']}x")
    print(json.dumps(out))


if __name__ == "__main__":
    main()
