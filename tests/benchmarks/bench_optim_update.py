"""One optimizer update at 16M float32 parameters: fnn vs optax vs torch vs the roofline.

    .venv/bin/python tests/benchmarks/bench_optim_update.py [--quick]

Adam (lr 1e-3) and SGD (lr 1e-3, momentum 0.9) on 16,777,216 float32 parameters held as
1 leaf and as 1000 leaves (16,777 or 16,778 elements each), the layouts of
``reference/perf-anchors.md`` section 3 (which used 200 leaves for the second one).

Variants, each timing one full step with the gradient already computed:

* ``fnn``: ``jax.jit(update + apply_updates, donate_argnums=(params, state))``;
* ``optax``: the same with ``optax.adam`` / ``optax.sgd(momentum=0.9)``;
* ``torch for-loop`` / ``foreach`` / ``fused``: ``opt.step()`` with ``foreach=False``,
  ``foreach=True``, ``fused=True`` (grads set once, torch's default thread count);
* ``XLA touch``: a donated jitted pure-touch op on the same pytree layout that reads and
  writes what the update must (Adam: reads p, g, m, v and writes p, m, v; SGD-momentum:
  reads p, g, buf and writes p, buf) with one multiply-add per array -- the best this XLA
  can do for that traffic;
* ``C touch``: the same touch as one fused, vectorised loop in C (``cc -O3``, one flat
  buffer, the faster of 1 and 2 threads), when a C compiler is available -- the machine's memory roofline;
* ``roofline``: the fastest of ``C touch`` and ``torch fused`` (a one-pass kernel that
  moves the same bytes and does the math: at the roofline in perf-anchors.md), the figure
  the targets are measured against;
* ``numpy-copy roofline``: the bytes the update must move divided by ``np.copyto``'s
  bandwidth (one thread; a lower bound on bandwidth, so an upper bound on time).

Steady-state times are medians of interleaved rounds (the variant order rotated each
round), each round timing a few steps; compile time (trace + lower + XLA compile of a
fresh function) is reported apart. ``main()`` returns every number as a dict, for a runner
that prints all benchmarks together. The machine is shared: compare within one run.

The performance bar (optimizer issue): fnn no more than 10% slower than optax here.
"""

from __future__ import annotations

import argparse
import ctypes
import os
import shutil
import subprocess
import tempfile
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax
import torch

from fnn import optim

N_FULL = 16_777_216
LR = 1e-3
# the C touch runs with 1 and with 2 threads and the faster is the roofline: on a quiet
# machine 2 threads are ~10% faster (perf-anchors section 3); on a busy one a descheduled
# worker stalls a 2-thread pass and 1 thread wins
C_THREADS = (1, 2)

# (reads, writes) of full arrays that one update must do
TRAFFIC = {"adam": (4, 3), "sgd": (3, 2)}

_C_SRC = r"""
#include <pthread.h>
typedef struct { float *a[4]; long lo, hi; int narr; } job_t;
static void touch3(float *restrict p, float *restrict m, float *restrict v,
                   const float *restrict g, long lo, long hi) {
    for (long i = lo; i < hi; i++) {
        float gi = g[i];
        p[i] += 1e-9f * gi; m[i] += 1e-9f * gi; v[i] += 1e-9f * gi;
    }
}
static void touch2(float *restrict p, float *restrict b, const float *restrict g,
                   long lo, long hi) {
    for (long i = lo; i < hi; i++) {
        float gi = g[i];
        p[i] += 1e-9f * gi; b[i] += 1e-9f * gi;
    }
}
static void *work(void *arg) {
    job_t *j = (job_t *)arg;
    if (j->narr == 4) touch3(j->a[0], j->a[1], j->a[2], j->a[3], j->lo, j->hi);
    else touch2(j->a[0], j->a[1], j->a[2], j->lo, j->hi);
    return 0;
}
/* arrays[0 .. narr-2] are updated in place from arrays[narr-1] (the gradient): one pass
   that reads narr arrays and writes narr - 1 (narr = 4: Adam's traffic, 3: SGD-momentum's) */
void touch(float **arrays, int narr, long n, int nthreads) {
    pthread_t th[64]; job_t jobs[64];
    if (nthreads > 64) nthreads = 64;
    for (int t = 0; t < nthreads; t++) {
        for (int k = 0; k < narr; k++) jobs[t].a[k] = arrays[k];
        jobs[t].narr = narr;
        jobs[t].lo = n * t / nthreads; jobs[t].hi = n * (t + 1) / nthreads;
        if (nthreads == 1) work(&jobs[0]);
        else pthread_create(&th[t], 0, work, &jobs[t]);
    }
    if (nthreads > 1)
        for (int t = 0; t < nthreads; t++) pthread_join(th[t], 0);
}
"""


def _c_kernels():
    """The C touch kernel through ctypes (pthreads rather than OpenMP: no spinning thread
    pool to fight torch's), or None without a C compiler."""
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        return None
    d = tempfile.mkdtemp(prefix="fnn_bench_")
    src, lib = os.path.join(d, "touch.c"), os.path.join(d, "touch.so")
    with open(src, "w") as f:
        f.write(_C_SRC)
    r = subprocess.run([cc, "-O3", "-march=native", "-shared", "-fPIC", "-pthread", src, "-o",
                        lib], capture_output=True)
    if r.returncode != 0:
        return None
    so = ctypes.CDLL(lib)
    so.touch.argtypes = [ctypes.POINTER(ctypes.c_void_p), ctypes.c_int, ctypes.c_long,
                         ctypes.c_int]
    return so


def _layout(n: int, leaves: int) -> list[int]:
    base, extra = divmod(n, leaves)
    return [base + (1 if i < extra else 0) for i in range(leaves)]


def _tree(sizes, rng, scale=1.0):
    return {f"p{i:04d}": jnp.asarray(scale * rng.standard_normal(s, dtype=np.float32))
            for i, s in enumerate(sizes)}


def _copy_bandwidth(n: int, reps: int) -> float:
    """Bytes read + written per second by ``np.copyto`` on ``n`` float32 (one thread)."""
    a = np.ones(n, np.float32)
    b = np.empty_like(a)
    np.copyto(b, a)
    ts = []
    for _ in range(reps):
        t0 = time.perf_counter()
        np.copyto(b, a)
        ts.append(time.perf_counter() - t0)
    return 2 * a.nbytes / float(np.median(ts))


def _jax_variant(fn, args, donate):
    """Compile ``fn`` (timed) and return (compile seconds, a stepper over a mutable copy)."""
    t0 = time.perf_counter()
    compiled = jax.jit(fn, donate_argnums=donate).lower(*args).compile()
    compile_s = time.perf_counter() - t0
    live = list(jax.tree.map(jnp.copy, args))
    jax.block_until_ready(live)

    def run(k):
        for _ in range(k):
            out = compiled(*live)
            live[: len(out)] = out
        jax.block_until_ready(live)

    return compile_s, run


def _opt_step(opt):
    def step(p, s, g):
        u, s = opt.update(g, s, p)
        return optax.apply_updates(p, u), s
    return step


def _touch_fn(name):
    c = jnp.float32(1e-9)
    if name == "adam":
        def touch(p, m, v, g):
            f = lambda a, b: a + c * b
            return (jax.tree.map(f, p, g), jax.tree.map(f, m, g), jax.tree.map(f, v, g))
        return touch, (0, 1, 2)

    def touch(p, buf, g):
        f = lambda a, b: a + c * b
        return jax.tree.map(f, p, g), jax.tree.map(f, buf, g)
    return touch, (0, 1)


def _torch_variant(name, sizes, rng, **flags):
    params = [torch.nn.Parameter(torch.from_numpy(rng.standard_normal(s, dtype=np.float32)))
              for s in sizes]
    for p in params:
        p.grad = torch.from_numpy(rng.standard_normal(p.numel(), dtype=np.float32))
    opt = (torch.optim.Adam(params, lr=LR, **flags) if name == "adam"
           else torch.optim.SGD(params, lr=LR, momentum=0.9, **flags))
    opt.step()  # creates the state

    def run(k):
        for _ in range(k):
            opt.step()
    return run


def _c_variant(name, n, rng, so, threads):
    arrs = [rng.standard_normal(n, dtype=np.float32) for _ in range(TRAFFIC[name][0])]
    ptrs = (ctypes.c_void_p * len(arrs))(*[a.ctypes.data for a in arrs])

    def run(k):
        for _ in range(k):
            so.touch(ptrs, len(arrs), n, threads)
    run.keep = arrs  # the buffers live as long as the closure
    return run


def bench(name: str, n: int, leaves: int, rounds: int, steps: int, kernels, bw: float):
    rng = np.random.default_rng(0)
    sizes = _layout(n, leaves)
    p, g = _tree(sizes, rng), _tree(sizes, rng, 1e-2)
    variants, compile_s = {}, {}
    fnn_opt = optim.adam(lr=LR) if name == "adam" else optim.sgd(lr=LR, momentum=0.9)
    ref_opt = optax.adam(LR) if name == "adam" else optax.sgd(LR, momentum=0.9)
    for label, opt in (("fnn", fnn_opt), ("optax", ref_opt)):
        s = opt.init(p)
        compile_s[label], variants[label] = _jax_variant(_opt_step(opt), (p, s, g), (0, 1))
        del s
    touch, donate = _touch_fn(name)
    state_like = [jax.tree.map(jnp.zeros_like, p) for _ in range(len(donate) - 1)]
    compile_s["XLA touch"], variants["XLA touch"] = _jax_variant(touch, (p, *state_like, g),
                                                                 donate)
    del p, g, state_like
    variants["torch for-loop"] = _torch_variant(name, sizes, rng, foreach=False)
    variants["torch foreach"] = _torch_variant(name, sizes, rng, foreach=True)
    variants["torch fused"] = _torch_variant(name, sizes, rng, fused=True)
    if kernels is not None:
        for th in C_THREADS:
            variants[f"C touch {th}T"] = _c_variant(name, n, rng, kernels, th)
    for run in variants.values():  # warm-up
        run(1)
    labels = list(variants)
    times: dict[str, list[float]] = {k: [] for k in labels}
    for r in range(rounds):
        order = labels[r % len(labels):] + labels[:r % len(labels)]
        for k in order:
            t0 = time.perf_counter()
            variants[k](steps)
            times[k].append((time.perf_counter() - t0) / steps)
    ms = {k: 1e3 * float(np.median(v)) for k, v in times.items()}
    best = {k: 1e3 * float(np.min(v)) for k, v in times.items()}
    if kernels is not None:  # the roofline: the faster thread count
        fastest = min((f"C touch {th}T" for th in C_THREADS), key=lambda k: ms[k])
        ms["C touch"], best["C touch"] = ms[fastest], best[fastest]
    reads, writes = TRAFFIC[name]
    ms["numpy-copy roofline"] = best["numpy-copy roofline"] = 1e3 * (reads + writes) * 4 * n / bw
    # the roofline: the fastest full-traffic pass measured (the C touch, or torch's fused
    # one-pass kernel, which does the same traffic plus the math: perf-anchors, 1.0-1.2x)
    cands = [k for k in ("C touch", "torch fused") if k in ms] or ["numpy-copy roofline"]
    ms["roofline"] = min(ms[k] for k in cands)
    best["roofline"] = min(best[k] for k in cands)
    return ms, best, compile_s


def main(quick: bool = False) -> dict:
    n = 1 << 20 if quick else N_FULL
    layouts = (1, 100) if quick else (1, 1000)
    rounds, steps = (3, 3) if quick else (5, 3)
    kernels = _c_kernels()
    bw = _copy_bandwidth(n, 5 if quick else 9)
    results: dict = {}
    best: dict = {}
    compile_s: dict = {}
    for name in ("adam", "sgd"):
        for leaves in layouts:
            key = f"{name}, {leaves} " + ("leaf" if leaves == 1 else "leaves")
            results[key], best[key], compile_s[key] = bench(name, n, leaves, rounds, steps,
                                                             kernels, bw)
    roof = "roofline"
    ratios = {key: {"fnn/optax": ms["fnn"] / ms["optax"],
                    "fnn/torch fused": ms["fnn"] / ms["torch fused"],
                    "fnn/XLA touch": ms["fnn"] / ms["XLA touch"],
                    f"fnn/{roof}": ms["fnn"] / ms[roof]}
              for key, ms in results.items()}

    print(f"optimizer update, {n:,} float32 parameters (median of {rounds} interleaved rounds "
          f"x {steps} steps; {jax.devices()[0].platform}, torch threads "
          f"{torch.get_num_threads()}; shared machine: compare within this run)")
    print(f"np.copyto bandwidth {bw / 1e9:.1f} GB/s (read + write)"
          + ("" if kernels is None else "; C touch: one flat buffer, the faster of 1 and 2 "
                                          "threads"))
    cols = list(next(iter(results.values())))
    width, cw = max(len(c) for c in cols) + 2, max(len(k) for k in results) + 2
    print(f"{'ms/step (median)':{width}s}" + "".join(f"{k:>{cw}s}" for k in results))
    for c in cols:
        print(f"{c:{width}s}" + "".join(f"{results[k][c]:{cw}.2f}" for k in results))
    for rk in next(iter(ratios.values())):
        print(f"{rk:{width}s}" + "".join(f"{ratios[k][rk]:{cw - 1}.2f}x" for k in results))
    print(f"{'fnn/optax (best)':{width}s}"
          + "".join(f"{best[k]['fnn'] / best[k]['optax']:{cw - 1}.2f}x" for k in results))
    print("compile (trace+lower+XLA), s:")
    for c in next(iter(compile_s.values())):
        print(f"  {c:{width - 2}s}" + "".join(f"{compile_s[k][c]:{cw}.2f}" for k in compile_s))
    worst = max(r["fnn/optax"] for r in ratios.values())
    print(f"bar: fnn <= 1.10x optax -- worst here {worst:.2f}x "
          + ("(met)" if worst <= 1.10 else "(NOT met)"))
    return {"n_params": n, "layouts": list(layouts), "ms_per_step": results,
            "ms_per_step_best": best, "compile_s": compile_s, "ratios": ratios,
            "copy_bandwidth_GBps": bw / 1e9, "roofline": roof}


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="1M parameters, 1 and 100 leaves")
    main(ap.parse_args().quick)
