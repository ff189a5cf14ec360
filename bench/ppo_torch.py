"""Optional: PPO on CartPole, libdistill against a single-file PyTorch PPO
of the same shape, same run.

Both sides: 8 CartPole-v1 envs side by side (the PyTorch side steps its
own vectorised numpy copy of Gymnasium's equations), 128 steps each per
iteration, an actor-critic MLP 4-64-64-(2 logits + value) with tanh, GAE
(0.99, 0.95), normalised advantages, 4 epochs x 4 minibatches of the
clipped surrogate (0.2), value coefficient 0.01, Adam 3e-3, global-norm
clipping 0.5.  One thread each; the two alternate in blocks of
`iterations` so both see the same machine.  Reported: env steps per second
(collection and updates together), median over `rounds` blocks, and ours /
PyTorch's.

Usage: /usr/bin/python3 bench/ppo_torch.py [rounds] [iterations]; skipped
(exit 0) without Debian's python3-torch.  The last line is one JSON object."""
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_common import torch_or_skip  # noqa: E402

torch = torch_or_skip("ppo_torch")

import numpy as np  # noqa: E402

import distill  # noqa: E402

ROUNDS = int(sys.argv[1]) if len(sys.argv) > 1 else 5
ITERS = int(sys.argv[2]) if len(sys.argv) > 2 else 10
ENVS, STEPS, EPOCHS, MINIBATCHES = 8, 128, 4, 4


class CartPoles:
    """CartPole-v1 (Euler, Gymnasium's constants), n copies in numpy."""

    def __init__(self, n, rng):
        self.n, self.rng = n, rng
        self.s = rng.uniform(-0.05, 0.05, (n, 4))
        self.t = np.zeros(n, np.int64)

    def step(self, a):
        x, xd, th, thd = self.s.T
        force = np.where(a == 1, 10.0, -10.0)
        c, sn = np.cos(th), np.sin(th)
        temp = (force + 0.05 * thd ** 2 * sn) / 1.1
        tha = (9.8 * sn - c * temp) / (0.5 * (4.0 / 3.0 - 0.1 * c ** 2 / 1.1))
        xa = temp - 0.05 * tha * c / 1.1
        self.s = np.stack([x + 0.02 * xd, xd + 0.02 * xa, th + 0.02 * thd, thd + 0.02 * tha], 1)
        self.t += 1
        done = (np.abs(self.s[:, 0]) > 2.4) | (np.abs(self.s[:, 2]) > 0.2094395) | (self.t >= 500)
        k = int(done.sum())
        if k:
            self.s[done] = self.rng.uniform(-0.05, 0.05, (k, 4))
            self.t[done] = 0
        return self.s.astype(np.float32), np.ones(self.n, np.float32), done


def torch_ppo():
    """A closure running ITERS iterations of PyTorch PPO; returns env steps."""
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(4, 64), torch.nn.Tanh(), torch.nn.Linear(64, 64), torch.nn.Tanh(),
                              torch.nn.Linear(64, 3))
    opt = torch.optim.Adam(net.parameters(), lr=3e-3, eps=1e-5)
    envs = CartPoles(ENVS, np.random.default_rng(0))
    obs = envs.s.astype(np.float32)

    def run():
        nonlocal obs
        steps = 0
        for _ in range(ITERS):
            bo, ba, bl, bv, br, bd = [], [], [], [], [], []
            with torch.no_grad():
                for _ in range(STEPS):
                    out = net(torch.from_numpy(obs))
                    dist = torch.distributions.Categorical(logits=out[:, :2])
                    a = dist.sample()
                    bo.append(obs), ba.append(a), bl.append(dist.log_prob(a)), bv.append(out[:, 2])
                    obs, r, d = envs.step(a.numpy())
                    br.append(torch.from_numpy(r)), bd.append(torch.from_numpy(d.astype(np.float32)))
                    steps += ENVS
                nv = net(torch.from_numpy(obs))[:, 2]
                adv = torch.zeros(STEPS, ENVS)
                gae = torch.zeros(ENVS)
                for k in reversed(range(STEPS)):
                    live = 1.0 - bd[k]
                    delta = br[k] + 0.99 * nv * live - bv[k]
                    gae = delta + 0.99 * 0.95 * live * gae
                    adv[k], nv = gae, bv[k]
                ret = (adv + torch.stack(bv)).reshape(-1)
                adv = adv.reshape(-1)
                adv = (adv - adv.mean()) / (adv.std() + 1e-8)
            o = torch.from_numpy(np.concatenate(bo))
            act, logp = torch.cat(ba), torch.cat(bl)
            n = o.shape[0]
            for _ in range(EPOCHS):
                perm = torch.randperm(n)
                for idx in perm.chunk(MINIBATCHES):
                    out = net(o[idx])
                    dist = torch.distributions.Categorical(logits=out[:, :2])
                    ratio = torch.exp(dist.log_prob(act[idx]) - logp[idx])
                    pg = -torch.min(ratio * adv[idx], ratio.clamp(0.8, 1.2) * adv[idx]).mean()
                    loss = pg + 0.01 * 0.5 * ((out[:, 2] - ret[idx]) ** 2).mean()
                    opt.zero_grad()
                    loss.backward()
                    torch.nn.utils.clip_grad_norm_(net.parameters(), 0.5)
                    opt.step()
        return steps
    return run


def ours():
    """The same with distill.Ppo on the library's CartPole; returns env steps."""
    ctx = distill.Context(seed=0, threads=1)
    env = distill.Env(ctx, "cartpole")
    layers = [dict(kind="dense", units=64, init="orthogonal", init_gain=1.414), dict(kind="tanh"),
              dict(kind="dense", units=64, init="orthogonal", init_gain=1.414), dict(kind="tanh"),
              dict(kind="dense", units=3, init="orthogonal", init_gain=0.01)]
    model = distill.Model(ctx, layers, input_shape=(4,))
    ppo = distill.Ppo(ctx, env, model, optimizer="adam", lr=3e-3, envs=ENVS, steps=STEPS, epochs=EPOCHS,
                      minibatches=MINIBATCHES, clip=0.2, entropy=0.0, max_grad_norm=0.5, value_coef=0.01,
                      **{"lambda": 0.95})

    def run():
        before = ppo.iterations
        ppo.run(before + ITERS)
        return ITERS * ENVS * STEPS
    return run


def main():
    runs = {"torch": torch_ppo(), "ours": ours()}
    rates = {k: [] for k in runs}
    for _ in range(ROUNDS):
        for name, fn in runs.items():
            t0 = time.perf_counter()
            n = fn()
            rates[name].append(n / (time.perf_counter() - t0))
    med = {k: float(np.median(v)) for k, v in rates.items()}
    print(json.dumps({"bench": "ppo_torch", "torch_steps_s": round(med["torch"]),
                      "ppo_cartpole_steps_s": round(med["ours"]),
                      "speedup_vs_torch": round(med["ours"] / med["torch"], 2), "rounds": ROUNDS,
                      "iterations": ITERS}))


if __name__ == "__main__":
    main()
