"""``pdist`` and ``normalize``: p-norms of row differences and of slices."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from ...losses import pairwise_distance

__all__ = ["pdist", "normalize"]


def pdist(input: jax.Array, p: float = 2) -> jax.Array:
    r""":math:`\|x_i - x_j\|_p` for every pair of rows :math:`i < j` of an ``(N, M)`` input, in
    row-major order of the upper triangle, shape ``(N(N-1)/2,)`` (``F.pdist``). The gradient
    is 0 where a distance is 0, as in torch."""
    input = jnp.asarray(input)
    if input.ndim != 2:
        raise ValueError(f"pdist only supports 2D tensors, got: {input.ndim}D")
    if p < 0:
        raise ValueError("pdist only supports non-negative p values")
    i, j = np.triu_indices(input.shape[0], k=1)
    return pairwise_distance(input[i], input[j], p, eps=0.0)


def normalize(input: jax.Array, p: float = 2.0, dim: int = 1, eps: float = 1e-12,
              out: None = None) -> jax.Array:
    r""":math:`x / \max(\|x\|_p, \epsilon)` with the norm over ``dim`` (``F.normalize``).
    ``out`` must be ``None`` (JAX has no output arguments)."""
    if out is not None:
        raise TypeError("normalize: out= is not supported (JAX arrays are immutable)")
    input = jnp.asarray(input)
    n = max(input.ndim, 1)
    if not -n <= dim < n:
        raise IndexError(f"normalize: Dimension out of range (expected to be in range of "
                         f"[{-n}, {n - 1}], but got {dim})")
    if input.ndim == 0:
        return input / jnp.maximum(jnp.abs(input), eps)
    moved = jnp.moveaxis(input, dim, -1)
    norm = pairwise_distance(moved, jnp.zeros((), input.dtype), p, eps=0.0, keepdim=True)
    return input / jnp.moveaxis(jnp.maximum(norm, eps), -1, dim)
