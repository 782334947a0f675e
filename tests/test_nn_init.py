"""fnn.nn.init against torch.nn.init 2.13.

Deterministic initialisers and gains/fans must equal torch's exactly. Random ones cannot
share torch's draws, so each is checked against the torch formula (bounds) and against a
large torch sample (mean and std within 6 standard errors).
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch
import torch.nn.init as TI

from fnn.nn import init

KEY = jax.random.key(0)
SHAPE = (400, 250)  # 100k draws
_n = math.prod(SHAPE)


def _torch_sample(fn, shape=SHAPE, **kw):
    torch.manual_seed(0)
    return fn(torch.empty(shape, dtype=torch.float64), **kw).numpy()


def _same_moments(ours, theirs):
    ours, theirs = np.asarray(ours, np.float64), np.asarray(theirs, np.float64)
    se = theirs.std() / math.sqrt(theirs.size)
    assert abs(ours.mean() - theirs.mean()) < 6 * math.sqrt(2) * se
    # std of the sample std ~ std * sqrt((kurtosis - 1) / (4n)); kurtosis <= 3 here
    assert abs(ours.std() / theirs.std() - 1) < 6 * math.sqrt(2) * math.sqrt(0.5 / theirs.size)


NONLIN = ["linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
          "conv_transpose3d", "sigmoid", "tanh", "relu", "leaky_relu", "selu"]


def test_calculate_gain_equals_torch():
    for nl in NONLIN:
        got, want = init.calculate_gain(nl), TI.calculate_gain(nl)
        assert got == want and type(got) is type(want)
    for param in (0, 0.2, 3, -0.5):
        assert init.calculate_gain("leaky_relu", param) == TI.calculate_gain("leaky_relu", param)
    for fn, err in ((init.calculate_gain, ValueError), (TI.calculate_gain, ValueError)):
        with pytest.raises(err, match="Unsupported nonlinearity gelu"):
            fn("gelu")
        with pytest.raises(err, match="negative_slope True not a valid number"):
            fn("leaky_relu", True)
        with pytest.raises(err, match="negative_slope 0.1 not a valid number"):
            fn("leaky_relu", "0.1")


@pytest.mark.parametrize("shape", [(3, 5), (6, 4, 3), (8, 2, 3, 3), (4, 4, 2, 3, 5), (7, 1)])
def test_fans_equal_torch(shape):
    assert init._calculate_fan_in_and_fan_out(shape) == \
        TI._calculate_fan_in_and_fan_out(torch.empty(shape))
    assert init._calculate_fan_in_and_fan_out(jnp.zeros(shape)) == \
        TI._calculate_fan_in_and_fan_out(torch.empty(shape))


def test_fan_and_mode_errors():
    msg = "Fan in and fan out can not be computed for tensor with fewer than 2 dimensions"
    with pytest.raises(ValueError, match=msg):
        init.xavier_uniform_(KEY, (5,))
    with pytest.raises(ValueError, match=msg):
        TI.xavier_uniform_(torch.empty(5))
    msg = r"Mode fan_avg not supported, please use one of \['fan_in', 'fan_out'\]"
    with pytest.raises(ValueError, match=msg):
        init.kaiming_uniform_(KEY, (3, 4), mode="fan_avg")
    with pytest.raises(ValueError, match=msg):
        TI.kaiming_uniform_(torch.empty(3, 4), mode="fan_avg")
    with pytest.warns(UserWarning, match="Initializing zero-element tensors is a no-op"):
        assert init.kaiming_uniform_(KEY, (0, 4)).shape == (0, 4)


def test_deterministic_initialisers_equal_torch():
    for shape in [(3, 4), (2, 3, 5)]:
        np.testing.assert_array_equal(init.constant_(shape, 0.3, jnp.float64),
                                      TI.constant_(torch.empty(shape, dtype=torch.float64), 0.3))
        np.testing.assert_array_equal(init.ones_(shape), TI.ones_(torch.empty(shape)))
        np.testing.assert_array_equal(init.zeros_(shape), TI.zeros_(torch.empty(shape)))
    for shape in [(3, 3), (3, 5), (6, 2)]:
        np.testing.assert_array_equal(init.eye_(shape), TI.eye_(torch.empty(shape)))
    for shape, groups in [((4, 4, 3), 1), ((6, 3, 3, 3), 2), ((6, 3, 3, 3), 3), ((4, 2, 2, 3, 5), 1),
                          ((2, 5, 3, 3), 1), ((8, 2, 4, 4), 4)]:
        np.testing.assert_array_equal(init.dirac_(shape, groups),
                                      TI.dirac_(torch.empty(shape), groups))
    a = jnp.zeros((2, 3), jnp.float64)
    assert init.ones_(a).dtype == jnp.float64  # an array gives its shape and dtype
    assert init.ones_((2, 3)).dtype == jnp.float32
    for ours, theirs, msg in [
        (lambda: init.eye_((2, 3, 4)), lambda: TI.eye_(torch.empty(2, 3, 4)),
         "Only tensors with 2 dimensions are supported"),
        (lambda: init.dirac_((3, 3)), lambda: TI.dirac_(torch.empty(3, 3)),
         "Only tensors with 3, 4, or 5 dimensions are supported"),
        (lambda: init.dirac_((5, 3, 3), 2), lambda: TI.dirac_(torch.empty(5, 3, 3), 2),
         "dim 0 must be divisible by groups"),
        (lambda: init.sparse_(KEY, (2, 3, 4), 0.1), lambda: TI.sparse_(torch.empty(2, 3, 4), 0.1),
         "Only tensors with 2 dimensions are supported"),
    ]:
        for f in (ours, theirs):
            with pytest.raises(ValueError, match=msg):
                f()


BOUNDED = [  # (fnn call, torch call, bound from torch's formula)
    (lambda k: init.uniform_(k, SHAPE, -0.5, 2.0, jnp.float64),
     lambda: _torch_sample(TI.uniform_, a=-0.5, b=2.0), (-0.5, 2.0)),
    (lambda k: init.xavier_uniform_(k, SHAPE, gain=2.0, dtype=jnp.float64),
     lambda: _torch_sample(TI.xavier_uniform_, gain=2.0), 2.0 * math.sqrt(6 / (400 + 250))),
    (lambda k: init.kaiming_uniform_(k, SHAPE, dtype=jnp.float64),
     lambda: _torch_sample(TI.kaiming_uniform_), math.sqrt(6 / 250)),
    (lambda k: init.kaiming_uniform_(k, (250, 100, 2, 2), a=math.sqrt(5), dtype=jnp.float64),
     lambda: _torch_sample(TI.kaiming_uniform_, shape=(250, 100, 2, 2), a=math.sqrt(5)),
     1 / math.sqrt(400)),
    (lambda k: init.kaiming_uniform_(k, SHAPE, mode="fan_out", nonlinearity="relu",
                                     dtype=jnp.float64),
     lambda: _torch_sample(TI.kaiming_uniform_, mode="fan_out", nonlinearity="relu"),
     math.sqrt(6 / 400)),
    (lambda k: init.trunc_normal_(k, SHAPE, 0.5, 2.0, -1.0, 3.0, jnp.float64),
     lambda: _torch_sample(TI.trunc_normal_, mean=0.5, std=2.0, a=-1.0, b=3.0), (-1.0, 3.0)),
    (lambda k: init.trunc_normal_(k, SHAPE, 0.0, 1.0, 1.5, 4.0, jnp.float64),  # torch's 2nd branch
     lambda: _torch_sample(TI.trunc_normal_, a=1.5, b=4.0), (1.5, 4.0)),
]


@pytest.mark.parametrize("i", range(len(BOUNDED)))
def test_bounded_random_initialisers(i):
    ours_fn, theirs_fn, bound = BOUNDED[i]
    lo, hi = bound if isinstance(bound, tuple) else (-bound, bound)
    ours, theirs = np.asarray(ours_fn(KEY)), theirs_fn()
    width = hi - lo
    for s in (ours, theirs):
        assert lo <= s.min() and s.max() <= hi
        assert s.min() < lo + 0.01 * width and s.max() > hi - 0.01 * width  # bounds are tight
    _same_moments(ours, theirs)


UNBOUNDED = [  # (fnn call, torch call, the std of torch's formula)
    (lambda k: init.normal_(k, SHAPE, 1.0, 3.0, jnp.float64),
     lambda: _torch_sample(TI.normal_, mean=1.0, std=3.0), 3.0),
    (lambda k: init.xavier_normal_(k, (100, 50, 5, 4), gain=0.5, dtype=jnp.float64),
     lambda: _torch_sample(TI.xavier_normal_, shape=(100, 50, 5, 4), gain=0.5),
     0.5 * math.sqrt(2 / (1000 + 2000))),
    (lambda k: init.kaiming_normal_(k, SHAPE, a=0.2, mode="fan_out", dtype=jnp.float64),
     lambda: _torch_sample(TI.kaiming_normal_, a=0.2, mode="fan_out"),
     math.sqrt(2 / 1.04) / math.sqrt(400)),
    (lambda k: init.kaiming_normal_(k, SHAPE, nonlinearity="tanh", dtype=jnp.float64),
     lambda: _torch_sample(TI.kaiming_normal_, nonlinearity="tanh"), 5 / 3 / math.sqrt(250)),
]


@pytest.mark.parametrize("i", range(len(UNBOUNDED)))
def test_normal_random_initialisers(i):
    ours_fn, theirs_fn, std = UNBOUNDED[i]
    ours, theirs = np.asarray(ours_fn(KEY)), theirs_fn()
    _same_moments(ours, theirs)
    assert abs(ours.std() / std - 1) < 6 * math.sqrt(0.5 / ours.size)


def test_random_initialisers_dtype_and_determinism():
    a = init.kaiming_uniform_(KEY, (30, 20))
    assert a.dtype == jnp.float32 and a.shape == (30, 20)
    np.testing.assert_array_equal(a, init.kaiming_uniform_(KEY, (30, 20)))
    assert not np.array_equal(a, init.kaiming_uniform_(jax.random.key(1), (30, 20)))
    b = init.xavier_normal_(KEY, jnp.zeros((30, 20), jnp.float64))
    assert b.dtype == jnp.float64


@pytest.mark.parametrize("shape", [(20, 8), (8, 20), (6, 3, 2, 2), (10, 10)])
def test_orthogonal(shape):
    w = np.asarray(init.orthogonal_(KEY, shape, gain=1.5, dtype=jnp.float64))
    tw = TI.orthogonal_(torch.empty(shape, dtype=torch.float64), gain=1.5).numpy()
    for m in (w, tw):
        flat = m.reshape(shape[0], -1)
        small = flat.T @ flat if flat.shape[0] >= flat.shape[1] else flat @ flat.T
        np.testing.assert_allclose(small, 2.25 * np.eye(small.shape[0]), atol=1e-12)
    if shape == (10, 10):  # float32 once
        w32 = init.orthogonal_(KEY, shape)
        assert w32.dtype == jnp.float32
        np.testing.assert_allclose(np.asarray(w32).T @ np.asarray(w32), np.eye(10), atol=1e-5)


@pytest.mark.parametrize("sparsity", [0.1, 0.35, 0.9])
def test_sparse(sparsity):
    shape = (40, 2000)
    w = np.asarray(init.sparse_(KEY, shape, sparsity, std=0.05, dtype=jnp.float64))
    tw = TI.sparse_(torch.empty(shape, dtype=torch.float64), sparsity, std=0.05).numpy()
    nz = math.ceil(sparsity * 40)
    for m in (w, tw):
        np.testing.assert_array_equal((m == 0).sum(0), np.full(2000, nz))
    _same_moments(w[w != 0], tw[tw != 0])
    # the zeroed rows differ between columns (a fresh permutation per column)
    assert len({tuple(np.flatnonzero(w[:, j] == 0)) for j in range(50)}) > 40
