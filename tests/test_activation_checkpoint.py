"""Activation checkpointing (``nn.checkpoint``, ``nn.Checkpoint``): the same gradients,
buffers and names as without, torch's ``torch.utils.checkpoint.checkpoint`` numbers, and
less memory (XLA's compiled memory analysis)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch
from jax import lax

from fnn import nn
from fnn.interop import torch as tinterop


class Block(nn.Module):
    def __init__(self, d, p=0.0):
        self.fc1 = nn.Linear(d, 4 * d)
        self.fc2 = nn.Linear(4 * d, d)
        self.bn = nn.BatchNorm1d(d)
        self.drop = nn.Dropout(p)

    def forward(self, params, x):
        h = self.drop(params.get("drop", {}), jnp.tanh(self.fc1(params["fc1"], x)))
        return x + self.bn(params["bn"], self.fc2(params["fc2"], h))


class TorchBlock(torch.nn.Module):
    def __init__(self, d):
        super().__init__()
        self.fc1, self.fc2 = torch.nn.Linear(d, 4 * d), torch.nn.Linear(4 * d, d)
        self.bn = torch.nn.BatchNorm1d(d)

    def forward(self, x):
        return x + self.bn(self.fc2(torch.tanh(self.fc1(x))))


class FunctionalForm(nn.Module):
    """torch's ``checkpoint(self.block, x)`` inside a forward, with a keyword argument."""

    def __init__(self, d):
        self.block = Block(d)
        self.head = nn.Linear(d, 1)

    def forward(self, params, x, scale=1.0):
        x = nn.checkpoint(lambda p, x, s: self.block(p, x) * s, params["block"], x, scale,
                          policy="dots_saveable")
        return self.head(params["head"], x)


def _grads(model, params, buffers, x, key=None):
    def loss(p):
        y, nb = model.apply(p, x, buffers=buffers, train=True, key=key)
        return jnp.sum(y ** 2), nb
    return jax.jit(jax.grad(loss, has_aux=True))(params)


def test_checkpointed_modules_identical_gradients_buffers_and_names():
    x = jax.random.normal(jax.random.key(1), (16, 8), jnp.float64)
    plain = nn.Sequential(Block(8, 0.3), Block(8, 0.3))
    ck = nn.Sequential(*(nn.checkpoint(b) for b in plain))
    params = plain.init(jax.random.key(0), jnp.float64)
    buffers = plain.init_buffers(jnp.float64)
    assert jax.tree.structure(ck.init(jax.random.key(0))) == jax.tree.structure(params)
    assert jax.tree.structure(ck.init_buffers()) == jax.tree.structure(buffers)
    g0, b0 = _grads(plain, params, buffers, x, jax.random.key(2))
    g1, b1 = _grads(ck, params, buffers, x, jax.random.key(2))   # same dropout masks
    # equal up to XLA fusing the recomputed forward differently (float64 rounding; the
    # bias before BatchNorm has an exact gradient of 0)
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-13), g0, g1)
    jax.tree.map(np.testing.assert_array_equal, b0, b1)
    assert float(b1["0"]["bn"]["num_batches_tracked"]) == 1
    assert "Checkpoint(" in repr(ck)
    # a checkpointed module used on its own, and the functional form with a keyword
    one = nn.Checkpoint(plain[0])
    y0, y1 = (jax.jit(lambda p, m=m: m.apply(p, x, buffers=buffers["0"], train=True,
                                              key=jax.random.key(3))[0])(params["0"])
              for m in (plain[0], one))
    np.testing.assert_allclose(y0, y1, rtol=1e-13)
    f = FunctionalForm(8)
    fp, fb = f.init(jax.random.key(4), jnp.float64), f.init_buffers(jnp.float64)
    g, nb = _grads(f, fp, fb, x)

    def unchecked(p):
        y, nb = f.block.apply(p["block"], x, buffers=fb["block"], train=True)
        return jnp.sum(f.head(p["head"], y) ** 2), nb
    g_ref, nb_ref = jax.jit(jax.grad(unchecked, has_aux=True))(fp)
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14),
                 g, g_ref)
    jax.tree.map(np.testing.assert_array_equal, nb["block"], nb_ref)


def test_checkpoint_matches_torch_utils_checkpoint():
    torch.manual_seed(0)
    tnet = torch.nn.Sequential(TorchBlock(6), TorchBlock(6)).double().train()
    xt = torch.randn(10, 6, dtype=torch.float64)
    out = xt
    for blk in tnet:
        out = torch.utils.checkpoint.checkpoint(blk, out, use_reentrant=False)
    (out ** 2).sum().backward()
    t_grads = {k: p.grad.numpy() for k, p in tnet.named_parameters()}
    fnet = nn.Sequential(*(nn.checkpoint(Block(6)) for _ in range(2)))
    params, buffers = tinterop.load_state_dict(fnet, tnet.state_dict())
    # (the running statistics were updated twice in torch: forward and recomputation)
    grads, _ = _grads(fnet, params, buffers, jnp.asarray(xt.numpy()))
    for k, g in nn.named_parameters(grads):
        np.testing.assert_allclose(np.asarray(g), t_grads[k], rtol=1e-10, atol=1e-12, err_msg=k)


def _stack_loss(block, ck):
    """A deep stack run by ``lax.scan`` over stacked block parameters (the usual form of
    deep models under jit), each block optionally checkpointed."""
    def loss(stacked, x):
        def body(x, p):
            f = (lambda p, x: nn.checkpoint(block, p, x)) if ck else block
            return f(p, x), None
        x, _ = lax.scan(body, x, stacked)
        return jnp.sum(x ** 2)
    return loss


def test_checkpoint_lowers_peak_memory_and_keeps_gradients():
    d, depth = 32, 8
    block = nn.Sequential(nn.Linear(d, 4 * d), nn.Tanh(), nn.Linear(4 * d, d), nn.Tanh())
    keys = jax.random.split(jax.random.key(0), depth)
    stacked = jax.vmap(block.init)(keys)
    x = jax.random.normal(jax.random.key(1), (256, d), jnp.float32)
    stacked = jax.tree.map(lambda a: a.astype(jnp.float32), stacked)
    grads, temp = [], []
    for ck in (False, True):
        f = jax.jit(jax.grad(_stack_loss(block, ck)))
        temp.append(f.lower(stacked, x).compile().memory_analysis().temp_size_in_bytes)
        grads.append(f(stacked, x))
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7), *grads)
    print(f"\ncompiled temp memory, {depth} blocks under lax.scan: {temp[0] / 2**20:.2f} MiB "
          f"-> {temp[1] / 2**20:.2f} MiB with checkpointing")
    # saved activations: 4 (256 x 128/32) arrays per block -> only the block inputs
    assert temp[1] < 0.5 * temp[0]


def test_checkpoint_bad_input():
    with pytest.raises(ValueError, match="unknown policy"):
        nn.checkpoint(lambda x: x, jnp.ones(2), policy="none_saveable")
    with pytest.raises(TypeError, match="expected an fnn.nn.Module"):
        nn.Checkpoint(torch.nn.Linear(2, 2))
