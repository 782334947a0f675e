"""Schedulers that multiply the current lr: LambdaLR, MultiplicativeLR, StepLR, MultiStepLR,
ConstantLR, LinearLR, ExponentialLR, PolynomialLR.

Each ``get_lr`` is torch's recursive form (it transforms the group's *current* lr, so
schedulers chain); ``closed_lr(base, e)`` is torch's ``_get_closed_form_lr``. ``e`` is
``last_epoch`` after the increment (0 at construction).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from ... import _check
from ._base import LRScheduler
from ._ops import fl, minimum, safe, where

__all__ = ["LambdaLR", "MultiplicativeLR", "StepLR", "MultiStepLR", "ConstantLR", "LinearLR",
           "ExponentialLR", "PolynomialLR"]


def _lambdas(lr_lambda: Any, n: int) -> list[Callable]:
    if not isinstance(lr_lambda, (list, tuple)):
        fns = [lr_lambda] * n
    elif len(lr_lambda) != n:
        raise ValueError(f"Expected {n} lr_lambdas, but got {len(lr_lambda)}")
    else:
        fns = list(lr_lambda)
    for f in fns:
        if not callable(f):
            raise TypeError(f"lr_lambda should be a function, but got {type(f).__name__}")
    return fns


def _scaled(groups, factor):
    """``[group["lr"] * factor for group in groups]`` (factor: one value or a function of i)."""
    return tuple(g["lr"] * factor for g in groups)


class LambdaLR(LRScheduler):
    r"""``lr = base_lr * lr_lambda(epoch)``; torch's ``LambdaLR(optimizer, lr_lambda)``.

    ``lr_lambda`` is one function of the epoch or a list with one per param group. Outside
    jit it gets the epoch as a Python int, as in torch (any Python works); inside a jitted
    step it gets a traced integer array, so write it with ``jnp`` (``jnp.where``).
    """

    def __init__(self, lr_lambda: Callable[[Any], Any] | Sequence[Callable[[Any], Any]]):
        self.lr_lambda = lr_lambda

    def init_groups(self, groups):
        self.lr_lambdas = _lambdas(self.lr_lambda, len(groups))
        return super().init_groups(groups)

    def get_lr(self, state, groups, initial):
        e = state.last_epoch
        return tuple(b * f(e) for f, b in zip(self.lr_lambdas, state.base_lrs)), groups


class MultiplicativeLR(LRScheduler):
    r"""``lr_e = lr_{e-1} * lr_lambda(e)`` (unchanged at construction);
    torch's ``MultiplicativeLR(optimizer, lr_lambda)``. See :class:`LambdaLR` for lambdas."""

    def __init__(self, lr_lambda: Callable[[Any], Any] | Sequence[Callable[[Any], Any]]):
        self.lr_lambda = lr_lambda

    def init_groups(self, groups):
        self.lr_lambdas = _lambdas(self.lr_lambda, len(groups))
        for f in self.lr_lambdas:
            if not callable(f):
                raise TypeError(f"lr_lambda should be a function, but got {type(f).__name__}")
        return super().init_groups(groups)

    def get_lr(self, state, groups, initial):
        if initial:
            return tuple(g["lr"] for g in groups), groups
        e = state.last_epoch
        return tuple(g["lr"] * f(e) for f, g in zip(self.lr_lambdas, groups)), groups


class StepLR(LRScheduler):
    r"""Decay by ``gamma`` every ``step_size`` epochs; torch's ``StepLR``.

    .. math:: \eta_e = \eta_{e-1}\,\gamma^{[e>0 \wedge e \bmod s = 0]}
       \quad(\text{closed form } \eta_0\,\gamma^{\lfloor e/s\rfloor})
    """

    def __init__(self, step_size: int, gamma: float = 0.1):
        _check.integer("StepLR", "step_size", step_size, low=1)
        _check.number("StepLR", "gamma", gamma)
        self.step_size, self.gamma = step_size, gamma

    def get_lr(self, state, groups, initial):
        e = state.last_epoch
        keep = (e == 0) | (e % self.step_size != 0)
        return tuple(where(keep, g["lr"], g["lr"] * self.gamma) for g in groups), groups

    def closed_lr(self, base, e):
        return base * self.gamma ** (e // self.step_size)


class MultiStepLR(LRScheduler):
    r"""Decay by ``gamma`` at each milestone (duplicates stack); torch's ``MultiStepLR``.

    .. math:: \eta_e = \eta_{e-1}\,\gamma^{\#\{m = e\}}
       \quad(\text{closed form } \eta_0\,\gamma^{\#\{m \le e\}})

    As in torch the milestones are a multiset (``Counter``) and need not be sorted.
    """

    def __init__(self, milestones: Iterable[int], gamma: float = 0.1):
        if not isinstance(milestones, Iterable) or isinstance(milestones, str):
            raise TypeError(f"MultiStepLR: milestones must be a list of ints, got {milestones!r}")
        milestones = list(milestones)
        for m in milestones:
            _check.integer("MultiStepLR", "milestones", m)
        _check.number("MultiStepLR", "gamma", gamma)
        self.milestones = Counter(milestones)
        self.gamma = gamma

    def get_lr(self, state, groups, initial):
        e = state.last_epoch
        factor, hit = 1.0, e != e
        for m, count in self.milestones.items():
            factor = where(e == m, self.gamma**count, factor)  # gamma**count on host
            hit = hit | (e == m)
        return tuple(where(hit, g["lr"] * factor, g["lr"]) for g in groups), groups

    def closed_lr(self, base, e):
        ms = sorted(self.milestones.elements())
        passed = sum(where(e >= m, 1, 0) for m in ms)
        return base * self.gamma**passed


class ConstantLR(LRScheduler):
    r"""Multiply by ``factor`` until epoch ``total_iters``; torch's ``ConstantLR``.

    .. math:: \eta_e = \eta_0\,(f + [e \ge T](1 - f))
    """

    def __init__(self, factor: float = 1.0 / 3, total_iters: int = 5):
        _check.number("ConstantLR", "factor", factor)
        _check.integer("ConstantLR", "total_iters", total_iters, low=0)
        if factor > 1.0 or factor < 0:
            raise ValueError("Constant multiplicative factor expected to be between 0 and 1.")
        self.factor, self.total_iters = factor, total_iters

    def get_lr(self, state, groups, initial):
        e = state.last_epoch
        undo = 1.0 / self.factor if self.factor != 0 else float("inf")
        lrs = tuple(where(e == 0, g["lr"] * self.factor,
                              where(e != self.total_iters, g["lr"], g["lr"] * undo))
                    for g in groups)
        return lrs, groups

    def closed_lr(self, base, e):
        return base * (self.factor + (e >= self.total_iters) * (1 - self.factor))


class LinearLR(LRScheduler):
    r"""Linear warm-up of the multiplicative factor; torch's ``LinearLR``.

    .. math:: \eta_e = \eta_0\Big(s + (t - s)\frac{\min(T, e)}{T}\Big)

    computed recursively as torch does:
    :math:`\eta_e = \eta_{e-1}\big(1 + \frac{t - s}{T s + (e - 1)(t - s)}\big)`.
    """

    def __init__(self, start_factor: float = 1.0 / 3, end_factor: float = 1.0,
                 total_iters: int = 5):
        _check.number("LinearLR", "start_factor", start_factor)
        _check.number("LinearLR", "end_factor", end_factor)
        _check.integer("LinearLR", "total_iters", total_iters, low=0)
        if start_factor > 1.0 or start_factor <= 0:
            raise ValueError("Starting multiplicative factor expected to be greater than 0 "
                             "and less or equal to 1.")
        if end_factor > 1.0 or end_factor < 0:
            raise ValueError("Ending multiplicative factor expected to be between 0 and 1.")
        self.start_factor, self.end_factor, self.total_iters = start_factor, end_factor, total_iters

    def get_lr(self, state, groups, initial):
        e = state.last_epoch
        s, t, T = self.start_factor, self.end_factor, self.total_iters
        if initial:
            return tuple(where(e == 0, g["lr"] * s, g["lr"]) for g in groups), groups
        d = t - s
        done = e > T
        ratio = 1.0 + d / safe(T * s + fl(e - 1) * d, done)
        lrs = tuple(where(e == 0, g["lr"] * s, where(done, g["lr"], g["lr"] * ratio))
                    for g in groups)
        return lrs, groups

    def closed_lr(self, base, e):
        s, t, T = self.start_factor, self.end_factor, self.total_iters
        return base * (s + (t - s) * fl(minimum(T, e)) / T)


class ExponentialLR(LRScheduler):
    r"""``lr_e = lr_{e-1} * gamma`` (closed form ``base * gamma**e``); torch's ``ExponentialLR``."""

    def __init__(self, gamma: float):
        _check.number("ExponentialLR", "gamma", gamma)
        self.gamma = gamma

    def get_lr(self, state, groups, initial):
        if initial:
            return tuple(g["lr"] for g in groups), groups
        return _scaled(groups, self.gamma), groups

    def closed_lr(self, base, e):
        return base * self.gamma**e


class PolynomialLR(LRScheduler):
    r"""Polynomial decay to 0 over ``total_iters``; torch's ``PolynomialLR``.

    .. math:: \eta_e = \eta_0\,(1 - \min(T, e)/T)^p, \quad\text{recursively}\quad
       \eta_e = \eta_{e-1}\Big(\frac{1 - e/T}{1 - (e-1)/T}\Big)^p
    """

    def __init__(self, total_iters: int = 5, power: float = 1.0):
        _check.integer("PolynomialLR", "total_iters", total_iters, low=0)
        _check.number("PolynomialLR", "power", power)
        self.total_iters, self.power = total_iters, power

    def get_lr(self, state, groups, initial):
        if initial:
            return tuple(g["lr"] for g in groups), groups
        e, T = state.last_epoch, self.total_iters
        done = e > T
        factor = ((1.0 - fl(e) / T) / safe(1.0 - fl(e - 1) / T, done)) ** self.power
        return tuple(where(done, g["lr"], g["lr"] * factor) for g in groups), groups

    def closed_lr(self, base, e):
        T = self.total_iters
        return base * (1.0 - fl(minimum(T, e)) / T) ** self.power
