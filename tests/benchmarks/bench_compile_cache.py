"""The opt-in persistent compilation cache: a script's second run does not recompile.

    .venv/bin/python tests/benchmarks/bench_compile_cache.py

Runs the same small training script three times in fresh processes: without the cache,
then twice with ``fnn.enable_compilation_cache(dir)`` on an empty directory. Reports the
time each process spent in its first (compiling) call of the jitted train step and of a
200-step ``lax.scan``; the third run should find everything in the cache.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import textwrap

SCRIPT = textwrap.dedent("""
    import json, sys, time
    import jax, jax.numpy as jnp
    import fnn
    from fnn import losses, nn, optim
    if sys.argv[1] != "-":
        fnn.enable_compilation_cache(sys.argv[1])
    model = nn.Sequential(nn.Linear(3, 32), nn.ReLU(), nn.Linear(32, 1))
    opt = optim.adam(lr=0.08)
    x = jax.random.normal(jax.random.key(1), (100, 3)); y = x[:, :1] * 0.2
    def step(p, s):
        loss, g = jax.value_and_grad(lambda q: losses.mse_loss(model(q, x), y, reduction="sum"))(p)
        u, s = opt.update(g, s, p)
        return optim.apply_updates(p, u), s, loss
    def many(p, s):
        return jax.lax.scan(lambda c, _: (step(*c)[:2], None), (p, s), None, length=200)[0]
    p = model.init(jax.random.key(0)); s = opt.init(p)
    out = {}
    for name, fn in (("train step", jax.jit(step)), ("200-step scan", jax.jit(many))):
        t0 = time.perf_counter(); jax.block_until_ready(fn(p, s)); out[name] = time.perf_counter() - t0
    print(json.dumps(out))
""")


def _run(cache: str) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "FNN_CACHE_DIR"}
    r = subprocess.run([sys.executable, "-c", SCRIPT, cache], capture_output=True, text=True,
                       env=env, timeout=600, check=True)
    return json.loads(r.stdout.strip().splitlines()[-1])


def main(quick: bool = False) -> dict:
    with tempfile.TemporaryDirectory() as d:
        runs = {"no cache": _run("-"), "cache, first run": _run(d),
                "cache, second run": _run(d)}
    for name, r in runs.items():
        print(f"{name:18s} " + ", ".join(f"{k} first call {v:.3f} s" for k, v in r.items()))
    return runs


if __name__ == "__main__":
    main()
