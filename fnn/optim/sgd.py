"""SGD with momentum, dampening, Nesterov and weight decay: ``torch.optim.SGD``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import jax.numpy as jnp
import optax

from ._engine import Rule, build, cast, is_concrete, weight_decay
from ._validation import check, check_lr, check_momentum, check_weight_decay
from .spec import StateSpec

__all__ = ["sgd"]


def _init(p, hp):
    # torch keeps a momentum_buffer only where momentum != 0 (a traced momentum: keep one)
    m = hp["momentum"]
    has_buffer = not (is_concrete(m) and float(m) == 0)
    return {"momentum_buffer": jnp.zeros_like(p)} if has_buffer else {}


def _update(p, g, s, hp, t):
    lr, mu, damp, wd = hp["lr"], hp["momentum"], hp["dampening"], hp["weight_decay"]
    p, g = weight_decay(p, g, lr, wd)
    if "momentum_buffer" in s:
        old = s["momentum_buffer"]
        # torch: the first step copies g into the buffer, with no dampening
        buf = jnp.where(t == 1, g, cast(mu, p) * old + cast(1 - damp, p) * g)
        # torch tests `momentum != 0` at every step: set to 0 between steps, the step is
        # plain SGD and the buffer is left as it was
        on = mu != 0
        buf = jnp.where(on, buf, old)
        g = jnp.where(on, g + cast(mu, p) * buf if hp["nesterov"] else buf, g)
        s = {"momentum_buffer": buf}
    return p - cast(lr, p) * g, s


RULE = Rule("SGD", _init, _update, static=("nesterov", "maximize"),
            spec=StateSpec(step="none", switches={"momentum": "momentum_buffer"}))


def _validate(hp: Mapping[str, Any]) -> None:
    check_lr(hp["lr"])
    check_momentum(hp["momentum"])
    check_weight_decay(hp["weight_decay"])
    if hp["nesterov"]:
        mu, damp = hp["momentum"], hp["dampening"]
        # a schedule or a traced value cannot be checked now (as in _validation)
        bad = (is_concrete(mu) and mu <= 0) or (is_concrete(damp) and damp != 0)
        check(not bad, "Nesterov momentum requires a momentum and zero dampening")


def sgd(
    lr: Any = 1e-3,
    momentum: float = 0,
    dampening: float = 0,
    weight_decay: float = 0,
    nesterov: bool = False,
    *,
    maximize: bool = False,
    param_groups: Sequence[Mapping[str, Any]] | None = None,
) -> optax.GradientTransformationExtraArgs:
    r"""Stochastic gradient descent, exactly ``torch.optim.SGD``.

    .. math::
        g_t &= \pm\nabla_\theta f(\theta_{t-1}) + \lambda\theta_{t-1} \\
        b_t &= \begin{cases} g_t & t = 1 \\ \mu b_{t-1} + (1-\tau) g_t & t > 1\end{cases} \\
        \theta_t &= \theta_{t-1} - \gamma\,(g_t + \mu b_t \text{ if nesterov else } b_t)

    (without momentum, :math:`\theta_t = \theta_{t-1} - \gamma g_t`). This is torch's
    convention ``v = mu*v + g; p -= lr*v`` (not Sutskever's ``v = mu*v + lr*g``); the
    buffer exists only where ``momentum != 0`` (``state["momentum_buffer"]``).

    torch: ``torch.optim.SGD(params, lr=1e-3, momentum=0, dampening=0, weight_decay=0,
    nesterov=False, maximize=False)``. Nesterov: Sutskever et al., "On the importance of
    initialization and momentum in deep learning" (ICML 2013).
    """
    defaults = dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
                    nesterov=nesterov, maximize=maximize)
    return build(RULE, defaults, param_groups, _validate)
