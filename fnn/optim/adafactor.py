"""Adafactor (factored second moments): ``torch.optim.Adafactor``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import jax.numpy as jnp
import optax

from ._engine import Rule, build, cast, hyper_dtype, is_concrete, lerp
from ._validation import check, check_min, check_tensor_lr, fmt

__all__ = ["adafactor"]


def _init(p, hp):
    if p.ndim > 1:  # factored over the last two dims; leading dims are batch dims
        return {"row_var": jnp.zeros(p.shape[:-1] + (1,), p.dtype),
                "col_var": jnp.zeros(p.shape[:-2] + (1,) + p.shape[-1:], p.dtype)}
    return {"variance": jnp.zeros_like(p)}


def _rms(x: jnp.ndarray) -> jnp.ndarray:
    """``||x||_2 / sqrt(numel)``, in the hyperparameter dtype (torch's ``.item()``);
    differentiable at 0."""
    ss = jnp.sum(x * x).astype(hyper_dtype())
    safe = jnp.where(ss > 0, ss, 1.0)
    return jnp.where(ss > 0, jnp.sqrt(safe), 0.0) / jnp.sqrt(x.size)


def _update(p, g, s, hp, t):
    lr, beta2_decay, (eps1, eps2), d, wd = (hp["lr"], hp["beta2_decay"], hp["eps"], hp["d"],
                                             hp["weight_decay"])
    if eps1 is None:
        eps1 = jnp.finfo(p.dtype).eps
    one_minus_beta2 = t**beta2_decay
    rho = jnp.minimum(lr, 1 / jnp.sqrt(t))
    alpha = jnp.maximum(eps2, _rms(p)) * rho  # from the parameter before weight decay
    p = p * cast(1 - lr * wd, p)
    if p.ndim > 1:
        row_mean = jnp.sum(g * g, axis=-1, keepdims=True) / g.shape[-1]
        col_mean = jnp.sum(g * g, axis=-2, keepdims=True) / g.shape[-2]
        row_var = lerp(s["row_var"], row_mean, one_minus_beta2)
        col_var = lerp(s["col_var"], col_mean, one_minus_beta2)
        row_scale = jnp.maximum(jnp.mean(row_var, axis=-2, keepdims=True), cast(eps1, p))
        var_estimate = (row_var @ col_var) / row_scale
        new = {"row_var": row_var, "col_var": col_var}
    else:
        var_estimate = lerp(s["variance"], g * g, one_minus_beta2)
        new = {"variance": var_estimate}
    update = g * jnp.reciprocal(jnp.sqrt(jnp.maximum(var_estimate, cast(eps1 * eps1, p))))
    denom = jnp.maximum(1.0, _rms(update) / d)
    return p - cast(alpha / denom, p) * update, new


RULE = Rule("Adafactor", _init, _update, static=("maximize",),
            sequences=("eps",))


def _validate(hp: Mapping[str, Any]) -> None:
    check_tensor_lr(hp["lr"])
    check_min(hp["lr"], "Learning rate should be >= 0 but is: {}")
    b = hp["beta2_decay"]
    check(not is_concrete(b) or float(b) <= 0.0, f"beta2_decay should be <= 0 but is: {fmt(b)}")
    eps1, eps2 = hp["eps"]
    if eps1 is not None:
        check_min(eps1, "epsilon1 should be >= 0 but is: {}")
    check_min(eps2, "epsilon2 should be >= 0 but is: {}")
    check_min(hp["d"], "Clipping threshold d should be >= 1 but is: {}", low=1.0)
    check_min(hp["weight_decay"], "weight_decay should be >= 0 but is: {}")


def adafactor(
    lr: Any = 1e-2,
    beta2_decay: float = -0.8,
    eps: tuple[float | None, float] = (None, 1e-3),
    d: float = 1.0,
    weight_decay: float = 0.0,
    *,
    maximize: bool = False,
    param_groups: Sequence[Mapping[str, Any]] | None = None,
) -> optax.GradientTransformationExtraArgs:
    r"""Adafactor, exactly ``torch.optim.Adafactor``.

    .. math::
        \hat\beta_{2,t} &= 1 - t^{c}, \qquad \rho_t = \min(\gamma, 1/\sqrt t), \qquad
        \alpha_t = \max(\epsilon_2, \mathrm{RMS}(\theta_{t-1}))\,\rho_t \\
        R_t &= \hat\beta_{2,t} R_{t-1} + (1-\hat\beta_{2,t})\,\mathrm{mean}_{-1}(g_t^2), \quad
        C_t = \hat\beta_{2,t} C_{t-1} + (1-\hat\beta_{2,t})\,\mathrm{mean}_{-2}(g_t^2) \\
        V_t &= R_t C_t / \max(\mathrm{mean}(R_t), \epsilon_1)
            \quad(\text{1-d and 0-d params: } V_t = \text{EMA of } g_t^2) \\
        U_t &= g_t / \sqrt{\max(V_t, \epsilon_1^2)}, \qquad
        \theta_t = \theta_{t-1}(1-\gamma\lambda) - \frac{\alpha_t}{\max(1, \mathrm{RMS}(U_t)/d)} U_t

    with ``c = beta2_decay`` and ``eps1 = None`` meaning the parameter dtype's machine
    epsilon. Weight decay is decoupled. State: ``row_var`` and ``col_var`` (params with
    more than one dim, factored over the last two) or ``variance``.

    torch: ``torch.optim.Adafactor(params, lr=1e-2, beta2_decay=-0.8, eps=(None, 1e-3),
    d=1.0, weight_decay=0.0, maximize=False)``. Paper: Shazeer & Stern, "Adafactor: Adaptive
    Learning Rates with Sublinear Memory Cost" (ICML 2018).
    """
    defaults = dict(lr=lr, beta2_decay=beta2_decay, eps=eps, d=d,
                    weight_decay=weight_decay, maximize=maximize)
    return build(RULE, defaults, param_groups, _validate)
