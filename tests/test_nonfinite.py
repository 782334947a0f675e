"""fnn.optim.nonfinite_guard: NaN/Inf steps are skipped and counted, or raise, with every
optimizer, eagerly and under jit/vmap; fnn.train keeps params, optimizer state and buffers."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from helpers import assert_trees_equal

from fnn import checkpoint, losses, nn, optim, train
from fnn.optim import lr_scheduler as ls

# 2-D parameters only: Muon orthogonalises matrices
P = {"w": jnp.linspace(-1.0, 1.0, 12).reshape(4, 3), "v": jnp.full((2, 3), 0.5)}

FACTORIES = {
    "sgd": dict(lr=0.1, momentum=0.9), "adam": {}, "adamw": {}, "adamax": {}, "nadam": {},
    "radam": {}, "adagrad": {}, "adadelta": {}, "rmsprop": {}, "rprop": {}, "asgd": {},
    "adafactor": {}, "muon": {}, "sparse_adam": {}, "lbfgs": dict(max_iter=3),
    "adabelief": {}, "adabound": {}, "adahessian": {}, "madgrad": {}, "qhadam": {},
    "swats": {}, "yogi": {},
}


def loss_fn(p, scale):
    """A smooth loss whose value and gradients are NaN/Inf when ``scale`` is."""
    return scale * (jnp.sum((p["w"] - 0.3) ** 2) + jnp.sum(jnp.sin(p["v"]) ** 2))



def _close(a, b):
    """Equal up to the last bits (the guarded step is fused differently by XLA)."""
    la, ta = jax.tree.flatten(a)
    lb, tb = jax.tree.flatten(b)
    assert ta == tb
    for x, y in zip(la, lb):
        assert x.dtype == y.dtype
        if jnp.issubdtype(x.dtype, jnp.inexact):
            np.testing.assert_allclose(np.asarray(x), np.asarray(y), rtol=1e-12, atol=1e-300)
        else:
            np.testing.assert_array_equal(np.asarray(x), np.asarray(y))


@pytest.mark.parametrize("name", sorted(FACTORIES))
def test_skip_with_every_optimizer(name):
    """Under jit: finite steps equal the unguarded optimizer's (to the last bits); a NaN
    step changes nothing, bit for bit (params, inner state, its step count) and is counted.
    (Inf: see the other tests.)"""
    base = getattr(optim, name)(**FACTORIES[name])
    opt = optim.nonfinite_guard(base)

    @jax.jit
    def run(key):
        keys = jax.random.split(key, 3)
        s0 = base.init(P)
        p1, s1, _ = optim.step(base, loss_fn, P, s0, 1.0, key=keys[0])
        p2, s2, _ = optim.step(base, loss_fn, p1, s1, 1.0, key=keys[2])
        g0 = opt.init(P)
        q1, g1, _ = optim.step(opt, loss_fn, P, g0, 1.0, key=keys[0])
        q_nan, g_nan, l_nan = optim.step(opt, loss_fn, q1, g1, jnp.nan, key=keys[1])
        q2, g2, _ = optim.step(opt, loss_fn, q_nan, g_nan, 1.0, key=keys[2])
        return (p1, s1, p2, s2), (q1, g1, q_nan, g_nan, l_nan, q2, g2)

    (p1, s1, p2, s2), (q1, g1, q_nan, g_nan, l_nan, q2, g2) = run(jax.random.key(0))
    _close(q1, p1)
    _close(g1.inner, s1)
    assert np.isnan(l_nan)
    assert_trees_equal(q_nan, q1)
    assert_trees_equal(g_nan.inner, g1.inner)
    assert optim.nonfinite_stats(g_nan) == {"skipped": 1, "consecutive": 1, "last_finite": False}
    _close(q2, p2)  # the skipped step left no trace
    _close(g2.inner, s2)
    assert optim.nonfinite_stats(g2) == {"skipped": 1, "consecutive": 0, "last_finite": True}
    assert not np.allclose(np.asarray(p2["w"]), np.asarray(P["w"]))  # it does train


def test_loss_and_update_are_checked_too():
    g = jax.tree.map(jnp.ones_like, P)
    opt = optim.nonfinite_guard(optim.sgd(0.1))
    # a non-finite loss with finite gradients (cross_entropy with every target ignored)
    upd, st = opt.update(g, opt.init(P), P, value=jnp.nan)
    assert_trees_equal(upd, jax.tree.map(jnp.zeros_like, P))
    assert optim.nonfinite_stats(st)["skipped"] == 1
    # finite gradients, non-finite update (an infinite lr here; L-BFGS's line search or an
    # overflow in the optimizer's arithmetic in practice)
    opt = optim.nonfinite_guard(optim.sgd(float("inf")), "raise")
    with pytest.raises(FloatingPointError, match="the optimizer's update"):
        opt.update(g, opt.init(P), P)
    # optax.apply_if_finite checks only the gradients: it applies this update
    leaky = optax.apply_if_finite(optim.sgd(float("inf")), 3)
    upd, _ = leaky.update(g, leaky.init(P), P)
    assert not np.all(np.isfinite(np.asarray(upd["w"])))


def test_raise_eagerly_names_the_parameters_and_keeps_the_state():
    opt = optim.nonfinite_guard(optim.adam(0.1), "raise")
    state = opt.init(P)
    grads = {"w": jnp.ones((4, 3)).at[1, 2].set(jnp.inf), "v": jnp.ones((2, 3))}
    with pytest.raises(FloatingPointError, match=r"NaN/Inf in the gradients of w; the step was "
                                                 "not applied"):
        opt.update(grads, state, P)
    with pytest.raises(FloatingPointError, match="NaN/Inf in the loss"):
        optim.step(opt, loss_fn, P, state, jnp.nan)
    params, state2, _ = optim.step(opt, loss_fn, P, state, 1.0)  # the state is still usable
    assert optim.nonfinite_stats(state2)["skipped"] == 0


def test_raise_under_jit_and_scan():
    opt = optim.nonfinite_guard(optim.adam(0.1), "raise")

    @jax.jit
    def run(params, state, scales):
        def body(carry, s):
            p, st, _ = optim.step(opt, loss_fn, *carry, s)
            return (p, st), None

        return jax.lax.scan(body, (params, state), scales)[0]

    p, st = run(P, opt.init(P), jnp.ones(3))
    assert optim.nonfinite_stats(st)["skipped"] == 0
    with pytest.raises(RuntimeError, match=r"FloatingPointError: fnn.optim.nonfinite_guard\("
                                           r"policy='raise'\): NaN/Inf in the loss and the "
                                           r"gradients of v, w"):
        jax.block_until_ready(run(P, opt.init(P), jnp.array([1.0, jnp.nan, 1.0])))


def test_max_consecutive_skips_then_raises():
    opt = optim.nonfinite_guard(optim.sgd(0.1), max_consecutive=2)
    state = opt.init(P)
    for _ in range(2):
        _, state, _ = optim.step(opt, loss_fn, P, state, jnp.nan)
    with pytest.raises(FloatingPointError, match="3 consecutive non-finite steps"):
        optim.step(opt, loss_fn, P, state, jnp.nan)
    _, ok_state, _ = optim.step(opt, loss_fn, P, state, 1.0)  # a finite step resets the run
    assert optim.nonfinite_stats(ok_state) == {"skipped": 2, "consecutive": 0,
                                               "last_finite": True}
    step = jax.jit(lambda p, s, x: optim.step(opt, loss_fn, p, s, x))
    _, s1, _ = step(P, opt.init(P), jnp.nan)
    assert optim.nonfinite_stats(s1)["consecutive"] == 1
    with pytest.raises(RuntimeError, match="3 consecutive non-finite steps"):
        jax.block_until_ready(step(P, state, jnp.nan))  # the third skip in a row, under jit
    # optax's apply_if_finite gives up instead and applies the NaN step
    leaky = optax.apply_if_finite(optim.sgd(0.1), 2)
    lstate = leaky.init(P)
    params = P
    for _ in range(3):
        params, lstate, _ = optim.step(leaky, loss_fn, params, lstate, jnp.nan)
    assert np.isnan(np.asarray(params["w"])).all()


def test_error_flag_on_the_host():
    opt = optim.nonfinite_guard(optim.adam(0.1))
    step = jax.jit(lambda p, s, x: optim.step(opt, loss_fn, p, s, x))
    p, s, _ = step(P, opt.init(P), 1.0)
    optim.check_finite(s)
    p, s, _ = step(p, s, jnp.inf)
    with pytest.raises(FloatingPointError, match=r"skipped \(1 in a row, 1 in total\)"):
        optim.check_finite(s)
    with pytest.raises(ValueError, match="no nonfinite_guard state"):
        optim.nonfinite_stats(optim.adam().init(P))
    with pytest.raises(TypeError, match="made by the unwrapped optimizer"):
        opt.update(P, optim.adam().init(P), P)
    with pytest.raises(ValueError, match="policy"):
        optim.nonfinite_guard(optim.adam(), policy="warn")
    with pytest.raises(ValueError, match="max_consecutive"):
        optim.nonfinite_guard(optim.adam(), "raise", max_consecutive=3)
    with pytest.raises(TypeError, match="GradientTransformation"):
        optim.nonfinite_guard("adam")


def test_vmap_skips_per_example():
    opt = optim.nonfinite_guard(optim.adam(0.1))
    scales = jnp.array([1.0, jnp.nan, 2.0, jnp.inf])
    run = jax.jit(jax.vmap(lambda s: optim.step(opt, loss_fn, P, opt.init(P), s)[:2]))
    params, states = run(scales)
    stats = optim.nonfinite_stats(states)
    np.testing.assert_array_equal(stats["skipped"], [0, 1, 0, 1])
    np.testing.assert_array_equal(np.asarray(params["w"][1]), np.asarray(P["w"]))
    assert not np.array_equal(np.asarray(params["w"][0]), np.asarray(P["w"]))


@pytest.mark.parametrize("dtype", [jnp.float32, jnp.bfloat16, jnp.float16])
def test_low_precision_params(dtype):
    params = jax.tree.map(lambda x: x.astype(dtype), P)
    opt = optim.nonfinite_guard(optim.adamw(0.01))
    state = opt.init(params)
    step = jax.jit(lambda p, s, x: optim.step(opt, lambda q: loss_fn(q, x), p, s))
    p1, s1, _ = step(params, state, 1.0)
    p2, s2, _ = step(p1, s1, jnp.inf)
    assert jax.tree.map(lambda x: x.dtype, p2) == jax.tree.map(lambda x: x.dtype, params)
    assert_trees_equal(p2, p1)
    assert_trees_equal(s2.inner, s1.inner)
    # a float16 overflow in the loss (65504 is float16's max; the gradients stay finite)
    big = jax.tree.map(lambda x: jnp.full_like(x, 300.0), params)
    _, s3, loss = step(big, s1, 1.0)
    overflow = dtype == jnp.float16
    assert np.isinf(float(loss)) == overflow
    assert optim.nonfinite_stats(s3)["skipped"] == int(overflow)


def test_composes_with_optax_hyperparams_and_schedulers():
    opt = optim.nonfinite_guard(optax.chain(optax.clip_by_global_norm(1.0),
                                            optim.sgd(0.1, momentum=0.9)))
    state = opt.init(P)
    assert optim.get_lr(state) == [0.1]
    state = optim.set_lr(state, 0.05)
    sched_state, state = ls.StepLR(1, gamma=0.5).init(state)
    sched_state, state = ls.StepLR(1, gamma=0.5).step(sched_state, state)
    assert float(optim.get_lr(state)[0]) == 0.025
    _, state, _ = optim.step(opt, loss_fn, P, state, jnp.nan)
    assert optim.nonfinite_stats(state)["skipped"] == 1
    assert float(optim.get_lr(state)[0]) == 0.025
    plain = optim.nonfinite_guard(optax.adam(1e-3))  # a plain GradientTransformation
    _, st, _ = optim.step(plain, loss_fn, P, plain.init(P), jnp.inf)
    assert optim.nonfinite_stats(st)["skipped"] == 1


class _Net(nn.Module):
    def __init__(self):
        self.fc = nn.Linear(3, 4)
        self.bn = nn.BatchNorm1d(4)
        self.out = nn.Linear(4, 2)

    def forward(self, params, x):
        return self.out(params["out"], self.bn(params["bn"], self.fc(params["fc"], x)))


def test_train_step_skips_params_state_and_buffers(tmp_path):
    model = _Net()
    opt = optim.nonfinite_guard(optim.adam(0.01))
    state = train.init_state(model.init(jax.random.key(0)), opt, buffers=model.init_buffers(),
                             key=jax.random.key(1))
    step = train.make_train_step(model, opt, losses.cross_entropy, donate=False)
    x = jax.random.normal(jax.random.key(2), (8, 3))
    y = jnp.arange(8) % 2
    s1, _ = step(state, (x, y))
    s2, loss = step(s1, (x.at[3, 1].set(jnp.nan), y))
    assert np.isnan(loss)
    assert_trees_equal(s2.params, s1.params)
    assert_trees_equal(s2.opt_state, s1.opt_state._replace(skipped=s2.opt_state.skipped,
                                              consecutive=s2.opt_state.consecutive,
                                              last_finite=s2.opt_state.last_finite))
    assert_trees_equal(s2.buffers, s1.buffers)  # BatchNorm's running statistics did not take the NaN
    assert int(s2.step) == 2 and optim.nonfinite_stats(s2.opt_state)["skipped"] == 1
    s3, _ = step(s2, (x, y))
    assert optim.nonfinite_stats(s3.opt_state)["last_finite"]
    # the guard's counters are checkpointed with the rest of the state
    checkpoint.save(tmp_path / "ck", **s3._asdict())
    ck = checkpoint.load(tmp_path / "ck", like=s3)
    assert optim.nonfinite_stats(ck.opt_state) == optim.nonfinite_stats(s3.opt_state)


def test_fit_reports_skipped_steps():
    model = nn.Sequential(nn.Linear(3, 2))
    opt = optim.nonfinite_guard(optim.sgd(0.1))
    x = jax.random.normal(jax.random.key(0), (16, 3)).at[5, 0].set(jnp.inf)
    y = jnp.arange(16) % 2
    state = train.init_state(model.init(jax.random.key(1)), opt)
    state, hist = train.fit(model, opt, state, (x, y), epochs=2, batch_size=16,
                            loss=losses.cross_entropy, progress=False)
    assert hist["skipped_steps"] == [1, 2]
    assert np.all(np.isfinite(np.asarray(state.params["0"]["weight"])))
