"""Cosine schedules: CosineAnnealingLR (torch's recursive form) and
CosineAnnealingWarmRestarts (SGDR, fractional epochs included).

Paper: Loshchilov & Hutter, "SGDR: Stochastic Gradient Descent with Warm Restarts" (ICLR 2017).
"""

from __future__ import annotations

import math
from typing import Any

import jax.numpy as jnp

from ... import _check
from ..._check import is_concrete
from ._base import LRScheduler, lrs_of, write
from ._ops import INT, cos, fl, floor, is_py, log, safe, where

__all__ = ["CosineAnnealingLR", "CosineAnnealingWarmRestarts"]


def _cosine(eta_min: float, base: Any, t_cur: Any, t_i: Any) -> Any:
    r""":math:`\eta_{min} + (\eta_0 - \eta_{min})(1 + \cos(\pi t/T))/2`."""
    return eta_min + (base - eta_min) * (1 + cos(math.pi * t_cur / t_i)) / 2


class CosineAnnealingLR(LRScheduler):
    r"""Cosine annealing from the base lr to ``eta_min`` over ``T_max`` epochs.

    .. math:: \eta_e = \eta_{min} + (\eta_0 - \eta_{min})\frac{1 + \cos(\pi e/T_{max})}{2}

    computed with torch's recursive form
    :math:`\eta_e = \frac{1 + \cos(\pi e/T)}{1 + \cos(\pi(e-1)/T)}(\eta_{e-1} - \eta_{min})
    + \eta_{min}` (and an additive step just after each minimum). As in torch it does not
    stop at ``T_max``: the lr rises again with period ``2*T_max``.
    torch: ``CosineAnnealingLR(optimizer, T_max, eta_min=0.0)``; paper: SGDR (2017).
    """

    def __init__(self, T_max: int, eta_min: float = 0.0):
        _check.integer("CosineAnnealingLR", "T_max", T_max, low=1)
        _check.number("CosineAnnealingLR", "eta_min", eta_min)
        self.T_max, self.eta_min = T_max, eta_min

    def get_lr(self, state, groups, initial):
        if initial:
            return lrs_of(groups), groups
        e, T, lo = state.last_epoch, self.T_max, self.eta_min
        ef = fl(e)
        after_min = (e - 1 - T) % (2 * T) == 0
        bump = (1 - math.cos(math.pi / T)) / 2
        ratio = (1 + cos(math.pi * ef / T)) / safe(1 + cos(math.pi * fl(e - 1) / T), after_min)
        first = (state.step_count == 1) & (e > 0)  # torch's resume branch (closed form)
        lrs = []
        for base, g in zip(state.base_lrs, groups):
            lr = g["lr"]
            rec = where(after_min, lr + (base - lo) * bump, ratio * (lr - lo) + lo)
            lrs.append(where(first, _cosine(lo, base, ef, T), rec))
        return tuple(lrs), groups

    def closed_lr(self, base, e):
        return _cosine(self.eta_min, base, fl(e), self.T_max)


class CosineAnnealingWarmRestarts(LRScheduler):
    r"""Cosine annealing with warm restarts (SGDR); torch's ``CosineAnnealingWarmRestarts``.

    .. math:: \eta = \eta_{min} + (\eta_0 - \eta_{min})\frac{1 + \cos(\pi T_{cur}/T_i)}{2}

    where :math:`T_{cur}` counts epochs since the last restart and :math:`T_i` (first
    ``T_0``) is multiplied by ``T_mult`` at each restart. ``step(s, opt_state)`` advances one
    epoch; ``step(s, opt_state, epoch=e)`` jumps to a (possibly fractional) epoch, as torch's
    ``scheduler.step(epoch + i / iters)`` inside an epoch.
    """

    def __init__(self, T_0: int, T_mult: int = 1, eta_min: float = 0.0):
        if T_0 <= 0 or not isinstance(T_0, int):
            raise ValueError(f"Expected positive integer T_0, but got {T_0}")
        if T_mult < 1 or not isinstance(T_mult, int):
            raise ValueError(f"Expected integer T_mult >= 1, but got {T_mult}")
        if not isinstance(eta_min, (float, int)):
            raise ValueError(
                f"Expected float or int eta_min, but got {eta_min} of type {type(eta_min)}")
        self.T_0, self.T_mult, self.eta_min = T_0, T_mult, eta_min

    def init_extra(self, groups):
        return {"T_cur": -1.0, "T_i": float(self.T_0)}

    def check_step(self, state, metrics, epoch):
        super().check_step(state, metrics, None)
        if epoch is not None and is_concrete(epoch) and float(epoch) < 0:
            raise ValueError(f"Expected non-negative epoch, but got {epoch}")

    def _at_epoch(self, epoch):
        """``(T_cur, T_i)`` for an explicit epoch (torch's ``step(epoch)`` branch)."""
        T0, Tm = self.T_0, self.T_mult
        late = epoch >= T0
        if Tm == 1:
            t_cur_late, t_i_late = epoch % T0, T0
        else:
            # torch: n = int(math.log(epoch/T_0*(T_mult-1) + 1, T_mult)); math.log(x, b) is
            # log(x)/log(b) (a non-late epoch may make the argument < 1: clamp n at 0)
            n = floor(log(epoch / T0 * (Tm - 1) + 1) / math.log(Tm))
            if is_py(n):
                n, pw = int(n), Tm ** int(n)
            else:  # XLA's log is not libm's: fix n by exact comparisons at the boundaries
                n = jnp.maximum(n, 0).astype(jnp.result_type(int))
                pw = fl(jnp.power(jnp.asarray(Tm, n.dtype), n))  # exact integer power
                up = epoch >= T0 * (pw * Tm - 1) / (Tm - 1)
                down = (epoch < T0 * (pw - 1) / (Tm - 1)) & (n > 0)
                pw = where(up, pw * Tm, where(down, pw / Tm, pw))
            t_cur_late, t_i_late = epoch - T0 * (pw - 1) / (Tm - 1), T0 * pw
        return where(late, t_cur_late, epoch), fl(where(late, t_i_late, T0))

    def do_step(self, state, groups, initial, metrics=None, epoch=None):
        # torch overrides step(): no _step_count bookkeeping
        x = state.extra
        if epoch is None:
            t_cur = x["T_cur"] + 1
            wrap = t_cur >= x["T_i"]
            t_cur_n = where(wrap, t_cur % x["T_i"], t_cur)
            t_i_n = where(wrap, x["T_i"] * self.T_mult, x["T_i"])
            # the first step (last_epoch < 0) goes through the explicit epoch-0 branch
            fresh = state.last_epoch < 0
            t0_cur, t0_i = self._at_epoch(0)
            t_cur = where(fresh, t0_cur, t_cur_n)
            t_i = where(fresh, t0_i, t_i_n)
            last_epoch = where(fresh, 0, state.last_epoch + 1)
        else:
            t_cur, t_i = self._at_epoch(epoch)
            last_epoch = floor(epoch)
            last_epoch = last_epoch if is_py(last_epoch) else last_epoch.astype(INT)
        state = state._replace(last_epoch=last_epoch, extra={"T_cur": fl(t_cur), "T_i": fl(t_i)})
        lrs, groups = self.get_lr(state, groups, initial)
        groups = write(groups, "lr", lrs)
        return state._replace(last_lr=lrs_of(groups)), groups

    def get_lr(self, state, groups, initial):
        x = state.extra
        return tuple(_cosine(self.eta_min, b, x["T_cur"], x["T_i"]) for b in state.base_lrs), groups

    def as_schedule(self, base_lr: float):
        """The lr at (fractional) epoch ``count`` as an optax-style schedule ``count -> lr``."""
        def schedule(count):
            t_cur, t_i = self._at_epoch(fl(count))
            return _cosine(self.eta_min, fl(base_lr), t_cur, t_i)

        return schedule
