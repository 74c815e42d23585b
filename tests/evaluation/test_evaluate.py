"""evaluate_samples on real MNIST: train vs test scores near zero, noise and one class far worse."""

import numpy as np
import pytest
import tensorflow as tf

from tfgen.data import load_idx
from tfgen.errors import TfgenUsageError
from tfgen.evaluation import evaluate_features, evaluate_samples, fid_between, get_extractor

N = 1500


@pytest.fixture(scope="module")
def mnist(mnist_dir, mnist_test_arrays):
    train, train_labels = load_idx(mnist_dir, "train")
    test, _ = mnist_test_arrays
    return train[:N], train_labels[:N], test[:N]


@pytest.fixture(scope="module")
def scores(mnist):
    train, train_labels, test = mnist
    noise = np.random.default_rng(0).uniform(-1, 1, size=test.shape).astype(np.float32)
    one_class = train[train_labels == 3]
    common = {"dataset": "mnist", "kid_subsets": 20, "kid_subset_size": 500}
    return {
        "test": evaluate_samples(test, train, **common),
        "noise": evaluate_samples(noise, train, **common),
        "one_class": evaluate_samples(one_class, train, **common),
    }


def test_real_test_images_score_near_zero(scores):
    real = scores["test"]
    assert set(real) == {
        "fid",
        "kid",
        "kid_std",
        "precision",
        "recall",
        "coverage",
        "max_class_share",
    }
    assert real["fid"] < 5.0
    assert abs(real["kid"]) < real["kid_std"]  # indistinguishable from zero
    assert real["precision"] > 0.7 and real["recall"] > 0.7
    assert real["coverage"] == 1.0 and real["max_class_share"] < 0.15


def test_noise_and_a_single_class_score_far_worse(scores):
    real, noise, one_class = scores["test"], scores["noise"], scores["one_class"]
    for bad in (noise, one_class):
        assert bad["fid"] > 10 * max(real["fid"], 1.0)
        assert bad["kid"] > 10 * max(real["kid"], 0.01)
    # Noise sits off the digit manifold; one class is on it but misses most of it.
    assert noise["precision"] < 0.1
    assert one_class["precision"] > 0.5 and one_class["recall"] < 0.3
    assert one_class["coverage"] <= 0.3 and one_class["max_class_share"] > 0.9


def test_fid_between_splits_and_dataset_input(mnist):
    train, _, test = mnist
    from_arrays = fid_between(train, test, dataset="mnist")
    batches = tf.data.Dataset.from_tensor_slices(test).batch(100)
    assert fid_between(train, batches, extractor="classifier_mnist") == pytest.approx(
        from_arrays, rel=1e-5
    )


def test_metrics_without_real_images_and_label_accuracy(mnist):
    train, train_labels, _ = mnist
    result = evaluate_samples(
        train, metrics=("is", "coverage", "accuracy"), dataset="mnist", fake_labels=train_labels
    )
    assert result["label_accuracy"] > 0.99
    assert result["inception_score"] > 8.0  # 10 balanced, confidently classified classes
    assert result["coverage"] == 1.0


def test_metric_names_and_missing_inputs_are_checked(mnist):
    train, _, test = mnist
    with pytest.raises(TfgenUsageError, match="unknown metric.*'fdi'.*choose from fid, kid"):
        evaluate_samples(test, train, metrics=("fid", "fdi"), dataset="mnist")
    with pytest.raises(TfgenUsageError, match="pass extractor="):
        evaluate_samples(test, train)
    with pytest.raises(TfgenUsageError, match="pass real images"):
        evaluate_samples(test, metrics="fid,pr", dataset="mnist")
    with pytest.raises(TfgenUsageError, match="needs fake_labels"):
        evaluate_samples(test, metrics=("accuracy",), dataset="mnist")
    with pytest.raises(TfgenUsageError, match="need class probabilities"):
        evaluate_features(np.zeros((10, 4)), metrics=("coverage",))
    with pytest.raises(TfgenUsageError, match=r"expects images of shape \(28, 28, 1\)"):
        evaluate_samples(np.zeros((10, 32, 32, 3), np.uint8), train, dataset="mnist")


def test_extractor_features_can_be_reused(mnist):
    train, _, test = mnist
    extractor = get_extractor("mnist")
    real = extractor.features(train)
    fake, probs = extractor.features_and_probabilities(test)
    direct = evaluate_samples(test, train, metrics=("fid", "pr"), dataset="mnist")
    reused = evaluate_features(fake, real, probs, metrics=("fid", "pr"))
    assert reused == pytest.approx(direct)
