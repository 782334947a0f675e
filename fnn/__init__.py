"""fnn: a functional deep-learning library on JAX for people who think in PyTorch.

Models are pure functions over parameter pytrees (:mod:`fnn.nn`), losses are pure
functions (:mod:`fnn.losses`), and optimizers are optax ``(init, update)`` pairs that
reproduce ``torch.optim`` exactly (:mod:`fnn.optim`).
"""

from __future__ import annotations

import importlib
from typing import Any

from . import losses, nn, optim

__version__ = "0.1.0"
__all__ = ["nn", "optim", "losses", "testfns", "explore", "data", "train", "checkpoint",
           "interop", "parallel", "enable_compilation_cache",
           # amp (issue 19)
           "amp", "set_float32_matmul_precision", "get_float32_matmul_precision"]

_LAZY = {"testfns", "explore", "data", "train", "checkpoint", "interop", "parallel", "amp"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return importlib.import_module(f".{name}", __name__)
    if name == "enable_compilation_cache":
        from ._cache import enable_compilation_cache
        return enable_compilation_cache
    if name in ("set_float32_matmul_precision", "get_float32_matmul_precision"):
        from . import _precision
        return getattr(_precision, name)
    raise AttributeError(f"module 'fnn' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
