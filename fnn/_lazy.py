"""Lazy attribute tables for the public namespaces (one import per family file)."""

from __future__ import annotations

import importlib
import sys
import types
from collections.abc import Callable, Mapping
from typing import Any


class _LazyPackage(types.ModuleType):
    """A package whose public function ``f`` lives in its submodule ``.f`` (``optim.sgd``).

    Importing a submodule binds it on its package (``fnn.optim.sgd = <module>``), even from
    a sibling's ``from .adam import ...``; this keeps the function bound instead.
    """

    def __setattr__(self, name: str, value: Any) -> None:
        table = self.__dict__.get("_lazy_table", {})
        if (isinstance(value, types.ModuleType) and table.get(name) == f".{name}"
                and hasattr(value, name)):
            value = getattr(value, name)
        super().__setattr__(name, value)


def lazy_getattr(package: str, table: Mapping[str, str]) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``__getattr__``/``__dir__`` for a package whose public names live in submodules.

    ``table`` maps a public name to the submodule (relative to ``package``) defining it.
    """

    def __getattr__(name: str) -> Any:
        mod = table.get(name)
        if mod is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        # relative names resolve against the enclosing package (fnn.nn for fnn.nn.functional)
        is_pkg = hasattr(sys.modules.get(package), "__path__")
        anchor = package if is_pkg else package.rpartition(".")[0]
        module = importlib.import_module(mod, anchor)
        if mod == f".{name}" and not hasattr(module, name):
            return module  # a public submodule (fnn.optim.lr_scheduler)
        value = getattr(module, name)
        # importing fnn.optim.adam binds the *module* as fnn.optim.adam; rebind the function
        setattr(sys.modules[package], name, value)
        return value

    def __dir__() -> list[str]:
        return sorted(table)

    pkg = sys.modules.get(package)
    if pkg is not None and type(pkg) is types.ModuleType:
        pkg._lazy_table = dict(table)  # type: ignore[attr-defined]
        pkg.__class__ = _LazyPackage

    return __getattr__, __dir__
