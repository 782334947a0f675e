"""``batch_norm``, ``layer_norm`` and ``group_norm`` (torch layouts: channels on dim 1).

``batch_norm`` is pure: instead of updating ``running_mean``/``running_var`` in place as
torch does, it returns them: ``out, new_mean, new_var = batch_norm(...)``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import jax
import jax.numpy as jnp

from ..._autocast import autocast_op

__all__ = ["batch_norm", "layer_norm", "group_norm", "rms_norm"]


def _affine(y: jax.Array, weight: jax.Array | None, bias: jax.Array | None,
            shape: tuple[int, ...]) -> jax.Array:
    """``y * weight + bias`` with the per-channel vectors reshaped to ``shape``."""
    if weight is not None:
        y = y * jnp.reshape(weight, shape)
    if bias is not None:
        y = y + jnp.reshape(bias, shape)
    return y


def _normalize(x: jax.Array, axes: tuple[int, ...], eps: float) -> tuple[jax.Array, ...]:
    """``(x - mean) / sqrt(var + eps)`` over ``axes`` with the biased variance; also returns
    ``mean`` and ``var`` (keepdims)."""
    mean = jnp.mean(x, axis=axes, keepdims=True)
    var = jnp.mean(jnp.square(x - mean), axis=axes, keepdims=True)
    return (x - mean) * jax.lax.rsqrt(var + eps), mean, var


@autocast_op("batch_norm")
def batch_norm(input: jax.Array, running_mean: jax.Array | None, running_var: jax.Array | None,
               weight: jax.Array | None = None, bias: jax.Array | None = None,
               training: bool = False, momentum: float | jax.Array = 0.1,
               eps: float = 1e-5) -> tuple[jax.Array, jax.Array | None, jax.Array | None]:
    r"""Batch normalization over all dims but 1 (``F.batch_norm``; Ioffe & Szegedy 2015,
    *Batch Normalization: Accelerating Deep Network Training by Reducing Internal Covariate
    Shift*).

    :math:`y = \frac{x - \mu}{\sqrt{\sigma^2 + \epsilon}}\,\gamma + \beta`. With
    ``training=True`` (or no running statistics) :math:`\mu, \sigma^2` are the batch mean and
    *biased* variance, and the running statistics, if given, become
    :math:`(1 - m)\,\hat\mu + m\,\mu` and :math:`(1 - m)\,\hat\sigma^2 + m\,\sigma^2_{unbiased}`
    (torch uses the *unbiased* batch variance, :math:`n/(n-1)` times the biased one, for the
    running estimate). With ``training=False`` the running statistics normalize.

    Returns ``(output, new_running_mean, new_running_var)``; the new statistics are the
    given ones when not training (``None`` when none were given). ``momentum`` may be a
    traced scalar (BatchNorm passes :math:`1/\text{num\_batches\_tracked}` for
    ``momentum=None``). No gradient flows into the running statistics.
    """
    if input.ndim < 2:
        raise ValueError(f"batch_norm: expected an input with at least 2 dims (N, C, ...), got "
                         f"shape {tuple(input.shape)}")
    c = input.shape[1]
    for name, v in (("running_mean", running_mean), ("running_var", running_var),
                    ("weight", weight), ("bias", bias)):
        if v is not None and jnp.size(v) != c:
            raise ValueError(f"batch_norm: {name} should contain {c} elements not {jnp.size(v)}")
    shape = (1, c) + (1,) * (input.ndim - 2)
    axes = (0,) + tuple(range(2, input.ndim))
    if not training and (running_mean is None or running_var is None):
        raise ValueError("batch_norm: running_mean and running_var must be given in evaluation "
                         "mode (training=False); pass training=True to normalize with the batch "
                         "statistics")
    use_batch = training or running_mean is None or running_var is None
    if not use_batch:
        assert running_mean is not None and running_var is not None
        y = (input - jnp.reshape(running_mean, shape)) * jax.lax.rsqrt(
            jnp.reshape(running_var, shape) + eps)
        return _affine(y, weight, bias, shape), running_mean, running_var
    n = input.size // c
    if training and n <= 1:
        raise ValueError("Expected more than 1 value per channel when training, got input size "
                         f"{tuple(input.shape)}")
    y, mean, var = _normalize(input, axes, eps)
    out = _affine(y, weight, bias, shape)
    if not training or running_mean is None or running_var is None:
        return out, running_mean, running_var
    mean = jax.lax.stop_gradient(mean.reshape(c))
    unbiased = jax.lax.stop_gradient(var.reshape(c)) * (n / (n - 1))
    new_mean = momentum * mean + (1 - momentum) * running_mean
    new_var = momentum * unbiased + (1 - momentum) * running_var
    return out, new_mean.astype(running_mean.dtype), new_var.astype(running_var.dtype)


@autocast_op("layer_norm")
def layer_norm(input: jax.Array, normalized_shape: int | Sequence[int],
               weight: jax.Array | None = None, bias: jax.Array | None = None,
               eps: float = 1e-5) -> jax.Array:
    r"""Normalize over the trailing ``normalized_shape`` dims (``F.layer_norm``; Ba et al. 2016,
    *Layer Normalization*): :math:`y = \frac{x - \mathrm{E}[x]}{\sqrt{\mathrm{Var}[x] +
    \epsilon}}\,\gamma + \beta` with the biased variance; ``weight``/``bias`` have shape
    ``normalized_shape``."""
    shape, axes = _trailing(input, normalized_shape, "layer_norm", weight=weight, bias=bias)
    y, _, _ = _normalize(input, axes, eps)
    return _affine(y, weight, bias, shape)


@autocast_op("group_norm")
def group_norm(input: jax.Array, num_groups: int, weight: jax.Array | None = None,
               bias: jax.Array | None = None, eps: float = 1e-5) -> jax.Array:
    r"""Normalize each of ``num_groups`` groups of channels (dim 1) per sample
    (``F.group_norm``; Wu & He 2018, *Group Normalization*), biased variance, then a
    per-channel affine ``weight``/``bias``."""
    if isinstance(num_groups, bool) or not isinstance(num_groups, int) or num_groups < 1:
        raise ValueError(f"group_norm: num_groups must be a positive int, got {num_groups!r}")
    if input.ndim < 2 or input.shape[1] % num_groups != 0:
        raise ValueError("group_norm: Expected number of channels in input to be divisible by "
                         f"num_groups, but got input of shape {list(input.shape)} and "
                         f"num_groups={num_groups}")
    n, c = input.shape[:2]
    for name, v in (("weight", weight), ("bias", bias)):
        if v is not None and tuple(jnp.shape(v)) != (c,):
            raise ValueError(f"group_norm: {name} must have shape ({c},) (one per channel), got "
                             f"{tuple(jnp.shape(v))}")
    grouped = input.reshape((n, num_groups, c // num_groups, math.prod(input.shape[2:])))
    y, _, _ = _normalize(grouped, (2, 3), eps)
    return _affine(y.reshape(input.shape), weight, bias, (1, c) + (1,) * (input.ndim - 2))


# ---------------------------------------------------------------------------- rms_norm
def _trailing(input: jax.Array, normalized_shape: int | Sequence[int], who: str,
              **params: jax.Array | None) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """``(shape, axes)`` of the trailing ``normalized_shape`` dims, with torch's message when
    ``input`` does not end with them; ``params`` (weight, bias) must have that shape."""
    shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    k = len(shape)
    if k == 0 or input.ndim < k or tuple(input.shape[input.ndim - k:]) != shape:
        raise ValueError(f"{who}: Given normalized_shape={list(shape)}, expected input with "
                         f"shape [*, {', '.join(map(str, shape))}], but got input of size"
                         f"{list(input.shape)}")
    for name, v in params.items():
        if v is not None and tuple(jnp.shape(v)) != shape:
            raise ValueError(f"{who}: {name} must have the normalized_shape {shape}, got "
                             f"shape {tuple(jnp.shape(v))}")
    return shape, tuple(range(input.ndim - k, input.ndim))


@autocast_op("rms_norm")
def rms_norm(input: jax.Array, normalized_shape: int | Sequence[int],
             weight: jax.Array | None = None, eps: float | None = None) -> jax.Array:
    r"""Root-mean-square normalization over the trailing ``normalized_shape`` dims
    (``F.rms_norm``; Zhang & Sennrich 2019, *Root Mean Square Layer Normalization*):
    :math:`y = \frac{x}{\sqrt{\mathrm{mean}(x^2) + \epsilon}}\,\gamma`. ``eps=None`` is
    torch's default, the machine epsilon of ``input``'s dtype."""
    _, axes = _trailing(input, normalized_shape, "rms_norm", weight=weight)
    eps = float(jnp.finfo(input.dtype).eps) if eps is None else eps
    y = input * jax.lax.rsqrt(jnp.mean(jnp.square(input), axis=axes, keepdims=True) + eps)
    return y if weight is None else y * weight
