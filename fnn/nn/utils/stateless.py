"""``torch.nn.utils.stateless.functional_call``: call a module with given parameters and buffers.

An fnn module is already a pure function of its parameters (``model(params, x)``), so this is
a convenience for code written against torch's ``functional_call``: it accepts torch's flat
``{"fc1.weight": array, ...}`` dicts (or nested fnn dicts, or a tuple of dicts that are
merged) holding parameters and buffers together, and splits them by the model's buffer names.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import jax

from ... import _tree
from ..module import Module

__all__ = ["functional_call"]


def functional_call(module: Module, parameter_and_buffer_dicts: Mapping | Sequence[Mapping],
                    args: Any = None, kwargs: dict | None = None, *, tie_weights: bool = True,
                    strict: bool = False, train: bool = False,
                    key: jax.Array | None = None) -> Any:
    """``module(params, *args, buffers=buffers, **kwargs)`` with ``params`` and ``buffers``
    taken from ``parameter_and_buffer_dicts`` (torch's ``functional_call``).

    ``args``: one input or a tuple of inputs. ``strict=True`` requires every parameter and
    buffer of the module, and nothing else, as torch does. ``train``/``key`` are fnn's
    train mode and randomness (torch reads ``module.training`` and its global generator);
    with buffers in train mode the updated buffers are discarded, as torch's
    ``functional_call`` updates the dict's tensors in place (use :meth:`Module.apply` to get
    them). ``tie_weights`` is accepted (fnn has no tied parameters to untie).
    """
    dicts = [parameter_and_buffer_dicts] if isinstance(parameter_and_buffer_dicts, Mapping) \
        else list(parameter_and_buffer_dicts)
    flat: dict[str, Any] = {}
    for d in dicts:
        for name, value in _tree.flatten(d).items():
            if name in flat:
                raise ValueError(f"{name} appeared in multiple dictionaries; behavior of "
                                 "functional call is ambiguous")
            flat[name] = value
    buffer_names = set(_tree.flatten(module.init_buffers()))
    if strict:
        param_names = set(_tree.flatten(jax.eval_shape(module.init, jax.random.key(0))))
        missing = sorted((param_names | buffer_names) - set(flat))
        unexpected = sorted(set(flat) - param_names - buffer_names)
        if missing or unexpected:
            raise ValueError(f"Error(s) in reparametrizing for {type(module).__name__}:\n"
                             f"\tUnexpected key(s): {unexpected}.\n\tMissing key(s): {missing}.")
    params = _tree.unflatten({k: v for k, v in flat.items() if k not in buffer_names})
    buffers = _tree.unflatten({k: v for k, v in flat.items() if k in buffer_names})
    args = args if isinstance(args, tuple) else (() if args is None else (args,))
    return module(params, *args, buffers=buffers if buffer_names else None, train=train,
                  key=key, **(kwargs or {}))
