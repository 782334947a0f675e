"""Divergences and likelihoods: ``kl_div``, ``poisson_nll_loss``, ``gaussian_nll_loss``."""

from __future__ import annotations

import math
import warnings

import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.special import xlogy

from .._autocast import autocast_op
from ._reduction import (
    apply_reduction,
    check_same_shape,
    clamp_min_straight_through,
    get_reduction,
    is_concrete,
    legacy_get_string,
)

__all__ = ["kl_div", "poisson_nll_loss", "gaussian_nll_loss"]

_KL_MEAN_WARNING = (
    "reduction: 'mean' divides the total loss by both the batch size and the support size."
    "'batchmean' divides only by the batch size, and aligns with the KL div math definition."
    "'mean' will be changed to behave the same as 'batchmean' in the next major release.")


@autocast_op("kl_div")
def kl_div(input: jax.Array, target: jax.Array, size_average: bool | None = None,
           reduce: bool | None = None, reduction: str = "mean",
           log_target: bool = False) -> jax.Array:
    r"""Kullback-Leibler divergence, torch's ``F.kl_div``; ``input`` holds log-probabilities.

    :math:`\ell = t(\log t - x)` (0 where :math:`t = 0`), or with ``log_target``
    :math:`\ell = e^{t}(t - x)`. ``reduction='batchmean'`` is ``sum / input.shape[0]`` (the
    true KL divergence per sample); ``'mean'`` averages over all elements and warns like torch.
    Raises ``ValueError`` if ``target``'s shape differs from ``input``'s.
    """
    if size_average is not None or reduce is not None:
        red = legacy_get_string(size_average, reduce)
    else:
        red = get_reduction("kl_div", reduction, valid=("none", "batchmean", "mean", "sum"))
        if red == "mean":
            warnings.warn(_KL_MEAN_WARNING, UserWarning, stacklevel=3)
        if red == "batchmean":
            red = "sum"
    check_same_shape("kl_div", input, target)
    input, target = jnp.asarray(input), jnp.asarray(target)
    if log_target:
        loss = jnp.exp(target) * (target - input)
    else:
        loss = xlogy(target, target) - target * input
    out = apply_reduction(loss, red)
    if reduction == "batchmean" and input.ndim != 0:
        out = out / input.shape[0]
    return out


@autocast_op("poisson_nll_loss")
def poisson_nll_loss(input: jax.Array, target: jax.Array, log_input: bool = True,
                     full: bool = False, size_average: bool | None = None, eps: float = 1e-8,
                     reduce: bool | None = None, reduction: str = "mean") -> jax.Array:
    r"""Poisson negative log-likelihood, torch's ``F.poisson_nll_loss``.

    :math:`\ell = e^{x} - y x` (``log_input=True``) or :math:`x - y\log(x + \varepsilon)`;
    with ``full`` the Stirling term :math:`y\log y - y + \tfrac12\log(2\pi y)` is added where
    :math:`y > 1` (0 elsewhere). Raises ``ValueError`` if the shapes differ.
    """
    reduction = get_reduction("poisson_nll_loss", reduction, size_average, reduce)
    check_same_shape("poisson_nll_loss", input, target)
    input, target = jnp.asarray(input), jnp.asarray(target)
    if log_input:
        loss = jnp.exp(input) - target * input
    else:
        loss = input - target * jnp.log(input + eps)
    if full:
        big = target > 1
        y = jnp.where(big, target, 2.0)  # keeps the masked branch (and its gradient) finite
        stirling = y * jnp.log(y) - y + 0.5 * jnp.log(2 * math.pi * y)
        loss = loss + jnp.where(big, stirling, 0)
    return apply_reduction(loss, reduction)


def _gaussian_var(input: jax.Array, var: jax.Array | float) -> jax.Array:
    """torch's var validation and shape rules (see :func:`gaussian_nll_loss`)."""
    if isinstance(var, float):
        if var < 0:
            raise ValueError("var has negative entry/entries")
        return var * jnp.ones_like(input)
    var = jnp.asarray(var)
    if is_concrete(var) and bool(np.any(np.asarray(var) < 0)):  # numpy: jit-safe
        raise ValueError("var has negative entry/entries")
    if var.shape == input.shape:
        return var
    if input.shape[:-1] == var.shape:
        return var[..., None]
    mismatched = [v for i, v in zip(input.shape, var.shape) if i != v]
    if input.ndim == var.ndim and sum(mismatched) == 1:
        return var
    raise ValueError(f"var is of incorrect size (gaussian_nll_loss: input {input.shape}, "
                     f"var {var.shape})")


@autocast_op("gaussian_nll_loss")
def gaussian_nll_loss(input: jax.Array, target: jax.Array, var: jax.Array | float,
                      full: bool = False, eps: float = 1e-6,
                      reduction: str = "mean") -> jax.Array:
    r"""Gaussian negative log-likelihood, torch's ``F.gaussian_nll_loss`` (Nix & Weigend 1994).

    :math:`\ell = \tfrac12(\log v + (x - y)^2 / v)` (+ :math:`\tfrac12\log 2\pi` with ``full``),
    with :math:`v = \max(\mathrm{var}, \varepsilon)`; as in torch the clamp has no gradient
    (d/dvar is evaluated at the clamped value and passed straight through). ``var`` is either
    input-shaped, ``input.shape[:-1]`` (one variance per row), of input's ndim with a single
    size-1 mismatched dim (broadcast), or a Python float. Negative ``var`` raises (when concrete).
    Raises ``ValueError`` if ``target``'s shape differs from ``input``'s.
    """
    check_same_shape("gaussian_nll_loss", input, target)
    input, target = jnp.asarray(input), jnp.asarray(target)
    var = _gaussian_var(input, var)
    if reduction not in ("none", "mean", "sum"):
        raise ValueError(f"{reduction} is not valid (gaussian_nll_loss: reduction must be one of "
                         "'none', 'mean', 'sum')")
    var = clamp_min_straight_through(var, eps)
    loss = 0.5 * (jnp.log(var) + (input - target) ** 2 / var)
    if full:
        loss = loss + 0.5 * math.log(2 * math.pi)
    return apply_reduction(loss, reduction)
