r"""``grid_sample`` and ``affine_grid``: torch's spatial transformer sampling.

``grid_sample(input, grid)`` reads ``input`` ``(N, C, H, W)`` at the normalised positions
``grid[n, h, w] = (x, y)`` in :math:`[-1, 1]` (``(N, C, D, H, W)`` with ``(x, y, z)`` in
3-D). A coordinate is unnormalised to pixels as torch's ``grid_sampler_unnormalize``:

.. math::
    i = \frac{(x + 1)(L - 1)}{2} \;\text{(align\_corners)}, \qquad
    i = \frac{(x + 1)L - 1}{2} \;\text{(otherwise)}

then ``padding_mode`` ``'border'`` clips it to :math:`[0, L-1]` and ``'reflection'``
reflects it about the borders (the corner centres with ``align_corners``, the image edges
without) and clips, with torch's gradient multipliers (0 where clipped, -1 where
reflected). ``bilinear`` blends the 4 (8 in 3-D) neighbours, out-of-range ones reading 0;
``nearest`` rounds half to even; ``bicubic`` (4-D only) uses 4x4 neighbours with Keys'
:math:`A=-0.75`, applying the padding to each tap. Gradients flow to ``input`` and
``grid`` as in torch (zero through ``nearest``). Jaderberg et al. 2015, *Spatial
Transformer Networks*.
"""

from __future__ import annotations

import functools
import itertools
import warnings
from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np

from ._window import NotSupportedError

__all__ = ["grid_sample", "affine_grid"]

_ALIGN_WARNING = ("Default grid_sample and affine_grid behavior has changed to "
                  "align_corners=False since 1.3.0. Please specify align_corners=True if the "
                  "old behavior is desired. See the documentation of grid_sample for details.")


def _unnormalize(coord: jax.Array, size: int, align_corners: bool) -> jax.Array:
    if align_corners:
        return (coord + 1) / 2 * (size - 1)
    return ((coord + 1) * size - 1) / 2


def _clip(coord: jax.Array, size: int) -> jax.Array:
    """``clip_coordinates`` with torch's gradient (1 inside, bounds included; 0 outside)."""
    hi = jnp.asarray(size - 1, coord.dtype)
    zero = jnp.zeros((), coord.dtype)
    return jnp.where(coord < 0, zero, jnp.where(coord > hi, hi, coord))


def _reflect(coord: jax.Array, twice_low: int, twice_high: int) -> jax.Array:
    """``reflect_coordinates``: fold ``coord`` into ``[low, high]`` by reflections."""
    if twice_low == twice_high:
        return jnp.zeros_like(coord)
    low, span = twice_low / 2, (twice_high - twice_low) / 2
    d = coord - low
    d = jnp.where(d < 0, -d, d)
    extra = jnp.fmod(d, span)
    flips = jax.lax.stop_gradient(jnp.floor(d / span))
    even = jnp.fmod(flips, 2) == 0
    return jnp.where(even, extra + low, span - extra + low)


def _pad_coord(coord: jax.Array, size: int, padding_mode: str, align_corners: bool
               ) -> jax.Array:
    """``compute_coordinates``: apply ``border``/``reflection`` to a pixel coordinate."""
    if padding_mode == "border":
        return _clip(coord, size)
    if padding_mode == "reflection":
        if align_corners:
            coord = _reflect(coord, 0, 2 * (size - 1))
        else:
            coord = _reflect(coord, -1, 2 * size - 1)
        return _clip(coord, size)
    return coord


def _gather(x: jax.Array, idx: Sequence[jax.Array], valid: jax.Array) -> jax.Array:
    """``x[n, :, idx...]`` for integer index arrays ``(N, *out)``; 0 where not ``valid``.
    Returns ``(N, C, *out)``."""
    sizes = x.shape[2:]
    flat = jnp.zeros_like(idx[0])
    for i, L in zip(idx, sizes):
        flat = flat * L + jnp.clip(i, 0, L - 1)
    xf = x.reshape(x.shape[:2] + (-1,))
    out = jax.vmap(lambda a, f: a[:, f.reshape(-1)])(xf, flat)
    out = out.reshape(x.shape[:2] + idx[0].shape[1:])
    return jnp.where(valid[:, None], out, jnp.zeros((), x.dtype))


def _in_bounds(idx: Sequence[jax.Array], sizes: Sequence[int]) -> jax.Array:
    ok = jnp.ones(idx[0].shape, bool)
    for i, L in zip(idx, sizes):
        ok = ok & (i >= 0) & (i < L)
    return ok


def _cubic_coeffs(t: jax.Array) -> list[jax.Array]:
    A = -0.75

    def conv1(x):
        return ((A + 2) * x - (A + 3)) * x * x + 1

    def conv2(x):
        return ((A * x - 5 * A) * x + 8 * A) * x - 4 * A

    return [conv2(t + 1), conv1(t), conv1(1 - t), conv2(2 - t)]


def _check_grid(input: jax.Array, grid: jax.Array, mode: str, padding_mode: str) -> None:
    if mode not in ("bilinear", "nearest", "bicubic"):
        raise ValueError("nn.functional.grid_sample(): expected mode to be 'bilinear', "
                         f"'nearest' or 'bicubic', but got: '{mode}'")
    if padding_mode not in ("zeros", "border", "reflection"):
        raise ValueError("nn.functional.grid_sample(): expected padding_mode to be 'zeros', "
                         f"'border', or 'reflection', but got: '{padding_mode}'")
    ins, gs = list(input.shape), list(grid.shape)
    if ins[0] != gs[0]:
        raise ValueError("grid_sampler(): expected grid and input to have same batch size, but "
                         f"got input with sizes {ins} and grid with sizes {gs}")
    if gs[-1] != input.ndim - 2:
        raise ValueError(f"grid_sampler(): expected grid to have size {input.ndim - 2} in last "
                         f"dimension, but got grid with sizes {gs}")
    if input.ndim not in (4, 5) or grid.ndim != input.ndim:
        raise ValueError("grid_sampler(): expected 4D or 5D input and grid with same number of "
                         f"dimensions, but got input with sizes {ins} and grid with sizes {gs}")
    for d in range(2, input.ndim):
        if ins[d] <= 0:
            raise ValueError("grid_sampler(): expected input to have non-empty spatial "
                             f"dimensions, but input has sizes {ins} with dimension {d} being "
                             "empty")
    if mode == "bicubic" and input.ndim != 4:
        raise ValueError("grid_sampler(): bicubic interpolation only supports 4D input")


def grid_sample(input: jax.Array, grid: jax.Array, mode: str = "bilinear",
                padding_mode: str = "zeros", align_corners: bool | None = None) -> jax.Array:
    """Sample ``input`` at ``grid``, ``torch.nn.functional.grid_sample`` (see the module
    docstring). ``input`` ``(N, C, H, W)`` with ``grid`` ``(N, H_out, W_out, 2)``, or
    ``(N, C, D, H, W)`` with ``(N, D_out, H_out, W_out, 3)``; returns ``(N, C, *out)``.
    ``align_corners=None`` means ``False`` (with torch's warning)."""
    _check_grid(input, grid, mode, padding_mode)
    if align_corners is None:
        warnings.warn(_ALIGN_WARNING, stacklevel=2)
        align_corners = False
    dtype = jnp.result_type(input, grid)
    input, grid = input.astype(dtype), grid.astype(dtype)
    sizes = input.shape[2:]
    # grid's last axis is (x, y[, z]): reversed relative to the (.., H, W) dims
    coords = [_unnormalize(grid[..., k], L, align_corners)
              for k, L in zip(reversed(range(len(sizes))), sizes)]
    if mode == "bicubic":
        return _bicubic(input, coords, padding_mode, align_corners)
    coords = [_pad_coord(c, L, padding_mode, align_corners) for c, L in zip(coords, sizes)]
    if mode == "nearest":
        idx = [jnp.round(c).astype(jnp.int32) for c in coords]
        return _gather(input, idx, _in_bounds(idx, sizes))
    lows = [jnp.floor(c) for c in coords]
    taps: list[list[jax.Array]] = []
    weights: list[jax.Array] = []
    for corner in itertools.product((0, 1), repeat=len(sizes)):
        ws = [(c - lo) if up else (lo + 1 - c) for c, lo, up in zip(coords, lows, corner)]
        weights.append(functools.reduce(lambda a, b: a * b, ws))
        taps.append([lo.astype(jnp.int32) + up for lo, up in zip(lows, corner)])
    return _blend(input, taps, weights, sizes)


def _blend(input: jax.Array, taps: list[list[jax.Array]], weights: list[jax.Array],
           sizes: Sequence[int]) -> jax.Array:
    """``sum_k weights[k] * input[taps[k]]`` (0 outside), all taps in one gather."""
    idx = [jnp.stack([t[d] for t in taps], axis=1) for d in range(len(sizes))]  # (N, K, *out)
    vals = _gather(input, idx, _in_bounds(idx, sizes))                           # (N, C, K, *out)
    return jnp.sum(vals * jnp.stack(weights, axis=1)[:, None], axis=2)


def _bicubic(input: jax.Array, coords: list[jax.Array], padding_mode: str,
             align_corners: bool) -> jax.Array:
    (H, W), (iy, ix) = input.shape[2:], coords
    y0, x0 = jnp.floor(iy), jnp.floor(ix)
    wy, wx = _cubic_coeffs(iy - y0), _cubic_coeffs(ix - x0)
    taps, weights = [], []
    for i in range(4):
        for j in range(4):
            ty = _pad_coord(y0 - 1 + i, H, padding_mode, align_corners)
            tx = _pad_coord(x0 - 1 + j, W, padding_mode, align_corners)
            taps.append([jax.lax.stop_gradient(t).astype(jnp.int32) for t in (ty, tx)])
            weights.append(wx[j] * wy[i])
    return _blend(input, taps, weights, (H, W))


def _base_coords(n: int, align_corners: bool) -> np.ndarray:
    """torch's ``linspace_from_neg_one``."""
    if n <= 1:
        return np.zeros(max(n, 1))
    r = np.linspace(-1.0, 1.0, n)
    return r if align_corners else r * (n - 1) / n


def affine_grid(theta: jax.Array, size: Sequence[int], align_corners: bool | None = None
                ) -> jax.Array:
    r"""``torch.nn.functional.affine_grid``: the sampling grid of a batch of affine maps,
    :math:`\text{grid}[n, h, w] = \theta_n\,(x_w, y_h, 1)^T` over the normalised output
    coordinates (``theta`` ``(N, 2, 3)`` for a 4-D ``size``, ``(N, 3, 4)`` for 5-D); feed it to
    :func:`grid_sample`."""
    if align_corners is None:
        warnings.warn(_ALIGN_WARNING, stacklevel=2)
        align_corners = False
    if not jnp.issubdtype(theta.dtype, jnp.floating):
        raise ValueError(f"Expected theta to have floating point type, but got {theta.dtype}")
    size = tuple(size)
    if len(size) not in (4, 5):
        raise NotSupportedError("affine_grid only supports 4D and 5D sizes, for 2D and 3D "
                                  f"affine transforms, respectively. Got size {size}.")
    k = len(size) - 2
    if theta.ndim != 3 or tuple(theta.shape[-2:]) != (k, k + 1):
        raise ValueError(f"Expected a batch of {k}D affine matrices of shape Nx{k}x{k + 1} for "
                         f"size {size}. Got {tuple(theta.shape)}.")
    if min(size) <= 0:
        raise ValueError(f"Expected non-zero, positive output size. Got {size}")
    if theta.shape[0] != size[0]:
        raise ValueError(f"Expected size for first two dimensions of batch2 tensor to be: "
                         f"[{size[0]}, {k + 1}] but got: [{theta.shape[0]}, {k + 1}].")
    axes = [_base_coords(n, align_corners) for n in reversed(size[2:])]  # x (W) first
    mesh = list(np.meshgrid(*axes[::-1], indexing="ij"))[::-1]  # (*spatial) arrays of x, y[, z]
    base = jnp.asarray(np.stack(mesh + [np.ones_like(mesh[0])], axis=-1), theta.dtype)
    return jnp.einsum("...j,nij->n...i", base, theta)  # base: (*spatial, k + 1)
