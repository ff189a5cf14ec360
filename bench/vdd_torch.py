"""Optional: the VDD student's act against PyTorch's 8-step Euler sampler of
the same teacher network, same run.

The teacher is the library's EDM denoiser on Avoid (docs/vdd.md): an MLP
(2 + 2 + 1) -> 3 x (128, Mish) -> 2, the EDM preconditioning, Karras'
schedule (sigma 10 .. 0.002, rho 7), 8 Euler steps at batch 1, in PyTorch
(no_grad, one thread).  The student is a mixture of 12 experts as `distill
vdd` makes it (2 x 64 backbone, full covariance, a 2 x 64 gating), timed by
`bench_vdd --latency` in C: the act a controller calls, on the quietest core
(it pins itself), where PyTorch is then pinned too.  The two alternate in
whole processes so both see the same machine; medians of `rounds`.

Usage: /usr/bin/python3 bench/vdd_torch.py [rounds]; skipped (exit 0)
without Debian's python3-torch.  The last line is one JSON object with
torch_sampler_us, student_act_us and their ratio."""
import json
import math
import os
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "python"))

try:
    import torch
except ImportError:
    print(json.dumps({"bench": "vdd_torch", "skipped": "python3-torch is not installed"}))
    sys.exit(0)

import numpy as np  # noqa: E402

import distill  # noqa: E402

ROUNDS = int(sys.argv[1]) if len(sys.argv) > 1 else 5
BENCH = os.environ.get("BENCH_VDD", os.path.join(HERE, "..", "build", "rel", "bench", "bench_vdd"))
torch.set_num_threads(1)


class Denoiser(torch.nn.Module):
    """The library's denoiser in PyTorch (random weights: the timing is the point)."""

    def __init__(self, obs_dim=2, action_dim=2, hidden=128, layers=3, sigma_data=0.0224):
        super().__init__()
        dims = [action_dim + obs_dim + 1] + [hidden] * layers
        mods = []
        for a, b in zip(dims[:-1], dims[1:]):
            mods += [torch.nn.Linear(a, b), torch.nn.Mish()]
        self.f = torch.nn.Sequential(*mods, torch.nn.Linear(hidden, action_dim))
        self.sd = sigma_data

    def forward(self, a, s, sigma):
        v = sigma * sigma + self.sd * self.sd
        c_skip, c_out, c_in = self.sd ** 2 / v, sigma * self.sd / math.sqrt(v), 1 / math.sqrt(v)
        noise = torch.full((a.shape[0], 1), math.log(sigma) / 4)
        return c_skip * a + c_out * self.f(torch.cat([c_in * a, s, noise], 1))


def karras(steps=8, lo=0.002, hi=10.0, rho=7.0):
    r = [(hi ** (1 / rho) + i / (steps - 1) * (lo ** (1 / rho) - hi ** (1 / rho))) ** rho for i in range(steps)]
    return r + [0.0]


def torch_sampler_us(net, reps=400):
    sig = karras()
    s = torch.zeros(1, 2)
    times = []
    with torch.no_grad():
        for _ in range(reps):
            t0 = time.perf_counter()
            x = torch.randn(1, 2) * sig[0]
            for i in range(8):
                d = (x - net(x, s, sig[i])) / sig[i]
                x = x + (sig[i + 1] - sig[i]) * d
            times.append(time.perf_counter() - t0)
    return 1e6 * float(np.median(times))


def student_file(path):
    """An untrained student of the usual shape, saved (timing does not depend on the weights)."""
    with distill.Context(seed=0, threads=1) as ctx:
        teacher = distill.Diffusion.from_score(ctx, lambda a, s, sigma: -a, 2, 2)
        demos = distill.Dataset.from_numpy(ctx, np.zeros((4, 2), np.float32), np.zeros((4, 2), np.float32))
        distill.Vdd(ctx, teacher, demos, experts=12).policy("sample").save(path)


def main():
    if not os.path.exists(BENCH):
        print(json.dumps({"bench": "vdd_torch", "skipped": f"{BENCH} is not built (make bench)"}))
        return 0
    net = Denoiser().eval()
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "student.dstl")
        student_file(path)
        ours, theirs = [], []
        allowed = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else None
        for _ in range(ROUNDS):
            out = subprocess.run([BENCH, "--latency", path], capture_output=True, text=True, check=True)
            ours_json = json.loads(out.stdout.strip().splitlines()[-1])
            ours.append(ours_json["student_act_us"])
            core = ours_json.get("act_core", -1)
            if allowed is not None and core in allowed:  # the core ours was timed on
                os.sched_setaffinity(0, {core})
            theirs.append(torch_sampler_us(net))
            if allowed is not None:
                os.sched_setaffinity(0, allowed)
    o, t = float(np.median(ours)), float(np.median(theirs))
    print(json.dumps({"bench": "vdd_torch", "torch_sampler_us": round(t, 2), "student_act_us": round(o, 3),
                      "speedup_vs_torch_sampler": round(t / o, 1), "rounds": ROUNDS}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
