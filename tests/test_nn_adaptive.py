"""AdaptiveLogSoftmaxWithLoss and F.linear_cross_entropy / nn.LinearCrossEntropyLoss against
torch 2.13 (forward, gradients w.r.t. input and every parameter, jit)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch

import fnn.nn as nn
import fnn.nn.functional as F
from fnn import _tree

RNG = np.random.default_rng(0)


def _params(t):
    return _tree.unflatten({k: jnp.asarray(v.detach().numpy()) for k, v in t.named_parameters()})


def _torch_grads(t, x, loss):
    loss.backward()
    return x.grad.numpy(), {k: (v.grad.numpy() if v.grad is not None else np.zeros(v.shape))
                            for k, v in t.named_parameters()}


@pytest.mark.parametrize("head_bias,batched", [(True, True), (False, False)])
def test_adaptive_log_softmax(head_bias, batched):
    torch.manual_seed(0)
    t = torch.nn.AdaptiveLogSoftmaxWithLoss(8, 10, [3, 6], div_value=2.0,
                                            head_bias=head_bias).double()
    f = nn.AdaptiveLogSoftmaxWithLoss(8, 10, [3, 6], div_value=2.0, head_bias=head_bias)
    assert repr(f) == repr(t)
    target = np.array([0, 4, 9, 2, 7, 5]) if batched else np.array(8)
    x = RNG.standard_normal((6, 8) if batched else (8,))
    tx = torch.tensor(x, requires_grad=True)
    tout = t(tx, torch.tensor(target))
    cot = RNG.standard_normal(tout.output.shape)
    gx, gp = _torch_grads(t, tx, (tout.output * torch.tensor(cot)).sum() + tout.loss)
    params = _params(t)

    def fn(p, x):
        out = f(p, x, jnp.asarray(target))
        return jnp.sum(out.output * cot) + out.loss, out

    (g_p, g_x), out = jax.jit(jax.grad(fn, argnums=(0, 1), has_aux=True))(params, x)
    np.testing.assert_allclose(out.output, tout.output.detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(out.loss, tout.loss.item(), rtol=1e-10)
    np.testing.assert_allclose(g_x, gx, rtol=1e-10, atol=1e-12)
    for k, v in _tree.flatten(g_p).items():
        np.testing.assert_allclose(v, gp[k], rtol=1e-10, atol=1e-12, err_msg=k)
    if batched:
        lp = f.log_prob(params, x)
        np.testing.assert_allclose(lp, t.log_prob(torch.tensor(x)).detach().numpy(), rtol=1e-10)
        np.testing.assert_array_equal(f.predict(params, x), t.predict(torch.tensor(x)).numpy())


def test_adaptive_log_softmax_errors_and_init():
    with pytest.raises(ValueError, match="cutoffs should be a sequence of length larger than 0"):
        nn.AdaptiveLogSoftmaxWithLoss(8, 10, [])
    with pytest.raises(ValueError, match="cutoffs should be a sequence of unique, positive"):
        nn.AdaptiveLogSoftmaxWithLoss(8, 10, [6, 3])
    f = nn.AdaptiveLogSoftmaxWithLoss(8, 10, [3])
    p = f.init(jax.random.key(0))
    with pytest.raises(ValueError, match=r"Target values should be in \[0, 9\], but values in "
                                         r"range \[0, 12\] were found."):
        f(p, jnp.ones((2, 8)), jnp.asarray([0, 12]))
    with pytest.raises(ValueError, match="1D target tensor expects 2D input tensors"):
        f(p, jnp.ones((2, 2, 8)), jnp.asarray([0, 1]))
    assert [(k, v.shape) for k, v in _tree.flatten(p).items()] == [
        (k, tuple(v.shape)) for k, v in
        torch.nn.AdaptiveLogSoftmaxWithLoss(8, 10, [3]).named_parameters()]


@pytest.mark.parametrize("kw,out_features,target_kind", [
    ({}, (), "index"),
    ({"label_smoothing": 0.2, "reduction": "sum", "bias": True}, (), "index"),
    ({"ignore_index": 1, "reduction": "none", "weight": True}, (), "index"),
    ({"bias": True}, (3,), "index"),
    ({"label_smoothing": 0.1}, (), "probs"),
])
def test_linear_cross_entropy(kw, out_features, target_kind):
    torch.manual_seed(0)
    kw = dict(kw)
    if kw.pop("weight", False):
        kw["weight"] = torch.rand(5, dtype=torch.float64) + 0.5
    t = torch.nn.LinearCrossEntropyLoss(4, 5, out_features=out_features, **kw).double()
    fkw = {k: (v.numpy() if isinstance(v, torch.Tensor) else v) for k, v in kw.items()}
    f = nn.LinearCrossEntropyLoss(4, 5, out_features=out_features, **fkw)
    x = RNG.standard_normal((6, 4))
    if target_kind == "probs":
        target = RNG.dirichlet(np.ones(5), 6)
    else:
        target = RNG.integers(0, 5, (6, *out_features))
    tx = torch.tensor(x, requires_grad=True)
    tout = t(tx, torch.tensor(target))
    cot = RNG.standard_normal(tout.shape)
    gx, gp = _torch_grads(t, tx, (tout * torch.tensor(cot)).sum())
    params = _params(t)
    fn = jax.jit(jax.value_and_grad(lambda p, x: jnp.sum(f(p, x, jnp.asarray(target)) * cot),
                                    argnums=(0, 1)))
    val, (g_p, g_x) = fn(params, x)
    np.testing.assert_allclose(val, (tout * torch.tensor(cot)).sum().item(), rtol=1e-10)
    np.testing.assert_allclose(g_x, gx, rtol=1e-10, atol=1e-12)
    for k, v in _tree.flatten(g_p).items():
        np.testing.assert_allclose(v, gp[k], rtol=1e-10, atol=1e-12, err_msg=k)
    # the functional form, unbatched input
    if not out_features and target_kind == "index":
        w = RNG.standard_normal((5, 4))
        want = torch.nn.functional.linear_cross_entropy(torch.tensor(x[0]), torch.tensor(w),
                                                        torch.tensor(target[0]))
        np.testing.assert_allclose(F.linear_cross_entropy(x[0], w, target[0]), want.item(),
                                   rtol=1e-10)


def test_linear_cross_entropy_errors():
    w = jnp.ones((5, 4))
    with pytest.raises(ValueError, match="expected input with dimensionality 1 or 2, got 3"):
        F.linear_cross_entropy(jnp.ones((2, 2, 4)), w, jnp.zeros(2, int))
    with pytest.raises(ValueError, match="expected equal input and linear_weight last dimensions"):
        F.linear_cross_entropy(jnp.ones((2, 3)), w, jnp.zeros(2, int))
    with pytest.raises(ValueError, match=r"expected linear_bias shape \(5,\), got \(4,\)"):
        F.linear_cross_entropy(jnp.ones((2, 4)), w, jnp.zeros(2, int), linear_bias=jnp.ones(4))
    with pytest.raises(ValueError, match="ignore_index cannot be specified when target contains"):
        F.linear_cross_entropy(jnp.ones((2, 4)), w, jnp.ones((2, 5)) / 5, ignore_index=0)
    with pytest.raises(ValueError, match="requires batched input"):
        F.linear_cross_entropy(jnp.ones(4), jnp.ones((5, 2, 4)), jnp.zeros((), int))
    with pytest.raises(ValueError, match=r"expected weight shape to be \(5,\), got \(4,\)"):
        nn.LinearCrossEntropyLoss(4, 5, weight=np.ones(4))
    with pytest.raises(ValueError, match=r"expected label_smoothing to be in range \[0, 1\]"):
        nn.LinearCrossEntropyLoss(4, 5, label_smoothing=1.5)


@pytest.mark.parametrize("case", ["3d3d", "2d3d", "2d2d", "3d2d"])
def test_grouped_mm(case):
    """torch's CPU kernel needs float32 and 16-byte-aligned strides (sizes multiple of 4)."""
    g, m, k, n = 3, 4, 8, 8
    shapes = {"3d3d": ((g, m, k), (g, k, n)), "2d3d": ((8, k), (g, k, n)),
              "2d2d": ((m, 8), (8, n)), "3d2d": ((g, m, k), (k, 8))}[case]
    a, b = (RNG.standard_normal(s).astype(np.float32) for s in shapes)
    offs = None if case == "3d3d" else np.array([2, 5, 7], np.int32)
    ta, tb = (torch.tensor(v, requires_grad=True) for v in (a, b))
    want = torch.nn.functional.grouped_mm(ta, tb, offs=None if offs is None else torch.tensor(offs))
    got = jax.jit(lambda a, b: F.grouped_mm(a, b, offs=offs))(a, b)
    want = want.detach().numpy()
    if case == "2d3d":   # rows past offs[-1]: torch leaves them uninitialized, fnn gives zeros
        want, got = want[:7], got[:7]
        np.testing.assert_array_equal(F.grouped_mm(a, b, offs=offs)[7], 0.0)
    if case == "3d2d":   # columns past offs[-1], likewise
        want, got = want[:, :7], got[:, :7]
        np.testing.assert_array_equal(F.grouped_mm(a, b, offs=offs)[:, 7], 0.0)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    ga = jax.grad(lambda a: jnp.sum(F.grouped_mm(a, b, offs=offs)))(a.astype(np.float64))
    assert np.isfinite(ga).all() and np.abs(ga).sum() > 0
    with pytest.raises(ValueError, match="Bias not supported yet"):
        F.grouped_mm(a, b, offs=offs, bias=jnp.ones(n))
