"""AdaBound and AMSBound: Adam with step sizes clipped into a band that tightens to SGD."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import jax.numpy as jnp
import optax

from ._engine import Rule, build, cast, hyper_dtype, is_concrete, weight_decay
from ._extended import check_positive_lr
from ._validation import check, check_betas, check_eps, check_min, check_weight_decay, fmt

__all__ = ["adabound"]


def _init(p, hp):
    # base_lr: the lr at construction, so that final_lr follows lr schedules (torch's base_lrs)
    s = {"base_lr": jnp.asarray(hp["lr"], hyper_dtype()),
         "exp_avg": jnp.zeros_like(p), "exp_avg_sq": jnp.zeros_like(p)}
    if hp["amsbound"]:
        s["max_exp_avg_sq"] = jnp.zeros_like(p)
    return s


def _update(p, g, s, hp, t):
    lr, (beta1, beta2), eps, gamma = hp["lr"], hp["betas"], hp["eps"], hp["gamma"]
    p, g = weight_decay(p, g, lr, hp["weight_decay"])
    m = cast(beta1, p) * s["exp_avg"] + cast(1 - beta1, p) * g
    v = cast(beta2, p) * s["exp_avg_sq"] + cast(1 - beta2, p) * g * g
    new = {"base_lr": s["base_lr"], "exp_avg": m, "exp_avg_sq": v}
    if hp["amsbound"]:
        v = jnp.maximum(s["max_exp_avg_sq"], v)
        new["max_exp_avg_sq"] = v
    denom = jnp.sqrt(v) + cast(eps, p)
    step_size = lr * jnp.sqrt(1 - beta2**t) / (1 - beta1**t)
    final_lr = hp["final_lr"] * lr / s["base_lr"]
    lower_bound = final_lr * (1 - 1 / (gamma * t + 1))
    upper_bound = final_lr * (1 + 1 / (gamma * t))
    eta = jnp.clip(cast(step_size, p) / denom, cast(lower_bound, p), cast(upper_bound, p))
    return p - eta * m, new


RULE = Rule("AdaBound", _init, _update, static=("amsbound",),
            sequences=("betas",))


def _validate(hp: Mapping[str, Any]) -> None:
    """torch_optimizer.AdaBound's checks, in its order."""
    check_positive_lr(hp["lr"])
    check_eps(hp["eps"])
    check_betas(hp["betas"])
    check_min(hp["final_lr"], "Invalid final learning rate: {}")
    g = hp["gamma"]
    check(not is_concrete(g) or 0.0 <= float(g) < 1.0, f"Invalid gamma parameter: {fmt(g)}")
    check_weight_decay(hp["weight_decay"])


def adabound(
    lr: Any = 1e-3,
    betas: tuple[float, float] = (0.9, 0.999),
    final_lr: float = 0.1,
    gamma: float = 1e-3,
    eps: float = 1e-8,
    weight_decay: float = 0,
    amsbound: bool = False,
    *,
    param_groups: Sequence[Mapping[str, Any]] | None = None,
) -> optax.GradientTransformationExtraArgs:
    r"""AdaBound (and AMSBound with ``amsbound=True``): Adam's per-coordinate step size
    clipped into a band around ``final_lr`` that narrows with the step count.

    .. math::
        m_t &= \beta_1 m_{t-1} + (1-\beta_1) g_t, \qquad
        v_t = \beta_2 v_{t-1} + (1-\beta_2) g_t^2
        \quad(\text{AMSBound: } v_t \leftarrow \max(v_{t-1}^{\max}, v_t)) \\
        \eta^*_t &= \gamma_{\mathrm{lr}}\,\eta_f/\gamma_0, \qquad
        \eta_l(t) = \eta^*_t\Bigl(1 - \frac{1}{\gamma t + 1}\Bigr), \qquad
        \eta_u(t) = \eta^*_t\Bigl(1 + \frac{1}{\gamma t}\Bigr) \\
        \theta_t &= \theta_{t-1} - \operatorname{clip}\Bigl(
            \frac{\gamma_{\mathrm{lr}}\sqrt{1-\beta_2^t}/(1-\beta_1^t)}{\sqrt{v_t} + \epsilon},
            \eta_l(t), \eta_u(t)\Bigr)\, m_t

    where :math:`\gamma_0` is the lr at construction (so ``final_lr`` follows lr
    schedules). This is the authors' implementation (Luolc/AdaBound), which uses Adam's
    bias corrections inside the clip; Algorithm 2 of the paper writes the un-corrected
    :math:`\alpha/\sqrt{V_t}` and a further :math:`1/\sqrt{t}` decay of the clipped rate for
    its convergence analysis, which neither the authors' code nor torch-optimizer use.
    State: ``base_lr``, ``exp_avg``, ``exp_avg_sq`` (and ``max_exp_avg_sq``).

    Reference: ``torch_optimizer.AdaBound`` (0.3.0), same arguments and defaults. Paper:
    Luo, Xiong, Liu, Sun, "Adaptive Gradient Methods with Dynamic Bound of Learning Rate",
    ICLR 2019, arXiv:1902.09843.
    """
    defaults = dict(lr=lr, betas=betas, final_lr=final_lr, gamma=gamma, eps=eps,
                    weight_decay=weight_decay, amsbound=amsbound)
    return build(RULE, defaults, param_groups, _validate)
