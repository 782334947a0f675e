"""QHAdam: quasi-hyperbolic Adam (Ma & Yarats, 2019)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import jax.numpy as jnp
import optax

from ._engine import Rule, build, cast, hyper_dtype, weight_decay
from ._extended import check_adam_like

__all__ = ["qhadam"]


def _init(p, hp):
    zero = jnp.zeros((), hyper_dtype())
    return {"beta1_weight": zero, "beta2_weight": zero,
            "exp_avg": jnp.zeros_like(p), "exp_avg_sq": jnp.zeros_like(p)}


def _update(p, g, s, hp, t):
    lr, (beta1, beta2), (nu1, nu2), eps = hp["lr"], hp["betas"], hp["nus"], hp["eps"]
    p, g = weight_decay(p, g, lr, hp["weight_decay"], hp["decouple_weight_decay"])
    g2 = g * g
    # w_t = 1 + beta*w_{t-1} = (1 - beta^t)/(1 - beta): beta_adj folds in the bias correction
    w1 = 1 + beta1 * s["beta1_weight"]
    w2 = 1 + beta2 * s["beta2_weight"]
    beta1_adj = 1 - 1 / w1
    beta2_adj = 1 - 1 / w2
    m = s["exp_avg"] * cast(beta1_adj, p) + cast(1 - beta1_adj, p) * g
    v = s["exp_avg_sq"] * cast(beta2_adj, p) + cast(1 - beta2_adj, p) * g2
    avg_grad = m * cast(nu1, p) + cast(1 - nu1, p) * g
    avg_grad_rms = jnp.sqrt(v * cast(nu2, p) + cast(1 - nu2, p) * g2) + cast(eps, p)
    new = {"beta1_weight": w1, "beta2_weight": w2, "exp_avg": m, "exp_avg_sq": v}
    return p - cast(lr, p) * (avg_grad / avg_grad_rms), new


RULE = Rule("QHAdam", _init, _update, static=("decouple_weight_decay",),
            sequences=("betas", "nus"))


def qhadam(
    lr: Any = 1e-3,
    betas: tuple[float, float] = (0.9, 0.999),
    nus: tuple[float, float] = (1.0, 1.0),
    weight_decay: float = 0.0,
    decouple_weight_decay: bool = False,
    eps: float = 1e-8,
    *,
    param_groups: Sequence[Mapping[str, Any]] | None = None,
) -> optax.GradientTransformationExtraArgs:
    r"""QHAdam: Adam whose numerator and denominator mix the momentum with the raw gradient.

    .. math::
        g_t &= \nabla f(\theta_{t-1}) + \lambda\theta_{t-1}
              \quad(\text{or } \theta_{t-1} \leftarrow \theta_{t-1}(1-\gamma\lambda)
              \text{ if decouple\_weight\_decay}) \\
        \hat m_t &= \text{bias-corrected EMA}_{\beta_1}(g), \qquad
        \hat v_t = \text{bias-corrected EMA}_{\beta_2}(g^2) \\
        \theta_t &= \theta_{t-1} - \gamma\,
            \frac{(1-\nu_1) g_t + \nu_1 \hat m_t}{\sqrt{(1-\nu_2) g_t^2 + \nu_2 \hat v_t} + \epsilon}

    The bias correction is folded into the averaging weights, as in the authors' code:
    :math:`w_t = 1 + \beta w_{t-1}`, :math:`\beta'_t = 1 - 1/w_t`,
    :math:`\hat m_t = \beta'_{1,t}\hat m_{t-1} + (1-\beta'_{1,t}) g_t` (algebraically the
    paper's :math:`m_t/(1-\beta_1^t)`). With ``nus=(1, 1)`` this is Adam. State:
    ``beta1_weight``, ``beta2_weight``, ``exp_avg``, ``exp_avg_sq``.

    Reference: ``torch_optimizer.QHAdam`` (0.3.0; from facebookresearch/qhoptim), same
    arguments and defaults. Paper: Ma & Yarats, "Quasi-hyperbolic momentum and Adam for
    deep learning", ICLR 2019, arXiv:1810.06801.
    """
    defaults = dict(lr=lr, betas=betas, nus=nus, weight_decay=weight_decay,
                    decouple_weight_decay=decouple_weight_decay, eps=eps)
    return build(RULE, defaults, param_groups, check_adam_like)
