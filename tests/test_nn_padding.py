"""Padding layers against torch: every kind and rank, reprs, grads, float32, errors."""

import jax.numpy as jnp
import numpy as np
import pytest
import torch
from layer_parity import check_layer

from fnn import nn

RNG = np.random.default_rng(3)

# (kind, n, padding, input shape): batched and unbatched, ints and tuples, cropping
CASES = [
    ("Zero", 1, 2, (2, 3, 5)), ("Zero", 2, (1, 0, 2, -1), (3, 4, 5)),
    ("Zero", 3, 1, (1, 2, 3, 3, 3)),
    ("Constant", 1, (2, 1), (3, 5)), ("Constant", 2, 1, (2, 3, 4, 5)),
    ("Constant", 3, (1, 0, 0, 2, 1, 1), (2, 3, 3, 3)),
    ("Reflection", 1, (3, 1), (2, 3, 5)), ("Reflection", 2, (1, 2, 2, 0), (3, 4, 5)),
    ("Reflection", 3, 1, (1, 2, 3, 4, 3)),
    ("Replication", 1, 2, (3, 5)), ("Replication", 2, (2, 1, 0, 3), (2, 3, 4, 5)),
    ("Replication", 3, (1, 2, 0, 1, 2, 0), (2, 3, 3, 3)),
    ("Circular", 1, (2, 3), (2, 3, 5)), ("Circular", 2, (1, 2, -1, 3), (3, 4, 5)),
    ("Circular", 3, 1, (1, 2, 3, 4, 3)),
]


def _pair(kind, n, padding):
    args = (padding, 1.5) if kind == "Constant" else (padding,)
    name = f"{kind}Pad{n}d"
    return getattr(nn, name)(*args), getattr(torch.nn, name)(*args)


@pytest.mark.parametrize("kind,n,padding,shape", CASES, ids=[f"{c[0]}{c[1]}d" for c in CASES])
def test_padding_layers(kind, n, padding, shape):
    fl, tl = _pair(kind, n, padding)
    assert repr(fl) == repr(tl)
    assert fl.padding == tl.padding
    x = RNG.standard_normal(shape)
    check_layer(fl, tl, x, np.float64, rtol=1e-14, atol=1e-14)
    if n == 2:  # float32: outputs are copies (exact); gradients sum copies in another order
        check_layer(fl, tl, x, np.float32, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("name,padding,shape", [
    ("ReflectionPad2d", 3, (1, 3, 3)),         # amount >= input size
    ("ReflectionPad1d", 2, (3,)),              # wrong rank
    ("CircularPad2d", 3, (3, 3)),              # wrong rank (the layer's own check)
    ("CircularPad1d", 6, (2, 5)),              # wraps around more than once
    ("ReplicationPad2d", 3, (3, 3, 3, 3, 3)),  # wrong rank
    ("ConstantPad2d", 3, (3,)),                # more pairs than dims
])
def test_padding_errors(name, padding, shape):
    args = (padding, 0.5) if name.startswith("Constant") else (padding,)
    with pytest.raises(Exception) as want:
        getattr(torch.nn, name)(*args)(torch.zeros(shape))
    with pytest.raises((ValueError, NotImplementedError)) as got:
        getattr(nn, name)(*args)(None, jnp.zeros(shape))
    assert str(want.value).split("\n")[0] in str(got.value)
