"""Many small leaves: Adam on 10, 100 and 1000 leaves of 32x32, fnn vs optax vs torch.

    .venv/bin/python tests/benchmarks/bench_leaves.py [--quick]

One update + ``apply_updates`` per jitted, donated call (the per-call cost a Python
training loop pays), the same update inside a jitted ``fori_loop`` of 20 steps (the
in-program cost a scanned loop pays), and the first-call compile time (trace + lower + XLA
compile of a fresh function). torch: ``Adam(foreach=True)`` and ``Adam(fused=True)``.
Medians of interleaved rounds.

Target (performance issue): <= 1 ms per step and <= 0.3 s compile at 1000 leaves
(optax in perf-anchors.md: 15.7 ms and 6 s).
"""

from __future__ import annotations

import argparse
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax
import torch

from fnn import optim


def tree(n: int) -> dict:
    rng = np.random.default_rng(0)
    return {f"p{i:04d}": jnp.asarray(rng.standard_normal((32, 32), dtype=np.float32))
            for i in range(n)}


def _jax_variant(opt, params, grads):
    def step(p, s, g):
        u, s = opt.update(g, s, p)
        return optax.apply_updates(p, u), s

    def loop(p, s, g):
        return jax.lax.fori_loop(0, 20, lambda i, c: step(c[0], c[1], g), (p, s))

    t0 = time.perf_counter()
    fn = jax.jit(step, donate_argnums=(0, 1)).lower(params, opt.init(params), grads).compile()
    compile_s = time.perf_counter() - t0
    loop_fn = jax.jit(loop, donate_argnums=(0, 1))
    state = {"p": jax.tree.map(jnp.copy, params)}
    state["s"] = opt.init(state["p"])
    state["p"], state["s"] = loop_fn(state["p"], state["s"], grads)  # compile

    def per_call(reps=10):
        t0 = time.perf_counter()
        for _ in range(reps):
            state["p"], state["s"] = fn(state["p"], state["s"], grads)
        jax.block_until_ready(state["p"])
        return (time.perf_counter() - t0) / reps

    def in_program():
        t0 = time.perf_counter()
        state["p"], state["s"] = loop_fn(state["p"], state["s"], grads)
        jax.block_until_ready(state["p"])
        return (time.perf_counter() - t0) / 20

    return per_call, in_program, compile_s


def _torch_variant(n: int, **kw):
    ps = [torch.randn(32, 32, requires_grad=True) for _ in range(n)]
    for p in ps:
        p.grad = torch.randn(32, 32) * 0.1
    opt = torch.optim.Adam(ps, lr=1e-3, **kw)
    opt.step()

    def per_call(reps=10):
        t0 = time.perf_counter()
        for _ in range(reps):
            opt.step()
        return (time.perf_counter() - t0) / reps
    return per_call


def main(quick: bool = False) -> dict:
    sizes = (10, 100) if quick else (10, 100, 1000)
    rounds = 3 if quick else 5
    out: dict = {}
    for n in sizes:
        params = tree(n)
        grads = jax.tree.map(lambda p: 0.1 * p, params)
        variants, compile_s = {}, {}
        for name, opt in (("fnn", optim.adam(lr=1e-3)), ("optax", optax.adam(1e-3))):
            call, prog, compile_s[name] = _jax_variant(opt, params, grads)
            variants[f"{name} per call"] = call
            variants[f"{name} in program"] = prog
        variants["torch foreach"] = _torch_variant(n, foreach=True)
        variants["torch fused"] = _torch_variant(n, fused=True)
        names = list(variants)
        times: dict[str, list[float]] = {k: [] for k in names}
        for r in range(rounds):
            for k in names[r % len(names):] + names[:r % len(names)]:
                times[k].append(variants[k]())
        med = {k: 1e3 * float(np.median(v)) for k, v in times.items()}
        out[n] = {"ms_per_step": med, "compile_s": compile_s}
        print(f"{n:5d} leaves of 32x32: " + ", ".join(f"{k} {v:.3f} ms" for k, v in med.items())
              + " | compile " + ", ".join(f"{k} {v:.2f} s" for k, v in compile_s.items()))
    return out


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true")
    main(ap.parse_args().quick)
