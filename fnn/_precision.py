"""float32 matmul precision, torch's ``torch.set_float32_matmul_precision`` for fnn's ops.

torch computes float32 matrix products and convolutions in full float32 unless the user
opts in to TF32 / bfloat16 passes; XLA on GPUs and TPUs defaults to fewer bits (TF32 on
NVIDIA GPUs since Ampere, one bfloat16 pass on TPUs). fnn's ops (``linear``, ``conv*``,
attention, RNN cells...) therefore trace their products under
``jax.default_matmul_precision`` of this setting, ``"highest"`` (full float32) by default
as torch's. The three levels map to XLA's precision config:

=============  ==============================  ========================================
torch          XLA (``precision=``)            on an NVIDIA GPU / TPU
=============  ==============================  ========================================
``"highest"``  ``HIGHEST`` (``"float32"``)     full float32 (slowest)
``"high"``     ``HIGH`` (``"bfloat16_3x"``)    TF32 tensor cores / three bfloat16 passes
``"medium"``   ``DEFAULT`` (``"bfloat16"``)    TF32 on GPUs / one bfloat16 pass on TPUs
=============  ==============================  ========================================

On CPU, XLA computes float32 products in float32 whatever the setting. The setting is
read when a function is traced; :func:`set_float32_matmul_precision` also sets JAX's
``jax_default_matmul_precision`` so that jitted functions are retraced (it is part of
their cache key) and plain ``jnp`` products follow it, as torch's switch is global.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator
from typing import Any

import jax

__all__ = ["set_float32_matmul_precision", "get_float32_matmul_precision", "matmul_precision",
           "with_matmul_precision"]

_LEVELS = {"highest": "highest", "high": "high", "medium": "bfloat16"}
_current = "highest"


def set_float32_matmul_precision(precision: str) -> None:
    """Set the internal precision of float32 matrix products and convolutions in fnn's ops
    (and, process-wide, JAX's default), as ``torch.set_float32_matmul_precision``.

    ``"highest"`` (default): full float32. ``"high"``: TF32 on NVIDIA GPUs, three bfloat16
    passes on TPUs (about float32 accuracy at 2-3x the speed of ``"highest"`` on tensor
    cores). ``"medium"``: one bfloat16 pass where the hardware has it (fastest, ~3
    significant digits). No effect on CPU, where XLA computes in float32.
    """
    global _current
    if precision not in _LEVELS:
        raise ValueError(f"{precision} is not one of 'highest', 'high', or 'medium'")
    _current = precision
    jax.config.update("jax_default_matmul_precision", _LEVELS[precision])


def get_float32_matmul_precision() -> str:
    """The current setting: ``"highest"``, ``"high"`` or ``"medium"``
    (``torch.get_float32_matmul_precision``)."""
    return _current


@contextlib.contextmanager
def matmul_precision() -> Iterator[None]:
    """Trace the products inside at the current float32 matmul precision."""
    with jax.default_matmul_precision(_LEVELS[_current]):
        yield


def with_matmul_precision(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``fn`` traced under :func:`matmul_precision`: for custom derivative rules, which JAX
    may trace after the op that registered them has returned (``jax.grad(jax.jit(f))``)."""
    @functools.wraps(fn)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        with matmul_precision():
            return fn(*args, **kwargs)
    return wrapped
