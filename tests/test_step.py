"""optim.step: torch's optimizer.step(closure) for every optimizer, jitted whole."""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
import torch
from helpers import fnn_mlp_loss, mlp, mlp_problem, run_torch

from fnn import _tree, optim

X, Y, P0 = mlp_problem()
MLP = mlp()
XJ, YJ = jnp.asarray(X), jnp.asarray(Y)


def _params():
    return _tree.unflatten({k: jnp.asarray(v) for k, v in P0.items()})


def _run(opt, steps=5, has_aux=False):
    loss_fn = fnn_mlp_loss
    if has_aux:
        def loss_fn(p, x, y):
            loss = fnn_mlp_loss(p, x, y)
            return loss, {"twice": 2 * loss}
    step = jax.jit(partial(optim.step, opt, loss_fn, has_aux=has_aux))
    p, state = _params(), opt.init(_params())
    traj, losses = [], []
    for _ in range(steps):
        p, state, out = step(p, state, XJ, YJ)
        if has_aux:
            out, aux = out
            np.testing.assert_allclose(aux["twice"], 2 * out, rtol=1e-15)
        losses.append(float(out))
        traj.append({k: np.asarray(v) for k, v in _tree.flatten(p).items()})
    return traj, losses


@pytest.mark.parametrize("make,make_t", [
    (lambda: optim.sgd(lr=1e-3, momentum=0.9), lambda n: torch.optim.SGD(n.values(), lr=1e-3, momentum=0.9)),
    (lambda: optim.adam(lr=0.01), lambda n: torch.optim.Adam(n.values(), lr=0.01)),
])
@pytest.mark.parametrize("has_aux", [False, True])
def test_first_order_matches_torch(make, make_t, has_aux):
    ref, ref_losses, *_ = run_torch(make_t, MLP, 5)
    traj, losses = _run(make(), has_aux=has_aux)
    np.testing.assert_allclose(losses, ref_losses, rtol=1e-12)
    for a, b in zip(traj, ref):
        for k in a:
            np.testing.assert_allclose(a[k], b[k], rtol=1e-10, err_msg=k)


def test_optax_and_chain_with_clip():
    # a plain optax transformation (no extras) and a chain with an fnn optimizer
    t1, l1 = _run(optax.sgd(1e-3), 3)
    t2, l2 = _run(optim.sgd(lr=1e-3), 3)
    np.testing.assert_allclose(l1, l2, rtol=1e-12)
    ref, ref_losses, *_ = run_torch(
        lambda n: torch.optim.Adam(n.values(), lr=0.01), MLP, 1)
    t3, l3 = _run(optax.chain(optax.clip_by_global_norm(1e9), optim.adam(lr=0.01)), 1)
    np.testing.assert_allclose(t3[0]["0.weight"], ref[0]["0.weight"], rtol=1e-10)


def test_lbfgs_through_step_returns_first_loss():
    opt = optim.lbfgs(max_iter=5)
    p, state = _params(), opt.init(_params())
    p1, state, loss = jax.jit(partial(optim.step, opt, fnn_mlp_loss))(p, state, XJ, YJ)
    assert float(loss) == pytest.approx(float(fnn_mlp_loss(p, XJ, YJ)), rel=1e-15)
    assert float(fnn_mlp_loss(p1, XJ, YJ)) < float(loss)
    assert int(state.func_evals) == 5


def test_non_scalar_loss_raises():
    with pytest.raises(ValueError, match=r"optim.step: the loss function must return a scalar"):
        optim.step(optim.sgd(), lambda p: p["x"] * 2, {"x": jnp.ones(3)},
                   optim.sgd().init({"x": jnp.ones(3)}))
