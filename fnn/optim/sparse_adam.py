"""SparseAdam's lazy Adam update, for dense gradients: ``torch.optim.SparseAdam``.

JAX has no sparse gradients: ``jax.grad`` of an embedding lookup is a dense array that is
zero in the rows that were not looked up. torch's SparseAdam rejects dense gradients
("SparseAdam does not support dense gradients, please consider Adam instead"). fnn keeps
its useful meaning instead: **the gradient's nonzero entries play the role of the sparse
gradient's index set** -- exactly what torch does with ``grad.to_sparse()``. Entries where
the gradient is zero are left alone (parameter and both moments), as torch leaves entries
outside the sparse index set. The one difference from an ``nn.Embedding(sparse=True)``
gradient: an entry that was looked up but has an exactly zero gradient is also skipped
here (torch would decay its moments).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import jax.numpy as jnp
import optax

from ._engine import Rule, build, cast
from ._validation import check_betas, check_min, check_tensor_lr
from .spec import StateSpec

__all__ = ["sparse_adam"]


def _init(p, hp):
    return {"exp_avg": jnp.zeros_like(p), "exp_avg_sq": jnp.zeros_like(p)}


def _update(p, g, s, hp, t):
    lr, (beta1, beta2), eps = hp["lr"], hp["betas"], hp["eps"]
    present = g != 0  # the emulated sparse index set
    m, v = s["exp_avg"], s["exp_avg_sq"]
    m_new = m + (g - m) * cast(1 - beta1, p)
    v_new = v + (g * g - v) * cast(1 - beta2, p)
    step_size = lr * jnp.sqrt(1 - beta2**t) / (1 - beta1**t)
    p_new = p + cast(-step_size, p) * (m_new / (jnp.sqrt(v_new) + cast(eps, p)))
    return jnp.where(present, p_new, p), {"exp_avg": jnp.where(present, m_new, m),
                                          "exp_avg_sq": jnp.where(present, v_new, v)}


RULE = Rule("SparseAdam", _init, _update, static=("maximize",),
            sequences=("betas",), spec=StateSpec(step="int"))


def _validate(hp: Mapping[str, Any]) -> None:
    check_tensor_lr(hp["lr"])
    check_min(hp["lr"], "Invalid learning rate: {}", strict=True)
    check_min(hp["eps"], "Invalid epsilon value: {}", strict=True)
    check_betas(hp["betas"])


def sparse_adam(
    lr: Any = 1e-3,
    betas: tuple[float, float] = (0.9, 0.999),
    eps: float = 1e-8,
    maximize: bool = False,
    *,
    param_groups: Sequence[Mapping[str, Any]] | None = None,
) -> optax.GradientTransformationExtraArgs:
    r"""SparseAdam's lazy update on the nonzero entries of a dense gradient.

    For the entries ``I`` where ``g_t != 0`` (everything else untouched):

    .. math::
        m_I &\leftarrow m_I + (1-\beta_1)(g_I - m_I), \qquad
        v_I \leftarrow v_I + (1-\beta_2)(g_I^2 - v_I) \\
        \theta_I &\leftarrow \theta_I - \gamma\frac{\sqrt{1-\beta_2^t}}{1-\beta_1^t}
            \frac{m_I}{\sqrt{v_I} + \epsilon}

    ``t`` counts every update (as torch's ``step`` does, even for an all-zero gradient);
    ``eps`` is added to the uncorrected ``sqrt(v)``, unlike Adam. This equals torch's
    ``SparseAdam`` fed ``grad.to_sparse()``; see the module docstring for the semantics.
    State: ``exp_avg``, ``exp_avg_sq``.

    torch: ``torch.optim.SparseAdam(params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8,
    maximize=False)``. Paper: Kingma & Ba, "Adam" (2014), with lazy (sparse) updates.
    """
    defaults = dict(lr=lr, betas=betas, eps=eps, maximize=maximize)
    return build(RULE, defaults, param_groups, _validate)
