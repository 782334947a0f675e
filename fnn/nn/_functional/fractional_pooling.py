r"""Fractional max pooling (Graham 2014, *Fractional Max-Pooling*), torch's variant.

Along each pooled dim of length :math:`L`, output :math:`i < L_{out}-1` pools the window of
``kernel_size`` :math:`k` starting at

.. math::
    a_i = \lfloor (i + u)\,\alpha \rfloor - \lfloor u\,\alpha \rfloor, \qquad
    \alpha = \frac{L - k}{L_{out} - 1},

and the last one starts at :math:`L - k` (torch's ``generate_intervals``, in the input's
precision), where :math:`u \in [0, 1)` is one random sample per ``(n, c)`` plane and dim:
``_random_samples`` ``(N, C, n_dims)`` (sample 0 drives W, 1 H in 2-D; T, H, W in 3-D), or
drawn uniformly from ``key``. The maximum goes to the first maximal element (its flat
plane index with ``return_indices``), as torch's kernel.
"""

from __future__ import annotations

from collections.abc import Sequence

import jax
import jax.numpy as jnp

from ._window import ntuple

__all__ = ["fractional_max_pool2d", "fractional_max_pool3d",
           "fractional_max_pool2d_with_indices", "fractional_max_pool3d_with_indices"]

_AXES = {2: ("height", "width"), 3: ("time", "height", "width")}


def _starts(u: jax.Array, L: int, out: int, k: int) -> jax.Array:
    """``(N, C, out)`` window starts from the samples ``u`` ``(N, C)``."""
    last = jnp.full(u.shape + (1,), L - k, jnp.int32)
    if out == 1:
        return last
    alpha = jnp.asarray((L - k), u.dtype) / jnp.asarray(out - 1, u.dtype)
    i = jnp.arange(out - 1, dtype=u.dtype)
    seq = (jnp.floor((i + u[..., None]) * alpha).astype(jnp.int32)
           - jnp.floor(u * alpha).astype(jnp.int32)[..., None])
    return jnp.concatenate([seq, last], axis=-1)


def fractional_max_pool_nd(n: int, input: jax.Array, kernel_size, output_size, output_ratio,
                           return_indices: bool, _random_samples, key):
    """The N-d implementation behind ``fractional_max_pool{2,3}d``."""
    who = f"fractional_max_pool{n}d"
    if output_size is None and output_ratio is None:
        raise ValueError(f"{who} requires specifying either an output_size or an output_ratio")
    if input.ndim not in (n + 1, n + 2):
        raise ValueError(f"{who}(): Expected {n + 1}D or {n + 2}D tensor, but got: "
                         f"{list(input.shape)}")
    kernel = ntuple(kernel_size, n, "kernel_size", who)
    lengths = tuple(input.shape[-n:])
    if output_size is None:
        ratio = (output_ratio,) * n if isinstance(output_ratio, (int, float)) else output_ratio
        sizes = tuple(int(L * r) for L, r in zip(lengths, ratio))
    else:
        sizes = ntuple(output_size, n, "output_size", who)
    for name, L, o, k in zip(_AXES[n], lengths, sizes, kernel):
        if o + k - 1 > L:
            raise ValueError(f"{who}{'_out' * (n == 3)}(): pool {name} {k} too large relative "
                             f"to input {name} {L}")
    x = input if input.ndim == n + 2 else input[None]
    N, C = x.shape[:2]
    if _random_samples is None:
        if key is None:
            raise ValueError(f"{who} draws its pooling regions at random: pass key="
                             "jax.random.key(...) (or _random_samples)")
        dtype = x.dtype if jnp.issubdtype(x.dtype, jnp.floating) else jnp.float32
        _random_samples = jax.random.uniform(key, (N, C, n), dtype)
    u = jnp.asarray(_random_samples, x.dtype)
    if u.ndim != 3 or u.shape[0] != N or u.shape[1] != C:
        raise ValueError("Expect _random_samples.size(1) equals to input channel size."
                         if u.ndim == 3 and u.shape[1] != C else
                         f"{who}: expected _random_samples of shape ({N}, {C}, {n}), got "
                         f"{tuple(u.shape)}")
    if u.shape[2] != n:
        raise ValueError(f"Expect _random_samples.size(2) equals to {n}; got {u.shape[2]}.")
    order = (1, 0) if n == 2 else (0, 1, 2)  # sample index per dim (2-D: W is sample 0)
    starts = [_starts(u[..., s], L, o, k) for s, L, o, k in zip(order, lengths, sizes, kernel)]
    # flat plane index of every window element: (N, C, o_1, ..., o_n, k_1 * ... * k_n)
    flat = jnp.zeros((N, C) + (1,) * (2 * n), jnp.int32)
    for d, (st, L, k) in enumerate(zip(starts, lengths, kernel)):
        pos = st[..., None] + jnp.arange(k, dtype=jnp.int32)  # (N, C, o_d, k_d)
        shape = [N, C] + [1] * (2 * n)
        shape[2 + d], shape[2 + n + d] = pos.shape[2], k
        flat = flat * L + pos.reshape(shape)
    flat = flat.reshape(flat.shape[:2 + n] + (-1,))
    plane = x.reshape(N, C, -1)
    windows = jnp.take_along_axis(plane, flat.reshape(N, C, -1), axis=2).reshape(flat.shape)
    first = jnp.argmax(windows, axis=-1, keepdims=True)
    out = jnp.take_along_axis(windows, first, axis=-1)[..., 0]
    index = jnp.take_along_axis(flat, first, axis=-1)[..., 0].astype(jnp.int_)
    if input.ndim == n + 1:
        out, index = out[0], index[0]
    return (out, index) if return_indices else out


def fractional_max_pool2d(input: jax.Array, kernel_size: int | Sequence[int],
                          output_size: int | Sequence[int] | None = None,
                          output_ratio: float | Sequence[float] | None = None,
                          return_indices: bool = False, _random_samples: jax.Array | None = None,
                          *, key: jax.Array | None = None):
    """``torch.nn.functional.fractional_max_pool2d`` over ``(N, C, H, W)`` or ``(C, H, W)``:
    pseudo-random overlapping ``kernel_size`` windows giving ``output_size`` (or
    ``int(L * output_ratio)``); the samples come from ``_random_samples`` ``(N, C, 2)`` or
    from ``key`` (torch uses its global generator)."""
    return fractional_max_pool_nd(2, input, kernel_size, output_size, output_ratio,
                                  return_indices, _random_samples, key)


def fractional_max_pool3d(input: jax.Array, kernel_size: int | Sequence[int],
                          output_size: int | Sequence[int] | None = None,
                          output_ratio: float | Sequence[float] | None = None,
                          return_indices: bool = False, _random_samples: jax.Array | None = None,
                          *, key: jax.Array | None = None):
    """``torch.nn.functional.fractional_max_pool3d`` over ``(N, C, T, H, W)`` or
    ``(C, T, H, W)``; ``_random_samples`` ``(N, C, 3)`` or ``key``."""
    return fractional_max_pool_nd(3, input, kernel_size, output_size, output_ratio,
                                  return_indices, _random_samples, key)


def fractional_max_pool2d_with_indices(input, kernel_size, output_size=None, output_ratio=None,
                                       return_indices=False, _random_samples=None, *, key=None):
    """``torch.nn.functional.fractional_max_pool2d_with_indices``: values and indices."""
    return fractional_max_pool_nd(2, input, kernel_size, output_size, output_ratio, True,
                                  _random_samples, key)


def fractional_max_pool3d_with_indices(input, kernel_size, output_size=None, output_ratio=None,
                                       return_indices=False, _random_samples=None, *, key=None):
    """``torch.nn.functional.fractional_max_pool3d_with_indices``: values and indices."""
    return fractional_max_pool_nd(3, input, kernel_size, output_size, output_ratio, True,
                                  _random_samples, key)
