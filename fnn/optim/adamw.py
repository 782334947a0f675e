"""AdamW: Adam with decoupled weight decay, ``torch.optim.AdamW``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import optax

from ._engine import build
from .adam import RULE as ADAM_RULE
from .adam import validate_adam

__all__ = ["adamw"]

RULE = ADAM_RULE._replace(name="AdamW")


def adamw(
    lr: Any = 1e-3,
    betas: tuple[float, float] = (0.9, 0.999),
    eps: float = 1e-8,
    weight_decay: float = 1e-2,
    amsgrad: bool = False,
    *,
    maximize: bool = False,
    param_groups: Sequence[Mapping[str, Any]] | None = None,
) -> optax.GradientTransformationExtraArgs:
    r"""AdamW, exactly ``torch.optim.AdamW``: :func:`fnn.optim.adam` with
    ``decoupled_weight_decay=True`` (and torch's default ``weight_decay=1e-2``).

    .. math::
        \theta_{t-1} &\leftarrow \theta_{t-1}(1 - \gamma\lambda) \\
        m_t &= \beta_1 m_{t-1} + (1-\beta_1) g_t, \qquad v_t = \beta_2 v_{t-1} + (1-\beta_2) g_t^2 \\
        \theta_t &= \theta_{t-1} - \frac{\gamma}{1-\beta_1^t}\,
              \frac{m_t}{\sqrt{v_t}/\sqrt{1-\beta_2^t} + \epsilon}

    The decay uses the current ``lr`` (not the bias-corrected step). State: ``exp_avg``,
    ``exp_avg_sq`` (and ``max_exp_avg_sq`` with amsgrad).

    torch: ``torch.optim.AdamW(params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8,
    weight_decay=1e-2, amsgrad=False, maximize=False)``. Paper: Loshchilov & Hutter,
    "Decoupled Weight Decay Regularization" (ICLR 2019).
    """
    defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                    amsgrad=amsgrad, maximize=maximize, decoupled_weight_decay=True)
    return build(RULE, defaults, param_groups, validate_adam)
