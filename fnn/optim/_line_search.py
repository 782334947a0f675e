"""torch's strong-Wolfe line search and cubic interpolation, traceable (``lax.while_loop``).

A line-for-line port of ``torch.optim.lbfgs._strong_wolfe`` and ``_cubic_interpolate``
(themselves ports of ``lswolfe.lua`` and ``polyinterp.lua`` from torch7's optim, after
Mark Schmidt's minFunc), for :func:`fnn.optim.lbfgs`.

Precision follows torch: function values ``f`` are Python floats in torch (kept here in
:func:`~fnn.optim._engine.hyper_dtype`, float64 under x64); step lengths ``t``, slopes
``gtd`` and gradients are tensors in the parameter dtype. Where torch mixes the two, the
float is rounded to the parameter dtype first (torch's wrapped-number promotion). In
float64 every quantity is a double, as in torch.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
from jax import lax

__all__ = ["cubic_interpolate", "strong_wolfe", "scalar_loss", "dot", "rounded"]

_SMALL_DOT = 16

Array = jax.Array


def scalar_loss(value: Any, who: str) -> Array:
    """``value`` as a 0-d array, or a clear error naming ``who`` for a non-scalar loss."""
    value = jnp.asarray(value)
    if value.shape != ():
        raise ValueError(f"{who}: the loss function must return a scalar (0-d) loss, got an "
                         f"array of shape {value.shape}; reduce it (e.g. .sum() or .mean())")
    return value


def rounded(x: Any) -> Any:
    """Round ``x`` here, as torch's separate kernel does: XLA may not fuse it into an FMA.

    XLA:CPU contracts ``a*b + c`` into a fused multiply-add where torch rounds ``a*b``
    first (two kernels). An optimization barrier on the product keeps torch's rounding.
    """
    return lax.optimization_barrier(x)


def dot(a: Array, b: Array) -> Array:
    """``a . b`` for 1-D vectors, rounded as torch's CPU ``Tensor.dot`` for short vectors.

    torch's float64 ``dot`` (MKL ``ddot``, AVX-512) keeps 8 partial sums, adds products
    without fused multiply-adds and reduces the lanes pairwise (measured for n <= 16).
    Matching it bit for bit keeps 2-D problems on torch's exact path; an optimization
    barrier stops XLA from contracting the products into FMAs. Longer vectors use XLA's
    own ``dot`` (ulp-level differences from torch).
    """
    n = a.shape[0]
    if n > _SMALL_DOT:
        return a @ b
    p = rounded(jnp.pad(a * b, (0, _SMALL_DOT - n)))
    acc = p[:8] + p[8:]
    while acc.shape[0] > 1:
        half = acc.shape[0] // 2
        acc = acc[:half] + acc[half:]
    return acc[0]


def _pick(cond: Array, a: Any, b: Any) -> Any:
    """``a if cond else b`` on pytrees of arrays (both branches already computed)."""
    return jax.tree_util.tree_map(lambda u, v: jnp.where(cond, u, v), a, b)


def cubic_interpolate(x1: Array, f1: Array, g1: Array, x2: Array, f2: Array, g2: Array,
                      bounds: tuple[Array, Array] | None = None) -> Array:
    r"""Minimiser of the cubic through ``(x1, f1, g1)`` and ``(x2, f2, g2)``, clamped to bounds.

    .. math::
        d_1 = g_1 + g_2 - 3\frac{f_1 - f_2}{x_1 - x_2},\quad d_2 = \sqrt{d_1^2 - g_1 g_2},\quad
        x^* = x_2 - (x_2 - x_1)\frac{g_2 + d_2 - d_1}{g_2 - g_1 + 2 d_2}

    (with the roles of the points swapped when ``x1 > x2``), clamped to ``bounds`` (default
    ``[min(x1, x2), max(x1, x2)]``); the bisection of the bounds when ``d_1^2 < g_1 g_2``.
    torch: ``torch.optim.lbfgs._cubic_interpolate``. ``x``/``g`` are in the parameter dtype,
    ``f`` in the hyperparameter dtype.
    """
    dt = jnp.result_type(x1, x2, g1, g2)
    x1, x2, g1, g2 = (jnp.asarray(v, dt) for v in (x1, x2, g1, g2))
    if bounds is None:
        lo, hi = jnp.where(x1 <= x2, x1, x2), jnp.where(x1 <= x2, x2, x1)
    else:
        lo, hi = (jnp.asarray(b, dt) for b in bounds)
    d1 = g1 + g2 - (3 * (f1 - f2)).astype(dt) / (x1 - x2)
    d2_square = rounded(d1**2) - rounded(g1 * g2)
    d2 = jnp.sqrt(jnp.where(d2_square >= 0, d2_square, 0))
    left = x2 - rounded((x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2 * d2)))
    right = x1 - rounded((x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2 * d2)))
    min_pos = jnp.where(x1 <= x2, left, right)
    clamped = jnp.where(lo > min_pos, lo, min_pos)  # Python's max(min_pos, lo)
    clamped = jnp.where(hi < clamped, hi, clamped)  # Python's min(., hi)
    return jnp.where(d2_square >= 0, clamped, (lo + hi) / 2)


class _Bracketing(NamedTuple):
    t: Array
    f_new: Array
    g_new: Array
    gtd_new: Array
    t_prev: Array
    f_prev: Array
    g_prev: Array
    gtd_prev: Array
    ls_iter: Array
    evals: Array
    status: Array  # 0 searching, 1 bracket [t_prev, t], 2 done at [t]


class _Zoom(NamedTuple):
    b: Array      # (2,) the bracket's step lengths
    bf: Array     # (2,) f at the bracket ends
    bg: Array     # (2, n) gradients at the bracket ends
    bgtd: Array   # (2,) slopes at the bracket ends
    low: Array    # index of the low end (torch's low_pos); the high end is 1 - low
    done: Array
    insuf_progress: Array
    ls_iter: Array
    evals: Array


def strong_wolfe(obj_func: Callable[[Array], tuple[Array, Array]], t: Array, d: Array, f: Array,
                 g: Array, gtd: Array, c1: float = 1e-4, c2: float = 0.9,
                 tolerance_change: float = 1e-9, max_ls: Any = 25
                 ) -> tuple[Array, Array, Array, Array]:
    r"""Bracket-and-zoom line search for the strong Wolfe conditions, as torch does it.

    Finds ``t`` along ``d`` with :math:`f(x + td) \le f + c_1 t\, g^\top d` and
    :math:`|g(x + td)^\top d| \le -c_2\, g^\top d`, extrapolating by cubic interpolation
    (within ``[t + 0.01(t - t_prev), 10t]``) until the minimum is bracketed, then shrinking
    the bracket by safeguarded cubic interpolation. At most ``max_ls`` iterations
    (``max_ls + 1`` evaluations); gives up when the bracket is shorter than
    ``tolerance_change / max|d|``. ``obj_func(t) -> (f(x + t d), grad(x + t d))``.

    Returns ``(f_new, g_new, t, ls_func_evals)``, the low end of the final bracket.
    torch: ``torch.optim.lbfgs._strong_wolfe`` (from torch7's ``lswolfe.lua``; Nocedal &
    Wright, *Numerical Optimization*, 2nd ed., algorithms 3.5 and 3.6).
    """
    w = _Search(obj_func, d, f, g, gtd, c1, c2, tolerance_change, max_ls,
                jnp.max(jnp.abs(d)))
    t = jnp.asarray(t, d.dtype)
    f_new, g_new = obj_func(t)
    zero_t = jnp.zeros((), d.dtype)
    one = jnp.ones((), jnp.int32)
    zero = jnp.zeros((), jnp.int32)
    s = lax.while_loop(functools.partial(_bracketing, w), functools.partial(_extrapolate, w),
                       _Bracketing(t, f_new, g_new, dot(g_new, d), zero_t, f, g, gtd, zero, one,
                                   zero))
    z = lax.while_loop(functools.partial(_zooming, w), functools.partial(_zoom_step, w),
                       _zoom_start(w, s))
    return z.bf[z.low], z.bg[z.low], z.b[z.low], z.evals


class _Search(NamedTuple):
    """What every line-search iteration reads: the objective along ``d`` and the start."""

    obj_func: Callable[[Array], tuple[Array, Array]]
    d: Array
    f: Array
    g: Array
    gtd: Array
    c1: float
    c2: float
    tolerance_change: float
    max_ls: Any
    d_norm: Array


def _armijo_fails(w: _Search, t: Array, f_new: Array) -> Array:
    # torch: f_new > (f + c1 * t * gtd); the float f joins a tensor expression
    pdt = w.d.dtype
    return f_new.astype(pdt) > w.f.astype(pdt) + rounded(w.c1 * t * w.gtd)


def _curvature_ok(w: _Search, gtd_new: Array) -> Array:
    return jnp.abs(gtd_new) <= -w.c2 * w.gtd


# -- bracketing ---------------------------------------------------------------------------
def _bracketing(w: _Search, s: _Bracketing) -> Array:
    return (s.status == 0) & (s.ls_iter < w.max_ls)


def _extrapolate(w: _Search, s: _Bracketing) -> _Bracketing:
    """Stop with a bracket or a point satisfying the conditions, else extrapolate."""
    bracket = _armijo_fails(w, s.t, s.f_new) | ((s.ls_iter > 1) & (s.f_new >= s.f_prev))
    done = ~bracket & _curvature_ok(w, s.gtd_new)
    bracket = bracket | (~done & (s.gtd_new >= 0))
    status = jnp.where(bracket, 1, jnp.where(done, 2, 0)).astype(jnp.int32)

    def extrapolate(s: _Bracketing) -> _Bracketing:
        min_step = s.t + rounded(0.01 * (s.t - s.t_prev))
        t_new = cubic_interpolate(s.t_prev, s.f_prev, s.gtd_prev, s.t, s.f_new, s.gtd_new,
                                  bounds=(min_step, s.t * 10))
        f_new, g_new = w.obj_func(t_new)
        return _Bracketing(t_new, f_new, g_new, dot(g_new, w.d), s.t, s.f_new, s.g_new,
                           s.gtd_new, s.ls_iter + 1, s.evals + 1, s.status)

    return lax.cond(status == 0, extrapolate, lambda s: s._replace(status=status), s)


def _zoom_start(w: _Search, s: _Bracketing) -> _Zoom:
    """The bracket: ``[t_prev, t]``, the single point ``[t]`` (done), or ``[0, t]`` at the
    iteration cap."""
    capped = s.status == 0
    b0, bf0, bg0, bgtd0 = _pick(s.status == 2, (s.t, s.f_new, s.g_new, s.gtd_new),
                                _pick(capped, (jnp.zeros((), w.d.dtype), w.f, w.g, w.gtd),
                                      (s.t_prev, s.f_prev, s.g_prev, s.gtd_prev)))
    bf = jnp.stack([bf0, s.f_new])
    return _Zoom(jnp.stack([b0, s.t]), bf, jnp.stack([bg0, s.g_new]),
                 jnp.stack([bgtd0, s.gtd_new]), jnp.where(bf[0] <= bf[1], 0, 1).astype(jnp.int32),
                 s.status == 2, jnp.zeros((), bool), s.ls_iter, s.evals)


# -- zoom ---------------------------------------------------------------------------------
def _zooming(w: _Search, z: _Zoom) -> Array:
    too_small = jnp.abs(z.b[1] - z.b[0]) * w.d_norm < w.tolerance_change
    return ~z.done & (z.ls_iter < w.max_ls) & ~too_small


def _zoom_point(z: _Zoom) -> tuple[Array, Array]:
    """The next trial point: cubic interpolation in the bracket, moved away from its ends
    when too close (torch's ``insuf_progress`` safeguard); ``(t, insuf_progress)``."""
    b = z.b
    t = cubic_interpolate(b[0], z.bf[0], z.bgtd[0], b[1], z.bf[1], z.bgtd[1])
    b_max = jnp.where(b[1] > b[0], b[1], b[0])
    b_min = jnp.where(b[1] < b[0], b[1], b[0])
    eps = rounded(0.1 * (b_max - b_min))
    near_edge = jnp.minimum(b_max - t, t - b_min) < eps
    move = near_edge & (z.insuf_progress | (t >= b_max) | (t <= b_min))
    moved = jnp.where(jnp.abs(t - b_max) < jnp.abs(t - b_min), b_max - eps, b_min + eps)
    return jnp.where(move, moved, t), near_edge & ~move


def _zoom_step(w: _Search, z: _Zoom) -> _Zoom:
    """Evaluate the next point and shrink the bracket around the low end."""
    low = z.low
    high = 1 - low
    t, insuf_progress = _zoom_point(z)
    f_new, g_new = w.obj_func(t)
    gtd_new = dot(g_new, w.d)
    new = (t, f_new, g_new, gtd_new)
    arrs = (z.b, z.bf, z.bg, z.bgtd)
    at_low = tuple(a[low] for a in arrs)

    def put(arrs, i, vals):
        return tuple(a.at[i].set(v) for a, v in zip(arrs, vals))

    worse = _armijo_fails(w, t, f_new) | (f_new >= z.bf[low])
    # worse: the new point replaces the high end, and low/high are re-sorted
    arrs_w = put(arrs, high, new)
    low_w = jnp.where(arrs_w[1][0] <= arrs_w[1][1], 0, 1).astype(jnp.int32)
    # better: it becomes the low end (the old low moves to high if the slope says so)
    done = _curvature_ok(w, gtd_new)
    flip = ~done & (gtd_new * (z.b[high] - z.b[low]) >= 0)
    arrs_b = put(_pick(flip, put(arrs, high, at_low), arrs), low, new)
    b, bf, bg, bgtd = _pick(worse, arrs_w, arrs_b)
    return _Zoom(b, bf, bg, bgtd, jnp.where(worse, low_w, low), ~worse & done, insuf_progress,
                 z.ls_iter + 1, z.evals + 1)
