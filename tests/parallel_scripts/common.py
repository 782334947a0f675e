"""Shared by the subprocess scripts of tests/test_parallel.py (not collected by pytest).

Fleuret's CNN (examples/cnn.py) built from fnn.nn layers, a small synthetic data set and a
runner that trains it one-device, data parallel or sharded with the same code path.
"""

from __future__ import annotations

import json
import os
import sys


def set_cpu_devices(n: int) -> None:
    """Force ``n`` host-platform devices; must run before jax is imported."""
    if "jax" in sys.modules:
        raise RuntimeError("set_cpu_devices must run before jax is imported")
    os.environ["XLA_FLAGS"] = f"--xla_force_host_platform_device_count={n}"
    os.environ.setdefault("JAX_PLATFORMS", "cpu")


def emit(result: dict) -> None:
    """Print the result as the last stdout line, where the test reads it."""
    print("RESULT " + json.dumps(result), flush=True)


def net():
    import fnn.nn.functional as F
    from fnn import nn

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(1, 32, kernel_size=5)
            self.conv2 = nn.Conv2d(32, 64, kernel_size=5)
            self.fc1 = nn.Linear(256, 200)
            self.fc2 = nn.Linear(200, 10)

        def forward(self, params, x):
            x = F.relu(F.max_pool2d(self.conv1(params["conv1"], x), kernel_size=3))
            x = F.relu(F.max_pool2d(self.conv2(params["conv2"], x), kernel_size=2))
            x = x.reshape(x.shape[0], -1)
            x = F.relu(self.fc1(params["fc1"], x))
            return self.fc2(params["fc2"], x)

    return Net()


def dataset(n: int = 64, dtype=None):
    """``n`` random 1x28x28 images with labels, the same on every process."""
    import numpy as np

    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, 1, 28, 28)).astype(dtype or np.float32)
    y = rng.integers(0, 10, n).astype(np.int32)
    return x, y


def train_cnn(opt, *, mesh=None, fsdp=False, steps=4, batch_size=16, dtype=None):
    """Train the CNN ``steps`` steps (one ``lax.scan``) from the same init and batches.

    Returns ``(state, losses)``; the state is laid out on ``mesh`` when one is given.
    """
    import jax
    import jax.numpy as jnp

    from fnn import data, losses, parallel, train

    model = net()
    dtype = dtype or jnp.float32
    params = model.init(jax.random.key(0), dtype)
    state = train.init_state(params, opt, key=jax.random.key(1))
    x, y = dataset(dtype=dtype)
    idx = data.batch_indices(jax.random.key(2), len(x), batch_size)
    idx = jnp.concatenate([idx] * (-(-steps // len(idx))))[:steps]
    run = train.make_train_steps(model, opt, losses.cross_entropy, mesh=mesh, fsdp=fsdp)
    if mesh is None:
        dev = jax.local_devices()[0]
        state, xy = jax.device_put((state, (x, y)), dev)
    else:
        state = parallel.shard_state(state, mesh, fsdp=fsdp)
        xy = parallel.replicate((x, y), mesh)
        idx = parallel.replicate(idx, mesh)
    return run(state, xy, idx)
