r"""Convolutions: ``conv1d/2d/3d`` and ``conv_transpose1d/2d`` (torch layouts and arguments).

Inputs are ``(N, C, *spatial)`` or unbatched ``(C, *spatial)``. Convolution weights are
``(out_channels, in_channels/groups, *kernel)``; transposed-convolution weights are torch's
``(in_channels, out_channels/groups, *kernel)``. Both lower to one
``jax.lax.conv_general_dilated`` call, the single place where a convolution happens in fnn
(a faster kernel can be slotted in here).

torch's "convolution" is a cross-correlation:

.. math::
    y[n, o, \mathbf{i}] = b[o] + \sum_{c \in \text{group}(o)} \sum_{\mathbf{j}}
        w[o, c, \mathbf{j}] \; x_{\text{pad}}[n, c, \mathbf{s}\odot\mathbf{i} + \mathbf{d}\odot\mathbf{j}]

and the transposed convolution is its adjoint with respect to the input (the gradient of
a convolution), with ``output_padding`` extra rows at the high end of each dimension.

**How it runs.** Floating-point convolutions go through :mod:`._conv_cl`: the computation
is done channels-last (``(N, *spatial, C)`` inputs, ``(*kernel, C/g, O)`` weights, the
layouts XLA:CPU's convolution kernel wants), with a custom JVP whose input tangent is an
im2col matrix product, so that reverse mode gets the input gradient as a matrix product and
a col2im (shifted adds) instead of XLA:CPU's slow transposed convolution. The public
layouts stay torch's; the transposes in between cancel under ``jit``. Every
transformation (``jit``, ``vmap``, ``grad``, ``jvp``, Hessian-vector products, higher
derivatives) goes through the same rule.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
from jax import lax

from ..._autocast import autocast_op
from ._conv_cl import conv_channels_first
from ._window import check_positive, check_rank, ntuple, window_output_size
from .padding import pad

__all__ = ["conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
           "conv_transpose3d", "conv_tbc"]

_DIMS = {1: ("NCH", "OIH", "NCH"), 2: ("NCHW", "OIHW", "NCHW"), 3: ("NCDHW", "OIDHW", "NCDHW")}
IntOrTuple = int | Sequence[int]


def conv_padding(padding: str | IntOrTuple, n: int, kernel: Sequence[int], stride: Sequence[int],
                 dilation: Sequence[int], who: str) -> list[tuple[int, int]]:
    """``(low, high)`` padding per spatial dim for an int, a tuple, ``'valid'`` or ``'same'``.

    ``'same'`` pads ``d*(k-1)`` in total, the odd element on the high side, as torch does.
    """
    if isinstance(padding, str):
        if padding == "valid":
            return [(0, 0)] * n
        if padding == "same":
            if any(s != 1 for s in stride):
                raise ValueError(f"{who}: padding='same' is not supported for strided convolutions")
            totals = [d * (k - 1) for k, d in zip(kernel, dilation)]
            return [(t // 2, t - t // 2) for t in totals]
        raise ValueError(
            f"{who}: Invalid padding string {padding!r}, should be one of {{'valid', 'same'}}")
    pads = ntuple(padding, n, "padding", who)
    if any(p < 0 for p in pads):
        raise ValueError(f"{who}: negative padding is not supported, got padding={pads}")
    return [(p, p) for p in pads]


def check_conv_input(who: str, input: Any, weight_shape: Sequence[int], groups: int, n: int,
                     transposed: bool = False) -> bool:
    """Rank and channel checks (torch's messages); returns whether ``input`` is batched."""
    batched = check_rank(input, n, who)
    channels = input.shape[1 if batched else 0]
    expected = weight_shape[0] if transposed else weight_shape[1] * groups
    if channels != expected:
        raise ValueError(
            f"{who}: given groups={groups}, weight of size {list(weight_shape)}, expected input "
            f"{list(input.shape)} to have {expected} channels, but got {channels} channels instead")
    return batched


def _promote(input: jax.Array, weight: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Common dtype of input and weight (JAX promotion, as ``jnp.matmul`` in ``linear``)."""
    dtype = jnp.result_type(input, weight)
    return jnp.asarray(input, dtype), jnp.asarray(weight, dtype)


def _add_bias(who: str, y: jax.Array, bias: jax.Array | None, n: int) -> jax.Array:
    if bias is None:
        return y
    if tuple(bias.shape) != (y.shape[1],):
        raise ValueError(f"{who}: expected bias of shape ({y.shape[1]},), got {tuple(bias.shape)}")
    return y + bias.reshape((-1,) + (1,) * n)


def _check_args(n: int, who: str, weight: jax.Array, groups: int, stride: IntOrTuple,
                dilation: IntOrTuple, layout: str) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """The weight's rank, ``groups``, and ``stride``/``dilation`` as positive ``n``-tuples."""
    if len(weight.shape) != n + 2:
        raise ValueError(f"{who}: weight must be {n + 2}D ({layout}, *kernel), "
                         f"got shape {tuple(weight.shape)}")
    if groups <= 0:
        raise ValueError(f"{who}: groups must be a positive integer, got {groups}")
    stride = ntuple(stride, n, "stride", who)
    dilation = ntuple(dilation, n, "dilation", who)
    check_positive(stride, "stride", who)
    check_positive(dilation, "dilation", who)
    return stride, dilation


@autocast_op("convolution")
def conv_nd(n: int, who: str, input: jax.Array, weight: jax.Array, bias: jax.Array | None,
            stride: IntOrTuple, padding: str | IntOrTuple, dilation: IntOrTuple,
            groups: int, padding_mode: str = "zeros") -> jax.Array:
    """The ``n``-d convolution behind ``conv{n}d`` and ``Conv{n}d`` (all input checks, once,
    with ``who`` in the messages). ``padding_mode`` other than ``"zeros"`` pads the input
    with :func:`pad` (``"reflect"``, ``"replicate"``, ``"circular"``) instead of zeros."""
    stride, dilation = _check_args(n, who, weight, groups, stride, dilation, "out, in/groups")
    batched = check_conv_input(who, input, weight.shape, groups, n)
    kernel = tuple(weight.shape[2:])
    pads = conv_padding(padding, n, kernel, stride, dilation, who)
    window_output_size(who, input.shape[-n:], kernel, stride, pads, dilation)
    x, weight = _promote(input, weight)
    x = x if batched else x[None]
    if padding_mode != "zeros":
        x = pad(x, tuple(v for lo, hi in reversed(pads) for v in (lo, hi)), mode=padding_mode)
        pads = [(0, 0)] * n
    if bias is not None and tuple(bias.shape) != (weight.shape[0],):
        raise ValueError(f"{who}: expected bias of shape ({weight.shape[0]},), "
                         f"got {tuple(bias.shape)}")
    if jnp.issubdtype(x.dtype, jnp.floating):
        y = conv_channels_first(x, weight, bias, stride, pads, dilation, groups)
    else:
        y = lax.conv_general_dilated(x, weight, stride, pads, rhs_dilation=dilation,
                                     dimension_numbers=_DIMS[n], feature_group_count=groups)
        y = _add_bias(who, y, bias, n)
    return y if batched else y[0]


@autocast_op("convolution")
def conv_transpose_nd(n: int, who: str, input: jax.Array, weight: jax.Array,
                      bias: jax.Array | None, stride: IntOrTuple, padding: IntOrTuple,
                      output_padding: IntOrTuple, groups: int, dilation: IntOrTuple) -> jax.Array:
    """The ``n``-d transposed convolution behind ``conv_transpose{n}d`` and
    ``ConvTranspose{n}d`` (all input checks, once, with ``who`` in the messages)."""
    stride, dilation = _check_args(n, who, weight, groups, stride, dilation, "in, out/groups")
    pads = ntuple(padding, n, "padding", who)
    out_pads = ntuple(output_padding, n, "output_padding", who)
    if any(p < 0 for p in pads + out_pads):
        raise ValueError(f"{who}: negative padding is not supported, got padding={pads}, "
                         f"output_padding={out_pads}")
    if any(op >= s and op >= d for op, s, d in zip(out_pads, stride, dilation)):
        raise ValueError(f"{who}: output padding must be smaller than either stride or dilation, "
                         f"but got output_padding={out_pads}, stride={stride}, dilation={dilation}")
    batched = check_conv_input(who, input, weight.shape, groups, n, transposed=True)
    cin, cout_g, *kernel = weight.shape
    out = [(size - 1) * s - 2 * p + d * (k - 1) + op + 1 for size, s, p, d, k, op
           in zip(input.shape[-n:], stride, pads, dilation, kernel, out_pads)]
    if any(o <= 0 for o in out):
        raise ValueError(f"{who}: calculated output size {tuple(out)} is non-positive for input "
                         f"of shape {tuple(input.shape)}")
    # (in, out/g, *k) -> (out, in/g, *k), spatially flipped: the adjoint's kernel
    input, weight = _promote(input, weight)
    w = weight.reshape(groups, cin // groups, cout_g, *kernel)
    w = jnp.swapaxes(w, 1, 2).reshape(groups * cout_g, cin // groups, *kernel)
    w = jnp.flip(w, axis=tuple(range(2, n + 2)))
    conv_pads = [(d * (k - 1) - p, d * (k - 1) - p + op)
                 for k, d, p, op in zip(kernel, dilation, pads, out_pads)]
    x = input if batched else input[None]
    y = lax.conv_general_dilated(x, w, (1,) * n, conv_pads, lhs_dilation=stride,
                                 rhs_dilation=dilation, dimension_numbers=_DIMS[n],
                                 feature_group_count=groups)
    y = _add_bias(who, y, bias, n)
    return y if batched else y[0]


def conv1d(input: jax.Array, weight: jax.Array, bias: jax.Array | None = None,
           stride: IntOrTuple = 1, padding: str | IntOrTuple = 0, dilation: IntOrTuple = 1,
           groups: int = 1) -> jax.Array:
    """1-D convolution, ``torch.nn.functional.conv1d``: input ``(N, C_in, L)`` or ``(C_in, L)``,
    weight ``(C_out, C_in/groups, k)``; ``padding`` an int, a 1-tuple, ``'valid'`` or ``'same'``."""
    return conv_nd(1, "conv1d", input, weight, bias, stride, padding, dilation, groups)


def conv2d(input: jax.Array, weight: jax.Array, bias: jax.Array | None = None,
           stride: IntOrTuple = 1, padding: str | IntOrTuple = 0, dilation: IntOrTuple = 1,
           groups: int = 1) -> jax.Array:
    """2-D convolution, ``torch.nn.functional.conv2d``: input ``(N, C_in, H, W)`` or
    ``(C_in, H, W)``, weight ``(C_out, C_in/groups, kH, kW)`` (OIHW)."""
    return conv_nd(2, "conv2d", input, weight, bias, stride, padding, dilation, groups)


def conv3d(input: jax.Array, weight: jax.Array, bias: jax.Array | None = None,
           stride: IntOrTuple = 1, padding: str | IntOrTuple = 0, dilation: IntOrTuple = 1,
           groups: int = 1) -> jax.Array:
    """3-D convolution, ``torch.nn.functional.conv3d``: input ``(N, C_in, D, H, W)`` or
    ``(C_in, D, H, W)``, weight ``(C_out, C_in/groups, kD, kH, kW)``."""
    return conv_nd(3, "conv3d", input, weight, bias, stride, padding, dilation, groups)


def conv_transpose1d(input: jax.Array, weight: jax.Array, bias: jax.Array | None = None,
                     stride: IntOrTuple = 1, padding: IntOrTuple = 0,
                     output_padding: IntOrTuple = 0, groups: int = 1,
                     dilation: IntOrTuple = 1) -> jax.Array:
    """1-D transposed convolution, ``torch.nn.functional.conv_transpose1d`` (argument order
    as torch's). Weight ``(C_in, C_out/groups, k)``; output length
    ``(L - 1)*s - 2p + d*(k - 1) + output_padding + 1``."""
    return conv_transpose_nd(1, "conv_transpose1d", input, weight, bias, stride, padding,
                              output_padding, groups, dilation)


def conv_transpose2d(input: jax.Array, weight: jax.Array, bias: jax.Array | None = None,
                     stride: IntOrTuple = 1, padding: IntOrTuple = 0,
                     output_padding: IntOrTuple = 0, groups: int = 1,
                     dilation: IntOrTuple = 1) -> jax.Array:
    """2-D transposed convolution ("deconvolution"), ``torch.nn.functional.conv_transpose2d``.
    Weight ``(C_in, C_out/groups, kH, kW)``; each output size is
    ``(L - 1)*s - 2p + d*(k - 1) + output_padding + 1``."""
    return conv_transpose_nd(2, "conv_transpose2d", input, weight, bias, stride, padding,
                              output_padding, groups, dilation)


def conv_transpose3d(input: jax.Array, weight: jax.Array, bias: jax.Array | None = None,
                     stride: IntOrTuple = 1, padding: IntOrTuple = 0,
                     output_padding: IntOrTuple = 0, groups: int = 1,
                     dilation: IntOrTuple = 1) -> jax.Array:
    """3-D transposed convolution, ``torch.nn.functional.conv_transpose3d``: input
    ``(N, C_in, D, H, W)`` or unbatched, weight ``(C_in, C_out/groups, kD, kH, kW)``."""
    return conv_transpose_nd(3, "conv_transpose3d", input, weight, bias, stride, padding,
                              output_padding, groups, dilation)


def conv_tbc(input: jax.Array, weight: jax.Array, bias: jax.Array, pad: int = 0) -> jax.Array:
    r"""``torch.nn.functional.conv_tbc``: a 1-D convolution in time-batch-channel layout,
    input ``(T, B, C_in)``, weight ``(K, C_in, C_out)``, bias ``(C_out,)``, ``pad`` zeros on
    both ends of time: :math:`y[t, b, o] = b_o + \sum_{k, c} w[k, c, o]\, x_{pad}[t + k, b, c]`,
    output ``(T + 2 pad - K + 1, B, C_out)``."""
    if input.ndim != 3:
        raise ValueError("conv_tbc: Input must have 3 dims: time, batch, in_channel")
    if weight.ndim != 3:
        raise ValueError("conv_tbc: Weight tensor must have 3 dims: kernel_width, in_channels, "
                         "out_channels.")
    if bias.ndim != 1:
        raise ValueError("conv_tbc: Bias must be 1-D")
    if input.shape[2] != weight.shape[1]:
        raise ValueError("conv_tbc: Input dim 2 (input channels) is not == dim 1 in the weight "
                         "tensor")
    if bias.shape[0] != weight.shape[2]:
        raise ValueError("conv_tbc: Bias size must equal dim 2 in the weight tensor (output "
                         "channels).")
    x = jnp.transpose(input, (1, 2, 0))           # (B, C_in, T)
    w = jnp.transpose(weight, (2, 1, 0))          # (C_out, C_in, K)
    y = conv_nd(1, "conv_tbc", x, w, bias, 1, pad, 1, 1)
    return jnp.transpose(y, (2, 0, 1))
