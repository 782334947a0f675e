"""8 virtual CPU devices: the CNN one-device vs data parallel vs sharded (FSDP).

Prints ``RESULT {...}`` with the largest differences to the one-device run and the
layout checks; tests/test_parallel.py asserts on them.
"""

from __future__ import annotations

from common import emit, set_cpu_devices, train_cnn

set_cpu_devices(8)

import jax  # noqa: E402
import numpy as np  # noqa: E402
from jax.sharding import NamedSharding  # noqa: E402

from fnn import optim, parallel  # noqa: E402


def rel_err(a, b) -> float:
    la, lb = jax.tree.leaves(parallel.gather(a)), jax.tree.leaves(parallel.gather(b))
    return max(float(np.max(np.abs(u - v)) / (np.max(np.abs(v)) + 1e-30)) for u, v in zip(la, lb))


def specs(tree) -> list:
    return [str(x.sharding.spec) if isinstance(x.sharding, NamedSharding) else "single"
            for x in jax.tree.leaves(tree)]


def shard_counts(tree) -> list:
    """Elements per device / total elements, for each leaf (1.0 = replicated)."""
    return [x.addressable_shards[0].data.size / max(x.size, 1) for x in jax.tree.leaves(tree)]


mesh = parallel.make_mesh()
out = {"devices": len(jax.devices())}
for name, opt in [("sgd", optim.sgd(lr=0.1)), ("adam", optim.adam(lr=1e-3))]:
    ref, ref_loss = train_cnn(opt)
    for mode, fsdp in [("dp", False), ("fsdp", True)]:
        if name == "adam" and mode == "dp":
            continue  # adam only checks the sharded optimizer state
        st, loss = train_cnn(opt, mesh=mesh, fsdp=fsdp)
        expected = parallel.train_state_shardings(st, mesh, fsdp=fsdp)
        out[f"{name}_{mode}"] = {
            "param_rel_err": rel_err(st.params, ref.params),
            "opt_state_rel_err": rel_err(st.opt_state, ref.opt_state),
            "loss_rel_err": rel_err(loss, ref_loss),
            "layout_kept": specs(st) == [str(s.spec) for s in jax.tree.leaves(expected)],
            "param_specs": specs(st.params),
            "param_shard_fraction": shard_counts(st.params),
            "opt_specs": specs(st.opt_state.state),
            "losses": np.asarray(loss).tolist(),
            "ref_losses": np.asarray(ref_loss).tolist(),
        }
emit(out)
