"""Lazy layers: ``torch.nn.LazyLinear``, ``LazyConv*``, ``LazyConvTranspose*``,
``LazyBatchNorm*``, ``LazyInstanceNorm*``.

The input size (``in_features``, ``in_channels``, ``num_features``) is left out and inferred
from an example input given to :meth:`Module.init`::

    model = nn.Sequential(nn.LazyConv2d(16, 3), nn.ReLU(), nn.Flatten(), nn.LazyLinear(10))
    params = model.init(jax.random.key(0), x)     # x: an example batch (only its shape is used)

``init`` runs the model once on the example's *shapes* (``jax.eval_shape``); each lazy module
reads the size it needs from its input, and becomes the concrete layer (``LazyLinear`` turns
into ``Linear``, as torch's ``cls_to_become``). Parameters are then created with the concrete
layer's (torch's) default initialisation.
"""

from __future__ import annotations

import importlib
from typing import Any, ClassVar

import jax

from .module import Module

__all__ = ["LazyLinear", "LazyConv1d", "LazyConv2d", "LazyConv3d", "LazyConvTranspose1d",
           "LazyConvTranspose2d", "LazyConvTranspose3d", "LazyBatchNorm1d", "LazyBatchNorm2d",
           "LazyBatchNorm3d", "LazyInstanceNorm1d", "LazyInstanceNorm2d", "LazyInstanceNorm3d"]


class _Lazy(Module):
    """A layer whose input size is inferred by ``init(key, example)``.

    ``_becomes`` names the concrete class in :mod:`fnn.nn` (looked up when the module
    materializes, so a class defined later, e.g. ``ConvTranspose3d``, is found by name);
    ``_infer`` returns the constructor arguments read from the input.
    """

    _fnn_lazy = True
    _becomes: ClassVar[str]

    def __init__(self, **kwargs: Any) -> None:
        self._fnn_lazy_kwargs = kwargs

    def _infer(self, x: jax.Array) -> dict[str, int]:
        raise NotImplementedError

    def _uninitialized(self) -> ValueError:
        return ValueError(f"{type(self).__name__}: its input size is not known yet: call "
                          "model.init(key, example_input) to infer it")

    def init_params(self, key, dtype):
        raise self._uninitialized()

    def init_own_buffers(self, dtype):
        raise self._uninitialized()

    def forward(self, params, x, *args, **kwargs):
        ctx = self._ctx()
        if ctx is None or ctx.infer_dtype is None:
            raise self._uninitialized()
        self.materialize(x)
        return self.forward(params, x, *args, **kwargs)

    def materialize(self, x: Any) -> None:
        """Become the concrete layer for an input shaped like ``x`` (what ``init`` calls)."""
        try:
            cls = getattr(importlib.import_module("fnn.nn"), self._becomes)
        except AttributeError:
            raise ValueError(f"{type(self).__name__} needs fnn.nn.{self._becomes}, which this "
                             "version of fnn does not have") from None
        kwargs = {**self._fnn_lazy_kwargs, **self._infer(x)}
        del self._fnn_lazy_kwargs
        self.__class__ = cls
        cls.__init__(self, **kwargs)

    def extra_repr(self) -> str:
        return ", ".join(f"{k}={v!r}" for k, v in self._fnn_lazy_kwargs.items())


class LazyLinear(_Lazy):
    """``torch.nn.LazyLinear(out_features, bias=True)``: :class:`Linear` with ``in_features``
    inferred from the last dim of the example input."""

    _becomes = "Linear"

    def __init__(self, out_features: int, bias: bool = True) -> None:
        super().__init__(out_features=out_features, bias=bias)

    def _infer(self, x):
        return {"in_features": x.shape[-1]}


class _LazyConvNd(_Lazy):
    _n = 2

    def __init__(self, out_channels: int, kernel_size: Any, stride: Any = 1, padding: Any = 0,
                 dilation: Any = 1, groups: int = 1, bias: bool = True,
                 padding_mode: str = "zeros") -> None:
        super().__init__(out_channels=out_channels, kernel_size=kernel_size, stride=stride,
                         padding=padding, dilation=dilation, groups=groups, bias=bias,
                         padding_mode=padding_mode)

    def _infer(self, x):
        """torch's ``_get_in_channels``: dim 1 of a batched input, dim 0 of an unbatched one."""
        if x.ndim not in (self._n + 1, self._n + 2):
            raise ValueError(f"Expected {self._n + 1}D (unbatched) or {self._n + 2}D (batched) "
                             f"input to {type(self).__name__}, but got input of size: "
                             f"{tuple(x.shape)}")
        return {"in_channels": x.shape[1] if x.ndim == self._n + 2 else x.shape[0]}


class _LazyConvTransposeNd(_LazyConvNd):
    def __init__(self, out_channels: int, kernel_size: Any, stride: Any = 1, padding: Any = 0,
                 output_padding: Any = 0, groups: int = 1, bias: bool = True,
                 dilation: Any = 1, padding_mode: str = "zeros") -> None:
        _Lazy.__init__(self, out_channels=out_channels, kernel_size=kernel_size, stride=stride,
                       padding=padding, output_padding=output_padding, groups=groups,
                       bias=bias, dilation=dilation, padding_mode=padding_mode)


class LazyConv1d(_LazyConvNd):
    """``torch.nn.LazyConv1d(out_channels, kernel_size, stride=1, padding=0, dilation=1,
    groups=1, bias=True, padding_mode='zeros')``: :class:`Conv1d` with ``in_channels``
    inferred."""

    _n, _becomes = 1, "Conv1d"


class LazyConv2d(_LazyConvNd):
    """``torch.nn.LazyConv2d``: :class:`Conv2d` with ``in_channels`` inferred."""

    _n, _becomes = 2, "Conv2d"


class LazyConv3d(_LazyConvNd):
    """``torch.nn.LazyConv3d``: :class:`Conv3d` with ``in_channels`` inferred."""

    _n, _becomes = 3, "Conv3d"


class LazyConvTranspose1d(_LazyConvTransposeNd):
    """``torch.nn.LazyConvTranspose1d(out_channels, kernel_size, stride=1, padding=0,
    output_padding=0, groups=1, bias=True, dilation=1, padding_mode='zeros')``:
    :class:`ConvTranspose1d` with ``in_channels`` inferred."""

    _n, _becomes = 1, "ConvTranspose1d"


class LazyConvTranspose2d(_LazyConvTransposeNd):
    """``torch.nn.LazyConvTranspose2d``: :class:`ConvTranspose2d` with ``in_channels``
    inferred."""

    _n, _becomes = 2, "ConvTranspose2d"


class LazyConvTranspose3d(_LazyConvTransposeNd):
    """``torch.nn.LazyConvTranspose3d``: ``ConvTranspose3d`` with ``in_channels`` inferred."""

    _n, _becomes = 3, "ConvTranspose3d"


class _LazyNorm(_Lazy):
    def __init__(self, eps: float = 1e-5, momentum: float | None = 0.1, affine: bool = True,
                 track_running_stats: bool = True, *, bias: bool = True) -> None:
        super().__init__(eps=eps, momentum=momentum, affine=affine,
                         track_running_stats=track_running_stats, bias=bias)

    def _infer(self, x):
        """torch's ``_LazyNormBase``: ``num_features`` is dim 1 of the input."""
        return {"num_features": x.shape[1]}


class _LazyInstanceNorm(_LazyNorm):
    def _infer(self, x):
        """As torch: without parameters or buffers nothing materializes, ``num_features``
        stays 0 (and ``InstanceNorm`` warns that it does not match the input)."""
        kw = self._fnn_lazy_kwargs
        if not kw["affine"] and not kw["track_running_stats"]:
            return {"num_features": 0}
        return super()._infer(x)


class LazyBatchNorm1d(_LazyNorm):
    """``torch.nn.LazyBatchNorm1d(eps=1e-5, momentum=0.1, affine=True,
    track_running_stats=True)``: :class:`BatchNorm1d` with ``num_features`` inferred."""

    _becomes = "BatchNorm1d"


class LazyBatchNorm2d(_LazyNorm):
    """``torch.nn.LazyBatchNorm2d``: :class:`BatchNorm2d` with ``num_features`` inferred."""

    _becomes = "BatchNorm2d"


class LazyBatchNorm3d(_LazyNorm):
    """``torch.nn.LazyBatchNorm3d``: :class:`BatchNorm3d` with ``num_features`` inferred."""

    _becomes = "BatchNorm3d"


class LazyInstanceNorm1d(_LazyInstanceNorm):
    """``torch.nn.LazyInstanceNorm1d(eps=1e-5, momentum=0.1, affine=True,
    track_running_stats=True)`` (torch's lazy defaults, unlike ``InstanceNorm1d``'s):
    :class:`InstanceNorm1d` with ``num_features`` = dim 1 of the input."""

    _becomes = "InstanceNorm1d"


class LazyInstanceNorm2d(_LazyInstanceNorm):
    """``torch.nn.LazyInstanceNorm2d``: :class:`InstanceNorm2d` with ``num_features``
    inferred."""

    _becomes = "InstanceNorm2d"


class LazyInstanceNorm3d(_LazyInstanceNorm):
    """``torch.nn.LazyInstanceNorm3d``: :class:`InstanceNorm3d` with ``num_features``
    inferred."""

    _becomes = "InstanceNorm3d"
