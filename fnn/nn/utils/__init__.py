"""``fnn.nn.utils``: ``torch.nn.utils`` as pure functions."""

from __future__ import annotations

from . import parametrizations, stateless
from .fusion import (
    fuse_conv_bn_eval,
    fuse_conv_bn_weights,
    fuse_linear_bn_eval,
    fuse_linear_bn_weights,
)

__all__ = [
    "fuse_conv_bn_eval", "fuse_conv_bn_weights", "fuse_linear_bn_eval", "fuse_linear_bn_weights",
    "parametrizations", "stateless",
]
