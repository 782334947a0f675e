"""Resampling and rearranging against torch: ``interpolate`` (every mode and option),
``Upsample*``, ``PixelShuffle``/``PixelUnshuffle``/``ChannelShuffle``, ``Fold``/``Unfold``,
``grid_sample``/``affine_grid``: values, gradients (inputs, grid, theta), jit, errors."""

import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch
from layer_parity import check_layer

import fnn.nn.functional as F
from fnn import nn

RNG = np.random.default_rng(5)
TF = torch.nn.functional
TOL = {np.float64: 1e-10, np.float32: 2e-5}


def _vjp_check(fnn_fn, torch_fn, inputs, dtype=np.float64, jit=True):
    """Outputs and the gradients of ``sum(out * cot)`` w.r.t. every input, fnn vs torch."""
    _multi_check([(fnn_fn, torch_fn, inputs)], dtype)


def _multi_check(cases, dtype=np.float64):
    """Many ``(fnn_fn, torch_fn, inputs)`` cases through ONE jitted VJP (one compilation):
    every output and every input gradient against torch's."""
    xs, want, cots = [], [], []
    for _, torch_fn, inputs in cases:
        x = [np.asarray(a, dtype) for a in inputs]
        ts = [torch.tensor(a, requires_grad=True) for a in x]
        yt = torch_fn(*ts)
        cot = RNG.standard_normal(tuple(yt.shape)).astype(dtype)
        (yt * torch.tensor(cot)).sum().backward()
        xs.append(x)
        cots.append(cot)
        want.append((yt.detach().numpy(), [t.grad.numpy() for t in ts]))
    fns = [c[0] for c in cases]

    @jax.jit
    def run(xs, cots):
        ys, vjp = jax.vjp(lambda xs: [f(*x) for f, x in zip(fns, xs)], xs)
        return ys, vjp(cots)[0]

    ys, grads = run(xs, cots)
    tol = TOL[dtype]
    for i, (y, g, (yt, gt)) in enumerate(zip(ys, grads, want)):
        assert y.shape == yt.shape and y.dtype == dtype, (i, y.shape, yt.shape)
        np.testing.assert_allclose(y, yt, rtol=tol, atol=tol, err_msg=f"case {i} output")
        for a, b in zip(g, gt):
            np.testing.assert_allclose(a, b, rtol=tol, atol=tol, err_msg=f"case {i} grad")


# ---------------------------------------------------------------------- interpolate
SIZES = [dict(size=7), dict(size=2), dict(scale_factor=1.7), dict(scale_factor=0.6),
         dict(scale_factor=2.0), dict(scale_factor=2.5, recompute_scale_factor=True),
         dict(scale_factor=1 / 3)]
INTERP = (
    [("nearest", None, False, s) for s in SIZES]
    + [("nearest-exact", None, False, s) for s in SIZES[::2]]
    + [("area", None, False, s) for s in SIZES[:4]]
    + [(m, ac, False, s) for m in ("linear", "bilinear", "bicubic", "trilinear")
       for ac in (False, True) for s in SIZES[(m == "trilinear")::2]]
    + [(m, ac, True, s) for m in ("bilinear", "bicubic", "lanczos") for ac in (False, True)
       for s in (dict(size=(3, 4)), dict(scale_factor=0.45), dict(scale_factor=1.6))
       if not (m == "lanczos" and ac)])
RANKS = {"linear": 3, "bilinear": 4, "bicubic": 4, "trilinear": 5, "lanczos": 4}


@pytest.mark.slow
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_interpolate_every_mode(dtype):
    cases = []
    for i, (mode, ac, aa, spec) in enumerate(INTERP):
        if dtype == np.float32 and i % 3:
            continue
        rank = RANKS.get(mode, 3 + i % 3)
        shape = (2, 2, 6, 5, 4)[:rank] if rank < 5 else (1, 2, 4, 3, 5)
        kw = dict(mode=mode, align_corners=ac, antialias=aa, **spec)
        cases.append((lambda a, kw=kw: F.interpolate(a, **kw),
                      lambda a, kw=kw: TF.interpolate(a, **kw), [RNG.standard_normal(shape)]))
    _multi_check(cases, dtype)


def test_interpolate_tuples_and_jit_grad():
    x = RNG.standard_normal((2, 3, 5, 6))
    kw = dict(scale_factor=(1.5, 0.5), mode="bicubic", align_corners=False)
    _vjp_check(lambda a: F.interpolate(a, **kw), lambda a: TF.interpolate(a, **kw), [x])
    kw = dict(size=(4, 9), mode="nearest")
    _vjp_check(lambda a: F.interpolate(a, **kw), lambda a: TF.interpolate(a, **kw), [x])
    g = jax.jit(jax.grad(lambda a: F.interpolate(a, size=(7, 3), mode="bilinear").sum()))(x)
    xt = torch.tensor(x, requires_grad=True)
    TF.interpolate(xt, size=(7, 3), mode="bilinear").sum().backward()
    np.testing.assert_allclose(g, xt.grad.numpy(), rtol=1e-10)


@pytest.mark.parametrize("name,kwargs,shape", [
    ("Upsample", dict(scale_factor=2), (2, 3, 4)),
    ("Upsample", dict(size=(5, 3), mode="bilinear", align_corners=True), (2, 3, 4, 4)),
    ("Upsample", dict(scale_factor=(1.5, 2, 0.5), mode="trilinear"), (1, 2, 4, 3, 4)),
    ("Upsample", dict(scale_factor=1.5, mode="bicubic", recompute_scale_factor=True),
     (1, 2, 4, 5)),
    ("UpsamplingNearest2d", dict(scale_factor=3), (1, 2, 3, 4)),
    ("UpsamplingBilinear2d", dict(size=(6, 7)), (1, 2, 3, 4)),
])
def test_upsample_layers(name, kwargs, shape):
    fl, tl = getattr(nn, name)(**kwargs), getattr(torch.nn, name)(**kwargs)
    assert repr(fl) == repr(tl)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        check_layer(fl, tl, RNG.standard_normal(shape), np.float64)
        check_layer(fl, tl, RNG.standard_normal(shape), np.float32)


def test_vmap_matches_batch():
    """vmap over the batch gives the batched result (no Python branching on values)."""
    x = jnp.asarray(RNG.standard_normal((3, 2, 4, 5)))
    grid = jnp.asarray(RNG.uniform(-1.2, 1.2, (3, 2, 3, 2)))
    gs = jax.vmap(lambda a, g: F.grid_sample(a[None], g[None], mode="nearest",
                                             align_corners=False)[0])(x, grid)
    np.testing.assert_allclose(gs, F.grid_sample(x, grid, mode="nearest", align_corners=False),
                               rtol=1e-12)
    up = jax.vmap(lambda a: F.interpolate(a[None], scale_factor=1.5, mode="bilinear")[0])(x)
    np.testing.assert_allclose(up, F.interpolate(x, scale_factor=1.5, mode="bilinear"),
                               rtol=1e-12)
    sh = jax.vmap(lambda a: F.pixel_shuffle(F.unfold(a, 2).reshape(8, 3, 4), 2))(x)
    np.testing.assert_array_equal(sh[1], F.pixel_shuffle(F.unfold(x[1], 2).reshape(8, 3, 4), 2))


def test_interpolate_nearest_keeps_integers():
    x = np.arange(24, dtype=np.uint8).reshape(1, 2, 3, 4)
    y = F.interpolate(jnp.asarray(x), scale_factor=(1.5, 0.75), mode="nearest")
    assert y.dtype == jnp.uint8
    np.testing.assert_array_equal(y, TF.interpolate(torch.tensor(x), scale_factor=(1.5, 0.75),
                                                    mode="nearest").numpy())
    with pytest.raises(TypeError, match="floating-point"):
        F.interpolate(jnp.asarray(x), size=2, mode="bilinear")


def test_deprecated_upsample_functions():
    x = RNG.standard_normal((1, 2, 3, 4))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for f, kw in (("upsample", dict(size=5, mode="bilinear")),
                      ("upsample_nearest", dict(scale_factor=2)),
                      ("upsample_bilinear", dict(size=(5, 2)))):
            np.testing.assert_allclose(getattr(F, f)(x, **kw),
                                       getattr(TF, f)(torch.tensor(x), **kw).numpy(), rtol=1e-12)


@pytest.mark.parametrize("kwargs,shape", [
    (dict(size=3, scale_factor=2), (1, 2, 4)),                         # both given
    (dict(), (1, 2, 4)),                                               # neither
    (dict(size=(3, 3)), (1, 2, 4)),                                    # wrong length
    (dict(scale_factor=(2, 2, 2)), (1, 2, 4, 4)),                      # wrong length
    (dict(size=3, mode="nearest", align_corners=True), (1, 2, 4)),     # align_corners
    (dict(size=3, mode="linear", recompute_scale_factor=True), (1, 2, 4)),
    (dict(size=3, mode="linear", antialias=True), (1, 2, 4)),          # antialias in 1-D
    (dict(size=3, mode="bilinear"), (1, 2, 4)),                        # rank
    (dict(size=3, mode="trilinear"), (1, 2, 4, 4)),
    (dict(size=3, mode="cubic"), (1, 2, 4, 4)),                        # unknown mode
    (dict(size=0), (1, 2, 4)),                                         # empty output
    (dict(size=(1, 0), mode="bilinear"), (1, 2, 4, 4)),
    (dict(size=3, mode="lanczos", antialias=True, align_corners=True), (1, 2, 4, 4)),
    (dict(size=3, mode="lanczos"), (1, 2, 4, 4)),
    (dict(size=3, mode="lanczos", antialias=True), (1, 2, 4, 4, 4)),
])
def test_interpolate_errors(kwargs, shape):
    with pytest.raises(Exception) as want:
        TF.interpolate(torch.zeros(shape), **kwargs)
    with pytest.raises(type(want.value) if type(want.value) is not RuntimeError
                       else ValueError) as got:
        F.interpolate(jnp.zeros(shape), **kwargs)
    assert str(want.value) in str(got.value)


# ---------------------------------------------------------------------- rearranging
@pytest.mark.parametrize("name,arg,shape", [
    ("PixelShuffle", 2, (2, 8, 3, 4)), ("PixelShuffle", 3, (2, 1, 9, 2, 3)),
    ("PixelShuffle", 1, (4, 2, 3)),
    ("PixelUnshuffle", 2, (2, 3, 4, 6)), ("PixelUnshuffle", 3, (2, 6, 3)),
    ("ChannelShuffle", 3, (2, 6, 4)), ("ChannelShuffle", 2, (1, 4, 2, 3)),
])
def test_shuffle_layers(name, arg, shape):
    fl, tl = getattr(nn, name)(arg), getattr(torch.nn, name)(arg)
    assert repr(fl) == repr(tl)
    x = RNG.standard_normal(shape)
    out = check_layer(fl, tl, x, np.float64, rtol=0, atol=0)["out"]
    np.testing.assert_array_equal(out, tl(torch.tensor(x)).numpy())


@pytest.mark.parametrize("fn,arg,shape", [
    ("pixel_shuffle", 2, (2, 5, 3, 3)), ("pixel_shuffle", 2, (5, 3)),
    ("pixel_shuffle", 0, (4, 3, 3)), ("pixel_unshuffle", 2, (2, 5, 3, 4)),
    ("pixel_unshuffle", 2, (2, 5, 4, 3)), ("pixel_unshuffle", -1, (2, 4, 4)),
    ("channel_shuffle", 4, (2, 6, 3)), ("channel_shuffle", 0, (2, 6, 3)),
    ("channel_shuffle", 2, (2, 6)),
])
def test_shuffle_errors(fn, arg, shape):
    with pytest.raises(RuntimeError) as want:
        getattr(TF, fn)(torch.zeros(shape), arg)
    with pytest.raises(ValueError) as got:
        getattr(F, fn)(jnp.zeros(shape), arg)
    assert str(want.value) in str(got.value)
    np.testing.assert_array_equal(F.native_channel_shuffle(jnp.arange(12.).reshape(1, 6, 2), 3),
                                  TF.native_channel_shuffle(torch.arange(12.).reshape(1, 6, 2),
                                                            3).numpy())


@pytest.mark.parametrize("kwargs,shape", [
    (dict(kernel_size=2), (2, 3, 4, 5)),
    (dict(kernel_size=(2, 3), dilation=(2, 1), padding=1, stride=(2, 3)), (2, 2, 6, 7)),
    (dict(kernel_size=3, padding=(0, 2), stride=2), (3, 5, 4)),
])
def test_fold_unfold(kwargs, shape):
    fl, tl = nn.Unfold(**kwargs), torch.nn.Unfold(**kwargs)
    assert repr(fl) == repr(tl)
    x = RNG.standard_normal(shape)
    cols = check_layer(fl, tl, x, np.float64)["out"]
    check_layer(fl, tl, x, np.float32)
    fl, tl = nn.Fold(shape[-2:], **kwargs), torch.nn.Fold(shape[-2:], **kwargs)
    assert repr(fl) == repr(tl)
    check_layer(fl, tl, RNG.standard_normal(cols.shape), np.float64)
    check_layer(fl, tl, RNG.standard_normal(cols.shape), np.float32)


@pytest.mark.parametrize("fn,args,kwargs,shape", [
    ("unfold", (2,), {}, (2, 3, 4, 5, 6)), ("unfold", (5,), {}, (2, 3, 4)),
    ("unfold", (2,), dict(stride=0), (2, 3, 4, 4)), ("unfold", (2,), dict(padding=-1),
                                                     (2, 3, 4, 4)),
    ("fold", ((4, 4), 2), dict(stride=2), (2, 12, 9)), ("fold", ((4, 4), 2), {}, (2, 11, 9)),
    ("fold", ((4, 4), 2), {}, (2, 2, 12, 9)),
])
def test_fold_errors(fn, args, kwargs, shape):
    with pytest.raises(RuntimeError) as want:
        getattr(TF, fn)(torch.zeros(shape), *args, **kwargs)
    with pytest.raises(ValueError) as got:
        getattr(F, fn)(jnp.zeros(shape), *args, **kwargs)
    assert str(want.value) in str(got.value)


# ---------------------------------------------------------------------- grid_sample
GRID_CASES = [(mode, pm, ac, nd) for nd in (4, 5) for mode in ("bilinear", "nearest", "bicubic")
              for pm in ("zeros", "border", "reflection") for ac in (False, True)
              if not (nd == 5 and mode == "bicubic")]


@pytest.mark.slow
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_grid_sample_every_option(dtype):
    cases = []
    for mode, pm, ac, nd in GRID_CASES[::1 if dtype == np.float64 else 3]:
        shape = (2, 2, 4, 5) if nd == 4 else (2, 2, 3, 4, 3)
        grid = RNG.uniform(-1.4, 1.4, (2, 3, 4, nd - 2) if nd == 4 else (2, 2, 3, 2, 3))
        kw = dict(mode=mode, padding_mode=pm, align_corners=ac)
        cases.append((lambda a, g, kw=kw: F.grid_sample(a, g, **kw),
                      lambda a, g, kw=kw: TF.grid_sample(a, g, **kw),
                      [RNG.standard_normal(shape), grid]))
    _multi_check(cases, dtype)


@pytest.mark.parametrize("size,ac", [((2, 3, 4, 5), False), ((2, 3, 4, 5), True),
                                     ((2, 1, 3, 1, 4), False), ((2, 1, 3, 2, 4), True)])
def test_affine_grid_and_sample(size, ac):
    k = len(size) - 2
    theta = RNG.standard_normal((2, k, k + 1))
    _vjp_check(lambda t: F.affine_grid(t, size, align_corners=ac),
               lambda t: TF.affine_grid(t, size, align_corners=ac), [theta])
    x = RNG.standard_normal(size)
    _vjp_check(lambda a, t: F.grid_sample(a, F.affine_grid(t, size, align_corners=ac),
                                          align_corners=ac),
               lambda a, t: TF.grid_sample(a, TF.affine_grid(t, size, align_corners=ac),
                                           align_corners=ac), [x, theta])


@pytest.mark.parametrize("shape,grid,kwargs", [
    ((2, 3, 4, 5), (2, 3, 4), {}), ((2, 3, 4, 5), (3, 3, 4, 2), {}),
    ((2, 3, 4, 5), (2, 3, 4, 3), {}), ((2, 3, 4, 5, 6), (2, 3, 4, 5, 3), dict(mode="bicubic")),
    ((2, 3, 0, 5), (2, 4, 4, 2), {}),
])
def test_grid_sample_errors(shape, grid, kwargs):
    with pytest.raises(RuntimeError) as want:
        TF.grid_sample(torch.zeros(shape), torch.zeros(grid), align_corners=False, **kwargs)
    with pytest.raises(ValueError) as got:
        F.grid_sample(jnp.zeros(shape), jnp.zeros(grid), align_corners=False, **kwargs)
    assert str(want.value) in str(got.value)
    for kw in (dict(mode="foo"), dict(padding_mode="bar")):
        with pytest.raises(ValueError, match="nn.functional.grid_sample"):
            F.grid_sample(jnp.zeros((1, 1, 2, 2)), jnp.zeros((1, 1, 1, 2)), **kw)


@pytest.mark.parametrize("theta,size", [((2, 2, 3), (2, 3, 4)), ((2, 3, 3), (2, 3, 4, 5)),
                                        ((2, 2, 3), (2, 3, 0, 5))])
def test_affine_grid_errors(theta, size):
    with pytest.raises(Exception) as want:
        TF.affine_grid(torch.zeros(theta), size, align_corners=False)
    with pytest.raises(type(want.value)) as got:
        F.affine_grid(jnp.zeros(theta), size, align_corners=False)
    assert str(want.value).replace("torch.Size(", "").replace("])", "]") in \
        str(got.value).replace("(2, 3, 3)", "[2, 3, 3]")
