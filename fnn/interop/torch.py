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

import math
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from .. import _tree

__all__ = ["to_numpy", "to_torch", "load_state_dict", "state_dict", "optimizer_state_from_torch",
           "optimizer_state_to_torch"]


def _torch():
    try:
        import torch
    except ImportError as e:  # pragma: no cover - exercised only without torch
        raise ImportError("fnn.interop.torch needs PyTorch: pip install torch") from e
    return torch


# --------------------------------------------------------------------------- arrays
def to_numpy(t: Any) -> np.ndarray:
    """A torch tensor as a numpy array of the same dtype (bfloat16 via ml_dtypes)."""
    torch = _torch()
    t = t.detach().cpu()
    if t.dtype == torch.bfloat16:
        return t.float().numpy().astype(jnp.bfloat16)
    return t.numpy().copy()


def _to_jax(t: Any) -> jax.Array:
    a = to_numpy(t)
    out = jnp.asarray(a)
    if out.dtype != a.dtype:
        raise ValueError(
            f"cannot keep dtype {a.dtype} in JAX ({out.dtype} instead): enable "
            "jax.config.update('jax_enable_x64', True) for float64/int64 tensors")
    return out


def to_torch(a: Any) -> Any:
    """A JAX/numpy array as a torch tensor of the same dtype."""
    torch = _torch()
    a = np.asarray(a)
    if a.dtype == jnp.bfloat16:
        return torch.from_numpy(a.astype(np.float32)).to(torch.bfloat16)
    return torch.from_numpy(np.array(a, copy=True))


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
    params = _tree.unflatten({k: _to_jax(v) for k, v in sd.items() if k in exp_p})
    buffers = _tree.unflatten({k: _to_jax(v) for k, v in sd.items() if k in exp_b})
    return params, buffers


def state_dict(params: Mapping, buffers: Mapping | None = None) -> OrderedDict:
    """fnn ``(params, buffers)`` -> a torch ``state_dict`` (``OrderedDict`` of tensors).

    Within each module torch lists parameters before buffers; so does this.
    """

    def merge(p: Any, b: Any, prefix: str, out: OrderedDict) -> None:
        p = p if isinstance(p, Mapping) else {}
        b = b if isinstance(b, Mapping) else {}
        for k, v in p.items():
            if not isinstance(v, Mapping):
                out[prefix + k] = to_torch(v)
        for k, v in b.items():
            if not isinstance(v, Mapping):
                out[prefix + k] = to_torch(v)
        children = [k for k, v in p.items() if isinstance(v, Mapping)]
        children += [k for k, v in b.items() if isinstance(v, Mapping) and k not in children]
        for k in children:
            merge(p.get(k, {}), b.get(k, {}), f"{prefix}{k}.", out)

    out: OrderedDict = OrderedDict()
    merge(params, buffers or {}, "", out)
    return out


# --------------------------------------------------------------------------- optimizers
def _names_of(torch_module_or_names: Any) -> dict[int, str]:
    if hasattr(torch_module_or_names, "named_parameters"):
        return {id(p): n for n, p in torch_module_or_names.named_parameters()}
    raise TypeError("pass the torch module whose parameters the torch optimizer holds")


def _meta(opt: Any) -> tuple[str, list[dict], list[tuple[str, ...]]]:
    upd = opt.update
    if not hasattr(upd, "fnn_groups"):
        raise ValueError("optimizer_state_*: this is not an fnn optimizer built on fnn.optim's engine "
                         "(L-BFGS converts through lbfgs_state_from_torch)")
    return upd.fnn_rule, upd.fnn_groups, upd.fnn_patterns


_TORCH_ONLY = {"params", "param_names", "initial_lr", "foreach", "differentiable", "fused",
               "capturable", "lr", "decoupled_weight_decay"}


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, (tuple, list)) or isinstance(b, (tuple, list)):
        return (isinstance(a, (tuple, list)) and isinstance(b, (tuple, list)) and len(a) == len(b)
                and all(_same(x, y) for x, y in zip(a, b)))
    if isinstance(a, (bool, str, type(None))) or isinstance(b, (bool, str, type(None))):
        return a == b
    try:
        fa, fb = float(np.asarray(a)), float(np.asarray(b))
    except (TypeError, ValueError):
        return a == b
    return math.isclose(fa, fb, rel_tol=1e-12, abs_tol=0.0)


def _group_map(opt: Any, params: Mapping, torch_opt: Any, torch_module: Any) -> tuple[list[str], dict[str, int], dict[int, int]]:
    """fnn param names (flatten order), name -> fnn group, torch group -> fnn group."""
    from ..optim._engine import _assign_groups

    rule, groups, patterns = _meta(opt)
    names = list(_tree.flatten(params))
    fnn_group = dict(zip(names, _assign_groups(names, patterns)))
    id2name = _names_of(torch_module)
    tname = type(torch_opt).__name__
    if tname != rule:
        raise ValueError(f"different optimizers: torch has {tname}, fnn has {rule}")
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
            fg = fgs.pop()
            tg_to_fg[ti] = fg
            mine = groups[fg]
            for k, v in mine.items():
                if k in _TORCH_ONLY or callable(v):
                    continue
                if k not in g:
                    raise ValueError(f"hyperparameter {k!r}: fnn {rule} has it, torch group {ti} does not")
                if not _same(g[k], v):
                    raise ValueError(f"hyperparameter {k!r} differs in group {ti}: torch {g[k]!r}, fnn {v!r}")
    missing = [n for n in names if n not in seen]
    if missing:
        raise ValueError(f"fnn parameters not held by the torch optimizer: {missing}")
    return names, fnn_group, tg_to_fg


def optimizer_state_from_torch(opt: Any, params: Mapping, torch_opt: Any, torch_module: Any,
                               *, step: int | None = None) -> Any:
    """A torch optimizer's state -> the fnn state of ``opt`` (the same optimizer and
    hyperparameters) for ``params``. The current torch lrs become the state's lrs."""
    if type(torch_opt).__name__ == "LBFGS":
        from .torch_lbfgs import lbfgs_state_from_torch
        return lbfgs_state_from_torch(opt, params, torch_opt, torch_module)
    names, fnn_group, tg_to_fg = _group_map(opt, params, torch_opt, torch_module)
    template = opt.init(params)
    tmpl_slots = dict(zip(names, _slot_leaves(template.state, params)))
    by_name = {}
    for p, st in torch_opt.state.items():
        by_name[_names_of(torch_module)[id(p)]] = st
    steps = set()
    new_slots = {}
    for n in names:
        want = tmpl_slots[n]
        have = dict(by_name.get(n, {}))
        if "step" in have:
            st = have.pop("step")  # a tensor, or a Python int (SparseAdam)
            steps.add(float(st if isinstance(st, (int, float)) else np.asarray(to_numpy(st))))
        if not have and not by_name.get(n):  # torch has not stepped this parameter yet
            new_slots[n] = want
            continue
        if set(have) != set(want):
            raise ValueError(f"state of {n!r}: torch has {sorted(have)}, fnn {opt.update.fnn_rule} "
                             f"expects {sorted(want)}")
        conv = {}
        for k, tmpl in want.items():
            a = to_numpy(have[k])
            if a.shape != np.shape(tmpl):
                raise ValueError(f"state {n!r}[{k!r}]: torch shape {a.shape}, fnn expects {np.shape(tmpl)}")
            conv[k] = jnp.asarray(a, dtype=jnp.asarray(tmpl).dtype)
        new_slots[n] = conv
    if len(steps) > 1:
        raise ValueError(f"torch parameters have different step counts {sorted(steps)}; fnn keeps one")
    if step is None:
        if steps:
            step = int(steps.pop())
        else:  # SGD / Muon keep no step: a buffer means at least one step was taken
            step = 1 if any(by_name.values()) else 0
    groups = list(template.param_groups)
    for ti, fg in tg_to_fg.items():
        g = dict(groups[fg])
        g["lr"] = jnp.asarray(float(torch_opt.param_groups[ti]["lr"]), dtype=jnp.asarray(g["lr"]).dtype)
        for k in g:
            if k != "lr" and k in torch_opt.param_groups[ti]:
                v = torch_opt.param_groups[ti][k]
                g[k] = tuple(jnp.asarray(float(x), jnp.asarray(o).dtype) for x, o in zip(v, g[k])) \
                    if isinstance(g[k], tuple) else jnp.asarray(float(v), jnp.asarray(g[k]).dtype)
        groups[fg] = g
    slots_tree = _slots_unflatten(template.state, params, [new_slots[n] for n in names])
    return template._replace(step=jnp.asarray(step, template.step.dtype), param_groups=tuple(groups),
                             state=slots_tree)


def _slot_leaves(slots_tree: Any, params: Mapping) -> list[dict]:
    """Per-parameter slot dicts in :func:`fnn._tree.flatten` order of ``params``."""
    flat_slots = _tree.flatten(_strip(slots_tree, params))
    return [flat_slots[n].d for n in _tree.flatten(params)]


def _strip(slots_tree: Any, params: Any) -> Any:
    if isinstance(params, Mapping):
        return {k: _strip(slots_tree[k], v) for k, v in params.items()}
    return _Leaf(slots_tree)


class _Leaf:
    """Marks a per-parameter slot dict so that flatten stops there."""

    def __init__(self, d):
        self.d = d


def _slots_unflatten(template_tree: Any, params: Mapping, per_param: list[dict]) -> Any:
    it = iter(per_param)

    def build(p):
        if isinstance(p, Mapping):
            return {k: build(v) for k, v in p.items()}
        return next(it)

    return build(params)


def optimizer_state_to_torch(opt: Any, opt_state: Any, params: Mapping, torch_opt: Any,
                             torch_module: Any) -> dict:
    """Load the fnn state ``opt_state`` of ``opt`` into the torch optimizer ``torch_opt``
    (built over ``torch_module``'s parameters with the same hyperparameters). Returns the
    ``state_dict`` that was loaded."""
    if type(torch_opt).__name__ == "LBFGS":
        from .torch_lbfgs import lbfgs_state_to_torch
        return lbfgs_state_to_torch(opt, opt_state, params, torch_opt, torch_module)
    torch = _torch()
    names, fnn_group, tg_to_fg = _group_map(opt, params, torch_opt, torch_module)
    from ..optim.hyperparams import find_state

    st = find_state(opt_state)
    slots = dict(zip(names, _slot_leaves(st.state, params)))
    step = int(st.step)
    sd = torch_opt.state_dict()
    id2name = _names_of(torch_module)
    index: dict[Any, Any] = {}
    i = 0
    for g in torch_opt.param_groups:
        for p in g["params"]:
            index.setdefault(id(p), i)
            i += 1
    new_state = {}
    rule = opt.update.fnn_rule
    has_step = rule not in ("SGD", "Muon")
    for g in torch_opt.param_groups:
        for p in g["params"]:
            n = id2name[id(p)]
            entry = {k: to_torch(v) for k, v in slots[n].items()}
            if step == 0 and rule != "Adagrad":
                continue
            if has_step:  # SparseAdam keeps a Python int (its bias corrections in doubles)
                entry["step"] = step if rule == "SparseAdam" else torch.tensor(
                    float(step), dtype=torch.get_default_dtype())
            new_state[index[id(p)]] = entry
    groups = sd["param_groups"]
    for ti, fg in tg_to_fg.items():
        hp = st.param_groups[fg]
        groups[ti]["lr"] = float(hp["lr"])
        for k, v in hp.items():
            if k in groups[ti] and k != "lr":
                groups[ti][k] = tuple(float(x) for x in v) if isinstance(v, tuple) else float(v)
    new_sd = {"state": new_state, "param_groups": groups}
    torch_opt.load_state_dict(new_sd)
    # torch's load_state_dict casts every state tensor but "step" to the parameter dtype;
    # a native torch run keeps these scalars in the default dtype (float32) and rounds them
    # every step, as fnn does: restore that so the run continues exactly.
    for p_state in torch_opt.state.values():
        for k in _SCALAR_STATE:
            if k in p_state:
                p_state[k] = p_state[k].to(torch.get_default_dtype())
    return new_sd


_SCALAR_STATE = ("mu_product", "eta", "mu")
