"""The Transformer family and RMSNorm against torch 2.13.

Outputs and gradients with respect to the inputs and every parameter (float64 to 1e-10,
float32 to 1e-4 relative / 1e-5 absolute: a few LayerNorms and softmaxes in a row), through
``jax.jit`` and ``jax.grad``; torch ``state_dict`` loading; compile-once stacks.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch
from layer_parity import check_call, check_layer

import fnn.nn.functional as F
from fnn import nn
from fnn.interop.torch import load_state_dict

F32 = (1e-4, 1e-5)
_RNG = np.random.default_rng(0)
D, H, FF = 8, 2, 16


def _j(t):
    return jnp.asarray(t.detach().numpy())


def _acts(name):
    """(fnn activation, torch activation) by name: strings, functions and modules."""
    return {"relu": ("relu", "relu"), "gelu": ("gelu", "gelu"),
            "silu_fn": (F.silu, torch.nn.functional.silu),
            "gelu_tanh_module": (nn.GELU("tanh"), torch.nn.GELU("tanh"))}[name]


def _x(batch_first, unbatched, n, L):
    if unbatched:
        return _RNG.standard_normal((L, D))
    return _RNG.standard_normal((n, L, D) if batch_first else (L, n, D))


def _masks(kind, L, S, n, unbatched, prefix):
    """Mask keyword arguments for one layer call (torch tensors)."""
    kw = {}
    if "causal" in kind:
        kw[f"{prefix}mask"] = torch.nn.Transformer.generate_square_subsequent_mask(L)
        kw[f"{prefix}is_causal"] = True
    if "bool" in kind:
        m = torch.rand(L, S) > 0.5
        m[:, 0] = False
        kw[f"{prefix}mask"] = m
    if "float" in kind:
        kw[f"{prefix}mask"] = torch.randn(L, S)
    if "kpm" in kind:
        p = torch.rand((S,) if unbatched else (n, S)) > 0.6
        p[..., 0] = False
        kw[f"{prefix}key_padding_mask"] = p
    return kw


ENC_CASES = [
    # norm_first, activation, batch_first, bias, mask kind, unbatched
    (False, "relu", False, True, "", False),
    (True, "gelu", True, True, "causal", False),
    (False, "silu_fn", True, False, "bool+kpm", False),
    (True, "gelu_tanh_module", False, True, "float+kpm", False),
    (True, "relu", True, True, "causal+kpm", False),
    (False, "gelu", False, True, "kpm", True),
]


def _enc_kw(kind, L, n, unbatched):
    kw = _masks(kind, L, L, n, unbatched, "src_")
    if "src_is_causal" in kw:
        kw["is_causal"] = kw.pop("src_is_causal")
    return kw


@pytest.mark.parametrize("case", ENC_CASES, ids=[str(i) for i in range(len(ENC_CASES))])
def test_encoder_layer_matches_torch(case):
    norm_first, act, batch_first, bias, kind, unbatched = case
    fa, ta = _acts(act)
    args = dict(d_model=D, nhead=H, dim_feedforward=FF, dropout=0.2, layer_norm_eps=1e-4,
                batch_first=batch_first, norm_first=norm_first, bias=bias)
    L, n = 5, 3
    torch.manual_seed(0)
    kw = _enc_kw(kind, L, n, unbatched)
    for dtype in (np.float64,) + ((np.float32,) if case is ENC_CASES[1] else ()):
        check_call(nn.TransformerEncoderLayer(**args, activation=fa),
                   torch.nn.TransformerEncoderLayer(**args, activation=ta),
                   _x(batch_first, unbatched, n, L), kw, dtype, tol=F32)


DEC_CASES = [
    # norm_first, activation, batch_first, tgt mask kind, memory mask kind
    (False, "relu", False, "causal", ""),
    (True, "gelu", True, "causal+kpm", "kpm"),
    (False, "silu_fn", True, "bool", "float"),
    (True, "relu", False, "float+kpm", "bool+kpm"),
]


@pytest.mark.parametrize("case", DEC_CASES, ids=[str(i) for i in range(len(DEC_CASES))])
def test_decoder_layer_matches_torch(case):
    norm_first, act, batch_first, tkind, mkind = case
    fa, ta = _acts(act)
    args = dict(d_model=D, nhead=H, dim_feedforward=FF, dropout=0.1, batch_first=batch_first,
                norm_first=norm_first)
    T, S, n = 4, 6, 2
    torch.manual_seed(1)
    kw = {**_masks(tkind, T, T, n, False, "tgt_"), **_masks(mkind, T, S, n, False, "memory_")}
    inputs = (_x(batch_first, False, n, T), _x(batch_first, False, n, S))
    for dtype in (np.float64,) + ((np.float32,) if case is DEC_CASES[1] else ()):
        check_call(nn.TransformerDecoderLayer(**args, activation=fa),
                   torch.nn.TransformerDecoderLayer(**args, activation=ta), inputs, kw, dtype,
                   tol=F32)


def _encoder_pair(num_layers=3, batch_first=True, norm_first=True):
    args = dict(d_model=D, nhead=H, dim_feedforward=FF, dropout=0.0, batch_first=batch_first,
                norm_first=norm_first)
    t = torch.nn.TransformerEncoder(torch.nn.TransformerEncoderLayer(**args), num_layers,
                                    torch.nn.LayerNorm(D), enable_nested_tensor=False)
    f = nn.TransformerEncoder(nn.TransformerEncoderLayer(**args), num_layers, nn.LayerNorm(D))
    return f, t, args


@pytest.mark.parametrize("scan", [True, False], ids=["scan", "loop"])
def test_encoder_stack_scan_and_loop_match_torch(scan):
    """Per-layer parameters differ (perturbed), so the scan must pick each layer's slice."""
    f, t, _ = _encoder_pair()
    f.scan_layers = scan
    assert f._scannable() == scan
    kw = {"mask": torch.nn.Transformer.generate_square_subsequent_mask(5),
          "src_key_padding_mask": torch.tensor([[False] * 5, [False] * 3 + [True] * 2])}
    res = check_call(f, t, _RNG.standard_normal((2, 5, D)), kw, np.float64)
    assert "inner.layers.2.self_attn.in_proj_weight" in res["param_grads"]


def test_replaced_layer_runs_in_a_loop_and_matches_torch():
    f, t, args = _encoder_pair(num_layers=2, norm_first=False)
    f.layers[1] = nn.TransformerEncoderLayer(**{**args, "activation": "gelu"})
    t.layers[1] = torch.nn.TransformerEncoderLayer(**{**args, "activation": "gelu"})
    assert not f._scannable() and f.layers[1].activation is F.gelu
    with pytest.raises(TypeError, match="is not an fnn.nn.Module"):
        f.layers[0] = "layer"
    check_call(f, t, _RNG.standard_normal((2, 5, D)), {}, np.float64)


def test_stack_compiles_one_layer_whatever_the_depth():
    """The traced program of a 12-layer encoder is no bigger than that of a 2-layer one."""
    sizes = []
    for n in (2, 12):
        f = nn.TransformerEncoder(nn.TransformerEncoderLayer(D, H, FF, batch_first=True), n)
        p = jax.eval_shape(f.init, jax.random.key(0))
        x = jax.ShapeDtypeStruct((2, 5, D), jnp.float32)
        jaxpr = jax.make_jaxpr(jax.grad(lambda p, x, f=f: jnp.sum(f(p, x))))(p, x)
        sizes.append(len(str(jaxpr)))
    assert sizes[1] < 1.5 * sizes[0], sizes


def test_stack_init_copies_the_layer_as_torch():
    f = nn.TransformerEncoder(nn.TransformerEncoderLayer(D, H, FF), 3)
    p = jax.jit(f.init)(jax.random.key(0))
    for i in (1, 2):
        for a, b in zip(jax.tree.leaves(p["layers"]["0"]), jax.tree.leaves(p["layers"][str(i)])):
            np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("batch_first", [False, True])
def test_transformer_state_dict_loads_and_matches_torch(batch_first):
    torch.manual_seed(0)
    t = torch.nn.Transformer(D, H, 2, 2, FF, dropout=0.1, batch_first=batch_first).eval()
    f = nn.Transformer(D, H, 2, 2, FF, dropout=0.1, batch_first=batch_first)
    shapes = jax.eval_shape(f.init, jax.random.key(0))
    assert sorted(dict(nn.named_parameters(shapes))) == sorted(t.state_dict())
    S, T, n = 6, 4, 3
    src = torch.randn((n, S, D) if batch_first else (S, n, D))
    tgt = torch.randn((n, T, D) if batch_first else (T, n, D))
    kpm = torch.zeros(n, S, dtype=torch.bool)
    kpm[1, 4:] = True
    tgt_mask = t.generate_square_subsequent_mask(T)
    np.testing.assert_array_equal(nn.Transformer.generate_square_subsequent_mask(T), tgt_mask)
    run = jax.jit(lambda p, s, g, m, k: f(p, s, g, tgt_mask=m, src_key_padding_mask=k,
                                          memory_key_padding_mask=k))
    for dt, tol in ((torch.float64, (1e-10, 1e-12)), (torch.float32, F32)):
        t = t.to(dt)
        params, buffers = load_state_dict(f, t.state_dict())
        assert buffers == {}
        with torch.no_grad():
            want = t(src.to(dt), tgt.to(dt), tgt_mask=tgt_mask.to(dt), src_key_padding_mask=kpm,
                     memory_key_padding_mask=kpm)
        got = run(params, _j(src.to(dt)), _j(tgt.to(dt)), _j(tgt_mask.to(dt)), _j(kpm))
        np.testing.assert_allclose(np.asarray(got), want.numpy(), rtol=tol[0], atol=tol[1])


def test_transformer_gradients_match_torch():
    torch.manual_seed(0)
    args = dict(d_model=D, nhead=H, num_encoder_layers=1, num_decoder_layers=2,
                dim_feedforward=FF, dropout=0.0, batch_first=True, norm_first=True)
    kw = {"tgt_mask": torch.nn.Transformer.generate_square_subsequent_mask(4), "tgt_is_causal": True}
    check_call(nn.Transformer(**args), torch.nn.Transformer(**args),
               (_RNG.standard_normal((2, 5, D)), _RNG.standard_normal((2, 4, D))), kw, np.float64)


def test_transformer_init_distribution_and_custom_parts():
    f = nn.Transformer(32, 4, 1, 1, 64)
    p = jax.jit(f.init)(jax.random.key(0))
    w = np.asarray(p["encoder"]["layers"]["0"]["linear1"]["weight"])  # xavier_uniform (64, 32)
    bound = np.sqrt(6 / (32 + 64))
    assert w.max() <= bound and w.max() > 0.9 * bound
    assert not np.array_equal(p["encoder"]["layers"]["0"]["self_attn"]["in_proj_weight"],
                              p["decoder"]["layers"]["0"]["self_attn"]["in_proj_weight"])
    enc = nn.TransformerEncoder(nn.TransformerEncoderLayer(32, 4, 64), 2)
    g = nn.Transformer(32, 4, custom_encoder=enc, num_decoder_layers=1, dim_feedforward=64)
    assert "norm" not in jax.eval_shape(g.init, jax.random.key(0))["encoder"]


def test_subclassed_transformer_as_in_torch():
    class Seq2Seq(nn.Transformer):
        def __init__(self):
            super().__init__(D, H, 1, 1, FF, dropout=0.0, batch_first=True)
            self.embed = nn.Embedding(10, D)

        def forward(self, params, src, tgt):
            e = self.embed
            return super().forward(params, e(params["embed"], src), e(params["embed"], tgt))

    m = Seq2Seq()
    p = jax.eval_shape(m.init, jax.random.key(0))
    assert p["embed"]["weight"].shape == (10, D) and "encoder" in p
    out = jax.eval_shape(m, p, jnp.array([[1, 2, 3]]), jnp.array([[4, 5]]))
    assert out.shape == (1, 2, D)


def test_dropout_train_and_eval():
    f = nn.TransformerEncoder(nn.TransformerEncoderLayer(D, H, FF, dropout=0.5), 2)
    p = jax.jit(f.init)(jax.random.key(0))
    x = jnp.asarray(_RNG.standard_normal((5, 2, D)), jnp.float32)
    run = jax.jit(lambda k, train: f(p, x, train=train, key=k), static_argnums=1)
    ev, a, b, c = run(None, False), run(jax.random.key(1), True), run(jax.random.key(1), True), \
        run(jax.random.key(2), True)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c) and not np.allclose(a, ev)


def test_bad_input_messages():
    f = nn.Transformer(D, H, 1, 1, FF)
    t = torch.nn.Transformer(D, H, 1, 1, FF)
    p = jax.eval_shape(f.init, jax.random.key(0))
    for src, tgt, match in [((5, 2, D), (4, 3, D), "the batch number of src and tgt must be equal"),
                            ((5, 2, D), (4, 2, 6), "the feature number of src and tgt must be "
                                                    "equal to d_model")]:
        with pytest.raises(RuntimeError, match=match):
            t(torch.zeros(src), torch.zeros(tgt))
        with pytest.raises(ValueError, match=match):
            jax.eval_shape(f, p, jnp.zeros(src), jnp.zeros(tgt))
    with pytest.raises(RuntimeError, match="activation should be relu/gelu, not tanh"):
        torch.nn.TransformerEncoderLayer(D, H, activation="tanh")
    with pytest.raises(RuntimeError, match="activation should be relu/gelu, not tanh"):
        nn.TransformerEncoderLayer(D, H, activation="tanh")
    with pytest.raises(ValueError, match="embed_dim must be divisible by num_heads"):
        nn.TransformerEncoderLayer(6, 4)


# ---------------------------------------------------------------------------- RMSNorm
RMS_CASES = ["RMSNorm(5)", "RMSNorm([4, 5], eps=1e-3)", "RMSNorm(5, elementwise_affine=False)"]


@pytest.mark.parametrize("expr", RMS_CASES)
def test_rmsnorm_matches_torch(expr):
    x = _RNG.standard_normal((3, 4, 5)) * 2 + 0.5
    layer, tlayer = eval(f"nn.{expr}"), eval(f"torch.nn.{expr}")
    if tlayer.weight is not None:
        with torch.no_grad():
            tlayer.weight.copy_(torch.tensor(_RNG.uniform(0.5, 1.5, tlayer.weight.shape)))
    check_layer(layer, tlayer, x, np.float64)
    check_layer(layer, tlayer, x, np.float32, 1e-5, 1e-6)
    assert repr(layer) == repr(tlayer)


def test_rms_norm_functional_default_eps_per_dtype():
    x = np.full((2, 3), 1e-4)  # eps matters: mean(x^2) = 1e-8 ~ float32's eps
    for dt, tdt in ((np.float32, torch.float32), (np.float64, torch.float64)):
        want = torch.nn.functional.rms_norm(torch.tensor(x, dtype=tdt), (3,)).numpy()
        got = jax.jit(lambda a: F.rms_norm(a, (3,)))(jnp.asarray(x, dt))
        np.testing.assert_allclose(np.asarray(got), want, rtol=1e-6 if dt == np.float32 else 1e-12)
    with pytest.raises(ValueError, match=r"Given normalized_shape=\[4\]"):
        F.rms_norm(jnp.zeros((2, 3)), 4)
