"""The torch posts' final simple network, line by line in fnn.

torch (R)::

    model <- nn_sequential(nn_linear(3, 32), nn_relu(), nn_linear(32, 1))
    optimizer <- optim_adam(model$parameters, lr = 0.08)
    for (t in 1:200) {
      y_pred <- model(x)
      loss <- nnf_mse_loss(y_pred, y, reduction = "sum")
      if (t %% 10 == 0) cat("Epoch: ", t, "   Loss: ", loss$item(), "\\n")
      optimizer$zero_grad(); loss$backward(); optimizer$step()
    }

In fnn the parameters are a dict, the loss is a function of them, ``jax.value_and_grad``
replaces ``zero_grad()`` + ``backward()`` and ``opt.update`` + ``apply_updates`` replace
``step()``. The whole step is compiled once with ``jax.jit``.

Run: ``python examples/simple_network.py``
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from fnn import losses, nn, optim


def make_data(key, n: int = 100, dtype=jnp.float32):
    """The post's data: ``y = 0.2 x1 - 1.3 x2 - 0.5 x3 + noise`` for 100 3-d inputs."""
    kx, ke = jax.random.split(key)
    x = jax.random.normal(kx, (n, 3), dtype)
    y = x[:, 0:1] * 0.2 - x[:, 1:2] * 1.3 - x[:, 2:3] * 0.5 + jax.random.normal(ke, (n, 1), dtype)
    return x, y


model = nn.Sequential(nn.Linear(3, 32), nn.ReLU(), nn.Linear(32, 1))


def train(params, x, y, epochs: int = 200, lr: float = 0.08, verbose: bool = True) -> list[float]:
    """Full-batch Adam on ``mse_loss(reduction="sum")``; returns the loss of every epoch."""
    opt = optim.adam(lr=lr)
    state = opt.init(params)

    def loss_fn(params):
        y_pred = model(params, x)
        return losses.mse_loss(y_pred, y, reduction="sum")

    @jax.jit
    def step(params, state):
        loss, grads = jax.value_and_grad(loss_fn)(params)  # zero_grad() + backward()
        updates, state = opt.update(grads, state, params)  # step()
        return optim.apply_updates(params, updates), state, loss

    history = []
    for t in range(1, epochs + 1):
        params, state, loss = step(params, state)
        history.append(float(loss))
        if verbose and t % 10 == 0:
            print(f"Epoch: {t:4d}   Loss: {history[-1]:.4f}")
    return history


def main(seed: int = 0) -> list[float]:
    k_data, k_model = jax.random.split(jax.random.key(seed))
    x, y = make_data(k_data)
    params = model.init(k_model)
    return train(params, x, y)


if __name__ == "__main__":
    main()
