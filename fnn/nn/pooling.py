r"""Pooling layers: ``MaxPool1d/2d/3d``, ``AvgPool1d/2d/3d``, ``AdaptiveAvgPool1d/2d/3d``,
``AdaptiveMaxPool1d/2d/3d``, ``LPPool1d/2d/3d``, ``FractionalMaxPool2d/3d`` and
``MaxUnpool1d/2d/3d`` (``torch.nn`` names, arguments and reprs; no parameters). Every max
pool takes ``return_indices=True`` (torch's flat per-plane indices, for ``MaxUnpool``).

The math (window sizes, ``ceil_mode``, ``count_include_pad``, adaptive bins) is in
:mod:`fnn.nn._functional.pooling`; these layers hold the hyperparameters, check them at
construction and name themselves in input errors.
"""

from __future__ import annotations

from collections.abc import Sequence

import jax

from ._functional._window import check_positive, ntuple
from ._functional.fractional_pooling import fractional_max_pool_nd
from ._functional.pooling import (
    adaptive_pool_nd,
    avg_pool_nd,
    check_max_pool_padding,
    lp_pool_nd,
    max_pool_nd,
)
from ._functional.unpooling import max_unpool_nd
from .module import Module

__all__ = ["MaxPool1d", "MaxPool2d", "MaxPool3d", "AvgPool1d", "AvgPool2d", "AvgPool3d",
           "AdaptiveAvgPool1d", "AdaptiveAvgPool2d", "AdaptiveAvgPool3d", "AdaptiveMaxPool1d",
           "AdaptiveMaxPool2d", "AdaptiveMaxPool3d", "LPPool1d", "LPPool2d", "LPPool3d",
           "FractionalMaxPool2d", "FractionalMaxPool3d", "MaxUnpool1d", "MaxUnpool2d",
           "MaxUnpool3d"]

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
        stride = kernel_size if stride is None else stride
        _check(self._n, name, kernel_size=kernel_size, stride=stride, padding=padding,
               dilation=dilation)
        self.kernel_size, self.stride, self.padding = kernel_size, stride, padding
        self.dilation, self.return_indices, self.ceil_mode = dilation, return_indices, ceil_mode

    def forward(self, params: dict, x: jax.Array):
        return max_pool_nd(self._n, self._label(), x, self.kernel_size, self.stride,
                           self.padding, self.dilation, self.ceil_mode, self.return_indices)

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
    :class:`MaxPool1d`. ``return_indices=True`` also returns the flat ``H*W`` indices."""

    _n = 2


class MaxPool3d(_MaxPoolNd):
    """``torch.nn.MaxPool3d``: the maximum over each ``kernel_size`` window of
    ``(N, C, D, H, W)`` or ``(C, D, H, W)``; arguments as :class:`MaxPool1d`."""

    _n = 3


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


class AvgPool3d(_AvgPoolNd):
    """``torch.nn.AvgPool3d(kernel_size, stride=None, padding=0, ceil_mode=False,
    count_include_pad=True, divisor_override=None)`` on ``(N, C, D, H, W)`` or
    ``(C, D, H, W)``."""

    _n = 3


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


class AdaptiveAvgPool3d(_AdaptivePoolNd):
    """``torch.nn.AdaptiveAvgPool3d(output_size)``: adaptive bins in D, H and W."""

    _n = 3


class _AdaptiveMaxPoolNd(_AdaptivePoolNd):
    _reduce = "max"

    def __init__(self, output_size: int | None | Sequence[int | None],
                 return_indices: bool = False):
        super().__init__(output_size)
        self.return_indices = return_indices

    def forward(self, params: dict, x: jax.Array):
        return adaptive_pool_nd(self._n, self._label(), x, self.output_size, self._reduce,
                                self.return_indices)


class AdaptiveMaxPool1d(_AdaptiveMaxPoolNd):
    """``torch.nn.AdaptiveMaxPool1d(output_size, return_indices=False)``: the maximum of each
    adaptive bin (and its index along ``L``)."""

    _n = 1


class AdaptiveMaxPool2d(_AdaptiveMaxPoolNd):
    """``torch.nn.AdaptiveMaxPool2d(output_size, return_indices=False)``: the maximum of each
    adaptive bin (and its flat ``H*W`` index)."""

    _n = 2


class AdaptiveMaxPool3d(_AdaptiveMaxPoolNd):
    """``torch.nn.AdaptiveMaxPool3d(output_size, return_indices=False)``: the maximum of each
    adaptive bin (and its flat ``D*H*W`` index)."""

    _n = 3


class _LPPoolNd(Module):
    _n = 2

    def __init__(self, norm_type: float, kernel_size: IntOrTuple,
                 stride: IntOrTuple | None = None, ceil_mode: bool = False):
        self.norm_type, self.kernel_size = norm_type, kernel_size
        self.stride, self.ceil_mode = stride, ceil_mode

    def forward(self, params: dict, x: jax.Array) -> jax.Array:
        return lp_pool_nd(self._n, self._label(), x, self.norm_type, self.kernel_size,
                          self.stride, self.ceil_mode)

    def extra_repr(self) -> str:
        return (f"norm_type={self.norm_type}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}, ceil_mode={self.ceil_mode}")


class LPPool1d(_LPPoolNd):
    r"""``torch.nn.LPPool1d(norm_type, kernel_size, stride=None, ceil_mode=False)``: power-average
    pooling :math:`y = (\sum_{j \in W} x_j^p)^{1/p}` (``p = \infty``: max pooling)."""

    _n = 1


class LPPool2d(_LPPoolNd):
    r"""``torch.nn.LPPool2d(norm_type, kernel_size, stride=None, ceil_mode=False)``:
    :math:`y = (\sum_{W} x^p)^{1/p}` over 2-D windows."""

    _n = 2


class LPPool3d(_LPPoolNd):
    r"""``torch.nn.LPPool3d(norm_type, kernel_size, stride=None, ceil_mode=False)``:
    :math:`y = (\sum_{W} x^p)^{1/p}` over 3-D windows."""

    _n = 3


class _FractionalMaxPoolNd(Module):
    """Shared constructor/forward of ``FractionalMaxPool{2,3}d``. A given
    ``_random_samples`` is a buffer (as torch registers it); otherwise each call draws the
    samples from :meth:`Module.make_key` (in train and eval mode alike, as torch)."""

    _n = 2

    def __init__(self, kernel_size: IntOrTuple, output_size: IntOrTuple | None = None,
                 output_ratio: float | Sequence[float] | None = None,
                 return_indices: bool = False, _random_samples: jax.Array | None = None):
        n, name = self._n, type(self).__name__
        self.kernel_size = ntuple(kernel_size, n, "kernel_size", name)
        self.return_indices = return_indices
        self._fnn_samples = _random_samples
        self.output_size = None if output_size is None else ntuple(output_size, n,
                                                                   "output_size", name)
        self.output_ratio: tuple[float, ...] | None = None if output_ratio is None else (
            tuple(output_ratio) if isinstance(output_ratio, (tuple, list))
            else (float(output_ratio),) * n)  # type: ignore[arg-type]
        if output_size is None and output_ratio is None:
            raise ValueError(f"{name} requires specifying either an output size, or a pooling "
                             "ratio")
        if output_size is not None and output_ratio is not None:
            raise ValueError("only one of output_size and output_ratio may be specified")
        if self.output_ratio is not None and not all(0 < r < 1 for r in self.output_ratio):
            raise ValueError(f"output_ratio must be between 0 and 1 (got {output_ratio})")

    def init_own_buffers(self, dtype) -> dict:
        if self._fnn_samples is None:
            return {}
        return {"_random_samples": jax.numpy.asarray(self._fnn_samples, dtype)}

    def forward(self, params: dict, x: jax.Array):
        if self._fnn_samples is None:
            samples, key = None, self.make_key()
        else:
            samples, key = self.get_buffers()["_random_samples"], None
        return fractional_max_pool_nd(self._n, x, self.kernel_size, self.output_size,
                                      self.output_ratio, self.return_indices, samples, key)

    def extra_repr(self) -> str:
        return ""


class FractionalMaxPool2d(_FractionalMaxPoolNd):
    """``torch.nn.FractionalMaxPool2d(kernel_size, output_size=None, output_ratio=None,
    return_indices=False, _random_samples=None)`` (Graham 2014): see
    :func:`fnn.nn.functional.fractional_max_pool2d`. Needs ``key=`` in ``apply`` unless
    ``_random_samples`` is given."""

    _n = 2


class FractionalMaxPool3d(_FractionalMaxPoolNd):
    """``torch.nn.FractionalMaxPool3d``: :class:`FractionalMaxPool2d` over ``(T, H, W)``."""

    _n = 3


class _MaxUnpoolNd(Module):
    _n = 2

    def __init__(self, kernel_size: IntOrTuple, stride: IntOrTuple | None = None,
                 padding: IntOrTuple = 0):
        n, name = self._n, type(self).__name__
        self.kernel_size = ntuple(kernel_size, n, "kernel_size", name)
        self.stride = ntuple(stride if stride is not None else kernel_size, n, "stride", name)
        self.padding = ntuple(padding, n, "padding", name)

    def forward(self, params: dict, x: jax.Array, indices: jax.Array,
                output_size: Sequence[int] | None = None) -> jax.Array:
        return max_unpool_nd(self._n, x, indices, self.kernel_size, self.stride, self.padding,
                             output_size)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class MaxUnpool1d(_MaxUnpoolNd):
    """``torch.nn.MaxUnpool1d(kernel_size, stride=None, padding=0)``: ``forward(params, x,
    indices, output_size=None)`` puts each value back at its index, zeros elsewhere."""

    _n = 1


class MaxUnpool2d(_MaxUnpoolNd):
    """``torch.nn.MaxUnpool2d(kernel_size, stride=None, padding=0)``: the partial inverse of
    :class:`MaxPool2d` (with ``return_indices=True``)."""

    _n = 2


class MaxUnpool3d(_MaxUnpoolNd):
    """``torch.nn.MaxUnpool3d(kernel_size, stride=None, padding=0)``: the partial inverse of
    :class:`MaxPool3d`."""

    _n = 3
