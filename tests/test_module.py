"""fnn.nn.Module mechanics against torch.nn.Module: names, order, reprs, counts, buffers,
keys, train/eval, jit and vmap."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch

import fnn.nn.functional as F
from fnn import _tree, nn

T = torch.nn


class Block(nn.Module):
    def __init__(self, d):
        self.fc = nn.Linear(d, d)
        self.norm = nn.BatchNorm1d(d)
        self.act = nn.PReLU(d)

    def forward(self, params, x):
        return self.act(params["act"], self.norm(params["norm"], self.fc(params["fc"], x)))


class Net(nn.Module):
    def __init__(self):
        self.embed = nn.Embedding(12, 8, padding_idx=0)
        self.blocks = nn.ModuleList([Block(8), Block(8)])
        self.heads = nn.ModuleDict({"cls": nn.Linear(8, 3), "reg": nn.Sequential(
            nn.Linear(8, 4), nn.ReLU(), nn.Dropout(0.5), nn.Linear(4, 1, bias=False))})
        self.ln = nn.LayerNorm(8)

    def forward(self, params, idx):
        x = self.embed(params["embed"], idx).mean(axis=1)
        for name, block in self.blocks.named_children():
            x = block(params["blocks"][name], x)
        x = self.ln(params["ln"], x)
        return self.heads["cls"](params["heads"]["cls"], x), \
            self.heads["reg"](params["heads"]["reg"], x)


class TBlock(T.Module):
    def __init__(self, d):
        super().__init__()
        self.fc, self.norm, self.act = T.Linear(d, d), T.BatchNorm1d(d), T.PReLU(d)

    def forward(self, x):
        return self.act(self.norm(self.fc(x)))


class TNet(T.Module):
    def __init__(self):
        super().__init__()
        self.embed = T.Embedding(12, 8, padding_idx=0)
        self.blocks = T.ModuleList([TBlock(8), TBlock(8)])
        self.heads = T.ModuleDict({"cls": T.Linear(8, 3), "reg": T.Sequential(
            T.Linear(8, 4), T.ReLU(), T.Dropout(0.5), T.Linear(4, 1, bias=False))})
        self.ln = T.LayerNorm(8)

    def forward(self, idx):
        x = self.embed(idx).mean(dim=1)
        for block in self.blocks:
            x = block(x)
        x = self.ln(x)
        return self.heads["cls"](x), self.heads["reg"](x)


IDX = np.random.default_rng(0).integers(0, 12, (16, 5))
NET = Net()


@functools.cache
def _net_init():
    """One eager init shared by the tests (eager PRNG ops compile once per shape)."""
    return NET.init(jax.random.key(0)), NET.init_buffers()


def _load(params_like: dict, tnet: T.Module) -> dict:
    flat = {k: jnp.asarray(v.detach().numpy()) for k, v in tnet.named_parameters()}
    assert list(flat) == list(_tree.flatten(params_like))
    return _tree.unflatten(flat)


def test_names_order_shapes_and_counts_equal_torch():
    (net, tnet), (params, buffers) = (NET, TNet()), _net_init()
    flat = _tree.flatten(params)
    tparams = dict(tnet.named_parameters())
    assert list(flat) == list(tparams)  # torch state_dict parameter keys, in order
    for k, v in flat.items():
        assert v.shape == tuple(tparams[k].shape) and v.dtype == jnp.float32
    assert [n for n, _ in nn.named_parameters(params)] == list(tparams)
    assert list(_tree.flatten(buffers)) == [k for k, _ in tnet.named_buffers()]
    for k, v in _tree.flatten(buffers).items():
        np.testing.assert_array_equal(v, dict(tnet.named_buffers())[k].numpy())
    n = sum(p.numel() for p in tnet.parameters())
    assert nn.num_parameters(params) == n
    assert f"total parameters: {n:,}" in nn.summary(params, buffers)
    assert "blocks.1.norm.num_batches_tracked" in nn.summary(params, buffers)
    assert repr(net.blocks) == repr(tnet.blocks).replace("TBlock", "Block")  # "(0-1): 2 x Block"
    assert repr(net.heads) == repr(tnet.heads)


def test_repr_equals_torch():
    for expr in [
        "Sequential(nn.Linear(3, 32), nn.ReLU(), nn.Linear(32, 1))",
        "Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), "
        "nn.MaxPool2d(2), nn.Dropout2d(0.1), nn.Flatten(), nn.Linear(128, 10), nn.LogSoftmax(dim=1))",
        "ModuleList([nn.Linear(2, 2), nn.Sequential(nn.GELU(), nn.LayerNorm(2))])",
        "ModuleDict({'a': nn.Embedding(5, 2), 'b': nn.GroupNorm(2, 4)})",
        "Sequential()",
    ]:
        assert repr(eval(f"nn.{expr}")) == repr(eval(f"T.{expr.replace('nn.', 'T.')}"))
    assert repr(Net()) == repr(TNet()).replace("TBlock", "Block").replace("TNet", "Net")


def test_train_and_eval_forward_buffers_and_grads_match_torch_under_jit():
    net, tnet = NET, TNet().double()
    params = _load(_net_init()[0], tnet)  # torch's float64 values under fnn's names
    buffers = jax.tree.map(lambda b: b.astype(jnp.float64) if b.ndim else b, _net_init()[1])
    # train mode without dropout randomness: p=0.5 Dropout is set to eval via a deterministic
    # comparison of the cls head (no dropout there) and of the running statistics
    step = jax.jit(lambda p, b, i, k: net.apply(p, i, buffers=b, train=True, key=k))
    tnet.train()
    for s in range(3):
        idx = (IDX + s) % 12
        (cls, _), buffers = step(params, buffers, jnp.asarray(idx), jax.random.key(s))
        tcls, _ = tnet(torch.tensor(idx))
        np.testing.assert_allclose(cls, tcls.detach().numpy(), rtol=1e-10, atol=1e-12)
    for k, v in tnet.named_buffers():
        np.testing.assert_allclose(_tree.flatten(buffers)[k], v.numpy(), rtol=1e-12, atol=1e-15)
    assert int(buffers["blocks"]["0"]["norm"]["num_batches_tracked"]) == 3
    # eval mode: running statistics, dropout off; gradients of both heads
    tnet.eval()
    loss = jax.jit(jax.grad(lambda p: sum(jnp.sum(o ** 2) for o in net(p, jnp.asarray(IDX),
                                                                         buffers=buffers))))
    g = _tree.flatten(loss(params))
    sum((o ** 2).sum() for o in tnet(torch.tensor(IDX))).backward()
    for k, v in tnet.named_parameters():
        np.testing.assert_allclose(g[k], v.grad.numpy(), rtol=1e-9, atol=1e-12, err_msg=k)
    np.testing.assert_array_equal(g["embed.weight"][0], 0.0)  # padding row


def test_dropout_key_determinism_and_missing_key_or_buffers():
    net, (params, buffers) = NET, _net_init()
    idx = jnp.asarray(IDX)
    run = jax.jit(lambda k: net.apply(params, idx, buffers=buffers, train=True, key=k)[0][1])
    np.testing.assert_array_equal(run(jax.random.key(5)), run(jax.random.key(5)))
    assert not np.array_equal(run(jax.random.key(5)), run(jax.random.key(6)))
    with pytest.raises(ValueError, match=r"Dropout 'heads.reg.2' needs randomness"):
        net.apply(params, idx, buffers=buffers, train=True)
    with pytest.raises(ValueError, match=r"BatchNorm1d 'blocks.0.norm' needs its buffers"):
        net(params, idx)
    with pytest.raises(KeyError, match="blocks.1.norm.running_var"):
        flat = _tree.flatten(buffers)
        del flat["blocks.1.norm.running_var"]
        net(params, idx, buffers=_tree.unflatten(flat))
    # eval mode needs no key, and returns the buffers unchanged
    out, new = net.apply(params, idx, buffers=buffers)
    assert jax.tree.all(jax.tree.map(lambda a, b: bool(jnp.array_equal(a, b)), new, buffers))


def test_vmap_over_inputs_and_functional_use():
    model = nn.Sequential(nn.Linear(6, 16), nn.GELU(), nn.LayerNorm(16), nn.Linear(16, 2),
                          nn.Softmax(dim=-1))
    params = model.init(jax.random.key(0), jnp.float64)
    x = jnp.asarray(np.random.default_rng(1).standard_normal((10, 6)))
    per_example = jax.jit(jax.vmap(lambda v: model(params, v)))(x)
    np.testing.assert_allclose(per_example, jax.jit(model)(params, x), rtol=1e-12)
    tm = T.Sequential(T.Linear(6, 16), T.GELU(), T.LayerNorm(16), T.Linear(16, 2),
                      T.Softmax(dim=-1)).double()
    tm.load_state_dict({k: torch.tensor(np.asarray(v)) for k, v in _tree.flatten(params).items()})
    np.testing.assert_allclose(per_example, tm(torch.tensor(np.asarray(x))).detach().numpy(),
                               rtol=1e-10)
    # per-example gradients
    per_ex = jax.jit(jax.vmap(jax.grad(lambda p, v: model(p, v)[0]), in_axes=(None, 0)))
    total = jax.jit(jax.grad(lambda p: model(p, x)[:, 0].sum()))
    grads = per_ex(params, x)
    assert grads["0"]["weight"].shape == (10, 16, 6)
    np.testing.assert_allclose(grads["0"]["weight"].sum(0), total(params)["0"]["weight"],
                               rtol=1e-10, atol=1e-14)
    assert F.relu is nn.functional.relu
