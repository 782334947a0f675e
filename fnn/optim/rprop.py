"""Rprop (resilient backpropagation): ``torch.optim.Rprop``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import jax.numpy as jnp
import optax

from ._engine import Rule, build, cast, is_concrete
from ._validation import check, check_lr, check_pair, fmt

__all__ = ["rprop"]


def _init(p, hp):
    # torch reads lr only here: later lr changes (schedulers included) have no effect
    return {"prev": jnp.zeros_like(p), "step_size": jnp.full_like(p, hp["lr"])}


def _update(p, g, s, hp, t):
    (etaminus, etaplus), (step_size_min, step_size_max) = hp["etas"], hp["step_sizes"]
    sign = jnp.sign(g * s["prev"])
    factor = jnp.where(sign > 0, cast(etaplus, p), jnp.where(sign < 0, cast(etaminus, p), 1))
    step_size = jnp.clip(s["step_size"] * factor, cast(step_size_min, p), cast(step_size_max, p))
    g = jnp.where(sign < 0, 0, g)  # after a sign change: no step, and prev = 0
    return p - jnp.sign(g) * step_size, {"prev": g, "step_size": step_size}


RULE = Rule("Rprop", _init, _update, static=("maximize",),
            sequences=("etas", "step_sizes"))


def _validate(hp: Mapping[str, Any]) -> None:
    check_lr(hp["lr"])
    check_pair(hp["etas"], "etas")
    check_pair(hp["step_sizes"], "step_sizes")
    em, ep = hp["etas"]
    if is_concrete(em) and is_concrete(ep):
        check(0.0 < float(em) < 1.0 < float(ep), f"Invalid eta values: {fmt(em)}, {fmt(ep)}")


def rprop(
    lr: Any = 1e-2,
    etas: tuple[float, float] = (0.5, 1.2),
    step_sizes: tuple[float, float] = (1e-6, 50),
    *,
    maximize: bool = False,
    param_groups: Sequence[Mapping[str, Any]] | None = None,
) -> optax.GradientTransformationExtraArgs:
    r"""Rprop, exactly ``torch.optim.Rprop``.

    .. math::
        \eta_t &= \eta_+ \text{ if } g_t g_{t-1} > 0,\ \eta_- \text{ if } g_t g_{t-1} < 0,
                  \ 1 \text{ otherwise} \\
        \Delta_t &= \operatorname{clip}(\eta_t \Delta_{t-1},\ \Delta_{\min},\ \Delta_{\max}),
        \qquad \Delta_0 = \gamma \\
        g_t &\leftarrow 0 \text{ where } g_t g_{t-1} < 0, \qquad
        \theta_t = \theta_{t-1} - \operatorname{sign}(g_t)\,\Delta_t

    The stored ``prev`` is the zeroed gradient, so after a sign flip the next factor is 1.
    As in torch, ``lr`` only sets the initial step sizes (changing it later does nothing).
    State: ``prev``, ``step_size``.

    torch: ``torch.optim.Rprop(params, lr=1e-2, etas=(0.5, 1.2), step_sizes=(1e-6, 50),
    maximize=False)``. Paper: Riedmiller & Braun, "A Direct Adaptive Method for Faster
    Backpropagation Learning: The RPROP Algorithm" (ICNN 1993).
    """
    defaults = dict(lr=lr, etas=etas, step_sizes=step_sizes, maximize=maximize)
    return build(RULE, defaults, param_groups, _validate)
