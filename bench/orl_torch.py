"""Optional: one offline-RL distillation outer step, libdistill against
PyTorch's double backward, same run.

The step (docs/orl.md): CartPole data from the expert with epsilon 0.3 (100
episodes), m = 10 synthetic states in 2 action buckets, an MLP 4-32-32-2
(ReLU) freshly initialised (variant C), per bucket the BC loss (MSE of the
softmax against the one-hot action) on 256 real states and on the bucket's
synthetic states, the summed squared distance of the parameter gradients,
its gradient with respect to the states (PyTorch: create_graph and a
second backward; libdistill: distill_model_mixed_grad), and an Adam step
on the states.  One thread each; the two alternate so both see the same
machine; best and median of `rounds` blocks of 50 steps.

Usage: /usr/bin/python3 bench/orl_torch.py [rounds]; skipped (exit 0)
without Debian's python3-torch.  The last line is one JSON object."""
import json
import os
import sys
import time

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "python"))

try:
    import torch
except ImportError:
    print(json.dumps({"bench": "orl_torch", "skipped": "python3-torch is not installed"}))
    sys.exit(0)

import numpy as np  # noqa: E402

import distill  # noqa: E402

M, BATCH, STEPS = 10, 256, 50
ROUNDS = int(sys.argv[1]) if len(sys.argv) > 1 else 7
torch.set_num_threads(1)


def torch_solver(states, labels, x, y):
    """A closure doing STEPS outer steps the way the reference code does."""
    s = torch.tensor(states, requires_grad=True)
    lab = torch.tensor(labels, dtype=torch.long)
    real = [torch.tensor(x[y == a]) for a in (0, 1)]
    opt = torch.optim.Adam([s], lr=0.01)
    gen = torch.Generator().manual_seed(0)

    def bc(net, xs, a):
        p = torch.softmax(net(xs), dim=1)
        onehot = torch.nn.functional.one_hot(torch.full((xs.shape[0],), a), 2).float()
        return ((p - onehot) ** 2).mean()

    def run():
        for _ in range(STEPS):
            net = torch.nn.Sequential(torch.nn.Linear(4, 32), torch.nn.ReLU(), torch.nn.Linear(32, 32),
                                      torch.nn.ReLU(), torch.nn.Linear(32, 2))
            params = list(net.parameters())
            loss = 0.0
            for a in (0, 1):
                idx = torch.randperm(real[a].shape[0], generator=gen)[:BATCH]
                gr = torch.autograd.grad(bc(net, real[a][idx], a), params)
                gs = torch.autograd.grad(bc(net, s[lab == a], a), params, create_graph=True)
                loss = loss + sum(((u - v.detach()) ** 2).sum() for u, v in zip(gs, gr))
            opt.zero_grad()
            loss.backward()
            opt.step()
    return run


def main():
    ctx = distill.Context(seed=1, threads=1)
    env = distill.Env(ctx, "cartpole")
    _, _, data = env.rollout("expert", episodes=100, seed=1, epsilon=0.3, record=True)
    layers = [dict(kind="dense", units=32), "relu", dict(kind="dense", units=32), "relu",
              dict(kind="dense", units=2)]
    orl = distill.Orl(ctx, data, 2, layers, m=M, batch=BATCH, variant="reinit")
    x, y = data.get_range(0, len(data))
    torch_run = torch_solver(orl.states, orl.actions, x, y[:, 0].astype(np.int64))

    def ours():
        for _ in range(STEPS):
            orl.step()
    times = {"ours": [], "torch": []}
    ours(), torch_run()  # warm up
    for _ in range(ROUNDS):
        for name, fn in (("ours", ours), ("torch", torch_run)):
            t0 = time.perf_counter()
            fn()
            times[name].append((time.perf_counter() - t0) / STEPS * 1e3)
    best = {k: min(v) for k, v in times.items()}
    med = {k: float(np.median(v)) for k, v in times.items()}
    print(json.dumps({"bench": "orl_torch", "orl_step_ms": round(best["ours"], 4),
                      "torch_step_ms": round(best["torch"], 4),
                      "median_orl_step_ms": round(med["ours"], 4), "median_torch_step_ms": round(med["torch"], 4),
                      "speedup": round(best["torch"] / best["ours"], 2), "threads": 1,
                      "torch": torch.__version__}))


if __name__ == "__main__":
    main()
