"""Local response normalization layers: ``torch.nn.LocalResponseNorm`` and ``CrossMapLRN2d``."""

from __future__ import annotations

from .. import _check
from ._functional.lrn import cross_map_lrn2d, local_response_norm
from .module import Module

__all__ = ["LocalResponseNorm", "CrossMapLRN2d"]


class LocalResponseNorm(Module):
    r"""``torch.nn.LocalResponseNorm(size, alpha=1e-4, beta=0.75, k=1.0)``:
    :func:`fnn.nn.functional.local_response_norm` across channels (Krizhevsky et al. 2012)."""

    _fn = staticmethod(local_response_norm)

    def __init__(self, size: int, alpha: float = 1e-4, beta: float = 0.75, k: float = 1.0):
        _check.integer(type(self).__name__, "size", size, low=1)
        for name, v in (("alpha", alpha), ("beta", beta), ("k", k)):
            _check.number(type(self).__name__, name, v)
        self.size, self.alpha, self.beta, self.k = size, alpha, beta, k

    def forward(self, params, x):
        return self._fn(x, self.size, self.alpha, self.beta, self.k)

    def extra_repr(self) -> str:
        return f"{self.size}, alpha={self.alpha}, beta={self.beta}, k={self.k}"


class CrossMapLRN2d(LocalResponseNorm):
    r"""``torch.nn.CrossMapLRN2d(size, alpha=1e-4, beta=0.75, k=1)``: torch's legacy LRN
    kernel on ``(N, C, H, W)``, window and gradient exactly as torch's
    (:func:`fnn.nn._functional.lrn.cross_map_lrn2d`)."""

    _fn = staticmethod(cross_map_lrn2d)

    def __init__(self, size: int, alpha: float = 1e-4, beta: float = 0.75, k: float = 1):
        super().__init__(size, alpha, beta, k)
