"""``fnn.nn.utils.rnn`` (packing helpers) against ``torch.nn.utils.rnn`` 2.13."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch
from torch.nn.utils import rnn as trnn

from fnn.nn.utils import rnn as frnn

RNG = np.random.default_rng(0)
SEQS = [RNG.standard_normal((n, 3)) for n in (2, 5, 3)]


def _eq(got, want):
    np.testing.assert_array_equal(np.asarray(got), want.detach().numpy() if torch.is_tensor(want) else want)


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("side", ["right", "left"])
def test_pad_sequence(batch_first, side):
    got = frnn.pad_sequence([jnp.asarray(s) for s in SEQS], batch_first, -1.5, side)
    want = trnn.pad_sequence([torch.tensor(s) for s in SEQS], batch_first, -1.5, side)
    _eq(got, want)


@pytest.mark.parametrize("enforce_sorted", [True, False])
def test_pack_fields_and_roundtrip_match_torch(enforce_sorted):
    seqs = sorted(SEQS, key=len, reverse=True) if enforce_sorted else SEQS
    got = frnn.pack_sequence([jnp.asarray(s) for s in seqs], enforce_sorted=enforce_sorted)
    want = trnn.pack_sequence([torch.tensor(s) for s in seqs], enforce_sorted=enforce_sorted)
    _eq(got.data, want.data)
    _eq(got.batch_sizes, want.batch_sizes)
    for a, b in [(got.sorted_indices, want.sorted_indices), (got.unsorted_indices, want.unsorted_indices)]:
        assert (a is None) == (b is None)
        if a is not None:
            _eq(a, b)
    for batch_first in (False, True):
        for total in (None, 7):
            p, lengths = frnn.pad_packed_sequence(got, batch_first, 0.5, total)
            tp, tlengths = trnn.pad_packed_sequence(want, batch_first, 0.5, total)
            _eq(p, tp)
            _eq(lengths, tlengths)
    for a, b in zip(frnn.unpack_sequence(got), trnn.unpack_sequence(want)):
        _eq(a, b)


def test_pack_padded_batch_first_and_unpad():
    padded = RNG.standard_normal((3, 4, 2))  # (B, T, *)
    lengths = [2, 4, 1]
    got = frnn.pack_padded_sequence(jnp.asarray(padded), lengths, batch_first=True, enforce_sorted=False)
    want = trnn.pack_padded_sequence(torch.tensor(padded), lengths, batch_first=True, enforce_sorted=False)
    _eq(got.data, want.data)
    # the stored padded batch is zero past each length
    assert float(jnp.abs(got.padded[2:, 2]).sum()) == 0.0
    for a, b in zip(frnn.unpad_sequence(jnp.asarray(padded), jnp.asarray(lengths), True),
                    trnn.unpad_sequence(torch.tensor(padded), torch.tensor(lengths), True)):
        _eq(a, b)
    _eq(frnn.invert_permutation(jnp.array([2, 0, 1])), trnn.invert_permutation(torch.tensor([2, 0, 1])))
    assert frnn.invert_permutation(None) is None


def test_packed_sequence_is_a_pytree_under_jit():
    """Traced lengths keep the given time axis (fixed shapes); the values are torch's."""
    padded = jnp.asarray(RNG.standard_normal((6, 3, 2)))

    @jax.jit
    def f(x, lengths):
        packed = frnn.pack_padded_sequence(x, lengths, enforce_sorted=False)
        doubled = jax.tree.map(lambda a: a * 2 if a.dtype.kind == "f" else a, packed)
        return frnn.pad_packed_sequence(doubled, padding_value=-1.0)

    out, lengths = f(padded, jnp.array([4, 2, 3]))
    assert out.shape == (6, 3, 2)
    want, _ = trnn.pad_packed_sequence(
        trnn.pack_padded_sequence(torch.tensor(np.asarray(padded)) * 2, [4, 2, 3], enforce_sorted=False),
        padding_value=-1.0, total_length=6)
    _eq(out, want)
    _eq(lengths, np.array([4, 2, 3]))
    leaves, tree = jax.tree.flatten(frnn.pack_sequence([jnp.ones((2, 1))]))
    assert len(leaves) == 2 and jax.tree.unflatten(tree, leaves).sorted is True


def test_bad_arguments_raise_torch_messages():
    x = jnp.zeros((5, 2, 3))
    with pytest.raises(ValueError, match="must be sorted in decreasing order when `enforce_sorted` is True"):
        frnn.pack_padded_sequence(x, [2, 3])
    with pytest.raises(ValueError, match="Length of all samples has to be greater than 0"):
        frnn.pack_padded_sequence(x, [3, 0])
    with pytest.raises(ValueError, match=r"Expected `len\(lengths\)` to be equal to batch_size, but got 1 \(batch_size=2\)"):
        frnn.pack_padded_sequence(x, [3])
    with pytest.raises(ValueError, match="at most the sequence length 5, but got a length of 6"):
        frnn.pack_padded_sequence(x, [6, 2])
    with pytest.raises(ValueError, match="Expected total_length to be at least the length of the longest"):
        frnn.pad_packed_sequence(frnn.pack_padded_sequence(x, [3, 2]), total_length=2)
    with pytest.raises(ValueError, match="Expected padding_side to be one of left or right, but got up."):
        frnn.pad_sequence([x[0]], padding_side="up")
    with pytest.raises(ValueError, match="received an empty list of sequences"):
        frnn.pad_sequence([])
    with pytest.raises(ValueError, match="trailing shape"):
        frnn.pad_sequence([jnp.zeros((2, 3)), jnp.zeros((2, 4))])
    with pytest.raises(TypeError, match="expects a PackedSequence"):
        frnn.pad_packed_sequence(x)
    with pytest.raises(ValueError, match="outside jax.jit"):
        jax.jit(lambda lengths: frnn.pack_padded_sequence(x, lengths).data)(jnp.array([3, 2]))
