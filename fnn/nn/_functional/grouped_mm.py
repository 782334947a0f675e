"""``grouped_mm``: the matrix products of several groups (Mixture-of-Experts layers) in one call."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

__all__ = ["grouped_mm"]


def _group_of(offs: jax.Array, n: int) -> jax.Array:
    """The group of each of ``n`` positions: ``g`` for ``offs[g-1] <= i < offs[g]``, ``G`` for
    positions past ``offs[-1]``."""
    return jnp.searchsorted(offs, jnp.arange(n), side="right")


def _select(full: jax.Array, group: jax.Array, axis: int) -> jax.Array:
    """``full[group[i], ..., i, ...]`` along ``axis`` of the per-group results (zeros past the
    last group, where torch leaves memory uninitialized)."""
    g = full.shape[0]
    shape = [1] * (full.ndim - 1)
    shape[axis] = -1
    idx = jnp.clip(group, 0, g - 1).reshape(shape)[None]
    out = jnp.take_along_axis(full, idx, axis=0)[0]
    return jnp.where((group < g).reshape(shape), out, jnp.zeros((), out.dtype))


def grouped_mm(mat_a: jax.Array, mat_b: jax.Array, *, offs: jax.Array | None = None,
               bias: jax.Array | None = None, out_dtype: Any = None) -> jax.Array:
    r"""Grouped matrix multiply (``F.grouped_mm``, torch 2.13), for ``G`` groups:

    * ``(G, M, K) @ (G, K, N) -> (G, M, N)``: a batched matmul (``offs=None``);
    * ``(M_total, K) @ (G, K, N) -> (M_total, N)``: rows ``offs[g-1]:offs[g]`` of ``mat_a``
      use ``mat_b[g]`` (the MoE forward: tokens sorted by expert);
    * ``(M, K_total) @ (K_total, N) -> (G, M, N)``: group ``g`` contracts over
      ``offs[g-1]:offs[g]`` (the MoE weight gradient);
    * ``(G, M, K) @ (K, N_total) -> (M, N_total)``: columns ``offs[g-1]:offs[g]`` of
      ``mat_b`` use ``mat_a[g]``.

    ``offs`` are the cumulative group ends (int32). Positions past ``offs[-1]`` give zeros
    (torch leaves them uninitialized). torch runs this only on CUDA kernels or CPU with
    16-byte-aligned float32/bfloat16 strides; fnn computes it for any floating dtype (each
    group's product over all positions, then a selection: simple, differentiable, ``G``
    times the ideal work). ``out_dtype`` sets the accumulation/output dtype; ``bias`` is
    not supported (nor by torch 2.13: "Bias not supported yet").
    """
    if bias is not None:
        raise ValueError("Bias not supported yet")
    a, b = jnp.asarray(mat_a), jnp.asarray(mat_b)
    if a.ndim not in (2, 3) or b.ndim not in (2, 3):
        raise ValueError(f"grouped_mm: mat_a and mat_b must be 2D or 3D, got {a.ndim}D and "
                         f"{b.ndim}D")
    if a.shape[-1] != b.shape[-2]:
        raise ValueError(f"grouped_mm: contraction dimension of mat_a and mat_b must match, got "
                         f"shapes {tuple(a.shape)} and {tuple(b.shape)}")
    if (a.ndim == 3 and b.ndim == 3) != (offs is None):
        raise ValueError("grouped_mm: offs must be None when both operands are 3D and given "
                         "when one of them is 2D")
    if a.ndim == 3 and b.ndim == 3 and a.shape[0] != b.shape[0]:
        raise ValueError(f"grouped_mm: mat_a and mat_b must have the same number of groups, got "
                         f"{a.shape[0]} and {b.shape[0]}")
    dot = dict(preferred_element_type=out_dtype)
    if offs is None:
        return jnp.einsum("gmk,gkn->gmn", a, b, **dot)
    offs = jnp.asarray(offs)
    if a.ndim == 2 and b.ndim == 3:
        full = jnp.einsum("mk,gkn->gmn", a, b, **dot)
        return _select(full, _group_of(offs, a.shape[0]), 0)
    if a.ndim == 3:
        full = jnp.einsum("gmk,kn->gmn", a, b, **dot)
        return _select(full, _group_of(offs, b.shape[1]), 1)
    group = _group_of(offs, a.shape[1])
    masks = (group[None, :] == jnp.arange(offs.shape[0])[:, None]).astype(a.dtype)
    return jnp.einsum("mk,gk,kn->gmn", a, masks, b, **dot)
