"""3-D, LP, fractional and adaptive-max pools, ``return_indices`` on every max pool,
``MaxUnpool1d/2d/3d``, ``ConvTranspose3d`` and ``conv_tbc`` against torch."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch
from layer_parity import check_layer

import fnn.nn.functional as F
from fnn import nn

RNG = np.random.default_rng(11)
TF = torch.nn.functional

CASES = [
    ("MaxPool3d", (2,), {}, (2, 2, 4, 4, 6)),
    ("MaxPool3d", ((3, 2, 2),), dict(stride=(2, 1, 2), padding=(1, 1, 0), dilation=(1, 2, 1),
                                     ceil_mode=True), (2, 5, 6, 5)),
    ("AvgPool3d", (2,), dict(stride=1, padding=1, count_include_pad=False), (1, 2, 3, 4, 5)),
    ("AvgPool3d", ((3, 2, 2),), dict(stride=2, ceil_mode=True, divisor_override=3),
     (2, 5, 4, 5)),
    ("AdaptiveAvgPool3d", ((2, None, 3),), {}, (1, 2, 5, 4, 7)),
    ("AdaptiveMaxPool1d", (4,), {}, (2, 3, 9)),
    ("AdaptiveMaxPool3d", (2,), {}, (2, 5, 4, 3)),
    ("LPPool1d", (2, 3), dict(stride=2), (2, 3, 9)),
    ("LPPool2d", (1.5, (2, 3)), dict(ceil_mode=True), (2, 2, 5, 7)),
    ("LPPool3d", (3, 2), {}, (1, 2, 4, 4, 4)),
    ("LPPool2d", (float("inf"), 2), {}, (2, 4, 4)),
]


def _pair(name, args, kwargs):
    return getattr(nn, name)(*args, **kwargs), getattr(torch.nn, name)(*args, **kwargs)


@pytest.mark.parametrize("case", CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_pool_parity(case):
    name, args, kwargs, shape = case
    fl, tl = _pair(name, args, kwargs)
    assert repr(fl) == repr(tl)
    x = RNG.standard_normal(shape)
    if name.startswith("LP") and args[0] != float("inf"):
        x = np.abs(x) + 0.1  # fractional powers of negatives are NaN in both
    check_layer(fl, tl, x, np.float64)
    check_layer(fl, tl, x, np.float32, rtol=2e-5, atol=1e-5)


INDEX_CASES = [
    ("MaxPool1d", (3,), dict(stride=2, padding=1), (2, 3, 9)),
    ("MaxPool2d", (2,), {}, (2, 3, 4, 6)),
    ("MaxPool2d", (3,), dict(stride=2, padding=1, dilation=2, ceil_mode=True), (2, 7, 8)),
    ("MaxPool3d", ((2, 3, 2),), dict(stride=(1, 2, 2), padding=(1, 1, 0)), (1, 2, 4, 5, 4)),
    ("AdaptiveMaxPool1d", (4,), {}, (3, 10)),
    ("AdaptiveMaxPool2d", ((3, 2),), {}, (2, 2, 7, 5)),
    ("AdaptiveMaxPool3d", ((2, 3, 2),), {}, (1, 2, 5, 6, 3)),
]


@pytest.mark.parametrize("case", INDEX_CASES, ids=[c[0] for c in INDEX_CASES])
def test_return_indices_and_unpool(case):
    """Values and torch's flat per-plane indices, gradients through the values, and
    MaxUnpool putting them back (its gradient too)."""
    name, args, kwargs, shape = case
    fl = getattr(nn, name)(*args, return_indices=True, **kwargs)
    tl = getattr(torch.nn, name)(*args, return_indices=True, **kwargs)
    x = RNG.standard_normal(shape)
    xt = torch.tensor(x, requires_grad=True)
    yt, it = tl(xt)
    cot = RNG.standard_normal(tuple(yt.shape))
    (yt * torch.tensor(cot)).sum().backward()

    def f(a):
        y, i = fl(None, a)
        return jnp.sum(y * cot), (y, i)

    g, (y, i) = jax.jit(jax.grad(f, has_aux=True))(jnp.asarray(x))
    np.testing.assert_allclose(y, yt.detach().numpy(), rtol=1e-12)
    np.testing.assert_array_equal(i, it.numpy())
    assert i.dtype == jnp.int64
    np.testing.assert_allclose(g, xt.grad.numpy(), rtol=1e-12)
    if name.startswith("MaxPool") and "dilation" not in kwargs:  # (torch cannot unpool those)
        n = int(name[-2])
        k, s = args[0], kwargs.get("stride")
        p = kwargs.get("padding", 0)
        fu = getattr(nn, f"MaxUnpool{n}d")(k, s, p)
        tu = getattr(torch.nn, f"MaxUnpool{n}d")(k, s, p)
        assert repr(fu) == repr(tu)
        size = (2, 3, 5, 6) if shape == (2, 3, 4, 6) else None  # with (N, C) in front
        check_layer(fu, tu, (yt.detach().numpy(), it.numpy()), np.float64,
                    kwargs=dict(output_size=size))


@pytest.mark.parametrize("n,kernel,out,shape", [
    (2, 2, (3, 4), (2, 3, 7, 9)), (2, (3, 2), 0.5, (3, 8, 6)),
    (3, 2, (2, 3, 2), (1, 2, 5, 6, 4)), (3, (2, 1, 2), 0.6, (2, 5, 4, 6)),
])
def test_fractional_max_pool(n, kernel, out, shape):
    """Given ``_random_samples`` (torch's buffer): values, indices and gradients; from a key:
    valid regions, different samples per key, and train/eval alike."""
    batch = shape[0] if len(shape) == n + 2 else 1
    samples = RNG.uniform(size=(batch, shape[-n - 1], n))
    size_kw = dict(output_ratio=out) if isinstance(out, float) else dict(output_size=out)
    name = f"FractionalMaxPool{n}d"
    fl = getattr(nn, name)(kernel, return_indices=False, _random_samples=samples, **size_kw)
    tl = getattr(torch.nn, name)(kernel, _random_samples=torch.tensor(samples), **size_kw)
    assert repr(fl) == repr(tl)
    x = RNG.standard_normal(shape)
    check_layer(fl, tl, x, np.float64)
    if n == 2:
        check_layer(fl, tl, x, np.float32)
    fn = getattr(F, f"fractional_max_pool{n}d")
    y, i = fn(jnp.asarray(x), kernel, return_indices=True, _random_samples=samples, **size_kw)
    yt, it = getattr(TF, f"fractional_max_pool{n}d")(
        torch.tensor(x), kernel, return_indices=True, _random_samples=torch.tensor(samples),
        **({"output_ratio": (out,) * n} if isinstance(out, float) else size_kw))
    np.testing.assert_array_equal(i, it.numpy())
    np.testing.assert_array_equal(y, yt.numpy())
    if shape != (2, 3, 7, 9):
        return
    # from a key: each output is the max of some window of the input plane; random regions
    fk = getattr(nn, name)(kernel, return_indices=True, **size_kw)
    y1, i1 = fk.apply({}, jnp.asarray(x), key=jax.random.key(0))[0]
    others = [fk.apply({}, jnp.asarray(x), key=jax.random.key(k), train=True)[0][0]
              for k in range(1, 4)]
    planes = x.reshape(x.shape[:-n] + (-1,))
    np.testing.assert_array_equal(y1, np.take_along_axis(
        planes, np.asarray(i1).reshape(i1.shape[:-n] + (-1,)), -1).reshape(y1.shape))
    assert any(not np.array_equal(y1, y2) for y2 in others)


def test_conv_transpose3d_and_conv_tbc():
    for kwargs, shape in [(dict(stride=2, padding=1, output_padding=1), (2, 4, 3, 4, 3)),
                          (dict(groups=2, dilation=(1, 2, 1), bias=False), (4, 2, 3, 3))]:
        fl = nn.ConvTranspose3d(4, 6, (2, 3, 2), **kwargs)
        tl = torch.nn.ConvTranspose3d(4, 6, (2, 3, 2), **kwargs)
        assert repr(fl) == repr(tl)
        check_layer(fl, tl, RNG.standard_normal(shape), np.float64)
        if kwargs.get("bias", True):
            check_layer(fl, tl, RNG.standard_normal(shape), np.float32, rtol=2e-5, atol=2e-5)
    x, w, b = (RNG.standard_normal(s) for s in ((7, 2, 3), (3, 3, 5), (5,)))
    for pad in (0, 2):
        ts = [torch.tensor(a, requires_grad=True) for a in (x, w, b)]
        yt = TF.conv_tbc(*ts, pad)
        yt.sum().backward()
        y, vjp = jax.vjp(lambda *a, pad=pad: F.conv_tbc(*a, pad), x, w, b)
        np.testing.assert_allclose(y, yt.detach().numpy(), rtol=1e-10)
        for g, t in zip(vjp(jnp.ones(y.shape)), ts):
            np.testing.assert_allclose(g, t.grad.numpy(), rtol=1e-10)


@pytest.mark.parametrize("call", [
    lambda m, x: m.max_pool3d(x(2, 5, 9, 9, 9), 3, dilation=2, padding=2),
    lambda m, x: m.fractional_max_pool2d(x(2, 3, 8, 9), 3, output_size=7,
                                         _random_samples=x(2, 3, 2)),
    lambda m, x: m.fractional_max_pool2d(x(2, 3, 8, 9), 3, output_size=4,
                                         _random_samples=x(2, 3, 3)),
    lambda m, x: m.fractional_max_pool3d(x(2, 3, 5, 6, 7), 2, output_size=(5, 6, 7)),
    lambda m, x: m.max_unpool2d(x(2, 3, 4, 4), x(3, 4, 4).long() if hasattr(x(1), "long")
                                else x(3, 4, 4).astype(int), 2),
    lambda m, x: m.max_unpool2d(x(2, 3, 2, 2), x(2, 3, 2, 2).long() if hasattr(x(1), "long")
                                else x(2, 3, 2, 2).astype(int), 2, output_size=(7, 4)),
    lambda m, x: m.conv_tbc(x(4, 2), x(3, 2, 5), x(5)),
    lambda m, x: m.conv_tbc(x(4, 2, 3), x(3, 2, 5), x(5)),
])
def test_errors(call):
    with pytest.raises(Exception) as want:
        call(TF, lambda *s: torch.zeros(s))
    with pytest.raises((ValueError, TypeError)) as got:
        call(F, lambda *s: jnp.zeros(s))
    assert str(want.value).split(" (while")[0] in str(got.value)
    for name, kw in (("FractionalMaxPool2d", dict(output_ratio=1.5)),
                     ("FractionalMaxPool2d", {}),
                     ("FractionalMaxPool3d", dict(output_size=2, output_ratio=0.5))):
        with pytest.raises(ValueError) as want:
            getattr(torch.nn, name)(2, **kw)
        with pytest.raises(ValueError, match=str(want.value).replace("(", r"\(").replace(
                ")", r"\)")):
            getattr(nn, name)(2, **kw)
