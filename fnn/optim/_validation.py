"""Argument checks with torch.optim's exact ``ValueError`` messages.

Values that are tracers (an optimizer built inside ``jax.vmap`` over learning rates, say)
cannot be checked and are let through.
"""

from __future__ import annotations

from typing import Any

import jax
import numpy as np

from ._engine import is_concrete

__all__ = ["check", "check_pair", "check_lr", "check_eps", "check_betas", "check_weight_decay",
           "check_momentum", "check_min", "check_tensor_lr", "check_adam_family", "fmt"]


def fmt(x: Any) -> str:
    """Format a value as torch's f-strings do (``-1.0``, ``(0.9, 0.999)``)."""
    if isinstance(x, jax.core.Tracer):  # unvalidated (see the module docstring): never read it
        return str(type(x).__name__)
    if isinstance(x, np.ndarray) or hasattr(x, "shape") and not isinstance(x, (int, float)):
        try:
            return str(np.asarray(x).item())
        except (ValueError, TypeError):
            return str(np.asarray(x).tolist())
    return str(x)


def _val(x: Any, message: str) -> Any:
    """The concrete value of a hyperparameter to range-check, or ``None`` (a schedule, a
    tracer, a multi-element array). Anything that is not a number at all -- a string,
    ``None``, a list -- is a ``TypeError`` carrying torch's message for the argument."""
    if callable(x):
        return None  # a schedule: checked when evaluated
    if isinstance(x, jax.core.Tracer):
        return None
    if not is_concrete(x) or isinstance(x, bool) or np.asarray(x).dtype.kind not in "iuf":
        raise TypeError(message.format(repr(x)) + f" (expected a number or a schedule, got "
                        f"{type(x).__name__})")
    a = np.asarray(x)
    return a.item() if a.size == 1 else None


def check(ok: bool, message: str) -> None:
    if not ok:
        raise ValueError(message)


def check_pair(x: Any, name: str, n: int = 2) -> None:
    """``x`` must be a tuple (or list) of ``n`` values, such as ``betas=(0.9, 0.999)``."""
    if not isinstance(x, (tuple, list)):
        raise TypeError(f"Invalid {name}: {x!r} (expected a tuple of {n} values)")
    if len(x) != n:
        raise ValueError(f"Invalid {name}: {tuple(x)!r} (expected a tuple of {n} values, got "
                         f"{len(x)})")


def check_tensor_lr(lr: Any) -> None:
    """torch's first check in every optimizer: an array lr must hold one element."""
    if is_concrete(lr) and np.asarray(lr).size != 1:
        raise ValueError("Tensor lr must be 1-element")


def check_min(x: Any, message: str, low: float = 0.0, strict: bool = False) -> None:
    """Raise ``message.format(x)`` unless ``x >= low`` (``x > low`` if ``strict``)."""
    v = _val(x, message)
    if v is not None and not (low < v if strict else low <= v):
        raise ValueError(message.format(fmt(x)))


def check_lr(lr: Any) -> None:
    check_tensor_lr(lr)
    check_min(lr, "Invalid learning rate: {}")


def check_eps(eps: Any) -> None:
    v = _val(eps, "Invalid epsilon value: {}")
    if v is not None and not 0.0 <= v:
        raise ValueError(f"Invalid epsilon value: {fmt(eps)}")


def check_betas(betas: Any) -> None:
    check_pair(betas, "betas")
    for i in (0, 1):
        v = _val(betas[i], f"Invalid beta parameter at index {i}: {{}}")
        if v is not None and not 0.0 <= v < 1.0:
            raise ValueError(f"Invalid beta parameter at index {i}: {fmt(betas[i])}")


def check_weight_decay(wd: Any) -> None:
    v = _val(wd, "Invalid weight_decay value: {}")
    if v is not None and not 0.0 <= v:
        raise ValueError(f"Invalid weight_decay value: {fmt(wd)}")


def check_momentum(momentum: Any) -> None:
    v = _val(momentum, "Invalid momentum value: {}")
    if v is not None and not 0.0 <= v:
        raise ValueError(f"Invalid momentum value: {fmt(momentum)}")


def check_adam_family(hp: Any) -> None:
    """lr, eps, betas, weight_decay: the checks of Adamax, NAdam and RAdam, in torch's order."""
    check_lr(hp["lr"])
    check_eps(hp["eps"])
    check_betas(hp["betas"])
    check_weight_decay(hp["weight_decay"])
