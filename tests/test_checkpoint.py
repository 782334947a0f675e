"""fnn.checkpoint: round trips, torch-readable weights, integrity, atomicity, exact resume."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from fnn import checkpoint, nn, optim, train
from tests.helpers import mlp_problem

ROOT = Path(__file__).resolve().parents[1]


class Net(nn.Module):
    """Linear-ReLU-Linear with a BatchNorm-style buffer set on the hidden layer's index."""

    def __init__(self):
        self.fc1 = nn.Linear(3, 8)
        self.fc2 = nn.Linear(8, 2)

    def forward(self, params, x):
        return self.fc2(params["fc2"], jax.nn.relu(self.fc1(params["fc1"], x)))


def _buffers():
    return {"bn": {"running_mean": jnp.arange(8.0), "running_var": jnp.ones(8),
                   "num_batches_tracked": jnp.asarray(5, jnp.int64)}}


def _equal_trees(a, b):
    la, ta = jax.tree.flatten(a)
    lb, tb = jax.tree.flatten(b)
    assert ta == tb
    for x, y in zip(la, lb):
        if jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key):
            x, y = jax.random.key_data(x), jax.random.key_data(y)
        assert x.dtype == y.dtype and x.shape == y.shape
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))


def test_round_trip_everything(tmp_path):
    rng = np.random.default_rng(0)
    params = {name: {"weight": jnp.asarray(rng.standard_normal(shape)),
                     "bias": jnp.asarray(rng.standard_normal(shape[0]))}
              for name, shape in (("fc1", (8, 3)), ("fc2", (2, 8)))}  # torch order
    opt = optim.adam(lr=0.1, amsgrad=True)
    state = opt.init(params)
    grads = jax.tree.map(jnp.ones_like, params)
    _, state = jax.jit(opt.update)(grads, state, params)
    key = jax.random.fold_in(jax.random.key(42), 3)
    checkpoint.save(tmp_path / "ck", params=params, buffers=_buffers(), opt_state=state, step=7,
                    key=key, metadata={"epoch": 2, "note": "hello", "lr": [0.1]})
    ck = checkpoint.load(tmp_path / "ck", like={"params": params, "opt_state": opt.init(params),
                                                "buffers": _buffers()})
    _equal_trees(ck.params, params)
    _equal_trees(ck.buffers, _buffers())
    _equal_trees(ck.opt_state, state)
    _equal_trees(ck.key, key)
    assert ck.step == 7 and ck.metadata == {"epoch": 2, "note": "hello", "lr": [0.1]}
    # without templates: nested dicts in saved (torch) order, flat optimizer entries
    raw = checkpoint.load(tmp_path / "ck")
    assert list(raw.params) == ["fc1", "fc2"] and list(raw.params["fc1"]) == ["weight", "bias"]
    _equal_trees(raw.params, params)
    assert raw.opt_state["state.fc1.weight.max_exp_avg_sq"].shape == (8, 3)
    assert raw.opt_state["param_groups.0.lr"] == 0.1
    assert int(raw.opt_state["step"]) == 1


def test_unusual_dtypes_and_raw_keys(tmp_path):
    params = {"w": jnp.arange(6, dtype=jnp.bfloat16).reshape(2, 3), "h": jnp.ones(2, jnp.float16),
              "i": jnp.arange(3, dtype=jnp.int8), "b": jnp.array([True, False])}
    legacy_key = jax.random.PRNGKey(3)  # a raw uint32[2] key
    checkpoint.save(tmp_path / "ck", params=params, key=legacy_key,
                    opt_state={"k": jax.random.key(1), "count": jnp.zeros((), jnp.int32)})
    ck = checkpoint.load(tmp_path / "ck", like={"params": params, "opt_state": {
        "k": jax.random.key(0), "count": jnp.ones((), jnp.int32)}})
    _equal_trees(ck.params, params)
    _equal_trees(ck.key, legacy_key)
    _equal_trees(ck.opt_state["k"], jax.random.key(1))


def test_torch_reads_the_weights_as_a_state_dict(tmp_path):
    x, _, flat = mlp_problem(np.float64)
    from fnn import _tree

    params = _tree.unflatten({k: jnp.asarray(v) for k, v in flat.items()})
    buffers = {"1": {"running_mean": jnp.full(32, 0.5), "running_var": jnp.full(32, 2.0),
                     "num_batches_tracked": jnp.asarray(3, jnp.int64)}}
    # the fnn params of Sequential(Linear, BatchNorm1d(affine=False), Linear) plus its buffers
    checkpoint.save(tmp_path / "ck", params=params, buffers=buffers)
    sd = load_file(str(tmp_path / "ck" / "model.safetensors"))
    net = torch.nn.Sequential(torch.nn.Linear(3, 32), torch.nn.BatchNorm1d(32, affine=False),
                              torch.nn.Linear(32, 1)).double()
    assert set(sd) == set(net.state_dict())
    net.load_state_dict(sd, strict=True)
    net.eval()
    h = (x @ flat["0.weight"].T + flat["0.bias"] - 0.5) / np.sqrt(2.0 + 1e-5)
    expected = h @ flat["2.weight"].T + flat["2.bias"]
    np.testing.assert_allclose(net(torch.tensor(x)).detach().numpy(), expected, rtol=1e-12)
    assert sd["1.num_batches_tracked"].dtype == torch.int64


def test_incompatible_model_names_the_keys(tmp_path):
    params = Net().init(jax.random.key(0))
    checkpoint.save(tmp_path / "ck", params=params)
    other = nn.Sequential(nn.Linear(3, 8), nn.Linear(8, 5))
    with pytest.raises(ValueError) as e:
        checkpoint.load(tmp_path / "ck", like={"params": other.init(jax.random.key(0))})
    msg = str(e.value)
    assert "missing keys ['0.weight', '0.bias', '1.weight', '1.bias']" in msg
    assert "unexpected keys ['fc1.weight', 'fc1.bias', 'fc2.weight', 'fc2.bias']" in msg
    wider = {"fc1": params["fc1"], "fc2": {"weight": jnp.zeros((4, 8)), "bias": jnp.zeros(4)}}
    with pytest.raises(ValueError, match=r"fc2.weight: checkpoint \(2, 8\), model \(4, 8\)"):
        checkpoint.load(tmp_path / "ck", like={"params": wider})
    opt = optim.sgd(lr=0.1, momentum=0.9)
    checkpoint.save(tmp_path / "ck2", params=params, opt_state=opt.init(params))
    with pytest.raises(ValueError, match="optimizer state.*missing keys.*exp_avg"):
        checkpoint.load(tmp_path / "ck2", like={"opt_state": optim.adam().init(params)})


def test_corrupted_and_truncated_files_are_reported(tmp_path):
    params = Net().init(jax.random.key(0))
    opt = optim.adam()
    path = checkpoint.save(tmp_path / "ck", params=params, opt_state=opt.init(params), step=1)
    model = path / "model.safetensors"
    blob = bytearray(model.read_bytes())
    blob[-3] ^= 0xFF
    model.write_bytes(bytes(blob))
    with pytest.raises(ValueError, match=r"model.safetensors is corrupted \(sha256"):
        checkpoint.load(path)
    checkpoint.save(path, params=params, opt_state=opt.init(params), step=1)
    opt_file = path / "optimizer.safetensors"
    opt_file.write_bytes(opt_file.read_bytes()[:-10])
    with pytest.raises(ValueError, match="optimizer.safetensors is corrupted .truncated"):
        checkpoint.verify(path)
    checkpoint.save(path, params=params, step=1)
    (path / "meta.json").write_text('{"format": "fnn.checkpoint", "fil')
    with pytest.raises(ValueError, match="meta.json is corrupted"):
        checkpoint.load(path)
    checkpoint.save(path, params=params, step=1)
    (path / "model.safetensors").unlink()
    with pytest.raises(ValueError, match="model.safetensors is missing"):
        checkpoint.load(path)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        checkpoint.load(tmp_path / "nothing")


def test_save_refuses_non_checkpoints_and_bad_metadata(tmp_path):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "thesis.tex").write_text("precious")
    with pytest.raises(FileExistsError, match="not an fnn checkpoint"):
        checkpoint.save(tmp_path / "mine", params={"w": jnp.ones(2)})
    assert (tmp_path / "mine" / "thesis.tex").read_text() == "precious"
    with pytest.raises(TypeError, match="metadata must be JSON-serialisable"):
        checkpoint.save(tmp_path / "ck", params={"w": jnp.ones(2)}, metadata={"f": object()})
    meta = checkpoint.verify(checkpoint.save(tmp_path / "ck", params={"w": jnp.ones(2)}))
    assert meta["fnn_version"] and meta["files"]["model.safetensors"]["sha256"]


def test_interrupted_swap_is_recovered(tmp_path):
    """A save killed between its two renames: load finds the previous checkpoint."""
    path = checkpoint.save(tmp_path / "ck", params={"w": jnp.full(3, 1.0)}, step=1)
    os.rename(path, tmp_path / ".ck.old-deadbeef")  # what a kill at that instant leaves
    with pytest.warns(UserWarning, match="interrupted"):
        ck = checkpoint.load(path)
    assert ck.step == 1
    checkpoint.save(path, params={"w": jnp.full(3, 2.0)}, step=2)
    assert checkpoint.load(path).step == 2
    assert not list(tmp_path.glob(".ck.*"))


_MODEL = nn.Sequential(nn.Linear(3, 32), nn.ReLU(), nn.Linear(32, 1))
_OPT = optim.adam(lr=0.01)
_EPOCH = train.make_train_epoch(_MODEL, _OPT, lambda out, t: jnp.sum((out - t) ** 2),
                                batch_size=16)


def _mlp_run(steps, state=None, dtype=jnp.float64):
    x, y, flat = mlp_problem(np.float64)
    from fnn import _tree

    params = _tree.unflatten({k: jnp.asarray(v, dtype) for k, v in flat.items()})
    opt, epoch = _OPT, _EPOCH
    if state is None:
        state = train.init_state(params, opt, key=jax.random.key(11))
    data = (jnp.asarray(x, dtype), jnp.asarray(y, dtype))
    for _ in range(steps):
        state, _ = epoch(state, data)
    return state, opt


@pytest.mark.parametrize("dtype", [jnp.float64, jnp.float32])
def test_resume_is_bit_identical(tmp_path, dtype):
    straight, _ = _mlp_run(6, dtype=dtype)
    half, opt = _mlp_run(3, dtype=dtype)
    checkpoint.save(tmp_path / "ck", **half._asdict(), metadata={"epoch": 3})
    template = train.init_state(half.params, opt)
    del half
    ck = checkpoint.load(tmp_path / "ck", like=template)
    resumed = train.TrainState(ck.params, ck.opt_state, ck.buffers, jnp.asarray(ck.step, jnp.int32),
                               ck.key)
    resumed, _ = _mlp_run(3, state=resumed, dtype=dtype)
    assert int(resumed.step) == int(straight.step) == 6 * 6
    _equal_trees(resumed.params, straight.params)
    _equal_trees(resumed.opt_state, straight.opt_state)
    _equal_trees(resumed.key, straight.key)


_SAVER = """
import sys, jax, jax.numpy as jnp
from fnn import checkpoint
path = sys.argv[1]
i = 0
while True:
    i += 1
    v = jnp.full((512, 1024), float(i))
    checkpoint.save(path, params={"a": {"w": v, "b": v[0]}}, opt_state={"m": v}, step=i,
                    metadata={"i": i})
    if i == 1:
        print("ready", flush=True)
"""


@pytest.mark.slow
def test_killed_save_leaves_a_loadable_checkpoint(tmp_path):
    """SIGKILL a process that saves in a loop, at random moments: the last complete
    checkpoint always loads, intact and self-consistent."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "JAX_PLATFORMS": "cpu"}
    rng = random.Random(0)
    seen = set()
    for trial in range(4):
        path = tmp_path / f"ck{trial}"
        proc = subprocess.Popen([sys.executable, "-c", _SAVER, str(path)], env=env,
                                stdout=subprocess.PIPE, text=True)
        assert proc.stdout.readline().strip() == "ready"
        time.sleep(rng.uniform(0.05, 1.0))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        ck = checkpoint.load(path)
        i = ck.step
        assert ck.metadata == {"i": i} and i >= 1
        np.testing.assert_array_equal(np.asarray(ck.params["a"]["w"]), np.full((512, 1024), i))
        np.testing.assert_array_equal(np.asarray(ck.opt_state["m"]), np.full((512, 1024), i))
        json.loads((path / "meta.json").read_text())
        seen.add(i)
        checkpoint.save(path, params={"w": jnp.ones(1)}, step=0)  # saving again cleans up
        assert sorted(p.name for p in tmp_path.glob(f".ck{trial}.*")) == []
    assert max(seen) > 1  # the kills landed after several saves, mid-loop
