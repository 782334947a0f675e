"""Regression losses: ``l1_loss``, ``mse_loss``, ``huber_loss``, ``smooth_l1_loss``.

All take ``input`` and ``target`` of the same shape (fnn raises where torch warns and
broadcasts) and ``reduction`` in ``'none' | 'mean' | 'sum'``.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np

from .._autocast import autocast_op
from ._reduction import abs_, apply_reduction, check_same_shape, get_reduction, is_concrete

__all__ = ["l1_loss", "mse_loss", "huber_loss", "smooth_l1_loss"]


def _elementwise(fn: str, input: jax.Array, target: jax.Array, reduction: str,
                 size_average: bool | None, reduce_: bool | None, weight: jax.Array | None,
                 elem: Callable[[jax.Array], jax.Array], weighted_mean_by_sum: bool) -> jax.Array:
    """Shared body: validate, ``l = elem(input - target)``, optional weight, reduce.

    With ``weight``, 'mean' is ``sum(w*l)/sum(w)`` (l1, mse) or ``mean(w*l)`` (huber), as torch.
    """
    reduction = get_reduction(fn, reduction, size_average, reduce_)
    check_same_shape(fn, input, target)
    input, target = jnp.asarray(input), jnp.asarray(target)
    loss = elem(input - target)
    if weight is None:
        return apply_reduction(loss, reduction)
    if np.shape(weight) != np.shape(input):
        raise ValueError(f"{fn}: Weights and input must have the same size. "
                         f"Got weight {tuple(np.shape(weight))} and input {tuple(np.shape(input))}.")
    loss = loss * weight
    if reduction == "mean" and weighted_mean_by_sum:
        return jnp.sum(loss) / jnp.sum(weight)
    return apply_reduction(loss, reduction)


@autocast_op("l1_loss")
def l1_loss(input: jax.Array, target: jax.Array, size_average: bool | None = None,
            reduce: bool | None = None, reduction: str = "mean",
            weight: jax.Array | None = None) -> jax.Array:
    r"""Mean absolute error, torch's ``F.l1_loss``: :math:`\ell = |x - y|`.

    With ``weight`` (same shape as ``input``): :math:`\ell = w|x - y|` and ``'mean'`` is
    :math:`\sum w\ell / \sum w`. The gradient at ``x == y`` is 0, as in torch.
    Raises ``ValueError`` if ``target``'s shape differs from ``input``'s (torch warns and broadcasts).
    """
    return _elementwise("l1_loss", input, target, reduction, size_average, reduce, weight,
                        abs_, weighted_mean_by_sum=True)


@autocast_op("mse_loss")
def mse_loss(input: jax.Array, target: jax.Array, size_average: bool | None = None,
             reduce: bool | None = None, reduction: str = "mean",
             weight: jax.Array | None = None) -> jax.Array:
    r"""Mean squared error, torch's ``F.mse_loss``: :math:`\ell = (x - y)^2`.

    With ``weight`` (same shape as ``input``, torch 2.13's new kwarg): :math:`\ell = w(x-y)^2`
    and ``'mean'`` is :math:`\sum w\ell / \sum w`.
    Raises ``ValueError`` if ``target``'s shape differs from ``input``'s (torch warns and broadcasts).
    """
    return _elementwise("mse_loss", input, target, reduction, size_average, reduce, weight,
                        jnp.square, weighted_mean_by_sum=True)


def _check_nonneg(value: float, allow_zero: bool, text: str) -> None:
    """Raise ``ValueError(text)`` for a negative (or zero, unless allowed) concrete value."""
    if is_concrete(value) and (value < 0 or (value == 0 and not allow_zero)):
        raise ValueError(text)


def _huber(d: jax.Array, delta: float | jax.Array) -> jax.Array:
    a = abs_(d)
    return jnp.where(a < delta, 0.5 * d * d, delta * (a - 0.5 * delta))


@autocast_op("huber_loss")
def huber_loss(input: jax.Array, target: jax.Array, reduction: str = "mean", delta: float = 1.0,
               weight: jax.Array | None = None) -> jax.Array:
    r"""Huber loss, torch's ``F.huber_loss`` (Huber 1964, "Robust Estimation of a Location Parameter").

    With :math:`d = x - y`: :math:`\ell = \tfrac12 d^2` if :math:`|d| < \delta`, else
    :math:`\delta(|d| - \tfrac12\delta)`. With ``weight``: :math:`w\ell`, and ``'mean'`` divides
    by the number of elements (not by :math:`\sum w`; torch is inconsistent with l1/mse here and
    fnn follows it). ``delta <= 0`` raises torch's message.
    Raises ``ValueError`` if ``target``'s shape differs from ``input``'s (torch warns and broadcasts).
    """
    _check_nonneg(delta, False,
                  "huber_loss does not support non-positive values for delta.")
    return _elementwise("huber_loss", input, target, reduction, None, None, weight,
                        lambda d: _huber(d, delta), weighted_mean_by_sum=False)


def _smooth_l1(d: jax.Array, beta: float | jax.Array) -> jax.Array:
    a = abs_(d)
    safe_beta = jnp.where(beta > 0, beta, 1.0)
    return jnp.where(a < beta, 0.5 * d * d / safe_beta, a - 0.5 * beta)


@autocast_op("smooth_l1_loss")
def smooth_l1_loss(input: jax.Array, target: jax.Array, size_average: bool | None = None,
                   reduce: bool | None = None, reduction: str = "mean",
                   beta: float = 1.0) -> jax.Array:
    r"""Smooth L1 loss, torch's ``F.smooth_l1_loss`` (Girshick 2015, "Fast R-CNN").

    With :math:`d = x - y`: :math:`\ell = \tfrac12 d^2/\beta` if :math:`|d| < \beta`, else
    :math:`|d| - \tfrac12\beta`. ``beta = 0`` is exactly ``l1_loss``; ``beta < 0`` raises
    torch's message. Equals ``huber_loss(delta=beta) / beta`` for ``beta > 0``.
    Raises ``ValueError`` if ``target``'s shape differs from ``input``'s (torch warns and broadcasts).
    """
    _check_nonneg(beta, True,
                  "smooth_l1_loss does not support negative values for beta.")
    return _elementwise("smooth_l1_loss", input, target, reduction, size_average, reduce, None,
                        lambda d: _smooth_l1(d, beta), weighted_mean_by_sum=False)
