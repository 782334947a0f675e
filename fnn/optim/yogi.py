"""Yogi: additive (sign-controlled) second-moment updates (Zaheer et al., 2018)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import jax.numpy as jnp
import optax

from ._engine import Rule, build, cast, weight_decay
from ._extended import check_adam_like

__all__ = ["yogi"]


def _init(p, hp):
    # the paper's m_0 = 0; torch-optimizer also starts exp_avg at initial_accumulator
    return {"exp_avg": jnp.zeros_like(p),
            "exp_avg_sq": jnp.full_like(p, hp["initial_accumulator"])}


def _update(p, g, s, hp, t):
    lr, (beta1, beta2), eps = hp["lr"], hp["betas"], hp["eps"]
    p, g = weight_decay(p, g, lr, hp["weight_decay"])
    m = cast(beta1, p) * s["exp_avg"] + cast(1 - beta1, p) * g
    g2 = g * g
    v = s["exp_avg_sq"] - cast(1 - beta2, p) * jnp.sign(s["exp_avg_sq"] - g2) * g2
    bias_correction1 = 1 - beta1**t
    bias_correction2 = 1 - beta2**t
    denom = jnp.sqrt(v) / cast(jnp.sqrt(bias_correction2), p) + cast(eps, p)
    return p - cast(lr / bias_correction1, p) * (m / denom), {"exp_avg": m, "exp_avg_sq": v}


RULE = Rule("Yogi", _init, _update,
            sequences=("betas",))


def yogi(
    lr: Any = 1e-2,
    betas: tuple[float, float] = (0.9, 0.999),
    eps: float = 1e-3,
    initial_accumulator: float = 1e-6,
    weight_decay: float = 0,
    *,
    param_groups: Sequence[Mapping[str, Any]] | None = None,
) -> optax.GradientTransformationExtraArgs:
    r"""Yogi, as in the paper: Adam whose second moment moves additively.

    .. math::
        g_t &= \nabla f(\theta_{t-1}) + \lambda\theta_{t-1} \\
        m_t &= \beta_1 m_{t-1} + (1-\beta_1) g_t, \qquad m_0 = 0 \\
        v_t &= v_{t-1} - (1-\beta_2)\,\operatorname{sign}(v_{t-1} - g_t^2)\, g_t^2,
              \qquad v_0 = \texttt{initial\_accumulator} \\
        \theta_t &= \theta_{t-1} - \frac{\gamma}{1-\beta_1^t}\,
              \frac{m_t}{\sqrt{v_t}/\sqrt{1-\beta_2^t} + \epsilon}

    State: ``exp_avg``, ``exp_avg_sq``. Reference: ``torch_optimizer.Yogi`` (0.3.0), same
    arguments and defaults, with one deliberate difference: torch-optimizer also starts
    ``exp_avg`` at ``initial_accumulator``; fnn starts it at 0 as Algorithm 2 of the paper
    does (the test suite shows this is the only difference).

    Paper: Zaheer, Reddi, Sachan, Kale, Kumar, "Adaptive Methods for Nonconvex
    Optimization", NeurIPS 2018.
    """
    defaults = dict(lr=lr, betas=betas, eps=eps, initial_accumulator=initial_accumulator,
                    weight_decay=weight_decay)
    return build(RULE, defaults, param_groups, check_adam_like)
