"""Embedding and one_hot against torch 2.13."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch
from layer_parity import check_layer

import fnn.nn.functional as F
from fnn import nn

IDX = np.array([[0, 2, 4, 9], [9, 9, 1, 0], [3, 2, 2, 8]])


@pytest.mark.parametrize("padding_idx", [None, 2, -1])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_embedding_matches_torch_including_padding_gradient(padding_idx, dtype):
    layer = nn.Embedding(10, 3, padding_idx=padding_idx)
    tlayer = torch.nn.Embedding(10, 3, padding_idx=padding_idx)
    assert repr(layer) == repr(tlayer)
    assert layer.padding_idx == tlayer.padding_idx
    res = check_layer(layer, tlayer, IDX, dtype, jit=True)
    if padding_idx is not None:
        row = padding_idx % 10
        np.testing.assert_array_equal(res["param_grads"]["weight"][row], 0.0)
        assert np.any(IDX == row)  # the padding index is used, so this is a real check


def test_embedding_init_distribution_and_padding_row():
    w = np.asarray(nn.Embedding(4000, 50, padding_idx=-2).init(jax.random.key(0))["weight"])
    assert w.shape == (4000, 50) and w.dtype == np.float32
    np.testing.assert_array_equal(w[3998], 0.0)
    rest = np.delete(w, 3998, axis=0)
    n = rest.size
    assert abs(rest.mean()) < 5 / np.sqrt(n)
    assert abs(rest.std() - 1.0) < 5 * np.sqrt(0.5 / n)
    tw = torch.nn.Embedding(4000, 50, padding_idx=-2).weight.detach().numpy()
    np.testing.assert_array_equal(tw[3998], 0.0)  # torch zeroes the same (normalized) row


def test_embedding_errors():
    for bad in (10, -11):
        with pytest.raises(ValueError, match="Padding_idx must be within num_embeddings"):
            nn.Embedding(10, 3, padding_idx=bad)
        with pytest.raises(AssertionError, match="Padding_idx must be within num_embeddings"):
            torch.nn.Embedding(10, 3, padding_idx=bad)
    with pytest.raises(ValueError, match="indices must be integers"):
        F.embedding(jnp.ones(3), jnp.ones((4, 2)))


def test_one_hot_matches_torch_and_jit_rule():
    t = np.array([[0, 3], [1, 1], [2, 0]])
    for nc in (-1, 4, 6):
        got = F.one_hot(jnp.asarray(t), nc)
        want = torch.nn.functional.one_hot(torch.tensor(t), nc).numpy()
        assert got.dtype == jnp.int64
        np.testing.assert_array_equal(got, want)
    jitted = jax.jit(lambda v: F.one_hot(v, 5))
    np.testing.assert_array_equal(jitted(jnp.asarray(t)),
                                  torch.nn.functional.one_hot(torch.tensor(t), 5).numpy())
    with pytest.raises(ValueError, match="pass num_classes explicitly"):
        jax.jit(F.one_hot)(jnp.asarray(t))
    with pytest.raises(ValueError, match="Class values must be smaller than num_classes."):
        F.one_hot(jnp.asarray([1, 5]), 3)
    with pytest.raises(ValueError, match="Class values must be non-negative."):
        F.one_hot(jnp.asarray([1, -1]))
