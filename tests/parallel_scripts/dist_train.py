"""One process of a multi-process (``jax.distributed``) run of Fleuret's CNN on CPU.

Usage: ``python dist_train.py PROCESS_ID NUM_PROCESSES PORT OUT_DIR LOCAL_DEVICES``, with
``LOCAL_DEVICES`` host-platform devices in XLA_FLAGS; tests/test_parallel.py starts
``NUM_PROCESSES`` of them on loopback. The processes join through
:func:`fnn.parallel.initialize_distributed` (CPU collectives: gloo), build one mesh over
all their devices and train, from the same initial state and batches as
``cnn_sharded.py``'s one-device runs:

- ``dp``: ``train.fit(mesh=mesh)`` on the full data set (the same in every process),
  with ``eval_data``: data parallel, params replicated on every device of every process;
- ``fsdp``: ``make_train_step(mesh=mesh, fsdp=True)`` fed by
  ``shard_batch(local=True)`` with each process passing only its own rows of each batch
  (torch's ``DistributedSampler``), params and optimizer state sharded across processes.

Each process writes ``OUT_DIR/p{PROCESS_ID}_{run}.npz`` (the gathered params) and prints
``RESULT {json}``.
"""

from __future__ import annotations

import os
import sys

import common
import jax
import numpy as np

from fnn import losses, parallel, train

pid, nproc, port, out_dir, local = (int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]),
                                    sys.argv[4], int(sys.argv[5]))
# first, before anything touches the devices (importing jax and fnn does not)
parallel.initialize_distributed(f"127.0.0.1:{port}", nproc, pid, cpu_collectives="gloo",
                                initialization_timeout=120)

common.expect_devices(local)
assert jax.process_index() == pid and jax.process_count() == nproc, (jax.process_index(),
                                                                       jax.process_count())
mesh = parallel.make_mesh()
result = {"process_index": jax.process_index(), "process_count": jax.process_count(),
          "devices": len(jax.devices()), "local_devices": len(jax.local_devices()),
          "mesh_processes": [d.process_index for d in mesh.devices.flat]}
x, y = common.dataset()
model = common.net()


def record(name: str, state, step_losses, **extra) -> None:
    np.savez(os.path.join(out_dir, f"p{pid}_{name}.npz"), **common.flat(state.params))
    result[name] = {"losses": [float(v) for v in np.asarray(step_losses).ravel()],
                    "layout": common.layout(state.params), "step": int(state.step), **extra}


# data parallel through fit (the whole data set on every process, batches split by fit)
opt = common.optimizer("sgd")
state, hist = train.fit(model, opt, common.fresh_state(opt), (x, y), epochs=1,
                        batch_size=common.BATCH_SIZE, loss=losses.cross_entropy,
                        eval_data=(x[:32], y[:32]), progress=False, mesh=mesh)
record("dp", state, hist["step_loss"], val_loss=hist["val_loss"][0],
       val_accuracy=hist["val_accuracy"][0])

# sharded, each process feeding only its own rows of every batch
opt = common.optimizer("sgd")
step = train.make_train_step(model, opt, losses.cross_entropy, mesh=mesh, fsdp=True)
state, idx = common.epoch_rows(common.fresh_state(opt))
state = parallel.shard_state(state, mesh, fsdp=True)
per_process = common.BATCH_SIZE // nproc
step_losses = []
for rows in idx:
    mine = rows[pid * per_process:(pid + 1) * per_process]
    batch = parallel.shard_batch((x[mine], y[mine]), mesh, local=True)
    state, loss = step(state, batch)
    step_losses.append(loss)
record("fsdp", state, step_losses,
       batch_layout=common.layout({"x": batch[0], "y": batch[1]}),
       opt_state_layout=common.layout(state.opt_state))
common.emit(result)
jax.distributed.shutdown()
