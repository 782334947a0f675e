"""``Fold`` and ``Unfold``: col2im and im2col (:mod:`fnn.nn._functional.fold`) as layers."""

from __future__ import annotations

from collections.abc import Sequence

import jax

from ._functional.fold import fold, unfold
from .module import Module

__all__ = ["Fold", "Unfold"]

IntOrTuple = int | Sequence[int]


class Fold(Module):
    """``torch.nn.Fold(output_size, kernel_size, dilation=1, padding=0, stride=1)``: sum the
    sliding-block columns ``(N, C*prod(k), L)`` into ``(N, C, *output_size)``."""

    def __init__(self, output_size: IntOrTuple, kernel_size: IntOrTuple,
                 dilation: IntOrTuple = 1, padding: IntOrTuple = 0, stride: IntOrTuple = 1):
        self.output_size, self.kernel_size = output_size, kernel_size
        self.dilation, self.padding, self.stride = dilation, padding, stride

    def forward(self, params: dict, x: jax.Array) -> jax.Array:
        return fold(x, self.output_size, self.kernel_size, self.dilation, self.padding,
                    self.stride)

    def extra_repr(self) -> str:
        return (f"output_size={self.output_size}, kernel_size={self.kernel_size}, "
                f"dilation={self.dilation}, padding={self.padding}, stride={self.stride}")


class Unfold(Module):
    """``torch.nn.Unfold(kernel_size, dilation=1, padding=0, stride=1)``: the sliding blocks of
    ``(N, C, H, W)`` as columns ``(N, C*prod(k), L)``."""

    def __init__(self, kernel_size: IntOrTuple, dilation: IntOrTuple = 1,
                 padding: IntOrTuple = 0, stride: IntOrTuple = 1):
        self.kernel_size, self.dilation = kernel_size, dilation
        self.padding, self.stride = padding, stride

    def forward(self, params: dict, x: jax.Array) -> jax.Array:
        return unfold(x, self.kernel_size, self.dilation, self.padding, self.stride)

    def extra_repr(self) -> str:
        return (f"kernel_size={self.kernel_size}, dilation={self.dilation}, "
                f"padding={self.padding}, stride={self.stride}")
