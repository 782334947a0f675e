"""What :mod:`fnn.interop.torch` and :mod:`fnn.interop.torch_lbfgs` share: torch (imported
lazily), tensor <-> array copies, parameter names and hyperparameter comparison."""

from __future__ import annotations

import math
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["import_torch", "to_numpy", "to_jax", "to_torch", "names_of", "same"]


def import_torch() -> Any:
    """``import torch``, with an install hint when it is missing."""
    try:
        import torch
    except ImportError as e:  # pragma: no cover - exercised only without torch
        raise ImportError("fnn.interop.torch needs PyTorch: pip install torch") from e
    return torch


def to_numpy(t: Any) -> np.ndarray:
    """A torch tensor as a numpy array of the same dtype (bfloat16 via ml_dtypes)."""
    torch = import_torch()
    t = t.detach().cpu()
    if t.dtype == torch.bfloat16:
        return t.float().numpy().astype(jnp.bfloat16)
    return t.numpy().copy()


def to_jax(t: Any) -> jax.Array:
    """A torch tensor as a JAX array of the same dtype (float64 needs ``jax_enable_x64``)."""
    a = to_numpy(t)
    out = jnp.asarray(a)
    if out.dtype != a.dtype:
        raise ValueError(
            f"cannot keep dtype {a.dtype} in JAX ({out.dtype} instead): enable "
            "jax.config.update('jax_enable_x64', True) for float64/int64 tensors")
    return out


def to_torch(a: Any) -> Any:
    """A JAX/numpy array as a torch tensor of the same dtype."""
    torch = import_torch()
    a = np.asarray(a)
    if a.dtype == jnp.bfloat16:
        return torch.from_numpy(a.astype(np.float32)).to(torch.bfloat16)
    return torch.from_numpy(np.array(a, copy=True))


def names_of(torch_module_or_names: Any) -> dict[int, str]:
    """``{id(parameter): dotted name}`` of a torch module's parameters."""
    if hasattr(torch_module_or_names, "named_parameters"):
        return {id(p): n for n, p in torch_module_or_names.named_parameters()}
    raise TypeError("pass the torch module whose parameters the torch optimizer holds")


def same(a: Any, b: Any) -> bool:
    """Two hyperparameter values agree (numbers to 1e-12 relative, tuples elementwise)."""
    if isinstance(a, (tuple, list)) or isinstance(b, (tuple, list)):
        return (isinstance(a, (tuple, list)) and isinstance(b, (tuple, list)) and len(a) == len(b)
                and all(same(x, y) for x, y in zip(a, b)))
    if isinstance(a, (bool, str, type(None))) or isinstance(b, (bool, str, type(None))):
        return a == b
    try:
        fa, fb = float(np.asarray(a)), float(np.asarray(b))
    except (TypeError, ValueError):
        return a == b
    return math.isclose(fa, fb, rel_tol=1e-12, abs_tol=0.0)
