"""``instance_norm``: per-sample, per-channel normalization (torch layouts: channels on dim 1).

Pure, like :func:`fnn.nn.functional.batch_norm`: it returns the updated running statistics
instead of writing them in place: ``out, new_mean, new_var = instance_norm(...)``.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp

from .normalization import batch_norm

__all__ = ["instance_norm"]


def _tile(v: jax.Array | None, n: int) -> jax.Array | None:
    return None if v is None else jnp.tile(v, n)


def instance_norm(input: jax.Array, running_mean: jax.Array | None = None,
                  running_var: jax.Array | None = None, weight: jax.Array | None = None,
                  bias: jax.Array | None = None, use_input_stats: bool = True,
                  momentum: float = 0.1, eps: float = 1e-5
                  ) -> tuple[jax.Array, jax.Array | None, jax.Array | None]:
    r"""Instance normalization (``F.instance_norm``; Ulyanov et al. 2016, *Instance
    Normalization: The Missing Ingredient for Fast Stylization*).

    :math:`y_{nc} = \frac{x_{nc} - \mu_{nc}}{\sqrt{\sigma^2_{nc} + \epsilon}}\,\gamma_c +
    \beta_c` with the mean and biased variance of each sample's channel over the spatial
    dims. As torch computes it (``batch_norm`` on the ``(1, N*C, ...)`` view), the running
    statistics, if given, become :math:`(1-m)\hat\mu + m\,\overline{\mu_{n\cdot}}` and
    :math:`(1-m)\hat\sigma^2 + m\,\overline{\sigma^2_{n\cdot,unbiased}}` (averages over the
    batch). ``use_input_stats=False`` normalizes with the running statistics instead.

    Returns ``(output, new_running_mean, new_running_var)``.
    """
    if input.ndim < 2:
        raise ValueError(f"instance_norm: expected an input with at least 2 dims (N, C, ...), "
                         f"got shape {tuple(input.shape)}")
    if use_input_stats and math.prod(input.shape[2:]) == 1:
        raise ValueError("Expected more than 1 spatial element when training, got input size "
                         f"torch.Size({list(input.shape)})")
    n, c = input.shape[:2]
    flat = input.reshape((1, n * c) + input.shape[2:])
    out, mean, var = batch_norm(flat, _tile(running_mean, n), _tile(running_var, n),
                                _tile(weight, n), _tile(bias, n), use_input_stats, momentum, eps)
    out = out.reshape(input.shape)
    if running_mean is None or running_var is None or mean is None or var is None \
            or not use_input_stats:
        return out, running_mean, running_var
    new_mean = jnp.mean(mean.reshape(n, c), axis=0).astype(running_mean.dtype)
    new_var = jnp.mean(var.reshape(n, c), axis=0).astype(running_var.dtype)
    return out, new_mean, new_var
