"""8 virtual CPU devices: every fnn optimizer's state keeps its sharding.

Usage: ``python optim_sharding.py`` with 8 host-platform devices in XLA_FLAGS.

For each factory in ``fnn.optim.__all__`` (L-BFGS and the extended family included, found
by calling every public function with its defaults; wrappers such as ``nonfinite_guard``
wrap Adam), in
float64, with parameters laid out FSDP-style (:func:`fnn.parallel.shard_params`):

- ``init``: the state from :func:`fnn.parallel.init_sharded` (jitted ``opt.init`` with
  ``out_shardings``), and the state from a plain eager ``opt.init(params)``;
- ``eager``: one un-jitted ``optim.step`` (``opt.update``) on the sharded state;
- ``jit``: ``STEPS`` steps of ``jax.jit(optim.step)`` with no sharding annotations (the
  layout must survive GSPMD's propagation, step after step);
- the ``jit`` run's params and state against the same steps on one device.

Prints ``RESULT {json}``: per optimizer, every state leaf's name, shape and specs after
each stage, and the largest differences to the one-device run; tests/test_parallel.py
asserts on them. L-BFGS and AdaHessian get their ``value_fn``/``key`` through
``optim.step``.
"""

from __future__ import annotations

import functools
import inspect

import jax
import jax.numpy as jnp
import numpy as np
import optax
from common import emit, expect_devices
from jax.sharding import NamedSharding

from fnn import _tree, optim, parallel

jax.config.update("jax_enable_x64", True)
expect_devices(8)

KWARGS = {"sgd": dict(lr=0.1, momentum=0.9), "lbfgs": dict(max_iter=4, history_size=8),
          "muon": dict(lr=1e-2)}
STEPS = 3


def make_params(name: str) -> dict:
    """Nested torch-style params. Sharded over 8: ``layer.weight`` on dim 0,
    ``head.weight`` on dim 1, ``layer.bias``; replicated: ``head.bias``, ``t``. 192
    scalars in all, so L-BFGS's flat vectors split too. Muon takes matrices only."""
    rng = np.random.default_rng(0)
    shapes = ({"layer": {"weight": (16, 8)}, "head": {"weight": (3, 16)}} if name == "muon" else
              {"layer": {"weight": (16, 8), "bias": (8,)},
               "head": {"weight": (3, 16), "bias": (3,)}, "t": (5,)})
    return jax.tree.map(lambda s: jnp.asarray(rng.standard_normal(s)), shapes,
                        is_leaf=lambda s: isinstance(s, tuple))


def loss_fn(p):
    return sum(jnp.sum(jnp.tanh(v) ** 2 + 0.1 * (v - 0.3) ** 4) for v in jax.tree.leaves(p))


def spec(x) -> str:
    return str(x.sharding.spec) if isinstance(x.sharding, NamedSharding) else "single-device"


def leaves(tree) -> list:
    return [(_tree.path_name(p), x) for p, x in jax.tree_util.tree_flatten_with_path(tree)[0]]


def rel_err(a, b) -> float:
    """max over leaves of ``max|a - b| / max(1, max|b|)`` (relative for big values such as
    L-BFGS's ``ro``, absolute for small ones)."""
    errs = [0.0]
    for u, v in zip(jax.tree.leaves(a), jax.tree.leaves(b)):
        u, v = np.asarray(u, np.float64), np.asarray(v, np.float64)
        if u.size:
            errs.append(float(np.max(np.abs(u - v)) / max(1.0, float(np.max(np.abs(v))))))
    return max(errs)


def run(step_fn, params, state, steps):
    key = jax.random.key(3)
    for i in range(steps):
        params, state, _ = step_fn(params, state, key=jax.random.fold_in(key, i))
    return params, state


def optimizers() -> tuple[dict, list[str]]:
    """Every factory in ``fnn.optim.__all__`` (a function that returns an optax
    transformation from its defaults), and the other names (helpers, classes, modules,
    wrappers that need an optimizer: ``nonfinite_guard`` is covered wrapping Adam)."""
    found, others = {}, []
    for name in optim.__all__:
        obj = getattr(optim, name)
        try:
            opt = obj(**KWARGS.get(name, {})) if inspect.isfunction(obj) else None
        except TypeError:  # required arguments: not a factory
            opt = None
        if isinstance(opt, optax.GradientTransformation):
            found[name] = opt
        else:
            others.append(name)
    if "nonfinite_guard" in others:
        found["nonfinite_guard(adam)"] = optim.nonfinite_guard(optim.adam())
    return found, others


mesh = parallel.make_mesh()
found, others = optimizers()
out = {"devices": len(jax.devices()), "optimizers": list(found), "not_factories": others,
       "results": {}}
for name, opt in found.items():
    params0 = make_params(name)
    step = functools.partial(optim.step, opt, loss_fn)
    jit_step = jax.jit(step)
    ref = run(jit_step, params0, opt.init(params0), STEPS)            # one device
    params = parallel.shard_params(params0, mesh)
    state0 = parallel.init_sharded(opt, params)
    eager_init = opt.init(params)
    eager = run(step, params, state0, 1)
    jitted = run(jit_step, params, state0, STEPS)
    out["results"][name] = {
        "params": [(n, list(x.shape), spec(x)) for n, x in leaves(params)],
        "state": [(n, list(x.shape), spec(x), spec(e), spec(u), spec(j),
                   x.addressable_shards[0].data.size)
                  for (n, x), (_, e), (_, u), (_, j)
                  in zip(leaves(state0), leaves(eager_init), leaves(eager[1]), leaves(jitted[1]))],
        "params_after": [[spec(x) for x in jax.tree.leaves(t[0])] for t in (eager, jitted)],
        "err": rel_err(jitted, ref),
        "eager_err": rel_err(eager, run(jit_step, params0, opt.init(params0), 1)),
        "moved": rel_err(ref[0], params0),
    }
emit(out)
