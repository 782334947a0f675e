r"""A policy for NaN/Inf gradients and losses, for every optimizer: skip the step, or raise.

Wrap any optimizer once, before ``init``::

    opt = optim.nonfinite_guard(optim.adam(1e-3))                # policy="skip" (the default)
    opt = optim.nonfinite_guard(optim.lbfgs(), policy="raise")   # any optax transformation
    state = opt.init(params)
    params, state, loss = optim.step(opt, loss_fn, params, state)   # as before, jit-able
    optim.nonfinite_stats(state)        # {"skipped": 3, "consecutive": 0, "last_finite": True}

**What is checked.** A step is *non-finite* when any of these holds a NaN or an Inf:

* the gradients given to ``update`` (every floating leaf);
* the loss, when the caller passes it as ``value=`` (:func:`fnn.optim.step` and
  :mod:`fnn.train` always do);
* the updates the wrapped optimizer returns -- L-BFGS's line search, AdaHessian's
  Hessian-vector product, or an overflow inside the optimizer's own arithmetic can turn
  finite gradients into a non-finite step.

**Policies.** ``policy="skip"`` (torch's ``GradScaler`` behaviour): a non-finite step is
not applied. The updates are zeros and the wrapped optimizer's state is returned unchanged
-- its step count too, so Adam's bias correction and an ``lr`` schedule of the update count
do not advance, exactly as ``scaler.step(optimizer)`` skips ``optimizer.step()``. The
guard counts the skipped steps (``skipped``, never reset) and the current run of them
(``consecutive``, reset by the next applied step). ``max_consecutive=n`` turns the
``(n + 1)``-th skip in a row into an error (a run that diverged for good, rather than a
spike). ``policy="raise"``: the first non-finite step is an error.

**Raising, eagerly and under jit.** Called eagerly (concrete values), the guard raises
``FloatingPointError`` from ``update`` itself, naming what was non-finite (the loss, the
gradients by parameter name, or the optimizer's update); the caller's state is untouched
(nothing is mutated). Under ``jax.jit``/``lax.scan``/``vmap`` Python cannot raise from
inside the computation, so the step is skipped as with ``"skip"`` and a host callback
(``jax.debug.callback``) raises the same ``FloatingPointError``; JAX surfaces it as a
``jax.errors.JaxRuntimeError`` (a ``RuntimeError``) whose message contains fnn's, when the
compiled call runs (on accelerators: at the latest when its results are read). The
results of that call are lost; with a donating step (:mod:`fnn.train`) so is the state
passed in, so for jitted, donated loops prefer ``"skip"`` with ``max_consecutive`` and
read the counters on the host (:func:`nonfinite_stats`, or :func:`check_finite`, which
raises on the host when the last step was skipped: an error flag kept in the state).

**Compared with** ``optax.apply_if_finite(opt, max_consecutive_errors)``: optax checks only
the gradients; after ``max_consecutive_errors`` skips it gives up and *applies* the
non-finite update (the parameters become NaN); it cannot raise. This guard also checks the
loss and the optimizer's own output, never applies a non-finite step (it raises instead),
and :mod:`fnn.train` keeps the model's buffers (BatchNorm statistics) unchanged on a
skipped step as well. optax skips computing the inner update on a non-finite gradient
(``lax.cond``); this guard always computes it (it must check it), which costs one extra
reduction over the updates on every step and nothing else.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax import lax

from .. import _check, _tree
from ._state_tree import tree_find

__all__ = ["nonfinite_guard", "NonFiniteState", "nonfinite_stats", "check_finite",
           "find_nonfinite_states", "POLICIES"]

POLICIES = ("skip", "raise")
PyTree = Any


class NonFiniteState(NamedTuple):
    """State of :func:`nonfinite_guard`.

    ``inner``: the wrapped optimizer's state (``optim.get_lr`` and the schedulers find it
    there). ``skipped``: non-finite steps skipped since ``init`` (int32, never reset).
    ``consecutive``: skipped in a row (reset to 0 by an applied step). ``last_finite``:
    whether the last step was applied (bool).
    """

    inner: Any
    skipped: jax.Array
    consecutive: jax.Array
    last_finite: jax.Array


def _all_finite(leaves: Sequence[Any]) -> list[jax.Array]:
    """One boolean per leaf: every element finite (integer and bool leaves always are)."""
    out = []
    for x in leaves:
        x = jnp.asarray(x)
        if jnp.issubdtype(x.dtype, jnp.inexact):
            out.append(jnp.all(jnp.isfinite(x)))
        else:
            out.append(jnp.ones((), bool))
    return out


def _select(ok: jax.Array, new: Any, old: Any) -> Any:
    """``new`` where ``ok`` else ``old``, leaf by leaf, keeping dtypes (key arrays too)."""
    def pick(a, b):
        if a is b:
            return a
        a, b = jnp.asarray(a), jnp.asarray(b)
        return lax.select(jnp.broadcast_to(ok, a.shape), a, b.astype(a.dtype))

    return jax.tree.map(pick, new, old)


def _message(loss_ok: Any, grad_ok: Any, update_ok: Any, names: Sequence[str],
             consecutive: Any, max_consecutive: int | None, policy: str) -> str:
    """What went wrong, from host values (numpy; batched under vmap: any element)."""
    parts = []
    if not np.all(loss_ok):
        parts.append("the loss")
    g = np.reshape(np.asarray(grad_ok), (-1, len(names))) if names else np.ones((1, 0), bool)
    bad = [n for i, n in enumerate(names) if not np.all(g[:, i])]
    if bad:
        shown = ", ".join(bad[:5]) + (f" and {len(bad) - 5} more" if len(bad) > 5 else "")
        parts.append(f"the gradients of {shown}")
    if not parts and not np.all(update_ok):
        parts.append("the optimizer's update (from finite gradients)")
    what = " and ".join(parts) or "the step"
    if policy == "skip":
        return (f"fnn.optim.nonfinite_guard: {int(np.max(consecutive))} consecutive non-finite "
                f"steps (max_consecutive={max_consecutive}): the last had NaN/Inf in {what}; "
                "training has diverged")
    return (f"fnn.optim.nonfinite_guard(policy='raise'): NaN/Inf in {what}; the step was not "
            "applied")


def nonfinite_guard(opt: optax.GradientTransformation, policy: str = "skip", *,
                    max_consecutive: int | None = None) -> optax.GradientTransformationExtraArgs:
    """Wrap ``opt`` so that steps with NaN/Inf gradients, loss or updates are skipped
    (``policy="skip"``, counted in the state) or raise ``FloatingPointError``
    (``policy="raise"``); see the module docstring for the exact semantics under jit.

    ``opt``: any ``optax.GradientTransformation`` (fnn's optimizers, their ``ExtraArgs``
    ones such as ``lbfgs``/``adahessian``, ``optax.chain``...); extra arguments
    (``value``, ``value_fn``, ``key``) are forwarded to it. ``max_consecutive``: with
    ``"skip"``, raise once more than this many steps in a row were skipped.
    torch: ``GradScaler``'s skipped ``optimizer.step()`` on inf/NaN gradients (without the
    loss scaling), or ``torch.autograd.detect_anomaly`` for ``"raise"``.
    """
    _check.transformation("nonfinite_guard", opt)
    if policy not in POLICIES:
        raise ValueError(f"nonfinite_guard: policy must be one of {POLICIES}, got {policy!r}")
    if max_consecutive is not None:
        if isinstance(max_consecutive, bool) or not isinstance(max_consecutive, int) \
                or max_consecutive < 0:
            raise ValueError("nonfinite_guard: max_consecutive must be a non-negative int or "
                             f"None, got {max_consecutive!r}")
        if policy != "skip":
            raise ValueError("nonfinite_guard: max_consecutive applies to policy='skip' "
                             "(policy='raise' raises on the first non-finite step)")
    inner = optax.with_extra_args_support(opt)

    def init(params: PyTree) -> NonFiniteState:
        # distinct buffers (not one zero twice): a donating jitted step donates each leaf
        return NonFiniteState(inner.init(params), jnp.zeros((), jnp.int32),
                              jnp.zeros((), jnp.int32), jnp.ones((), bool))

    def update(updates: PyTree, state: NonFiniteState, params: PyTree | None = None,
               **extra_args: Any) -> tuple[PyTree, NonFiniteState]:
        if not isinstance(state, NonFiniteState):
            raise TypeError("nonfinite_guard: expected the NonFiniteState made by this "
                            f"optimizer's init, got {type(state).__name__} (was the state made "
                            "by the unwrapped optimizer?)")
        names = _tree.leaf_names(updates)
        grad_ok = _all_finite(jax.tree.leaves(updates))
        value = extra_args.get("value")
        loss_ok = jnp.ones((), bool) if value is None else jnp.all(jnp.isfinite(value))
        new_updates, new_inner = inner.update(updates, state.inner, params, **extra_args)
        upd_ok = _all_finite(jax.tree.leaves(new_updates))
        grads_finite = jnp.all(jnp.stack(grad_ok)) if grad_ok else jnp.ones((), bool)
        updates_finite = jnp.all(jnp.stack(upd_ok)) if upd_ok else jnp.ones((), bool)
        ok = loss_ok & grads_finite & updates_finite
        consecutive = jnp.where(ok, 0, state.consecutive + 1).astype(jnp.int32)
        skipped = (state.skipped + jnp.where(ok, 0, 1)).astype(jnp.int32)
        fail = ~ok if policy == "raise" else (
            consecutive > max_consecutive if max_consecutive is not None else None)
        if fail is not None:
            flags = (loss_ok, jnp.stack(grad_ok) if grad_ok else jnp.ones((0,), bool),
                     updates_finite, consecutive)

            def raise_if(failed, loss_ok, grad_ok, update_ok, consecutive):
                if np.any(failed):
                    raise FloatingPointError(_message(loss_ok, grad_ok, update_ok, names,
                                                      consecutive, max_consecutive, policy))

            if isinstance(fail, jax.core.Tracer):
                jax.debug.callback(raise_if, fail, *flags)
            else:
                raise_if(np.asarray(fail), *(np.asarray(f) for f in flags))
        zeros = jax.tree.map(jnp.zeros_like, new_updates)
        out = _select(ok, new_updates, zeros)
        return out, NonFiniteState(_select(ok, new_inner, state.inner), skipped, consecutive, ok)

    return optax.GradientTransformationExtraArgs(init, update)


# ---------------------------------------------------------------------- reading the state
def find_nonfinite_states(state: Any) -> list[NonFiniteState]:
    """Every :class:`NonFiniteState` inside ``state`` (a composite optax state, a
    ``TrainState``...), outermost first."""
    return tree_find(state, lambda s: isinstance(s, NonFiniteState))


def _the_state(state: Any, who: str) -> NonFiniteState:
    found = find_nonfinite_states(state)
    if not found:
        raise ValueError(f"{who}: no nonfinite_guard state found in this state (wrap the "
                         "optimizer with fnn.optim.nonfinite_guard(opt) before init)")
    return found[0]


def nonfinite_stats(state: Any) -> dict[str, Any]:
    """``{"skipped", "consecutive", "last_finite"}`` of the (outermost) guard inside
    ``state`` (an optimizer state or a ``fnn.train.TrainState``), as Python values
    (NumPy arrays when batched with vmap). Reading them syncs with the device."""
    s = _the_state(state, "nonfinite_stats")
    out = {k: np.asarray(getattr(s, k)) for k in ("skipped", "consecutive", "last_finite")}
    return {k: (v.item() if v.ndim == 0 else v) for k, v in out.items()}


def check_finite(state: Any) -> None:
    """Raise ``FloatingPointError`` on the host if the last step of the guard inside
    ``state`` was skipped as non-finite (the error flag of a jitted ``"skip"`` loop)."""
    stats = nonfinite_stats(state)
    if not np.all(stats["last_finite"]):
        raise FloatingPointError(
            f"fnn.optim.nonfinite_guard: the last step had NaN/Inf and was skipped "
            f"({int(np.max(stats['consecutive']))} in a row, {int(np.max(stats['skipped']))} "
            "in total)")
