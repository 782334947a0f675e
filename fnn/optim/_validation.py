"""Argument checks with torch.optim's exact ``ValueError`` messages.

Values that are tracers (an optimizer built inside ``jax.vmap`` over learning rates, say)
cannot be checked and are let through.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._engine import is_concrete

__all__ = ["check", "check_lr", "check_eps", "check_betas", "check_weight_decay",
           "check_momentum", "fmt"]


def fmt(x: Any) -> str:
    """Format a value as torch's f-strings do (``-1.0``, ``(0.9, 0.999)``)."""
    if isinstance(x, np.ndarray) or hasattr(x, "shape") and not isinstance(x, (int, float)):
        try:
            return str(np.asarray(x).item())
        except (ValueError, TypeError):
            return str(np.asarray(x).tolist())
    return str(x)


def _val(x: Any) -> Any:
    if callable(x):
        return None  # a schedule: checked when evaluated
    if not is_concrete(x):
        return None
    a = np.asarray(x)
    return a.item() if a.size == 1 else None


def check(ok: bool, message: str) -> None:
    if not ok:
        raise ValueError(message)


def check_lr(lr: Any) -> None:
    if is_concrete(lr) and np.asarray(lr).size != 1:
        raise ValueError("Tensor lr must be 1-element")
    v = _val(lr)
    if v is not None and not 0.0 <= v:
        raise ValueError(f"Invalid learning rate: {fmt(lr)}")


def check_eps(eps: Any) -> None:
    v = _val(eps)
    if v is not None and not 0.0 <= v:
        raise ValueError(f"Invalid epsilon value: {fmt(eps)}")


def check_betas(betas: Any) -> None:
    for i in (0, 1):
        v = _val(betas[i])
        if v is not None and not 0.0 <= v < 1.0:
            raise ValueError(f"Invalid beta parameter at index {i}: {fmt(betas[i])}")


def check_weight_decay(wd: Any) -> None:
    v = _val(wd)
    if v is not None and not 0.0 <= v:
        raise ValueError(f"Invalid weight_decay value: {fmt(wd)}")


def check_momentum(momentum: Any) -> None:
    v = _val(momentum)
    if v is not None and not 0.0 <= v:
        raise ValueError(f"Invalid momentum value: {fmt(momentum)}")
