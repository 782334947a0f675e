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
import shutil
import uuid
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from . import _tree

__all__ = ["save", "load", "verify", "state_dict", "Checkpoint"]

MODEL_FILE = "model.safetensors"
OPTIMIZER_FILE = "optimizer.safetensors"
META_FILE = "meta.json"
FORMAT, FORMAT_VERSION = "fnn.checkpoint", 1

# dtypes safetensors' numpy API cannot hold are stored as same-width unsigned ints
_AS_UINT = {2: np.uint16, 1: np.uint8, 4: np.uint32, 8: np.uint64}
_NATIVE = {np.dtype(t) for t in (np.float64, np.float32, np.float16, np.int64, np.uint64,
                                 np.int32, np.uint32, np.int16, np.uint16, np.int8, np.uint8,
                                 np.bool_, np.complex64)}


class Checkpoint(NamedTuple):
    """What :func:`load` returns (``None`` for what was not saved)."""

    params: Any
    buffers: Any
    opt_state: Any
    step: int | None
    key: jax.Array | None
    metadata: dict[str, Any]


def _safetensors():
    try:
        from safetensors import numpy as st
    except ImportError as e:  # pragma: no cover - exercised only without safetensors
        raise ImportError("fnn.checkpoint needs safetensors: pip install safetensors "
                          "(or pip install fnn[examples])") from e
    return st


# ---------------------------------------------------------------------- leaf encoding
def _encode(leaf: Any) -> tuple[np.ndarray, dict[str, Any]]:
    """A numpy array safetensors can store, and the manifest entry that restores the leaf."""
    if isinstance(leaf, jax.Array) and jax.dtypes.issubdtype(leaf.dtype, jax.dtypes.prng_key):
        data = np.asarray(jax.random.key_data(leaf))
        return data, {"dtype": str(data.dtype), "shape": list(leaf.shape),
                      "prng_impl": str(jax.random.key_impl(leaf))}
    arr = np.asarray(jax.device_get(leaf))
    if arr.dtype.kind not in "biufcV" or arr.dtype.hasobject:
        raise TypeError(f"a leaf of dtype {arr.dtype} ({type(leaf).__name__}) is not an array "
                        "of numbers")
    entry = {"dtype": str(arr.dtype), "shape": list(arr.shape)}
    if arr.dtype not in _NATIVE:
        arr = arr.view(_AS_UINT[arr.dtype.itemsize])
    return np.ascontiguousarray(arr), entry


def _decode(arr: np.ndarray, entry: Mapping[str, Any]) -> jax.Array:
    if entry.get("prng_impl"):
        return jax.random.wrap_key_data(jnp.asarray(arr), impl=entry["prng_impl"])
    dtype = jnp.dtype(entry["dtype"])
    if arr.dtype != dtype:
        arr = arr.view(dtype)
    return jnp.asarray(arr.reshape(entry["shape"]))


def _named(tree: Any) -> dict[str, Any]:
    """Leaves of any pytree under their dotted path names (``"state.fc1.weight.exp_avg"``)."""
    paths, _ = jax.tree_util.tree_flatten_with_path(tree)
    out: dict[str, Any] = {}
    for p, leaf in paths:
        name = _tree.path_name(p) or "_"
        if name in out:
            raise ValueError(f"checkpoint: two leaves of the optimizer state are both named {name!r}")
        out[name] = leaf
    return out


def state_dict(params: Mapping, buffers: Mapping | None = None) -> dict[str, np.ndarray]:
    """torch's ``model.state_dict()``: params and buffers as ``{"fc1.weight": ndarray}``."""
    for name, tree in (("params", params), ("buffers", buffers)):
        if tree is not None and not isinstance(tree, Mapping):
            raise TypeError(f"state_dict: {name} must be a nested dict of arrays (such as "
                            f"model.init(key)), got {type(tree).__name__}")
    flat = {k: v for k, v in _tree.flatten(params).items()}
    for k, v in _tree.flatten(buffers or {}).items():
        if k in flat:
            raise ValueError(f"state_dict: {k!r} is both a parameter and a buffer")
        flat[k] = v
    return {k: np.asarray(jax.device_get(v)) for k, v in flat.items()}


# ---------------------------------------------------------------------- writing
def _write(path: Path, data: bytes) -> None:
    with open(path, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def _fsync_dir(path: Path) -> None:
    if os.name == "nt":  # pragma: no cover - directories cannot be fsynced on Windows
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _pack(named: Mapping[str, Any], st_meta: dict[str, str], what: str
          ) -> tuple[bytes, dict[str, Any]]:
    arrays, manifest = {}, {}
    for name, leaf in named.items():
        try:
            arrays[name], manifest[name] = _encode(leaf)
        except TypeError as e:
            raise TypeError(f"checkpoint.save: {what} entry {name!r}: {e}") from None
    return _safetensors().save(arrays, metadata=st_meta), manifest


def _key_json(key: Any) -> dict[str, Any] | None:
    if key is None:
        return None
    arr, entry = _encode(jnp.asarray(key) if not isinstance(key, jax.Array) else key)
    return {"data": arr.tolist(), **entry}


def _siblings(path: Path, tag: str) -> list[Path]:
    return sorted(path.parent.glob(f".{path.name}.{tag}-*"), key=lambda p: p.stat().st_mtime)


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
    path.parent.mkdir(parents=True, exist_ok=True)
    _recover(path)
    for stale in _siblings(path, "tmp"):  # left by killed saves
        shutil.rmtree(stale, ignore_errors=True)

    from . import __version__

    model_named = state_dict(params, buffers)
    files: dict[str, bytes] = {}
    files[MODEL_FILE], model_manifest = _pack(model_named, {"format": "pt"}, "params/buffers")
    opt_manifest = None
    if opt_state is not None:
        files[OPTIMIZER_FILE], opt_manifest = _pack(_named(opt_state), {"format": "fnn"},
                                                    "opt_state")
    meta = {
        "format": FORMAT, "format_version": FORMAT_VERSION, "fnn_version": __version__,
        "step": None if step is None else int(step), "key": _key_json(key), "metadata": meta_user,
        "params": list(_tree.flatten(params)), "buffers": list(_tree.flatten(buffers or {})),
        "model": model_manifest, "optimizer": opt_manifest,
        "optimizer_tree": None if opt_state is None else str(jax.tree.structure(opt_state)),
        "files": {name: {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
                  for name, data in files.items()},
    }
    tmp = path.parent / f".{path.name}.tmp-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()  # (not tempfile.mkdtemp: that makes it 0700 whatever the umask)
    try:
        for name, data in files.items():
            _write(tmp / name, data)
        _write(tmp / META_FILE, json.dumps(meta, indent=1).encode())  # the commit record, last
        _fsync_dir(tmp)
        if path.exists():
            old = path.parent / f".{path.name}.old-{uuid.uuid4().hex[:8]}"
            os.rename(path, old)
            os.rename(tmp, path)
            _fsync_dir(path.parent)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.rename(tmp, path)
            _fsync_dir(path.parent)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return path


def _recover(path: Path) -> None:
    """After a save killed between its two renames, put the previous checkpoint back."""
    olds = _siblings(path, "old")
    if not olds:
        return
    if not path.exists():
        os.rename(olds[-1], path)
        _fsync_dir(path.parent)
        olds = olds[:-1]
    for stale in olds:
        shutil.rmtree(stale, ignore_errors=True)


# ---------------------------------------------------------------------- reading
def _locate(path: Path) -> Path:
    if (path / META_FILE).is_file():
        return path
    olds = [p for p in _siblings(path, "old") if (p / META_FILE).is_file()]
    if not path.exists() and olds:
        warnings.warn(f"checkpoint {str(path)!r}: a save was interrupted; loading the previous "
                      f"checkpoint from {olds[-1].name}", stacklevel=3)
        return olds[-1]
    if not path.exists():
        raise FileNotFoundError(f"checkpoint {str(path)!r} does not exist")
    raise ValueError(f"checkpoint {str(path)!r} is not an fnn checkpoint: {META_FILE} is missing")


def verify(path: str | os.PathLike) -> dict[str, Any]:
    """Check a checkpoint's integrity (format, file sizes, sha256); return its ``meta.json``."""
    return _verified(path)[0]


def _verified(path: str | os.PathLike) -> tuple[dict[str, Any], dict[str, bytes]]:
    where = _locate(Path(path))
    try:
        meta = json.loads((where / META_FILE).read_text())
    except (ValueError, UnicodeDecodeError) as e:
        raise ValueError(f"checkpoint {str(path)!r}: {META_FILE} is corrupted (not valid JSON: "
                         f"{e})") from e
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ValueError(f"checkpoint {str(path)!r}: {META_FILE} is not an fnn checkpoint record")
    if not isinstance(meta.get("format_version", 0), int):
        raise ValueError(f"checkpoint {str(path)!r}: {META_FILE} is invalid or tampered with "
                         "(format_version)")
    if meta.get("format_version", 0) > FORMAT_VERSION:
        raise ValueError(f"checkpoint {str(path)!r} has format version {meta['format_version']}; "
                         f"this fnn reads up to {FORMAT_VERSION}: upgrade fnn")
    _check_meta(path, meta)
    blobs = {}
    for name, info in meta["files"].items():
        f = where / name
        if not f.is_file():
            raise ValueError(f"checkpoint {str(path)!r}: {name} is missing")
        data = f.read_bytes()
        if len(data) != info["bytes"]:
            raise ValueError(f"checkpoint {str(path)!r}: {name} is corrupted (truncated or "
                             f"extended: {len(data)} bytes, expected {info['bytes']})")
        digest = hashlib.sha256(data).hexdigest()
        if digest != info["sha256"]:
            raise ValueError(f"checkpoint {str(path)!r}: {name} is corrupted (sha256 {digest[:16]}... "
                             f"does not match the recorded {info['sha256'][:16]}...)")
        blobs[name] = data
    return meta, blobs


def _read(path: Any, name: str, blob: bytes, manifest: Mapping[str, Any]) -> dict[str, jax.Array]:
    """Parse a safetensors blob (never pickle) and decode the manifest's entries; anything
    inconsistent is a ``ValueError`` naming the file."""
    try:
        arrays = _safetensors().load(blob)
    except Exception as e:  # safetensors raises its own SafetensorError
        raise ValueError(f"checkpoint {str(path)!r}: {name} is corrupted (not a valid "
                         f"safetensors file: {e})") from None
    missing = [k for k in manifest if k not in arrays]
    if missing:
        raise ValueError(f"checkpoint {str(path)!r}: {name} does not hold the entries "
                         f"{missing[:5]} listed in {META_FILE}")
    out = {}
    for k, entry in manifest.items():
        try:
            out[k] = _decode(arrays[k], entry)
        except (ValueError, TypeError) as e:
            raise ValueError(f"checkpoint {str(path)!r}: {name} entry {k!r} does not match "
                             f"its record in {META_FILE} ({e})") from None
    return out


_HEX = frozenset("0123456789abcdef")


def _valid_dtype(name: Any) -> bool:
    try:
        dt = jnp.dtype(name)
    except (TypeError, ValueError):
        return False
    return bool(jnp.issubdtype(dt, jnp.number) or dt == np.bool_)


def _valid_entry(e: Any, key_data: bool = False) -> bool:
    """A manifest entry: a numeric dtype, a shape of non-negative ints, an optional PRNG
    implementation name (resolved by JAX among its registered ones, never executed)."""
    if not isinstance(e, dict) or not _valid_dtype(e.get("dtype")):
        return False
    shape = e.get("shape")
    if not isinstance(shape, list) or not all(
            isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape):
        return False
    impl = e.get("prng_impl")
    return impl is None or isinstance(impl, str)


def _check_meta(path: Any, meta: dict[str, Any]) -> None:
    """Validate the structure of ``meta.json`` before using any of it: checksums only prove
    the data files match the record, so the record itself must be well formed (a hand-edited
    or tampered one is a clear ``ValueError``, never a crash deep inside, never code run)."""
    def bad(what: str) -> None:
        raise ValueError(f"checkpoint {str(path)!r}: {META_FILE} is invalid or tampered with "
                         f"({what})")

    files = meta.get("files")
    if not isinstance(files, dict) or MODEL_FILE not in files or any(
            n not in (MODEL_FILE, OPTIMIZER_FILE) for n in files):
        bad(f"'files' must list {MODEL_FILE} and optionally {OPTIMIZER_FILE}, got "
            f"{list(files) if isinstance(files, dict) else type(files).__name__}")
    for n, info in files.items():
        if not (isinstance(info, dict) and isinstance(info.get("sha256"), str)
                and len(info["sha256"]) == 64 and set(info["sha256"]) <= _HEX
                and isinstance(info.get("bytes"), int) and info["bytes"] >= 0):
            bad(f"the size and sha256 of {n}")
    step = meta.get("step")
    if step is not None and (isinstance(step, bool) or not isinstance(step, int)):
        bad(f"step must be an int, got {step!r}"[:200])
    if not isinstance(meta.get("metadata"), dict):
        bad("metadata must be a JSON object")
    key = meta.get("key")
    if key is not None and not (_valid_entry(key) and isinstance(key.get("data"), (list, int))):
        bad("key")
    for what in ("params", "buffers"):
        names = meta.get(what)
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            bad(f"{what} must be a list of names")
    model = meta.get("model")
    if not isinstance(model, dict) or not all(_valid_entry(e) for e in model.values()):
        bad("the model manifest")
    unknown = [n for n in meta["params"] + meta["buffers"] if n not in model]
    if unknown:
        bad(f"names without a manifest entry: {unknown[:5]}")
    opt = meta.get("optimizer")
    if opt is not None and (not isinstance(opt, dict)
                            or not all(_valid_entry(e) for e in opt.values())):
        bad("the optimizer manifest")
    if (opt is None) != (OPTIMIZER_FILE not in files):
        bad(f"the optimizer manifest and {OPTIMIZER_FILE} must come together")


def _check_match(path: Any, what: str, saved: Mapping[str, Any], like: Mapping[str, Any]) -> None:
    """Raise naming the missing/unexpected keys and shape differences, torch-style."""
    missing = [k for k in like if k not in saved]
    unexpected = [k for k in saved if k not in like]
    shapes = [f"{k}: checkpoint {tuple(saved[k]['shape'])}, model {tuple(np.shape(like[k]))}"
              for k in like if k in saved and tuple(saved[k]["shape"]) != tuple(np.shape(like[k]))]
    if missing or unexpected or shapes:
        parts = []
        if missing:
            parts.append(f"missing keys {missing}")
        if unexpected:
            parts.append(f"unexpected keys {unexpected}")
        if shapes:
            parts.append("shape mismatches: " + "; ".join(shapes))
        raise ValueError(f"checkpoint {str(path)!r}: the {what} do not match the given template: "
                         + ", ".join(parts))


def _restore_dict(path: Any, what: str, names: list[str], arrays: Mapping[str, jax.Array],
                  manifest: Mapping[str, Any], like: Any) -> Any:
    saved = {k: manifest[k] for k in names}
    if like is None:
        return _tree.unflatten({k: arrays[k] for k in names}) if names else {}
    flat_like = _tree.flatten(like)
    _check_match(path, what, saved, flat_like)
    return _tree.unflatten({k: arrays[k].astype(jnp.asarray(v).dtype) if hasattr(v, "dtype")
                            else arrays[k] for k, v in flat_like.items()})


def _like_fields(like: Any) -> dict[str, Any]:
    if like is None:
        return {}
    if hasattr(like, "_asdict"):
        like = like._asdict()
    if not isinstance(like, Mapping):
        raise TypeError("checkpoint.load: like must be a mapping (or a NamedTuple such as "
                        f"TrainState) with params/buffers/opt_state templates, got {type(like).__name__}")
    unknown = sorted(set(like) - {"params", "buffers", "opt_state", "step", "key"})
    if unknown:
        raise ValueError(f"checkpoint.load: like has unknown entries {unknown}; the templates "
                         "are 'params', 'buffers' and 'opt_state'")
    return dict(like)


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
    meta, blobs = _verified(path)
    tmpl = _like_fields(like)
    model = _read(path, MODEL_FILE, blobs[MODEL_FILE], meta["model"])
    params = _restore_dict(path, "parameters", meta["params"], model, meta["model"],
                           tmpl.get("params"))
    buffers = _restore_dict(path, "buffers", meta["buffers"], model, meta["model"],
                            tmpl.get("buffers"))
    opt_state = None
    if meta["optimizer"] is not None:
        flat = _read(path, OPTIMIZER_FILE, blobs[OPTIMIZER_FILE], meta["optimizer"])
        like_opt = tmpl.get("opt_state")
        if like_opt is None:
            opt_state = flat
        else:
            named_like = _named(like_opt)
            _check_match(path, "optimizer state entries", meta["optimizer"], named_like)
            leaves = [flat[k] if not hasattr(v, "dtype") or jax.dtypes.issubdtype(
                v.dtype, jax.dtypes.prng_key) else flat[k].astype(v.dtype)
                for k, v in named_like.items()]
            opt_state = jax.tree.unflatten(jax.tree.structure(like_opt), leaves)
    key = None
    if meta["key"] is not None:
        k = meta["key"]
        try:
            key = _decode(np.asarray(k["data"], dtype=k["dtype"]), k)
        except (ValueError, TypeError) as e:
            raise ValueError(f"checkpoint {str(path)!r}: {META_FILE} is invalid or tampered "
                             f"with (key: {e})") from None
    return Checkpoint(params, buffers, opt_state, meta["step"], key, meta["metadata"])
