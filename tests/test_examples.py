"""The examples reproduce the posts' numbers (and torch's, run side by side)."""

from __future__ import annotations

import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch

from fnn import _tree

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "examples"))

import autograd as ex_autograd  # noqa: E402
import lbfgs as ex_lbfgs  # noqa: E402
import simple_network as ex_simple  # noqa: E402


def test_autograd_post_gradients_exactly(capsys):
    g1, g2, gz, gy = ex_autograd.post_gradients(jnp.float32)
    x1 = torch.ones(2, 2, requires_grad=True)
    x2 = torch.tensor(1.1, requires_grad=True)
    y = x1 * (x2 + 2)
    y.retain_grad()
    z = y.pow(2) * 3
    z.retain_grad()
    z.mean().backward()
    for ours, theirs in ((g1, x1.grad), (g2, x2.grad), (gz, z.grad), (gy, y.grad)):
        np.testing.assert_array_equal(np.asarray(ours), theirs.numpy())  # bit for bit
    g1, g2, _, _ = ex_autograd.post_gradients(jnp.float64)
    np.testing.assert_allclose(np.asarray(g1), np.full((2, 2), 14.415), rtol=1e-14)
    assert float(g2) == pytest.approx(18.6, rel=1e-14)
    ex_autograd.main()
    out = capsys.readouterr().out
    assert out.count("14.415") == 4 and "x2.grad: 18.6000" in out and "[100.]" in out


def test_backward_with_gradient_is_a_vjp():
    grads, data, v = ex_autograd.backward_with_gradient()
    assert float(grads["bias"][0]) == 100.0
    layer = torch.nn.Linear(3, 1)
    with torch.no_grad():
        layer.weight.zero_()
    out = layer(torch.tensor(np.asarray(data)))
    out.backward(gradient=torch.tensor(np.asarray(v)))
    np.testing.assert_allclose(np.asarray(grads["weight"]), layer.weight.grad.numpy(), rtol=1e-6)


def _post_problem(dtype):
    k_data, k_model = jax.random.split(jax.random.key(0))
    x, y = ex_simple.make_data(k_data, dtype=dtype)
    params = jax.tree.map(lambda a: a.astype(dtype), ex_simple.model.init(k_model))
    return x, y, params


def _torch_net(params):
    net = torch.nn.Sequential(torch.nn.Linear(3, 32), torch.nn.ReLU(), torch.nn.Linear(32, 1))
    net = net.double()
    net.load_state_dict({k: torch.tensor(np.asarray(v)) for k, v in _tree.flatten(params).items()})
    return net


def test_simple_network_loss_falls_as_in_the_post_and_matches_torch(capsys):
    x, y, params = _post_problem(jnp.float64)
    history = ex_simple.train(params, x, y)
    printed = [line for line in capsys.readouterr().out.splitlines() if line.startswith("Epoch:")]
    assert len(printed) == 20 and printed[-1].startswith("Epoch:  200")
    net = _torch_net(params)
    opt = torch.optim.Adam(net.parameters(), lr=0.08)
    xt, yt = torch.tensor(np.asarray(x)), torch.tensor(np.asarray(y))
    t_hist = []
    for _ in range(200):
        loss = torch.nn.functional.mse_loss(net(xt), yt, reduction="sum")
        opt.zero_grad()
        loss.backward()
        opt.step()
        t_hist.append(loss.item())
    np.testing.assert_allclose(history, t_hist, rtol=1e-8)
    # as in the post: a fast fall in the first epochs, then a slow decline
    assert history[9] < 0.5 * history[0] and history[-1] < 0.5 * history[9]
    assert np.mean(history[-20:]) < np.mean(history[90:110]) < np.mean(history[:20])


def test_lbfgs_example_matches_torch_lbfgs():
    x, y, params = _post_problem(jnp.float64)
    history = ex_lbfgs.train_network(params, x, y, steps=5, verbose=False)
    net = _torch_net(params)
    opt = torch.optim.LBFGS(net.parameters(), lr=1, line_search_fn="strong_wolfe")
    xt, yt = torch.tensor(np.asarray(x)), torch.tensor(np.asarray(y))

    def closure():
        opt.zero_grad()
        loss = torch.nn.functional.mse_loss(net(xt), yt, reduction="sum")
        loss.backward()
        return loss

    t_hist = [opt.step(closure).item() for _ in range(5)]
    np.testing.assert_allclose(history, t_hist, rtol=1e-7)
    points = ex_lbfgs.rosenbrock(steps=5, verbose=False)
    np.testing.assert_allclose(np.asarray(points[-1]), [1.0, 1.0], atol=1e-4)


def test_cnn_example_bad_mnist_directory(tmp_path):
    import cnn

    with pytest.raises(FileNotFoundError, match="MNIST directory .*missing.* does not exist"):
        cnn.main(["--mnist", str(tmp_path / "missing"), "--no-progress"])


@pytest.mark.slow
def test_cnn_example_reaches_97_percent_on_the_digits(tmp_path):
    import cnn

    out = tmp_path / "loss_curve.png"
    result = cnn.main(["--no-progress", "--out", str(out)])
    assert result["accuracy"] >= 0.97, result["history"]["val_accuracy"]
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    hist = result["history"]
    assert len(hist["step_loss"]) == 30 * 14 and hist["loss"][-1] < 0.25 * hist["loss"][0]
    print(f"CNN example: {result['seconds']:.1f} s, accuracy {result['accuracy']:.4f}")
