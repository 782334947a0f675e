"""Property-based tests (hypothesis) across the public API.

* losses: reduction consistency ('sum' is the sum of 'none'; 'mean' divides by N, or by
  the weights as torch defines it), invariances, finite gradients on valid inputs;
* optimizers: jit equals eager, vmap equals a loop, ``maximize`` equals minimising the
  negated loss, a zero gradient leaves the params unchanged (optimizers without decay),
  state shapes and dtypes are preserved, float32 and bfloat16 params stay so;
* schedulers: torch parity on random arguments;
* layers: conv / conv-transpose / pooling output shapes against torch on random strides,
  paddings, dilations, ``ceil_mode``, ``output_padding`` and groups (and: fnn raises
  exactly when torch does).

Every property runs with ``derandomize=True`` (the same examples on every run, so CI is
reproducible), ``deadline=None`` and a modest ``max_examples``; the counts are
``EXAMPLES`` below.
"""

from __future__ import annotations

import math
import re
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from torch.optim import lr_scheduler as tls

from fnn import losses, nn, optim
from fnn.nn import functional as F
from fnn.optim import lr_scheduler as ls
from tests.test_lr_scheduler import run_both

EXAMPLES = {"loss": 6, "grad": 4, "optim": 4, "vmap": 3, "lowp": 3, "extra": 2, "sched": 8,
            "shape": 60}


def props(kind: str):
    return settings(max_examples=EXAMPLES[kind], deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
                    database=None)


def arrays(shape, lo=-4.0, hi=4.0):
    return hnp.arrays(np.float64, shape, elements=st.floats(lo, hi, allow_nan=False,
                                                            allow_subnormal=False))


SHAPES = st.sampled_from([(5,), (3, 4), (2, 3, 2)])


# ====================================================================== losses
def _pm(shape):
    return hnp.arrays(np.float64, shape, elements=st.sampled_from([-1.0, 1.0]))


# name -> strategy of (args, kwargs); each loss takes reduction= on top
def _elementwise(draw, name, shape):
    x, y = draw(arrays(shape)), draw(arrays(shape))
    if name in ("l1_loss", "mse_loss", "huber_loss", "smooth_l1_loss"):
        return (x, y), {}
    if name == "soft_margin_loss":
        return (x, draw(_pm(shape))), {}
    if name == "binary_cross_entropy":
        return (draw(arrays(shape, 0.01, 0.99)), draw(arrays(shape, 0.0, 1.0))), {}
    if name == "binary_cross_entropy_with_logits":
        return (x, draw(arrays(shape, 0.0, 1.0))), {"pos_weight": draw(arrays(shape[-1:], 0.1, 3))}
    if name == "kl_div":
        return (x, draw(arrays(shape, 0.0, 2.0))), {}
    if name == "poisson_nll_loss":
        return (x, draw(arrays(shape, 0.0, 5.0))), {"full": draw(st.booleans())}
    if name == "gaussian_nll_loss":
        return (x, y, draw(arrays(shape, 0.1, 3.0))), {"full": draw(st.booleans())}
    if name == "hinge_embedding_loss":
        return (x, draw(_pm(shape))), {"margin": draw(st.floats(0.0, 2.0))}
    if name == "margin_ranking_loss":
        return (x, y, draw(_pm(shape))), {"margin": draw(st.floats(-1.0, 1.0))}
    if name == "multilabel_soft_margin_loss":
        return (x, draw(arrays(shape, 0.0, 1.0))), {}
    raise KeyError(name)


ELEMENTWISE = ["l1_loss", "mse_loss", "huber_loss", "smooth_l1_loss", "soft_margin_loss",
               "binary_cross_entropy", "binary_cross_entropy_with_logits", "kl_div",
               "poisson_nll_loss", "gaussian_nll_loss", "hinge_embedding_loss",
               "margin_ranking_loss", "multilabel_soft_margin_loss"]


def _call(name, args, kw, reduction):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # kl_div's 'mean'
        return np.asarray(getattr(losses, name)(*args, reduction=reduction, **kw))


@pytest.mark.parametrize("name", ELEMENTWISE)
@props("loss")
@given(data=st.data(), shape=SHAPES)
def test_reductions_are_consistent(name, data, shape):
    """'sum' == sum('none') and 'mean' == sum('none') / numel('none')."""
    args, kw = _elementwise(data.draw, name, shape)
    none = _call(name, args, kw, "none")
    np.testing.assert_allclose(_call(name, args, kw, "sum"), none.sum(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(_call(name, args, kw, "mean"), none.mean(), rtol=1e-12,
                               atol=1e-12)


@pytest.mark.parametrize("name", ["l1_loss", "mse_loss", "huber_loss", "binary_cross_entropy"])
@props("loss")
@given(data=st.data(), shape=SHAPES)
def test_weighted_reductions_follow_torch(name, data, shape):
    """With ``weight``: 'none' is w*l; 'mean' is sum(w*l)/sum(w) for l1/mse (torch 2.13) and
    mean(w*l) for huber and BCE."""
    args, kw = _elementwise(data.draw, name, shape)
    w = data.draw(arrays(shape, 0.05, 2.0))
    plain = _call(name, args, kw, "none")
    none = _call(name, args, {**kw, "weight": w}, "none")
    np.testing.assert_allclose(none, w * plain, rtol=1e-12, atol=1e-12)
    mean = _call(name, args, {**kw, "weight": w}, "mean")
    by_sum = name in ("l1_loss", "mse_loss")
    expected = none.sum() / (w.sum() if by_sum else none.size)
    np.testing.assert_allclose(mean, expected, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(_call(name, args, {**kw, "weight": w}, "sum"), none.sum(),
                               rtol=1e-12, atol=1e-12)


@st.composite
def class_problems(draw):
    n, c = 4, draw(st.sampled_from([2, 5]))  # few shapes: few compilations
    extra = draw(st.sampled_from([(), (3,)]))
    x = draw(arrays((n, c) + extra))
    y = draw(hnp.arrays(np.int64, (n,) + extra, elements=st.integers(0, c - 1)))
    ignore = draw(hnp.arrays(np.bool_, (n,) + extra))
    ignore.flat[0] = False  # at least one target counts
    y = np.where(ignore, -100, y)
    w = draw(st.one_of(st.none(), arrays((c,), 0.1, 2.0)))
    return x, y, w


@pytest.mark.parametrize("name", ["cross_entropy", "nll_loss"])
@props("loss")
@given(problem=class_problems(), smoothing=st.sampled_from([0.0, 0.2]))
def test_class_index_mean_divides_by_the_kept_weights(name, problem, smoothing):
    """'mean' == sum('none') / sum(w[y] over targets not ignored); ignored positions are 0."""
    x, y, w = problem
    kw = {"weight": w} | ({"label_smoothing": smoothing} if name == "cross_entropy" else {})
    f = getattr(losses, name)
    none = np.asarray(f(x, y, reduction="none", **kw))
    assert np.all(none[y == -100] == 0)
    wy = np.where(y == -100, 0.0, (np.ones(x.shape[1]) if w is None else w)[np.maximum(y, 0)])
    np.testing.assert_allclose(np.asarray(f(x, y, **kw)), none.sum() / wy.sum(), rtol=1e-12)
    np.testing.assert_allclose(np.asarray(f(x, y, reduction="sum", **kw)), none.sum(),
                               rtol=1e-12, atol=1e-12)


@props("loss")
@given(problem=class_problems(), shift=arrays((), -50.0, 50.0))
def test_cross_entropy_is_invariant_to_a_logit_shift(problem, shift):
    x, y, w = problem
    a = np.asarray(losses.cross_entropy(x, y, weight=w))
    b = np.asarray(losses.cross_entropy(x + shift, y, weight=w))
    np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-10)


@props("loss")
@given(data=st.data(), shape=SHAPES, shift=st.floats(-10, 10))
def test_regression_losses_are_symmetric_and_translation_invariant(data, shape, shift):
    x, y = data.draw(arrays(shape)), data.draw(arrays(shape))
    for f in (losses.l1_loss, losses.mse_loss, losses.huber_loss, losses.smooth_l1_loss):
        ref = np.asarray(f(x, y))
        np.testing.assert_allclose(np.asarray(f(y, x)), ref, rtol=1e-12)
        np.testing.assert_allclose(np.asarray(f(x + shift, y + shift)), ref, rtol=1e-9,
                                   atol=1e-9)


@props("loss")
@given(data=st.data(), shape=SHAPES)
def test_logits_bce_equals_bce_of_the_sigmoid(data, shape):
    x, t = data.draw(arrays(shape)), data.draw(arrays(shape, 0.0, 1.0))
    a = np.asarray(losses.binary_cross_entropy_with_logits(x, t, reduction="none"))
    b = np.asarray(losses.binary_cross_entropy(jax.nn.sigmoid(x), t, reduction="none"))
    np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)


@props("loss")
@given(data=st.data(), n=st.sampled_from([1, 3]), c=st.sampled_from([2, 5]),
       scale=st.floats(0.1, 10.0))
def test_kl_div_is_nonnegative_and_cosine_similarity_scale_invariant(data, n, c, scale):
    p = jax.nn.softmax(data.draw(arrays((n, c))), axis=1)
    log_q = jax.nn.log_softmax(data.draw(arrays((n, c))), axis=1)
    assert float(losses.kl_div(log_q, p, reduction="batchmean")) >= -1e-12
    assert abs(float(losses.kl_div(jnp.log(p), p, reduction="sum"))) < 1e-12
    x, y = data.draw(arrays((n, c), 0.5, 3.0)), data.draw(arrays((n, c), 0.5, 3.0))
    np.testing.assert_allclose(np.asarray(losses.cosine_similarity(scale * x, y)),
                               np.asarray(losses.cosine_similarity(x, y)), rtol=1e-12)
    # ||x1 - x2 + eps|| (torch's eps is inside the norm): not symmetric, but d(x, y) = d(-y, -x)
    np.testing.assert_allclose(np.asarray(losses.pairwise_distance(x, y)),
                               np.asarray(losses.pairwise_distance(-y, -x)), rtol=1e-12)


@pytest.mark.parametrize("name", ELEMENTWISE)
@props("grad")
@given(data=st.data(), shape=SHAPES)
def test_gradients_are_finite_on_valid_inputs(name, data, shape):
    """The gradient with respect to the prediction (the first argument) is finite (targets
    may legitimately have none: d/dt of t*log(t) at t = 0 is infinite in torch as well)."""
    args, kw = _elementwise(data.draw, name, shape)
    g = jax.grad(lambda x: getattr(losses, name)(x, *args[1:], reduction="sum", **kw))(
        jnp.asarray(args[0]))
    assert np.all(np.isfinite(np.asarray(g)))


@props("loss")
@given(problem=class_problems(), smoothing=st.sampled_from([0.0, 0.1]))
def test_cross_entropy_gradient_is_finite_and_sums_to_zero_per_position(problem, smoothing):
    """d CE / d logits = softmax - target: finite, and summing to 0 over the classes."""
    x, y, w = problem
    g = np.asarray(jax.grad(lambda z: losses.cross_entropy(z, y, weight=w, reduction="sum",
                                                           label_smoothing=smoothing))(x))
    assert np.all(np.isfinite(g))
    np.testing.assert_allclose(g.sum(axis=1), 0.0, atol=1e-10)


# ====================================================================== optimizers
# all 2-D (Muon orthogonalises matrices); no weight decay, so a zero gradient is a no-op
OPTIMIZERS = {
    "sgd": dict(lr=0.1, momentum=0.9, nesterov=True), "adam": dict(lr=0.1, amsgrad=True),
    "adamw": dict(lr=0.1, weight_decay=0.0), "adamax": dict(lr=0.1), "nadam": dict(lr=0.1),
    "radam": dict(lr=0.1), "adagrad": dict(lr=0.1), "adadelta": {}, "rmsprop": dict(lr=0.01,
                                                                                     momentum=0.5),
    "rprop": {}, "asgd": dict(lambd=0.0), "adafactor": {}, "muon": dict(weight_decay=0.0),
    "sparse_adam": {}, "adabelief": {}, "adabound": {}, "madgrad": {}, "qhadam": {},
    "swats": {}, "yogi": {},
}
MAXIMIZE = [n for n in OPTIMIZERS if n in ("sgd", "adam", "adamw", "adamax", "nadam", "radam",
                                           "adagrad", "adadelta", "rmsprop", "rprop", "asgd",
                                           "adafactor", "sparse_adam")]
SHAPE_P = {"w": (3, 2), "u": (2, 4)}


def _grads(steps: int, lo=-2.0, hi=2.0):
    return st.tuples(*[st.fixed_dictionaries({k: arrays(s, lo, hi) for k, s in SHAPE_P.items()})
                       for _ in range(steps)])


def _params(dtype=jnp.float64):
    return {k: jnp.asarray(np.linspace(-1, 1, math.prod(s)).reshape(s), dtype)
            for k, s in SHAPE_P.items()}


def _run(opt, params, grads_seq):
    state = opt.init(params)
    dtype = params["w"].dtype
    for g in grads_seq:
        upd, state = opt.update(jax.tree.map(lambda a: jnp.asarray(a, dtype), g), state, params)
        params = optim.apply_updates(params, upd)
    return params, state


def _assert_trees(a, b, rtol=0.0):
    """Equal trees: bit for bit, or to ``rtol`` (plus ``rtol`` absolute: values of order 1
    that cancel to nearly 0 keep an absolute rounding error of an ulp of the inputs)."""
    la, ta = jax.tree.flatten(a)
    lb, tb = jax.tree.flatten(b)
    assert ta == tb
    for x, y in zip(la, lb):
        assert x.dtype == y.dtype and x.shape == y.shape
        if rtol:
            np.testing.assert_allclose(np.asarray(x), np.asarray(y), rtol=rtol, atol=rtol)
        else:
            np.testing.assert_array_equal(np.asarray(x), np.asarray(y))


_JITTED: dict[str, object] = {}


# one of each kind of state: momentum buffer, AMSGrad max, sign-based step sizes, torch's
# float32 scalars (ASGD), factored moments (Adafactor), Newton-Schulz (Muon); every
# optimizer runs jitted in test_nonfinite.py
JIT_OPTIMIZERS = ["sgd", "adam", "rprop", "asgd", "adafactor", "muon"]


@pytest.mark.parametrize("name", JIT_OPTIMIZERS)
@props("optim")
@given(grads=_grads(3))
def test_jit_equals_eager_and_state_keeps_its_shapes(name, grads):
    opt = getattr(optim, name)(**OPTIMIZERS[name])
    params = _params()
    eager_p, eager_s = _run(opt, params, grads)
    if name not in _JITTED:  # one compilation per optimizer, not per example
        _JITTED[name] = jax.jit(lambda p, g, _opt=opt: _run(_opt, p, g))
    jit_p, jit_s = _JITTED[name](params, grads)
    _assert_trees(jit_p, eager_p, rtol=1e-13)
    _assert_trees(jit_s, eager_s, rtol=1e-13)
    # the state keeps its structure, shapes and dtypes through updates
    init = jax.tree.map(lambda x: (x.shape, x.dtype), opt.init(params))
    assert jax.tree.map(lambda x: (x.shape, x.dtype), eager_s) == init


@pytest.mark.parametrize("name", ["sgd", "adam", "adafactor"])
@props("vmap")
@given(grads=_grads(2))
def test_vmap_equals_a_loop(name, grads):
    """vmap over three (params, gradient) problems equals running them one by one."""
    opt = getattr(optim, name)(**OPTIMIZERS[name])
    ps = [jax.tree.map(lambda x, i=i: x * (1 + i) - 0.1 * i, _params()) for i in range(3)]
    gs = [jax.tree.map(lambda a, i=i: np.roll(a, i) * (i + 1), grads[0]) for i in range(3)]
    one = lambda p, g: _run(opt, p, (g, grads[1]))
    batched = jax.vmap(one)(jax.tree.map(lambda *x: jnp.stack(x), *ps),
                            jax.tree.map(lambda *x: np.stack(x), *gs))
    for i in range(3):
        _assert_trees(jax.tree.map(lambda x, i=i: x[i], batched), one(ps[i], gs[i]), rtol=1e-13)


@pytest.mark.parametrize("name", MAXIMIZE)
@props("optim")
@given(grads=_grads(3))
def test_maximize_equals_minimizing_the_negated_loss(name, grads):
    kw = OPTIMIZERS[name]
    up = _run(getattr(optim, name)(**kw, maximize=True), _params(), grads)
    down = _run(getattr(optim, name)(**kw), _params(), [jax.tree.map(np.negative, g)
                                                        for g in grads])
    _assert_trees(up, down)  # bit for bit: maximize negates the gradient first


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
@props("optim")
@given(scale=st.floats(0.1, 3.0), steps=st.integers(1, 3))
def test_zero_gradient_leaves_params_unchanged(name, scale, steps):
    opt = getattr(optim, name)(**OPTIMIZERS[name])
    params = jax.tree.map(lambda x: x * scale, _params())
    zeros = [jax.tree.map(np.zeros_like, jax.tree.map(np.asarray, params))] * steps
    out, _ = _run(opt, params, zeros)
    # MADGRAD's momentum is an average, p*(1 - ck) + ck*z with z = p here: 1 ulp, as in torch
    _assert_trees(out, params, rtol=4e-16 if name == "madgrad" else 0.0)


@pytest.mark.parametrize("dtype", [jnp.float32, jnp.bfloat16])
@pytest.mark.parametrize("name", ["sgd", "adamw", "adafactor", "muon"])
@props("lowp")
@given(grads=_grads(2, -1.0, 1.0))
def test_low_precision_params_stay_low_precision(name, dtype, grads):
    """float32/bfloat16 params (with float64 hyperparameters under x64) keep their dtype,
    the state keeps its dtypes, and the values stay finite and move."""
    opt = getattr(optim, name)(**OPTIMIZERS[name])
    params = _params(dtype)
    out, state = _run(opt, params, grads)
    assert jax.tree.map(lambda x: x.dtype, out) == jax.tree.map(lambda x: x.dtype, params)
    init = jax.tree.map(lambda x: (x.shape, x.dtype), opt.init(params))
    assert jax.tree.map(lambda x: (x.shape, x.dtype), state) == init
    for x in jax.tree.leaves(out):
        assert np.all(np.isfinite(np.asarray(x, np.float64)))


def _extra_loss(p, scale):
    return scale * jnp.sum((p["w"] - 0.5) ** 2) + jnp.sum(jnp.cos(p["u"]) ** 2)


def _extra_run(opt, p, scale, steps=1):
    s = opt.init(p)
    for k in range(steps):
        p, s, _ = optim.step(opt, _extra_loss, p, s, scale, key=jax.random.key(k))
    return p, s


# L-BFGS runs jitted in test_nonfinite.py and tests/test_lbfgs.py (its eager while_loop
# recompiles at every call: too slow to draw examples from)
_EXTRA = {"adahessian": optim.adahessian()}


@pytest.mark.parametrize("name", sorted(_EXTRA))
@props("extra")
@given(scale=st.floats(0.1, 3.0))
def test_extra_args_optimizers_jit_equals_eager(name, scale):
    """AdaHessian through optim.step (a closure and a key): jit equals eager."""
    opt = _EXTRA[name]
    key = f"extra-{name}"
    if key not in _JITTED:
        _JITTED[key] = jax.jit(lambda p, c, _opt=opt: _extra_run(_opt, p, c))
    _assert_trees(_JITTED[key](_params(), scale), _extra_run(opt, _params(), scale), rtol=1e-12)


# ====================================================================== schedulers
def _sched_cases():
    pos = st.integers(1, 12)
    gamma = st.floats(0.3, 0.99)
    return st.one_of(
        st.tuples(st.just("StepLR"), pos, gamma).map(
            lambda a: (lambda o: tls.StepLR(o, a[1], a[2]), ls.StepLR(a[1], a[2]))),
        st.tuples(st.just("MultiStepLR"), st.lists(st.integers(1, 40), max_size=4), gamma).map(
            lambda a: (lambda o: tls.MultiStepLR(o, a[1], a[2]), ls.MultiStepLR(a[1], a[2]))),
        st.tuples(st.just("ExponentialLR"), gamma).map(
            lambda a: (lambda o: tls.ExponentialLR(o, a[1]), ls.ExponentialLR(a[1]))),
        st.tuples(st.just("ConstantLR"), st.floats(0.05, 1.0), st.integers(0, 20)).map(
            lambda a: (lambda o: tls.ConstantLR(o, a[1], a[2]), ls.ConstantLR(a[1], a[2]))),
        st.tuples(st.just("LinearLR"), st.floats(0.05, 1.0), st.floats(0.0, 1.0),
                  st.integers(0, 30)).map(
            lambda a: (lambda o: tls.LinearLR(o, a[1], a[2], a[3]),
                       ls.LinearLR(a[1], a[2], a[3]))),
        st.tuples(st.just("PolynomialLR"), st.integers(0, 40), st.floats(0.5, 3.0)).map(
            lambda a: (lambda o: tls.PolynomialLR(o, a[1], a[2]), ls.PolynomialLR(a[1], a[2]))),
        st.tuples(st.just("CosineAnnealingLR"), pos, st.floats(0.0, 0.01)).map(
            lambda a: (lambda o: tls.CosineAnnealingLR(o, a[1], a[2]),
                       ls.CosineAnnealingLR(a[1], a[2]))),
        st.tuples(st.just("WarmRestarts"), pos, st.integers(1, 3), st.floats(0.0, 0.01)).map(
            lambda a: (lambda o: tls.CosineAnnealingWarmRestarts(o, a[1], a[2], a[3]),
                       ls.CosineAnnealingWarmRestarts(a[1], a[2], a[3]))),
        st.tuples(st.just("CyclicLR"), pos, st.integers(1, 12),
                  st.sampled_from(["triangular", "triangular2", "exp_range"]), gamma).map(
            lambda a: (lambda o: tls.CyclicLR(o, 0.01, 0.2, a[1], a[2], a[3], a[4]),
                       ls.CyclicLR(0.01, 0.2, a[1], a[2], a[3], a[4]))),
        st.tuples(st.just("OneCycleLR"), st.floats(0.1, 0.9), st.sampled_from(["cos", "linear"]),
                  st.booleans(), st.floats(2.0, 30.0)).map(
            lambda a: (lambda o: tls.OneCycleLR(o, 1.0, 60, a[1], a[2], three_phase=a[3],
                                                div_factor=a[4]),
                       ls.OneCycleLR(1.0, 60, a[1], a[2], three_phase=a[3], div_factor=a[4]))),
    )


@props("sched")
@given(case=_sched_cases())
def test_schedulers_match_torch_on_random_arguments(case):
    make_torch, sched = case
    t, f, _ = run_both(make_torch, sched, steps=60)
    np.testing.assert_allclose(f, t, rtol=1e-12, atol=1e-15)


@props("sched")
@given(mode=st.sampled_from(["min", "max"]), factor=st.floats(0.1, 0.9),
       patience=st.integers(0, 4), cooldown=st.integers(0, 3),
       threshold_mode=st.sampled_from(["rel", "abs"]),
       metrics=st.lists(st.floats(0.0, 2.0), min_size=40, max_size=40))
def test_reduce_lr_on_plateau_matches_torch(mode, factor, patience, cooldown, threshold_mode,
                                            metrics):
    t, f, _ = run_both(
        lambda o: tls.ReduceLROnPlateau(o, mode, factor, patience, 1e-3, threshold_mode,
                                        cooldown, 1e-4),
        ls.ReduceLROnPlateau(mode, factor, patience, 1e-3, threshold_mode, cooldown, 1e-4),
        steps=40, metrics=metrics)
    np.testing.assert_allclose(f, t, rtol=1e-12, atol=1e-15)


# ====================================================================== layer shapes
def _both(fnn_call, torch_call, *shapes):
    """(fnn shape or 'error', torch shape or 'error'): fnn through jax.eval_shape on
    ``shapes`` (nothing is computed or compiled), torch on small CPU tensors (its meta
    kernels skip some argument checks, such as the output_padding rule)."""
    try:
        t = tuple(torch_call().shape)
    except (RuntimeError, ValueError):
        t = "error"
    try:
        f = tuple(jax.eval_shape(fnn_call, *(_s(s) for s in shapes)).shape)
    except ValueError:
        f = "error"
    return f, t


def _s(shape):
    return jax.ShapeDtypeStruct(shape, jnp.float32)


def _meta(shape):
    return torch.zeros(shape)


@st.composite
def conv_args(draw, n, transposed=False):
    groups = draw(st.sampled_from([1, 2]))
    cin, cout = groups * draw(st.integers(1, 3)), groups * draw(st.integers(1, 3))
    k = tuple(draw(st.integers(1, 4)) for _ in range(n))
    s = tuple(draw(st.integers(1, 3)) for _ in range(n))
    d = tuple(draw(st.integers(1, 3)) for _ in range(n))
    p = tuple(draw(st.integers(0, 3)) for _ in range(n))
    size = tuple(draw(st.integers(1, 12)) for _ in range(n))
    batch = draw(st.sampled_from([(), (2,)]))
    op = tuple(draw(st.integers(0, 2)) for _ in range(n)) if transposed else None
    return groups, cin, cout, k, s, d, p, size, batch, op


@pytest.mark.filterwarnings("ignore:Using padding='same'")
@pytest.mark.parametrize("n", [1, 2, 3])
@props("shape")
@given(data=st.data())
def test_conv_output_shapes_match_torch(n, data):
    groups, cin, cout, k, s, d, p, size, batch, _ = data.draw(conv_args(n))
    padding = data.draw(st.sampled_from([p, "valid", "same"]))
    x, w = batch + (cin,) + size, (cout, cin // groups) + k
    f, t = _both(lambda a, b: getattr(F, f"conv{n}d")(a, b, None, s, padding, d, groups),
                 lambda: getattr(torch.nn.functional, f"conv{n}d")(_meta(x), _meta(w), None, s,
                                                                   padding, d, groups), x, w)
    assert f == t, (x, w, s, padding, d, groups)


@pytest.mark.parametrize("n", [1, 2])
@props("shape")
@given(data=st.data())
def test_conv_transpose_output_shapes_match_torch(n, data):
    groups, cin, cout, k, s, d, p, size, batch, op = data.draw(conv_args(n, transposed=True))
    x, w = batch + (cin,) + size, (cin, cout // groups) + k
    f, t = _both(lambda a, b: getattr(F, f"conv_transpose{n}d")(a, b, None, s, p, op, groups, d),
                 lambda: getattr(torch.nn.functional, f"conv_transpose{n}d")(
                     _meta(x), _meta(w), None, s, p, op, groups, d), x, w)
    if f == "error" and t != "error" and 0 in t:
        return  # torch returns an empty output here; fnn refuses a zero-length output
    assert f == t, (x, w, s, p, op, groups, d)


@pytest.mark.parametrize("kind,n", [("max", 1), ("max", 2), ("avg", 1), ("avg", 2)])
@props("shape")
@given(data=st.data())
def test_pool_output_shapes_match_torch(kind, n, data):
    k = tuple(data.draw(st.integers(1, 4)) for _ in range(n))
    s = data.draw(st.one_of(st.none(), st.tuples(*[st.integers(1, 3)] * n)))
    p = tuple(data.draw(st.integers(0, 2)) for _ in range(n))
    d = tuple(data.draw(st.integers(1, 3)) for _ in range(n)) if kind == "max" else None
    ceil = data.draw(st.booleans())
    x = data.draw(st.sampled_from([(), (2,)])) + (3,) + tuple(
        data.draw(st.integers(1, 10)) for _ in range(n))
    # torch 2.13 requires padding <= kernel_size // 2 whatever the dilation (fnn raises its
    # message too: test_max_pool_padding_limit_ignores_dilation_as_torch)
    assume(kind == "avg" or all(pp <= kk // 2 for pp, kk in zip(p, k)))
    if kind == "max":
        f, t = _both(lambda a: getattr(F, f"max_pool{n}d")(a, k, s, p, d, ceil),
                     lambda: getattr(torch.nn.functional, f"max_pool{n}d")(
                         torch.zeros(x), k, s, p, d, ceil), x)
    else:
        f, t = _both(lambda a: getattr(F, f"avg_pool{n}d")(a, k, s, p, ceil),
                     lambda: getattr(torch.nn.functional, f"avg_pool{n}d")(
                         torch.zeros(x), k, s, p, ceil), x)
    assert f == t, (x, k, s, p, d, ceil)


def test_max_pool_padding_limit_ignores_dilation_as_torch():
    """torch 2.13 bounds a max pool's padding by ``kernel_size // 2`` whatever the dilation
    (besides half the dilated kernel): fnn raises torch's message, functional and layer."""
    with pytest.raises(RuntimeError) as expected:
        torch.nn.functional.max_pool2d(torch.zeros(1, 1, 9, 9), 3, None, 2, 2)
    with pytest.raises(ValueError) as got:
        F.max_pool2d(jnp.zeros((1, 1, 9, 9)), 3, None, 2, 2)
    assert str(got.value) == f"max_pool2d: {expected.value}"
    with pytest.raises(ValueError, match=re.escape(str(expected.value))):
        nn.MaxPool2d(3, None, 2, 2)
    with pytest.raises(RuntimeError) as expected:
        torch.nn.functional.max_pool1d(torch.zeros(1, 1, 12), 3, None, 2, 2)
    with pytest.raises(ValueError) as got:
        F.max_pool1d(jnp.zeros((1, 1, 12)), 3, None, 2, 2)
    assert str(got.value) == f"max_pool1d: {expected.value}"
