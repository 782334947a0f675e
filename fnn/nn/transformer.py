"""The Transformer family: ``torch.nn.TransformerEncoderLayer``, ``TransformerDecoderLayer``,
``TransformerEncoder``, ``TransformerDecoder`` and ``Transformer`` (Vaswani et al. 2017).

Parameter names are torch's (``layers.0.self_attn.in_proj_weight``, ``linear1.weight``,
``norm1.bias``, ...), so a torch ``state_dict`` loads as it is
(:func:`fnn.interop.torch.load_state_dict`).

The stacks compile their repeated layers once: when every layer has the same structure
(the usual ``TransformerEncoder(layer, num_layers)``), ``forward`` stacks the per-layer
parameters along a new axis and runs one layer under ``jax.lax.scan``, so compile time does
not grow with depth. Layers that differ (a replaced or subclassed layer) run in a Python
loop; set ``stack.scan_layers = False`` to force the loop.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from . import init as nn_init
from ._functional.activation import gelu, relu
from .attention import MultiheadAttention
from .dropout import Dropout
from .linear import Linear
from .module import Module, ModuleList
from .normalization import LayerNorm

__all__ = ["TransformerEncoderLayer", "TransformerDecoderLayer", "TransformerEncoder",
           "TransformerDecoder", "Transformer", "generate_square_subsequent_mask"]

Activation = str | Callable[[jax.Array], jax.Array] | Module


def generate_square_subsequent_mask(sz: int, dtype: Any = jnp.float32) -> jax.Array:
    r"""The causal float mask of ``nn.Transformer.generate_square_subsequent_mask``:
    ``(sz, sz)`` with :math:`-\infty` above the diagonal and ``0`` elsewhere."""
    return jnp.triu(jnp.full((sz, sz), -jnp.inf, dtype), k=1)


def _activation(activation: Activation) -> Activation:
    if isinstance(activation, str):
        if activation == "relu":
            return relu
        if activation == "gelu":
            return gelu
        raise RuntimeError(f"activation should be relu/gelu, not {activation}")
    if not callable(activation):
        raise TypeError(f"activation must be 'relu', 'gelu' or a callable, got {activation!r}")
    return activation


def _detect_is_causal(mask: Any, is_causal: bool | None, size: int) -> bool:
    """torch's ``_detect_is_causal_mask``: ``is_causal=None`` with a concrete mask equal to the
    causal mask counts as causal (a traced mask counts as not causal: same numbers)."""
    if is_causal is not None:
        return bool(is_causal)
    if mask is None or isinstance(mask, jax.core.Tracer) or tuple(mask.shape) != (size, size):
        return False
    causal = np.triu(np.full((size, size), -np.inf), k=1)
    return bool(np.array_equal(np.asarray(mask), causal.astype(np.asarray(mask).dtype)))


class _Layer(Module):
    """What both layer kinds share: the feed-forward block and the activation."""

    def _ff_block(self, params, x):
        h = self.linear1(params["linear1"], x)
        act = self.activation
        h = act({}, h) if isinstance(act, Module) else act(h)
        h = self.linear2(params["linear2"], self.dropout({}, h))
        return getattr(self, self._ff_dropout)({}, h)

    def _sa_block(self, params, x, attn_mask, key_padding_mask, is_causal):
        x = self.self_attn(params["self_attn"], x, x, x, attn_mask=attn_mask,
                           key_padding_mask=key_padding_mask, need_weights=False,
                           is_causal=is_causal)[0]
        return self.dropout1({}, x)

    def _norm(self, params, i, x):
        return getattr(self, f"norm{i}")(params[f"norm{i}"], x)


def _layer_init(self, d_model: int, nhead: int, dim_feedforward: int, dropout: float,
                activation: Activation, layer_norm_eps: float, batch_first: bool,
                norm_first: bool, bias: bool, cross: bool) -> None:
    """Declare a layer's submodules in torch's order (its ``state_dict`` order)."""
    self.self_attn = MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias,
                                        batch_first=batch_first)
    if cross:
        self.multihead_attn = MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias,
                                                 batch_first=batch_first)
    self.linear1 = Linear(d_model, dim_feedforward, bias=bias)
    self.dropout = Dropout(dropout)
    self.linear2 = Linear(dim_feedforward, d_model, bias=bias)
    self.norm_first = norm_first
    for i in range(1, 4 if cross else 3):
        setattr(self, f"norm{i}", LayerNorm(d_model, eps=layer_norm_eps, bias=bias))
    for i in range(1, 4 if cross else 3):
        setattr(self, f"dropout{i}", Dropout(dropout))
    self.activation = _activation(activation)


class TransformerEncoderLayer(_Layer):
    r"""``torch.nn.TransformerEncoderLayer(d_model, nhead, dim_feedforward=2048, dropout=0.1,
    activation=F.relu, layer_norm_eps=1e-5, batch_first=False, norm_first=False, bias=True)``.

    Post-norm (default): :math:`x = \mathrm{LN}_1(x + \mathrm{SA}(x))`,
    :math:`x = \mathrm{LN}_2(x + \mathrm{FF}(x))`; ``norm_first=True`` (pre-norm):
    :math:`x = x + \mathrm{SA}(\mathrm{LN}_1(x))`, :math:`x = x + \mathrm{FF}(\mathrm{LN}_2(x))`,
    with :math:`\mathrm{FF}(x) = W_2\,\mathrm{drop}(\mathrm{act}(W_1 x))`. ``activation``:
    ``"relu"``, ``"gelu"``, a function of an array or a parameter-free fnn module.

    ``forward(params, src, src_mask=None, src_key_padding_mask=None, is_causal=False)``.
    """

    _ff_dropout = "dropout2"

    def __init__(self, d_model: int, nhead: int, dim_feedforward: int = 2048,
                 dropout: float = 0.1, activation: Activation = relu,
                 layer_norm_eps: float = 1e-5, batch_first: bool = False,
                 norm_first: bool = False, bias: bool = True):
        _layer_init(self, d_model, nhead, dim_feedforward, dropout, activation, layer_norm_eps,
                    batch_first, norm_first, bias, cross=False)

    def forward(self, params, src, src_mask=None, src_key_padding_mask=None, is_causal=False):
        x = src
        if self.norm_first:
            x = x + self._sa_block(params, self._norm(params, 1, x), src_mask,
                                   src_key_padding_mask, is_causal)
            return x + self._ff_block(params, self._norm(params, 2, x))
        x = self._norm(params, 1, x + self._sa_block(params, x, src_mask, src_key_padding_mask,
                                                     is_causal))
        return self._norm(params, 2, x + self._ff_block(params, x))


class TransformerDecoderLayer(_Layer):
    r"""``torch.nn.TransformerDecoderLayer`` (same arguments as
    :class:`TransformerEncoderLayer`): self-attention, cross-attention on ``memory``
    (``multihead_attn``) and the feed-forward block, each with its residual and LayerNorm
    (``norm1..3``; before the block when ``norm_first``).

    ``forward(params, tgt, memory, tgt_mask=None, memory_mask=None, tgt_key_padding_mask=None,
    memory_key_padding_mask=None, tgt_is_causal=False, memory_is_causal=False)``.
    """

    _ff_dropout = "dropout3"

    def __init__(self, d_model: int, nhead: int, dim_feedforward: int = 2048,
                 dropout: float = 0.1, activation: Activation = relu,
                 layer_norm_eps: float = 1e-5, batch_first: bool = False,
                 norm_first: bool = False, bias: bool = True):
        _layer_init(self, d_model, nhead, dim_feedforward, dropout, activation, layer_norm_eps,
                    batch_first, norm_first, bias, cross=True)

    def _mha_block(self, params, x, mem, attn_mask, key_padding_mask, is_causal):
        x = self.multihead_attn(params["multihead_attn"], x, mem, mem, attn_mask=attn_mask,
                                key_padding_mask=key_padding_mask, need_weights=False,
                                is_causal=is_causal)[0]
        return self.dropout2({}, x)

    def forward(self, params, tgt, memory, tgt_mask=None, memory_mask=None,
                tgt_key_padding_mask=None, memory_key_padding_mask=None, tgt_is_causal=False,
                memory_is_causal=False):
        x = tgt
        sa = (tgt_mask, tgt_key_padding_mask, tgt_is_causal)
        ca = (memory_mask, memory_key_padding_mask, memory_is_causal)
        if self.norm_first:
            x = x + self._sa_block(params, self._norm(params, 1, x), *sa)
            x = x + self._mha_block(params, self._norm(params, 2, x), memory, *ca)
            return x + self._ff_block(params, self._norm(params, 3, x))
        x = self._norm(params, 1, x + self._sa_block(params, x, *sa))
        x = self._norm(params, 2, x + self._mha_block(params, x, memory, *ca))
        return self._norm(params, 3, x + self._ff_block(params, x))


def _signature(layer: Module) -> list:
    """Structure of a layer: submodule names, types and hyperparameters."""
    return [(name, type(m), {k: v for k, v in vars(m).items() if not isinstance(v, Module)})
            for name, m in layer.named_modules()]


class _Stack(Module):
    """``num_layers`` deep copies of a layer (``layers``) and an optional final ``norm``."""

    def __init__(self, layer: Module, num_layers: int, norm: Module | None):
        if not isinstance(layer, Module):
            raise TypeError(f"{type(self).__name__}: the layer must be an fnn.nn.Module, got "
                            f"{type(layer).__name__}")
        self.layers = ModuleList([copy.deepcopy(layer) for _ in range(num_layers)])
        self.num_layers = num_layers
        self.norm = norm
        self.scan_layers = True

    def init(self, key: jax.Array, dtype: Any = jnp.float32) -> dict:
        """As torch's deep copies: every layer starts with the *same* parameters (torch's
        documented behaviour; re-initialise them if you want them to differ)."""
        p = super().init(key, dtype)
        if "layers" in p and "0" in p["layers"]:
            p["layers"] = {str(i): p["layers"]["0"] for i in range(len(self.layers))}
        return p

    def _scannable(self) -> bool:
        layers = list(self.layers)
        if not self.scan_layers or len(layers) < 2 or layers[0].init_buffers():
            return False
        first = _signature(layers[0])
        return all(_signature(m) == first for m in layers[1:])

    def _run_layers(self, params, x, call):
        """``x = call(layer, layer_params, x)`` for each layer: one ``lax.scan`` over the
        stacked parameters when the layers are alike, else a loop."""
        layers = list(self.layers)
        lp = params.get("layers", {})
        if not self._scannable():
            for i, layer in enumerate(layers):
                x = call(layer, lp.get(str(i), {}), x)
            return x
        stacked = jax.tree.map(lambda *a: jnp.stack(a), *[lp[str(i)] for i in range(len(layers))])
        ctx = self._ctx()
        base = ctx.key if ctx is not None else None

        def body(h, inputs):
            p, i = inputs
            if base is not None:  # each layer gets its own dropout keys
                ctx.key = jax.random.fold_in(base, i)
            try:
                return call(layers[0], p, h), None
            finally:
                if base is not None:
                    ctx.key = base

        x, _ = jax.lax.scan(body, x, (stacked, jnp.arange(len(layers))))
        return x

    def _final_norm(self, params, x):
        return x if self.norm is None else self.norm(params.get("norm", {}), x)


def _seq_len(x: jax.Array, batch_first: bool) -> int:
    return x.shape[1] if batch_first and x.ndim == 3 else x.shape[0]


class TransformerEncoder(_Stack):
    r"""``torch.nn.TransformerEncoder(encoder_layer, num_layers, norm=None,
    enable_nested_tensor=True, mask_check=True)``: ``num_layers`` copies of
    ``encoder_layer`` (all starting from the same parameters, as torch's deep copies) and an
    optional final ``norm``.

    ``forward(params, src, mask=None, src_key_padding_mask=None, is_causal=None)``;
    ``is_causal=None`` detects a concrete causal ``mask`` as torch does.
    ``enable_nested_tensor`` and ``mask_check`` are accepted and have no effect: torch's
    nested-tensor inference path (eval mode under ``no_grad`` with a padding mask) returns
    zeros at padded positions, fnn always computes torch's regular path.
    """

    def __init__(self, encoder_layer: Module, num_layers: int, norm: Module | None = None,
                 enable_nested_tensor: bool = True, mask_check: bool = True):
        super().__init__(encoder_layer, num_layers, norm)
        self.enable_nested_tensor = enable_nested_tensor
        self.mask_check = mask_check

    def forward(self, params, src, mask=None, src_key_padding_mask=None, is_causal=None):
        first = self.layers[0] if len(self.layers) else None
        bf = bool(getattr(getattr(first, "self_attn", None), "batch_first", False))
        causal = _detect_is_causal(mask, is_causal, _seq_len(src, bf))
        x = self._run_layers(params, src, lambda m, p, h: m(
            p, h, src_mask=mask, src_key_padding_mask=src_key_padding_mask, is_causal=causal))
        return self._final_norm(params, x)


class TransformerDecoder(_Stack):
    r"""``torch.nn.TransformerDecoder(decoder_layer, num_layers, norm=None)``.

    ``forward(params, tgt, memory, tgt_mask=None, memory_mask=None, tgt_key_padding_mask=None,
    memory_key_padding_mask=None, tgt_is_causal=None, memory_is_causal=False)``.
    """

    def __init__(self, decoder_layer: Module, num_layers: int, norm: Module | None = None):
        super().__init__(decoder_layer, num_layers, norm)

    def forward(self, params, tgt, memory, tgt_mask=None, memory_mask=None,
                tgt_key_padding_mask=None, memory_key_padding_mask=None, tgt_is_causal=None,
                memory_is_causal=False):
        first = self.layers[0] if len(self.layers) else None
        bf = bool(getattr(getattr(first, "self_attn", None), "batch_first", False))
        causal = _detect_is_causal(tgt_mask, tgt_is_causal, _seq_len(tgt, bf))
        x = self._run_layers(params, tgt, lambda m, p, h: m(
            p, h, memory, tgt_mask=tgt_mask, memory_mask=memory_mask,
            tgt_key_padding_mask=tgt_key_padding_mask,
            memory_key_padding_mask=memory_key_padding_mask, tgt_is_causal=causal,
            memory_is_causal=memory_is_causal))
        return self._final_norm(params, x)


class Transformer(Module):
    r"""``torch.nn.Transformer(d_model=512, nhead=8, num_encoder_layers=6, num_decoder_layers=6,
    dim_feedforward=2048, dropout=0.1, activation=F.relu, custom_encoder=None,
    custom_decoder=None, layer_norm_eps=1e-5, batch_first=False, norm_first=False, bias=True)``
    (Vaswani et al. 2017, *Attention Is All You Need*): a :class:`TransformerEncoder` and a
    :class:`TransformerDecoder`, each with a final LayerNorm.

    ``forward(params, src, tgt, src_mask=None, tgt_mask=None, memory_mask=None,
    src_key_padding_mask=None, tgt_key_padding_mask=None, memory_key_padding_mask=None,
    src_is_causal=None, tgt_is_causal=None, memory_is_causal=False)``.

    Initialisation as torch's ``_reset_parameters``: ``xavier_uniform_`` on every parameter
    with more than one dimension. Subclass it or replace ``encoder``/``decoder`` (or single
    layers) as in torch; the parameter names follow the modules.
    """

    def __init__(self, d_model: int = 512, nhead: int = 8, num_encoder_layers: int = 6,
                 num_decoder_layers: int = 6, dim_feedforward: int = 2048, dropout: float = 0.1,
                 activation: Activation = relu, custom_encoder: Module | None = None,
                 custom_decoder: Module | None = None, layer_norm_eps: float = 1e-5,
                 batch_first: bool = False, norm_first: bool = False, bias: bool = True):
        args = (d_model, nhead, dim_feedforward, dropout, activation, layer_norm_eps,
                batch_first, norm_first, bias)
        self.encoder = custom_encoder if custom_encoder is not None else TransformerEncoder(
            TransformerEncoderLayer(*args), num_encoder_layers,
            LayerNorm(d_model, eps=layer_norm_eps, bias=bias))
        self.decoder = custom_decoder if custom_decoder is not None else TransformerDecoder(
            TransformerDecoderLayer(*args), num_decoder_layers,
            LayerNorm(d_model, eps=layer_norm_eps, bias=bias))
        self.d_model = d_model
        self.nhead = nhead
        self.batch_first = batch_first

    def init(self, key: jax.Array, dtype: Any = jnp.float32) -> dict:
        k_init, k_xavier = jax.random.split(key)
        p = super().init(k_init, dtype)
        leaves, treedef = jax.tree.flatten(p)
        keys = jax.random.split(k_xavier, max(len(leaves), 1))
        leaves = [nn_init.xavier_uniform_(k, leaf.shape, dtype=leaf.dtype) if leaf.ndim > 1
                  else leaf for k, leaf in zip(keys, leaves)]
        return jax.tree.unflatten(treedef, leaves)

    generate_square_subsequent_mask = staticmethod(generate_square_subsequent_mask)

    def forward(self, params, src, tgt, src_mask=None, tgt_mask=None, memory_mask=None,
                src_key_padding_mask=None, tgt_key_padding_mask=None,
                memory_key_padding_mask=None, src_is_causal=None, tgt_is_causal=None,
                memory_is_causal=False):
        is_batched = src.ndim == 3
        b = 0 if self.batch_first else 1
        if is_batched and src.shape[b] != tgt.shape[b]:
            raise ValueError("the batch number of src and tgt must be equal")
        if src.shape[-1] != self.d_model or tgt.shape[-1] != self.d_model:
            raise ValueError("the feature number of src and tgt must be equal to d_model")
        memory = self.encoder(params["encoder"], src, mask=src_mask,
                              src_key_padding_mask=src_key_padding_mask, is_causal=src_is_causal)
        return self.decoder(params["decoder"], tgt, memory, tgt_mask=tgt_mask,
                            memory_mask=memory_mask, tgt_key_padding_mask=tgt_key_padding_mask,
                            memory_key_padding_mask=memory_key_padding_mask,
                            tgt_is_causal=tgt_is_causal, memory_is_causal=memory_is_causal)
