"""The torch posts' simple network: time per Adam step, fnn vs torch vs optax, compile apart.

    .venv/bin/python tests/benchmarks/bench_simple_net.py [--quick]

Linear(3,32)-ReLU-Linear(32,1), sum-MSE on 100x3 data, Adam lr 0.08, 200 full-batch steps
(the posts' final network). torch runs eagerly (its default for-loop Adam and fused=True);
fnn and optax run (a) one jitted step per Python call and (b) all 200 steps in one jitted
``lax.scan``. Steady-state times are medians over interleaved rounds; the first-call
compile time (trace + lower + XLA compile, a fresh function each time) is reported apart.
The final losses of every variant are printed to show they train the same network.

Targets (performance issue): scanned step <= 7.6 us, first-call compile <= 0.25 s.
"""

from __future__ import annotations

import argparse
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax
import torch

from fnn import losses, nn, optim

STEPS = 200


def data(seed: int = 0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((100, 3)).astype(np.float32)
    y = (x[:, :1] * 0.2 - x[:, 1:2] * 1.3 - x[:, 2:3] * 0.5
         + rng.standard_normal((100, 1)).astype(np.float32))
    return x, y


MODEL = nn.Sequential(nn.Linear(3, 32), nn.ReLU(), nn.Linear(32, 1))


def _loss(p, x, y):
    return losses.mse_loss(MODEL(p, x), y, reduction="sum")


def _step_fn(opt):
    def step(p, s, x, y):
        loss, g = jax.value_and_grad(_loss)(p, x, y)
        u, s = opt.update(g, s, p)
        return optax.apply_updates(p, u), s, loss
    return step


def _scan_fn(opt, steps=STEPS):
    step = _step_fn(opt)

    def run(p, s, x, y):
        def body(c, _):
            p, s, loss = step(*c, x, y)
            return (p, s), loss
        (p, s), ls = jax.lax.scan(body, (p, s), None, length=steps)
        return p, s, ls
    return run


def _compile_time(fn, *args) -> float:
    t0 = time.perf_counter()
    jax.jit(fn).lower(*args).compile()
    return time.perf_counter() - t0


def _torch_setup(p0, fused):
    net = torch.nn.Sequential(torch.nn.Linear(3, 32), torch.nn.ReLU(), torch.nn.Linear(32, 1))
    with torch.no_grad():
        for k, v in net.state_dict().items():
            a, b = k.split(".")
            v.copy_(torch.tensor(np.asarray(p0[a][b])))
    opt = torch.optim.Adam(net.parameters(), lr=0.08, fused=fused)
    return net, opt


def _torch_run(p0, x, y, fused):
    net, opt = _torch_setup(p0, fused)
    xt, yt = torch.tensor(x), torch.tensor(y)
    t0 = time.perf_counter()
    for _ in range(STEPS):
        loss = torch.nn.functional.mse_loss(net(xt), yt, reduction="sum")
        opt.zero_grad()
        loss.backward()
        opt.step()
    return time.perf_counter() - t0, loss.item()


def main(quick: bool = False) -> dict:
    rounds = 3 if quick else 7
    x, y = data()
    xj, yj = jnp.asarray(x), jnp.asarray(y)
    p0 = MODEL.init(jax.random.key(0))
    variants = {}
    compile_s = {}
    for name, opt in (("fnn", optim.adam(lr=0.08)), ("optax", optax.adam(0.08))):
        s0 = opt.init(p0)
        compile_s[f"{name} per-step jit"] = min(_compile_time(_step_fn(opt), p0, s0, xj, yj)
                                                for _ in range(3))
        compile_s[f"{name} scan"] = min(_compile_time(_scan_fn(opt), p0, s0, xj, yj)
                                        for _ in range(3))
        step = jax.jit(_step_fn(opt), donate_argnums=(0, 1))
        scan = jax.jit(_scan_fn(opt), donate_argnums=(0, 1))

        def per_step(step=step, opt=opt):
            p, s = jax.tree.map(jnp.copy, p0), opt.init(p0)
            jax.block_until_ready((p, s))
            t0 = time.perf_counter()
            for _ in range(STEPS):
                p, s, loss = step(p, s, xj, yj)
            loss.block_until_ready()
            return time.perf_counter() - t0, float(loss)

        def scanned(scan=scan, opt=opt):
            p, s = jax.tree.map(jnp.copy, p0), opt.init(p0)
            jax.block_until_ready((p, s))
            t0 = time.perf_counter()
            p, s, ls = scan(p, s, xj, yj)
            ls.block_until_ready()
            return time.perf_counter() - t0, float(ls[-1])

        per_step(), scanned()  # compile
        variants[f"{name} per-step jit"] = per_step
        variants[f"{name} scan"] = scanned
    variants["torch eager (for-loop)"] = lambda: _torch_run(p0, x, y, False)
    variants["torch eager fused"] = lambda: _torch_run(p0, x, y, True)
    names = list(variants)
    times: dict[str, list[float]] = {n: [] for n in names}
    final: dict[str, float] = {}
    for r in range(rounds):
        for n in names[r % len(names):] + names[:r % len(names)]:  # rotate the order
            t, loss = variants[n]()
            times[n].append(t / STEPS)
            final[n] = loss
    med = {n: float(np.median(v)) for n, v in times.items()}
    torch_us = med["torch eager (for-loop)"] * 1e6
    print(f"simple network, {STEPS} Adam steps (median of {rounds} interleaved rounds)")
    print(f"{'variant':28s} {'us/step':>9s} {'x torch':>8s} {'final loss':>11s}")
    for n in names:
        print(f"{n:28s} {med[n] * 1e6:9.1f} {med[n] * 1e6 / torch_us:8.3f} {final[n]:11.5f}")
    print("first-call compile (trace+lower+XLA), best of 3:")
    for n, v in compile_s.items():
        print(f"  {n:26s} {v:6.3f} s")
    return {"us_per_step": {n: v * 1e6 for n, v in med.items()}, "compile_s": compile_s,
            "final_loss": final}


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true")
    main(ap.parse_args().quick)
