"""tfgen.data: every loader on real files, TFDS through mock data, and each bad input."""

import gzip
import logging

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds
from PIL import Image

from tfgen import data
from tfgen.errors import TfgenUsageError


def _first_batch(ds):
    return next(iter(ds))


def test_idx_folder_real_mnist(mnist_dir):
    images, labels = data.load_idx(mnist_dir, "test")
    assert images.shape == (1666, 28, 28, 1) and images.dtype == np.uint8
    assert labels.shape == (1666,) and set(np.unique(labels)) == set(range(10))
    x, y = _first_batch(data.load(str(mnist_dir), split="test", batch_size=32, with_labels=True))
    assert x.shape == (32, 28, 28, 1) and x.dtype == tf.float32 and y.dtype == tf.int32
    assert -1.0 <= float(tf.reduce_min(x)) < -0.99 and 0.99 < float(tf.reduce_max(x)) <= 1.0


def test_tfds_name_uses_local_copy(data_dir, monkeypatch):
    monkeypatch.setenv("TFGEN_DATA_DIR", str(data_dir))
    ds = data.load("fashion_mnist", split="test", batch_size=16, image_size=32, channels=3)
    assert _first_batch(ds).shape == (16, 32, 32, 3)
    # data_dir argument works without the environment variable
    monkeypatch.delenv("TFGEN_DATA_DIR")
    ds = data.load("mnist", split="train", batch_size=8, data_dir=data_dir, limit=40)
    assert ds.cardinality() == 5


def test_shuffle_is_seeded(mnist_dir):
    a = _first_batch(data.load(str(mnist_dir), split="test", batch_size=8, seed=3))
    b = _first_batch(data.load(str(mnist_dir), split="test", batch_size=8, seed=3))
    c = _first_batch(data.load(str(mnist_dir), split="test", batch_size=8, seed=4))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_tfds_mock_data():
    with tfds.testing.mock_data(num_examples=20):
        x, y = _first_batch(data.load("mnist", batch_size=4, with_labels=True))
    assert x.shape == (4, 28, 28, 1) and y.shape == (4,)
    assert float(tf.reduce_min(x)) >= -1.0 and float(tf.reduce_max(x)) <= 1.0


def test_failed_tfds_download_is_a_usage_error(monkeypatch):
    """No internet (or no disk space) gives one clear error that names the local-copy way."""

    def offline(self, *args, **kwargs):
        raise ConnectionError("Failed to resolve 'storage.googleapis.com'")

    monkeypatch.delenv("TFGEN_DATA_DIR", raising=False)
    monkeypatch.setattr(type(tfds.builder("mnist")), "download_and_prepare", offline)
    with pytest.raises(TfgenUsageError, match="TFDS could not download or prepare 'mnist'") as e:
        data.load("mnist", batch_size=4)
    assert "storage.googleapis.com" in str(e.value) and "--data-dir" in str(e.value)


def test_unknown_tfds_name():
    with pytest.raises(TfgenUsageError, match="unknown dataset 'no_such_dataset_xyz'"):
        data.load("no_such_dataset_xyz")


def _write_png(path, array):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)


def test_image_folder_with_class_subfolders(tmp_path, mnist_test_arrays):
    images, labels = mnist_test_arrays
    for i in range(12):
        _write_png(tmp_path / f"class_{labels[i]}" / f"{i}.png", images[i, ..., 0])
    x, y = _first_batch(data.load(str(tmp_path), batch_size=12, with_labels=True, shuffle=False))
    assert x.shape == (12, 28, 28, 1)
    names = sorted({f"class_{v}" for v in labels[:12]})
    # labels index the sorted class folder names
    expected = sorted(names.index(f"class_{labels[i]}") for i in range(12))
    assert sorted(y.numpy().tolist()) == expected


def test_image_folder_skips_corrupt_files_with_one_warning(tmp_path, caplog, mnist_test_arrays):
    images, _ = mnist_test_arrays
    for i in range(4):
        _write_png(tmp_path / f"{i}.png", images[i, ..., 0])
    (tmp_path / "broken.png").write_bytes(b"not a png")
    (tmp_path / "broken2.jpg").write_bytes(b"\xff\xd8 junk")
    with caplog.at_level(logging.WARNING):
        ds = data.load(str(tmp_path), batch_size=2, drop_remainder=False)
    assert sum(int(b.shape[0]) for b in ds) == 4
    warnings = [r for r in caplog.records if "corrupt" in r.message]
    assert len(warnings) == 1
    assert "2 corrupt" in warnings[0].getMessage() and "broken.png" in warnings[0].getMessage()


def test_mixed_sizes_need_image_size(tmp_path):
    _write_png(tmp_path / "a.png", np.zeros((28, 28), np.uint8))
    _write_png(tmp_path / "b.png", np.zeros((32, 32), np.uint8))
    with pytest.raises(TfgenUsageError, match="differ in size.*image_size"):
        data.load(str(tmp_path), batch_size=1)
    x = _first_batch(data.load(str(tmp_path), batch_size=2, image_size=32))
    assert x.shape == (2, 32, 32, 1)


def test_npz_source(tmp_path):
    x = np.random.default_rng(0).integers(0, 256, (10, 32, 32, 3), dtype=np.uint8)
    np.savez(tmp_path / "d.npz", x=x, y=np.arange(10))
    batch, labels = _first_batch(
        data.load(str(tmp_path / "d.npz"), batch_size=10, with_labels=True, shuffle=False)
    )
    np.testing.assert_allclose(batch.numpy(), x / 127.5 - 1.0, atol=1e-6)
    np.testing.assert_array_equal(labels, np.arange(10))


@pytest.mark.parametrize(
    "make, kwargs, match",
    [
        (lambda p: p / "missing.npz", {}, "does not exist"),
        (lambda p: p / "nowhere" / "x", {}, "does not exist"),
        (lambda p: (p / "empty").mkdir() or p / "empty", {}, "no images found"),
        (
            lambda p: np.savez(p / "nolabels.npz", x=np.zeros((4, 8, 8))) or p / "nolabels.npz",
            {"with_labels": True},
            "has no labels",
        ),
        (
            lambda p: np.savez(p / "noxs.npz", images=np.zeros((4, 8, 8))) or p / "noxs.npz",
            {},
            "has no array 'x'",
        ),
        (
            lambda p: np.savez(p / "range.npz", x=np.full((4, 8, 8), 300.0)) or p / "range.npz",
            {},
            "pixel values span",
        ),
        (
            lambda p: np.savez(p / "ch.npz", x=np.zeros((4, 8, 8, 2), np.uint8)) or p / "ch.npz",
            {"channels": 3},
            "has 2 channels",
        ),
        (
            lambda p: np.savez(p / "few.npz", x=np.zeros((4, 8, 8), np.uint8)) or p / "few.npz",
            {"batch_size": 16},
            "fewer than batch_size=16",
        ),
        (
            lambda p: np.savez(p / "ok.npz", x=np.zeros((4, 8, 8), np.uint8)) or p / "ok.npz",
            {"channels": 2},
            "channels must be 1 or 3",
        ),
        (
            lambda p: np.savez(p / "ok2.npz", x=np.zeros((4, 8, 8), np.uint8)) or p / "ok2.npz",
            {"batch_size": 0},
            "batch_size must be a positive integer",
        ),
    ],
)
def test_bad_inputs(tmp_path, make, kwargs, match):
    source = make(tmp_path)
    with pytest.raises(TfgenUsageError, match=match):
        data.load(str(source), **{"batch_size": 2, **kwargs})


def test_truncated_idx_file(tmp_path, mnist_dir):
    raw = gzip.open(mnist_dir / "t10k-images-idx3-ubyte.gz").read()
    with gzip.open(tmp_path / "t10k-images-idx3-ubyte.gz", "wb") as f:
        f.write(raw[:5000])
    with pytest.raises(TfgenUsageError, match="truncated"):
        data.load(str(tmp_path), split="test")


def test_bad_idx_magic(tmp_path):
    with gzip.open(tmp_path / "train-images-idx3-ubyte.gz", "wb") as f:
        f.write(b"\x12\x34\x56\x78" + bytes(100))
    with pytest.raises(TfgenUsageError, match="bad magic number"):
        data.load(str(tmp_path))
