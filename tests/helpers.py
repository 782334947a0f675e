"""Reference problems and runners shared by the parity tests.

The torch posts' regression MLP (``Linear(3, 32) - ReLU - Linear(32, 1)``, 100x3 data,
``mse_loss(reduction="sum")``) is the standard problem: :func:`mlp_problem` gives its data
and initial weights as numpy arrays named as torch's ``state_dict``; :func:`run_torch` and
:func:`run_fnn` train it with a torch optimizer and an fnn optimizer and return the
trajectories (parameters and loss after every step) for comparison.
"""

from __future__ import annotations

from collections.abc import Callable

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


def run_torch(make_opt: Callable[[list], torch.optim.Optimizer], params: dict, x, y, steps: int,
              dtype=torch.float64, param_groups: Callable | None = None, before_step=None):
    """Train the torch MLP; return ([flat params after each step], [loss before each step], opt).

    ``make_opt(net)`` builds the optimizer from the torch module (so it can form groups).
    ``before_step(opt, i)`` may edit ``opt.param_groups`` before step ``i``.
    """
    net = torch_mlp(params, dtype)
    opt = make_opt(net)
    xt, yt = torch.tensor(x), torch.tensor(y)
    traj, losses = [], []
    for i in range(steps):
        if before_step is not None:
            before_step(opt, i)
        opt.zero_grad()
        loss = torch.nn.functional.mse_loss(net(xt), yt, reduction="sum")
        loss.backward()
        opt.step()
        losses.append(loss.item())
        traj.append({k: v.detach().numpy().copy() for k, v in net.state_dict().items()})
    return traj, losses, opt


def run_fnn(opt, params: dict, x, y, steps: int, loss_fn=fnn_mlp_loss, before_step=None):
    """Train with an fnn optimizer under jit; same outputs as :func:`run_torch`.
    ``before_step(state, i)`` may edit the state between steps (as a torch user edits
    ``opt.param_groups``). With ``x`` and ``y`` None, ``loss_fn`` takes the params alone."""
    p = _tree.unflatten({k: jnp.asarray(v) for k, v in params.items()})
    state = opt.init(p)
    args = () if x is None else (jnp.asarray(x), jnp.asarray(y))

    @jax.jit
    def step(p, state):
        loss, g = jax.value_and_grad(loss_fn)(p, *args)
        updates, state = opt.update(g, state, p)
        return optim.apply_updates(p, updates), state, loss

    traj, losses = [], []
    for i in range(steps):
        if before_step is not None:
            state = before_step(state, i)
        p, state, loss = step(p, state)
        losses.append(float(loss))
        traj.append({k: np.asarray(v) for k, v in _tree.flatten(p).items()})
    return traj, losses, state


def assert_trajectories_close(traj_a, traj_b, rtol=1e-10, atol=0.0, what=""):
    assert len(traj_a) == len(traj_b)
    for i, (a, b) in enumerate(zip(traj_a, traj_b)):
        assert a.keys() == b.keys(), (a.keys(), b.keys())
        for k in a:
            np.testing.assert_allclose(a[k], b[k], rtol=rtol, atol=atol,
                                       err_msg=f"{what} step {i + 1}, {k}")


__all__ = ["mlp_problem", "torch_mlp", "fnn_mlp_loss", "run_torch", "run_fnn",
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
