"""Composite schedulers: SequentialLR (one after another) and ChainedScheduler (all at once).

The sub-schedulers are given unbuilt (``SequentialLR([LinearLR(...), ExponentialLR(...)],
milestones=[5])``); ``init`` builds them in order on the optimizer state, exactly as torch
users construct them one after another on the same optimizer, and then applies the
composite's own constructor (SequentialLR: lrs back to ``initial_lr``, ``recursive_undo``,
the first scheduler's initial step again).
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence

import jax

from ._base import LRScheduler, SchedulerState, lrs_of, write
from ._ops import is_py, restore, where
from ._plateau import ReduceLROnPlateau

__all__ = ["SequentialLR", "ChainedScheduler"]


def _check_subs(kind: str, schedulers: Sequence[LRScheduler], empty: str) -> list[LRScheduler]:
    if len(schedulers) < 1:
        raise ValueError(f"{kind} expects at least one scheduler{empty}, but got no scheduler.")
    for i, s in enumerate(schedulers):
        if not isinstance(s, LRScheduler):
            raise TypeError(f"{kind} at index {i} should be an fnn lr scheduler, "
                            f"got {type(s).__name__}")
        if isinstance(s, ReduceLROnPlateau):
            raise ValueError(
                f"{kind} does not support `ReduceLROnPlateau` scheduler as it requires "
                "additional kwargs to be specified when calling `step`, "
                f"but got one at index {i} in the given schedulers sequence.")
    return list(schedulers)


def _init_subs(subs, groups):
    states = []
    for s in subs:
        st, groups = s.init_groups(groups)
        states.append(st)
    return tuple(states), groups


def _undo(state: SchedulerState) -> SchedulerState:
    """torch's ``recursive_undo``: ``last_epoch -= 1`` in every (nested) sub-scheduler."""
    if "schedulers" in state.extra:
        subs = tuple(_undo(s) for s in state.extra["schedulers"])
        return state._replace(extra={**state.extra, "schedulers": subs})
    return state._replace(last_epoch=state.last_epoch - 1)


def _replace_at(states, i, new):
    return tuple(new if j == i else s for j, s in enumerate(states))


class _Composite(LRScheduler):
    def __init__(self, schedulers):
        self.schedulers = schedulers

    def base_lrs(self, groups):
        return ()


class SequentialLR(_Composite):
    r"""Run ``schedulers[i]`` between ``milestones[i-1]`` and ``milestones[i]``; torch's
    ``SequentialLR(optimizer, schedulers, milestones)``.

    At a milestone the next scheduler restarts at its epoch 0 with its closed form
    (torch's ``_update_lr(0)``); elsewhere the active one takes an ordinary step.
    """

    def __init__(self, schedulers: Sequence[LRScheduler], milestones: Sequence[int]):
        subs = _check_subs("SequentialLR", schedulers, "")
        if len(milestones) != len(subs) - 1:
            raise ValueError(
                "Sequential Schedulers expects number of schedulers provided to be one more "
                f"than the number of milestone points, but got number of schedulers {len(subs)} "
                f"and the number of milestones to be equal to {len(milestones)}")
        if list(milestones) != sorted(milestones):
            raise ValueError(f"SequentialLR expects increasing milestones, but got {list(milestones)}")
        for i, s in enumerate(subs[1:], 1):
            if isinstance(s, _Composite):
                raise NotImplementedError(
                    f"SequentialLR cannot restart the composite scheduler at index {i} at its "
                    "milestone (torch raises NotImplementedError there too)")
        super().__init__(subs)
        self.milestones = list(milestones)

    def init_groups(self, groups):
        states, groups = _init_subs(self.schedulers, tuple(groups))
        groups = write(groups, "lr", [g["initial_lr"] for g in groups])
        states = tuple(_undo(s) for s in states)
        idx = bisect_right(self.milestones, 0)
        st, groups = self.schedulers[idx].initial_step(states[idx], groups)
        states = _replace_at(states, idx, st)
        state = SchedulerState(0, 0, (), st.last_lr, {"schedulers": states})
        return state, groups

    def do_step(self, state, groups, initial, metrics=None, epoch=None):
        e = state.last_epoch + 1
        states = state.extra["schedulers"]
        n = len(self.schedulers)
        idx = sum(where(e >= m, 1, 0) for m in self.milestones)  # bisect_right
        jump = e != e
        for m in self.milestones:
            jump = jump | (e == m)

        def branch(i, is_jump):
            def run(operand):
                sts, gs = operand
                s = self.schedulers[i]
                if is_jump:
                    st, gs = s.update_lr(sts[i], gs, jump=True)
                else:
                    st, gs = s.do_step(sts[i], gs, initial=False)
                out = (_replace_at(sts, i, st), gs, st.last_lr)
                return out if is_py(e) else restore(out, (sts, operand[1], sts[i].last_lr))
            return run

        branches = [branch(i, False) for i in range(n)] + [branch(i, True) for i in range(1, n)]
        which = where(jump, n + idx - 1, idx)
        if is_py(which):  # outside jit: run the live branch only
            states, groups, last = branches[which]((states, tuple(groups)))
        else:
            states, groups, last = jax.lax.switch(which, branches, (states, tuple(groups)))
        return SchedulerState(e, state.step_count, (), last, {"schedulers": states}), groups


class ChainedScheduler(_Composite):
    r"""Step every scheduler in turn at each step (their effects multiply); torch's
    ``ChainedScheduler(schedulers)``."""

    def __init__(self, schedulers: Sequence[LRScheduler]):
        super().__init__(_check_subs("ChainedScheduler", schedulers, " to be chained"))

    def init_groups(self, groups):
        states, groups = _init_subs(self.schedulers, tuple(groups))
        state = SchedulerState(0, 0, (), lrs_of(groups), {"schedulers": states})
        return state, groups

    def do_step(self, state, groups, initial, metrics=None, epoch=None):
        states = []
        for s, st in zip(self.schedulers, state.extra["schedulers"]):
            st, groups = s.do_step(st, groups, initial=False)
            states.append(st)
        return state._replace(last_lr=lrs_of(groups), extra={"schedulers": tuple(states)}), groups
