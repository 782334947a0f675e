"""``torch.nn.init`` as pure functions: each *returns* a new array instead of filling one.

Convention (one rule for all):

* random initialisers take a ``jax.random.key`` first, then the shape:
  ``init.kaiming_uniform_(key, (out, in), a=0, mode="fan_in", nonlinearity="leaky_relu")``;
* deterministic ones take no key: ``init.zeros_((n,))``, ``init.constant_(shape, 0.5)``,
  ``init.eye_((3, 3))``, ``init.dirac_((6, 3, 3, 3), groups=2)``;
* ``shape`` may also be an existing array, whose shape (and dtype, when ``dtype`` is not
  given) is used, which reads like torch's in-place call::

      params["fc"]["weight"] = init.xavier_uniform_(key, params["fc"]["weight"])

* ``dtype`` defaults to float32 (or the given array's dtype). Names keep torch's trailing
  underscore so that ported code reads the same; arguments and defaults are torch's.

Distributions equal torch's; the draws cannot (JAX's counter-based PRNG is not torch's
Mersenne Twister / Philox). Fans and gains follow ``torch.nn.init`` exactly.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from .. import _check

__all__ = ["calculate_gain", "uniform_", "normal_", "trunc_normal_", "constant_", "ones_",
           "zeros_", "eye_", "dirac_", "xavier_uniform_", "xavier_normal_", "kaiming_uniform_",
           "kaiming_normal_", "orthogonal_", "sparse_"]

Shape = tuple[int, ...] | jax.Array | np.ndarray


def _shape_dtype(shape: Shape, dtype: Any) -> tuple[tuple[int, ...], Any]:
    """``(shape, dtype)`` from a shape tuple or an array (its dtype unless one is given)."""
    if hasattr(shape, "shape") and hasattr(shape, "dtype"):
        return tuple(shape.shape), shape.dtype if dtype is None else dtype
    return _check.shape("fnn.nn.init", shape), jnp.float32 if dtype is None else dtype


def calculate_gain(nonlinearity: str, param: int | float | None = None) -> float:
    r"""torch's recommended gain: 1 for linear/conv/sigmoid (the int ``1``), :math:`5/3` for
    tanh, :math:`\sqrt2` for relu, :math:`\sqrt{2/(1 + \text{slope}^2)}` for leaky_relu (slope
    ``param``, default 0.01), :math:`3/4` for selu (``torch.nn.init.calculate_gain``)."""
    linear_fns = ["linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
                  "conv_transpose3d"]
    if nonlinearity in linear_fns or nonlinearity == "sigmoid":
        return 1
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if param is None:
            slope = 0.01
        elif (not isinstance(param, bool) and isinstance(param, int)) or isinstance(param, float):
            slope = param
        else:
            raise ValueError(f"negative_slope {param} not a valid number")
        return math.sqrt(2.0 / (1 + slope**2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(f"Unsupported nonlinearity {nonlinearity}")


def _calculate_fan_in_and_fan_out(shape: Shape) -> tuple[int, int]:
    """torch's fans: ``fan_in = shape[1] * receptive``, ``fan_out = shape[0] * receptive`` with
    ``receptive = prod(shape[2:])``."""
    shape, _ = _shape_dtype(shape, None)
    if len(shape) < 2:
        raise ValueError("Fan in and fan out can not be computed for tensor with fewer than 2 "
                         "dimensions")
    receptive = math.prod(shape[2:])
    return shape[1] * receptive, shape[0] * receptive


def _calculate_correct_fan(shape: Shape, mode: str) -> int:
    mode = mode.lower()
    valid = ["fan_in", "fan_out"]
    if mode not in valid:
        raise ValueError(f"Mode {mode} not supported, please use one of {valid}")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(shape)
    return fan_in if mode == "fan_in" else fan_out


# ----------------------------------------------------------------------- plain distributions
def uniform_(key: jax.Array, shape: Shape, a: float = 0.0, b: float = 1.0,
             dtype: Any = None) -> jax.Array:
    r""":math:`U(a, b)` (``torch.nn.init.uniform_``)."""
    _check.prng_key("uniform_", key)
    _check.number("uniform_", "a", a)
    _check.number("uniform_", "b", b)
    if a > b:
        raise ValueError(f"uniform_ expects to return a [from, to) range, but found a={a} > b={b}")
    shape, dtype = _shape_dtype(shape, dtype)
    return jax.random.uniform(key, shape, dtype, a, b)


def normal_(key: jax.Array, shape: Shape, mean: float = 0.0, std: float = 1.0,
            dtype: Any = None) -> jax.Array:
    r""":math:`N(\text{mean}, \text{std}^2)` (``torch.nn.init.normal_``)."""
    _check.prng_key("normal_", key)
    _check.number("normal_", "mean", mean)
    _check.number("normal_", "std", std, low=0.0)
    shape, dtype = _shape_dtype(shape, dtype)
    return mean + std * jax.random.normal(key, shape, dtype)


def trunc_normal_(key: jax.Array, shape: Shape, mean: float = 0.0, std: float = 1.0,
                  a: float = -2.0, b: float = 2.0, dtype: Any = None) -> jax.Array:
    r""":math:`N(\text{mean}, \text{std}^2)` truncated to :math:`[a, b]` (absolute bounds, not
    in std units) (``torch.nn.init.trunc_normal_``). Warns, as torch does, when ``mean`` is
    more than 2 std outside :math:`[a, b]`."""
    _check.prng_key("trunc_normal_", key)
    for name, value in (("mean", mean), ("std", std), ("a", a), ("b", b)):
        _check.number("trunc_normal_", name, value)
    if std < 0:
        raise ValueError(f"trunc_normal_: std must be >= 0, got {std}")
    if a > b:
        raise ValueError(f"trunc_normal_: the bounds must satisfy a <= b, got a={a}, b={b}")
    if mean < a - 2 * std or mean > b + 2 * std:
        warnings.warn("mean is more than 2 std from [a, b] in nn.init.trunc_normal_. "
                      "The distribution of values may be incorrect.", stacklevel=2)
    shape, dtype = _shape_dtype(shape, dtype)
    z = jax.random.truncated_normal(key, (a - mean) / std, (b - mean) / std, shape, dtype)
    return jnp.clip(mean + std * z, a, b)


# ----------------------------------------------------------------------- deterministic
def constant_(shape: Shape, val: float, dtype: Any = None) -> jax.Array:
    """An array filled with ``val`` (``torch.nn.init.constant_``); no key needed."""
    shape, dtype = _shape_dtype(shape, dtype)
    return jnp.full(shape, val, dtype)


def ones_(shape: Shape, dtype: Any = None) -> jax.Array:
    """Ones (``torch.nn.init.ones_``)."""
    return constant_(shape, 1.0, dtype)


def zeros_(shape: Shape, dtype: Any = None) -> jax.Array:
    """Zeros (``torch.nn.init.zeros_``)."""
    return constant_(shape, 0.0, dtype)


def eye_(shape: Shape, dtype: Any = None) -> jax.Array:
    """The (rectangular) identity matrix of a 2-D ``shape`` (``torch.nn.init.eye_``)."""
    shape, dtype = _shape_dtype(shape, dtype)
    if len(shape) != 2:
        raise ValueError("Only tensors with 2 dimensions are supported")
    return jnp.eye(shape[0], shape[1], dtype=dtype)


def dirac_(shape: Shape, groups: int = 1, dtype: Any = None) -> jax.Array:
    """The Dirac delta for 3/4/5-D conv weights ``(out, in, *k)``: identity on as many channels
    as possible, per group, with the 1 at the kernel centre (``torch.nn.init.dirac_``)."""
    shape, dtype = _shape_dtype(shape, dtype)
    if len(shape) not in (3, 4, 5):
        raise ValueError("Only tensors with 3, 4, or 5 dimensions are supported")
    if shape[0] % groups != 0:
        raise ValueError("dim 0 must be divisible by groups")
    out_per_group = shape[0] // groups
    min_dim = min(out_per_group, shape[1])
    w = np.zeros(shape, dtype=np.dtype(dtype))
    centre = tuple(s // 2 for s in shape[2:])
    for g in range(groups):
        for d in range(min_dim):
            w[(g * out_per_group + d, d) + centre] = 1
    return jnp.asarray(w)


# ----------------------------------------------------------------------- scaled (fan-based)
def xavier_uniform_(key: jax.Array, shape: Shape, gain: float = 1.0,
                    dtype: Any = None) -> jax.Array:
    r""":math:`U(-a, a)`, :math:`a = \text{gain}\sqrt{6/(\text{fan\_in} + \text{fan\_out})}`
    (``torch.nn.init.xavier_uniform_``; Glorot & Bengio 2010, *Understanding the difficulty of
    training deep feedforward neural networks*)."""
    fan_in, fan_out = _calculate_fan_in_and_fan_out(shape)
    std = gain * math.sqrt(2.0 / float(fan_in + fan_out))
    bound = math.sqrt(3.0) * std
    return uniform_(key, shape, -bound, bound, dtype)


def xavier_normal_(key: jax.Array, shape: Shape, gain: float = 1.0,
                   dtype: Any = None) -> jax.Array:
    r""":math:`N(0, \text{std}^2)`, :math:`\text{std} = \text{gain}\sqrt{2/(\text{fan\_in} +
    \text{fan\_out})}` (``torch.nn.init.xavier_normal_``; Glorot & Bengio 2010)."""
    fan_in, fan_out = _calculate_fan_in_and_fan_out(shape)
    std = gain * math.sqrt(2.0 / float(fan_in + fan_out))
    return normal_(key, shape, 0.0, std, dtype)


def _kaiming_std(shape: Shape, a: float, mode: str, nonlinearity: str) -> float | None:
    """``gain / sqrt(fan)``; ``None`` (with torch's warning) for zero-element shapes."""
    if 0 in _shape_dtype(shape, None)[0]:
        warnings.warn("Initializing zero-element tensors is a no-op", stacklevel=3)
        return None
    fan = _calculate_correct_fan(shape, mode)
    return calculate_gain(nonlinearity, a) / math.sqrt(fan)


def kaiming_uniform_(key: jax.Array, shape: Shape, a: float = 0, mode: str = "fan_in",
                     nonlinearity: str = "leaky_relu", dtype: Any = None) -> jax.Array:
    r""":math:`U(-b, b)`, :math:`b = \sqrt3\,\text{gain}/\sqrt{\text{fan}}` with
    ``gain = calculate_gain(nonlinearity, a)`` (``torch.nn.init.kaiming_uniform_``; He et al.
    2015, *Delving Deep into Rectifiers*). Zero-element shapes give zeros and torch's warning."""
    std = _kaiming_std(shape, a, mode, nonlinearity)
    if std is None:
        return zeros_(shape, dtype)
    bound = math.sqrt(3.0) * std
    return uniform_(key, shape, -bound, bound, dtype)


def kaiming_normal_(key: jax.Array, shape: Shape, a: float = 0, mode: str = "fan_in",
                    nonlinearity: str = "leaky_relu", dtype: Any = None) -> jax.Array:
    r""":math:`N(0, \text{std}^2)`, :math:`\text{std} = \text{gain}/\sqrt{\text{fan}}`
    (``torch.nn.init.kaiming_normal_``; He et al. 2015)."""
    std = _kaiming_std(shape, a, mode, nonlinearity)
    if std is None:
        return zeros_(shape, dtype)
    return normal_(key, shape, 0.0, std, dtype)


# ----------------------------------------------------------------------- structured
def orthogonal_(key: jax.Array, shape: Shape, gain: float = 1, dtype: Any = None) -> jax.Array:
    r"""A (semi-)orthogonal matrix, reshaped to ``shape``, times ``gain``
    (``torch.nn.init.orthogonal_``; Saxe et al. 2013, *Exact solutions to the nonlinear
    dynamics of learning in deep linear neural networks*).

    As torch: QR of a ``(rows, numel/rows)`` normal matrix (transposed when rows < cols),
    ``q *= sign(diag(r))``, so the result is Haar-distributed.
    """
    shape, dtype = _shape_dtype(shape, dtype)
    if len(shape) < 2:
        raise ValueError("Only tensors with 2 or more dimensions are supported")
    if math.prod(shape) == 0:
        return jnp.zeros(shape, dtype)
    rows = shape[0]
    cols = math.prod(shape) // rows
    flat = jax.random.normal(key, (rows, cols), dtype)
    if rows < cols:
        flat = flat.T
    q, r = jnp.linalg.qr(flat)
    q = q * jnp.sign(jnp.diagonal(r))
    if rows < cols:
        q = q.T
    return (gain * q).reshape(shape).astype(dtype)


def sparse_(key: jax.Array, shape: Shape, sparsity: float, std: float = 0.01,
            dtype: Any = None) -> jax.Array:
    r""":math:`N(0, \text{std}^2)` with ``ceil(sparsity * rows)`` randomly chosen entries of every
    column set to zero (``torch.nn.init.sparse_``; Martens 2010, *Deep learning via
    Hessian-free optimization*)."""
    shape, dtype = _shape_dtype(shape, dtype)
    if len(shape) != 2:
        raise ValueError("Only tensors with 2 dimensions are supported")
    rows, cols = shape
    _check.number("sparse_", "sparsity", sparsity)
    num_zeros = int(math.ceil(sparsity * rows))
    k_val, k_perm = jax.random.split(key)
    w = normal_(k_val, shape, 0.0, std, dtype)
    # a uniformly random set of num_zeros rows per column: the ranks of i.i.d. uniforms
    ranks = jnp.argsort(jnp.argsort(jax.random.uniform(k_perm, shape), axis=0), axis=0)
    return jnp.where(ranks < num_zeros, jnp.zeros((), dtype), w)
