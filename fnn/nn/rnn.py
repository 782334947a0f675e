r"""Recurrent layers: ``RNN``, ``LSTM``, ``GRU`` and their cells (``torch.nn`` names and args).

Applied with parameters first, as every fnn layer::

    lstm = nn.LSTM(10, 20, num_layers=2, batch_first=True)
    params = lstm.init(jax.random.key(0))     # weight_ih_l0, weight_hh_l0, bias_ih_l0, ...
    out, (h_n, c_n) = lstm(params, x)         # hx=(h_0, c_0) optional, zeros by default
    out, h_n = nn.GRU(10, 20)(gru_params, x, h_0)

Parameters are torch's: per layer ``l`` and direction (suffix ``_reverse``)
``weight_ih_l{l}`` ``(G*H, in)``, ``weight_hh_l{l}`` ``(G*H, Hout)``, ``bias_ih_l{l}``,
``bias_hh_l{l}`` ``(G*H,)`` and, for an LSTM with ``proj_size > 0``, ``weight_hr_l{l}``
``(proj_size, H)``; ``G`` is 4 (LSTM gates i, f, g, o), 3 (GRU r, z, n) or 1, and
``Hout`` is ``proj_size`` or ``H``. Every parameter starts as torch's:
:math:`U(-1/\sqrt{H}, 1/\sqrt{H})`. The equations are in :mod:`fnn.nn._functional.rnn`.

Inputs: ``(T, B, in)`` (``(B, T, in)`` with ``batch_first``), an unbatched ``(T, in)``, or
a :class:`fnn.nn.utils.rnn.PackedSequence`. Dropout between layers (``dropout > 0``) acts
in training mode (``apply(..., train=True, key=key)``) and draws from the module's key.
"""

from __future__ import annotations

import functools
import math
import numbers
import warnings
from typing import Any

import jax
import jax.numpy as jnp

from ._functional.rnn import cell, num_gates, recurrent
from .module import Module
from .utils.rnn import PackedSequence

__all__ = ["RNNBase", "RNN", "LSTM", "GRU", "RNNCellBase", "RNNCell", "LSTMCell", "GRUCell"]


def _check_sizes(input_size: Any, hidden_size: Any) -> None:
    for name, v in (("input_size", input_size), ("hidden_size", hidden_size)):
        if not isinstance(v, int) or isinstance(v, bool):
            raise TypeError(f"{name} should be of type int, got: {type(v).__name__}")
        if v <= 0:
            raise ValueError(f"{name} must be greater than zero")


def _check_bool(name: str, v: Any) -> None:
    if not isinstance(v, bool):
        raise TypeError(f"{name} should be of type bool, got: {type(v).__name__}")


@functools.partial(jax.jit, static_argnums=(1, 2, 3))
def _draw(key: jax.Array, shapes: tuple[tuple[str, tuple[int, ...]], ...], bound: float,
          dtype: Any) -> dict[str, jax.Array]:
    sizes = [math.prod(s) for _, s in shapes]
    flat = jax.random.uniform(key, (sum(sizes),), dtype, -bound, bound)
    offsets = [sum(sizes[:i]) for i in range(len(sizes))]
    return {n: flat[o:o + k].reshape(s) for (n, s), o, k in zip(shapes, offsets, sizes)}


def _uniform_params(shapes: dict[str, tuple[int, ...]], hidden_size: int, key: jax.Array,
                    dtype: Any) -> dict[str, jax.Array]:
    """torch's ``reset_parameters``: every parameter :math:`U(-1/\\sqrt{H}, 1/\\sqrt{H})`
    (one draw, sliced: a deep LSTM has many parameters, and one draw compiles fast)."""
    out = _draw(key, tuple(shapes.items()), 1.0 / math.sqrt(hidden_size), jnp.dtype(dtype))
    return {n: out[n] for n in shapes}  # jit returns sorted keys: restore torch's order


class RNNBase(Module):
    """Shared constructor, parameters, checks and forward of ``RNN``, ``LSTM`` and ``GRU``
    (``torch.nn.RNNBase``): ``mode`` is ``'RNN_TANH'``, ``'RNN_RELU'``, ``'LSTM'`` or ``'GRU'``."""

    def __init__(self, mode: str, input_size: int, hidden_size: int, num_layers: int = 1,
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0,
                 bidirectional: bool = False, proj_size: int = 0):
        if (not isinstance(dropout, numbers.Number) or isinstance(dropout, bool)
                or not 0 <= dropout <= 1):  # type: ignore[operator]
            raise ValueError("dropout should be a number in range [0, 1] representing the "
                             "probability of an element being zeroed")
        if dropout > 0 and num_layers == 1:  # type: ignore[operator]
            warnings.warn("dropout option adds dropout after all but last recurrent layer, so "
                          "non-zero dropout expects num_layers greater than 1, but got "
                          f"dropout={dropout} and num_layers={num_layers}", stacklevel=3)
        _check_bool("bias", bias)
        _check_bool("batch_first", batch_first)
        _check_sizes(input_size, hidden_size)
        if not isinstance(num_layers, int) or isinstance(num_layers, bool):
            raise TypeError(f"num_layers should be of type int, got: {type(num_layers).__name__}")
        if num_layers <= 0:
            raise ValueError("num_layers must be greater than zero")
        if not isinstance(proj_size, int) or isinstance(proj_size, bool) or proj_size < 0:
            raise ValueError("proj_size should be a positive integer or zero to disable projections")
        if proj_size >= hidden_size:
            raise ValueError("proj_size has to be smaller than hidden_size")
        if mode not in ("RNN_TANH", "RNN_RELU", "LSTM", "GRU"):
            raise ValueError("Unrecognized RNN mode: " + str(mode))
        self.mode, self.input_size, self.hidden_size = mode, input_size, hidden_size
        self.num_layers, self.bias, self.batch_first = num_layers, bias, batch_first
        self.dropout, self.bidirectional, self.proj_size = float(dropout), bidirectional, proj_size

    @property
    def _directions(self) -> int:
        return 2 if self.bidirectional else 1

    @property
    def _out_size(self) -> int:
        return self.proj_size if self.proj_size > 0 else self.hidden_size

    def _param_shapes(self) -> dict[str, tuple[int, ...]]:
        gate = num_gates(self.mode) * self.hidden_size
        shapes: dict[str, tuple[int, ...]] = {}
        for layer in range(self.num_layers):
            in_size = self.input_size if layer == 0 else self._out_size * self._directions
            for suffix in ["", "_reverse"][:self._directions]:
                s = f"_l{layer}{suffix}"
                shapes["weight_ih" + s] = (gate, in_size)
                shapes["weight_hh" + s] = (gate, self._out_size)
                if self.bias:
                    shapes["bias_ih" + s] = (gate,)
                    shapes["bias_hh" + s] = (gate,)
                if self.proj_size > 0:
                    shapes["weight_hr" + s] = (self.proj_size, self.hidden_size)
        return shapes

    def init_params(self, key, dtype):
        return _uniform_params(self._param_shapes(), self.hidden_size, key, dtype)

    # ---------------------------------------------------------------- checks
    def _check_input(self, x: jax.Array, weight: jax.Array) -> None:
        if x.dtype != weight.dtype:
            raise ValueError(f"RNN input dtype ({x.dtype}) does not match weight dtype "
                             f"({weight.dtype}). Convert input: input.astype({weight.dtype}), "
                             f"or convert the params to {x.dtype}")
        if x.shape[-1] != self.input_size:
            raise ValueError(f"input.size(-1) must be equal to input_size. Expected "
                             f"{self.input_size}, got {x.shape[-1]}")

    def _check_hidden(self, hx: Any, batch: int, unbatched: bool) -> None:
        lstm = self.mode == "LSTM"
        parts = list(hx) if lstm else [hx]
        want = 2 if unbatched else 3
        if any(jnp.ndim(p) != want for p in parts):
            kind = "unbatched 2-D" if unbatched else "batched 3-D"
            dims = ", ".join(f"{jnp.ndim(p)}-D" for p in parts)
            if lstm:
                raise ValueError(f"For {kind} input, hx and cx should also be {want}-D but got "
                                 f"({dims}) tensors")
            raise ValueError(f"For {kind} input, hx should also be {want}-D but got {dims} tensor")
        ld = self.num_layers * self._directions
        sizes = [self._out_size, self.hidden_size]
        for i, p in enumerate(parts):
            expected = (ld, batch, sizes[i])
            got = tuple(jnp.shape(p)) if not unbatched else (p.shape[0], 1, p.shape[1])
            if got != expected:
                fmt = f"Expected hidden[{i}] size {{}}, got {{}}" if lstm else "Expected hidden size {}, got {}"
                raise ValueError(fmt.format(expected, list(got)))

    # ---------------------------------------------------------------- forward
    def forward(self, params, input, hx=None):
        """``(output, h_n)`` (LSTM: ``(output, (h_n, c_n))``), torch's shapes."""
        packed = isinstance(input, PackedSequence)
        name = {"RNN_TANH": "RNN", "RNN_RELU": "RNN"}.get(self.mode, self.mode)
        lengths = input.lengths if packed else None
        x = input.padded if packed else jnp.asarray(input)
        if not packed and x.ndim not in (2, 3):
            raise ValueError(f"{name}: Expected input to be 2D or 3D, got {x.ndim}D instead")
        unbatched = not packed and x.ndim == 2
        if unbatched:
            x = x[:, None]
        elif self.batch_first and not packed:
            x = jnp.swapaxes(x, 0, 1)
        self._check_input(x, params["weight_ih_l0"])
        batch, ld = x.shape[1], self.num_layers * self._directions
        if hx is None:
            h0 = jnp.zeros((ld, batch, self._out_size), x.dtype)
            c0 = jnp.zeros((ld, batch, self.hidden_size), x.dtype) if self.mode == "LSTM" else None
        else:
            self._check_hidden(hx, batch, unbatched)
            h0, c0 = (hx if self.mode == "LSTM" else (hx, None))
            if unbatched:
                h0, c0 = h0[:, None], (None if c0 is None else c0[:, None])
        training = self.is_training() and self.dropout > 0 and self.num_layers > 1
        key = self.make_key() if training and self.dropout < 1 else None
        out, h_n, c_n = recurrent(self.mode, params, x, h0, c0, num_layers=self.num_layers,
                                  bidirectional=self.bidirectional, lengths=lengths,
                                  dropout=self.dropout, training=training, key=key)
        if packed:
            out = PackedSequence(out, input.lengths, input.sorted)
        elif unbatched:
            out, h_n = out[:, 0], h_n[:, 0]
            c_n = None if c_n is None else c_n[:, 0]
        elif self.batch_first:
            out = jnp.swapaxes(out, 0, 1)
        return (out, (h_n, c_n)) if self.mode == "LSTM" else (out, h_n)

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.proj_size != 0:
            s += f", proj_size={self.proj_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if self.bias is not True:
            s += f", bias={self.bias}"
        if self.batch_first is not False:
            s += f", batch_first={self.batch_first}"
        if self.dropout != 0:
            s += f", dropout={self.dropout}"
        if self.bidirectional is not False:
            s += f", bidirectional={self.bidirectional}"
        return s


def _no_proj(kwargs: dict[str, Any], name: str) -> None:
    if "proj_size" in kwargs:
        raise ValueError("proj_size argument is only supported for LSTM, not RNN or GRU")
    if kwargs:
        raise TypeError(f"{name}.__init__() got an unexpected keyword argument {next(iter(kwargs))!r}")


class RNN(RNNBase):
    r"""``torch.nn.RNN``: Elman RNN, :math:`h_t = \tanh(W_{ih}x_t + b_{ih} + W_{hh}h_{t-1} + b_{hh})`
    (``nonlinearity='relu'``: ReLU). ``out, h_n = rnn(params, x, h_0=None)``."""

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 nonlinearity: str = "tanh", bias: bool = True, batch_first: bool = False,
                 dropout: float = 0.0, bidirectional: bool = False, **kwargs: Any):
        _no_proj(kwargs, "RNN")
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"Unknown nonlinearity '{nonlinearity}'. Select from 'tanh' or 'relu'.")
        self.nonlinearity = nonlinearity
        super().__init__("RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU", input_size,
                         hidden_size, num_layers, bias, batch_first, dropout, bidirectional)


class LSTM(RNNBase):
    r"""``torch.nn.LSTM`` (Hochreiter & Schmidhuber 1997; projections: Sak et al. 2014):
    gates ``i, f, g, o``, :math:`c_t = f \odot c_{t-1} + i \odot g`,
    :math:`h_t = o \odot \tanh(c_t)` (times :math:`W_{hr}` with ``proj_size > 0``).
    ``out, (h_n, c_n) = lstm(params, x, (h_0, c_0)=None)``."""

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 proj_size: int = 0):
        super().__init__("LSTM", input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, proj_size)


class GRU(RNNBase):
    r"""``torch.nn.GRU`` (Cho et al. 2014): gates ``r, z, n``,
    :math:`n_t = \tanh(W_{in}x_t + b_{in} + r_t \odot (W_{hn}h_{t-1} + b_{hn}))`,
    :math:`h_t = (1 - z_t) \odot n_t + z_t \odot h_{t-1}`. ``out, h_n = gru(params, x, h_0=None)``."""

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 **kwargs: Any):
        _no_proj(kwargs, "GRU")
        super().__init__("GRU", input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional)


# ---------------------------------------------------------------------- cells
class RNNCellBase(Module):
    """Shared parameters and checks of the cells (``torch.nn.RNNCellBase``): ``weight_ih``
    ``(G*H, in)``, ``weight_hh`` ``(G*H, H)``, ``bias_ih``, ``bias_hh`` ``(G*H,)``, all
    :math:`U(-1/\\sqrt{H}, 1/\\sqrt{H})`. One step; usable inside a user's ``lax.scan``."""

    _mode = "RNN_TANH"

    def __init__(self, input_size: int, hidden_size: int, bias: bool, num_chunks: int):
        _check_sizes(input_size, hidden_size)
        _check_bool("bias", bias)
        self.input_size, self.hidden_size, self.bias = input_size, hidden_size, bias
        self._fnn_chunks = num_chunks

    def init_params(self, key, dtype):
        g = self._fnn_chunks * self.hidden_size
        shapes = {"weight_ih": (g, self.input_size), "weight_hh": (g, self.hidden_size)}
        if self.bias:
            shapes.update(bias_ih=(g,), bias_hh=(g,))
        return _uniform_params(shapes, self.hidden_size, key, dtype)

    def _step(self, params: dict[str, Any], x: jax.Array, hx: Any) -> Any:
        name = type(self).__name__
        x = jnp.asarray(x)
        if x.ndim not in (1, 2):
            raise ValueError(f"{name}: Expected input to be 1D or 2D, got {x.ndim}D instead")
        lstm = self._mode == "LSTM"
        states = None if hx is None else (list(hx) if lstm else [hx])
        for i, s in enumerate(states or []):
            if jnp.ndim(s) not in (1, 2):
                what = f"hx[{i}]" if lstm else "hidden"
                raise ValueError(f"{name}: Expected {what} to be 1D or 2D, got {jnp.ndim(s)}D instead")
        batched = x.ndim == 2
        xb = x if batched else x[None]
        if xb.shape[1] != self.input_size:
            raise ValueError(f"input has inconsistent input_size: got {xb.shape[1]} expected "
                             f"{self.input_size}")
        if states is None:
            states = [jnp.zeros((xb.shape[0], self.hidden_size), xb.dtype)] * (2 if lstm else 1)
        else:
            states = [jnp.asarray(s) if batched else jnp.asarray(s)[None] for s in states]
        for i, s in enumerate(states):
            if s.shape[-1] != self.hidden_size:
                raise ValueError(f"hidden{i} has inconsistent hidden_size: got {s.shape[-1]}, "
                                 f"expected {self.hidden_size}")
            if s.shape[0] != xb.shape[0]:
                raise ValueError(f"Input batch size {xb.shape[0]} doesn't match hidden{i} batch "
                                 f"size {s.shape[0]}")
        h, c = cell(self._mode, xb, states[0], states[1] if lstm else None, params["weight_ih"],
                    params["weight_hh"], params.get("bias_ih"), params.get("bias_hh"))
        if not batched:
            h, c = h[0], (None if c is None else c[0])
        return (h, c) if lstm else h

    def forward(self, params, input, hx=None):
        return self._step(params, input, hx)

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.bias is not True:
            s += f", bias={self.bias}"
        nl = getattr(self, "nonlinearity", "tanh")
        if nl != "tanh":
            s += f", nonlinearity={nl}"
        return s


class RNNCell(RNNCellBase):
    r"""``torch.nn.RNNCell``: :math:`h' = \tanh(W_{ih}x + b_{ih} + W_{hh}h + b_{hh})` (or ReLU).
    ``h' = cell(params, x, h=None)``."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True,
                 nonlinearity: str = "tanh"):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"Unknown nonlinearity: {nonlinearity}")
        super().__init__(input_size, hidden_size, bias, num_chunks=1)
        self.nonlinearity = nonlinearity
        self._mode = "RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU"


class LSTMCell(RNNCellBase):
    r"""``torch.nn.LSTMCell``: one LSTM step (gates ``i, f, g, o``).
    ``(h', c') = cell(params, x, (h, c)=None)``."""

    _mode = "LSTM"

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True):
        super().__init__(input_size, hidden_size, bias, num_chunks=4)


class GRUCell(RNNCellBase):
    r"""``torch.nn.GRUCell``: one GRU step (gates ``r, z, n``, ``b_hn`` inside the reset
    product). ``h' = cell(params, x, h=None)``."""

    _mode = "GRU"

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True):
        super().__init__(input_size, hidden_size, bias, num_chunks=3)
