"""Adam (and AMSGrad, and decoupled weight decay): ``torch.optim.Adam``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import jax.numpy as jnp
import optax

from ._engine import Rule, build, cast, is_concrete, lerp, weight_decay
from ._validation import check, check_adam_family

__all__ = ["adam"]


def _init(p, hp):
    s = {"exp_avg": jnp.zeros_like(p), "exp_avg_sq": jnp.zeros_like(p)}
    if hp["amsgrad"]:
        s["max_exp_avg_sq"] = jnp.zeros_like(p)
    return s


def _update(p, g, s, hp, t):
    lr, (beta1, beta2), eps, wd = hp["lr"], hp["betas"], hp["eps"], hp["weight_decay"]
    p, g = weight_decay(p, g, lr, wd, hp["decoupled_weight_decay"])
    m = lerp(s["exp_avg"], g, 1 - beta1)
    v = cast(beta2, p) * s["exp_avg_sq"] + cast(1 - beta2, p) * g * g
    bias_correction1 = 1 - beta1**t
    bias_correction2 = 1 - beta2**t
    step_size = lr / bias_correction1
    new = {"exp_avg": m, "exp_avg_sq": v}
    if hp["amsgrad"]:
        v = jnp.maximum(s["max_exp_avg_sq"], v)  # the max of the raw (uncorrected) v
        new["max_exp_avg_sq"] = v
    denom = jnp.sqrt(v) / cast(jnp.sqrt(bias_correction2), p) + cast(eps, p)
    return p - cast(step_size, p) * m / denom, new


RULE = Rule("Adam", _init, _update, static=("amsgrad", "maximize", "decoupled_weight_decay"),
            sequences=("betas",))


def validate_adam(hp: Mapping[str, Any]) -> None:
    """torch.optim.Adam's checks, in torch's order: the Adam family's
    (``check_adam_family``), then Adam's own betas-type check."""
    check_adam_family(hp)
    b = hp["betas"]
    # torch: both Python floats, or both Tensors (arrays here); a traced value (vmap over
    # one beta) or a schedule cannot be checked and goes with either
    known = [x for x in b if is_concrete(x)]
    check(all(isinstance(x, float) for x in known)
          or all(hasattr(x, "shape") and not isinstance(x, float) for x in known),
          "betas must be either both floats or both Tensors")


def adam(
    lr: Any = 1e-3,
    betas: tuple[float, float] = (0.9, 0.999),
    eps: float = 1e-8,
    weight_decay: float = 0,
    amsgrad: bool = False,
    *,
    maximize: bool = False,
    decoupled_weight_decay: bool = False,
    param_groups: Sequence[Mapping[str, Any]] | None = None,
) -> optax.GradientTransformationExtraArgs:
    r"""Adam, exactly ``torch.optim.Adam`` (single-tensor path).

    .. math::
        g_t &= \pm\nabla f(\theta_{t-1}) + \lambda\theta_{t-1}
              \quad(\text{or } \theta_{t-1} \leftarrow \theta_{t-1}(1-\gamma\lambda)
              \text{ if decoupled}) \\
        m_t &= \beta_1 m_{t-1} + (1-\beta_1) g_t, \qquad
        v_t = \beta_2 v_{t-1} + (1-\beta_2) g_t^2 \\
        \hat v_t &= \max(\hat v_{t-1}, v_t) \text{ (amsgrad, on the raw } v) \\
        \theta_t &= \theta_{t-1} - \frac{\gamma}{1-\beta_1^t}\,
              \frac{m_t}{\sqrt{v_t}/\sqrt{1-\beta_2^t} + \epsilon}

    Note torch adds ``eps`` *after* the bias correction of ``sqrt(v)``. State:
    ``exp_avg``, ``exp_avg_sq`` (and ``max_exp_avg_sq``).

    torch: ``torch.optim.Adam(params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8,
    weight_decay=0, amsgrad=False, maximize=False, decoupled_weight_decay=False)``.
    Papers: Kingma & Ba, "Adam: A Method for Stochastic Optimization" (2014);
    Reddi et al., "On the Convergence of Adam and Beyond" (AMSGrad, 2018).
    """
    defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                    amsgrad=amsgrad, maximize=maximize,
                    decoupled_weight_decay=decoupled_weight_decay)
    return build(RULE, defaults, param_groups, validate_adam)
