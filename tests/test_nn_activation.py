"""Activation functions and layers against torch 2.13: values, gradients (kinks included), reprs."""

from __future__ import annotations

import contextlib
import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import fnn.nn.functional as F
from fnn import nn

# every kink / regime boundary of the functions below, plus a spread of ordinary values
_KINKS = [-6.0, -3.0, -1.0, -0.5, 0.0, 0.1, 0.5, 1.0, 3.0, 5.0, 6.0, 10.0, 20.0, 25.0, -25.0]
_RNG = np.random.default_rng(0)
_X = np.concatenate([_KINKS, _RNG.standard_normal(40) * 4]).reshape(5, 11)
_COT = _RNG.standard_normal(_X.shape)

# (id, fnn function, torch function, kwargs)
CASES = [
    ("relu", F.relu, TF.relu, {}),
    ("relu6", F.relu6, TF.relu6, {}),
    ("leaky_relu", F.leaky_relu, TF.leaky_relu, {}),
    ("leaky_relu_0.2", F.leaky_relu, TF.leaky_relu, {"negative_slope": 0.2}),
    ("elu", F.elu, TF.elu, {}),
    ("elu_0.5", F.elu, TF.elu, {"alpha": 0.5}),
    ("selu", F.selu, TF.selu, {}),
    ("celu", F.celu, TF.celu, {}),
    ("celu_2", F.celu, TF.celu, {"alpha": 2.0}),
    ("gelu", F.gelu, TF.gelu, {}),
    ("gelu_tanh", F.gelu, TF.gelu, {"approximate": "tanh"}),
    ("silu", F.silu, TF.silu, {}),
    ("mish", F.mish, TF.mish, {}),
    ("sigmoid", F.sigmoid, torch.sigmoid, {}),
    ("tanh", F.tanh, torch.tanh, {}),
    ("hardtanh", F.hardtanh, TF.hardtanh, {}),
    ("hardtanh_-3_1", F.hardtanh, TF.hardtanh, {"min_val": -3.0, "max_val": 1.0}),
    ("hardsigmoid", F.hardsigmoid, TF.hardsigmoid, {}),
    ("hardswish", F.hardswish, TF.hardswish, {}),
    ("softplus", F.softplus, TF.softplus, {}),
    ("softplus_b2_t10", F.softplus, TF.softplus, {"beta": 2.0, "threshold": 10.0}),
    ("softsign", F.softsign, TF.softsign, {}),
    ("threshold", F.threshold, TF.threshold, {"threshold": 0.1, "value": 20.0}),
    ("logsigmoid", F.logsigmoid, TF.logsigmoid, {}),
    ("softmax_1", F.softmax, TF.softmax, {"dim": 1}),
    ("softmax_0", F.softmax, TF.softmax, {"dim": 0}),
    ("log_softmax_-1", F.log_softmax, TF.log_softmax, {"dim": -1}),
]

# float32 tolerances: transcendental ops differ by a few ulp between XLA and torch's CPU
# kernels (MKL/Sleef), so 1e-5 relative; the absolute 1e-5 covers saturated tails (gelu's
# tanh form at x = -9 has gradient 4e-6 in torch and 0 in XLA).
TOL = {np.float64: (1e-10, 1e-13), np.float32: (1e-5, 1e-5)}


def torch_value_and_grad(fn, x: np.ndarray, cot: np.ndarray, **kw):
    xt = torch.tensor(x, requires_grad=True)
    y = fn(xt, **kw)
    y.backward(torch.tensor(cot))
    return y.detach().numpy(), xt.grad.numpy()


@functools.partial(jax.jit, static_argnums=(0, 3))
def _value_and_vjp(fn, x, cot, kw_items):
    y, vjp = jax.vjp(lambda a: fn(a, **dict(kw_items)), x)
    return y, vjp(cot)[0]


def fnn_value_and_grad(fn, x, cot, **kw):
    y, g = _value_and_vjp(fn, jnp.asarray(x), jnp.asarray(cot), tuple(sorted(kw.items())))
    return np.asarray(y), np.asarray(g)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name,fn,tfn,kw", CASES, ids=[c[0] for c in CASES])
def test_function_values_and_gradients(name, fn, tfn, kw, dtype):
    x, cot = _X.astype(dtype), _COT.astype(dtype)
    ty, tg = torch_value_and_grad(tfn, x, cot, **kw)
    y, g = fnn_value_and_grad(fn, x, cot, **kw)
    assert y.dtype == dtype and g.dtype == dtype
    rtol, atol = TOL[dtype]
    np.testing.assert_allclose(y, ty, rtol=rtol, atol=atol)
    np.testing.assert_allclose(g, tg, rtol=rtol, atol=atol)


def test_softplus_linear_regime_and_no_overflow():
    x = np.array([0.0, 19.9, 20.0, 20.1, 100.0, 1000.0, -1000.0])
    ty, tg = torch_value_and_grad(TF.softplus, x, np.ones_like(x))
    y, g = fnn_value_and_grad(F.softplus, x, np.ones_like(x))
    np.testing.assert_allclose(y, ty, rtol=1e-15)
    np.testing.assert_array_equal(g, tg)
    # elu/mish/selu/logsigmoid gradients stay finite for huge inputs
    fns = (F.elu, F.selu, F.celu, F.mish, F.logsigmoid, F.silu, F.gelu)
    grads = jax.jit(jax.vmap(jax.grad(lambda v: sum(f(v) for f in fns))))(jnp.asarray(x))
    assert np.all(np.isfinite(grads))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("shape,nw", [((4, 3, 5), 3), ((6,), 1), ((2, 3, 2, 2), 1)])
def test_prelu_values_and_gradients(shape, nw, dtype):
    x = _RNG.standard_normal(shape).astype(dtype)
    x.flat[0] = 0.0
    w = _RNG.uniform(0.05, 0.5, nw).astype(dtype)
    cot = _RNG.standard_normal(shape).astype(dtype)
    xt, wt = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)
    TF.prelu(xt, wt).backward(torch.tensor(cot))
    y, vjp = jax.vjp(F.prelu, jnp.asarray(x), jnp.asarray(w))
    gx, gw = vjp(jnp.asarray(cot))
    rtol, atol = TOL[dtype]
    np.testing.assert_allclose(y, TF.prelu(torch.tensor(x), torch.tensor(w)).numpy(), rtol, atol)
    np.testing.assert_allclose(gx, xt.grad.numpy(), rtol, atol)
    np.testing.assert_allclose(gw, wt.grad.numpy(), rtol=rtol * 10, atol=atol * 10)


def test_prelu_channel_mismatch_error():
    with pytest.raises(ValueError, match="Found parameter numbers = 2 and channel size = 3"):
        F.prelu(jnp.ones((2, 3)), jnp.ones(2))


def test_invalid_arguments():
    with pytest.raises(ValueError, match="approximate argument must be either none or tanh"):
        F.gelu(jnp.ones(2), approximate="fast")
    with pytest.raises(ValueError, match="approximate argument must be either none or tanh"):
        nn.GELU("fast")
    with pytest.raises(ValueError, match="min_val cannot be greater than max_val"):
        nn.Hardtanh(2.0, 1.0)
    with pytest.raises(ValueError, match="alpha cannot be 0 for CELU"):
        F.celu(jnp.ones(2), alpha=0.0)
    with pytest.raises(ValueError, match="out of range"):
        F.softmax(jnp.ones((2, 3)), dim=2)


def test_softmax_implicit_dim_matches_torch():
    for shape in [(2, 5), (2, 3, 4)]:  # implicit dim 1 and 0
        x = _RNG.standard_normal(shape)
        with pytest.warns(UserWarning, match="Implicit dimension choice for softmax"):
            y = F.softmax(jnp.asarray(x))
        with pytest.warns(UserWarning):
            ty = TF.softmax(torch.tensor(x))
        np.testing.assert_allclose(y, ty.numpy(), rtol=1e-12)


LAYERS = [
    ("ReLU()", ()), ("ReLU(inplace=True)", ()), ("ReLU6()", ()), ("LeakyReLU()", ()),
    ("LeakyReLU(0.2, True)", ()), ("ELU(alpha=0.5)", ()), ("ELU(inplace=True)", ()), ("SELU()", ()),
    ("CELU(2.0)", ()), ("GELU()", ()), ("GELU('tanh')", ()), ("SiLU()", ()), ("Mish()", ()),
    ("Sigmoid()", ()), ("Tanh()", ()), ("Hardtanh()", ()), ("Hardtanh(-2.0, 3, inplace=True)", ()),
    ("Hardsigmoid()", ()), ("Hardswish()", ()), ("Softplus()", ()), ("Softplus(2, 10)", ()),
    ("Softsign()", ()), ("Softmax(dim=1)", ()), ("Softmax()", ()), ("LogSoftmax(dim=-1)", ()),
    ("Threshold(0.1, 20)", ()), ("PReLU()", ()), ("PReLU(num_parameters=3, init=0.1)", ()),
]


@pytest.mark.parametrize("expr", [e for e, _ in LAYERS])
def test_layer_repr_and_forward_match_torch(expr):
    layer = eval(f"nn.{expr}")
    torch.set_default_dtype(torch.float64)  # so PReLU's init=0.1 is the double 0.1
    try:
        tlayer = eval(f"torch.nn.{expr}")
    finally:
        torch.set_default_dtype(torch.float32)
    assert repr(layer) == repr(tlayer)
    params = layer.init(jax.random.key(0), jnp.float64)
    assert list(params) == list(tlayer.state_dict())
    for k, v in tlayer.state_dict().items():
        np.testing.assert_array_equal(params[k], v.numpy())
    x = _X.reshape(5, 11)[:, :3] if "PReLU" in expr else _X
    implicit = "dim=None" in repr(layer)  # both warn about the implicit softmax dim
    with torch.no_grad(), pytest.warns(UserWarning) if implicit else contextlib.nullcontext():
        ty = tlayer(torch.tensor(x)).numpy()
    with pytest.warns(UserWarning) if implicit else contextlib.nullcontext():
        y = layer(params, jnp.asarray(x))
    np.testing.assert_allclose(y, ty, rtol=1e-12, atol=1e-14)


def test_prelu_layer_parameter_gradient_matches_torch():
    layer, tlayer = nn.PReLU(3), torch.nn.PReLU(3).double()
    x = _RNG.standard_normal((4, 3, 5))
    params = layer.init(jax.random.key(0), jnp.float64)
    g = jax.grad(lambda p: jnp.sum(layer(p, jnp.asarray(x)) ** 2))(params)
    (tlayer(torch.tensor(x)) ** 2).sum().backward()
    np.testing.assert_allclose(g["weight"], tlayer.weight.grad.numpy(), rtol=1e-12)


def test_activations_jit_and_vmap():
    x = jnp.asarray(_X)
    f = jax.jit(jax.vmap(lambda r: F.softmax(F.gelu(r), dim=0)))
    np.testing.assert_allclose(f(x), TF.softmax(TF.gelu(torch.tensor(_X)), dim=1).numpy(),
                               rtol=1e-12)
    g = jax.jit(jax.grad(lambda r: jnp.sum(F.hardswish(r) * F.leaky_relu(r, 0.3))))(x)
    xt = torch.tensor(_X, requires_grad=True)
    (TF.hardswish(xt) * TF.leaky_relu(xt, 0.3)).sum().backward()
    np.testing.assert_allclose(g, xt.grad.numpy(), rtol=1e-12)
