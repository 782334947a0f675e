"""The checkpoint's files: names, leaf encoding (safetensors + a JSON manifest) and decoding."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from .. import _tree

__all__ = ["MODEL_FILE", "OPTIMIZER_FILE", "META_FILE", "FORMAT", "FORMAT_VERSION", "encode",
           "decode", "named", "pack", "key_json", "read"]

MODEL_FILE = "model.safetensors"
OPTIMIZER_FILE = "optimizer.safetensors"
META_FILE = "meta.json"
FORMAT, FORMAT_VERSION = "fnn.checkpoint", 1

# dtypes safetensors' numpy API cannot hold are stored as same-width unsigned ints
_AS_UINT = {2: np.uint16, 1: np.uint8, 4: np.uint32, 8: np.uint64}
_NATIVE = {np.dtype(t) for t in (np.float64, np.float32, np.float16, np.int64, np.uint64,
                                 np.int32, np.uint32, np.int16, np.uint16, np.int8, np.uint8,
                                 np.bool_, np.complex64)}


def _safetensors():
    try:
        from safetensors import numpy as st
    except ImportError as e:  # pragma: no cover - exercised only without safetensors
        raise ImportError("fnn.checkpoint needs safetensors: pip install safetensors "
                          "(or pip install fnn[examples])") from e
    return st


# ---------------------------------------------------------------------- leaf encoding
def encode(leaf: Any) -> tuple[np.ndarray, dict[str, Any]]:
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


def decode(arr: np.ndarray, entry: Mapping[str, Any]) -> jax.Array:
    if entry.get("prng_impl"):
        return jax.random.wrap_key_data(jnp.asarray(arr), impl=entry["prng_impl"])
    dtype = jnp.dtype(entry["dtype"])
    if arr.dtype != dtype:
        arr = arr.view(dtype)
    return jnp.asarray(arr.reshape(entry["shape"]))


def named(tree: Any) -> dict[str, Any]:
    """Leaves of any pytree under their dotted path names (``"state.fc1.weight.exp_avg"``)."""
    paths, _ = jax.tree_util.tree_flatten_with_path(tree)
    out: dict[str, Any] = {}
    for p, leaf in paths:
        name = _tree.path_name(p) or "_"
        if name in out:
            raise ValueError(f"checkpoint: two leaves of the optimizer state are both named {name!r}")
        out[name] = leaf
    return out


def pack(named: Mapping[str, Any], st_meta: dict[str, str], what: str
          ) -> tuple[bytes, dict[str, Any]]:
    arrays, manifest = {}, {}
    for name, leaf in named.items():
        try:
            arrays[name], manifest[name] = encode(leaf)
        except TypeError as e:
            raise TypeError(f"checkpoint.save: {what} entry {name!r}: {e}") from None
    return _safetensors().save(arrays, metadata=st_meta), manifest


def key_json(key: Any) -> dict[str, Any] | None:
    if key is None:
        return None
    arr, entry = encode(jnp.asarray(key) if not isinstance(key, jax.Array) else key)
    return {"data": arr.tolist(), **entry}


def read(path: Any, name: str, blob: bytes, manifest: Mapping[str, Any]) -> dict[str, jax.Array]:
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
            out[k] = decode(arrays[k], entry)
        except (ValueError, TypeError) as e:
            raise ValueError(f"checkpoint {str(path)!r}: {name} entry {k!r} does not match "
                             f"its record in {META_FILE} ({e})") from None
    return out


