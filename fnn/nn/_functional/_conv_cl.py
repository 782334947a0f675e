r"""The convolution kernel behind ``conv1d/2d/3d``: channels-last, with fast gradients.

XLA:CPU (jax 0.10) runs a forward convolution well when it is channels-last (``NHWC``
input, ``HWIO`` kernel). The input gradient JAX derives for a convolution is a transposed
convolution (the output gradient, fully padded, against the flipped kernel), and XLA:CPU
runs that 5-12x slower than the forward one when the kernel reaches across the whole
output (a 5x5 kernel on a 4x4 output: the second layer of a small MNIST net, where it is
~11x torch). This module computes

    y = conv(x, w)                                  (one ``lax.conv_general_dilated``)

with a :func:`jax.custom_jvp` whose tangent is linear in ``(dx, dw)``:

    dy = patches(dx) @ W  +  conv(x, dw)

where ``patches`` (im2col) stacks the ``prod(kernel)`` shifted, strided slices of the padded
input along the channel axis and ``W`` is the weight as a ``(prod(kernel) * C/g, O)``
matrix. Reverse mode transposes this tangent: the input gradient becomes one matrix
product ``dy @ W^T`` followed by col2im (each slice's transpose is a pad, so the columns
are added back at their shifted places), and the weight gradient is the convolution JAX
derives for ``conv(x, dw)``. Which formulation each term uses is decided from the shapes
(measured, see :func:`_input_term_as_matmul` and :func:`_weight_term_as_matmul`): where
XLA's own transposed convolution is fast (large outputs, many channels) the input term
stays ``conv(dx, w)``; with one or two input channels, or a kernel spanning the output,
the weight term is an im2col matrix product too (XLA's weight-gradient convolution is
slow there, catastrophically so inside ``lax.scan``), and since those columns are then
built anyway, the forward output is computed from them as well (:func:`_cols_forward`).
Without differentiation (inference) the forward is the convolution kernel.

Because the rule is an ordinary JAX function of ordinary JAX operations, every
transformation composes with it: ``vmap``, forward mode, ``jvp`` of ``grad``
(Hessian-vector products, AdaHessian) and higher derivatives. The rule uses symbolic
zeros, so a term is skipped when its argument needs no derivative (the input of the first
layer).

The im2col columns are ``prod(kernel)`` times the size of the input. Above
:data:`IM2COL_MAX_BYTES` the input term is instead computed tap by tap
(``sum_j slice_j(dx) @ W_j``), which transposes to one small matrix product and one pad per
kernel tap and needs no buffer larger than the input.

Layouts: ``x`` is ``(N, *spatial, C)``, ``w`` is ``(*kernel, C/groups, O)``, ``y`` is
``(N, *out, O)``. :func:`conv_channels_first` wraps it for torch's layouts; the transposes
it adds cancel between consecutive layers under ``jit``.
"""

from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Sequence
from functools import partial

import jax
import jax.numpy as jnp
from jax import lax
from jax.custom_derivatives import SymbolicZero

from ..._precision import with_matmul_precision

__all__ = ["conv_channels_first", "conv_channels_last", "IM2COL_MAX_BYTES"]

#: Largest im2col buffer (bytes) built for a tangent/gradient; above it, tap by tap (input
#: term) or the convolution (weight term).
IM2COL_MAX_BYTES = 256 * 2**20

_SPATIAL = "DHW"


def _dimension_numbers(n: int) -> tuple[str, str, str]:
    sp = _SPATIAL[-n:]
    return f"N{sp}C", f"{sp}IO", f"N{sp}C"


def _conv(x, w, stride, pads, dilation, groups):
    n = x.ndim - 2
    return lax.conv_general_dilated(x, w, stride, pads, rhs_dilation=dilation,
                                    dimension_numbers=_dimension_numbers(n),
                                    feature_group_count=groups)


def _out_size(x_shape, kernel, stride, pads, dilation) -> tuple[int, ...]:
    return tuple((L + lo + hi - d * (k - 1) - 1) // s + 1 for L, k, s, (lo, hi), d
                 in zip(x_shape[1:-1], kernel, stride, pads, dilation))


def _pad(x, pads):
    if not any(lo or hi for lo, hi in pads):
        return x
    return lax.pad(x, jnp.zeros((), x.dtype),
                   [(0, 0, 0)] + [(lo, hi, 0) for lo, hi in pads] + [(0, 0, 0)])


def _taps(x, kernel, stride, pads, dilation, out):
    """The ``prod(kernel)`` strided slices of the padded ``x``, each ``(N, *out, C)``,
    in row-major kernel order."""
    x = _pad(x, pads)
    taps = []
    for j in itertools.product(*(range(k) for k in kernel)):
        start = [0] + [jj * d for jj, d in zip(j, dilation)] + [0]
        limit = [x.shape[0]] + [st + (o - 1) * s + 1 for st, o, s
                                in zip(start[1:], out, stride)] + [x.shape[-1]]
        taps.append(lax.slice(x, start, limit, (1,) + tuple(stride) + (1,)))
    return taps


def _patches(x, kernel, stride, pads, dilation, out):
    """im2col: ``(N, *out, prod(kernel), C)`` (kernel taps row-major, channels minor).

    Built one spatial dim at a time (``k_d`` strided slices stacked per dim), so that its
    transpose, col2im, is ``k_d`` shifted adds per dim on shrinking arrays rather than
    ``prod(kernel)`` full-size ones (which XLA:CPU fuses badly into the consumer)."""
    n = len(kernel)
    x = _pad(x, pads)
    for d in range(n):
        k, s, dil, o = kernel[d], stride[d], dilation[d], out[d]
        x = jnp.stack([lax.slice_in_dim(x, j * dil, j * dil + (o - 1) * s + 1, s, axis=1 + d)
                       for j in range(k)], axis=-2)
    return x.reshape(x.shape[:n + 1] + (-1, x.shape[-1]))


def _grouped_matmul(cols, wmat, groups):
    """``cols`` ``(..., K, C)`` against ``wmat`` ``(K, C/g, O)``, per group -> ``(..., O)``."""
    *lead, kk, c = cols.shape
    o = wmat.shape[-1]
    if groups == 1:
        return (cols.reshape(-1, kk * c) @ wmat.reshape(kk * c, o)).reshape(*lead, o)
    cg, og = c // groups, o // groups
    cols = cols.reshape(-1, kk, groups, cg)
    wg = wmat.reshape(kk, cg, groups, og)
    y = jnp.einsum("mkgc,kcgo->mgo", cols, wg)
    return y.reshape(*lead, o)


def _cols_bytes(x_shape, kernel, out, itemsize) -> int:
    return x_shape[0] * math.prod(out) * math.prod(kernel) * x_shape[-1] * itemsize


def _matmul_conv(x, w, stride, pads, dilation, groups):
    """``conv(x, w)`` as im2col matrix products (tap by tap above
    :data:`IM2COL_MAX_BYTES`). Linear in each of ``x`` and ``w``; its transposes are a
    matrix product and col2im (for ``x``) or im2col and a matrix product (for ``w``)."""
    kernel = w.shape[:-2]
    out = _out_size(x.shape, kernel, stride, pads, dilation)
    wmat = w.reshape(math.prod(kernel), w.shape[-2], w.shape[-1])
    if _cols_bytes(x.shape, kernel, out, x.dtype.itemsize) <= IM2COL_MAX_BYTES:
        return _grouped_matmul(_patches(x, kernel, stride, pads, dilation, out), wmat, groups)
    y = None
    for j, t in enumerate(_taps(x, kernel, stride, pads, dilation, out)):
        term = _grouped_matmul(t[..., None, :], wmat[j:j + 1], groups)
        y = term if y is None else y + term
    return y


def _patches_kernel_major(x, kernel, stride, pads, dilation, out):
    """im2col as a ``(prod(kernel) * C, N * prod(out))`` matrix (kernel taps, then
    channels, leading): the layout whose product with the output gradient is a plain
    ``(K, M) @ (M, O)`` matrix product."""
    n = len(kernel)
    u = jnp.moveaxis(_pad(x, pads), -1, 0)          # (C, N, *spatial)
    for d in range(n):
        k, s, dil, o = kernel[d], stride[d], dilation[d], out[d]
        axis = d + 2 + d          # after d kernel axes, C and N: spatial dim d
        u = jnp.stack([lax.slice_in_dim(u, j * dil, j * dil + (o - 1) * s + 1, s, axis=axis)
                       for j in range(k)], axis=d)
    return u.reshape(math.prod(kernel) * x.shape[-1], -1)


def _input_term_as_matmul(x_shape, w_shape, stride, pads, dilation, groups) -> bool:
    """Whether the input tangent goes through im2col (its transpose: a matrix product and
    col2im) rather than ``conv(dx, w)`` (whose transpose is XLA's transposed convolution).

    Measured on XLA:CPU (jax 0.10): the transposed convolution is 5-12x slower than the
    forward one when the dilated kernel reaches across the whole output gradient
    (``d*(k-1) >= out`` in some dim, as in small late layers: 5x5 kernels on 4x4 outputs),
    and col2im is also faster with few channels per group (depthwise, RGB inputs);
    elsewhere (large outputs, many channels) the im2col buffer is large and the transposed
    convolution runs as fast as the forward one, so it is kept."""
    kernel = w_shape[:-2]
    out = _out_size(x_shape, kernel, stride, pads, dilation)
    return _reaches(kernel, dilation, out) or w_shape[-2] <= 4


def _reaches(kernel, dilation, out) -> bool:
    """Whether the dilated kernel spans the whole output in some dim (``d*(k-1) >= out``):
    a small late layer, where XLA:CPU's gradient convolutions are slow."""
    return any(d * (k - 1) >= o for k, d, o in zip(kernel, dilation, out))


def _weight_term_as_matmul(x, w_shape, stride, pads, dilation, groups) -> bool:
    """Whether the weight tangent is im2col (kernel taps leading) contracted with ``dw``
    (its transpose, the weight gradient: one well-shaped matrix product ``cols @ dy``)
    rather than ``conv(x, dw)`` (whose transpose is the convolution JAX derives).

    Measured on XLA:CPU (jax 0.10): the derived convolution is slow with one or two input
    channels (a first layer on images: a 1-channel "batch" against a kernel the size of
    the image, 3x slower) and, in small late layers where the kernel spans the output, is
    as fast standalone but inside a ``lax.scan``/``while`` body XLA:CPU lays it out for
    its generic emitter: ~100x slower (300 ms for the MNIST net's second layer). Elsewhere
    (large outputs) the columns are big and the derived convolution is up to 3x faster.
    """
    kernel = w_shape[:-2]
    out = _out_size(x.shape, kernel, stride, pads, dilation)
    return (groups == 1 and (w_shape[-2] <= 2 or _reaches(kernel, dilation, out))
            and _cols_bytes(x.shape, kernel, out, x.dtype.itemsize) <= IM2COL_MAX_BYTES)


def _cols_forward(cols, w, x_shape, out):
    """``conv(x, w)`` from ``cols = _patches_kernel_major(x)``: ``(W^T @ cols)^T``, a plain
    matrix product (``cols^T @ W`` would be a transposed-operand product, which XLA:CPU
    runs through a slower kernel) and a small transpose; faster than the convolution kernel
    when the columns are built anyway for the weight gradient."""
    o = w.shape[-1]
    y = w.reshape(-1, o).T @ cols
    return y.T.reshape((x_shape[0],) + out + (o,))


@partial(jax.custom_jvp, nondiff_argnums=(3, 4, 5, 6))
def conv_channels_last(x: jax.Array, w: jax.Array, b: jax.Array, stride: tuple[int, ...],
                       pads: tuple[tuple[int, int], ...], dilation: tuple[int, ...],
                       groups: int) -> jax.Array:
    """``(N, *spatial, C)`` input, ``(*kernel, C/groups, O)`` weight, ``(O,)`` bias ->
    ``(N, *out, O)``: torch's convolution (a cross-correlation) with explicit ``(low,
    high)`` padding. Pass a constant zero bias for none (its gradient is never formed)."""
    return _conv(x, w, stride, pads, dilation, groups) + b


@partial(conv_channels_last.defjvp, symbolic_zeros=True)
@with_matmul_precision
def _conv_channels_last_jvp(stride, pads, dilation, groups, primals, tangents):
    x, w, b = primals
    tx, tw, tb = (None if isinstance(t, SymbolicZero) else t for t in tangents)
    kernel = w.shape[:-2]
    out = _out_size(x.shape, kernel, stride, pads, dilation)
    cols = None
    if tw is not None and _weight_term_as_matmul(x, w.shape, stride, pads, dilation, groups):
        cols = _patches_kernel_major(x, kernel, stride, pads, dilation, out)
        y = _cols_forward(cols, w, x.shape, out) + b
    else:
        y = _conv(x, w, stride, pads, dilation, groups) + b
    terms = []
    if tx is not None:
        if _input_term_as_matmul(x.shape, w.shape, stride, pads, dilation, groups):
            terms.append(_matmul_conv(tx, w, stride, pads, dilation, groups))
        else:
            terms.append(_conv(tx, w, stride, pads, dilation, groups))
    if cols is not None:
        terms.append(lax.dot_general(cols, tw.reshape(-1, w.shape[-1]),
                                     (((0,), (0,)), ((), ()))).reshape(y.shape))
    elif tw is not None:
        terms.append(_conv(x, tw, stride, pads, dilation, groups))
    if tb is not None:
        terms.append(tb)
    if not terms:
        return y, jnp.zeros_like(y)
    ty = functools.reduce(jnp.add, terms)
    return y, jnp.broadcast_to(ty, y.shape).astype(y.dtype)


def conv_channels_first(x: jax.Array, weight: jax.Array, bias: jax.Array | None,
                        stride: Sequence[int], pads: Sequence[tuple[int, int]],
                        dilation: Sequence[int], groups: int) -> jax.Array:
    """torch layouts: ``(N, C, *spatial)`` input, ``(O, C/groups, *kernel)`` weight, ``(O,)``
    bias -> ``(N, O, *out)``, computed channels-last by :func:`conv_channels_last`."""
    n = x.ndim - 2
    to_last = (0,) + tuple(range(2, n + 2)) + (1,)
    if bias is None:
        bias = jnp.zeros((weight.shape[0],), jnp.result_type(x, weight))
    y = conv_channels_last(jnp.transpose(x, to_last),
                           jnp.transpose(weight, tuple(range(2, n + 2)) + (1, 0)), bias,
                           tuple(stride), tuple(tuple(p) for p in pads), tuple(dilation), groups)
    return jnp.transpose(y, (0, n + 1) + tuple(range(1, n + 1)))
