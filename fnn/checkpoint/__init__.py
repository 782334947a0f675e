"""``fnn.checkpoint``: save and restore a training run, atomically, without pickle.

A checkpoint is a directory::

    ckpt/
      model.safetensors      params + buffers under torch state_dict keys ("fc1.weight")
      optimizer.safetensors  the optimizer state, leaves named by their pytree path
                             ("state.fc1.weight.exp_avg", "param_groups.0.lr", "step")
      meta.json              step, RNG key, user metadata, a dtype/shape manifest,
                             the sha256 of each file, the fnn version

torch reads the weights directly: ``safetensors.torch.load_file("ckpt/model.safetensors")``
is a ``state_dict`` for the equivalent torch module. Usage::

    checkpoint.save("ckpt", params=params, buffers=buffers, opt_state=opt_state,
                    step=step, key=key, metadata={"epoch": 3})
    ck = checkpoint.load("ckpt", like={"params": params, "opt_state": opt.init(params)})
    ck.params, ck.opt_state, ck.step, ck.key, ck.metadata

(``fnn.train.TrainState`` has exactly these fields: ``save(path, **state._asdict())`` and
``load(path, like=state)``.) torch's equivalent is ``torch.save({"model":
model.state_dict(), "optimizer": optimizer.state_dict(), ...})``, which pickles.

**Atomic writes.** :func:`save` writes a complete new directory next to the target
(``.ckpt.tmp-*``), fsyncs every file and the directory, then swaps it in with renames
and fsyncs the parent. A save that fails or is killed at any point leaves the previous
checkpoint loadable: the only non-atomic moment is between two renames, and :func:`load`
then finds the previous checkpoint under its temporary name (``.ckpt.old-*``). One writer
per checkpoint path at a time.

**Integrity.** :func:`load` checks every file's size and sha256 against ``meta.json`` and
the saved names and shapes against the ``like`` templates; any difference is a
``ValueError`` naming the file, or the missing, unexpected and mis-shaped keys.
``meta.json`` itself is validated field by field before use (numeric dtypes, shapes, only
the two data files, an int step...), so a hand-edited or tampered record is a clear
``ValueError`` too. **Loading never runs code**: the data files are parsed as safetensors
(a pickle in their place is refused as "not a valid safetensors file"), the record as
JSON, and a PRNG implementation name is only looked up among JAX's registered ones.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NamedTuple

import jax
import numpy as np

from .. import _tree
from ._atomic import write_atomically
from ._format import (
    FORMAT,
    FORMAT_VERSION,
    META_FILE,
    MODEL_FILE,
    OPTIMIZER_FILE,
    decode,
    key_json,
    named,
    pack,
    read,
)
from ._match import like_fields, restore_dict, restore_opt_state
from ._meta import verified

__all__ = ["save", "load", "verify", "state_dict", "Checkpoint"]


class Checkpoint(NamedTuple):
    """What :func:`load` returns (``None`` for what was not saved)."""

    params: Any
    buffers: Any
    opt_state: Any
    step: int | None
    key: jax.Array | None
    metadata: dict[str, Any]


def state_dict(params: Mapping, buffers: Mapping | None = None) -> dict[str, np.ndarray]:
    """torch's ``model.state_dict()``: params and buffers as ``{"fc1.weight": ndarray}``, in
    torch's order (each module's parameters, then its buffers, then its children)."""
    for name, tree in (("params", params), ("buffers", buffers)):
        if tree is not None and not isinstance(tree, Mapping):
            raise TypeError(f"state_dict: {name} must be a nested dict of arrays (such as "
                            f"model.init(key)), got {type(tree).__name__}")
    return {k: np.asarray(jax.device_get(v))
            for k, v in _tree.state_dict_items(params, buffers).items()}


def save(path: str | os.PathLike, *, params: Any, buffers: Any = None, opt_state: Any = None,
         step: int | None = None, key: jax.Array | None = None,
         metadata: Mapping[str, Any] | None = None) -> Path:
    """Write a checkpoint directory at ``path`` atomically (replacing one that is there).

    ``params``/``buffers``: nested dicts (``model.init``/``model.init_buffers``), stored
    in ``model.safetensors`` under torch ``state_dict`` keys. ``opt_state``: any optimizer
    state pytree (``opt.init(params)``, ``optax.chain`` states...), stored leaf by leaf in
    ``optimizer.safetensors``. ``step`` (int), ``key`` (a ``jax.random.key``, stored as
    its key data and implementation) and ``metadata`` (JSON-serialisable) go to
    ``meta.json``. Returns the checkpoint path. Nothing is pickled.
    torch: ``torch.save({"model": model.state_dict(), "optimizer": opt.state_dict()}, f)``.
    """
    path = Path(path)
    meta_user = _check_save_args(path, step, key, metadata)
    from .. import __version__

    files: dict[str, bytes] = {}
    files[MODEL_FILE], model_manifest = pack(state_dict(params, buffers), {"format": "pt"},
                                             "params/buffers")
    opt_manifest = None
    if opt_state is not None:
        files[OPTIMIZER_FILE], opt_manifest = pack(named(opt_state), {"format": "fnn"},
                                                   "opt_state")
    meta = {
        "format": FORMAT, "format_version": FORMAT_VERSION, "fnn_version": __version__,
        "step": None if step is None else int(step), "key": key_json(key), "metadata": meta_user,
        "params": list(_tree.flatten(params)), "buffers": list(_tree.flatten(buffers or {})),
        "model": model_manifest, "optimizer": opt_manifest,
        "optimizer_tree": None if opt_state is None else str(jax.tree.structure(opt_state)),
        "files": {name: {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
                  for name, data in files.items()},
    }
    write_atomically(path, files, json.dumps(meta, indent=1).encode())
    return path


def _check_save_args(path: Path, step: Any, key: Any, metadata: Any) -> dict[str, Any]:
    """:func:`save`'s argument checks; the metadata as it will read back from JSON."""
    if step is not None:
        a = np.asarray(step) if isinstance(step, (np.ndarray, np.generic, jax.Array)) else None
        if (isinstance(step, bool) or not (isinstance(step, int) or (
                a is not None and a.size == 1 and a.dtype.kind in "iu"))):
            raise TypeError(f"checkpoint.save: step must be an int, got {type(step).__name__} "
                            f"{step!r}")
    if key is not None and not isinstance(key, jax.Array):
        raise TypeError(f"checkpoint.save: key must be a jax.random.key(...) (or a raw uint32 "
                        f"PRNGKey), got {type(key).__name__}")
    if metadata is not None and not isinstance(metadata, Mapping):
        raise TypeError(f"checkpoint.save: metadata must be a dict, got {type(metadata).__name__}")
    try:
        meta_user = json.loads(json.dumps(dict(metadata or {})))
    except (TypeError, ValueError) as e:
        raise TypeError(f"checkpoint.save: metadata must be JSON-serialisable ({e})") from e
    if path.exists() and not (path / META_FILE).is_file() and any(path.iterdir()):
        raise FileExistsError(f"checkpoint.save: {str(path)!r} exists and is not an fnn "
                              "checkpoint; refusing to replace it")
    return meta_user


def verify(path: str | os.PathLike) -> dict[str, Any]:
    """Check a checkpoint's integrity (format, file sizes, sha256); return its ``meta.json``."""
    return verified(path)[0]


def load(path: str | os.PathLike, *, like: Any = None) -> Checkpoint:
    """Read a checkpoint written by :func:`save`, verifying its integrity.

    ``like``: templates to restore into, a mapping (or NamedTuple such as
    ``fnn.train.TrainState``) with any of ``"params"``, ``"buffers"``, ``"opt_state"``
    (e.g. ``{"params": model.init(key), "opt_state": opt.init(params)}``). With a template
    the saved names and shapes must match it exactly (errors list the missing, unexpected
    and mis-shaped keys; dtypes are cast to the template's, as torch's
    ``load_state_dict`` copies) and the result has the template's structure. Without one,
    params and buffers come back as nested dicts in saved order, and the optimizer state
    as a flat ``{"state.fc1.weight.exp_avg": array, ...}`` dict.
    torch: ``model.load_state_dict(sd["model"]); optimizer.load_state_dict(sd["optimizer"])``.
    """
    meta, blobs = verified(path)
    tmpl = like_fields(like)
    model = read(path, MODEL_FILE, blobs[MODEL_FILE], meta["model"])
    params = restore_dict(path, "parameters", meta["params"], model, meta["model"],
                          tmpl.get("params"))
    buffers = restore_dict(path, "buffers", meta["buffers"], model, meta["model"],
                           tmpl.get("buffers"))
    opt_state = None
    if meta["optimizer"] is not None:
        flat = read(path, OPTIMIZER_FILE, blobs[OPTIMIZER_FILE], meta["optimizer"])
        opt_state = restore_opt_state(path, meta["optimizer"], flat, tmpl.get("opt_state"))
    key = None
    if meta["key"] is not None:
        k = meta["key"]
        try:
            key = decode(np.asarray(k["data"], dtype=k["dtype"]), k)
        except (ValueError, TypeError) as e:
            raise ValueError(f"checkpoint {str(path)!r}: {META_FILE} is invalid or tampered "
                             f"with (key: {e})") from None
    return Checkpoint(params, buffers, opt_state, meta["step"], key, meta["metadata"])
