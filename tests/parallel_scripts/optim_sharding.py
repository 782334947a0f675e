"""8 virtual CPU devices: every fnn optimizer's state keeps its sharding.

For each factory in ``fnn.optim`` (L-BFGS and the extended family included), on small
float64 params laid out FSDP-style: the state made by ``parallel.init_sharded`` is sharded
like the params; three steps of ``optim.step`` eagerly, under plain ``jax.jit`` and under
``jit`` with the layout pinned; the pinned run's params and state equal a one-device run.
Prints ``RESULT {...}``; tests/test_parallel.py asserts on it.
"""

from __future__ import annotations

import functools

from common import emit, set_cpu_devices

set_cpu_devices(8)

import jax  # noqa: E402

jax.config.update("jax_enable_x64", True)

import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402
from jax.sharding import NamedSharding  # noqa: E402
from jax.sharding import PartitionSpec as P  # noqa: E402

from fnn import optim, parallel  # noqa: E402

# fnn.optim's public names that are not optimizer factories
NOT_FACTORIES = {"step", "apply_updates", "get_lr", "set_lr", "get_hyperparam", "get_hyperparams",
                 "set_hyperparam", "build", "Rule", "OptState", "lr_scheduler", "swa_utils",
                 "asgd_averaged"}
KWARGS = {"lbfgs": dict(max_iter=4, history_size=16), "muon": dict(lr=1e-2)}
STEPS = 3


def make_params(name: str) -> dict:
    rng = np.random.default_rng(0)
    shapes = {"w": (16, 8), "u": (3, 5)} if name == "muon" else \
        {"w": (16, 8), "b": (8,), "s": (3,), "t": (5,)}  # 144 scalars: L-BFGS's n shards
    return {k: jnp.asarray(rng.standard_normal(s)) for k, s in shapes.items()}


def loss_fn(p):
    return sum(jnp.sum(jnp.tanh(v) ** 2 + 0.1 * (v - 0.3) ** 4) for v in jax.tree.leaves(p))


def specs(tree) -> list[str]:
    return [str(x.sharding.spec) if isinstance(x.sharding, NamedSharding) else "single"
            for x in jax.tree.leaves(tree)]


def run(opt, params, state, step_fn):
    key = jax.random.key(3)
    for i in range(STEPS):
        params, state, _ = step_fn(params, state, key=jax.random.fold_in(key, i))
    return params, state


def max_abs(a, b) -> float:
    return max([0.0] + [float(np.max(np.abs(np.asarray(u, np.float64) - np.asarray(v, np.float64))))
                        for u, v in zip(jax.tree.leaves(a), jax.tree.leaves(b)) if np.size(u)])


mesh = parallel.make_mesh()
rep = NamedSharding(mesh, P())
names = [n for n in optim.__all__ if n not in NOT_FACTORIES]
out = {}
for name in names:
    opt = getattr(optim, name)(**KWARGS.get(name, {}))
    if not isinstance(opt, optax.GradientTransformation):
        raise TypeError(f"fnn.optim.{name} is not an optimizer factory: add it to NOT_FACTORIES")
    params0 = make_params(name)
    step = functools.partial(optim.step, opt, loss_fn)
    # the one-device reference
    ref = run(opt, params0, opt.init(params0), jax.jit(step))
    # sharded: init, then eager, plain jit, pinned jit
    params = parallel.shard_params(params0, mesh)
    state0 = parallel.init_sharded(opt, params)
    layout = specs((params, state0))
    expected_state = parallel.state_shardings(state0, params)
    eager = run(opt, params, state0, step)
    plain = run(opt, params, state0, jax.jit(step))
    pinned_fn = jax.jit(step, out_shardings=(jax.tree.map(lambda x: x.sharding, params),
                                             expected_state, rep))
    pinned = run(opt, params, state0, pinned_fn)
    sizes = [(x.addressable_shards[0].data.size, x.size) for x in jax.tree.leaves(state0)]
    out[name] = {
        "init_matches_rule": specs(state0) == [str(s.spec) for s in jax.tree.leaves(expected_state)],
        "state_specs": specs(state0),
        "sharded_state_leaves": sum(s != "P()" for s in specs(state0)),
        "state_fraction_per_device": sum(a for a, _ in sizes) / max(1, sum(b for _, b in sizes)),
        "eager_kept": specs(eager) == layout,
        "plain_jit_kept": specs(plain) == layout,
        "pinned_kept": specs(pinned) == layout,
        "pinned_err": max_abs(pinned, ref),
        "eager_err": max_abs(eager, ref),
        "ref_moved": max_abs(ref[0], params0),
    }
emit(out)
