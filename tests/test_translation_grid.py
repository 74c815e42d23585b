"""`tfgen.training.callbacks.TranslationGrid`: one callback for pix2pix's (input | output |
target) rows and CycleGAN's a, G(a), F(G(a)), b, F(b), G(F(b)) rows."""

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from tfgen.errors import TfgenUsageError
from tfgen.models import CycleGAN, Pix2Pix
from tfgen.training.callbacks import TranslationGrid


def images(n, shape=(28, 28, 1), seed=0):
    return np.random.default_rng(seed).uniform(-1, 1, (n, *shape)).astype(np.float32)


def test_paired_grid_reads_the_first_pairs_of_a_dataset_and_shows_triples(tmp_path):
    model = Pix2Pix(g_width=4, d_width=4, output_channels=3)
    inputs, targets = images(6), images(6, (28, 28, 3), seed=1)
    ds = tf.data.Dataset.from_tensor_slices((inputs, targets)).batch(4)
    callback = TranslationGrid(tmp_path, ds, "paired", n=5, log_dir=tmp_path / "logs")
    callback.set_model(model)
    callback.on_epoch_end(0)
    got_a, got_b = callback.fixed_images()
    np.testing.assert_array_equal(got_a, inputs[:5])
    np.testing.assert_array_equal(got_b, targets[:5])
    grid = np.asarray(Image.open(tmp_path / "epoch_001.png"))
    # 5 triples, two per row: 3 rows of [28 x 84] cells, grey inputs shown as RGB, 2 px padding.
    assert grid.shape == (3 * 30 + 2, 2 * 86 + 2, 3)
    assert list((tmp_path / "logs").iterdir())  # the TensorBoard image summary


def test_unpaired_grid_shows_six_rows_of_fixed_arrays(tmp_path):
    model = CycleGAN(g_width=4, d_width=4, n_residual_blocks=1)
    callback = TranslationGrid(tmp_path, (images(20), images(20, seed=1)), "unpaired", n=3)
    callback.set_model(model)
    callback.on_epoch_end(1)
    assert callback.fixed_images()[0].shape == (3, 28, 28, 1)
    grid = np.asarray(Image.open(tmp_path / "epoch_002.png"))
    assert grid.shape == (6 * 30 + 2, 3 * 30 + 2)


def test_unknown_kind_is_refused(tmp_path):
    with pytest.raises(TfgenUsageError, match="'paired' or 'unpaired'"):
        TranslationGrid(tmp_path, (images(1), images(1)), "images")


def test_side_by_side_interleaves_each_items_images_and_widens_grey():
    from tfgen import io

    grey, colour = images(3), images(3, (28, 28, 3), seed=1)
    rows = io.side_by_side([grey, colour])
    assert rows.shape == (6, 28, 28, 3)
    np.testing.assert_array_equal(rows[0], np.repeat(grey[0], 3, axis=-1))
    np.testing.assert_array_equal(rows[1], colour[0])
    np.testing.assert_array_equal(rows[5], colour[2])
