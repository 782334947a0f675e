"""The optimizer parity matrix: problems, cases and runners shared by the optim tests.

Each case is ``(fnn factory name, kwargs, lr)``; torch gets the same keyword arguments
(fnn's arguments are torch's). A problem is a loss written twice (jax and torch) with its
initial parameters named as torch's ``state_dict``.
"""

from __future__ import annotations

import functools
import importlib
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import torch
from helpers import fnn_mlp_loss, mlp_problem

from fnn import _tree, optim

TORCH = {
    "sgd": torch.optim.SGD, "adam": torch.optim.Adam, "adamw": torch.optim.AdamW,
    "adamax": torch.optim.Adamax, "nadam": torch.optim.NAdam, "radam": torch.optim.RAdam,
    "adagrad": torch.optim.Adagrad, "adadelta": torch.optim.Adadelta,
    "rmsprop": torch.optim.RMSprop, "rprop": torch.optim.Rprop, "asgd": torch.optim.ASGD,
    "adafactor": torch.optim.Adafactor, "muon": torch.optim.Muon,
    "sparse_adam": torch.optim.SparseAdam,
}

# every optimizer x every option, singly and in combination (lr is chosen per optimizer)
CASES: list[tuple[str, dict]] = [
    ("sgd", dict(lr=3e-4)),
    ("sgd", dict(lr=3e-4, momentum=0.9)),
    ("sgd", dict(lr=3e-4, momentum=0.9, dampening=0.3)),
    ("sgd", dict(lr=3e-4, momentum=0.9, nesterov=True)),
    ("sgd", dict(lr=3e-4, weight_decay=0.1)),
    ("sgd", dict(lr=3e-4, maximize=True)),
    ("sgd", dict(lr=3e-4, momentum=0.8, dampening=0.1, weight_decay=0.05, maximize=True)),
    ("sgd", dict(lr=3e-4, momentum=0.9, nesterov=True, weight_decay=0.05)),
    ("adam", dict(lr=1e-2)),
    ("adam", dict(lr=1e-2, betas=(0.8, 0.99), eps=1e-6)),
    ("adam", dict(lr=1e-2, amsgrad=True)),
    ("adam", dict(lr=1e-2, weight_decay=0.1)),
    ("adam", dict(lr=1e-2, weight_decay=0.1, decoupled_weight_decay=True)),
    ("adam", dict(lr=1e-2, maximize=True)),
    ("adam", dict(lr=1e-2, amsgrad=True, weight_decay=0.1, maximize=True)),
    ("adam", dict(lr=1e-2, amsgrad=True, weight_decay=0.1, decoupled_weight_decay=True)),
    ("adamw", dict(lr=1e-2)),
    ("adamw", dict(lr=1e-2, amsgrad=True)),
    ("adamw", dict(lr=1e-2, weight_decay=0.3, maximize=True)),
    ("adamw", dict(lr=1e-2, betas=(0.8, 0.99), weight_decay=0.1, amsgrad=True, maximize=True)),
    ("adamax", dict(lr=1e-2)),
    ("adamax", dict(lr=1e-2, betas=(0.8, 0.99), eps=1e-6)),
    ("adamax", dict(lr=1e-2, weight_decay=0.1)),
    ("adamax", dict(lr=1e-2, weight_decay=0.1, maximize=True)),
    ("nadam", dict(lr=1e-2)),
    ("nadam", dict(lr=1e-2, momentum_decay=0.02)),
    ("nadam", dict(lr=1e-2, weight_decay=0.1)),
    ("nadam", dict(lr=1e-2, weight_decay=0.1, decoupled_weight_decay=True)),
    ("nadam", dict(lr=1e-2, maximize=True)),
    ("nadam", dict(lr=1e-2, betas=(0.8, 0.99), weight_decay=0.1, momentum_decay=0.01,
                   decoupled_weight_decay=True, maximize=True)),
    ("radam", dict(lr=1e-3)),
    ("radam", dict(lr=1e-3, betas=(0.8, 0.99), eps=1e-6)),
    ("radam", dict(lr=1e-3, weight_decay=0.1)),
    ("radam", dict(lr=1e-3, weight_decay=0.1, decoupled_weight_decay=True)),
    ("radam", dict(lr=1e-3, weight_decay=0.1, decoupled_weight_decay=True, maximize=True)),
    ("adagrad", dict(lr=5e-2)),
    ("adagrad", dict(lr=5e-2, lr_decay=0.01)),
    ("adagrad", dict(lr=5e-2, weight_decay=0.1)),
    ("adagrad", dict(lr=5e-2, initial_accumulator_value=0.5, eps=1e-6)),
    ("adagrad", dict(lr=5e-2, maximize=True)),
    ("adagrad", dict(lr=5e-2, lr_decay=0.01, weight_decay=0.1, initial_accumulator_value=0.1,
                     maximize=True)),
    ("adadelta", dict(lr=1.0)),
    ("adadelta", dict(lr=0.5, rho=0.8, eps=1e-5)),
    ("adadelta", dict(lr=1.0, weight_decay=0.1)),
    ("adadelta", dict(lr=1.0, rho=0.95, weight_decay=0.1, maximize=True)),
    ("rmsprop", dict(lr=1e-3)),
    ("rmsprop", dict(lr=1e-3, alpha=0.9, eps=1e-6)),
    ("rmsprop", dict(lr=1e-3, momentum=0.5)),
    ("rmsprop", dict(lr=1e-3, centered=True)),
    ("rmsprop", dict(lr=1e-3, weight_decay=0.1)),
    ("rmsprop", dict(lr=1e-3, maximize=True)),
    ("rmsprop", dict(lr=1e-3, momentum=0.5, centered=True, weight_decay=0.1, maximize=True)),
    ("rprop", dict(lr=1e-2)),
    ("rprop", dict(lr=1e-2, etas=(0.3, 1.5))),
    ("rprop", dict(lr=1e-2, step_sizes=(1e-3, 0.05))),
    ("rprop", dict(lr=1e-2, etas=(0.4, 1.3), step_sizes=(1e-4, 1.0), maximize=True)),
    ("asgd", dict(lr=1e-3)),
    ("asgd", dict(lr=1e-3, lambd=1e-2, alpha=0.5)),
    ("asgd", dict(lr=1e-3, t0=10)),
    ("asgd", dict(lr=1e-3, weight_decay=0.1)),
    ("asgd", dict(lr=1e-3, maximize=True)),
    ("asgd", dict(lr=1e-3, lambd=1e-3, alpha=0.6, t0=20, weight_decay=0.1, maximize=True)),
    ("adafactor", dict(lr=1e-2)),
    ("adafactor", dict(lr=1e-2, beta2_decay=-0.5)),
    ("adafactor", dict(lr=1e-2, eps=(1e-20, 1e-2))),
    ("adafactor", dict(lr=1e-2, d=2.0)),
    ("adafactor", dict(lr=1e-2, weight_decay=0.1)),
    ("adafactor", dict(lr=1e-2, maximize=True)),
    ("adafactor", dict(lr=5e-2, beta2_decay=-0.6, eps=(1e-25, 1e-3), d=1.5, weight_decay=0.1,
                       maximize=True)),
    ("sparse_adam", dict(lr=1e-2)),
    ("sparse_adam", dict(lr=1e-2, betas=(0.8, 0.99), eps=1e-6)),
    ("sparse_adam", dict(lr=1e-2, maximize=True)),
    ("muon", dict(lr=1e-2)),
    ("muon", dict(lr=1e-2, nesterov=False, momentum=0.9)),
    ("muon", dict(lr=1e-2, weight_decay=0.0, ns_steps=3)),
    ("muon", dict(lr=1e-2, ns_coefficients=(2.0, -1.5, 0.5), eps=1e-5)),
    ("muon", dict(lr=1e-2, adjust_lr_fn="original")),
    ("muon", dict(lr=1e-2, adjust_lr_fn="match_rms_adamw", weight_decay=0.2)),
]


def case_id(case) -> str:
    name, kw = case
    return name + "-" + ",".join(f"{k}={v}" for k, v in kw.items())


class Problem(NamedTuple):
    name: str
    params: dict          # numpy float64, torch state_dict names
    loss: Any             # jax: loss(nested_params) -> scalar
    torch_loss: Any       # torch: torch_loss(named_tensors: dict) -> scalar


def _mlp() -> Problem:
    x, y, p0 = mlp_problem()

    def loss(p):
        return fnn_mlp_loss(p, jnp.asarray(x, p["0"]["weight"].dtype),
                            jnp.asarray(y, p["0"]["weight"].dtype))

    def torch_loss(t):
        xt, yt = (torch.tensor(x, dtype=t["0.weight"].dtype),
                  torch.tensor(y, dtype=t["0.weight"].dtype))
        h = torch.relu(xt @ t["0.weight"].T + t["0.bias"])
        return ((h @ t["2.weight"].T + t["2.bias"] - yt) ** 2).sum()

    return Problem("mlp", p0, loss, torch_loss)


def _nonconvex() -> Problem:
    """``sum(sin(3 A C)) + 0.5 (|A|^2 + |C|^2)``: non-convex, bounded below, two matrices
    (a tall 4x3 and a wide 3x5, so Muon's transposes and Adafactor's factoring both run)."""
    rng = np.random.default_rng(1)
    p0 = {"A": rng.standard_normal((4, 3)), "C": rng.standard_normal((3, 5))}

    def loss(p):
        return jnp.sum(jnp.sin(3 * p["A"] @ p["C"])) + 0.5 * (jnp.sum(p["A"] ** 2)
                                                              + jnp.sum(p["C"] ** 2))

    def torch_loss(t):
        return torch.sin(3 * t["A"] @ t["C"]).sum() + 0.5 * ((t["A"] ** 2).sum()
                                                             + (t["C"] ** 2).sum())

    return Problem("nonconvex", p0, loss, torch_loss)


PROBLEMS = {"mlp": _mlp(), "nonconvex": _nonconvex()}


def problems_for(name: str) -> list[str]:
    return ["nonconvex"] if name == "muon" else ["mlp", "nonconvex"]


def run_torch(name: str, kw: dict, prob: Problem, steps: int, dtype=torch.float64,
              groups=None, before_step=None):
    """Train ``prob`` with torch; return ([flat params after each step], [losses], opt, named)."""
    named = {k: torch.tensor(v, dtype=dtype, requires_grad=True) for k, v in prob.params.items()}
    params = list(named.values()) if groups is None else groups(named)
    opt = TORCH[name](params, **kw)
    traj, losses = [], []
    sign = -1 if kw.get("maximize") else 1  # maximize the negated loss: a bounded problem
    for i in range(steps):
        if before_step is not None:
            before_step(opt, i)
        opt.zero_grad()
        loss = sign * prob.torch_loss(named)
        loss.backward()
        if name == "sparse_adam":
            for t in named.values():
                t.grad = t.grad.to_sparse()
        opt.step()
        losses.append(loss.item())
        traj.append({k: v.detach().numpy().copy() for k, v in named.items()})
    return traj, losses, opt, named


def _static_key(name: str, kw: dict) -> tuple:
    static = importlib.import_module(f"fnn.optim.{name}").RULE.static
    # weight_decay=0 (the default) is compiled out of the update: it shapes the program
    no_decay = ("no weight decay", kw.get("weight_decay", 0) == 0)
    return tuple(sorted((k, repr(v)) for k, v in kw.items()
                        if k in static or not isinstance(v, (int, float, tuple))
                        or isinstance(v, bool) or (isinstance(v, tuple) and None in v))) + no_decay


def _scan_steps(update, loss_fn, params, state, steps, sign=1):
    def body(carry, _):
        p, s = carry
        loss, g = jax.value_and_grad(lambda q: sign * loss_fn(q))(p)
        u, s = update(g, s, p)
        p = optim.apply_updates(p, u)
        return (p, s), (p, loss)

    (p, s), (traj, losses) = jax.lax.scan(body, (params, state), None, length=steps)
    return p, s, traj, losses


_COMPILED: dict = {}


def run_fnn(name: str, kw: dict, prob: Problem, steps: int, dtype=np.float64):
    """Train ``prob`` with fnn in one jitted ``lax.scan``; same outputs as :func:`run_torch`
    plus the final state. The compiled scan is shared by every case with the same static
    options: numeric hyperparameters live in the optimizer state."""
    opt = getattr(optim, name)(**kw)
    params = _tree.unflatten({k: jnp.asarray(v, dtype) for k, v in prob.params.items()})
    state = opt.init(params)
    key = (name, _static_key(name, kw), prob.name, np.dtype(dtype).name, steps)
    fn = _COMPILED.get(key)
    if fn is None:
        sign = -1 if kw.get("maximize") else 1
        fn = _COMPILED[key] = jax.jit(functools.partial(_scan_steps, opt.update, prob.loss,
                                                        steps=steps, sign=sign))
    _, state, traj, losses = fn(params, state)
    flat = _tree.flatten(jax.tree_util.tree_map(np.asarray, traj))
    traj = [{k: v[i] for k, v in flat.items()} for i in range(steps)]
    return traj, np.asarray(losses), state


def torch_state(opt, named: dict) -> dict:
    """``{param name: {slot: numpy}}`` from torch's ``opt.state``."""
    out = {}
    for k, t in named.items():
        out[k] = {s: (v.detach().numpy() if torch.is_tensor(v) else np.asarray(v))
                  for s, v in opt.state[t].items()}
    return out


def fnn_state(state) -> dict:
    """``{param name: {slot: numpy}}`` from an fnn ``OptState`` (slot names have no dots)."""
    out: dict = {}
    for key, v in _tree.flatten(state.state).items():
        pname, slot = key.rsplit(".", 1)
        out.setdefault(pname, {})[slot] = np.asarray(v)
    return out
