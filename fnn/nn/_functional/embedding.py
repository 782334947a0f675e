"""``embedding`` (a table lookup) and ``one_hot``."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["embedding", "one_hot", "embedding_bag"]


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


# ---------------------------------------------------------------------- issue 18 (layers-b)
def _bag_ids(input: jax.Array, offsets: jax.Array | None, include_last_offset: bool
             ) -> tuple[jax.Array, jax.Array, int]:
    """Flat indices, the bag of each index (-1: in no bag) and the number of bags."""
    if input.ndim == 2:
        if offsets is not None:
            raise ValueError("if input is 2D, then offsets has to be None, as input is treated is "
                             "a mini-batch of fixed length sequences. However, found offsets of "
                             f"type {type(offsets)}")
        b, n = input.shape
        return input.reshape(-1), jnp.repeat(jnp.arange(b), n), b
    if input.ndim != 1:
        raise ValueError(f"input has to be 1D or 2D Tensor, but got Tensor of dimension "
                         f"{input.ndim}")
    if offsets is None:
        raise ValueError("offsets has to be a 1D Tensor but got None")
    offsets = jnp.asarray(offsets)
    if offsets.ndim != 1:
        raise ValueError("offsets has to be a 1D Tensor")
    if not isinstance(offsets, jax.core.Tracer) and offsets.size and int(offsets[0]) != 0:
        raise ValueError("offsets[0] has to be 0, i.e., the first sequence in the mini-batch has "
                         f"to start from position 0. However, got {int(offsets[0])}")
    # torch: with include_last_offset the last offset is not read, the last bag runs to the end
    bags = offsets.shape[0] - 1 if include_last_offset else offsets.shape[0]
    seg = jnp.searchsorted(offsets[:bags], jnp.arange(input.shape[0]), side="right") - 1
    return input, seg, bags


def embedding_bag(input: jax.Array, weight: jax.Array, offsets: jax.Array | None = None,
                  max_norm: float | None = None, norm_type: float = 2,
                  scale_grad_by_freq: bool = False, mode: str = "mean", sparse: bool = False,
                  per_sample_weights: jax.Array | None = None,
                  include_last_offset: bool = False, padding_idx: int | None = None
                  ) -> jax.Array:
    r"""Sums, means or maxima of bags of embeddings without materializing the lookups per bag
    (``F.embedding_bag``). Output ``(B, embedding_dim)``.

    Bags: the rows of a 2-D ``input`` ``(B, N)``, or, for a 1-D ``input``, the slices
    ``input[offsets[i]:offsets[i+1]]``, the last running to the end (with
    ``include_last_offset=True`` ``offsets`` has ``B + 1`` entries; as in torch the last
    bag still runs to the end of ``input``, whatever the last offset says).
    ``mode='sum'``: :math:`\sum_j w_j\,W[i_j]` with ``per_sample_weights`` :math:`w_j`
    (``input``-shaped, ``'sum'`` only, 1 by default); ``'mean'``: the average over the bag;
    ``'max'``: the elementwise maximum. Indices equal to ``padding_idx`` are left out of their
    bag (and of the mean's count); an empty bag gives zeros. ``sparse`` is accepted and
    ignored; ``max_norm`` (which renormalizes the weight in place in torch) and
    ``scale_grad_by_freq`` are not supported.
    """
    if mode not in ("sum", "mean", "max"):
        raise ValueError("mode has to be one of sum, mean or max")
    if max_norm is not None or scale_grad_by_freq:
        raise ValueError("embedding_bag: max_norm (an in-place renormalization of the weight) and "
                         "scale_grad_by_freq are not supported by fnn")
    input = jnp.asarray(input)
    if not jnp.issubdtype(input.dtype, jnp.integer):
        raise ValueError("Expected tensor for argument #1 'indices' to have one of the following "
                         f"scalar types: Long, Int; but got {input.dtype} instead")
    if per_sample_weights is not None:
        if mode != "sum":
            raise ValueError("embedding_bag: per_sample_weights was not None. per_sample_weights "
                             f"is only supported for mode='sum' (got mode='{mode}'). Please open "
                             "a feature request on GitHub.")
        if tuple(jnp.shape(per_sample_weights)) != tuple(input.shape):
            raise ValueError(f"embedding_bag: If per_sample_weights ({tuple(jnp.shape(per_sample_weights))}) "
                             "is not None, then it must have the same shape as the input "
                             f"({tuple(input.shape)})")
    if not isinstance(input, jax.core.Tracer) and input.size:
        idx = np.asarray(input)
        bad = idx[(idx < 0) | (idx >= weight.shape[0])]
        if bad.size:
            pos = int(np.flatnonzero((idx.ravel() < 0) | (idx.ravel() >= weight.shape[0]))[0])
            raise IndexError(f"Index {pos} of input takes value {int(bad[0])} which is not in the "
                             f"valid range [0, {weight.shape[0]})")
    flat, seg, bags = _bag_ids(input, offsets, include_last_offset)
    padding_idx = _normalize_padding_idx(padding_idx, weight.shape[0])
    keep = seg >= 0
    if padding_idx is not None:
        keep = keep & (flat != padding_idx)
    seg = jnp.where(keep, seg, bags)             # dropped entries go to an extra bag
    rows = jnp.take(weight, flat, axis=0)
    if per_sample_weights is not None:
        rows = rows * jnp.reshape(per_sample_weights, (-1, 1)).astype(rows.dtype)
    count = jax.ops.segment_sum(keep.astype(weight.dtype), seg, bags + 1)[:bags, None]
    if mode == "max":
        low = jnp.asarray(-jnp.inf, weight.dtype)
        out = jax.ops.segment_max(jnp.where(keep[:, None], rows, low), seg, bags + 1)[:bags]
        return jnp.where(count > 0, out, jnp.zeros((), weight.dtype))
    out = jax.ops.segment_sum(rows, seg, bags + 1)[:bags]
    return out / jnp.maximum(count, 1) if mode == "mean" else out
