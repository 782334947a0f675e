"""``torch.nn.utils.parameters_to_vector`` / ``vector_to_parameters`` over parameter dicts.

The order is torch's: the dotted ``state_dict`` order of the nested dict (its insertion
order), not ``jax.tree.leaves``' sorted order, so a vector matches torch's
``parameters_to_vector(model.parameters())`` entry for entry. (A dict passed *into* a
``jax.jit``-ed function arrives with sorted keys; close over the params, or convert
outside ``jit``, to keep torch's order.)
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from ... import _tree

__all__ = ["parameters_to_vector", "vector_to_parameters"]


def parameters_to_vector(parameters: Any) -> jax.Array:
    """``torch.nn.utils.parameters_to_vector``: every leaf flattened and concatenated in
    torch's parameter order. ``parameters``: a params dict (or a list of arrays)."""
    leaves = [jnp.ravel(jnp.asarray(v)) for _, v in _tree.named_leaves(parameters)]
    if not leaves:
        raise ValueError("parameters_to_vector: expected a non-empty list of Tensors")
    return jnp.concatenate(leaves)


def vector_to_parameters(vec: Any, parameters: Any) -> Any:
    """``torch.nn.utils.vector_to_parameters`` as a pure function: a new tree shaped as
    ``parameters`` whose leaves are consecutive slices of ``vec`` (torch's order).

    torch copies into the parameters in place; fnn returns the new tree. ``vec`` must have
    exactly as many entries as ``parameters`` (torch ignores a surplus; fnn raises); the
    leaves take ``vec``'s dtype, as torch's do.
    """
    if not isinstance(vec, (jax.Array, np.ndarray)):
        raise TypeError(f"expected torch.Tensor, but got: {type(vec).__name__}")
    if vec.ndim != 1:
        raise ValueError(f"vector_to_parameters: vec must be 1-D, got shape {tuple(vec.shape)}")
    named = _tree.named_leaves(parameters)
    total = sum(int(np.prod(np.shape(v))) for _, v in named)
    if vec.shape[0] != total:
        raise ValueError(f"vector_to_parameters: vec has {vec.shape[0]} entries but the "
                         f"parameters have {total}")
    flat, pointer = {}, 0
    for name, v in named:
        n = int(np.prod(np.shape(v)))
        flat[name] = jnp.reshape(vec[pointer:pointer + n], np.shape(v))
        pointer += n
    if isinstance(parameters, (list, tuple)):
        return type(parameters)(flat[str(i)] for i in range(len(parameters)))
    return _tree.unflatten(flat)
