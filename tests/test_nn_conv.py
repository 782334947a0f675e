"""Conv1d/2d/3d and ConvTranspose1d/2d against torch: values, gradients, init, repr, errors."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch
from layer_parity import check_layer, check_uniform

import fnn.nn.functional as F
from fnn import nn

RNG = np.random.default_rng(0)

# (class name, args, kwargs, input shape)
CONV_CASES = [
    ("Conv1d", (3, 4, 3), {}, (2, 3, 11)),
    ("Conv1d", (4, 6, 4), dict(stride=3, padding=2, dilation=2, groups=2, bias=False), (2, 4, 17)),
    ("Conv1d", (3, 4, 4), dict(padding="same", padding_mode="reflect"), (2, 3, 9)),
    ("Conv1d", (3, 4, 3), dict(padding="valid", padding_mode="circular"), (3, 10)),
    ("Conv2d", (1, 32, 5), {}, (2, 1, 12, 12)),
    ("Conv2d", (4, 6, (3, 2)), dict(stride=(2, 1), padding=(1, 2), dilation=(1, 2), groups=2),
     (2, 4, 9, 8)),
    ("Conv2d", (4, 8, 3), dict(padding="same", dilation=2, groups=4, padding_mode="replicate"),
     (2, 4, 7, 9)),
    ("Conv2d", (3, 4, (2, 4)), dict(padding="same", padding_mode="zeros"), (2, 3, 6, 7)),
    ("Conv2d", (3, 4, 3), dict(stride=2, padding=1, padding_mode="circular", bias=False),
     (3, 8, 7)),
    ("Conv2d", (4, 4, 3), dict(padding=(2, 1), padding_mode="reflect", groups=4), (1, 4, 6, 5)),
    ("Conv3d", (2, 4, (2, 3, 2)), dict(stride=(1, 2, 1), padding=(1, 0, 1)), (2, 2, 5, 6, 4)),
    ("Conv3d", (4, 4, 3), dict(padding="same", groups=2, bias=False), (4, 4, 5, 5)),
    ("ConvTranspose1d", (3, 4, 3), {}, (2, 3, 7)),
    ("ConvTranspose1d", (4, 6, 4), dict(stride=3, padding=2, output_padding=1, groups=2,
                                        dilation=2), (2, 4, 6)),
    ("ConvTranspose2d", (4, 6, 3), dict(stride=2, padding=1, output_padding=1), (2, 4, 5, 4)),
    ("ConvTranspose2d", (4, 6, (3, 2)), dict(stride=(2, 3), padding=(0, 1), output_padding=(1, 2),
                                             groups=2, bias=False, dilation=(1, 2)), (4, 5, 4)),
    ("ConvTranspose2d", (2, 3, 2), dict(padding=1, dilation=3), (1, 2, 4, 4)),
]
IDS = [f"{c[0]}-{i}" for i, c in enumerate(CONV_CASES)]


def _pair(name, args, kwargs):
    return getattr(nn, name)(*args, **kwargs), getattr(torch.nn, name)(*args, **kwargs)


@pytest.mark.parametrize("case", CONV_CASES, ids=IDS)
def test_conv_parity_float64(case):
    name, args, kwargs, shape = case
    fl, tl = _pair(name, args, kwargs)
    check_layer(fl, tl, RNG.standard_normal(shape), np.float64)
    assert repr(fl) == repr(tl)


@pytest.mark.parametrize("case", CONV_CASES[1::3], ids=IDS[1::3])
def test_conv_parity_float32(case):
    name, args, kwargs, shape = case
    fl, tl = _pair(name, args, kwargs)
    check_layer(fl, tl, RNG.standard_normal(shape), np.float32, rtol=1e-5, atol=1e-5)


def test_conv_transpose_output_size():
    fl, tl = _pair("ConvTranspose2d", (3, 2, 3), dict(stride=3, padding=1))
    x = RNG.standard_normal((2, 3, 4, 5))
    out = check_layer(fl, tl, x, kwargs=dict(output_size=[12, 14]))["out"]
    assert out.shape == (2, 2, 12, 14)
    with pytest.raises(ValueError, match=r"ConvTranspose2d: requested an output size of \[13, 14\]"
                                         r", but valid sizes range from \[10, 13\] to \[12, 15\]"):
        fl(_random_params(fl), jnp.asarray(x), output_size=(13, 14))


def test_functional_matches_torch_functional():
    x, w, b = RNG.standard_normal((2, 4, 8, 7)), RNG.standard_normal((6, 2, 3, 3)), RNG.standard_normal(6)
    tx, tw, tb = map(torch.tensor, (x, w, b))
    for kw in [dict(padding="valid"), dict(padding="same", dilation=(2, 1)), dict(stride=(1, 2))]:
        got = F.conv2d(jnp.asarray(x), jnp.asarray(w), jnp.asarray(b), groups=2, **kw)
        want = torch.nn.functional.conv2d(tx, tw, tb, groups=2, **kw).numpy()
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
    wt = RNG.standard_normal((4, 3, 2, 3))
    got = F.conv_transpose2d(jnp.asarray(x), jnp.asarray(wt), None, 2, 1, 1, 2, 2)
    want = torch.nn.functional.conv_transpose2d(tx, torch.tensor(wt), None, 2, 1, 1, 2, 2).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


def _random_params(model, dtype=np.float64):
    """Parameters of ``model`` drawn with numpy (no per-shape XLA compiles of jax.random)."""
    shapes = jax.eval_shape(lambda k: model.init(k, jnp.float64), jax.random.key(0))
    return jax.tree.map(lambda s: jnp.asarray(RNG.standard_normal(s.shape).astype(dtype)), shapes)


@pytest.mark.parametrize("name,args,kwargs,shape", [
    ("Conv2d", (3, 4, 3), dict(padding=1, padding_mode="reflect"), (5, 3, 6, 6)),
    ("ConvTranspose1d", (3, 2, 3), dict(stride=2, output_padding=1), (5, 3, 7)),
])
def test_jit_vmap_match_batched(name, args, kwargs, shape):
    model = getattr(nn, name)(*args, **kwargs)
    params = _random_params(model)
    x = jnp.asarray(RNG.standard_normal(shape))
    batched = model(params, x)
    # jit, and vmap of the unbatched call over the batch, give the batched result
    per_example = jax.jit(jax.vmap(lambda p, xi: model(p, xi), in_axes=(None, 0)))(params, x)
    np.testing.assert_allclose(per_example, batched, rtol=1e-12, atol=1e-12)


# Each new parameter shape costs one XLA compile of jax.random (~0.4 s): two layers cover
# both fan_in rules (Conv: (in/groups)*prod(k); ConvTranspose: (out/groups)*prod(k)).
@pytest.mark.parametrize("name,args,kwargs", [
    ("Conv2d", (64, 96, 3), dict(groups=2)),
    ("ConvTranspose2d", (128, 64, 3), dict(groups=4)),
])
def test_default_init(name, args, kwargs):
    fl, tl = _pair(name, args, kwargs)
    p = fl.init(jax.random.key(3), jnp.float64)
    assert p["weight"].shape == tuple(tl.weight.shape) and p["weight"].dtype == jnp.float64
    fan_in, _ = torch.nn.init._calculate_fan_in_and_fan_out(tl.weight)
    bound = 1 / math.sqrt(fan_in)
    # torch's own draws respect the same bound (kaiming_uniform(a=sqrt(5)))
    assert float(tl.weight.detach().abs().max()) <= bound * (1 + 1e-12)
    check_uniform(p["weight"], bound)
    assert float(jnp.max(jnp.abs(p["bias"]))) <= bound and p["bias"].shape == (args[1],)
    assert not np.allclose(p["bias"], p["bias"][0])


def test_param_shapes_and_no_bias():
    def shapes(m):
        return {k: v.shape for k, v in jax.eval_shape(m.init, jax.random.key(0)).items()}
    assert shapes(nn.ConvTranspose2d(4, 6, 3, groups=2)) == {"weight": (4, 3, 3, 3), "bias": (6,)}
    assert shapes(nn.Conv3d(4, 6, (1, 2, 3), groups=2)) == {"weight": (6, 2, 1, 2, 3), "bias": (6,)}
    assert shapes(nn.Conv1d(2, 2, 1, bias=False)) == {"weight": (2, 2, 1)}


@pytest.mark.parametrize("name,args,kwargs,match", [
    ("Conv2d", (3, 4, 3), dict(groups=0), "groups must be a positive integer"),
    ("Conv2d", (3, 4, 3), dict(groups=2), "in_channels must be divisible by groups"),
    ("Conv2d", (4, 3, 3), dict(groups=2), "out_channels must be divisible by groups"),
    ("Conv2d", (4, 4, 3), dict(padding="foo"),
     r"Invalid padding string 'foo', should be one of \{'valid', 'same'\}"),
    ("Conv1d", (4, 4, 3), dict(padding="same", stride=2),
     "padding='same' is not supported for strided convolutions"),
    ("Conv2d", (4, 4, 3), dict(padding_mode="foo"), "padding_mode must be one of .* but got "
                                                   "padding_mode='foo'"),
    ("ConvTranspose2d", (4, 4, 3), dict(padding_mode="reflect"),
     'Only "zeros" padding mode is supported for ConvTranspose2d'),
    ("Conv2d", (4, 4, (3, 3, 3)), {}, r"Conv2d: kernel_size must be an int or a tuple of 2 ints"),
    ("Conv2d", (4, 4, 3), dict(stride=0), "Conv2d: stride must be positive"),
    ("Conv2d", (4, 4, 3), dict(padding=-1), "negative padding is not supported"),
])
def test_constructor_errors(name, args, kwargs, match):
    with pytest.raises(ValueError, match=match):
        getattr(nn, name)(*args, **kwargs)


def test_forward_errors_name_the_layer():
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ConvTranspose2d(4, 2, 3, output_padding=1,
                                                                   stride=2))
    params = _random_params(model)
    with pytest.raises(ValueError, match=r"^Conv2d '0' expected 3D \(unbatched\) or 4D \(batched\) "
                                         r"input, got 2D input of shape \(5, 5\)"):
        model(params, jnp.zeros((5, 5)))
    with pytest.raises(ValueError, match=r"^Conv2d '0': given groups=1, weight of size "
                                         r"\[4, 3, 3, 3\], expected input \[2, 5, 6, 6\] to have 3 "
                                         r"channels, but got 5 channels instead"):
        model(params, jnp.zeros((2, 5, 6, 6)))
    with pytest.raises(ValueError, match=r"^Conv2d '0': calculated padded input size per channel: "
                                         r"\(2 x 2\)\. Kernel size: \(3 x 3\)\. Kernel size can't "
                                         "be greater than actual input size"):
        model(params, jnp.zeros((1, 3, 2, 2)))
    with pytest.raises(ValueError, match="output padding must be smaller than either stride or "
                                         "dilation"):
        F.conv_transpose1d(jnp.zeros((1, 2, 5)), jnp.zeros((2, 2, 3)), output_padding=1)
    with pytest.raises(ValueError, match=r"conv1d: expected bias of shape \(2,\), got \(3,\)"):
        F.conv1d(jnp.zeros((1, 2, 5)), jnp.zeros((2, 2, 3)), jnp.zeros(3))
