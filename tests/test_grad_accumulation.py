"""Gradient accumulation (``train.*(accumulate=k)``) against torch's idiom and the big
batch, and ``train.fit(precision=...)`` (autocast, GradScaler history)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch

import fnn.nn.functional as F
from fnn import losses, nn, optim, train
from fnn.interop import torch as tinterop

K, MICRO, STEPS = 4, 5, 3


def _data(dtype=np.float64):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((STEPS * K * MICRO, 3)).astype(dtype)
    return x, np.sin(x @ np.array([[1.0], [-2.0], [0.5]])).astype(dtype)


def _torch_accumulated(net, x, y):
    """torch's idiom: k backward() calls on loss / k, then one optimizer step."""
    opt = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
    xs, ys = torch.tensor(x), torch.tensor(y)
    for s in range(STEPS):
        opt.zero_grad()
        for i in range(K):
            rows = slice((s * K + i) * MICRO, (s * K + i + 1) * MICRO)
            (torch.nn.functional.mse_loss(net(xs[rows]), ys[rows]) / K).backward()
        opt.step()
    return {k: v.detach().numpy() for k, v in net.state_dict().items()}


def test_accumulation_equals_torch_idiom_and_big_batch():
    x, y = _data()
    torch.manual_seed(0)
    tnet = torch.nn.Sequential(torch.nn.Linear(3, 8), torch.nn.Tanh(),
                               torch.nn.Linear(8, 1)).double()
    model = nn.Sequential(nn.Linear(3, 8), nn.Tanh(), nn.Linear(8, 1))
    params, _ = tinterop.load_state_dict(model, tnet.state_dict())
    expected = _torch_accumulated(tnet, x, y)
    opt = optim.sgd(lr=0.1, momentum=0.9)
    finals = {}
    for k in (K, 1):     # accumulate 4 micro-batches / one step on the 4x batch
        step = train.make_train_step(model, opt, loss=losses.mse_loss, accumulate=k)
        state = train.init_state(params, opt)
        step_losses = []
        for s in range(STEPS):
            rows = slice(s * K * MICRO, (s + 1) * K * MICRO)
            state, value = step(state, (jnp.asarray(x[rows]), jnp.asarray(y[rows])))
            step_losses.append(float(value))
        finals[k] = (state.params, step_losses)
    for k in (K, 1):
        for name, v in nn.named_parameters(finals[k][0]):
            np.testing.assert_allclose(np.asarray(v), expected[name], rtol=1e-12, atol=1e-14)
    # the reported loss is the mean over the micro-batches = the big batch's mean loss
    np.testing.assert_allclose(finals[K][1], finals[1][1], rtol=1e-12)


def test_fit_accumulate_and_bad_input():
    x, y = _data()
    model = nn.Sequential(nn.Linear(3, 1))
    params = model.init(jax.random.key(0), jnp.float64)
    opt = optim.sgd(lr=0.05)
    state = train.init_state(params, opt)
    state, hist = train.fit(model, opt, state, (x, y), epochs=1, batch_size=MICRO,
                            accumulate=K, loss=losses.mse_loss, shuffle=False, progress=False)
    assert len(hist["step_loss"]) == STEPS and int(state.step) == STEPS
    with pytest.raises(ValueError, match="accumulate=3 must divide the batch size"):
        train.make_train_step(model, opt, loss=losses.mse_loss, accumulate=3)(
            train.init_state(params, opt), (jnp.asarray(x[:4]), jnp.asarray(y[:4])))
    with pytest.raises(ValueError, match="accumulate"):
        train.make_train_step(model, opt, loss=losses.mse_loss, accumulate=0)
    with pytest.raises(ValueError, match="precision must be one of"):
        train.fit(model, opt, train.init_state(params, opt), (x, y), epochs=1, batch_size=4,
                  loss=losses.mse_loss, precision="bf16")


def _mixed_loss(params, batch):
    x, y = batch
    return F.mse_loss(F.linear(x, params["w"], params["b"]), y)


def test_fit_mixed_precision_reports_scale_and_skips():
    x, y = _data(np.float32)
    x[7] = 7e4        # beyond float16's range (65504): that batch's forward overflows
    params = {"w": jnp.full((1, 3), 0.1, jnp.float32), "b": jnp.zeros((1,), jnp.float32)}
    opt = optim.sgd(lr=0.05)
    state = train.init_state(params, opt)
    state, hist = train.fit(_mixed_loss, opt, state, (x, y), epochs=2, batch_size=4,
                            shuffle=False, progress=False, precision="16-mixed")
    skipped, scale = hist["skipped_steps"], hist["loss_scale"]
    assert skipped[-1] >= 2                       # the overflowing batch, once per epoch
    assert scale == [2.0**16 * 0.5**s for s in skipped]   # backoff 0.5, no growth yet
    assert all(np.isfinite(np.asarray(v)).all() for v in jax.tree.leaves(state.params))
    assert state.params["w"].dtype == jnp.float32
    # continue: the returned state carries the scaler's state
    state, hist2 = train.fit(_mixed_loss, opt, state, (x, y), epochs=1, batch_size=4,
                             shuffle=False, progress=False, precision="16-mixed")
    assert hist2["loss_scale"][0] == scale[-1] * 0.5 ** (hist2["skipped_steps"][0] - skipped[-1])
    # bfloat16: no scaler, the loss close to float32's
    x[7] = 0.5
    for prec in ("32", "bf16-mixed"):
        st = train.init_state(params, opt)
        _, h = train.fit(_mixed_loss, opt, st, (x, y), epochs=1, batch_size=4, shuffle=False,
                         progress=False, precision=prec)
        if prec == "32":
            ref = h["loss"][0]
    assert "loss_scale" not in h
    np.testing.assert_allclose(h["loss"][0], ref, rtol=2e-2)
