"""Recurrent layers, forward + backward: fnn (jitted) vs torch eager, on the CPU.

    .venv/bin/python tests/benchmarks/bench_rnn.py            # ~1-2 minutes
    .venv/bin/python tests/benchmarks/bench_rnn.py --quick    # fewer rounds

Workloads (the issue's): a 2-layer LSTM, hidden 256, input 256, batch 32, sequence 100,
float32, and a GRU of the same size. One call is the forward pass and the gradients of
``sum(output * cotangent)`` with respect to every parameter (what a training step needs
before the optimizer). The contenders run interleaved in one process (the order rotated
each round; the machine is shared and noisy, so read the ratios, which are medians of
per-round ratios, and the best rounds):

* ``torch``: eager forward + ``backward`` (oneDNN's fused RNN kernels, default threads);
* ``torch 1 thread``: the same with ``torch.set_num_threads(1)`` (stable on a busy machine);
* ``fnn``: ``fnn.nn.LSTM`` / ``GRU`` under ``jax.jit(jax.value_and_grad(...))``.

Compile time (trace, lower and XLA compile) is reported separately, and a parity check
compares fnn's gradients with torch's from the same weights (float32). ``main()`` returns
everything as a dict.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import torch

from fnn import nn
from fnn.interop import torch as tinterop

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_cnn import _interleaved, _one_thread, _ratio  # noqa: E402  (the shared timing loop)

LAYERS, HIDDEN, INPUT, BATCH, SEQ = 2, 256, 256, 32, 100


def bench(kind: str, rounds: int, reps: int) -> dict:
    torch.manual_seed(0)
    tm = getattr(torch.nn, kind)(INPUT, HIDDEN, LAYERS)
    fm = getattr(nn, kind)(INPUT, HIDDEN, LAYERS)
    params, _ = tinterop.load_state_dict(fm, tm)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((SEQ, BATCH, INPUT)).astype(np.float32)
    ct = rng.standard_normal((SEQ, BATCH, HIDDEN)).astype(np.float32)
    tx, tct = torch.tensor(x), torch.tensor(ct)
    jx, jct = jnp.asarray(x), jnp.asarray(ct)

    def loss(p, x):
        return jnp.sum(fm(p, x)[0] * jct)

    step = jax.jit(jax.value_and_grad(loss))
    t0 = time.perf_counter()
    step.lower(params, jx).compile()
    compile_s = time.perf_counter() - t0

    def torch_step():
        tm.zero_grad(set_to_none=True)
        out = (tm(tx)[0] * tct).sum()
        out.backward()
        return out

    def fnn_step():
        return jax.block_until_ready(step(params, jx))

    # parity: gradients from the same weights
    torch_step()
    _, grads = fnn_step()
    flat = dict(tinterop.state_dict(grads))
    err = max(float(np.max(np.abs(flat[k].numpy() - v.grad.numpy())) / (np.max(np.abs(v.grad.numpy())) + 1e-30))
              for k, v in tm.named_parameters())
    per = _interleaved({"torch": torch_step, "torch 1 thread": _one_thread(torch_step),
                        "fnn": fnn_step}, rounds, reps)
    return {"ms": {k: statistics.median(v) for k, v in per.items()},
            "min_ms": {k: min(v) for k, v in per.items()},
            "fnn/torch": _ratio(per, "fnn", "torch"),
            "fnn/torch 1 thread": _ratio(per, "fnn", "torch 1 thread"),
            "compile_s": compile_s, "max_rel_grad_diff": err}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds (noisier)")
    parser.add_argument("--rounds", type=int, default=None)
    args = parser.parse_args(argv)
    rounds = args.rounds or (3 if args.quick else 9)
    reps = 2 if args.quick else 5
    print(f"jax {jax.__version__} ({jax.devices()[0].platform}), torch {torch.__version__} "
          f"({torch.get_num_threads()} threads); {LAYERS}-layer, hidden {HIDDEN}, input {INPUT}, "
          f"batch {BATCH}, sequence {SEQ}, float32, forward + backward; {rounds} interleaved "
          f"rounds x {reps} calls; medians; ratios are medians of per-round ratios", flush=True)
    out = {}
    for kind in ("LSTM", "GRU"):
        r = bench(kind, rounds, reps)
        ms, mins = r["ms"], r["min_ms"]
        print(f"\n{kind}: ms per forward + backward, median (best round); "
              f"gradient parity max rel diff {r['max_rel_grad_diff']:.1e}")
        print(f"  {'torch eager':18s} {ms['torch']:8.2f} ({mins['torch']:7.2f})")
        print(f"  {'torch, 1 thread':18s} {ms['torch 1 thread']:8.2f} ({mins['torch 1 thread']:7.2f})"
              f"   fnn/this {r['fnn/torch 1 thread']:.2f}x")
        print(f"  {'fnn (jit)':18s} {ms['fnn']:8.2f} ({mins['fnn']:7.2f})   fnn/torch "
              f"{r['fnn/torch']:.2f}x (best rounds {mins['fnn'] / mins['torch']:.2f}x), "
              f"compile {r['compile_s']:.2f} s", flush=True)
        out[kind] = r
    return out


if __name__ == "__main__":
    res = main()
    sys.exit(0 if all(r["max_rel_grad_diff"] < 1e-3 for r in res.values()) else 1)
