"""GLU, Softmin, Softmax2d, Hardshrink, Softshrink, Tanhshrink, LogSigmoid, RReLU, the
dropout variants, distances and gumbel_softmax against torch 2.13 (random layers: train/eval
behaviour and statistics; their deterministic parts against torch)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch
from layer_parity import check_layer

import fnn.nn as nn
import fnn.nn.functional as F

RNG = np.random.default_rng(0)
KEY = jax.random.key(0)


@pytest.mark.parametrize("name,args", [
    ("GLU", ()), ("GLU", (1,)), ("Softmin", (1,)), ("Softmax2d", ()), ("Hardshrink", ()),
    ("Hardshrink", (0.9,)), ("Softshrink", (0.3,)), ("Tanhshrink", ()), ("LogSigmoid", ()),
    ("RReLU", ()), ("RReLU", (0.2, 0.6))])
def test_activation_parity(name, args):
    x = RNG.standard_normal((2, 4, 3, 2)) * 2
    x[0, 0, 0, 0], x[0, 0, 0, 1] = 0.0, 0.9   # kinks
    f, t = getattr(nn, name)(*args), getattr(torch.nn, name)(*args)
    assert repr(f) == repr(t)
    check_layer(f, t, x, np.float64)
    check_layer(f, t, x, np.float32)


def test_activation_errors():
    with pytest.raises(ValueError, match="Halving dimension must be even, but dimension 1 is size 3"):
        F.glu(jnp.ones((2, 3)), 1)
    with pytest.raises(IndexError, match="Dimension out of range"):
        F.glu(jnp.ones((2, 4)), 5)
    with pytest.raises(ValueError, match="lambda must be in range"):
        F.softshrink(jnp.ones(3), -1.0)
    with pytest.raises(ValueError, match="Lower bound should be less than or equal to the upper"):
        F.rrelu(jnp.ones(3), 0.5, 0.1, True, key=KEY)
    with pytest.raises(ValueError, match="Softmax2d: expected input to be 3D or 4D, got 2D instead"):
        nn.Softmax2d()(None, jnp.ones((3, 4)))
    with pytest.raises(ValueError, match="needs randomness"):
        nn.RReLU().apply({}, jnp.ones(3), train=True)


def test_rrelu_train_slopes_from_key():
    x = -jnp.ones((200, 50))
    m = nn.RReLU(0.1, 0.3)
    f = jax.jit(lambda x, k: m.apply({}, x, train=True, key=k)[0])
    y = -np.asarray(f(x, KEY))
    assert y.min() >= 0.1 and y.max() <= 0.3 and len(np.unique(y)) > 9000
    assert abs(y.mean() - 0.2) < 5 * 0.2 / np.sqrt(12 * y.size)        # U(0.1, 0.3) mean
    np.testing.assert_array_equal(f(x, KEY), f(x, KEY))               # same key, same slopes
    assert not np.array_equal(f(x, KEY), f(x, jax.random.key(1)))
    np.testing.assert_array_equal(f(-x, KEY), -x)                      # positives pass
    g = jax.grad(lambda x: jnp.sum(f(x, KEY)))(x)                      # grad is the slope
    np.testing.assert_allclose(np.asarray(g), y)
    np.testing.assert_allclose(m(None, x), -0.2 * np.ones(x.shape))   # eval: mean slope


@pytest.mark.parametrize("name,shape,mask_dims", [
    ("Dropout1d", (40, 30, 5), 2), ("Dropout1d", (300, 4), 1), ("Dropout3d", (20, 50, 2, 2, 2), 2),
    ("Dropout3d", (500, 2, 2, 2), 1)])
def test_channel_dropout(name, shape, mask_dims):
    m = getattr(nn, name)(0.3)
    assert repr(m) == repr(getattr(torch.nn, name)(0.3))
    x = jnp.ones(shape, jnp.float64)
    y = np.asarray(jax.jit(lambda k: m.apply({}, x, train=True, key=k)[0])(KEY))
    assert set(np.unique(y)) <= {0.0, 1 / 0.7}
    per_channel = y.reshape(shape[:mask_dims] + (-1,))
    assert (per_channel == per_channel[..., :1]).all()               # whole channels
    kept = (per_channel[..., 0] != 0).mean()
    assert abs(kept - 0.7) < 5 * np.sqrt(0.21 / per_channel[..., 0].size)
    np.testing.assert_array_equal(m(None, x), x)                    # eval: identity


def test_dropout_variants_errors_and_warnings():
    with pytest.raises(ValueError, match="dropout1d: Expected 2D or 3D input, but received a 1D"):
        F.dropout1d(jnp.ones(3), 0.5, True, key=KEY)
    with pytest.warns(UserWarning, match="Received a 3-D input to dropout3d"):
        F.dropout3d(jnp.ones((2, 3, 4)), 0.5, True, key=KEY)
    with pytest.raises(ValueError, match="dropout probability has to be between 0 and 1, but got 1.5"):
        F.alpha_dropout(jnp.ones(3), 1.5, True)
    with pytest.raises(ValueError, match="Feature dropout requires at least 2 dimensions"):
        F.feature_alpha_dropout(jnp.ones(3), 0.5, True, key=KEY)


@pytest.mark.parametrize("name,shape", [("AlphaDropout", (100, 100)),
                                        ("FeatureAlphaDropout", (100, 50, 4))])
def test_alpha_dropout(name, shape):
    p = 0.3
    m = getattr(nn, name)(p)
    assert repr(m) == repr(getattr(torch.nn, name)(p))
    # the two values torch produces on ones(): kept and dropped
    t = getattr(torch.nn, name)(p).train()(torch.ones(shape, dtype=torch.float64)).numpy()
    x = jnp.ones(shape)
    y = np.asarray(jax.jit(lambda k: m.apply({}, x, train=True, key=k)[0])(KEY))
    np.testing.assert_allclose(np.unique(y), np.unique(t), rtol=1e-6)
    assert abs((y > 0).mean() - (1 - p)) < 0.02
    z = jax.random.normal(KEY, (300, 200)) if name == "AlphaDropout" else \
        jax.random.normal(KEY, (300, 200, 1))
    out = np.asarray(m.apply({}, z, train=True, key=jax.random.key(3))[0])
    assert abs(out.mean()) < 0.03 and abs(out.std() - 1) < 0.03    # self-normalizing
    np.testing.assert_array_equal(m(None, x), x)


def test_pdist_and_distance_modules():
    x = RNG.standard_normal((5, 3))
    x[3] = x[1]
    cot = RNG.standard_normal(10)
    fn = jax.jit(lambda a, p: F.pdist(a, p), static_argnums=1)
    for p in (0.0, 1.5, 2.0):
        tx = torch.tensor(x, requires_grad=True)
        want = torch.nn.functional.pdist(tx, p)
        (want * torch.tensor(cot)).sum().backward()
        np.testing.assert_allclose(fn(x, p), want.detach().numpy(), rtol=1e-10, atol=1e-12)
        g = jax.grad(lambda a, p=p: jnp.sum(fn(a, p) * cot))(x)
        np.testing.assert_allclose(g, tx.grad.numpy(), rtol=1e-10, atol=1e-12)
    with pytest.raises(ValueError, match="pdist only supports 2D tensors, got: 3D"):
        F.pdist(jnp.ones((2, 3, 4)))
    with pytest.raises(ValueError, match="pdist only supports non-negative p values"):
        F.pdist(jnp.ones((2, 3)), -1)
    a, b = RNG.standard_normal((4, 6)), RNG.standard_normal((4, 6))
    for f, t in ((nn.PairwiseDistance(), torch.nn.PairwiseDistance()),
                 (nn.PairwiseDistance(3.0, 1e-3, True), torch.nn.PairwiseDistance(3.0, 1e-3, True)),
                 (nn.CosineSimilarity(), torch.nn.CosineSimilarity()),
                 (nn.CosineSimilarity(0, 1e-3), torch.nn.CosineSimilarity(0, 1e-3))):
        check_layer(f, t, (a, b), np.float64)


@pytest.mark.parametrize("hard", [False, True])
def test_gumbel_softmax(hard):
    logits = jnp.log(jnp.asarray([0.1, 0.2, 0.7]))
    f = jax.jit(jax.vmap(lambda k: F.gumbel_softmax(logits, 0.5, hard, key=k)))
    y = np.asarray(f(jax.random.split(KEY, 2000)))
    np.testing.assert_allclose(y.sum(-1), 1.0, rtol=1e-6)
    freq = np.bincount(y.argmax(-1), minlength=3) / len(y)
    np.testing.assert_allclose(freq, [0.1, 0.2, 0.7], atol=0.03)    # Gumbel-max trick
    if hard:
        assert set(np.unique(y)) == {0.0, 1.0}
        # straight-through: the gradient is the soft sample's
        k = jax.random.key(7)
        g = jax.grad(lambda z: F.gumbel_softmax(z, 0.5, True, key=k)[0])(logits)
        gs = jax.grad(lambda z: F.gumbel_softmax(z, 0.5, False, key=k)[0])(logits)
        np.testing.assert_allclose(g, gs, rtol=1e-12)
    with pytest.warns(UserWarning, match="`eps` parameter is deprecated"):
        F.gumbel_softmax(logits, eps=1e-3, key=KEY)
