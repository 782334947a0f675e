"""``optim.step``: torch's ``optimizer.step(closure)`` for every optimizer."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import optax

from .. import _check
from ._line_search import scalar_loss

__all__ = ["step"]

PyTree = Any


def step(opt: optax.GradientTransformation, loss_fn: Callable[..., Any], params: PyTree,
         state: Any, *args: Any, key: jax.Array | None = None, has_aux: bool = False,
         **kwargs: Any) -> tuple[PyTree, Any, Any]:
    r"""One optimizer step from a loss function: torch's ``loss = optimizer.step(closure)``.

    Computes ``loss, grads = jax.value_and_grad(loss_fn)(params, *args, **kwargs)`` once,
    then ``opt.update(grads, state, params, value=loss, grad=grads, value_fn=f, key=key)``
    where ``f(p) = loss_fn(p, *args, **kwargs)`` (its auxiliary output dropped) is the
    closure, so each optimizer evaluates the loss as it needs: first-order optimizers use
    ``grads`` once; :func:`fnn.optim.lbfgs` calls ``f`` as often as torch calls the
    closure; AdaHessian takes Hessian-vector products of ``f`` and draws its probes from
    ``key``. Plain ``optax.GradientTransformation``\ s get no extras (chains forward them
    only to members that accept them). Then :math:`\theta \leftarrow \theta + u`.

    Returns ``(new_params, new_state, loss)`` -- ``(new_params, new_state, (loss, aux))``
    with ``has_aux=True`` (``loss_fn`` then returns ``(loss, aux)``) -- where ``loss`` is
    the loss at the incoming ``params``, the value torch's ``step(closure)`` returns (for
    L-BFGS: the first closure evaluation of the step). The whole call can be jitted::

        step_fn = jax.jit(functools.partial(optim.step, opt, loss_fn))
        params, state, loss = step_fn(params, state, x, y)

    torch: ``loss = optimizer.step(closure)`` with ``closure`` doing ``zero_grad``,
    forward, ``backward`` and returning the loss. ``loss_fn`` must return a scalar.
    """
    _check.callable_("optim.step", "loss_fn", loss_fn)
    _check.transformation("optim.step", opt)

    def split(out: Any) -> tuple[Any, Any]:
        if not has_aux:
            return scalar_loss(out, "optim.step"), None
        if not (isinstance(out, (tuple, list)) and len(out) == 2):
            raise ValueError("optim.step: with has_aux=True, loss_fn must return a pair "
                             f"(loss, aux), got {type(out).__name__}")
        return scalar_loss(out[0], "optim.step"), out[1]

    def value_fn(p: PyTree) -> jax.Array:
        return split(loss_fn(p, *args, **kwargs))[0]

    (loss, aux), grads = jax.value_and_grad(
        lambda p: split(loss_fn(p, *args, **kwargs)), has_aux=True)(params)
    if isinstance(opt, optax.GradientTransformationExtraArgs):
        updates, state = opt.update(grads, state, params, value=loss, grad=grads,
                                    value_fn=value_fn, key=key)
    else:
        updates, state = opt.update(grads, state, params)
    params = optax.apply_updates(params, updates)
    return params, state, ((loss, aux) if has_aux else loss)
