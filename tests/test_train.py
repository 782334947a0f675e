"""fnn.train: jitted steps/epochs/fit against torch loops, evaluation, buffers, keys, cache."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch

from fnn import _tree, data, losses, nn, optim, train
from tests.helpers import assert_trajectories_close, mlp, mlp_problem, run_torch, torch_mlp

ROOT = Path(__file__).resolve().parents[1]
X, Y, FLAT = mlp_problem(np.float64)
MODEL = nn.Sequential(nn.Linear(3, 32), nn.ReLU(), nn.Linear(32, 1))


def sse(out, target):
    return losses.mse_loss(out, target, reduction="sum")


def _params():
    return _tree.unflatten({k: jnp.asarray(v) for k, v in FLAT.items()})


def _flat(params):
    return {k: np.asarray(v) for k, v in _tree.flatten(params).items()}


def test_train_step_matches_torch_adam_full_batch():
    opt = optim.adam(lr=0.01)
    step = train.make_train_step(MODEL, opt, sse)
    state = train.init_state(_params(), opt)
    traj, ls = [], []
    for _ in range(100):
        state, loss = step(state, (jnp.asarray(X), jnp.asarray(Y)))
        ls.append(float(loss))
        traj.append(_flat(state.params))
    t_traj, t_ls, *_ = run_torch(lambda named: torch.optim.Adam(named.values(), lr=0.01),
                                 mlp(), 100)
    assert_trajectories_close(traj, t_traj, rtol=1e-10, atol=1e-13, what="train step")
    np.testing.assert_allclose(ls, t_ls, rtol=1e-10)
    assert int(state.step) == 100


def test_plain_loss_fn_equals_module_form():
    opt = optim.sgd(lr=1e-3, momentum=0.9)

    def loss_fn(params, batch):
        x, y = batch
        return sse(MODEL(params, x), y)

    a = train.make_train_step(loss_fn, opt)
    b = train.make_train_step(MODEL, opt, sse)
    sa, sb = train.init_state(_params(), opt), train.init_state(_params(), opt)
    for _ in range(5):
        sa, la = a(sa, (X, Y))
        sb, lb = b(sb, (X, Y))
        assert float(la) == float(lb)
    for k, v in _flat(sa.params).items():
        np.testing.assert_array_equal(v, _flat(sb.params)[k])


def _torch_minibatch_sgd(epochs, batch_size, key):
    """torch's loop over exactly the batches fnn's epochs draw from ``key``."""
    net = torch_mlp(FLAT)
    opt = torch.optim.SGD(net.parameters(), lr=1e-3, momentum=0.9)
    xt, yt = torch.tensor(X), torch.tensor(Y)
    state = train.TrainState(None, None, None, None, key)
    per_epoch, losses_ = [], []
    for _ in range(epochs):
        state, perm = train.next_epoch_key(state)
        for rows in np.asarray(data.batch_indices(perm, len(X), batch_size)):
            state = state._replace(key=jax.random.split(state.key, 3)[0])  # each step's split
            rows = torch.tensor(rows)
            opt.zero_grad()
            loss = torch.nn.functional.mse_loss(net(xt[rows]), yt[rows], reduction="sum")
            loss.backward()
            opt.step()
            losses_.append(loss.item())
        per_epoch.append({k: v.detach().numpy().copy() for k, v in net.state_dict().items()})
    return per_epoch, losses_


def test_train_epoch_matches_torch_minibatch_sgd():
    opt = optim.sgd(lr=1e-3, momentum=0.9)
    key = jax.random.key(5)
    epoch = train.make_train_epoch(MODEL, opt, sse, batch_size=16)
    state = train.init_state(_params(), opt, key=key)
    traj, ls = [], []
    for _ in range(3):
        state, batch_losses = epoch(state, (jnp.asarray(X), jnp.asarray(Y)))
        assert batch_losses.shape == (6,)  # 100 // 16: the last 4 samples are dropped
        ls.extend(np.asarray(batch_losses).tolist())
        traj.append(_flat(state.params))
    t_traj, t_ls = _torch_minibatch_sgd(3, 16, key)
    assert_trajectories_close(traj, t_traj, rtol=1e-10, atol=1e-13, what="epoch")
    np.testing.assert_allclose(ls, t_ls, rtol=1e-10)


def test_fit_chunks_equal_one_scan_and_history(capsys):
    opt = optim.sgd(lr=1e-3, momentum=0.9)
    key = jax.random.key(5)
    state, hist = train.fit(MODEL, opt, train.init_state(_params(), opt, key=key), (X, Y),
                            epochs=3, batch_size=16, loss=sse, steps_per_call=4, progress=True)
    err = capsys.readouterr().err
    assert "samples/s" in err and "18/18" in err
    t_traj, t_ls = _torch_minibatch_sgd(3, 16, key)
    assert_trajectories_close([_flat(state.params)], t_traj[-1:], rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(hist["step_loss"], t_ls, rtol=1e-10)
    assert hist["epoch"] == [1, 2, 3] and len(hist["time"]) == 3
    np.testing.assert_allclose(hist["loss"], np.mean(np.reshape(t_ls, (3, 6)), axis=1), rtol=1e-10)
    assert all(s > 0 for s in hist["samples_per_s"])


class Clf(nn.Module):
    def __init__(self):
        self.fc = nn.Linear(64, 10)

    def forward(self, params, x):
        return self.fc(params["fc"], x.reshape(x.shape[0], -1))


def test_evaluate_and_fit_eval_match_torch():
    x, y = data.load_digits()
    model = Clf()
    params = jax.tree.map(lambda a: a.astype(jnp.float64), model.init(jax.random.key(0)))
    xt = torch.tensor(x.reshape(len(x), -1), dtype=torch.float64)
    logits = xt @ torch.tensor(np.asarray(params["fc"]["weight"])).T + torch.tensor(
        np.asarray(params["fc"]["bias"]))
    t_loss = torch.nn.functional.cross_entropy(logits, torch.tensor(y, dtype=torch.long)).item()
    t_acc = (logits.argmax(1).numpy() == y).mean()
    for loss in (losses.cross_entropy, lambda o, t: losses.cross_entropy(o, t, reduction="sum")):
        m = train.evaluate(model, params, (x.astype(np.float64), y), loss=loss)  # 1797 -> 2000
        assert m["loss"] == pytest.approx(t_loss, rel=1e-12)
        assert m["accuracy"] == pytest.approx(t_acc, abs=1e-15)
    opt = optim.sgd(lr=0.1)
    state, hist = train.fit(model, opt, train.init_state(params, opt), (x, y), epochs=2,
                            batch_size=256, loss=losses.cross_entropy,
                            eval_data=(x.astype(np.float64), y),
                            progress=False)
    m = train.evaluate(model, state.params, (x.astype(np.float64), y), loss=losses.cross_entropy)
    assert hist["val_accuracy"][-1] == m["accuracy"] and hist["val_loss"][-1] == m["loss"]
    assert hist["val_accuracy"][-1] > 0.5  # a real classifier after 14 steps


class Noisy(nn.Module):
    """Counts training calls in a buffer and adds key-driven noise (Dropout-like)."""

    def __init__(self):
        self.fc = nn.Linear(3, 1)

    def init_own_buffers(self, dtype):
        return {"calls": jnp.zeros((), jnp.int32)}

    def forward(self, params, x):
        y = self.fc(params["fc"], x)
        if self.is_training():
            self.set_buffers({"calls": self.get_buffers()["calls"] + 1})
            y = y + 0.1 * jax.random.normal(self.make_key(), y.shape, y.dtype)
        return y


def test_buffers_and_keys_are_threaded_through_steps():
    model = Noisy()
    opt = optim.sgd(lr=1e-3)
    params = jax.tree.map(lambda a: a.astype(jnp.float64), model.init(jax.random.key(0)))
    step = train.make_train_step(model, opt, sse)

    def run(key, n=4):
        s = train.init_state(params, opt, buffers=model.init_buffers(), key=key)
        out = []
        for _ in range(n):
            s, loss = step(s, (X, Y))
            out.append(float(loss))
        return s, out

    s1, l1 = run(jax.random.key(1))
    s2, l2 = run(jax.random.key(1))
    s3, l3 = run(jax.random.key(2))
    assert int(s1.buffers["calls"]) == 4 and l1 == l2 and l1 != l3
    # eval mode: no noise, buffers untouched
    m = train.evaluate(model, s1.params, (X, Y[:, 0].astype(np.int32)), buffers=s1.buffers)
    assert m == {}
    out = model(s1.params, jnp.asarray(X), buffers=s1.buffers)
    np.testing.assert_allclose(out, X @ np.asarray(s1.params["fc"]["weight"]).T
                               + np.asarray(s1.params["fc"]["bias"]), rtol=1e-13, atol=1e-15)


def test_state_is_donated_and_params_copied():
    opt = optim.adam(lr=0.01)
    params = _params()
    state = train.init_state(params, opt)
    step = train.make_train_step(MODEL, opt, sse)
    new, _ = step(state, (X, Y))
    assert state.params["0"]["weight"].is_deleted()  # reused in place, as torch's step
    assert not params["0"]["weight"].is_deleted()  # init_state copied the user's arrays
    keep = train.make_train_step(MODEL, opt, sse, donate=False)
    newer, _ = keep(new, (X, Y))
    assert not new.params["0"]["weight"].is_deleted()


def test_bad_input_is_reported():
    opt = optim.sgd(lr=0.1)
    with pytest.raises(ValueError, match="needs a criterion"):
        train.make_train_step(MODEL, opt)
    with pytest.raises(ValueError, match="only used with a Module"):
        train.make_train_step(lambda p, b: 0.0, opt, loss=sse)
    with pytest.raises(TypeError, match="expected an fnn.nn.Module or a loss_fn"):
        train.make_train_step(3, opt)
    state = train.init_state(_params(), opt)
    with pytest.raises(ValueError, match="eval_data needs a Module"):
        train.fit(lambda p, b: 0.0, opt, state, (X, Y), epochs=1, batch_size=10,
                  eval_data=(X, Y))
    with pytest.raises(ValueError, match="batch_size 500 is larger than the dataset"):
        train.fit(MODEL, opt, state, (X, Y), epochs=1, batch_size=500, loss=sse)
    with pytest.raises(ValueError, match="different lengths"):
        train.fit(MODEL, opt, state, (X, Y[:5]), epochs=1, batch_size=5, loss=sse)


_CACHE_PROBE = """
import sys, jax, jax.numpy as jnp, fnn
events = []
jax.monitoring.register_event_listener(lambda name, **kw: events.append(name))
fnn.enable_compilation_cache(sys.argv[1])
from fnn import nn, optim, train
model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 1))
opt = optim.adam(lr=0.1)
step = train.make_train_step(model, opt, lambda o, t: jnp.mean((o - t) ** 2))
state = train.init_state(jax.jit(model.init)(jax.random.key(0)), opt)
state, loss = step(state, (jnp.ones((5, 3)), jnp.zeros((5, 1))))
print(events.count("/jax/compilation_cache/cache_hits"),
      events.count("/jax/compilation_cache/cache_misses"), float(loss))
"""


def test_compilation_cache_hits_in_a_second_process(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "JAX_PLATFORMS": "cpu"}
    runs = [subprocess.run([sys.executable, "-c", _CACHE_PROBE, str(tmp_path / "cache")],
                           env=env, capture_output=True, text=True, check=True).stdout.split()
            for _ in range(2)]
    (hits1, miss1, loss1), (hits2, miss2, loss2) = runs
    assert int(hits1) == 0 and int(miss1) >= 2  # init and the train step, at least
    assert int(hits2) == int(miss1) and int(miss2) == 0  # everything came from the cache
    assert loss1 == loss2
    assert len(list((tmp_path / "cache").iterdir())) >= 2
