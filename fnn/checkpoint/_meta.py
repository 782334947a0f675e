"""Reading and validating ``meta.json`` and the integrity of the data files."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any, NoReturn

import jax.numpy as jnp
import numpy as np

from ._atomic import locate
from ._format import FORMAT, FORMAT_VERSION, META_FILE, MODEL_FILE, OPTIMIZER_FILE

__all__ = ["verified"]


def verified(path: str | os.PathLike) -> tuple[dict[str, Any], dict[str, bytes]]:
    where = locate(Path(path))
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
    def bad(what: str) -> NoReturn:
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


