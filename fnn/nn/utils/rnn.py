r"""``torch.nn.utils.rnn``: variable-length batches for the recurrent layers.

torch's ``PackedSequence`` holds the valid time steps of a batch back to back (a data
dependent shape). fnn's holds the **padded** batch, time-major, zeros past each length,
with the lengths beside it: a pytree of fixed shapes that ``jax.jit`` can trace. The
recurrent layers accept it as torch's do (masking the steps past each length), and what
the user sees is torch's: outputs past a length are zero, ``h_n`` is each sequence's last
valid state, ``pad_packed_sequence`` returns the same padded tensor and lengths. torch's
packed fields (``data``, ``batch_sizes``, ``sorted_indices``, ``unsorted_indices``) are
available as properties, computed on demand outside ``jit``.

The batch stays in the caller's order (torch sorts it by length internally and restores
the order in ``h_n`` and ``pad_packed_sequence``; the results are the same).

With concrete lengths (a list or an array outside ``jit``), packing checks them as torch
does and trims the time axis to the longest length; with traced lengths it keeps the
given time axis and cannot check values.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["PackedSequence", "invert_permutation", "pack_padded_sequence",
           "pad_packed_sequence", "pad_sequence", "unpad_sequence", "pack_sequence",
           "unpack_sequence"]


def _concrete(x: Any) -> np.ndarray | None:
    if isinstance(x, jax.core.Tracer):
        return None
    return np.asarray(x)


@jax.tree_util.register_pytree_node_class
class PackedSequence:
    """A batch of variable-length sequences (``torch.nn.utils.rnn.PackedSequence``).

    Fields: ``padded`` ``(T, B, *)`` time-major, zeros past each length, and ``lengths``
    ``(B,)`` ints, both in the caller's batch order. ``sorted``: whether the lengths were
    required sorted (``enforce_sorted=True``; torch's ``sorted_indices`` is then ``None``).
    Build it with :func:`pack_padded_sequence` or :func:`pack_sequence`.
    """

    def __init__(self, padded: jax.Array, lengths: jax.Array, sorted: bool = True):
        self.padded = padded
        self.lengths = lengths
        self.sorted = sorted

    def tree_flatten(self) -> tuple[tuple[Any, Any], bool]:
        return (self.padded, self.lengths), self.sorted

    @classmethod
    def tree_unflatten(cls, aux: bool, children: Any) -> PackedSequence:
        padded, lengths = children
        return cls(padded, lengths, aux)

    def _lengths_np(self, what: str) -> np.ndarray:
        lengths = _concrete(self.lengths)
        if lengths is None:
            raise ValueError(f"PackedSequence.{what} needs concrete lengths (it has a data-"
                             "dependent shape); read it outside jax.jit")
        return lengths.astype(np.int64)

    @property
    def sorted_indices(self) -> jax.Array | None:
        """torch's ``sorted_indices``: the batch order by decreasing length (``None`` when
        the lengths were required sorted)."""
        if self.sorted:
            return None
        return jnp.asarray(np.argsort(-self._lengths_np("sorted_indices"), kind="stable"))

    @property
    def unsorted_indices(self) -> jax.Array | None:
        """torch's ``unsorted_indices``: the inverse of :attr:`sorted_indices`."""
        return invert_permutation(self.sorted_indices)

    @property
    def batch_sizes(self) -> jax.Array:
        """torch's ``batch_sizes``: how many sequences are longer than each time step."""
        lengths = self._lengths_np("batch_sizes")
        return jnp.asarray([(lengths > t).sum() for t in range(int(lengths.max()))], jnp.int64)

    @property
    def data(self) -> jax.Array:
        """torch's packed ``data``: the valid steps, time-major, longest sequences first."""
        lengths = self._lengths_np("data")
        order = np.argsort(-lengths, kind="stable")
        rows = [self.padded[t, order[lengths[order] > t]] for t in range(int(lengths.max()))]
        return jnp.concatenate(rows, axis=0)

    def __repr__(self) -> str:
        return (f"PackedSequence(padded={self.padded!r}, lengths={self.lengths!r}, "
                f"sorted={self.sorted})")


def invert_permutation(permutation: jax.Array | None) -> jax.Array | None:
    """``torch.nn.utils.rnn.invert_permutation``: ``out[permutation[i]] = i``."""
    if permutation is None:
        return None
    permutation = jnp.asarray(permutation)
    return jnp.zeros_like(permutation).at[permutation].set(jnp.arange(permutation.shape[0]))


def _check_lengths(lengths: np.ndarray, batch: int, steps: int, enforce_sorted: bool) -> None:
    if lengths.ndim != 1:
        raise ValueError(f"'lengths' argument should be a 1D CPU int64 tensor, but got "
                         f"{lengths.ndim}D tensor")
    if lengths.shape[0] != batch:
        raise ValueError(f"Expected `len(lengths)` to be equal to batch_size, but got "
                         f"{lengths.shape[0]} (batch_size={batch})")
    if enforce_sorted and np.any(np.diff(lengths) > 0):
        raise ValueError("`lengths` array must be sorted in decreasing order when `enforce_sorted` "
                         "is True. You can pass `enforce_sorted=False` to pack_padded_sequence "
                         "and/or pack_sequence to sidestep this requirement if you do not need "
                         "ONNX exportability.")
    if lengths.size and lengths.min() <= 0:
        raise ValueError("Length of all samples has to be greater than 0, but found an element "
                         "in 'lengths' that is <= 0")
    if lengths.size and lengths.max() > steps:
        raise ValueError(f"Expected all lengths to be at most the sequence length {steps}, but "
                         f"got a length of {int(lengths.max())}")


def _mask(padded: jax.Array, lengths: jax.Array, value: float) -> jax.Array:
    valid = jnp.arange(padded.shape[0])[:, None] < lengths[None, :]
    valid = valid.reshape(valid.shape + (1,) * (padded.ndim - 2))
    return jnp.where(valid, padded, jnp.asarray(value, padded.dtype))


def pack_padded_sequence(input: jax.Array, lengths: Any, batch_first: bool = False,
                         enforce_sorted: bool = True) -> PackedSequence:
    """``torch.nn.utils.rnn.pack_padded_sequence``: a padded batch ``(T, B, *)`` (``(B, T, *)``
    with ``batch_first``) and its lengths as a :class:`PackedSequence`.

    ``enforce_sorted=True`` requires decreasing lengths, as torch does (torch needs it for
    ONNX; fnn for nothing else). Lengths must be in ``[1, T]``.
    """
    input = jnp.asarray(input)
    if input.ndim < 2:
        raise ValueError(f"pack_padded_sequence: input must have at least 2 dimensions, got "
                         f"{input.ndim}")
    padded = jnp.swapaxes(input, 0, 1) if batch_first else input
    conc = _concrete(lengths)
    if conc is not None:
        conc = conc.astype(np.int64)
        _check_lengths(conc, padded.shape[1], padded.shape[0], enforce_sorted)
        padded = padded[:int(conc.max())] if conc.size else padded
        lengths_arr = jnp.asarray(conc)
    else:
        lengths_arr = jnp.asarray(lengths)
    return PackedSequence(_mask(padded, lengths_arr, 0.0), lengths_arr, bool(enforce_sorted))


def pad_packed_sequence(sequence: PackedSequence, batch_first: bool = False,
                        padding_value: float = 0.0,
                        total_length: int | None = None) -> tuple[jax.Array, jax.Array]:
    """``torch.nn.utils.rnn.pad_packed_sequence``: ``(padded, lengths)``, the padded batch
    ``(T, B, *)`` (``(B, T, *)`` with ``batch_first``) filled with ``padding_value`` past
    each length, ``T`` the longest length or ``total_length``."""
    if not isinstance(sequence, PackedSequence):
        raise TypeError(f"pad_packed_sequence expects a PackedSequence, got {type(sequence).__name__}")
    padded, lengths = sequence.padded, sequence.lengths
    if total_length is not None:
        conc = _concrete(lengths)
        max_len = int(conc.max()) if conc is not None and conc.size else padded.shape[0]
        if total_length < max_len:
            raise ValueError("Expected total_length to be at least the length of the longest "
                             f"sequence in input, but got total_length={total_length} and max "
                             f"sequence length being {max_len}")
        steps = padded.shape[0]
        if total_length > steps:
            pad = [(0, total_length - steps)] + [(0, 0)] * (padded.ndim - 1)
            padded = jnp.pad(padded, pad)
        else:
            padded = padded[:total_length]
    if padding_value != 0.0:
        padded = _mask(padded, lengths, padding_value)
    return (jnp.swapaxes(padded, 0, 1) if batch_first else padded), lengths


def pad_sequence(sequences: Sequence[jax.Array] | jax.Array, batch_first: bool = False,
                 padding_value: float = 0.0, padding_side: str = "right") -> jax.Array:
    """``torch.nn.utils.rnn.pad_sequence``: stack sequences ``(L_i, *)`` into ``(T, B, *)``
    (``(B, T, *)`` with ``batch_first``), ``T = max L_i``, filled with ``padding_value`` on
    the ``padding_side``."""
    if padding_side not in ("left", "right"):
        raise ValueError(f"Expected padding_side to be one of left or right, but got {padding_side}.")
    seqs = [jnp.asarray(s) for s in sequences]
    if not seqs:
        raise ValueError("received an empty list of sequences")
    trailing = seqs[0].shape[1:]
    for s in seqs:
        if s.shape[1:] != trailing:
            raise ValueError(f"pad_sequence: every sequence must have the trailing shape "
                             f"{tuple(trailing)}, got {tuple(s.shape[1:])}")
    steps = max(s.shape[0] for s in seqs)
    dtype = jnp.result_type(*seqs)
    rows = []
    for s in seqs:
        gap = [(0, steps - s.shape[0]) if padding_side == "right" else (steps - s.shape[0], 0)]
        rows.append(jnp.pad(s.astype(dtype), gap + [(0, 0)] * len(trailing),
                            constant_values=padding_value))
    return jnp.stack(rows, axis=0 if batch_first else 1)


def unpad_sequence(padded_sequences: jax.Array, lengths: Any,
                   batch_first: bool = False) -> list[jax.Array]:
    """``torch.nn.utils.rnn.unpad_sequence``: the list of sequences ``padded[:L_i, i]``
    (concrete lengths)."""
    padded = padded_sequences if batch_first else jnp.swapaxes(padded_sequences, 0, 1)
    conc = _concrete(lengths)
    if conc is None:
        raise ValueError("unpad_sequence needs concrete lengths (its outputs have data-dependent "
                         "shapes); call it outside jax.jit")
    return [padded[i, :int(n)] for i, n in enumerate(conc.astype(np.int64))]


def pack_sequence(sequences: Sequence[jax.Array], enforce_sorted: bool = True) -> PackedSequence:
    """``torch.nn.utils.rnn.pack_sequence``: :func:`pad_sequence` then
    :func:`pack_padded_sequence` with the sequences' lengths."""
    lengths = [int(jnp.shape(s)[0]) for s in sequences]
    return pack_padded_sequence(pad_sequence(sequences), lengths, enforce_sorted=enforce_sorted)


def unpack_sequence(packed_sequences: PackedSequence) -> list[jax.Array]:
    """``torch.nn.utils.rnn.unpack_sequence``: the list of sequences (concrete lengths)."""
    padded, lengths = pad_packed_sequence(packed_sequences, batch_first=True)
    return unpad_sequence(padded, lengths, batch_first=True)
