"""``torch.nn.LinearCrossEntropyLoss``: a classifier head and its cross-entropy in one module."""

from __future__ import annotations

import math
from typing import Any

import jax
import jax.numpy as jnp

from ._functional.linear_cross_entropy import linear_cross_entropy
from .linear import Linear
from .module import Module

__all__ = ["LinearCrossEntropyLoss"]


class LinearCrossEntropyLoss(Module):
    r"""``torch.nn.LinearCrossEntropyLoss(in_features, num_classes, *, out_features=(),
    bias=False, reduction='mean', weight=None, ignore_index=None, label_smoothing=0.0,
    options=None)``: :func:`fnn.nn.functional.linear_cross_entropy` with a learnable
    ``linear`` (``linear.weight`` ``(num_classes * prod(out_features), in_features)``, stored
    2-D as torch does, torch's ``Linear`` init). ``forward(params, input, target)``; the
    class ``weight`` is a constant of the module (torch's buffer).
    """

    def __init__(self, in_features: int, num_classes: int, *, out_features: tuple[int, ...] = (),
                 bias: bool = False, reduction: str = "mean", weight: Any = None,
                 ignore_index: int | None = None, label_smoothing: float = 0.0,
                 options: Any = None) -> None:
        if weight is not None and tuple(jnp.shape(weight)) != (num_classes,):
            raise ValueError(f"expected weight shape to be {(num_classes,)}, got "
                             f"{tuple(jnp.shape(weight))}")
        if label_smoothing < 0 or label_smoothing > 1.0:
            raise ValueError(f"expected label_smoothing to be in range [0, 1], got "
                             f"{label_smoothing}")
        if reduction not in ("none", "mean", "sum"):
            raise ValueError(f"{reduction} is not a valid value for reduction")
        self.num_classes, self.out_features = num_classes, tuple(out_features)
        self.reduction, self.ignore_index = reduction, ignore_index
        self.label_smoothing, self.options = label_smoothing, options
        self._fnn_weight = weight
        self.linear = Linear(in_features, math.prod(out_features, start=num_classes), bias=bias)

    def forward(self, params: dict, input: jax.Array, target: jax.Array) -> jax.Array:
        p = params["linear"]
        w = p["weight"].reshape((self.num_classes, *self.out_features, self.linear.in_features))
        b = p.get("bias")
        if b is not None:
            b = b.reshape((self.num_classes, *self.out_features))
        weight = None if self._fnn_weight is None else jnp.asarray(self._fnn_weight, w.dtype)
        return linear_cross_entropy(input, w, target, linear_bias=b, weight=weight,
                                    reduction=self.reduction, ignore_index=self.ignore_index,
                                    label_smoothing=self.label_smoothing, options=self.options)

    def extra_repr(self) -> str:
        return (f"in_features={self.linear.in_features}, num_classes={self.num_classes}, "
                f"out_features={self.out_features}, bias={self.linear.bias}, "
                f"reduction={self.reduction}, ignore_index={self.ignore_index}, "
                f"label_smoothing={self.label_smoothing}, options={self.options}")
