"""Adagrad: ``torch.optim.Adagrad``."""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import Any

import jax.numpy as jnp
import optax

from ._engine import Rule, build, cast, weight_decay
from ._validation import check_eps, check_lr, check_min, check_weight_decay
from .spec import StateSpec

__all__ = ["adagrad"]


def _init(p, hp, initial_accumulator_value):
    # torch fills every group's `sum` from the constructor's value (a per-group value is ignored)
    return {"sum": jnp.full_like(p, initial_accumulator_value)}


def _update(p, g, s, hp, t):
    lr, lr_decay, eps, wd = hp["lr"], hp["lr_decay"], hp["eps"], hp["weight_decay"]
    p, g = weight_decay(p, g, lr, wd)
    clr = lr / (1 + (t - 1) * lr_decay)
    acc = s["sum"] + g * g
    std = jnp.sqrt(acc) + cast(eps, p)
    return p - cast(clr, p) * g / std, {"sum": acc}


RULE = Rule("Adagrad", functools.partial(_init, initial_accumulator_value=0.0), _update,
            static=("maximize",), spec=StateSpec(eager=True))


def _validate(hp: Mapping[str, Any]) -> None:
    check_lr(hp["lr"])
    check_min(hp["lr_decay"], "Invalid lr_decay value: {}")
    check_weight_decay(hp["weight_decay"])
    check_min(hp["initial_accumulator_value"], "Invalid initial_accumulator_value value: {}")
    check_eps(hp["eps"])


def adagrad(
    lr: Any = 1e-2,
    lr_decay: float = 0,
    weight_decay: float = 0,
    initial_accumulator_value: float = 0,
    eps: float = 1e-10,
    *,
    maximize: bool = False,
    param_groups: Sequence[Mapping[str, Any]] | None = None,
) -> optax.GradientTransformationExtraArgs:
    r"""Adagrad, exactly ``torch.optim.Adagrad`` (dense gradients).

    .. math::
        g_t &= \pm\nabla f(\theta_{t-1}) + \lambda\theta_{t-1}, \qquad
        \tilde\gamma_t = \frac{\gamma}{1 + (t-1)\eta} \\
        s_t &= s_{t-1} + g_t^2, \qquad
        \theta_t = \theta_{t-1} - \tilde\gamma_t\,\frac{g_t}{\sqrt{s_t} + \epsilon}

    with ``s_0 = initial_accumulator_value`` and ``eta = lr_decay``. As in torch, ``sum``
    starts from the factory's ``initial_accumulator_value`` in every group. State: ``sum``.

    torch: ``torch.optim.Adagrad(params, lr=1e-2, lr_decay=0, weight_decay=0,
    initial_accumulator_value=0, eps=1e-10, maximize=False)``. Paper: Duchi, Hazan & Singer,
    "Adaptive Subgradient Methods for Online Learning and Stochastic Optimization" (JMLR 2011).
    """
    defaults = dict(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                    initial_accumulator_value=initial_accumulator_value, eps=eps,
                    maximize=maximize)
    rule = RULE._replace(init=functools.partial(
        _init, initial_accumulator_value=initial_accumulator_value))
    return build(rule, defaults, param_groups, _validate)
