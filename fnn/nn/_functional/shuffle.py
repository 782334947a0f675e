r"""``pixel_shuffle``, ``pixel_unshuffle``, ``channel_shuffle``: torch's channel/space
rearrangements (reshapes and transposes; exact, any leading batch dims).

* ``pixel_shuffle(x, r)``: :math:`(*, C r^2, H, W) \to (*, C, H r, W r)`,
  :math:`y[c, h r + i, w r + j] = x[c r^2 + i r + j, h, w]` (Shi et al. 2016, *Real-Time
  Single Image and Video Super-Resolution Using an Efficient Sub-Pixel CNN*).
* ``pixel_unshuffle(x, r)``: its inverse.
* ``channel_shuffle(x, g)``: :math:`(N, g k, *) \to` channels reordered as
  :math:`(g, k) \to (k, g)` (Zhang et al. 2018, *ShuffleNet*).
"""

from __future__ import annotations

import jax

__all__ = ["pixel_shuffle", "pixel_unshuffle", "channel_shuffle", "native_channel_shuffle"]


def _positive(who: str, what: str, r: int) -> None:
    if isinstance(r, bool) or not isinstance(r, int):
        raise TypeError(f"{who}(): argument '{what}' must be int, not {type(r).__name__}")
    if r <= 0:
        raise ValueError(f"{who} expects a positive {what}, but got {r}")


def _at_least_3d(who: str, input: jax.Array) -> None:
    if input.ndim < 3:
        raise ValueError(f"{who} expects input to have at least 3 dimensions, but got input "
                         f"with {input.ndim} dimension(s)")


def pixel_shuffle(input: jax.Array, upscale_factor: int) -> jax.Array:
    """``torch.nn.functional.pixel_shuffle``: :math:`(*, C r^2, H, W) \\to (*, C, Hr, Wr)`."""
    who, r = "pixel_shuffle", upscale_factor
    _at_least_3d(who, input)
    _positive(who, "upscale_factor", r)
    *lead, c, h, w = input.shape
    if c % (r * r):
        raise ValueError(f"{who} expects its input's 'channel' dimension to be divisible by the "
                         f"square of upscale_factor, but input.size(-3)={c} is not divisible by "
                         f"{r * r}")
    n = len(lead)
    x = input.reshape(*lead, c // (r * r), r, r, h, w)
    x = x.transpose(*range(n), n, n + 3, n + 1, n + 4, n + 2)
    return x.reshape(*lead, c // (r * r), h * r, w * r)


def pixel_unshuffle(input: jax.Array, downscale_factor: int) -> jax.Array:
    """``torch.nn.functional.pixel_unshuffle``: :math:`(*, C, Hr, Wr) \\to (*, C r^2, H, W)`."""
    who, r = "pixel_unshuffle", downscale_factor
    _at_least_3d(who, input)
    _positive(who, "downscale_factor", r)
    *lead, c, h, w = input.shape
    for what, size, axis in (("height", h, -2), ("width", w, -1)):
        if size % r:
            raise ValueError(f"{who} expects {what} to be divisible by downscale_factor, but "
                             f"input.size({axis})={size} is not divisible by {r}")
    n = len(lead)
    x = input.reshape(*lead, c, h // r, r, w // r, r)
    x = x.transpose(*range(n), n, n + 2, n + 4, n + 1, n + 3)
    return x.reshape(*lead, c * r * r, h // r, w // r)


def channel_shuffle(input: jax.Array, groups: int) -> jax.Array:
    """``torch.nn.functional.channel_shuffle``: split the ``C`` channels of ``(N, C, *)`` into
    ``groups`` groups and interleave them (channel ``g*k + i`` moves to ``i*groups + g``)."""
    if input.ndim <= 2:
        raise ValueError(f"channel_shuffle expects input with > 2 dims, but got input with "
                         f"sizes {list(input.shape)}")
    if isinstance(groups, bool) or not isinstance(groups, int):
        raise TypeError(f"channel_shuffle(): argument 'groups' must be int, not "
                        f"{type(groups).__name__}")
    if groups <= 0:
        raise ValueError(f"Number of groups to divide channels in must be positive. Value of "
                         f"groups:{groups}")
    n, c, *rest = input.shape
    if c % groups:
        raise ValueError(f"Number of channels must be divisible by groups. Got {c} channels "
                         f"and {groups} groups.")
    x = input.reshape(n, groups, c // groups, *rest)
    return jax.numpy.swapaxes(x, 1, 2).reshape(input.shape)


def native_channel_shuffle(input: jax.Array, groups: int) -> jax.Array:
    """``torch.nn.functional.native_channel_shuffle``: the same as :func:`channel_shuffle`."""
    return channel_shuffle(input, groups)
