"""Adadelta: ``torch.optim.Adadelta``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import jax.numpy as jnp
import optax

from ._engine import Rule, build, cast, is_concrete, weight_decay
from ._validation import check, check_eps, check_lr, check_weight_decay, fmt

__all__ = ["adadelta"]


def _init(p, hp):
    return {"square_avg": jnp.zeros_like(p), "acc_delta": jnp.zeros_like(p)}


def _update(p, g, s, hp, t):
    lr, rho, eps, wd = hp["lr"], hp["rho"], hp["eps"], hp["weight_decay"]
    p, g = weight_decay(p, g, lr, wd)
    square_avg = cast(rho, p) * s["square_avg"] + cast(1 - rho, p) * g * g
    std = jnp.sqrt(square_avg + cast(eps, p))
    delta = jnp.sqrt(s["acc_delta"] + cast(eps, p)) / std * g
    acc_delta = cast(rho, p) * s["acc_delta"] + cast(1 - rho, p) * delta * delta
    return p - cast(lr, p) * delta, {"square_avg": square_avg, "acc_delta": acc_delta}


RULE = Rule("Adadelta", _init, _update, static=("maximize",))


def _validate(hp: Mapping[str, Any]) -> None:
    check_lr(hp["lr"])
    rho = hp["rho"]
    check(not is_concrete(rho) or 0.0 <= float(rho) <= 1.0, f"Invalid rho value: {fmt(rho)}")
    check_eps(hp["eps"])
    check_weight_decay(hp["weight_decay"])


def adadelta(
    lr: Any = 1.0,
    rho: float = 0.9,
    eps: float = 1e-6,
    weight_decay: float = 0,
    *,
    maximize: bool = False,
    param_groups: Sequence[Mapping[str, Any]] | None = None,
) -> optax.GradientTransformationExtraArgs:
    r"""Adadelta, exactly ``torch.optim.Adadelta``.

    .. math::
        v_t &= \rho v_{t-1} + (1-\rho) g_t^2 \\
        \Delta_t &= \frac{\sqrt{u_{t-1} + \epsilon}}{\sqrt{v_t + \epsilon}}\, g_t, \qquad
        u_t = \rho u_{t-1} + (1-\rho)\Delta_t^2 \\
        \theta_t &= \theta_{t-1} - \gamma\Delta_t

    with ``g_t`` including L2 weight decay. State: ``square_avg`` (v), ``acc_delta`` (u).

    torch: ``torch.optim.Adadelta(params, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0,
    maximize=False)``. Paper: Zeiler, "ADADELTA: An Adaptive Learning Rate Method" (2012).
    """
    defaults = dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay, maximize=maximize)
    return build(RULE, defaults, param_groups, _validate)
