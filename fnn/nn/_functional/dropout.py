"""``dropout`` and ``dropout2d`` with an explicit PRNG key (torch uses a global generator)."""

from __future__ import annotations

import numbers

import jax
import jax.numpy as jnp

__all__ = ["dropout", "dropout2d"]


def _check_p(p: float) -> None:
    if isinstance(p, bool) or not isinstance(p, numbers.Real):
        raise TypeError(f"dropout probability has to be a number between 0 and 1, but got "
                        f"{type(p).__name__} {p!r}")
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")


def _masked(input: jax.Array, p: float, key: jax.Array | None, mask_shape: tuple[int, ...],
            who: str) -> jax.Array:
    """``input * (mask / (1 - p))`` with ``mask ~ Bernoulli(1 - p)`` of ``mask_shape`` (broadcast),
    torch's ``_dropout`` formula; ``p = 1`` gives zeros, ``p = 0`` the input unchanged."""
    if p == 0.0:
        return input
    if p == 1.0:
        return input * jnp.zeros((), input.dtype)
    if key is None:
        raise ValueError(f"{who} in training mode needs a PRNG key: pass key=jax.random.key(...) "
                         "(or training=False)")
    keep = jax.random.bernoulli(key, 1.0 - p, mask_shape)
    return input * (keep.astype(input.dtype) / (1.0 - p))


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
