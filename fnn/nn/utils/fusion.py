"""``torch.nn.utils.fusion``: fold an eval-mode BatchNorm into the preceding conv or linear.

torch's ``fuse_conv_bn_eval(conv, bn)`` reads the tensors from the modules; fnn modules hold
no arrays, so the fnn forms take the parameters (and BatchNorm's buffers) and return the
fused module with its parameters::

    fused, fused_params = fuse_conv_bn_eval(conv, params["conv"], bn, params["bn"],
                                            buffers["bn"])
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

import jax
import jax.numpy as jnp

from ..module import Module

__all__ = ["fuse_conv_bn_eval", "fuse_conv_bn_weights", "fuse_linear_bn_eval",
           "fuse_linear_bn_weights"]


def fuse_conv_bn_weights(conv_w: jax.Array, conv_b: jax.Array | None, bn_rm: jax.Array,
                         bn_rv: jax.Array, bn_eps: float, bn_w: jax.Array | None,
                         bn_b: jax.Array | None, transpose: bool = False
                         ) -> tuple[jax.Array, jax.Array]:
    r"""``(w', b')`` with :math:`w' = w\,\gamma/\sqrt{\sigma^2 + \epsilon}` (per output channel:
    dim 0, or dim 1 when ``transpose``) and :math:`b' = (b - \mu)\gamma/\sqrt{\sigma^2 +
    \epsilon} + \beta` (``torch.nn.utils.fuse_conv_bn_weights``); missing ``conv_b``,
    ``bn_w``, ``bn_b`` act as 0, 1, 0. Results keep the conv's dtypes."""
    w_dtype = conv_w.dtype
    b_dtype = conv_b.dtype if conv_b is not None else w_dtype
    conv_b = jnp.zeros_like(bn_rm) if conv_b is None else conv_b
    bn_w = jnp.ones_like(bn_rm) if bn_w is None else bn_w
    bn_b = jnp.zeros_like(bn_rm) if bn_b is None else bn_b
    rsqrt = jax.lax.rsqrt(bn_rv + bn_eps)
    shape: tuple[int, ...] = ((1, -1) if transpose else (-1, 1)) + (1,) * (conv_w.ndim - 2)
    w = (conv_w * (bn_w * rsqrt).reshape(shape)).astype(w_dtype)
    b = ((conv_b - bn_rm) * rsqrt * bn_w + bn_b).astype(b_dtype)
    return w, b


def fuse_linear_bn_weights(linear_w: jax.Array, linear_b: jax.Array | None, bn_rm: jax.Array,
                           bn_rv: jax.Array, bn_eps: float, bn_w: jax.Array,
                           bn_b: jax.Array) -> tuple[jax.Array, jax.Array]:
    r"""``(w', b')`` with :math:`w' = w\,\gamma/\sqrt{\sigma^2 + \epsilon}` per output row and
    :math:`b' = (b - \mu)\gamma/\sqrt{\sigma^2 + \epsilon} + \beta`
    (``torch.nn.utils.fuse_linear_bn_weights``)."""
    w_dtype = linear_w.dtype
    b_dtype = linear_b.dtype if linear_b is not None else w_dtype
    linear_b = jnp.zeros_like(bn_rm) if linear_b is None else linear_b
    scale = bn_w * jax.lax.rsqrt(bn_rv + bn_eps)
    w = linear_w * scale[..., None].astype(w_dtype)
    return w, ((linear_b - bn_rm) * scale + bn_b).astype(b_dtype)


def _bn_stats(bn: Any, bn_buffers: Mapping[str, Any]) -> tuple[jax.Array, jax.Array]:
    if "running_mean" not in bn_buffers or "running_var" not in bn_buffers:
        raise ValueError("bn.running_mean and bn.running_var must not be None")
    return bn_buffers["running_mean"], bn_buffers["running_var"]


def fuse_conv_bn_eval(conv: Any, conv_params: Mapping[str, Any], bn: Any,
                      bn_params: Mapping[str, Any], bn_buffers: Mapping[str, Any],
                      transpose: bool = False) -> tuple[Module, dict[str, jax.Array]]:
    """``torch.nn.utils.fuse_conv_bn_eval``: a copy of ``conv`` (with a bias) and its
    parameters such that ``fused(p, x) == bn(conv(x))`` in eval mode. ``bn_buffers`` are the
    BatchNorm's ``running_mean``/``running_var``; ``transpose`` for ``ConvTranspose``."""
    rm, rv = _bn_stats(bn, bn_buffers)
    w, b = fuse_conv_bn_weights(conv_params["weight"], conv_params.get("bias"), rm, rv,
                                bn.eps, bn_params.get("weight"), bn_params.get("bias"), transpose)
    fused = copy.deepcopy(conv)
    fused.bias = True
    return fused, {"weight": w, "bias": b}


def fuse_linear_bn_eval(linear: Any, linear_params: Mapping[str, Any], bn: Any,
                        bn_params: Mapping[str, Any], bn_buffers: Mapping[str, Any]
                        ) -> tuple[Module, dict[str, jax.Array]]:
    """``torch.nn.utils.fuse_linear_bn_eval``: a copy of ``linear`` (with a bias) and its
    parameters such that ``fused(p, x) == bn(linear(x))`` in eval mode."""
    if linear.out_features != bn.num_features and bn.num_features != 1:
        raise ValueError("To fuse, linear.out_features == bn.num_features or bn.num_features == 1, "
                         f"got linear.out_features={linear.out_features} and "
                         f"bn.num_features={bn.num_features}")
    rm, rv = _bn_stats(bn, bn_buffers)
    w, b = fuse_linear_bn_weights(linear_params["weight"], linear_params.get("bias"), rm, rv,
                                  bn.eps, bn_params["weight"], bn_params["bias"])
    fused = copy.deepcopy(linear)
    fused.bias = True
    return fused, {"weight": w, "bias": b}
