"""Read and change hyperparameters between steps, per param group.

A torch user writes ``optimizer.param_groups[0]["lr"] = 1e-3``. In fnn the
hyperparameters live in the optimizer state (``state.param_groups``), so changing them
returns a new state::

    state = optim.set_lr(state, 1e-3)               # every group
    state = optim.set_lr(state, 1e-3, group=0)      # one group
    optim.get_lr(state)                             # [lr of group 0, group 1, ...]
    state = optim.set_hyperparam(state, "momentum", 0.8, group=1)

These functions find the fnn optimizer state anywhere inside a composite optax state
(``optax.chain``, ``optax.apply_if_finite``, ...). Groups are numbered as given to the
factory's ``param_groups``; the default group (the parameters that matched no glob), when
there is one, is last. A hyperparameter given to the factory
as a schedule is recomputed from the step count at every update, before it is used: setting
it has no effect on the updates (the state then holds the value the last update used).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from ._state_tree import has_param_groups, tree_find, tree_replace
from .spec import switched_slots

__all__ = ["get_hyperparams", "get_hyperparam", "set_hyperparam", "get_lr", "set_lr", "find_state"]

_NOT_FOUND = "no fnn optimizer state (with param_groups) found in this state"


def find_state(state: Any) -> Any:
    """The first fnn optimizer state (a NamedTuple with ``param_groups``) inside ``state``."""
    found = tree_find(state, has_param_groups)
    if not found:
        raise ValueError(_NOT_FOUND)
    return found[0]


def get_hyperparams(state: Any) -> list[dict[str, Any]]:
    """The hyperparameters of every group: ``[{"lr": ..., "betas": (...), ...}, ...]``."""
    return [dict(g) for g in find_state(state).param_groups]


def get_hyperparam(state: Any, name: str, group: int | None = None) -> Any:
    """Hyperparameter ``name`` of one group (``group=i``), or a list with every group's.

    torch: ``optimizer.param_groups[i][name]`` / ``[g[name] for g in
    optimizer.param_groups]``. Raises ``KeyError`` naming the valid hyperparameters.
    """
    groups = find_state(state).param_groups
    _check_name(groups, name)
    if group is not None:
        return groups[group][name]
    return [g[name] for g in groups]


def get_lr(state: Any) -> list[Any]:
    """The learning rate of every group, as torch's ``[g["lr"] for g in opt.param_groups]``."""
    return get_hyperparam(state, "lr")


def _check_name(groups: Sequence[dict], name: str) -> None:
    if not any(name in g for g in groups):
        valid = sorted({k for g in groups for k in g})
        hint = (" (weight_decay=0, the default, is compiled out of the update: build the "
                "optimizer with weight_decay > 0 or weight_decay=jnp.asarray(0.0) to change it "
                "between steps)" if name == "weight_decay" else "")
        raise KeyError(f"unknown hyperparameter {name!r}; this optimizer's state holds "
                       f"{valid}{hint}")


def _convert(old: Any, value: Any) -> Any:
    if isinstance(old, tuple):
        if not isinstance(value, (tuple, list)) or len(value) != len(old):
            raise ValueError(f"expected a tuple of {len(old)} values, got {value!r}")
        return tuple(_convert(o, v) for o, v in zip(old, value))
    return jnp.asarray(value, dtype=jnp.asarray(old).dtype)


def set_hyperparam(state: Any, name: str, value: Any, group: int | None = None) -> Any:
    """A new state with hyperparameter ``name`` set to ``value``.

    ``group=None`` sets every group; ``value`` may then also be a list with one value per
    group (as a scheduler writes them).
    """

    def fn(s):
        groups = list(s.param_groups)
        _check_name(groups, name)
        if group is not None:
            if not -len(groups) <= group < len(groups):
                raise IndexError(f"group {group} out of range: this optimizer has {len(groups)} groups")
            targets = {group % len(groups): value}
        elif isinstance(value, list):
            if len(value) != len(groups):
                raise ValueError(f"expected {len(groups)} values (one per group), got {len(value)}")
            targets = dict(enumerate(value))
        else:
            targets = {i: value for i in range(len(groups))}
        for i, v in targets.items():
            g = dict(groups[i])
            if name not in g:
                raise KeyError(f"group {i} has no hyperparameter {name!r}")
            _check_switch(s, name, g[name], v, i)
            g[name] = _convert(g[name], v)
            groups[i] = g
        return s._replace(param_groups=tuple(groups))

    new, n = tree_replace(state, has_param_groups, fn)
    if n == 0:
        raise ValueError(_NOT_FOUND)
    return new


def _check_switch(s: Any, name: str, old: Any, new: Any, group: int) -> None:
    """A hyperparameter that was 0 at construction may have left its slot out (SGD's and
    RMSprop's ``momentum_buffer``: :attr:`fnn.optim.StateSpec.switches`); torch creates
    the slot lazily when it is switched on later, fnn cannot add state between steps, so
    switching it on raises instead of being silently ignored."""
    def concrete(x):
        return not isinstance(x, jax.core.Tracer) and np.ndim(x) == 0
    slots = switched_slots(name)
    if not (slots and concrete(old) and concrete(new) and float(old) == 0 and float(new) != 0):
        return
    held = jax.tree_util.tree_leaves(
        getattr(s, "state", None), is_leaf=lambda x: isinstance(x, dict) and (
            not x or all(not isinstance(v, dict) for v in x.values())))
    if held and not any(isinstance(x, dict) and any(k in x for k in slots) for x in held):
        raise ValueError(
            f"cannot switch {name} on (group {group}: 0 -> {float(new)}): this optimizer was "
            f"built with {name}=0 and keeps no {' or '.join(slots)} (torch would create one "
            f"lazily); build it with the {name} you will use, or with {name}=1e-12 -- the "
            "slot then exists -- and set it between steps")


def set_lr(state: Any, lr: Any, group: int | None = None) -> Any:
    """A new state with the learning rate set (every group, or one)."""
    return set_hyperparam(state, "lr", lr, group)
