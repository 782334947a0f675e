"""Connectionist Temporal Classification loss (``ctc_loss``), a log-space forward algorithm.

Graves et al. 2006, "Connectionist Temporal Classification: Labelling Unsegmented Sequence
Data with Recurrent Neural Networks". The recursion runs under ``lax.scan`` over time with
fixed shapes: samples whose input is shorter than ``T`` keep their forward variables frozen
after their last frame, and targets shorter than ``S`` are read at their own end.
Gradients come from autodiff of the forward pass.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from .._autocast import autocast_op
from ._reduction import apply_reduction, get_reduction, is_concrete

__all__ = ["ctc_loss"]

# Unreachable states hold a large finite negative number instead of -inf, so that
# logsumexp and its gradient stay finite; a log-likelihood below _INFEASIBLE is -inf.
_NEG = -1e30
_INFEASIBLE = -1e29


def _logsumexp3(a: jax.Array, b: jax.Array, c: jax.Array) -> jax.Array:
    m = jnp.maximum(jnp.maximum(a, b), c)
    return m + jnp.log(jnp.exp(a - m) + jnp.exp(b - m) + jnp.exp(c - m))


def _shift(x: jax.Array, k: int) -> jax.Array:
    """``x[:, s - k]`` along the last axis, ``_NEG`` where ``s < k``."""
    pad = jnp.full(x.shape[:-1] + (k,), _NEG, x.dtype)
    return jnp.concatenate([pad, x[..., :-k]], axis=-1)


@jax.jit
def _ctc_nll(log_probs: jax.Array, ext: jax.Array, skip: jax.Array, input_lengths: jax.Array,
             target_lengths: jax.Array) -> jax.Array:
    r"""Per-sample :math:`-\log p(y \mid x)` (``+inf`` where no alignment exists).

    ``log_probs`` ``(T, N, C)``; ``ext`` ``(N, 2S+1)`` the blank-interleaved labels;
    ``skip`` ``(N, 2S+1)`` where the transition ``s-2 -> s`` is allowed.
    """
    lpe = jnp.take_along_axis(log_probs, ext[None], axis=2)             # (T, N, L)
    neg = jnp.asarray(_NEG, log_probs.dtype)
    s = jnp.arange(ext.shape[1])
    alpha0 = jnp.where((s == 0) | ((s == 1) & (target_lengths[:, None] > 0)), lpe[0], neg)

    def step(alpha, xs):
        t, lpe_t = xs
        a2 = jnp.where(skip, _shift(alpha, 2), neg)
        new = _logsumexp3(alpha, _shift(alpha, 1), a2) + lpe_t
        return jnp.where((t < input_lengths)[:, None], new, alpha), None

    ts = jnp.arange(1, log_probs.shape[0])
    alpha, _ = jax.lax.scan(step, alpha0, (ts, lpe[1:]))
    end = 2 * target_lengths
    last = jnp.take_along_axis(alpha, end[:, None], axis=1)[:, 0]
    prev = jnp.take_along_axis(alpha, jnp.maximum(end - 1, 0)[:, None], axis=1)[:, 0]
    prev = jnp.where(target_lengths > 0, prev, neg)
    ll = jnp.logaddexp(last, prev)
    return jnp.where(ll < _INFEASIBLE, jnp.inf, -ll)


def _padded_targets(targets: jax.Array, target_lengths: jax.Array, batched: bool) -> jax.Array:
    """``(N, S)`` padded targets; a 1-D concatenated batch is gathered into a fixed ``(N, sum)``."""
    if targets.ndim == 2 or not batched:
        return targets if targets.ndim == 2 else targets[None]
    offsets = jnp.cumsum(target_lengths) - target_lengths
    idx = offsets[:, None] + jnp.arange(targets.shape[0])[None]
    return targets[jnp.clip(idx, 0, max(targets.shape[0] - 1, 0))]


def _check_concrete(log_probs, padded, input_lengths, target_lengths, blank) -> None:
    T, _, C = log_probs.shape
    il, tl = np.asarray(input_lengths), np.asarray(target_lengths)
    if il.size and (il.max() > T or il.min() < 0):
        raise ValueError(f"ctc_loss: Expected input_lengths to have value at most {T}, but got "
                         f"{il.tolist()}")
    if tl.size and (tl.max() > padded.shape[1] or tl.min() < 0):
        raise ValueError(f"ctc_loss: target_lengths {tl.tolist()} exceed the targets' length "
                         f"{padded.shape[1]}")
    p = np.asarray(padded)
    used = np.arange(p.shape[1])[None] < tl[:, None]
    vals = p[used]
    if vals.size and (vals.min() < 0 or vals.max() >= C or (vals == blank).any()):
        raise ValueError(f"ctc_loss: targets must be class indices in [0, {C}) other than the "
                         f"blank {blank}, got {sorted(set(vals.tolist()))}")


@autocast_op("ctc_loss")
def ctc_loss(log_probs: jax.Array, targets: jax.Array, input_lengths: jax.Array,
             target_lengths: jax.Array, blank: int = 0, reduction: str = "mean",
             zero_infinity: bool = False) -> jax.Array:
    r"""CTC loss, torch's ``F.ctc_loss`` (Graves et al. 2006).

    ``log_probs``: ``(T, N, C)`` or unbatched ``(T, C)`` log-probabilities (e.g.
    ``log_softmax``); ``targets``: padded ``(N, S)``, or 1-D concatenated targets of all
    samples (``sum(target_lengths)``), or ``(S)`` unbatched; ``input_lengths`` and
    ``target_lengths``: ``(N)`` (or scalars). The per-sample loss is
    :math:`-\log \sum_{\pi \in \mathcal{B}^{-1}(y)} \prod_t p_t(\pi_t)`, computed by the
    forward recursion over the blank-extended label sequence in log space.
    ``'mean'`` divides each loss by ``max(target_length, 1)`` and averages over the batch;
    ``'sum'`` adds them. Impossible alignments give ``inf``; ``zero_infinity=True``
    replaces those losses (and their gradients) with 0.

    Gradients: autodiff gives the true gradient w.r.t. ``log_probs``
    (:math:`-` the posterior of each frame and label). torch's kernel returns
    :math:`e^{lp} -` posterior instead, which is the same once chained through
    ``log_softmax`` (its extra term has zero projection); with ``log_softmax``-ed inputs the
    gradients w.r.t. the logits are identical. An infinite loss has a zero gradient (torch: NaN).
    Lengths and labels are checked when concrete; under ``jit`` out-of-range lengths are
    clamped by the gathers.
    """
    reduction = get_reduction("ctc_loss", reduction)
    log_probs = jnp.asarray(log_probs)
    targets, il, tl = (jnp.asarray(a) for a in (targets, input_lengths, target_lengths))
    batched = log_probs.ndim == 3
    if log_probs.ndim not in (2, 3):
        raise ValueError(f"ctc_loss: log_probs must be (T, N, C) or (T, C), got {log_probs.shape}")
    if not batched:
        log_probs = log_probs[:, None]
    n = log_probs.shape[1]
    il, tl = il.reshape(-1).astype(jnp.int32), tl.reshape(-1).astype(jnp.int32)
    if il.shape != (n,) or tl.shape != (n,):
        raise ValueError(f"ctc_loss: expected input_lengths and target_lengths of size {n}, got "
                         f"{il.shape} and {tl.shape}")
    if not 0 <= blank < log_probs.shape[2]:
        raise ValueError("blank must be in label range")
    padded = _padded_targets(targets, tl, batched).astype(jnp.int32)
    if padded.shape[0] != n:
        raise ValueError(f"ctc_loss: targets {targets.shape} do not match the batch size {n}")
    if is_concrete(padded, il, tl):
        _check_concrete(log_probs, padded, il, tl, blank)
    length = 2 * padded.shape[1] + 1
    ext = jnp.full((n, length), blank, jnp.int32).at[:, 1::2].set(padded)
    skip = jnp.zeros((n, length), bool).at[:, 3::2].set(padded[:, 1:] != padded[:, :-1])
    nll = _ctc_nll(log_probs, ext, skip, il, tl)
    if zero_infinity:
        nll = jnp.where(jnp.isinf(nll), jnp.zeros_like(nll), nll)
    if reduction == "mean":
        return jnp.mean(nll / jnp.maximum(tl, 1).astype(nll.dtype))
    out = apply_reduction(nll, reduction)
    return out if batched or reduction != "none" else out[0]
