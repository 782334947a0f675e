"""torch's ``LRScheduler`` machinery as pure functions of a scheduler state.

A scheduler object holds only its configuration (Python values). Everything that changes
lives in a :class:`SchedulerState` and in the optimizer state's ``param_groups``, where
torch keeps it (``lr``, ``initial_lr``, ``momentum``/``betas``, OneCycleLR's ``max_lr``...).
The life cycle mirrors torch's exactly:

* ``init`` = the constructor: class-specific side effects on the groups, then
  ``setdefault("initial_lr", lr)``, ``base_lrs``, and the initial ``step()`` that already
  writes the epoch-0 learning rates (``_is_initial``);
* ``step`` = ``scheduler.step()``: ``_step_count += 1``, ``last_epoch += 1``, the
  recursive ``get_lr()`` applied to the current group values, the new lrs written;
* ``_update_lr(jump=True)`` = torch's ``_update_lr(0)`` used by SequentialLR at a
  milestone: ``last_epoch = 0`` and the closed form (or ``get_lr``).

The math is written once with the helpers of :mod:`._ops`: outside jit a step runs on
Python floats (torch's own arithmetic, bit for bit) and stores the results as 0-d arrays
in the hyperparameter dtype; on traced values (inside ``jax.jit``/``vmap``) the same code
builds ``jnp.where`` graphs, so a step is a pure function of the state there too (XLA may
then differ from torch in the last bits: it rewrites ``x / c`` as ``x * (1/c)``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import jax

from ..._check import is_concrete
from .._state_tree import has_param_groups, tree_find, tree_replace
from ._ops import all_concrete, fl, restore, to_host

__all__ = ["SchedulerState", "LRScheduler", "get_last_lr", "per_group", "Groups"]

Groups = tuple[dict[str, Any], ...]


class SchedulerState(NamedTuple):
    """What a torch scheduler keeps in ``self`` (its ``state_dict``), as arrays.

    ``last_epoch`` and ``step_count`` are torch's ``last_epoch`` and ``_step_count``;
    ``base_lrs`` and ``last_lr`` hold one value per param group (torch's ``base_lrs`` and
    ``get_last_lr()``); ``extra`` holds the scheduler's own counters (``T_cur``, ``best``,
    the sub-schedulers' states of SequentialLR, ...).
    """

    last_epoch: jax.Array
    step_count: jax.Array
    base_lrs: tuple[jax.Array, ...]
    last_lr: tuple[jax.Array, ...]
    extra: dict[str, Any]


def get_last_lr(state: SchedulerState) -> list[jax.Array]:
    """torch's ``scheduler.get_last_lr()``: the lrs the last step wrote, one per group."""
    _check_state("get_last_lr", state)
    return list(state.last_lr)


def _check_state(who: str, state: Any) -> None:
    if not isinstance(state, SchedulerState):
        raise TypeError(f"{who}: expected the SchedulerState returned by the scheduler's init "
                        f"(sched_state, opt_state = sched.init(opt_state)), got "
                        f"{type(state).__name__}")


def per_group(name: str, value: Any, n: int) -> list[Any]:
    """torch's ``_format_param``: a scalar is repeated, a list must have one entry per group."""
    if isinstance(value, (list, tuple)):
        if len(value) != n:
            raise ValueError(
                f"{name} must have the same length as optimizer.param_groups. "
                f"{name} has {len(value)} values, param_groups has {n}.")
        return list(value)
    return [value] * n




def groups_of(opt_state: Any) -> Groups:
    """The ``param_groups`` of the (first) fnn optimizer state inside ``opt_state``."""
    found = tree_find(opt_state, has_param_groups)
    if not found:
        raise ValueError("the scheduler needs an fnn optimizer state (with param_groups), "
                         f"got {type(opt_state).__name__}")
    return tuple(found[0].param_groups)


def with_groups(opt_state: Any, groups: Sequence[dict[str, Any]]) -> Any:
    """``opt_state`` with the param_groups of its (first) fnn optimizer state replaced."""
    new, _ = tree_replace(opt_state, has_param_groups,
                          lambda s: s._replace(param_groups=tuple(groups)), first_only=True)
    return new


def write(groups: Sequence[dict[str, Any]], key: str, values: Sequence[Any]) -> Groups:
    """Set ``group[key]`` in every group (torch's ``_update_param_group_val``)."""
    return tuple({**g, key: v} for g, v in zip(groups, values, strict=True))


def lrs_of(groups: Sequence[dict[str, Any]]) -> tuple[jax.Array, ...]:
    return tuple(g["lr"] for g in groups)


class LRScheduler:
    """Base class: torch's ``LRScheduler`` as ``init``/``step`` pure functions.

    Subclasses implement ``get_lr(state, groups, initial) -> (lrs, groups)`` (torch's
    recursive ``get_lr``; ``initial`` is torch's ``_is_initial``, a Python bool) and
    optionally ``closed_lr(base, e)`` (``_get_closed_form_lr`` for one group), ``prepare``
    (constructor side effects before ``LRScheduler.__init__``) and ``init_extra``.
    """

    # ------------------------------------------------------------------ public API
    def init(self, opt_state: Any) -> tuple[SchedulerState, Any]:
        """Build the scheduler on ``opt_state`` (torch's constructor, side effects included).

        Returns ``(scheduler_state, opt_state)``; the new optimizer state carries the epoch-0
        learning rates and the keys torch adds to the groups (``initial_lr``, ...).
        """
        groups = groups_of(opt_state)
        host = to_host(groups) if all_concrete(groups) else None
        state, new = self.init_groups(groups if host is None else host)
        return restore(state), with_groups(opt_state, restore(new, groups, host))

    def step(self, state: SchedulerState, opt_state: Any, metrics: Any = None, *,
             epoch: Any = None) -> tuple[SchedulerState, Any]:
        """torch's ``scheduler.step()``: a new ``(scheduler_state, opt_state)``.

        Pure and jit-compatible. ``metrics`` is for ReduceLROnPlateau, ``epoch`` for
        CosineAnnealingWarmRestarts (fractional epochs); the others take neither.
        """
        _check_state(f"{type(self).__name__}.step", state)
        self.check_step(state, metrics, epoch)
        groups = groups_of(opt_state)
        args = (state, groups, metrics, epoch)
        host = to_host(args) if all_concrete(args) else None
        if host is not None:  # outside jit: torch's Python-double arithmetic, exactly
            args = host
        new_state, new_groups = self.do_step(args[0], tuple(args[1]), initial=False,
                                             metrics=args[2], epoch=args[3])
        hs, hg = (host[0], host[1]) if host is not None else (None, None)
        return (restore(new_state, state, hs),
                with_groups(opt_state, restore(new_groups, groups, hg)))

    get_last_lr = staticmethod(get_last_lr)

    # ------------------------------------------------------------------ torch's machinery
    def check_step(self, state: SchedulerState, metrics: Any, epoch: Any) -> None:
        """Host-side argument checks (run before the pure step, skipped for tracers)."""
        if metrics is not None:
            raise TypeError(f"{type(self).__name__}.step takes no metrics "
                            "(only ReduceLROnPlateau does)")
        if epoch is not None:
            raise TypeError(f"{type(self).__name__}.step takes no epoch: fnn follows torch's "
                            "non-deprecated step() (CosineAnnealingWarmRestarts accepts one)")

    def prepare(self, groups: Groups) -> Groups:
        """Constructor side effects before ``LRScheduler.__init__`` (default: none)."""
        return groups

    def init_extra(self, groups: Groups) -> dict[str, Any]:
        return {}

    def init_groups(self, groups: Groups) -> tuple[SchedulerState, Groups]:
        """torch's constructor on the groups (``last_epoch=-1``)."""
        groups = self.prepare(tuple(groups))
        groups = tuple(g if "initial_lr" in g else {**g, "initial_lr": g["lr"]} for g in groups)
        state = SchedulerState(
            last_epoch=-1, step_count=0,
            base_lrs=self.base_lrs(groups), last_lr=lrs_of(groups),
            extra=self.init_extra(groups))
        return self.initial_step(state, groups)

    def base_lrs(self, groups: Groups) -> tuple[jax.Array, ...]:
        return tuple(g["initial_lr"] for g in groups)

    def initial_step(self, state: SchedulerState, groups: Groups) -> tuple[SchedulerState, Groups]:
        """torch's ``_initial_step``: ``_step_count = 0`` then ``step()`` in initial mode."""
        return self.do_step(state._replace(step_count=state.step_count * 0), groups, initial=True)

    def do_step(self, state: SchedulerState, groups: Groups, initial: bool,
                metrics: Any = None, epoch: Any = None) -> tuple[SchedulerState, Groups]:
        """torch's ``step()`` (no epoch)."""
        state = state._replace(step_count=state.step_count + 1)
        return self.update_lr(state, groups, initial)

    def update_lr(self, state: SchedulerState, groups: Groups, initial: bool = False,
                  jump: bool = False) -> tuple[SchedulerState, Groups]:
        """torch's ``_update_lr``: ``jump`` is ``_update_lr(0)`` (closed form at epoch 0)."""
        if jump:
            state = state._replace(last_epoch=state.last_epoch * 0)
            closed = self.closed_form(state)
            if closed is None:
                lrs, groups = self.get_lr(state, groups, False)
            else:
                lrs = closed
        else:
            state = state._replace(last_epoch=state.last_epoch + 1)
            lrs, groups = self.get_lr(state, groups, initial)
        groups = write(groups, "lr", lrs)
        return state._replace(last_lr=lrs_of(groups)), groups

    def get_lr(self, state: SchedulerState, groups: Groups, initial: bool
               ) -> tuple[tuple[jax.Array, ...], Groups]:
        raise NotImplementedError(f"{type(self).__name__} has no get_lr")

    # ------------------------------------------------------------------ closed forms
    closed_lr: Callable[[Any, Any], jax.Array] | None = None

    def closed_form(self, state: SchedulerState) -> tuple[jax.Array, ...] | None:
        """torch's ``_get_closed_form_lr`` at ``state.last_epoch`` (None if it has none)."""
        if self.closed_lr is None:
            return None
        return tuple(self.closed_lr(b, state.last_epoch) for b in state.base_lrs)

    def as_schedule(self, base_lr: float) -> Callable[[Any], jax.Array]:
        """This scheduler's closed form as an optax-style schedule ``count -> lr``.

        Pass it as ``lr=`` to any fnn optimizer: at update ``count`` (0 on the first one)
        it gives the lr torch would use after ``count`` scheduler steps. It equals the
        recursive trajectory up to rounding (torch documents the two forms as equal).
        """
        if self.closed_lr is None:
            raise TypeError(f"{type(self).__name__} has no closed form: drive it with "
                            "init/step instead of as_schedule")
        closed = self.closed_lr
        return lambda count: closed(fl(base_lr), count)


def check_momentum_support(name: str, groups: Groups) -> bool:
    """torch's cycle_momentum check; returns ``use_beta1``.

    fnn's SGD (and RMSprop) keep no momentum buffer when built with ``momentum=0``, where
    torch creates one lazily, so cycling would silently do nothing: that is an error here.
    """
    g0 = groups[0]
    if "momentum" not in g0 and "betas" not in g0:
        raise ValueError(
            "optimizer must support momentum or beta1 with `cycle_momentum` option enabled")
    if "betas" in g0:
        return True
    for i, g in enumerate(groups):
        m = g["momentum"]
        if is_concrete(m) and float(m) == 0.0:
            raise ValueError(
                f"{name}(cycle_momentum=True) needs an optimizer built with a nonzero momentum "
                f"(param group {i} has momentum 0, so fnn keeps no momentum buffer and torch "
                "would silently switch momentum on); build it with e.g. momentum=0.9, or pass "
                "cycle_momentum=False")
    return False


def set_momentum(groups: Groups, values: Sequence[Any], use_beta1: bool) -> Groups:
    """Write the cycled momentum: ``momentum`` or ``betas[0]`` of every group."""
    if not use_beta1:
        return write(groups, "momentum", values)
    return tuple({**g, "betas": (v, *g["betas"][1:])} for g, v in zip(groups, values, strict=True))
