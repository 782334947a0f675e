"""Normalization layers: ``torch.nn.BatchNorm1d/2d``, ``LayerNorm``, ``GroupNorm``.

BatchNorm's running statistics are *buffers*, kept outside the parameters::

    bn = nn.BatchNorm1d(16)
    params, buffers = bn.init(key), bn.init_buffers()
    y, buffers = bn.apply(params, x, buffers=buffers, train=True)   # model.train(): update
    y = bn(params, x, buffers=buffers)                              # model.eval(): use them

The buffers are ``running_mean`` (zeros), ``running_var`` (ones) and
``num_batches_tracked`` (int64 under x64, else int32), named as torch's.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp

from .. import _check
from ._functional.normalization import batch_norm, group_norm, layer_norm, rms_norm
from .module import Module

__all__ = ["BatchNorm1d", "BatchNorm2d", "LayerNorm", "GroupNorm", "RMSNorm"]


def _affine_params(shape: tuple[int, ...], dtype: Any, weight: bool, bias: bool) -> dict:
    """torch's default affine parameters: ``weight`` ones, ``bias`` zeros."""
    p = {}
    if weight:
        p["weight"] = jnp.ones(shape, dtype)
        if bias:
            p["bias"] = jnp.zeros(shape, dtype)
    return p


class _BatchNorm(Module):
    _dims: tuple[int, ...] = ()
    _dims_text = ""

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1,
                 affine: bool = True, track_running_stats: bool = True, *, bias: bool = True):
        if not isinstance(num_features, int) or num_features < 1:
            raise ValueError(f"{type(self).__name__}: num_features must be a positive int, "
                             f"got {num_features!r}")
        name = type(self).__name__
        _check.number(name, "eps", eps, low=0.0)
        _check.number(name, "momentum", momentum, allow_none=True)
        self.num_features = num_features
        self.eps = eps
        self.momentum = momentum
        self.affine = affine
        self.track_running_stats = track_running_stats
        self.use_bias = bias

    def init_params(self, key, dtype):
        return _affine_params((self.num_features,), dtype, self.affine, self.use_bias)

    def init_own_buffers(self, dtype):
        if not self.track_running_stats:
            return {}
        return {"running_mean": jnp.zeros((self.num_features,), dtype),
                "running_var": jnp.ones((self.num_features,), dtype),
                "num_batches_tracked": jnp.zeros((), jax.dtypes.canonicalize_dtype(jnp.int64))}

    def forward(self, params, x):
        if x.ndim not in self._dims:
            raise ValueError(f"{self._label()}: expected {self._dims_text} input "
                             f"(got {x.ndim}D input)")
        if x.shape[1] != self.num_features:
            raise ValueError(f"{self._label()}: expected {self.num_features} channels on dim 1 "
                             f"(num_features), got input of shape {tuple(x.shape)}")
        w, b = params.get("weight"), params.get("bias")
        if not self.track_running_stats:
            return batch_norm(x, None, None, w, b, True, 0.0, self.eps)[0]
        buf = self.get_buffers()
        if not self.is_training():
            return batch_norm(x, buf["running_mean"], buf["running_var"], w, b, False, 0.0,
                              self.eps)[0]
        count = buf["num_batches_tracked"] + 1
        # momentum=None: cumulative average, torch's 1.0 / float(num_batches_tracked)
        momentum = 1.0 / count.astype(buf["running_mean"].dtype) if self.momentum is None \
            else self.momentum
        out, mean, var = batch_norm(x, buf["running_mean"], buf["running_var"], w, b, True,
                                    momentum, self.eps)
        self.set_buffers({"running_mean": mean, "running_var": var, "num_batches_tracked": count})
        return out

    def extra_repr(self) -> str:
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
                f"affine={self.affine}, bias={self.affine and self.use_bias}, "
                f"track_running_stats={self.track_running_stats}")


class BatchNorm1d(_BatchNorm):
    r"""``torch.nn.BatchNorm1d(num_features, eps=1e-5, momentum=0.1, affine=True,
    track_running_stats=True, *, bias=True)`` on ``(N, C)`` or ``(N, C, L)`` inputs; see
    :func:`fnn.nn.functional.batch_norm` (Ioffe & Szegedy 2015).

    Training mode (``apply(..., train=True)``) normalizes with batch statistics and returns
    updated buffers; ``momentum=None`` is a cumulative average (factor
    :math:`1/\text{num\_batches\_tracked}`). Eval mode uses the running statistics.
    ``track_running_stats=False``: no buffers, batch statistics in both modes.
    """

    _dims = (2, 3)
    _dims_text = "2D or 3D"


class BatchNorm2d(_BatchNorm):
    """``torch.nn.BatchNorm2d``: :class:`BatchNorm1d` on ``(N, C, H, W)`` inputs."""

    _dims = (4,)
    _dims_text = "4D"


class LayerNorm(Module):
    r"""``torch.nn.LayerNorm(normalized_shape, eps=1e-5, elementwise_affine=True, bias=True)``:
    :func:`fnn.nn.functional.layer_norm` over the trailing dims, ``weight`` ones and ``bias``
    zeros of shape ``normalized_shape`` (Ba et al. 2016)."""

    def __init__(self, normalized_shape: int | Sequence[int], eps: float = 1e-5,
                 elementwise_affine: bool = True, bias: bool = True):
        self.normalized_shape = _check.shape("LayerNorm", normalized_shape, "normalized_shape")
        if not self.normalized_shape or 0 in self.normalized_shape:
            raise ValueError(f"LayerNorm: normalized_shape must be non-empty positive sizes, got "
                             f"{normalized_shape!r}")
        _check.number("LayerNorm", "eps", eps, low=0.0)
        self.eps = eps
        self.elementwise_affine = elementwise_affine
        self.use_bias = bias

    def init_params(self, key, dtype):
        return _affine_params(self.normalized_shape, dtype, self.elementwise_affine, self.use_bias)

    def forward(self, params, x):
        return layer_norm(x, self.normalized_shape, params.get("weight"), params.get("bias"),
                          self.eps)

    def extra_repr(self) -> str:
        return (f"{self.normalized_shape}, eps={self.eps}, "
                f"elementwise_affine={self.elementwise_affine}, "
                f"bias={self.elementwise_affine and self.use_bias}")


class GroupNorm(Module):
    r"""``torch.nn.GroupNorm(num_groups, num_channels, eps=1e-5, affine=True, *, bias=True)``:
    :func:`fnn.nn.functional.group_norm`, per-channel ``weight`` ones and ``bias`` zeros
    (Wu & He 2018)."""

    def __init__(self, num_groups: int, num_channels: int, eps: float = 1e-5,
                 affine: bool = True, *, bias: bool = True):
        _check.integer("GroupNorm", "num_groups", num_groups, low=1)
        _check.integer("GroupNorm", "num_channels", num_channels, low=0)
        _check.number("GroupNorm", "eps", eps, low=0.0)
        if num_channels % num_groups != 0:
            raise ValueError(f"num_channels ({num_channels}) must be divisible by "
                             f"num_groups ({num_groups})")
        self.num_groups = num_groups
        self.num_channels = num_channels
        self.eps = eps
        self.affine = affine
        self.use_bias = bias

    def init_params(self, key, dtype):
        return _affine_params((self.num_channels,), dtype, self.affine, self.use_bias)

    def forward(self, params, x):
        if x.ndim < 2 or x.shape[1] != self.num_channels:
            raise ValueError(f"{self._label()}: expected input (N, {self.num_channels}, ...), got "
                             f"shape {tuple(x.shape)}")
        return group_norm(x, self.num_groups, params.get("weight"), params.get("bias"), self.eps)

    def extra_repr(self) -> str:
        return (f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.affine}, "
                f"bias={self.affine and self.use_bias}")


# ---------------------------------------------------------------------------- RMSNorm
class RMSNorm(Module):
    r"""``torch.nn.RMSNorm(normalized_shape, eps=None, elementwise_affine=True)``:
    :func:`fnn.nn.functional.rms_norm` over the trailing dims with a ``weight`` of ones
    (Zhang & Sennrich 2019). ``eps=None``: the machine epsilon of the input's dtype."""

    def __init__(self, normalized_shape: int | Sequence[int], eps: float | None = None,
                 elementwise_affine: bool = True):
        self.normalized_shape = _check.shape("RMSNorm", normalized_shape, "normalized_shape")
        if not self.normalized_shape or 0 in self.normalized_shape:
            raise ValueError(f"RMSNorm: normalized_shape must be non-empty positive sizes, got "
                             f"{normalized_shape!r}")
        _check.number("RMSNorm", "eps", eps, low=0.0, allow_none=True)
        self.eps = eps
        self.elementwise_affine = elementwise_affine

    def init_params(self, key, dtype):
        return {"weight": jnp.ones(self.normalized_shape, dtype)} if self.elementwise_affine else {}

    def forward(self, params, x):
        return rms_norm(x, self.normalized_shape, params.get("weight"), self.eps)

    def extra_repr(self) -> str:
        return (f"{self.normalized_shape}, eps={self.eps}, "
                f"elementwise_affine={self.elementwise_affine}")
