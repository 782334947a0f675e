"""Local response normalization across channels: ``local_response_norm`` and torch's legacy
``CrossMapLRN2d`` kernel (with its own window and hand-written backward)."""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["local_response_norm", "cross_map_lrn2d"]


def local_response_norm(input: jax.Array, size: int, alpha: float = 1e-4, beta: float = 0.75,
                        k: float = 1.0) -> jax.Array:
    r"""Normalize each element by the squares of its neighbours across channels (dim 1)
    (``F.local_response_norm``; Krizhevsky et al. 2012, *ImageNet Classification with Deep
    Convolutional Neural Networks*):

    :math:`b_c = a_c\left(k + \frac{\alpha}{n}\sum_{c'=c-\lfloor n/2\rfloor}^{c+\lfloor
    (n-1)/2\rfloor} a_{c'}^2\right)^{-\beta}` with ``n = size`` and zero padding at the ends.
    """
    if input.ndim < 3:
        raise ValueError(f"Expected 3D or higher dimensionality                          input "
                         f"(got {input.ndim} dimensions)")
    if input.size == 0:
        return input
    sq = input * input
    pads = [(0, 0)] * input.ndim
    pads[1] = (size // 2, (size - 1) // 2)
    window = (1, size) + (1,) * (input.ndim - 2)
    summed = jax.lax.reduce_window(jnp.pad(sq, pads), 0.0, jax.lax.add,
                                   window, (1,) * input.ndim, "VALID")
    return input / (summed / size * alpha + k) ** beta


def _band(channels: int, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """``M[c, j] = 1`` for ``lo[c] <= j <= hi[c]``."""
    j = np.arange(channels)[None, :]
    return ((j >= lo[:, None]) & (j <= hi[:, None])).astype(np.float64)


def _forward_window(channels: int, size: int) -> np.ndarray:
    """torch's running-sum window: channel ``c`` sums ``[0, c + pre - 1]`` for ``c <= pre``
    and ``{0} U [c - pre + 1, c + pre - 1]`` beyond (channel 0 is never subtracted)."""
    pre = int((size - 1) / 2 + 1)
    c = np.arange(channels)
    m = _band(channels, np.where(c > pre, c - pre + 1, 0), np.minimum(c + pre - 1, channels - 1))
    m[:, 0] = 1.0
    return m


def _scale(x: jax.Array, size: int, alpha: float, k: float) -> jax.Array:
    m = jnp.asarray(_forward_window(x.shape[1], size), x.dtype)
    return jnp.einsum("cj,njhw->nchw", m, x * x) * (alpha / size) + k


@partial(jax.custom_vjp, nondiff_argnums=(1, 2, 3, 4))
def _cross_map(x: jax.Array, size: int, alpha: float, beta: float, k: float) -> jax.Array:
    return x * _scale(x, size, alpha, k) ** -beta


def _cross_map_fwd(x, size, alpha, beta, k):
    scale = _scale(x, size, alpha, k)
    out = x * scale ** -beta
    return out, (x, out, scale)


def _cross_map_bwd(size, alpha, beta, k, res, g):
    x, out, scale = res
    channels = x.shape[1]
    inv_pre = int(size - (size - 1) / 2)
    c = np.arange(channels)
    band = jnp.asarray(_band(channels, c - inv_pre, c + size - 1 - inv_pre), x.dtype)
    accum = jnp.einsum("cj,njhw->nchw", band, g * out / scale)
    return (scale ** -beta * g - (2 * alpha * beta / size) * x * accum,)


_cross_map.defvjp(_cross_map_fwd, _cross_map_bwd)


def cross_map_lrn2d(input: jax.Array, size: int, alpha: float = 1e-4, beta: float = 0.75,
                    k: float = 1.0) -> jax.Array:
    r"""torch's ``CrossMapLRN2d`` (the Lua-torch kernel) on ``(N, C, H, W)`` inputs:
    :math:`b_c = a_c (k + \frac{\alpha}{n} S_c)^{-\beta}` where :math:`S_c` is torch's running
    sum of squares over a window of channels (see the source for its exact, slightly
    asymmetric window). The gradient is torch's hand-written backward, not the derivative of
    the forward, so that gradients match torch exactly."""
    if input.ndim != 4:
        raise ValueError(f"CrossMapLRN2d: Expected input to be 4D, got {input.ndim}D instead.")
    return _cross_map(input, size, alpha, beta, k)
