"""``fnn.parallel``: data-parallel and sharded (FSDP/ZeRO-style) training on ``jax.sharding``.

A :class:`jax.sharding.Mesh` names the devices, ``NamedSharding`` lays each array out on
them, and ``jax.jit`` inserts the collectives. torch's ``DistributedDataParallel`` and
``FullyShardedDataParallel`` are two layouts of the same pure training step::

    mesh = parallel.make_mesh()                                  # all devices, axis "data"
    state = parallel.shard_state(train.init_state(params, opt), mesh)  # fsdp=True: FSDP
    step = train.make_train_step(model, opt, loss=losses.cross_entropy, mesh=mesh)
    state, loss = step(state, parallel.shard_batch((xb, yb), mesh))

The layouts, the exactness against a one-device run, many processes and hosts, and the
limits (explicit-sharding meshes, eager ``opt.init``) are described in
``docs/notes/parallel.md``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import AxisType, Mesh, NamedSharding, Sharding
from jax.sharding import PartitionSpec as P

from . import _tree
from .train_state import TrainState

__all__ = ["make_mesh", "replicate", "batch_sharding", "shard_batch", "fsdp_spec",
           "param_shardings", "shard_params", "state_shardings", "shard_like",
           "init_sharded", "train_state_shardings", "shard_state", "constrain",
           "constrain_step", "gather", "initialize_distributed"]

PyTree = Any
Axis = str | tuple[str, ...]
# rule(dotted_name, shape) -> PartitionSpec, or None for the default layout
Rule = Callable[[str, tuple[int, ...]], P | None]


# ---------------------------------------------------------------------- the mesh
def make_mesh(num_devices: int | None = None, axis: str = "data", *,
              devices: Sequence[jax.Device] | None = None) -> Mesh:
    """A 1-D mesh over ``num_devices`` devices (default: all of ``jax.devices()``).

    ``axis`` names the mesh axis that batches and FSDP shards are split along. Across
    processes (after :func:`initialize_distributed`) ``jax.devices()`` is every device of
    every process, so the default mesh spans the cluster; its devices are ordered by
    process, then id, so that each process holds a contiguous block of a batch's rows
    (what :func:`shard_batch` with ``local=True`` relies on). ``devices`` gives the devices
    (in mesh order) explicitly. torch: the default process group of
    ``torch.distributed.init_process_group``. For 2-D meshes (data x model) use
    ``jax.make_mesh(..., axis_types=(AxisType.Auto,) * 2)`` and pass the axis name(s) to
    the functions here.
    """
    if devices is None:  # each process's devices contiguous, in process order
        devs = sorted(jax.devices(), key=lambda d: (d.process_index, d.id))
    else:
        devs = list(devices)
    n = len(devs) if num_devices is None else int(num_devices)
    if not 1 <= n <= len(devs):
        raise ValueError(f"fnn.parallel.make_mesh: num_devices must be between 1 and the "
                         f"{len(devs)} available devices, got {num_devices}")
    return Mesh(np.asarray(devs[:n], dtype=object), (axis,), axis_types=(AxisType.Auto,))


def _axis_size(mesh: Mesh, axis: Axis) -> int:
    names = (axis,) if isinstance(axis, str) else tuple(axis)
    missing = [a for a in names if a not in mesh.shape]
    if missing:
        raise ValueError(f"fnn.parallel: mesh has axes {tuple(mesh.shape)}, not {missing}")
    return math.prod(mesh.shape[a] for a in names)


# ---------------------------------------------------------------------- placing arrays
def _put_leaf(x: Any, sharding: Sharding) -> jax.Array:
    """Place one array with ``sharding``, also when the sharding spans other processes."""
    if isinstance(x, jax.Array) and jnp.issubdtype(x.dtype, jax.dtypes.prng_key):
        impl = jax.random.key_impl(x)
        return jax.random.wrap_key_data(_put_leaf(jax.random.key_data(x), sharding), impl=impl)
    if sharding.is_fully_addressable or (isinstance(x, jax.Array) and not x.is_fully_addressable):
        return jax.device_put(x, sharding)
    host = np.asarray(x)  # the same global value on every process
    return jax.make_array_from_callback(host.shape, sharding, lambda idx: host[idx])


def _put(tree: PyTree, shardings: PyTree) -> PyTree:
    return jax.tree.map(_put_leaf, tree, shardings)


def replicate(tree: PyTree, mesh: Mesh) -> PyTree:
    """Every leaf of ``tree`` copied to every device of ``mesh`` (``P()``): DDP's params."""
    return jax.tree.map(lambda x: _put_leaf(x, NamedSharding(mesh, P())), tree)


def batch_sharding(mesh: Mesh, axis: Axis = "data") -> NamedSharding:
    """The sharding of a batch: split along its first dimension over ``axis``."""
    return NamedSharding(mesh, P(axis))


def _check_batch(shape: tuple[int, ...], n: int, axis: Axis, what: str) -> None:
    if len(shape) == 0 or shape[0] % n:
        raise ValueError(f"fnn.parallel.shard_batch: a {what} of shape {tuple(shape)} cannot be "
                         f"split along its first axis over the {n} devices of mesh axis "
                         f"{axis!r}; use a batch size divisible by {n}")


def shard_batch(batch: PyTree, mesh: Mesh, axis: Axis = "data", *, local: bool = False) -> PyTree:
    """Split every array of ``batch`` along its first axis over the mesh axis ``axis``.

    ``local=False``: ``batch`` is the *global* batch, the same on every process (each
    device keeps its rows). ``local=True``: each process passes only its own rows (its
    ``1/process_count`` share, as a torch ``DistributedSampler`` gives it) and the global
    batch is their concatenation in process order. torch: DDP's per-rank batches.
    """
    n = _axis_size(mesh, axis)
    sharding = batch_sharding(mesh, axis)

    def put(x):
        if local:
            x = np.asarray(x)
            _check_batch((x.shape[0] * jax.process_count(), *x.shape[1:]), n, axis, "global batch")
            return jax.make_array_from_process_local_data(sharding, x)
        _check_batch(np.shape(x), n, axis, "batch")
        return _put_leaf(x, sharding)

    return jax.tree.map(put, batch)


# ---------------------------------------------------------------------- FSDP layout
def fsdp_spec(shape: Sequence[int], num_shards: int, axis: Axis = "data") -> P:
    """``P`` splitting the largest dimension of ``shape`` divisible by ``num_shards``.

    Ties go to the first such dimension; ``P()`` (replicated) when none divides or
    ``num_shards == 1``. ZeRO-3 / torch FSDP shard a flattened parameter instead; a whole
    axis keeps the array's shape, so no padding or flattening is needed.
    """
    shape = tuple(int(d) for d in shape)
    dims = [i for i, d in enumerate(shape) if d % num_shards == 0 and d >= num_shards]
    if num_shards == 1 or not dims:
        return P()
    best = max(dims, key=lambda i: (shape[i], -i))
    return P(*([None] * best), axis)


def param_shardings(params: PyTree, mesh: Mesh, *, fsdp: bool = True, axis: Axis = "data",
                    rule: Rule | None = None) -> PyTree:
    """The ``NamedSharding`` of every parameter: :func:`fsdp_spec` (``fsdp=True``) or
    replicated (``fsdp=False``, data parallelism). ``rule(name, shape)`` overrides it per
    parameter (dotted torch name) by returning a ``PartitionSpec``; ``None`` keeps the
    default. Works on arrays and on ``jax.ShapeDtypeStruct``\\ s alike."""
    n = _axis_size(mesh, axis)

    def one(path, x):
        shape = tuple(np.shape(x))
        spec = rule(_tree.path_name(path), shape) if rule is not None else None
        if spec is None:
            spec = fsdp_spec(shape, n, axis) if fsdp else P()
        return NamedSharding(mesh, spec)

    return jax.tree_util.tree_map_with_path(one, params)


def shard_params(params: PyTree, mesh: Mesh, *, fsdp: bool = True, axis: Axis = "data",
                 rule: Rule | None = None) -> PyTree:
    """``params`` placed with :func:`param_shardings` (FSDP by default)."""
    return _put(params, param_shardings(params, mesh, fsdp=fsdp, axis=axis, rule=rule))


# ---------------------------------------------------------------------- optimizer state
def _parts(path: tuple) -> tuple[str, ...]:
    return tuple(_tree.path_name((k,)) for k in path)


def state_shardings(opt_state: PyTree, params: PyTree, shardings: PyTree | None = None,
                    *, axis: Axis = "data") -> PyTree:
    """The sharding of every leaf of ``opt_state``, inherited from the parameters.

    ``params`` are arrays (their ``.sharding`` is used) or shapes with ``shardings`` given
    (a tree of ``NamedSharding`` like :func:`param_shardings`'s). A state leaf whose key
    path contains a parameter's path and has its shape (``state.conv1.weight.exp_avg``,
    optax's ``mu.conv1.weight``) gets that parameter's sharding; a scalar is replicated;
    any other leaf (L-BFGS's flat vectors and history, Adafactor's factors) follows
    :func:`fsdp_spec` if some parameter is sharded, else is replicated.
    """
    if shardings is None:
        shardings = jax.tree.map(lambda p: p.sharding, params)
    p_paths, _ = jax.tree_util.tree_flatten_with_path(params)
    s_leaves = jax.tree.leaves(shardings, is_leaf=lambda s: isinstance(s, Sharding))
    if not s_leaves or not all(isinstance(s, NamedSharding) for s in s_leaves):
        raise ValueError("fnn.parallel.state_shardings: the parameters must be laid out on a mesh "
                         "(NamedSharding); place them with replicate/shard_params first")
    mesh = s_leaves[0].mesh
    by_path = {_parts(path): (tuple(np.shape(p)), s) for (path, p), s in zip(p_paths, s_leaves)}
    sharded = not all(s.is_fully_replicated for s in s_leaves)
    n = _axis_size(mesh, axis)
    longest = max(len(k) for k in by_path)

    def one(path, leaf):
        shape = tuple(np.shape(leaf))
        parts = _parts(path)
        for size in range(min(longest, len(parts)), 0, -1):  # longest match first
            for i in range(len(parts) - size + 1):
                hit = by_path.get(parts[i:i + size])
                if hit is not None and hit[0] == shape:
                    return hit[1]
        if not shape or not sharded:
            return NamedSharding(mesh, P())
        return NamedSharding(mesh, fsdp_spec(shape, n, axis))

    return jax.tree_util.tree_map_with_path(one, opt_state)


def shard_like(opt_state: PyTree, params: PyTree, *, axis: Axis = "data") -> PyTree:
    """``opt_state`` placed with :func:`state_shardings` of the (placed) ``params``."""
    return _put(opt_state, state_shardings(opt_state, params, axis=axis))


def init_sharded(opt: Any, params: PyTree, *, axis: Axis = "data") -> PyTree:
    """``opt.init(params)`` created directly in its sharded layout (jitted, with
    ``out_shardings``), so no device ever holds a whole sharded state.
    ``params`` must already be placed (:func:`replicate`, :func:`shard_params`)."""
    shapes = jax.eval_shape(opt.init, params)
    return jax.jit(opt.init, out_shardings=state_shardings(shapes, params, axis=axis))(params)


# ---------------------------------------------------------------------- training state
def train_state_shardings(state: TrainState, mesh: Mesh, *, fsdp: bool = False,
                          axis: Axis = "data", rule: Rule | None = None) -> TrainState:
    """The layout of a :class:`fnn.train.TrainState`: params by :func:`param_shardings`,
    optimizer state by :func:`state_shardings`, buffers, step and key replicated.
    A function of shapes only (it works on tracers inside ``jit``)."""
    ps = param_shardings(state.params, mesh, fsdp=fsdp, axis=axis, rule=rule)
    rep = NamedSharding(mesh, P())
    return TrainState(ps, state_shardings(state.opt_state, state.params, ps, axis=axis),
                      jax.tree.map(lambda _: rep, state.buffers), rep, rep)


def shard_state(state: TrainState, mesh: Mesh, *, fsdp: bool = False, axis: Axis = "data",
                rule: Rule | None = None) -> TrainState:
    """``state`` placed on ``mesh``: data parallel (``fsdp=False``, torch DDP) or sharded
    (``fsdp=True``, torch FSDP / ZeRO-3). Pass the same ``mesh``/``fsdp`` to the
    ``fnn.train`` helpers so the jitted step keeps this layout."""
    return _put(state, train_state_shardings(state, mesh, fsdp=fsdp, axis=axis, rule=rule))


def constrain(tree: PyTree, shardings: PyTree) -> PyTree:
    """``jax.lax.with_sharding_constraint`` over a tree (inside ``jit``: pins the layout)."""
    return jax.tree.map(jax.lax.with_sharding_constraint, tree, shardings)


def constrain_step(step: Callable[[TrainState, Any], tuple[TrainState, Any]], mesh: Mesh, *,
                   fsdp: bool = False, axis: Axis = "data", rule: Rule | None = None):
    """Wrap a pure step ``(state, batch) -> (state, out)`` so that, under ``jit``, the
    batch is split over ``axis``, the incoming and outgoing states have the
    :func:`train_state_shardings` layout and ``out`` is replicated. XLA then inserts
    the collectives (gradient all-reduce, parameter all-gather / reduce-scatter)."""
    layout = lambda s: train_state_shardings(s, mesh, fsdp=fsdp, axis=axis, rule=rule)
    rows = batch_sharding(mesh, axis)
    rep = NamedSharding(mesh, P())

    def sharded_step(state: TrainState, batch: Any) -> tuple[TrainState, Any]:
        state = constrain(state, layout(state))
        batch = jax.tree.map(lambda x: jax.lax.with_sharding_constraint(x, rows), batch)
        new, out = step(state, batch)
        return (constrain(new, layout(new)),
                jax.tree.map(lambda x: jax.lax.with_sharding_constraint(x, rep), out))

    return sharded_step


def gather(tree: PyTree) -> PyTree:
    """Every leaf as a host ``numpy`` array with its full global value, also when it is
    sharded over devices of other processes (``multihost_utils.process_allgather``: a
    collective, so every process must call it). PRNG keys come back as their key data.
    torch: ``FSDP.full_state_dict`` / ``dist.all_gather``."""
    from jax.experimental import multihost_utils

    def one(x):
        if isinstance(x, jax.Array) and jnp.issubdtype(x.dtype, jax.dtypes.prng_key):
            x = jax.random.key_data(x)
        if isinstance(x, jax.Array) and not x.is_fully_addressable:
            if x.is_fully_replicated:  # every process already holds all of it
                return np.asarray(x.addressable_data(0))
            return np.asarray(multihost_utils.process_allgather(x, tiled=True))
        return np.asarray(x)

    return jax.tree.map(one, tree)


# ---------------------------------------------------------------------- many processes
def initialize_distributed(coordinator_address: str | None = None,
                           num_processes: int | None = None, process_id: int | None = None, *,
                           local_device_ids: int | Sequence[int] | None = None,
                           cpu_collectives: str | None = None,
                           initialization_timeout: int = 300, **kwargs: Any) -> None:
    """Join a multi-process JAX cluster: ``jax.distributed.initialize``, documented for
    torch users.

    Call it once in every process, before anything else touches JAX's devices.
    ``coordinator_address`` (``"host:port"`` of process 0, reachable from every host),
    ``num_processes`` and ``process_id`` (0-based) are torch's ``MASTER_ADDR:MASTER_PORT``,
    ``WORLD_SIZE`` and ``RANK``. Left as ``None`` they come from the environment: JAX reads
    ``JAX_COORDINATOR_ADDRESS`` (and ``JAX_LOCAL_DEVICE_IDS``) and detects SLURM
    (``srun``), Open MPI (``mpirun``), Kubernetes JobSets and Cloud TPU pods.
    ``local_device_ids`` restricts a process to some of its host's accelerators (one
    process per GPU: ``local_device_ids=local_rank``; the default is one process per host
    using all its devices). ``cpu_collectives``: ``"gloo"`` (JAX's default) or ``"mpi"``,
    the backend of cross-process collectives on CPU devices; ``None`` keeps JAX's setting.
    ``initialization_timeout`` (seconds) bounds the wait for the other processes; other
    keyword arguments (``heartbeat_timeout_seconds``, ``coordinator_bind_address``, ...)
    go to ``jax.distributed.initialize``.

    Afterwards ``jax.devices()`` lists the devices of every process, ``jax.local_devices()``
    this process's, and :func:`make_mesh` spans the cluster. Every process then runs the
    same program on the same global arrays (SPMD; torch: the same script on every rank).
    """
    if cpu_collectives is not None:
        jax.config.update("jax_cpu_collectives_implementation", cpu_collectives)
    jax.distributed.initialize(coordinator_address=coordinator_address,
                               num_processes=num_processes, process_id=process_id,
                               local_device_ids=local_device_ids,
                               initialization_timeout=initialization_timeout, **kwargs)
