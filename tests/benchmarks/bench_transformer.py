"""Transformer encoder training step and scaled_dot_product_attention: fnn vs torch.

    .venv/bin/python tests/benchmarks/bench_transformer.py            # a few minutes
    .venv/bin/python tests/benchmarks/bench_transformer.py --quick    # fewer rounds, smaller

One run prints:

* the training step (forward + backward + AdamW) of a 4-layer pre-norm
  ``TransformerEncoder`` (d_model 256, 4 heads, feed-forward 1024, batch 16, sequence 128,
  ``batch_first``, no dropout; loss: mean squared output) for fnn (jitted, donating, the
  stack under ``lax.scan``; also the unrolled loop) and torch eager (default threads and 1
  thread), interleaved in rounds with the order rotated: medians of per-round ratios, target
  fnn <= 1.0x torch;
* compile time (trace + lower + XLA compile) for 4 and 16 layers, scan and loop, of the
  model's gradient and of the whole step with AdamW: target 16 layers <= 1.3x the time of 4
  (the optimizer compiles one update per parameter leaf, so the step's part grows with depth);
* ``scaled_dot_product_attention`` alone (forward, and forward + backward) vs torch's, on
  ``(16, 4, 128, 64)`` float32, no mask and causal;
* the device and, when a GPU is present, the same measurements on it (torch on CUDA if
  available) and which path :func:`fnn.nn.functional.sdpa_path` takes (``cudnn`` for
  bfloat16/float16 inputs, whether cuDNN's fused kernel ran is read from the compiled HLO).

The machine these numbers are usually taken on is a shared 2-core VM: read the ratios.
``main()`` returns everything as a dict.
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

import fnn.nn.functional as F
from fnn import nn, optim
from fnn.interop.torch import load_state_dict

sys.path.insert(0, str(Path(__file__).resolve().parent))
from timing import interleaved as _interleaved  # noqa: E402
from timing import one_thread as _one_thread  # noqa: E402
from timing import ratio as _ratio  # noqa: E402


def _encoder(layers: int, d: int, heads: int, ff: int, torch_too: bool = True):
    kw = dict(d_model=d, nhead=heads, dim_feedforward=ff, dropout=0.0, batch_first=True,
              norm_first=True)
    f = nn.TransformerEncoder(nn.TransformerEncoderLayer(**kw), layers, nn.LayerNorm(d))
    t = torch.nn.TransformerEncoder(torch.nn.TransformerEncoderLayer(**kw), layers,
                                    torch.nn.LayerNorm(d), enable_nested_tensor=False) \
        if torch_too else None
    return f, t


def _fnn_step(model, opt):
    def loss_fn(p, x):
        return jnp.mean(model(p, x) ** 2)

    def step(state, x):
        p, s = state
        loss, g = jax.value_and_grad(loss_fn)(p, x)
        u, s = opt.update(g, s, p)
        return (optim.apply_updates(p, u), s), loss

    return jax.jit(step, donate_argnums=0)


def bench_step(cfg: dict, rounds: int, reps: int, device: str = "cpu") -> dict:
    torch.manual_seed(0)
    f, t = _encoder(4, cfg["d"], cfg["heads"], cfg["ff"])
    t = t.to(device)
    params, _ = load_state_dict(f, {k: v.cpu() for k, v in t.state_dict().items()})
    x_np = np.random.default_rng(0).standard_normal((cfg["batch"], cfg["seq"], cfg["d"]))
    x_np = x_np.astype(np.float32)
    tx, jx = torch.tensor(x_np, device=device), jnp.asarray(x_np)
    topt = torch.optim.AdamW(t.parameters(), lr=1e-4)
    opt = optim.adamw(lr=1e-4)

    def torch_step():
        topt.zero_grad()
        loss = (t(tx) ** 2).mean()
        loss.backward()
        topt.step()
        if device != "cpu":
            torch.cuda.synchronize()
        return loss

    fns = {"torch": torch_step}
    if device == "cpu":
        fns["torch 1 thread"] = _one_thread(torch_step)
    states = {}
    for name, scan in (("fnn scan", True), ("fnn loop", False)):
        f.scan_layers = scan
        step = _fnn_step(f, opt)
        states[name] = ((jax.tree.map(jnp.copy, params), opt.init(params)), step)

        def run(name=name):
            st, step = states[name]
            st, loss = step(st, jx)
            states[name] = (st, step)
            return loss.block_until_ready()
        fns[name] = run
    per = _interleaved(fns, rounds, reps)
    ms = {k: statistics.median(v) for k, v in per.items()}
    return {"ms": ms, "best": {k: min(v) for k, v in per.items()},
            "fnn/torch": _ratio(per, "fnn scan", "torch"),
            "loop/torch": _ratio(per, "fnn loop", "torch")}


def bench_compile(cfg: dict, depths=(4, 16)) -> dict:
    """Seconds to lower and compile, per (mode, depth): the model's gradient alone
    (``"grad"``) and the whole step with AdamW (``"step"``; the optimizer's update is one
    small computation per parameter leaf, 12 leaves a layer, so it grows with depth)."""
    out = {}
    x = jax.ShapeDtypeStruct((cfg["batch"], cfg["seq"], cfg["d"]), jnp.float32)
    opt = optim.adamw(lr=1e-4)
    for scan in (True, False):
        for n in depths:
            f, _ = _encoder(n, cfg["d"], cfg["heads"], cfg["ff"], torch_too=False)
            f.scan_layers = scan
            p = jax.eval_shape(f.init, jax.random.key(0))
            s = jax.eval_shape(opt.init, p)
            mode = "scan" if scan else "loop"
            t0 = time.perf_counter()
            jax.jit(jax.grad(lambda p, x, f=f: jnp.mean(f(p, x) ** 2))).lower(p, x).compile()
            t1 = time.perf_counter()
            _fnn_step(f, opt).lower((p, s), x).compile()
            out[("grad", mode, n)] = t1 - t0
            out[("step", mode, n)] = time.perf_counter() - t1
    return out


def bench_sdpa(shape, rounds: int, reps: int, device: str = "cpu", dtype=jnp.float32) -> dict:
    rng = np.random.default_rng(0)
    q, k, v = (rng.standard_normal(shape).astype(np.float32) for _ in range(3))
    tdt = {jnp.float32: torch.float32, jnp.bfloat16: torch.bfloat16}[dtype]
    tq, tk, tv = (torch.tensor(a, device=device, dtype=tdt, requires_grad=True) for a in (q, k, v))
    jq, jk, jv = (jnp.asarray(a, dtype) for a in (q, k, v))
    res = {}
    for causal in (False, True):
        fwd = jax.jit(lambda q, k, v, c=causal: F.scaled_dot_product_attention(q, k, v,
                                                                              is_causal=c))
        bwd = jax.jit(jax.grad(lambda q, k, v, c=causal: jnp.sum(
            F.scaled_dot_product_attention(q, k, v, is_causal=c).astype(jnp.float32)),
            (0, 1, 2)))

        def sync():
            if device != "cpu":
                torch.cuda.synchronize()

        def t_fwd(c=causal):
            with torch.no_grad():
                torch.nn.functional.scaled_dot_product_attention(tq, tk, tv, is_causal=c)
            sync()

        def t_bwd(c=causal):
            torch.nn.functional.scaled_dot_product_attention(tq, tk, tv, is_causal=c).sum()\
                .backward()
            sync()

        fns = {"torch fwd": t_fwd, "fnn fwd": lambda f=fwd: f(jq, jk, jv).block_until_ready(),
               "torch fwd+bwd": t_bwd,
               "fnn fwd+bwd": lambda b=bwd: jax.block_until_ready(b(jq, jk, jv))}
        per = _interleaved(fns, rounds, reps)
        res["causal" if causal else "no mask"] = {
            "ms": {k: statistics.median(v) for k, v in per.items()},
            "fwd ratio": _ratio(per, "fnn fwd", "torch fwd"),
            "fwd+bwd ratio": _ratio(per, "fnn fwd+bwd", "torch fwd+bwd")}
    res["path"] = F.sdpa_path(jq, jk, jv)
    hlo = jax.jit(F.scaled_dot_product_attention).lower(jq, jk, jv).compile().as_text()
    res["cudnn in HLO"] = "cudnn" in hlo.lower() or "__cudnn$fmha" in hlo
    return res


def _print_step(title: str, r: dict) -> None:
    print(f"\n{title}: ms/step, median (best round)")
    for k, v in r["ms"].items():
        print(f"  {k:18s} {v:8.2f} ({r['best'][k]:7.2f})")
    print(f"  fnn (scan)/torch {r['fnn/torch']:.2f}x, fnn (loop)/torch {r['loop/torch']:.2f}x "
          "(target <= 1.0x)")


def _print_sdpa(title: str, r: dict) -> None:
    print(f"\n{title} (path: {r['path']}, cuDNN custom call in HLO: {r['cudnn in HLO']})")
    for name in ("no mask", "causal"):
        ms = r[name]["ms"]
        print(f"  {name:8s} fwd: fnn {ms['fnn fwd']:.2f} ms, torch {ms['torch fwd']:.2f} ms "
              f"({r[name]['fwd ratio']:.2f}x); fwd+bwd: fnn {ms['fnn fwd+bwd']:.2f} ms, torch "
              f"{ms['torch fwd+bwd']:.2f} ms ({r[name]['fwd+bwd ratio']:.2f}x)")


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds, smaller step")
    parser.add_argument("--rounds", type=int, default=None)
    args = parser.parse_args(argv)
    rounds = args.rounds or (3 if args.quick else 9)
    cfg = dict(d=256, heads=4, ff=1024, batch=16, seq=128)
    if args.quick:
        cfg.update(batch=4, seq=64)
    print(f"jax {jax.__version__} ({jax.devices()[0].platform}: {jax.devices()[0].device_kind}), "
          f"torch {torch.__version__} ({torch.get_num_threads()} threads); "
          f"4-layer pre-norm encoder {cfg}", flush=True)
    out: dict = {"cfg": cfg}
    out["step"] = bench_step(cfg, rounds, 1)
    _print_step("CPU train step (fwd+bwd+AdamW)", out["step"])
    out["compile"] = comp = bench_compile(cfg)
    print("\ncompile time, s (target: 16 layers <= 1.3x 4 layers)")
    for what in ("grad", "step"):
        for mode in ("scan", "loop"):
            c4, c16 = comp[(what, mode, 4)], comp[(what, mode, 16)]
            label = "model grad" if what == "grad" else "step+AdamW"
            print(f"  {label:10s} {mode}: 4 layers {c4:6.2f}, 16 layers {c16:6.2f} "
                  f"({c16 / c4:.2f}x)")
    shape = (cfg["batch"], 4, cfg["seq"], 64)
    out["sdpa"] = bench_sdpa(shape, rounds, 3)
    _print_sdpa(f"CPU scaled_dot_product_attention {shape} float32", out["sdpa"])
    if jax.default_backend() == "gpu":
        dev = "cuda" if torch.cuda.is_available() else None
        if dev:
            out["gpu step"] = bench_step(cfg, rounds, 3, device=dev)
            _print_step("GPU train step", out["gpu step"])
            for dt in (jnp.float32, jnp.bfloat16):
                r = bench_sdpa(shape, rounds, 10, device=dev, dtype=dt)
                out[f"gpu sdpa {jnp.dtype(dt).name}"] = r
                _print_sdpa(f"GPU scaled_dot_product_attention {jnp.dtype(dt).name}", r)
        else:
            print("\nGPU present but torch has no CUDA: GPU comparison skipped")
    else:
        print("\nno GPU: the GPU/cuDNN measurements run only where jax sees a GPU")
    return out


if __name__ == "__main__":
    main()
