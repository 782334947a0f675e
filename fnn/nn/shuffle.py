"""``PixelShuffle``, ``PixelUnshuffle``, ``ChannelShuffle``: the rearrangements of
:mod:`fnn.nn._functional.shuffle` as layers (no parameters)."""

from __future__ import annotations

import jax

from ._functional.shuffle import channel_shuffle, pixel_shuffle, pixel_unshuffle
from .module import Module

__all__ = ["PixelShuffle", "PixelUnshuffle", "ChannelShuffle"]


class PixelShuffle(Module):
    r"""``torch.nn.PixelShuffle(upscale_factor)``: :math:`(*, C r^2, H, W) \to (*, C, Hr, Wr)`
    (Shi et al. 2016, the sub-pixel convolution)."""

    def __init__(self, upscale_factor: int):
        self.upscale_factor = upscale_factor

    def forward(self, params: dict, x: jax.Array) -> jax.Array:
        return pixel_shuffle(x, self.upscale_factor)

    def extra_repr(self) -> str:
        return f"upscale_factor={self.upscale_factor}"


class PixelUnshuffle(Module):
    r"""``torch.nn.PixelUnshuffle(downscale_factor)``: :math:`(*, C, Hr, Wr) \to
    (*, C r^2, H, W)`, the inverse of :class:`PixelShuffle`."""

    def __init__(self, downscale_factor: int):
        self.downscale_factor = downscale_factor

    def forward(self, params: dict, x: jax.Array) -> jax.Array:
        return pixel_unshuffle(x, self.downscale_factor)

    def extra_repr(self) -> str:
        return f"downscale_factor={self.downscale_factor}"


class ChannelShuffle(Module):
    """``torch.nn.ChannelShuffle(groups)``: interleave the channel groups of ``(N, C, *)``
    (Zhang et al. 2018, ShuffleNet)."""

    def __init__(self, groups: int):
        self.groups = groups

    def forward(self, params: dict, x: jax.Array) -> jax.Array:
        return channel_shuffle(x, self.groups)

    def extra_repr(self) -> str:
        return f"groups={self.groups}"
