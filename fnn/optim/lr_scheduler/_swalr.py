"""SWALR: the scheduler of stochastic weight averaging (torch's ``swa_utils.SWALR``)."""

from __future__ import annotations

import math
from collections.abc import Sequence

from ... import _check
from ._base import LRScheduler, per_group, write
from ._ops import cos, fl, maximum, minimum, safe, where

__all__ = ["SWALR"]


class SWALR(LRScheduler):
    r"""Anneal each group's lr to a fixed ``swa_lr`` over ``anneal_epochs``; torch's ``SWALR``.

    With :math:`t = \mathrm{clip}(k/\max(1, A), 0, 1)` at step :math:`k` and
    :math:`\alpha = f(t)` (``linear``: :math:`t`; ``cos``: :math:`(1 - \cos\pi t)/2`):

    .. math:: \eta_k = \alpha\,\eta_{swa} + (1-\alpha)\,\eta_{prev},

    where :math:`\eta_{prev}` is recovered from the current lr and :math:`f(t_{k-1})`
    (torch's recursive form). ``init`` writes ``swa_lr`` into the groups.
    """

    def __init__(self, swa_lr: float | Sequence[float], anneal_epochs: int = 10,
                 anneal_strategy: str = "cos"):
        if anneal_strategy not in ["cos", "linear"]:
            raise ValueError("anneal_strategy must be one of 'cos' or 'linear', "
                             f"instead got {anneal_strategy}")
        for lr in (swa_lr if isinstance(swa_lr, (list, tuple)) else [swa_lr]):
            _check.number("SWALR", "swa_lr", lr)
        if not isinstance(anneal_epochs, int) or anneal_epochs < 0:
            raise ValueError(f"anneal_epochs must be equal or greater than 0, got {anneal_epochs}")
        self.swa_lr, self.anneal_epochs, self.anneal_strategy = swa_lr, anneal_epochs, anneal_strategy

    def prepare(self, groups):
        return write(groups, "swa_lr", per_group("swa_lr", self.swa_lr, len(groups)))

    def _anneal(self, t):
        return t if self.anneal_strategy == "linear" else (1 - cos(math.pi * t)) / 2

    def get_lr(self, state, groups, initial):
        step = state.step_count - 1
        if self.anneal_epochs == 0:
            step = maximum(1, step)
        span = max(1, self.anneal_epochs)
        prev_alpha = self._anneal(maximum(0, minimum(1, fl(step - 1) / span)))
        alpha = self._anneal(maximum(0, minimum(1, fl(step) / span)))
        done = prev_alpha == 1
        lrs = []
        for g in groups:
            prev = where(done, g["swa_lr"],
                         (g["lr"] - prev_alpha * g["swa_lr"]) / safe(1 - prev_alpha, done))
            lrs.append(g["swa_lr"] * alpha + prev * (1 - alpha))
        return tuple(lrs), groups
