"""RNN, LSTM, GRU and their cells against torch 2.13: outputs, final states and gradients
with respect to the input, the initial states and every parameter, over the options that
matter (layers x directions x batch_first x bias x proj_size, padded, packed, unbatched).

Tolerances: float64 ``rtol=1e-10, atol=1e-12``; float32 ``rtol=2e-5, atol=2e-6`` (a
5-step recurrence accumulates a few ulp per step; measured max error ~3e-7).
"""

from __future__ import annotations

import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch
from torch.nn.utils import rnn as trnn

from fnn import _tree, nn
from fnn.interop import torch as interop
from fnn.nn.utils import rnn as frnn

pytestmark = pytest.mark.filterwarnings(
    "ignore:LSTM with projections is not supported with oneDNN:UserWarning")

IN, HID, T, B = 3, 4, 5, 2
TOL = {np.float64: (1e-10, 1e-12), np.float32: (2e-5, 2e-6)}
CLASSES = {"RNN_TANH": ("RNN", {"nonlinearity": "tanh"}), "RNN_RELU": ("RNN", {"nonlinearity": "relu"}),
           "LSTM": ("LSTM", {}), "GRU": ("GRU", {})}

# (mode, num_layers, bidirectional, batch_first, bias, proj_size, kind, hx given): every
# option and each pair that interacts (directions x packing, proj x directions, ...) once
CONFIGS = [
    ("RNN_TANH", 1, False, False, True, 0, "padded", False),
    ("RNN_RELU", 2, True, True, False, 0, "padded", True),
    ("RNN_TANH", 2, True, False, True, 0, "packed", True),
    ("RNN_RELU", 1, True, False, True, 0, "unbatched", True),
    ("LSTM", 1, False, False, True, 0, "padded", False),
    ("LSTM", 2, True, True, False, 0, "packed", True),
    ("LSTM", 2, True, True, True, 2, "padded", True),
    ("LSTM", 2, False, False, False, 2, "packed", False),
    ("LSTM", 1, True, False, True, 3, "unbatched", True),
    ("GRU", 1, False, True, True, 0, "unbatched", False),
    ("GRU", 2, True, False, False, 0, "padded", True),
    ("GRU", 2, True, False, True, 0, "packed", True),
    ("GRU", 3, False, True, True, 0, "packed_sorted", True),
]

def _layers(mode, num_layers, bidirectional, batch_first, bias, proj_size, seed=0):
    name, extra = CLASSES[mode]
    kw = dict(num_layers=num_layers, bidirectional=bidirectional, batch_first=batch_first,
              bias=bias, **extra)
    if proj_size:
        kw["proj_size"] = proj_size
    torch.manual_seed(seed)
    return getattr(nn, name)(IN, HID, **kw), getattr(torch.nn, name)(IN, HID, **kw)


def _state_shapes(mode, num_layers, bidirectional, proj_size, kind):
    ld = num_layers * (2 if bidirectional else 1)
    batch = () if kind == "unbatched" else (B,)
    shapes = [(ld, *batch, proj_size or HID)]
    if mode == "LSTM":
        shapes.append((ld, *batch, HID))
    return shapes


def _run_torch(tm, x, hx, lengths, kind, batch_first):
    x_t = torch.tensor(x, requires_grad=True)
    hx_t = [torch.tensor(h, requires_grad=True) for h in hx] if hx is not None else None
    inp = x_t
    if kind.startswith("packed"):
        inp = trnn.pack_padded_sequence(x_t, lengths, batch_first=batch_first,
                                        enforce_sorted=kind == "packed_sorted")
    arg = None if hx_t is None else (tuple(hx_t) if len(hx_t) == 2 else hx_t[0])
    out, state = tm(inp, arg)
    if kind.startswith("packed"):
        out, _ = trnn.pad_packed_sequence(out, batch_first=batch_first)
    states = list(state) if isinstance(state, tuple) else [state]
    return x_t, hx_t, out, states


def _check_config(config, dtype):
    mode, num_layers, bidirectional, batch_first, bias, proj_size, kind, given = config
    rtol, atol = TOL[dtype]
    fm, tm = _layers(mode, num_layers, bidirectional, batch_first, bias, proj_size)
    tm = tm.to(torch.float64 if dtype == np.float64 else torch.float32)
    rng = np.random.default_rng(1)
    shape = (T, IN) if kind == "unbatched" else ((B, T, IN) if batch_first else (T, B, IN))
    x = rng.standard_normal(shape).astype(dtype)
    hx = ([rng.standard_normal(s).astype(dtype) for s in
           _state_shapes(mode, num_layers, bidirectional, proj_size, kind)] if given else None)
    lengths = [5, 3] if kind == "packed_sorted" else [3, 5]
    x_t, hx_t, t_out, t_states = _run_torch(tm, x, hx, lengths, kind, batch_first)
    cots = [rng.standard_normal(tuple(a.shape)).astype(dtype) for a in [t_out, *t_states]]
    sum(((a * torch.tensor(c)).sum() for a, c in zip([t_out, *t_states], cots))).backward()

    params = interop.load_state_dict(fm, tm.state_dict())[0]

    def loss(p, x, hx):
        inp = x
        if kind.startswith("packed"):
            inp = frnn.pack_padded_sequence(x, jnp.asarray(lengths), batch_first=batch_first,
                                            enforce_sorted=kind == "packed_sorted")
        arg = None if hx is None else (tuple(hx) if len(hx) == 2 else hx[0])
        out, state = fm(p, inp, arg)
        if kind.startswith("packed"):
            out, _ = frnn.pad_packed_sequence(out, batch_first=batch_first)
        outs = [out, *(state if isinstance(state, tuple) else [state])]
        return sum(jnp.sum(a * c) for a, c in zip(outs, cots)), outs

    (g_p, g_x, g_h), outs = jax.jit(jax.grad(loss, argnums=(0, 1, 2), has_aux=True))(
        params, jnp.asarray(x), None if hx is None else [jnp.asarray(h) for h in hx])
    for name, got, want in zip(["output", "h_n", "c_n"], outs, [t_out, *t_states]):
        assert got.dtype == dtype
        np.testing.assert_allclose(np.asarray(got), want.detach().numpy(), rtol, atol, err_msg=name)
    np.testing.assert_allclose(np.asarray(g_x), x_t.grad.numpy(), rtol, atol, err_msg="grad x")
    for i, h in enumerate(hx_t or []):
        np.testing.assert_allclose(np.asarray(g_h[i]), h.grad.numpy(), rtol, atol, err_msg=f"grad hx[{i}]")
    flat = _tree.flatten(g_p)
    assert set(flat) == {k for k, _ in tm.named_parameters()}
    for k, v in tm.named_parameters():
        np.testing.assert_allclose(np.asarray(flat[k]), v.grad.numpy(), rtol, atol, err_msg=f"grad {k}")


@pytest.mark.parametrize("config", CONFIGS, ids=["-".join(map(str, c)) for c in CONFIGS])
def test_parity_float64(config):
    _check_config(config, np.float64)


@pytest.mark.parametrize("config", [CONFIGS[11], CONFIGS[6]], ids=["GRU-packed", "LSTM-proj"])
def test_parity_float32(config):
    _check_config(config, np.float32)


CELLS = [("RNNCell", {"nonlinearity": "tanh"}), ("RNNCell", {"nonlinearity": "relu", "bias": False}),
         ("LSTMCell", {}), ("LSTMCell", {"bias": False}), ("GRUCell", {}), ("GRUCell", {"bias": False})]


@pytest.mark.parametrize("batched", [True, False])
@pytest.mark.parametrize("cell", CELLS, ids=[f"{c}-{kw}" for c, kw in CELLS])
def test_cell_parity(cell, batched):
    name, kw = cell
    torch.manual_seed(0)
    tm = getattr(torch.nn, name)(IN, HID, **kw).double()
    fm = getattr(nn, name)(IN, HID, **kw)
    rng = np.random.default_rng(2)
    bshape = (B,) if batched else ()
    x = rng.standard_normal((*bshape, IN))
    nstate = 2 if name == "LSTMCell" else 1
    hx = [rng.standard_normal((*bshape, HID)) for _ in range(nstate)]
    x_t = torch.tensor(x, requires_grad=True)
    hx_t = [torch.tensor(h, requires_grad=True) for h in hx]
    out = tm(x_t, tuple(hx_t) if nstate == 2 else hx_t[0])
    outs_t = list(out) if nstate == 2 else [out]
    cots = [rng.standard_normal(tuple(o.shape)) for o in outs_t]
    sum((o * torch.tensor(c)).sum() for o, c in zip(outs_t, cots)).backward()
    params = interop.load_state_dict(fm, tm.state_dict())[0]

    def loss(p, x, hx):
        out = fm(p, x, tuple(hx) if nstate == 2 else hx[0])
        outs = list(out) if nstate == 2 else [out]
        return sum(jnp.sum(o * c) for o, c in zip(outs, cots)), outs

    (g_p, g_x, g_h), outs = jax.jit(jax.grad(loss, (0, 1, 2), has_aux=True))(params, x, hx)
    for got, want in zip(outs, outs_t):
        np.testing.assert_allclose(np.asarray(got), want.detach().numpy(), 1e-10, 1e-12)
    np.testing.assert_allclose(np.asarray(g_x), x_t.grad.numpy(), 1e-10, 1e-12)
    for g, h in zip(g_h, hx_t):
        np.testing.assert_allclose(np.asarray(g), h.grad.numpy(), 1e-10, 1e-12)
    for k, v in tm.named_parameters():
        np.testing.assert_allclose(np.asarray(_tree.flatten(g_p)[k]), v.grad.numpy(), 1e-10, 1e-12)
    # hx=None is zeros
    default = fm(params, x)
    zeros = fm(params, x, tuple(jnp.zeros_like(jnp.asarray(h)) for h in hx) if nstate == 2
               else jnp.zeros_like(jnp.asarray(hx[0])))
    for a, b in zip(jax.tree.leaves(default), jax.tree.leaves(zeros)):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_cell_inside_a_user_scan_matches_the_layer():
    """An LSTMCell unrolled with lax.scan is the 1-layer LSTM with the same weights."""
    cell, layer = nn.LSTMCell(IN, HID), nn.LSTM(IN, HID)
    p = cell.init(jax.random.key(0), jnp.float64)
    lp = {f"{k}_l0": v for k, v in p.items()}
    x = jax.random.normal(jax.random.key(1), (T, B, IN), jnp.float64)

    def step(state, xt):
        h, c = cell(p, xt, state)
        return (h, c), h

    zeros = jnp.zeros((B, HID), jnp.float64)
    (h, c), out = jax.jit(lambda x: jax.lax.scan(step, (zeros, zeros), x))(x)
    out2, (h2, c2) = jax.jit(layer)(lp, x)
    np.testing.assert_allclose(out, out2, 1e-13)
    np.testing.assert_allclose(c, c2[0], 1e-13)


def _shapes(module):
    """Parameter names and shapes (sorted: eval_shape sorts dict keys), without compiling
    an initialiser; the order is checked on a real init below."""
    shapes = jax.eval_shape(module.init, jax.random.key(0))
    return sorted((k, tuple(v.shape)) for k, v in _tree.named_leaves(shapes))


def test_names_shapes_init_and_repr_match_torch():
    for mode in CLASSES:
        for kw in [dict(num_layers=2, bidirectional=True), dict(bias=False, batch_first=True, dropout=0.5,
                                                                num_layers=3)]:
            if mode == "LSTM":
                kw = dict(kw, proj_size=2)
            fm, tm = _layers(mode, kw.get("num_layers", 1), kw.get("bidirectional", False),
                             kw.get("batch_first", False), kw.get("bias", True), kw.get("proj_size", 0))
            if "dropout" in kw:
                name, extra = CLASSES[mode]
                fm = getattr(nn, name)(IN, HID, **kw, **extra)
                tm = getattr(torch.nn, name)(IN, HID, **kw, **extra)
            assert _shapes(fm) == sorted((k, tuple(v.shape)) for k, v in tm.state_dict().items())
            assert repr(fm) == repr(tm)
    for name, kw in CELLS:
        fm, tm = getattr(nn, name)(IN, HID, **kw), getattr(torch.nn, name)(IN, HID, **kw)
        assert repr(fm) == repr(tm)
        assert _shapes(fm) == sorted((k, tuple(v.shape)) for k, v in tm.state_dict().items())
    # U(-1/sqrt(H), 1/sqrt(H)) for every parameter
    from layer_parity import check_uniform
    p = nn.LSTM(8, 64, num_layers=2, proj_size=16, bidirectional=True).init(jax.random.key(3),
                                                                             jnp.float64)
    t_keys = list(torch.nn.LSTM(8, 64, num_layers=2, proj_size=16, bidirectional=True).state_dict())
    assert [k for k, _ in _tree.named_leaves(p)] == t_keys  # torch's order
    for v in jax.tree.leaves(p):
        check_uniform(v, 1 / 8) if v.size >= 1000 else None
    check_uniform(np.concatenate([np.ravel(v) for v in jax.tree.leaves(p)]), 1 / 8)


def test_state_dict_roundtrip_unchanged():
    torch.manual_seed(0)
    tm = torch.nn.LSTM(IN, HID, num_layers=2, bidirectional=True, proj_size=2).double()
    fm = nn.LSTM(IN, HID, num_layers=2, bidirectional=True, proj_size=2)
    params, buffers = interop.load_state_dict(fm, tm.state_dict())
    back = interop.state_dict(params, buffers)
    assert list(back) == list(tm.state_dict())
    for k, v in tm.state_dict().items():
        assert torch.equal(back[k], v)
    tm2 = torch.nn.LSTM(IN, HID, num_layers=2, bidirectional=True, proj_size=2).double()
    tm2.load_state_dict(back)
    cell = torch.nn.GRUCell(IN, HID)
    p, _ = interop.load_state_dict(nn.GRUCell(IN, HID), cell.state_dict())
    assert all(torch.equal(interop.state_dict(p)[k], v) for k, v in cell.state_dict().items())


def test_vmap_over_unbatched_inputs_equals_the_batch():
    gru = nn.GRU(IN, HID, num_layers=2, bidirectional=True)
    p = gru.init(jax.random.key(0), jnp.float64)
    x = jax.random.normal(jax.random.key(1), (B, T, IN), jnp.float64)
    out_v, h_v = jax.jit(jax.vmap(lambda xi: gru(p, xi)))(x)
    out_b, h_b = jax.jit(gru)(p, jnp.swapaxes(x, 0, 1))
    np.testing.assert_allclose(out_v, jnp.swapaxes(out_b, 0, 1), 1e-13)
    np.testing.assert_allclose(h_v, jnp.swapaxes(h_b, 0, 1), 1e-13)


# ---------------------------------------------------------------------- dropout
def test_dropout_one_matches_torch_in_train_mode():
    """p=1 is deterministic (the upper layers see zeros): compare with torch in train mode."""
    fm, tm = _layers("LSTM", 2, True, False, True, 0)
    fm.dropout = tm.dropout = 1.0
    tm = tm.double().train()
    x = np.random.default_rng(0).standard_normal((T, B, IN))
    t_out, (t_h, _) = tm(torch.tensor(x))
    params = interop.load_state_dict(fm, tm.state_dict())[0]
    out, (h, _) = jax.jit(lambda p, x: fm.apply(p, x, train=True, key=jax.random.key(0))[0])(
        params, jnp.asarray(x))
    np.testing.assert_allclose(out, t_out.detach().numpy(), 1e-10, 1e-12)
    np.testing.assert_allclose(h, t_h.detach().numpy(), 1e-10, 1e-12)


def test_dropout_statistics_and_eval_mode():
    """Layer 2 of a ReLU RNN with identity input weights and no recurrence passes the
    dropped-out layer-1 output through: zeros with probability p, the rest scaled 1/(1-p)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        rnn = nn.RNN(HID, HID, num_layers=2, nonlinearity="relu", bias=False, dropout=0.3)
    p = rnn.init(jax.random.key(0), jnp.float64)
    p = dict(p, weight_ih_l1=jnp.eye(HID), weight_hh_l1=jnp.zeros((HID, HID)))
    x = jnp.abs(jax.random.normal(jax.random.key(1), (20, 64, HID), jnp.float64))
    p["weight_ih_l0"] = jnp.abs(p["weight_ih_l0"])
    p["weight_hh_l0"] = jnp.abs(p["weight_hh_l0"])
    clean = np.asarray(jax.jit(lambda p: rnn(p, x)[0])(p))     # eval mode: no dropout
    run = jax.jit(lambda k: rnn.apply(p, x, train=True, key=k)[0][0])
    a, b = np.asarray(run(jax.random.key(1))), np.asarray(run(jax.random.key(2)))
    assert not np.allclose(a, b)
    np.testing.assert_array_equal(run(jax.random.key(1)), a)
    frac = float(np.mean(a == 0))
    assert abs(frac - 0.3) < 0.025, frac  # 5120 draws: 4 standard errors
    kept = a != 0
    np.testing.assert_allclose(a[kept], clean[kept] / 0.7, 1e-12)
    with pytest.raises(ValueError, match="needs randomness"):
        rnn.apply(p, x, train=True)
    with pytest.warns(UserWarning, match="non-zero dropout expects num_layers greater than 1"):
        nn.LSTM(IN, HID, dropout=0.2)


# ---------------------------------------------------------------------- bad input
def test_bad_input_raises_torch_messages():
    lstm = nn.LSTM(IN, HID, num_layers=2)
    p = lstm.init(jax.random.key(0), jnp.float64)
    x = jnp.zeros((T, B, IN))
    with pytest.raises(ValueError, match=r"input.size\(-1\) must be equal to input_size. Expected 3, got 2"):
        lstm(p, jnp.zeros((T, B, 2)))
    with pytest.raises(ValueError, match=r"LSTM: Expected input to be 2D or 3D, got 4D instead"):
        lstm(p, jnp.zeros((T, B, 1, IN)))
    with pytest.raises(ValueError, match=r"Expected hidden\[0\] size \(2, 2, 4\), got \[2, 3, 4\]"):
        lstm(p, x, (jnp.zeros((2, 3, HID)), jnp.zeros((2, B, HID))))
    with pytest.raises(ValueError, match=r"Expected hidden\[1\] size \(2, 2, 4\), got \[2, 2, 5\]"):
        lstm(p, x, (jnp.zeros((2, B, HID)), jnp.zeros((2, B, 5))))
    with pytest.raises(ValueError, match="For unbatched 2-D input, hx and cx should also be 2-D"):
        lstm(p, x[:, 0], (jnp.zeros((2, B, HID)), jnp.zeros((2, B, HID))))
    gru = nn.GRU(IN, HID)
    gp = gru.init(jax.random.key(0), jnp.float64)
    with pytest.raises(ValueError, match=r"Expected hidden size \(1, 2, 4\), got \[1, 2, 3\]"):
        gru(gp, x, jnp.zeros((1, B, 3)))
    with pytest.raises(ValueError, match="For batched 3-D input, hx should also be 3-D"):
        gru(gp, x, jnp.zeros((1, HID)))
    with pytest.raises(ValueError, match="does not match weight dtype"):
        gru(gp, x.astype(jnp.float32))
    with pytest.raises(ValueError, match="Expected all lengths to be at most the sequence length 5"):
        frnn.pack_padded_sequence(x, [6, 2])
    with pytest.raises(ValueError, match="proj_size has to be smaller than hidden_size"):
        nn.LSTM(IN, HID, proj_size=HID)
    with pytest.raises(ValueError, match="proj_size should be a positive integer or zero"):
        nn.LSTM(IN, HID, proj_size=-1)
    with pytest.raises(ValueError, match="proj_size argument is only supported for LSTM"):
        nn.GRU(IN, HID, proj_size=2)
    with pytest.raises(ValueError, match="Unknown nonlinearity 'gelu'. Select from 'tanh' or 'relu'."):
        nn.RNN(IN, HID, nonlinearity="gelu")
    with pytest.raises(ValueError, match="dropout should be a number in range"):
        nn.GRU(IN, HID, dropout=1.5)
    with pytest.raises(ValueError, match="hidden_size must be greater than zero"):
        nn.RNN(IN, 0)
    with pytest.raises(TypeError, match="bias should be of type bool"):
        nn.RNN(IN, HID, bias=1)
    with pytest.raises(ValueError, match="num_layers must be greater than zero"):
        nn.RNN(IN, HID, num_layers=0)
    cell = nn.LSTMCell(IN, HID)
    cp = cell.init(jax.random.key(0), jnp.float64)
    with pytest.raises(ValueError, match="input has inconsistent input_size: got 5 expected 3"):
        cell(cp, jnp.zeros((B, 5)))
    with pytest.raises(ValueError, match="hidden1 has inconsistent hidden_size: got 5, expected 4"):
        cell(cp, jnp.zeros((B, IN)), (jnp.zeros((B, HID)), jnp.zeros((B, 5))))
    with pytest.raises(ValueError, match="Input batch size 2 doesn't match hidden0 batch size 3"):
        cell(cp, jnp.zeros((B, IN)), (jnp.zeros((3, HID)), jnp.zeros((3, HID))))
    with pytest.raises(ValueError, match=r"GRUCell: Expected input to be 1D or 2D, got 3D instead"):
        nn.GRUCell(IN, HID)(None, jnp.zeros((1, B, IN)))


def test_forward_mode_and_hessian_vector_products_work():
    """Plain lax.scan autodiff: jvp of grad (AdaHessian's Hessian-vector product) works."""
    lstm = nn.LSTM(IN, HID)
    p = lstm.init(jax.random.key(0), jnp.float64)
    v = jax.tree.map(lambda a: jnp.ones_like(a) * 0.1, p)
    x = jax.random.normal(jax.random.key(1), (T, B, IN), jnp.float64)
    grad = jax.grad(lambda p: jnp.sum(lstm(p, x)[0] ** 2))
    eps = 1e-5

    @jax.jit
    def both(p, v):
        hvp = jax.jvp(grad, (p,), (v,))[1]
        plus, minus = (grad(jax.tree.map(lambda a, b, s=s: a + s * eps * b, p, v)) for s in (1, -1))
        return hvp, jax.tree.map(lambda a, b: (a - b) / (2 * eps), plus, minus)

    hvp, fd = both(p, v)
    for a, b in zip(jax.tree.leaves(hvp), jax.tree.leaves(fd)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-8)
