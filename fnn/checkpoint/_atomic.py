"""Atomic checkpoint directories: write a complete copy next to the target, fsync, swap in."""

from __future__ import annotations

import os
import shutil
import uuid
import warnings
from collections.abc import Mapping
from pathlib import Path

from ._format import META_FILE

__all__ = ["write_atomically", "locate"]


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


def _siblings(path: Path, tag: str) -> list[Path]:
    return sorted(path.parent.glob(f".{path.name}.{tag}-*"), key=lambda p: p.stat().st_mtime)


def write_atomically(path: Path, files: Mapping[str, bytes], meta: bytes) -> None:
    """Write ``files`` and then ``META_FILE`` (the commit record) into a new directory next
    to ``path``, fsync everything and swap it in with renames: a save that fails or is
    killed at any point leaves the previous checkpoint loadable (see :func:`locate`)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    _recover(path)
    for stale in _siblings(path, "tmp"):  # left by killed saves
        shutil.rmtree(stale, ignore_errors=True)
    tmp = path.parent / f".{path.name}.tmp-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()  # (not tempfile.mkdtemp: that makes it 0700 whatever the umask)
    try:
        for name, data in files.items():
            _write(tmp / name, data)
        _write(tmp / META_FILE, meta)  # the commit record, last
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


def locate(path: Path) -> Path:
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


