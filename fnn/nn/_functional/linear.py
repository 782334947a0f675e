"""``linear`` and ``bilinear`` (torch layouts: weight ``(out, in)``)."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from ..._autocast import autocast_op

__all__ = ["linear", "bilinear"]


@autocast_op("linear")
def linear(input: jax.Array, weight: jax.Array, bias: jax.Array | None = None) -> jax.Array:
    r""":math:`y = x W^\top + b`, torch's ``F.linear`` (``weight`` is ``(out_features, in_features)``)."""
    if weight.ndim not in (1, 2):
        raise ValueError(f"linear: weight must be 2-D (out_features, in_features), got shape "
                         f"{tuple(weight.shape)}")
    if input.shape[-1:] != weight.shape[-1:]:
        raise ValueError(
            f"linear: input's last dimension is {input.shape[-1] if input.ndim else '()'} but the "
            f"weight {tuple(weight.shape)} expects in_features={weight.shape[-1]}")
    out = weight.shape[:-1]
    if bias is not None and tuple(jnp.shape(bias)) not in (out, ()):
        raise ValueError(f"linear: bias must have shape {out} (out_features), got "
                         f"{tuple(jnp.shape(bias))}")
    y = jnp.matmul(input, weight.T)
    return y if bias is None else y + bias


@autocast_op("bilinear")
def bilinear(input1: jax.Array, input2: jax.Array, weight: jax.Array,
             bias: jax.Array | None = None) -> jax.Array:
    r""":math:`y_k = x_1^\top A_k x_2 + b_k`, torch's ``F.bilinear`` (weight ``(out, in1, in2)``)."""
    if weight.ndim != 3:
        raise ValueError(f"bilinear: weight must be 3-D (out, in1, in2), got shape "
                         f"{tuple(weight.shape)}")
    if input1.shape[-1] != weight.shape[1] or input2.shape[-1] != weight.shape[2]:
        raise ValueError(
            f"bilinear: inputs of last dimensions {input1.shape[-1]} and {input2.shape[-1]} do not "
            f"match the weight {tuple(weight.shape)} (out, in1, in2)")
    if bias is not None and tuple(jnp.shape(bias)) not in ((weight.shape[0],), ()):
        raise ValueError(f"bilinear: bias must have shape ({weight.shape[0]},) (out_features), "
                         f"got {tuple(jnp.shape(bias))}")
    y = jnp.einsum("...i,kij,...j->...k", input1, weight, input2)
    return y if bias is None else y + bias
