"""Classification losses: ``cross_entropy``, ``nll_loss``, ``binary_cross_entropy``,
``binary_cross_entropy_with_logits``, ``soft_margin_loss``, ``multilabel_soft_margin_loss``.

Class-index targets never create data-dependent shapes: ignored positions are masked
(their index is replaced by 0 and their loss and weight by 0). Out-of-range class indices
and BCE inputs outside [0, 1] raise when the values are concrete; under ``jit``/``vmap``
they cannot be checked (out-of-range indices are clamped by the gather, BCE gives NaN).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from .._autocast import autocast_op
from ._reduction import apply_reduction, check_same_shape, get_reduction, is_concrete

__all__ = ["cross_entropy", "nll_loss", "binary_cross_entropy",
           "binary_cross_entropy_with_logits", "soft_margin_loss", "multilabel_soft_margin_loss"]


def _broadcasts(shape: tuple[int, ...], to: tuple[int, ...]) -> bool:
    """Whether an array of ``shape`` broadcasts to exactly ``to`` (numpy rules)."""
    if len(shape) > len(to):
        return False
    return all(s in (1, t) for s, t in zip(shape[::-1], to[::-1]))


# ---------------------------------------------------------------------- class-index helpers
def _class_dim(fn: str, input: jax.Array) -> int:
    if input.ndim == 0:
        raise ValueError(f"{fn}: input must have a class dimension, got a 0-d input")
    return 1 if input.ndim >= 2 else 0


def _check_weight(fn: str, weight: jax.Array | None, n_classes: int) -> jax.Array | None:
    if weight is None:
        return None
    if np.shape(weight) != (n_classes,):
        raise ValueError(f"{fn}: weight tensor should be defined either for all {n_classes} classes "
                         f"or no classes but got weight tensor of shape: {list(np.shape(weight))}")
    return jnp.asarray(weight)


def _check_index_target(fn: str, input: jax.Array, target: jax.Array, class_dim: int,
                        ignore_index: int) -> None:
    expected = input.shape[:class_dim] + input.shape[class_dim + 1:]
    if input.ndim >= 2 and (target.ndim == 0 or target.shape[0] != input.shape[0]):
        raise ValueError(f"Expected input batch_size ({input.shape[0]}) to match target batch_size "
                         f"({target.shape[0] if target.ndim else 0}).")
    if target.shape != expected:
        raise ValueError(f"{fn}: expected target of shape {expected} (input {input.shape} without "
                         f"its class dim {class_dim}), got {target.shape}")
    if not jnp.issubdtype(target.dtype, jnp.integer):
        raise ValueError(f"{fn}: class-index targets must be integers, got {target.dtype}")
    if is_concrete(target) and target.size:
        t = np.asarray(target)
        bad = t[(t != ignore_index) & ((t < 0) | (t >= input.shape[class_dim]))]
        if bad.size:
            raise IndexError(f"Target {int(bad.flat[0])} is out of bounds.")


def _nll_terms(lp: jax.Array, target: jax.Array, weight: jax.Array | None, class_dim: int,
               ignore_index: int) -> tuple[jax.Array, jax.Array, jax.Array]:
    """Per-position ``-w[y] lp[y]`` (0 where ignored), the weights ``w[y]`` (0 where ignored),
    and the 'keep' mask."""
    keep = target != ignore_index
    safe = jnp.where(keep, target, 0)
    picked = jnp.take_along_axis(lp, jnp.expand_dims(safe, class_dim), axis=class_dim)
    picked = jnp.squeeze(picked, class_dim)
    w = jnp.ones_like(picked) if weight is None else weight.astype(lp.dtype)[safe]
    w = jnp.where(keep, w, 0)
    return -w * picked, w, keep


def _weighted_reduce(loss: jax.Array, w: jax.Array, keep: jax.Array, reduction: str) -> jax.Array:
    """torch's index-target reduction: 'mean' is ``sum(loss) / sum(w[y] over kept targets)``.

    If every target is ignored the mean is NaN with a zero gradient (torch's 0/0 forward and
    skipped backward); zero weights on kept targets give NaN value and gradient, as in torch.
    """
    if reduction != "mean":
        return apply_reduction(loss, reduction)
    any_kept = jnp.any(keep)
    denom = jnp.where(any_kept, jnp.sum(w), 1)
    return jnp.sum(loss) / denom + jnp.where(any_kept, 0, jnp.nan).astype(loss.dtype)


@autocast_op("nll_loss")
def nll_loss(input: jax.Array, target: jax.Array, weight: jax.Array | None = None,
             size_average: bool | None = None, ignore_index: int = -100,
             reduce: bool | None = None, reduction: str = "mean") -> jax.Array:
    r"""Negative log-likelihood, torch's ``F.nll_loss``.

    ``input`` holds log-probabilities of shape ``(C)``, ``(N, C)`` or ``(N, C, d1..dK)``;
    ``target`` class indices of shape ``()``, ``(N)`` or ``(N, d1..dK)``.
    :math:`\ell_n = -w_{y_n} x_{n, y_n}`, and 0 where :math:`y_n` is ``ignore_index``.
    ``'mean'`` is :math:`\sum_n \ell_n / \sum_{n \text{ not ignored}} w_{y_n}` (NaN if every
    target is ignored, as in torch; the gradient is then 0).
    """
    reduction = get_reduction("nll_loss", reduction, size_average, reduce)
    input, target = jnp.asarray(input), jnp.asarray(target)
    class_dim = _class_dim("nll_loss", input)
    weight = _check_weight("nll_loss", weight, input.shape[class_dim])
    _check_index_target("nll_loss", input, target, class_dim, ignore_index)
    loss, w, keep = _nll_terms(input, target, weight, class_dim, ignore_index)
    return _weighted_reduce(loss, w, keep, reduction)


@autocast_op("cross_entropy")
def cross_entropy(input: jax.Array, target: jax.Array, weight: jax.Array | None = None,
                  size_average: bool | None = None, ignore_index: int = -100,
                  reduce: bool | None = None, reduction: str = "mean",
                  label_smoothing: float = 0.0) -> jax.Array:
    r"""Cross-entropy of logits, torch's ``F.cross_entropy`` (label smoothing: Szegedy et al.
    2016, "Rethinking the Inception Architecture").

    ``input``: logits ``(C)``, ``(N, C)`` or ``(N, C, d1..dK)`` (classes on dim 1, or 0 when
    unbatched); :math:`lp = \log\mathrm{softmax}(x)` over the class dim. With :math:`\varepsilon`
    = ``label_smoothing`` (negative values act as 0, as in torch):

    * **class indices** (``target`` is input's shape without the class dim):
      :math:`(1-\varepsilon)\,\mathrm{NLL}(lp, y) + \tfrac{\varepsilon}{C} S`,
      :math:`S_n = -\sum_c w_c\, lp_{n,c}`; both terms are 0 at ``ignore_index`` and for
      ``'mean'`` both are divided by :math:`\sum_{n \text{ not ignored}} w_{y_n}` (NaN if all
      targets are ignored).
    * **class probabilities** (``target.shape == input.shape``, floating):
      :math:`q = (1-\varepsilon)\,t + \varepsilon/C`,
      :math:`\ell_n = -\sum_c w_c q_{n,c}\, lp_{n,c}`; ``'mean'`` divides by the number of
      positions ``numel / C`` (not by the weights).
    """
    reduction = get_reduction("cross_entropy", reduction, size_average, reduce)
    input, target = jnp.asarray(input), jnp.asarray(target)
    class_dim = _class_dim("cross_entropy", input)
    n_classes = input.shape[class_dim]
    weight = _check_weight("cross_entropy", weight, n_classes)
    if is_concrete(label_smoothing) and label_smoothing > 1.0:
        raise ValueError(f"label_smoothing must be between 0.0 and 1.0. Got: {label_smoothing}")
    eps = jnp.maximum(label_smoothing, 0.0)
    lp = jax.nn.log_softmax(input, axis=class_dim)
    # class weights broadcast along the class dim
    w_c = 1.0 if weight is None else weight.astype(lp.dtype).reshape(
        (-1,) + (1,) * (input.ndim - class_dim - 1))

    if target.shape == input.shape:
        if not jnp.issubdtype(target.dtype, jnp.floating):
            raise ValueError("Expected floating point type for target with class probabilities, "
                             f"got {target.dtype}")
        if ignore_index >= 0:
            raise ValueError("ignore_index is not supported for floating point target")
        q = (1.0 - eps) * target + eps / n_classes
        loss = -jnp.sum(w_c * q * lp, axis=class_dim)
        return apply_reduction(loss, reduction)

    _check_index_target("cross_entropy", input, target, class_dim, ignore_index)
    nll, w, keep = _nll_terms(lp, target, weight, class_dim, ignore_index)
    smooth = jnp.where(keep, -jnp.sum(w_c * lp, axis=class_dim), 0)
    return ((1.0 - eps) * _weighted_reduce(nll, w, keep, reduction)
            + eps / n_classes * _weighted_reduce(smooth, w, keep, reduction))


# ---------------------------------------------------------------------- binary losses
# torch's kernel clamps with a float32 1e-12 even in float64 (9.99999996e-13)
_BCE_EPS = float(np.float32(1e-12))


@jax.custom_jvp
def _bce(x: jax.Array, y: jax.Array) -> jax.Array:
    """``-(y log x + (1-y) log(1-x))`` with both logs clamped at -100 (torch's CPU kernel)."""
    return (y - 1) * jnp.maximum(jnp.log1p(-x), -100.0) - y * jnp.maximum(jnp.log(x), -100.0)


@_bce.defjvp
def _bce_jvp(primals, tangents):
    # torch's backward: d/dx = (x - y) / max((1 - x) x, EPS); d/dy = log(1-x) - log(x), unclamped
    x, y = primals
    dx, dy = tangents
    gx = (x - y) / jnp.maximum((1 - x) * x, _BCE_EPS)
    gy = jnp.log1p(-x) - jnp.log(x)
    return _bce(x, y), gx * dx + gy * dy


@autocast_op("binary_cross_entropy")
def binary_cross_entropy(input: jax.Array, target: jax.Array, weight: jax.Array | None = None,
                         size_average: bool | None = None, reduce: bool | None = None,
                         reduction: str = "mean") -> jax.Array:
    r"""Binary cross-entropy of probabilities, torch's ``F.binary_cross_entropy``.

    :math:`\ell = -w\,[\,y \max(\log x, -100) + (1-y)\max(\log(1-x), -100)\,]`: the logs are
    clamped at -100 so ``x`` = 0 or 1 stays finite, and the input gradient is torch's
    :math:`w (x - y) / \max(x(1-x), 10^{-12})`. ``weight`` broadcasts against ``target``;
    ``'mean'`` is over all elements (not weight-normalised). Inputs outside [0, 1] raise when
    concrete (torch's message) and give NaN under ``jit``.
    """
    reduction = get_reduction("binary_cross_entropy", reduction, size_average, reduce)
    if np.shape(target) != np.shape(input):
        raise ValueError(f"Using a target size ({tuple(np.shape(target))}) that is different to the "
                         f"input size ({tuple(np.shape(input))}) is deprecated. Please ensure they "
                         "have the same size.")
    input, target = jnp.asarray(input), jnp.asarray(target)
    if is_concrete(input) and input.size and not bool(   # numpy: jnp would be traced under jit
            np.all((np.asarray(input) >= 0) & (np.asarray(input) <= 1))):
        raise ValueError("all elements of input should be between 0 and 1")
    loss = _bce(input, target.astype(input.dtype))
    if weight is not None:
        if not _broadcasts(np.shape(weight), input.shape):
            raise ValueError(f"binary_cross_entropy: weight of shape {tuple(np.shape(weight))} "
                             f"must broadcast to the input shape {input.shape}")
        loss = loss * weight
    return apply_reduction(loss, reduction)


@autocast_op("binary_cross_entropy_with_logits")
def binary_cross_entropy_with_logits(input: jax.Array, target: jax.Array,
                                     weight: jax.Array | None = None,
                                     size_average: bool | None = None, reduce: bool | None = None,
                                     reduction: str = "mean",
                                     pos_weight: jax.Array | None = None) -> jax.Array:
    r"""Sigmoid + binary cross-entropy in one stable step, torch's
    ``F.binary_cross_entropy_with_logits``.

    :math:`\ell = w\,[\,(1-y)x - (1 + (p-1)y)\log\sigma(x)\,]` with :math:`p` = ``pos_weight``
    (broadcast against ``target``, classes on the last dim) and :math:`w` = ``weight``
    (broadcast). This log-sigmoid form is the one torch's kernel uses.
    """
    reduction = get_reduction("binary_cross_entropy_with_logits", reduction, size_average, reduce)
    if np.shape(target) != np.shape(input):
        raise ValueError(f"Target size ({tuple(np.shape(target))}) must be the same as input size "
                         f"({tuple(np.shape(input))})")
    input, target = jnp.asarray(input), jnp.asarray(target).astype(jnp.asarray(input).dtype)
    for name, w in (("weight", weight), ("pos_weight", pos_weight)):
        if w is not None and not _broadcasts(np.shape(w), input.shape):
            raise ValueError(f"binary_cross_entropy_with_logits: {name} of shape "
                             f"{tuple(np.shape(w))} must broadcast to the input shape "
                             f"{input.shape}")
    log_sig = jax.nn.log_sigmoid(input)
    coef = 1.0 if pos_weight is None else 1.0 + (pos_weight - 1.0) * target
    loss = (1.0 - target) * input - coef * log_sig
    if weight is not None:
        loss = loss * weight
    if loss.shape != input.shape:
        raise ValueError(f"binary_cross_entropy_with_logits: weight {np.shape(weight)} / "  # type: ignore[arg-type]
                         f"pos_weight {np.shape(pos_weight)} must broadcast to the input "  # type: ignore[arg-type]
                         f"shape {input.shape}, got {loss.shape}")
    return apply_reduction(loss, reduction)


@autocast_op("soft_margin_loss")
def soft_margin_loss(input: jax.Array, target: jax.Array, size_average: bool | None = None,
                     reduce: bool | None = None, reduction: str = "mean") -> jax.Array:
    r"""Two-class logistic loss, torch's ``F.soft_margin_loss``:
    :math:`\ell = \log(1 + e^{-y x})` with :math:`y \in \{1, -1\}`; 'mean' over all elements.
    Raises ``ValueError`` if ``target``'s shape differs from ``input``'s."""
    reduction = get_reduction("soft_margin_loss", reduction, size_average, reduce)
    check_same_shape("soft_margin_loss", input, target)
    input, target = jnp.asarray(input), jnp.asarray(target)
    return apply_reduction(jax.nn.softplus(-target * input), reduction)


@autocast_op("multilabel_soft_margin_loss")
def multilabel_soft_margin_loss(input: jax.Array, target: jax.Array,
                                weight: jax.Array | None = None,
                                size_average: bool | None = None, reduce: bool | None = None,
                                reduction: str = "mean") -> jax.Array:
    r"""One-vs-all logistic loss, torch's ``F.multilabel_soft_margin_loss``.

    With classes on the last dim (size :math:`C`):
    :math:`\ell_n = -\tfrac1C \sum_c w_c\,[\,y_{nc}\log\sigma(x_{nc}) + (1-y_{nc})\log\sigma(-x_{nc})\,]`;
    'mean'/'sum' reduce over the remaining positions.
    Raises ``ValueError`` if ``target``'s shape differs from ``input``'s.
    """
    reduction = get_reduction("multilabel_soft_margin_loss", reduction, size_average, reduce)
    check_same_shape("multilabel_soft_margin_loss", input, target)
    input, target = jnp.asarray(input), jnp.asarray(target)
    loss = -(target * jax.nn.log_sigmoid(input) + (1 - target) * jax.nn.log_sigmoid(-input))
    if weight is not None and not _broadcasts(np.shape(weight), input.shape):
        raise ValueError(f"multilabel_soft_margin_loss: weight of shape {tuple(np.shape(weight))} "
                         f"must broadcast to the input shape {input.shape} (one weight per class)")
    if weight is not None:
        loss = loss * weight
    loss = jnp.sum(loss, axis=-1) / input.shape[-1]
    return apply_reduction(loss, reduction)
