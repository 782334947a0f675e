"""``fnn.train``: jitted training steps, whole epochs under ``lax.scan``, evaluation, ``fit``.

Everything a torch training loop keeps in objects lives in one pytree, :class:`TrainState`
(params, optimizer state, buffers, step count, RNG key). The pieces, smallest first::

    state = train.init_state(params, opt, buffers=model.init_buffers(), key=jax.random.key(0))
    step = train.make_train_step(model, opt, loss=losses.cross_entropy)   # jitted, donating
    state, loss = step(state, (xb, yb))            # zero_grad + forward + backward + step
    epoch = train.make_train_epoch(model, opt, loss=losses.cross_entropy, batch_size=100)
    state, batch_losses = epoch(state, (x, y))     # a shuffled epoch in one lax.scan
    metrics = train.evaluate(model, state.params, (x_test, y_test), buffers=state.buffers)
    state, history = train.fit(model, opt, state, (x, y), epochs=10, batch_size=100,
                               loss=losses.cross_entropy, eval_data=(x_test, y_test))

``model_or_loss_fn`` is either an ``fnn.nn.Module`` with a criterion ``loss(output, target)``
(batches are ``(inputs, targets)``; the model runs in training mode with the state's
buffers and a fresh key each step, as ``model.train()`` in torch), or a plain function
``loss_fn(params, batch) -> scalar`` for anything else.

**Donation.** The jitted step and epoch functions donate the state they are given (its
buffers are reused for the result, as torch updates in place): do not use a state again
after passing it in; use the returned one.

**Randomness.** The state's key is split once per step (the model's dropout key) and once
per epoch (the shuffling permutation), so a run is a deterministic function of the initial
state and the data, and a checkpointed state (:mod:`fnn.checkpoint`) resumes bit-identically.
"""

from __future__ import annotations

import functools
import time
import warnings
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from . import _check, parallel
from .data import _check_batch_size, batch_indices
from .nn.module import Module
from .optim.nonfinite import find_nonfinite_states, nonfinite_stats
from .optim.step import step as optim_step
from .train_state import TrainState

__all__ = ["TrainState", "init_state", "as_loss_fn", "train_step_fn", "make_train_step",
           "make_train_steps", "make_train_epoch", "next_epoch_key", "make_evaluate",
           "evaluate", "fit"]

LossFn = Callable[..., Any]


def init_state(params: Any, opt: optax.GradientTransformation, *, buffers: Any = None,
               key: jax.Array | None = None) -> TrainState:
    """A fresh :class:`TrainState`: ``opt.init(params)``, step 0, ``key`` (default ``key(0)``).

    The arrays are copied, so the caller's ``params`` and ``buffers`` stay valid after the
    state is donated to a jitted step.
    """
    _check.transformation("fnn.train.init_state", opt)
    _check.prng_key("fnn.train.init_state", key, allow_none=True)
    if key is None:
        key = jax.random.key(0)
    params, buffers = jax.tree.map(jnp.copy, (params, {} if buffers is None else buffers))
    return TrainState(params, opt.init(params), buffers, jnp.zeros((), jnp.int32), jnp.copy(key))


def _check_state(who: str, state: Any) -> None:
    if not isinstance(state, TrainState):
        raise TypeError(f"{who}: expected a TrainState (from fnn.train.init_state), got "
                        f"{type(state).__name__}")


# ---------------------------------------------------------------------- the loss
def as_loss_fn(model_or_loss_fn: Module | LossFn, loss: LossFn | None = None) -> LossFn:
    """The canonical loss ``f(params, buffers, batch, key) -> (loss, new_buffers)``.

    From a Module and a criterion: ``out, new_buffers = model.apply(params, x,
    buffers=buffers, train=True, key=key)`` and ``loss(out, y)`` for ``batch = (x, y)``.
    From a plain ``loss_fn(params, batch)``: buffers pass through unchanged.
    """
    if isinstance(model_or_loss_fn, Module):
        model = model_or_loss_fn
        if loss is None:
            raise ValueError(f"fnn.train: a model ({type(model).__name__}) needs a criterion: "
                             "pass loss=fnn.losses.cross_entropy (or any loss(output, target))")

        def module_loss(params, buffers, batch, key):
            x, y = batch
            out, new_buffers = model.apply(params, x, buffers=buffers, train=True, key=key)
            return loss(out, y), new_buffers

        return module_loss
    if not callable(model_or_loss_fn):
        raise TypeError("fnn.train: expected an fnn.nn.Module or a loss_fn(params, batch), got "
                        f"{type(model_or_loss_fn).__name__}")
    if loss is not None:
        raise ValueError("fnn.train: loss= is only used with a Module; a loss_fn(params, batch) "
                         "already computes the loss")
    fn = model_or_loss_fn
    return lambda params, buffers, batch, key: (fn(params, batch), buffers)


# ---------------------------------------------------------------------- one step
def train_step_fn(model_or_loss_fn: Module | LossFn, opt: optax.GradientTransformation,
                  loss: LossFn | None = None, *, mesh: Any = None, fsdp: bool = False,
                  ) -> Callable[[TrainState, Any], tuple[TrainState, Any]]:
    """The pure (un-jitted) training step ``(state, batch) -> (state, loss)``.

    One torch iteration: ``optimizer.zero_grad(); loss = criterion(model(x), y);
    loss.backward(); optimizer.step()``, through :func:`fnn.optim.step`, so closure-style
    optimizers (L-BFGS, AdaHessian) work too. ``loss`` is the value before the update.
    The state's key is split three ways: the next state's key, the model's key (Dropout)
    and the optimizer's key (AdaHessian's probes).

    Non-finite values: build the state with a guarded optimizer,
    ``opt = fnn.optim.nonfinite_guard(opt)`` (``policy="skip"`` or ``"raise"``), and pass
    the same ``opt`` here. A step whose loss, gradients or update hold a NaN/Inf then
    changes neither the params, the optimizer state nor the buffers (BatchNorm's running
    statistics); ``state.step`` and the key still advance (the loop moved on, as torch's
    ``GradScaler`` skips only ``optimizer.step()``), the returned loss is the non-finite
    one, and the skips are counted in the optimizer state
    (:func:`fnn.optim.nonfinite_stats`; :func:`fit` reports them per epoch).

    ``mesh`` (a ``jax.sharding.Mesh``): run data parallel over it (``fsdp=True``: with
    params and optimizer state sharded), see :func:`fnn.parallel.constrain_step`; place the
    state with :func:`fnn.parallel.shard_state` and the batches with ``shard_batch``.
    """
    f = as_loss_fn(model_or_loss_fn, loss)
    _check.transformation("fnn.train", opt)

    def step(state: TrainState, batch: Any) -> tuple[TrainState, Any]:
        key, k_model, k_opt = jax.random.split(state.key, 3)
        params, opt_state, (value, buffers) = optim_step(
            opt, f, state.params, state.opt_state, state.buffers, batch, k_model, key=k_opt,
            has_aux=True)
        guards = find_nonfinite_states(opt_state)
        if guards:  # a skipped non-finite step leaves the buffers (BatchNorm stats) alone too
            ok = guards[0].last_finite
            buffers = jax.tree.map(lambda new, old: jnp.where(ok, new, old).astype(new.dtype),
                                   buffers, state.buffers)
        return TrainState(params, opt_state, buffers, state.step + 1, key), value

    if mesh is not None:
        return parallel.constrain_step(step, mesh, fsdp=fsdp)
    return step


def make_train_step(model_or_loss_fn: Module | LossFn, opt: optax.GradientTransformation,
                    loss: LossFn | None = None, *, donate: bool = True, mesh: Any = None,
                    fsdp: bool = False):
    """:func:`train_step_fn` under ``jax.jit``, donating the state (``donate=False`` keeps it)."""
    return jax.jit(train_step_fn(model_or_loss_fn, opt, loss, mesh=mesh, fsdp=fsdp),
                   donate_argnums=0 if donate else ())


def _rows(data: Any, rows: jax.Array) -> Any:
    """The batch ``rows`` of device-resident ``data`` (every leaf indexed on its first axis)."""
    return jax.tree.map(lambda a: a[rows], data)


def _scan_rows(step: Callable[[TrainState, Any], tuple[TrainState, Any]], state: TrainState,
               data: Any, idx: jax.Array) -> tuple[TrainState, Any]:
    """``step`` over the batches ``idx[0], idx[1], ...`` of ``data`` in one ``lax.scan``."""
    return jax.lax.scan(lambda s, rows: step(s, _rows(data, rows)), state, idx)


def make_train_steps(model_or_loss_fn: Module | LossFn, opt: optax.GradientTransformation,
                     loss: LossFn | None = None, *, donate: bool = True, mesh: Any = None,
                     fsdp: bool = False):
    """Many steps in one ``lax.scan``: ``(state, data, idx) -> (state, losses)``.

    ``idx`` is an ``int`` matrix ``(steps, batch_size)`` (rows from
    :func:`fnn.data.batch_indices`); step ``i`` trains on the batch
    ``jax.tree.map(lambda a: a[idx[i]], data)``. ``data`` stays on the device, whole.
    """
    step = train_step_fn(model_or_loss_fn, opt, loss, mesh=mesh, fsdp=fsdp)

    def steps(state: TrainState, data: Any, idx: jax.Array):
        return _scan_rows(step, state, data, idx)

    return jax.jit(steps, donate_argnums=0 if donate else ())


def _make_indexed_step(model_or_loss_fn: Module | LossFn, opt: optax.GradientTransformation,
                       loss: LossFn | None = None, *, mesh: Any = None, fsdp: bool = False):
    """One jitted, donating step on the batch ``rows`` of device-resident ``data``:
    ``(state, data, rows) -> (state, loss)``."""
    step = train_step_fn(model_or_loss_fn, opt, loss, mesh=mesh, fsdp=fsdp)

    def one(state: TrainState, data: Any, rows: jax.Array):
        return step(state, _rows(data, rows))

    return jax.jit(one, donate_argnums=0)


def next_epoch_key(state: TrainState) -> tuple[TrainState, jax.Array]:
    """Split the state's key: ``(state with the new key, the epoch's shuffling key)``."""
    _check_state("fnn.train.next_epoch_key", state)
    key, perm = jax.random.split(state.key)
    return state._replace(key=key), perm


def _num_samples(data: Any) -> int:
    sizes = {int(np.shape(a)[0]) for a in jax.tree.leaves(data)}
    if len(sizes) != 1:
        raise ValueError(f"fnn.train: the arrays in data have different lengths {sorted(sizes)}")
    return sizes.pop()


def make_train_epoch(model_or_loss_fn: Module | LossFn, opt: optax.GradientTransformation,
                     loss: LossFn | None = None, *, batch_size: int, shuffle: bool = True,
                     donate: bool = True, mesh: Any = None, fsdp: bool = False):
    """One epoch, jitted, in one ``lax.scan``: ``(state, data) -> (state, batch_losses)``.

    The batches are :func:`fnn.data.batch_indices` of the epoch key from
    :func:`next_epoch_key` (``shuffle=False``: in order); the last partial batch is
    dropped, so every step has the same shape. torch: ``for xb, yb in
    DataLoader(ds, batch_size, shuffle=True, drop_last=True): ...``.
    """
    _check_batch_size(batch_size)
    step = train_step_fn(model_or_loss_fn, opt, loss, mesh=mesh, fsdp=fsdp)

    def epoch(state: TrainState, data: Any):
        state, perm = next_epoch_key(state)
        idx = batch_indices(perm if shuffle else None, _num_samples(data), batch_size)
        return _scan_rows(step, state, data, idx)

    return jax.jit(epoch, donate_argnums=0 if donate else ())


# ---------------------------------------------------------------------- evaluation
@functools.lru_cache(maxsize=64)
def make_evaluate(model: Module, loss: LossFn | None = None, batch_size: int = 1000):
    """A jitted ``(params, buffers, data) -> {"loss", "accuracy"}`` for ``model`` (eval mode).

    ``loss`` (optional) is averaged per sample: it is applied to each sample as a batch of
    one (so ``reduction="mean"`` and ``"sum"`` give the same per-sample value) and the mean
    over the dataset is returned. ``accuracy`` (the share of ``argmax(output, 1) ==
    target``) is there when the outputs are ``(N, C)`` scores (``C > 1``) and the targets
    integer labels. The data are padded to whole batches and the padding masked out.
    """
    if not isinstance(model, Module):
        raise TypeError(f"fnn.train.make_evaluate: model must be an fnn.nn.Module, got "
                        f"{type(model).__name__}")
    _check_batch_size(batch_size)

    def run(params, buffers, data):
        x, y = data
        n = x.shape[0]
        nb = -(-n // batch_size)
        pad = nb * batch_size - n
        mask = jnp.ones(n, bool)
        xs, ys, ms = (jnp.concatenate([a, jnp.zeros((pad, *a.shape[1:]), a.dtype)])
                      .reshape(nb, batch_size, *a.shape[1:]) for a in (x, y, mask))

        def body(acc, batch):
            xb, yb, mb = batch
            out = model(params, xb, buffers=buffers)
            sums = dict(acc)
            if loss is not None:
                per = jax.vmap(lambda o, t: loss(o[None], t[None]))(out, yb)
                sums["loss"] = acc["loss"] + jnp.sum(jnp.where(mb, per, 0))
            if "accuracy" in acc:
                hit = jnp.argmax(out, axis=1) == yb
                sums["accuracy"] = acc["accuracy"] + jnp.sum(hit & mb)
            return sums, None

        zero = jnp.zeros((), jnp.result_type(float))
        out_shape = jax.eval_shape(lambda: model(params, xs[0], buffers=buffers))
        init = {}
        if loss is not None:
            init["loss"] = zero
        if (len(out_shape.shape) == 2 and out_shape.shape[1] > 1 and y.ndim == 1
                and jnp.issubdtype(y.dtype, jnp.integer)):
            init["accuracy"] = zero
        sums, _ = jax.lax.scan(body, init, (xs, ys, ms))
        return {k: v / n for k, v in sums.items()}

    return jax.jit(run)


def evaluate(model: Module, params: Any, data: tuple[Any, Any], *, buffers: Any = None,
             loss: LossFn | None = None, batch_size: int = 1000) -> dict[str, float]:
    """Mean loss and accuracy of ``model`` on ``data = (inputs, targets)``, in eval mode.

    torch: ``model.eval(); with torch.no_grad(): ...`` over a test ``DataLoader``. See
    :func:`make_evaluate` (the compiled function is cached per model, loss and batch size).
    """
    if not (isinstance(data, (tuple, list)) and len(data) == 2):
        raise ValueError("fnn.train.evaluate: data must be a pair (inputs, targets), got "
                         f"{type(data).__name__}")
    _check_batch_size(batch_size)
    n = _num_samples(data)
    fn = make_evaluate(model, loss, min(batch_size, n))
    out = fn(params, {} if buffers is None else buffers, tuple(jnp.asarray(a) for a in data))
    return {k: float(v) for k, v in out.items()}


# ---------------------------------------------------------------------- fit
def _progress(total: int, enabled: bool, desc: str):
    if not enabled:
        return None
    try:
        from tqdm.auto import tqdm
    except ImportError:  # pragma: no cover - exercised only without tqdm
        warnings.warn("fnn.train.fit: install tqdm for a progress bar (pip install tqdm)",
                      stacklevel=3)
        return None
    return tqdm(total=total, desc=desc, unit="batch", dynamic_ncols=True)


def fit(model_or_loss_fn: Module | LossFn, opt: optax.GradientTransformation, state: TrainState,
        train_data: Any, *, epochs: int, batch_size: int, loss: LossFn | None = None,
        eval_data: tuple[Any, Any] | None = None, shuffle: bool = True,
        steps_per_call: int = 1, progress: bool = True,
        callback: Callable[[int, TrainState, dict], None] | None = None,
        mesh: Any = None, fsdp: bool = False,
        ) -> tuple[TrainState, dict[str, list]]:
    """Train for ``epochs`` epochs with a progress bar; return ``(state, history)``.

    Each epoch draws its shuffled batches (:func:`make_train_epoch`'s order, last partial
    batch dropped). With ``steps_per_call=1`` (the default) every batch is one call of the
    jitted, donating step (:func:`make_train_step`'s computation, the batch gathered on the
    device), dispatched asynchronously; with ``steps_per_call=k > 1`` the batches run ``k``
    at a time in one compiled ``lax.scan`` (at most two compiled shapes), which saves the
    Python dispatch per step (docs/notes/performance.md says when that pays). The bar
    (``tqdm.auto``: terminal or notebook) shows the loss and samples/s. ``eval_data`` (a
    Module only) is evaluated after every epoch. ``callback(epoch, state, history)`` runs
    after each epoch (checkpoint there). ``state`` is donated: use the returned one.

    ``history``: ``"epoch"``, ``"loss"`` (mean training loss of the epoch),
    ``"step_loss"`` (every step's loss), ``"time"`` (seconds per epoch, the first one
    includes compilation), ``"samples_per_s"``, ``"val_loss"``/``"val_accuracy"``
    with ``eval_data``, and ``"skipped_steps"`` (the total of non-finite steps skipped so
    far, after each epoch) when ``opt`` is a :func:`fnn.optim.nonfinite_guard`.

    ``mesh``: train data parallel over its devices (``fsdp=True``: params and optimizer
    state sharded, FSDP/ZeRO-3), the state placed by :func:`fnn.parallel.shard_state` and
    the data replicated on the mesh; each step splits its batch over the devices, so
    ``batch_size`` should be divisible by the device count. Across processes (after
    :func:`fnn.parallel.initialize_distributed`) every process calls ``fit`` with the same
    full data set and gets the same (global) state back.
    """
    _check_fit(model_or_loss_fn, state, epochs, batch_size, steps_per_call, eval_data)
    data = jax.tree.map(jnp.asarray, train_data)
    n = _num_samples(data)
    nb = n // batch_size
    batch_indices(None, n, batch_size)  # validates batch_size
    chunk = max(1, min(int(steps_per_call), nb))
    run = _make_runner(model_or_loss_fn, opt, loss, chunk, mesh, fsdp)
    if mesh is not None:
        data = parallel.replicate(data, mesh)
        state = parallel.shard_state(state, mesh, fsdp=fsdp)
    split = jax.jit(next_epoch_key, donate_argnums=0)
    hist = _new_history(eval_data is not None)
    bar = _progress(epochs * nb, progress, "training")
    try:
        for epoch in range(1, epochs + 1):
            t0 = time.perf_counter()
            state, perm = split(state)
            idx = batch_indices(perm if shuffle else None, n, batch_size)
            post: dict[str, Any] = {"epoch": epoch}
            # report every ``every`` steps: one host sync per report, dispatch stays async
            every = chunk if chunk > 1 else max(1, min(nb, 10))
            state, ls = _run_epoch(run, state, data, idx, every, batch_size, bar, post)
            _record_epoch(hist, epoch, ls, time.perf_counter() - t0, batch_size, state)
            if eval_data is not None:
                _record_eval(hist, model_or_loss_fn, state, eval_data, loss, bar, post)
            if callback is not None:
                callback(epoch, state, hist)
    finally:
        if bar is not None:
            bar.close()
    return state, hist


def _check_fit(model_or_loss_fn: Any, state: Any, epochs: Any, batch_size: Any,
               steps_per_call: Any, eval_data: Any) -> None:
    _check.integer("fnn.train.fit", "epochs", epochs, low=1)
    _check_batch_size(batch_size)
    _check.integer("fnn.train.fit", "steps_per_call", steps_per_call, low=1)
    _check_state("fnn.train.fit", state)
    if eval_data is not None and not isinstance(model_or_loss_fn, Module):
        raise ValueError("fnn.train.fit: eval_data needs a Module (evaluation runs the model); "
                         "evaluate a loss_fn yourself in callback")


# run(state, data, idx, start, stop) -> (state, losses of the batches idx[start:stop])
Runner = Callable[[TrainState, Any, jax.Array, int, int], tuple[TrainState, jax.Array]]


def _make_runner(model_or_loss_fn: Module | LossFn, opt: optax.GradientTransformation,
                 loss: LossFn | None, chunk: int, mesh: Any, fsdp: bool) -> Runner:
    """Run the batches ``idx[start:stop]``: one scanned call (``chunk > 1``, ``stop - start
    <= chunk``) or one dispatched call of the jitted step per batch (``chunk == 1``)."""
    if chunk > 1:
        steps = make_train_steps(model_or_loss_fn, opt, loss, mesh=mesh, fsdp=fsdp)
        return lambda state, data, idx, start, stop: steps(state, data, idx[start:stop])
    one = _make_indexed_step(model_or_loss_fn, opt, loss, mesh=mesh, fsdp=fsdp)

    def run(state: TrainState, data: Any, idx: jax.Array, start: int, stop: int):
        pending = []
        for i in range(start, stop):
            state, li = one(state, data, idx[i])
            pending.append(li)
        return state, jnp.stack(pending)

    return run


def _run_epoch(run: Runner, state: TrainState, data: Any, idx: jax.Array, every: int,
               batch_size: int, bar: Any, post: dict[str, Any]) -> tuple[TrainState, np.ndarray]:
    """All batches of ``idx``, ``every`` per host sync (the bar's update); their losses."""
    nb = idx.shape[0]
    losses = []
    for start in range(0, nb, every):
        tc = time.perf_counter()
        state, out = run(state, data, idx, start, min(start + every, nb))
        ls = np.asarray(out)
        losses.append(ls)
        if bar is not None:
            post["loss"] = f"{ls.mean():.4g}"
            post["samples/s"] = f"{len(ls) * batch_size / (time.perf_counter() - tc):,.0f}"
            bar.set_postfix(post, refresh=False)
            bar.update(len(ls))
    return state, np.concatenate(losses)


def _new_history(with_eval: bool) -> dict[str, list]:
    hist: dict[str, list] = {"epoch": [], "loss": [], "step_loss": [], "time": [],
                             "samples_per_s": []}
    if with_eval:
        hist["val_loss"], hist["val_accuracy"] = [], []
    return hist


def _record_epoch(hist: dict[str, list], epoch: int, ls: np.ndarray, dt: float,
                  batch_size: int, state: TrainState) -> None:
    hist["epoch"].append(epoch)
    hist["loss"].append(float(ls.mean()))
    hist["step_loss"].extend(float(v) for v in ls)
    hist["time"].append(dt)
    hist["samples_per_s"].append(len(ls) * batch_size / dt)
    if find_nonfinite_states(state.opt_state):
        hist.setdefault("skipped_steps", []).append(nonfinite_stats(state.opt_state)["skipped"])


def _record_eval(hist: dict[str, list], model: Any, state: TrainState, eval_data: Any,
                 loss: LossFn | None, bar: Any, post: dict[str, Any]) -> None:
    m = evaluate(model, state.params, eval_data, buffers=state.buffers, loss=loss)
    hist["val_loss"].append(m.get("loss"))
    hist["val_accuracy"].append(m.get("accuracy"))
    if bar is not None and m.get("accuracy") is not None:
        post["val_acc"] = f"{m['accuracy']:.4f}"
        bar.set_postfix(post)
