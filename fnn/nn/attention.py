"""``torch.nn.MultiheadAttention`` as a pure layer.

Parameters have torch's names and layout: ``in_proj_weight (3E, E)`` and ``in_proj_bias (3E,)``
(or ``q_proj_weight``/``k_proj_weight``/``v_proj_weight`` when ``kdim``/``vdim`` differ from
``embed_dim``), optional ``bias_k``/``bias_v (1, 1, E)``, and ``out_proj.weight``/``out_proj.bias``.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from . import init as nn_init
from ._functional.attention import multi_head_attention_forward
from ._functional.dropout import _check_p
from .linear import Linear
from .module import Module

__all__ = ["MultiheadAttention"]


class MultiheadAttention(Module):
    r"""``torch.nn.MultiheadAttention(embed_dim, num_heads, dropout=0.0, bias=True,
    add_bias_kv=False, add_zero_attn=False, kdim=None, vdim=None, batch_first=False)``
    (Vaswani et al. 2017, *Attention Is All You Need*).

    :math:`\mathrm{MultiHead}(Q, K, V) = \mathrm{Concat}(head_1, \dots, head_h)W^O`,
    :math:`head_i = \mathrm{Attention}(QW_i^Q, KW_i^K, VW_i^V)`; see
    :func:`fnn.nn.functional.multi_head_attention_forward` for masks and shapes.

    ``attn_output, attn_weights = mha(params, query, key, value, key_padding_mask=None,
    need_weights=True, attn_mask=None, average_attn_weights=True, is_causal=False)``.
    Boolean masks mark with ``True`` what is *not* attended; float masks are added.
    ``need_weights=False`` returns ``(attn_output, None)``. Dropout on the attention weights
    runs in training mode (``apply(..., train=True, key=...)``).

    Initialisation as torch: ``xavier_uniform_`` on the packed ``in_proj_weight`` (or each of
    the three separate weights), zero ``in_proj_bias`` and ``out_proj.bias``,
    ``xavier_normal_`` on ``bias_k``/``bias_v``; ``out_proj.weight`` as a ``Linear``.

    torch's inference fast path (``torch._native_multi_head_attention``, taken only under
    ``no_grad`` in eval mode) is not reproduced; fnn always computes torch's reference path.
    """

    def __init__(self, embed_dim: int, num_heads: int, dropout: float = 0.0, bias: bool = True,
                 add_bias_kv: bool = False, add_zero_attn: bool = False, kdim: int | None = None,
                 vdim: int | None = None, batch_first: bool = False):
        if embed_dim <= 0 or num_heads <= 0:
            raise ValueError(f"embed_dim and num_heads must be greater than 0, got "
                             f"embed_dim={embed_dim} and num_heads={num_heads} instead")
        _check_p(dropout)
        self.embed_dim = embed_dim
        self.kdim = kdim if kdim is not None else embed_dim
        self.vdim = vdim if vdim is not None else embed_dim
        self._qkv_same_embed_dim = self.kdim == embed_dim and self.vdim == embed_dim
        self.num_heads = num_heads
        self.dropout = dropout
        self.batch_first = batch_first
        self.head_dim = embed_dim // num_heads
        if self.head_dim * num_heads != embed_dim:
            raise ValueError("embed_dim must be divisible by num_heads")
        self.bias = bias
        self.add_bias_kv = add_bias_kv
        self.add_zero_attn = add_zero_attn
        self.out_proj = Linear(embed_dim, embed_dim, bias=bias)

    def init_params(self, key: jax.Array, dtype: Any) -> dict:
        e = self.embed_dim
        kq, kk, kv, kbk, kbv = jax.random.split(key, 5)
        p: dict = {}
        if self._qkv_same_embed_dim:
            p["in_proj_weight"] = nn_init.xavier_uniform_(kq, (3 * e, e), dtype=dtype)
        else:
            p["q_proj_weight"] = nn_init.xavier_uniform_(kq, (e, e), dtype=dtype)
            p["k_proj_weight"] = nn_init.xavier_uniform_(kk, (e, self.kdim), dtype=dtype)
            p["v_proj_weight"] = nn_init.xavier_uniform_(kv, (e, self.vdim), dtype=dtype)
        if self.bias:
            p["in_proj_bias"] = jnp.zeros((3 * e,), dtype)
        if self.add_bias_kv:
            p["bias_k"] = nn_init.xavier_normal_(kbk, (1, 1, e), dtype=dtype)
            p["bias_v"] = nn_init.xavier_normal_(kbv, (1, 1, e), dtype=dtype)
        return p

    def init(self, key: jax.Array, dtype: Any = jnp.float32) -> dict:
        """torch's parameter order (own parameters, then ``out_proj``) and zero ``out_proj.bias``."""
        p = super().init(key, dtype)
        if "bias" in p["out_proj"]:
            p["out_proj"]["bias"] = jnp.zeros_like(p["out_proj"]["bias"])
        order = ["in_proj_weight", "q_proj_weight", "k_proj_weight", "v_proj_weight",
                 "in_proj_bias", "bias_k", "bias_v", "out_proj"]
        return {k: p[k] for k in order if k in p}

    def forward(self, params, query, key, value, key_padding_mask=None, need_weights=True,
                attn_mask=None, average_attn_weights=True, is_causal=False):
        is_batched = query.ndim == 3
        if self.batch_first and is_batched:
            query, key, value = (jnp.swapaxes(x, 0, 1) for x in (query, key, value))
        training = self.is_training() and self.dropout > 0.0
        out, w = multi_head_attention_forward(
            query, key, value, self.embed_dim, self.num_heads, params.get("in_proj_weight"),
            params.get("in_proj_bias"), params.get("bias_k"), params.get("bias_v"),
            self.add_zero_attn, self.dropout, params["out_proj"]["weight"],
            params["out_proj"].get("bias"), training=training,
            key_padding_mask=key_padding_mask, need_weights=need_weights, attn_mask=attn_mask,
            use_separate_proj_weight=not self._qkv_same_embed_dim,
            q_proj_weight=params.get("q_proj_weight"), k_proj_weight=params.get("k_proj_weight"),
            v_proj_weight=params.get("v_proj_weight"), average_attn_weights=average_attn_weights,
            is_causal=is_causal, dropout_key=self.make_key() if training else None)
        if self.batch_first and is_batched:
            out = jnp.swapaxes(out, 0, 1)
        return out, w
