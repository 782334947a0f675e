"""Fleuret's MNIST CNN training step: fnn (jitted) vs torch eager vs plain JAX, on the CPU.

    .venv/bin/python tests/benchmarks/bench_cnn.py            # ~1-2 minutes
    .venv/bin/python tests/benchmarks/bench_cnn.py --quick    # fewer rounds

The step is ``examples/cnn.py``'s: batch 100 of 1x28x28, conv 5x5 1->32, max_pool2d(3), relu,
conv 5x5 32->64, max_pool2d(2), relu, fc 256->200, relu, fc 200->10, cross entropy, SGD lr
0.1. The contenders run interleaved in one process (the order rotated each round; the
machine is shared and noisy, so read the ratios, which are medians of per-round ratios,
and the best rounds, which approximate a quiet machine):

* ``torch``: eager ``zero_grad / forward / backward / step`` (torch's default threads);
* ``torch 1 thread``: the same with ``torch.set_num_threads(1)``: torch's OpenMP threads
  spin at barriers and collapse (10x and more) when other processes share the cores, one
  thread does not, so this is the stable reference on a busy machine;
* ``fnn``: ``examples/cnn.py``'s ``Net`` through ``fnn.train.make_train_step`` (jitted,
  donating);
* ``jax NCHW``: the same step in plain JAX as one would first write it (``lax.conv`` in
  NCHW/OIHW, ``reduce_window`` max pooling, ``jax.grad``), jitted and donating: what fnn
  did before its convolution and pooling kernels.

Then the per-op breakdown (conv1, conv2, the two pools; forward, and forward + backward
with the gradients a training step needs), fnn's functional ops jitted vs torch's (fnn's
public ops take and return NCHW, so each standalone op pays two layout transposes that
cancel between layers inside a jitted model), and
a parity check: the losses of 10 SGD steps from the same weights and batches, fnn vs
torch, must agree to float32 rounding. Compile time (trace, lower and XLA compile) is
reported separately. ``main()`` returns everything as a dict.
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import torch
from jax import lax

import fnn.nn.functional as F
from fnn import data, losses, optim, train
from fnn.interop import torch as tinterop

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/: helpers
from helpers import FleuretNet  # noqa: E402
from timing import interleaved as _interleaved  # noqa: E402
from timing import one_thread as _one_thread  # noqa: E402
from timing import ratio as _ratio  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
BATCH, LR = 100, 0.1


def _load_example():
    spec = importlib.util.spec_from_file_location("fnn_example_cnn", ROOT / "examples" / "cnn.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


# ---------------------------------------------------------------------- plain JAX, NCHW
def _jax_forward(p, x):
    def conv(x, w, b):
        y = lax.conv_general_dilated(x, w, (1, 1), "VALID",
                                     dimension_numbers=("NCHW", "OIHW", "NCHW"))
        return y + b[:, None, None]

    def pool(x, k):
        return lax.reduce_window(x, -jnp.inf, lax.max, (1, 1, k, k), (1, 1, k, k), "VALID")

    x = jax.nn.relu(pool(conv(x, p["conv1.weight"], p["conv1.bias"]), 3))
    x = jax.nn.relu(pool(conv(x, p["conv2.weight"], p["conv2.bias"]), 2))
    x = x.reshape(x.shape[0], -1)
    x = jax.nn.relu(x @ p["fc1.weight"].T + p["fc1.bias"])
    return x @ p["fc2.weight"].T + p["fc2.bias"]


def _jax_step(p, x, y):
    def loss_fn(p):
        logits = _jax_forward(p, x)
        return -jnp.mean(jnp.take_along_axis(jax.nn.log_softmax(logits), y[:, None], axis=1))

    loss, g = jax.value_and_grad(loss_fn)(p)
    return jax.tree.map(lambda a, b: a - LR * b, p, g), loss


# ---------------------------------------------------------------------- timing
def _data(seed: int, steps: int):
    """``steps`` batches of the normalised UCI digits at 28x28 (``examples/cnn.py``'s data)."""
    x, y = data.load_digits(size=28)
    x, y = np.asarray(x, np.float32), np.asarray(y, np.int64)
    x = (x - x.mean()) / x.std()
    idx = np.random.default_rng(seed).permutation(len(x))[:steps * BATCH]
    return x[idx].reshape(steps, BATCH, 1, 28, 28), y[idx].reshape(steps, BATCH)


def _compile_seconds(jitted, *args) -> float:
    t0 = time.perf_counter()
    jitted.lower(*args).compile()
    return time.perf_counter() - t0


def bench_step(rounds: int, reps: int) -> dict:
    ex = _load_example()
    torch.manual_seed(0)
    tnet = FleuretNet()
    topt = torch.optim.SGD(tnet.parameters(), lr=LR)
    criterion = torch.nn.CrossEntropyLoss()
    xs, ys = _data(1, 4)
    tbatches = [(torch.tensor(x), torch.tensor(y)) for x, y in zip(xs, ys)]
    jbatches = [(jnp.asarray(x), jnp.asarray(y, jnp.int32)) for x, y in zip(xs, ys)]

    model = ex.Net()
    params, _ = tinterop.load_state_dict(model, tnet)
    opt = optim.sgd(lr=LR)
    step = train.make_train_step(model, opt, loss=losses.cross_entropy)
    box = {"state": train.init_state(params, opt, key=jax.random.key(1)), "i": 0}
    t_compile = _compile_seconds(step, box["state"], jbatches[0])

    ref_step = jax.jit(_jax_step, donate_argnums=0)
    ref = {"p": {k: jnp.asarray(v.detach().numpy()) for k, v in tnet.state_dict().items()}}
    ref_compile = _compile_seconds(ref_step, ref["p"], *jbatches[0])

    def torch_step():
        x, y = tbatches[box["i"] % 4]
        box["i"] += 1
        topt.zero_grad()
        loss = criterion(tnet(x), y)
        loss.backward()
        topt.step()
        return loss.item()

    torch_step_1t = _one_thread(torch_step)

    def fnn_step():
        box["state"], loss = step(box["state"], jbatches[box["i"] % 4])
        box["i"] += 1
        return float(loss)

    def jax_step():
        ref["p"], loss = ref_step(ref["p"], *jbatches[box["i"] % 4])
        box["i"] += 1
        return float(loss)

    per = _interleaved({"torch": torch_step, "torch 1 thread": torch_step_1t, "fnn": fnn_step,
                        "jax NCHW": jax_step}, rounds, reps)
    return {"ms": {k: statistics.median(v) for k, v in per.items()},
            "min_ms": {k: min(v) for k, v in per.items()},
            "fnn/torch": _ratio(per, "fnn", "torch"),
            "fnn/torch 1 thread": _ratio(per, "fnn", "torch 1 thread"),
            "jax NCHW/torch": _ratio(per, "jax NCHW", "torch"),
            "compile_s": {"fnn": t_compile, "jax NCHW": ref_compile}}


def bench_ops(rounds: int, reps: int) -> dict:
    """Per op, forward and forward + backward, fnn's functional ops (jitted) vs torch."""
    rng = np.random.default_rng(2)
    f32 = np.float32
    cases = {
        # name: (fnn fn, torch fn, input shape, param shapes, input needs a gradient)
        "conv1 1->32 5x5 @28": (F.conv2d, torch.nn.functional.conv2d, (BATCH, 1, 28, 28),
                                [(32, 1, 5, 5), (32,)], False),
        "conv2 32->64 5x5 @8": (F.conv2d, torch.nn.functional.conv2d, (BATCH, 32, 8, 8),
                                [(64, 32, 5, 5), (64,)], True),
        "pool1 k3 32ch @24": (lambda x: F.max_pool2d(x, 3),
                              lambda x: torch.nn.functional.max_pool2d(x, 3),
                              (BATCH, 32, 24, 24), [], True),
        "pool2 k2 64ch @4": (lambda x: F.max_pool2d(x, 2),
                             lambda x: torch.nn.functional.max_pool2d(x, 2),
                             (BATCH, 64, 4, 4), [], True),
    }
    fns, rows = {}, {}
    for name, (ff, tf, shape, pshapes, needs_dx) in cases.items():
        x = rng.standard_normal(shape).astype(f32)
        ps = [(rng.standard_normal(s) * 0.1).astype(f32) for s in pshapes]
        ct = rng.standard_normal(np.asarray(tf(torch.tensor(x), *map(torch.tensor, ps))).shape
                                 ).astype(f32)
        tx = torch.tensor(x, requires_grad=needs_dx)
        tps = [torch.tensor(p, requires_grad=True) for p in ps]
        tct = torch.tensor(ct)
        jx, jps, jct = jnp.asarray(x), [jnp.asarray(p) for p in ps], jnp.asarray(ct)
        argnums = (0,) * needs_dx + tuple(range(1, 1 + len(ps)))
        fwd = jax.jit(ff)
        # the output and the gradients for the cotangent ``ct``, as torch's ``y.backward(ct)``
        # (the output is returned so that XLA cannot drop or fold away the forward)
        def bwd_fn(x, *ps, ff=ff, argnums=argnums, jct=jct):
            args = (x, *ps)
            y, vjp = jax.vjp(lambda *d: ff(*[d[argnums.index(i)] if i in argnums else a
                                             for i, a in enumerate(args)]),
                             *[args[i] for i in argnums])
            return y, vjp(jct)

        bwd = jax.jit(bwd_fn)

        def t_fwd(tf=tf, tx=tx, tps=tps):
            with torch.no_grad():
                tf(tx, *tps)

        def t_bwd(tf=tf, tx=tx, tps=tps, tct=tct):
            for p in tps + [tx]:
                p.grad = None
            tf(tx, *tps).backward(tct)

        fns[f"{name} fwd torch"] = t_fwd
        fns[f"{name} fwd torch 1 thread"] = _one_thread(t_fwd)
        fns[f"{name} fwd fnn"] = lambda fwd=fwd, jx=jx, jps=jps: fwd(jx, *jps).block_until_ready()
        fns[f"{name} fwd+bwd torch"] = t_bwd
        fns[f"{name} fwd+bwd torch 1 thread"] = _one_thread(t_bwd)
        fns[f"{name} fwd+bwd fnn"] = lambda bwd=bwd, jx=jx, jps=jps: jax.block_until_ready(
            bwd(jx, *jps))
        rows[name] = None
    per = _interleaved(fns, rounds, reps)
    out = {}
    for name in rows:
        for what in ("fwd", "fwd+bwd"):
            t, f = f"{name} {what} torch", f"{name} {what} fnn"
            t1 = f"{t} 1 thread"
            out[f"{name} {what}"] = {"torch": statistics.median(per[t]),
                                     "torch 1 thread": statistics.median(per[t1]),
                                     "fnn": statistics.median(per[f]),
                                     "fnn/torch": _ratio(per, f, t),
                                     "fnn/torch 1 thread": _ratio(per, f, t1)}
    return out


def check_losses(steps: int = 10) -> dict:
    """Losses of ``steps`` SGD steps from torch's initial weights: fnn vs torch (float32)."""
    ex = _load_example()
    torch.manual_seed(3)
    tnet = FleuretNet()
    model = ex.Net()
    params, _ = tinterop.load_state_dict(model, tnet)
    topt = torch.optim.SGD(tnet.parameters(), lr=LR)
    opt = optim.sgd(lr=LR)
    step = train.make_train_step(model, opt, loss=losses.cross_entropy)
    state = train.init_state(params, opt)
    xs, ys = _data(4, steps)
    t_losses, f_losses = [], []
    for x, y in zip(xs, ys):
        topt.zero_grad()
        loss = torch.nn.functional.cross_entropy(tnet(torch.tensor(x)), torch.tensor(y))
        loss.backward()
        topt.step()
        t_losses.append(loss.item())
        state, fl = step(state, (jnp.asarray(x), jnp.asarray(y, jnp.int32)))
        f_losses.append(float(fl))
    rel = [abs(a - b) / abs(b) for a, b in zip(f_losses, t_losses)]
    w_err = max(float(np.max(np.abs(np.asarray(state.params[m][k]) - v.detach().numpy())))
                for m, k, v in ((n.split(".")[0], n.split(".")[1], v)
                                for n, v in tnet.state_dict().items()))
    return {"fnn": f_losses, "torch": t_losses, "max_rel_diff": max(rel),
            "max_abs_weight_diff": w_err, "ok": max(rel) < 1e-4}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds (noisier)")
    parser.add_argument("--rounds", type=int, default=None)
    args = parser.parse_args(argv)
    rounds = args.rounds or (5 if args.quick else 11)
    reps = 5 if args.quick else 10
    print(f"jax {jax.__version__} ({jax.devices()[0].platform}), torch {torch.__version__} "
          f"({torch.get_num_threads()} threads); {rounds} interleaved rounds x {reps} calls; "
          "medians; ratios are medians of per-round ratios", flush=True)

    parity = check_losses()
    print(f"\nparity, 10 SGD steps from the same weights: max relative loss difference "
          f"{parity['max_rel_diff']:.2e}, max |weight difference| "
          f"{parity['max_abs_weight_diff']:.2e} -> {'OK' if parity['ok'] else 'MISMATCH'}")
    print(f"  final loss fnn {parity['fnn'][-1]:.7f}, torch {parity['torch'][-1]:.7f}", flush=True)

    step = bench_step(rounds, reps)
    ms, mins = step["ms"], step["min_ms"]
    print("\ntrain step, batch 100: ms/step, median (best round)")
    print(f"  {'torch eager':24s} {ms['torch']:7.2f} ({mins['torch']:6.2f})")
    print(f"  {'torch eager, 1 thread':24s} {ms['torch 1 thread']:7.2f} "
          f"({mins['torch 1 thread']:6.2f})   fnn/this {step['fnn/torch 1 thread']:.2f}x")
    print(f"  {'fnn (make_train_step)':24s} {ms['fnn']:7.2f} ({mins['fnn']:6.2f})   fnn/torch "
          f"{step['fnn/torch']:.2f}x (best rounds {mins['fnn'] / mins['torch']:.2f}x), "
          f"compile {step['compile_s']['fnn']:.2f} s")
    print(f"  {'plain JAX NCHW':24s} {ms['jax NCHW']:7.2f} ({mins['jax NCHW']:6.2f})   jax/torch "
          f"{step['jax NCHW/torch']:.2f}x (best rounds {mins['jax NCHW'] / mins['torch']:.2f}x), "
          f"compile {step['compile_s']['jax NCHW']:.2f} s", flush=True)

    ops = bench_ops(rounds, reps)
    print("\nper op, ms per call (fnn: the public NCHW op, jitted, with its layout transposes)")
    print(f"  {'op':30s} {'torch':>8s} {'torch 1t':>9s} {'fnn':>8s} {'fnn/torch':>10s} "
          f"{'fnn/torch 1t':>13s}")
    for name, r in ops.items():
        print(f"  {name:30s} {r['torch']:8.3f} {r['torch 1 thread']:9.3f} {r['fnn']:8.3f} "
              f"{r['fnn/torch']:9.2f}x {r['fnn/torch 1 thread']:12.2f}x")
    return {"step": step, "ops": ops, "parity": parity}


if __name__ == "__main__":
    sys.exit(0 if main()["parity"]["ok"] else 1)
