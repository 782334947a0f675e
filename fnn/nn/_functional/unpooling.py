r"""``max_unpool1d/2d/3d``: the partial inverse of max pooling, torch's semantics.

Each value of ``input`` ``(N, C, *spatial)`` is written at its flat index (from a max pool
with ``return_indices=True``) in a zero ``(N, C, *output_size)`` plane; every other output
is 0. The default output size inverts the pool's:
:math:`(L_{in} - 1)s - 2p + k`; an explicit ``output_size`` (spatial, or with ``N, C``
in front) must lie strictly within :math:`s` of it. Indices outside the plane are dropped
(torch raises at run time; a traced index cannot raise). The gradient with respect to
``input`` gathers the output gradient at the indices (duplicates each get it, as torch;
reverse mode only).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import partial

import jax
import jax.numpy as jnp

from ._window import ntuple

__all__ = ["max_unpool1d", "max_unpool2d", "max_unpool3d"]

IntOrTuple = int | Sequence[int]


def unpool_output_size(who: str, input: jax.Array, kernel: Sequence[int], stride: Sequence[int],
                       padding: Sequence[int], output_size: Sequence[int] | None
                       ) -> tuple[int, ...]:
    """torch's ``_unpool_output_size`` (and its messages)."""
    n = len(kernel)
    default = [(L - 1) * s + k - 2 * p for L, s, k, p
               in zip(input.shape[-n:], stride, kernel, padding)]
    if output_size is None:
        return tuple(default)
    size = list(output_size)
    if len(size) == n + 2:
        size = size[2:]
    if len(size) != n:
        raise ValueError(f"{who}: output_size should be a sequence containing {n} or {n + 2} "
                         f"elements, but it has a length of '{len(size)}'")
    for d in range(n):
        lo, hi = default[d] - stride[d], default[d] + stride[d]
        if not lo < size[d] < hi:
            raise ValueError(f'{who}: invalid output_size "{output_size}" (dim {d} must be '
                             f'between {lo} and {hi})')
    return tuple(size)


def max_unpool_nd(n: int, input: jax.Array, indices: jax.Array, kernel_size: IntOrTuple,
                  stride: IntOrTuple | None, padding: IntOrTuple,
                  output_size: Sequence[int] | None) -> jax.Array:
    who = f"max_unpool{n}d"
    kernel = ntuple(kernel_size, n, "kernel_size", who)
    stride = kernel if stride is None else ntuple(stride, n, "stride", who)
    pad = ntuple(padding, n, "padding", who)
    size = unpool_output_size(who, input, kernel, stride, pad, output_size)
    if input.ndim not in (n + 1, n + 2):
        raise ValueError(f"{who}: Input to max_unpooling{max(n, 2)}d should be a {max(n, 2) + 1}d "
                         f"or {max(n, 2) + 2}d Tensor, but got a tensor with {input.ndim} "
                         "dimensions.")
    if tuple(indices.shape) != tuple(input.shape):
        raise ValueError(f"{who}: Expected shape of indices to be same as that of the input "
                         f"tensor ({list(input.shape)}) but got indices tensor with shape: "
                         f"{list(indices.shape)}")
    if not jnp.issubdtype(indices.dtype, jnp.integer):
        raise TypeError(f"{who}: elements in indices should be type int64 but got: "
                        f"{indices.dtype}")
    lead = input.shape[:-n]
    x = input.reshape((-1, math.prod(input.shape[-n:])))
    out = _scatter(x, indices.reshape(x.shape), math.prod(size))
    return out.reshape(lead + size)


@partial(jax.custom_vjp, nondiff_argnums=(2,))
def _scatter(x: jax.Array, idx: jax.Array, plane: int) -> jax.Array:
    """``(R, K)`` values into zero ``(R, plane)`` rows at ``idx`` (out-of-range dropped)."""
    rows = jnp.arange(x.shape[0])[:, None]
    return jnp.zeros((x.shape[0], plane), x.dtype).at[rows, idx].set(x, mode="drop")


def _scatter_fwd(x, idx, plane):
    return _scatter(x, idx, plane), idx


def _scatter_bwd(plane, idx, g):
    # torch's backward gathers the output gradient at every index (duplicates included)
    safe = jnp.clip(idx, 0, plane - 1)
    gx = jnp.where((idx >= 0) & (idx < plane), jnp.take_along_axis(g, safe, axis=1), 0)
    return gx.astype(g.dtype), None


_scatter.defvjp(_scatter_fwd, _scatter_bwd)


def max_unpool1d(input: jax.Array, indices: jax.Array, kernel_size: IntOrTuple,
                 stride: IntOrTuple | None = None, padding: IntOrTuple = 0,
                 output_size: Sequence[int] | None = None) -> jax.Array:
    """``torch.nn.functional.max_unpool1d``: scatter ``(N, C, L)`` (or ``(C, L)``) into zeros
    at ``indices`` (from ``max_pool1d(..., return_indices=True)``)."""
    return max_unpool_nd(1, input, indices, kernel_size, stride, padding, output_size)


def max_unpool2d(input: jax.Array, indices: jax.Array, kernel_size: IntOrTuple,
                 stride: IntOrTuple | None = None, padding: IntOrTuple = 0,
                 output_size: Sequence[int] | None = None) -> jax.Array:
    """``torch.nn.functional.max_unpool2d``: the inverse of ``max_pool2d`` where it kept a
    value, zero elsewhere; indices are flat ``H*W`` positions per ``(N, C)`` plane."""
    return max_unpool_nd(2, input, indices, kernel_size, stride, padding, output_size)


def max_unpool3d(input: jax.Array, indices: jax.Array, kernel_size: IntOrTuple,
                 stride: IntOrTuple | None = None, padding: IntOrTuple = 0,
                 output_size: Sequence[int] | None = None) -> jax.Array:
    """``torch.nn.functional.max_unpool3d``: as :func:`max_unpool2d` over ``D*H*W`` planes."""
    return max_unpool_nd(3, input, indices, kernel_size, stride, padding, output_size)
