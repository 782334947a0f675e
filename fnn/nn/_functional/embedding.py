"""``embedding`` (a table lookup) and ``one_hot``."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["embedding", "one_hot"]


def _normalize_padding_idx(padding_idx: int | None, num_embeddings: int) -> int | None:
    """torch's rule: a negative ``padding_idx`` counts from the end; it must index a row."""
    if padding_idx is None:
        return None
    if not -num_embeddings <= padding_idx < num_embeddings:
        raise ValueError(f"Padding_idx must be within num_embeddings (got padding_idx={padding_idx}"
                         f" for num_embeddings={num_embeddings})")
    return padding_idx + num_embeddings if padding_idx < 0 else padding_idx


def embedding(input: jax.Array, weight: jax.Array, padding_idx: int | None = None) -> jax.Array:
    r"""``weight[input]`` (``F.embedding``): rows of the ``(num_embeddings, embedding_dim)``
    table for the integer indices ``input``, output shape ``input.shape + (embedding_dim,)``.

    As in torch, positions whose index equals ``padding_idx`` (negative counts from the end)
    contribute no gradient to ``weight``; their output is the row as it is. Out-of-range
    indices raise torch's ``IndexError`` when concrete; under ``jit`` they cannot raise and
    JAX clamps them.
    """
    if weight.ndim != 2:
        raise ValueError(f"embedding: weight must be 2-D (num_embeddings, embedding_dim), got "
                         f"shape {tuple(weight.shape)}")
    if not jnp.issubdtype(jnp.asarray(input).dtype, jnp.integer):
        raise ValueError(f"embedding: indices must be integers, got dtype {jnp.asarray(input).dtype}")
    if not isinstance(input, jax.core.Tracer) and np.size(input):
        idx = np.asarray(input)  # numpy: under an enclosing jit, jnp.min would be traced
        lo, hi = int(idx.min()), int(idx.max())
        if lo < 0 or hi >= weight.shape[0]:
            raise IndexError(f"embedding: index out of range in self (indices must be in "
                             f"[0, {weight.shape[0]}), got {lo if lo < 0 else hi})")
    out = jnp.take(weight, input, axis=0)
    padding_idx = _normalize_padding_idx(padding_idx, weight.shape[0])
    if padding_idx is None:
        return out
    is_pad = (jnp.asarray(input) == padding_idx)[..., None]
    return jnp.where(is_pad, jax.lax.stop_gradient(out), out)


def one_hot(tensor: jax.Array, num_classes: int = -1) -> jax.Array:
    r"""``F.one_hot``: int64 (int32 without x64) array of shape ``tensor.shape + (num_classes,)``
    with a 1 at each index.

    ``num_classes=-1`` infers ``max(tensor) + 1`` as torch does; that needs concrete values,
    so under ``jax.jit`` pass ``num_classes`` explicitly. Range checks (torch's "Class values
    must be non-negative." / "... smaller than num_classes.") run only on concrete input.
    """
    tensor = jnp.asarray(tensor)
    if not jnp.issubdtype(tensor.dtype, jnp.integer):
        raise ValueError(f"one_hot is only applicable to index tensor, got dtype {tensor.dtype}")
    concrete = not isinstance(tensor, jax.core.Tracer)
    if num_classes == -1:
        if not concrete:
            raise ValueError("one_hot: num_classes=-1 infers max(tensor) + 1 from the values, which "
                             "is not possible under jax.jit/vmap/grad tracing: pass num_classes "
                             "explicitly")
        num_classes = int(np.max(np.asarray(tensor))) + 1 if tensor.size else 0
    if concrete and tensor.size:
        # numpy, not jnp: under an enclosing jit, jnp.min of a constant would be traced
        if int(np.min(np.asarray(tensor))) < 0:
            raise ValueError("one_hot: Class values must be non-negative.")
        if int(np.max(np.asarray(tensor))) >= num_classes:
            raise ValueError("one_hot: Class values must be smaller than num_classes.")
    dtype = jax.dtypes.canonicalize_dtype(jnp.int64)
    return (tensor[..., None] == jnp.arange(num_classes)).astype(dtype)
