"""``fnn.nn.utils``: ``torch.nn.utils`` as pure functions (gradient clipping, parameter
vectors, packed sequences for recurrent layers)."""

from __future__ import annotations

from . import rnn
from .clip_grad import (
    clip_grad_norm,
    clip_grad_norm_transform,
    clip_grad_value,
    clip_grad_value_transform,
    clip_grads_with_norm,
    get_total_norm,
)
from .convert_parameters import parameters_to_vector, vector_to_parameters

__all__ = [
    "clip_grad_norm", "clip_grad_norm_transform", "clip_grad_value", "clip_grad_value_transform",
    "clip_grads_with_norm", "get_total_norm",
    "parameters_to_vector", "vector_to_parameters",
    "rnn",
]
