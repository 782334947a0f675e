r"""``pad``: torch's ``F.pad`` with its reversed-pairs convention and four modes.

``pad = (left_last, right_last, left_2nd_last, right_2nd_last, ...)``: the pairs start
from the **last** dimension and go backwards, as in torch.

* ``"constant"``: fill with ``value``; negative amounts crop. Any number of dims.
* ``"reflect"``: mirror without repeating the edge (``[1, 2, 3] -> 3 2 [1 2 3] 2 1``);
  each amount must be smaller than the dimension.
* ``"replicate"``: repeat the edge value.
* ``"circular"``: wrap around (periodic); each amount at most the dimension.

The non-constant modes pad the last 1, 2 or 3 dims of an input with one or two more dims
(``(C, W)``/``(N, C, W)``, ``(C, H, W)``/``(N, C, H, W)``, ``(C, D, H, W)``/``(N, C, D, H, W)``),
as torch requires. They are gathers with torch's index rules (so negative amounts crop
exactly as torch does); the gradient scatters back, summing over the copies.
"""

from __future__ import annotations

from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from ._window import NotSupportedError

__all__ = ["pad"]

_MODES = ("reflect", "replicate", "circular")


def _pairs(input: jax.Array, pad: Sequence[int]) -> list[tuple[int, int]]:
    """Reversed torch pairs -> ``(low, high)`` per dimension of ``input`` (front dims 0)."""
    if not all(isinstance(p, (int, np.integer)) and not isinstance(p, bool) for p in pad):
        raise TypeError(f"pad(): argument 'pad' (position 2) must be tuple of ints, got "
                        f"{tuple(pad)}")
    if len(pad) % 2 != 0:
        raise ValueError("pad: Padding length must be divisible by 2")
    if len(pad) // 2 > input.ndim:
        raise ValueError(
            "pad: Padding length should be less than or equal to two times the input dimension "
            f"but got padding length {len(pad)} and input of dimension {input.ndim}")
    tail = [(int(pad[2 * i]), int(pad[2 * i + 1])) for i in range(len(pad) // 2)][::-1]
    return [(0, 0)] * (input.ndim - len(tail)) + tail


def _check_nonconstant(input: jax.Array, pairs: list[tuple[int, int]], npad: int,
                       mode: str) -> None:
    """torch's checks (and texts) of the reflect/replicate/circular kernels."""
    k = npad // 2
    if k not in (1, 2, 3) or input.ndim not in (k + 1, k + 2):
        raise NotSupportedError(
            f"Padding size {npad} is not supported for {input.ndim}D input tensor.\n"
            "Supported combinations for non-constant padding:\n"
            "  - 2D or 3D input: padding size = 2 (pads last dimension)\n"
            "  - 3D or 4D input: padding size = 4 (pads last 2 dimensions)\n"
            "  - 4D or 5D input: padding size = 6 (pads last 3 dimensions)")
    for dim, (lo, hi), size in reversed(list(zip(range(input.ndim), pairs, input.shape))):
        if (lo, hi) == (0, 0):
            continue
        if mode == "reflect" and max(lo, hi) >= size:
            raise ValueError(
                "pad: Argument #4: Padding size should be less than the corresponding input "
                f"dimension, but got: padding ({lo}, {hi}) at dimension {dim} of input "
                f"{list(input.shape)}")
        if mode == "circular" and max(lo, hi) > size:
            raise ValueError("pad: Padding value causes wrapping around more than once.")
        if size + lo + hi <= 0:
            axis = "DHW"[dim - input.ndim] if dim - input.ndim >= -3 else str(dim)
            raise ValueError(f"pad: input ({axis}: {size}) is too small. Calculated output "
                             f"{axis}: {size + lo + hi}")


def pad(input: jax.Array, pad: Sequence[int], mode: str = "constant",
        value: float | None = None) -> jax.Array:
    """Pad ``input``, torch's ``torch.nn.functional.pad(input, pad, mode, value)``.

    ``pad`` lists ``(low, high)`` amounts starting from the last dimension. ``value`` (default
    0) is only for ``mode="constant"``.
    """
    pad = tuple(pad)
    pairs = _pairs(input, pad)
    if mode == "constant":
        fill = jnp.asarray(0 if value is None else value, input.dtype)
        return lax.pad(input, fill, [(lo, hi, 0) for lo, hi in pairs])
    if mode not in _MODES:
        raise NotSupportedError(f"Unrecognised padding mode {mode}")
    if value is not None and value != 0:
        raise ValueError(f'pad: Padding mode "{mode}" doesn\'t take in value argument')
    _check_nonconstant(input, pairs, len(pad), mode)
    out = input
    for dim, ((lo, hi), size) in enumerate(zip(pairs, input.shape)):
        if (lo, hi) != (0, 0):
            out = jnp.take(out, _source_index(mode, size, lo, hi), axis=dim)
    return out


def _source_index(mode: str, size: int, lo: int, hi: int) -> np.ndarray:
    """Input index of each output position along one dim (torch's CPU padding kernels)."""
    j = np.arange(size + lo + hi)
    start_in, start_out = max(-lo, 0), max(lo, 0)
    if mode == "circular":  # crop, then wrap around the cropped part
        kept = size - max(-lo, 0) - max(-hi, 0)
        return (j - start_out) % kept + start_in
    if mode == "reflect":
        i = np.where(j < lo, 2 * lo - j, np.where(j < size + lo, j, 2 * (size + lo - 1) - j))
    else:  # replicate
        i = np.clip(j, lo, size + lo - 1)
    return i - start_out + start_in
