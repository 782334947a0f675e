"""Mixed precision: step time and peak memory, float32 vs bf16-mixed (and 16-mixed on GPU).

    .venv/bin/python tests/benchmarks/bench_amp.py            # ~2-4 minutes on a 2-core CPU
    .venv/bin/python tests/benchmarks/bench_amp.py --quick    # fewer steps, smaller model

Two models, each trained through ``fnn.train.make_train_step(..., precision=...)`` (the
step ``fit`` runs: jitted, donating):

* the CNN of ``bench_cnn.py`` (``examples/cnn.py``'s ``Net``: conv 5x5 1->32, pool 3,
  conv 5x5 32->64, pool 2, fc 256->200->10; batch 100 of 1x28x28, cross entropy, SGD);
* the Transformer of ``bench_transformer.py`` (pre-norm ``TransformerEncoder``, d_model
  256, 4 heads, feed-forward 1024, 4 layers, batch 16 x 128 tokens, mean squared output,
  AdamW; ``--quick``: 2 layers, d_model 128, 64 tokens).

Reported per model and precision: the median step time (ms), XLA's compiled memory
analysis of the step (temporaries + arguments + outputs: the peak the compiled program
needs, MiB), the compile time and the loss after the timed steps. Then the device, and whether
the float32 step's matrix products and convolutions ran at full float32
(``precision=HIGHEST`` on every dot/convolution of the lowered program: fnn's default,
torch's ``set_float32_matmul_precision("highest")``) or not.

On CPU, XLA has no fast bfloat16 matrix units on most x86 machines: bf16-mixed there
measures the cost of the casts (expect it slower than float32, with the activation
memory halved); the speed-up belongs to GPUs/TPUs (tensor cores). Numbers on the shared
2-core VM are indicative only.
"""

from __future__ import annotations

import argparse
import importlib.util
import re
import statistics
import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from fnn import amp, get_float32_matmul_precision, losses, nn, optim, train

ROOT = Path(__file__).resolve().parents[2]


def _cnn():
    spec = importlib.util.spec_from_file_location("fnn_example_cnn", ROOT / "examples" / "cnn.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    model = mod.Net()
    rng = np.random.default_rng(0)
    x = jnp.asarray(rng.standard_normal((100, 1, 28, 28)), jnp.float32)
    y = jnp.asarray(rng.integers(0, 10, 100))
    return model, optim.sgd(lr=0.1), losses.cross_entropy, (x, y)


def _transformer(quick: bool):
    d, heads, ff, layers, seq = (128, 4, 512, 2, 64) if quick else (256, 4, 1024, 4, 128)
    kw = dict(d_model=d, nhead=heads, dim_feedforward=ff, dropout=0.0, batch_first=True,
              norm_first=True)
    model = nn.TransformerEncoder(nn.TransformerEncoderLayer(**kw), layers, nn.LayerNorm(d))
    x = jax.random.normal(jax.random.key(1), (16, seq, d), jnp.float32)
    return model, optim.adamw(lr=1e-4), losses.mse_loss, (x, jnp.zeros_like(x))


def _full_precision(text: str) -> tuple[int, int]:
    """``(products at HIGHEST, all products)`` in a lowered (StableHLO) program."""
    ops = [ln for ln in text.splitlines() if "stablehlo.dot_general" in ln
           or "stablehlo.convolution" in ln]
    full = [ln for ln in ops if re.search(r"precision\s*(=|<)\s*\[?\s*HIGHEST|precision HIGHEST",
                                          ln)]
    return len(full), len(ops)


def bench(model, opt, loss, batch, precision: str, steps: int) -> dict:
    params = model.init(jax.random.key(0))
    if precision == "16-mixed":      # what fit(precision="16-mixed") does
        opt = amp.GradScaler().wrap(opt)
    step = train.make_train_step(model, opt, loss=loss, precision=precision)
    state = train.init_state(params, opt, buffers=model.init_buffers())
    lowered = step.lower(state, batch)
    t0 = time.perf_counter()
    compiled = lowered.compile()
    compile_s = time.perf_counter() - t0
    mem = compiled.memory_analysis()
    peak = (mem.temp_size_in_bytes + mem.argument_size_in_bytes + mem.output_size_in_bytes
            if mem is not None else float("nan"))
    state, value = step(state, batch)
    jax.block_until_ready(value)
    times = []
    for _ in range(steps):
        t0 = time.perf_counter()
        state, value = step(state, batch)
        jax.block_until_ready(value)
        times.append((time.perf_counter() - t0) * 1e3)
    out = {"ms": statistics.median(times), "best_ms": min(times), "compile_s": compile_s,
           "peak_mib": peak / 2**20, "loss": float(value),
           "full_f32": _full_precision(lowered.as_text()) if precision == "32" else None}
    return out


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args(argv)
    steps = 5 if args.quick else 20
    dev = jax.devices()[0]
    gpu = dev.platform != "cpu"
    precisions = ("32", "bf16-mixed", "16-mixed") if gpu else ("32", "bf16-mixed")
    print(f"device: {dev.platform} ({dev.device_kind}), jax {jax.__version__}, "
          f"fnn float32 matmul precision: {get_float32_matmul_precision()!r}")
    results: dict = {"device": f"{dev.platform} ({dev.device_kind})"}
    for name, make in (("cnn", _cnn), ("transformer", lambda: _transformer(args.quick))):
        model, opt, loss, batch = make()
        results[name] = {}
        print(f"\n{name}:  precision     step ms (best)   peak MiB   compile s   loss")
        for prec in precisions:
            r = bench(model, opt, loss, batch, prec, steps)
            results[name][prec] = r
            print(f"  {prec:>12}   {r['ms']:8.2f} ({r['best_ms']:7.2f})   {r['peak_mib']:8.2f}"
                  f"   {r['compile_s']:8.2f}   {r['loss']:.4g}")
        full, total = results[name]["32"]["full_f32"]
        ratio = results[name]["bf16-mixed"]["ms"] / results[name]["32"]["ms"]
        print(f"  float32 products at full precision (HIGHEST): {full}/{total}; "
              f"bf16-mixed / float32 step time: {ratio:.2f}x")
    return results


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
