"""L-BFGS with torch's exact semantics: ``torch.optim.LBFGS`` as one jitted ``while_loop``.

One ``update`` is one torch ``optimizer.step(closure)``: up to ``max_iter`` quasi-Newton
iterations, evaluating the loss through ``value_fn`` as often as torch calls the closure.
Use it through :func:`fnn.optim.step`, torch's ``optimizer.step(closure)``::

    opt = optim.lbfgs(lr=1, line_search_fn="strong_wolfe")
    state = opt.init(params)
    params, state, loss = optim.step(opt, loss_fn, params, state)   # loss at the old params

**State** (:class:`LBFGSState`) mirrors torch's ``optimizer.state[first_param]``:
``func_evals``, ``n_iter``, ``d``, ``t``, ``H_diag``, ``prev_flat_grad``, ``prev_loss``
are torch's keys; torch's lists ``old_dirs`` (the ``y`` = gradient differences),
``old_stps`` (the ``s`` = steps) and ``ro`` (``1/y.s``) are fixed-size ring buffers::

    torch old_dirs[i] == state.old_dirs[(state.history_start + i) % history_size]
    for i in range(state.history_len)          # the same for old_stps and ro

torch's scratch list ``al`` is not kept (it is recomputed before every use).

**Flattening order.** The flat vectors (``d``, ``prev_flat_grad``, the history rows)
concatenate the parameters in ``jax.tree.leaves`` order (dict keys sorted: the only order
that survives ``jax.jit``, whose outputs rebuild dicts with sorted keys), each raveled
row-major; torch's ``_gather_flat_grad`` concatenates them in ``module.parameters()``
order. The iterates do not depend on the order (the algorithm only takes dot products,
norms and elementwise steps), and :mod:`fnn.interop.torch` permutes the vectors between
the two layouts when converting state.
"""

from __future__ import annotations

import functools
import numbers
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax import lax

from .._check import is_concrete
from ._engine import hyper_dtype
from ._line_search import dot, rounded, scalar_loss, strong_wolfe
from ._validation import check_lr
from .spec import OptimizerSpec, StateSpec, register

__all__ = ["lbfgs", "LBFGSState"]

Array = jax.Array
PyTree = Any
LINE_SEARCH_FNS = (None, "strong_wolfe")


class LBFGSState(NamedTuple):
    """torch's LBFGS state, fixed-size (see the module docstring for the ring buffers).

    ``param_groups``: ``({"lr": lr},)``, the single group (``optim.get_lr``/``set_lr`` and
    the schedulers act on it). ``func_evals``/``n_iter``: closure calls and iterations
    since ``init`` (torch's counters). ``t``/``H_diag`` in the parameter dtype;
    ``prev_loss`` in the hyperparameter dtype (a Python float in torch).
    """

    param_groups: tuple[dict[str, Array]]
    func_evals: Array
    n_iter: Array
    d: Array
    t: Array
    H_diag: Array
    prev_flat_grad: Array
    prev_loss: Array
    old_dirs: Array
    old_stps: Array
    ro: Array
    history_start: Array
    history_len: Array


# -- flat parameter vector, in jax.tree.leaves order ---------------------------------------

def ravel(params: PyTree) -> tuple[Array, Callable[[Array], PyTree]]:
    """``(flat, unravel)``: the parameters as one vector, and its inverse.

    The order is described in the module docstring (``jax.tree.leaves`` order). Leaves are
    promoted to their common dtype (as ``torch.cat``); ``unravel`` restores
    each leaf's shape and dtype.
    """
    leaves, treedef = jax.tree_util.tree_flatten(params)
    if not leaves:
        raise ValueError("lbfgs: got an empty parameter pytree (torch: optimizer got an "
                         "empty parameter list)")
    leaves = [jnp.asarray(leaf) for leaf in leaves]
    dtype = jnp.result_type(*leaves)
    if not jnp.issubdtype(dtype, jnp.floating):
        raise TypeError(f"lbfgs: parameters must be floating point, got {dtype}")
    flat = jnp.concatenate([leaf.ravel().astype(dtype) for leaf in leaves])
    offsets = np.cumsum([0, *(leaf.size for leaf in leaves)])

    def unravel(v: Array) -> PyTree:
        out = [v[offsets[i]:offsets[i + 1]].reshape(leaf.shape).astype(leaf.dtype)
               for i, leaf in enumerate(leaves)]
        return jax.tree_util.tree_unflatten(treedef, out)

    return flat, unravel


# -- the algorithm ------------------------------------------------------------------------

class _History(NamedTuple):
    old_dirs: Array
    old_stps: Array
    ro: Array
    start: Array
    length: Array


def _append(h: _History, y: Array, s: Array, ro: Array, store: Array) -> _History:
    """torch's ``pop(0)`` when full, then ``append``; a no-op unless ``store``."""
    m = h.ro.shape[0]
    pos = (h.start + h.length) % m  # == start when full: overwrite the oldest
    full = h.length == m
    row = lambda buf, v: buf.at[pos].set(jnp.where(store, v, buf[pos]))
    return _History(row(h.old_dirs, y), row(h.old_stps, s), row(h.ro, ro),
                    jnp.where(store & full, (h.start + 1) % m, h.start),
                    jnp.where(store & ~full, h.length + 1, h.length))


def _two_loop(h: _History, g: Array, H_diag: Array) -> Array:
    """The L-BFGS two-loop recursion: ``d = -H g`` (torch's loop, one buffer ``q``/``r``)."""
    m = h.ro.shape[0]
    at = lambda i: (h.start + i) % m

    def backward(j, carry):
        q, al = carry
        i = h.length - 1 - j
        a = rounded(dot(h.old_stps[at(i)], q) * h.ro[at(i)])
        return q - a * h.old_dirs[at(i)], al.at[i].set(a)

    q, al = lax.fori_loop(0, h.length, backward, (-g, jnp.zeros_like(h.ro)))

    def forward(i, r):
        be_i = rounded(dot(h.old_dirs[at(i)], r) * h.ro[at(i)])
        return r + (al[i] - be_i) * h.old_stps[at(i)]

    return lax.fori_loop(0, h.length, forward, q * H_diag)


class _Carry(NamedTuple):
    x: Array
    g: Array
    loss: Array
    n_iter_local: Array
    current_evals: Array
    stop: Array
    n_iter: Array
    func_evals: Array
    d: Array
    t: Array
    H_diag: Array
    prev_flat_grad: Array
    prev_loss: Array
    hist: _History


def lbfgs(
    lr: Any = 1,
    max_iter: int = 20,
    max_eval: int | None = None,
    tolerance_grad: float = 1e-7,
    tolerance_change: float = 1e-9,
    history_size: int = 100,
    line_search_fn: str | None = None,
    *,
    param_groups: Sequence[Mapping[str, Any]] | None = None,
) -> optax.GradientTransformationExtraArgs:
    r"""L-BFGS, exactly ``torch.optim.LBFGS``: one ``update`` is one ``step(closure)``.

    Each update runs up to ``max_iter`` iterations (and about ``max_eval`` loss
    evaluations, default ``max_iter * 5 // 4``) of

    .. math::
        d_k = -H_k g_k,\qquad x_{k+1} = x_k + t_k d_k,

    where :math:`H_k g_k` is the two-loop recursion over the last ``history_size`` pairs
    :math:`s_i = t_i d_i`, :math:`y_i = g_{i+1} - g_i` (a pair is stored only if
    :math:`y^\top s > 10^{-10}`) with :math:`H_0 = \frac{y^\top s}{y^\top y} I` from the
    newest pair. The very first iteration is a gradient step of length
    :math:`t = \min(1, 1/\lVert g\rVert_1)\,\mathrm{lr}`; later ones take ``t = lr``
    (``line_search_fn=None``) or a strong-Wolfe line search from ``t = lr``
    (``"strong_wolfe"``, :math:`c_1 = 10^{-4}`, :math:`c_2 = 0.9`, cubic interpolation).
    A step stops early when :math:`\max|g| \le` ``tolerance_grad`` (before moving, if it
    holds at the start), when :math:`g^\top d > -` ``tolerance_change``, when
    :math:`\max|t d| \le` ``tolerance_change`` or when the loss changes by less than
    ``tolerance_change``. The history, ``d``, ``t`` and the counters carry over to the
    next update. Without a line search the last iteration moves without re-evaluating.

    ``update(grads, state, params, *, value_fn, value=None, grad=None, **extra)``:
    ``value_fn(params) -> scalar loss`` is the closure; ``value``/``grad`` (the loss and
    gradient at ``params``, as :func:`fnn.optim.step` passes them) save the first
    evaluation: without ``value`` it calls ``value_fn``; without ``grad`` it uses
    ``grads``. Returns ``new_params - params``. Everything runs in one
    ``lax.while_loop``: jit, grad-free, vmap-able. The module docstring describes the state,
    its flattening order and its mapping to torch's.

    torch: ``torch.optim.LBFGS(params, lr=1, max_iter=20, max_eval=None,
    tolerance_grad=1e-7, tolerance_change=1e-9, history_size=100, line_search_fn=None)``.
    Differences: an unknown ``line_search_fn`` raises here, at construction (torch raises
    ``RuntimeError("only 'strong_wolfe' is supported")`` at the first step); only ``lr``
    lives in the state (the rest are static). Papers: Liu & Nocedal, "On the limited
    memory BFGS method for large scale optimization" (Math. Prog. 1989); Nocedal & Wright,
    *Numerical Optimization* (2006), algorithms 7.4, 3.5, 3.6. Unlike ``optax.lbfgs``
    (one iteration per update, no curvature filter, L2 first step) this is torch's
    algorithm.
    """
    max_iter, max_eval, history_size = _check_args(lr, max_iter, max_eval, history_size,
                                                   line_search_fn, param_groups)
    cfg = _Config(max_iter, max_eval, tolerance_grad, tolerance_change, history_size,
                  line_search_fn)

    def init(params: PyTree) -> LBFGSState:
        return _init_state(params, lr, history_size)

    def update(updates: PyTree, state: LBFGSState, params: PyTree | None = None, *,
               value_fn: Callable[[PyTree], Array], value: Any = None, grad: PyTree = None,
               **extra: Any) -> tuple[PyTree, LBFGSState]:
        del extra
        if params is None:
            raise ValueError("lbfgs needs the current parameters: "
                             "opt.update(grads, state, params, value_fn=loss_fn)")
        if not isinstance(state, LBFGSState):
            raise TypeError(f"lbfgs.update expects the LBFGSState made by its init, "
                            f"got {type(state).__name__}")
        x0, unravel = ravel(params)
        pdt, hdt = x0.dtype, hyper_dtype()

        def evaluate(x: Array) -> tuple[Array, Array]:
            """torch's ``loss = float(closure()); flat_grad = self._gather_flat_grad()``."""
            v, gp = jax.value_and_grad(lambda p: scalar_loss(value_fn(p), "lbfgs"))(unravel(x))
            return v.astype(hdt), ravel(gp)[0].astype(pdt)

        if value is None and grad is None and updates is None:
            loss0, g0 = evaluate(x0)
        else:
            loss0 = scalar_loss(value_fn(params) if value is None else value, "lbfgs").astype(hdt)
            g0 = ravel(updates if grad is None else grad)[0].astype(pdt)
        lr_p = state.param_groups[0]["lr"].astype(pdt)
        c = lax.while_loop(functools.partial(_running, cfg),
                           functools.partial(_iteration, cfg, evaluate, lr_p),
                           _start(cfg, state, x0, loss0, g0))
        deltas = jax.tree_util.tree_map(lambda new, old: (new - old).astype(jnp.asarray(old).dtype),
                                        unravel(c.x), params)
        return deltas, _finish(state, c)

    register(update, OptimizerSpec(
        "LBFGS", StateSpec(step="none"),
        (dict(lr=lr, max_iter=max_iter, max_eval=max_eval, tolerance_grad=tolerance_grad,
              tolerance_change=tolerance_change, history_size=history_size,
              line_search_fn=line_search_fn),), ()))
    return optax.GradientTransformationExtraArgs(init, update)


class _Config(NamedTuple):
    """The static arguments of :func:`lbfgs` (``max_eval`` resolved)."""

    max_iter: int
    max_eval: int
    tolerance_grad: float
    tolerance_change: float
    history_size: int
    line_search_fn: str | None


def _check_args(lr: Any, max_iter: Any, max_eval: Any, history_size: Any,
                line_search_fn: Any, param_groups: Any) -> tuple[int, int, int]:
    """torch's checks (and fnn's type checks); ``(max_iter, max_eval, history_size)``."""
    if param_groups:
        raise ValueError("LBFGS doesn't support per-parameter options (parameter groups)")
    check_lr(lr)
    if callable(lr) or not (isinstance(lr, numbers.Number) or is_concrete(lr)
                            or isinstance(lr, jax.core.Tracer)):
        raise TypeError(f"lbfgs: lr must be a number (change it between steps with "
                        f"optim.set_lr or a scheduler), got {type(lr).__name__}")
    if line_search_fn not in LINE_SEARCH_FNS:
        raise ValueError(f"only 'strong_wolfe' is supported: lbfgs line_search_fn must be one "
                         f"of {LINE_SEARCH_FNS}, got {line_search_fn!r}")
    for name, v, lo in (("max_iter", max_iter, 0), ("history_size", history_size, 1),
                        ("max_eval", max_eval, 0)):
        if v is None and name == "max_eval":
            continue
        if isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < lo:
            raise ValueError(f"lbfgs: {name} must be an int >= {lo}, got {v!r}")
    if max_eval is None:
        max_eval = max_iter * 5 // 4
    return int(max_iter), int(max_eval), int(history_size)


def _init_state(params: PyTree, lr: Any, history_size: int) -> LBFGSState:
    flat, _ = ravel(params)
    n, pdt, hdt = flat.shape[0], flat.dtype, hyper_dtype()
    zeros_i = jnp.zeros((), jnp.int32)
    return LBFGSState(
        param_groups=({"lr": jnp.asarray(lr, hdt).reshape(())},),
        func_evals=zeros_i, n_iter=zeros_i,
        d=jnp.zeros((n,), pdt), t=jnp.zeros((), pdt), H_diag=jnp.ones((), pdt),
        prev_flat_grad=jnp.zeros((n,), pdt), prev_loss=jnp.zeros((), hdt),
        old_dirs=jnp.zeros((history_size, n), pdt), old_stps=jnp.zeros((history_size, n), pdt),
        ro=jnp.zeros((history_size,), pdt), history_start=zeros_i, history_len=zeros_i)


Evaluate = Callable[[Array], tuple[Array, Array]]  # x -> (loss, flat gradient)


def _max_abs(v: Array) -> Array:
    return jnp.max(jnp.abs(v))


def _direction(c: _Carry) -> tuple[Array, Array, _History]:
    """Store the newest ``(y, s)`` pair if ``y.s > 1e-10``, then ``d = -H g``."""
    y = c.g - c.prev_flat_grad
    s = c.d * c.t
    ys = dot(y, s)
    store = ys > 1e-10
    hist = _append(c.hist, y, s, 1.0 / ys, store)
    H_diag = jnp.where(store, ys / dot(y, y), c.H_diag)
    return _two_loop(hist, c.g, H_diag), H_diag, hist


def _first_direction(c: _Carry) -> tuple[Array, Array, _History]:
    """The first iteration: ``d = -g``, ``H_diag = 1``, the history emptied."""
    return -c.g, jnp.ones((), c.g.dtype), c.hist._replace(start=c.hist.start * 0,
                                                          length=c.hist.length * 0)


def _fixed_step(cfg: _Config, evaluate: Evaluate, c: _Carry, t: Array, d: Array,
                n_iter_local: Array):
    """``x + t d`` with a fixed ``t``; the loss re-evaluated except on the last iteration."""
    x = c.x + t * d

    def reevaluate(_):
        loss, g = evaluate(x)
        return loss, g, _max_abs(g) <= cfg.tolerance_grad, jnp.ones((), jnp.int32)

    def last(_):  # torch does not re-evaluate on the last iteration
        return c.loss, c.g, jnp.zeros((), bool), jnp.zeros((), jnp.int32)

    loss, g, opt_cond, evals = lax.cond(n_iter_local != cfg.max_iter, reevaluate, last, None)
    return x, g, loss, t, opt_cond, evals


def _wolfe_step(cfg: _Config, evaluate: Evaluate, c: _Carry, t: Array, d: Array, gtd: Array):
    """``x + t d`` with ``t`` from the strong-Wolfe line search started at ``t``."""
    loss, g, t, evals = strong_wolfe(
        lambda tt: evaluate(c.x + tt * d), t, d, c.loss, c.g, gtd,
        tolerance_change=cfg.tolerance_change, max_ls=cfg.max_eval - c.current_evals)
    return c.x + t * d, g, loss, t, _max_abs(g) <= cfg.tolerance_grad, evals


def _iteration(cfg: _Config, evaluate: Evaluate, lr: Array, c: _Carry) -> _Carry:
    """One iteration of torch's ``for`` loop: direction, step length, move, stop tests."""
    n_iter_local, n_iter = c.n_iter_local + 1, c.n_iter + 1
    first = n_iter == 1
    d, H_diag, hist = lax.cond(first, _first_direction, _direction, c)
    inv_l1 = 1.0 / jnp.sum(jnp.abs(c.g))
    t = jnp.where(first, jnp.where(inv_l1 < 1.0, inv_l1 * lr, lr), lr)
    gtd = dot(c.g, d)
    no_descent = gtd > -cfg.tolerance_change  # torch breaks before moving

    def moved(_):
        if cfg.line_search_fn is None:
            return _fixed_step(cfg, evaluate, c, t, d, n_iter_local)
        return _wolfe_step(cfg, evaluate, c, t, d, gtd)

    def stay(_):
        return c.x, c.g, c.loss, t, jnp.zeros((), bool), jnp.zeros((), jnp.int32)

    x, g, loss, t, opt_cond, ls_evals = lax.cond(no_descent, stay, moved, None)
    current_evals = c.current_evals + ls_evals
    stop = (no_descent | (n_iter_local == cfg.max_iter) | (current_evals >= cfg.max_eval)
            | opt_cond | (_max_abs(d * t) <= cfg.tolerance_change)
            | (jnp.abs(loss - c.loss) < cfg.tolerance_change))
    return _Carry(x, g, loss, n_iter_local, current_evals, stop, n_iter,
                  c.func_evals + ls_evals, d, t, H_diag, c.g, c.loss, hist)


def _running(cfg: _Config, c: _Carry) -> Array:
    return ~c.stop & (c.n_iter_local < cfg.max_iter)


def _start(cfg: _Config, s: LBFGSState, x0: Array, loss0: Array, g0: Array) -> _Carry:
    """The loop's carry before the first iteration (the first evaluation counted)."""
    return _Carry(x0, g0, loss0, jnp.zeros((), jnp.int32), jnp.ones((), jnp.int32),
                  _max_abs(g0) <= cfg.tolerance_grad, s.n_iter, s.func_evals + 1, s.d, s.t,
                  s.H_diag, s.prev_flat_grad, s.prev_loss,
                  _History(s.old_dirs, s.old_stps, s.ro, s.history_start, s.history_len))


def _finish(s: LBFGSState, c: _Carry) -> LBFGSState:
    return LBFGSState(s.param_groups, c.func_evals, c.n_iter, c.d, c.t, c.H_diag,
                      c.prev_flat_grad, c.prev_loss, c.hist.old_dirs, c.hist.old_stps,
                      c.hist.ro, c.hist.start, c.hist.length)
