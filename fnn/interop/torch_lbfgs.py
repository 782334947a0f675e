"""L-BFGS state between ``torch.optim.LBFGS`` and :func:`fnn.optim.lbfgs`.

torch keeps the whole state in ``optimizer.state[first_param]`` with Python lists
``old_dirs``/``old_stps``/``ro`` (oldest first); fnn keeps fixed-size ring buffers
(``state.old_dirs[(history_start + i) % history_size]`` is torch's ``old_dirs[i]``). The
flat vectors are permuted between the two parameter orders (:mod:`fnn.optim.lbfgs`
describes fnn's; torch's is ``module.parameters()``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from .. import _tree
from ..optim import describe
from ._common import import_torch, names_of, same, to_numpy

__all__ = ["lbfgs_state_from_torch", "lbfgs_state_to_torch"]

_CONFIG = ("max_iter", "max_eval", "tolerance_grad", "tolerance_change", "history_size",
           "line_search_fn")


def _check(opt: Any, params: Mapping, torch_opt: Any, torch_module: Any) -> dict:
    try:
        name = describe(opt).name
    except ValueError:
        name = type(opt).__name__
    if name != "LBFGS":
        raise ValueError(f"different optimizers: torch has LBFGS, fnn has {name}")
    mine = describe(opt).groups[0]
    group = torch_opt.param_groups[0]
    for k in _CONFIG:
        if not same(group[k], mine[k]):
            raise ValueError(f"hyperparameter {k!r} differs: torch {group[k]!r}, fnn {mine[k]!r}")
    names = [names_of(torch_module)[id(p)] for p in group["params"]]
    mine_names = _tree.leaf_names(params)
    if sorted(names) != sorted(mine_names):
        raise ValueError(f"different parameters: torch {names}, fnn {mine_names}")
    return mine


def _perm(params: Mapping, torch_opt: Any, torch_module: Any) -> np.ndarray:
    """Index array ``perm`` with ``fnn_flat = torch_flat[perm]``.

    torch concatenates parameters in ``module.parameters()`` order; fnn's L-BFGS in
    ``jax.tree.leaves`` order.
    """
    id2name = names_of(torch_module)
    offsets, pos = {}, 0
    for p in torch_opt.param_groups[0]["params"]:
        offsets[id2name[id(p)]] = (pos, p.numel())
        pos += p.numel()
    leaves = jax.tree_util.tree_leaves(params)
    pieces = []
    for name, leaf in zip(_tree.leaf_names(params), leaves):
        start, n = offsets[name]
        if n != np.size(leaf):
            raise ValueError(f"shape mismatch for {name!r}: torch has {n} elements, fnn {np.size(leaf)}")
        pieces.append(np.arange(start, start + n))
    return np.concatenate(pieces)


def lbfgs_state_from_torch(opt: Any, params: Mapping, torch_opt: Any, torch_module: Any) -> Any:
    """``torch.optim.LBFGS`` state -> :class:`fnn.optim.lbfgs.LBFGSState`."""
    mine = _check(opt, params, torch_opt, torch_module)
    template = opt.init(params)
    first = torch_opt.param_groups[0]["params"][0]
    st = torch_opt.state.get(first, {})
    lr_dtype = jnp.asarray(template.param_groups[0]["lr"]).dtype
    groups = ({"lr": jnp.asarray(float(torch_opt.param_groups[0]["lr"]), lr_dtype)},)
    if "d" not in st:  # torch has not iterated yet (or stopped at the very first check)
        return template._replace(param_groups=groups,
                                 func_evals=jnp.asarray(st.get("func_evals", 0), template.func_evals.dtype))
    pdt = template.d.dtype
    hist = mine["history_size"]
    perm = _perm(params, torch_opt, torch_module)
    vec = lambda v: jnp.asarray(np.asarray(to_numpy(v), dtype=pdt)[perm])
    k = len(st["old_dirs"])
    old_dirs = np.zeros(template.old_dirs.shape, pdt)
    old_stps = np.zeros(template.old_stps.shape, pdt)
    ro = np.zeros(template.ro.shape, pdt)
    for i in range(k):
        old_dirs[i] = to_numpy(st["old_dirs"][i])[perm]
        old_stps[i] = to_numpy(st["old_stps"][i])[perm]
        ro[i] = float(st["ro"][i])
    as_arr = lambda v, dt: jnp.asarray(np.asarray(to_numpy(v) if hasattr(v, "detach") else v, dtype=dt))
    return template._replace(
        param_groups=groups,
        func_evals=jnp.asarray(st["func_evals"], template.func_evals.dtype),
        n_iter=jnp.asarray(st["n_iter"], template.n_iter.dtype),
        d=vec(st["d"]), t=as_arr(st["t"], pdt), H_diag=as_arr(st["H_diag"], pdt),
        prev_flat_grad=vec(st["prev_flat_grad"]),
        prev_loss=jnp.asarray(float(st["prev_loss"]), template.prev_loss.dtype),
        old_dirs=jnp.asarray(old_dirs), old_stps=jnp.asarray(old_stps), ro=jnp.asarray(ro),
        history_start=jnp.asarray(0, template.history_start.dtype),
        history_len=jnp.asarray(min(k, hist), template.history_len.dtype))


def lbfgs_state_to_torch(opt: Any, state: Any, params: Mapping, torch_opt: Any,
                         torch_module: Any) -> dict:
    """Load an fnn L-BFGS state into ``torch_opt`` (a ``torch.optim.LBFGS`` over
    ``torch_module``'s parameters with the same arguments)."""
    torch = import_torch()
    mine = _check(opt, params, torch_opt, torch_module)
    hist = mine["history_size"]
    k, start = int(state.history_len), int(state.history_start)
    rows = [(start + i) % hist for i in range(k)]
    inv = np.argsort(_perm(params, torch_opt, torch_module))  # torch_flat = fnn_flat[inv]
    t = lambda a: torch.from_numpy(np.array(a, copy=True))
    tv = lambda a: torch.from_numpy(np.array(np.asarray(a)[inv], copy=True))
    entry: dict[str, Any] = {"func_evals": int(state.func_evals), "n_iter": int(state.n_iter)}
    if int(state.n_iter) > 0:
        entry.update(
            d=tv(state.d), t=float(state.t), H_diag=t(state.H_diag) if k else 1,
            prev_flat_grad=tv(state.prev_flat_grad), prev_loss=float(state.prev_loss),
            old_dirs=[tv(state.old_dirs[r]) for r in rows],
            old_stps=[tv(state.old_stps[r]) for r in rows],
            ro=[t(state.ro[r]) for r in rows],
            al=[None] * hist)
    sd = torch_opt.state_dict()
    sd["state"] = {0: entry}
    sd["param_groups"][0]["lr"] = float(state.param_groups[0]["lr"])
    torch_opt.load_state_dict(sd)
    return sd
