"""fnn.data: the digits, MNIST's IDX files, preprocessing and mini-batches (vs torch/numpy)."""

from __future__ import annotations

import gzip

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits as sk_digits

from fnn import data


def test_load_digits_matches_sklearn():
    x, y = data.load_digits()
    sk = sk_digits()
    assert x.shape == (1797, 1, 8, 8) and x.dtype == np.float32
    assert y.shape == (1797,) and y.dtype == np.int32
    np.testing.assert_array_equal(x[:, 0] * 16, sk.images)
    np.testing.assert_array_equal(y, sk.target)
    assert x.min() == 0.0 and x.max() == 1.0


def test_resize_matches_torch_bilinear_upsampling():
    x, _ = data.load_digits()
    x28, _ = data.load_digits(size=28)
    assert x28.shape == (1797, 1, 28, 28) and x28.dtype == np.float32
    ref = torch.nn.functional.interpolate(torch.tensor(x[:50]), size=(28, 28), mode="bilinear",
                                          align_corners=False).numpy()
    np.testing.assert_allclose(x28[:50], ref, rtol=0, atol=2e-6)


@pytest.mark.parametrize("size", [0, -1, 2.5])
def test_load_digits_bad_size(size):
    with pytest.raises(ValueError, match="size must be a positive int"):
        data.load_digits(size=size)


def _idx_bytes(arr: np.ndarray, code: int) -> bytes:
    header = bytes([0, 0, code, arr.ndim]) + np.asarray(arr.shape, ">u4").tobytes()
    return header + arr.astype(arr.dtype.newbyteorder(">")).tobytes()


def _write_mnist(folder, n=7, gz=False, train=True):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, n, dtype=np.uint8)
    folder.mkdir(parents=True, exist_ok=True)
    prefix = "train" if train else "t10k"
    for stem, arr in ((f"{prefix}-images-idx3-ubyte", images), (f"{prefix}-labels-idx1-ubyte", labels)):
        raw = _idx_bytes(arr, 0x08)
        (folder / (stem + (".gz" if gz else ""))).write_bytes(gzip.compress(raw) if gz else raw)
    return images, labels


@pytest.mark.parametrize("layout", ["flat", "raw", "torchvision"])
@pytest.mark.parametrize("gz", [False, True])
def test_load_mnist_layouts(tmp_path, layout, gz):
    sub = {"flat": tmp_path, "raw": tmp_path / "raw", "torchvision": tmp_path / "MNIST" / "raw"}
    images, labels = _write_mnist(sub[layout], gz=gz, train=False)
    x, y = data.load_mnist(tmp_path, train=False)
    assert x.shape == (7, 1, 28, 28) and x.dtype == np.float32
    np.testing.assert_array_equal(x[:, 0], images.astype(np.float32) / 255)
    np.testing.assert_array_equal(y, labels)
    assert y.dtype == np.int32


@pytest.mark.parametrize("code,dtype", [(0x08, np.uint8), (0x09, np.int8), (0x0B, np.int16),
                                        (0x0C, np.int32), (0x0D, np.float32), (0x0E, np.float64)])
def test_read_idx_types(tmp_path, code, dtype):
    arr = (np.arange(24).reshape(2, 3, 4) - 5).astype(dtype)
    if dtype == np.uint8:
        arr = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    (tmp_path / "a.idx").write_bytes(_idx_bytes(arr, code))
    out = data.read_idx(tmp_path / "a.idx")
    np.testing.assert_array_equal(out, arr)
    assert out.dtype == np.dtype(dtype)


def test_missing_mnist_directory_and_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="MNIST directory .*nowhere.* does not exist"):
        data.load_mnist(tmp_path / "nowhere")
    with pytest.raises(FileNotFoundError, match="train-images-idx3-ubyte.*not found") as e:
        data.load_mnist(tmp_path)
    assert "MNIST/raw/train-images-idx3-ubyte.gz" in str(e.value)


def test_malformed_idx_files_name_the_file_and_the_problem(tmp_path):
    good = _idx_bytes(np.zeros((3, 28, 28), np.uint8), 0x08)
    cases = {
        "magic.idx": (b"\x01\x02" + good[2:], "bad magic number"),
        "type.idx": (good[:2] + b"\x42" + good[3:], "unknown element type code 0x42"),
        "trunc.idx": (good[:-5], "needs 2352 data bytes, found 2347"),
        "short.idx": (b"\x00\x00", "too short for a header"),
        "header.idx": (good[:9], "header truncated"),
        "bad.idx.gz": (b"not gzip at all", "cannot decompress"),
    }
    for name, (raw, msg) in cases.items():
        (tmp_path / name).write_bytes(raw)
        with pytest.raises(ValueError, match=msg) as e:
            data.read_idx(tmp_path / name)
        assert name in str(e.value)


def test_mnist_label_count_mismatch(tmp_path):
    _write_mnist(tmp_path)
    (tmp_path / "train-labels-idx1-ubyte").write_bytes(_idx_bytes(np.zeros(3, np.uint8), 0x08))
    with pytest.raises(ValueError, match="train-labels-idx1-ubyte.*expected 7 labels"):
        data.load_mnist(tmp_path)


def test_train_test_split_is_deterministic_and_disjoint():
    x = np.arange(50, dtype=np.float32)[:, None]
    y = np.arange(50)
    (a, ya), (b, yb) = data.train_test_split(x, y, 0.2, key=jax.random.key(3))
    (a2, _), (b2, _) = data.train_test_split(x, y, 0.2, key=jax.random.key(3))
    (a3, _), _ = data.train_test_split(x, y, 0.2, key=jax.random.key(4))
    np.testing.assert_array_equal(a, a2)
    np.testing.assert_array_equal(b, b2)
    assert not np.array_equal(a, a3)
    assert len(b) == 10 and len(a) == 40
    assert sorted(np.concatenate([ya, yb]).tolist()) == list(range(50))
    np.testing.assert_array_equal(a[:, 0], ya)
    with pytest.raises(ValueError, match="x has 50 samples but y has 3"):
        data.train_test_split(x, y[:3], key=jax.random.key(0))
    with pytest.raises(ValueError, match="test_fraction"):
        data.train_test_split(x, y, 1.5, key=jax.random.key(0))


def test_mean_std_normalize_match_torch():
    x, _ = data.load_digits()
    t = torch.tensor(x, dtype=torch.float64)
    mu, std = data.mean_std(x)
    assert mu == pytest.approx(t.mean().item(), rel=1e-12)
    assert std == pytest.approx(t.std().item(), rel=1e-12)
    xn = data.normalize(x, mu, std)
    t32 = torch.tensor(x)
    ref = t32.sub_(torch.tensor(mu, dtype=torch.float32)).div_(torch.tensor(std, dtype=torch.float32))
    np.testing.assert_array_equal(xn, ref.numpy())
    assert xn.dtype == np.float32


def test_batch_indices_deterministic_drop_last_and_jittable():
    key = jax.random.key(7)
    idx = data.batch_indices(key, 103, 10)
    assert idx.shape == (10, 10) and idx.dtype == jnp.int32
    np.testing.assert_array_equal(idx.ravel(), np.asarray(jax.random.permutation(key, 103))[:100])
    assert len(set(np.asarray(idx).ravel().tolist())) == 100
    jitted = jax.jit(data.batch_indices, static_argnums=(1, 2))(key, 103, 10)
    np.testing.assert_array_equal(jitted, idx)
    np.testing.assert_array_equal(data.batch_indices(None, 7, 3), [[0, 1, 2], [3, 4, 5]])
    with pytest.raises(ValueError, match="batch_size 200 is larger than the dataset"):
        data.batch_indices(key, 103, 200)
    with pytest.raises(ValueError, match="batch_size must be a positive int"):
        data.batch_indices(key, 103, 0)


def test_batches_iterator():
    x = np.arange(10.0)[:, None]
    y = np.arange(10)
    got = list(data.batches(x, y, batch_size=4, key=jax.random.key(1)))
    assert len(got) == 2
    perm = np.asarray(jax.random.permutation(jax.random.key(1), 10))
    np.testing.assert_array_equal(np.concatenate([b[1] for b in got]), perm[:8])
    np.testing.assert_array_equal(got[0][0][:, 0], got[0][1])
    tail = list(data.batches(x, y, batch_size=4, drop_last=False))
    assert [len(b[0]) for b in tail] == [4, 4, 2]
    np.testing.assert_array_equal(tail[2][1], [8, 9])
    with pytest.raises(ValueError, match="different lengths"):
        list(data.batches(x, y[:3], batch_size=2))
