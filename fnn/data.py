"""``fnn.data``: datasets that need no network, MNIST's IDX files, deterministic mini-batches.

Images come as ``float32`` arrays ``(N, 1, H, W)`` (torch's ``NCHW``) with values in
``[0, 1]``, labels as ``int32`` ``(N,)``::

    x, y = data.load_digits(size=28)                   # the UCI digits, 1,797 images
    (x_tr, y_tr), (x_te, y_te) = data.train_test_split(x, y, test_fraction=0.2,
                                                       key=jax.random.key(0))
    mean, std = data.mean_std(x_tr)                    # Fleuret: mu, std = x.mean(), x.std()
    x_tr, x_te = data.normalize(x_tr, mean, std), data.normalize(x_te, mean, std)
    x, y = data.load_mnist("~/data", train=True)       # torchvision's MNIST/raw IDX files

Mini-batches: :func:`batch_indices` draws one epoch's batches as an index matrix from a key
(the same key gives the same batches, on any machine); the last partial batch is
**dropped** (torch's ``DataLoader(drop_last=True)``): with a fresh permutation every
epoch each sample is still seen in expectation equally often, and every batch has the
same shape, so the training step compiles once. :func:`batches` is the Python-iterator
form (torch's ``DataLoader``) for a hand-written loop.
"""

from __future__ import annotations

import gzip
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["load_digits", "load_mnist", "read_idx", "train_test_split", "mean_std", "normalize",
           "resize", "batch_indices", "batches"]


# ---------------------------------------------------------------------- datasets
def resize(x: Any, size: int) -> np.ndarray:
    """Bilinear resize of ``(N, C, H, W)`` images to ``(N, C, size, size)``.

    ``jax.image.resize(method="bilinear")`` (antialiased when shrinking); torch's
    ``F.interpolate(mode="bilinear", antialias=True)`` up to the edge convention.
    """
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 1:
        raise ValueError(f"resize: size must be a positive int, got {size!r}")
    x = jnp.asarray(x)
    if x.ndim != 4:
        raise ValueError(f"resize: expected images (N, C, H, W), got shape {tuple(x.shape)}")
    out = jax.image.resize(x, (*x.shape[:2], size, size), method="bilinear")
    return np.asarray(out, dtype=np.float32)


def load_digits(size: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """The UCI handwritten digits (1,797 8x8 grey images of 0-9), bundled with scikit-learn.

    Returns ``(x, y)``: ``x`` ``float32`` ``(1797, 1, size, size)`` in ``[0, 1]`` (the
    0-16 pixel counts divided by 16, bilinearly resized when ``size != 8``), ``y``
    ``int32`` ``(1797,)``. ``size=28`` lets a network written for MNIST run unchanged.
    No download: the data ships with ``scikit-learn`` (``pip install fnn[examples]``).
    Source: Alpaydin & Kaynak, UCI "Optical Recognition of Handwritten Digits" (1998).
    """
    if not isinstance(size, int) or isinstance(size, bool) or size < 1:
        raise ValueError(f"load_digits: size must be a positive int, got {size!r}")
    try:
        from sklearn.datasets import load_digits as _sk_digits
    except ImportError as e:  # pragma: no cover - exercised only without scikit-learn
        raise ImportError("fnn.data.load_digits needs scikit-learn: pip install scikit-learn "
                          "(or pip install fnn[examples])") from e
    d = _sk_digits()
    x = (d.images.astype(np.float32) / 16.0)[:, None, :, :]
    if size != 8:
        x = resize(x, size)
    return x, d.target.astype(np.int32)


# IDX type codes (http://yann.lecun.com/exdb/mnist/): big-endian element types
_IDX_TYPES: dict[int, np.dtype] = {0x08: np.dtype(np.uint8), 0x09: np.dtype(np.int8), 0x0B: np.dtype(">i2"),
              0x0C: np.dtype(">i4"), 0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read one IDX file (MNIST's format), gzipped (``.gz``) or not, into a numpy array.

    Header: two zero bytes, a type code, the number of dimensions ``d``, then ``d``
    big-endian ``uint32`` sizes; the data follows. A malformed file raises ``ValueError``
    naming the file and what is wrong (bad magic, unknown type, truncated data, ...).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"IDX file {str(path)!r} does not exist")
    try:
        raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    except (OSError, EOFError, gzip.BadGzipFile) as e:
        raise ValueError(f"IDX file {str(path)!r}: cannot decompress ({e})") from e
    if len(raw) < 4:
        raise ValueError(f"IDX file {str(path)!r}: only {len(raw)} bytes, too short for a header")
    if raw[0] != 0 or raw[1] != 0:
        raise ValueError(f"IDX file {str(path)!r}: bad magic number {raw[:4].hex()} "
                         "(expected two zero bytes, a type code and a dimension count)")
    code, ndim = raw[2], raw[3]
    if code not in _IDX_TYPES:
        raise ValueError(f"IDX file {str(path)!r}: unknown element type code 0x{code:02x} "
                         f"(expected one of {', '.join(f'0x{c:02x}' for c in _IDX_TYPES)})")
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise ValueError(f"IDX file {str(path)!r}: header truncated ({len(raw)} bytes for "
                         f"{ndim} dimensions)")
    shape = tuple(int(s) for s in np.frombuffer(raw, ">u4", ndim, 4))
    dtype = _IDX_TYPES[code]
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(raw) - header != expected:
        raise ValueError(f"IDX file {str(path)!r}: shape {shape} of {dtype.name} needs {expected} "
                         f"data bytes, found {len(raw) - header}")
    return np.frombuffer(raw, dtype, offset=header).reshape(shape).astype(dtype.newbyteorder("="))


_MNIST_FILES = {True: ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
                False: ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}


def _find_idx(root: Path, stem: str) -> Path:
    tried = []
    for folder in (root, root / "raw", root / "MNIST" / "raw"):
        for name in (stem, stem + ".gz", stem.replace("-idx", ".idx")):
            p = folder / name
            tried.append(str(p))
            if p.is_file():
                return p
    raise FileNotFoundError(f"MNIST file {stem!r} not found under {str(root)!r}; looked for:\n  "
                            + "\n  ".join(tried))


def load_mnist(root: str | os.PathLike, train: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """MNIST from its IDX files as users have them (torchvision's ``MNIST/raw`` layout too).

    ``root`` may hold ``train-images-idx3-ubyte`` (or ``.gz``) and friends directly, or in
    ``raw/`` or ``MNIST/raw/`` (what ``torchvision.datasets.MNIST(root, download=True)``
    leaves). Returns ``x`` ``float32`` ``(N, 1, 28, 28)`` in ``[0, 1]`` and ``y`` ``int32``
    ``(N,)``; ``train=False`` gives the 10,000 test images. No download.
    torch: ``torchvision.datasets.MNIST(root, train=train)`` (``.data / 255``, ``.targets``).
    """
    root = Path(root).expanduser()
    if not root.is_dir():
        raise FileNotFoundError(f"MNIST directory {str(root)!r} does not exist")
    img_path, lbl_path = (_find_idx(root, s) for s in _MNIST_FILES[bool(train)])
    images, labels = read_idx(img_path), read_idx(lbl_path)
    if images.ndim != 3 or images.dtype != np.uint8:
        raise ValueError(f"IDX file {str(img_path)!r}: expected uint8 images (N, H, W), got "
                         f"{images.dtype.name} {images.shape}")
    if labels.ndim != 1 or len(labels) != len(images):
        raise ValueError(f"IDX file {str(lbl_path)!r}: expected {len(images)} labels (one per "
                         f"image in {img_path.name}), got shape {labels.shape}")
    return (images.astype(np.float32) / 255.0)[:, None], labels.astype(np.int32)


# ---------------------------------------------------------------------- preprocessing
def train_test_split(x: Any, y: Any, test_fraction: float = 0.2, *, key: jax.Array):
    """Shuffle with ``key`` and split: ``((x_train, y_train), (x_test, y_test))``.

    The test set has ``round(test_fraction * N)`` samples. Deterministic given ``key``.
    """
    n = len(x)
    if len(y) != n:
        raise ValueError(f"train_test_split: x has {n} samples but y has {len(y)}")
    if not 0 < test_fraction < 1:
        raise ValueError(f"train_test_split: test_fraction must be in (0, 1), got {test_fraction}")
    perm = np.asarray(jax.random.permutation(key, n))
    n_test = int(round(test_fraction * n))
    test, train = perm[:n_test], perm[n_test:]
    x, y = np.asarray(x), np.asarray(y)
    return (x[train], y[train]), (x[test], y[test])


def mean_std(x: Any) -> tuple[float, float]:
    """The scalar mean and (unbiased, torch's ``x.std()``) standard deviation of ``x``."""
    x = np.asarray(x, dtype=np.float64)
    if x.size < 2:
        raise ValueError(f"mean_std: needs at least 2 values for the unbiased std, got {x.size}")
    return float(x.mean()), float(x.std(ddof=1))


def normalize(x: Any, mean: Any, std: Any) -> np.ndarray:
    """``(x - mean) / std`` in ``x``'s dtype (Fleuret: ``x.sub_(mu).div_(std)``)."""
    x = np.asarray(x)
    if np.any(np.asarray(std) == 0):
        raise ValueError("normalize: std must be non-zero (a constant input has std 0)")
    return ((x - np.asarray(mean, x.dtype)) / np.asarray(std, x.dtype)).astype(x.dtype)


# ---------------------------------------------------------------------- mini-batches
def _check_batch_size(batch_size: Any) -> None:
    if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")


def batch_indices(key: jax.Array | None, n: int, batch_size: int) -> jax.Array:
    """One epoch's mini-batches as an ``int32`` index matrix ``(n // batch_size, batch_size)``.

    Row ``b`` holds the sample indices of batch ``b``: a permutation of ``range(n)`` drawn
    from ``key`` (``None``: in order, no shuffling), with the last ``n % batch_size``
    samples of the permutation dropped. Works under ``jax.jit`` (``n`` and ``batch_size``
    static). torch: ``DataLoader(dataset, batch_size, shuffle=True, drop_last=True)``.
    """
    _check_batch_size(batch_size)
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
        raise ValueError(f"batch_indices: n (the number of samples) must be a non-negative int, "
                         f"got {n!r}")
    if batch_size > n:
        raise ValueError(f"batch_size {batch_size} is larger than the dataset ({n} samples)")
    order = jnp.arange(n, dtype=jnp.int32) if key is None else jax.random.permutation(key, n)
    nb = n // batch_size
    return order[: nb * batch_size].astype(jnp.int32).reshape(nb, batch_size)


def batches(*arrays: Any, batch_size: int, key: jax.Array | None = None,
            drop_last: bool = True) -> Iterator[tuple[jax.Array, ...]]:
    """Iterate over mini-batches of ``arrays`` (sliced together), torch's ``DataLoader``.

    ``key``: shuffle with this key (``None``: in order). ``drop_last=False`` also yields
    the last partial batch. For a hand-written loop::

        for xb, yb in data.batches(x, y, batch_size=100, key=jax.random.fold_in(key, epoch)):
            state, loss = train_step(state, (xb, yb))
    """
    if not arrays:
        raise ValueError("batches: give at least one array")
    _check_batch_size(batch_size)
    n = len(arrays[0])
    for a in arrays[1:]:
        if len(a) != n:
            raise ValueError(f"batches: arrays have different lengths ({n} and {len(a)})")
    order = np.arange(n) if key is None else np.asarray(jax.random.permutation(key, n))
    stop = n - n % batch_size if drop_last else n
    for start in range(0, stop, batch_size):
        idx = order[start:start + batch_size]
        yield tuple(jnp.asarray(np.asarray(a)[idx]) for a in arrays)
