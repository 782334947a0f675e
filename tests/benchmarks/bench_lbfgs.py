"""Time per L-BFGS iteration, fnn vs torch, on the 1000-D Rosenbrock from (1.3, 0.7, ...).

    .venv/bin/python tests/benchmarks/bench_lbfgs.py

torch: LBFGS(lr=1, history_size=10, max_iter=20) stepped until it stops moving; fnn: the
same optimizer through a jitted optim.step (compile time reported separately).
"""

from __future__ import annotations

import time
from functools import partial

import jax

jax.config.update("jax_enable_x64", True)
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from fnn import optim  # noqa: E402

torch.set_num_threads(1)
X0 = np.tile([1.3, 0.7], 500)
KW = dict(lr=1, history_size=10, max_iter=20)


def rosen_t(x):
    return torch.sum(100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2)


def rosen_j(p):
    x = p["x"]
    return jnp.sum(100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2)


def torch_run(ls, steps=10):
    x = torch.tensor(X0, requires_grad=True)
    opt = torch.optim.LBFGS([x], line_search_fn=ls, **KW)

    def closure():
        opt.zero_grad()
        loss = rosen_t(x)
        loss.backward()
        return loss

    t0 = time.perf_counter()
    for _ in range(steps):
        opt.step(closure)
    return time.perf_counter() - t0, opt.state[x]["n_iter"]


def fnn_run(ls, steps=10):
    opt = optim.lbfgs(line_search_fn=ls, **KW)
    step = jax.jit(partial(optim.step, opt, rosen_j))
    p = {"x": jnp.asarray(X0)}
    state = opt.init(p)
    t0 = time.perf_counter()
    step.lower(p, state).compile()
    compile_s = time.perf_counter() - t0
    jax.block_until_ready(step(p, state))  # warm
    t0 = time.perf_counter()
    for _ in range(steps):
        p, state, _ = step(p, state)
    jax.block_until_ready(p)
    return time.perf_counter() - t0, int(state.n_iter), compile_s


if __name__ == "__main__":
    for ls in (None, "strong_wolfe"):
        tt, ti = min((torch_run(ls) for _ in range(3)), key=lambda r: r[0])
        fj = [fnn_run(ls) for _ in range(3)]
        ft, fi, fc = min(fj, key=lambda r: r[0])
        print(f"line_search_fn={ls!s:13} torch {1e6 * tt / ti:8.1f} us/iter ({ti} iters)   "
              f"fnn {1e6 * ft / fi:8.1f} us/iter ({fi} iters)   ratio {tt / ti / (ft / fi):5.1f}x"
              f"   fnn compile {fc:.2f} s")
