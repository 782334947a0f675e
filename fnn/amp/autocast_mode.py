"""``fnn.amp.autocast``: torch's autocast as a trace-time context (see :mod:`fnn._autocast`
for the op categories, one table for CPU and CUDA)."""

from __future__ import annotations

import functools
import warnings
import weakref
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

from .. import _autocast

__all__ = ["autocast", "is_autocast_enabled", "get_autocast_dtype"]

_DEFAULT_DTYPE = {"cpu": jnp.bfloat16, "cuda": jnp.float16}
_SCALERS: weakref.WeakSet = weakref.WeakSet()


def note_scaler(scaler: Any) -> None:
    """Record an enabled :class:`GradScaler`: while one is alive, float16 autocast does not
    warn."""
    _SCALERS.add(scaler)


def _device_type(device_type: str | None) -> str:
    if device_type is None:
        return "cpu" if jax.default_backend() == "cpu" else "cuda"
    if device_type not in ("cpu", "cuda"):
        raise ValueError("autocast: device_type must be 'cpu' or 'cuda' (the op list to follow; "
                         f"'cuda' for every accelerator), got {device_type!r}")
    return device_type


class autocast:  # noqa: N801  (torch's name)
    r"""Mixed precision as ``torch.autocast``: inside the region fnn's ops run in the dtype
    torch's autocast gives them, parameters stay float32 and gradients come back float32.

    A trace-time context (like :meth:`fnn.nn.Module.apply`): use it inside the function
    you differentiate or jit, around the forward pass and the loss::

        def loss_fn(params, x, y):
            with amp.autocast(dtype=jnp.bfloat16):
                return F.cross_entropy(model(params, x), y)

    Matmul-like ops (``linear``, ``conv*``, ``prelu``, attention, RNN layers) cast their
    floating inputs to ``dtype``; losses (and on CUDA softmax, ``layer_norm``,
    ``group_norm``...) compute in float32; norms return the input's dtype; unlisted ops run
    in the dtype they receive. Each op's category, for CPU and CUDA, is in
    :data:`fnn._autocast.OP_CATEGORIES`. Only floating arrays other than float64 are cast,
    as in torch.

    Args:
        device_type: which of torch's lists to follow, ``"cpu"`` or ``"cuda"``; ``None``
            (default) picks from ``jax.default_backend()`` (``"cuda"`` for GPUs and TPUs).
        dtype: ``jnp.bfloat16`` or ``jnp.float16``; default torch's: bfloat16 on CPU,
            float16 on CUDA.
        enabled: ``False`` turns autocast off inside (nested regions too).

    float16 has a narrow range: without loss scaling small gradients flush to zero, so a
    float16 autocast entered while no enabled :class:`fnn.amp.GradScaler` exists warns
    (bfloat16 needs no scaler).
    torch: ``torch.autocast(device_type, dtype=None, enabled=True)`` (``cache_enabled``
    has no meaning under jit: casts are fused by XLA).
    """

    def __init__(self, device_type: str | None = None, dtype: Any = None,
                 enabled: bool = True) -> None:
        if not isinstance(enabled, bool):
            raise ValueError(f"Expected `enabled` parameter to be of type bool, got {enabled!r}")
        self.device_type = _device_type(device_type)
        self.dtype = jnp.dtype(_DEFAULT_DTYPE[self.device_type] if dtype is None else dtype)
        if self.dtype not in (jnp.dtype(jnp.bfloat16), jnp.dtype(jnp.float16)):
            raise ValueError("autocast: dtype must be jnp.bfloat16 or jnp.float16 (the lower "
                             f"precision ops run in), got {self.dtype}")
        self.enabled = enabled
        self._tokens: list = []

    def __enter__(self) -> autocast:
        if self.enabled and self.dtype == jnp.float16 and not _SCALERS:
            warnings.warn(
                "autocast(dtype=float16) without a GradScaler: float16 gradients below ~6e-8 "
                "flush to zero and large ones overflow. Scale the loss with "
                "fnn.amp.GradScaler (or train.fit(precision='16-mixed')), or use "
                "dtype=jnp.bfloat16, which needs no scaling.", UserWarning, stacklevel=2)
        policy = (_autocast.AutocastPolicy(self.dtype, self.device_type) if self.enabled
                  else None)
        self._tokens.append(_autocast.set_policy(policy))
        return self

    def __exit__(self, *exc: Any) -> None:
        _autocast.reset_policy(self._tokens.pop())

    def __call__(self, fn: Callable) -> Callable:
        """Use as a decorator (``@amp.autocast()``), as torch's."""
        @functools.wraps(fn)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            with self:
                return fn(*args, **kwargs)
        return wrapped


def is_autocast_enabled() -> bool:
    """Whether an autocast region is active at this point of tracing."""
    return _autocast.current_policy() is not None


def get_autocast_dtype() -> Any:
    """The active autocast dtype, or ``None`` outside autocast."""
    policy = _autocast.current_policy()
    return None if policy is None else policy.dtype
