"""Shared by the subprocess scripts of tests/test_parallel.py (not collected by pytest).

Each script is started with ``XLA_FLAGS=--xla_force_host_platform_device_count=N`` and
``JAX_PLATFORMS=cpu`` already in its environment (the test sets them: the device count is
fixed when the backend starts, so it cannot be changed inside the pytest process), prints
one ``RESULT {json}`` line that the test parses, and may write arrays to ``.npz`` files.

The model is Fleuret's CNN, imported from ``examples/cnn.py`` unchanged; the data are
``N_SAMPLES`` random 1x28x28 images with labels, the same in every process.
"""

from __future__ import annotations

import json
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
N_SAMPLES = 64      # 4 steps of batch 16: one epoch
BATCH_SIZE = 16     # 2 rows per device on 8 devices, 4 on 2 processes x 2 devices
LR = {"sgd": 0.1, "adam": 1e-3}


def expect_devices(n: int) -> None:
    """Fail loudly when the environment did not give this process ``n`` CPU devices."""
    import jax

    devs = jax.local_devices()
    if len(devs) != n or devs[0].platform != "cpu":
        raise RuntimeError(f"expected {n} local CPU devices (XLA_FLAGS="
                           f"{os.environ.get('XLA_FLAGS')!r}), got {devs}")


def emit(result: dict) -> None:
    """Print the result as one ``RESULT {json}`` line, where the test reads it."""
    print("RESULT " + json.dumps(result), flush=True)


def net():
    """``examples/cnn.py``'s ``Net`` (conv 5x5 x32, conv 5x5 x64, fc 256-200-10)."""
    sys.path.insert(0, os.path.join(ROOT, "examples"))
    try:
        from cnn import Net
    finally:
        sys.path.pop(0)
    return Net()


def dataset(n: int = N_SAMPLES):
    """``n`` random float32 1x28x28 images and int32 labels, the same on every process."""
    import numpy as np

    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, 1, 28, 28)).astype(np.float32)
    y = rng.integers(0, 10, n).astype(np.int32)
    return x, y


def optimizer(name: str):
    from fnn import optim

    return getattr(optim, name)(lr=LR[name])


def fresh_state(opt):
    """The same float32 initial :class:`fnn.train.TrainState` in every run and process."""
    import jax
    import jax.numpy as jnp

    from fnn import train

    params = net().init(jax.random.key(0), jnp.float32)
    return train.init_state(params, opt, key=jax.random.key(1))


def epoch_rows(state):
    """The rows of each batch of the epoch ``fit`` would run next from ``state``
    (``(state, idx)``, idx ``(steps, BATCH_SIZE)``), for hand-written loops."""
    import numpy as np

    from fnn import data, train

    state, perm = train.next_epoch_key(state)
    return state, np.asarray(data.batch_indices(perm, N_SAMPLES, BATCH_SIZE))


def flat(tree) -> dict:
    """``{dotted name: host array}`` of a (possibly sharded, multi-process) tree."""
    import jax

    from fnn import _tree, parallel

    host = parallel.gather(tree)
    return {_tree.path_name(p): v for p, v in jax.tree_util.tree_flatten_with_path(host)[0]}


def layout(tree) -> dict:
    """``{name: {"spec", "shape", "shard_shape", "shards", "devices", "replicated"}}``:
    how each array of ``tree`` is laid out (``shards``: on this process's devices)."""
    import jax
    from jax.sharding import NamedSharding

    from fnn import _tree

    out = {}
    for p, x in jax.tree_util.tree_flatten_with_path(tree)[0]:
        if jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key):
            x = jax.random.key_data(x)
        s = x.sharding
        out[_tree.path_name(p)] = {
            "spec": str(s.spec) if isinstance(s, NamedSharding) else type(s).__name__,
            "shape": list(x.shape),
            "shard_shape": list(x.addressable_shards[0].data.shape),
            "shards": len(x.addressable_shards),
            "devices": len(s.device_set),
            "replicated": bool(s.is_fully_replicated),
        }
    return out
