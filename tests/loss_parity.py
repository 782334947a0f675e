"""Shared torch-vs-fnn parity helpers for the loss tests.

``check_parity`` runs torch 2.13 and fnn on the same numpy inputs and compares the value
and the gradient with respect to every differentiable argument, for each reduction, in
float64 (``RTOL64``) and float32 (``RTOL32``). Gradients are of ``sum(out * v)`` with a
fixed random cotangent ``v``, so the unreduced ('none') outputs are checked element by
element, not only through their sum.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import torch

RTOL64 = 1e-10
# float32: torch's CPU exp/log/sqrt are not correctly rounded and reductions sum in a different
# order, so a few ulp per op accumulate; 2e-5 relative to the largest magnitude is a stated bound.
RTOL32 = 2e-5
REDUCTIONS = ("none", "mean", "sum")

Key = int | str


def _is_float(a: Any) -> bool:
    return isinstance(a, np.ndarray) and np.issubdtype(a.dtype, np.floating)


def _cast(a: Any, dtype: Any) -> Any:
    return a.astype(dtype) if _is_float(a) else a


def _cotangent(shape: tuple[int, ...]) -> np.ndarray:
    rng = np.random.default_rng(1234 + len(shape) + int(np.prod(shape)))
    return rng.standard_normal(shape) if shape else np.array(1.3)


def _split(args: Sequence[Any], kwargs: dict[str, Any], diff: Sequence[Key]):
    return [args[k] if isinstance(k, int) else kwargs[k] for k in diff]


def _merge(args: Sequence[Any], kwargs: dict[str, Any], diff: Sequence[Key], values: Sequence[Any]):
    args, kwargs = list(args), dict(kwargs)
    for k, v in zip(diff, values):
        if isinstance(k, int):
            args[k] = v
        else:
            kwargs[k] = v
    return args, kwargs


def run_torch(fn: Callable, args: Sequence[Any], kwargs: dict[str, Any], diff: Sequence[Key]):
    """torch value and grads of ``sum(out * v)`` w.r.t. the ``diff`` arguments."""
    to_t = lambda a: torch.from_numpy(np.array(a)) if isinstance(a, np.ndarray) else a
    targs = [to_t(a) for a in args]
    tkw = {k: to_t(v) for k, v in kwargs.items()}
    leaves = _split(targs, tkw, diff)
    for t in leaves:
        t.requires_grad_(True)
    out = fn(*targs, **tkw)
    v = torch.from_numpy(_cotangent(tuple(out.shape))).to(out.dtype)
    if leaves:
        (out * v).sum().backward()
    grads = [t.grad.numpy() if t.grad is not None else np.zeros(t.shape) for t in leaves]
    return out.detach().numpy(), grads


def run_fnn(fn: Callable, variants: Sequence[tuple[Sequence[Any], dict[str, Any], Sequence[Key]]]):
    """fnn values and grads of ``sum(out * v)`` w.r.t. the ``diff`` arguments, for several
    ``(args, kwargs, diff)`` variants at once: one jit (one compile) for all of them."""
    to_j = lambda a: jnp.asarray(a) if isinstance(a, np.ndarray) else a
    prepared = [([to_j(a) for a in args], {k: to_j(v) for k, v in kwargs.items()}, diff)
                for args, kwargs, diff in variants]

    def one(jargs, jkw, diff, leaves):
        def f(*leaves):
            a, kw = _merge(jargs, jkw, diff, leaves)
            out = fn(*a, **kw)
            return jnp.sum(out * _cotangent(tuple(out.shape)).astype(out.dtype)), out

        if not diff:
            return f()[1], ()
        (_, out), grads = jax.value_and_grad(f, argnums=tuple(range(len(diff))), has_aux=True)(
            *leaves)
        return out, grads

    def body(all_leaves):
        return [one(*p, leaves) for p, leaves in zip(prepared, all_leaves)]

    res = jax.jit(body)([_split(a, kw, d) for a, kw, d in prepared])
    return [(np.asarray(out), [np.asarray(g) for g in grads]) for out, grads in res]


def assert_close(got: np.ndarray, want: np.ndarray, rtol: float, what: str) -> None:
    """``|got - want| <= rtol * max(|want|, tiny)`` elementwise-relative to the largest entry."""
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    assert got.shape == want.shape, f"{what}: shape {got.shape} != torch {want.shape}"
    finite = np.isfinite(want)
    np.testing.assert_array_equal(np.isfinite(got), finite, err_msg=f"{what}: non-finite pattern")
    np.testing.assert_array_equal(got[~finite], want[~finite], err_msg=f"{what}: inf/nan values")
    scale = np.max(np.abs(want[finite]), initial=0.0)
    np.testing.assert_allclose(got[finite], want[finite], rtol=rtol, atol=rtol * max(scale, 1e-30),
                               err_msg=what)


def check_parity(fnn_fn: Callable, torch_fn: Callable, args: Sequence[Any],
                 kwargs: dict[str, Any] | None = None, diff: Sequence[Key] = (0,),
                 reductions: Sequence[str | None] = REDUCTIONS,
                 dtypes: Sequence[Any] = (np.float64, np.float32), rtol32: float = RTOL32) -> None:
    """Compare fnn against torch: values and grads, each reduction in float64, and the first
    reduction (the unreduced 'none' by default, element by element) in float32.

    ``args``/``kwargs`` hold float64 numpy arrays (cast per dtype), integer arrays (left alone)
    and plain Python values. ``diff`` names the differentiable arguments (positions or kwarg
    names). A ``None`` in ``reductions`` means: do not pass ``reduction`` at all.
    """
    kwargs = kwargs or {}
    variants, tags = [], []
    for dtype in dtypes:
        a = [_cast(x, dtype) for x in args]
        kw = {k: _cast(x, dtype) for k, x in kwargs.items()}
        for red in reductions if dtype == np.float64 else reductions[:1]:
            variants.append((a, dict(kw) if red is None else {**kw, "reduction": red}, diff))
            tags.append((dtype, f"{getattr(fnn_fn, '__name__', fnn_fn)} {np.dtype(dtype).name} "
                                f"reduction={red}"))
    wants = [run_torch(torch_fn, *v) for v in variants]
    for (dtype, tag), (want, want_g), (got, got_g) in zip(tags, wants, run_fnn(fnn_fn, variants)):
        rtol = RTOL64 if dtype == np.float64 else rtol32
        assert got.dtype == np.dtype(dtype), f"{tag}: dtype {got.dtype}"
        assert_close(got, want, rtol, f"{tag} value")
        for k, g, wg in zip(diff, got_g, want_g):
            assert_close(g, wg, rtol, f"{tag} grad[{k}]")


def check_jit_vmap(fn: Callable, args: Sequence[Any], kwargs: dict[str, Any] | None = None,
                   batch: int = 3, rtol: float = 1e-12) -> None:
    """``vmap(fn)`` over a new leading axis of every array argument equals the per-example
    results (the arguments are perturbed per example), all under one ``jit``. (``jit`` itself
    is covered by :func:`check_parity`, which runs fnn jitted against torch.)"""
    kwargs = kwargs or {}
    pos = [i for i, a in enumerate(args) if isinstance(a, np.ndarray)]

    def call(*arrays):
        full = [arrays[pos.index(i)] if i in pos else a for i, a in enumerate(args)]
        return fn(*full, **kwargs)

    scales = [1.0 - 0.1 * b for b in range(batch)]
    stacked = [jnp.stack([args[i] * s if args[i].dtype.kind == "f" else jnp.asarray(args[i])
                          for s in scales]) for i in pos]

    @jax.jit
    def both(stacked):
        return jax.vmap(call)(*stacked), [call(*[x[b] for x in stacked]) for b in range(batch)]

    out, singles = both(stacked)
    for b in range(batch):
        np.testing.assert_allclose(np.asarray(out[b]), np.asarray(singles[b]), rtol=rtol,
                                   atol=rtol, err_msg=f"vmap example {b}")
