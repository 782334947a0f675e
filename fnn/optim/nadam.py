"""NAdam (Adam with Nesterov momentum and a momentum schedule): ``torch.optim.NAdam``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import jax.numpy as jnp
import optax

from ._engine import Rule, build, cast, hyper_dtype, lerp, torch_scalar, weight_decay
from ._validation import check_adam_family, check_min
from .spec import StateSpec

__all__ = ["nadam"]


def _init(p, hp):
    return {"mu_product": torch_scalar(1.0), "exp_avg": jnp.zeros_like(p),
            "exp_avg_sq": jnp.zeros_like(p)}


def _update(p, g, s, hp, t):
    lr, (beta1, beta2), eps, wd = hp["lr"], hp["betas"], hp["eps"], hp["weight_decay"]
    psi = hp["momentum_decay"]
    bias_correction2 = 1 - beta2**t
    p, g = weight_decay(p, g, lr, wd, hp["decoupled_weight_decay"])
    mu = beta1 * (1 - 0.5 * 0.96 ** (t * psi))
    mu_next = beta1 * (1 - 0.5 * 0.96 ** ((t + 1) * psi))
    # torch: `mu_product *= mu` on a float32 0-d tensor, rounded every step
    mu_product = s["mu_product"] * torch_scalar(mu)
    prod = mu_product.astype(hyper_dtype())
    m = lerp(s["exp_avg"], g, 1 - beta1)
    v = cast(beta2, p) * s["exp_avg_sq"] + cast(1 - beta2, p) * g * g
    denom = jnp.sqrt(v / cast(bias_correction2, p)) + cast(eps, p)
    p = p - cast(lr * (1 - mu) / (1 - prod), p) * g / denom
    p = p - cast(lr * mu_next / (1 - prod * mu_next), p) * m / denom
    return p, {"mu_product": mu_product, "exp_avg": m, "exp_avg_sq": v}


RULE = Rule("NAdam", _init, _update, static=("maximize", "decoupled_weight_decay"),
            sequences=("betas",), spec=StateSpec(scalars=("mu_product",)))


def _validate(hp: Mapping[str, Any]) -> None:
    check_adam_family(hp)
    check_min(hp["momentum_decay"], "Invalid momentum_decay value: {}")


def nadam(
    lr: Any = 2e-3,
    betas: tuple[float, float] = (0.9, 0.999),
    eps: float = 1e-8,
    weight_decay: float = 0,
    momentum_decay: float = 4e-3,
    decoupled_weight_decay: bool = False,
    *,
    maximize: bool = False,
    param_groups: Sequence[Mapping[str, Any]] | None = None,
) -> optax.GradientTransformationExtraArgs:
    r"""NAdam, exactly ``torch.optim.NAdam``.

    .. math::
        \mu_t &= \beta_1\bigl(1 - \tfrac12\, 0.96^{t\psi}\bigr), \qquad
        P_t = \prod_{i \le t} \mu_i \\
        m_t &= \beta_1 m_{t-1} + (1-\beta_1) g_t, \qquad v_t = \beta_2 v_{t-1} + (1-\beta_2) g_t^2 \\
        d_t &= \sqrt{v_t / (1-\beta_2^t)} + \epsilon \\
        \theta_t &= \theta_{t-1} - \frac{\gamma(1-\mu_t)}{1-P_t}\frac{g_t}{d_t}
                   - \frac{\gamma\mu_{t+1}}{1-P_t\mu_{t+1}}\frac{m_t}{d_t}

    with ``g_t`` including L2 weight decay, or ``theta`` shrunk by ``1 - lr*wd`` first when
    ``decoupled_weight_decay`` (NAdamW). As in torch, ``mu_product`` is a float32 scalar
    (torch's default dtype) rounded at every step, even for float64 parameters.
    State: ``mu_product``, ``exp_avg``, ``exp_avg_sq``.

    torch: ``torch.optim.NAdam(params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8,
    weight_decay=0, momentum_decay=4e-3, decoupled_weight_decay=False, maximize=False)``.
    Paper: Dozat, "Incorporating Nesterov Momentum into Adam" (ICLR workshop 2016).
    """
    defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                    momentum_decay=momentum_decay, decoupled_weight_decay=decoupled_weight_decay,
                    maximize=maximize)
    return build(RULE, defaults, param_groups, _validate)
