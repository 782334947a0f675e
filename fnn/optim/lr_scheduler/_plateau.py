"""ReduceLROnPlateau: cut the lr when a metric stops improving."""

from __future__ import annotations

import math

from ... import _check
from ._base import LRScheduler, SchedulerState, lrs_of, write
from ._ops import fl, maximum, where

__all__ = ["ReduceLROnPlateau"]


class ReduceLROnPlateau(LRScheduler):
    r"""Multiply every group's lr by ``factor`` after ``patience`` epochs without improvement.

    ``step(state, opt_state, metrics)`` (torch's ``scheduler.step(val_loss)``):

    * *better* means :math:`a < b(1-\theta)` (min/rel), :math:`a < b - \theta` (min/abs),
      :math:`a > b(1+\theta)` (max/rel) or :math:`a > b + \theta` (max/abs) against the
      best value so far, which resets the bad-epoch count;
    * during ``cooldown`` epochs after a reduction bad epochs are not counted;
    * when the count exceeds ``patience``: ``lr = max(lr*factor, min_lr)`` per group, applied
      only if it changes the lr by more than ``eps``.

    As torch it does not touch the lrs at construction and writes no ``initial_lr``.
    ``metrics`` may be a traced scalar (a jitted step computing the validation loss).
    torch: ``ReduceLROnPlateau(optimizer, mode="min", factor=0.1, patience=10,
    threshold=1e-4, threshold_mode="rel", cooldown=0, min_lr=0, eps=1e-8)``.
    """

    def __init__(self, mode: str = "min", factor: float = 0.1, patience: int = 10,
                 threshold: float = 1e-4, threshold_mode: str = "rel", cooldown: int = 0,
                 min_lr: float | list[float] = 0, eps: float = 1e-8):
        _check.number("ReduceLROnPlateau", "factor", factor)
        if factor >= 1.0:
            raise ValueError("Factor should be < 1.0.")
        _check.integer("ReduceLROnPlateau", "patience", patience, low=0)
        _check.integer("ReduceLROnPlateau", "cooldown", cooldown, low=0)
        _check.number("ReduceLROnPlateau", "threshold", threshold)
        _check.number("ReduceLROnPlateau", "eps", eps)
        if mode not in {"min", "max"}:
            raise ValueError("mode " + mode + " is unknown!")
        if threshold_mode not in {"rel", "abs"}:
            raise ValueError("threshold mode " + threshold_mode + " is unknown!")
        self.mode, self.factor, self.patience = mode, factor, patience
        self.threshold, self.threshold_mode = threshold, threshold_mode
        self.cooldown, self.min_lr, self.eps = cooldown, min_lr, eps

    def init_groups(self, groups):
        n = len(groups)
        if isinstance(self.min_lr, (list, tuple)):
            if len(self.min_lr) != n:
                raise ValueError(f"expected {n} min_lrs, got {len(self.min_lr)}")
            self.min_lrs = list(self.min_lr)
        else:
            self.min_lrs = [self.min_lr] * n
        worse = math.inf if self.mode == "min" else -math.inf
        extra = {"best": worse, "num_bad_epochs": 0, "cooldown_counter": 0}
        state = SchedulerState(0, 0, (), lrs_of(groups), extra)
        return state, tuple(groups)

    def check_step(self, state, metrics, epoch):
        if metrics is None:
            raise TypeError("ReduceLROnPlateau.step needs the metrics: "
                            "sched.step(state, opt_state, val_loss)")
        if epoch is not None:
            raise TypeError("ReduceLROnPlateau.step takes no epoch (torch's is deprecated)")

    def _is_better(self, a, best):
        t = self.threshold
        if self.mode == "min":
            return a < (best * (1.0 - t) if self.threshold_mode == "rel" else best - t)
        return a > (best * (t + 1.0) if self.threshold_mode == "rel" else best + t)

    def do_step(self, state, groups, initial, metrics=None, epoch=None):
        current = fl(metrics)
        x = state.extra
        better = self._is_better(current, x["best"])
        best = where(better, current, x["best"])
        bad = where(better, 0, x["num_bad_epochs"] + 1)
        in_cooldown = x["cooldown_counter"] > 0
        cooldown = where(in_cooldown, x["cooldown_counter"] - 1, x["cooldown_counter"])
        bad = where(in_cooldown, 0, bad)
        reduce = bad > self.patience
        lrs = []
        for g, lo in zip(groups, self.min_lrs):
            old = g["lr"]
            new = maximum(old * self.factor, lo)
            lrs.append(where(reduce & (old - new > self.eps), new, old))
        groups = write(groups, "lr", lrs)
        extra = {"best": best, "num_bad_epochs": where(reduce, 0, bad),
                 "cooldown_counter": where(reduce, self.cooldown, cooldown)}
        return SchedulerState(state.last_epoch + 1, state.step_count, (), lrs_of(groups),
                              extra), groups
