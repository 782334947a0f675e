"""``F.pad`` against torch: every mode, reversed pairs, negative (cropping) amounts, grads."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch

import fnn.nn.functional as F

RNG = np.random.default_rng(2)


def _check(shape, pad, mode, value=None, dtype=np.float64, rtol=1e-12):
    x = RNG.standard_normal(shape).astype(dtype)
    xt = torch.tensor(x, requires_grad=True)
    yt = torch.nn.functional.pad(xt, pad, mode=mode, value=value)
    cot = RNG.standard_normal(tuple(yt.shape)).astype(dtype)
    (yt * torch.tensor(cot)).sum().backward()
    y, vjp = jax.vjp(lambda a: F.pad(a, pad, mode=mode, value=value), jnp.asarray(x))
    (g,) = vjp(jnp.asarray(cot))
    assert y.shape == tuple(yt.shape) and y.dtype == dtype
    np.testing.assert_array_equal(y, yt.detach().numpy())  # padding copies values exactly
    np.testing.assert_allclose(g, xt.grad.numpy(), rtol=rtol, atol=rtol)


@pytest.mark.parametrize("shape,pad,value", [
    ((2, 3, 4, 5), (1, 2), None),
    ((2, 3, 4, 5), (2, 1, 0, 3), 2.5),
    ((2, 3, 4, 5), (-1, 2, 3, -2), None),
    ((2, 3, 4, 5), (1, 2, 3, 4, 5, 6, 7, 8), -1.0),
    ((5,), (3, 0), None),
])
def test_constant(shape, pad, value):
    _check(shape, pad, "constant", value)


@pytest.mark.parametrize("mode", ["reflect", "replicate", "circular"])
@pytest.mark.parametrize("shape,pad", [
    ((3, 7), (2, 3)),
    ((2, 3, 5, 6), (2, 1, 0, 3)),
    ((2, 3, 5, 6), (-1, 2, 3, -2)),
    ((3, 4, 5, 6), (1, 2, 2, 1, 3, 0)),
])
def test_nonconstant_modes(mode, shape, pad):
    _check(shape, pad, mode)


def test_float32_and_jit():
    _check((2, 3, 6), (2, 1), "reflect", dtype=np.float32, rtol=1e-6)
    x = jnp.asarray(RNG.standard_normal((2, 3, 6)))
    f = jax.jit(lambda a: F.pad(a, (1, 2, 2, 1), mode="circular"))
    np.testing.assert_array_equal(f(x), F.pad(x, (1, 2, 2, 1), mode="circular"))
    np.testing.assert_array_equal(jax.vmap(lambda a: F.pad(a, (2, 1), mode="replicate"))(x),
                                  F.pad(x, (2, 1), mode="replicate"))


@pytest.mark.parametrize("shape,pad,mode,value,err", [
    ((2, 3), (1, 2, 3), "constant", None, ValueError),
    ((2, 3), (1,) * 6, "constant", None, ValueError),
    ((2, 3), (1.5, 1), "constant", None, TypeError),
    ((2, 3, 4, 5), (1, 1), "reflect", None, NotImplementedError),
    ((5,), (1, 1), "replicate", None, NotImplementedError),
    ((3, 5), (5, 1), "reflect", None, ValueError),
    ((3, 5), (6, 1), "circular", None, ValueError),
    ((3, 5), (-3, -3), "replicate", None, ValueError),
    ((3, 5), (1, 1), "foo", None, NotImplementedError),
    ((3, 5), (1, 1), "reflect", 1.0, ValueError),
])
def test_errors(shape, pad, mode, value, err):
    """torch's exception text (the class is torch's; ValueError where torch says RuntimeError)."""
    try:
        torch.nn.functional.pad(torch.zeros(shape), pad, mode=mode, value=value)
    except Exception as e:  # noqa: BLE001
        text = str(e)
    else:
        raise AssertionError("torch accepted it")
    if err is TypeError:  # torch's argument parser names the offending element
        text = "must be tuple of ints"
    with pytest.raises(err) as info:
        F.pad(jnp.zeros(shape), pad, mode=mode, value=value)
    assert text in str(info.value), (text, str(info.value))
