"""Every benchmark in one run, one table of ratios against the targets; rewrites README.md.

    .venv/bin/python tests/benchmarks/run_all.py [--quick] [--no-write]

Runs bench_simple_net, bench_cnn, bench_optim_update, bench_leaves, bench_lbfgs,
bench_compile_cache and bench_rnn (each also runs alone), then prints one table: each workload's fnn
figure, the reference measured in the same run (torch, optax or the memory-bandwidth
roofline), the ratio, the target of the performance issue and whether it is met. The table
and the per-benchmark output are written to ``tests/benchmarks/README.md`` (``--no-write``
to skip). All times are medians over interleaved rounds after warm-up; compile times are
separate. The machine is shared and noisy: compare within a run.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import importlib
import io
import multiprocessing
import platform
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import jax  # noqa: E402
import torch  # noqa: E402


def _child(module: str, quick: bool, conn) -> None:
    """Run one benchmark in a fresh process (its own JAX config, e.g. x64 for L-BFGS)."""
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        mod = importlib.import_module(module)
        takes_argv = module in ("bench_cnn", "bench_rnn")
        out = mod.main(["--quick"] if quick else []) if takes_argv else mod.main(quick)
    conn.send((buf.getvalue(), out))
    conn.close()


def _run(module: str, quick: bool, log: list[str]):
    ctx = multiprocessing.get_context("spawn")
    recv, send = ctx.Pipe(duplex=False)
    t0 = time.perf_counter()
    proc = ctx.Process(target=_child, args=(module, quick, send))
    proc.start()
    text, out = recv.recv()
    proc.join()
    print(text, end="", flush=True)
    log.append(f"### {module} ({time.perf_counter() - t0:.0f} s)\n\n```\n{text.rstrip()}\n```\n")
    return out


def rows(r: dict) -> list[tuple[str, str, str, str, str, bool]]:
    """(workload, fnn, reference, ratio, target, met) per target of the performance issue."""
    out = []
    sn = r["simple_net"]
    us, comp = sn["us_per_step"], sn["compile_s"]
    out.append(("simple network, Adam step in lax.scan", f"{us['fnn scan']:.1f} us",
                f"torch eager {us['torch eager (for-loop)']:.1f} us",
                f"{us['fnn scan'] / us['torch eager (for-loop)']:.3f}x torch",
                "<= 7.6 us", us["fnn scan"] <= 7.6))
    out.append(("simple network, first-call compile (scan)", f"{comp['fnn scan']:.3f} s",
                f"optax {comp['optax scan']:.3f} s", f"{comp['fnn scan'] / comp['optax scan']:.2f}x optax",
                "<= 0.25 s", comp["fnn scan"] <= 0.25))
    cnn = r["cnn"]["step"]
    out.append(("Fleuret's CNN train step, batch 100", f"{cnn['ms']['fnn']:.2f} ms",
                f"torch eager {cnn['ms']['torch']:.2f} ms", f"{cnn['fnn/torch']:.2f}x torch",
                "<= 1.0x torch", cnn["fnn/torch"] <= 1.0))
    ou = r["optim_update"]
    roof = ou["roofline"]
    for key, target, limit in (("adam, 1 leaf", "<= 1.35x roofline", 1.35),
                               ("sgd, 1 leaf", "<= 1.3x roofline", 1.3)):
        ms, ratio = ou["ms_per_step"][key], ou["ratios"][key]
        out.append((f"{key.split(',')[0]} update, 16M float32 (1 leaf)", f"{ms['fnn']:.2f} ms",
                    f"{roof} {ms[roof]:.2f} ms; optax {ms['optax']:.2f} ms",
                    f"{ratio[f'fnn/{roof}']:.2f}x roofline, {ratio['fnn/optax']:.2f}x optax",
                    target, ratio[f"fnn/{roof}"] <= limit))
    for key in ou["ms_per_step"]:
        ratio = ou["ratios"][key]["fnn/optax"]
        out.append((f"{key} (16M float32): fnn vs optax", f"{ou['ms_per_step'][key]['fnn']:.2f} ms",
                    f"optax {ou['ms_per_step'][key]['optax']:.2f} ms", f"{ratio:.2f}x optax",
                    "<= 1.10x optax", ratio <= 1.10))
    lv = r["leaves"]
    n = max(lv)
    ms, cs = lv[n]["ms_per_step"], lv[n]["compile_s"]
    out.append((f"Adam, {n} leaves of 32x32, per jitted call", f"{ms['fnn per call']:.2f} ms",
                f"optax {ms['optax per call']:.2f} ms; torch fused {ms['torch fused']:.2f} ms",
                f"{ms['fnn per call'] / ms['optax per call']:.2f}x optax", "<= 1 ms",
                ms["fnn per call"] <= 1.0))
    out.append((f"Adam, {n} leaves, in a jitted loop", f"{ms['fnn in program']:.2f} ms",
                f"optax {ms['optax in program']:.2f} ms",
                f"{ms['fnn in program'] / ms['optax in program']:.2f}x optax", "(no target)", True))
    out.append((f"Adam, {n} leaves, compile", f"{cs['fnn']:.2f} s", f"optax {cs['optax']:.2f} s",
                f"{cs['fnn'] / cs['optax']:.2f}x optax", "<= 0.3 s", cs["fnn"] <= 0.3))
    for name, v in r["lbfgs"].items():
        out.append((f"L-BFGS 1000-D Rosenbrock, {name}", f"{v['fnn_us_per_iter']:.1f} us/iter",
                    f"torch {v['torch_us_per_iter']:.1f} us/iter",
                    f"torch/fnn {v['ratio']:.1f}x (same iterates: {v['same_iterates_as_torch']})",
                    "<= 30 us, >= 10x", v["fnn_us_per_iter"] <= 30 and v["ratio"] >= 10))
    cc = r["compile_cache"]
    first, second = cc["cache, first run"], cc["cache, second run"]
    k = "200-step scan"
    out.append(("persistent compilation cache, 2nd process", f"{second[k]:.3f} s first call",
                f"1st process {first[k]:.3f} s", f"{second[k] / first[k]:.2f}x",
                "no recompile", second[k] < 0.5 * first[k]))
    for kind, v in r.get("rnn", {}).items():  # bench_rnn: 2-layer LSTM/GRU, hidden 256
        ms = v["ms"]
        out.append((f"{kind} 2x256, batch 32, seq 100, fwd+bwd", f"{ms['fnn']:.1f} ms",
                    f"torch eager {ms['torch']:.1f} ms; 1 thread {ms['torch 1 thread']:.1f} ms",
                    f"{v['fnn/torch']:.2f}x torch, {v['fnn/torch 1 thread']:.2f}x 1 thread",
                    "<= 1.0x torch", v["fnn/torch"] <= 1.0))
        out.append((f"{kind} 2x256, compile", f"{v['compile_s']:.2f} s", "-", "-", "<= 2 s",
                    v["compile_s"] <= 2.0))
    return out


# what stands in the way of each target this machine does not meet (measured reasons)
WHY = {
    "simple network, Adam step": (
        "fnn's scanned step costs what optax's does (same fusions: 3 per parameter, "
        "`bench_simple_net` prints both); the 7.6 us of perf-anchors.md was optax on a "
        "quieter run of this VM. The remaining cost is XLA:CPU's per-kernel overhead "
        "(~1 us a fusion, ~20 fusions a step)."),
    "simple network, first-call compile": (
        "optax's own step compiles in about the same time (the row's reference): the cost "
        "is XLA:CPU's compile pipeline, not fnn. `fnn.enable_compilation_cache()` removes it "
        "from every run after the first (last row)."),
    "adam update, 16M": (
        "XLA:CPU has no multi-output loop fusion: the update compiles to three loops "
        "(m', v', then p' re-reading m' and v'), 10 array passes where a one-pass kernel "
        "does 7; even a pure 4-read/3-write touch op compiled by XLA is ~1.2-1.3x the "
        "roofline (the `XLA touch` row of bench_optim_update). Under the optax protocol "
        "(updates, then apply_updates) a custom one-pass kernel would still need 10 passes; "
        "reaching 1.35x needs a fused in-place step outside that protocol (a jax.ffi kernel, "
        "as torch's fused=True): not done."),
    "sgd update, 16M": (
        "as for Adam: two XLA loops (6 passes) instead of one (5)."),
    "Adam, 1000 leaves of 32x32, per jitted call": (
        "with parameters as a pytree of 1000 arrays, every call passes ~3000 arrays in and "
        "out of the compiled program (~3-4 us each on the host: perf-anchors section 5); "
        "only keeping parameters in one flat buffer reaches ~0.7 ms. Bucketing inside the "
        "engine cannot hide this: splitting a flat buffer back into 1000 leaves inside jit "
        "costs 40-57 s of XLA:CPU compile time (measured: `jnp.split` into 1000 pieces), "
        "and the per-call transfer of 1000 parameter leaves remains. Inside a jitted loop "
        "(next row) fnn costs what optax costs."),
    "Adam, 1000 leaves, compile": (
        "XLA:CPU's compile time grows faster than linearly with the number of fusions "
        "(3 per leaf); optax takes as long (the reference). The flat-buffer route is "
        "blocked by the slice cost above. The persistent cache makes it a one-time cost."),
    "Fleuret's CNN train step": (
        "the margin over torch is ~5-10% on a quiet machine (bench_cnn's per-op table): the "
        "standalone convolutions are still 1.4-3x oneDNN's; the step wins through fusion and "
        "the reshape max-pool, so a noisy round can tip it either way."),
    "adam, 1000 leaves (16M float32): fnn vs optax": (
        "at 1000 leaves the engine's per-leaf scalar work (its jaxpr has ~1.7x optax's "
        "equations; the compiled fusions are the same) and run-to-run noise decide: medians "
        "of the same script have ranged 0.96-1.4x here; the best rounds are within 1.0x."),
    "sgd, 1000 leaves (16M float32): fnn vs optax": (
        "as for Adam with 1000 leaves."),
    "L-BFGS 1000-D Rosenbrock": (
        "fnn takes torch's exact iterations; the time goes to the two-loop recursion, a "
        "sequential loop of up to `history_size` dot products and axpys per direction, each "
        "a few tiny XLA:CPU kernels (~1.7 us per history entry: 16 us/iter with "
        "history_size=1, ~50 with 10). A vectorised (compact) form would change the rounding "
        "and break torch parity; tried and measured without gain: unrolling the loops, "
        "selects instead of conditionals."),
    "LSTM 2x256": (
        "torch runs oneDNN's fused LSTM kernels; fnn's time loop is a `lax.scan` whose body "
        "is one small matrix product (batch 32) plus the gate fusions, and JAX's transpose of "
        "the scan accumulates the hidden weights' gradient step by step inside the backward "
        "loop (a K=32 product and a read-modify-write of the 1024x256 gradient per step). A "
        "custom VJP that computes it as one product after the loop was measured ~5% faster "
        "(within this VM's noise) and would end forward-mode differentiation (Hessian-vector "
        "products): not kept."),
    "GRU 2x256": ("as for the LSTM (oneDNN's fused GRU kernels against a scanned step)."),
}


def table(rs) -> str:
    lines = ["| workload | fnn | measured reference | ratio | target | met |",
             "|---|---|---|---|---|---|"]
    for w, f, ref, ratio, target, met in rs:
        lines.append(f"| {w} | {f} | {ref} | {ratio} | {target} | {'yes' if met else 'NO'} |")
    return "\n".join(lines)


def main(quick: bool = False, write: bool = True) -> dict:
    log: list[str] = []
    r = {key: _run(module, quick, log) for key, module in (
        ("simple_net", "bench_simple_net"), ("cnn", "bench_cnn"),
        ("optim_update", "bench_optim_update"), ("leaves", "bench_leaves"),
        ("lbfgs", "bench_lbfgs"), ("compile_cache", "bench_compile_cache"),
        ("rnn", "bench_rnn"))}
    rs = rows(r)
    t = table(rs)
    missed = [w for w, *_, met in rs if not met]
    why = [f"- **{w}**: {next(v for k, v in WHY.items() if w.startswith(k))}" for w in missed
           if any(w.startswith(k) for k in WHY)]
    if why:
        t += "\n\n## Targets missed here, and what stands in the way\n\n" + "\n".join(why)
    print("\n" + t)
    if write:
        when = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
        dev = jax.devices()[0]
        head = (f"# Benchmarks\n\n`python tests/benchmarks/run_all.py` runs every script here "
                f"and rewrites this file.\nEach script also runs alone (`--quick` for a "
                f"shorter run). Latest run: {when}, {platform.machine()} "
                f"{dev.platform} ({dev.device_kind}), jax {jax.__version__}, torch "
                f"{torch.__version__} ({torch.get_num_threads()} threads)"
                f"{', --quick' if quick else ''}.\n\nMedians over interleaved rounds, compile "
                f"time separate; the machine is a shared 2-core VM, so compare within a run.\n\n")
        (HERE / "README.md").write_text(head + t + "\n\n## Output of each benchmark\n\n"
                                        + "\n".join(log))
    return r


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--no-write", action="store_true")
    a = ap.parse_args()
    main(a.quick, not a.no_write)
