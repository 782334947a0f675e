"""Reference problems and runners shared by the parity tests.

The torch posts' regression MLP (``Linear(3, 32) - ReLU - Linear(32, 1)``, 100x3 data,
``mse_loss(reduction="sum")``) is the standard problem: :func:`mlp_problem` gives its data
and initial weights as numpy arrays named as torch's ``state_dict``; :func:`run_torch` and
:func:`run_fnn` train it with a torch optimizer and an fnn optimizer and return the
trajectories (parameters and loss after every step) for comparison.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import torch

import fnn
from fnn import _tree, optim


def mlp_problem(dtype=np.float64, seed: int = 0, n: int = 100):
    """(x, y, params) for the posts' network, params as ``{"0.weight": ..., ...}``."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 3)).astype(dtype)
    y = (x @ np.array([[1.5], [-2.0], [0.7]]) + 0.3 * np.sin(3 * x[:, :1])).astype(dtype)
    b1, b2 = 1 / np.sqrt(3), 1 / np.sqrt(32)
    params = {
        "0.weight": rng.uniform(-b1, b1, (32, 3)).astype(dtype),
        "0.bias": rng.uniform(-b1, b1, (32,)).astype(dtype),
        "2.weight": rng.uniform(-b2, b2, (1, 32)).astype(dtype),
        "2.bias": rng.uniform(-b2, b2, (1,)).astype(dtype),
    }
    return x, y, params





def torch_mlp(params: dict, dtype=torch.float64) -> torch.nn.Module:
    net = torch.nn.Sequential(torch.nn.Linear(3, 32), torch.nn.ReLU(), torch.nn.Linear(32, 1)).to(dtype)
    net.load_state_dict({k: torch.tensor(v) for k, v in params.items()})
    return net


def fnn_mlp_loss(params, x, y):
    h = jnp.maximum(x @ params["0"]["weight"].T + params["0"]["bias"], 0)
    out = h @ params["2"]["weight"].T + params["2"]["bias"]
    return jnp.sum((out - y) ** 2)


class Problem(NamedTuple):
    """A loss written twice (jax and torch) with its initial parameters."""

    name: str
    params: dict          # numpy, torch state_dict names ("0.weight")
    loss: Any             # jax: loss(nested_params) -> scalar
    torch_loss: Any       # torch: torch_loss(named_tensors: dict) -> scalar


def mlp(dtype=np.float64) -> Problem:
    """The posts' MLP regression (:func:`mlp_problem`) as a :class:`Problem`."""
    x, y, p0 = mlp_problem(dtype)

    def loss(p):
        dt = p["0"]["weight"].dtype
        return fnn_mlp_loss(p, jnp.asarray(x, dt), jnp.asarray(y, dt))

    def torch_loss(t):
        xt, yt = (torch.tensor(x, dtype=t["0.weight"].dtype),
                  torch.tensor(y, dtype=t["0.weight"].dtype))
        h = torch.relu(xt @ t["0.weight"].T + t["0.bias"])
        return ((h @ t["2.weight"].T + t["2.bias"] - yt) ** 2).sum()

    return Problem("mlp", p0, loss, torch_loss)


def run_torch(make_opt: Callable[[dict], torch.optim.Optimizer], prob: Problem, steps: int, *,
              dtype=torch.float64, before_step=None, sign: int = 1, sparse_grads: bool = False):
    """Train ``prob`` with a torch optimizer, one ``opt.step(closure)`` per step.

    ``make_opt(named)`` builds the optimizer from the ``{name: tensor}`` parameters (so it
    can form groups). ``before_step(opt, i)`` may edit ``opt.param_groups`` (or step a
    scheduler) before step ``i``. ``sign=-1`` trains on the negated loss (for
    ``maximize=True``); ``sparse_grads`` hands SparseAdam sparse gradients.
    Returns ``([flat params after each step], [loss of each step], opt, named)``.
    """
    named = {k: torch.tensor(v, dtype=dtype, requires_grad=True) for k, v in prob.params.items()}
    opt = make_opt(named)

    def closure():
        opt.zero_grad()
        loss = sign * prob.torch_loss(named)
        loss.backward()
        if sparse_grads:
            for t in named.values():
                t.grad = t.grad.to_sparse()
        return loss

    traj, losses = [], []
    for i in range(steps):
        if before_step is not None:
            before_step(opt, i)
        losses.append(opt.step(closure).item())
        traj.append({k: v.detach().numpy().copy() for k, v in named.items()})
    return traj, losses, opt, named


_COMPILED: dict = {}


def run_fnn(opt, prob: Problem, steps: int, *, dtype=np.float64, before_step=None,
            sign: int = 1, scan_key: Any = None):
    """Train ``prob`` with an fnn optimizer through :func:`fnn.optim.step`; the same
    trajectory and losses as :func:`run_torch`, and the final optimizer state.

    One jitted step per iteration (``before_step(state, i)`` may edit the state in
    between, as a torch user edits ``opt.param_groups``), or, with ``scan_key``, all the
    steps in one jitted ``lax.scan`` compiled once per ``scan_key`` (cases whose options
    differ only in numeric hyperparameters share it: those live in the optimizer state).
    """
    p = _tree.unflatten({k: jnp.asarray(v, dtype) for k, v in prob.params.items()})
    state = opt.init(p)

    def one(p, state):
        return optim.step(opt, lambda q: sign * prob.loss(q), p, state)

    if scan_key is not None:
        assert before_step is None
        fn = _COMPILED.get((scan_key, prob.name, np.dtype(dtype).name, steps))
        if fn is None:
            def scan(p, state):
                def body(carry, _):
                    p, s, loss = one(*carry)
                    return (p, s), (p, loss)
                return jax.lax.scan(body, (p, state), None, length=steps)
            fn = _COMPILED[(scan_key, prob.name, np.dtype(dtype).name, steps)] = jax.jit(scan)
        (_, state), (traj, losses) = fn(p, state)
        flat = _tree.flatten(jax.tree_util.tree_map(np.asarray, traj))
        return [{k: v[i] for k, v in flat.items()} for i in range(steps)], np.asarray(losses), state
    step = jax.jit(one)
    traj, losses = [], []
    for i in range(steps):
        if before_step is not None:
            state = before_step(state, i)
        p, state, loss = step(p, state)
        losses.append(float(loss))
        traj.append({k: np.asarray(v) for k, v in _tree.flatten(p).items()})
    return traj, losses, state


def assert_trajectories_close(traj_a, traj_b, rtol=1e-10, atol=0.0, what=""):
    """Two trajectories (lists of ``{name: array}`` after each step) agree, step by step."""
    assert len(traj_a) == len(traj_b)
    for i, (a, b) in enumerate(zip(traj_a, traj_b)):
        assert a.keys() == b.keys(), (a.keys(), b.keys())
        for k in a:
            np.testing.assert_allclose(a[k], b[k], rtol=rtol, atol=atol,
                                       err_msg=f"{what} step {i + 1}, {k}")


__all__ = ["mlp_problem", "mlp", "Problem", "torch_mlp", "fnn_mlp_loss", "run_torch", "run_fnn",
           "assert_trajectories_close", "fnn"]


def assert_trees_equal(a, b) -> None:
    """Two pytrees with the same structure, dtypes, shapes and bits (PRNG keys by their data)."""
    la, ta = jax.tree.flatten(a)
    lb, tb = jax.tree.flatten(b)
    assert ta == tb
    for x, y in zip(la, lb):
        if jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key):
            x, y = jax.random.key_data(x), jax.random.key_data(y)
        assert x.dtype == y.dtype and x.shape == y.shape
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))


class FleuretNet(torch.nn.Module):
    """Fleuret's CNN (the lecture's Net) in torch: the reference for ``examples/cnn.py``."""

    def __init__(self):
        super().__init__()
        self.conv1 = torch.nn.Conv2d(1, 32, kernel_size=5)
        self.conv2 = torch.nn.Conv2d(32, 64, kernel_size=5)
        self.fc1 = torch.nn.Linear(256, 200)
        self.fc2 = torch.nn.Linear(200, 10)

    def forward(self, x):
        F = torch.nn.functional
        x = F.relu(F.max_pool2d(self.conv1(x), kernel_size=3))
        x = F.relu(F.max_pool2d(self.conv2(x), kernel_size=2))
        x = F.relu(self.fc1(x.reshape(x.shape[0], -1)))
        return self.fc2(x)
