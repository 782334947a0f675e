"""RAdam (rectified Adam): ``torch.optim.RAdam``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import jax.numpy as jnp
import optax

from ._engine import Rule, build, cast, lerp, weight_decay
from ._validation import check_adam_family

__all__ = ["radam"]


def _init(p, hp):
    return {"exp_avg": jnp.zeros_like(p), "exp_avg_sq": jnp.zeros_like(p)}


def _update(p, g, s, hp, t):
    lr, (beta1, beta2), eps, wd = hp["lr"], hp["betas"], hp["eps"], hp["weight_decay"]
    p, g = weight_decay(p, g, lr, wd, hp["decoupled_weight_decay"])
    m = lerp(s["exp_avg"], g, 1 - beta1)
    v = cast(beta2, p) * s["exp_avg_sq"] + cast(1 - beta2, p) * g * g
    bias_correction1 = 1 - beta1**t
    bias_correction2 = 1 - beta2**t
    m_hat = m / cast(bias_correction1, p)
    rho_inf = 2 / (1 - beta2) - 1
    rho_t = rho_inf - 2 * t * beta2**t / bias_correction2
    rectified = rho_t > 5.0
    ratio = (rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t)
    rect = jnp.sqrt(jnp.where(rectified, ratio, 1.0))  # safe for grad when not rectified
    adaptive_lr = cast(jnp.sqrt(bias_correction2), p) / (jnp.sqrt(v) + cast(eps, p))
    step = jnp.where(rectified, m_hat * cast(lr, p) * adaptive_lr * cast(rect, p),
                     m_hat * cast(lr, p))
    return p - step, {"exp_avg": m, "exp_avg_sq": v}


RULE = Rule("RAdam", _init, _update, static=("maximize", "decoupled_weight_decay"),
            sequences=("betas",))


def radam(
    lr: Any = 1e-3,
    betas: tuple[float, float] = (0.9, 0.999),
    eps: float = 1e-8,
    weight_decay: float = 0,
    decoupled_weight_decay: bool = False,
    *,
    maximize: bool = False,
    param_groups: Sequence[Mapping[str, Any]] | None = None,
) -> optax.GradientTransformationExtraArgs:
    r"""RAdam, exactly ``torch.optim.RAdam``.

    .. math::
        m_t &= \beta_1 m_{t-1} + (1-\beta_1) g_t, \qquad v_t = \beta_2 v_{t-1} + (1-\beta_2) g_t^2,
        \qquad \hat m_t = m_t / (1-\beta_1^t) \\
        \rho_\infty &= \frac{2}{1-\beta_2} - 1, \qquad
        \rho_t = \rho_\infty - \frac{2t\beta_2^t}{1-\beta_2^t} \\
        \theta_t &= \theta_{t-1} - \gamma\hat m_t\,
           \frac{\sqrt{1-\beta_2^t}}{\sqrt{v_t}+\epsilon}\,
           \sqrt{\frac{(\rho_t-4)(\rho_t-2)\rho_\infty}{(\rho_\infty-4)(\rho_\infty-2)\rho_t}}
           \quad\text{if } \rho_t > 5, \text{ else } \theta_{t-1} - \gamma\hat m_t

    (``eps`` is added to the uncorrected ``sqrt(v)``, unlike Adam). Weight decay is L2, or
    decoupled with ``decoupled_weight_decay``. State: ``exp_avg``, ``exp_avg_sq``.

    torch: ``torch.optim.RAdam(params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8,
    weight_decay=0, decoupled_weight_decay=False, maximize=False)``. Paper: Liu et al.,
    "On the Variance of the Adaptive Learning Rate and Beyond" (ICLR 2020).
    """
    defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                    decoupled_weight_decay=decoupled_weight_decay, maximize=maximize)
    return build(RULE, defaults, param_groups, check_adam_family)
