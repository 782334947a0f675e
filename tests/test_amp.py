"""fnn.amp against torch 2.13 on CPU: autocast (which op ran in which dtype, the loss and
gradients under bfloat16), GradScaler (bit-exact scale trajectory, skipped steps and
parameters with injected Inf/NaN gradients), float32 matmul precision, bad input."""

from __future__ import annotations

import gc
import re
import warnings
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch

import fnn.nn.functional as F
from fnn import amp, nn, optim
from fnn.interop import torch as tinterop

TORCH_DTYPE = {torch.float32: "float32", torch.bfloat16: "bfloat16", torch.float16: "float16"}


# ------------------------------------------------------------------ a small CNN, both sides
def _torch_cnn():
    torch.manual_seed(0)
    return torch.nn.Sequential(
        torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(4, 6, 3, padding=1), torch.nn.GroupNorm(2, 6), torch.nn.PReLU(),
        torch.nn.Flatten(), torch.nn.Linear(6 * 4 * 4, 12), torch.nn.LayerNorm(12),
        torch.nn.GELU(), torch.nn.Linear(12, 5))


def _fnn_cnn():
    return nn.Sequential(
        nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(4, 6, 3, padding=1), nn.GroupNorm(2, 6), nn.PReLU(),
        nn.Flatten(), nn.Linear(6 * 4 * 4, 12), nn.LayerNorm(12), nn.GELU(), nn.Linear(12, 5))


def _torch_run(net, x, y):
    """Loss, grads and the dtype after each layer and functional op, under CPU autocast."""
    dtypes = []
    hooks = [m.register_forward_hook(lambda m, i, o: dtypes.append(TORCH_DTYPE[o.dtype]))
             for m in net]
    with torch.autocast("cpu", dtype=torch.bfloat16):
        logits = net(x)
        sm = torch.nn.functional.softmax(logits, 1)
        lsm = torch.nn.functional.log_softmax(logits, 1)
        loss = torch.nn.functional.cross_entropy(logits, y)
        mse = torch.nn.functional.mse_loss(sm, torch.nn.functional.one_hot(y, 5).float())
    dtypes += [TORCH_DTYPE[t.dtype] for t in (sm, lsm, loss, mse)]
    for h in hooks:
        h.remove()
    total = loss + mse
    total.backward()
    return total.item(), {k: p.grad.numpy() for k, p in net.named_parameters()}, dtypes


class _Recorder(nn.Module):
    """Runs a Sequential layer by layer, recording the dtype after each (trace time)."""

    def __init__(self, seq):
        self.seq = seq
        self.dtypes = []

    def forward(self, params, x, y):
        for name, layer in self.seq.named_children():
            x = layer(params["seq"].get(name, {}), x)
            self.dtypes.append(str(x.dtype))
        sm, lsm = F.softmax(x, 1), F.log_softmax(x, 1)
        loss = F.cross_entropy(x, y)
        mse = F.mse_loss(sm, F.one_hot(y, 5).astype(jnp.float32))
        self.dtypes += [str(t.dtype) for t in (sm, lsm, loss, mse)]
        return loss + mse


def test_cnn_autocast_bf16_matches_torch_cpu():
    net = _torch_cnn()
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4, 3, 10, 10)).astype(np.float32)
    y = np.array([0, 3, 1, 4])
    t_loss, t_grads, t_dtypes = _torch_run(net.train(), torch.tensor(x), torch.tensor(y))

    params, buffers = tinterop.load_state_dict(_fnn_cnn(), net.state_dict())
    rec = _Recorder(_fnn_cnn())
    params = {"seq": params}

    def loss_fn(p):
        with amp.autocast("cpu", dtype=jnp.bfloat16):
            out, _ = rec.apply(p, jnp.asarray(x), jnp.asarray(y),
                               buffers={"seq": buffers}, train=True)
        return out

    loss, grads = jax.jit(jax.value_and_grad(loss_fn))(params)
    # layers: conv bf16, BN keeps bf16 (mixed kernel), relu/pool bf16, conv bf16, GN bf16,
    # PReLU bf16 (listed), flatten, linear bf16, LayerNorm bf16, GELU bf16, linear bf16;
    # softmax/log_softmax stay bf16 on CPU; cross_entropy and mse_loss are float32
    assert rec.dtypes == t_dtypes
    assert t_dtypes[0] == "bfloat16" and t_dtypes[-2:] == ["float32", "float32"]
    assert loss.dtype == jnp.float32
    # bfloat16 has 8 significant bits: a relative error of a few 2^-8 over the network
    # (measured: 1.6e-3 relative; torch's own bf16 loss is 2e-4 off its float32 one)
    np.testing.assert_allclose(float(loss), t_loss, rtol=1e-2)
    flat = dict(nn.named_parameters(grads["seq"]))
    assert set(flat) == set(t_grads)
    # gradients: within 2% of the largest gradient (measured <= 1.6%: bfloat16 rounding on
    # both sides; the conv bias before BatchNorm has an exact gradient of 0, pure noise)
    scale = max(np.abs(g).max() for g in t_grads.values())
    for k, g in flat.items():
        assert g.dtype == jnp.float32, k          # float32 master gradients
        np.testing.assert_allclose(np.asarray(g), t_grads[k], atol=2e-2 * scale, err_msg=k)


def test_autocast_categories_cuda_list_eligibility_and_nesting():
    x32 = jnp.ones((2, 3), jnp.float32)
    w = jnp.ones((4, 3), jnp.float32)
    with amp.autocast("cuda", dtype=jnp.bfloat16):
        assert F.linear(x32, w).dtype == jnp.bfloat16
        xb = x32.astype(jnp.bfloat16)
        assert F.softmax(xb, 1).dtype == jnp.float32          # CUDA: float32 list
        assert F.layer_norm(xb, (3,)).dtype == jnp.float32
        assert F.bilinear(xb, x32, jnp.ones((2, 3, 3), jnp.float32)).dtype == jnp.float32
        with pytest.raises(RuntimeError, match="unsafe to autocast"):
            F.binary_cross_entropy(jnp.full((2,), 0.5), jnp.ones((2,)))
        # float64 is not eligible, as in torch
        assert F.linear(x32.astype(jnp.float64), w.astype(jnp.float64)).dtype == jnp.float64
        with amp.autocast(enabled=False):
            assert not amp.is_autocast_enabled()
            assert F.linear(x32, w).dtype == jnp.float32
        assert amp.get_autocast_dtype() == jnp.bfloat16
    with amp.autocast("cpu"):                                 # CPU: bfloat16 by default
        assert F.softmax(x32.astype(jnp.bfloat16), 1).dtype == jnp.bfloat16
        assert F.conv1d(jnp.ones((1, 3, 5), jnp.float32), jnp.ones((2, 3, 3), jnp.float32)).dtype \
            == jnp.bfloat16
    assert F.linear(x32, w).dtype == jnp.float32               # outside: unchanged

    @amp.autocast("cpu")
    def decorated(x):
        return F.linear(x, w)
    assert decorated(x32).dtype == jnp.bfloat16
    # the table: every category is one of the five, for both lists
    assert {c for pair in amp.OP_CATEGORIES.values() for c in pair} <= \
        {None, "lower", "float32", "promote", "norm", "banned"}


def test_autocast_bad_input_and_float16_warning():
    with pytest.raises(ValueError, match="bfloat16 or jnp.float16"):
        amp.autocast("cpu", dtype=jnp.float32)
    with pytest.raises(ValueError, match="device_type"):
        amp.autocast("xla")
    gc.collect()                                  # no GradScaler alive
    with pytest.warns(UserWarning, match="without a GradScaler"):
        with amp.autocast("cuda"):                # CUDA's default dtype: float16
            pass
    scaler = amp.GradScaler()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with amp.autocast("cpu", dtype=jnp.float16):
            pass
        with amp.autocast("cpu", dtype=jnp.bfloat16):
            pass
    # a non-float32 master copy is refused, with the reason
    with pytest.raises(ValueError, match="float32 master parameters.*'0.weight' is bfloat16"):
        scaler.wrap(optim.sgd(0.1)).init({"0": {"weight": jnp.ones((2, 2), jnp.bfloat16)}})
    with pytest.raises(ValueError, match="Attempting to unscale FP16 gradients"):
        scaler.unscale({"w": jnp.ones(2, jnp.float16)}, scaler.init())
    with pytest.raises(ValueError, match="growth factor"):
        amp.GradScaler(growth_factor=1.0)
    with pytest.raises(ValueError, match="backoff factor"):
        amp.GradScaler(backoff_factor=1.0)


# ------------------------------------------------------------------ GradScaler vs torch
INF_STEPS = {2: np.inf, 3: np.nan, 9: np.inf, 15: -np.inf}
STEPS = 20


def _problem():
    rng = np.random.default_rng(1)
    return (rng.standard_normal((16, 4)), rng.standard_normal((16, 3)),
            rng.standard_normal((3, 4)) * 0.3, rng.standard_normal(3) * 0.1)


def _torch_scaler_run(kw):
    x, y, w, b = (torch.tensor(a) for a in _problem())
    lin = torch.nn.Linear(4, 3).double()
    lin.load_state_dict({"weight": w, "bias": b})
    opt = torch.optim.SGD(lin.parameters(), lr=0.05, momentum=0.9)
    scaler = torch.amp.GradScaler("cpu", **kw)
    scales, skipped = [], []
    for i in range(STEPS):
        opt.zero_grad()
        loss = ((lin(x) - y) ** 2).mean()
        scaler.scale(loss).backward()
        if i in INF_STEPS:
            lin.weight.grad[1, 2] = INF_STEPS[i]
        scaler.step(opt)
        skipped.append(sum(v.item() for v in scaler._found_inf_per_device(opt).values()) > 0)
        scaler.update()
        scales.append(np.float32(scaler.get_scale()))
    return scales, skipped, {"weight": lin.weight.detach().numpy(),
                             "bias": lin.bias.detach().numpy()}


def _fnn_loss(p, x, y):
    return jnp.mean((F.linear(x, p["weight"], p["bias"]) - y) ** 2)


def _inject(grads, i):
    if i in INF_STEPS:
        grads = dict(grads, weight=grads["weight"].at[1, 2].set(INF_STEPS[i]))
    return grads


def _fnn_scaler_run_pure(kw):
    x, y, w, b = (jnp.asarray(a) for a in _problem())
    params = {"weight": w, "bias": b}
    scaler = amp.GradScaler(**kw)
    opt = optim.sgd(lr=0.05, momentum=0.9)
    sstate, ostate = scaler.init(), opt.init(params)
    scales, skipped = [], []
    grad_fn = jax.jit(jax.grad(lambda p, s: scaler.scale(_fnn_loss(p, x, y), s)))

    @jax.jit
    def apply(grads, params, ostate, sstate):
        grads, found_inf = scaler.unscale(grads, sstate)
        params, ostate = scaler.step(opt, grads, ostate, params, found_inf=found_inf)
        return params, ostate, scaler.update(sstate, found_inf), found_inf

    for i in range(STEPS):
        grads = _inject(grad_fn(params, sstate), i)
        params, ostate, sstate, found_inf = apply(grads, params, ostate, sstate)
        skipped.append(bool(found_inf))
        scales.append(np.float32(sstate.scale))
    return scales, skipped, params


def _fnn_scaler_run_wrapped(kw, guard):
    x, y, w, b = (jnp.asarray(a) for a in _problem())
    params = {"weight": w, "bias": b}
    scaler = amp.GradScaler(**kw)
    inner = optim.sgd(lr=0.05, momentum=0.9)
    opt = scaler.wrap(optim.nonfinite_guard(inner) if guard else inner)
    state = opt.init(params)

    @jax.jit
    def step(params, state, i):
        grads = jax.grad(lambda p: scaler.scale(_fnn_loss(p, x, y), state))(params)
        bad = jnp.asarray([INF_STEPS.get(k, 0.0) for k in range(STEPS)])[i]
        grads = dict(grads, weight=jnp.where(bad != 0, grads["weight"].at[1, 2].set(bad),
                                             grads["weight"]))
        updates, state = opt.update(grads, state, params)
        return optim.apply_updates(params, updates), state

    scales, skipped = [], []
    for i in range(STEPS):
        params, state = step(params, state, i)
        scales.append(np.float32(scaler.get_scale(state)))
        skipped.append(bool(state.found_inf))
    assert int(state.skipped) == len(INF_STEPS)
    if guard:   # the guard inside saw only the unscaled, finite gradients
        assert optim.nonfinite_stats(state.inner)["skipped"] == 0
    return scales, skipped, params


@pytest.mark.parametrize("kw", [
    dict(init_scale=2.0**10, growth_interval=3),
    dict(init_scale=1000.0, growth_factor=1.7, backoff_factor=0.3, growth_interval=2)])
def test_grad_scaler_matches_torch(kw):
    t_scales, t_skipped, t_params = _torch_scaler_run(kw)
    assert sum(t_skipped) == len(INF_STEPS) and len(set(t_scales)) >= 3   # grows and backs off
    for scales, skipped, params in (_fnn_scaler_run_pure(kw),
                                    _fnn_scaler_run_wrapped(kw, guard=False),
                                    _fnn_scaler_run_wrapped(kw, guard=True)):
        assert [s.tobytes() for s in scales] == [s.tobytes() for s in t_scales]  # bit-exact
        assert skipped == t_skipped
        for k in t_params:
            np.testing.assert_allclose(np.asarray(params[k]), t_params[k], rtol=1e-12,
                                       atol=1e-14)


def test_grad_scaler_disabled_and_manual_scale():
    off = amp.GradScaler(enabled=False)
    s = off.init()
    assert off.scale(jnp.float32(3.0), s) == 3.0 and off.get_scale(s) == 1.0
    g, found = off.unscale({"w": jnp.array([jnp.inf])}, s)
    assert float(found) == 0.0 and off.update(s, 1.0) is s
    on = amp.GradScaler(init_scale=8.0)
    s = on.update(on.init(), 0.0, new_scale=3.0)
    assert float(s.scale) == 3.0 and s.scale.dtype == jnp.float32
    g, found = on.unscale({"w": jnp.array([6.0, 3.0])}, s)
    np.testing.assert_array_equal(g["w"], np.array([6.0, 3.0]) * np.float32(1 / 3))
    assert float(found) == 0.0


# ------------------------------------------------------------------ float32 matmul precision
@pytest.fixture
def restore_precision():
    old = jax.config.jax_default_matmul_precision
    yield
    amp.set_float32_matmul_precision("highest")
    jax.config.update("jax_default_matmul_precision", old)


def _lowered(fn, *args):
    return jax.jit(fn).lower(*args).as_text()


def test_float32_matmul_precision(restore_precision):
    import fnn
    x, w = jnp.ones((2, 3), jnp.float32), jnp.ones((4, 3), jnp.float32)
    img, k = jnp.ones((1, 2, 5, 5), jnp.float32), jnp.ones((3, 2, 3, 3), jnp.float32)
    assert fnn.get_float32_matmul_precision() == "highest"
    # torch's default: full float32 in every product of linear and conv and their
    # gradients, also when the gradient rules are traced later (grad of a jitted function)
    both = jax.jit(lambda w, k: F.linear(x, w).sum() + F.conv2d(img, k).sum())
    for fn in (jax.grad(both.__wrapped__, (0, 1)), jax.grad(both, (0, 1))):
        ops = [ln for ln in _lowered(fn, w, k).splitlines()
               if "dot_general" in ln or "convolution" in ln]
        assert len(ops) >= 2 and all("HIGHEST" in ln for ln in ops), ops
    fnn.set_float32_matmul_precision("high")
    assert fnn.get_float32_matmul_precision() == "high"
    text = _lowered(F.linear, x, w)
    assert "HIGH" in text and "HIGHEST" not in text
    assert "HIGH" in _lowered(lambda a, b: a @ b, x, w.T)     # process-wide, as torch
    fnn.set_float32_matmul_precision("medium")
    assert "HIGH" not in _lowered(F.conv2d, img, k)
    with pytest.raises(ValueError, match="is not one of 'highest', 'high', or 'medium'"):
        fnn.set_float32_matmul_precision("low")


# ------------------------------------------------------------------ Transformer and RNNs
def _dt(t):
    return TORCH_DTYPE[t.dtype] if isinstance(t, torch.Tensor) else str(t.dtype)


def test_transformer_and_rnn_autocast_bf16_match_torch_cpu():
    torch.manual_seed(0)
    d, heads, ff = 8, 2, 16
    t_layers = {nf: torch.nn.TransformerEncoderLayer(d, heads, ff, dropout=0.0, norm_first=nf)
                for nf in (False, True)}
    t_mha = torch.nn.MultiheadAttention(d, heads)
    t_rnns = {"LSTMCell": torch.nn.LSTMCell(3, 4), "GRUCell": torch.nn.GRUCell(3, 4),
              "RNNCell": torch.nn.RNNCell(3, 4), "LSTM": torch.nn.LSTM(3, 4)}
    f_layers = {nf: nn.TransformerEncoderLayer(d, heads, ff, dropout=0.0, norm_first=nf)
                for nf in (False, True)}
    f_mha = nn.MultiheadAttention(d, heads)
    f_rnns = {"LSTMCell": nn.LSTMCell(3, 4), "GRUCell": nn.GRUCell(3, 4),
              "RNNCell": nn.RNNCell(3, 4), "LSTM": nn.LSTM(3, 4)}
    rng = np.random.default_rng(0)
    src = rng.standard_normal((5, 3, d)).astype(np.float32)
    xs = rng.standard_normal((2, 3)).astype(np.float32)
    seq = rng.standard_normal((5, 2, 3)).astype(np.float32)
    y = np.array([1, 0, 3])

    def torch_side():
        out = {}
        with torch.autocast("cpu", dtype=torch.bfloat16):
            o, w = t_mha(*(torch.tensor(src),) * 3)
            out["mha"] = (_dt(o), _dt(w))
            for nf, layer in t_layers.items():
                h = layer.train()(torch.tensor(src))
                out[f"enc{nf}"] = _dt(h)
                logits = h.mean(0) @ torch.ones(d, 5)
                loss = torch.nn.functional.cross_entropy(logits, torch.tensor(y))
                out[f"loss{nf}"] = (loss.item(), _dt(loss))
            for name, m in t_rnns.items():
                r = m(torch.tensor(seq if name == "LSTM" else xs))
                out[name] = _dt(r[0]) if isinstance(r, tuple) else _dt(r)
        return out

    def fnn_side():
        params = {"mha": tinterop.load_state_dict(f_mha, t_mha.state_dict())[0]}
        params.update({f"enc{nf}": tinterop.load_state_dict(layer, t_layers[nf].state_dict())[0]
                       for nf, layer in f_layers.items()})
        params.update({name: tinterop.load_state_dict(m, t_rnns[name].state_dict())[0]
                       for name, m in f_rnns.items()})

        @jax.jit      # one compilation for everything (dtypes are those of the outputs)
        def run(params):
            out = {}
            with amp.autocast("cpu", dtype=jnp.bfloat16):
                out["mha"] = f_mha(params["mha"], *(jnp.asarray(src),) * 3)
                for nf, layer in f_layers.items():
                    h = layer(params[f"enc{nf}"], jnp.asarray(src), train=True)
                    out[f"enc{nf}"] = h
                    out[f"loss{nf}"] = F.cross_entropy(h.mean(0) @ jnp.ones((d, 5), jnp.float32),
                                                       jnp.asarray(y))
                for name, m in f_rnns.items():
                    r = m(params[name], jnp.asarray(seq if name == "LSTM" else xs))
                    out[name] = r[0] if isinstance(r, tuple) else r
            return out

        out = run(params)
        res = {k: (float(v), _dt(v)) if k.startswith("loss") else _dt(v)
               for k, v in out.items() if k != "mha"}
        res["mha"] = tuple(_dt(v) for v in out["mha"])
        return res

    t, f = torch_side(), fnn_side()
    for k in t:
        if k.startswith("loss"):
            assert f[k][1] == t[k][1] == "float32"
            np.testing.assert_allclose(f[k][0], t[k][0], rtol=2e-2, err_msg=k)
        else:
            assert f[k] == t[k], (k, f[k], t[k])
    assert t["mha"] == ("bfloat16", "bfloat16") and t["LSTMCell"] == "float32" \
        and t["RNNCell"] == "bfloat16" and t["LSTM"] == "bfloat16"


def test_readme_mixed_precision_block_runs():
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    block = next(b for b in re.findall(r"```python\n(.*?)```", readme, flags=re.S)
                 if "amp.autocast" in b)
    ns: dict = {}
    exec(compile(block, "README mixed precision", "exec"), ns)
    assert int(ns["state"].skipped) == 0 and len(ns["history"]["step_loss"]) == 4
    assert ns["params"]["0"]["weight"].dtype == jnp.float32
