"""Instance normalization layers: ``torch.nn.InstanceNorm1d/2d/3d``.

As torch: ``affine=False`` and ``track_running_stats=False`` by default (no parameters, no
buffers, statistics of each sample in both modes). With ``track_running_stats=True`` the
buffers ``running_mean``, ``running_var`` and ``num_batches_tracked`` exist (the last is
never incremented, as in torch), training mode updates the running statistics with the
batch average of the per-instance statistics, and eval mode normalizes with them.
"""

from __future__ import annotations

import warnings

from ._functional.instancenorm import instance_norm
from .normalization import _BatchNorm

__all__ = ["InstanceNorm1d", "InstanceNorm2d", "InstanceNorm3d"]


class _InstanceNorm(_BatchNorm):
    """Shared forward of ``InstanceNorm{n}d``; ``_n`` is the number of spatial dims."""

    _n = 1
    _is_batch_norm = False

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1,
                 affine: bool = False, track_running_stats: bool = False, *,
                 bias: bool = True) -> None:
        super().__init__(num_features, eps, momentum, affine, track_running_stats, bias=bias)

    def forward(self, params, x):
        no_batch = self._n + 1
        if x.ndim not in (no_batch, no_batch + 1):
            raise ValueError(f"expected {no_batch}D or {no_batch + 1}D input (got {x.ndim}D input)")
        feature_dim = x.ndim - no_batch
        if x.shape[feature_dim] != self.num_features:
            if self.affine:
                raise ValueError(f"expected input's size at dim={feature_dim} to match "
                                 f"num_features ({self.num_features}), but got: "
                                 f"{x.shape[feature_dim]}.")
            warnings.warn(f"input's size at dim={feature_dim} does not match num_features. You "
                          "can silence this warning by not passing in num_features, which is "
                          "not used because affine=False", stacklevel=2)
        if x.ndim == no_batch:
            return self._normalize(params, x[None])[0]
        return self._normalize(params, x)

    def _normalize(self, params, x):
        w, b = params.get("weight"), params.get("bias")
        momentum = 0.0 if self.momentum is None else self.momentum
        if not self.track_running_stats:
            return instance_norm(x, None, None, w, b, True, momentum, self.eps)[0]
        buf = self.get_buffers()
        training = self.is_training()
        out, mean, var = instance_norm(x, buf["running_mean"], buf["running_var"], w, b,
                                       training, momentum, self.eps)
        if training:
            self.set_buffers({"running_mean": mean, "running_var": var})
        return out


class InstanceNorm1d(_InstanceNorm):
    r"""``torch.nn.InstanceNorm1d(num_features, eps=1e-5, momentum=0.1, affine=False,
    track_running_stats=False)`` on ``(N, C, L)`` or ``(C, L)``:
    :func:`fnn.nn.functional.instance_norm` (Ulyanov et al. 2016)."""

    _n = 1


class InstanceNorm2d(_InstanceNorm):
    """``torch.nn.InstanceNorm2d``: :class:`InstanceNorm1d` on ``(N, C, H, W)`` or
    ``(C, H, W)``."""

    _n = 2


class InstanceNorm3d(_InstanceNorm):
    """``torch.nn.InstanceNorm3d``: :class:`InstanceNorm1d` on ``(N, C, D, H, W)`` or
    ``(C, D, H, W)``."""

    _n = 3
