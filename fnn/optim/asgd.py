"""ASGD (averaged SGD): ``torch.optim.ASGD``, and :func:`asgd_averaged` to read the average."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import jax.numpy as jnp
import optax

from ._engine import Rule, build, cast, find_slots, hyper_dtype, torch_scalar, weight_decay
from ._validation import check_lr, check_weight_decay
from .spec import StateSpec

__all__ = ["asgd", "asgd_averaged"]


def _init(p, hp):
    return {"eta": torch_scalar(hp["lr"]), "mu": torch_scalar(1.0), "ax": jnp.zeros_like(p)}


def _update(p, g, s, hp, t):
    lr, lambd, alpha, t0, wd = hp["lr"], hp["lambd"], hp["alpha"], hp["t0"], hp["weight_decay"]
    p, g = weight_decay(p, g, lr, wd)
    eta = s["eta"].astype(hyper_dtype())  # torch: eta.item(), from the previous step
    p = p * cast(1 - lambd * eta, p)
    p = p - cast(eta, p) * g
    mu = s["mu"]
    ax = jnp.where(mu != 1, s["ax"] + (p - s["ax"]) * cast(mu, p), p)
    new_eta = torch_scalar(lr / (1 + lambd * lr * t) ** alpha)
    new_mu = torch_scalar(1 / jnp.maximum(1, t - t0))
    return p, {"eta": new_eta, "mu": new_mu, "ax": ax}


RULE = Rule("ASGD", _init, _update, static=("maximize",),
            spec=StateSpec(scalars=("eta", "mu")))


def _validate(hp: Mapping[str, Any]) -> None:
    check_lr(hp["lr"])
    check_weight_decay(hp["weight_decay"])


def asgd(
    lr: Any = 1e-2,
    lambd: float = 1e-4,
    alpha: float = 0.75,
    t0: float = 1e6,
    weight_decay: float = 0,
    *,
    maximize: bool = False,
    param_groups: Sequence[Mapping[str, Any]] | None = None,
) -> optax.GradientTransformationExtraArgs:
    r"""Averaged SGD, exactly ``torch.optim.ASGD``.

    .. math::
        \theta_t &= \theta_{t-1}(1 - \lambda\eta_t) - \eta_t g_t \\
        a_t &= a_{t-1} + \mu_t(\theta_t - a_{t-1}) \quad(a_t = \theta_t \text{ while } \mu_t = 1) \\
        \eta_{t+1} &= \frac{\gamma}{(1 + \lambda\gamma t)^{\alpha}}, \qquad
        \mu_{t+1} = \frac{1}{\max(1,\ t - t_0)}

    with ``eta_1 = lr``, ``mu_1 = 1`` and ``g_t`` including L2 weight decay. As in torch,
    ``eta`` and ``mu`` are float32 scalars (torch's default dtype) even for float64 params.
    The averaged parameters ``a_t`` (torch's ``state[p]["ax"]``) are never copied into the
    parameters; read them with :func:`asgd_averaged`. State: ``eta``, ``mu``, ``ax``.

    torch: ``torch.optim.ASGD(params, lr=1e-2, lambd=1e-4, alpha=0.75, t0=1e6,
    weight_decay=0, maximize=False)``. Paper: Polyak & Juditsky, "Acceleration of Stochastic
    Approximation by Averaging" (SIAM J. Control Optim. 1992).
    """
    defaults = dict(lr=lr, lambd=lambd, alpha=alpha, t0=t0, weight_decay=weight_decay,
                    maximize=maximize)
    return build(RULE, defaults, param_groups, _validate)


def asgd_averaged(state: Any) -> Any:
    """The averaged parameters of an :func:`asgd` state (torch's ``opt.state[p]["ax"]``),
    as a pytree shaped like the params. ``state`` may be a composite optax state."""
    return find_slots(state, "ax")
