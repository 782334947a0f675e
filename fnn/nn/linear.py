"""Identity, Linear and Bilinear: ``torch.nn.Identity/Linear/Bilinear``."""

from __future__ import annotations

import math
from typing import Any

import jax

from ._functional.linear import bilinear, linear
from .module import Module

__all__ = ["Identity", "Linear", "Bilinear"]


def _check_features(layer: str, **sizes: int) -> None:
    for name, v in sizes.items():
        if not isinstance(v, int) or isinstance(v, bool) or v < 0:
            raise ValueError(f"{layer}: {name} must be a non-negative int, got {v!r}")


class Identity(Module):
    """``torch.nn.Identity``: returns its input (any constructor arguments are ignored)."""

    def __init__(self, *args: Any, **kwargs: Any):
        pass

    def forward(self, params, x):
        return x


class Linear(Module):
    r"""``torch.nn.Linear(in_features, out_features, bias=True)``: :math:`y = xW^\top + b`.

    Parameters: ``weight`` ``(out_features, in_features)`` and ``bias`` ``(out_features,)``,
    both drawn from :math:`U(-1/\sqrt{in}, 1/\sqrt{in})` as torch's
    ``kaiming_uniform_(a=sqrt(5))`` default gives.
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True):
        _check_features("Linear", in_features=in_features, out_features=out_features)
        self.in_features = in_features
        self.out_features = out_features
        self.bias = bias

    def init_params(self, key, dtype):
        kw, kb = jax.random.split(key)
        bound = 1.0 / math.sqrt(self.in_features) if self.in_features > 0 else 0.0
        p = {"weight": jax.random.uniform(kw, (self.out_features, self.in_features), dtype,
                                          -bound, bound)}
        if self.bias:
            p["bias"] = jax.random.uniform(kb, (self.out_features,), dtype, -bound, bound)
        return p

    def forward(self, params, x):
        if x.ndim < 1 or x.shape[-1] != self.in_features:
            raise ValueError(
                f"{self._label()} expected input with last dimension {self.in_features} "
                f"(in_features), got shape {tuple(x.shape)}")
        return linear(x, params["weight"], params.get("bias"))

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias}"


class Bilinear(Module):
    r"""``torch.nn.Bilinear(in1_features, in2_features, out_features, bias=True)``:
    :math:`y = x_1^\top A x_2 + b`, weight ``(out, in1, in2)``, all parameters
    :math:`U(-1/\sqrt{in1}, 1/\sqrt{in1})`."""

    def __init__(self, in1_features: int, in2_features: int, out_features: int, bias: bool = True):
        _check_features("Bilinear", in1_features=in1_features, in2_features=in2_features,
                        out_features=out_features)
        self.in1_features, self.in2_features = in1_features, in2_features
        self.out_features, self.bias = out_features, bias

    def init_params(self, key, dtype):
        kw, kb = jax.random.split(key)
        bound = 1.0 / math.sqrt(self.in1_features) if self.in1_features > 0 else 0.0
        shape = (self.out_features, self.in1_features, self.in2_features)
        p = {"weight": jax.random.uniform(kw, shape, dtype, -bound, bound)}
        if self.bias:
            p["bias"] = jax.random.uniform(kb, (self.out_features,), dtype, -bound, bound)
        return p

    def forward(self, params, x1, x2):
        if x1.shape[-1] != self.in1_features or x2.shape[-1] != self.in2_features:
            raise ValueError(
                f"{self._label()} expected inputs with last dimensions ({self.in1_features}, "
                f"{self.in2_features}), got shapes {tuple(x1.shape)} and {tuple(x2.shape)}")
        return bilinear(x1, x2, params["weight"], params.get("bias"))

    def extra_repr(self) -> str:
        return (f"in1_features={self.in1_features}, in2_features={self.in2_features}, "
                f"out_features={self.out_features}, bias={self.bias}")


