"""``fnn.nn.Module``: torch-style model definitions that are pure functions of their parameters.

A module is a *description* of a computation. It holds hyperparameters (sizes, strides)
and submodules, never arrays. Parameters live in a nested ``dict`` created by
:meth:`Module.init`; the module is applied as ``model(params, x)``::

    class Net(nn.Module):
        def __init__(self):
            self.fc1 = nn.Linear(3, 32)     # submodules are attributes, as in torch
            self.fc2 = nn.Linear(32, 1)

        def forward(self, params, x):
            x = F.relu(self.fc1(params["fc1"], x))
            return self.fc2(params["fc2"], x)

    net = Net()
    params = net.init(jax.random.key(0))    # {"fc1": {"weight", "bias"}, "fc2": {...}}
    y = net(params, x)

The flattened dotted names of ``params`` are exactly the keys of the equivalent torch
module's ``state_dict()`` (``"fc1.weight"``), in the same order.

Buffers, randomness and train/eval mode
---------------------------------------
torch keeps running statistics (BatchNorm) in the module and draws dropout masks from a
global generator; both are hidden state. fnn makes them explicit arguments of
:meth:`Module.apply`::

    buffers = model.init_buffers()                       # running_mean, running_var, ...
    y, buffers = model.apply(params, x, buffers=buffers, train=True, key=key)
    y = model(params, x, buffers=buffers)                # eval mode (train=False)

``train`` replaces ``model.train()`` / ``model.eval()``; ``key`` replaces torch's global RNG
(each module that needs randomness derives its own key from it and its dotted name, so
results do not depend on call order elsewhere). Inside ``forward`` a module reads these
through :meth:`is_training`, :meth:`make_key`, :meth:`get_buffers` and :meth:`set_buffers`.
All of this happens at trace time: ``apply`` is a pure function and works under
``jax.jit``, ``jax.grad`` and ``jax.vmap``.
"""

from __future__ import annotations

import contextvars
import zlib
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from .. import _check, _tree

__all__ = ["Module", "Sequential", "ModuleList", "ModuleDict", "summary", "named_parameters",
           "num_parameters"]

Params = dict[str, Any]


class _Context:
    """What one top-level :meth:`Module.apply` call threads through its submodules."""

    def __init__(self, root: Module, buffers: Mapping | None, key: jax.Array | None, train: bool):
        self.train = bool(train)
        self.key = key
        self.buffers = _tree.flatten(buffers) if buffers is not None else None
        self.new_buffers: dict[str, Any] = {}
        self.paths: dict[int, str] = {}
        for name, mod in root.named_modules():
            self.paths.setdefault(id(mod), name)
        self.key_counts: dict[str, int] = {}


_CONTEXT: contextvars.ContextVar[_Context | None] = contextvars.ContextVar("fnn_ctx", default=None)


def _indent(text: str, n: int) -> str:
    lines = text.split("\n")
    return "\n".join([lines[0]] + [" " * n + line for line in lines[1:]])


class Module:
    """Base class of fnn models, the pure counterpart of ``torch.nn.Module``.

    Subclass it, assign submodules as attributes in ``__init__`` (calling
    ``super().__init__()`` is allowed but not required) and write
    ``forward(self, params, *inputs)``. Leaf layers override :meth:`init_params` (their
    own parameters, torch's default initialisation) and :meth:`init_own_buffers`.
    """

    def __init__(self) -> None:
        pass

    # ------------------------------------------------------------------ structure
    def named_children(self) -> Iterator[tuple[str, Module]]:
        """Direct submodules in declaration order, as ``torch.nn.Module.named_children``."""
        for name, value in vars(self).items():
            if isinstance(value, Module) and not name.startswith("_fnn"):
                yield name, value

    def children(self) -> Iterator[Module]:
        for _, m in self.named_children():
            yield m

    def named_modules(self, prefix: str = "") -> Iterator[tuple[str, Module]]:
        """This module and all submodules with dotted names (the root is ``""``)."""
        yield prefix, self
        for name, child in self.named_children():
            yield from child.named_modules(f"{prefix}.{name}" if prefix else name)

    def modules(self) -> Iterator[Module]:
        for _, m in self.named_modules():
            yield m

    # ------------------------------------------------------------------ parameters
    def init_params(self, key: jax.Array, dtype: Any) -> Params:
        """This module's own parameters (not its children's). Leaf layers override."""
        return {}

    def init_own_buffers(self, dtype: Any) -> Params:
        """This module's own buffers (e.g. BatchNorm's running statistics)."""
        return {}

    def init(self, key: jax.Array, dtype: Any = jnp.float32) -> Params:
        """Create the parameter dict with torch's default initialisation.

        ``key`` is a ``jax.random.key``; it is split between this module's own
        parameters and its children in declaration order. Parameterless children are
        left out, so the dotted names are exactly torch's ``state_dict`` parameter keys.
        """
        if isinstance(key, int):
            raise TypeError("Module.init expects a jax.random.key(...), not an int seed")
        _check.prng_key(f"{type(self).__name__}.init", key)
        children = list(self.named_children())
        keys = jax.random.split(key, len(children) + 1)
        out: Params = dict(self.init_params(keys[0], dtype))
        for (name, child), k in zip(children, keys[1:]):
            p = child.init(k, dtype)
            if p:
                out[name] = p
        return out

    def init_buffers(self, dtype: Any = jnp.float32) -> Params:
        """Create the buffer dict (running statistics, ...); ``{}`` for buffer-free models."""
        out: Params = dict(self.init_own_buffers(dtype))
        for name, child in self.named_children():
            b = child.init_buffers(dtype)
            if b:
                out[name] = b
        return out

    # ------------------------------------------------------------------ applying
    def forward(self, params: Params, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} does not define forward(self, params, ...)")

    def apply(self, params: Params, *args: Any, buffers: Mapping | None = None,
              key: jax.Array | None = None, train: bool = False, **kwargs: Any) -> tuple[Any, Params]:
        """Apply the model and return ``(output, new_buffers)``.

        ``buffers``: the dict from :meth:`init_buffers` (or a trained one); needed by
        BatchNorm with running statistics. ``key``: randomness for Dropout in training
        mode. ``train``: torch's ``model.train()`` (True) or ``model.eval()`` (False).
        ``new_buffers`` has the same structure as ``buffers`` with running statistics
        updated (in training mode) and is ``buffers`` unchanged otherwise.
        """
        ctx = _Context(self, buffers, key, train)
        token = _CONTEXT.set(ctx)
        try:
            out = self.forward(params, *args, **kwargs)
        finally:
            _CONTEXT.reset(token)
        if buffers is None and not ctx.new_buffers:
            return out, {}
        flat = dict(ctx.buffers or {})
        flat.update(ctx.new_buffers)
        return out, _tree.unflatten(flat)

    def __call__(self, params: Params | None, *args: Any, **kwargs: Any) -> Any:
        """``model(params, x)``: apply (eval mode unless ``train=True`` is given).

        Inside another module's ``forward`` this simply runs :meth:`forward` in the
        caller's context. At the top level it is :meth:`apply` without the new buffers.
        """
        if params is None:
            params = {}
        if _CONTEXT.get() is not None:
            return self.forward(params, *args, **kwargs)
        out, _ = self.apply(params, *args, **kwargs)
        return out

    # ------------------------------------------------------------------ context access
    def _ctx(self) -> _Context | None:
        return _CONTEXT.get()

    def _path(self) -> str:
        ctx = _CONTEXT.get()
        if ctx is None:
            return type(self).__name__
        return ctx.paths.get(id(self), type(self).__name__)

    def _label(self) -> str:
        path = self._path()
        return f"{type(self).__name__}" + (f" '{path}'" if path and path != type(self).__name__ else "")

    def is_training(self) -> bool:
        """True inside ``apply(..., train=True)`` (torch's ``self.training``)."""
        ctx = _CONTEXT.get()
        return bool(ctx is not None and ctx.train)

    def make_key(self) -> jax.Array:
        """A fresh key for this module, derived from the ``key`` given to ``apply``.

        Deterministic: it depends only on that key, this module's dotted name and how
        many keys this module already drew in this call.
        """
        ctx = _CONTEXT.get()
        if ctx is None or ctx.key is None:
            raise ValueError(
                f"{self._label()} needs randomness in training mode: pass key=jax.random.key(...) "
                "to model.apply(...) (or model(...)), or use train=False")
        path = self._path()
        n = ctx.key_counts.get(path, 0)
        ctx.key_counts[path] = n + 1
        salt = zlib.crc32(f"{path}#{n}".encode()) & 0x7FFFFFFF
        return jax.random.fold_in(ctx.key, salt)

    def get_buffers(self) -> Params:
        """This module's current buffers (a flat dict such as ``{"running_mean": ...}``)."""
        ctx = _CONTEXT.get()
        path = self._path() if ctx is not None else ""
        if ctx is None or ctx.buffers is None:
            raise ValueError(
                f"{self._label()} needs its buffers ({', '.join(self.init_own_buffers(jnp.float32))}): "
                "pass buffers=model.init_buffers() (or trained buffers) to model.apply(...) or model(...)")
        prefix = f"{path}." if path else ""
        own = self.init_own_buffers(jnp.float32)
        out = {}
        for name in own:
            full = prefix + name
            if full in ctx.new_buffers:
                out[name] = ctx.new_buffers[full]
            elif full in ctx.buffers:
                out[name] = ctx.buffers[full]
            else:
                raise KeyError(f"{self._label()}: buffer {full!r} is missing from the buffers given to apply")
        return out

    def set_buffers(self, new: Mapping[str, Any]) -> None:
        """Record updated buffers; :meth:`apply` returns them."""
        ctx = _CONTEXT.get()
        if ctx is None:
            return
        path = self._path()
        prefix = f"{path}." if path else ""
        for name, value in new.items():
            ctx.new_buffers[prefix + name] = value

    # ------------------------------------------------------------------ printing
    def extra_repr(self) -> str:
        return ""

    def __repr__(self) -> str:
        lines = []
        extra = self.extra_repr()
        if extra:
            lines.extend(extra.split("\n"))
        for name, child in self.named_children():
            lines.append(f"({name}): " + _indent(repr(child), 2))
        main = type(self).__name__ + "("
        if lines:
            if len(lines) == 1 and not list(self.named_children()):
                main += lines[0]
            else:
                main += "\n  " + "\n  ".join(lines) + "\n"
        return main + ")"


class Sequential(Module):
    """``torch.nn.Sequential``: children named ``"0"``, ``"1"``, ... (or by an ``OrderedDict``)
    applied in order. Parameterless children (activations) have no entry in ``params``."""

    def __init__(self, *modules: Module | Mapping[str, Module]):
        if len(modules) == 1 and isinstance(modules[0], Mapping):
            items = list(modules[0].items())
        else:
            items = [(str(i), m) for i, m in enumerate(modules)]
        for name, m in items:
            if not isinstance(m, Module):
                raise TypeError(f"Sequential: {type(m).__name__} at {name!r} is not an fnn.nn.Module")
            setattr(self, name, m)

    def __len__(self) -> int:
        return len(list(self.named_children()))

    def __getitem__(self, idx: int | slice) -> Module:
        children = list(self.named_children())
        if isinstance(idx, slice):
            return Sequential(OrderedDict(children[idx]))
        return children[idx][1]

    def __iter__(self) -> Iterator[Module]:
        return self.children()

    def forward(self, params: Params, x: Any) -> Any:
        for name, m in self.named_children():
            x = m(params.get(name, {}), x)
        return x


class ModuleList(Module):
    """``torch.nn.ModuleList``: an indexable list of submodules named ``"0"``, ``"1"``, ..."""

    def __init__(self, modules: Iterable[Module] = ()):
        self._fnn_n = 0
        for m in modules:
            self.append(m)

    def append(self, m: Module) -> ModuleList:
        if not isinstance(m, Module):
            raise TypeError(f"ModuleList: {type(m).__name__} is not an fnn.nn.Module")
        setattr(self, str(self._fnn_n), m)
        self._fnn_n += 1
        return self

    def __len__(self) -> int:
        return self._fnn_n

    def __getitem__(self, idx: int) -> Module:
        return list(self.children())[idx]

    def __setitem__(self, idx: int, m: Module) -> None:
        """``layers[i] = module`` replaces the ``i``-th submodule (its name stays ``"i"``)."""
        if not isinstance(m, Module):
            raise TypeError(f"ModuleList: {type(m).__name__} is not an fnn.nn.Module")
        setattr(self, str(range(self._fnn_n)[idx]), m)

    def __iter__(self) -> Iterator[Module]:
        return self.children()

    def __repr__(self) -> str:
        """torch's ModuleList repr: runs of identical children print once as ``(0-1): 2 x ...``."""
        reprs = [repr(m) for m in self]
        if not reprs:
            return "ModuleList()"
        runs: list[list] = []  # [start, end, repr]
        for i, r in enumerate(reprs):
            if runs and runs[-1][2] == r:
                runs[-1][1] = i
            else:
                runs.append([i, i, r])
        lines = [_indent(f"({s}): {r}" if s == e else f"({s}-{e}): {e - s + 1} x {r}", 2)
                 for s, e, r in runs]
        return "ModuleList(\n  " + "\n  ".join(lines) + "\n)"


class ModuleDict(Module):
    """``torch.nn.ModuleDict``: submodules by name, in insertion order."""

    def __init__(self, modules: Mapping[str, Module] | None = None):
        for k, m in (modules or {}).items():
            self[k] = m

    def __setitem__(self, key: str, m: Module) -> None:
        if not isinstance(m, Module):
            raise TypeError(f"ModuleDict: {type(m).__name__} is not an fnn.nn.Module")
        setattr(self, key, m)

    def __getitem__(self, key: str) -> Module:
        return dict(self.named_children())[key]

    def __len__(self) -> int:
        return len(list(self.named_children()))

    def __iter__(self) -> Iterator[str]:
        return (k for k, _ in self.named_children())

    def keys(self):
        return [k for k, _ in self.named_children()]

    def items(self):
        return list(self.named_children())

    def values(self):
        return list(self.children())


# ---------------------------------------------------------------------- parameter listing
def named_parameters(params: Mapping) -> list[tuple[str, Any]]:
    """``[("fc1.weight", array), ...]`` in torch order (``model.named_parameters()``)."""
    _check.mapping("named_parameters", "params", params)
    return _tree.named_leaves(params)


def num_parameters(params: Mapping) -> int:
    """Total number of scalars (``sum(p.numel() for p in model.parameters())``)."""
    _check.mapping("num_parameters", "params", params)
    return int(sum(int(np.prod(np.shape(p))) for _, p in _tree.named_leaves(params)))


def summary(params: Mapping, buffers: Mapping | None = None) -> str:
    """A table of parameter (and buffer) names, shapes, dtypes and counts, with the total."""
    _check.mapping("summary", "params", params)
    if buffers is not None:
        _check.mapping("summary", "buffers", buffers)
    rows = [(n, tuple(np.shape(p)), str(jnp.asarray(p).dtype), int(np.prod(np.shape(p))))
            for n, p in _tree.named_leaves(params)]
    brows = [(n, tuple(np.shape(p)), str(jnp.asarray(p).dtype), int(np.prod(np.shape(p))))
             for n, p in _tree.named_leaves(buffers or {})]
    width = max([len(r[0]) for r in rows + brows] + [4])
    lines = [f"{'name':<{width}}  {'shape':<18} {'dtype':<8} {'count':>10}"]
    for n, s, d, c in rows:
        lines.append(f"{n:<{width}}  {str(s):<18} {d:<8} {c:>10,}")
    total = sum(r[3] for r in rows)
    lines.append(f"total parameters: {total:,}")
    if brows:
        lines.append("buffers:")
        for n, s, d, c in brows:
            lines.append(f"{n:<{width}}  {str(s):<18} {d:<8} {c:>10,}")
    return "\n".join(lines)
