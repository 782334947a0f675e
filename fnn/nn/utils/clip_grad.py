r"""Gradient clipping: ``torch.nn.utils.clip_grad_norm_`` / ``clip_grad_value_`` as pure functions.

torch clips the ``.grad`` of parameters in place and returns the total norm; fnn takes the
gradient pytree and returns new gradients::

    grads, total_norm = nn.utils.clip_grad_norm(grads, max_norm=0.25)   # torch: clip_grad_norm_(model.parameters(), 0.25)
    grads = nn.utils.clip_grad_value(grads, 1.0)                        # torch: clip_grad_value_(model.parameters(), 1.0)

The same clipping as optax transformations that chain before any fnn optimizer::

    opt = optax.chain(nn.utils.clip_grad_norm_transform(0.25), optim.sgd(lr=20.0))

There are deliberately no ``clip_grad_norm_``-style aliases: torch's in-place functions
return only the norm (``clip_grad_norm_``) or ``None`` (``clip_grad_value_``), while these
return the clipped gradients, so a line ported unchanged would silently discard the
clipping; the missing name makes the needed change visible.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from ... import _check, _tree

__all__ = ["get_total_norm", "clip_grads_with_norm", "clip_grad_norm", "clip_grad_value",
           "clip_grad_norm_transform", "clip_grad_value_transform"]


def _leaves(tree: Any) -> list[jax.Array]:
    """Leaves in torch's parameter order (the dict's insertion order, as ``state_dict``)."""
    return [jnp.asarray(x) for _, x in _tree.named_leaves(tree)]


def get_total_norm(tensors: Any, norm_type: float | str = 2.0,
                   error_if_nonfinite: bool = False) -> jax.Array:
    r"""``torch.nn.utils.get_total_norm``: the ``norm_type``-norm of all leaves as one vector.

    Computed as torch does: :math:`\|(\|g_1\|_p, \|g_2\|_p, \dots)\|_p` (the norm of the
    per-leaf norms). ``norm_type`` may be ``inf`` (or ``'inf'``). An empty tree gives 0.
    ``error_if_nonfinite``: raise ``RuntimeError`` (torch's message) when the norm is NaN or
    infinite; checked on concrete values only (under ``jax.jit`` it cannot raise: guard the
    step with :func:`fnn.optim.nonfinite_guard` instead).
    """
    p = float(norm_type)
    leaves = _leaves(tensors)
    if not leaves:
        return jnp.asarray(0.0)
    norms = jnp.stack([jnp.linalg.norm(g.ravel(), ord=p) for g in leaves])
    total = jnp.linalg.norm(norms, ord=p)
    if error_if_nonfinite and not isinstance(total, jax.core.Tracer) and not bool(jnp.isfinite(total)):
        raise RuntimeError(
            f"The total norm of order {p} for gradients from "
            "`parameters` is non-finite, so it cannot be clipped. To disable "
            "this error and scale the gradients by the non-finite norm anyway, "
            "set `error_if_nonfinite=False`")
    return total


def clip_grads_with_norm(grads: Any, max_norm: float, total_norm: jax.Array) -> Any:
    r"""``torch.nn.utils.clip_grads_with_norm_``: scale ``grads`` given their total norm.

    :math:`g \leftarrow g \cdot \min\left(\frac{max\_norm}{total\_norm + 10^{-6}}, 1\right)`
    (always multiplied, as torch does, so a coefficient of 1 still rounds identically).
    """
    _check.number("clip_grads_with_norm", "max_norm", max_norm)
    coef = jnp.minimum(max_norm / (jnp.asarray(total_norm) + 1e-6), 1.0)
    return jax.tree.map(lambda g: g if g is None else g * coef.astype(jnp.result_type(g)), grads)


def clip_grad_norm(grads: Any, max_norm: float, norm_type: float | str = 2.0,
                   error_if_nonfinite: bool = False) -> tuple[Any, jax.Array]:
    r"""``torch.nn.utils.clip_grad_norm_`` as a pure function: ``(clipped_grads, total_norm)``.

    ``total_norm`` is :func:`get_total_norm` of ``grads`` (before clipping); the gradients are
    scaled by :math:`\min(max\_norm / (total\_norm + 10^{-6}), 1)`, torch's exact formula
    (optax's ``clip_by_global_norm`` has no ``1e-6`` and only the 2-norm).
    """
    total = get_total_norm(grads, norm_type, error_if_nonfinite)
    return clip_grads_with_norm(grads, max_norm, total), total


def clip_grad_value(grads: Any, clip_value: float) -> Any:
    r"""``torch.nn.utils.clip_grad_value_`` as a pure function: every gradient entry clamped
    to :math:`[-clip\_value, clip\_value]`."""
    _check.number("clip_grad_value", "clip_value", clip_value)
    c = float(clip_value)
    return jax.tree.map(lambda g: jnp.clip(g, -c, c), grads)


class ClipGradNormState(NamedTuple):
    """State of :func:`clip_grad_norm_transform`: the last total norm (before clipping)."""
    total_norm: jax.Array


def clip_grad_norm_transform(max_norm: float, norm_type: float | str = 2.0) -> optax.GradientTransformation:
    """:func:`clip_grad_norm` as an optax transformation (chain it before an optimizer).

    The state keeps the last step's total norm (what torch's ``clip_grad_norm_`` returns).
    """
    _check.number("clip_grad_norm_transform", "max_norm", max_norm)
    float(norm_type)

    def init(params: Any) -> ClipGradNormState:
        return ClipGradNormState(jnp.zeros((), jnp.result_type(float)))

    def update(updates: Any, state: ClipGradNormState, params: Any = None) -> tuple[Any, ClipGradNormState]:
        new, total = clip_grad_norm(updates, max_norm, norm_type)
        return new, ClipGradNormState(jnp.asarray(total, state.total_norm.dtype))

    return optax.GradientTransformation(init, update)


def clip_grad_value_transform(clip_value: float) -> optax.GradientTransformation:
    """:func:`clip_grad_value` as an optax transformation (chain it before an optimizer)."""
    _check.number("clip_grad_value_transform", "clip_value", clip_value)

    def init(params: Any) -> optax.EmptyState:
        return optax.EmptyState()

    def update(updates: Any, state: optax.EmptyState, params: Any = None) -> tuple[Any, optax.EmptyState]:
        return clip_grad_value(updates, clip_value), state

    return optax.GradientTransformation(init, update)
