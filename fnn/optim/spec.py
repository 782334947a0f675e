"""What the rest of fnn needs to know about an optimizer, as typed values.

Every optimizer rule declares a :class:`StateSpec` (how torch stores its state: the step,
the scalar slots, the hyperparameters that switch slots on); every optimizer built by
:func:`fnn.optim.build` (and :func:`fnn.optim.lbfgs`) is described by an
:class:`OptimizerSpec` (the rule's name and state spec, every group's hyperparameters and
glob patterns), which :func:`describe` returns. Interop, hyperparameter setters and
checkpoints read these instead of branching on optimizer names.
"""

from __future__ import annotations

import fnmatch
import weakref
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Literal, NamedTuple

__all__ = ["StateSpec", "OptimizerSpec", "describe", "register", "switched_slots"]


class StateSpec(NamedTuple):
    """How ``torch.optim`` keeps one optimizer's state.

    ``step``: torch's per-parameter ``state[p]["step"]``: ``"tensor"`` (a 0-d tensor in
    torch's default dtype, most optimizers), ``"int"`` (a Python int: SparseAdam) or
    ``"none"`` (no step kept: SGD, Muon). ``scalars``: slots torch keeps as 0-d tensors in
    its default dtype whatever the parameter dtype (NAdam's ``mu_product``, ASGD's
    ``eta``/``mu``; see :func:`fnn.optim.set_scalar_dtype`). ``switches``: hyperparameters
    whose value 0 at construction leaves a slot out (``{"momentum": "momentum_buffer"}``:
    torch creates the buffer lazily when momentum is switched on later, fnn cannot add
    state between steps, so switching such a hyperparameter on raises). ``eager``: torch
    creates the state in the constructor (Adagrad), so a ``state_dict`` before the first
    step already holds it.
    """

    step: Literal["tensor", "int", "none"] = "tensor"
    scalars: tuple[str, ...] = ()
    switches: Mapping[str, str] = {}
    eager: bool = False


class OptimizerSpec(NamedTuple):
    """One built optimizer, described: what :func:`describe` returns.

    ``name``: torch's class name (``"Adam"``). ``state``: the rule's :class:`StateSpec`.
    ``groups``: every group's hyperparameters as given to the factory (Python values,
    schedules as callables), the explicit groups in order and the default group last.
    ``patterns``: each explicit group's glob patterns on dotted parameter names.
    """

    name: str
    state: StateSpec
    groups: tuple[dict[str, Any], ...]
    patterns: tuple[tuple[str, ...], ...]

    def group_indices(self, names: Sequence[str]) -> list[int]:
        """The group of each dotted parameter name: the first group with a matching glob,
        else the default group, ``len(patterns)``."""
        out = []
        for name in names:
            for gi, pats in enumerate(self.patterns):
                if any(fnmatch.fnmatchcase(name, p) for p in pats):
                    out.append(gi)
                    break
            else:
                out.append(len(self.patterns))
        return out

    def num_groups(self, names: Sequence[str]) -> int:
        """How many groups an optimizer state for these parameters holds: the explicit
        groups, plus the default group only if some parameter matches no glob (torch's
        ``param_groups`` are exactly the groups given when they cover every parameter)."""
        n = len(self.patterns)
        return n + 1 if n == 0 or n in self.group_indices(names) else n


_SPECS: weakref.WeakKeyDictionary[Callable, OptimizerSpec] = weakref.WeakKeyDictionary()
_SWITCHES: dict[str, set[str]] = {}


def register(update: Callable, spec: OptimizerSpec) -> None:
    """Attach ``spec`` to an optimizer's ``update`` function (what :func:`describe` reads)."""
    _SPECS[update] = spec
    for hp, slot in spec.state.switches.items():
        _SWITCHES.setdefault(hp, set()).add(slot)


def describe(opt: Any) -> OptimizerSpec:
    """The :class:`OptimizerSpec` of an fnn optimizer (``optim.adam(...)``, ``optim.lbfgs(...)``).

    Raises ``ValueError`` for any other transformation (a plain optax one, or an fnn one
    wrapped in ``optax.chain``/``nonfinite_guard``: describe the inner optimizer).
    """
    update: Any = getattr(opt, "update", None)
    spec = _SPECS.get(update) if callable(update) else None
    if spec is None:
        raise ValueError(f"{type(opt).__name__} is not an fnn optimizer (one built by "
                         "fnn.optim's factories or fnn.optim.build); describe the optimizer "
                         "itself, not a chain or wrapper around it")
    return spec


def switched_slots(hyperparam: str) -> Iterable[str]:
    """The slots that a 0 value of ``hyperparam`` leaves out, in any rule built so far."""
    return sorted(_SWITCHES.get(hyperparam, ()))
