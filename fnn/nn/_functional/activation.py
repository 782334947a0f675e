"""Activation functions: ``torch.nn.functional.relu``, ``gelu``, ``softmax``, ...

Each is written as a ``jnp.where`` over torch's own branches, so that values *and*
gradients at the kinks are torch's: ``relu'(0) = 0``, ``leaky_relu'(0) = slope``,
``hardtanh`` has zero gradient at both bounds, ``hardswish'(-3) = 0``,
``hardswish'(3) = 1``, ``elu'(0) = alpha``. Branches that could overflow are fed
clamped inputs ("double where"), so gradients never pick up ``0 * inf = nan``.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.special import erf

from ... import _check
from ..._autocast import autocast_op

__all__ = ["relu", "relu6", "leaky_relu", "prelu", "elu", "selu", "celu", "gelu", "silu",
           "mish", "sigmoid", "tanh", "hardtanh", "hardsigmoid", "hardswish", "softplus",
           "softsign", "softmax", "log_softmax", "threshold", "logsigmoid", "glu", "softmin",
           "hardshrink", "softshrink", "tanhshrink", "rrelu", "gumbel_softmax"]

# torch's SELU constants (aten/src/ATen/native/Activation.cpp)
_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def _input(who: str, input: Any) -> jax.Array:
    """``input`` as an array; a clear ``TypeError`` for strings, ``None`` and the like."""
    if not _check.is_number(input) and not isinstance(input, (list, tuple)):
        raise TypeError(f"{who}: input must be an array, got {type(input).__name__}")
    return jnp.asarray(input)


def threshold(input: jax.Array, threshold: float, value: float) -> jax.Array:
    r""":math:`y = x` if :math:`x > \text{threshold}` else ``value`` (``F.threshold``).

    The gradient is 1 where :math:`x > \text{threshold}` and 0 elsewhere, as in torch.
    """
    _check.number("threshold", "threshold", threshold)
    _check.number("threshold", "value", value)
    input = _input("threshold", input)
    return jnp.where(input > threshold, input, jnp.asarray(value, input.dtype))


def relu(input: jax.Array) -> jax.Array:
    r""":math:`\max(0, x)` (``F.relu``); the gradient at 0 is 0, as in torch."""
    return threshold(_input("relu", input), 0.0, 0.0)


def hardtanh(input: jax.Array, min_val: float = -1.0, max_val: float = 1.0) -> jax.Array:
    r""":math:`\mathrm{clamp}(x, \text{min\_val}, \text{max\_val})` (``F.hardtanh``).

    The gradient is 1 strictly inside ``(min_val, max_val)`` and 0 at and beyond the bounds.
    """
    _check.number("hardtanh", "min_val", min_val)
    _check.number("hardtanh", "max_val", max_val)
    input = _input("hardtanh", input)
    if min_val > max_val:
        raise ValueError(f"hardtanh: min_val cannot be greater than max_val (got min_val={min_val}, "
                         f"max_val={max_val})")
    lo = jnp.asarray(min_val, input.dtype)
    hi = jnp.asarray(max_val, input.dtype)
    return jnp.where(input <= min_val, lo, jnp.where(input >= max_val, hi, input))


def relu6(input: jax.Array) -> jax.Array:
    r""":math:`\min(\max(0, x), 6)` (``F.relu6``, torch's ``hardtanh(x, 0, 6)``)."""
    return hardtanh(_input("relu6", input), 0.0, 6.0)


def leaky_relu(input: jax.Array, negative_slope: float = 0.01) -> jax.Array:
    r""":math:`x` if :math:`x > 0` else :math:`\text{negative\_slope}\cdot x` (``F.leaky_relu``).

    The gradient at 0 is ``negative_slope``, as in torch.
    """
    _check.number("leaky_relu", "negative_slope", negative_slope)
    return jnp.where(input > 0, input, input * negative_slope)


@autocast_op("prelu")
def prelu(input: jax.Array, weight: jax.Array) -> jax.Array:
    r""":math:`x` if :math:`x > 0` else :math:`a_c x` (``F.prelu``; He et al. 2015,
    *Delving Deep into Rectifiers*).

    ``weight`` has one element (shared) or one per channel, the channel being dim 1 of
    ``input`` (inputs with fewer than 2 dims have no channel dim).
    """
    input = _input("prelu", input)
    weight = jnp.asarray(weight)
    if weight.ndim > 1:
        raise ValueError(f"prelu: weight must be 0-D or 1-D, got shape {tuple(weight.shape)}")
    n = weight.size
    if n != 1:
        channels = input.shape[1] if input.ndim >= 2 else 1
        if n != channels:
            raise ValueError(
                "prelu: Mismatch of parameter numbers and input channel size. Found parameter "
                f"numbers = {n} and channel size = {channels} (input shape {tuple(input.shape)})")
        weight = weight.reshape((n,) + (1,) * (input.ndim - 2))
    else:
        weight = weight.reshape(())
    return jnp.where(input > 0, input, weight * input)


def _elu(input: jax.Array, alpha: float, scale: float, input_scale: float) -> jax.Array:
    """torch's shared ELU kernel: ``x*scale`` for x > 0 else ``expm1(x*input_scale)*alpha*scale``."""
    safe = jnp.where(input > 0, jnp.zeros((), input.dtype), input)  # no min(): its grad at 0 is 1/2
    neg = jnp.expm1(safe * input_scale) * (alpha * scale)
    pos = input * scale if scale != 1.0 else input
    return jnp.where(input > 0, pos, neg)


def elu(input: jax.Array, alpha: float = 1.0) -> jax.Array:
    r""":math:`x` if :math:`x > 0` else :math:`\alpha(e^x - 1)` (``F.elu``; Clevert et al. 2015,
    *Fast and Accurate Deep Network Learning by Exponential Linear Units*)."""
    _check.number("elu", "alpha", alpha)
    return _elu(input, alpha, 1.0, 1.0)


def selu(input: jax.Array) -> jax.Array:
    r""":math:`\lambda x` if :math:`x > 0` else :math:`\lambda\alpha(e^x - 1)` with torch's
    :math:`\lambda \approx 1.0507`, :math:`\alpha \approx 1.6733` (``F.selu``; Klambauer et al.
    2017, *Self-Normalizing Neural Networks*)."""
    return _elu(input, _SELU_ALPHA, _SELU_SCALE, 1.0)


def celu(input: jax.Array, alpha: float = 1.0) -> jax.Array:
    r""":math:`\max(0, x) + \min(0, \alpha(e^{x/\alpha} - 1))` (``F.celu``; Barron 2017,
    *Continuously Differentiable Exponential Linear Units*)."""
    _check.number("celu", "alpha", alpha)
    if alpha == 0:
        raise ValueError("celu: ZeroDivisionError: alpha cannot be 0 for CELU")
    return _elu(input, alpha, 1.0, 1.0 / alpha)


def gelu(input: jax.Array, approximate: str = "none") -> jax.Array:
    r""":math:`x\,\Phi(x) = \tfrac{x}{2}(1 + \mathrm{erf}(x/\sqrt2))` (``F.gelu``; Hendrycks &
    Gimpel 2016, *Gaussian Error Linear Units*).

    ``approximate="tanh"``: :math:`\tfrac{x}{2}(1 + \tanh(\sqrt{2/\pi}(x + 0.044715x^3)))`.
    """
    if approximate == "none":
        return input * 0.5 * (1 + erf(input * (1 / math.sqrt(2))))
    if approximate == "tanh":
        inner = math.sqrt(2 / math.pi) * (input + 0.044715 * input * input * input)
        return 0.5 * input * (1 + jnp.tanh(inner))
    raise ValueError(f"gelu: approximate argument must be either none or tanh. (got {approximate!r})")


def sigmoid(input: jax.Array) -> jax.Array:
    r""":math:`1 / (1 + e^{-x})` (``F.sigmoid``)."""
    return jax.nn.sigmoid(input)


def tanh(input: jax.Array) -> jax.Array:
    r""":math:`\tanh(x)` (``F.tanh``)."""
    return jnp.tanh(input)


def silu(input: jax.Array) -> jax.Array:
    r""":math:`x\,\sigma(x)` (``F.silu``, a.k.a. swish; Elfwing et al. 2017, Ramachandran et
    al. 2017)."""
    return input * jax.nn.sigmoid(input)


@autocast_op("softplus")
def softplus(input: jax.Array, beta: float = 1.0, threshold: float = 20.0) -> jax.Array:
    r""":math:`\tfrac1\beta\log(1 + e^{\beta x})`, and :math:`x` where :math:`\beta x >`
    ``threshold`` (torch's linear regime, gradient exactly 1 there) (``F.softplus``)."""
    _check.number("softplus", "beta", beta)
    _check.number("softplus", "threshold", threshold)
    z = input * beta
    soft = jnp.log1p(jnp.exp(jnp.where(z > threshold, threshold, z))) / beta
    return jnp.where(z > threshold, input, soft)


def mish(input: jax.Array) -> jax.Array:
    r""":math:`x\tanh(\mathrm{softplus}(x))` (``F.mish``; Misra 2019, *Mish: A Self Regularized
    Non-Monotonic Activation Function*). The softplus here has no threshold, as in torch."""
    return input * jnp.tanh(jnp.logaddexp(input, 0))


def logsigmoid(input: jax.Array) -> jax.Array:
    r""":math:`\log\sigma(x) = \min(x, 0) - \log(1 + e^{-|x|})` (``F.logsigmoid``)."""
    return -jnp.logaddexp(-input, 0)


def softsign(input: jax.Array) -> jax.Array:
    r""":math:`x / (1 + |x|)` (``F.softsign``)."""
    return input / (1 + jnp.abs(input))


# torch's CPU hardsigmoid backward multiplies by a float32 1/6 even for float64 inputs
_ONE_SIXTH_F32 = float(np.float32(1 / 6))


@jax.custom_jvp
def hardsigmoid(input: jax.Array) -> jax.Array:
    r""":math:`\mathrm{relu6}(x + 3) / 6` (``F.hardsigmoid``; Howard et al. 2019, *Searching for
    MobileNetV3*).

    The gradient is :math:`1/6` strictly inside :math:`(-3, 3)` and 0 elsewhere; like torch's
    CPU kernel it uses the float32-rounded 1/6 also for float64 inputs.
    """
    return relu6(input + 3) / 6


@hardsigmoid.defjvp
def _hardsigmoid_jvp(primals, tangents):
    (x,), (t,) = primals, tangents
    inside = (x > -3) & (x < 3)
    return hardsigmoid(x), jnp.where(inside, t * _ONE_SIXTH_F32, jnp.zeros((), t.dtype))


def hardswish(input: jax.Array) -> jax.Array:
    r""":math:`x\,\mathrm{relu6}(x + 3)/6` (``F.hardswish``; Howard et al. 2019).

    Written on torch's backward branches, so the gradient is :math:`(2x + 3)/6` strictly
    inside :math:`(-3, 3)`, 0 at and below -3 and 1 at and above 3, as in torch 2.13.
    """
    input = _input("hardswish", input)
    zero = jnp.zeros((), input.dtype)
    return jnp.where(input <= -3, zero, jnp.where(input >= 3, input, input * (input + 3) / 6))


def _softmax_dim(name: str, ndim: int, dim: int | None) -> int:
    if dim is None:
        warnings.warn(f"Implicit dimension choice for {name} has been deprecated. "
                      "Change the call to include dim=X as an argument.", stacklevel=4)
        return 0 if ndim in (0, 1, 3) else 1
    _check.integer(name, "dim", dim)
    if not -max(ndim, 1) <= dim < max(ndim, 1):
        raise ValueError(f"{name}: dim {dim} is out of range for an input with {ndim} dimensions")
    return dim


@autocast_op("softmax")
def softmax(input: jax.Array, dim: int | None = None, dtype=None) -> jax.Array:
    r""":math:`e^{x_i} / \sum_j e^{x_j}` along ``dim`` (``F.softmax``). ``dtype`` casts the input
    first; ``dim=None`` uses torch's deprecated implicit choice (0 for 0/1/3-D, else 1)."""
    if dtype is not None:
        input = input.astype(dtype)
    return jax.nn.softmax(input, axis=_softmax_dim("softmax", input.ndim, dim))


@autocast_op("log_softmax")
def log_softmax(input: jax.Array, dim: int | None = None, dtype=None) -> jax.Array:
    r""":math:`x_i - \log\sum_j e^{x_j}` along ``dim`` (``F.log_softmax``), computed stably."""
    if dtype is not None:
        input = input.astype(dtype)
    return jax.nn.log_softmax(input, axis=_softmax_dim("log_softmax", input.ndim, dim))


# ---------------------------------------------------------------------- issue 18 (layers-b)
def _axis(who: str, ndim: int, dim: int) -> int:
    """``dim`` normalized to ``[0, ndim)``, torch's ``IndexError`` otherwise."""
    n = max(ndim, 1)
    if not -n <= dim < n:
        raise IndexError(f"{who}: Dimension out of range (expected to be in range of "
                         f"[{-n}, {n - 1}], but got {dim})")
    return dim % n


def glu(input: jax.Array, dim: int = -1) -> jax.Array:
    r"""Gated linear unit :math:`a \otimes \sigma(b)`, ``a, b`` the two halves of ``input``
    along ``dim`` (``F.glu``; Dauphin et al. 2016, *Language Modeling with Gated
    Convolutional Networks*)."""
    input = _input("glu", input)
    if input.ndim == 0:
        raise ValueError("glu does not support scalars because halving size must be even")
    axis = _axis("glu", input.ndim, dim)
    if input.shape[axis] % 2:
        raise ValueError(f"Halving dimension must be even, but dimension {axis} is size "
                         f"{input.shape[axis]}")
    a, b = jnp.split(input, 2, axis=axis)
    return a * jax.nn.sigmoid(b)


def softmin(input: jax.Array, dim: int | None = None, _stacklevel: int = 3,
            dtype: Any = None) -> jax.Array:
    r""":math:`e^{-x_i} / \sum_j e^{-x_j}` along ``dim`` (``F.softmin``, ``softmax(-x)``)."""
    input = _input("softmin", input)
    if dtype is not None:
        input = input.astype(dtype)
    return jax.nn.softmax(-input, axis=_softmax_dim("softmin", input.ndim, dim))


def hardshrink(input: jax.Array, lambd: float = 0.5) -> jax.Array:
    r""":math:`x` if :math:`|x| > \lambda` else 0 (``F.hardshrink``)."""
    _check.number("hardshrink", "lambd", lambd)
    input = _input("hardshrink", input)
    return jnp.where((input > lambd) | (input < -lambd), input, jnp.zeros((), input.dtype))


def softshrink(input: jax.Array, lambd: float = 0.5) -> jax.Array:
    r""":math:`x - \lambda` if :math:`x > \lambda`, :math:`x + \lambda` if :math:`x < -\lambda`,
    else 0 (``F.softshrink``; soft thresholding). ``lambd`` must be non-negative."""
    _check.number("softshrink", "lambd", lambd)
    input = _input("softshrink", input)
    if not isinstance(lambd, jax.core.Tracer) and float(lambd) < 0:
        raise ValueError(f"lambda must be in range [0, {np.finfo(input.dtype).max:.6g}] for input "
                         f"dtype {str(input.dtype).capitalize()}, but found {lambd:g}")
    zero = jnp.zeros((), input.dtype)
    return jnp.where(input > lambd, input - lambd, jnp.where(input < -lambd, input + lambd, zero))


def tanhshrink(input: jax.Array) -> jax.Array:
    r""":math:`x - \tanh(x)` (``F.tanhshrink``)."""
    input = _input("tanhshrink", input)
    return input - jnp.tanh(input)


def rrelu(input: jax.Array, lower: float = 1.0 / 8, upper: float = 1.0 / 3,
          training: bool = False, inplace: bool = False, *, key: jax.Array | None = None
          ) -> jax.Array:
    r"""Randomized leaky ReLU (``F.rrelu``; Xu et al. 2015, *Empirical Evaluation of Rectified
    Activations in Convolutional Network*).

    Training: :math:`x` if :math:`x > 0` else :math:`a x`, one :math:`a \sim U(\text{lower},
    \text{upper})` per element drawn from ``key`` (torch draws from its global generator).
    Eval: ``leaky_relu`` with the mean slope :math:`(\text{lower} + \text{upper})/2`.
    ``inplace`` is accepted and ignored.
    """
    _check.number("rrelu", "lower", lower)
    _check.number("rrelu", "upper", upper)
    input = _input("rrelu", input)
    if not isinstance(lower, jax.core.Tracer) and not isinstance(upper, jax.core.Tracer) \
            and lower > upper:
        raise ValueError("Lower bound should be less than or equal to the upper bound")
    if not training:
        return leaky_relu(input, (lower + upper) / 2)
    if key is None:
        raise ValueError("rrelu in training mode needs a PRNG key: pass key=jax.random.key(...) "
                         "(or training=False)")
    slope = jax.random.uniform(key, input.shape, input.dtype, lower, upper)
    return jnp.where(input > 0, input, input * slope)


def gumbel_softmax(logits: jax.Array, tau: float = 1, hard: bool = False, eps: float = 1e-10,
                   dim: int = -1, *, key: jax.Array) -> jax.Array:
    r"""Sample from the Gumbel-softmax (concrete) distribution (``F.gumbel_softmax``; Jang et
    al. 2016, *Categorical Reparameterization with Gumbel-Softmax*; Maddison et al. 2016).

    :math:`y = \mathrm{softmax}((\text{logits} + g)/\tau)` with :math:`g = -\log E`,
    :math:`E \sim \mathrm{Exp}(1)` drawn from ``key``. ``hard=True`` returns the one-hot of
    the argmax in the forward pass with the soft sample's gradient (straight-through:
    ``y_hard - stop_gradient(y_soft) + y_soft``). ``eps`` is deprecated in torch and unused.
    """
    if eps != 1e-10:
        warnings.warn("`eps` parameter is deprecated and has no effect.", stacklevel=2)
    logits = _input("gumbel_softmax", logits)
    axis = _axis("gumbel_softmax", logits.ndim, dim)
    gumbels = -jnp.log(jax.random.exponential(key, logits.shape, logits.dtype))
    y_soft = jax.nn.softmax((logits + gumbels) / tau, axis=axis)
    if not hard:
        return y_soft
    index = jnp.argmax(y_soft, axis=axis, keepdims=True)
    pos = jax.lax.broadcasted_iota(index.dtype, y_soft.shape, axis)
    y_hard = (pos == index).astype(y_soft.dtype)
    return y_hard - jax.lax.stop_gradient(y_soft) + y_soft
