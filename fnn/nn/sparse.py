"""``torch.nn.Embedding``: a learnable lookup table."""

from __future__ import annotations

import jax

from ._functional.embedding import _normalize_padding_idx, embedding
from .module import Module

__all__ = ["Embedding"]


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
