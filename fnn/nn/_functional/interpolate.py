r"""``interpolate`` (and the deprecated ``upsample*``): torch's resampling, index for index.

Every mode but ``area`` is separable: along each spatial dim, output position :math:`i`
reads :math:`K` input positions with weights, :math:`y_i = \sum_k w_{ik}\, x_{j_{ik}}`
(a gather and a weighted sum; the gradient scatters back). The taps are computed on the
host with torch's CPU kernel arithmetic, in the input's precision (``float32`` for
``float32`` inputs; the nearest modes always in ``float32``, as torch):

* the scale: :math:`(L_{in}-1)/(L_{out}-1)` with ``align_corners``, else :math:`1/s` when
  ``scale_factor`` :math:`s` is given (and not recomputed), else :math:`L_{in}/L_{out}`
  (``area_pixel_compute_scale``);
* the source coordinate: :math:`\text{scale}\cdot i` with ``align_corners``, else
  :math:`\text{scale}\,(i + \tfrac12) - \tfrac12`, clamped at 0 except for cubic
  (``area_pixel_compute_source_index``);
* ``nearest``: :math:`\min(\lfloor i\,\text{scale}\rfloor, L_{in}-1)`; ``nearest-exact``:
  :math:`\min(\lfloor (i+\frac12)\,\text{scale}\rfloor, L_{in}-1)`;
* ``linear``/``bilinear``/``trilinear``: two taps :math:`\lfloor u\rfloor, \lfloor u\rfloor+1`
  with weights :math:`1-\lambda, \lambda`; ``bicubic``: four taps (clamped to the edge),
  Keys' cubic convolution with :math:`A=-0.75`;
* ``antialias=True`` (bilinear/bicubic): torch's (Pillow's) filter, the triangle or the
  cubic with :math:`A=-0.5` stretched by the downscaling factor, weights normalised per
  output position; ``lanczos`` (4-D, ``antialias=True`` required) is the same with
  :math:`\mathrm{sinc}(x)\,\mathrm{sinc}(x/3)` on :math:`|x| < 3`.

``area`` is adaptive average pooling to the output size. The output size with
``scale_factor`` is :math:`\lfloor L_{in}\, s\rfloor`.

One known difference: torch 2.13's antialiased CPU kernel, for an output width of 1 and
more than one output row, repeats the first row (its separable passes disagree with its
own 2-D result there); fnn returns the separable result.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np

from ._window import NotSupportedError
from .pooling import adaptive_avg_pool1d, adaptive_avg_pool2d, adaptive_avg_pool3d

__all__ = ["interpolate", "upsample", "upsample_nearest", "upsample_bilinear"]

_MODES = ("nearest", "linear", "bilinear", "bicubic", "trilinear", "area", "nearest-exact",
          "lanczos")
_LINEAR_DIMS = {"linear": 1, "bilinear": 2, "trilinear": 3, "bicubic": 2, "lanczos": 2}
Taps = tuple[np.ndarray, np.ndarray | None]


def _scale(dt: type, L: int, out: int, align_corners: bool, scale: float | None) -> np.floating:
    """torch's ``area_pixel_compute_scale`` in precision ``dt``."""
    if align_corners:
        return dt(L - 1) / dt(out - 1) if out > 1 else dt(0)
    if scale is not None and scale > 0:
        return dt(1.0 / scale)
    return dt(L) / dt(out)


def _nearest_taps(L: int, out: int, scale: float | None, exact: bool) -> Taps:
    i: np.ndarray = np.arange(out)
    if out == L:
        return i[:, None], None
    if out == 2 * L and not exact:
        return (i >> 1)[:, None], None
    f32 = np.float32
    s = f32(1.0 / scale) if scale is not None and scale > 0 else f32(L) / f32(out)
    pos = (i.astype(f32) + f32(0.5)) * s if exact else i.astype(f32) * s
    return np.minimum(np.floor(pos).astype(np.int64), L - 1)[:, None], None


def _source(dt: type, ratio: np.floating, out: int, align_corners: bool, cubic: bool
            ) -> np.ndarray:
    i: np.ndarray = np.arange(out).astype(dt)
    if align_corners:
        return ratio * i
    src = ratio * (i + dt(0.5)) - dt(0.5)
    return src if cubic else np.maximum(src, dt(0))


def _guard(dt: type, real: np.ndarray, L: int) -> tuple[np.ndarray, np.ndarray]:
    """``guard_index_and_lambda``: the floor index (at most ``L-1``) and the fraction."""
    idx = np.minimum(np.floor(real).astype(np.int64), L - 1)
    lam = np.minimum(np.maximum(real - idx.astype(dt), dt(0)), dt(1))
    return idx, lam.astype(dt)


def _linear_taps(dt: type, L: int, out: int, scale: float | None, align_corners: bool) -> Taps:
    if out == L:
        return np.arange(out)[:, None], np.ones((out, 1), dt)
    ratio = _scale(dt, L, out, align_corners, scale)
    i0, lam = _guard(dt, _source(dt, ratio, out, align_corners, False), L)
    i1 = i0 + (i0 < L - 1)
    return np.stack([i0, i1], 1), np.stack([dt(1) - lam, lam], 1)


def _cubic_conv1(x, A):
    return ((A + 2) * x - (A + 3)) * x * x + 1


def _cubic_conv2(x, A):
    return ((A * x - 5 * A) * x + 8 * A) * x - 4 * A


def _cubic_taps(dt: type, L: int, out: int, scale: float | None, align_corners: bool) -> Taps:
    ratio = _scale(dt, L, out, align_corners, scale)
    i0, t = _guard(dt, _source(dt, ratio, out, align_corners, True), L)
    A, one = dt(-0.75), dt(1)
    w: np.ndarray = np.stack([_cubic_conv2(t + one, A), _cubic_conv1(t, A), _cubic_conv1(one - t, A),
                  _cubic_conv2(one - t + one, A)], 1).astype(dt)
    idx = np.clip(i0[:, None] - 1 + np.arange(4)[None, :], 0, L - 1)
    return idx, w


def _aa_filter(mode: str, x: np.ndarray, dt: type) -> np.ndarray:
    x = np.abs(x)
    if mode == "bilinear":
        return np.where(x < 1, dt(1) - x, dt(0)).astype(dt)
    if mode == "lanczos":  # sinc(x) sinc(x/3) on |x| < 3
        return np.where(x < 3, np.sinc(x) * np.sinc(x / dt(3)), dt(0)).astype(dt)
    A = dt(-0.5)
    return np.where(x < 1, _cubic_conv1(x, A),
                    np.where(x < 2, _cubic_conv2(x, A), dt(0))).astype(dt)


def _aa_taps(dt: type, mode: str, L: int, out: int, scale: float | None,
             align_corners: bool) -> Taps:
    """torch's antialiased (Pillow-style) taps: a filter of support ``interp_size/2`` times
    the downscaling factor around each output centre, normalised to sum 1."""
    interp = {"bilinear": 2, "bicubic": 4, "lanczos": 6}[mode]
    s = _scale(dt, L, out, align_corners, scale)
    support = dt(interp * 0.5) * s if s >= 1 else dt(interp * 0.5)
    K = int(math.ceil(support)) * 2 + 1
    invscale = dt(1) / s if s >= 1 else dt(1)
    center = s * (np.arange(out).astype(dt) + dt(0.5))
    xmin = np.maximum((center - support + dt(0.5)).astype(np.int64), 0)
    xsize = np.clip(np.minimum((center + support + dt(0.5)).astype(np.int64), L) - xmin, 1, K)
    j = np.arange(K)
    valid = j[None, :] < xsize[:, None]
    w = _aa_filter(mode, ((j[None, :] + xmin[:, None]).astype(dt) - center[:, None] + dt(0.5))
                   * invscale, dt)
    w = np.where(valid, w, dt(0))
    total: np.ndarray = np.zeros(out, dt)
    for k in range(K):  # torch's accumulation order
        total = (total + w[:, k]).astype(dt)
    w = np.where(total[:, None] != 0, w / np.where(total == 0, dt(1), total)[:, None], w)
    idx = np.where(valid, j[None, :] + xmin[:, None], xmin[:, None])
    return np.minimum(idx, L - 1), w.astype(dt)


def _apply_taps(x: jax.Array, axis: int, taps: Taps) -> jax.Array:
    idx, w = taps
    out, K = idx.shape
    g = jnp.take(x, idx.reshape(-1), axis=axis)
    if w is None:
        return g
    g = g.reshape(x.shape[:axis] + (out, K) + x.shape[axis + 1:])
    wj = jnp.asarray(w, x.dtype).reshape((out, K) + (1,) * (x.ndim - axis - 1))
    terms = [g[(slice(None),) * (axis + 1) + (k,)] * wj[:, k] for k in range(K)]
    total = terms[0]
    for term in terms[1:]:
        total = total + term
    return total


def _resolve_sizes(input: jax.Array, size, scale_factor, mode: str,
                   recompute_scale_factor: bool | None
                   ) -> tuple[list[int], list[float | None]]:
    """torch's ``interpolate`` argument handling: output sizes and the scales the kernels
    see (``None`` where torch passes none)."""
    dim = input.ndim - 2
    spatial = list(input.shape[2:])
    if size is not None and scale_factor is not None:
        raise ValueError("only one of size or scale_factor should be defined")
    if size is not None:
        if isinstance(size, (list, tuple)):
            if len(size) != dim:
                raise ValueError(
                    "Input and output must have the same number of spatial dimensions, but got "
                    f"input with spatial dimensions of {spatial} and output size of {size}. "
                    "Please provide input tensor in (N, C, d1, d2, ...,dK) format and "
                    "output size in (o1, o2, ...,oK) format.")
            if not all(isinstance(s, (int, np.integer)) and not isinstance(s, bool)
                       for s in size):
                raise TypeError(
                    "expected size to be one of int or Tuple[int] or Tuple[int, int] or "
                    f"Tuple[int, int, int], but got size with types {[type(s) for s in size]}")
            sizes = [int(s) for s in size]
        else:
            sizes = [int(size)] * dim
        scales: list[float | None] = [None] * dim
    elif scale_factor is not None:
        if isinstance(scale_factor, (list, tuple)):
            if len(scale_factor) != dim:
                raise ValueError(
                    "Input and scale_factor must have the same number of spatial dimensions, "
                    f"but got input with spatial dimensions of {spatial} and scale_factor of "
                    f"shape {scale_factor}. Please provide input tensor in (N, C, d1, d2, "
                    "...,dK) format and scale_factor in (s1, s2, ...,sK) format.")
            scales = [float(s) for s in scale_factor]
        else:
            scales = [float(scale_factor)] * dim
        sizes = [int(math.floor(L * float(s or 0))) for L, s in zip(spatial, scales)]
    else:
        raise ValueError("either size or scale_factor should be defined")
    if recompute_scale_factor and size is not None:
        raise ValueError("recompute_scale_factor is not meaningful with an explicit size.")
    if recompute_scale_factor or (mode == "area" and size is None):
        sizes = [int(L * float(s or 0)) for L, s in zip(spatial, scales)]
        scales = [None] * dim
    if mode != "area" and (any(L <= 0 for L in spatial) or any(o <= 0 for o in sizes)):
        axes = "DHW"[3 - dim:]
        raise ValueError(
            f"interpolate: Input and output sizes should be greater than 0, but got input "
            f"({', '.join(f'{a}: {L}' for a, L in zip(axes, spatial))}) {'and ' * (dim == 1)}"
            f"output ({', '.join(f'{a}: {o}' for a, o in zip(axes, sizes))})")
    return sizes, scales


def _check_mode(input: jax.Array, mode: str, align_corners: bool | None,
                antialias: bool) -> None:
    if mode in ("nearest", "area", "nearest-exact"):
        if align_corners is not None:
            raise ValueError("align_corners option can only be set with the interpolating "
                             "modes: linear | bilinear | bicubic | trilinear")
    nd = input.ndim
    if antialias and not (mode in ("bilinear", "bicubic", "lanczos") and nd == 4):
        raise ValueError("Anti-alias option is restricted to bilinear, bicubic, and lanczos "
                         "modes and requires a 4-D tensor as input")
    if mode not in _MODES or nd not in (3, 4, 5):
        raise NotSupportedError(
            f"Input Error: Only 3D, 4D and 5D input Tensors supported (got {nd}D) for the "
            "modes: nearest | linear | bilinear | bicubic | trilinear | lanczos | area | "
            f"nearest-exact (got {mode})")
    want = _LINEAR_DIMS.get(mode)
    if mode == "lanczos" and nd == 4:
        if align_corners:
            raise ValueError("Lanczos mode does not support align_corners=True")
        if not antialias:
            raise ValueError("Lanczos mode requires antialias=True")
    elif mode == "lanczos" or (want is not None and want != nd - 2):
        if mode == "lanczos":
            raise NotSupportedError(
                f"Input Error: Only 3D, 4D and 5D input Tensors supported (got {nd}D) for the "
                "modes: nearest | linear | bilinear | bicubic | trilinear | lanczos | area | "
                f"nearest-exact (got {mode})")
        assert want is not None  # only lanczos has no fixed rank, and it raised above
        raise NotSupportedError(f"Got {nd}D input, but {mode} mode needs {want + 2}D input")


def interpolate(input: jax.Array, size: int | Sequence[int] | None = None,
                scale_factor: float | Sequence[float] | None = None, mode: str = "nearest",
                align_corners: bool | None = None, recompute_scale_factor: bool | None = None,
                antialias: bool = False) -> jax.Array:
    """Resample ``(N, C, *spatial)`` to ``size`` or by ``scale_factor``,
    ``torch.nn.functional.interpolate`` with torch's arguments, defaults and index arithmetic
    (see the module docstring). ``mode``: ``'nearest'``, ``'nearest-exact'``, ``'linear'``
    (3-D), ``'bilinear'``/``'bicubic'``/``'lanczos'`` (4-D), ``'trilinear'`` (5-D),
    ``'area'``."""
    _check_mode(input, mode, align_corners, antialias)
    sizes, scales = _resolve_sizes(input, size, scale_factor, mode, recompute_scale_factor)
    if mode == "area":
        pool = (adaptive_avg_pool1d, adaptive_avg_pool2d, adaptive_avg_pool3d)[input.ndim - 3]
        return pool(input, sizes)
    if mode not in ("nearest", "nearest-exact") and not jnp.issubdtype(input.dtype,
                                                                        jnp.floating):
        raise TypeError(f"interpolate: mode {mode!r} needs a floating-point input, got "
                        f"{input.dtype} (the nearest modes take any dtype)")
    align = bool(align_corners)
    dt = np.float64 if input.dtype == jnp.float64 else np.float32
    x = input
    for axis in reversed(range(2, input.ndim)):  # the last dim first, as torch's kernels
        L, out, s = input.shape[axis], sizes[axis - 2], scales[axis - 2]
        if mode in ("nearest", "nearest-exact"):
            taps = _nearest_taps(L, out, s, mode == "nearest-exact")
        elif antialias:
            taps = _aa_taps(dt, mode, L, out, s, align)
        elif mode == "bicubic":
            taps = _cubic_taps(dt, L, out, s, align)
        else:
            taps = _linear_taps(dt, L, out, s, align)
        x = _apply_taps(x, axis, taps)
    return x


def upsample(input: jax.Array, size: int | Sequence[int] | None = None,
             scale_factor: float | Sequence[float] | None = None, mode: str = "nearest",
             align_corners: bool | None = None) -> jax.Array:
    """Deprecated ``torch.nn.functional.upsample``: :func:`interpolate` (torch warns)."""
    warnings.warn("nn.functional.upsample is deprecated. Use nn.functional.interpolate "
                  "instead.", stacklevel=2)
    return interpolate(input, size, scale_factor, mode, align_corners)


def upsample_nearest(input: jax.Array, size: int | Sequence[int] | None = None,
                     scale_factor: float | Sequence[float] | None = None) -> jax.Array:
    """Deprecated ``torch.nn.functional.upsample_nearest``: ``interpolate(mode='nearest')``."""
    warnings.warn("nn.functional.upsample_nearest is deprecated. Use "
                  "nn.functional.interpolate instead.", stacklevel=2)
    return interpolate(input, size, scale_factor, mode="nearest")


def upsample_bilinear(input: jax.Array, size: int | Sequence[int] | None = None,
                      scale_factor: float | Sequence[float] | None = None) -> jax.Array:
    """Deprecated ``torch.nn.functional.upsample_bilinear``:
    ``interpolate(mode='bilinear', align_corners=True)``."""
    warnings.warn("nn.functional.upsample_bilinear is deprecated. Use "
                  "nn.functional.interpolate instead.", stacklevel=2)
    return interpolate(input, size, scale_factor, mode="bilinear", align_corners=True)
