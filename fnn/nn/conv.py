r"""Convolution layers: ``Conv1d/2d/3d`` and ``ConvTranspose1d/2d`` (``torch.nn`` names and args).

Parameters are stored as torch stores them: ``weight`` ``(out, in/groups, *kernel)`` for a
convolution and ``(in, out/groups, *kernel)`` for a transposed one, ``bias`` ``(out,)``.
Default initialisation is torch's ``kaiming_uniform_(a=sqrt(5))``, i.e.
:math:`U(-1/\sqrt{\text{fan\_in}}, 1/\sqrt{\text{fan\_in}})` for weight and bias with
``fan_in = weight.shape[1] * prod(kernel)``: ``(in/groups)*prod(k)`` for ``Conv``,
``(out/groups)*prod(k)`` for ``ConvTranspose``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, cast

import jax

from ._functional._window import check_positive, ntuple
from ._functional.conv import check_conv_input, conv_nd, conv_padding, conv_transpose_nd
from .module import Module

__all__ = ["Conv1d", "Conv2d", "Conv3d", "ConvTranspose1d", "ConvTranspose2d"]

_PADDING_MODES = ("zeros", "reflect", "replicate", "circular")
IntOrTuple = int | Sequence[int]


class _ConvNd(Module):
    """Shared constructor, initialisation and repr of the convolution layers."""

    _n: int = 2
    _transposed: bool = False

    def __init__(self, in_channels: int, out_channels: int, kernel_size: IntOrTuple,
                 stride: IntOrTuple, padding: str | IntOrTuple, dilation: IntOrTuple,
                 groups: int, bias: bool, padding_mode: str, output_padding: IntOrTuple = 0):
        name, n = type(self).__name__, self._n
        for what, v in (("in_channels", in_channels), ("out_channels", out_channels)):
            if not isinstance(v, int) or isinstance(v, bool) or v < 0:
                raise ValueError(f"{name}: {what} must be a non-negative int, got {v!r}")
        if not isinstance(groups, int) or isinstance(groups, bool) or groups <= 0:
            raise ValueError(f"{name}: groups must be a positive integer")
        if in_channels % groups != 0:
            raise ValueError(f"{name}: in_channels must be divisible by groups")
        if out_channels % groups != 0:
            raise ValueError(f"{name}: out_channels must be divisible by groups")
        if padding_mode not in _PADDING_MODES:
            raise ValueError(
                f"{name}: padding_mode must be one of {{'zeros', 'reflect', 'replicate', "
                f"'circular'}}, but got padding_mode={padding_mode!r}")
        if self._transposed and padding_mode != "zeros":
            raise ValueError(f'{name}: Only "zeros" padding mode is supported for {name}')
        if self._transposed and isinstance(padding, str):
            raise ValueError(f"{name}: padding must be an int or a tuple of {n} ints, "
                             f"got {padding!r}")
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size = ntuple(kernel_size, n, "kernel_size", name)
        self.stride = ntuple(stride, n, "stride", name)
        self.dilation = ntuple(dilation, n, "dilation", name)
        self.output_padding = ntuple(output_padding, n, "output_padding", name)
        for what, v in (("kernel_size", self.kernel_size), ("stride", self.stride),
                        ("dilation", self.dilation)):
            check_positive(v, what, name)
        # torch checks the padding in the constructor
        conv_padding(padding, n, self.kernel_size, self.stride, self.dilation, name)
        self.padding = padding if isinstance(padding, str) else ntuple(padding, n, "padding", name)
        self.groups, self.bias, self.padding_mode = groups, bias, padding_mode

    def _weight_shape(self) -> tuple[int, ...]:
        if self._transposed:
            return (self.in_channels, self.out_channels // self.groups, *self.kernel_size)
        return (self.out_channels, self.in_channels // self.groups, *self.kernel_size)

    def init_params(self, key: jax.Array, dtype: Any) -> dict[str, jax.Array]:
        kw, kb = jax.random.split(key)
        shape = self._weight_shape()
        fan_in = shape[1] * math.prod(self.kernel_size)
        bound = 1.0 / math.sqrt(fan_in) if fan_in > 0 else 0.0
        p = {"weight": jax.random.uniform(kw, shape, dtype, -bound, bound)}
        if self.bias:
            p["bias"] = jax.random.uniform(kb, (self.out_channels,), dtype, -bound, bound)
        return p

    def extra_repr(self) -> str:
        n = self._n
        s = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
             f"stride={self.stride}")
        if self.padding != (0,) * n:
            s += f", padding={self.padding}"
        if self.dilation != (1,) * n:
            s += f", dilation={self.dilation}"
        if self.output_padding != (0,) * n:
            s += f", output_padding={self.output_padding}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if not self.bias:
            s += ", bias=False"
        if self.padding_mode != "zeros":
            s += f", padding_mode={self.padding_mode}"
        return s


class _Conv(_ConvNd):
    r"""Forward of ``Conv{n}d``: the functional convolution with the layer's padding mode."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: IntOrTuple,
                 stride: IntOrTuple = 1, padding: str | IntOrTuple = 0,
                 dilation: IntOrTuple = 1, groups: int = 1, bias: bool = True,
                 padding_mode: str = "zeros"):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation,
                         groups, bias, padding_mode)

    def forward(self, params: dict, x: jax.Array) -> jax.Array:
        return conv_nd(self._n, self._label(), x, params["weight"], params.get("bias"),
                       self.stride, self.padding, self.dilation, self.groups, self.padding_mode)


class Conv1d(_Conv):
    r"""``torch.nn.Conv1d``: :math:`y[n, o, i] = b_o + \sum_{c, j} w[o, c, j]\,
    x_{pad}[n, c, s i + d j]` on ``(N, C_in, L)`` or ``(C_in, L)``.

    Arguments as torch's: ``kernel_size, stride=1, padding=0`` (int, tuple, ``'valid'``,
    ``'same'``), ``dilation=1, groups=1, bias=True, padding_mode='zeros'`` (or ``'reflect'``,
    ``'replicate'``, ``'circular'``). Weight ``(C_out, C_in/groups, k)``.
    """

    _n = 1


class Conv2d(_Conv):
    r"""``torch.nn.Conv2d`` (NCHW input, OIHW weight ``(C_out, C_in/groups, kH, kW)``):
    :math:`y[n, o] = b_o + \sum_c w[o, c] \star x_{pad}[n, c]` (cross-correlation with
    stride and dilation). Arguments and defaults as :class:`Conv1d`; LeCun et al. 1998.
    """

    _n = 2


class Conv3d(_Conv):
    """``torch.nn.Conv3d`` on ``(N, C_in, D, H, W)`` or ``(C_in, D, H, W)``; weight
    ``(C_out, C_in/groups, kD, kH, kW)``. Arguments and defaults as :class:`Conv1d`."""

    _n = 3


class _ConvTranspose(_ConvNd):
    """Forward of ``ConvTranspose{n}d``, with torch's optional ``output_size``."""

    _transposed = True

    def __init__(self, in_channels: int, out_channels: int, kernel_size: IntOrTuple,
                 stride: IntOrTuple = 1, padding: IntOrTuple = 0,
                 output_padding: IntOrTuple = 0, groups: int = 1, bias: bool = True,
                 dilation: IntOrTuple = 1, padding_mode: str = "zeros"):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation,
                         groups, bias, padding_mode, output_padding)

    def _output_padding(self, who: str, x: jax.Array, output_size: Sequence[int] | None
                        ) -> tuple[int, ...]:
        """torch's ``_output_padding``: the ``output_padding`` giving ``output_size``."""
        if output_size is None:
            return self.output_padding
        n = self._n
        check_conv_input(who, x, self._weight_shape(), self.groups, n, transposed=True)
        size = tuple(output_size)[-n:]
        if len(size) != n:
            raise ValueError(f"{who}: output_size must have {n} or {n + 2} elements, "
                             f"got {tuple(output_size)}")
        lo = [(L - 1) * s - 2 * p + d * (k - 1) + 1 for L, s, p, d, k in
              zip(x.shape[-n:], self.stride, self.padding, self.dilation, self.kernel_size)]
        hi = [m + s - 1 for m, s in zip(lo, self.stride)]
        if any(not (a <= o <= b) for o, a, b in zip(size, lo, hi)):
            raise ValueError(f"{who}: requested an output size of {list(size)}, but valid sizes "
                             f"range from {lo} to {hi} (for an input of {list(x.shape[-n:])})")
        return tuple(o - a for o, a in zip(size, lo))

    def forward(self, params: dict, x: jax.Array, output_size: Sequence[int] | None = None
                ) -> jax.Array:
        who = self._label()
        output_padding = self._output_padding(who, x, output_size)
        padding = cast(tuple[int, ...], self.padding)  # never a string (checked in __init__)
        return conv_transpose_nd(self._n, who, x, params["weight"], params.get("bias"),
                                 self.stride, padding, output_padding, self.groups,
                                 self.dilation)


class ConvTranspose1d(_ConvTranspose):
    r"""``torch.nn.ConvTranspose1d``: the adjoint (input gradient) of ``Conv1d``; weight
    ``(C_in, C_out/groups, k)``, output length
    :math:`(L-1)s - 2p + d(k-1) + \text{output\_padding} + 1`. ``forward(params, x,
    output_size=None)`` as torch's. Zeiler et al. 2010 (deconvolutional networks)."""

    _n = 1


class ConvTranspose2d(_ConvTranspose):
    r"""``torch.nn.ConvTranspose2d``: the adjoint of ``Conv2d`` ("deconvolution"); weight
    ``(C_in, C_out/groups, kH, kW)``; arguments ``stride, padding, output_padding, groups,
    bias, dilation`` in torch's order. Zeiler et al. 2010."""

    _n = 2
