"""Lazy* modules (sizes inferred by ``init(key, example)``), ParameterList/ParameterDict."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch
from layer_parity import check_layer, check_uniform

import fnn.nn as nn

RNG = np.random.default_rng(0)
KEY = jax.random.key(0)

CASES = [  # (name, args, kwargs, example input shape)
    ("LazyLinear", (5,), {}, (2, 3, 4)),
    ("LazyLinear", (5,), {"bias": False}, (4,)),
    ("LazyConv1d", (4, 3), {"stride": 2, "padding": 1}, (3, 7)),       # unbatched
    ("LazyConv2d", (4, 3), {"groups": 2, "dilation": 2, "padding_mode": "reflect", "padding": 2},
     (2, 6, 7, 7)),
    ("LazyConv3d", (2, 2), {"bias": False}, (1, 2, 3, 4, 4)),
    ("LazyConvTranspose1d", (4, 3), {"stride": 2, "output_padding": 1}, (2, 3, 5)),
    ("LazyConvTranspose2d", (4, 3), {"groups": 2, "dilation": 2}, (2, 4, 3, 3)),
    ("LazyBatchNorm1d", (), {"momentum": 0.2}, (4, 3)),
    ("LazyBatchNorm2d", (), {"affine": False}, (2, 3, 2, 2)),
    ("LazyBatchNorm3d", (), {}, (2, 3, 2, 2, 2)),
    ("LazyInstanceNorm1d", (), {}, (2, 3, 5)),
    ("LazyInstanceNorm2d", (), {"affine": False, "track_running_stats": False}, (2, 3, 4, 4)),
    ("LazyInstanceNorm3d", (), {"momentum": 0.3}, (2, 3, 2, 2, 3)),
]


@pytest.mark.parametrize("name,args,kwargs,shape", CASES)
def test_lazy_matches_torch(name, args, kwargs, shape):
    torch.manual_seed(0)
    t = getattr(torch.nn, name)(*args, **kwargs).double()
    x = RNG.standard_normal(shape)
    t(torch.tensor(x))                                          # torch materializes on first call
    f = getattr(nn, name)(*args, **kwargs)
    assert f._fnn_lazy
    params = f.init(KEY, jnp.asarray(x), dtype=jnp.float64)
    assert type(f).__name__ == type(t).__name__ and repr(f) == repr(t)
    from fnn import _tree
    assert [(k, np.shape(v)) for k, v in _tree.flatten(params).items()] == \
        [(k, tuple(v.shape)) for k, v in t.named_parameters()]
    assert list(_tree.flatten(f.init_buffers())) == [k for k, _ in t.named_buffers()]
    with pytest.warns(UserWarning) if f.__dict__.get("num_features") == 0 else _nothing():
        check_layer(f, t, x, np.float64, train=True)


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *a):
        return False


def test_lazy_init_distribution_and_nesting():
    class Net(nn.Module):
        def __init__(self):
            self.body = nn.Sequential(nn.LazyConv2d(4, 3), nn.LazyBatchNorm2d(), nn.ReLU(),
                                      nn.Flatten())
            self.head = nn.LazyLinear(300)

        def forward(self, params, x):
            return self.head(params["head"], self.body(params["body"], x))

    net = Net()
    x = jnp.ones((2, 3, 6, 6))
    params = net.init(KEY, x)
    assert params["body"]["0"]["weight"].shape == (4, 3, 3, 3)
    assert params["head"]["weight"].shape == (300, 64)
    assert params["head"]["weight"].dtype == jnp.float32
    check_uniform(params["head"]["weight"], 1 / math.sqrt(64))   # torch's Linear init
    y, buffers = jax.eval_shape(lambda p, b: net.apply(p, x, buffers=b, train=True), params,
                                net.init_buffers())
    assert y.shape == (2, 300) and buffers["body"]["1"]["running_mean"].shape == (4,)
    # an example input is harmless for a model without lazy layers
    fc = nn.Linear(3, 2)
    np.testing.assert_array_equal(fc.init(KEY, jnp.ones((1, 3)))["weight"], fc.init(KEY)["weight"])
    # init is repeatable once materialized, and the old positional dtype still works
    p64 = jax.eval_shape(lambda k: net.init(k, jnp.float64), KEY)
    assert p64["head"]["weight"].dtype == jnp.float64


def test_lazy_errors():
    with pytest.raises(ValueError, match=r"the lazy module\(s\) 0 infer their sizes"):
        nn.Sequential(nn.LazyLinear(3)).init(KEY)
    with pytest.raises(ValueError, match="LazyLinear: its input size is not known yet"):
        nn.LazyLinear(3)({}, jnp.ones((2, 3)))
    with pytest.raises(ValueError, match="LazyBatchNorm1d: its input size is not known yet"):
        nn.LazyBatchNorm1d().init_buffers()
    with pytest.raises(ValueError, match=r"Expected 3D \(unbatched\) or 4D \(batched\) input to "
                                         r"LazyConv2d, but got input of size: \(2, 3\)"):
        nn.LazyConv2d(3, 1).init(KEY, jnp.ones((2, 3)))
    with pytest.raises(ValueError, match="in_channels must be divisible by groups"):
        nn.LazyConv1d(4, 1, groups=2).init(KEY, jnp.ones((2, 3, 5)))


def test_lazy_conv_transpose3d_by_name():
    """LazyConvTranspose3d becomes fnn.nn.ConvTranspose3d (added on another branch): parity
    with torch once it exists, a clear error until then."""
    m = nn.LazyConvTranspose3d(2, 2, stride=2)
    x = RNG.standard_normal((1, 3, 2, 2, 2))
    if "ConvTranspose3d" in dir(nn):
        t = torch.nn.LazyConvTranspose3d(2, 2, stride=2).double()
        t(torch.tensor(x))
        m.init(KEY, jnp.asarray(x))
        check_layer(m, t, x, np.float64)
    else:
        with pytest.raises(ValueError, match="LazyConvTranspose3d needs fnn.nn.ConvTranspose3d"):
            m.init(KEY, jnp.asarray(x))


def test_parameter_list_and_dict():
    class Net(nn.Module):
        def __init__(self):
            self.scales = nn.ParameterList([np.ones(3), lambda k, d: jax.random.normal(k, (3,), d)])
            self.extra = nn.ParameterDict({"b": jnp.zeros(3), "a": jnp.arange(3)})
            self.fc = nn.Linear(3, 3)

        def forward(self, params, x):
            for name in params["scales"]:
                x = x * params["scales"][name]
            return self.fc(params["fc"], x) + params["extra"]["b"]

    torch_net = torch.nn.Module()
    torch_net.scales = torch.nn.ParameterList([torch.ones(3), torch.randn(3)])
    torch_net.extra = torch.nn.ParameterDict({"b": torch.zeros(3), "a": torch.arange(3.0)})
    torch_net.fc = torch.nn.Linear(3, 3)
    net = Net()
    params = net.init(KEY, dtype=jnp.float64)
    from fnn import _tree
    assert list(_tree.flatten(params)) == list(torch_net.state_dict())
    assert params["scales"]["0"].dtype == jnp.float64 and params["extra"]["a"].dtype != jnp.float64
    np.testing.assert_array_equal(params["scales"]["0"], np.ones(3))
    assert not np.allclose(params["scales"]["1"], net.init(jax.random.key(1))["scales"]["1"])
    y = jax.jit(net.__call__)(params, jnp.ones((2, 3)))
    assert y.shape == (2, 3)
    pl = nn.ParameterList([jnp.ones(2)]).append(jnp.zeros(1)).extend([jnp.ones(4)])
    assert len(pl) == 3 and pl[-1].shape == (4,)
    assert repr(nn.ParameterList([np.ones(3, np.float32)])) == (
        "ParameterList(\n    (0): Parameter containing: [float32 of size 3]\n)")
    pd = nn.ParameterDict()
    pd["w"] = jnp.ones(2)
    pd.update({"v": jnp.ones(1)})
    assert list(pd.keys()) == ["w", "v"] and "w" in pd
    assert list(nn.ParameterDict({"b": 1.0, "a": 2.0})) == ["a", "b"]          # torch sorts
    with pytest.raises(TypeError, match="not modules"):
        nn.ParameterList([nn.Linear(2, 2)])
    with pytest.raises(TypeError, match="keys must be strings"):
        nn.ParameterDict({1: jnp.ones(2)})
