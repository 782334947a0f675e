"""The one place for ``reduction`` handling, shape checks and small numeric helpers of the losses.

Mirrors ``torch/nn/_reduction.py``: ``'none'`` keeps the elementwise loss, ``'mean'``
averages over all elements, ``'sum'`` adds them up. The legacy ``size_average`` /
``reduce`` arguments are accepted with torch's mapping and its deprecation warning
(``reduce=False`` gives ``'none'``, otherwise ``size_average=False`` gives ``'sum'`` and
anything else ``'mean'``; a ``None`` counts as ``True``).
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from .._check import REDUCTIONS, get_reduction, is_concrete, legacy_get_string

__all__ = ["REDUCTIONS", "get_reduction", "legacy_get_string", "apply_reduction", "check_same_shape", "is_concrete",
           "as_array", "abs_", "clamp_min0", "relu_strict", "safe_norm",
           "clamp_min_straight_through"]

def apply_reduction(loss: jax.Array, reduction: str) -> jax.Array:
    """Apply a validated reduction: ``'none'`` -> ``loss``, ``'mean'`` -> mean of all elements,
    ``'sum'`` -> sum of all elements."""
    if reduction == "none":
        return loss
    if reduction == "sum":
        return jnp.sum(loss)
    return jnp.mean(loss)


def _shape(x: Any) -> tuple[int, ...]:
    return tuple(np.shape(x))


def check_same_shape(fn: str, input: Any, target: Any, names: tuple[str, str] = ("input", "target"),
                     ) -> None:
    """Raise unless ``input`` and ``target`` have the same shape.

    torch only warns and broadcasts here; fnn refuses to broadcast silently.
    """
    if _shape(input) != _shape(target):
        raise ValueError(
            f"{fn}: {names[1]} shape {_shape(target)} differs from {names[0]} shape {_shape(input)}; "
            "fnn does not broadcast them (torch warns and broadcasts, which is almost always a bug). "
            "Please ensure they have the same size.")


def as_array(x: Any, dtype: Any = None) -> jax.Array:
    """``jnp.asarray`` that keeps the input's floating dtype (and maps ints to the default float)."""
    x = jnp.asarray(x)
    if dtype is not None:
        return x.astype(dtype)
    if not jnp.issubdtype(x.dtype, jnp.inexact):
        x = x.astype(jnp.result_type(float))
    return x


def abs_(x: jax.Array) -> jax.Array:
    """``|x|`` whose gradient at 0 is 0, like torch's ``abs`` (``jnp.abs`` gives 1)."""
    return x * jnp.sign(x)


def clamp_min0(x: jax.Array) -> jax.Array:
    """``x.clamp_min(0)`` with torch's gradient (passes at ``x == 0``)."""
    return jnp.where(x >= 0, x, jnp.zeros_like(x))


def relu_strict(x: jax.Array) -> jax.Array:
    """``max(0, x)`` with the gradient of torch's C++ kernels (``if (z > 0)``): 0 at ``x == 0``."""
    return jnp.where(x > 0, x, jnp.zeros_like(x))


def safe_norm(x: jax.Array, p: float, axis: int, keepdims: bool = False) -> jax.Array:
    r""":math:`\|x\|_p` over ``axis`` with torch's ``norm`` gradient (0 where the norm is 0).

    ``p = inf`` is the max of ``|x|``, ``p = 0`` counts nonzeros, other ``p`` use
    :math:`(\sum |x|^p)^{1/p}`.
    """
    a = abs_(x)
    if p == float("inf"):
        return jnp.max(a, axis=axis, keepdims=keepdims)
    if p == 0:
        return jnp.sum((x != 0).astype(x.dtype), axis=axis, keepdims=keepdims)
    if p == 1:
        return jnp.sum(a, axis=axis, keepdims=keepdims)
    if p == 2:
        s = jnp.sum(x * x, axis=axis, keepdims=keepdims)
    else:
        nonzero = a > 0
        a_safe = jnp.where(nonzero, a, jnp.ones_like(a))
        s = jnp.sum(jnp.where(nonzero, a_safe ** p, 0), axis=axis, keepdims=keepdims)
    pos = s > 0
    s_safe = jnp.where(pos, s, jnp.ones_like(s))
    root = jnp.sqrt(s_safe) if p == 2 else s_safe ** (1.0 / p)
    return jnp.where(pos, root, jnp.zeros_like(s))


@jax.custom_jvp
def clamp_min_straight_through(x: jax.Array, lo: float) -> jax.Array:
    """``max(x, lo)`` whose gradient is the identity: torch's ``clamp_`` under ``no_grad``
    on a tensor that still carries the unclamped value's gradient."""
    return jnp.maximum(x, lo)


@clamp_min_straight_through.defjvp
def _clamp_st_jvp(primals, tangents):
    x, lo = primals
    return clamp_min_straight_through(x, lo), tangents[0]
