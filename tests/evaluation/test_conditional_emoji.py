"""Scoring a class-conditional generator of the emoji: samples drawn for the real split's
labels, and label accuracy read from classifier_emoji's vendor x category classes."""

import numpy as np
import pytest

from tfgen import data
from tfgen.errors import TfgenUsageError
from tfgen.evaluation import evaluate as evaluate_lib
from tfgen.evaluation import style
from tfgen.evaluation.model_eval import conditioning_labels


def test_samples_are_drawn_for_the_real_splits_labels(data_dir, tmp_path):
    _, labels = data.load_arrays("emoji_google", "test", data_dir_override=data_dir)
    drawn = conditioning_labels(9, "emoji_google", "test", 1000, data_dir)
    assert drawn.shape == (1000,) and drawn.dtype == np.int32
    # The 332 test labels three times over, then the first four again.
    np.testing.assert_array_equal(drawn[:332], labels)
    np.testing.assert_array_equal(drawn[332:664], labels)
    np.testing.assert_array_equal(drawn[996:], labels[:4])
    np.testing.assert_array_equal(conditioning_labels(9, "emoji_google", "test", 5, data_dir),
                                  labels[:5])  # fmt: skip
    # Long-tailed, as the split is: people are half the drawings, not a ninth.
    assert np.bincount(drawn).max() / 1000 == pytest.approx(
        np.bincount(labels).max() / 332, abs=0.01
    )
    # Labels the model does not take, or none at all: cycled.
    np.testing.assert_array_equal(conditioning_labels(4, "emoji_google", "test", 6, data_dir),
                                  [0, 1, 2, 3, 0, 1])  # fmt: skip
    np.savez(tmp_path / "x.npz", x=np.zeros((3, 8, 8, 1), np.uint8))
    np.testing.assert_array_equal(conditioning_labels(2, str(tmp_path / "x.npz"), "test", 3),
                                  [0, 1, 0])  # fmt: skip


@pytest.mark.parametrize("vendor", ["emoji_google", "emoji_twitter"])
def test_label_accuracy_reads_the_vendors_group_and_category_accuracy_ignores_it(vendor, data_dir):
    # Real drawings "generated" for their own categories: as accurate as classifier_emoji is
    # (vendor x category 78.8 %, category 80.0 % on both test splits).
    images, labels = data.load_arrays(vendor, "test", data_dir_override=data_dir)
    got = evaluate_lib.evaluate_samples(
        images, metrics=("accuracy",), dataset=vendor, fake_labels=labels
    )
    assert 0.7 < got["label_accuracy"] <= got["category_accuracy"] < 0.95
    # The same drawings claimed for the other vendor's categories: the vendor is wrong.
    other = "emoji_twitter" if vendor == "emoji_google" else "emoji_google"
    swapped = evaluate_lib.evaluate_samples(
        images, metrics=("accuracy",), dataset=other, fake_labels=labels
    )
    assert swapped["label_accuracy"] < 0.1


def test_category_accuracy_counts_either_style():
    probs = np.zeros((4, 18))
    probs[[0, 1, 2, 3], [2, 11, 3, 9 + 5]] = 1  # google 2, twitter 2, google 3, twitter 5
    assert style.category_accuracy(probs, [2, 2, 2, 2], "emoji_google") == 0.5
    assert style.category_accuracy(probs, [2, 2, 3, 5], "emoji_twitter") == 1.0
    with pytest.raises(TfgenUsageError, match="1000 classes, not groups of 9"):
        style.category_accuracy(np.zeros((2, 1000)), [0, 1], "emoji_google")
