"""Max/avg/adaptive pooling layers against torch: values, input gradients, repr, errors."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch
from layer_parity import check_layer

import fnn.nn.functional as F
from fnn import nn

RNG = np.random.default_rng(1)

# (class name, args, kwargs, input shape)
POOL_CASES = [
    ("MaxPool1d", (3,), {}, (2, 3, 10)),
    ("MaxPool1d", (4,), dict(stride=3, padding=2, dilation=2, ceil_mode=True), (3, 11)),
    ("MaxPool2d", (2,), {}, (2, 3, 8, 8)),
    ("MaxPool2d", (3,), dict(stride=2, padding=1, ceil_mode=True), (2, 2, 9, 7)),
    # ceil mode where the last window would start in the right padding: dropped, as torch
    ("MaxPool2d", (2,), dict(stride=2, padding=1, ceil_mode=True), (1, 2, 6, 6)),
    ("MaxPool2d", ((3, 2),), dict(stride=(2, 3), padding=(1, 1), dilation=(2, 1),
                                  ceil_mode=True), (2, 9, 8)),
    ("AvgPool1d", (3,), dict(stride=2, padding=1, ceil_mode=True), (2, 3, 10)),
    ("AvgPool1d", (4,), dict(stride=3, padding=2, ceil_mode=True, count_include_pad=False),
     (3, 11)),
    ("AvgPool2d", (2,), {}, (2, 3, 8, 8)),
    ("AvgPool2d", (3,), dict(stride=2, padding=1, ceil_mode=True), (2, 2, 9, 7)),
    ("AvgPool2d", ((3, 2),), dict(stride=(2, 3), padding=(1, 1), ceil_mode=True,
                                  count_include_pad=False), (2, 2, 9, 8)),
    ("AvgPool2d", (3,), dict(padding=1, divisor_override=5), (2, 7, 7)),
    ("AdaptiveAvgPool1d", (4,), {}, (2, 3, 10)),
    ("AdaptiveAvgPool2d", ((4, 5),), {}, (2, 3, 9, 7)),
    ("AdaptiveAvgPool2d", ((None, 3),), {}, (2, 9, 7)),
    ("AdaptiveAvgPool2d", (1,), {}, (2, 3, 5, 6)),
    ("AdaptiveAvgPool2d", ((10, 11),), {}, (1, 2, 9, 7)),
    ("AdaptiveMaxPool2d", (3,), {}, (2, 3, 9, 7)),
    ("AdaptiveMaxPool2d", ((5, None),), {}, (3, 7, 6)),
    ("AdaptiveMaxPool2d", ((10, 11),), {}, (1, 2, 9, 7)),
]
IDS = [f"{c[0]}-{i}" for i, c in enumerate(POOL_CASES)]


def _pair(name, args, kwargs):
    return getattr(nn, name)(*args, **kwargs), getattr(torch.nn, name)(*args, **kwargs)


@pytest.mark.parametrize("case", POOL_CASES, ids=IDS)
def test_pool_parity_float64(case):
    name, args, kwargs, shape = case
    fl, tl = _pair(name, args, kwargs)
    check_layer(fl, tl, RNG.standard_normal(shape), np.float64)
    assert repr(fl) == repr(tl)


@pytest.mark.parametrize("case", POOL_CASES[1::4], ids=IDS[1::4])
def test_pool_parity_float32(case):
    name, args, kwargs, shape = case
    fl, tl = _pair(name, args, kwargs)
    check_layer(fl, tl, RNG.standard_normal(shape), np.float32)


@pytest.mark.parametrize("name,args,kwargs", [
    ("MaxPool2d", (2,), dict(stride=1)),
    ("MaxPool2d", (2,), dict(stride=1, dilation=2, padding=1)),
    ("AdaptiveMaxPool2d", (3,), {}),
    # non-overlapping windows (stride == kernel): the fast reshape path with its own JVP
    ("MaxPool2d", (2,), {}),
    ("MaxPool2d", (3,), {}),
    ("MaxPool2d", ((3, 2),), {}),
    ("MaxPool1d", (3,), {}),
])
def test_max_ties_send_gradient_to_first_element(name, args, kwargs):
    """Windows full of equal values (ReLU zeros): torch routes the gradient to the first one."""
    shape = (1, 2, 12) if name.endswith("1d") else (1, 2, 6, 6)
    x = RNG.integers(0, 2, shape).astype(np.float64)
    fl, tl = _pair(name, args, kwargs)
    check_layer(fl, tl, x, np.float64)


def test_reprs():
    for fl, tl in [(nn.MaxPool2d(2), torch.nn.MaxPool2d(2)),
                   (nn.AvgPool1d(3), torch.nn.AvgPool1d(3)),
                   (nn.AvgPool2d((2, 3), stride=1, padding=1, count_include_pad=False),
                    torch.nn.AvgPool2d((2, 3), stride=1, padding=1, count_include_pad=False)),
                   (nn.AdaptiveAvgPool2d((None, 3)), torch.nn.AdaptiveAvgPool2d((None, 3))),
                   (nn.AdaptiveMaxPool2d(2), torch.nn.AdaptiveMaxPool2d(2))]:
        assert repr(fl) == repr(tl)


@pytest.mark.parametrize("fn,kw", [
    ("max_pool2d", dict(kernel_size=3, stride=2, padding=1, ceil_mode=True)),
    ("avg_pool2d", dict(kernel_size=(2, 3), count_include_pad=False, padding=1)),
    ("adaptive_max_pool2d", dict(output_size=(3, 4))),
])
def test_jit_vmap_match_batched(fn, kw):
    x = jnp.asarray(RNG.standard_normal((4, 3, 8, 9)))
    f = getattr(F, fn)
    batched = f(x, **kw)
    per_example = jax.jit(jax.vmap(lambda xi: f(xi, **kw)))(x)
    np.testing.assert_allclose(per_example, batched, rtol=1e-14, atol=0)
    want = getattr(torch.nn.functional, fn)(torch.tensor(np.asarray(x)), **kw).numpy()
    np.testing.assert_allclose(batched, want, rtol=1e-12, atol=1e-14)


def test_errors_name_the_layer():
    model = nn.Sequential(nn.MaxPool2d(3, padding=1), nn.AvgPool2d(4, padding=1))
    with pytest.raises(ValueError, match=r"^MaxPool2d '0' expected 3D \(unbatched\) or 4D "
                                         r"\(batched\) input, got 2D input of shape \(5, 5\)"):
        model({}, jnp.zeros((5, 5)))
    with pytest.raises(ValueError, match=r"^AvgPool2d '1': given input size \(1, 2, 1, 1\), the "
                                         r"calculated output size \(0, 0\) is too small"):
        model({}, jnp.zeros((1, 2, 3, 3)))
    with pytest.raises(ValueError, match="pad should be at most half of effective kernel size, "
                                         "but got pad=2, kernel_size=3 and dilation=1"):
        nn.MaxPool2d(3, padding=2)({}, jnp.zeros((1, 1, 8, 8)))
    with pytest.raises(ValueError, match="MaxPool2d: stride must be positive"):
        nn.MaxPool2d(3, stride=0)
    with pytest.raises(ValueError, match=r"MaxPool1d: kernel_size must be an int or a tuple of 1"):
        nn.MaxPool1d((2, 2))
    with pytest.raises(ValueError, match="AvgPool2d: divisor must be not zero"):
        nn.AvgPool2d(2, divisor_override=0)
    with pytest.raises(ValueError, match=r"^AdaptiveAvgPool2d expected 3D \(unbatched\)"):
        nn.AdaptiveAvgPool2d(2)({}, jnp.zeros((7, 7)))
    with pytest.raises(ValueError, match="adaptive_max_pool2d: expected input with non-zero "
                                         "spatial sizes"):
        F.adaptive_max_pool2d(jnp.zeros((3, 0, 7)), 2)
