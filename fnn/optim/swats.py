"""SWATS: start with Adam, switch to SGD once the projected SGD step size settles."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import jax.numpy as jnp
import optax

from ._engine import Rule, build, cast, weight_decay
from ._validation import check_betas, check_eps, check_lr, check_weight_decay

__all__ = ["swats"]


def _init(p, hp):
    zero = jnp.zeros((), p.dtype)
    s = {"exp_avg": jnp.zeros_like(p), "exp_avg_sq": jnp.zeros_like(p), "exp_avg2": zero,
         "momentum_buffer": jnp.zeros_like(p), "phase_sgd": jnp.zeros((), bool), "sgd_lr": zero}
    if hp["amsgrad"]:
        s["max_exp_avg_sq"] = jnp.zeros_like(p)
    return s


def _sgd_step(p, g, s, hp):
    """The SGD phase: v_t = beta1 v_{t-1} + g_t; p -= Lambda (1 - beta1) v_t."""
    beta1 = cast(hp["betas"][0], p)
    buf = beta1 * s["momentum_buffer"] + g  # the first SGD step: 0 + g, a copy of g
    d = (g + beta1 * buf) if hp["nesterov"] else buf
    return p - s["sgd_lr"] * ((1 - beta1) * d), {**s, "momentum_buffer": buf}


def _adam_step(p, g, s, hp, t):
    """The Adam phase, plus the running estimate of the SGD step size and the switch test."""
    lr, (beta1, beta2), eps = hp["lr"], hp["betas"], hp["eps"]
    m = cast(beta1, p) * s["exp_avg"] + cast(1 - beta1, p) * g
    v = cast(beta2, p) * s["exp_avg_sq"] + cast(1 - beta2, p) * g * g
    new = {**s, "exp_avg": m, "exp_avg_sq": v}
    if hp["amsgrad"]:
        v = jnp.maximum(s["max_exp_avg_sq"], v)
        new["max_exp_avg_sq"] = v
    bias_correction1 = 1 - beta1**t
    bias_correction2 = 1 - beta2**t
    step = -cast(lr * jnp.sqrt(bias_correction2) / bias_correction1, p) * (m / (jnp.sqrt(v) + cast(eps, p)))
    pg = jnp.vdot(step, g)
    moved = pg != 0
    scaling = jnp.vdot(step, step) / -jnp.where(moved, pg, 1)  # gamma_t, the projected SGD lr
    lam = jnp.where(moved, cast(beta2, p) * s["exp_avg2"] + cast(1 - beta2, p) * scaling,
                    s["exp_avg2"])
    corrected = lam / cast(bias_correction2, p)
    settled = jnp.abs(corrected - scaling) <= 1e-8 + 1e-6 * jnp.abs(scaling)  # torch.allclose
    switch = moved & (t > 1) & settled & (corrected > 0)
    new.update(exp_avg2=lam, phase_sgd=switch, sgd_lr=jnp.where(switch, corrected, s["sgd_lr"]))
    return p + step, new


def _update(p, g, s, hp, t):
    p, g = weight_decay(p, g, hp["lr"], hp["weight_decay"])
    p_sgd, s_sgd = _sgd_step(p, g, s, hp)
    p_adam, s_adam = _adam_step(p, g, s, hp, t)
    in_sgd = s["phase_sgd"]
    new = {k: jnp.where(in_sgd, s_sgd[k], s_adam[k]) for k in s}
    return jnp.where(in_sgd, p_sgd, p_adam), new


RULE = Rule("SWATS", _init, _update, static=("amsgrad", "nesterov"),
            sequences=("betas",))


def _validate(hp: Mapping[str, Any]) -> None:
    check_lr(hp["lr"])
    check_eps(hp["eps"])
    check_betas(hp["betas"])
    check_weight_decay(hp["weight_decay"])


def swats(
    lr: Any = 1e-3,
    betas: tuple[float, float] = (0.9, 0.999),
    eps: float = 1e-3,
    weight_decay: float = 0,
    amsgrad: bool = False,
    nesterov: bool = False,
    *,
    param_groups: Sequence[Mapping[str, Any]] | None = None,
) -> optax.GradientTransformationExtraArgs:
    r"""SWATS: Adam that switches to SGD with momentum, per parameter array, for good.

    Adam phase (Algorithm 1 of the paper), with :math:`p_t` the Adam step:

    .. math::
        p_t &= -\frac{\gamma\sqrt{1-\beta_2^t}}{1-\beta_1^t}\,\frac{m_t}{\sqrt{v_t}+\epsilon},
        \qquad \theta_t = \theta_{t-1} + p_t \\
        \gamma_t &= \frac{p_t^\top p_t}{-p_t^\top g_t}, \qquad
        \lambda_t = \beta_2\lambda_{t-1} + (1-\beta_2)\gamma_t \quad(\text{if } p_t^\top g_t \ne 0) \\
        &\text{switch when } t > 1,\ \lambda_t/(1-\beta_2^t) > 0 \text{ and }
        |\lambda_t/(1-\beta_2^t) - \gamma_t| \le 10^{-8} + 10^{-6}|\gamma_t|,
        \text{ with } \Lambda = \lambda_t/(1-\beta_2^t)

    SGD phase, from the step after the switch on: :math:`v_t = \beta_1 v_{t-1} + g_t`
    (:math:`v = 0` at the switch), :math:`\theta_t = \theta_{t-1} - \Lambda(1-\beta_1) v_t`
    (``nesterov``: :math:`\Lambda(1-\beta_1)(g_t + \beta_1 v_t)`). Weight decay is L2 on
    the gradient in both phases. The dot products, the switch and :math:`\Lambda` are per
    parameter array. State: ``exp_avg``, ``exp_avg_sq``, ``exp_avg2`` (:math:`\lambda`),
    ``momentum_buffer``, ``phase_sgd``, ``sgd_lr`` (:math:`\Lambda`), and ``max_exp_avg_sq``.

    Reference: ``torch_optimizer.SWATS`` (0.3.0), same arguments and defaults and the same
    switch test (``allclose(rtol=1e-6)``), with two deliberate differences. (1) Its SGD
    phase scales the momentum buffer in place (``grad = buf; grad.mul_(1 - beta1)``), so
    the buffer shrinks by :math:`1-\beta_1` every step; fnn keeps the paper's
    :math:`v_t = \beta_1 v_{t-1} + g_t` (the test suite shows the trajectories agree up to
    and including the first SGD step and differ only by that). (2) It switches the whole
    param group, at the first parameter that passes the test, to that parameter's
    :math:`\Lambda`; fnn switches each parameter array on its own statistic.

    Paper: Keskar & Socher, "Improving Generalization Performance by Switching from Adam to
    SGD", arXiv:1712.07628 (2017).
    """
    defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                    amsgrad=amsgrad, nesterov=nesterov)
    return build(RULE, defaults, param_groups, _validate)
