r"""Recurrent layers: one implementation of torch's RNN_TANH, RNN_RELU, LSTM (with projections)
and GRU, multi-layer and bidirectional, driven by one ``lax.scan`` per layer.

Cell equations (torch's gate order and bias placement; :math:`\sigma` the logistic):

* RNN: :math:`h' = \tanh(W_{ih}x + b_{ih} + W_{hh}h + b_{hh})` (or ReLU).
* LSTM (Hochreiter & Schmidhuber 1997), gates ``i, f, g, o``:
  :math:`c' = \sigma(f) \odot c + \sigma(i) \odot \tanh(g)`,
  :math:`h' = \sigma(o) \odot \tanh(c')`, then :math:`h' \leftarrow W_{hr}h'` with
  ``proj_size > 0`` (Sak et al. 2014).
* GRU (Cho et al. 2014), gates ``r, z, n``:
  :math:`n = \tanh(W_{in}x + b_{in} + r \odot (W_{hn}h + b_{hn}))`,
  :math:`h' = (1 - z) \odot n + z \odot h`.

The input projection :math:`W_{ih}x + b_{ih}` of every time step is one matrix product
outside the scan; only the hidden projection runs inside it. Both directions of a
bidirectional layer share one scan (the reverse direction reads time flipped). Variable
lengths are masks: a step past a sequence's length keeps the state and outputs zero, so
outputs past a length are zero and the final state is the last valid one (for the reverse
direction, the scan meets the padding first and starts from the initial state at the last
valid element), as torch's packed sequences give.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
from jax import lax

from ..._autocast import autocast_op, cast_for
from .dropout import dropout as _dropout

__all__ = ["MODES", "num_gates", "cell", "recurrent", "layer_weights"]

MODES = ("RNN_TANH", "RNN_RELU", "LSTM", "GRU")


def num_gates(mode: str) -> int:
    """Rows of ``weight_ih`` per hidden unit: 4 (LSTM), 3 (GRU), 1 (RNN)."""
    return {"LSTM": 4, "GRU": 3}.get(mode, 1)


class LayerWeights(NamedTuple):
    """One layer's weights, stacked over directions (leading axis of size 1 or 2)."""
    w_ih: jax.Array
    w_hh: jax.Array
    b_ih: jax.Array | None
    b_hh: jax.Array | None
    w_hr: jax.Array | None


def layer_weights(params: dict[str, Any], layer: int, num_directions: int) -> LayerWeights:
    """Stack ``weight_ih_l{layer}`` and ``weight_ih_l{layer}_reverse`` (and friends)."""
    suffixes = ["", "_reverse"][:num_directions]

    def get(name: str) -> jax.Array | None:
        keys = [f"{name}_l{layer}{s}" for s in suffixes]
        if keys[0] not in params:
            return None
        return jnp.stack([jnp.asarray(params[k]) for k in keys])

    w_ih, w_hh = get("weight_ih"), get("weight_hh")
    assert w_ih is not None and w_hh is not None
    return LayerWeights(w_ih, w_hh, get("bias_ih"), get("bias_hh"), get("weight_hr"))


def _update(mode: str, gi: jax.Array, gh: jax.Array, h: jax.Array,
            c: jax.Array | None) -> tuple[jax.Array, jax.Array | None]:
    """One step from the input and hidden pre-activations ``gi``, ``gh`` (biases included):
    the new (unprojected) hidden state and cell state."""
    if mode == "RNN_TANH":
        return jnp.tanh(gi + gh), None
    if mode == "RNN_RELU":
        return jax.nn.relu(gi + gh), None
    if mode == "LSTM":
        assert c is not None
        i, f, g, o = jnp.split(gi + gh, 4, axis=-1)
        c_new = jax.nn.sigmoid(f) * c + jax.nn.sigmoid(i) * jnp.tanh(g)
        return jax.nn.sigmoid(o) * jnp.tanh(c_new), c_new
    ir, iz, in_ = jnp.split(gi, 3, axis=-1)
    hr, hz, hn = jnp.split(gh, 3, axis=-1)
    r = jax.nn.sigmoid(ir + hr)
    z = jax.nn.sigmoid(iz + hz)
    n = jnp.tanh(in_ + r * hn)
    return (1.0 - z) * n + z * h, None


def _affine(x: jax.Array, w: jax.Array, b: jax.Array | None) -> jax.Array:
    x, w, b = cast_for("linear", x, w, b)     # a cell under CPU autocast: torch's `linear`
    y = x @ w.T
    return y if b is None else y + b


@autocast_op("rnn_cell")
def cell(mode: str, x: jax.Array, h: jax.Array, c: jax.Array | None, w_ih: jax.Array,
         w_hh: jax.Array, b_ih: jax.Array | None = None,
         b_hh: jax.Array | None = None) -> tuple[jax.Array, jax.Array | None]:
    """One step of ``RNNCell`` / ``LSTMCell`` / ``GRUCell`` on batched ``x`` ``(B, input_size)``:
    ``(h', c')`` (``c'`` is ``None`` except for LSTM)."""
    return _update(mode, _affine(x, w_ih, b_ih), _affine(h, w_hh, b_hh), h, c)


def _per_direction(h: jax.Array, w: jax.Array) -> jax.Array:
    """``h[d] @ w[d].T`` for each direction ``d`` (one plain matrix product when ``D = 1``)."""
    if w.shape[0] == 1:
        return (h[0] @ w[0].T)[None]
    return jnp.einsum("dbh,dgh->dbg", h, w)


def _hidden(h: jax.Array, w_hh: jax.Array, b_hh: jax.Array | None) -> jax.Array:
    gh = _per_direction(h, w_hh)
    return gh if b_hh is None else gh + b_hh[:, None, :]


def _cell_out(mode: str, gi_t: jax.Array, gh_t: jax.Array, h: jax.Array, c: jax.Array | None,
              w_hr: jax.Array | None, m_t: jax.Array | None) -> tuple[Any, Any, jax.Array]:
    """One step after the hidden projection: the next ``(h, c)`` (kept where the mask is
    off) and the step's output (zero where the mask is off)."""
    h_new, c_new = _update(mode, gi_t, gh_t, h, c)
    if w_hr is not None:
        h_new = _per_direction(h_new, w_hr)
    out = h_new
    if m_t is not None:
        h_new = jnp.where(m_t, h_new, h)
        c_new = None if c is None or c_new is None else jnp.where(m_t, c_new, c)
        out = jnp.where(m_t, out, jnp.zeros((), out.dtype))
    return h_new, c_new, out


def _recurrence(mode: str, gi: jax.Array, h0: jax.Array, c0: Any, w_hh: jax.Array, b_hh: Any,
                w_hr: Any, masks: Any) -> tuple[jax.Array, jax.Array, Any]:
    """The time loop over precomputed input projections ``gi`` ``(T, D, B, G)``: outputs
    ``(T, D, B, Hout)``, final ``h`` and ``c``. Plain ``lax.scan`` autodiff (no custom VJP,
    so forward-mode and higher-order derivatives work, as for Hessian-vector products)."""
    def step(carry, inp):
        h, c = carry
        h_new, c_new, out = _cell_out(mode, inp[0], _hidden(h, w_hh, b_hh), h, c, w_hr, inp[1])
        return (h_new, c_new), out

    (h_n, c_n), out = lax.scan(step, (h0, c0), (gi, masks))
    return out, h_n, c_n


def _scan_layer(mode: str, x: jax.Array, h0: jax.Array, c0: jax.Array | None, w: LayerWeights,
                mask: jax.Array | None) -> tuple[jax.Array, jax.Array, jax.Array | None]:
    """One layer, all directions at once. ``x`` ``(T, B, F)``, ``h0`` ``(D, B, Hout)``,
    ``c0`` ``(D, B, H)``, ``mask`` ``(T, B)`` bool or ``None``. Returns the output
    ``(T, B, D*Hout)`` and the final ``h`` (and ``c``), ``(D, B, ...)``."""
    d = w.w_ih.shape[0]
    gi = jnp.einsum("tbf,dgf->dtbg", x, w.w_ih)
    if w.b_ih is not None:
        gi = gi + w.b_ih[:, None, None, :]
    if d == 2:
        gi = jnp.stack([gi[0], gi[1, ::-1]])
    gi = jnp.moveaxis(gi, 0, 1)  # (T, D, B, G)
    masks = None
    if mask is not None:
        masks = jnp.stack([mask, mask[::-1]][:d], axis=1)[..., None]  # (T, D, B, 1)

    out, h_n, c_n = _recurrence(mode, gi, h0, c0, w.w_hh, w.b_hh, w.w_hr, masks)
    if d == 2:
        out = jnp.concatenate([out[:, 0], out[::-1, 1]], axis=-1)
    else:
        out = out[:, 0]
    return out, h_n, c_n


@autocast_op("rnn_layer")
def recurrent(mode: str, params: dict[str, Any], x: jax.Array, h0: jax.Array,
              c0: jax.Array | None, *, num_layers: int, bidirectional: bool,
              lengths: jax.Array | None = None, dropout: float = 0.0, training: bool = False,
              key: jax.Array | None = None) -> tuple[jax.Array, jax.Array, jax.Array | None]:
    """The multi-layer driver: time-major batched ``x`` ``(T, B, input_size)``, initial
    states ``h0`` ``(L*D, B, Hout)`` and (LSTM) ``c0`` ``(L*D, B, H)``, ``params`` by torch's
    names. ``lengths`` ``(B,)``: valid steps per sequence (``None``: all ``T``). Dropout
    with probability ``dropout`` on every layer's output but the last, in ``training``
    mode, with masks drawn from ``key``. Returns ``(output (T, B, D*Hout), h_n, c_n)``."""
    d = 2 if bidirectional else 1
    mask = None
    if lengths is not None:
        mask = jnp.arange(x.shape[0])[:, None] < jnp.asarray(lengths)[None, :]
    hs: list[jax.Array] = []
    cs: list[jax.Array] = []
    for layer in range(num_layers):
        if layer > 0 and training and dropout > 0.0:
            sub = None
            if key is not None:
                key, sub = jax.random.split(key)
            x = _dropout(x, dropout, training=True, key=sub)
        sl = slice(layer * d, (layer + 1) * d)
        x, h_n, c_n = _scan_layer(mode, x, h0[sl], None if c0 is None else c0[sl],
                                  layer_weights(params, layer, d), mask)
        hs.append(h_n)
        if c_n is not None:
            cs.append(c_n)
    h = jnp.concatenate(hs, axis=0)
    c = jnp.concatenate(cs, axis=0) if cs else None
    return x, h, c
