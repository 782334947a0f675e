"""BatchNorm1d/2d, LayerNorm, GroupNorm against torch 2.13: outputs, gradients, running stats."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch
from layer_parity import check_layer

import fnn.nn.functional as F
from fnn import _tree, nn

_RNG = np.random.default_rng(0)
X2 = _RNG.standard_normal((8, 4)) * 2 + 1
X3 = _RNG.standard_normal((6, 4, 5)) * 3 - 1
X4 = _RNG.standard_normal((5, 4, 3, 3)) + 0.5
F32 = (2e-5, 2e-6)  # float32: per-channel sums of up to 50 terms in a different order

BN_CASES = [
    ("BatchNorm1d(4)", X2), ("BatchNorm1d(4)", X3), ("BatchNorm2d(4)", X4),
    ("BatchNorm1d(4, momentum=None)", X3), ("BatchNorm2d(4, affine=False)", X4),
    ("BatchNorm1d(4, track_running_stats=False)", X3), ("BatchNorm2d(4, eps=1e-3, momentum=0.3)", X4),
    ("BatchNorm1d(4, bias=False)", X2),
]


def _pair(expr):
    return eval(f"nn.{expr}"), eval(f"torch.nn.{expr}")


# float64 for every case; float32 for the first three (the dtype path is shared)
BN_GRID = [(e, x, d) for i, (e, x) in enumerate(BN_CASES)
           for d in ([np.float64, np.float32] if i < 3 else [np.float64])]


@pytest.mark.parametrize("train", [True, False], ids=["train", "eval"])
@pytest.mark.parametrize("expr,x,dtype", BN_GRID,
                         ids=[f"{e}-{x.ndim}d-{np.dtype(d).name}" for e, x, d in BN_GRID])
def test_batchnorm_output_gradients_and_buffers(expr, x, dtype, train):
    layer, tlayer = _pair(expr)
    assert repr(layer) == repr(tlayer)
    if not train and "track_running_stats=False" not in expr:
        # non-trivial running statistics for eval mode
        tlayer.running_mean.copy_(torch.tensor(_RNG.standard_normal(4)))
        tlayer.running_var.copy_(torch.tensor(_RNG.uniform(0.5, 2.0, 4)))
    if "affine=False" not in expr:
        with torch.no_grad():
            tlayer.weight.copy_(torch.tensor(_RNG.uniform(0.5, 1.5, 4)))
    tol = (None, None) if dtype == np.float64 else F32
    check_layer(layer, tlayer, x, dtype, *tol, train=train, jit=True)


@pytest.mark.parametrize("momentum", [0.1, None])
def test_batchnorm_running_stats_over_steps(momentum):
    """k forward passes in train mode with buffers threaded through a jitted apply."""
    layer = nn.BatchNorm2d(4, momentum=momentum)
    tlayer = torch.nn.BatchNorm2d(4, momentum=momentum).double().train()
    params = layer.init(jax.random.key(0), jnp.float64)
    buffers = layer.init_buffers(jnp.float64)
    assert buffers["num_batches_tracked"].dtype == jnp.int64
    step = jax.jit(lambda p, b, v: layer.apply(p, v, buffers=b, train=True))
    for k in range(5):
        x = _RNG.standard_normal((3, 4, 2, 2)) * (k + 1) + k
        y, buffers = step(params, buffers, jnp.asarray(x))
        ty = tlayer(torch.tensor(x))
        np.testing.assert_allclose(y, ty.detach().numpy(), rtol=1e-10, atol=1e-12)
        for name, tb in tlayer.named_buffers():
            np.testing.assert_allclose(buffers[name], tb.numpy(), rtol=1e-12, atol=1e-14)
    assert int(buffers["num_batches_tracked"]) == 5
    tlayer.eval()
    x = _RNG.standard_normal((3, 4, 2, 2))
    np.testing.assert_allclose(layer(params, jnp.asarray(x), buffers=buffers),
                               tlayer(torch.tensor(x)).detach().numpy(), rtol=1e-10)


def test_batchnorm_functional_returns_new_stats():
    rm, rv = np.zeros(4), np.ones(4)
    out, nm, nv = F.batch_norm(jnp.asarray(X3), jnp.asarray(rm), jnp.asarray(rv), training=True,
                               momentum=0.2)
    trm, trv = torch.tensor(rm), torch.tensor(rv)
    tout = torch.nn.functional.batch_norm(torch.tensor(X3), trm, trv, training=True, momentum=0.2)
    np.testing.assert_allclose(out, tout.numpy(), rtol=1e-10)
    np.testing.assert_allclose(nm, trm.numpy(), rtol=1e-12)
    np.testing.assert_allclose(nv, trv.numpy(), rtol=1e-12)  # unbiased variance
    out, nm2, _ = F.batch_norm(jnp.asarray(X3), nm, nv, training=False)
    assert nm2 is nm


def test_batchnorm_errors():
    bn = nn.BatchNorm1d(4)
    params = bn.init(jax.random.key(0))
    with pytest.raises(ValueError, match=r"expected 2D or 3D input \(got 4D input\)"):
        bn(params, jnp.ones((2, 4, 3, 3)), buffers=bn.init_buffers())
    with pytest.raises(ValueError, match=r"expected 4D input \(got 3D input\)"):
        nn.BatchNorm2d(4)({}, jnp.ones((2, 4, 3)))
    with pytest.raises(ValueError, match="needs its buffers"):
        bn(params, jnp.ones((2, 4)))
    with pytest.raises(ValueError, match="Expected more than 1 value per channel when training"):
        bn.apply(params, jnp.ones((1, 4)), buffers=bn.init_buffers(), train=True)
    with pytest.raises(ValueError, match="expected 4 channels"):
        bn(params, jnp.ones((2, 3)), buffers=bn.init_buffers())


LN_CASES = [("LayerNorm(5)", X3), ("LayerNorm((4, 5))", X3), ("LayerNorm(4, bias=False)", X2),
            ("LayerNorm([3, 3], elementwise_affine=False)", X4), ("LayerNorm(4, eps=1e-2)", X2),
            ("GroupNorm(2, 4)", X4), ("GroupNorm(4, 4, eps=1e-3)", X3), ("GroupNorm(1, 4)", X2),
            ("GroupNorm(2, 4, affine=False)", X3), ("GroupNorm(2, 4, bias=False)", X4)]


LN_GRID = [(e, x, d) for i, (e, x) in enumerate(LN_CASES)
           for d in ([np.float64, np.float32] if i in (0, 5) else [np.float64])]


@pytest.mark.parametrize("expr,x,dtype", LN_GRID,
                         ids=[f"{e}-{np.dtype(d).name}" for e, _, d in LN_GRID])
def test_layer_and_group_norm(expr, x, dtype):
    layer, tlayer = _pair(expr)
    assert repr(layer) == repr(tlayer)
    params = layer.init(jax.random.key(0))
    assert list(_tree.flatten(params)) == list(tlayer.state_dict())
    for k, v in _tree.flatten(params).items():
        np.testing.assert_array_equal(v, tlayer.state_dict()[k].numpy())
    with torch.no_grad():  # non-trivial affine parameters
        for p in tlayer.parameters():
            p.copy_(torch.tensor(_RNG.standard_normal(tuple(p.shape))))
    tol = (None, None) if dtype == np.float64 else F32
    check_layer(layer, tlayer, x, dtype, *tol, jit=True)


def test_norm_errors():
    with pytest.raises(ValueError, match=r"num_channels \(4\) must be divisible by num_groups \(3\)"):
        nn.GroupNorm(3, 4)
    with pytest.raises(ValueError, match=r"Expected number of channels in input to be divisible"):
        F.group_norm(jnp.ones((2, 5, 3)), 2)
    with pytest.raises(ValueError, match=r"Given normalized_shape=\[10\], expected input with "
                                         r"shape \[\*, 10\], but got input of size\[2, 5\]"):
        F.layer_norm(jnp.ones((2, 5)), [10])


def test_batchnorm_vmap_over_models_and_grad():
    """Gradients in train mode through jit, and vmap over a stack of parameter sets."""
    bn = nn.BatchNorm1d(4)
    tbn = torch.nn.BatchNorm1d(4).double()
    params = bn.init(jax.random.key(0), jnp.float64)
    buffers = bn.init_buffers(jnp.float64)

    def loss(p, x):
        y, _ = bn.apply(p, x, buffers=buffers, train=True)
        return jnp.sum(jnp.tanh(y) ** 2)

    g = jax.jit(jax.grad(loss))(params, jnp.asarray(X3))
    (torch.tanh(tbn(torch.tensor(X3))) ** 2).sum().backward()
    np.testing.assert_allclose(g["weight"], tbn.weight.grad.numpy(), rtol=1e-10)
    np.testing.assert_allclose(g["bias"], tbn.bias.grad.numpy(), rtol=1e-10, atol=1e-13)
    stacked = jax.tree.map(lambda a: jnp.stack([a, 2 * a]), params)
    losses = jax.vmap(loss, in_axes=(0, None))(stacked, jnp.asarray(X3))
    np.testing.assert_allclose(losses[0], loss(params, jnp.asarray(X3)), rtol=1e-12)
