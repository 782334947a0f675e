"""``linear_cross_entropy``: a linear layer followed by cross-entropy, in one call."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from ...losses import cross_entropy

__all__ = ["linear_cross_entropy"]


def linear_cross_entropy(input: jax.Array, linear_weight: jax.Array, target: jax.Array, *,
                         linear_bias: jax.Array | None = None, weight: jax.Array | None = None,
                         reduction: str = "mean", ignore_index: int | None = None,
                         label_smoothing: float = 0.0, options: Any = None) -> jax.Array:
    r"""``cross_entropy(linear(input, linear_weight, linear_bias), target, ...)``
    (``F.linear_cross_entropy``, torch 2.13).

    ``input`` ``(N, in)`` or ``(in,)``; ``linear_weight`` ``(C, *out_features, in)`` gives
    logits ``(N, C, *out_features)`` (a K-dimensional loss when ``out_features`` is
    non-empty); ``linear_bias`` ``(C, *out_features)``. ``target``: class indices, or class
    probabilities shaped like the logits (then ``ignore_index`` must be ``None``).
    ``ignore_index=None`` means -100. ``options`` (torch's chunking strategy, a memory
    optimisation of its eager kernels) is accepted and ignored: the value is the same, and
    under ``jit`` XLA fuses the matmul into the loss.
    """
    if input.ndim < 1 or input.ndim > 2:
        raise ValueError(f"expected input with dimensionality 1 or 2, got {input.ndim}")
    if linear_weight.ndim < 2:
        raise ValueError("expected linear_weight with dimensionality at least 2, got "
                         f"{linear_weight.ndim}")
    in_features = input.shape[-1]
    if in_features != linear_weight.shape[-1]:
        raise ValueError("expected equal input and linear_weight last dimensions (in_features), "
                         f"got {in_features} and {linear_weight.shape[-1]}, respectively")
    num_classes, out_features = linear_weight.shape[0], tuple(linear_weight.shape[1:-1])
    if linear_bias is not None and tuple(linear_bias.shape) != (num_classes, *out_features):
        raise ValueError(f"expected linear_bias shape {(num_classes, *out_features)}, got "
                         f"{tuple(linear_bias.shape)}")
    if out_features and input.ndim == 1:
        raise ValueError(f"K-dimensional loss defined by linear_weight shape "
                         f"{tuple(linear_weight.shape)} requires batched input, (N, "
                         f"{in_features}), got unbatched input with shape {tuple(input.shape)}")
    logits = jnp.tensordot(input, linear_weight, axes=[[-1], [-1]])
    if linear_bias is not None:
        logits = logits + linear_bias
    target = jnp.asarray(target)
    if target.shape == logits.shape and ignore_index is not None:
        raise ValueError("ignore_index cannot be specified when target contains probabilities")
    return cross_entropy(logits, target, weight, ignore_index=-100 if ignore_index is None
                         else ignore_index, reduction=reduction, label_smoothing=label_smoothing)
