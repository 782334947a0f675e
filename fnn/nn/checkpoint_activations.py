r"""Activation checkpointing, ``torch.utils.checkpoint.checkpoint`` on ``jax.checkpoint``.

A checkpointed function keeps only its inputs for the backward pass and recomputes its
intermediate activations there: memory ``O(inputs)`` instead of ``O(activations)`` for
one extra forward pass (Chen et al. 2016, *Training Deep Nets with Sublinear Memory
Cost*). Forms:

- ``checkpoint(fn, *args, **kwargs)``: call ``fn`` checkpointed (torch's functional form;
  ``fn`` may be a submodule called with its parameters inside a ``forward``:
  ``checkpoint(self.block, params["block"], x)``).
- ``checkpoint(module)`` / ``Checkpoint(module)``: the module, checkpointed wherever it is
  called; parameter and buffer names are the module's own (as torch, where
  checkpointing changes no ``state_dict`` key).

``policy``: which intermediates may be saved rather than recomputed, one of
``jax.checkpoint_policies`` or its name (``"dots_saveable"``: keep matrix-product
outputs, recompute the cheap elementwise ops; default ``None``: save nothing). Random
keys are explicit in fnn, so the recomputed forward draws the same dropout masks (torch's
``preserve_rng_state=True``); ``use_reentrant`` and ``preserve_rng_state`` are accepted for
source compatibility and have no effect. BatchNorm statistics updated inside a
checkpointed call are returned by ``apply`` as usual.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

import jax
import jax.numpy as jnp

from .module import _CONTEXT, Module, Params

__all__ = ["checkpoint", "Checkpoint"]


def _policy(policy: Callable | str | None) -> Callable | None:
    if policy is None or callable(policy):
        return policy
    found = getattr(jax.checkpoint_policies, policy, None)
    if found is None or not isinstance(policy, str):
        raise ValueError(f"checkpoint: unknown policy {policy!r}; pass one of "
                         "jax.checkpoint_policies (e.g. 'dots_saveable') or None")
    return found


def _remat_call(fn: Callable, policy: Callable | str | None, args: tuple, kwargs: dict) -> Any:
    """``fn(*args, **kwargs)`` under ``jax.checkpoint``: array leaves are its inputs,
    other leaves (Python numbers, strings...) are closed over; buffers a module records
    inside come out as outputs (no tracer leaks into the ``apply`` context)."""
    leaves, treedef = jax.tree.flatten((args, kwargs))
    is_array = [isinstance(x, jax.Array) for x in leaves]
    ctx = _CONTEXT.get()

    def run(arrays: list) -> tuple[Any, dict]:
        it = iter(arrays)
        full = [next(it) if a else x for x, a in zip(leaves, is_array)]
        a, kw = jax.tree.unflatten(treedef, full)
        if ctx is None:
            return fn(*a, **kw), {}
        before = dict(ctx.new_buffers)
        out = fn(*a, **kw)
        new = {k: v for k, v in ctx.new_buffers.items() if before.get(k) is not v}
        ctx.new_buffers.clear()
        ctx.new_buffers.update(before)
        return out, new

    out, new = jax.checkpoint(run, policy=_policy(policy))(
        [x for x, a in zip(leaves, is_array) if a])
    if ctx is not None:
        ctx.new_buffers.update(new)
    return out


def checkpoint(function: Callable, *args: Any, policy: Callable | str | None = None,
               use_reentrant: bool | None = None, preserve_rng_state: bool = True,
               **kwargs: Any) -> Any:
    """``function(*args, **kwargs)`` with its activations recomputed in the backward pass
    (``torch.utils.checkpoint.checkpoint``); ``checkpoint(module)`` with nothing else
    returns the checkpointed :class:`Checkpoint` module. See the module docstring."""
    if not args and not kwargs and isinstance(function, Module):
        return Checkpoint(function, policy=policy)
    if not callable(function):
        raise TypeError(f"checkpoint: expected a callable, got {type(function).__name__}")
    return _remat_call(function, policy, args, kwargs)


class Checkpoint(Module):
    """``module`` with activation checkpointing: same parameters, buffers and names, its
    forward run under ``jax.checkpoint`` (``policy`` as in :func:`checkpoint`)."""

    def __init__(self, module: Module, policy: Callable | str | None = None) -> None:
        super().__init__()
        if not isinstance(module, Module):
            raise TypeError(f"Checkpoint: expected an fnn.nn.Module, got {type(module).__name__}")
        _policy(policy)
        self._fnn_module = module
        self.policy = policy

    @property
    def module(self) -> Module:
        return self._fnn_module

    def named_children(self) -> Iterator[tuple[str, Module]]:
        return self.module.named_children()

    def named_modules(self, prefix: str = "") -> Iterator[tuple[str, Module]]:
        yield prefix, self
        yield from self.module.named_modules(prefix)

    def init(self, key: jax.Array, *example: Any, dtype: Any = None) -> Params:
        return self.module.init(key, *example, dtype=dtype)

    def init_buffers(self, dtype: Any = jnp.float32, params: Mapping | None = None) -> Params:
        return self.module.init_buffers(dtype, params)

    def forward(self, params: Params, *args: Any, **kwargs: Any) -> Any:
        return _remat_call(self.module, self.policy, (params,) + args, kwargs)

    def __repr__(self) -> str:
        return f"Checkpoint({self.module!r})"
