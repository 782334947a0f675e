"""Cyclical schedules that also cycle momentum (or Adam's ``betas[0]``): CyclicLR, OneCycleLR.

Papers: Smith, "Cyclical Learning Rates for Training Neural Networks" (WACV 2017);
Smith & Topin, "Super-Convergence: Very Fast Training of Neural Networks Using Large
Learning Rates" (2018).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from ... import _check
from ..._check import is_concrete
from ._base import LRScheduler, check_momentum_support, per_group, set_momentum, write
from ._ops import cos, fl, floor, where

__all__ = ["CyclicLR", "OneCycleLR"]


def _momentum_prepare(sched: Any, groups, base_momentum, max_momentum):
    """CyclicLR/OneCycleLR's constructor momentum handling: start at ``max_momentum`` and
    record ``max_momentum``/``base_momentum`` in the groups."""
    n = len(groups)
    sched.use_beta1 = check_momentum_support(type(sched).__name__, groups)
    sched.base_momentums = per_group("base_momentum", base_momentum, n)
    sched.max_momentums = per_group("max_momentum", max_momentum, n)
    groups = set_momentum(groups, sched.max_momentums, sched.use_beta1)
    groups = write(groups, "max_momentum", sched.max_momentums)
    return write(groups, "base_momentum", sched.base_momentums)


class CyclicLR(LRScheduler):
    r"""Cyclical learning rate (CLR); torch's ``CyclicLR``.

    With :math:`c = \lfloor 1 + e/(u+d)\rfloor`, :math:`x = 1 + e/(u+d) - c` and
    :math:`s = x/r` if :math:`x \le r` else :math:`(x-1)/(r-1)` (:math:`r = u/(u+d)`):

    .. math:: \eta_e = \eta_{base} + (\eta_{max} - \eta_{base})\,s\,f(\cdot), \qquad
              m_e = m_{max} - (m_{max} - m_{base})\,s\,f(\cdot)

    with ``f`` = 1 (triangular), :math:`2^{1-c}` (triangular2), :math:`\gamma^e`
    (exp_range) or ``scale_fn`` of the cycle or the iteration (``scale_mode``). Momentum
    (or ``betas[0]`` for Adam-like optimizers) cycles inversely when ``cycle_momentum``.
    ``init`` sets every group's lr to ``base_lr`` and its momentum to ``max_momentum``.
    A ``scale_fn`` gets a Python number outside jit (as in torch) and a traced array inside
    jit (write it with ``jnp`` there).
    """

    def __init__(self, base_lr: float | list[float], max_lr: float | list[float],
                 step_size_up: int = 2000, step_size_down: int | None = None,
                 mode: str = "triangular", gamma: float = 1.0,
                 scale_fn: Callable[[Any], Any] | None = None, scale_mode: str = "cycle",
                 cycle_momentum: bool = True, base_momentum: float | list[float] = 0.8,
                 max_momentum: float | list[float] = 0.9):
        _check.number("CyclicLR", "step_size_up", step_size_up, low=0.0, strict=True)
        _check.number("CyclicLR", "step_size_down", step_size_down, low=0.0, allow_none=True)
        _check.number("CyclicLR", "gamma", gamma)
        up = float(step_size_up)
        down = float(step_size_down) if step_size_down is not None else up
        self.total_size = up + down
        self.step_ratio = up / self.total_size
        if mode not in ["triangular", "triangular2", "exp_range"] and scale_fn is None:
            raise ValueError("mode is invalid and scale_fn is None")
        self.base_lr, self.max_lr, self.mode, self.gamma = base_lr, max_lr, mode, gamma
        self.cycle_momentum = cycle_momentum
        self.base_momentum, self.max_momentum = base_momentum, max_momentum
        if scale_fn is not None:
            self.scale_fn, self.scale_mode = scale_fn, scale_mode
        elif mode == "triangular":
            self.scale_fn, self.scale_mode = (lambda x: 1.0), "cycle"
        elif mode == "triangular2":
            self.scale_fn, self.scale_mode = (lambda x: 1 / (2.0 ** (x - 1))), "cycle"
        else:
            self.scale_fn, self.scale_mode = (lambda x: gamma**x), "iterations"

    def prepare(self, groups):
        n = len(groups)
        self.base_lrs_ = per_group("base_lr", self.base_lr, n)
        groups = write(groups, "lr", self.base_lrs_)
        self.max_lrs = per_group("max_lr", self.max_lr, n)
        if self.cycle_momentum:
            groups = _momentum_prepare(self, groups, self.base_momentum, self.max_momentum)
        return groups

    def base_lrs(self, groups):
        # torch re-sets self.base_lrs to the base_lr list after LRScheduler.__init__
        return tuple(self.base_lrs_)

    def _scale(self, e):
        """``(scale_factor, f(arg))`` at epoch ``e``."""
        ef = fl(e)
        cycle = floor(1 + ef / self.total_size)
        x = 1.0 + ef / self.total_size - cycle
        r = self.step_ratio
        scale = where(x <= r, x / r, (x - 1) / (r - 1))
        arg = cycle if self.scale_mode == "cycle" else e
        return scale, self.scale_fn(arg)

    def get_lr(self, state, groups, initial):
        scale, f = self._scale(state.last_epoch)
        lrs = tuple(b + (m - b) * scale * f for b, m in zip(state.base_lrs, self.max_lrs))
        if self.cycle_momentum:
            moms = [mx - (mx - mb) * scale * f
                    for mb, mx in zip(self.base_momentums, self.max_momentums)]
            groups = set_momentum(groups, moms, self.use_beta1)
        return lrs, groups

    def as_schedule(self, group: int = 0) -> Callable[[Any], Any]:
        """The lr of param group ``group`` as an optax-style schedule ``count -> lr``."""
        base = per_group("base_lr", self.base_lr, group + 1)[group] if isinstance(
            self.base_lr, (list, tuple)) else self.base_lr
        top = self.max_lr[group] if isinstance(self.max_lr, (list, tuple)) else self.max_lr

        def schedule(count):
            scale, f = self._scale(count)
            return fl(base) + (top - base) * scale * f

        return schedule


class OneCycleLR(LRScheduler):
    r"""The 1cycle policy; torch's ``OneCycleLR``.

    The lr goes from ``max_lr/div_factor`` up to ``max_lr`` over ``pct_start*T`` steps,
    then down to ``initial_lr/final_div_factor`` (with ``three_phase``: back to the
    initial lr first, then down), annealing each phase with

    .. math:: \text{cos: } v_1 + \frac{v_0 - v_1}{2}(1 + \cos\pi p) \qquad
              \text{linear: } v_0 + (v_1 - v_0)\,p

    where ``p`` is the fraction of the phase done; momentum (or ``betas[0]``) cycles
    inversely between ``max_momentum`` and ``base_momentum``. As torch, ``init`` writes
    ``initial_lr``, ``max_lr``, ``min_lr`` (and the momentum bounds) into the groups and
    stepping to exactly ``total_steps`` is allowed (it extrapolates); one step more raises
    torch's ``ValueError`` outside jit and gives NaN lrs inside jit.
    """

    def __init__(self, max_lr: float | list[float], total_steps: int | None = None,
                 epochs: int | None = None, steps_per_epoch: int | None = None,
                 pct_start: float = 0.3, anneal_strategy: str = "cos",
                 cycle_momentum: bool = True, base_momentum: float | list[float] = 0.85,
                 max_momentum: float | list[float] = 0.95, div_factor: float = 25.0,
                 final_div_factor: float = 1e4, three_phase: bool = False):
        if total_steps is not None:
            if total_steps <= 0 or not isinstance(total_steps, int):
                raise ValueError(f"Expected positive integer total_steps, but got {total_steps}")
            self.total_steps = total_steps
        elif epochs is not None and steps_per_epoch is not None:
            if not isinstance(epochs, int) or epochs <= 0:
                raise ValueError(f"Expected positive integer epochs, but got {epochs}")
            if not isinstance(steps_per_epoch, int) or steps_per_epoch <= 0:
                raise ValueError(
                    f"Expected positive integer steps_per_epoch, but got {steps_per_epoch}")
            self.total_steps = epochs * steps_per_epoch
        else:
            raise ValueError("You must define either total_steps OR (epochs AND steps_per_epoch)")
        T = self.total_steps
        if three_phase:
            self.phases = [
                (float(pct_start * T) - 1, "initial_lr", "max_lr", "max_momentum", "base_momentum"),
                (float(2 * pct_start * T) - 2, "max_lr", "initial_lr", "base_momentum",
                 "max_momentum"),
                (T - 1, "initial_lr", "min_lr", "max_momentum", "max_momentum"),
            ]
        else:
            self.phases = [
                (float(pct_start * T) - 1, "initial_lr", "max_lr", "max_momentum", "base_momentum"),
                (T - 1, "max_lr", "min_lr", "base_momentum", "max_momentum"),
            ]
        if pct_start < 0 or pct_start > 1 or not isinstance(pct_start, float):
            raise ValueError(f"Expected float between 0 and 1 pct_start, but got {pct_start}")
        if anneal_strategy not in ["cos", "linear"]:
            raise ValueError("anneal_strategy must be one of 'cos' or 'linear', "
                             f"instead got {anneal_strategy}")
        self.anneal_strategy = anneal_strategy
        self.max_lr, self.div_factor, self.final_div_factor = max_lr, div_factor, final_div_factor
        self.cycle_momentum = cycle_momentum
        self.base_momentum, self.max_momentum = base_momentum, max_momentum

    def prepare(self, groups):
        max_lrs = per_group("max_lr", self.max_lr, len(groups))
        initial = [m / self.div_factor for m in max_lrs]
        groups = write(groups, "initial_lr", initial)  # assigned, not setdefault
        groups = write(groups, "max_lr", max_lrs)
        groups = write(groups, "min_lr", [i / self.final_div_factor for i in initial])
        if self.cycle_momentum:
            groups = _momentum_prepare(self, groups, self.base_momentum, self.max_momentum)
        return groups

    def check_step(self, state, metrics, epoch):
        super().check_step(state, metrics, epoch)
        if is_concrete(state.last_epoch):
            e = int(state.last_epoch) + 1
            if e > self.total_steps:
                raise ValueError(f"Tried to step {e} times. The specified number of total "
                                 f"steps is {self.total_steps}")

    def _anneal(self, start, end, pct):
        if self.anneal_strategy == "cos":
            return end + (start - end) / 2.0 * (cos(math.pi * pct) + 1)
        return (end - start) * pct + start

    def _phased(self, group, e, which):
        """torch's phase scan for one group; ``which`` = 1 (lr) or 3 (momentum) key index."""
        ef = fl(e)
        out = None
        starts = [0.0] + [p[0] for p in self.phases[:-1]]
        for i in reversed(range(len(self.phases))):
            phase, start = self.phases[i], starts[i]
            pct = (ef - start) / (phase[0] - start)
            v = self._anneal(group[phase[which]], group[phase[which + 1]], pct)
            out = v if out is None else where(ef <= phase[0], v, out)
        return where(e > self.total_steps, math.nan, out)

    def get_lr(self, state, groups, initial):
        e = state.last_epoch
        lrs = tuple(self._phased(g, e, 1) for g in groups)
        if self.cycle_momentum:
            groups = set_momentum(groups, [self._phased(g, e, 3) for g in groups], self.use_beta1)
        return lrs, groups

    def as_schedule(self, group: int = 0) -> Callable[[Any], Any]:
        """The lr of param group ``group`` as an optax-style schedule ``count -> lr``."""
        top = self.max_lr[group] if isinstance(self.max_lr, (list, tuple)) else self.max_lr
        g = {"initial_lr": top / self.div_factor, "max_lr": top,
             "min_lr": top / self.div_factor / self.final_div_factor}
        return lambda count: fl(self._phased(g, count, 1))
