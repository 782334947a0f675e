"""``fnn.parallel``: data-parallel and sharded training on many devices, and on many processes.

The number of XLA host-platform (CPU) devices is fixed when JAX's backend starts, and this
pytest process runs with one (tests/conftest.py), so the multi-device runs happen in
subprocesses (tests/parallel_scripts/) started with
``XLA_FLAGS=--xla_force_host_platform_device_count=N`` and ``JAX_PLATFORMS=cpu``:

- ``cnn_sharded.py`` (8 devices): examples/cnn.py's ``Net`` trained one epoch on one
  device, data parallel (``fit`` and a hand-written ``make_train_step`` loop) and sharded
  (``fit(fsdp=True)``, also through ``make_train_steps``'s ``lax.scan``), in float32;
- ``optim_sharding.py`` (8 devices): every ``fnn.optim`` factory's state keeps its
  sharding through ``init``, an eager ``update`` and jitted steps, in float64;
- ``dist_train.py`` x 2 (2 devices each): two processes joined by ``jax.distributed`` on
  loopback with gloo CPU collectives train the CNN data parallel and sharded.

All of them are started together (they overlap on the CPU) by the module fixture; each
test waits for the ones it needs. A subprocess that fails or times out fails its tests
with its stderr in the message.

Float32 tolerances (the parallel runs sum gradients over shards in another order than
one device does, so results agree to rounding, not bit for bit):

- SGD: per parameter tensor, ``max|p - p_ref| <= 1e-5 * max|p_ref|`` (about 80 float32
  ulps of the tensor's largest entry; measured: 2-3e-7, i.e. 2-3 ulps);
- Adam: ``max|p - p_ref| <= 1e-2 * lr`` (1 % of one step: Adam divides by
  ``sqrt(v) + eps``, which magnifies rounding in near-zero gradients up to an O(lr) step;
  measured: 2.1e-6 = 2e-3 * lr);
- per-step losses: relative 1e-5 (measured <= 1.1e-7).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.slow

SCRIPTS = Path(__file__).parent / "parallel_scripts"
ROOT = Path(__file__).parent.parent
TIMEOUT_S = 900          # per subprocess; the whole module takes ~1-2 min on 2 busy cores
SGD_RTOL = 1e-5          # relative to each tensor's largest entry
ADAM_ATOL = 1e-2 * 1e-3  # 1 % of Adam's lr
LOSS_RTOL = 1e-5
F64_TOL = 1e-12          # optimizer runs in float64 (relative to max(1, max|x|))
MUON_TOL = 1e-3          # Muon orthogonalises in bfloat16, as torch does
OPTIMIZERS = ["sgd", "adam", "adamw", "adamax", "nadam", "radam", "adagrad", "adadelta",
              "rmsprop", "rprop", "asgd", "adafactor", "muon", "sparse_adam", "lbfgs",
              "adabelief", "adabound", "adahessian", "madgrad", "qhadam", "swats", "yogi"]
# the FSDP layout of the CNN on 8 devices: the largest dimension divisible by 8
CNN_SPLIT_DIM = {"conv1.weight": 0, "conv1.bias": 0, "conv2.weight": 0, "conv2.bias": 0,
                 "fc1.weight": 1, "fc1.bias": 0, "fc2.weight": 1, "fc2.bias": None}


# ---------------------------------------------------------------------- subprocesses
class Job:
    """A script in its own process with ``devices`` virtual CPU devices; output to files."""

    def __init__(self, name: str, script: str, args: list[str], devices: int, workdir: Path):
        self.name = name
        env = dict(os.environ)
        env["XLA_FLAGS"] = f"--xla_force_host_platform_device_count={devices}"
        env["JAX_PLATFORMS"] = "cpu"
        env.pop("JAX_ENABLE_X64", None)
        env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]).rstrip(
            os.pathsep)
        self.out_path, self.err_path = workdir / f"{name}.out", workdir / f"{name}.err"
        self._out, self._err = open(self.out_path, "w"), open(self.err_path, "w")
        self.start = time.monotonic()
        self.proc = subprocess.Popen([sys.executable, str(SCRIPTS / script), *args], cwd=SCRIPTS,
                                     env=env, stdout=self._out, stderr=self._err)
        self.result: dict | None = None

    def _fail(self, why: str) -> None:
        self._close()
        err = self.err_path.read_text()[-6000:]
        out = self.out_path.read_text()[-2000:]
        pytest.fail(f"{self.name} ({why}).\n--- stderr (tail) ---\n{err}\n--- stdout (tail) ---\n"
                    f"{out}", pytrace=False)

    def wait(self) -> dict:
        """The script's ``RESULT`` dict; fails the test with its stderr if it did not finish."""
        if self.result is not None:
            return self.result
        try:
            self.proc.wait(timeout=max(1.0, TIMEOUT_S - (time.monotonic() - self.start)))
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            self._fail(f"timed out after {TIMEOUT_S} s")
        self._close()
        if self.proc.returncode != 0:
            self._fail(f"exit status {self.proc.returncode}")
        lines = [ln for ln in self.out_path.read_text().splitlines() if ln.startswith("RESULT ")]
        if not lines:
            self._fail("no RESULT line")
        self.result = json.loads(lines[-1][len("RESULT "):])
        return self.result

    def _close(self) -> None:
        self._out.close()
        self._err.close()

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self._close()


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def jobs(tmp_path_factory):
    """Start every subprocess at once; each test waits for the ones it reads."""
    work = tmp_path_factory.mktemp("parallel")
    port = str(_free_port())
    started = {
        "cnn": Job("cnn_sharded", "cnn_sharded.py", [str(work)], 8, work),
        "optim": Job("optim_sharding", "optim_sharding.py", [], 8, work),
        "dist0": Job("dist_train_p0", "dist_train.py", ["0", "2", port, str(work), "2"], 2, work),
        "dist1": Job("dist_train_p1", "dist_train.py", ["1", "2", port, str(work), "2"], 2, work),
    }
    started["dir"] = work
    yield started
    for job in started.values():
        if isinstance(job, Job):
            job.kill()


def _params(path: Path) -> dict[str, np.ndarray]:
    with np.load(path) as f:
        return {k: f[k] for k in f.files}


def _check_sgd_params(got: dict, ref: dict, what: str) -> float:
    """Assert the SGD tolerance per tensor; return the largest relative difference."""
    assert sorted(got) == sorted(ref) == sorted(CNN_SPLIT_DIM), (what, sorted(got))
    worst = 0.0
    for k in ref:
        assert got[k].dtype == np.float32, (what, k, got[k].dtype)
        scale = float(np.max(np.abs(ref[k])))
        diff = float(np.max(np.abs(got[k] - ref[k])))
        assert diff <= SGD_RTOL * scale, f"{what}: {k} differs by {diff:.3g} (scale {scale:.3g})"
        worst = max(worst, diff / scale)
    return worst


def _check_losses(got: list, ref: list, what: str) -> None:
    assert len(got) == len(ref) == 4, (what, got, ref)
    np.testing.assert_allclose(got, ref, rtol=LOSS_RTOL, err_msg=what)


# ---------------------------------------------------------------------- pure helpers
def test_fsdp_spec_picks_the_largest_divisible_axis():
    from jax.sharding import PartitionSpec as P

    from fnn.parallel import fsdp_spec

    assert fsdp_spec((200, 256), 8) == P(None, "data")
    assert fsdp_spec((64, 32, 5, 5), 8) == P("data")
    assert fsdp_spec((16, 16), 8) == P("data")              # a tie goes to the first axis
    assert fsdp_spec((10,), 8) == P()                       # nothing divides: replicated
    assert fsdp_spec((4,), 8) == P()                        # smaller than the mesh
    assert fsdp_spec((), 8) == P()
    assert fsdp_spec((256, 200), 1) == P()
    assert fsdp_spec((12, 24), 4, axis="fsdp") == P(None, "fsdp")
    for shape, dim in [((32, 1, 5, 5), 0), ((200, 256), 1), ((10, 200), 1), ((10,), None)]:
        assert fsdp_spec(shape, 8) == (P() if dim is None else P(*([None] * dim), "data"))


@pytest.mark.usefixtures("jobs")  # the subprocesses start first and run meanwhile
def test_one_device_mesh_in_process():
    """On the test process's single device a mesh run equals a plain run exactly."""
    import jax
    import jax.numpy as jnp

    from fnn import losses, nn, optim, parallel, train

    mesh = parallel.make_mesh()
    assert mesh.shape == {"data": 1} and mesh.axis_names == ("data",)
    with pytest.raises(ValueError, match="between 1 and the 1 available devices"):
        parallel.make_mesh(2)
    with pytest.raises(ValueError, match="mesh has axes"):
        parallel.shard_batch(jnp.zeros((4, 3)), mesh, axis="model")
    model = nn.Sequential(nn.Linear(3, 8), nn.ReLU(), nn.Linear(8, 2))
    params = model.init(jax.random.key(0))
    x = jax.random.normal(jax.random.key(1), (16, 3))
    y = jnp.arange(16) % 2
    opt = optim.adam(lr=1e-2)
    plain, _ = train.fit(model, opt, train.init_state(params, opt), (x, y), epochs=2,
                         batch_size=4, loss=losses.cross_entropy, progress=False)
    meshed, _ = train.fit(model, opt, train.init_state(params, opt), (x, y), epochs=2,
                          batch_size=4, loss=losses.cross_entropy, progress=False, mesh=mesh,
                          fsdp=True)
    jax.tree.map(np.testing.assert_array_equal, parallel.gather(meshed.params),
                 parallel.gather(plain.params))
    assert all(isinstance(v.sharding, jax.sharding.NamedSharding)
               for v in jax.tree.leaves(meshed.params))


# ---------------------------------------------------------------------- 8 devices: the CNN
@pytest.fixture(scope="module")
def cnn(jobs):
    return jobs["cnn"].wait(), jobs["dir"]


def test_cnn_data_parallel_matches_one_device(cnn):
    res, d = cnn
    assert res["devices"] == 8 and res["mesh"] == {"data": 8}
    ref = _params(d / "ref_sgd.npz")
    for run in ("dp_fit", "dp_step"):
        _check_sgd_params(_params(d / f"{run}.npz"), ref, run)
        _check_losses(res[run]["losses"], res["ref_sgd"]["losses"], run)
        assert res[run]["step"] == 4
        for name, lay in res[run]["layout"].items():   # params, opt state, step, key
            assert lay["replicated"] and lay["shards"] == 8 and lay["devices"] == 8, (run, name)
            assert lay["shard_shape"] == lay["shape"], (run, name)
        assert all(lay["spec"] == "P()" for name, lay in res[run]["layout"].items()
                   if name.startswith("params.")), run
    # the batch is split by rows: 16 rows, 2 per device
    bx, by = res["batch_layout"]["x"], res["batch_layout"]["y"]
    assert bx["spec"] == by["spec"] == "P('data',)"
    assert bx["shape"] == [16, 1, 28, 28] and bx["shard_shape"] == [2, 1, 28, 28]
    assert by["shard_shape"] == [2] and bx["shards"] == 8 and not bx["replicated"]


def _check_fsdp_layout(layout: dict, what: str, prefix: str = "params.", n: int = 8) -> None:
    """Every CNN parameter (and every state leaf of its shape under its name) is split over
    ``n`` devices along :data:`CNN_SPLIT_DIM`; ``fc2.bias`` (10) stays replicated."""
    names = [k for k in layout if k.startswith(prefix)]
    assert names, (what, sorted(layout))
    for name in names:
        lay = layout[name]
        param = next(p for p in CNN_SPLIT_DIM if p in name)
        dim = CNN_SPLIT_DIM[param]
        expected = list(lay["shape"])
        if dim is None:
            assert lay["replicated"] and lay["spec"] == "P()", (what, name, lay)
        else:
            expected[dim] //= n
            assert not lay["replicated"], (what, name, lay)
            spec = "P('data',)" if dim == 0 else "P(" + "None, " * dim + "'data')"
            assert lay["spec"] == spec, (what, name, lay)
        assert lay["shard_shape"] == expected, (what, name, lay)
        assert lay["devices"] == n, (what, name, lay)


def test_cnn_sharded_matches_one_device(cnn):
    res, d = cnn
    ref = _params(d / "ref_sgd.npz")
    for run in ("fsdp_fit", "fsdp_scan"):
        _check_sgd_params(_params(d / f"{run}.npz"), ref, run)
        _check_losses(res[run]["losses"], res["ref_sgd"]["losses"], run)
        _check_fsdp_layout(res[run]["layout"], run)
        assert res[run]["layout"]["step"]["replicated"] and res[run]["layout"]["key"]["replicated"]
    # per device, the params take ~1/8 of the memory (fc2.bias is replicated)
    lay = res["fsdp_fit"]["layout"]
    total = sum(np.prod(v["shape"]) for k, v in lay.items() if k.startswith("params."))
    local = sum(np.prod(v["shard_shape"]) for k, v in lay.items() if k.startswith("params."))
    assert local <= total / 8 + 10


def test_cnn_sharded_adam_state_sharded_like_params(cnn):
    res, d = cnn
    ref, got = _params(d / "ref_adam.npz"), _params(d / "fsdp_fit_adam.npz")
    for k in ref:
        diff = float(np.max(np.abs(got[k] - ref[k])))
        assert diff <= ADAM_ATOL, f"adam fsdp: {k} differs by {diff:.3g}"
    _check_losses(res["fsdp_fit_adam"]["losses"], res["ref_adam"]["losses"], "adam")
    lay = res["fsdp_fit_adam"]["layout"]
    _check_fsdp_layout(lay, "adam params")
    moments = [k for k in lay if k.startswith("opt_state.state.")]
    assert len(moments) == 16 and all(k.endswith(("exp_avg", "exp_avg_sq")) for k in moments)
    _check_fsdp_layout(lay, "adam moments", prefix="opt_state.state.")
    assert all(v["replicated"] for k, v in lay.items()
               if k.startswith("opt_state.") and not k.startswith("opt_state.state."))


def test_batchnorm_and_dropout_data_parallel_match_one_device(cnn):
    """BatchNorm sees the global batch (torch's SyncBatchNorm, not DDP's per-replica
    statistics) and Dropout draws the one-device run's masks (partitionable threefry)."""
    res, d = cnn
    _check_losses(res["bn_dp"]["losses"], res["bn_ref"]["losses"], "bn")
    for part in ("", "_buffers"):
        got, ref = _params(d / f"bn_dp{part}.npz"), _params(d / f"bn_ref{part}.npz")
        assert sorted(got) == sorted(ref) and got, sorted(got)
        for k in ref:
            scale = max(1.0, float(np.max(np.abs(ref[k]))))
            diff = float(np.max(np.abs(got[k].astype(np.float64) - ref[k])))
            assert diff <= SGD_RTOL * scale, f"bn{part}: {k} differs by {diff:.3g}"


# ---------------------------------------------------------------------- 8 devices: optimizers
@pytest.fixture(scope="module")
def optim_results(jobs):
    return jobs["optim"].wait()


def test_optimizer_list_is_complete(optim_results):
    """The script found every optimizer the issue lists (and whatever fnn.optim adds)."""
    assert optim_results["devices"] == 8
    assert set(OPTIMIZERS) <= set(optim_results["optimizers"]), optim_results["not_factories"]
    assert set(optim_results["results"]) == set(optim_results["optimizers"])


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_optimizer_state_keeps_its_sharding(optim_results, name):
    _check_optimizer(optim_results["results"][name], name)


def test_other_optimizers_keep_their_sharding(optim_results):
    """Factories and wrappers beyond the issue's list (e.g. ``nonfinite_guard(adam)``)."""
    for name, r in optim_results["results"].items():
        if name not in OPTIMIZERS:
            _check_optimizer(r, name)


def _check_optimizer(r: dict, name: str) -> None:
    params = {n: (tuple(shape), spec) for n, shape, spec in r["params"]}
    # the parameters' own FSDP layout (largest axis divisible by 8)
    expected_param_specs = {"layer.weight": "P('data',)", "layer.bias": "P('data',)",
                            "head.weight": "P(None, 'data')", "head.bias": "P()", "t": "P()"}
    for n, (_, spec) in params.items():
        assert spec == expected_param_specs[n], (n, spec)
    for after in r["params_after"]:                      # eager update, jitted steps
        assert after == [spec for _, (_, spec) in sorted(params.items())]
    total = local = sharded = 0
    for leaf, shape, init, eager_init, eager, jitted, local_size in r["state"]:
        # (1) init_sharded's layout survives an eager update and STEPS jitted steps
        assert init == eager == jitted, (leaf, init, eager, jitted)
        # (2) a state leaf named after a parameter and shaped like it is sharded like it,
        #     already by a plain eager opt.init
        owner = [n for n in params if f".{n}." in f".{leaf}." and params[n][0] == tuple(shape)]
        if owner:
            assert init == eager_init == params[owner[0]][1], (leaf, init, eager_init)
        if not shape:
            assert init == "P()", leaf
        size = int(np.prod(shape))
        if init != "P()":                                # (3) a sharded leaf: 1/8 per device
            assert local_size * 8 == size, (leaf, shape, init, local_size)
            sharded += 1
        else:
            assert local_size == size, (leaf, shape, local_size)
        total += size
        local += local_size
    assert sharded >= 2, r["state"]
    assert local <= 0.4 * total, (local, total)          # each device holds < 40 % of it
    if name == "lbfgs":  # the flat vectors and the history split along n = 192
        specs = {leaf: init for leaf, _, init, *_ in r["state"]}
        assert specs["d"] == specs["prev_flat_grad"] == "P('data',)"
        assert specs["old_dirs"] == specs["old_stps"] == "P(None, 'data')"
    tol = MUON_TOL if name == "muon" else F64_TOL
    assert r["moved"] > 1e-3, "the optimizer did not move the params"
    assert r["err"] <= tol, f"{name}: sharded jit vs one device differ by {r['err']:.3g}"
    assert r["eager_err"] <= tol, f"{name}: eager sharded vs one device: {r['eager_err']:.3g}"


# ---------------------------------------------------------------------- 2 processes
def test_two_processes_train_like_one_device(jobs, cnn):
    """2 processes x 2 CPU devices, joined by jax.distributed (gloo) on loopback."""
    res = [jobs["dist0"].wait(), jobs["dist1"].wait()]
    cnn_res, d = cnn
    ref = _params(d / "ref_sgd.npz")
    for i, r in enumerate(res):
        assert r["process_index"] == i and r["process_count"] == 2
        assert r["devices"] == 4 and r["local_devices"] == 2
        assert r["mesh_processes"] == [0, 0, 1, 1]
    for run in ("dp", "fsdp"):
        p0, p1 = _params(d / f"p0_{run}.npz"), _params(d / f"p1_{run}.npz")
        for k in p0:   # both processes hold the very same global params
            np.testing.assert_array_equal(p0[k], p1[k], err_msg=f"{run}: {k}")
        _check_sgd_params(p0, ref, f"2 processes, {run}")
        for r in res:
            _check_losses(r[run]["losses"], cnn_res["ref_sgd"]["losses"], f"2 processes, {run}")
            assert r[run]["step"] == 4
    assert res[0]["dp"]["losses"] == res[1]["dp"]["losses"]
    assert res[0]["dp"]["val_loss"] == res[1]["dp"]["val_loss"]
    assert np.isfinite(res[0]["dp"]["val_loss"])
    for r in res:
        for name, lay in r["dp"]["layout"].items():
            assert lay["replicated"] and lay["shards"] == 2 and lay["devices"] == 4, name
        _check_fsdp_layout(r["fsdp"]["layout"], "2-process fsdp", prefix="", n=4)
        assert all(lay["shards"] == 2 for lay in r["fsdp"]["layout"].values())
        # each process fed 8 of the 16 rows; every device holds 4
        bx = r["fsdp"]["batch_layout"]["x"]
        assert bx["shape"] == [16, 1, 28, 28] and bx["shard_shape"] == [4, 1, 28, 28]
