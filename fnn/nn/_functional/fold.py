r"""``unfold`` (im2col) and ``fold`` (col2im): torch's sliding-block extraction and its adjoint.

``unfold(x, k, dilation, padding, stride)``: ``(N, C, H, W)`` (or ``(C, H, W)``) to
``(N, C \cdot k_h k_w, L)`` with :math:`L = L_h L_w` blocks,
:math:`L_d = \lfloor (S_d + 2p_d - d_d(k_d - 1) - 1)/s_d \rfloor + 1`; row
:math:`c k_h k_w + i k_w + j` holds :math:`x_{pad}[c, s_h l_h + d_h i, s_w l_w + d_w j]`.

``fold(cols, output_size, ...)``: the adjoint, ``(N, C k_h k_w, L)`` to ``(N, C, H, W)``,
summing overlapping blocks. Both are strided slices / interior pads (one per kernel tap),
so their gradients are each other.
"""

from __future__ import annotations

from collections.abc import Sequence

import jax
import jax.numpy as jnp
from jax import lax

from ._window import ntuple

__all__ = ["unfold", "fold"]

IntOrTuple = int | Sequence[int]


def _geometry(who: str, kernel_size, dilation, padding, stride):
    k = ntuple(kernel_size, 2, "kernel_size", who)
    d = ntuple(dilation, 2, "dilation", who)
    p = ntuple(padding, 2, "padding", who)
    s = ntuple(stride, 2, "stride", who)
    for what, v, ok in (("kernel size", k, all(x > 0 for x in k)),
                        ("stride", s, all(x > 0 for x in s)),
                        ("dilation", d, all(x > 0 for x in d))):
        if not ok:
            name = what.replace(" ", "_")
            raise ValueError(f"{who}: {what} should be greater than zero, but got "
                             f"{name}_height: {v[0]} {name}_width: {v[1]}")
    if any(x < 0 for x in p):
        raise ValueError(f"{who}: padding should be non-negative, but got pad_height: {p[0]} "
                         f"pad_width: {p[1]}")
    return k, d, p, s


def _blocks(who: str, size, k, d, p, s) -> tuple[int, int]:
    out = tuple((L + 2 * pp - dd * (kk - 1) - 1) // ss + 1
                for L, kk, dd, pp, ss in zip(size, k, d, p, s))
    if any(o < 1 for o in out):
        raise ValueError(
            f"{who}: Given input with spatial size {tuple(size)}, kernel_size={k}, "
            f"dilation={d}, padding={p}, calculated shape of the array of sliding blocks as "
            f"{out}, but its components must be at least one.")
    return out  # type: ignore[return-value]


def unfold(input: jax.Array, kernel_size: IntOrTuple, dilation: IntOrTuple = 1,
           padding: IntOrTuple = 0, stride: IntOrTuple = 1) -> jax.Array:
    """``torch.nn.functional.unfold`` (im2col): the sliding ``kernel_size`` blocks of a
    ``(N, C, H, W)`` or ``(C, H, W)`` input as columns ``(N, C*kh*kw, L)``."""
    who = "unfold"
    if input.ndim not in (3, 4):
        raise ValueError(f"{who}: Expected 3D or 4D (batch mode) tensor with possibly 0 batch "
                         "size and other non-zero dimensions for input, but got: "
                         f"{list(input.shape)}")
    k, d, p, s = _geometry(who, kernel_size, dilation, padding, stride)
    x = input if input.ndim == 4 else input[None]
    oh, ow = _blocks(who, x.shape[2:], k, d, p, s)
    x = jnp.pad(x, [(0, 0), (0, 0), (p[0], p[0]), (p[1], p[1])])
    n, c = x.shape[:2]
    taps = []
    for i in range(k[0]):
        for j in range(k[1]):
            start = (0, 0, i * d[0], j * d[1])
            limit = (n, c, i * d[0] + (oh - 1) * s[0] + 1, j * d[1] + (ow - 1) * s[1] + 1)
            taps.append(lax.slice(x, start, limit, (1, 1) + s))
    cols = jnp.stack(taps, axis=2).reshape(n, c * k[0] * k[1], oh * ow)
    return cols if input.ndim == 4 else cols[0]


def fold(input: jax.Array, output_size: IntOrTuple, kernel_size: IntOrTuple,
         dilation: IntOrTuple = 1, padding: IntOrTuple = 0, stride: IntOrTuple = 1
         ) -> jax.Array:
    """``torch.nn.functional.fold`` (col2im): sum the columns ``(N, C*kh*kw, L)`` (or
    ``(C*kh*kw, L)``) back into a ``(N, C, *output_size)`` image, the adjoint of
    :func:`unfold`."""
    who = "fold"
    if input.ndim not in (2, 3):
        raise ValueError(f"{who}: Expected 2D or 3D (batch mode) tensor for input with "
                         "possibly 0 batch size and non-zero dimensions for input, but got: "
                         f"{list(input.shape)}")
    size = ntuple(output_size, 2, "output_size", who)
    k, d, p, s = _geometry(who, kernel_size, dilation, padding, stride)
    cols = input if input.ndim == 3 else input[None]
    n, ck, L = cols.shape
    if ck % (k[0] * k[1]):
        raise ValueError(f"{who}: Expected size of input's dimension 1 to be divisible by the "
                         f"product of kernel_size, but got input.size(1)={ck} and "
                         f"kernel_size={k}.")
    oh, ow = _blocks(who, size, k, d, p, s)
    if oh * ow != L:
        raise ValueError(
            f"{who}: Given output_size={size}, kernel_size={k}, dilation={d}, padding={p}, "
            f"stride={s}, expected size of input's dimension 2 to match the calculated number "
            f"of sliding blocks {oh} * {ow} = {oh * ow}, but got input.size(2)={L}.")
    c = ck // (k[0] * k[1])
    blocks = cols.reshape(n, c, k[0] * k[1], oh, ow)
    ph, pw = size[0] + 2 * p[0], size[1] + 2 * p[1]
    out = jnp.zeros((n, c, ph, pw), cols.dtype)
    zero = jnp.zeros((), cols.dtype)
    for t in range(k[0] * k[1]):
        i, j = divmod(t, k[1])
        lo_h, lo_w = i * d[0], j * d[1]
        hi_h = ph - lo_h - (oh - 1) * s[0] - 1
        hi_w = pw - lo_w - (ow - 1) * s[1] - 1
        out = out + lax.pad(blocks[:, :, t], zero, [(0, 0, 0), (0, 0, 0),
                                                    (lo_h, hi_h, s[0] - 1), (lo_w, hi_w, s[1] - 1)])
    out = out[:, :, p[0]:p[0] + size[0], p[1]:p[1] + size[1]]
    return out if input.ndim == 3 else out[0]
