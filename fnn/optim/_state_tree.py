"""Find and replace sub-states inside a composite optimizer state (optax's ``tree_get``/``tree_set``).

An fnn optimizer state may sit inside ``optax.chain`` tuples, ``optax.apply_if_finite``
or ``nonfinite_guard`` states, a ``TrainState``...; these two walks reach it. They descend
into NamedTuples, tuples, lists and dicts (the containers optax states are made of).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["tree_find", "tree_replace", "has_param_groups"]


def has_param_groups(s: Any) -> bool:
    """An fnn optimizer state: a NamedTuple with a ``param_groups`` field."""
    return hasattr(s, "_fields") and "param_groups" in s._fields


def _children(s: Any) -> list[Any] | None:
    if isinstance(s, dict):
        return list(s.values())
    if isinstance(s, (tuple, list)):
        return list(s)
    return None


def _rebuild(s: Any, values: list[Any]) -> Any:
    if isinstance(s, dict):
        return dict(zip(s, values))
    if hasattr(s, "_fields"):
        return type(s)(*values)
    return type(s)(values)


def tree_find(state: Any, is_target: Callable[[Any], bool]) -> list[Any]:
    """Every sub-state of ``state`` for which ``is_target`` holds, outermost first (in tree
    order); the walk also looks inside the targets (a guard wrapping a guard)."""
    found: list[Any] = []

    def walk(s: Any) -> None:
        if is_target(s):
            found.append(s)
        for v in _children(s) or ():
            walk(v)

    walk(state)
    return found


def tree_replace(state: Any, is_target: Callable[[Any], bool], fn: Callable[[Any], Any],
                 *, first_only: bool = False) -> tuple[Any, int]:
    """``(new_state, n)``: ``state`` with ``fn(s)`` in place of each target ``s`` (not looked
    inside), ``n`` targets replaced; ``first_only`` stops after the first. Containers without
    a target are returned as they are."""
    count = 0

    def walk(s: Any) -> Any:
        nonlocal count
        if first_only and count:
            return s
        if is_target(s):
            count += 1
            return fn(s)
        children = _children(s)
        if children is None:
            return s
        before = count
        values = [walk(v) for v in children]
        return _rebuild(s, values) if count > before else s

    return walk(state), count
