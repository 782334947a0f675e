"""8 virtual CPU devices: Fleuret's CNN trained on one device, data parallel and sharded.

Usage: ``python cnn_sharded.py OUT_DIR`` with 8 host-platform devices in XLA_FLAGS.

All runs start from the same float32 state and train one epoch (4 steps of batch 16, the
same shuffled batches) through the public API:

- ``ref_{opt}``: ``train.fit`` on one device (no mesh);
- ``dp_fit``: ``fit(mesh=mesh)``, one jitted step per batch (fit's default path);
- ``dp_step``: ``make_train_step(mesh=mesh)`` fed with ``parallel.shard_batch`` batches;
- ``fsdp_fit``/``fsdp_fit_adam``: ``fit(mesh=mesh, fsdp=True)``;
- ``fsdp_scan``: ``fit(mesh=mesh, fsdp=True, steps_per_call=4)`` (``make_train_steps``);
- ``bn_ref``/``bn_dp``: a small MLP with BatchNorm1d and Dropout, one device and ``fit(mesh=)``
  (also writes ``{run}_buffers.npz``, the running statistics).

Writes ``OUT_DIR/{run}.npz`` (params, dotted names) and prints ``RESULT {json}`` with each
run's losses and the layout of its final state (:func:`common.layout`).
"""

from __future__ import annotations

import os
import sys

import common
import jax
import numpy as np

from fnn import losses, nn, parallel, train

common.expect_devices(8)
out_dir = sys.argv[1]
x, y = common.dataset()
model = common.net()
mesh = parallel.make_mesh()
result = {"devices": len(jax.devices()), "mesh": dict(mesh.shape)}


def record(name: str, state, step_losses) -> None:
    np.savez(os.path.join(out_dir, f"{name}.npz"), **common.flat(state.params))
    result[name] = {"losses": [float(v) for v in np.asarray(step_losses).ravel()],
                    "layout": common.layout(state), "step": int(state.step)}


def run_fit(opt_name: str, **kw):
    opt = common.optimizer(opt_name)
    state, hist = train.fit(model, opt, common.fresh_state(opt), (x, y), epochs=1,
                            batch_size=common.BATCH_SIZE, loss=losses.cross_entropy,
                            progress=False, **kw)
    return state, hist["step_loss"]


for opt_name in ("sgd", "adam"):
    record(f"ref_{opt_name}", *run_fit(opt_name))
record("dp_fit", *run_fit("sgd", mesh=mesh))
record("fsdp_fit", *run_fit("sgd", mesh=mesh, fsdp=True))
record("fsdp_fit_adam", *run_fit("adam", mesh=mesh, fsdp=True))
record("fsdp_scan", *run_fit("sgd", mesh=mesh, fsdp=True, steps_per_call=4))

# the hand-written loop of the README: place the state, shard each batch, call the step
opt = common.optimizer("sgd")
step = train.make_train_step(model, opt, losses.cross_entropy, mesh=mesh)
state, idx = common.epoch_rows(common.fresh_state(opt))
state = parallel.shard_state(state, mesh)
step_losses = []
for rows in idx:
    batch = parallel.shard_batch((x[rows], y[rows]), mesh)
    state, loss = step(state, batch)
    step_losses.append(loss)
result["batch_layout"] = common.layout({"x": batch[0], "y": batch[1]})
record("dp_step", state, step_losses)

# BatchNorm (buffers) and Dropout (the step's key) under data parallelism: the global
# batch's statistics (torch's SyncBatchNorm) and the one-device run's dropout masks
bn_model = nn.Sequential(nn.Flatten(), nn.Linear(784, 32), nn.BatchNorm1d(32), nn.ReLU(),
                         nn.Dropout(0.5), nn.Linear(32, 10))
for name, kw in [("bn_ref", {}), ("bn_dp", {"mesh": mesh})]:
    opt = common.optimizer("sgd")
    state = train.init_state(bn_model.init(jax.random.key(0)), opt,
                             buffers=bn_model.init_buffers(), key=jax.random.key(1))
    state, hist = train.fit(bn_model, opt, state, (x, y), epochs=1, batch_size=common.BATCH_SIZE,
                            loss=losses.cross_entropy, progress=False, **kw)
    record(name, state, hist["step_loss"])
    np.savez(os.path.join(out_dir, f"{name}_buffers.npz"), **common.flat(state.buffers))
common.emit(result)
