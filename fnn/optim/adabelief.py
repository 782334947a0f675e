"""AdaBelief: Adam with the variance of the gradient around its EMA (Zhuang et al., 2020)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import jax.numpy as jnp
import optax

from ._engine import Rule, build, cast
from ._extended import check_adam_like

__all__ = ["adabelief"]


def _init(p, hp):
    s = {"exp_avg": jnp.zeros_like(p), "exp_avg_var": jnp.zeros_like(p)}
    if hp["amsgrad"]:
        s["max_exp_avg_var"] = jnp.zeros_like(p)
    return s


def _rectifier(beta2, t):
    """RAdam's variance rectification r_t and whether it applies (rho_t > 4)."""
    rho_inf = 2.0 / (1.0 - beta2) - 1.0
    rho_t = rho_inf - 2 * t * beta2**t / (1.0 - beta2**t)
    ok = rho_t > 4
    rho = jnp.where(ok, rho_t, 5.0)
    rt = jnp.sqrt((rho - 4.0) * (rho - 2.0) * rho_inf / (rho_inf - 4.0) / (rho_inf - 2.0) / rho)
    return rt, ok


def _update(p, g, s, hp, t):
    lr, (beta1, beta2), eps, wd = hp["lr"], hp["betas"], hp["eps"], hp["weight_decay"]
    if hp["weight_decouple"]:
        p = p * cast(1.0 - (wd if hp["fixed_decay"] else lr * wd), p)
    else:
        g = g + cast(wd, p) * p
    bias_correction1 = 1 - beta1**t
    bias_correction2 = 1 - beta2**t
    m = cast(beta1, p) * s["exp_avg"] + cast(1 - beta1, p) * g
    residual = g - m
    var = cast(beta2, p) * s["exp_avg_var"] + cast(1 - beta2, p) * residual * residual
    new = {"exp_avg": m}
    if hp["amsgrad"]:
        new["exp_avg_var"] = var
        var = jnp.maximum(s["max_exp_avg_var"], var) + cast(eps, p)
        new["max_exp_avg_var"] = var  # eps stays in the stored max (reference and paper)
    else:
        var = var + cast(eps, p)  # s_t = ... + eps: Algorithm 2 of the paper
        new["exp_avg_var"] = var
    denom = jnp.sqrt(var) / cast(jnp.sqrt(bias_correction2), p) + cast(eps, p)
    if not hp["rectify"]:
        return p - cast(lr / bias_correction1, p) * (m / denom), new
    rt, adaptive = _rectifier(beta2, t)
    p_adaptive = p - cast(rt * lr / bias_correction1, p) * (m / denom)
    p_sgd = p - cast(lr, p) * m
    return jnp.where(adaptive, p_adaptive, p_sgd), new


RULE = Rule("AdaBelief", _init, _update,
            static=("amsgrad", "weight_decouple", "fixed_decay", "rectify"),
            sequences=("betas",))


def adabelief(
    lr: Any = 1e-3,
    betas: tuple[float, float] = (0.9, 0.999),
    eps: float = 1e-8,
    weight_decay: float = 0,
    amsgrad: bool = False,
    weight_decouple: bool = False,
    fixed_decay: bool = False,
    rectify: bool = False,
    *,
    param_groups: Sequence[Mapping[str, Any]] | None = None,
) -> optax.GradientTransformationExtraArgs:
    r"""AdaBelief: step sizes scaled by the "belief" :math:`(g_t - m_t)^2` in the gradient.

    .. math::
        m_t &= \beta_1 m_{t-1} + (1-\beta_1) g_t \\
        s_t &= \beta_2 s_{t-1} + (1-\beta_2)(g_t - m_t)^2 + \epsilon \\
        \theta_t &= \theta_{t-1} - \frac{\gamma\, r_t}{1-\beta_1^t}\,
              \frac{m_t}{\sqrt{s_t}/\sqrt{1-\beta_2^t} + \epsilon}

    with :math:`r_t = 1` unless ``rectify``: then RAdam's rectifier
    :math:`r_t = \sqrt{\frac{(\rho_t-4)(\rho_t-2)\rho_\infty}{(\rho_\infty-4)(\rho_\infty-2)\rho_t}}`
    where :math:`\rho_t > 4`, and the plain step :math:`\theta_t = \theta_{t-1} - \gamma m_t`
    before that. Weight decay: L2 on the gradient, or decoupled (``weight_decouple``:
    :math:`\theta \leftarrow \theta(1-\gamma\lambda)`, or :math:`\theta(1-\lambda)` with
    ``fixed_decay``). ``amsgrad`` uses the running max of :math:`s_t` (plus eps, kept in
    the max). State: ``exp_avg``, ``exp_avg_var`` (and ``max_exp_avg_var``).

    Reference: ``torch_optimizer.AdaBelief`` (0.3.0), same arguments and defaults (the
    authors' ``adabelief-pytorch`` package defaults to ``eps=1e-16``,
    ``weight_decouple=True``, ``rectify=True``). Paper: Zhuang et al., "AdaBelief
    Optimizer: Adapting Stepsizes by the Belief in Observed Gradients", NeurIPS 2020,
    arXiv:2010.07468.
    """
    defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                    amsgrad=amsgrad, weight_decouple=weight_decouple, fixed_decay=fixed_decay,
                    rectify=rectify)
    return build(RULE, defaults, param_groups, check_adam_like)
