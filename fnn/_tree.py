"""Dotted-name views of nested parameter dicts (torch ``state_dict`` keys).

fnn keeps parameters as plain nested ``dict``s of arrays. Python dicts keep their
insertion order, which fnn sets to torch's registration order, so
``flatten(params)`` lists parameters in the order of ``torch_module.state_dict()``.
(``jax.tree.leaves`` sorts dict keys instead; use these helpers for names.)
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import jax

__all__ = ["flatten", "unflatten", "named_leaves", "path_name", "leaf_names", "state_dict_items"]


def _walk(tree: Any, prefix: str) -> Iterator[tuple[str, Any]]:
    if isinstance(tree, Mapping):
        for k, v in tree.items():
            yield from _walk(v, f"{prefix}.{k}" if prefix else str(k))
    elif isinstance(tree, (list, tuple)) and not hasattr(tree, "_fields"):
        for i, v in enumerate(tree):
            yield from _walk(v, f"{prefix}.{i}" if prefix else str(i))
    elif tree is not None:
        yield prefix, tree


def named_leaves(tree: Any) -> list[tuple[str, Any]]:
    """``[(dotted_name, leaf), ...]`` in insertion (torch registration) order."""
    return list(_walk(tree, ""))


def flatten(tree: Any) -> dict[str, Any]:
    """Nested dict -> ``{"fc1.weight": array, ...}`` (a torch ``state_dict``-shaped view)."""
    out: dict[str, Any] = {}
    for name, leaf in _walk(tree, ""):
        if name in out:
            raise ValueError(f"duplicate parameter name {name!r}")
        out[name] = leaf
    return out


def unflatten(flat: Mapping[str, Any]) -> dict[str, Any]:
    """``{"fc1.weight": a}`` -> ``{"fc1": {"weight": a}}`` (inverse of :func:`flatten`)."""
    root: dict[str, Any] = {}
    for name, value in flat.items():
        node = root
        *parents, last = name.split(".")
        for p in parents:
            child = node.setdefault(p, {})
            if not isinstance(child, dict):
                raise ValueError(f"key {name!r} clashes with the leaf {p!r}")
            node = child
        if last in node:
            raise ValueError(f"duplicate key {name!r}")
        node[last] = value
    return root


def path_name(path: tuple) -> str:
    """Dotted name of a ``jax.tree_util`` key path (``(DictKey('fc1'), DictKey('weight'))``)."""
    parts = []
    for k in path:
        if isinstance(k, jax.tree_util.DictKey):
            parts.append(str(k.key))
        elif isinstance(k, jax.tree_util.SequenceKey):
            parts.append(str(k.idx))
        elif isinstance(k, jax.tree_util.GetAttrKey):
            parts.append(str(k.name))
        else:  # FlattenedIndexKey and friends
            parts.append(str(getattr(k, "key", k)))
    return ".".join(parts)


def leaf_names(tree: Any) -> list[str]:
    """Dotted names of the leaves of ``tree`` in ``jax.tree.leaves`` order."""
    paths, _ = jax.tree_util.tree_flatten_with_path(tree)
    return [path_name(p) for p, _ in paths]


def state_dict_items(params: Mapping, buffers: Mapping | None = None) -> dict[str, Any]:
    """``{"fc1.weight": leaf, ...}`` of params and buffers in torch's ``state_dict`` order:
    each module's parameters, then its buffers, then its children (in insertion order).
    A name that is both a parameter and a buffer is a ``ValueError``."""
    out: dict[str, Any] = {}

    def merge(p: Any, b: Any, prefix: str) -> None:
        p = p if isinstance(p, Mapping) else {}
        b = b if isinstance(b, Mapping) else {}
        for tree in (p, b):
            for k, v in tree.items():
                if not isinstance(v, Mapping):
                    if prefix + k in out:
                        raise ValueError(f"state_dict: {prefix + k!r} is both a parameter and a buffer")
                    out[prefix + k] = v
        children = [k for k, v in p.items() if isinstance(v, Mapping)]
        children += [k for k, v in b.items() if isinstance(v, Mapping) and k not in children]
        for k in children:
            merge(p.get(k, {}), b.get(k, {}), f"{prefix}{k}.")

    merge(params, buffers or {}, "")
    return out
