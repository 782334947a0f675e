"""L-BFGS with a closure, torch style, in fnn: ``optim.step(opt, loss_fn, params, state)``.

torch::

    optimizer = torch.optim.LBFGS(model.parameters(), lr=1, line_search_fn="strong_wolfe")
    def closure():
        optimizer.zero_grad()
        loss = F.mse_loss(model(x), y, reduction="sum")
        loss.backward()
        return loss
    for i in range(10):
        loss = optimizer.step(closure)   # up to 20 iterations per step

In fnn the closure is the loss function of the parameters; ``optim.step`` evaluates it as
often as torch would call the closure, inside one jitted ``lax.while_loop``.
This trains the posts' simple network (see ``simple_network.py``) with L-BFGS instead of
Adam, and then minimises the Rosenbrock function from (-1.5, 2).

Run: ``python examples/lbfgs.py``
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp

from fnn import losses, optim, testfns

try:  # run as a script from the repository root or as examples.lbfgs
    from simple_network import make_data, model
except ImportError:  # pragma: no cover
    from examples.simple_network import make_data, model


def train_network(params, x, y, steps: int = 10, verbose: bool = True) -> list[float]:
    """``steps`` L-BFGS steps (each up to 20 iterations); the loss before each step."""
    opt = optim.lbfgs(lr=1, line_search_fn="strong_wolfe")
    state = opt.init(params)

    def loss_fn(params):  # the closure
        return losses.mse_loss(model(params, x), y, reduction="sum")

    step = jax.jit(functools.partial(optim.step, opt, loss_fn))
    history = []
    for i in range(1, steps + 1):
        params, state, loss = step(params, state)
        history.append(float(loss))
        if verbose:
            print(f"step {i:2d}   loss {history[-1]:.4f}")
    return history


def rosenbrock(steps: int = 5, verbose: bool = True):
    """L-BFGS on Rosenbrock's valley from (-1.5, 2): the point after each step."""
    tf = testfns.get("rosenbrock")
    opt = optim.lbfgs(lr=1, line_search_fn="strong_wolfe")
    p = jnp.asarray([-1.5, 2.0], jnp.float32)
    state = opt.init(p)
    step = jax.jit(functools.partial(optim.step, opt, lambda p: tf.fn(p[0], p[1])))
    points = []
    for i in range(1, steps + 1):
        p, state, loss = step(p, state)
        points.append(p)
        if verbose:
            print(f"step {i}   f = {float(loss):.3e}   x = ({float(p[0]):.6f}, {float(p[1]):.6f})")
    return points


def main(seed: int = 0) -> None:
    k_data, k_model = jax.random.split(jax.random.key(seed))
    x, y = make_data(k_data)
    print("simple network, L-BFGS (strong Wolfe):")
    train_network(model.init(k_model), x, y)
    print("\nRosenbrock from (-1.5, 2):")
    rosenbrock()


if __name__ == "__main__":
    main()
