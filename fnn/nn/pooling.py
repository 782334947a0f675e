r"""Pooling layers: ``MaxPool1d/2d``, ``AvgPool1d/2d``, ``AdaptiveAvgPool1d/2d``,
``AdaptiveMaxPool2d`` (``torch.nn`` names, arguments and reprs; no parameters).

The math (window sizes, ``ceil_mode``, ``count_include_pad``, adaptive bins) is in
:mod:`fnn.nn._functional.pooling`; these layers hold the hyperparameters, check them at
construction and name themselves in input errors.
"""

from __future__ import annotations

from collections.abc import Sequence

import jax

from ._functional._window import check_positive, ntuple
from ._functional.pooling import (
    adaptive_pool_nd,
    avg_pool_nd,
    check_max_pool_padding,
    max_pool_nd,
)
from .module import Module

__all__ = ["MaxPool1d", "MaxPool2d", "AvgPool1d", "AvgPool2d", "AdaptiveAvgPool1d",
           "AdaptiveAvgPool2d", "AdaptiveMaxPool2d"]

IntOrTuple = int | Sequence[int]


def _check(n: int, name: str, **args: IntOrTuple) -> None:
    """Shape/type checks of window arguments at construction (values are kept as given),
    including the padding limits that the functional pools apply at call time (half the
    dilated kernel; for max pools also ``kernel_size // 2``, as torch 2.13)."""
    tuples = {}
    for what, v in args.items():
        t = tuples[what] = ntuple(v, n, what, name)
        if what != "padding":
            check_positive(t, what, name)
        elif any(p < 0 for p in t):
            raise ValueError(f"{name}: padding must be non-negative, got {v!r}")
    dilation = tuples.get("dilation", (1,) * n)
    for p, k, d in zip(tuples["padding"], tuples["kernel_size"], dilation):
        if p > (d * (k - 1) + 1) // 2:
            raise ValueError(f"{name}: pad should be at most half of effective kernel size, but "
                             f"got pad={p}, kernel_size={k} and dilation={d}")
    if "dilation" in tuples:  # the max pools
        check_max_pool_padding(name, tuples["padding"], tuples["kernel_size"])


def _check_output_size(n: int, name: str, output_size: object) -> None:
    """An int, ``None`` or a tuple of ``n`` of them, non-negative (torch's adaptive pools)."""
    sizes = (output_size,) * n if output_size is None or isinstance(output_size, int) \
        else output_size
    if (isinstance(output_size, bool) or not isinstance(sizes, (tuple, list))
            or len(sizes) != n or not all(s is None or (isinstance(s, int)
                                                        and not isinstance(s, bool) and s >= 0)
                                          for s in sizes)):
        raise ValueError(f"{name}: output_size must be a non-negative int, None or a tuple of "
                         f"{n} of them, got {output_size!r}")


class _MaxPoolNd(Module):
    _n = 2

    def __init__(self, kernel_size: IntOrTuple, stride: IntOrTuple | None = None,
                 padding: IntOrTuple = 0, dilation: IntOrTuple = 1,
                 return_indices: bool = False, ceil_mode: bool = False):
        name = type(self).__name__
        if return_indices:
            raise ValueError(f"{name}: return_indices=True is not supported")
        stride = kernel_size if stride is None else stride
        _check(self._n, name, kernel_size=kernel_size, stride=stride, padding=padding,
               dilation=dilation)
        self.kernel_size, self.stride, self.padding = kernel_size, stride, padding
        self.dilation, self.return_indices, self.ceil_mode = dilation, return_indices, ceil_mode

    def forward(self, params: dict, x: jax.Array) -> jax.Array:
        return max_pool_nd(self._n, self._label(), x, self.kernel_size, self.stride,
                           self.padding, self.dilation, self.ceil_mode, False)

    def extra_repr(self) -> str:
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
                f"dilation={self.dilation}, ceil_mode={self.ceil_mode}")


class MaxPool1d(_MaxPoolNd):
    r"""``torch.nn.MaxPool1d(kernel_size, stride=None, padding=0, dilation=1,
    return_indices=False, ceil_mode=False)``: :math:`y_i = \max_{j<k} x_{si - p + dj}`
    (padding is :math:`-\infty`), on ``(N, C, L)`` or ``(C, L)``."""

    _n = 1


class MaxPool2d(_MaxPoolNd):
    r"""``torch.nn.MaxPool2d``: the maximum over each ``kernel_size`` window (stride
    defaults to the kernel size), on ``(N, C, H, W)`` or ``(C, H, W)``; arguments as
    :class:`MaxPool1d`. ``return_indices=True`` is not supported."""

    _n = 2


class _AvgPoolNd(Module):
    _n = 2

    def __init__(self, kernel_size: IntOrTuple, stride: IntOrTuple | None = None,
                 padding: IntOrTuple = 0, ceil_mode: bool = False,
                 count_include_pad: bool = True, divisor_override: int | None = None):
        name = type(self).__name__
        stride = kernel_size if stride is None else stride
        _check(self._n, name, kernel_size=kernel_size, stride=stride, padding=padding)
        if divisor_override is not None and divisor_override == 0:
            raise ValueError(f"{name}: divisor must be not zero")
        self.kernel_size, self.stride, self.padding = kernel_size, stride, padding
        self.ceil_mode, self.count_include_pad = ceil_mode, count_include_pad
        self.divisor_override = divisor_override

    def forward(self, params: dict, x: jax.Array) -> jax.Array:
        return avg_pool_nd(self._n, self._label(), x, self.kernel_size, self.stride,
                           self.padding, self.ceil_mode, self.count_include_pad,
                           self.divisor_override)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AvgPool1d(_AvgPoolNd):
    r"""``torch.nn.AvgPool1d(kernel_size, stride=None, padding=0, ceil_mode=False,
    count_include_pad=True)``: :math:`y_i = \frac{1}{|W_i|}\sum_{j \in W_i} x_j` where
    :math:`|W_i|` counts the zero padding (``count_include_pad``) or not."""

    _n = 1

    def __init__(self, kernel_size: IntOrTuple, stride: IntOrTuple | None = None,
                 padding: IntOrTuple = 0, ceil_mode: bool = False,
                 count_include_pad: bool = True):
        super().__init__(kernel_size, stride, padding, ceil_mode, count_include_pad)
        # torch stores AvgPool1d's arguments as 1-tuples (its repr shows ``kernel_size=(3,)``)
        self.kernel_size = ntuple(self.kernel_size, 1, "kernel_size", "AvgPool1d")
        self.stride = ntuple(self.stride, 1, "stride", "AvgPool1d")
        self.padding = ntuple(self.padding, 1, "padding", "AvgPool1d")


class AvgPool2d(_AvgPoolNd):
    """``torch.nn.AvgPool2d(kernel_size, stride=None, padding=0, ceil_mode=False,
    count_include_pad=True, divisor_override=None)``: the window mean (or window sum divided
    by ``divisor_override``) on ``(N, C, H, W)`` or ``(C, H, W)``."""

    _n = 2


class _AdaptivePoolNd(Module):
    _n = 2
    _reduce = "avg"

    def __init__(self, output_size: int | None | Sequence[int | None]):
        _check_output_size(self._n, type(self).__name__, output_size)
        self.output_size = output_size

    def forward(self, params: dict, x: jax.Array) -> jax.Array:
        return adaptive_pool_nd(self._n, self._label(), x, self.output_size, self._reduce)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


class AdaptiveAvgPool1d(_AdaptivePoolNd):
    r"""``torch.nn.AdaptiveAvgPool1d(output_size)``: bin :math:`i` of ``output_size`` averages
    :math:`x[\lfloor iL/L_{out}\rfloor : \lceil (i+1)L/L_{out}\rceil]`."""

    _n = 1


class AdaptiveAvgPool2d(_AdaptivePoolNd):
    """``torch.nn.AdaptiveAvgPool2d(output_size)``: adaptive bins in H and W (an int, a pair,
    ``None`` keeps the input size); ``AdaptiveAvgPool2d(1)`` is global average pooling."""

    _n = 2


class AdaptiveMaxPool2d(_AdaptivePoolNd):
    """``torch.nn.AdaptiveMaxPool2d(output_size, return_indices=False)``: the maximum of each
    adaptive bin (``return_indices=True`` is not supported)."""

    _n = 2
    _reduce = "max"

    def __init__(self, output_size: int | None | Sequence[int | None],
                 return_indices: bool = False):
        if return_indices:
            raise ValueError("AdaptiveMaxPool2d: return_indices=True is not supported")
        super().__init__(output_size)
        self.return_indices = return_indices
