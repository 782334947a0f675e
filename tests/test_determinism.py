"""Determinism: the same key gives bit-identical parameters, and a short training run
(shuffling, Dropout, BatchNorm) bit-identical results, in two fresh processes running at the
same time and in this one; AdaHessian's random probes depend on its key only."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import jax
import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]

# the script run here and in the subprocesses: it prints one digest per stage
SCRIPT = r"""
import hashlib, sys
import jax
jax.config.update("jax_enable_x64", True)
import jax.numpy as jnp
import numpy as np
from fnn import losses, nn, optim, train


def digest(tree):
    h = hashlib.sha256()
    for path, leaf in jax.tree_util.tree_flatten_with_path(tree)[0]:
        if jax.dtypes.issubdtype(leaf.dtype, jax.dtypes.prng_key):
            leaf = jax.random.key_data(leaf)
        a = np.asarray(leaf)
        h.update(jax.tree_util.keystr(path).encode() + str(a.dtype).encode() + a.tobytes())
    return h.hexdigest()[:32]


model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(),
                      nn.MaxPool2d(2), nn.Flatten(), nn.Dropout(0.3), nn.Linear(64, 3))
key = jax.random.key(1234)
out = [digest(model.init(key))]
# a short training run: shuffled batches, Dropout masks and BatchNorm statistics, all from
# the state's key
mlp = nn.Sequential(nn.Linear(6, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Dropout(0.3),
                    nn.Linear(16, 3))
x = jax.random.normal(jax.random.key(1), (32, 6))
y = jax.random.randint(jax.random.key(2), (32,), 0, 3)
opt = optim.adam(0.05)
state = train.init_state(mlp.init(key), opt, buffers=mlp.init_buffers(), key=jax.random.key(7))
epoch = train.make_train_epoch(mlp, opt, losses.cross_entropy, batch_size=8)
for _ in range(2):
    state, batch_losses = epoch(state, (x, y))
out.append(digest((state, batch_losses)))
print(" ".join(out))
"""


@pytest.mark.slow
def test_same_key_same_params_and_training_across_processes():
    env = {**os.environ, "PYTHONPATH": str(ROOT), "JAX_PLATFORMS": "cpu"}
    procs = [subprocess.Popen([sys.executable, "-c", SCRIPT], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outs = []
    for p in procs:
        stdout, stderr = p.communicate(timeout=300)
        assert p.returncode == 0, stderr[-2000:]
        outs.append(stdout.split())
    assert len(outs[0]) == 2
    assert outs[0] == outs[1]  # init and a training run: bit for bit
    # and this process (another import order, other compilations before) agrees, jitted too
    from fnn import nn

    model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(),
                          nn.MaxPool2d(2), nn.Flatten(), nn.Dropout(0.3), nn.Linear(64, 3))
    ns: dict = {}
    exec(SCRIPT[:SCRIPT.index("model = ")], ns)  # noqa: S102 - the digest helper
    assert ns["digest"](model.init(jax.random.key(1234))) == outs[0][0]
    assert ns["digest"](jax.jit(model.init)(jax.random.key(1234))) == outs[0][0]


def test_same_key_same_params_and_keys_are_split_not_reused():
    from fnn import nn

    model = nn.Sequential(nn.Linear(5, 7), nn.Linear(7, 2))
    key = jax.random.key(3)
    a, b = model.init(key), model.init(key)
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))
    c = model.init(jax.random.key(4))
    assert not np.array_equal(np.asarray(a["0"]["weight"]), np.asarray(c["0"]["weight"]))
    # the two layers get different draws (the key is split, not reused)
    assert not np.array_equal(np.asarray(a["0"]["bias"][:2]), np.asarray(a["1"]["bias"]))


def test_adahessian_probes_depend_only_on_the_key():
    from fnn import optim

    opt = optim.adahessian(0.1)
    params = {"w": jax.numpy.linspace(-1.0, 1.0, 6).reshape(2, 3)}
    # not separable: off-diagonal Hessian terms make the estimate depend on the probes
    loss = lambda p: jax.numpy.sum(jax.numpy.sin(p["w"]) ** 2) + jax.numpy.sum(p["w"]) ** 2
    step = jax.jit(lambda k: optim.step(opt, loss, params, opt.init(params), key=k)[0]["w"])
    runs = [np.asarray(step(jax.random.key(k))) for k in (5, 5, 0, 1, 2, 3)]
    np.testing.assert_array_equal(runs[0], runs[1])
    assert len({r.tobytes() for r in runs}) > 2  # other keys, other probes
