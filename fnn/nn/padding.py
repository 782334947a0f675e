r"""Padding layers: ``{Zero,Constant,Reflection,Replication,Circular}Pad{1,2,3}d``.

One general :class:`_PadNd` (``_n`` padded dims, ``_mode`` one of :func:`F.pad
<fnn.nn._functional.padding.pad>`'s modes) and thin torch-named classes. ``padding`` is an
int (the same amount on every side) or torch's ``2n``-tuple ``(left, right, top, bottom,
front, back)`` starting from the last dimension; negative amounts crop. No parameters.
"""

from __future__ import annotations

from collections.abc import Sequence

import jax

from ._functional.padding import pad
from .module import Module

__all__ = ["ZeroPad1d", "ZeroPad2d", "ZeroPad3d", "ConstantPad1d", "ConstantPad2d",
           "ConstantPad3d", "ReflectionPad1d", "ReflectionPad2d", "ReflectionPad3d",
           "ReplicationPad1d", "ReplicationPad2d", "ReplicationPad3d", "CircularPad1d",
           "CircularPad2d", "CircularPad3d"]


class _PadNd(Module):
    """``F.pad(x, padding, mode, value)`` over the last ``_n`` dims."""

    _n = 1
    _mode = "constant"

    def __init__(self, padding: int | Sequence[int]):
        n2 = 2 * self._n
        self.padding = tuple(padding) if isinstance(padding, (tuple, list)) else (padding,) * n2

    def forward(self, params: dict, x: jax.Array) -> jax.Array:
        if self._mode == "circular" and x.ndim not in (self._n + 1, self._n + 2):
            raise ValueError(f"{self._label()}: expected {self._n + 1}D or {self._n + 2}D input "
                             f"(got {x.ndim}D input)")
        return pad(x, self.padding, self._mode, getattr(self, "value", None))  # type: ignore[arg-type]

    def extra_repr(self) -> str:
        return f"{self.padding}"


class _ConstantPadNd(_PadNd):
    def __init__(self, padding: int | Sequence[int], value: float):
        super().__init__(padding)
        self.value = value

    def extra_repr(self) -> str:
        return f"padding={self.padding}, value={self.value}"


class _ZeroPadNd(_ConstantPadNd):
    def __init__(self, padding: int | Sequence[int]):
        super().__init__(padding, 0.0)

    def extra_repr(self) -> str:
        return f"{self.padding}"


class ConstantPad1d(_ConstantPadNd):
    r"""``torch.nn.ConstantPad1d(padding, value)``: pad the last dim with ``value``
    (:math:`(N, C, W) \to (N, C, W + l + r)`)."""

    _n = 1


class ConstantPad2d(_ConstantPadNd):
    """``torch.nn.ConstantPad2d(padding, value)``: ``padding = (left, right, top, bottom)``."""

    _n = 2


class ConstantPad3d(_ConstantPadNd):
    """``torch.nn.ConstantPad3d(padding, value)``: ``(left, right, top, bottom, front, back)``."""

    _n = 3


class ZeroPad1d(_ZeroPadNd):
    """``torch.nn.ZeroPad1d(padding)``: :class:`ConstantPad1d` with ``value=0``."""

    _n = 1


class ZeroPad2d(_ZeroPadNd):
    """``torch.nn.ZeroPad2d(padding)``: :class:`ConstantPad2d` with ``value=0``."""

    _n = 2


class ZeroPad3d(_ZeroPadNd):
    """``torch.nn.ZeroPad3d(padding)``: :class:`ConstantPad3d` with ``value=0``."""

    _n = 3


class ReflectionPad1d(_PadNd):
    """``torch.nn.ReflectionPad1d(padding)``: mirror without repeating the edge,
    ``[1, 2, 3] -> 3 2 [1 2 3] 2 1``; each amount must be less than the input size."""

    _n, _mode = 1, "reflect"


class ReflectionPad2d(_PadNd):
    """``torch.nn.ReflectionPad2d(padding)``: reflection in W and H (``(C, H, W)`` or
    ``(N, C, H, W)``)."""

    _n, _mode = 2, "reflect"


class ReflectionPad3d(_PadNd):
    """``torch.nn.ReflectionPad3d(padding)``: reflection in W, H and D."""

    _n, _mode = 3, "reflect"


class ReplicationPad1d(_PadNd):
    """``torch.nn.ReplicationPad1d(padding)``: repeat the edge value,
    ``[1, 2, 3] -> 1 1 [1 2 3] 3 3``."""

    _n, _mode = 1, "replicate"


class ReplicationPad2d(_PadNd):
    """``torch.nn.ReplicationPad2d(padding)``: edge replication in W and H."""

    _n, _mode = 2, "replicate"


class ReplicationPad3d(_PadNd):
    """``torch.nn.ReplicationPad3d(padding)``: edge replication in W, H and D."""

    _n, _mode = 3, "replicate"


class CircularPad1d(_PadNd):
    """``torch.nn.CircularPad1d(padding)``: periodic wrap-around,
    ``[1, 2, 3] -> 2 3 [1 2 3] 1 2``; each amount at most the input size."""

    _n, _mode = 1, "circular"


class CircularPad2d(_PadNd):
    """``torch.nn.CircularPad2d(padding)``: periodic in W and H."""

    _n, _mode = 2, "circular"


class CircularPad3d(_PadNd):
    """``torch.nn.CircularPad3d(padding)``: periodic in W, H and D."""

    _n, _mode = 3, "circular"
