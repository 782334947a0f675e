"""``torch.nn.Embedding`` (a learnable lookup table) and ``EmbeddingBag``."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from ._functional.embedding import _normalize_padding_idx, embedding, embedding_bag
from .module import Module

__all__ = ["Embedding", "EmbeddingBag"]


class Embedding(Module):
    r"""``torch.nn.Embedding(num_embeddings, embedding_dim, padding_idx=None)``:
    :func:`fnn.nn.functional.embedding` with a ``weight`` of shape
    ``(num_embeddings, embedding_dim)`` drawn from :math:`N(0, 1)` as in torch, the
    ``padding_idx`` row zeroed (and kept out of the gradient). A negative ``padding_idx``
    counts from the end and is stored normalized, as torch does. (``max_norm``,
    ``scale_grad_by_freq`` and ``sparse`` are not supported.)
    """

    def __init__(self, num_embeddings: int, embedding_dim: int, padding_idx: int | None = None):
        for name, v in (("num_embeddings", num_embeddings), ("embedding_dim", embedding_dim)):
            if not isinstance(v, int) or isinstance(v, bool) or v < 0:
                raise ValueError(f"Embedding: {name} must be a non-negative int, got {v!r}")
        self.num_embeddings = num_embeddings
        self.embedding_dim = embedding_dim
        self.padding_idx = _normalize_padding_idx(padding_idx, num_embeddings)

    def init_params(self, key, dtype):
        w = jax.random.normal(key, (self.num_embeddings, self.embedding_dim), dtype)
        if self.padding_idx is not None:
            w = w.at[self.padding_idx].set(0)
        return {"weight": w}

    def forward(self, params, input):
        return embedding(input, params["weight"], self.padding_idx)

    def extra_repr(self) -> str:
        s = f"{self.num_embeddings}, {self.embedding_dim}"
        return s + (f", padding_idx={self.padding_idx}" if self.padding_idx is not None else "")


# ---------------------------------------------------------------------- issue 18 (layers-b)
class EmbeddingBag(Embedding):
    r"""``torch.nn.EmbeddingBag(num_embeddings, embedding_dim, max_norm=None, norm_type=2.0,
    scale_grad_by_freq=False, mode='mean', sparse=False, _weight=None,
    include_last_offset=False, padding_idx=None)``: sums, means or maxima of bags of
    embeddings, :func:`fnn.nn.functional.embedding_bag`; ``forward(params, input,
    offsets=None, per_sample_weights=None)``. ``weight`` ``(num_embeddings, embedding_dim)``
    is drawn from :math:`N(0, 1)` with the ``padding_idx`` row zeroed, as torch's.
    """

    def __init__(self, num_embeddings: int, embedding_dim: int, max_norm: float | None = None,
                 norm_type: float = 2.0, scale_grad_by_freq: bool = False, mode: str = "mean",
                 sparse: bool = False, _weight: Any = None, include_last_offset: bool = False,
                 padding_idx: int | None = None):
        super().__init__(num_embeddings, embedding_dim, padding_idx)
        if mode not in ("sum", "mean", "max"):
            raise ValueError("mode has to be one of sum, mean or max")
        if max_norm is not None or scale_grad_by_freq:
            raise ValueError("EmbeddingBag: max_norm and scale_grad_by_freq are not supported "
                             "by fnn")
        self.max_norm, self.norm_type, self.scale_grad_by_freq = max_norm, norm_type, False
        self.mode, self.sparse, self.include_last_offset = mode, sparse, include_last_offset
        self._fnn_weight = _weight

    def init_params(self, key, dtype):
        if self._fnn_weight is not None:
            return {"weight": jnp.asarray(self._fnn_weight, dtype)}
        return super().init_params(key, dtype)

    def forward(self, params, input, offsets=None, per_sample_weights=None):
        return embedding_bag(input, params["weight"], offsets, mode=self.mode,
                             per_sample_weights=per_sample_weights,
                             include_last_offset=self.include_last_offset,
                             padding_idx=self.padding_idx)

    def extra_repr(self) -> str:
        s = f"{self.num_embeddings}, {self.embedding_dim}, mode={self.mode!r}"
        return s + (f", padding_idx={self.padding_idx}" if self.padding_idx is not None else "")
