"""Small argument checks shared across fnn (type and range checks with clear messages).

``who`` names the caller in messages (``"LeakyReLU"``, ``"fnn.train.fit"``). Arrays,
NumPy scalars and tracers count as numbers (a hyperparameter may be batched with
``jax.vmap``); range checks only look at concrete values.
"""

from __future__ import annotations

import numbers
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import jax
import numpy as np

__all__ = ["REDUCTIONS", "get_reduction", "legacy_get_string", "is_number", "is_concrete", "number", "integer", "probability", "mapping", "callable_",
           "transformation", "prng_key", "shape"]


def is_number(x: Any) -> bool:
    """A Python/NumPy number or a (possibly traced) array; not a bool-free check: torch
    accepts ``True`` where it takes a number, and so does fnn."""
    return isinstance(x, (numbers.Number, np.ndarray, np.generic, jax.Array))


def is_concrete(*xs: Any) -> bool:
    """True when every argument is a value known now: a Python/NumPy number, an array, or a
    (nested) tuple/list of them, and not a tracer (under ``jit``/``vmap``/``grad``).
    Schedules (callables), ``None`` and other objects are not concrete. Checks that look
    at values run only on concrete ones (a traced value cannot be tested in Python)."""
    def one(x: Any) -> bool:
        if isinstance(x, jax.core.Tracer):  # (a tracer is also a jax.Array)
            return False
        if isinstance(x, (tuple, list)):
            return all(one(v) for v in x)
        return isinstance(x, (numbers.Number, np.ndarray, np.generic, jax.Array))

    return all(one(x) for x in xs)


def _concrete(x: Any) -> float | None:
    if isinstance(x, jax.core.Tracer):
        return None
    a = np.asarray(x)
    return a.item() if a.size == 1 else None


def number(who: str, name: str, value: Any, *, low: float | None = None,
           strict: bool = False, allow_none: bool = False) -> None:
    """Raise ``TypeError`` unless ``value`` is a number (or ``None`` if allowed), and
    ``ValueError`` if it is below ``low`` (``<= low`` with ``strict``)."""
    if value is None and allow_none:
        return
    if not is_number(value):
        raise TypeError(f"{who}: {name} must be a number, got {type(value).__name__} {value!r}")
    if low is not None:
        v = _concrete(value)
        if v is not None and (v <= low if strict else v < low):
            bound = f"> {low}" if strict else f">= {low}"
            raise ValueError(f"{who}: {name} must be {bound}, got {value!r}")


def integer(who: str, name: str, value: Any, *, low: int | None = None,
            allow_none: bool = False) -> None:
    """Raise ``TypeError`` unless ``value`` is a Python (or NumPy) int (not a bool), and
    ``ValueError`` if it is below ``low``."""
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{who}: {name} must be an int, got {type(value).__name__} {value!r}")
    if low is not None and value < low:
        raise ValueError(f"{who}: {name} must be >= {low}, got {value}")


def probability(who: str, name: str, value: Any) -> None:
    """A number in ``[0, 1]``."""
    number(who, name, value)
    v = _concrete(value)
    if v is not None and not 0.0 <= v <= 1.0:
        raise ValueError(f"{who}: {name} must be between 0 and 1, got {value!r}")


def mapping(who: str, name: str, value: Any) -> None:
    """A nested-dict pytree of arrays (parameters, buffers)."""
    if not isinstance(value, Mapping):
        raise TypeError(f"{who}: {name} must be a dict of arrays (such as model.init(key)), "
                        f"got {type(value).__name__}")


def callable_(who: str, name: str, value: Any) -> None:
    if not callable(value):
        raise TypeError(f"{who}: {name} must be callable, got {type(value).__name__} {value!r}")


def transformation(who: str, value: Any, name: str = "opt") -> None:
    """An optax ``GradientTransformation`` (anything with ``init`` and ``update``)."""
    if not (callable(getattr(value, "init", None)) and callable(getattr(value, "update", None))):
        raise TypeError(f"{who}: {name} must be an optax GradientTransformation (such as "
                        f"fnn.optim.adam(...)), got {type(value).__name__}")


def prng_key(who: str, value: Any, name: str = "key", allow_none: bool = False) -> None:
    """A ``jax.random.key(...)`` (or a legacy ``uint32[2]`` ``PRNGKey``)."""
    if value is None and allow_none:
        return
    if isinstance(value, jax.Array):
        if jax.dtypes.issubdtype(value.dtype, jax.dtypes.prng_key):
            return
        if value.dtype == np.uint32 and value.shape[-1:] == (2,):
            return
    raise TypeError(f"{who}: {name} must be a jax.random.key(...), got {type(value).__name__} "
                    f"{value!r}"[:300])


def shape(who: str, value: Any, name: str = "shape") -> tuple[int, ...]:
    """A tuple of non-negative ints (an int is a 1-d shape)."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        value = (value,)
    if not isinstance(value, (tuple, list)) or not all(
            isinstance(s, (int, np.integer)) and not isinstance(s, bool) for s in value):
        raise TypeError(f"{who}: {name} must be a tuple of ints, got {value!r}")
    if any(s < 0 for s in value):
        raise ValueError(f"{who}: {name} must not have negative sizes, got {tuple(value)}")
    return tuple(int(s) for s in value)


# ---------------------------------------------------------------------- loss reductions
REDUCTIONS = ("none", "mean", "sum")


def legacy_get_string(size_average: bool | None, reduce: bool | None, emit_warning: bool = True) -> str:
    """torch's ``_Reduction.legacy_get_string``: map ``size_average``/``reduce`` to a reduction."""
    size_average = True if size_average is None else size_average
    reduce = True if reduce is None else reduce
    ret = "none" if not reduce else ("mean" if size_average else "sum")
    if emit_warning:
        warnings.warn(f"size_average and reduce args will be deprecated, please use reduction='{ret}' "
                      "instead.", UserWarning, stacklevel=3)
    return ret


def get_reduction(fn: str, reduction: str, size_average: bool | None = None,
                  reduce: bool | None = None, valid: Sequence[str] = REDUCTIONS) -> str:
    """Validate ``reduction`` (after the legacy override) and return it.

    An unknown value raises torch's ``ValueError("{r} is not a valid value for reduction")``,
    extended with the function name and the valid values.
    """
    if size_average is not None or reduce is not None:
        return legacy_get_string(size_average, reduce)
    if reduction == "elementwise_mean":
        warnings.warn("reduction='elementwise_mean' is deprecated. Please use reduction='mean' "
                      "instead.", UserWarning, stacklevel=3)
        return "mean"
    if not isinstance(reduction, str) or reduction not in valid:
        raise ValueError(f"{reduction} is not a valid value for reduction ({fn} expects one of "
                         + ", ".join(repr(v) for v in valid) + ")")
    return reduction
