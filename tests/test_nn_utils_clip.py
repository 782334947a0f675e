"""``fnn.nn.utils`` clipping and parameter vectors against torch.nn.utils 2.13."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
import torch

from fnn import nn, optim


def _grads(seed=0, scale=1.0):
    rng = np.random.default_rng(seed)
    return {"fc1": {"weight": rng.standard_normal((4, 3)) * scale, "bias": rng.standard_normal(4) * scale},
            "fc2": {"weight": rng.standard_normal((2, 4)) * scale, "bias": rng.standard_normal(2) * scale}}


def _in_order(new, like):
    """Leaves of ``new`` in ``like``'s key order (jit returns dicts with sorted keys)."""
    return [np.asarray(new[a][b]) for a, sub in like.items() for b in sub]


def _torch_params(grads):
    ps = []
    for sub in grads.values():
        for g in sub.values():
            p = torch.zeros(g.shape, dtype=torch.float64, requires_grad=True)
            p.grad = torch.tensor(g)
            ps.append(p)
    return ps


@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.5, math.inf, "inf", 0.0])
@pytest.mark.parametrize("max_norm", [0.5, 1e3])
def test_clip_grad_norm_matches_torch(norm_type, max_norm):
    grads = _grads(1)
    ps = _torch_params(grads)
    t_total = torch.nn.utils.clip_grad_norm_(ps, max_norm, norm_type=norm_type)
    jg = jax.tree.map(jnp.asarray, grads)
    new, total = jax.jit(lambda g: nn.utils.clip_grad_norm(g, max_norm, norm_type))(jg)
    np.testing.assert_allclose(float(total), float(t_total), rtol=1e-13)
    flat = _in_order(new, grads)
    for got, p in zip(flat, ps):
        np.testing.assert_allclose(got, p.grad.numpy(), rtol=1e-13, atol=1e-15)
    if max_norm > 100:  # not clipped: the coefficient is clamped to exactly 1
        for got, want in zip(flat, [v for sub in grads.values() for v in sub.values()]):
            np.testing.assert_array_equal(got, want)


def test_get_total_norm_and_clip_grads_with_norm_match_torch():
    grads = _grads(2, scale=3.0)
    tensors = [torch.tensor(v) for sub in grads.values() for v in sub.values()]
    t_total = torch.nn.utils.get_total_norm(tensors, 2.0)
    total = nn.utils.get_total_norm(grads)
    np.testing.assert_allclose(float(total), float(t_total), rtol=1e-14)
    ps = _torch_params(grads)
    torch.nn.utils.clip_grads_with_norm_(ps, 1.0, t_total)
    new = nn.utils.clip_grads_with_norm(grads, 1.0, total)
    np.testing.assert_allclose(np.asarray(new["fc2"]["weight"]), ps[2].grad.numpy(), rtol=1e-14)
    assert float(nn.utils.get_total_norm({})) == 0.0


def test_clip_grad_value_matches_torch():
    grads = _grads(3)
    ps = _torch_params(grads)
    torch.nn.utils.clip_grad_value_(ps, 0.7)
    new = jax.jit(lambda g: nn.utils.clip_grad_value(g, 0.7))(grads)
    flat = _in_order(new, grads)
    for got, p in zip(flat, ps):
        np.testing.assert_array_equal(got, p.grad.numpy())
    assert max(np.abs(f).max() for f in flat) == pytest.approx(0.7)


def test_nonfinite_norm_raises_torch_message_and_float32():
    grads = {"w": jnp.array([1.0, jnp.inf])}
    with pytest.raises(RuntimeError, match="is non-finite, so it cannot be clipped"):
        nn.utils.clip_grad_norm(grads, 1.0, error_if_nonfinite=True)
    _, total = nn.utils.clip_grad_norm(grads, 1.0)
    assert np.isinf(float(total))
    g32 = {"w": jnp.arange(4, dtype=jnp.float32)}
    new, total = nn.utils.clip_grad_norm(g32, 1.0)
    assert new["w"].dtype == jnp.float32
    t = torch.arange(4, dtype=torch.float32, requires_grad=True)
    t.grad = torch.arange(4, dtype=torch.float32)
    t_total = torch.nn.utils.clip_grad_norm_([t], 1.0)
    np.testing.assert_allclose(np.asarray(new["w"]), t.grad.numpy(), rtol=1e-6)
    np.testing.assert_allclose(float(total), float(t_total), rtol=1e-6)


def test_transforms_chain_before_an_optimizer():
    params = jax.tree.map(lambda g: jnp.zeros_like(jnp.asarray(g)), _grads(0))
    grads = jax.tree.map(jnp.asarray, _grads(4, scale=5.0))
    opt = optax.chain(nn.utils.clip_grad_norm_transform(0.25), optim.sgd(lr=1.0))
    state = opt.init(params)
    updates, state = jax.jit(opt.update)(grads, state, params)
    want, total = nn.utils.clip_grad_norm(grads, 0.25)
    np.testing.assert_allclose(np.asarray(updates["fc1"]["weight"]), -np.asarray(want["fc1"]["weight"]),
                               rtol=1e-14)
    np.testing.assert_allclose(float(state[0].total_norm), float(total), rtol=1e-14)
    opt = optax.chain(nn.utils.clip_grad_value_transform(0.1), optim.sgd(lr=1.0))
    updates, _ = opt.update(grads, opt.init(params), params)
    assert float(jnp.max(jnp.abs(updates["fc2"]["bias"]))) == pytest.approx(0.1)


def test_parameters_to_vector_roundtrip_in_torch_order():
    tm = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.Linear(4, 2)).double()
    params = {k: {} for k in ("0", "2")}
    for k, v in tm.state_dict().items():
        a, b = k.split(".")
        params[a][b] = jnp.asarray(v.numpy())
    vec = nn.utils.parameters_to_vector(params)
    np.testing.assert_array_equal(np.asarray(vec), torch.nn.utils.parameters_to_vector(tm.parameters()).detach().numpy())
    new_vec = jnp.arange(vec.shape[0], dtype=jnp.float64)
    new = jax.jit(lambda v: nn.utils.vector_to_parameters(v, params))(new_vec)
    torch.nn.utils.vector_to_parameters(torch.tensor(np.asarray(new_vec)), tm.parameters())
    for k, v in tm.state_dict().items():
        a, b = k.split(".")
        np.testing.assert_array_equal(np.asarray(new[a][b]), v.numpy())
    assert list(nn.utils.vector_to_parameters(new_vec, params)["0"]) == ["weight", "bias"]
    lst = nn.utils.vector_to_parameters(jnp.arange(5.0), [jnp.zeros(2), jnp.zeros((1, 3))])
    assert isinstance(lst, list) and lst[1].shape == (1, 3)


def test_bad_arguments():
    with pytest.raises(TypeError, match="expected torch.Tensor"):
        nn.utils.vector_to_parameters([1.0, 2.0], {"w": jnp.zeros(2)})
    with pytest.raises(ValueError, match="3 entries but the parameters have 2"):
        nn.utils.vector_to_parameters(jnp.zeros(3), {"w": jnp.zeros(2)})
    with pytest.raises(TypeError, match="max_norm"):
        nn.utils.clip_grad_norm({"w": jnp.ones(2)}, "1")
    with pytest.raises(TypeError, match="clip_value"):
        nn.utils.clip_grad_value({"w": jnp.ones(2)}, None)
