"""Shared checks of the extended family (torch-optimizer 0.3.0's messages and order)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ._validation import check_betas, check_eps, check_min, check_tensor_lr, check_weight_decay

__all__ = ["check_positive_lr", "check_adam_like"]


def check_positive_lr(lr: Any) -> None:
    """torch-optimizer's ``if lr <= 0.0: raise ValueError('Invalid learning rate: ...')``."""
    check_tensor_lr(lr)
    check_min(lr, "Invalid learning rate: {}", strict=True)


def check_adam_like(hp: Mapping[str, Any]) -> None:
    """lr > 0, eps >= 0, betas in [0, 1), weight_decay >= 0 (AdaBelief, QHAdam, Yogi, ...)."""
    check_positive_lr(hp["lr"])
    check_eps(hp["eps"])
    check_betas(hp["betas"])
    check_weight_decay(hp["weight_decay"])
