"""``torch.nn.Dropout`` and ``Dropout2d`` as pure layers.

Training mode and randomness come from :meth:`Module.apply`: ``model.apply(params, x,
train=True, key=jax.random.key(0))``. Each dropout layer draws its own key from that
key and its dotted name (:meth:`Module.make_key`), so masks are reproducible and do not
depend on the other layers. In eval mode (the default) dropout is the identity and
needs no key.
"""

from __future__ import annotations

from ._functional.dropout import (
    _check_p,
    alpha_dropout,
    dropout,
    dropout1d,
    dropout2d,
    dropout3d,
    feature_alpha_dropout,
)
from .module import Module

__all__ = ["Dropout", "Dropout2d", "Dropout1d", "Dropout3d", "AlphaDropout",
           "FeatureAlphaDropout"]


class Dropout(Module):
    """``torch.nn.Dropout(p=0.5, inplace=False)``: :func:`fnn.nn.functional.dropout` in
    training mode, the identity in eval mode."""

    _fn = staticmethod(dropout)

    def __init__(self, p: float = 0.5, inplace: bool = False) -> None:
        _check_p(p)
        self.p = p
        self.inplace = inplace

    def forward(self, params, x):
        if not self.is_training() or self.p == 0.0:
            return self._fn(x, self.p, training=False)
        key = self.make_key() if self.p < 1.0 else None
        return self._fn(x, self.p, training=True, key=key)

    def extra_repr(self) -> str:
        return f"p={self.p}, inplace={self.inplace}"


class Dropout2d(Dropout):
    """``torch.nn.Dropout2d(p=0.5, inplace=False)``: whole channels, see
    :func:`fnn.nn.functional.dropout2d`."""

    _fn = staticmethod(dropout2d)


# ---------------------------------------------------------------------- issue 18 (layers-b)
class Dropout1d(Dropout):
    """``torch.nn.Dropout1d(p=0.5, inplace=False)``: whole channels of ``(N, C, L)`` or
    ``(C, L)`` inputs, see :func:`fnn.nn.functional.dropout1d`."""

    _fn = staticmethod(dropout1d)


class Dropout3d(Dropout):
    """``torch.nn.Dropout3d(p=0.5, inplace=False)``: whole channels of ``(N, C, D, H, W)`` or
    ``(C, D, H, W)`` inputs, see :func:`fnn.nn.functional.dropout3d`."""

    _fn = staticmethod(dropout3d)


class AlphaDropout(Dropout):
    """``torch.nn.AlphaDropout(p=0.5, inplace=False)``: :func:`fnn.nn.functional.alpha_dropout`
    in training mode (for SELU networks), the identity in eval mode."""

    _fn = staticmethod(alpha_dropout)


class FeatureAlphaDropout(Dropout):
    """``torch.nn.FeatureAlphaDropout(p=0.5, inplace=False)``: alpha dropout of whole channels,
    :func:`fnn.nn.functional.feature_alpha_dropout`."""

    _fn = staticmethod(feature_alpha_dropout)
