r"""``fnn.amp.GradScaler``: torch's dynamic loss scaling as a pure state.

Algorithm (torch 2.13's ``GradScaler``, ``_amp_foreach_non_finite_check_and_unscale_`` and
``_amp_update_scale_``): the loss is multiplied by ``scale`` (float32) before
differentiation; the gradients are multiplied by ``inv_scale = float32(1 / float64(scale))``
and checked; a step whose gradients hold an Inf or NaN is skipped (the optimizer state,
its step count included, is unchanged). Then

.. math::
    \text{found\_inf}:\; s \leftarrow s\,\beta_{\text{backoff}},\ t \leftarrow 0; \qquad
    \text{else}:\; t \leftarrow t + 1,\ \text{and if } t = N:\
    s \leftarrow s\,\gamma_{\text{growth}} \text{ (if finite)},\ t \leftarrow 0.

The products are formed in float64 and rounded to float32 as torch's kernel does when
x64 is enabled (otherwise in float32: identical for the power-of-two default factors).
Micikevicius et al. 2018, *Mixed Precision Training*.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax
import optax.tree_utils as otu
from jax import lax

from .. import _tree
from .autocast_mode import note_scaler

__all__ = ["GradScaler", "GradScalerState", "ScaledOptState", "find_scaled_state"]

_LOW = (jnp.dtype(jnp.float16), jnp.dtype(jnp.bfloat16))


class GradScalerState(NamedTuple):
    """``scale`` (float32 ``()``) and ``growth_tracker`` (int32 ``()``: unskipped steps
    since the last growth or backoff), as torch's ``_scale``/``_growth_tracker``."""

    scale: jax.Array
    growth_tracker: jax.Array


class ScaledOptState(NamedTuple):
    """State of :meth:`GradScaler.wrap`: the wrapped optimizer's, the scaler's, whether
    the last step was skipped and how many were (``skipped``, int32)."""

    inner: Any
    scaler: GradScalerState
    found_inf: jax.Array
    skipped: jax.Array


def _check_master(tree: Any, what: str) -> None:
    for name, leaf in _tree.named_leaves(tree):
        if jnp.result_type(leaf) in _LOW:
            raise ValueError(
                f"Attempting to unscale FP16 gradients: GradScaler needs float32 master {what} "
                f"but {name or 'a leaf'!r} is {jnp.result_type(leaf)}. Keep the parameters float32 "
                "and run the forward pass under fnn.amp.autocast, which casts inside the ops.")


def _times(x: jax.Array, factor: float) -> jax.Array:
    """``float32(x * factor)`` with the product in float64 where available (torch's kernel
    multiplies a float by a double)."""
    wide = jax.dtypes.canonicalize_dtype(jnp.float64)
    return (x.astype(wide) * jnp.asarray(factor, wide)).astype(jnp.float32)


class GradScaler:
    """Dynamic loss scaling for float16 mixed precision, as ``torch.amp.GradScaler``.

    Pure: the scale lives in a :class:`GradScalerState` made by :meth:`init`; every method
    takes and returns state. torch's loop maps line by line::

        scaler = amp.GradScaler()                 # torch.amp.GradScaler("cuda")
        sstate = scaler.init()
        loss, grads = jax.value_and_grad(lambda p: scaler.scale(loss_fn(p), sstate))(params)
        grads, found_inf = scaler.unscale(grads, sstate)           # scaler.unscale_(opt)
        grads = clip(grads)                                         # sees the true gradients
        params, opt_state = scaler.step(opt, grads, opt_state, params, found_inf=found_inf)
        sstate = scaler.update(sstate, found_inf)                   # scaler.update()

    or as one optax transformation around any optimizer (:meth:`wrap`), whose ``update``
    takes the *scaled* gradients; compose with ``optim.nonfinite_guard`` inside it
    (``scaler.wrap(optim.nonfinite_guard(opt))``) so that the guard sees unscaled
    gradients and the scaler backs off on overflow.

    Args: as torch's (``device`` is not needed). ``growth_factor`` > 1,
    ``backoff_factor`` < 1; ``enabled=False`` makes every method a pass-through.
    """

    def __init__(self, init_scale: float = 2.0**16, growth_factor: float = 2.0,
                 backoff_factor: float = 0.5, growth_interval: int = 2000,
                 enabled: bool = True) -> None:
        if enabled:
            if growth_factor <= 1.0:
                raise ValueError("The growth factor must be > 1.0.")
            if backoff_factor >= 1.0:
                raise ValueError("The backoff factor must be < 1.0.")
            if isinstance(growth_interval, bool) or not isinstance(growth_interval, int) \
                    or growth_interval < 1:
                raise ValueError(f"growth_interval must be a positive int, got {growth_interval!r}")
            note_scaler(self)
        self.init_scale = float(init_scale)
        self.growth_factor = float(growth_factor)
        self.backoff_factor = float(backoff_factor)
        self.growth_interval = growth_interval
        self.enabled = enabled

    def init(self) -> GradScalerState:
        """The initial state: ``scale = init_scale`` (float32), ``growth_tracker = 0``."""
        return GradScalerState(jnp.full((), self.init_scale if self.enabled else 1.0,
                                        jnp.float32), jnp.zeros((), jnp.int32))

    def _state(self, state: Any) -> GradScalerState:
        if isinstance(state, GradScalerState):
            return state
        found = otu.tree_get(state, "GradScalerState")
        if found is None:
            raise TypeError("GradScaler: expected a GradScalerState (from scaler.init()) or an "
                            f"optimizer state made by scaler.wrap(...).init, got "
                            f"{type(state).__name__}")
        return found

    def scale(self, outputs: Any, state: Any) -> Any:
        """``outputs * scale`` (a loss, or a pytree of them), as ``scaler.scale(loss)``.
        ``state``: a :class:`GradScalerState` or the state of :meth:`wrap`."""
        if not self.enabled:
            return outputs
        s = self._state(state).scale
        return jax.tree.map(lambda x: x * s, outputs)

    def get_scale(self, state: Any) -> float:
        """The current scale as a Python float (1.0 when disabled), on the host."""
        return float(self._state(state).scale) if self.enabled else 1.0

    def unscale(self, grads: Any, state: Any) -> tuple[Any, jax.Array]:
        """``(grads * inv_scale, found_inf)``, torch's ``unscale_``: ``found_inf`` is a
        float32 ``1.0`` when any gradient holds an Inf/NaN, else ``0.0``. Raises for
        float16/bfloat16 gradients (the master copy must be float32 or float64)."""
        if not self.enabled:
            return grads, jnp.zeros((), jnp.float32)
        _check_master(grads, "gradients")
        scale = self._state(state).scale
        wide = jax.dtypes.canonicalize_dtype(jnp.float64)
        inv = (1.0 / scale.astype(wide)).astype(jnp.float32)
        leaves = [g for g in jax.tree.leaves(grads) if jnp.issubdtype(g.dtype, jnp.floating)]
        bad = [jnp.any(~jnp.isfinite(g)) for g in leaves]
        found = jnp.any(jnp.stack(bad)) if bad else jnp.zeros((), bool)
        unscaled = jax.tree.map(
            lambda g: g * inv.astype(g.dtype) if jnp.issubdtype(g.dtype, jnp.floating) else g,
            grads)
        return unscaled, found.astype(jnp.float32)

    def update(self, state: GradScalerState, found_inf: jax.Array,
               new_scale: float | None = None) -> GradScalerState:
        """The next state, torch's ``update()``: back off on ``found_inf``, grow after
        ``growth_interval`` clean steps in a row; ``new_scale`` sets the scale instead."""
        if not self.enabled:
            return state
        if new_scale is not None:
            return GradScalerState(jnp.full((), new_scale, jnp.float32), state.growth_tracker)
        inf = jnp.asarray(found_inf) > 0
        successful = state.growth_tracker + 1
        grow = (~inf) & (successful == self.growth_interval)
        grown = _times(state.scale, self.growth_factor)
        scale = jnp.where(inf, _times(state.scale, self.backoff_factor),
                          jnp.where(grow & jnp.isfinite(grown), grown, state.scale))
        tracker = jnp.where(inf | grow, 0, successful).astype(jnp.int32)
        return GradScalerState(scale, tracker)

    def step(self, optimizer: optax.GradientTransformation, grads: Any, opt_state: Any,
             params: Any, state: GradScalerState | None = None,
             found_inf: jax.Array | None = None, **extra_args: Any) -> tuple[Any, Any]:
        """``(params, opt_state)`` after ``optimizer``'s step, skipped (both unchanged) when
        ``found_inf``: torch's ``scaler.step(optimizer)``. Without ``found_inf`` the
        (scaled) ``grads`` are unscaled first, which needs ``state``."""
        if found_inf is None:
            if state is None:
                raise ValueError("GradScaler.step: pass found_inf (from unscale) or the scaler "
                                 "state to unscale the gradients")
            grads, found_inf = self.unscale(grads, state)
        updates, opt_state = _skippable_update(optimizer, grads, opt_state, params,
                                               jnp.asarray(found_inf) > 0, extra_args)
        return optax.apply_updates(params, updates), opt_state

    def wrap(self, optimizer: optax.GradientTransformation
             ) -> optax.GradientTransformationExtraArgs:
        """``optimizer`` with loss scaling: ``update`` takes the gradients of the *scaled*
        loss, unscales them, skips the step on Inf/NaN and updates the scale; scale the
        loss with ``scaler.scale(loss, opt_state)``. Raises at ``init`` for float16/bfloat16
        parameters (a float32 master copy is required)."""
        inner = optax.with_extra_args_support(optimizer)

        def init(params: Any) -> ScaledOptState:
            _check_master(params, "parameters")
            return self.wrap_state(inner.init(params))

        def update(updates: Any, state: ScaledOptState, params: Any = None,
                   **extra_args: Any) -> tuple[Any, ScaledOptState]:
            grads, found_inf = self.unscale(updates, state.scaler)
            new, inner_state = _skippable_update(inner, grads, state.inner, params,
                                                 found_inf > 0, extra_args)
            skipped = (state.skipped + (found_inf > 0)).astype(jnp.int32)
            return new, ScaledOptState(inner_state, self.update(state.scaler, found_inf),
                                       found_inf, skipped)

        return optax.GradientTransformationExtraArgs(init, update)

    def wrap_state(self, inner_state: Any) -> ScaledOptState:
        """The state of ``wrap(opt)`` around an existing ``opt`` state (switching a run to
        loss scaling midway keeps the optimizer's moments), with a fresh scale."""
        return ScaledOptState(inner_state, self.init(), jnp.zeros((), jnp.float32),
                              jnp.zeros((), jnp.int32))


def find_scaled_state(opt_state: Any) -> ScaledOptState | None:
    """The :class:`ScaledOptState` inside ``opt_state`` (a ``TrainState``'s optimizer
    state, an optax chain...), or ``None``: read ``.scaler.scale`` and ``.skipped``."""
    if isinstance(opt_state, ScaledOptState):
        return opt_state
    return otu.tree_get(opt_state, "ScaledOptState")


def _skippable_update(opt: optax.GradientTransformation, grads: Any, opt_state: Any,
                      params: Any, skip: jax.Array, extra_args: dict) -> tuple[Any, Any]:
    """``opt.update`` under ``lax.cond``: zeros and the unchanged state when ``skip``."""
    def apply(_: None) -> tuple[Any, Any]:
        return opt.update(grads, opt_state, params, **extra_args)

    shapes = jax.eval_shape(apply, None)

    def skipped(_: None) -> tuple[Any, Any]:
        zeros = jax.tree.map(lambda s: jnp.zeros(s.shape, s.dtype), shapes[0])
        return zeros, opt_state

    return lax.cond(skip, skipped, apply, None)
