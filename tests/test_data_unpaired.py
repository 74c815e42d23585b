"""Tests for `tfgen.data.load_unpaired`: sources, epoch length, independent shuffling."""

import numpy as np
import pytest
from PIL import Image

from tfgen.data import sources, unpaired
from tfgen.data.unpaired import is_tfds_name, load_unpaired
from tfgen.errors import TfgenUsageError


def numbered(n, start=0, shape=(4, 4, 1)):
    """uint8 images whose pixels all hold their number (start + i), so batches say who is in."""
    return np.stack([np.full(shape, start + i, np.uint8) for i in range(n)])


def ids(batch):
    """Pixel value -> image number (undoing the [-1, 1] scaling)."""
    return [int(round((v + 1.0) * 127.5)) for v in np.asarray(batch)[:, 0, 0, 0]]


def epoch(ds):
    return [(ids(a), ids(b)) for a, b in ds]


def test_epoch_is_the_larger_domain_and_the_smaller_one_repeats():
    ds = load_unpaired(numbered(20), numbered(6, start=100), batch_size=4, seed=0)
    assert int(ds.cardinality()) == 5  # 20 // 4 batches of A; B (6 // 4 = 1 batch) repeats
    batches = epoch(ds)
    assert len(batches) == 5
    seen_a = sorted(i for a, _ in batches for i in a)
    assert seen_a == list(range(20))  # every A image exactly once per epoch
    seen_b = [i for _, b in batches for i in b]
    assert set(seen_b) <= set(range(100, 106)) and len(set(seen_b)) > 4  # B repeats, reshuffled
    spec_a, spec_b = ds.element_spec
    assert tuple(spec_a.shape) == (4, 4, 4, 1) and tuple(spec_b.shape) == (4, 4, 4, 1)


def test_domains_are_shuffled_independently_and_reshuffled_each_epoch():
    ds = load_unpaired(numbered(16), numbered(16, start=100), batch_size=4, seed=3)
    first, second = epoch(ds), epoch(ds)
    assert first != second  # a new order every epoch
    order_a = [i for a, _ in first for i in a]
    order_b = [i - 100 for _, b in first for i in b]
    assert order_a != order_b  # the two domains do not move in step
    again = epoch(load_unpaired(numbered(16), numbered(16, start=100), batch_size=4, seed=3))
    assert again == first  # seeded


def test_no_shuffle_keeps_order_and_values_are_scaled():
    ds = load_unpaired(numbered(4), numbered(8, start=10), batch_size=2, shuffle=False)
    a, b = next(iter(ds))
    assert ids(a) == [0, 1] and ids(b) == [10, 11]
    assert a.dtype.name == "float32"
    np.testing.assert_allclose(a.numpy()[0], -1.0)  # uint8 0 -> -1


def test_float_arrays_grey_arrays_channels_and_resize():
    a = np.random.default_rng(0).uniform(0, 1, (6, 8, 8)).astype(np.float32)  # [0, 1], N x H x W
    b = np.random.default_rng(1).uniform(-1, 1, (6, 8, 8, 3)).astype(np.float32)
    ds = load_unpaired(a, b, batch_size=3, channels=3, image_size=4, shuffle=False)
    x, y = next(iter(ds))
    assert x.shape == (3, 4, 4, 3) and y.shape == (3, 4, 4, 3)
    assert -1.0 <= float(np.min(x)) and float(np.max(y)) <= 1.0


def test_npz_and_image_folder_sources(tmp_path):
    np.savez(tmp_path / "a.npz", x=numbered(5))
    folder = tmp_path / "b"
    folder.mkdir()
    for i in range(3):
        Image.fromarray(np.full((4, 4), 200 + i, np.uint8)).save(folder / f"{i}.png")
    ds = load_unpaired(str(tmp_path / "a.npz"), str(folder), batch_size=1, shuffle=False)
    batches = epoch(ds)
    assert len(batches) == 5
    assert [a[0] for a, _ in batches] == [0, 1, 2, 3, 4]
    assert [b[0] for _, b in batches] == [200, 201, 202, 200, 201]


def test_one_folder_with_train_a_and_train_b(tmp_path):
    for domain, value in (("trainA", 10), ("trainB", 20), ("testA", 30), ("testB", 40)):
        (tmp_path / domain).mkdir()
        for i in range(2):
            Image.fromarray(np.full((4, 4), value + i, np.uint8)).save(
                tmp_path / domain / f"{i}.png"
            )
    a, b = next(iter(load_unpaired(str(tmp_path), batch_size=2, shuffle=False)))
    assert ids(a) == [10, 11] and ids(b) == [20, 21]
    a, b = next(iter(load_unpaired(str(tmp_path), split="test", batch_size=2, shuffle=False)))
    assert ids(a) == [30, 31] and ids(b) == [40, 41]


def test_idx_folder_source(mnist_dir, mnist_test_arrays):
    images, _ = mnist_test_arrays
    inverted = 255 - images[:64]
    ds = load_unpaired(str(mnist_dir), inverted, split="test", batch_size=32, shuffle=False)
    assert int(ds.cardinality()) == len(images) // 32
    a, b = next(iter(ds))
    np.testing.assert_allclose(a.numpy(), images[:32] / 127.5 - 1.0, atol=1e-6)
    np.testing.assert_allclose(b.numpy(), -(images[:32] / 127.5 - 1.0), atol=1e-6)


def test_one_tfds_name_reads_its_a_and_b_splits(monkeypatch):
    import tensorflow as tf

    asked = []

    def fake_tfds(name, split, with_labels, shuffle, seed):
        asked.append((name, split))
        base = 0 if split.endswith("A") else 100
        x = tf.data.Dataset.from_tensor_slices(numbered(4, start=base))
        return x.map(lambda im: (im, tf.constant(-1))), None

    monkeypatch.setattr(sources, "_tfds_dataset", fake_tfds)
    assert is_tfds_name("cycle_gan/horse2zebra")
    ds = load_unpaired("cycle_gan/horse2zebra", batch_size=2, shuffle=False)
    a, b = next(iter(ds))
    assert asked == [("cycle_gan/horse2zebra", "trainA"), ("cycle_gan/horse2zebra", "trainB")]
    assert ids(a) == [0, 1] and ids(b) == [100, 101]


def test_errors_say_what_to_do(tmp_path):
    with pytest.raises(TfgenUsageError, match="pass source_b"):
        load_unpaired(numbered(4))
    with pytest.raises(TfgenUsageError, match="fewer than batch_size"):
        load_unpaired(numbered(8), numbered(2), batch_size=4)
    with pytest.raises(TfgenUsageError, match="image_size"):
        load_unpaired(numbered(4), numbered(4, shape=(6, 6, 1)), batch_size=2)
    with pytest.raises(TfgenUsageError, match="does not exist"):
        load_unpaired(str(tmp_path / "missing.npz"), numbered(4))
    with pytest.raises(TfgenUsageError, match="numpy array"):
        load_unpaired([1, 2, 3], numbered(4))
    assert unpaired.SHUFFLE_BUFFER >= 1000
