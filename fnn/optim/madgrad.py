"""MADGRAD: momentumized, adaptive, dual-averaged gradient (Defazio & Jelassi, 2021)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import jax.numpy as jnp
import optax

from ._engine import Rule, build, cast, is_concrete, weight_decay
from ._extended import check_positive_lr
from ._validation import check, check_eps, check_weight_decay, fmt
from .spec import StateSpec

__all__ = ["madgrad"]


def _init(p, hp):
    s = {"grad_sum_sq": jnp.zeros_like(p), "s": jnp.zeros_like(p)}
    m = hp["momentum"]
    if not (is_concrete(m) and float(m) == 0):
        s["x0"] = p  # the dual-averaging anchor (torch: a clone of p at construction)
    return s


def _update(p, g, s, hp, t):
    eps, momentum = hp["eps"], hp["momentum"]
    lamb = (hp["lr"] + eps) * jnp.sqrt(t)  # lr * sqrt(k + 1), k = t - 1
    ck = 1 - momentum
    p, g = weight_decay(p, g, hp["lr"], hp["weight_decay"])
    third = cast(1 / 3, p)
    if "x0" in s:
        x0 = s["x0"]
    else:  # no momentum: recover x0 from the previous step instead of storing it
        x0 = p + s["s"] / (jnp.power(s["grad_sum_sq"], third) + cast(eps, p))
    grad_sum_sq = s["grad_sum_sq"] + cast(lamb, p) * g * g
    rms = jnp.power(grad_sum_sq, third) + cast(eps, p)
    s_new = s["s"] + cast(lamb, p) * g
    z = x0 - s_new / rms
    new = {**s, "grad_sum_sq": grad_sum_sq, "s": s_new}
    if "x0" not in s:
        return z, new
    return p * cast(1 - ck, p) + cast(ck, p) * z, new


RULE = Rule("MADGRAD", _init, _update, spec=StateSpec(switches={"momentum": "x0"}))


def _validate(hp: Mapping[str, Any]) -> None:
    """torch_optimizer.MADGRAD's checks, in its order."""
    m = hp["momentum"]
    check(not is_concrete(m) or 0 <= float(m) < 1, f"Invalid momentum value: {fmt(m)}")
    check_positive_lr(hp["lr"])
    check_weight_decay(hp["weight_decay"])
    check_eps(hp["eps"])


def madgrad(
    lr: Any = 1e-2,
    momentum: float = 0.9,
    weight_decay: float = 0.0,
    eps: float = 1e-6,
    *,
    param_groups: Sequence[Mapping[str, Any]] | None = None,
) -> optax.GradientTransformationExtraArgs:
    r"""MADGRAD: dual averaging with a cube-root AdaGrad scale and momentum by averaging.

    .. math::
        \lambda_t &= (\gamma + \epsilon)\sqrt{t}, \qquad g_t = \nabla f(\theta_{t-1}) + w\,\theta_{t-1} \\
        \nu_t &= \nu_{t-1} + \lambda_t g_t^2, \qquad s_t = s_{t-1} + \lambda_t g_t \\
        z_t &= \theta_0 - \frac{s_t}{\nu_t^{1/3} + \epsilon} \\
        \theta_t &= \mu\,\theta_{t-1} + (1-\mu)\, z_t

    (with ``momentum=0``, :math:`\theta_t = z_t`, the anchor :math:`\theta_0` being
    recovered from the previous step rather than stored). State: ``grad_sum_sq``, ``s``
    and ``x0`` (where momentum is not 0).

    Reference: ``torch_optimizer.MADGRAD`` (0.3.0, the authors' facebookresearch/madgrad
    code), same arguments and defaults. Paper: Defazio & Jelassi, "Adaptivity without
    Compromise: A Momentumized, Adaptive, Dual Averaged Gradient Method for Stochastic
    Optimization", arXiv:2101.11075.
    """
    defaults = dict(lr=lr, momentum=momentum, weight_decay=weight_decay, eps=eps)
    return build(RULE, defaults, param_groups, _validate)
