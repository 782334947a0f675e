"""Argument handling shared by the windowed ops (convolution and pooling).

Everything here runs on static Python values (shapes and hyperparameters) at trace time,
so it never branches on traced data. ``who`` names the caller in error messages: the
function (``"conv2d"``) or the layer label (``"Conv2d '0'"``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = ["ntuple", "check_rank", "check_positive", "window_output_size", "pool_output_size",
           "NotSupportedError"]


class NotSupportedError(ValueError, NotImplementedError):
    """A combination torch rejects with ``NotImplementedError`` (a padding size for a rank,
    an interpolation mode for a rank): fnn's ``ValueError`` for bad input, and still caught
    by ported code's ``except NotImplementedError``."""


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def ntuple(value: Any, n: int, what: str, who: str) -> tuple[int, ...]:
    """``3 -> (3, 3)`` for ``n=2``; a tuple/list of ``n`` ints is returned as a tuple."""
    if _is_int(value):
        return (value,) * n
    if isinstance(value, (tuple, list)) and len(value) == n and all(_is_int(v) for v in value):
        return tuple(value)
    raise ValueError(f"{who}: {what} must be an int or a tuple of {n} ints, got {value!r}")


def check_positive(values: Sequence[int], what: str, who: str) -> None:
    if any(v <= 0 for v in values):
        raise ValueError(f"{who}: {what} must be positive, got {tuple(values)}")


def check_rank(input: Any, n: int, who: str) -> bool:
    """Accept ``(C, *spatial)`` or ``(N, C, *spatial)`` with ``n`` spatial dims; return batched."""
    nd = len(input.shape)
    if nd not in (n + 1, n + 2):
        raise ValueError(
            f"{who} expected {n + 1}D (unbatched) or {n + 2}D (batched) input, got {nd}D input "
            f"of shape {tuple(input.shape)}")
    return nd == n + 2


def window_output_size(who: str, spatial: Sequence[int], kernel: Sequence[int],
                       stride: Sequence[int], pads: Sequence[tuple[int, int]],
                       dilation: Sequence[int]) -> tuple[int, ...]:
    """Floor-mode output size ``(L + lo + hi - d*(k-1) - 1) // s + 1`` of a convolution.

    Raises torch's "Kernel size can't be greater than actual input size" when the dilated
    kernel does not fit in the padded input.
    """
    padded = [size + lo + hi for size, (lo, hi) in zip(spatial, pads)]
    eff = [d * (k - 1) + 1 for k, d in zip(kernel, dilation)]
    if any(p < e for p, e in zip(padded, eff)):
        raise ValueError(
            f"{who}: calculated padded input size per channel: ({' x '.join(map(str, padded))}). "
            f"Kernel size: ({' x '.join(map(str, eff))}). Kernel size can't be greater than "
            "actual input size")
    return tuple((p - e) // s + 1 for p, e, s in zip(padded, eff, stride))


def pool_output_size(length: int, kernel: int, stride: int, pad: int, dilation: int,
                     ceil_mode: bool) -> int:
    """torch's pooling output length (``pooling_output_shape``).

    ``floor_or_ceil((L + 2p - d*(k-1) - 1) / s) + 1``; in ceil mode the last window must
    start inside the input or the left padding, so one is dropped when
    ``(out - 1) * s >= L + p``.
    """
    num = length + 2 * pad - dilation * (kernel - 1) - 1
    out = (-(-num // stride) if ceil_mode else num // stride) + 1
    if ceil_mode and (out - 1) * stride >= length + pad:
        out -= 1
    return out
