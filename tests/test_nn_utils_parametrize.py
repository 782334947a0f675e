"""fnn.nn.utils: parametrizations.weight_norm / spectral_norm (names, forward, gradients,
power-iteration buffers after train-mode steps), fusion, stateless.functional_call; vs torch."""

import copy

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch
from layer_parity import check_layer

import fnn.nn as nn
from fnn import _tree
from fnn.nn.utils import (
    fuse_conv_bn_eval,
    fuse_conv_bn_weights,
    fuse_linear_bn_eval,
    parametrizations,
    stateless,
)

RNG = np.random.default_rng(0)
TP = torch.nn.utils.parametrizations


@pytest.mark.parametrize("make,shape,dim", [
    (lambda m: m.Linear(3, 4), (2, 3), 0),
    (lambda m: m.Conv2d(2, 3, 2), (1, 2, 4, 4), 1),
    (lambda m: m.Conv1d(2, 3, 2), (2, 2, 5), None),
])
def test_weight_norm(make, shape, dim):
    torch.manual_seed(0)
    t = TP.weight_norm(make(torch.nn), dim=dim)
    f = parametrizations.weight_norm(make(nn), dim=dim)
    assert type(f).__name__ == type(t).__name__
    params = f.init(jax.random.key(0))
    assert [(k, v.shape) for k, v in _tree.flatten(params).items()] == [
        (k, tuple(v.shape)) for k, v in t.named_parameters()]
    # init: g = ||v|| so that the initial weight is the layer's default weight
    w = params["parametrizations"]["weight"]
    np.testing.assert_allclose(f._fnn_parametrizations["weight"].weight(w, {}, False)[0],
                               w["original1"], rtol=1e-6)
    x = RNG.standard_normal(shape)
    check_layer(f, t, x, np.float64)
    check_layer(f, t, x, np.float32, 1e-5, 1e-5)


@pytest.mark.parametrize("make,shape,kw", [
    (lambda m: m.Linear(5, 4), (3, 5), {}),
    (lambda m: m.Conv2d(2, 3, 2), (1, 2, 4, 4), {"n_power_iterations": 3, "eps": 1e-6}),
    (lambda m: m.ConvTranspose2d(2, 3, 2), (1, 2, 3, 3), {}),          # dim 1
    (lambda m: m.Conv1d(2, 3, 2), (2, 2, 5), {"dim": 2}),
])
def test_spectral_norm(make, shape, kw):
    torch.manual_seed(0)
    t = TP.spectral_norm(make(torch.nn), **kw)
    f = parametrizations.spectral_norm(make(nn), **kw)
    params, buffers = f.init(jax.random.key(0)), f.init_buffers()
    assert [(k, v.shape) for k, v in _tree.flatten(params).items()] == [
        (k, tuple(v.shape)) for k, v in t.named_parameters()]
    assert [(k, v.shape) for k, v in _tree.flatten(buffers).items()] == [
        (k, tuple(v.shape)) for k, v in t.named_buffers()]
    u = _tree.flatten(buffers)["parametrizations.weight.0._u"]
    np.testing.assert_allclose(jnp.linalg.norm(u), 1.0, rtol=1e-6)
    x = RNG.standard_normal(shape)
    check_layer(f, copy.deepcopy(t), x, np.float64, train=False)
    res = check_layer(f, t, x, np.float64, train=True)       # one step: u, v updated as torch
    # and a second train step from the updated buffers
    t_params = {k: jnp.asarray(v.detach().numpy()) for k, v in t.named_parameters()}
    t_bufs = _tree.unflatten({k: jnp.asarray(v.numpy()) for k, v in t.named_buffers()})
    y, new = jax.jit(lambda p, b: f.apply(p, x, buffers=b, train=True))(
        _tree.unflatten(t_params), t_bufs)
    want = t(torch.tensor(x))
    np.testing.assert_allclose(y, want.detach().numpy(), rtol=1e-10, atol=1e-12)
    for k, v in t.named_buffers():
        np.testing.assert_allclose(_tree.flatten(new)[k], v.numpy(), rtol=1e-10, atol=1e-12)
    assert set(res["buffers"]) == {k for k, _ in t.named_buffers()}


def test_spectral_norm_vector_and_errors():
    torch.manual_seed(0)
    t = TP.spectral_norm(torch.nn.PReLU(3))
    f = parametrizations.spectral_norm(nn.PReLU(3))
    assert f.init_buffers() == {}
    check_layer(f, t, RNG.standard_normal((2, 3, 4)), np.float64, train=True)
    with pytest.raises(ValueError, match="Expected n_power_iterations to be positive, but got "
                                         "n_power_iterations=0"):
        parametrizations.spectral_norm(nn.Linear(2, 3), n_power_iterations=0)
    with pytest.raises(ValueError, match="does not have a parameter, a buffer, or a parametrized "
                                         "element with name 'foo'"):
        parametrizations.weight_norm(nn.Linear(2, 3), name="foo")
    with pytest.raises(ValueError, match="needs its buffers"):
        m = parametrizations.spectral_norm(nn.Linear(2, 3))
        m(m.init(jax.random.key(0)), jnp.ones((1, 2)))


def test_parametrized_submodule_in_a_model():
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    parametrizations.weight_norm(model[0])
    parametrizations.spectral_norm(model[2])
    tm = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.Linear(4, 2))
    TP.weight_norm(tm[0])
    TP.spectral_norm(tm[2])
    params, buffers = model.init(jax.random.key(0)), model.init_buffers()
    assert list(_tree.flatten(params)) == [k for k, _ in tm.named_parameters()]
    assert list(_tree.flatten(buffers)) == [k for k, _ in tm.named_buffers()]
    check_layer(model, tm, RNG.standard_normal((5, 3)), np.float64, train=True)


@pytest.mark.parametrize("transpose", [False, True])
def test_fuse_conv_bn(transpose):
    torch.manual_seed(0)
    cls, fcls = ((torch.nn.ConvTranspose2d, nn.ConvTranspose2d) if transpose
                 else (torch.nn.Conv2d, nn.Conv2d))
    tc, tb = cls(2, 3, 2, bias=not transpose).double().eval(), torch.nn.BatchNorm2d(3).double()
    with torch.no_grad():
        tb.running_mean.copy_(torch.randn(3))
        tb.running_var.copy_(torch.rand(3) + 0.5)
        tb.weight.copy_(torch.randn(3))
        tb.bias.copy_(torch.randn(3))
    tb.eval()
    want = torch.nn.utils.fuse_conv_bn_eval(tc, tb, transpose=transpose)
    fc, fb = fcls(2, 3, 2, bias=not transpose), nn.BatchNorm2d(3)
    cp = {k: jnp.asarray(v.detach().numpy()) for k, v in tc.named_parameters()}
    bp = {k: jnp.asarray(v.detach().numpy()) for k, v in tb.named_parameters()}
    bb = {k: jnp.asarray(v.numpy()) for k, v in tb.named_buffers()}
    fused, fp = fuse_conv_bn_eval(fc, cp, fb, bp, bb, transpose=transpose)
    assert fused.bias is True and fc.bias == (not transpose)
    for k, v in want.named_parameters():
        np.testing.assert_allclose(fp[k], v.detach().numpy(), rtol=1e-12, atol=1e-14)
    x = RNG.standard_normal((1, 2, 4, 4))
    np.testing.assert_allclose(fused(fp, x), tb(tc(torch.tensor(x))).detach().numpy(),
                               rtol=1e-10, atol=1e-12)
    w, b = fuse_conv_bn_weights(cp["weight"], cp.get("bias"), bb["running_mean"],
                                bb["running_var"], 1e-5, None, None, transpose)
    assert w.shape == cp["weight"].shape and b.shape == (3,)


def test_fuse_linear_bn_and_functional_call():
    torch.manual_seed(0)
    tl, tb = torch.nn.Linear(3, 4).double().eval(), torch.nn.BatchNorm1d(4).double()
    with torch.no_grad():
        tb.running_mean.copy_(torch.randn(4))
        tb.running_var.copy_(torch.rand(4) + 0.5)
    tb.eval()
    want = torch.nn.utils.fuse_linear_bn_eval(tl, tb)
    lp = {k: jnp.asarray(v.detach().numpy()) for k, v in tl.named_parameters()}
    bp = {k: jnp.asarray(v.detach().numpy()) for k, v in tb.named_parameters()}
    bb = {k: jnp.asarray(v.numpy()) for k, v in tb.named_buffers()}
    fused, fp = fuse_linear_bn_eval(nn.Linear(3, 4), lp, nn.BatchNorm1d(4), bp, bb)
    for k, v in want.named_parameters():
        np.testing.assert_allclose(fp[k], v.detach().numpy(), rtol=1e-12, atol=1e-14)
    with pytest.raises(ValueError, match="To fuse, linear.out_features == bn.num_features"):
        fuse_linear_bn_eval(nn.Linear(3, 4), lp, nn.BatchNorm1d(3), bp, bb)
    with pytest.raises(ValueError, match="bn.running_mean and bn.running_var must not be None"):
        fuse_linear_bn_eval(nn.Linear(3, 4), lp, nn.BatchNorm1d(4), bp, {})
    # functional_call: torch's flat state_dict (params and buffers together)
    tm = torch.nn.Sequential(tl, tb)
    sd = {k: jnp.asarray(v.detach().numpy()) for k, v in tm.state_dict().items()}
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
    x = RNG.standard_normal((5, 3))
    want = torch.func.functional_call(tm, dict(tm.state_dict()), (torch.tensor(x),))
    got = jax.jit(lambda sd, x: stateless.functional_call(model, sd, (x,), strict=True))(sd, x)
    np.testing.assert_allclose(got, want.detach().numpy(), rtol=1e-10, atol=1e-12)
    params = {k: v for k, v in sd.items() if "running" not in k and "num_batches" not in k}
    buffers = {k: v for k, v in sd.items() if k not in params}
    np.testing.assert_allclose(stateless.functional_call(model, (params, buffers), x),
                               want.detach().numpy(), rtol=1e-10, atol=1e-12)
    with pytest.raises(ValueError, match="Missing key"):
        stateless.functional_call(model, params, (x,), strict=True)


def test_spectral_norm_init_buffers_warm_up_like_torch():
    """torch's registration runs 15 power iterations: init_buffers(params=...) does too, so
    sigma (u^T W v, sign-free) matches torch's right after initialisation."""
    model = nn.Sequential(nn.Linear(6, 5), nn.ReLU())
    parametrizations.spectral_norm(model[0])
    params = model.init(jax.random.key(0), dtype=jnp.float64)
    w = np.asarray(params["0"]["parametrizations"]["weight"]["original"])
    b = _tree.flatten(model.init_buffers(jnp.float64, params=params))
    cold = _tree.flatten(model.init_buffers(jnp.float64))
    t = torch.nn.Linear(6, 5).double()
    with torch.no_grad():
        t.weight.copy_(torch.tensor(w))
    t = TP.spectral_norm(t)
    sigma = float(b["0.parametrizations.weight.0._u"] @ w @ b["0.parametrizations.weight.0._v"])
    tu, tv = t.parametrizations.weight[0]._u, t.parametrizations.weight[0]._v
    np.testing.assert_allclose(sigma, float(tu @ torch.tensor(w) @ tv), rtol=1e-4)
    np.testing.assert_allclose(sigma, np.linalg.norm(w, 2), rtol=1e-3)
    assert not np.allclose(cold["0.parametrizations.weight.0._u"],
                           b["0.parametrizations.weight.0._u"])
