"""The torch autograd post's example in fnn: gradients with ``jax.grad`` and ``jax.vjp``.

torch (R) builds a graph and calls ``out$backward()``::

    x1 <- torch_ones(2, 2, requires_grad = TRUE)
    x2 <- torch_tensor(1.1, requires_grad = TRUE)
    y <- x1 * (x2 + 2); z <- y$pow(2) * 3; out <- z$mean()
    out$backward(); x1$grad   # 14.415 everywhere;  x2$grad   # 18.6

In JAX the computation is a function and its gradient is another function. There is no
``requires_grad``: you say which arguments to differentiate (``argnums``). There is no
``.grad`` to zero: gradients are returned, not accumulated. ``backward(gradient = v)`` on
a non-scalar output is a vector-Jacobian product: ``jax.vjp``.

Run: ``python examples/autograd.py``
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from fnn import nn


def out_fn(x1, x2):
    y = x1 * (x2 + 2)
    z = 3 * y**2
    return jnp.mean(z)


def post_gradients(dtype=jnp.float32):
    """``(x1.grad, x2.grad, z.grad, y.grad)`` of the post, via ``jax.grad`` and ``jax.vjp``."""
    x1 = jnp.ones((2, 2), dtype)
    x2 = jnp.asarray(1.1, dtype)
    # out$backward(); x1$grad; x2$grad
    g1, g2 = jax.grad(out_fn, argnums=(0, 1))(x1, x2)
    # retain_grad() on intermediates: differentiate out with respect to them instead
    y = x1 * (x2 + 2)
    z = 3 * y**2
    gz = jax.grad(jnp.mean)(z)
    gy = jax.grad(lambda y: jnp.mean(3 * y**2))(y)
    return g1, g2, gz, gy


def backward_with_gradient(key=jax.random.key(0)):
    """The modules post's ``out$backward(gradient = v)`` for ``out = nn_linear(3, 1)(data)``.

    ``out`` is ``(10, 1)``, not a scalar; ``v`` (ten 10s) is d(avg)/d(out) for a virtual
    final aggregation, and the parameter gradients are the vector-Jacobian product
    ``v^T (d out / d params)``: ``jax.vjp``. The bias gradient is ``sum(v) = 100``.
    """
    k_model, k_data = jax.random.split(key)
    layer = nn.Linear(3, 1)
    params = layer.init(k_model)
    data = jax.random.normal(k_data, (10, 3), jnp.float32)
    out, vjp = jax.vjp(lambda p: layer(p, data), params)
    v = jnp.full(out.shape, 10.0, out.dtype)
    (grads,) = vjp(v)
    return grads, data, v


def main() -> None:
    np.set_printoptions(precision=4, suppress=True)  # torch prints 4 decimals
    g1, g2, gz, gy = post_gradients()
    print("z.grad (out = mean(z)):\n", np.asarray(gz))
    print("y.grad:\n", np.asarray(gy))
    print(f"x2.grad: {float(g2):.4f}")
    print("x1.grad:\n", np.asarray(g1))
    grads, data, v = backward_with_gradient()
    print("\nbackward(gradient = v) as jax.vjp, Linear(3, 1) on 10x3 data:")
    print("weight.grad:", np.asarray(grads["weight"]))
    print("bias.grad:  ", np.asarray(grads["bias"]))


if __name__ == "__main__":
    main()
