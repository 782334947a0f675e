"""``dropout`` and ``dropout2d`` with an explicit PRNG key (torch uses a global generator)."""

from __future__ import annotations

import math
import numbers
import warnings

import jax
import jax.numpy as jnp

__all__ = ["dropout", "dropout2d", "dropout1d", "dropout3d", "alpha_dropout",
           "feature_alpha_dropout"]


# SELU's -lambda * alpha: the value a dropped SELU unit saturates to (torch's alpha)
_ALPHA_PRIME = 1.7580993408473766


def _check_p(p: float) -> None:
    if isinstance(p, bool) or not isinstance(p, numbers.Real):
        raise TypeError(f"dropout probability has to be a number between 0 and 1, but got "
                        f"{type(p).__name__} {p!r}")
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")


def _masked(input: jax.Array, p: float, key: jax.Array | None, mask_shape: tuple[int, ...],
            who: str, alpha: bool = False) -> jax.Array:
    """``input * (mask / (1 - p))`` with ``mask ~ Bernoulli(1 - p)`` of ``mask_shape`` (broadcast),
    torch's ``_dropout`` formula; ``p = 1`` gives zeros, ``p = 0`` the input unchanged.

    ``alpha``: torch's ``_dropout_impl`` with ``alpha_dropout=True`` instead,
    ``a * (x * keep + alpha'(keep - 1)) + alpha' a p``, which keeps zero mean and unit
    variance for SELU activations."""
    if p == 0.0:
        return input
    if p == 1.0:
        return input * jnp.zeros((), input.dtype)
    if key is None:
        raise ValueError(f"{who} in training mode needs a PRNG key: pass key=jax.random.key(...) "
                         "(or training=False)")
    keep = jax.random.bernoulli(key, 1.0 - p, mask_shape).astype(input.dtype)
    if not alpha:
        return input * (keep / (1.0 - p))
    a = 1.0 / math.sqrt((_ALPHA_PRIME ** 2 * p + 1) * (1 - p))
    return input * (keep * a) + ((keep - 1) * (_ALPHA_PRIME * a) + _ALPHA_PRIME * a * p)


def dropout(input: jax.Array, p: float = 0.5, training: bool = True, inplace: bool = False, *,
            key: jax.Array | None = None) -> jax.Array:
    r"""Zero each element with probability ``p`` and scale the rest by :math:`1/(1-p)`
    (``F.dropout``; Srivastava et al. 2014, *Dropout: A Simple Way to Prevent Neural Networks
    from Overfitting*).

    ``key``: a ``jax.random.key``, required when ``training`` and ``0 < p < 1``; the same key
    gives the same mask. ``training=False`` returns ``input``. ``inplace`` is accepted for
    torch compatibility and ignored. ``p`` must be a Python number (not traced).
    """
    _check_p(p)
    if not training:
        return input
    return _masked(input, p, key, input.shape, "dropout")


def dropout2d(input: jax.Array, p: float = 0.5, training: bool = True, inplace: bool = False, *,
              key: jax.Array | None = None) -> jax.Array:
    r"""Zero whole channels (``input[n, c]``) with probability ``p``, scale the rest by
    :math:`1/(1-p)` (``F.dropout2d``; Tompson et al. 2015, *Efficient Object Localization
    Using Convolutional Networks*).

    As torch 2.13 does, the mask has shape ``(N, C, 1, ...)``: dims 0 and 1 are batch and
    channel for any input rank (a 3-D input is read as ``(N, C, L)``, torch's historical
    behaviour, not as an unbatched ``(C, H, W)``).
    """
    _check_p(p)
    if input.ndim < 2:
        raise ValueError(f"dropout2d: expected an input with at least 2 dimensions (N, C, ...), "
                         f"got shape {tuple(input.shape)}")
    if not training:
        return input
    return _masked(input, p, key, input.shape[:2] + (1,) * (input.ndim - 2), "dropout2d")


# ---------------------------------------------------------------------- issue 18 (layers-b)
def _feature_dropout(input: jax.Array, p: float, training: bool, key: jax.Array | None,
                     who: str, batched_ndim: int) -> jax.Array:
    """Channel dropout of an input with an optional batch dim (``batched_ndim`` when batched)."""
    if not training:
        return input
    if input.ndim == batched_ndim - 1:
        return _masked(input[None], p, key, (1, input.shape[0]) + (1,) * (input.ndim - 1),
                       who)[0]
    return _masked(input, p, key, input.shape[:2] + (1,) * (input.ndim - 2), who)


def dropout1d(input: jax.Array, p: float = 0.5, training: bool = True, inplace: bool = False, *,
              key: jax.Array | None = None) -> jax.Array:
    r"""Zero whole channels of ``(N, C, L)`` or ``(C, L)`` inputs with probability ``p``, scale
    the rest by :math:`1/(1-p)` (``F.dropout1d``; Tompson et al. 2015)."""
    _check_p(p)
    if input.ndim not in (2, 3):
        raise ValueError(
            f"dropout1d: Expected 2D or 3D input, but received a {input.ndim}D input. Note that "
            "dropout1d exists to provide channel-wise dropout on inputs with 1 spatial dimension, "
            "a channel dimension, and an optional batch dimension (i.e. 2D or 3D inputs).")
    return _feature_dropout(input, p, training, key, "dropout1d", 3)


def dropout3d(input: jax.Array, p: float = 0.5, training: bool = True, inplace: bool = False, *,
              key: jax.Array | None = None) -> jax.Array:
    r"""Zero whole channels of ``(N, C, D, H, W)`` or ``(C, D, H, W)`` inputs with probability
    ``p``, scale the rest by :math:`1/(1-p)` (``F.dropout3d``; Tompson et al. 2015). Other
    ranks warn as in torch (and are read as unbatched)."""
    _check_p(p)
    if input.ndim not in (4, 5):
        warnings.warn(
            f"dropout3d: Received a {input.ndim}-D input to dropout3d, which is deprecated and "
            "will result in an error in a future release. To retain the behavior and silence "
            "this warning, please use dropout instead. Note that dropout3d exists to provide "
            "channel-wise dropout on inputs with 3 spatial dimensions, a channel dimension, and "
            "an optional batch dimension (i.e. 4D or 5D inputs).", stacklevel=2)
    if not training:
        return input
    if input.ndim != 5:
        return _feature_dropout(input[None], p, True, key, "dropout3d", 2)[0]
    return _feature_dropout(input, p, True, key, "dropout3d", 5)


def _alpha(input: jax.Array, p: float, training: bool, key: jax.Array | None,
           mask_shape: tuple[int, ...], who: str) -> jax.Array:
    if not training or input.size == 0:
        return input
    return _masked(input, p, key, mask_shape, who, alpha=True)


def alpha_dropout(input: jax.Array, p: float = 0.5, training: bool = False,
                  inplace: bool = False, *, key: jax.Array | None = None) -> jax.Array:
    r"""Alpha dropout (``F.alpha_dropout``; Klambauer et al. 2017, *Self-Normalizing Neural
    Networks*): each element is kept with probability :math:`1-p`, dropped ones are set to
    :math:`-\lambda\alpha`, then an affine map :math:`a(\cdot) + b` with
    :math:`a = ((1-p)(1 + p\alpha'^2))^{-1/2}` restores zero mean and unit variance.
    Note torch's default ``training=False``."""
    _check_p(p)
    return _alpha(input, p, training, key, input.shape, "alpha_dropout")


def feature_alpha_dropout(input: jax.Array, p: float = 0.5, training: bool = False,
                          inplace: bool = False, *, key: jax.Array | None = None) -> jax.Array:
    r""":func:`alpha_dropout` of whole channels (mask shape ``(N, C, 1, ...)``;
    ``F.feature_alpha_dropout``)."""
    _check_p(p)
    if training and 0.0 < p and input.ndim < 2:
        raise ValueError("Feature dropout requires at least 2 dimensions in the input")
    shape = input.shape[:2] + (1,) * (input.ndim - 2)
    return _alpha(input, p, training, key, shape, "feature_alpha_dropout")
