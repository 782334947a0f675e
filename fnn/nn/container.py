"""Parameter containers: ``torch.nn.ParameterList`` and ``ParameterDict``.

A torch ``ParameterList`` holds tensors; an fnn module holds no arrays, so these hold how to
make each parameter: an initial array (copied, floating arrays cast to ``init``'s dtype) or
a function ``f(key, dtype) -> array`` (e.g. ``lambda k, d: jax.random.normal(k, (3,), d)``).
``init`` returns them under torch's names (``"0"``, ``"1"``, ... or the dict keys), and a
parent module's ``forward`` reads them from its ``params``::

    class Net(nn.Module):
        def __init__(self):
            self.scales = nn.ParameterList([jnp.ones(3), jnp.ones(3)])

        def forward(self, params, x):
            for name in params["scales"]:
                x = x * params["scales"][name]
            return x
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from .module import Module

__all__ = ["ParameterList", "ParameterDict"]

Initial = Any  # an array, or a callable (key, dtype) -> array


def _make(value: Initial, key: jax.Array, dtype: Any) -> jax.Array:
    if callable(value):
        return jnp.asarray(value(key, dtype))
    a = jnp.asarray(value)
    return a.astype(dtype) if jnp.issubdtype(a.dtype, jnp.floating) else a


def _describe(value: Initial) -> str:
    if callable(value):
        return f"Parameter made by {getattr(value, '__name__', type(value).__name__)}"
    a = np.asarray(value)
    size = "x".join(map(str, a.shape))
    return f"Parameter containing: [{a.dtype} of size {size}]"


def _check(who: str, value: Initial) -> Initial:
    if isinstance(value, Module):
        raise TypeError(f"{who}: holds parameters, not modules (use ModuleList/ModuleDict)")
    if not callable(value) and not hasattr(value, "shape") and not isinstance(
            value, (list, tuple, int, float)):
        raise TypeError(f"{who}: expected an array or a function (key, dtype) -> array, got "
                        f"{type(value).__name__}")
    return value


class ParameterDict(Module):
    """``torch.nn.ParameterDict(parameters=None)``: named parameters (``init`` gives
    ``{name: array}``); ``[]``, ``keys``, ``items``, ``update`` as torch. As in torch, the
    order is insertion order, except that a plain ``dict`` given to the constructor or
    ``update`` is added in sorted key order (an ``OrderedDict`` keeps its order)."""

    def __init__(self, parameters: Mapping[str, Initial] | None = None) -> None:
        self._fnn_values: dict[str, Initial] = {}
        if parameters is not None:
            self.update(parameters)

    def __setitem__(self, key: str, value: Initial) -> None:
        if not isinstance(key, str):
            raise TypeError(f"ParameterDict: keys must be strings, got {type(key).__name__}")
        self._fnn_values[key] = _check("ParameterDict", value)

    def __getitem__(self, key: str) -> Initial:
        return self._fnn_values[key]

    def __delitem__(self, key: str) -> None:
        del self._fnn_values[key]

    def __contains__(self, key: object) -> bool:
        return key in self._fnn_values

    def __len__(self) -> int:
        return len(self._fnn_values)

    def __iter__(self) -> Iterator[str]:
        return iter(self._fnn_values)

    def keys(self):
        return self._fnn_values.keys()

    def values(self):
        return self._fnn_values.values()

    def items(self):
        return self._fnn_values.items()

    def update(self, parameters: Mapping[str, Initial] | Iterable[tuple[str, Initial]]) -> None:
        # torch: an OrderedDict or ParameterDict keeps its order, another mapping is sorted
        if isinstance(parameters, (OrderedDict, ParameterDict)):
            items = list(parameters.items())
        elif isinstance(parameters, Mapping):
            items = sorted(parameters.items())
        else:
            items = list(parameters)
        for k, v in items:
            self[k] = v

    def init_params(self, key, dtype):
        keys = jax.random.split(key, max(len(self), 1))
        return {k: _make(v, kk, dtype) for (k, v), kk in zip(self._fnn_values.items(), keys)}

    def extra_repr(self) -> str:
        return "\n".join(f"({k}): {_describe(v)}" for k, v in self._fnn_values.items())

    def __repr__(self) -> str:
        body = self.extra_repr()
        return f"{type(self).__name__}(\n    " + body.replace("\n", "\n    ") + "\n)" if body \
            else f"{type(self).__name__}()"


class ParameterList(ParameterDict):
    """``torch.nn.ParameterList(values=None)``: parameters named ``"0"``, ``"1"``, ...;
    ``append``, ``extend``, indexing and ``len`` as torch."""

    def __init__(self, values: Iterable[Initial] | None = None) -> None:
        super().__init__()
        if values is not None:
            self.extend(values)

    def append(self, value: Initial) -> ParameterList:
        self._fnn_values[str(len(self))] = _check("ParameterList", value)
        return self

    def extend(self, values: Iterable[Initial]) -> ParameterList:
        for v in values:
            self.append(v)
        return self

    def __getitem__(self, idx: int) -> Initial:  # type: ignore[override]
        return list(self._fnn_values.values())[idx]

    def __setitem__(self, idx: int, value: Initial) -> None:  # type: ignore[override]
        n = len(self)
        if isinstance(idx, str) or not -n <= idx < n:
            raise IndexError(f"index {idx} is out of range")
        self._fnn_values[str(idx % n)] = _check("ParameterList", value)

    def __iter__(self) -> Iterator[Initial]:  # type: ignore[override]
        return iter(list(self._fnn_values.values()))


