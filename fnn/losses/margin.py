"""Margin and embedding losses, plus ``pairwise_distance`` and ``cosine_similarity``.

Hinges use torch's gradient conventions: the C++ kernels of ``multi_margin_loss`` and
``multilabel_margin_loss`` count a term only where it is strictly positive; the
``clamp_min(0)`` based losses (hinge, ranking, cosine, triplet) pass the gradient at 0.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np

from .._autocast import autocast_op
from ._reduction import (
    apply_reduction,
    check_same_shape,
    clamp_min0,
    clamp_min_straight_through,
    get_reduction,
    is_concrete,
    relu_strict,
    safe_norm,
)

__all__ = ["multi_margin_loss", "multilabel_margin_loss", "hinge_embedding_loss",
           "cosine_embedding_loss", "margin_ranking_loss", "triplet_margin_loss",
           "triplet_margin_with_distance_loss", "pairwise_distance", "cosine_similarity"]


@autocast_op("pairwise_distance")
def pairwise_distance(x1: jax.Array, x2: jax.Array, p: float = 2.0, eps: float = 1e-6,
                      keepdim: bool = False) -> jax.Array:
    r""":math:`\|x_1 - x_2 + \varepsilon\|_p` over the last dim, torch's ``F.pairwise_distance``
    (``eps`` is added to the difference, as torch does). The gradient is 0 where the norm is 0."""
    x1, x2 = jnp.asarray(x1), jnp.asarray(x2)
    d = x1 - x2 + eps
    if d.ndim == 0:
        return safe_norm(d[None], p, axis=-1, keepdims=False)
    return safe_norm(d, p, axis=-1, keepdims=keepdim)


@autocast_op("cosine_similarity")
def cosine_similarity(x1: jax.Array, x2: jax.Array, dim: int = 1, eps: float = 1e-8) -> jax.Array:
    r""":math:`\sum (x_1/\max(\|x_1\|, \varepsilon)) (x_2/\max(\|x_2\|, \varepsilon))` along ``dim``,
    torch's ``F.cosine_similarity`` (inputs broadcast). As in torch the norms are clamped
    without gradient: the gradient flows through the unclamped norm."""
    x1, x2 = jnp.broadcast_arrays(jnp.asarray(x1), jnp.asarray(x2))
    n1 = clamp_min_straight_through(safe_norm(x1, 2, axis=dim, keepdims=True), eps)
    n2 = clamp_min_straight_through(safe_norm(x2, 2, axis=dim, keepdims=True), eps)
    return jnp.sum((x1 / n1) * (x2 / n2), axis=dim)


def _check_margin_positive(margin: float) -> None:
    if is_concrete(margin) and margin <= 0:
        raise ValueError(f"margin must be greater than 0, got {margin}")


def _check_same_ndim(fn: str, **arrays: jax.Array) -> None:
    dims = {k: np.ndim(v) for k, v in arrays.items()}
    if len(set(dims.values())) != 1:
        raise ValueError(f"{fn}: The anchor, positive, and negative tensors are expected to have the "
                         "same number of dimensions, but got: "
                         + ", ".join(f"{k} {d}D" for k, d in dims.items()) + " inputs")


def _class_index_target(fn: str, input: jax.Array, target: jax.Array) -> None:
    if input.ndim not in (1, 2) or target.shape != input.shape[:-1]:
        raise ValueError(f"{fn}: expected input (C) or (N, C) and target () or (N), got input "
                         f"{input.shape} and target {target.shape}")
    if is_concrete(target) and target.size:
        t = np.asarray(target)
        if t.min() < 0 or t.max() >= input.shape[-1]:
            raise IndexError(f"{fn}: target out of range [0, {input.shape[-1]}): {t.tolist()}")


@autocast_op("multi_margin_loss")
def multi_margin_loss(input: jax.Array, target: jax.Array, p: int = 1, margin: float = 1.0,
                      weight: jax.Array | None = None, size_average: bool | None = None,
                      reduce: bool | None = None, reduction: str = "mean") -> jax.Array:
    r"""Multi-class hinge loss, torch's ``F.multi_margin_loss`` (Weston & Watkins 1999).

    ``input`` ``(N, C)`` or ``(C)``, ``target`` class indices ``(N)`` or ``()``:
    :math:`\ell_n = \tfrac1C \sum_{j \ne y_n} w_{y_n} \max(0, \text{margin} - x_{n,y_n} + x_{n,j})^p`
    with ``p`` in {1, 2}.
    """
    reduction = get_reduction("multi_margin_loss", reduction, size_average, reduce)
    if p not in (1, 2):
        raise ValueError("only p == 1 and p == 2 supported")
    if weight is not None and np.ndim(weight) != 1:
        raise ValueError("weight must be one-dimensional")
    input, target = jnp.asarray(input), jnp.asarray(target)
    if weight is not None and np.shape(weight) != input.shape[-1:]:
        raise ValueError(f"multi_margin_loss: weight must have one entry per class "
                         f"({input.shape[-1:]}), got shape {tuple(np.shape(weight))}")
    _class_index_target("multi_margin_loss", input, target)
    n_classes = input.shape[-1]
    x_y = jnp.take_along_axis(input, target[..., None], axis=-1)
    z = relu_strict(margin - x_y + input)
    z = z if p == 1 else z * z
    if weight is not None:
        z = z * jnp.asarray(weight)[target][..., None]
    not_y = jnp.arange(n_classes) != target[..., None]
    loss = jnp.sum(jnp.where(not_y, z, 0), axis=-1) / n_classes
    return apply_reduction(loss, reduction)


@autocast_op("multilabel_margin_loss")
def multilabel_margin_loss(input: jax.Array, target: jax.Array, size_average: bool | None = None,
                           reduce: bool | None = None, reduction: str = "mean") -> jax.Array:
    r"""Multi-label hinge loss, torch's ``F.multilabel_margin_loss``.

    ``target`` (same shape as ``input``, ``(C)`` or ``(N, C)``) lists class indices, read up
    to the first -1. With :math:`J` those indices:
    :math:`\ell_n = \sum_{j \in J} \sum_{k \notin J} \max(0, 1 - (x_{j} - x_{k})) / C`.
    Implemented with fixed-shape masks (no data-dependent shapes).
    """
    reduction = get_reduction("multilabel_margin_loss", reduction, size_average, reduce)
    check_same_shape("multilabel_margin_loss", input, target)
    input, target = jnp.asarray(input), jnp.asarray(target)
    if input.ndim not in (1, 2):
        raise ValueError(f"multilabel_margin_loss: expected input (C) or (N, C), got {input.shape}")
    n_classes = input.shape[-1]
    if is_concrete(target) and target.size:
        t = np.asarray(target)
        if t.min() < -1 or t.max() >= n_classes:
            raise IndexError(f"multilabel_margin_loss: target values must be in [-1, {n_classes}), "
                             f"got {t.tolist()}")
    valid = jnp.cumprod(target != -1, axis=-1).astype(bool)            # before the first -1
    safe = jnp.where(valid, target, 0)
    onehot = (safe[..., :, None] == jnp.arange(n_classes)) & valid[..., :, None]   # (.., J, C)
    is_target = jnp.any(onehot, axis=-2)                                 # (.., C)
    x_j = jnp.take_along_axis(input, safe, axis=-1)                      # (.., J)
    z = relu_strict(1.0 - x_j[..., :, None] + input[..., None, :])       # (.., J, K)
    mask = valid[..., :, None] & ~is_target[..., None, :]
    loss = jnp.sum(jnp.where(mask, z, 0), axis=(-2, -1)) / n_classes
    return apply_reduction(loss, reduction)


@autocast_op("hinge_embedding_loss")
def hinge_embedding_loss(input: jax.Array, target: jax.Array, margin: float = 1.0,
                         size_average: bool | None = None, reduce: bool | None = None,
                         reduction: str = "mean") -> jax.Array:
    r"""torch's ``F.hinge_embedding_loss``:
    :math:`\ell = [y \ne 1]\max(0, \text{margin} - x) + [y \ne -1]\,x` (a target outside
    {1, -1} gets both terms, as in torch). Raises if the shapes differ."""
    reduction = get_reduction("hinge_embedding_loss", reduction, size_average, reduce)
    check_same_shape("hinge_embedding_loss", input, target)
    input, target = jnp.asarray(input), jnp.asarray(target)
    zeros = jnp.zeros_like(input)
    loss = (jnp.where(target != 1, clamp_min0(margin - input), zeros)
            + jnp.where(target != -1, input, zeros))
    return apply_reduction(loss, reduction)


@autocast_op("cosine_embedding_loss")
def cosine_embedding_loss(input1: jax.Array, input2: jax.Array, target: jax.Array,
                          margin: float = 0, size_average: bool | None = None,
                          reduce: bool | None = None, reduction: str = "mean") -> jax.Array:
    r"""torch's ``F.cosine_embedding_loss``. With
    :math:`\cos = \sum x_1 x_2 / \sqrt{(\sum x_1^2 + 10^{-12})(\sum x_2^2 + 10^{-12})}`:
    :math:`\ell = 1 - \cos` if :math:`y = 1`, :math:`\max(0, \cos - \text{margin})` if
    :math:`y = -1`, 0 otherwise. Inputs ``(N, D)`` with target ``(N)``, or ``(D)`` with ``()``."""
    reduction = get_reduction("cosine_embedding_loss", reduction, size_average, reduce)
    check_same_shape("cosine_embedding_loss", input1, input2, ("input1", "input2"))
    input1, input2, target = jnp.asarray(input1), jnp.asarray(input2), jnp.asarray(target)
    if target.ndim not in (0, 1) or input1.ndim != target.ndim + 1 or (
            target.ndim == 1 and target.shape[0] != input1.shape[0]):
        raise ValueError("cosine_embedding_loss: expected 2D inputs with a 1D target or 1D inputs "
                         f"with a 0D target, got inputs {input1.shape} and target {target.shape}")
    axis = target.ndim
    prod = jnp.sum(input1 * input2, axis=axis)
    mag1 = jnp.sum(input1 * input1, axis=axis) + 1e-12
    mag2 = jnp.sum(input2 * input2, axis=axis) + 1e-12
    cos = prod / jnp.sqrt(mag1 * mag2)
    zeros = jnp.zeros_like(cos)
    loss = (jnp.where(target == 1, 1 - cos, zeros)
            + jnp.where(target == -1, clamp_min0(cos - margin), zeros))
    return apply_reduction(loss, reduction)


@autocast_op("margin_ranking_loss")
def margin_ranking_loss(input1: jax.Array, input2: jax.Array, target: jax.Array,
                        margin: float = 0, size_average: bool | None = None,
                        reduce: bool | None = None, reduction: str = "mean") -> jax.Array:
    r"""torch's ``F.margin_ranking_loss``: :math:`\ell = \max(0, -y(x_1 - x_2) + \text{margin})`.
    All three arguments must have the same shape (no broadcasting)."""
    reduction = get_reduction("margin_ranking_loss", reduction, size_average, reduce)
    shapes = {np.shape(input1), np.shape(input2), np.shape(target)}
    if len(shapes) != 1:
        raise ValueError("margin_ranking_loss : All input tensors should have same dimension but got "
                         f"sizes: input1: {np.shape(input1)}, input2: {np.shape(input2)}, "
                         f"target: {np.shape(target)} ")
    input1, input2, target = jnp.asarray(input1), jnp.asarray(input2), jnp.asarray(target)
    return apply_reduction(clamp_min0(-target * (input1 - input2) + margin), reduction)


def _triplet(anchor: jax.Array, positive: jax.Array, negative: jax.Array,
             dist: Callable[[jax.Array, jax.Array], jax.Array], margin: float, swap: bool,
             reduction: str) -> jax.Array:
    d_pos = dist(anchor, positive)
    d_neg = dist(anchor, negative)
    if swap:
        d_neg = jnp.minimum(d_neg, dist(positive, negative))
    return apply_reduction(clamp_min0(margin + d_pos - d_neg), reduction)


@autocast_op("triplet_margin_loss")
def triplet_margin_loss(anchor: jax.Array, positive: jax.Array, negative: jax.Array,
                        margin: float = 1.0, p: float = 2, eps: float = 1e-6, swap: bool = False,
                        size_average: bool | None = None, reduce: bool | None = None,
                        reduction: str = "mean") -> jax.Array:
    r"""Triplet loss, torch's ``F.triplet_margin_loss`` (Schroff et al. 2015, "FaceNet";
    ``swap``: Balntas et al. 2016).

    :math:`\ell = \max(0, \text{margin} + d(a, p) - d(a, n))` with
    :math:`d(u, v) = \|u - v + \varepsilon\|_p` over the last dim; with ``swap``,
    :math:`d(a, n)` becomes :math:`\min(d(a, n), d(p, n))`.
    """
    reduction = get_reduction("triplet_margin_loss", reduction, size_average, reduce)
    _check_margin_positive(margin)
    _check_same_ndim("triplet_margin_loss", anchor=anchor, positive=positive, negative=negative)
    dist = lambda u, v: pairwise_distance(u, v, p, eps)
    return _triplet(jnp.asarray(anchor), jnp.asarray(positive), jnp.asarray(negative), dist,
                    margin, swap, reduction)


@autocast_op("triplet_margin_with_distance_loss")
def triplet_margin_with_distance_loss(
        anchor: jax.Array, positive: jax.Array, negative: jax.Array, *,
        distance_function: Callable[[jax.Array, jax.Array], jax.Array] | None = None,
        margin: float = 1.0, swap: bool = False, reduction: str = "mean") -> jax.Array:
    r"""torch's ``F.triplet_margin_with_distance_loss``: the triplet loss
    :math:`\max(0, \text{margin} + d(a, p) - d(a, n))` with any ``distance_function``
    (default ``pairwise_distance``)."""
    reduction = get_reduction("triplet_margin_with_distance_loss", reduction)
    _check_margin_positive(margin)
    _check_same_ndim("triplet_margin_with_distance_loss", anchor=anchor, positive=positive,
                     negative=negative)
    if distance_function is not None and not callable(distance_function):
        raise TypeError("triplet_margin_with_distance_loss: distance_function must be a callable "
                        f"d(x1, x2) (or None for pairwise_distance), got {distance_function!r}")
    dist = distance_function if distance_function is not None else pairwise_distance
    return _triplet(jnp.asarray(anchor), jnp.asarray(positive), jnp.asarray(negative), dist,
                    margin, swap, reduction)
