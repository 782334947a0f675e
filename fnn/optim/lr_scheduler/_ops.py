"""The few numeric operations the schedulers use, on Python numbers *or* jax arrays.

A scheduler's math is written once with these. Outside jit the step runs on Python
floats and ints (exactly torch's Python-double arithmetic: XLA would rewrite ``x / 120`` as
``x * (1/120)`` and reassociate constant products, which changes the last bits); on
traced values (inside ``jax.jit``/``vmap``) the same code builds ``jax.numpy`` ops.
"""

from __future__ import annotations

import math
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from ..._check import is_concrete
from .._engine import hyper_dtype

INT = jnp.int32


def is_py(x: Any) -> bool:
    return isinstance(x, (bool, int, float))


def where(c: Any, a: Any, b: Any) -> Any:
    """``a if c else b``, elementwise when ``c`` is an array."""
    if isinstance(c, (bool, np.bool_)):
        return a if c else b
    return jnp.where(c, a, b)


def cos(x: Any) -> Any:
    return math.cos(x) if is_py(x) else jnp.cos(x)


def log(x: Any) -> Any:
    return math.log(x) if is_py(x) else jnp.log(x)


def floor(x: Any) -> Any:
    """``math.floor`` (an int, as in torch) or ``jnp.floor``."""
    return math.floor(x) if is_py(x) else jnp.floor(x)


def minimum(a: Any, b: Any) -> Any:
    return min(a, b) if is_py(a) and is_py(b) else jnp.minimum(a, b)


def maximum(a: Any, b: Any) -> Any:
    return max(a, b) if is_py(a) and is_py(b) else jnp.maximum(a, b)


def fl(x: Any) -> Any:
    """An epoch or metric as a float: a Python float, or the hyperparameter dtype."""
    return float(x) if is_py(x) else jnp.asarray(x).astype(hyper_dtype())


def safe(den: Any, bad: Any) -> Any:
    """``den``, replaced by 1 where ``bad`` (a branch that ``where`` discards divides by it)."""
    return where(bad, 1.0, den)


def all_concrete(tree: Any) -> bool:
    return all(is_concrete(leaf) for leaf in jax.tree.leaves(tree))


def to_host(tree: Any) -> Any:
    """Every 0-d array leaf as a Python number (one device transfer)."""
    return jax.tree.map(lambda a: np.asarray(a).item(), jax.device_get(tree))


def _default_dtype(x: Any) -> Any:
    if isinstance(x, int) or (not is_py(x) and jnp.issubdtype(jnp.result_type(x), jnp.integer)):
        return INT
    return hyper_dtype()


def _rebuild(new: Any, old: Any, old_host: Any, leaf: Any) -> Any:
    if isinstance(new, dict):
        pick = lambda t, k: t.get(k) if isinstance(t, dict) else None
        return {k: _rebuild(v, pick(old, k), pick(old_host, k), leaf) for k, v in new.items()}
    if isinstance(new, (tuple, list)):
        n = len(new)
        pick = lambda t: t if isinstance(t, (tuple, list)) and len(t) == n else [None] * n
        vals = [_rebuild(a, b, c, leaf) for a, b, c in zip(new, pick(old), pick(old_host))]
        return type(new)(*vals) if hasattr(new, "_fields") else type(new)(vals)
    if new is None:
        return None
    return leaf(new, old, old_host)


def restore(new: Any, old: Any = None, old_host: Any = None) -> Any:
    """``new`` with every number as a 0-d array of ``old``'s dtype at the same place
    (new entries: the hyperparameter dtype for floats, int32 for ints).

    Host values equal to ``old_host`` keep their ``old`` array; the others are sent to the
    device in one batched transfer.
    """
    def leaf(x, o, oh):
        dtype = (o.dtype if hasattr(o, "dtype") else _default_dtype(o)) if o is not None \
            else _default_dtype(x)
        if not is_py(x):
            return jnp.asarray(x, dtype=dtype)
        if o is not None and oh is not None and type(x) is type(oh) and x == oh:
            return o
        return np.asarray(x, dtype=dtype)

    return _put(_rebuild(new, old, old_host, leaf))


def _put(tree: Any) -> Any:
    leaves, treedef = jax.tree.flatten(tree)
    idx = [i for i, a in enumerate(leaves) if isinstance(a, np.ndarray)]
    if idx:
        for i, a in zip(idx, jax.device_put([leaves[i] for i in idx])):
            leaves[i] = a
    return jax.tree.unflatten(treedef, leaves)
