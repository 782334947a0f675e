r"""Pooling: ``max_pool1d/2d``, ``avg_pool1d/2d``, ``adaptive_avg_pool1d/2d``, ``adaptive_max_pool2d``.

Inputs are ``(N, C, *spatial)`` or unbatched ``(C, *spatial)``; the window runs over the
spatial dims only. Windowed pools lower to one ``jax.lax.reduce_window`` call, except max
pooling with non-overlapping windows (``stride == kernel_size``, no padding or dilation:
the classic CNN pool), which is a reshape and a maximum computed channels-last, with a
custom JVP that routes the tangent (and so the gradient) to the first maximal element of
each window in torch's scan order (XLA:CPU's ``reduce_window`` gradient,
``select_and_scatter``, is several times slower than torch).

Output length per dim (torch's ``pooling_output_shape``):

.. math::
    L_{out} = \left\lfloor \frac{L + 2p - d(k-1) - 1}{s} \right\rfloor + 1

with :math:`\lceil\cdot\rceil` in ``ceil_mode``, where the last window must still start
inside the input or the left padding (one window is dropped when
:math:`(L_{out} - 1)s \ge L + p`). Max pooling pads with :math:`-\infty`; average pooling
divides by the window's size clipped to the padded input (``count_include_pad=True``) or by
its number of real input elements (``False``), or by ``divisor_override``.

Adaptive pools split a length :math:`L` into :math:`L_{out}` bins
:math:`[\lfloor iL/L_{out}\rfloor, \lceil (i+1)L/L_{out}\rceil)` (overlapping when
:math:`L_{out}` does not divide :math:`L`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from ._window import check_positive, check_rank, ntuple, pool_output_size

__all__ = ["max_pool1d", "max_pool2d", "max_pool3d", "avg_pool1d", "avg_pool2d", "avg_pool3d",
           "adaptive_avg_pool1d", "adaptive_avg_pool2d", "adaptive_avg_pool3d",
           "adaptive_max_pool1d", "adaptive_max_pool2d", "adaptive_max_pool3d", "lp_pool1d",
           "lp_pool2d", "lp_pool3d", "max_pool1d_with_indices", "max_pool2d_with_indices",
           "max_pool3d_with_indices", "adaptive_max_pool1d_with_indices",
           "adaptive_max_pool2d_with_indices", "adaptive_max_pool3d_with_indices"]

IntOrTuple = int | Sequence[int]


def _lowest(dtype: jnp.dtype) -> np.ndarray:
    """The padding value of max pooling (a numpy constant: ``reduce_window`` needs a known
    init value to be differentiable under ``jit``)."""
    if jnp.issubdtype(dtype, jnp.floating):
        return np.array(-np.inf, dtype)
    return np.array(jnp.iinfo(dtype).min, dtype)


class _Window:
    """Validated pooling geometry over the last ``n`` dims of an input."""

    def __init__(self, n: int, who: str, input: jax.Array, kernel_size: IntOrTuple,
                 stride: IntOrTuple | None, padding: IntOrTuple, dilation: IntOrTuple,
                 ceil_mode: bool):
        check_rank(input, n, who)
        self.kernel = ntuple(kernel_size, n, "kernel_size", who)
        self.stride = self.kernel if stride is None or stride == () or stride == [] else \
            ntuple(stride, n, "stride", who)
        self.pad = ntuple(padding, n, "padding", who)
        self.dilation = ntuple(dilation, n, "dilation", who)
        for what, v in (("kernel_size", self.kernel), ("stride", self.stride),
                        ("dilation", self.dilation)):
            check_positive(v, what, who)
        for p, k, d in zip(self.pad, self.kernel, self.dilation):
            if p < 0 or p > (d * (k - 1) + 1) // 2:
                raise ValueError(
                    f"{who}: pad should be at most half of effective kernel size, but got "
                    f"pad={p}, kernel_size={k} and dilation={d}")
        self.lengths = tuple(input.shape[-n:])
        self.out = tuple(pool_output_size(L, k, s, p, d, ceil_mode) for L, k, s, p, d
                         in zip(self.lengths, self.kernel, self.stride, self.pad, self.dilation))
        if any(o <= 0 for o in self.out):
            raise ValueError(
                f"{who}: given input size {tuple(input.shape)}, the calculated output size "
                f"{self.out} is too small (kernel_size={self.kernel}, stride={self.stride}, "
                f"padding={self.pad}, dilation={self.dilation})")
        self.lead = input.ndim - n

    def padding(self) -> list[tuple[int, int]]:
        """Low pad ``p``; high pad extended so that exactly ``out`` windows fit (ceil mode)."""
        high = [max(p, (o - 1) * s + d * (k - 1) + 1 - L - p) for L, k, s, p, d, o
                in zip(self.lengths, self.kernel, self.stride, self.pad, self.dilation, self.out)]
        return [(0, 0)] * self.lead + [(p, h) for p, h in zip(self.pad, high)]

    def reduce(self, input: jax.Array, init: jax.typing.ArrayLike, op) -> jax.Array:
        ones = (1,) * self.lead
        return lax.reduce_window(input, init, op, ones + self.kernel, ones + self.stride,
                                 self.padding(), window_dilation=ones + self.dilation)


def check_max_pool_padding(who: str, pad: Sequence[int], kernel: Sequence[int]) -> None:
    """torch's max-pool kernel check: ``pad <= kernel_size // 2`` in every dim, whatever the
    dilation (on top of the half-the-dilated-kernel check all pools make), with torch's
    message for 1-D and 2-D."""
    if all(p <= k // 2 for p, k in zip(pad, kernel)):
        return
    if len(pad) == 1:
        raise ValueError(f"{who}: max_pool1d() padding should be at most half of kernel size, "
                         f"but got padding={pad[0]} and kernel_size={kernel[0]}")
    if len(pad) == 3:
        (kt, kh, kw), (pt, ph, pw) = kernel, pad
        raise ValueError(f"{who}: pad should be smaller than or equal to half of kernel size, "
                         f"but got kT: {kt} kW: {kw} kH: {kh} padT: {pt} padW: {pw} padH: {ph}")
    dims = "".join(f", pad{a} = {p}" for a, p in zip("DHW"[-len(pad):][::-1], pad[::-1]))
    ks = "".join(f", k{a} = {k}" for a, k in zip("DHW"[-len(pad):][::-1], kernel[::-1]))
    raise ValueError(f"{who}: pad should be smaller than or equal to half of kernel size, but "
                     f"got {dims[2:]}{ks}")


def max_pool_nd(n: int, who: str, input, kernel_size, stride, padding, dilation, ceil_mode,
                return_indices):
    """Max pooling over the last ``n`` dims; with ``return_indices`` also each maximum's
    flat index in its ``(N, C)`` plane of the (unpadded) input, torch's convention."""
    win = _Window(n, who, input, kernel_size, stride, padding, dilation, ceil_mode)
    check_max_pool_padding(who, win.pad, win.kernel)
    if return_indices:
        bins = [_dilated_bins(*args) for args in zip(win.lengths, win.kernel, win.stride,
                                                      win.pad, win.dilation, win.out)]
        return _first_max(*_gather_windows(input, bins), _flat_index(bins, win.lengths))
    if win.stride == win.kernel and not any(win.pad) and all(d == 1 for d in win.dilation):
        return _max_pool_tiles(input, win)
    if all(d == 1 for d in win.dilation):
        return win.reduce(input, _lowest(input.dtype), lax.max)
    # JAX has no gradient for dilated reduce_window max: gather the windows instead
    bins = [_dilated_bins(*args) for args in zip(win.lengths, win.kernel, win.stride, win.pad,
                                                  win.dilation, win.out)]
    return _first_max(*_gather_windows(input, bins))


def _max_pool_tiles(input: jax.Array, win: _Window) -> jax.Array:
    """Max pooling over non-overlapping windows: channels-last, cropped (floor mode) or
    padded with the lowest value (ceil mode) to whole windows, then :func:`_tile_max`."""
    n, lead = len(win.kernel), win.lead
    # (*batch, C, *spatial) -> (*batch, *spatial, C): the layout conv2d computes in
    to_last = tuple(range(lead - 1)) + tuple(range(lead, lead + n)) + (lead - 1,)
    x = jnp.transpose(input, to_last)
    sizes = [o * k for o, k in zip(win.out, win.kernel)]
    first = lead - 1
    if any(s < L for s, L in zip(sizes, win.lengths)):
        x = lax.slice(x, (0,) * x.ndim, x.shape[:first] + tuple(min(s, L) for s, L
                                                                 in zip(sizes, win.lengths))
                      + x.shape[-1:])
    if any(s > L for s, L in zip(sizes, win.lengths)):
        x = lax.pad(x, jnp.asarray(_lowest(x.dtype)), [(0, 0, 0)] * first + [
            (0, max(s - L, 0), 0) for s, L in zip(sizes, win.lengths)] + [(0, 0, 0)])
    y = _tile_max(x, win.kernel)
    back = tuple(range(first)) + (y.ndim - 1,) + tuple(range(first, first + n))
    return jnp.transpose(y, back)


def _tiles(x: jax.Array, kernel: tuple[int, ...]) -> tuple[jax.Array, tuple[int, ...]]:
    """``(*B, k1*o1, ..., kn*on, C)`` -> ``(*B, o1, k1, ..., on, kn, C)`` and the window axes."""
    n = len(kernel)
    first = x.ndim - n - 1
    shape = list(x.shape[:first])
    for L, k in zip(x.shape[first:first + n], kernel):
        shape += [L // k, k]
    return x.reshape(shape + [x.shape[-1]]), tuple(first + 2 * i + 1 for i in range(n))


def _windows(x: jax.Array, kernel: tuple[int, ...]) -> jax.Array:
    """``(*B, o1, ..., on, prod(kernel), C)``: each window's elements in row-major order."""
    tiles, axes = _tiles(x, kernel)
    first = axes[0] - 1
    outs = tuple(a - 1 for a in axes)
    perm = tuple(range(first)) + outs + axes + (tiles.ndim - 1,)
    win = jnp.transpose(tiles, perm)
    return win.reshape(win.shape[:first + len(kernel)] + (-1, x.shape[-1]))


def _select_tangent(tx: jax.Array, which: jax.Array, kernel: tuple[int, ...]) -> jax.Array:
    """The element ``which`` (row-major index) of each window of ``tx``; linear in ``tx``,
    its transpose is one select writing the gradient into the chosen elements."""
    tiles, axes = _tiles(tx, kernel)
    pos = np.zeros([1] * tiles.ndim, np.int32)
    for ax, k in zip(axes, kernel):
        shape = [1] * tiles.ndim
        shape[ax] = k
        pos = pos * k + np.arange(k, dtype=np.int32).reshape(shape)
    chosen = pos == jnp.expand_dims(which, axes)
    return jnp.sum(jnp.where(chosen, tiles, jnp.zeros((), tiles.dtype)), axis=axes)


def _window_argmax(x: jax.Array, kernel: tuple[int, ...]) -> tuple[jax.Array, jax.Array]:
    """Each window's maximum and the index torch's scan picks: the first maximal element
    (row-major), or the last NaN. One variadic ``reduce``, whose outputs are materialised
    (an elementwise scan would be fused, and so recomputed, into every consumer: 9x over
    in the gradient of a 3x3 pool)."""
    win = _windows(x, kernel)
    axis = win.ndim - 2
    index = lax.broadcasted_iota(np.int32, win.shape, axis)
    inexact = jnp.issubdtype(win.dtype, jnp.inexact)

    def pick(a, b):
        (va, ia), (vb, ib) = a, b
        take_b = (vb > va) | ((vb == va) & (ib < ia))
        if inexact:   # a NaN beats any number; of two NaNs, the later
            na, nb = jnp.isnan(va), jnp.isnan(vb)
            take_b = jnp.where(na | nb, nb & (~na | (ib > ia)), take_b)
        return jnp.where(take_b, vb, va), jnp.where(take_b, ib, ia)

    init = (jnp.asarray(_lowest(win.dtype)), jnp.asarray(win.shape[axis], np.int32))
    return lax.reduce((win, index), init, pick, (axis,))


@partial(jax.custom_jvp, nondiff_argnums=(1,))
def _tile_max(x: jax.Array, kernel: tuple[int, ...]) -> jax.Array:
    """Maximum over each ``kernel`` tile of the spatial dims of a channels-last ``x`` whose
    spatial sizes are multiples of ``kernel`` (NaN if the tile has one).

    The tangent (and so the gradient) is that of the element torch's kernel picks: the
    first maximal element in row-major window order, or the last NaN."""
    return jnp.max(_windows(x, kernel), axis=-2)


@_tile_max.defjvp
def _tile_max_jvp(kernel, primals, tangents):
    (x,), (tx,) = primals, tangents
    best, which = _window_argmax(lax.stop_gradient(x), kernel)
    return _chosen(x, which, best, kernel), _select_tangent(tx, which, kernel)


@partial(jax.custom_jvp, nondiff_argnums=(3,))
def _chosen(x: jax.Array, which: jax.Array, best: jax.Array, kernel: tuple[int, ...]
            ) -> jax.Array:
    """``best`` (each window's element ``which``, precomputed), differentiable in ``x``: so
    that the JVP rule above can itself be differentiated (Hessian-vector products)."""
    return best


@_chosen.defjvp
def _chosen_jvp(kernel, primals, tangents):
    x, which, best = primals
    return best, _select_tangent(tangents[0], which, kernel)


def _avg_divisor(L: int, k: int, s: int, p: int, out: int, count_include_pad: bool) -> np.ndarray:
    start = np.arange(out) * s - p
    end = np.minimum(start + k, L + p)
    if count_include_pad:
        return end - start
    return np.minimum(end, L) - np.maximum(start, 0)


def avg_pool_nd(n: int, who: str, input, kernel_size, stride, padding, ceil_mode,
              count_include_pad, divisor_override) -> jax.Array:
    win = _Window(n, who, input, kernel_size, stride, padding, 1, ceil_mode)
    total = win.reduce(input, np.array(0, input.dtype), lax.add)
    if divisor_override is not None:
        if divisor_override == 0:
            raise ValueError(f"{who}: divisor must be not zero")
        return total / jnp.asarray(divisor_override, input.dtype)
    divisor = np.ones((), np.int64)
    for L, k, s, p, o in zip(win.lengths, win.kernel, win.stride, win.pad, win.out):
        divisor = np.multiply.outer(divisor, _avg_divisor(L, k, s, p, o, count_include_pad))
    return total / jnp.asarray(divisor, input.dtype)


def max_pool1d(input: jax.Array, kernel_size: IntOrTuple, stride: IntOrTuple | None = None,
               padding: IntOrTuple = 0, dilation: IntOrTuple = 1, ceil_mode: bool = False,
               return_indices: bool = False):
    r"""1-D max pooling, ``torch.nn.functional.max_pool1d``: :math:`y_i = \max_j x_{si - p + dj}`
    over ``(N, C, L)`` or ``(C, L)``; ``stride`` defaults to ``kernel_size``."""
    return max_pool_nd(1, "max_pool1d", input, kernel_size, stride, padding, dilation, ceil_mode,
                     return_indices)


def max_pool2d(input: jax.Array, kernel_size: IntOrTuple, stride: IntOrTuple | None = None,
               padding: IntOrTuple = 0, dilation: IntOrTuple = 1, ceil_mode: bool = False,
               return_indices: bool = False):
    r"""2-D max pooling, ``torch.nn.functional.max_pool2d`` over ``(N, C, H, W)`` or
    ``(C, H, W)``; padding counts as :math:`-\infty`; ``stride`` defaults to ``kernel_size``."""
    return max_pool_nd(2, "max_pool2d", input, kernel_size, stride, padding, dilation, ceil_mode,
                     return_indices)


def avg_pool1d(input: jax.Array, kernel_size: IntOrTuple, stride: IntOrTuple | None = None,
               padding: IntOrTuple = 0, ceil_mode: bool = False,
               count_include_pad: bool = True) -> jax.Array:
    """1-D average pooling, ``torch.nn.functional.avg_pool1d`` (no ``divisor_override``, as in
    torch) over ``(N, C, L)`` or ``(C, L)``."""
    return avg_pool_nd(1, "avg_pool1d", input, kernel_size, stride, padding, ceil_mode,
                     count_include_pad, None)


def avg_pool2d(input: jax.Array, kernel_size: IntOrTuple, stride: IntOrTuple | None = None,
               padding: IntOrTuple = 0, ceil_mode: bool = False, count_include_pad: bool = True,
               divisor_override: int | None = None) -> jax.Array:
    """2-D average pooling, ``torch.nn.functional.avg_pool2d`` over ``(N, C, H, W)`` or
    ``(C, H, W)``: window sum divided by the window size (see the module docstring)."""
    return avg_pool_nd(2, "avg_pool2d", input, kernel_size, stride, padding, ceil_mode,
                     count_include_pad, divisor_override)


# ---------------------------------------------------------------------- adaptive pools
def _dilated_bins(L: int, k: int, s: int, p: int, d: int, out: int
                  ) -> tuple[np.ndarray, np.ndarray]:
    """``(out, k)`` input indices ``o*s - p + d*j`` of each window and their validity."""
    idx = np.arange(out)[:, None] * s - p + d * np.arange(k)[None, :]
    valid = (idx >= 0) & (idx < L)
    return np.clip(idx, 0, L - 1), valid


def _adaptive_bins(L: int, out: int) -> tuple[np.ndarray, np.ndarray]:
    """``(out, K)`` indices of each adaptive bin (padded with the bin start) and validity."""
    i = np.arange(out)
    start = (i * L) // out
    end = -((-(i + 1) * L) // out)
    width = max(int(np.max(end - start)) if out else 1, 1)
    idx = start[:, None] + np.arange(width)[None, :]
    valid = idx < end[:, None]
    return np.where(valid, idx, start[:, None]), valid


def _gather_windows(x: jax.Array, bins: list[tuple[np.ndarray, np.ndarray]]
                    ) -> tuple[jax.Array, np.ndarray]:
    """Windows over the last ``len(bins)`` dims: ``(..., o_1, ..., o_n, K_1*...*K_n)`` values
    and the matching ``(o_1, ..., o_n, K)`` validity mask (window elements in row-major
    order, torch's scan order)."""
    n = len(bins)
    lead = x.ndim - n
    mask = np.ones((), bool)
    for i, (idx, valid) in enumerate(bins):
        axis = lead + 2 * i
        x = jnp.take(x, idx.reshape(-1), axis=axis)
        x = x.reshape(x.shape[:axis] + idx.shape + x.shape[axis + 1:])
        mask = np.multiply.outer(mask, valid)
    order = [2 * i for i in range(n)] + [2 * i + 1 for i in range(n)]
    x = jnp.transpose(x, tuple(range(lead)) + tuple(lead + a for a in order))
    mask = np.transpose(mask, order)
    outs = x.shape[lead:lead + n]
    return x.reshape(x.shape[:lead + n] + (-1,)), mask.reshape(outs + (-1,))


def _flat_index(bins: list[tuple[np.ndarray, np.ndarray]], lengths: Sequence[int]
                ) -> np.ndarray:
    """``(o_1, ..., o_n, K)``: the flat plane index of each window element (the order of
    :func:`_gather_windows`)."""
    flat = np.zeros((), np.int64)
    for (idx, _), L in zip(bins, lengths):
        flat = np.multiply.outer(flat * L, np.ones(idx.shape, np.int64)) + idx
    n = len(bins)
    order = [2 * i for i in range(n)] + [2 * i + 1 for i in range(n)]
    flat = np.transpose(flat, order)
    return flat.reshape(flat.shape[:n] + (-1,))


def _first_max(windows: jax.Array, mask: np.ndarray, flat: np.ndarray | None = None):
    """Window maximum; the gradient goes to the first maximal element, as in torch. Given
    ``flat`` (:func:`_flat_index`), also that element's flat index (``int64`` under x64)."""
    masked = jnp.where(mask, windows, _lowest(windows.dtype))
    first = jnp.argmax(masked, axis=-1, keepdims=True)
    best = jnp.take_along_axis(masked, first, axis=-1)[..., 0]
    if flat is None:
        return best
    flat = np.broadcast_to(flat, windows.shape)
    index = jnp.take_along_axis(jnp.asarray(flat, jnp.int_), first, axis=-1)[..., 0]
    return best, index


def adaptive_pool_nd(n: int, who: str, input: jax.Array, output_size, reduce: str,
                     return_indices: bool = False):
    check_rank(input, n, who)
    lengths = tuple(input.shape[-n:])
    if any(L == 0 for L in lengths):
        raise ValueError(f"{who}: expected input with non-zero spatial sizes, got shape "
                         f"{tuple(input.shape)}")
    sizes: tuple = (output_size,) * n if output_size is None or isinstance(output_size, int) \
        else tuple(output_size)
    if len(sizes) != n:
        raise ValueError(f"{who}: output_size must be an int or a tuple of {n}, got {output_size!r}")
    sizes = tuple(L if o is None else o for L, o in zip(lengths, sizes))
    if any(not isinstance(o, int) or o < 0 for o in sizes):
        raise ValueError(f"{who}: output_size must be non-negative ints, got {output_size!r}")
    if any(o == 0 for o in sizes):  # torch returns an empty tensor
        empty = jnp.zeros(input.shape[:-n] + sizes, input.dtype)
        return (empty, jnp.zeros(empty.shape, jnp.int_)) if return_indices else empty
    bins = [_adaptive_bins(L, o) for L, o in zip(lengths, sizes)]
    windows, mask = _gather_windows(input, bins)
    if reduce == "max":
        return _first_max(windows, mask, _flat_index(bins, lengths) if return_indices else None)
    count = jnp.asarray(mask.sum(axis=-1), input.dtype)
    return jnp.sum(jnp.where(mask, windows, 0), axis=-1) / count


def adaptive_avg_pool1d(input: jax.Array, output_size: int | Sequence[int]) -> jax.Array:
    r"""``torch.nn.functional.adaptive_avg_pool1d``: bin :math:`i` averages
    :math:`x[\lfloor iL/L_{out}\rfloor : \lceil (i+1)L/L_{out}\rceil]`."""
    return adaptive_pool_nd(1, "adaptive_avg_pool1d", input, output_size, "avg")


def adaptive_avg_pool2d(input: jax.Array, output_size: int | None | Sequence[int | None]
                        ) -> jax.Array:
    """``torch.nn.functional.adaptive_avg_pool2d`` over ``(N, C, H, W)`` or ``(C, H, W)``;
    ``None`` in ``output_size`` keeps that input size."""
    return adaptive_pool_nd(2, "adaptive_avg_pool2d", input, output_size, "avg")


def adaptive_max_pool2d(input: jax.Array, output_size: int | None | Sequence[int | None],
                        return_indices: bool = False):
    """``torch.nn.functional.adaptive_max_pool2d``: the maximum of each adaptive bin (and its
    flat index in the ``H*W`` plane with ``return_indices=True``)."""
    return adaptive_pool_nd(2, "adaptive_max_pool2d", input, output_size, "max", return_indices)


# ---------------------------------------------------------------------- 3-D, indices, LP
def max_pool3d(input: jax.Array, kernel_size: IntOrTuple, stride: IntOrTuple | None = None,
               padding: IntOrTuple = 0, dilation: IntOrTuple = 1, ceil_mode: bool = False,
               return_indices: bool = False):
    r"""3-D max pooling, ``torch.nn.functional.max_pool3d`` over ``(N, C, D, H, W)`` or
    ``(C, D, H, W)``; with ``return_indices`` also the flat ``D*H*W`` index of each maximum."""
    return max_pool_nd(3, "max_pool3d", input, kernel_size, stride, padding, dilation, ceil_mode,
                       return_indices)


def max_pool1d_with_indices(input: jax.Array, kernel_size: IntOrTuple,
                            stride: IntOrTuple | None = None, padding: IntOrTuple = 0,
                            dilation: IntOrTuple = 1, ceil_mode: bool = False,
                            return_indices: bool = True) -> tuple[jax.Array, jax.Array]:
    """``torch.nn.functional.max_pool1d_with_indices``: :func:`max_pool1d` and the indices."""
    return max_pool_nd(1, "max_pool1d", input, kernel_size, stride, padding, dilation,
                       ceil_mode, True)


def max_pool2d_with_indices(input: jax.Array, kernel_size: IntOrTuple,
                            stride: IntOrTuple | None = None, padding: IntOrTuple = 0,
                            dilation: IntOrTuple = 1, ceil_mode: bool = False,
                            return_indices: bool = True) -> tuple[jax.Array, jax.Array]:
    """``torch.nn.functional.max_pool2d_with_indices``: :func:`max_pool2d` and the flat
    ``H*W`` indices of the maxima."""
    return max_pool_nd(2, "max_pool2d", input, kernel_size, stride, padding, dilation,
                       ceil_mode, True)


def max_pool3d_with_indices(input: jax.Array, kernel_size: IntOrTuple,
                            stride: IntOrTuple | None = None, padding: IntOrTuple = 0,
                            dilation: IntOrTuple = 1, ceil_mode: bool = False,
                            return_indices: bool = True) -> tuple[jax.Array, jax.Array]:
    """``torch.nn.functional.max_pool3d_with_indices``: :func:`max_pool3d` and the indices."""
    return max_pool_nd(3, "max_pool3d", input, kernel_size, stride, padding, dilation,
                       ceil_mode, True)


def avg_pool3d(input: jax.Array, kernel_size: IntOrTuple, stride: IntOrTuple | None = None,
               padding: IntOrTuple = 0, ceil_mode: bool = False, count_include_pad: bool = True,
               divisor_override: int | None = None) -> jax.Array:
    """3-D average pooling, ``torch.nn.functional.avg_pool3d`` over ``(N, C, D, H, W)`` or
    ``(C, D, H, W)`` (arguments as :func:`avg_pool2d`)."""
    return avg_pool_nd(3, "avg_pool3d", input, kernel_size, stride, padding, ceil_mode,
                       count_include_pad, divisor_override)


def adaptive_avg_pool3d(input: jax.Array, output_size: int | None | Sequence[int | None]
                        ) -> jax.Array:
    """``torch.nn.functional.adaptive_avg_pool3d`` over ``(N, C, D, H, W)`` or ``(C, D, H, W)``."""
    return adaptive_pool_nd(3, "adaptive_avg_pool3d", input, output_size, "avg")


def adaptive_max_pool1d(input: jax.Array, output_size: int | Sequence[int],
                        return_indices: bool = False):
    """``torch.nn.functional.adaptive_max_pool1d``: the maximum of each adaptive bin (and its
    index along ``L`` with ``return_indices=True``)."""
    return adaptive_pool_nd(1, "adaptive_max_pool1d", input, output_size, "max", return_indices)


def adaptive_max_pool3d(input: jax.Array, output_size: int | None | Sequence[int | None],
                        return_indices: bool = False):
    """``torch.nn.functional.adaptive_max_pool3d`` (flat ``D*H*W`` indices with
    ``return_indices=True``)."""
    return adaptive_pool_nd(3, "adaptive_max_pool3d", input, output_size, "max", return_indices)


def adaptive_max_pool1d_with_indices(input: jax.Array, output_size: int | Sequence[int],
                                     return_indices: bool = True
                                     ) -> tuple[jax.Array, jax.Array]:
    """``torch.nn.functional.adaptive_max_pool1d_with_indices``."""
    return adaptive_pool_nd(1, "adaptive_max_pool1d", input, output_size, "max", True)


def adaptive_max_pool2d_with_indices(input: jax.Array,
                                     output_size: int | None | Sequence[int | None],
                                     return_indices: bool = True
                                     ) -> tuple[jax.Array, jax.Array]:
    """``torch.nn.functional.adaptive_max_pool2d_with_indices``."""
    return adaptive_pool_nd(2, "adaptive_max_pool2d", input, output_size, "max", True)


def adaptive_max_pool3d_with_indices(input: jax.Array,
                                     output_size: int | None | Sequence[int | None],
                                     return_indices: bool = True
                                     ) -> tuple[jax.Array, jax.Array]:
    """``torch.nn.functional.adaptive_max_pool3d_with_indices``."""
    return adaptive_pool_nd(3, "adaptive_max_pool3d", input, output_size, "max", True)


def lp_pool_nd(n: int, who: str, input: jax.Array, norm_type: float, kernel_size: IntOrTuple,
               stride: IntOrTuple | None, ceil_mode: bool) -> jax.Array:
    r"""torch's ``lp_pool{n}d``: :math:`(\sum_{window} x^p)^{1/p}`, computed as torch does,
    ``(sign(a) relu(|a|) * prod(k))^{1/p}`` with ``a = avg_pool(x^p)``; ``p = \pm\infty``
    is a max pool of :math:`\pm|x|`."""
    kernel = ntuple(kernel_size, n, "kernel_size", who)
    if norm_type == float("inf"):
        return max_pool_nd(n, who, jnp.abs(input), kernel_size, stride, 0, 1, ceil_mode, False)
    if norm_type == -float("inf"):
        return -max_pool_nd(n, who, -jnp.abs(input), kernel_size, stride, 0, 1, ceil_mode,
                            False)
    out = avg_pool_nd(n, who, input ** norm_type, kernel_size, stride, 0, ceil_mode, True, None)
    out = jnp.sign(out) * jax.nn.relu(jnp.abs(out)) * math.prod(kernel)
    return out ** (1.0 / norm_type)


def lp_pool1d(input: jax.Array, norm_type: float, kernel_size: IntOrTuple,
              stride: IntOrTuple | None = None, ceil_mode: bool = False) -> jax.Array:
    r"""``torch.nn.functional.lp_pool1d``: power-average pooling
    :math:`y = (\sum_{j \in W} x_j^p)^{1/p}` (``p=1``: sum pooling, ``p=\infty``: max)."""
    return lp_pool_nd(1, "lp_pool1d", input, norm_type, kernel_size, stride, ceil_mode)


def lp_pool2d(input: jax.Array, norm_type: float, kernel_size: IntOrTuple,
              stride: IntOrTuple | None = None, ceil_mode: bool = False) -> jax.Array:
    r"""``torch.nn.functional.lp_pool2d``: :math:`y = (\sum_{W} x^p)^{1/p}` over 2-D windows."""
    return lp_pool_nd(2, "lp_pool2d", input, norm_type, kernel_size, stride, ceil_mode)


def lp_pool3d(input: jax.Array, norm_type: float, kernel_size: IntOrTuple,
              stride: IntOrTuple | None = None, ceil_mode: bool = False) -> jax.Array:
    r"""``torch.nn.functional.lp_pool3d``: :math:`y = (\sum_{W} x^p)^{1/p}` over 3-D windows."""
    return lp_pool_nd(3, "lp_pool3d", input, norm_type, kernel_size, stride, ceil_mode)
