"""``fnn.amp``: torch's automatic mixed precision (``torch.amp``) for fnn.

- :class:`autocast`: a trace-time region in which fnn's ops follow torch's autocast lists
  (matmul-like ops in bfloat16/float16, losses in float32, ...).
- :class:`GradScaler`: dynamic loss scaling as a pure state, or as an optax wrapper.
- :func:`set_float32_matmul_precision`: torch's switch for the internal precision of
  float32 products (full float32 by default, as torch).
"""

from __future__ import annotations

from .._autocast import OP_CATEGORIES
from .._precision import get_float32_matmul_precision, set_float32_matmul_precision
from .autocast_mode import autocast, get_autocast_dtype, is_autocast_enabled
from .grad_scaler import GradScaler, GradScalerState, ScaledOptState, find_scaled_state

__all__ = ["autocast", "is_autocast_enabled", "get_autocast_dtype", "GradScaler",
           "GradScalerState", "ScaledOptState", "find_scaled_state", "OP_CATEGORIES",
           "set_float32_matmul_precision", "get_float32_matmul_precision"]
