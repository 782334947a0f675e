"""Move weights and optimizer state between torch and fnn, both ways.

torch is imported lazily: it is not a runtime dependency of fnn. Names and layouts
already match (fnn parameters are torch ``state_dict`` keys in torch layouts), so the
conversions are checks plus copies::

    params, buffers = interop.load_state_dict(model, torch_module.state_dict())
    torch_module.load_state_dict(interop.state_dict(params, buffers))

    opt_state = interop.optimizer_state_from_torch(opt, params, torch_opt, torch_module)
    interop.optimizer_state_to_torch(opt, opt_state, params, torch_opt, torch_module)

Every mismatch (a missing or unexpected key, a shape, a different optimizer or
hyperparameter) raises a ``ValueError`` naming the key and what differs.

Optimizer state mapping: fnn keeps one step count for all parameters
(``OptState.step``); torch keeps a ``"step"`` tensor per parameter, which must agree.
The per-parameter slots have torch's names (``exp_avg``, ``momentum_buffer``, ...).
SGD and Muon store no step in torch; fnn infers it (1 once a momentum buffer exists) unless
``step=`` is given. L-BFGS state converts through :func:`lbfgs_state_from_torch` and
:func:`lbfgs_state_to_torch` (called by the two functions above when needed).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from .. import _tree
from ..optim import describe
from ..optim.hyperparams import find_state
from ..optim.spec import OptimizerSpec
from ._common import import_torch, names_of, same, to_jax, to_numpy, to_torch
from .torch_lbfgs import lbfgs_state_from_torch, lbfgs_state_to_torch

__all__ = ["to_numpy", "to_torch", "load_state_dict", "state_dict", "optimizer_state_from_torch",
           "optimizer_state_to_torch"]


# --------------------------------------------------------------------------- weights
def _expected(model: Any, dtype: Any) -> tuple[dict, dict]:
    shapes = jax.eval_shape(lambda k: model.init(k, dtype), jax.random.key(0))
    return _tree.flatten(shapes), _tree.flatten(model.init_buffers(dtype))


def _state_dict_of(obj: Any) -> Mapping[str, Any]:
    return obj.state_dict() if hasattr(obj, "state_dict") and callable(obj.state_dict) else obj


def load_state_dict(model: Any, torch_state: Any, *, strict: bool = True) -> tuple[dict, dict]:
    """A torch ``state_dict`` (or module) -> fnn ``(params, buffers)`` for ``model``.

    Keys are checked against ``model`` (missing, unexpected, shapes); dtypes are kept
    (float64 tensors need ``jax_enable_x64``). ``strict=False`` ignores unexpected keys
    (as torch's ``load_state_dict(strict=False)``) but never missing ones.
    """
    sd = _state_dict_of(torch_state)
    first = next(iter(sd.values()), None)
    dtype = to_numpy(first).dtype if first is not None and to_numpy(first).dtype.kind == "f" else jnp.float32
    exp_p, exp_b = _expected(model, dtype)
    problems = []
    missing = [k for k in list(exp_p) + list(exp_b) if k not in sd]
    unexpected = [k for k in sd if k not in exp_p and k not in exp_b]
    if missing:
        problems.append(f"missing keys {missing}")
    if unexpected and strict:
        problems.append(f"unexpected keys {unexpected}")
    for k, spec in {**exp_p, **exp_b}.items():
        if k in sd and tuple(sd[k].shape) != tuple(np.shape(spec)):
            problems.append(f"shape mismatch for {k!r}: torch has {tuple(sd[k].shape)}, "
                            f"{type(model).__name__} expects {tuple(np.shape(spec))}")
    if problems:
        raise ValueError(f"load_state_dict into {type(model).__name__}: " + "; ".join(problems))
    # torch's order (registration order); jax.eval_shape returns dicts with sorted keys
    params = _tree.unflatten({k: to_jax(v) for k, v in sd.items() if k in exp_p})
    buffers = _tree.unflatten({k: to_jax(v) for k, v in sd.items() if k in exp_b})
    return params, buffers


def state_dict(params: Mapping, buffers: Mapping | None = None) -> OrderedDict:
    """fnn ``(params, buffers)`` -> a torch ``state_dict`` (``OrderedDict`` of tensors).

    Within each module torch lists parameters before buffers; so does this.
    """
    return OrderedDict((k, to_torch(v)) for k, v in _tree.state_dict_items(params, buffers).items())


# --------------------------------------------------------------------------- optimizers
_TORCH_ONLY = {"params", "param_names", "initial_lr", "foreach", "differentiable", "fused",
               "capturable", "lr", "decoupled_weight_decay"}


def _spec(opt: Any, torch_opt: Any) -> OptimizerSpec:
    try:
        spec = describe(opt)
    except ValueError as e:
        raise ValueError(f"optimizer_state_*: {e}") from None
    if type(torch_opt).__name__ != spec.name:
        raise ValueError(f"different optimizers: torch has {type(torch_opt).__name__}, "
                         f"fnn has {spec.name}")
    return spec


def _check_hyperparams(spec: OptimizerSpec, fg: int, g: Mapping[str, Any], ti: int) -> None:
    for k, v in spec.groups[fg].items():
        if k in _TORCH_ONLY or callable(v):
            continue
        if k not in g:
            raise ValueError(f"hyperparameter {k!r}: fnn {spec.name} has it, torch group {ti} does not")
        if not same(g[k], v):
            raise ValueError(f"hyperparameter {k!r} differs in group {ti}: torch {g[k]!r}, fnn {v!r}")


def _group_map(spec: OptimizerSpec, params: Mapping, torch_opt: Any, torch_module: Any,
               ) -> tuple[list[str], dict[int, int]]:
    """fnn param names (flatten order) and torch group -> fnn group, hyperparameters checked."""
    names = list(_tree.flatten(params))
    fnn_group = dict(zip(names, spec.group_indices(names)))
    id2name = names_of(torch_module)
    tg_to_fg: dict[int, int] = {}
    seen = set()
    for ti, g in enumerate(torch_opt.param_groups):
        fgs = set()
        for p in g["params"]:
            if id(p) not in id2name:
                raise ValueError(f"torch param_groups[{ti}] holds a tensor that is not a parameter of the module")
            n = id2name[id(p)]
            if n not in fnn_group:
                raise ValueError(f"parameter {n!r} of the torch optimizer is not in the fnn params")
            fgs.add(fnn_group[n])
            seen.add(n)
        if len(fgs) > 1:
            raise ValueError(f"torch param_groups[{ti}] spans several fnn groups {sorted(fgs)}")
        if fgs:
            tg_to_fg[ti] = fgs.pop()
            _check_hyperparams(spec, tg_to_fg[ti], g, ti)
    missing = [n for n in names if n not in seen]
    if missing:
        raise ValueError(f"fnn parameters not held by the torch optimizer: {missing}")
    return names, tg_to_fg


def _slots_at(slots_tree: Any, name: str) -> dict:
    """The slot dict of the parameter ``name`` (dotted) in a params-shaped slots tree."""
    node = slots_tree
    for k in name.split("."):
        node = node[k] if isinstance(node, Mapping) else node[int(k)]
    return node


def _slots_from_torch(spec: OptimizerSpec, name: str, want: dict, have: dict) -> dict:
    """torch's ``state[p]`` (``step`` removed) as fnn slots shaped and typed like ``want``."""
    if set(have) != set(want):
        raise ValueError(f"state of {name!r}: torch has {sorted(have)}, fnn {spec.name} "
                         f"expects {sorted(want)}")
    conv = {}
    for k, tmpl in want.items():
        a = to_numpy(have[k])
        if a.shape != np.shape(tmpl):
            raise ValueError(f"state {name!r}[{k!r}]: torch shape {a.shape}, fnn expects {np.shape(tmpl)}")
        conv[k] = jnp.asarray(a, dtype=jnp.asarray(tmpl).dtype)
    return conv


def _groups_from_torch(groups: tuple[dict, ...], torch_opt: Any, tg_to_fg: dict[int, int]) -> tuple:
    """The fnn groups with every hyperparameter torch's groups hold (current lrs included)."""
    out = list(groups)
    for ti, fg in tg_to_fg.items():
        tg = torch_opt.param_groups[ti]
        g = dict(out[fg])
        for k in g:
            if k in tg:
                v, old = tg[k], g[k]
                g[k] = (tuple(jnp.asarray(float(x), jnp.asarray(o).dtype) for x, o in zip(v, old))
                        if isinstance(old, tuple) else jnp.asarray(float(v), jnp.asarray(old).dtype))
        out[fg] = g
    return tuple(out)


def optimizer_state_from_torch(opt: Any, params: Mapping, torch_opt: Any, torch_module: Any,
                               *, step: int | None = None) -> Any:
    """A torch optimizer's state -> the fnn state of ``opt`` (the same optimizer and
    hyperparameters) for ``params``. The current torch lrs become the state's lrs.

    fnn keeps one step count; torch's per-parameter ``"step"`` values must agree. For
    optimizers whose torch state holds no step (SGD, Muon: :class:`fnn.optim.StateSpec`)
    the step is 1 once a buffer exists, unless ``step=`` is given.
    """
    if type(torch_opt).__name__ == "LBFGS":
        return lbfgs_state_from_torch(opt, params, torch_opt, torch_module)
    spec = _spec(opt, torch_opt)
    names, tg_to_fg = _group_map(spec, params, torch_opt, torch_module)
    template = opt.init(params)
    id2name = names_of(torch_module)
    by_name = {id2name[id(p)]: st for p, st in torch_opt.state.items()}
    steps, new_slots = set(), {}
    for n in names:
        have = dict(by_name.get(n, {}))
        if "step" in have:
            st = have.pop("step")  # a tensor, or a Python int (SparseAdam)
            steps.add(float(st if isinstance(st, (int, float)) else np.asarray(to_numpy(st))))
        want = _slots_at(template.state, n)
        new_slots[n] = _slots_from_torch(spec, n, want, have) if by_name.get(n) else want
    if len(steps) > 1:
        raise ValueError(f"torch parameters have different step counts {sorted(steps)}; fnn keeps one")
    if step is None:  # without a step in torch's state, a buffer means a step was taken
        step = int(steps.pop()) if steps else int(any(by_name.values()))
    return template._replace(step=jnp.asarray(step, template.step.dtype),
                             param_groups=_groups_from_torch(template.param_groups, torch_opt,
                                                             tg_to_fg),
                             state=_tree.unflatten(new_slots))


def _torch_entry(spec: OptimizerSpec, slots: dict, step: int) -> dict | None:
    """torch's ``state[p]`` for one parameter (``None``: torch holds no state yet)."""
    torch = import_torch()
    if step == 0 and not spec.state.eager:
        return None
    entry = {k: to_torch(v) for k, v in slots.items()}
    if spec.state.step == "int":  # SparseAdam keeps a Python int (bias corrections in doubles)
        entry["step"] = step
    elif spec.state.step == "tensor":
        entry["step"] = torch.tensor(float(step), dtype=torch.get_default_dtype())
    return entry


def optimizer_state_to_torch(opt: Any, opt_state: Any, params: Mapping, torch_opt: Any,
                             torch_module: Any) -> dict:
    """Load the fnn state ``opt_state`` of ``opt`` into the torch optimizer ``torch_opt``
    (built over ``torch_module``'s parameters with the same hyperparameters). Returns the
    ``state_dict`` that was loaded."""
    if type(torch_opt).__name__ == "LBFGS":
        return lbfgs_state_to_torch(opt, opt_state, params, torch_opt, torch_module)
    torch = import_torch()
    spec = _spec(opt, torch_opt)
    _, tg_to_fg = _group_map(spec, params, torch_opt, torch_module)
    st = find_state(opt_state)
    step = int(st.step)
    id2name = names_of(torch_module)
    new_state: dict[int, dict] = {}
    index: dict[int, int] = {}
    for g in torch_opt.param_groups:
        for p in g["params"]:
            i = index.setdefault(id(p), len(index))
            entry = _torch_entry(spec, _slots_at(st.state, id2name[id(p)]), step)
            if entry is not None:
                new_state[i] = entry
    groups = torch_opt.state_dict()["param_groups"]
    for ti, fg in tg_to_fg.items():
        for k, v in st.param_groups[fg].items():
            if k in groups[ti]:
                groups[ti][k] = tuple(float(x) for x in v) if isinstance(v, tuple) else float(v)
    new_sd = {"state": new_state, "param_groups": groups}
    torch_opt.load_state_dict(new_sd)
    # torch's load_state_dict casts every state tensor but "step" to the parameter dtype;
    # a native torch run keeps the scalar slots in its default dtype and rounds them every
    # step, as fnn does (fnn.optim.set_scalar_dtype): restore that so the run continues
    # exactly.
    for p_state in torch_opt.state.values():
        for k in spec.state.scalars:
            if k in p_state:
                p_state[k] = p_state[k].to(torch.get_default_dtype())
    return new_sd
