"""EmbeddingBag / F.embedding_bag against torch 2.13: every mode, offsets,
include_last_offset, per_sample_weights, padding_idx, 2-D input; jit and grad."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch
from layer_parity import check_layer

import fnn.nn as nn
import fnn.nn.functional as F

RNG = np.random.default_rng(0)
IDX = np.array([1, 2, 4, 4, 0, 3, 2, 5, 1])


@pytest.mark.parametrize("mode,offsets,last,padding_idx,psw", [
    ("mean", [0, 2, 2, 5], False, None, False),      # with an empty bag
    ("sum", [0, 3, 7], False, 2, True),
    ("max", [0, 1, 4, 9], True, None, False),
    ("mean", [0, 4, 6], True, 4, False),
    ("max", [0, 3], False, -2, False),
    ("sum", None, False, 1, False),                  # 2-D input
])
def test_embedding_bag_parity(mode, offsets, last, padding_idx, psw):
    torch.manual_seed(0)
    t = torch.nn.EmbeddingBag(6, 3, mode=mode, include_last_offset=last, padding_idx=padding_idx)
    f = nn.EmbeddingBag(6, 3, mode=mode, include_last_offset=last, padding_idx=padding_idx)
    assert repr(f) == repr(t)
    inp = IDX[:8].reshape(2, 4) if offsets is None else IDX
    extra = {} if offsets is None else {"offsets": torch.tensor(offsets)}
    w = RNG.random(inp.shape) + 0.5 if psw else None
    # per_sample_weights is a float input (its gradient is checked too)
    if psw:
        res = check_layer(f, _WithWeights(t), (inp, np.asarray(offsets), w), np.float64)
    else:
        res = check_layer(f, t, (inp,), np.float64, kwargs=extra)
    assert np.isfinite(res["out"]).all()


class _WithWeights(torch.nn.Module):
    def __init__(self, bag):
        super().__init__()
        self.weight = bag.weight
        self.bag = bag

    def forward(self, inp, offsets, w):
        return torch.nn.functional.embedding_bag(inp, self.weight, offsets, mode="sum",
                                                 per_sample_weights=w,
                                                 padding_idx=self.bag.padding_idx)


def test_embedding_bag_init_and_functional_jit():
    f = nn.EmbeddingBag(1000, 8, padding_idx=3)
    w = f.init(jax.random.key(0))["weight"]
    assert w.shape == (1000, 8) and not np.any(np.asarray(w[3]))
    assert abs(float(jnp.std(w)) - 1.0) < 0.03                      # N(0, 1) as torch
    weight = RNG.standard_normal((6, 3))
    fn = jax.jit(lambda w, o: F.embedding_bag(jnp.asarray(IDX), w, o, mode="mean"))
    want = torch.nn.functional.embedding_bag(torch.tensor(IDX), torch.tensor(weight),
                                             torch.tensor([0, 4, 5]), mode="mean")
    np.testing.assert_allclose(fn(weight, jnp.asarray([0, 4, 5])), want.numpy(), rtol=1e-12)
    given = nn.EmbeddingBag(6, 3, _weight=weight).init(jax.random.key(0), dtype=jnp.float64)
    np.testing.assert_array_equal(given["weight"], weight)


def test_embedding_bag_errors():
    w = jnp.ones((6, 3))
    with pytest.raises(ValueError, match="if input is 2D, then offsets has to be None"):
        F.embedding_bag(jnp.asarray([[1, 2], [3, 4]]), w, jnp.asarray([0, 1]))
    with pytest.raises(ValueError, match="offsets has to be a 1D Tensor but got None"):
        F.embedding_bag(jnp.asarray([1, 2, 3]), w)
    with pytest.raises(ValueError, match="offsets has to be a 1D Tensor"):
        F.embedding_bag(jnp.asarray([1, 2, 3]), w, jnp.asarray([[0, 1]]))
    with pytest.raises(ValueError, match="per_sample_weights is only supported for mode='sum'"):
        F.embedding_bag(jnp.asarray([1, 2, 3]), w, jnp.asarray([0, 1]), mode="mean",
                        per_sample_weights=jnp.ones(3))
    with pytest.raises(ValueError, match="then it must have the same shape as the input"):
        F.embedding_bag(jnp.asarray([1, 2, 3]), w, jnp.asarray([0, 1]), mode="sum",
                        per_sample_weights=jnp.ones(2))
    with pytest.raises(ValueError, match="mode has to be one of sum, mean or max"):
        nn.EmbeddingBag(6, 3, mode="foo")
    with pytest.raises(ValueError, match="offsets\\[0\\] has to be 0"):
        F.embedding_bag(jnp.asarray([1, 2, 3]), w, jnp.asarray([1, 2]))
    with pytest.raises(IndexError, match=r"Index 1 of input takes value 9 which is not in the "
                                         r"valid range \[0, 6\)"):
        F.embedding_bag(jnp.asarray([1, 9]), w, jnp.asarray([0]))
    with pytest.raises(ValueError, match="'indices' to have one of the following scalar types"):
        F.embedding_bag(jnp.asarray([1.0, 2.0]), w, jnp.asarray([0]))
