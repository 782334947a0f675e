"""Adamax (Adam with the infinity norm): ``torch.optim.Adamax``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import jax.numpy as jnp
import optax

from ._engine import Rule, build, cast, lerp, weight_decay
from ._validation import check_adam_family

__all__ = ["adamax"]


def _init(p, hp):
    return {"exp_avg": jnp.zeros_like(p), "exp_inf": jnp.zeros_like(p)}


def _update(p, g, s, hp, t):
    lr, (beta1, beta2), eps, wd = hp["lr"], hp["betas"], hp["eps"], hp["weight_decay"]
    p, g = weight_decay(p, g, lr, wd)
    m = lerp(s["exp_avg"], g, 1 - beta1)
    u = jnp.maximum(cast(beta2, p) * s["exp_inf"], jnp.abs(g) + cast(eps, p))
    clr = lr / (1 - beta1**t)
    return p - cast(clr, p) * m / u, {"exp_avg": m, "exp_inf": u}


RULE = Rule("Adamax", _init, _update, static=("maximize",),
            sequences=("betas",))


def adamax(
    lr: Any = 2e-3,
    betas: tuple[float, float] = (0.9, 0.999),
    eps: float = 1e-8,
    weight_decay: float = 0,
    *,
    maximize: bool = False,
    param_groups: Sequence[Mapping[str, Any]] | None = None,
) -> optax.GradientTransformationExtraArgs:
    r"""Adamax, exactly ``torch.optim.Adamax``.

    .. math::
        g_t &= \pm\nabla f(\theta_{t-1}) + \lambda\theta_{t-1} \\
        m_t &= \beta_1 m_{t-1} + (1-\beta_1) g_t, \qquad
        u_t = \max(\beta_2 u_{t-1},\ |g_t| + \epsilon) \\
        \theta_t &= \theta_{t-1} - \frac{\gamma}{1-\beta_1^t}\,\frac{m_t}{u_t}

    ``eps`` sits inside the max (torch), not in a denominator. State: ``exp_avg``, ``exp_inf``.

    torch: ``torch.optim.Adamax(params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8,
    weight_decay=0, maximize=False)``. Paper: Kingma & Ba, "Adam: A Method for Stochastic
    Optimization" (2014), section 7.1.
    """
    defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                    maximize=maximize)
    return build(RULE, defaults, param_groups, check_adam_family)
