"""``Flatten`` and ``Unflatten``: ``torch.nn.Flatten/Unflatten`` (no parameters)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import jax

from .. import _check
from .module import Module

__all__ = ["Flatten", "Unflatten"]


def _dim(who: str, dim: int, ndim: int) -> int:
    """Normalise a possibly negative dim; a 0-d tensor behaves as 1-d (as torch)."""
    n = max(ndim, 1)
    if not -n <= dim < n:
        raise ValueError(f"{who}: dimension out of range (expected to be in range of "
                         f"[{-n}, {n - 1}], but got {dim})")
    return dim % n


class Flatten(Module):
    """``torch.nn.Flatten(start_dim=1, end_dim=-1)``: merge dims ``start_dim..end_dim`` into one
    (``(N, C, H, W) -> (N, C*H*W)`` by default)."""

    def __init__(self, start_dim: int = 1, end_dim: int = -1):
        _check.integer("Flatten", "start_dim", start_dim)
        _check.integer("Flatten", "end_dim", end_dim)
        self.start_dim, self.end_dim = start_dim, end_dim

    def forward(self, params: dict, x: jax.Array) -> jax.Array:
        who = self._label()
        start, end = _dim(who, self.start_dim, x.ndim), _dim(who, self.end_dim, x.ndim)
        if start > end:
            raise ValueError(f"{who}: start_dim cannot come after end_dim, got start_dim="
                             f"{self.start_dim}, end_dim={self.end_dim} for a {x.ndim}D input")
        if x.ndim == 0:
            return x.reshape(1)
        shape = x.shape[:start] + (math.prod(x.shape[start:end + 1]),) + x.shape[end + 1:]
        return x.reshape(shape)

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Unflatten(Module):
    """``torch.nn.Unflatten(dim, unflattened_size)``: split dim ``dim`` into
    ``unflattened_size`` (one entry may be ``-1``, inferred)."""

    def __init__(self, dim: int, unflattened_size: Sequence[int]):
        _check.integer("Unflatten", "dim", dim)
        if not isinstance(unflattened_size, (tuple, list)) or not all(
                isinstance(s, int) and not isinstance(s, bool) for s in unflattened_size):
            raise ValueError(f"Unflatten: unflattened_size must be a tuple of ints, "
                             f"got {unflattened_size!r}")
        if sum(s == -1 for s in unflattened_size) > 1 or any(s < -1 for s in unflattened_size):
            raise ValueError(f"Unflatten: unflattened_size may hold at most one -1 and no other "
                             f"negative size, got {unflattened_size!r}")
        self.dim, self.unflattened_size = dim, unflattened_size

    def forward(self, params: dict, x: jax.Array) -> jax.Array:
        who = self._label()
        dim = _dim(who, self.dim, x.ndim)
        sizes = tuple(self.unflattened_size)
        known = math.prod(s for s in sizes if s != -1)
        length = x.shape[dim]
        if -1 in sizes and known > 0 and length % known == 0:
            sizes = tuple(length // known if s == -1 else s for s in sizes)
        if math.prod(sizes) != length or -1 in sizes:
            raise ValueError(f"{who}: provided sizes {list(self.unflattened_size)} don't multiply "
                             f"up to the size of dim {self.dim} ({length}) in the input of "
                             f"shape {tuple(x.shape)}")
        return x.reshape(x.shape[:dim] + sizes + x.shape[dim + 1:])

    def extra_repr(self) -> str:
        return f"dim={self.dim}, unflattened_size={self.unflattened_size}"
