"""The optimizer parity matrix: problems, cases and runners shared by the optim tests.

Each case is ``(fnn factory name, kwargs, lr)``; torch gets the same keyword arguments
(fnn's arguments are torch's). A problem is a loss written twice (jax and torch) with its
initial parameters named as torch's ``state_dict``.
"""

from __future__ import annotations

import importlib

import jax.numpy as jnp
import numpy as np
import torch
from helpers import Problem, mlp, run_fnn, run_torch

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


PROBLEMS = {"mlp": mlp(), "nonconvex": _nonconvex()}


def problems_for(name: str) -> list[str]:
    return ["nonconvex"] if name == "muon" else ["mlp", "nonconvex"]


def torch_case(name: str, kw: dict, prob: Problem, steps: int, dtype=torch.float64,
               groups=None, before_step=None):
    """:func:`helpers.run_torch` with ``TORCH[name](params, **kw)`` (``groups(named)`` makes
    param groups): ``([flat params after each step], [losses], opt, named)``."""
    def make(named):
        return TORCH[name](list(named.values()) if groups is None else groups(named), **kw)

    return run_torch(make, prob, steps, dtype=dtype, before_step=before_step,
                     sign=-1 if kw.get("maximize") else 1,  # maximize a bounded problem
                     sparse_grads=name == "sparse_adam")


def _static_key(name: str, kw: dict) -> tuple:
    static = importlib.import_module(f"fnn.optim.{name}").RULE.static
    # weight_decay=0 (the default) is compiled out of the update: it shapes the program
    no_decay = ("no weight decay", kw.get("weight_decay", 0) == 0)
    return tuple(sorted((k, repr(v)) for k, v in kw.items()
                        if k in static or not isinstance(v, (int, float, tuple))
                        or isinstance(v, bool) or (isinstance(v, tuple) and None in v))) + no_decay


def fnn_case(name: str, kw: dict, prob: Problem, steps: int, dtype=np.float64):
    """:func:`helpers.run_fnn` of ``optim.<name>(**kw)`` in one ``lax.scan``, compiled once
    for every case with the same static options: ``(traj, losses, state)``."""
    return run_fnn(getattr(optim, name)(**kw), prob, steps, dtype=dtype,
                   sign=-1 if kw.get("maximize") else 1,
                   scan_key=(name, _static_key(name, kw)))


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
