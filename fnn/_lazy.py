"""Lazy attribute tables for the public namespaces (one import per family file)."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any


def lazy_getattr(package: str, table: Mapping[str, str]) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``__getattr__``/``__dir__`` for a package whose public names live in submodules.

    ``table`` maps a public name to the submodule (relative to ``package``) defining it.
    """

    def __getattr__(name: str) -> Any:
        mod = table.get(name)
        if mod is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        module = importlib.import_module(mod, package)
        if mod == f".{name}" and not hasattr(module, name):
            return module  # a public submodule (fnn.optim.lr_scheduler)
        return getattr(module, name)

    def __dir__() -> list[str]:
        return sorted(table)

    return __getattr__, __dir__
