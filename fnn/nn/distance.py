"""Distance layers: ``torch.nn.PairwiseDistance`` and ``CosineSimilarity``."""

from __future__ import annotations

from .. import _check
from ..losses import cosine_similarity, pairwise_distance
from .module import Module

__all__ = ["PairwiseDistance", "CosineSimilarity"]


class PairwiseDistance(Module):
    r"""``torch.nn.PairwiseDistance(p=2.0, eps=1e-6, keepdim=False)``:
    :math:`\|x_1 - x_2 + \epsilon\|_p` over the last dim (:func:`fnn.nn.functional.pairwise_distance`);
    ``forward(params, x1, x2)``."""

    def __init__(self, p: float = 2.0, eps: float = 1e-6, keepdim: bool = False) -> None:
        _check.number("PairwiseDistance", "p", p)
        _check.number("PairwiseDistance", "eps", eps)
        self.norm, self.eps, self.keepdim = p, eps, keepdim

    def forward(self, params, x1, x2):
        return pairwise_distance(x1, x2, self.norm, self.eps, self.keepdim)


class CosineSimilarity(Module):
    r"""``torch.nn.CosineSimilarity(dim=1, eps=1e-8)``:
    :math:`\frac{x_1 \cdot x_2}{\max(\|x_1\|, \epsilon)\max(\|x_2\|, \epsilon)}` along ``dim``
    (:func:`fnn.nn.functional.cosine_similarity`); ``forward(params, x1, x2)``."""

    def __init__(self, dim: int = 1, eps: float = 1e-8) -> None:
        _check.integer("CosineSimilarity", "dim", dim)
        _check.number("CosineSimilarity", "eps", eps)
        self.dim, self.eps = dim, eps

    def forward(self, params, x1, x2):
        return cosine_similarity(x1, x2, self.dim, self.eps)
