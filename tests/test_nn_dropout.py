"""Dropout / Dropout2d: statistics, scaling and edge cases against torch 2.13's formula.

Masks cannot match torch's (different generators), so the tests check the distribution
(fraction zeroed within 5 sigma of ``p``), the exact scaling of the kept values against
torch's kept values, gradients, keys and modes.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch

import fnn.nn.functional as F
from fnn import nn

N = 200_000
_X64 = np.random.default_rng(0).standard_normal(N) + 3.0  # never exactly 0


@jax.jit
def _drop_stats(x, key):
    return F.dropout(x, 0.3, key=key)


@pytest.mark.parametrize("p", [0.1, 0.5, 0.9])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_dropout_fraction_and_scaling_match_torch(p, dtype):
    x = _X64.astype(dtype)
    y = np.asarray(F.dropout(jnp.asarray(x), p, key=jax.random.key(1)))
    zero = y == 0
    sigma = np.sqrt(p * (1 - p) / N)
    assert abs(zero.mean() - p) < 5 * sigma
    torch.manual_seed(0)
    ty = torch.nn.functional.dropout(torch.tensor(x), p).numpy()
    both = (~zero) & (ty != 0)
    assert both.sum() > 0.005 * N
    np.testing.assert_array_equal(y[both], ty[both])  # the same scaling x * (1 / (1 - p))
    np.testing.assert_allclose(y[~zero], x[~zero] / (1 - p), rtol=1e-6 if dtype == np.float32 else 1e-15)


def test_dropout_gradient_is_mask_over_keep_prob():
    x, key = jnp.asarray(_X64[:1000]), jax.random.key(3)
    g = jax.grad(lambda v: jnp.sum(F.dropout(v, 0.4, key=key)))(x)
    y = F.dropout(x, 0.4, key=key)
    np.testing.assert_array_equal(np.asarray(g), np.where(np.asarray(y) != 0, 1 / 0.6, 0.0))


def test_dropout_keys_eval_and_edges():
    x = jnp.asarray(_X64)
    a = _drop_stats(x, jax.random.key(7))
    np.testing.assert_array_equal(a, _drop_stats(x, jax.random.key(7)))
    assert np.mean(np.asarray(a) != np.asarray(_drop_stats(x, jax.random.key(8)))) > 0.2
    np.testing.assert_array_equal(F.dropout(x, 0.5, training=False), x)
    np.testing.assert_array_equal(F.dropout(x, 0.0, key=jax.random.key(0)), x)
    np.testing.assert_array_equal(F.dropout(x, 0.0), x)  # p = 0 needs no key
    np.testing.assert_array_equal(F.dropout(x, 1.0), np.zeros(N))
    np.testing.assert_array_equal(torch.nn.functional.dropout(torch.tensor(_X64), 1.0).numpy(),
                                  np.zeros(N))
    for bad in (-0.1, 1.5):
        with pytest.raises(ValueError, match=f"dropout probability has to be between 0 and 1, but got {bad}"):
            F.dropout(x, bad, key=jax.random.key(0))
        with pytest.raises(ValueError, match="dropout probability has to be between 0 and 1"):
            nn.Dropout2d(bad)
        with pytest.raises(ValueError, match="dropout probability has to be between 0 and 1"):
            torch.nn.Dropout(bad)
    with pytest.raises(ValueError, match="needs a PRNG key"):
        F.dropout(x, 0.5)


def test_dropout2d_zeroes_whole_channels():
    x = jnp.asarray(_X64[: 400 * 50 * 4].reshape(400, 50, 2, 2))
    y = np.asarray(F.dropout2d(x, 0.25, key=jax.random.key(0)))
    per_channel = (y == 0).reshape(400, 50, 4)
    assert np.all(per_channel.all(-1) | ~per_channel.any(-1))  # all or nothing per channel
    frac = per_channel.all(-1).mean()
    assert abs(frac - 0.25) < 5 * np.sqrt(0.25 * 0.75 / 20000)
    kept = ~per_channel.all(-1)
    np.testing.assert_allclose(y[kept], np.asarray(x)[kept] / 0.75, rtol=1e-15)
    # 3-D input: (N, C, L) channels, as torch 2.13 does; torch's output has the same structure
    x3 = _X64[: 200 * 30 * 5].reshape(200, 30, 5)
    y3 = np.asarray(F.dropout2d(jnp.asarray(x3), 0.5, key=jax.random.key(1)))
    with pytest.warns(UserWarning):
        t3 = torch.nn.functional.dropout2d(torch.tensor(x3), 0.5).numpy()
    for out in (y3, t3):
        z = out == 0
        assert np.all(z.all(-1) | ~z.any(-1))


def test_dropout_modules_repr_modes_and_keys():
    for expr in ("Dropout()", "Dropout(p=0.2)", "Dropout(0.3, inplace=True)", "Dropout2d(0.1)"):
        assert repr(eval(f"nn.{expr}")) == repr(eval(f"torch.nn.{expr}"))
    model = nn.Sequential(nn.Linear(4, 64), nn.Dropout(0.5), nn.Linear(64, 64), nn.Dropout(0.5))
    params = model.init(jax.random.key(0), jnp.float64)
    x = jnp.asarray(_X64[:32].reshape(8, 4))
    run = jax.jit(lambda p, v, k: model.apply(p, v, train=True, key=k)[0])
    a, b = run(params, x, jax.random.key(1)), run(params, x, jax.random.key(1))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, run(params, x, jax.random.key(2)))
    z = np.asarray(a) == 0
    assert 0.4 < z.mean() < 0.6  # the last dropout zeroes about half of the outputs
    # eval mode (the default) is the identity and needs no key
    ref = x @ params["0"]["weight"].T + params["0"]["bias"]
    ref = ref @ params["2"]["weight"].T + params["2"]["bias"]
    np.testing.assert_allclose(model(params, x), ref, rtol=1e-14)
    with pytest.raises(ValueError, match=r"Dropout '1' needs randomness in training mode"):
        model.apply(params, x, train=True)
