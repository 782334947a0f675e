"""scaled_dot_product_attention and MultiheadAttention against torch 2.13.

Outputs, attention weights and gradients with respect to the inputs and every parameter,
float64 to 1e-10 and float32 to 2e-5 relative / 2e-6 absolute (sums of a few products in a
different order, softmax with a different exp), through ``jax.jit`` and ``jax.grad``.
"""

from __future__ import annotations

import random

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch
from layer_parity import check_call

import fnn.nn.functional as F
from fnn import nn

F32 = (2e-5, 2e-6)  # float32 tolerance (rtol, atol)
_RNG = np.random.default_rng(0)


def _t(a):
    return torch.tensor(np.asarray(a))


def _j(t):
    return jnp.asarray(t.detach().numpy()) if isinstance(t, torch.Tensor) else t


# ---------------------------------------------------------------------------- sdpa
def _sdpa_torch(q, k, v, mask, kwargs, cot):
    """torch's output and grads w.r.t. q, k, v (and a float mask)."""
    dtype = q.dtype
    tq, tk, tv = (torch.tensor(a, requires_grad=True) for a in (q, k, v))
    tm = None
    if mask is not None:
        tm = torch.tensor(mask if mask.dtype == bool else mask.astype(dtype),
                          requires_grad=mask.dtype != bool)
    out = torch.nn.functional.scaled_dot_product_attention(tq, tk, tv, attn_mask=tm, **kwargs)
    (out * torch.tensor(cot)).sum().backward()
    want = [out.detach().numpy(), tq.grad.numpy(), tk.grad.numpy(), tv.grad.numpy()]
    if tm is not None and tm.requires_grad:
        want.append(tm.grad.numpy())
    return want


def _sdpa_fnn_all(cases):
    """fnn's outputs and grads for every case in ONE jitted function (one compilation)."""

    def one(q, k, v, m, cot, kwargs):
        def loss(q, k, v, m):
            o = F.scaled_dot_product_attention(q, k, v, attn_mask=m, **kwargs)
            return jnp.sum(o * cot), o

        float_mask = m is not None and m.dtype != jnp.bool_
        grads, o = jax.grad(loss, (0, 1, 2, 3) if float_mask else (0, 1, 2), has_aux=True)(
            q, k, v, m)
        return [o, *grads]

    kws = [c[-1] for c in cases]
    fn = jax.jit(lambda arrays: [one(*a, kw) for a, kw in zip(arrays, kws)])
    return fn([tuple(None if a is None else jnp.asarray(a) for a in c[:-1]) for c in cases])


def _causal_bool(L, S):
    return np.tril(np.ones((L, S), bool))


SDPA_CASES = [
    # (q shape, k shape, v shape, mask kind, kwargs)
    ((2, 3, 4, 8), (2, 3, 5, 8), (2, 3, 5, 6), None, {}),
    ((2, 3, 4, 8), (2, 3, 5, 8), (2, 3, 5, 8), "bool", {}),
    ((2, 3, 4, 8), (2, 3, 5, 8), (2, 3, 5, 8), "float", {"scale": 0.7}),
    ((2, 3, 5, 8), (2, 3, 5, 8), (2, 3, 5, 8), None, {"is_causal": True}),
    ((1, 2, 6, 4), (1, 2, 3, 4), (1, 2, 3, 4), None, {"is_causal": True}),  # L > S, top-left
    ((2, 3, 4, 8), (2, 3, 5, 8), (2, 3, 5, 8), "bool", {"is_causal": True}),  # mask & causal
    ((2, 4, 4, 8), (2, 2, 5, 8), (2, 2, 5, 6), None, {"enable_gqa": True}),
    ((2, 6, 4, 8), (2, 2, 5, 8), (2, 2, 5, 8), "float", {"enable_gqa": True, "scale": 0.3}),
    ((2, 4, 5, 8), (2, 1, 5, 8), (2, 1, 5, 8), "bool", {"enable_gqa": True, "is_causal": True}),
    ((2, 3, 4, 8), (1, 3, 5, 8), (1, 3, 5, 8), "bool_heads", {}),  # batch broadcast
    ((4, 8), (5, 8), (5, 3), "float", {}),  # 2-D
    ((2, 4, 8), (2, 5, 8), (2, 5, 8), "bool", {}),  # 3-D
]


def _mask(kind, q_shape, k_shape):
    L, S = q_shape[-2], k_shape[-2]
    if kind is None:
        return None
    if kind == "bool":
        m = _RNG.random((L, S)) > 0.3
        m[:, 0] = True  # no fully masked row here (tested on its own below)
        return m
    if kind == "bool_heads":
        m = _RNG.random((q_shape[1], L, S)) > 0.3
        m[..., 0] = True
        return m
    return _RNG.standard_normal((L, S))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_sdpa_matches_torch(dtype):
    rtol, atol = (1e-10, 1e-12) if dtype == np.float64 else F32
    cases = []
    for qs, ks, vs, kind, kwargs in SDPA_CASES:
        q, k, v = (_RNG.standard_normal(s).astype(dtype) for s in (qs, ks, vs))
        m = _mask(kind, qs, ks)
        m = m if m is None or m.dtype == bool else m.astype(dtype)
        tm = None if m is None else torch.tensor(m)
        out_shape = torch.nn.functional.scaled_dot_product_attention(
            _t(q), _t(k), _t(v), attn_mask=tm, **kwargs).shape
        cot = _RNG.standard_normal(tuple(out_shape)).astype(dtype)
        cases.append((q, k, v, m, cot, kwargs))
    got_all = _sdpa_fnn_all(cases)
    for (q, k, v, m, cot, kwargs), got in zip(cases, got_all):
        want = _sdpa_torch(q, k, v, m, kwargs, cot)
        assert len(want) == len(got)
        for name, w, g in zip(["out", "dq", "dk", "dv", "dmask"], want, got):
            assert np.asarray(g).dtype == dtype
            np.testing.assert_allclose(np.asarray(g), w, rtol=rtol, atol=atol,
                                       err_msg=f"{name} {q.shape} {kwargs}")


def test_sdpa_fully_masked_rows_are_zero_as_torch():
    q, k, v = (_RNG.standard_normal(s) for s in ((1, 2, 3, 4), (1, 2, 5, 4), (1, 2, 5, 4)))
    bmask = np.ones((3, 5), bool)
    bmask[1] = False
    fmask = np.where(bmask, 0.0, -np.inf)
    cot = _RNG.standard_normal((1, 2, 3, 4))
    got_all = _sdpa_fnn_all([(q, k, v, m, cot, {}) for m in (bmask, fmask)])
    for mask, got in zip((bmask, fmask), got_all):
        want = _sdpa_torch(q, k, v, mask, {}, cot)
        for w, g in zip(want[:4], got[:4]):
            np.testing.assert_allclose(np.asarray(g), w, rtol=1e-10, atol=1e-12)
        assert np.all(np.asarray(got[0])[:, :, 1] == 0) and np.all(np.isfinite(got[1]))
        assert np.all(np.asarray(got[1])[:, :, 1] == 0)


def test_sdpa_dropout_statistics_and_key():
    """Dropout on the weights: with ``value = I`` the output *is* the weight matrix."""
    L = S = 64
    q = jnp.asarray(_RNG.standard_normal((1, 1, L, 4)))
    k = jnp.asarray(_RNG.standard_normal((1, 1, S, 4)))
    v = jnp.eye(S)[None, None]
    drop = jax.jit(lambda key: F.scaled_dot_product_attention(q, k, v, dropout_p=0.25,
                                                             dropout_key=key))
    w = jax.jit(F.scaled_dot_product_attention)(q, k, v)
    d, d2, d3 = drop(jax.random.key(1)), drop(jax.random.key(1)), drop(jax.random.key(2))
    np.testing.assert_array_equal(d, d2)
    assert not np.array_equal(d, d3)
    zero = np.asarray(d) == 0
    assert abs(zero.mean() - 0.25) < 0.02
    np.testing.assert_allclose(np.asarray(d)[~zero], np.asarray(w / 0.75)[~zero], rtol=1e-12)
    with pytest.raises(ValueError, match="needs a PRNG key"):
        F.scaled_dot_product_attention(q, k, v, dropout_p=0.5)
    assert not np.any(jax.jit(lambda q: F.scaled_dot_product_attention(q, k, v, dropout_p=1.0))(q))


def test_sdpa_vmap_and_path():
    q, k, v = (jnp.asarray(_RNG.standard_normal((3, 2, 4, 8))) for _ in range(3))
    out = jax.jit(jax.vmap(F.scaled_dot_product_attention))(q, k, v)
    np.testing.assert_allclose(out, jax.jit(F.scaled_dot_product_attention)(q, k, v), rtol=1e-12)
    expect = "reference" if jax.default_backend() != "gpu" else "xla"
    assert F.sdpa_path(q.astype(jnp.float32), k.astype(jnp.float32), v.astype(jnp.float32)) \
        == expect
    assert F.sdpa_path(q, k, v) == "reference"  # float64: jax's fused path is float32 inside


def _both_raise(fn_torch, fn_fnn, match, fnn_exc=ValueError):
    with pytest.raises((RuntimeError, AssertionError, ValueError), match=match):
        fn_torch()
    with pytest.raises(fnn_exc, match=match):
        fn_fnn()


def test_sdpa_bad_input_messages():
    q, k, v = np.zeros((1, 2, 3, 4), np.float32), np.zeros((1, 2, 5, 4), np.float32), \
        np.zeros((1, 2, 5, 4), np.float32)
    tsdpa, fsdpa = torch.nn.functional.scaled_dot_product_attention, F.scaled_dot_product_attention
    _both_raise(lambda: tsdpa(_t(q), _t(k), _t(v), attn_mask=torch.ones(4, 5, dtype=torch.bool)),
                lambda: fsdpa(q, k, v, attn_mask=jnp.ones((4, 5), bool)),
                r"The size of tensor a \(3\) must match the size of tensor b \(4\) at "
                r"non-singleton dimension 2")
    _both_raise(lambda: tsdpa(_t(q), _t(k), _t(v), attn_mask=torch.ones(3, 5, dtype=torch.int32)),
                lambda: fsdpa(q, k, v, attn_mask=jnp.ones((3, 5), jnp.int32)),
                "Expected attn_mask dtype to be bool or float or to match query dtype, but got "
                "attn_mask.dtype: int and  query.dtype: float instead.", TypeError)
    _both_raise(lambda: tsdpa(_t(q), _t(k).double(), _t(v)),
                lambda: fsdpa(q, k.astype(np.float64), v),
                "Expected query, key, and value to have the same dtype, but got query.dtype: "
                "float key.dtype: double and value.dtype: float instead.", TypeError)
    _both_raise(lambda: tsdpa(torch.zeros(4), _t(k[0, 0]), _t(v[0, 0])),
                lambda: fsdpa(np.zeros(4, np.float32), k[0, 0], v[0, 0]),
                "Expected query, key, and value to all be  at least 2 dimensional")
    q3 = np.zeros((1, 3, 3, 4), np.float32)
    _both_raise(lambda: tsdpa(_t(q3), _t(k), _t(v), enable_gqa=True),
                lambda: fsdpa(q3, k, v, enable_gqa=True),
                "Number of heads in key and value must divide the number of heads in ")
    _both_raise(lambda: tsdpa(_t(q), _t(k), _t(v), dropout_p=1.5),
                lambda: fsdpa(q, k, v, dropout_p=1.5),
                "dropout probability has to be between 0 and 1, but got 1.5")


# ---------------------------------------------------------------------------- MHA
def _mha_case(opts):
    """Build (fnn, torch, inputs, kwargs) for one combination of MHA options."""
    E, H, L, S, N = 8, 2, 4, 5, 3
    kdim, vdim = (6, 4) if opts["kvdim"] else (None, None)
    ctor = dict(embed_dim=E, num_heads=H, bias=opts["bias"], add_bias_kv=opts["bias_kv"],
                add_zero_attn=opts["zero_attn"], kdim=kdim, vdim=vdim,
                batch_first=opts["batch_first"])
    torch.manual_seed(0)
    tm = torch.nn.MultiheadAttention(**ctor, dropout=0.3)  # eval: dropout inactive
    fm = nn.MultiheadAttention(**ctor, dropout=0.3)
    batched = not opts["unbatched"]
    self_attn = opts["self_attn"] and not opts["kvdim"]
    if self_attn:
        S = L

    def x(n, d):
        if not batched:
            return _RNG.standard_normal((n, d))
        return _RNG.standard_normal((N, n, d) if opts["batch_first"] else (n, N, d))

    q = x(L, E)
    inputs = (q, q, q) if self_attn else (q, x(S, kdim or E), x(S, vdim or E))
    kw: dict = {"need_weights": opts["need_weights"], "average_attn_weights": opts["average"]}
    mk = opts["mask"]
    if mk is not None:
        shape = (L, S) if mk.endswith("2d") else (N * H if batched else H, L, S)
        m = torch.rand(shape) > 0.4
        m[..., 0] = False  # never a fully masked row
        if opts["causal"] and mk.endswith("2d") and self_attn:
            m = torch.triu(torch.ones(L, S, dtype=torch.bool), 1)
            kw["is_causal"] = True
        kw["attn_mask"] = m if mk.startswith("bool") else \
            torch.where(m, -torch.inf, torch.randn(shape).double())
    if opts["kpm"] is not None:
        p = torch.rand((N, S) if batched else (S,)) > 0.6
        p[..., 0] = False
        kw["key_padding_mask"] = p if opts["kpm"] == "bool" else \
            torch.where(p, -torch.inf, 0.5 * torch.randn(p.shape).double())
    return fm, tm, inputs, kw


_MHA_AXES = {
    "batch_first": [False, True], "kvdim": [False, True], "bias": [True, False],
    "bias_kv": [False, True], "zero_attn": [False, True], "unbatched": [False, True],
    "self_attn": [True, False], "need_weights": [True, False], "average": [True, False],
    "mask": [None, "bool2d", "float2d", "bool3d", "float3d"], "kpm": [None, "bool", "float"],
    "causal": [False, True],
}


def _mha_grid(n, seed=0):
    """Every value of every option at least once, plus random combinations."""
    keys = list(_MHA_AXES)
    rows = []
    for i in range(max(len(v) for v in _MHA_AXES.values())):
        rows.append({k: _MHA_AXES[k][i % len(_MHA_AXES[k])] for k in keys})
    r = random.Random(seed)
    while len(rows) < n:
        rows.append({k: r.choice(_MHA_AXES[k]) for k in keys})
    return rows


MHA_GRID = _mha_grid(16)


@pytest.mark.parametrize("opts", MHA_GRID, ids=[str(i) for i in range(len(MHA_GRID))])
def test_mha_matches_torch_float64(opts):
    fm, tm, inputs, kw = _mha_case(opts)
    res = check_call(fm, tm, inputs, kw, np.float64)
    assert set(res["param_grads"]) == {f"inner.{k}" for k, _ in tm.named_parameters()}


@pytest.mark.parametrize("opts", MHA_GRID[:4], ids=[str(i) for i in range(4)])
def test_mha_matches_torch_float32(opts):
    fm, tm, inputs, kw = _mha_case(opts)
    check_call(fm, tm, inputs, kw, np.float32)


def test_mha_init_names_shapes_and_distribution():
    for kw in [{}, {"kdim": 3, "vdim": 5, "add_bias_kv": True}, {"bias": False}]:
        t = torch.nn.MultiheadAttention(8, 2, **kw)
        p = jax.eval_shape(nn.MultiheadAttention(8, 2, **kw).init, jax.random.key(0))
        flat = dict(nn.named_parameters(p))  # (eval_shape sorts the keys: compare as sets)
        assert sorted(flat) == sorted(t.state_dict())
        assert all(flat[k].shape == tuple(v.shape) for k, v in t.state_dict().items())
    p = jax.jit(lambda k: nn.MultiheadAttention(64, 4).init(k, jnp.float64))(jax.random.key(1))
    bound = np.sqrt(6 / (64 + 3 * 64))  # xavier_uniform on the packed (3E, E) weight
    w = np.asarray(p["in_proj_weight"])
    assert w.max() <= bound and w.max() > 0.95 * bound and abs(w.std() - bound / np.sqrt(3)) < 0.01
    assert np.all(np.asarray(p["in_proj_bias"]) == 0) and np.all(np.asarray(p["out_proj"]["bias"]) == 0)


def test_mha_fully_masked_rows_as_torch():
    """need_weights=True: NaN rows (plain softmax); need_weights=False: zeros (SDPA)."""
    tm = torch.nn.MultiheadAttention(4, 2, batch_first=True).double()
    fm = nn.MultiheadAttention(4, 2, batch_first=True)
    p = {k: _j(v) for k, v in tm.state_dict().items()}
    params = {"in_proj_weight": p["in_proj_weight"], "in_proj_bias": p["in_proj_bias"],
              "out_proj": {"weight": p["out_proj.weight"], "bias": p["out_proj.bias"]}}
    x = torch.randn(2, 3, 4, dtype=torch.float64)
    kpm = torch.zeros(2, 3, dtype=torch.bool)
    kpm[0] = True
    for need in (True, False):
        to, tw = tm(x, x, x, key_padding_mask=kpm, need_weights=need)
        fo, fw = jax.jit(lambda p, x, m, need=need: fm(p, x, x, x, key_padding_mask=m,
                                                        need_weights=need))(params, _j(x), _j(kpm))
        np.testing.assert_allclose(np.asarray(fo), to.detach().numpy(), rtol=1e-10, atol=1e-12)
        assert np.isnan(np.asarray(fo)[0]).all() == need
        if need:
            np.testing.assert_allclose(np.asarray(fw), tw.detach().numpy(), rtol=1e-10)
        else:
            assert fw is None and tw is None


def test_mha_dropout_train_and_eval():
    m = nn.MultiheadAttention(8, 2, dropout=0.5, batch_first=True)
    p = jax.jit(lambda k: m.init(k, jnp.float64))(jax.random.key(0))
    x = jnp.asarray(_RNG.standard_normal((4, 32, 8)))
    run = jax.jit(lambda key, train: m(p, x, x, x, average_attn_weights=False, train=train,
                                       key=key), static_argnums=1)
    (_, w_eval) = run(None, False)
    (o1, w1), (o2, _) = run(jax.random.key(3), True), run(jax.random.key(3), True)
    (o3, _) = run(jax.random.key(4), True)
    np.testing.assert_array_equal(o1, o2)
    assert not np.allclose(o1, o3)
    zero = np.asarray(w1) == 0
    assert abs(zero.mean() - 0.5) < 0.02
    np.testing.assert_allclose(np.asarray(w1)[~zero], 2 * np.asarray(w_eval)[~zero], rtol=1e-12)
    # the dropped weights still sum to about 1 per row on average
    assert abs(float(np.asarray(w1).sum(-1).mean()) - 1.0) < 0.05
    with pytest.raises(ValueError, match="needs randomness"):
        m(p, x, x, x, train=True)


def test_mha_bad_input_messages():
    with pytest.raises(AssertionError, match="embed_dim must be divisible by num_heads"):
        torch.nn.MultiheadAttention(6, 4)
    with pytest.raises(ValueError, match="embed_dim must be divisible by num_heads"):
        nn.MultiheadAttention(6, 4)
    tm = torch.nn.MultiheadAttention(4, 2)
    fm = nn.MultiheadAttention(4, 2)
    p = jax.eval_shape(fm.init, jax.random.key(0))
    q, k = torch.randn(3, 2, 4), torch.randn(5, 2, 4)
    cases = [
        ({"attn_mask": torch.ones(3, 4, dtype=torch.bool)},
         r"The shape of the 2D attn_mask is .*3, 4.*, but should be \(3, 5\)."),
        ({"attn_mask": torch.ones(3, 3, 5, dtype=torch.bool)},
         r"The shape of the 3D attn_mask is .*3, 3, 5.*, but should be \(4, 3, 5\)."),
        ({"attn_mask": torch.ones(3, 5, dtype=torch.int32)},
         "only bool and floating types of attn_mask are supported"),
        ({"key_padding_mask": torch.ones(3, 5, dtype=torch.bool)},
         "Expected key_padded_mask.shape.0. to be 2, but got 3"),
        ({"key_padding_mask": torch.ones(2, 4, dtype=torch.bool)},
         "Expected key_padded_mask.shape.1. to be 5, but got 4"),
        ({"attn_mask": torch.ones(1, 1, 3, 5, dtype=torch.bool)},
         "For batched .3-D. `query`, expected `attn_mask` to be `None`, 2-D or 3-D"),
    ]
    for kw, match in cases:
        with pytest.raises((RuntimeError, AssertionError, TypeError, ValueError), match=match):
            tm(q, k, k, **kw)
        exc = TypeError if "only bool" in match else ValueError
        fkw = {n: _j(v) for n, v in kw.items()}
        with pytest.raises(exc, match=match):
            jax.eval_shape(lambda p, q, k, fkw=fkw: fm(p, q, k, k, **fkw), p, _j(q), _j(k))
    with pytest.raises(RuntimeError, match="Need attn_mask if specifying the is_causal hint"):
        jax.eval_shape(lambda p, q: fm(p, q, q, q, is_causal=True), p, _j(q))


def test_mha_under_vmap_and_grad():
    fm = nn.MultiheadAttention(8, 2)
    p = jax.jit(lambda k: fm.init(k, jnp.float64))(jax.random.key(0))
    x = jnp.asarray(_RNG.standard_normal((3, 4, 2, 8)))
    f = jax.jit(jax.vmap(lambda a: fm(p, a, a, a)[0]))
    np.testing.assert_allclose(f(x)[1], jax.jit(lambda a: fm(p, a, a, a)[0])(x[1]), rtol=1e-12)
    g = jax.jit(jax.grad(lambda p: jnp.sum(jax.vmap(lambda a: fm(p, a, a, a)[0])(x) ** 2)))(p)
    assert all(np.isfinite(np.asarray(v)).all() and np.any(np.asarray(v) != 0)
               for v in jax.tree.leaves(g))



