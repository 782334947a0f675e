"""Layer parity against torch: forward values and gradients, by torch ``state_dict`` name.

:func:`check_layer` copies a torch layer's parameters (and buffers) into fnn's nested
params by dotted name, runs both on the same inputs, and compares

* the output,
* the gradients of ``sum(output * cotangent)`` (a fixed random cotangent) with respect to
  every floating-point input and every parameter,
* the updated buffers (BatchNorm running statistics) when the layer has buffers.

Default tolerances: float64 ``rtol=1e-10, atol=1e-12``; float32 ``rtol=1e-5, atol=1e-6``
(torch and XLA sum in different orders and use FMA differently, so float32 agrees to a
few ulp per accumulated term, not bit for bit).

Usage::

    from layer_parity import check_layer
    check_layer(fnn.nn.Conv2d(3, 4, 3), torch.nn.Conv2d(3, 4, 3), x, np.float64)
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import torch

from fnn import _tree
from fnn import nn as _fnn_nn

__all__ = ["check_layer", "check_call", "check_uniform", "DEFAULT_TOL", "to_torch_dtype"]

DEFAULT_TOL = {np.dtype(np.float64): (1e-10, 1e-12), np.dtype(np.float32): (1e-5, 1e-6)}


def to_torch_dtype(dtype: Any) -> torch.dtype:
    return {np.dtype(np.float64): torch.float64, np.dtype(np.float32): torch.float32}[np.dtype(dtype)]


def _as_tuple(inputs: Any) -> tuple:
    return tuple(inputs) if isinstance(inputs, (tuple, list)) else (inputs,)


def _cast(a: np.ndarray, dtype: Any) -> np.ndarray:
    a = np.asarray(a)
    return a.astype(dtype) if np.issubdtype(a.dtype, np.floating) else a


def _close(name: str, got: Any, want: Any, rtol: float, atol: float) -> None:
    got, want = np.asarray(got), np.asarray(want)
    assert got.shape == want.shape, f"{name}: shape {got.shape} != torch's {want.shape}"
    np.testing.assert_allclose(got, want, rtol=rtol, atol=atol, err_msg=name)


def check_layer(fnn_layer: Any, torch_layer: torch.nn.Module, inputs: Any,
                dtype: Any = np.float64, rtol: float | None = None, atol: float | None = None,
                *, train: bool = False, seed: int = 0, jit: bool = True,
                kwargs: dict | None = None) -> dict[str, Any]:
    """Compare ``fnn_layer`` with ``torch_layer`` on ``inputs`` (an array or a tuple of arrays).

    ``dtype``: ``np.float64`` or ``np.float32``; floating inputs, parameters and buffers are
    cast to it (integer inputs such as indices are passed as they are). ``rtol``/``atol``
    default to :data:`DEFAULT_TOL`. ``train``: torch's ``.train()`` / fnn's ``train=True``
    (only deterministic layers can be compared in training mode). ``jit``: run the fnn side
    under ``jax.jit``. ``kwargs``: extra keyword arguments for both forward calls.

    Returns ``{"out", "input_grads", "param_grads", "params", "buffers"}`` of the fnn side
    (numpy), for further checks by the caller.
    """
    dtype = np.dtype(dtype)
    d_rtol, d_atol = DEFAULT_TOL[dtype]
    rtol = d_rtol if rtol is None else rtol
    atol = d_atol if atol is None else atol
    kwargs = kwargs or {}
    tdtype = to_torch_dtype(dtype)
    xs = tuple(_cast(x, dtype) for x in _as_tuple(inputs))

    # ---- torch side
    torch_layer = torch_layer.to(tdtype)
    torch_layer.train(train)
    torch_layer.zero_grad(set_to_none=True)
    t_params = {k: v.detach().numpy().copy() for k, v in torch_layer.named_parameters()}
    t_buffers = {k: v.detach().numpy().copy() for k, v in torch_layer.named_buffers()}
    t_in = [torch.tensor(x, requires_grad=bool(np.issubdtype(x.dtype, np.floating))) for x in xs]
    t_out = torch_layer(*t_in, **kwargs)
    rng = np.random.default_rng(seed + 12345)
    cot = rng.standard_normal(tuple(t_out.shape)).astype(dtype)
    (t_out * torch.tensor(cot)).sum().backward()
    t_in_grads = [t.grad.numpy() if t.requires_grad else None for t in t_in]
    t_param_grads = {k: (v.grad.numpy() if v.grad is not None else np.zeros(v.shape, dtype))
                     for k, v in torch_layer.named_parameters()}
    t_new_buffers = {k: v.detach().numpy().copy() for k, v in torch_layer.named_buffers()}

    # ---- fnn side
    params = _tree.unflatten({k: jnp.asarray(v) for k, v in t_params.items()})
    buffers = _tree.unflatten({k: jnp.asarray(v) for k, v in t_buffers.items()}) if t_buffers else None
    float_idx = [i for i, x in enumerate(xs) if np.issubdtype(x.dtype, np.floating)]

    def run(p, float_xs):
        args = list(xs)
        for i, v in zip(float_idx, float_xs):
            args[i] = v
        return fnn_layer.apply(p, *args, buffers=buffers, train=train, **kwargs)

    def fwd(p, float_xs):
        out, new_b = run(p, float_xs)
        return jnp.sum(out * jnp.asarray(cot)), (out, new_b)

    grad_fn = jax.grad(fwd, argnums=(0, 1), has_aux=True)
    if jit:
        grad_fn = jax.jit(grad_fn)
    (g_params, g_xs), (out, new_buffers) = grad_fn(params, [jnp.asarray(xs[i]) for i in float_idx])

    # ---- compare
    assert np.asarray(out).dtype == dtype, f"output dtype {np.asarray(out).dtype} != {dtype}"
    _close("output", out, t_out.detach().numpy(), rtol, atol)
    for i, g in zip(float_idx, g_xs):
        _close(f"grad wrt input {i}", g, t_in_grads[i], rtol, atol)
    flat_g = _tree.flatten(g_params)
    assert set(flat_g) == set(t_param_grads), f"param names {sorted(flat_g)} != {sorted(t_param_grads)}"
    for k, tg in t_param_grads.items():
        _close(f"grad wrt {k}", flat_g[k], tg, rtol, atol)
    flat_b = _tree.flatten(new_buffers) if t_buffers else {}
    for k, tb in t_new_buffers.items():
        _close(f"buffer {k}", flat_b[k], tb, rtol, atol)
    return {"out": np.asarray(out), "input_grads": [np.asarray(g) for g in g_xs],
            "param_grads": {k: np.asarray(v) for k, v in flat_g.items()},
            "params": t_params, "buffers": flat_b}



def check_uniform(sample: Any, bound: float) -> None:
    """Assert ``sample`` looks like ``U(-bound, bound)``: inside the bounds, reaching near
    them, mean and variance (``bound^2/3``) within 5 standard errors."""
    s = np.asarray(sample, np.float64).ravel()
    n = s.size
    assert n >= 1000, "need at least 1000 draws for a statistical check"
    assert s.min() >= -bound and s.max() <= bound, (s.min(), s.max(), bound)
    assert s.max() > bound * (1 - 20 / n) and s.min() < -bound * (1 - 20 / n)
    var = bound**2 / 3
    assert abs(s.mean()) < 5 * np.sqrt(var / n), (s.mean(), bound)
    # Var of x^2 for U(-b, b) is b^4/5 - b^4/9 = 4 b^4 / 45
    assert abs(np.mean(s**2) - var) < 5 * np.sqrt(4 * bound**4 / 45 / n), (np.mean(s**2), var)


# --------------------------------------------------------------------------- keyword arguments
def _jnp_of(t: Any) -> Any:
    return jnp.asarray(t.detach().numpy()) if isinstance(t, torch.Tensor) else t


class _TorchCall(torch.nn.Module):
    """A torch module called with fixed keyword arguments; tuple outputs concatenated."""

    def __init__(self, inner, kw):
        super().__init__()
        self.inner, self.kw = inner, kw

    def forward(self, *xs):
        out = self.inner(*xs, **self.kw)
        if isinstance(out, tuple):
            return torch.cat([o.reshape(-1) for o in out if o is not None])
        return out


class _FnnCall(_fnn_nn.Module):
    def __init__(self, inner, kw):
        self.inner, self.kw = inner, kw

    def forward(self, params, *xs):
        out = self.inner(params["inner"], *xs, **self.kw)
        if isinstance(out, tuple):
            return jnp.concatenate([o.reshape(-1) for o in out if o is not None])
        return out


def check_call(fnn_mod: Any, torch_mod: torch.nn.Module, inputs: Any, kw_torch: dict,
               dtype: Any, *, train: bool = False, perturb: bool = True,
               tol: tuple[float, float] = (2e-5, 2e-6)) -> dict[str, Any]:
    """:func:`check_layer` on ``module(*inputs, **kw)``: keyword arguments (masks) given as
    torch tensors (converted for fnn, floats cast to ``dtype``), tuple outputs (MHA's
    ``(output, weights)``) compared element by element (``None`` skipped). ``perturb``
    adds noise to torch's parameters so zero biases and identical layers hide no mistake.
    ``tol``: float32 ``(rtol, atol)``. Returns check_layer's dict."""
    tdtype = torch.float64 if dtype == np.float64 else torch.float32
    torch_mod = torch_mod.to(tdtype)
    if perturb:
        g = torch.Generator().manual_seed(0)
        with torch.no_grad():
            for p in torch_mod.parameters():
                p.add_(0.1 * torch.randn(p.shape, generator=g, dtype=tdtype))
    kw_fnn = {k: _jnp_of(v.to(tdtype) if isinstance(v, torch.Tensor) and v.is_floating_point() else v)
              for k, v in kw_torch.items()}
    kw_torch = {k: v.to(tdtype) if isinstance(v, torch.Tensor) and v.is_floating_point() else v
                for k, v in kw_torch.items()}
    rtol, atol = (None, None) if dtype == np.float64 else tol
    return check_layer(_FnnCall(fnn_mod, kw_fnn), _TorchCall(torch_mod, kw_torch), inputs, dtype,
                       rtol, atol, train=train)
