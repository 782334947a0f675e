"""Activation layers: ``torch.nn.ReLU``, ``GELU``, ``Softmax``, ... (parameter-free except PReLU).

Each layer stores torch's constructor arguments, prints torch's repr and calls the
function of the same name in :mod:`fnn.nn.functional`. ``inplace=`` is accepted (and
shown in the repr, as torch does) but has no effect: JAX arrays are immutable.
"""

from __future__ import annotations

from typing import Any, ClassVar

import jax
import jax.numpy as jnp

from .. import _check
from ._functional import activation as A
from .module import Module

__all__ = ["ReLU", "ReLU6", "LeakyReLU", "PReLU", "ELU", "SELU", "CELU", "GELU", "SiLU", "Mish",
           "Sigmoid", "Tanh", "Hardtanh", "Hardsigmoid", "Hardswish", "Softplus", "Softsign",
           "Softmax", "LogSoftmax", "Threshold", "Tanhshrink", "LogSigmoid", "GLU", "Softmin",
           "Softmax2d", "Hardshrink", "Softshrink", "RReLU"]


class _Activation(Module):
    """A parameter-free elementwise layer: ``forward(params, x) = fn(x, **fields)``."""

    _fn: ClassVar[Any]
    _fields: ClassVar[tuple[str, ...]] = ()

    def __init__(self, inplace: bool = False) -> None:
        self.inplace = inplace

    def forward(self, params, x):
        return type(self)._fn(x, **{f: getattr(self, f) for f in self._fields})

    def extra_repr(self) -> str:
        parts = [f"{f}={getattr(self, f)!r}" if isinstance(getattr(self, f), str)
                 else f"{f}={getattr(self, f)}" for f in self._fields]
        if getattr(self, "inplace", False):
            parts.append("inplace=True")
        return ", ".join(parts)


class ReLU(_Activation):
    """``torch.nn.ReLU(inplace=False)``: :func:`fnn.nn.functional.relu`."""

    _fn = A.relu


class ReLU6(_Activation):
    """``torch.nn.ReLU6(inplace=False)``: :func:`fnn.nn.functional.relu6`."""

    _fn = A.relu6


class SELU(_Activation):
    """``torch.nn.SELU(inplace=False)``: :func:`fnn.nn.functional.selu`."""

    _fn = A.selu


class SiLU(_Activation):
    """``torch.nn.SiLU(inplace=False)``: :func:`fnn.nn.functional.silu`."""

    _fn = A.silu


class Mish(_Activation):
    """``torch.nn.Mish(inplace=False)``: :func:`fnn.nn.functional.mish`."""

    _fn = A.mish


class Hardsigmoid(_Activation):
    """``torch.nn.Hardsigmoid(inplace=False)``: :func:`fnn.nn.functional.hardsigmoid`."""

    _fn = A.hardsigmoid


class Hardswish(_Activation):
    """``torch.nn.Hardswish(inplace=False)``: :func:`fnn.nn.functional.hardswish`."""

    _fn = A.hardswish


class Sigmoid(_Activation):
    """``torch.nn.Sigmoid()``: :func:`fnn.nn.functional.sigmoid`."""

    _fn = A.sigmoid

    def __init__(self) -> None:
        pass


class Tanh(_Activation):
    """``torch.nn.Tanh()``: :func:`fnn.nn.functional.tanh`."""

    _fn = A.tanh

    def __init__(self) -> None:
        pass


class Softsign(_Activation):
    """``torch.nn.Softsign()``: :func:`fnn.nn.functional.softsign`."""

    _fn = A.softsign

    def __init__(self) -> None:
        pass


class LeakyReLU(_Activation):
    """``torch.nn.LeakyReLU(negative_slope=0.01, inplace=False)``."""

    _fn = A.leaky_relu
    _fields = ("negative_slope",)

    def __init__(self, negative_slope: float = 0.01, inplace: bool = False) -> None:
        _check.number("LeakyReLU", "negative_slope", negative_slope)
        self.negative_slope = negative_slope
        self.inplace = inplace


class ELU(_Activation):
    """``torch.nn.ELU(alpha=1.0, inplace=False)``."""

    _fn = A.elu
    _fields = ("alpha",)

    def __init__(self, alpha: float = 1.0, inplace: bool = False) -> None:
        _check.number(type(self).__name__, "alpha", alpha)
        if type(self) is CELU and _check.is_number(alpha) and not isinstance(
                alpha, jax.core.Tracer) and alpha == 0:
            raise ValueError("CELU: ZeroDivisionError: alpha cannot be 0 for CELU")
        self.alpha = alpha
        self.inplace = inplace


class CELU(ELU):
    """``torch.nn.CELU(alpha=1.0, inplace=False)``."""

    _fn = A.celu


class GELU(_Activation):
    """``torch.nn.GELU(approximate='none')`` (``'tanh'`` for the tanh approximation)."""

    _fn = A.gelu
    _fields = ("approximate",)

    def __init__(self, approximate: str = "none") -> None:
        if approximate not in ("none", "tanh"):
            raise ValueError(f"GELU: approximate argument must be either none or tanh. "
                             f"(got {approximate!r})")
        self.approximate = approximate


class Hardtanh(_Activation):
    """``torch.nn.Hardtanh(min_val=-1.0, max_val=1.0, inplace=False)``."""

    _fn = A.hardtanh
    _fields = ("min_val", "max_val")

    def __init__(self, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False) -> None:
        _check.number("Hardtanh", "min_val", min_val)
        _check.number("Hardtanh", "max_val", max_val)
        if min_val > max_val:
            raise ValueError(f"Hardtanh: min_val cannot be greater than max_val (got "
                             f"min_val={min_val}, max_val={max_val})")
        self.min_val = min_val
        self.max_val = max_val
        self.inplace = inplace


class Softplus(_Activation):
    """``torch.nn.Softplus(beta=1.0, threshold=20.0)``."""

    _fn = A.softplus
    _fields = ("beta", "threshold")

    def __init__(self, beta: float = 1.0, threshold: float = 20.0) -> None:
        _check.number("Softplus", "beta", beta)
        _check.number("Softplus", "threshold", threshold)
        self.beta = beta
        self.threshold = threshold


class Threshold(_Activation):
    """``torch.nn.Threshold(threshold, value, inplace=False)``."""

    _fn = A.threshold
    _fields = ("threshold", "value")

    def __init__(self, threshold: float, value: float, inplace: bool = False) -> None:
        _check.number("Threshold", "threshold", threshold)
        _check.number("Threshold", "value", value)
        self.threshold = threshold
        self.value = value
        self.inplace = inplace


class Softmax(_Activation):
    """``torch.nn.Softmax(dim=None)``: :func:`fnn.nn.functional.softmax` along ``dim``."""

    _fn = A.softmax
    _fields = ("dim",)

    def __init__(self, dim: int | None = None) -> None:
        _check.integer(type(self).__name__, "dim", dim, allow_none=True)
        self.dim = dim


class LogSoftmax(Softmax):
    """``torch.nn.LogSoftmax(dim=None)``: :func:`fnn.nn.functional.log_softmax` along ``dim``."""

    _fn = A.log_softmax


class PReLU(Module):
    r"""``torch.nn.PReLU(num_parameters=1, init=0.25)``: :math:`x` if :math:`x > 0` else
    :math:`a x`, with a learnable ``weight`` :math:`a` of shape ``(num_parameters,)``
    (one per channel, dim 1 of the input, or one shared), initialised to ``init``
    (He et al. 2015, *Delving Deep into Rectifiers*)."""

    def __init__(self, num_parameters: int = 1, init: float = 0.25) -> None:
        if not isinstance(num_parameters, int) or num_parameters < 1:
            raise ValueError(f"PReLU: num_parameters must be a positive int, got {num_parameters!r}")
        _check.number("PReLU", "init", init)
        self.num_parameters = num_parameters
        self.init_value = init

    def init_params(self, key: jax.Array, dtype: Any) -> dict:
        return {"weight": jnp.full((self.num_parameters,), self.init_value, dtype)}

    def forward(self, params, x):
        return A.prelu(x, params["weight"])

    def extra_repr(self) -> str:
        return f"num_parameters={self.num_parameters}"


# ---------------------------------------------------------------------- issue 18 (layers-b)
class _NoArgActivation(_Activation):
    def __init__(self) -> None:
        pass


class Tanhshrink(_NoArgActivation):
    """``torch.nn.Tanhshrink()``: :func:`fnn.nn.functional.tanhshrink`, :math:`x - \\tanh x`."""

    _fn = A.tanhshrink


class LogSigmoid(_NoArgActivation):
    """``torch.nn.LogSigmoid()``: :func:`fnn.nn.functional.logsigmoid`."""

    _fn = A.logsigmoid


class GLU(_Activation):
    """``torch.nn.GLU(dim=-1)``: :func:`fnn.nn.functional.glu` (Dauphin et al. 2016)."""

    _fn = A.glu
    _fields = ("dim",)

    def __init__(self, dim: int = -1) -> None:
        _check.integer("GLU", "dim", dim)
        self.dim = dim


class Softmin(_Activation):
    """``torch.nn.Softmin(dim=None)``: :func:`fnn.nn.functional.softmin` along ``dim``."""

    _fn = A.softmin
    _fields = ("dim",)

    def __init__(self, dim: int | None = None) -> None:
        _check.integer("Softmin", "dim", dim, allow_none=True)
        self.dim = dim


class Softmax2d(_NoArgActivation):
    """``torch.nn.Softmax2d()``: softmax over the channels (dim -3) of ``(N, C, H, W)`` or
    ``(C, H, W)`` inputs."""

    def forward(self, params, x):
        if x.ndim not in (3, 4):
            raise ValueError(f"Softmax2d: expected input to be 3D or 4D, got {x.ndim}D instead")
        return A.softmax(x, -3)


class Hardshrink(_Activation):
    """``torch.nn.Hardshrink(lambd=0.5)``: :func:`fnn.nn.functional.hardshrink`."""

    _fn = A.hardshrink
    _fields = ("lambd",)

    def __init__(self, lambd: float = 0.5) -> None:
        _check.number(type(self).__name__, "lambd", lambd)
        self.lambd = lambd

    def extra_repr(self) -> str:
        return f"{self.lambd}"


class Softshrink(Hardshrink):
    """``torch.nn.Softshrink(lambd=0.5)``: :func:`fnn.nn.functional.softshrink`."""

    _fn = A.softshrink


class RReLU(Module):
    r"""``torch.nn.RReLU(lower=1/8, upper=1/3, inplace=False)``: :func:`fnn.nn.functional.rrelu`.

    Training mode (``apply(..., train=True, key=...)``) draws one slope
    :math:`a \sim U(\text{lower}, \text{upper})` per negative element from the layer's key
    (:meth:`Module.make_key`); eval mode uses the mean slope :math:`(\text{lower} +
    \text{upper})/2` (Xu et al. 2015).
    """

    def __init__(self, lower: float = 1.0 / 8, upper: float = 1.0 / 3,
                 inplace: bool = False) -> None:
        _check.number("RReLU", "lower", lower)
        _check.number("RReLU", "upper", upper)
        self.lower, self.upper, self.inplace = lower, upper, inplace

    def forward(self, params, x):
        training = self.is_training()
        key = self.make_key() if training else None
        return A.rrelu(x, self.lower, self.upper, training, key=key)

    def extra_repr(self) -> str:
        return f"lower={self.lower}, upper={self.upper}" + (", inplace=True" if self.inplace
                                                           else "")
