"""Modulating masks: lifelong RL on a fixed random backbone, one mask per
task, shared between agents (mask.h, rl.h; docs/masks.md).

    net = distill.Masknet(ctx, inputs=64, outputs=4, compose="lc")
    envs = [distill.Env(ctx, "ctgraph", goal=g) for g in range(4)]
    agent = distill.Lifelong(ctx, net, envs, task_iterations=40, ppo=dict(lr=1e-3))
    while not agent.done:
        agent.step()
    bits = net.encode(0)                  # task 0's mask, 1 bit per weight
    other.decode(0, bits)                 # another agent's net: the same function
"""
import ctypes

import numpy as np

from ._lib import (lib, MasknetOptions, MaskMeta, NetworkVtable, PpoOptions, PpoStats, ShareOptions, ShareStats,
                   LifelongOptions, SHARE_SEND_FN)
from .core import Handle, _path
from .kernels import _p
from .krrst import _options
from .rl import Policy, _MODES

BINARIZE = {"threshold": 0, "continuous": 1, "topk": 2}
COMPOSE = {"ri": 0, "lc": 1, "blc": 2}
PAYLOAD = {"bits": 0, "f16": 1, "f32": 2}
OPTIMIZERS = {"rmsprop": 3, "adam": 1}


def _stats(st):
    return {name: getattr(st, name) for name, _ in PpoStats._fields_ if name != "struct_size"}


class Masknet(Handle):
    """Masknet(ctx, inputs, outputs, **options): bias-free layers on a frozen
    signed-constant backbone; one score tensor per task.  Options: hidden,
    layers, max_tasks, task_input, backbone_seed, topk, binarize
    ("threshold", "continuous", "topk") and compose ("ri", "lc", "blc")."""

    _destroy = lib.distill_masknet_destroy

    def __init__(self, ctx, inputs=None, outputs=None, binarize="threshold", compose="ri", _handle=None,
                 **options):
        self.ctx = ctx
        if _handle is not None:
            self._handle = _handle
            return
        o = _options(MasknetOptions, lib.distill_masknet_options_init, "masknet", options)
        o.inputs, o.outputs, o.binarize, o.compose = int(inputs), int(outputs), BINARIZE[binarize], COMPOSE[compose]
        self._handle = ctypes.c_void_p()
        ctx.check(lib.distill_masknet_create(ctx.handle, ctypes.byref(o), ctypes.byref(self._handle)))

    @classmethod
    def load(cls, ctx, path):
        """A net saved by save (every task, the one in training too)."""
        out = ctypes.c_void_p()
        ctx.check(lib.distill_masknet_load(ctx.handle, _path(path), ctypes.byref(out)))
        return cls(ctx, _handle=out)

    def save(self, path):
        """The whole net in the container format (atomically replaced)."""
        self.ctx.check(lib.distill_masknet_save(self._handle, _path(path)))

    @property
    def inputs(self):
        """Observation values (the task label is added inside)."""
        return lib.distill_masknet_input_dim(self._handle)

    @property
    def outputs(self):
        """Outputs per row."""
        return lib.distill_masknet_output_dim(self._handle)

    @property
    def mask_count(self):
        """Mask entries per task."""
        return lib.distill_masknet_mask_count(self._handle)

    @property
    def backbone_hash(self):
        """CRC32 of the shapes and the backbone's signs."""
        return lib.distill_masknet_backbone_hash(self._handle)

    @property
    def tasks(self):
        """Tasks held (learned or in training)."""
        return lib.distill_masknet_tasks(self._handle)

    @property
    def training_task(self):
        """The slot in training, or -1."""
        return lib.distill_masknet_training_task(self._handle)

    def learned(self, t):
        """1 learned, 0 in training, -1 not held."""
        return lib.distill_masknet_task_learned(self._handle, t)

    def add_task(self, t):
        """Start slot t as the task in training."""
        self.ctx.check(lib.distill_masknet_add_task(self._handle, t))

    def consolidate(self):
        """End the task in training; it never changes again."""
        self.ctx.check(lib.distill_masknet_consolidate(self._handle))

    def _view(self, fn):
        n = lib.distill_masknet_param_count(self._handle)
        if n == 0:
            raise ValueError("no task is in training")
        a = np.ctypeslib.as_array(fn(self._handle), shape=(n,))
        a.flags.writeable = fn is lib.distill_masknet_params
        return _Owned(a, self)

    @property
    def params(self):
        """The training task's block (scores, then beta rows): a view kept valid by the net."""
        return self._view(lib.distill_masknet_params)

    @property
    def grads(self):
        """The training block's gradient (read-only view)."""
        return self._view(lib.distill_masknet_grads)

    def forward(self, t, x):
        """Outputs (n, outputs) of task t for observations x (n, inputs)."""
        x = np.ascontiguousarray(x, dtype=np.float32).reshape(-1, self.inputs)
        y = np.empty((x.shape[0], self.outputs), np.float32)
        self.ctx.check(lib.distill_masknet_forward(self._handle, t, x.shape[0], _p(x), x.shape[1], _p(y),
                                                   y.shape[1]))
        return y

    def backward(self, dy, accumulate=False):
        """Gradient of sum(dy . y) of the last forward (the task in training) into grads; returns dL/dx."""
        dy = np.ascontiguousarray(dy, dtype=np.float32).reshape(-1, self.outputs)
        dx = np.empty((dy.shape[0], self.inputs), np.float32)
        self.ctx.check(lib.distill_masknet_backward(self._handle, _p(dy), dy.shape[1], _p(dx), dx.shape[1],
                                                    int(bool(accumulate))))
        return dx

    def infer(self, t, x):
        """Outputs of a learned task through the allocation-free path."""
        x = np.ascontiguousarray(x, dtype=np.float32).reshape(-1, self.inputs)
        n = x.shape[0]
        size = ctypes.c_size_t()
        self.ctx.check(lib.distill_masknet_workspace_size(self._handle, n, ctypes.byref(size)))
        ws = ctypes.create_string_buffer(size.value)
        y = np.empty((n, self.outputs), np.float32)
        self.ctx.check(lib.distill_masknet_infer(self._handle, t, ws, size.value, n, _p(x), x.shape[1], _p(y),
                                                 y.shape[1]))
        return y

    def policy(self, t, n_actions, mode="greedy", temperature=1.0):
        """Learned task t as a deployable Policy on its first n_actions outputs."""
        out = ctypes.c_void_p()
        self.ctx.check(lib.distill_masknet_policy(self._handle, t, n_actions, _MODES[mode], temperature,
                                                  ctypes.byref(out)))
        return Policy(self.ctx, out)

    def encode(self, t, payload="bits", reward=0.0, sender=0, task_seq=0, embedding=()):
        """Task t's mask as a message (bytes)."""
        m = MaskMeta()
        lib.distill_mask_meta_init(ctypes.byref(m))
        m.payload, m.reward, m.sender, m.task_seq = PAYLOAD[payload], reward, sender, task_seq
        e = np.asarray(embedding, dtype=np.float32).ravel()
        if e.size > 256:
            raise ValueError("an embedding of at most 256 values")
        m.emb_dim = e.size
        m.embedding[:e.size] = e.tolist()
        n = ctypes.c_size_t()
        self.ctx.check(lib.distill_masknet_encode(self._handle, t, ctypes.byref(m), None, 0, ctypes.byref(n)))
        buf = ctypes.create_string_buffer(n.value)
        self.ctx.check(lib.distill_masknet_encode(self._handle, t, ctypes.byref(m), buf, n.value, ctypes.byref(n)))
        return buf.raw[:n.value]

    def decode(self, t, message):
        """Install a message's mask as task t; returns its header as a dict."""
        m = MaskMeta()
        lib.distill_mask_meta_init(ctypes.byref(m))
        b = bytes(message)
        self.ctx.check(lib.distill_masknet_decode(self._handle, t, b, len(b), ctypes.byref(m)))
        return {"payload": m.payload, "reward": m.reward, "sender": m.sender, "task_seq": m.task_seq,
                "consolidated": bool(m.consolidated), "embedding": list(m.embedding[:m.emb_dim])}

    def network(self):
        """The task in training as a PPO network (take it again after add_task)."""
        v = NetworkVtable()
        self.ctx.check(lib.distill_masknet_network(self._handle, ctypes.byref(v)))
        return v


class _Owned(np.ndarray):
    """An array view that keeps its owner (a handle) alive."""

    def __new__(cls, a, owner):
        obj = a.view(cls)
        obj._owner = owner
        return obj

    def __array_finalize__(self, obj):
        self._owner = getattr(obj, "_owner", None)


def _ppo_options(options):
    opt = options.pop("optimizer", "rmsprop")
    if "lambda" in options:
        options["lambda_"] = options.pop("lambda")
    o = _options(PpoOptions, lib.distill_ppo_options_init, "PPO", options)
    o.optimizer = OPTIMIZERS[opt]
    return o


class Ppo(Handle):
    """Ppo(ctx, env, network, **options): PPO on a discrete env; network is a
    Model (its outputs: the actions' logits, then the value) or a Masknet
    (its task in training).  Options: optimizer ("rmsprop", "adam"), envs,
    steps, epochs, minibatches, lr, gamma, lambda, clip, entropy,
    value_coef, max_grad_norm, seed."""

    _destroy = lib.distill_ppo_destroy

    def __init__(self, ctx, env, network, **options):
        self.ctx, self._keep = ctx, [env, network]
        o = _ppo_options(dict(options))
        self._handle = ctypes.c_void_p()
        if isinstance(network, Masknet):
            v = network.network()
            ctx.check(lib.distill_ppo_create(ctx.handle, ctypes.byref(o), env._handle, ctypes.byref(v),
                                             ctypes.byref(self._handle)))
        else:
            ctx.check(lib.distill_ppo_create_model(ctx.handle, ctypes.byref(o), env._handle, network._handle,
                                                   ctypes.byref(self._handle)))

    def step(self):
        """One iteration; its statistics as a dict."""
        st = PpoStats()
        st.struct_size = ctypes.sizeof(st)
        self.ctx.check(lib.distill_ppo_step(self._handle, ctypes.byref(st)))
        return _stats(st)

    def run(self, until):
        """Iterations until `until` are done (progress, cancellation)."""
        self.ctx.check(lib.distill_ppo_run(self._handle, until))
        return self

    def retarget(self, env=None, masknet=None):
        """A new task: another env and/or the masknet's new task in training."""
        v = masknet.network() if masknet is not None else None
        self._keep += [env, masknet]
        self.ctx.check(lib.distill_ppo_retarget(self._handle, env._handle if env is not None else None,
                                                ctypes.byref(v) if v is not None else None))

    @property
    def iterations(self):
        """Iterations done."""
        return lib.distill_ppo_iterations(self._handle)

    def checkpoint(self, path):
        """A checkpoint (episodes in progress included) that resumes bit-identically."""
        self.ctx.check(lib.distill_ppo_checkpoint(self._handle, _path(path)))

    def resume(self, path):
        """Continue from a checkpoint of a learner of the same shape."""
        self.ctx.check(lib.distill_ppo_resume(self._handle, _path(path)))


class Bus(Handle):
    """Bus(ctx, latency=1, drop=0.0, seed=0): agents of one process, simulated time."""

    _destroy = lib.distill_share_bus_destroy

    def __init__(self, ctx, latency=1, drop=0.0, seed=0):
        self.ctx, self._agents = ctx, {}
        self._handle = ctypes.c_void_p()
        ctx.check(lib.distill_share_bus_create(ctx.handle, latency, drop, seed, ctypes.byref(self._handle)))

    def tick(self):
        """Deliver what is due, then tick every attached agent."""
        self.ctx.check(lib.distill_share_bus_tick(self._handle))

    def detach(self, agent_id):
        """The agent left: messages to it are lost."""
        self.ctx.check(lib.distill_share_bus_attach(self._handle, agent_id, None))
        self._agents.pop(agent_id, None)

    @property
    def counts(self):
        """(messages delivered, bytes, lost)."""
        d, b, l_ = ctypes.c_int64(), ctypes.c_int64(), ctypes.c_int64()
        lib.distill_share_bus_counts(self._handle, ctypes.byref(d), ctypes.byref(b), ctypes.byref(l_))
        return d.value, b.value, l_.value


class Share(Handle):
    """Share(ctx, net, agent_id, bus=None, send=None, **options): a sharing
    agent for net's masks.  Its transport is a Bus (attached here) or a
    Python send(to, message_bytes) -> bool (hand what arrives to
    receive).  Options: payload ("bits", "f16", "f32"), gate,
    meta_window, max_peers."""

    _destroy = lib.distill_share_destroy

    def __init__(self, ctx, net, agent_id, bus=None, send=None, payload="bits", **options):
        if (bus is None) == (send is None):
            raise ValueError("give a bus or a send function")
        self.ctx, self.id = ctx, agent_id
        o = _options(ShareOptions, lib.distill_share_options_init, "share", options)
        o.payload = PAYLOAD[payload]
        if bus is not None:
            fn, user = ctypes.cast(lib.distill_share_bus_send, ctypes.c_void_p), bus._handle
        else:
            def trampoline(_user, to, msg, length):
                try:
                    return 0 if send(int(to), ctypes.string_at(msg, length)) is not False else 1
                except Exception:  # a failed send is counted, not an error
                    return 1
            fn, user = SHARE_SEND_FN(trampoline), None
        self._keep = [net, bus, fn]
        self._handle = ctypes.c_void_p()
        ctx.check(lib.distill_share_create(ctx.handle, ctypes.byref(o), net._handle, agent_id,
                                           ctypes.cast(fn, ctypes.c_void_p), user, ctypes.byref(self._handle)))
        if bus is not None:
            ctx.check(lib.distill_share_bus_attach(bus._handle, agent_id, self._handle))
            bus._agents[agent_id] = self

    def add_peer(self, peer):
        """Know agent `peer`."""
        self.ctx.check(lib.distill_share_add_peer(self._handle, peer))

    @property
    def peers(self):
        """Peers known."""
        return lib.distill_share_peers(self._handle)

    def set_reward(self, t, reward):
        """The agent's latest return on task t."""
        self.ctx.check(lib.distill_share_set_reward(self._handle, t, reward))

    def reward(self, t):
        """The knowledge base's reward of task t (0: unknown)."""
        return lib.distill_share_reward(self._handle, t)

    def query(self, t):
        """QUERY every peer for task t."""
        self.ctx.check(lib.distill_share_query(self._handle, t))

    def receive(self, message):
        """Handle one message from the transport."""
        b = bytes(message)
        self.ctx.check(lib.distill_share_receive(self._handle, b, len(b)))

    def tick(self):
        """One unit of time: the due META windows close."""
        self.ctx.check(lib.distill_share_tick(self._handle))

    @property
    def stats(self):
        """Messages by type, bytes, masks installed, ignored and rejected messages."""
        st = ShareStats()
        st.struct_size = ctypes.sizeof(st)
        self.ctx.check(lib.distill_share_get_stats(self._handle, ctypes.byref(st)))
        return {"sent": list(st.sent), "received": list(st.received), "bytes_sent": st.bytes_sent,
                "send_failures": st.send_failures, "masks_installed": st.masks_installed, "ignored": st.ignored,
                "rejected": st.rejected}


class Lifelong(Handle):
    """Lifelong(ctx, net, envs, slots=None, share=None, ppo=None, **options):
    PPO through a curriculum of envs on one Masknet (slots: the task slot of
    each env, default 0, 1, ...).  Options: task_iterations, done_return,
    query_every; ppo: a dict of Ppo options."""

    _destroy = lib.distill_lifelong_destroy

    def __init__(self, ctx, net, envs, slots=None, share=None, ppo=None, **options):
        self.ctx = ctx
        envs = list(envs)
        slots = list(range(len(envs))) if slots is None else [int(s) for s in slots]
        o = _options(LifelongOptions, lib.distill_lifelong_options_init, "lifelong", options, ("reserved",))
        po = _ppo_options(dict(ppo or {}))
        handles = (ctypes.c_void_p * len(envs))(*[e._handle.value for e in envs])
        sl = (ctypes.c_int64 * len(slots))(*slots)
        self._keep = [net, envs, share, handles, sl]
        self.n_tasks = len(envs)
        self._handle = ctypes.c_void_p()
        ctx.check(lib.distill_lifelong_create(ctx.handle, ctypes.byref(o), ctypes.byref(po), net._handle, handles, sl,
                                              len(envs), share._handle if share is not None else None,
                                              ctypes.byref(self._handle)))

    def step(self):
        """One PPO iteration of the current task; its statistics as a dict."""
        st = PpoStats()
        st.struct_size = ctypes.sizeof(st)
        self.ctx.check(lib.distill_lifelong_step(self._handle, ctypes.byref(st)))
        return _stats(st)

    def next(self):
        """End the current task now (consolidated)."""
        self.ctx.check(lib.distill_lifelong_next(self._handle))

    @property
    def position(self):
        """The curriculum position (n_tasks: done)."""
        return lib.distill_lifelong_position(self._handle)

    @property
    def done(self):
        """The curriculum is done."""
        return self.position >= self.n_tasks

    @property
    def iterations(self):
        """PPO iterations spent, all tasks."""
        return lib.distill_lifelong_iterations(self._handle)
