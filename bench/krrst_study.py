"""Optional: KRR-ST in libdistill and in PyTorch from the same start, step by step.

Issue 15, item 1: the library's distilled set gains less over real images
than our PyTorch prototype's did.  This study takes one teacher (the
`distill krrst` one in build/study/teacher.dstl, trained if missing), its
targets for the source images (Fashion-MNIST classes 0-4), and one initial
subset (the library solver's), and distils it twice: with libdistill and
with the same algorithm written in PyTorch (torch's own initialisation,
random streams and kernels).  Every `--every` steps it logs, for both: the
mean outer loss of the stretch, how far the images moved (rms over pixels,
from the initial subset) and the held-out KRR error under the same four
fresh networks (the library's distill_krrst_heldout_error on 500 test
images of the source classes).  At the end both sets are evaluated with the
same transfer protocol (`distill transfer --set ...`: 5 seeds, paired, the
10-label linear probe on classes 5-9) beside A0 and B.

Usage: /usr/bin/python3 bench/krrst_study.py [--m 10] [--steps 4000]
[--lr 5e-3] [--every 500] [--seeds 5] [--seed 0]; skipped (exit 0) without
Debian's python3-torch.  The last line is one JSON object."""
import argparse
import json
import os
import sys
import time

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # two OpenMP users in one process take turns
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_common import same_blis_arch  # noqa: E402
same_blis_arch()  # before PyTorch's BLAS loads (libgomp reads the line above when it loads)
ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
sys.path.insert(0, os.path.join(ROOT, "python"))
sys.path.insert(0, os.path.join(ROOT, "scripts"))

try:
    import torch
except ImportError:
    print(json.dumps({"bench": "krrst_study", "skipped": "python3-torch is not installed"}))
    sys.exit(0)

import numpy as np  # noqa: E402

import distill  # noqa: E402
from cli_json import run  # noqa: E402
from krrst_torch import convnet  # noqa: E402  (the same network as the step bench)

BIN = os.environ.get("DISTILL_BIN", os.path.join(ROOT, "build", "rel", "bin", "distill"))
FMNIST = "/usr/share/datasets/fashion-mnist"
N, POOL, PERIOD, THREADS = 256, 4, 200, 2


def run_cli(*args):
    return run(BIN, "krrst_study", *args, "--threads", THREADS)


def source(ctx, train):
    part = "train" if train else "t10k"
    ds = distill.Dataset.from_idx(ctx, f"{FMNIST}/{part}-images-idx3-ubyte.gz",
                                  f"{FMNIST}/{part}-labels-idx1-ubyte.gz")
    out = ds.subset_classes([0, 1, 2, 3, 4])
    out.shape = (1, 28, 28)
    return out


class TorchKrrst:
    """The library's algorithm (docs/krrst.md) written the PyTorch way."""

    def __init__(self, real, targets, x0, y0, steps, lr, seed):
        self.real, self.targets = torch.from_numpy(real).view(-1, 1, 28, 28), torch.from_numpy(targets)
        self.m, self.k = x0.shape[0], targets.shape[1]
        self.x = torch.from_numpy(x0.copy()).view(-1, 1, 28, 28).requires_grad_(True)
        self.y = torch.from_numpy(y0.copy()).requires_grad_(True)
        self.opt = torch.optim.AdamW([self.x, self.y], lr=lr, weight_decay=0)
        self.sched = torch.optim.lr_scheduler.LambdaLR(self.opt, lambda t: 1 - (1 - 1e-3) * min(t, steps) / steps)
        self.gen = torch.Generator().manual_seed(seed)
        torch.manual_seed(seed)
        self.pool = [self.fresh() for _ in range(POOL)]
        for j in range(POOL):  # warm start: network j trained t0 in [1, T-1] steps, as the paper's pool
            for _ in range(1 + int(torch.randint(PERIOD - 1, (1,), generator=self.gen))):
                self.train_net(j)

    def fresh(self):
        f, h = convnet(), torch.nn.Linear(1152, self.k)
        opt = torch.optim.SGD(list(f.parameters()) + list(h.parameters()), lr=0.1, momentum=0.9, weight_decay=1e-3)
        return {"f": f, "h": h, "opt": opt, "t": 0}

    def train_net(self, j):
        net = self.pool[j]
        net["f"].train(), net["h"].train()
        net["opt"].zero_grad()
        torch.nn.functional.mse_loss(net["h"](net["f"](self.x.detach())), self.y.detach()).backward()
        net["opt"].step()
        net["t"] += 1

    def step(self):
        j = int(torch.randint(POOL, (1,), generator=self.gen))
        f = self.pool[j]["f"]
        idx = torch.randint(len(self.real), (N,), generator=self.gen)
        xr, yr = self.real[idx], self.targets[idx]
        f.eval()
        with torch.no_grad():
            fr = torch.cat([f(xr), torch.ones(N, 1)], 1)
        fs = torch.cat([f(self.x), torch.ones(self.m, 1)], 1)
        kss, krs = fs @ fs.T, fr @ fs.T
        lam = 1e-6 * torch.trace(kss).detach()
        a = torch.linalg.solve(kss + lam * torch.eye(self.m), self.y)
        loss = torch.nn.functional.mse_loss(krs @ a, yr)
        self.opt.zero_grad()
        loss.backward()
        self.opt.step()
        self.sched.step()
        if self.pool[j]["t"] < PERIOD:
            self.train_net(j)
        else:
            self.pool[j] = self.fresh()
        return loss.item()

    def images(self):
        return self.x.detach().numpy().reshape(self.m, -1).copy()

    def targets_now(self):
        return self.y.detach().numpy().copy()


def rms(a, b):
    return float(np.sqrt(np.mean((a - b) ** 2)))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--m", type=int, default=10)
    ap.add_argument("--steps", type=int, default=4000)
    ap.add_argument("--lr", type=float, default=5e-3)
    ap.add_argument("--every", type=int, default=500)
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=os.path.join(ROOT, "build", "study"))
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    teacher_path = os.path.join(args.out, "teacher.dstl")
    if not os.path.exists(teacher_path):  # the bench's teacher: supervised, 2 epochs
        run_cli("krrst", "--m", args.m, "--steps", 1, "--out", args.out)
    torch.set_num_threads(THREADS)
    log = []
    with distill.Context(seed=args.seed, threads=THREADS) as ctx:
        src, held = source(ctx, True), source(ctx, False)
        teacher = distill.Model.load(ctx, teacher_path)
        real = src.get_range(0, len(src))[0]
        targets = np.ascontiguousarray(teacher.infer(real), dtype=np.float32)
        ours = distill.Krrst(ctx, src, teacher, m=args.m, n=N, steps=args.steps, lr=args.lr,
                             pool_size=POOL, pool_period=PERIOD)
        x0, y0 = ours.images.reshape(args.m, -1).copy(), ours.targets.copy()
        print(f"initial targets from the solver vs teacher.infer: max diff "
              f"{np.abs(y0 - targets[ours.initial_indices]).max():.2e}", file=sys.stderr)
        ours.save(os.path.join(args.out, "initial.dstl"))
        theirs = TorchKrrst(real, targets, x0, y0, args.steps, args.lr, args.seed)
        h0 = ours.heldout_error(held, 500)
        done, t_ours, t_theirs = 0, 0.0, 0.0
        while done < args.steps:
            nxt = min(done + args.every, args.steps)
            t0 = time.perf_counter()
            lo = [ours.step() for _ in range(done, nxt)]
            t1 = time.perf_counter()
            lt = [theirs.step() for _ in range(done, nxt)]
            t_ours, t_theirs = t_ours + t1 - t0, t_theirs + time.perf_counter() - t1
            done = nxt
            xo, xt = ours.images.reshape(args.m, -1), theirs.images()
            row = {"step": done,
                   "loss": [round(float(np.mean(lo)), 5), round(float(np.mean(lt)), 5)],
                   "motion_rms": [round(rms(xo, x0), 4), round(rms(xt, x0), 4)],
                   "target_motion_rms": [round(rms(ours.targets, y0), 4), round(rms(theirs.targets_now(), y0), 4)],
                   "heldout_drop": [round(1 - ours.heldout_error(held, 500) / h0, 4),
                                    round(1 - ours.heldout_error(held, 500, images=xt,
                                                                 targets=theirs.targets_now()) / h0, 4)],
                   "pixel_range_torch": [round(float(xt.min()), 3), round(float(xt.max()), 3)]}
            log.append(row)
            print(json.dumps(row), file=sys.stderr)
        ours.save(os.path.join(args.out, "ours.dstl"))
        ours.set_synthetic(images=theirs.images(), targets=theirs.targets_now())
        ours.save(os.path.join(args.out, "torch.dstl"))
        ours.close()
    d = args.out
    a = run_cli("transfer", "--dir", d, "--set", os.path.join(d, "ours.dstl"), "--arms", "A,A0,B",
                "--seeds", args.seeds, "--finetune-steps", 0)
    t = run_cli("transfer", "--dir", d, "--set", os.path.join(d, "torch.dstl"), "--arms", "A",
                "--seeds", args.seeds, "--finetune-steps", 0)
    out = {"bench": "krrst_study", "m": args.m, "steps": args.steps, "lr": args.lr, "seed": args.seed,
           "ms_per_step": [round(1e3 * t_ours / args.steps, 1), round(1e3 * t_theirs / args.steps, 1)],
           "lp10_A_ours": a["lp10_A"], "lp10_A_ours_std": a["lp10_A_std"],
           "lp10_A_torch": t["lp10_A"], "lp10_A_torch_std": t["lp10_A_std"],
           "lp10_A0": a["lp10_A0"], "lp10_A0_std": a["lp10_A0_std"],
           "lp10_B": a["lp10_B"], "lp10_B_std": a["lp10_B_std"], "log": log}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
