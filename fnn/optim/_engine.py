"""The optimizer engine: everything an optimizer needs besides its math.

An fnn optimizer is a :class:`Rule` -- torch's single-tensor update for one parameter,
written top to bottom -- plus its hyperparameters. :func:`build` turns a rule into an
``optax.GradientTransformationExtraArgs`` and does all the plumbing once:

* mapping the rule over the leaves of a parameter pytree;
* torch-style **param groups** chosen by glob on dotted parameter names
  (``param_groups=[{"params": "classifier.*", "lr": 1e-3}]``; first match wins; the
  parameters that match no group form the *default group*, index ``len(param_groups)``,
  which exists only when some parameter matches no glob: groups that cover every
  parameter are exactly torch's ``param_groups``);
* **hyperparameters kept in the state** (``state.param_groups[i]["lr"]``), so they can be
  read and changed between steps (:mod:`fnn.optim.hyperparams`), and batched with vmap
  (except ``weight_decay=0`` as a Python number, the default, which is compiled out of
  the update so that it costs no memory traffic; pass ``jnp.asarray(0.0)`` to keep it
  changeable);
* ``lr`` (or any numeric hyperparameter) given as a **schedule** ``count -> value``;
* ``maximize`` (the gradient is negated before anything else, as in torch);
* the **step count** ``t`` (1 on the first update) handed to the rule;
* **validation** with torch's messages (each factory passes its validator).

Scalars derived from hyperparameters (bias corrections and the like) are computed in the
hyperparameter dtype: float64 when ``jax_enable_x64`` is on -- torch's Python-double
arithmetic -- and float32 otherwise; rules round them to the parameter dtype once, as a
Python scalar entering a torch float32 kernel is.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from .. import _tree
from .._check import is_concrete
from ._state_tree import has_param_groups, tree_find
from .spec import OptimizerSpec, StateSpec, register

__all__ = ["Rule", "OptState", "build", "hyper_dtype", "cast", "lerp", "is_concrete",
           "weight_decay", "torch_scalar", "find_slots", "set_scalar_dtype", "scalar_dtype"]

PyTree = Any


class Rule(NamedTuple):
    """One optimizer's math for a single parameter array (torch's ``_single_tensor_*``).

    ``init(param, hp) -> slots``: the per-parameter state as a dict named as torch's
    ``optimizer.state[p]`` (``{"exp_avg": ..., "exp_avg_sq": ...}``). ``hp`` holds the
    group's hyperparameters as given to the factory (Python numbers stay Python numbers).
    ``update(param, grad, slots, hp, t) -> (new_param, new_slots)``: one step. ``grad``
    is already negated for ``maximize``; ``hp`` holds the group's hyperparameters
    (numeric ones as 0-d arrays in :func:`hyper_dtype`, static ones as Python values);
    ``t`` is the step number after incrementing (1 on the first step) in the same dtype.
    ``static``: hyperparameter names that are Python values (flags, modes, sizes) and
    shape the computation; every other hyperparameter lives in the optimizer state.
    """

    name: str
    init: Callable[[jax.Array, Mapping[str, Any]], dict]
    update: Callable[..., tuple[jax.Array, dict]]
    static: tuple[str, ...] = ()
    # optional whole-tree precomputation before the per-leaf rule runs (AdaHessian's
    # Hutchinson diagonal): ``prepare(grads, params, extra_args) -> aux`` shaped like the
    # params; ``update`` then gets its leaf as a sixth argument, ``update(p, g, s, hp, t, aux)``
    prepare: Callable[[PyTree, PyTree, Mapping[str, Any]], PyTree] | None = None
    # hyperparameters that are tuples of values (``betas``, ``etas``, ...): a list given for
    # one is turned into a tuple, anything else that is not a sequence is a TypeError
    sequences: tuple[str, ...] = ()
    # how torch keeps this optimizer's state (interop, hyperparameter setters read it)
    spec: StateSpec = StateSpec()


class OptState(NamedTuple):
    """State of every engine-built optimizer.

    ``step``: updates done so far (int32). ``param_groups``: one dict per group of the
    numeric hyperparameters in force (torch's ``optimizer.param_groups[i]``, without
    ``"params"``); the default group, when there is one, is last. ``state``: a pytree shaped like the params
    whose leaves are replaced by the per-parameter slot dicts (torch's ``optimizer.state``).
    """

    step: jax.Array
    param_groups: tuple[dict[str, Any], ...]
    state: PyTree


def hyper_dtype() -> Any:
    """float64 when ``jax_enable_x64`` is on (torch's Python doubles), else float32."""
    return jnp.result_type(float)


def cast(x: Any, like: jax.Array) -> jax.Array:
    """Round a hyperparameter-derived scalar to ``like``'s dtype, once."""
    return jnp.asarray(x).astype(like.dtype)


def lerp(a: jax.Array, b: jax.Array, w: Any) -> jax.Array:
    """torch's ``a.lerp_(b, w)`` = ``a + w*(b - a)`` with torch's two-sided formula
    (``b - (b - a)*(1 - w)`` for ``w >= 0.5``). The side is chosen on the scalar ``w``:
    ``base + coef*(b - a)`` with ``(base, coef) = (a, w)`` or ``(b, -(1 - w))`` gives both
    formulas bit for bit (negation is exact) with one product per element, not two."""
    w = cast(w, a)
    low = w < 0.5
    return jnp.where(low, a, b) + jnp.where(low, w, -(1 - w)) * (b - a)


def weight_decay(p: jax.Array, g: jax.Array, lr: Any, wd: Any,
                 decoupled: bool = False) -> tuple[jax.Array, jax.Array]:
    """torch's weight decay: ``(p*(1 - lr*wd), g)`` if ``decoupled`` else ``(p, g + wd*p)``.

    Coupled (L2) decay adds ``wd*p`` to the gradient (``grad.add(param, alpha=wd)``);
    decoupled decay (AdamW, Loshchilov & Hutter 2019) shrinks the parameter first, with
    ``1 - lr*wd`` computed in the hyperparameter dtype and rounded once. A ``weight_decay``
    of Python ``0`` (every factory's default) is static (see :func:`build`): the term is
    left out entirely, as torch's ``if weight_decay != 0`` does, and the update reads the
    parameter one time fewer.
    """
    if _is_static_zero(wd):  # weight_decay=0 given as a Python number: compiled out
        return p, g
    if decoupled:
        return p * cast(1 - lr * wd, p), g
    return p, g + cast(wd, p) * p


def _is_static_zero(x: Any) -> bool:
    return isinstance(x, numbers.Number) and not isinstance(x, bool) and x == 0


_SCALAR_DTYPE: list[Any] = [jnp.float32]


def set_scalar_dtype(dtype: Any) -> Any:
    """Set the dtype of the scalar optimizer state torch keeps in its *default dtype*
    (NAdam's ``mu_product``, ASGD's ``eta``/``mu``: :attr:`StateSpec.scalars`); returns
    the previous one.

    torch rounds these to ``torch.get_default_dtype()``, float32 unless a script calls
    ``torch.set_default_dtype(torch.float64)``. fnn follows the float32 default; a port
    of a float64 torch script calls ``fnn.optim.set_scalar_dtype(jnp.float64)`` (with
    ``jax_enable_x64`` on) before building and tracing its optimizers, as the script calls
    ``torch.set_default_dtype``. The dtype is read when an optimizer's ``init``/``update``
    is traced: a jitted update keeps the dtype it was compiled with.
    """
    dtype = jnp.dtype(dtype)
    if dtype not in (jnp.dtype(jnp.float32), jnp.dtype(jnp.float64)):
        raise TypeError(f"set_scalar_dtype: only float32 and float64 are supported (torch's "
                        f"default dtypes), got {dtype}")
    old, _SCALAR_DTYPE[0] = _SCALAR_DTYPE[0], dtype
    return old


def scalar_dtype() -> Any:
    """The dtype set by :func:`set_scalar_dtype` (float32 by default, as torch's)."""
    return _SCALAR_DTYPE[0]


def torch_scalar(x: Any) -> jax.Array:
    """Round ``x`` as torch stores a 0-d scalar state tensor (NAdam's ``mu_product``,
    ASGD's ``eta``/``mu``): in torch's default dtype (:func:`scalar_dtype`, float32
    unless set), whatever the params' dtype."""
    return jnp.asarray(x).astype(scalar_dtype())


def find_slots(state: Any, slot: str) -> PyTree:
    """The per-parameter state ``slot`` as a pytree shaped like the params
    (``find_slots(state, "exp_avg")``); ``state`` may be a composite optax state."""
    found_states = tree_find(state, has_param_groups)
    if not found_states:
        raise ValueError("no fnn optimizer state (with param_groups) found in this state")
    s = found_states[0]
    is_slots = lambda x: isinstance(x, dict) and slot in x
    found = jax.tree_util.tree_leaves(s.state, is_leaf=is_slots)
    if not any(is_slots(x) for x in found):
        raise KeyError(f"this optimizer state has no per-parameter {slot!r} slot (the state "
                       f"of {type(s).__name__} holds {sorted({k for x in found if isinstance(x, dict) for k in x})})")
    return jax.tree_util.tree_map(lambda d: d[slot], s.state, is_leaf=is_slots)


def _is_number(x: Any) -> bool:
    if isinstance(x, bool):
        return False
    if isinstance(x, (numbers.Number, np.ndarray, np.generic, jax.Array, jax.core.Tracer)):
        return True
    if isinstance(x, (tuple, list)) and x and all(_is_number(v) for v in x):
        return True
    return False


def _to_hyper(x: Any) -> Any:
    if isinstance(x, (tuple, list)):
        return tuple(_to_hyper(v) for v in x)
    return jnp.asarray(x, dtype=hyper_dtype())


def _sched_count(count: jax.Array) -> jax.Array:
    """The step count handed to schedules, in the default integer type: int64 under x64,
    so that optax's schedules (``exponential_decay``, ``linear_schedule``, ...), which
    compute in float32 from an int32 count, compute in float64 as torch's do."""
    return count.astype(jnp.result_type(int))


def _with_tuples(rule: Rule, hp: Mapping[str, Any]) -> dict[str, Any]:
    """``hp`` with the rule's sequence hyperparameters as tuples (torch accepts lists); a
    non-sequence is a TypeError naming it (``tuple(0.9)`` would only say "'float' object
    is not iterable")."""
    out = dict(hp)
    for k in rule.sequences:
        v = out.get(k)
        if k not in out or callable(v):
            continue
        if not isinstance(v, (tuple, list)):
            raise TypeError(f"Invalid {k}: {v!r} (expected a tuple of values)")
        out[k] = tuple(v)
    return out


def _normalize_patterns(group: Mapping[str, Any], i: int) -> tuple[str, ...]:
    if "params" not in group:
        raise ValueError(f'param_groups[{i}] has no "params" entry (a glob such as "classifier.*")')
    pats = group["params"]
    if isinstance(pats, str):
        return (pats,)
    if isinstance(pats, (list, tuple)) and all(isinstance(p, str) for p in pats):
        return tuple(pats)
    raise TypeError(
        f'param_groups[{i}]["params"] must be a glob string or a list of them (dotted parameter '
        f"names such as 'fc1.*'), not {type(pats).__name__}")


def build(
    rule: Rule,
    defaults: Mapping[str, Any],
    param_groups: Sequence[Mapping[str, Any]] | None = None,
    validate: Callable[[Mapping[str, Any]], None] | None = None,
) -> optax.GradientTransformationExtraArgs:
    """Turn ``rule`` and its hyperparameters into an optax transformation.

    ``defaults`` are the factory's arguments (torch's ``optimizer.defaults``);
    ``param_groups`` overrides them per group; ``validate(hp)`` raises torch's
    ``ValueError`` for invalid values and runs on the defaults and on every group.
    The result is described by :func:`fnn.optim.describe`.
    """
    if not isinstance(rule, Rule) or not (callable(rule.init) and callable(rule.update)):
        raise TypeError(f"build: rule must be an fnn.optim.Rule with callable init and update, "
                        f"got {rule!r}"[:300])
    merged, patterns = _merge_groups(rule, defaults, param_groups, validate)
    spec = OptimizerSpec(rule.name, rule.spec, tuple(dict(hp) for hp in merged), patterns)
    split = [_split(rule, hp) for hp in merged]
    update = _make_update(rule, spec, split)
    register(update, spec)
    return optax.GradientTransformationExtraArgs(_make_init(rule, spec, merged, split), update)


def _merge_groups(rule: Rule, defaults: Mapping[str, Any],
                  param_groups: Sequence[Mapping[str, Any]] | None,
                  validate: Callable[[Mapping[str, Any]], None] | None,
                  ) -> tuple[list[dict[str, Any]], tuple[tuple[str, ...], ...]]:
    """Every group's hyperparameters (the defaults overridden, validated; the default group
    last) and each explicit group's glob patterns."""
    defaults = _with_tuples(rule, defaults)
    if validate is not None:
        validate(defaults)
    if param_groups is not None and (
            isinstance(param_groups, (Mapping, str)) or not isinstance(param_groups, Sequence)
            or not all(isinstance(g, Mapping) for g in param_groups)):
        raise TypeError(f"{rule.name}: param_groups must be a list of dicts such as "
                        f'[{{"params": "classifier.*", "lr": 1e-3}}], got {param_groups!r}'[:400])
    patterns, merged = [], []
    for i, g in enumerate(_with_tuples(rule, g) for g in (param_groups or ())):
        patterns.append(_normalize_patterns(g, i))
        unknown = sorted(set(g) - set(defaults) - {"params"})
        if unknown:
            raise ValueError(
                f"param_groups[{i}]: unknown hyperparameter(s) {unknown} for {rule.name}; "
                f"valid: {sorted(defaults)}")
        hp = {**defaults, **{k: v for k, v in g.items() if k != "params"}}
        if validate is not None:
            validate(hp)
        merged.append(hp)
    merged.append(dict(defaults))  # the default group, last
    return merged, tuple(patterns)


class _Split(NamedTuple):
    """One group's hyperparameters by kind: static (Python values shaping the
    computation), dynamic (numbers kept in the state) and schedules (``count -> value``)."""

    static: dict[str, Any]
    dynamic: dict[str, Any]
    schedules: dict[str, Callable]


def _split(rule: Rule, hp: Mapping[str, Any]) -> _Split:
    out = _Split({}, {}, {})
    for k, v in hp.items():
        if k in rule.static or (k == "weight_decay" and _is_static_zero(v)):
            out.static[k] = v
        elif callable(v):
            out.schedules[k] = v
        elif _is_number(v):
            out.dynamic[k] = v
        else:
            out.static[k] = v
    return out


def _current(dyn: Mapping[str, Any], sch: Mapping[str, Callable], count: jax.Array) -> dict:
    """The numeric hyperparameters in force at step ``count`` (schedules evaluated)."""
    out = dict(dyn)
    for k, f in sch.items():
        out[k] = _to_hyper(f(_sched_count(count)))
    return out


def _make_init(rule: Rule, spec: OptimizerSpec, merged: Sequence[Mapping[str, Any]],
               split: Sequence[_Split]) -> Callable[[PyTree], OptState]:
    def init(params: PyTree) -> OptState:
        names = _tree.leaf_names(params)
        leaves, treedef = jax.tree_util.tree_flatten(params)
        count = jnp.zeros((), jnp.int32)
        hps = tuple(_current({k: _to_hyper(v) for k, v in sp.dynamic.items()}, sp.schedules, count)
                    for sp in split[:spec.num_groups(names)])
        slots = []
        for p, gi in zip(leaves, spec.group_indices(names)):
            # init sees the hyperparameters as given (Python numbers where they were), so a
            # rule can decide statically which slots exist (SGD's momentum_buffer).
            raw = {k: (v(_sched_count(count)) if callable(v) and k not in rule.static else v)
                   for k, v in merged[gi].items()}
            slots.append(rule.init(jnp.asarray(p), raw))
        return OptState(count, hps, jax.tree_util.tree_unflatten(treedef, slots))

    return init


def _make_update(rule: Rule, spec: OptimizerSpec, split: Sequence[_Split]) -> Callable[..., Any]:
    def update(updates: PyTree, state: OptState, params: PyTree | None = None, **extra_args: Any):
        if params is None:
            raise ValueError(f"{rule.name} needs the current parameters: call opt.update(grads, state, params)")
        if not isinstance(state, OptState):
            raise TypeError(f"{rule.name}.update expects the OptState made by its init, got {type(state).__name__}")
        count = state.step
        hps = tuple(_current(dyn, sp.schedules, count) for dyn, sp in zip(state.param_groups, split))
        t = (count + 1).astype(hyper_dtype())
        g_leaves, treedef = jax.tree_util.tree_flatten(updates)
        p_leaves = treedef.flatten_up_to(params)  # type: ignore[attr-defined]
        s_leaves = treedef.flatten_up_to(state.state)  # type: ignore[attr-defined]
        gidx = spec.group_indices(_tree.leaf_names(updates))
        aux = ((None,) * len(g_leaves) if rule.prepare is None
               else treedef.flatten_up_to(  # type: ignore[attr-defined]
                   rule.prepare(updates, params, extra_args)))
        deltas, new_slots = [], []
        for g, p, s, gi, a in zip(g_leaves, p_leaves, s_leaves, gidx, aux):
            hp = {**hps[gi], **split[gi].static}
            g = jnp.asarray(g).astype(p.dtype)
            if hp.get("maximize", False):
                g = -g
            new_p, ns = rule.update(p, g, s, hp, t, *(() if rule.prepare is None else (a,)))
            deltas.append((new_p - p).astype(p.dtype))
            new_slots.append(ns)
        return (jax.tree_util.tree_unflatten(treedef, deltas),
                OptState(count + 1, hps, jax.tree_util.tree_unflatten(treedef, new_slots)))

    return update
