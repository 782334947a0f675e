"""RMSprop (with momentum and the centered variant): ``torch.optim.RMSprop``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import jax.numpy as jnp
import optax

from ._engine import Rule, build, cast, is_concrete, lerp, weight_decay
from ._validation import check_eps, check_lr, check_min, check_momentum, check_weight_decay
from .spec import StateSpec

__all__ = ["rmsprop"]


def _init(p, hp):
    s = {"square_avg": jnp.zeros_like(p)}
    m = hp["momentum"]
    if not (is_concrete(m) and float(m) <= 0):  # torch: only if momentum > 0 (traced: keep one)
        s["momentum_buffer"] = jnp.zeros_like(p)
    if hp["centered"]:
        s["grad_avg"] = jnp.zeros_like(p)
    return s


def _update(p, g, s, hp, t):
    lr, alpha, eps, wd, mu = hp["lr"], hp["alpha"], hp["eps"], hp["weight_decay"], hp["momentum"]
    p, g = weight_decay(p, g, lr, wd)
    square_avg = cast(alpha, p) * s["square_avg"] + cast(1 - alpha, p) * g * g
    new = {"square_avg": square_avg}
    if hp["centered"]:
        grad_avg = lerp(s["grad_avg"], g, 1 - alpha)
        avg = jnp.sqrt(square_avg - grad_avg * grad_avg) + cast(eps, p)
        new["grad_avg"] = grad_avg
    else:
        avg = jnp.sqrt(square_avg) + cast(eps, p)
    if "momentum_buffer" in s:
        # torch tests `momentum > 0` at every step: set to 0 between steps, the step is the
        # plain one and the buffer is left as it was
        on = mu > 0
        old = s["momentum_buffer"]
        buf = jnp.where(on, cast(mu, p) * old + g / avg, old)
        new["momentum_buffer"] = buf
        return p - cast(lr, p) * jnp.where(on, buf, g / avg), new
    return p - cast(lr, p) * g / avg, new


RULE = Rule("RMSprop", _init, _update, static=("centered", "maximize"),
            spec=StateSpec(switches={"momentum": "momentum_buffer"}))


def _validate(hp: Mapping[str, Any]) -> None:
    check_lr(hp["lr"])
    check_eps(hp["eps"])
    check_momentum(hp["momentum"])
    check_weight_decay(hp["weight_decay"])
    check_min(hp["alpha"], "Invalid alpha value: {}")


def rmsprop(
    lr: Any = 1e-2,
    alpha: float = 0.99,
    eps: float = 1e-8,
    weight_decay: float = 0,
    momentum: float = 0,
    centered: bool = False,
    *,
    maximize: bool = False,
    param_groups: Sequence[Mapping[str, Any]] | None = None,
) -> optax.GradientTransformationExtraArgs:
    r"""RMSprop, exactly ``torch.optim.RMSprop``.

    .. math::
        v_t &= \alpha v_{t-1} + (1-\alpha) g_t^2, \qquad
        \bar g_t = \alpha \bar g_{t-1} + (1-\alpha) g_t \text{ (centered)} \\
        a_t &= \sqrt{v_t - \bar g_t^2} + \epsilon \text{ (centered)}, \quad
              \text{else } \sqrt{v_t} + \epsilon \\
        b_t &= \mu b_{t-1} + g_t / a_t, \qquad \theta_t = \theta_{t-1} - \gamma b_t
        \quad(\text{without momentum: } \theta_t = \theta_{t-1} - \gamma g_t / a_t)

    ``eps`` is outside the sqrt (optax's ``eps_in_sqrt=False``). As in torch the momentum
    buffer starts at zero and exists only if ``momentum > 0`` at ``init``. State:
    ``square_avg`` (and ``momentum_buffer``, ``grad_avg``).

    torch: ``torch.optim.RMSprop(params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0,
    momentum=0, centered=False, maximize=False)``. Source: Hinton, Srivastava & Swersky,
    "Neural Networks for Machine Learning", lecture 6e (2012); centered: Graves,
    "Generating Sequences With Recurrent Neural Networks" (2013).
    """
    defaults = dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay, momentum=momentum,
                    centered=centered, maximize=maximize)
    return build(RULE, defaults, param_groups, _validate)
