"""Identity, Linear, Bilinear, Flatten, Unflatten against torch: values, grads, init, repr."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch
from layer_parity import check_layer, check_uniform

from fnn import nn

RNG = np.random.default_rng(3)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("bias", [True, False])
def test_linear_parity(dtype, bias):
    fl, tl = nn.Linear(5, 3, bias=bias), torch.nn.Linear(5, 3, bias=bias)
    check_layer(fl, tl, RNG.standard_normal((4, 2, 5)), dtype)
    assert repr(fl) == repr(tl)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_bilinear_parity(dtype):
    fl, tl = nn.Bilinear(3, 4, 2), torch.nn.Bilinear(3, 4, 2)
    check_layer(fl, tl, (RNG.standard_normal((5, 3)), RNG.standard_normal((5, 4))), dtype)
    assert repr(fl) == repr(tl)
    fl, tl = nn.Bilinear(3, 4, 2, bias=False), torch.nn.Bilinear(3, 4, 2, bias=False)
    check_layer(fl, tl, (RNG.standard_normal((5, 3)), RNG.standard_normal((5, 4))), dtype)


def test_identity():
    fl, tl = nn.Identity(54, unused="x"), torch.nn.Identity(54, unused="x")
    check_layer(fl, tl, RNG.standard_normal((2, 3)))
    assert repr(fl) == repr(tl) == "Identity()"


@pytest.mark.parametrize("args,shape", [
    ((), (2, 3, 4, 5)),
    ((0, -1), (2, 3, 4)),
    ((1, 2), (2, 3, 4, 5)),
    ((-3, -2), (2, 3, 4, 5)),
    ((2, 2), (2, 3, 4)),
])
def test_flatten(args, shape):
    fl, tl = nn.Flatten(*args), torch.nn.Flatten(*args)
    check_layer(fl, tl, RNG.standard_normal(shape))
    assert repr(fl) == repr(tl)


@pytest.mark.parametrize("args,shape", [
    ((1, (2, 3)), (4, 6)),
    ((-1, (2, -1, 2)), (3, 2, 8)),
    ((0, [3, 1]), (3, 2)),
])
def test_unflatten(args, shape):
    fl, tl = nn.Unflatten(*args), torch.nn.Unflatten(*args)
    check_layer(fl, tl, RNG.standard_normal(shape))
    assert repr(fl) == repr(tl)


def test_flatten_in_a_model_under_jit():
    model = nn.Sequential(nn.Flatten(), nn.Linear(12, 2), nn.Unflatten(1, (2, 1)))
    shapes = jax.eval_shape(model.init, jax.random.key(0))
    params = jax.tree.map(lambda s: jnp.asarray(RNG.standard_normal(s.shape)), shapes)
    x = jnp.asarray(RNG.standard_normal((5, 3, 4)))
    y = model(params, x)
    assert y.shape == (5, 2, 1)
    y_jit = jax.jit(lambda p, a: model(p, a))(params, x)
    np.testing.assert_allclose(y_jit, y, rtol=1e-12)
    w, b = params["1"]["weight"], params["1"]["bias"]
    np.testing.assert_allclose(y[:, :, 0], x.reshape(5, 12) @ w.T + b, rtol=1e-12)


def test_reshape_errors():
    with pytest.raises(ValueError, match=r"^Flatten: start_dim cannot come after end_dim"):
        nn.Flatten(2, 1)({}, jnp.zeros((2, 6, 3)))
    with pytest.raises(ValueError, match=r"^Flatten '0': dimension out of range \(expected to be "
                                         r"in range of \[-1, 0\], but got 1\)"):
        nn.Sequential(nn.Flatten())({}, jnp.zeros(3))
    with pytest.raises(ValueError, match=r"provided sizes \[2, 3\] don't multiply up to the size "
                                         r"of dim 1 \(7\)"):
        nn.Unflatten(1, (2, 3))({}, jnp.zeros((2, 7)))
    with pytest.raises(ValueError, match="at most one -1"):
        nn.Unflatten(1, (-1, -1))
    assert nn.Flatten(0, -1)({}, jnp.float32(3.0)).shape == (1,)


# One weight shape per test: each new shape compiles jax.random once (~0.4 s).
@pytest.mark.parametrize("layer,fan_in", [
    (nn.Linear(300, 100), 300),
    (nn.Bilinear(20, 30, 8), 20),
])
def test_default_init(layer, fan_in):
    p = layer.init(jax.random.key(7), jnp.float64)
    bound = 1 / math.sqrt(fan_in)
    check_uniform(p["weight"], bound)
    assert p["weight"].dtype == jnp.float64
    assert float(jnp.max(jnp.abs(p["bias"]))) <= bound
    assert not np.allclose(p["bias"], p["bias"][0])
    # torch's draws have the same bound
    t = torch.nn.Linear(300, 100) if isinstance(layer, nn.Linear) else torch.nn.Bilinear(20, 30, 8)
    assert float(t.weight.detach().abs().max()) <= bound * (1 + 1e-12)
    assert {k: tuple(v.shape) for k, v in p.items()} == {k: tuple(v.shape) for k, v in
                                                         t.state_dict().items()}


def test_linear_input_error_names_the_layer():
    model = nn.Sequential(nn.Linear(3, 2))
    params = {"0": {"weight": jnp.zeros((2, 3)), "bias": jnp.zeros(2)}}
    with pytest.raises(ValueError, match=r"^Linear '0' expected input with last dimension 3 "
                                         r"\(in_features\), got shape \(4, 5\)"):
        model(params, jnp.zeros((4, 5)))
