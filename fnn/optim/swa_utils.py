"""``torch.optim.swa_utils`` as pure functions: weight averaging (SWA, EMA), BatchNorm
statistics recomputation and the SWALR scheduler.

torch's ``AveragedModel`` deep-copies a module and mutates it; in fnn the average is a
state next to the params::

    # torch                                        # fnn
    swa_model = AveragedModel(model)               swa = swa_utils.AveragedModel()
                                                   swa_state = swa.init(params)
    swa_model.update_parameters(model)             swa_state = swa.update_parameters(swa_state, params)
    update_bn(loader, swa_model)                   bufs = swa_utils.update_bn(loader, model, swa_state.params, bufs)
    swa_model(x)                                   model(swa_state.params, x, buffers=bufs)

EMA: ``AveragedModel(multi_avg_fn=get_ema_multi_avg_fn(0.999))``. Everything is
jit-compatible (the first update is a ``jnp.where`` on ``n_averaged``).
Paper: Izmailov et al., "Averaging Weights Leads to Wider Optima and Better
Generalization" (UAI 2018).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from .. import _check
from ._engine import lerp
from .lr_scheduler import SWALR

__all__ = ["AveragedModel", "AveragedState", "update_bn", "SWALR", "get_ema_multi_avg_fn",
           "get_swa_multi_avg_fn", "get_ema_avg_fn", "get_swa_avg_fn"]

PyTree = Any


def _check_decay(decay: float) -> None:
    if decay < 0.0 or decay > 1.0:
        raise ValueError(
            f"Invalid decay value {decay} provided. Please provide a value in [0,1] range.")


def get_ema_avg_fn(decay: float = 0.999) -> Callable:
    r"""Per-tensor EMA: :math:`\bar p \leftarrow d\,\bar p + (1-d)\,p`
    (torch's ``get_ema_avg_fn``)."""
    _check_decay(decay)
    return lambda ema, p, n: decay * ema + (1 - decay) * p


def get_swa_avg_fn() -> Callable:
    r"""Per-tensor running mean: :math:`\bar p \leftarrow \bar p + (p - \bar p)/(n+1)`
    (torch's ``get_swa_avg_fn``, the CPU default of ``AveragedModel``)."""
    return lambda avg, p, n: avg + (p - avg) / (n + 1).astype(jnp.asarray(avg).dtype)


def get_ema_multi_avg_fn(decay: float = 0.999) -> Callable:
    r"""EMA over lists: ``lerp(ema, p, 1 - decay)`` (torch's ``get_ema_multi_avg_fn``).

    fnn's multi-average functions are pure: ``fn(avg_list, p_list, n) -> new avg_list``.
    """
    _check_decay(decay)
    return lambda avgs, ps, n: [lerp(a, p, 1 - decay) for a, p in zip(avgs, ps)]


def get_swa_multi_avg_fn() -> Callable:
    """Running mean over lists: ``lerp(avg, p, 1/(n+1))`` (torch's ``get_swa_multi_avg_fn``).

    As in torch, ``1/(n+1)`` divides the integer ``n_averaged`` tensor, so the weight is a
    float32 (torch's default dtype) even for float64 weights.
    """
    def fn(avgs, ps, n):
        w = 1.0 / (jnp.asarray(n) + 1).astype(jnp.float32)
        return [lerp(a, p, w) for a, p in zip(avgs, ps)]

    return fn


class AveragedState(NamedTuple):
    """The averaged weights (``params``, and ``buffers``), and ``n_averaged`` (int)."""

    params: PyTree
    buffers: PyTree
    n_averaged: jax.Array


class AveragedModel:
    r"""Stochastic Weight Averaging / EMA of a parameter pytree; torch's ``AveragedModel``.

    ``avg_fn(avg, p, n)`` averages one array; ``multi_avg_fn(avgs, ps, n)`` a list of them
    (pure: it returns the new list). With neither, the running mean
    :math:`\bar p_{n+1} = \bar p_n + (p - \bar p_n)/(n+1)` (torch's CPU default). The first
    update copies the params. With ``use_buffers`` the buffers are averaged too; otherwise
    they are copied from the model at every update, as torch does.
    """

    def __init__(self, avg_fn: Callable | None = None, multi_avg_fn: Callable | None = None,
                 use_buffers: bool = False):
        if avg_fn is not None and multi_avg_fn is not None:
            raise AssertionError("Only one of avg_fn and multi_avg_fn should be provided")
        _check.callable_("AveragedModel", "avg_fn", avg_fn if avg_fn is not None else len)
        _check.callable_("AveragedModel", "multi_avg_fn",
                         multi_avg_fn if multi_avg_fn is not None else len)
        self.avg_fn, self.multi_avg_fn, self.use_buffers = avg_fn, multi_avg_fn, use_buffers

    def init(self, params: PyTree, buffers: PyTree = None) -> AveragedState:
        """torch's constructor: a copy of the weights and ``n_averaged = 0``."""
        return AveragedState(params, buffers, jnp.zeros((), jnp.result_type(int)))

    def update_parameters(self, state: AveragedState, params: PyTree,
                          buffers: PyTree = None) -> AveragedState:
        """torch's ``update_parameters(model)``: a new state, one more model averaged."""
        n = state.n_averaged
        tree = (params, buffers) if self.use_buffers else params
        avg_tree = (state.params, state.buffers) if self.use_buffers else state.params
        avgs, treedef = jax.tree.flatten(avg_tree)
        ps = treedef.flatten_up_to(tree)
        if self.multi_avg_fn is not None:
            new = list(self.multi_avg_fn(avgs, ps, n))
        else:
            fn = self.avg_fn or get_swa_avg_fn()
            new = [fn(a, p, n) for a, p in zip(avgs, ps)]
        # first update: a copy; integer buffers (num_batches_tracked) are truncated back
        out = [jnp.where(n == 0, p, m).astype(jnp.asarray(a).dtype)
               for a, p, m in zip(avgs, ps, new)]
        out_tree = jax.tree.unflatten(treedef, out)
        if self.use_buffers:
            new_params, new_buffers = out_tree
        else:
            new_params, new_buffers = out_tree, buffers
        return AveragedState(new_params, new_buffers, n + 1)


def _is_batchnorm(module: Any) -> bool:
    own = module.init_own_buffers(jnp.float32)
    return hasattr(module, "momentum") and {"running_mean", "running_var"} <= set(own)


def update_bn(loader: Iterable[Any], model: Any, params: PyTree, buffers: PyTree,
              key: jax.Array | None = None) -> PyTree:
    """Recompute every BatchNorm's running statistics with the given params; torch's
    ``update_bn(loader, model)``.

    The statistics are reset and re-estimated as a cumulative average over ``loader``
    (``momentum=None`` while it runs, then restored), in training mode; list/tuple batches
    use their first element. ``key`` feeds Dropout, folded with the batch index. Returns
    the new buffers (the input buffers when the model has no BatchNorm).
    """
    if not callable(getattr(model, "named_modules", None)):
        raise TypeError(f"update_bn: model must be an fnn.nn.Module, got {type(model).__name__}")
    bns = [(name, m) for name, m in model.named_modules() if _is_batchnorm(m)]
    if not bns:
        return buffers
    from .. import _tree

    flat = dict(_tree.flatten(buffers))
    for name, m in bns:  # reset_running_stats()
        prefix = f"{name}." if name else ""
        for k, v in m.init_own_buffers(jnp.asarray(flat[prefix + "running_mean"]).dtype).items():
            flat[prefix + k] = jnp.asarray(v).astype(jnp.asarray(flat[prefix + k]).dtype)
    buffers = _tree.unflatten(flat)
    momenta = [m.momentum for _, m in bns]
    try:
        for _, m in bns:
            m.momentum = None

        @jax.jit
        def run(bufs, x, k):
            _, bufs = model.apply(params, x, buffers=bufs, train=True, key=k)
            return bufs

        for i, batch in enumerate(loader):
            x = batch[0] if isinstance(batch, (list, tuple)) else batch
            buffers = run(buffers, x, None if key is None else jax.random.fold_in(key, i))
    finally:
        for (_, m), mom in zip(bns, momenta):
            m.momentum = mom
    return buffers
