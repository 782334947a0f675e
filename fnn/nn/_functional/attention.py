"""``scaled_dot_product_attention`` and ``multi_head_attention_forward`` (torch 2.13 semantics).

Randomness is explicit: dropout on the attention weights takes ``dropout_key=`` (the name
``key`` is the key tensor, as in torch's signature).
"""

from __future__ import annotations

import math
from typing import Any

import jax
import jax.numpy as jnp

from ..._autocast import autocast_op
from .dropout import _check_p, dropout
from .linear import linear

__all__ = ["scaled_dot_product_attention", "multi_head_attention_forward", "sdpa_path"]

_TORCH_DTYPE = {"float32": "float", "float64": "double", "float16": "c10::Half",
                "bfloat16": "c10::BFloat16", "int32": "int", "int64": "long", "bool": "bool"}


def _tname(a: Any) -> str:
    d = str(jnp.asarray(a).dtype) if not hasattr(a, "dtype") else str(a.dtype)
    return _TORCH_DTYPE.get(d, d)


def _broadcast_shapes(a: tuple[int, ...], b: tuple[int, ...]) -> tuple[int, ...]:
    """numpy broadcasting with torch's error text (tensor ``a`` and ``b`` aligned right)."""
    n = max(len(a), len(b))
    a, b = (1,) * (n - len(a)) + tuple(a), (1,) * (n - len(b)) + tuple(b)
    for i, (x, y) in enumerate(zip(a, b)):
        if x != y and x != 1 and y != 1:
            raise ValueError(f"The size of tensor a ({x}) must match the size of tensor b ({y}) "
                             f"at non-singleton dimension {i}")
    return tuple(max(x, y) if min(x, y) != 0 else 0 for x, y in zip(a, b))


def _safe_softmax(s: jax.Array) -> jax.Array:
    """Softmax over the last axis, with rows that are entirely ``-inf`` giving zeros (not NaN),
    torch's ``_safe_softmax`` used by the math SDPA backend."""
    m = jax.lax.stop_gradient(jnp.max(s, axis=-1, keepdims=True))
    dead = m == -jnp.inf
    e = jnp.exp(s - jnp.where(dead, jnp.zeros_like(m), m))
    z = jnp.sum(e, axis=-1, keepdims=True)
    return jnp.where(dead, jnp.zeros_like(e), e / jnp.where(dead, jnp.ones_like(z), z))


def _attend(q: jax.Array, k: jax.Array, v: jax.Array, mask: jax.Array | None,
            bias: jax.Array | None, scale: float, safe: bool, dropout_p: float,
            dropout_key: jax.Array | None) -> tuple[jax.Array, jax.Array]:
    """The reference computation: ``softmax(q k^T * scale + bias, masked) @ v``; returns
    ``(output, weights)`` (weights after dropout, as torch's MHA returns them)."""
    s = jnp.matmul(q, jnp.swapaxes(k, -1, -2)) * jnp.asarray(scale, q.dtype)
    if bias is not None:
        s = s + bias
    if mask is not None:
        s = jnp.where(mask, s, jnp.asarray(-jnp.inf, s.dtype))
    w = _safe_softmax(s) if safe else jax.nn.softmax(s, axis=-1)
    if dropout_p > 0.0:
        w = dropout(w, dropout_p, training=True, key=dropout_key)
    return jnp.matmul(w, v), w


def _check_sdpa(query: jax.Array, key: jax.Array, value: jax.Array, attn_mask: Any,
                enable_gqa: bool) -> None:
    if min(query.ndim, key.ndim, value.ndim) < 2:
        raise ValueError("Expected query, key, and value to all be  at least 2 dimensional, but "
                         f"got query.dim: {query.ndim} key.dim: {key.ndim} and value.dim: "
                         f"{value.ndim} instead.")
    if not (query.dtype == key.dtype == value.dtype):
        raise TypeError("Expected query, key, and value to have the same dtype, but got "
                        f"query.dtype: {_tname(query)} key.dtype: {_tname(key)} and value.dtype: "
                        f"{_tname(value)} instead.")
    if attn_mask is not None and attn_mask.dtype != jnp.bool_ and attn_mask.dtype != query.dtype:
        raise TypeError("Expected attn_mask dtype to be bool or float or to match query dtype, "
                        f"but got attn_mask.dtype: {_tname(attn_mask)} and  query.dtype: "
                        f"{_tname(query)} instead.")
    if query.shape[-1] != key.shape[-1]:
        raise ValueError(f"scaled_dot_product_attention: query and key must have the same last "
                         f"dimension (E), got {query.shape[-1]} and {key.shape[-1]}")
    if key.shape[-2] != value.shape[-2]:
        raise ValueError(f"scaled_dot_product_attention: key and value must have the same "
                         f"sequence length (dim -2), got {key.shape[-2]} and {value.shape[-2]}")
    if enable_gqa and query.ndim >= 3 and key.ndim >= 3:
        hq, hk, hv = query.shape[-3], key.shape[-3], value.shape[-3]
        if hk != hv or hq % hk != 0:
            raise ValueError("Number of heads in key and value must divide the number of heads "
                             f"in query (got query {hq}, key {hk}, value {hv} heads)")


def sdpa_path(query: jax.Array, key: jax.Array, value: jax.Array, attn_mask: Any = None,
              dropout_p: float = 0.0) -> str:
    """Which computation :func:`scaled_dot_product_attention` uses for these arguments:
    ``"cudnn"`` (``jax.nn.dot_product_attention(implementation="cudnn")``, GPU, float16/bfloat16),
    ``"xla"`` (``jax.nn.dot_product_attention``'s XLA path, float32/16 on GPU) or
    ``"reference"`` (fnn's own softmax: CPU, float64, float masks, dropout, other layouts)."""
    _check_p(dropout_p)
    if (dropout_p > 0.0 or query.ndim != 4 or key.shape != value.shape or key.ndim != 4
            or query.shape[0] != key.shape[0] or query.dtype == jnp.float64
            or (attn_mask is not None and attn_mask.dtype != jnp.bool_)
            or jax.default_backend() != "gpu"):
        return "reference"
    head = query.shape[-1]
    if query.dtype in (jnp.float16, jnp.bfloat16) and head % 8 == 0 and head <= 128:
        return "cudnn"
    return "xla"


def _fused(query, key, value, mask, is_causal, scale, implementation):
    """``jax.nn.dot_product_attention`` in torch's ``(N, H, L, E)`` layout; fully masked rows
    are set to zero afterwards (jax gives them the mean of ``value``)."""
    t = (lambda a: jnp.swapaxes(a, 1, 2))
    out = jax.nn.dot_product_attention(t(query), t(key), t(value), mask=mask, scale=scale,
                                       is_causal=is_causal, implementation=implementation)
    out = t(out)
    if mask is not None:
        live = jnp.any(mask, axis=-1, keepdims=True)
        out = jnp.where(live, out, jnp.zeros_like(out))
    return out


@autocast_op("scaled_dot_product_attention")
def scaled_dot_product_attention(query: jax.Array, key: jax.Array, value: jax.Array,
                                 attn_mask: jax.Array | None = None, dropout_p: float = 0.0,
                                 is_causal: bool = False, scale: float | None = None,
                                 enable_gqa: bool = False, *,
                                 dropout_key: jax.Array | None = None) -> jax.Array:
    r"""Attention :math:`\mathrm{softmax}(QK^\top \cdot s + B)\,V` (``F.scaled_dot_product_attention``;
    Vaswani et al. 2017, *Attention Is All You Need*).

    Shapes as torch: ``query (..., L, E)``, ``key (..., S, E)``, ``value (..., S, Ev)``,
    output ``(..., L, Ev)``; leading dims broadcast. :math:`s` is ``scale`` or
    :math:`1/\sqrt{E}`. ``attn_mask`` broadcasts to ``(..., L, S)``: a boolean mask says which
    pairs *take part* (``False`` gives :math:`-\infty`), a float mask (same dtype as
    ``query``) is *added* to the scores. ``is_causal``: the top-left aligned lower triangle
    ``ones(L, S).tril()`` (combined with ``attn_mask`` when both are given, as torch 2.13 does on
    CPU). ``enable_gqa``: grouped-query attention; query head ``h`` reads key/value head
    ``h // (Hq / Hkv)`` (torch's ``repeat_interleave``). ``dropout_p``: dropout on the attention
    weights, from ``dropout_key`` (a ``jax.random.key``; required when ``dropout_p > 0``); torch
    applies it whenever ``dropout_p > 0``, so pass ``0.0`` in evaluation.

    Fully masked rows (every score :math:`-\infty`) give an output row of **zeros** and zero
    gradients, as torch's math backend (``_safe_softmax``) does, not NaN.

    Where the semantics allow it (GPU, no dropout, no float mask, 4-D inputs, not float64) the
    work goes to ``jax.nn.dot_product_attention`` (cuDNN's fused kernel for float16/bfloat16);
    :func:`sdpa_path` tells which path a call takes. Otherwise the reference computation runs
    (on CPU XLA fuses it as well).
    """
    _check_p(dropout_p)
    _check_sdpa(query, key, value, attn_mask, enable_gqa)
    L, S = query.shape[-2], key.shape[-2]
    scale = 1.0 / math.sqrt(query.shape[-1]) if scale is None else scale
    bmask = None if attn_mask is None or attn_mask.dtype != jnp.bool_ else attn_mask
    bias = None if attn_mask is None or attn_mask.dtype == jnp.bool_ else attn_mask
    lead = _broadcast_shapes(query.shape[:-2], key.shape[:-2]) if not enable_gqa else None
    if attn_mask is not None:
        score_shape = (lead if lead is not None else query.shape[:-2]) + (L, S)
        _broadcast_shapes(score_shape, attn_mask.shape)
    path = sdpa_path(query, key, value, attn_mask, dropout_p)
    if path != "reference" and bmask is not None:
        bmask = jnp.broadcast_to(bmask, (1,) * (4 - bmask.ndim) + bmask.shape)
    if path != "reference":
        return _fused(query, key, value, bmask, is_causal, scale, path)
    if is_causal:
        causal = jnp.tril(jnp.ones((L, S), bool))
        bmask = causal if bmask is None else jnp.logical_and(bmask, causal)
    if enable_gqa and query.ndim >= 3 and key.shape[-3] != query.shape[-3]:
        groups = query.shape[-3] // key.shape[-3]
        key, value = jnp.repeat(key, groups, axis=-3), jnp.repeat(value, groups, axis=-3)
    # only a user mask can empty a row (the causal triangle always keeps key 0): the plain
    # softmax is enough otherwise
    out, _ = _attend(query, key, value, bmask, bias, scale, attn_mask is not None, dropout_p,
                     dropout_key)
    return out


# --------------------------------------------------------------------------- multi-head
def _mha_shape_check(query, key, value, key_padding_mask, attn_mask, num_heads) -> bool:
    """torch's ``_mha_shape_check``: 3-D batched or 2-D unbatched inputs and masks."""
    if query.ndim == 3:
        if key.ndim != 3 or value.ndim != 3:
            raise ValueError("For batched (3-D) `query`, expected `key` and `value` to be 3-D but "
                             f"found {key.ndim}-D and {value.ndim}-D tensors respectively")
        if key_padding_mask is not None and key_padding_mask.ndim != 2:
            raise ValueError("For batched (3-D) `query`, expected `key_padding_mask` to be `None` "
                             f"or 2-D but found {key_padding_mask.ndim}-D tensor instead")
        if attn_mask is not None and attn_mask.ndim not in (2, 3):
            raise ValueError("For batched (3-D) `query`, expected `attn_mask` to be `None`, 2-D or "
                             f"3-D but found {attn_mask.ndim}-D tensor instead")
        return True
    if query.ndim == 2:
        if key.ndim != 2 or value.ndim != 2:
            raise ValueError("For unbatched (2-D) `query`, expected `key` and `value` to be 2-D "
                             f"but found {key.ndim}-D and {value.ndim}-D tensors respectively")
        if key_padding_mask is not None and key_padding_mask.ndim != 1:
            raise ValueError("For unbatched (2-D) `query`, expected `key_padding_mask` to be "
                             f"`None` or 1-D but found {key_padding_mask.ndim}-D tensor instead")
        if attn_mask is not None:
            if attn_mask.ndim not in (2, 3):
                raise ValueError("For unbatched (2-D) `query`, expected `attn_mask` to be `None`, "
                                 f"2-D or 3-D but found {attn_mask.ndim}-D tensor instead")
            expected = (num_heads, query.shape[0], key.shape[0])
            if attn_mask.ndim == 3 and tuple(attn_mask.shape) != expected:
                raise ValueError(f"Expected `attn_mask` shape to be {expected} but got "
                                 f"{tuple(attn_mask.shape)}")
        return False
    raise ValueError("query should be unbatched 2D or batched 3D tensor but received "
                     f"{query.ndim}-D query tensor")


def canonical_mask(mask: jax.Array | None, mask_name: str, dtype: Any) -> jax.Array | None:
    """torch's ``F._canonical_mask``: a boolean mask becomes an additive float mask
    (``True`` -> :math:`-\\infty`, i.e. *masked out*); float masks pass unchanged."""
    if mask is None:
        return None
    mask = jnp.asarray(mask)
    if mask.dtype == jnp.bool_:
        return jnp.where(mask, jnp.asarray(-jnp.inf, dtype), jnp.asarray(0, dtype))
    if not jnp.issubdtype(mask.dtype, jnp.floating):
        raise TypeError(f"only bool and floating types of {mask_name} are supported")
    return mask


def _check_attn_mask(attn_mask: jax.Array, tgt_len: int, src_len: int, bsz: int,
                     num_heads: int) -> jax.Array:
    """A 2-D ``(L, S)`` or 3-D ``(N * num_heads, L, S)`` mask, returned as ``(N|1, H|1, L, S)``."""
    if attn_mask.ndim == 2:
        if tuple(attn_mask.shape) != (tgt_len, src_len):
            raise ValueError(f"The shape of the 2D attn_mask is {tuple(attn_mask.shape)}, but "
                             f"should be {(tgt_len, src_len)}.")
        return attn_mask[None, None]
    if attn_mask.ndim == 3:
        if tuple(attn_mask.shape) != (bsz * num_heads, tgt_len, src_len):
            raise ValueError(f"The shape of the 3D attn_mask is {tuple(attn_mask.shape)}, but "
                             f"should be {(bsz * num_heads, tgt_len, src_len)}.")
        return attn_mask.reshape(bsz, num_heads, tgt_len, src_len)
    raise ValueError(f"attn_mask's dimension {attn_mask.ndim} is not supported")


def _in_projection(query, key, value, in_proj_weight, in_proj_bias, separate):
    """q, k, v projections from the packed ``(3E, E)`` weight or the three separate ones."""
    if separate is None:
        w_q, w_k, w_v = jnp.split(in_proj_weight, 3)
    else:
        w_q, w_k, w_v = separate
    b_q = b_k = b_v = None
    if in_proj_bias is not None:
        b_q, b_k, b_v = jnp.split(in_proj_bias, 3)
    return linear(query, w_q, b_q), linear(key, w_k, b_k), linear(value, w_v, b_v)


def _heads(x: jax.Array, bsz: int, num_heads: int, head_dim: int) -> jax.Array:
    """``(S, N, E)`` -> ``(N, H, S, head_dim)``."""
    return jnp.transpose(x.reshape(x.shape[0], bsz, num_heads, head_dim), (1, 2, 0, 3))


def _static(x: jax.Array | None, name: str, bsz: int, num_heads: int, head_dim: int):
    """A ``static_k``/``static_v`` of shape ``(N * H, S, head_dim)`` as ``(N, H, S, head_dim)``."""
    if x is None:
        return None
    if x.shape[0] != bsz * num_heads:
        raise ValueError(f"expecting {name}.size(0) of {bsz * num_heads}, but got {x.shape[0]}")
    if x.shape[2] != head_dim:
        raise ValueError(f"expecting {name}.size(2) of {head_dim}, but got {x.shape[2]}")
    return x.reshape(bsz, num_heads, x.shape[1], head_dim)


def _pad_last(m: jax.Array | None) -> jax.Array | None:
    return None if m is None else jnp.pad(m, [(0, 0)] * (m.ndim - 1) + [(0, 1)])


def _extend_kv(k, v, bias_k, bias_v, add_zero_attn, attn_mask, kpm):
    """``add_bias_kv`` (one learned key/value appended) and ``add_zero_attn`` (a zero one),
    on ``(N, H, S, hd)`` keys/values; each pads the masks by one unmasked column."""
    if (bias_k is None) != (bias_v is None):
        raise ValueError("bias_k is set but bias_v is None" if bias_v is None
                         else "bias_v is set but bias_k is None")
    n, h, _, hd = k.shape
    extra = []
    if bias_k is not None:
        extra.append((bias_k.reshape(1, h, 1, hd), bias_v.reshape(1, h, 1, hd)))
    if add_zero_attn:
        extra.append((jnp.zeros((1, h, 1, hd), k.dtype), jnp.zeros((1, h, 1, v.shape[-1]), v.dtype)))
    for bk, bv in extra:
        k = jnp.concatenate([k, jnp.broadcast_to(bk, (n, h, 1, hd))], axis=2)
        v = jnp.concatenate([v, jnp.broadcast_to(bv, (n, h, 1, v.shape[-1]))], axis=2)
        attn_mask, kpm = _pad_last(attn_mask), _pad_last(kpm)
    return k, v, attn_mask, kpm


def _merged_masks(query, key_padding_mask, attn_mask, need_weights, is_causal):
    """torch's mask handling before the projections: canonical float masks; ``is_causal``
    is a hint that replaces ``attn_mask`` only when nothing else needs the mask."""
    kpm = canonical_mask(key_padding_mask, "key_padding_mask", query.dtype)
    if is_causal and attn_mask is None:
        raise RuntimeError("Need attn_mask if specifying the is_causal hint. You may use the "
                           "Transformer module method `generate_square_subsequent_mask` to "
                           "create this mask.")
    if is_causal and kpm is None and not need_weights:
        return None, None, True
    return canonical_mask(attn_mask, "attn_mask", query.dtype), kpm, False


@autocast_op("multi_head_attention_forward")
def multi_head_attention_forward(
        query: jax.Array, key: jax.Array, value: jax.Array, embed_dim_to_check: int,
        num_heads: int, in_proj_weight: jax.Array | None, in_proj_bias: jax.Array | None,
        bias_k: jax.Array | None, bias_v: jax.Array | None, add_zero_attn: bool,
        dropout_p: float, out_proj_weight: jax.Array, out_proj_bias: jax.Array | None,
        training: bool = True, key_padding_mask: jax.Array | None = None,
        need_weights: bool = True, attn_mask: jax.Array | None = None,
        use_separate_proj_weight: bool = False, q_proj_weight: jax.Array | None = None,
        k_proj_weight: jax.Array | None = None, v_proj_weight: jax.Array | None = None,
        static_k: jax.Array | None = None, static_v: jax.Array | None = None,
        average_attn_weights: bool = True, is_causal: bool = False, *,
        dropout_key: jax.Array | None = None) -> tuple[jax.Array, jax.Array | None]:
    r"""Multi-head attention on sequence-first inputs (``F.multi_head_attention_forward``;
    Vaswani et al. 2017): :math:`\mathrm{Concat}(head_1..head_h) W^O` with
    :math:`head_i = \mathrm{softmax}(Q W_i^Q (K W_i^K)^\top / \sqrt{d_h} + M)\,V W_i^V`.

    ``query (L, N, E)``, ``key (S, N, kdim)``, ``value (S, N, vdim)`` or unbatched
    ``(L, E)``. Masks follow torch: a boolean ``key_padding_mask (N, S)`` or ``attn_mask``
    (``(L, S)`` or ``(N * num_heads, L, S)``) marks with ``True`` the pairs that are *not*
    attended; float masks are added. Returns ``(output (L, N, E), weights)`` with ``weights``
    ``(N, L, S)`` (averaged over heads) or ``(N, num_heads, L, S)``, or ``None`` when
    ``need_weights=False``.

    As in torch, ``need_weights=True`` uses a plain softmax (a fully masked row is NaN) and
    ``need_weights=False`` goes through :func:`scaled_dot_product_attention` (a fully masked
    row gives zeros before the output projection). ``dropout_key`` feeds dropout on the
    weights when ``training`` and ``dropout_p > 0``.
    """
    _check_p(dropout_p)
    is_batched = _mha_shape_check(query, key, value, key_padding_mask, attn_mask, num_heads)
    if not is_batched:
        query, key, value = query[:, None], key[:, None], value[:, None]
        if key_padding_mask is not None:
            key_padding_mask = key_padding_mask[None]
    tgt_len, bsz, embed_dim = query.shape
    attn_mask, kpm, is_causal = _merged_masks(query, key_padding_mask, attn_mask, need_weights,
                                              is_causal)
    if embed_dim != embed_dim_to_check:
        raise ValueError(f"was expecting embedding dimension of {embed_dim_to_check}, but got "
                         f"{embed_dim}")
    head_dim = embed_dim // num_heads
    if head_dim * num_heads != embed_dim:
        raise ValueError(f"embed_dim {embed_dim} not divisible by num_heads {num_heads}")
    if use_separate_proj_weight and key.shape[:2] != value.shape[:2]:
        raise ValueError(f"key's sequence and batch dims {tuple(key.shape[:2])} do not match "
                         f"value's {tuple(value.shape[:2])}")
    if not use_separate_proj_weight and key.shape != value.shape:
        raise ValueError(f"key shape {tuple(key.shape)} does not match value shape "
                         f"{tuple(value.shape)}")
    separate = (q_proj_weight, k_proj_weight, v_proj_weight) if use_separate_proj_weight else None
    q, k, v = _in_projection(query, key, value, in_proj_weight, in_proj_bias, separate)
    if attn_mask is not None:
        attn_mask = _check_attn_mask(attn_mask, tgt_len, key.shape[0], bsz, num_heads)
    if bias_k is not None and (static_k is not None or static_v is not None):
        raise ValueError("bias cannot be added to static key." if static_k is not None
                         else "bias cannot be added to static value.")
    q = _heads(q, bsz, num_heads, head_dim)
    k = _static(static_k, "static_k", bsz, num_heads, head_dim) if static_k is not None \
        else _heads(k, bsz, num_heads, head_dim)
    v = _static(static_v, "static_v", bsz, num_heads, head_dim) if static_v is not None \
        else _heads(v, bsz, num_heads, head_dim)
    k, v, attn_mask, kpm = _extend_kv(k, v, bias_k, bias_v, add_zero_attn, attn_mask, kpm)
    src_len = k.shape[2]
    if kpm is not None:
        if kpm.shape[0] != bsz:
            raise ValueError(f"Expected key_padded_mask.shape[0] to be {bsz}, but got "
                             f"{kpm.shape[0]}")
        if kpm.shape[1] != src_len:
            raise ValueError(f"Expected key_padded_mask.shape[1] to be {src_len}, but got "
                             f"{kpm.shape[1]}")
        kpm = kpm[:, None, None, :]
        attn_mask = kpm if attn_mask is None else attn_mask + kpm
    p = dropout_p if training else 0.0
    if need_weights:
        out, w = _attend(q, k, v, None, attn_mask, 1.0 / math.sqrt(head_dim), False, p,
                         dropout_key)
        w = jnp.mean(w, axis=1) if average_attn_weights else w
    else:
        if attn_mask is not None:
            attn_mask = jnp.broadcast_to(attn_mask, (attn_mask.shape[0], num_heads)
                                         + attn_mask.shape[2:]).astype(q.dtype)
        out = scaled_dot_product_attention(q, k, v, attn_mask, p, is_causal,
                                           dropout_key=dropout_key)
        w = None
    out = jnp.transpose(out, (2, 0, 1, 3)).reshape(tgt_len, bsz, embed_dim)
    out = linear(out, out_proj_weight, out_proj_bias)
    if not is_batched:
        out = out[:, 0]
        w = None if w is None else w[0]
    return out, w
