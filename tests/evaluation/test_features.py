"""Feature extractors: input checks, batching, extractor choice, the zoo classifiers' accuracy."""

import keras
import numpy as np
import pytest

from tfgen.data import load_idx
from tfgen.errors import TfgenError, TfgenUsageError
from tfgen.evaluation import classifier, features
from tfgen.evaluation.features import FeatureExtractor, extractor_name, get_extractor


@pytest.fixture(scope="module")
def tiny_extractor():
    keras.utils.set_random_seed(0)
    model = classifier.build_classifier(width=4, feature_dim=8, name="tiny")
    return FeatureExtractor.from_classifier(model, "tiny", batch_size=16)


def _uint8_images(n, shape=(28, 28, 1), seed=0):
    return np.random.default_rng(seed).integers(0, 256, size=(n, *shape), dtype=np.uint8)


def test_extractor_shapes_and_uint8_equals_scaled_float(tiny_extractor):
    images = _uint8_images(40)
    feats, probs = tiny_extractor.features_and_probabilities(images)
    assert feats.shape == (40, 8) and probs.shape == (40, 10)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)
    as_float = images.astype(np.float32) / 127.5 - 1.0
    np.testing.assert_allclose(tiny_extractor.features(as_float), feats, rtol=1e-5, atol=1e-6)
    # [N, 28, 28] grey images gain their channel axis.
    np.testing.assert_allclose(tiny_extractor.features(images[..., 0]), feats, atol=1e-6)


def test_extractor_batches_do_not_change_results(tiny_extractor):
    images = _uint8_images(37, seed=1)
    whole = FeatureExtractor(tiny_extractor.model, "tiny", (28, 28, 1), batch_size=64)
    np.testing.assert_allclose(
        tiny_extractor.features(images), whole.features(images), rtol=1e-5, atol=1e-6
    )


def test_extractor_rejects_bad_inputs_with_what_to_do(tiny_extractor):
    with pytest.raises(TfgenUsageError, match=r"float images must be in \[-1, 1\].*x / 127.5 - 1"):
        tiny_extractor.features(_uint8_images(4).astype(np.float32))
    with pytest.raises(TfgenUsageError, match=r"expects images of shape \(28, 28, 1\), got"):
        tiny_extractor.features(np.zeros((4, 32, 32, 3), np.float32))
    with pytest.raises(TfgenUsageError, match="uint8 in"):
        tiny_extractor.features(np.zeros((4, 28, 28, 1), np.int64))
    with pytest.raises(TfgenUsageError, match="non-empty batch"):
        tiny_extractor.features(np.zeros((0, 28, 28, 1), np.float32))
    with pytest.raises(TfgenUsageError, match="NaN"):
        tiny_extractor.features(np.full((2, 28, 28, 1), np.nan, np.float32))
    headless = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Flatten()])
    with pytest.raises(TfgenUsageError, match="no layer named 'features'"):
        FeatureExtractor.from_classifier(headless)


def test_extractor_is_picked_from_the_dataset():
    assert extractor_name("mnist") == "classifier_mnist"
    assert extractor_name("fashion_mnist") == "classifier_fashion_mnist"
    assert extractor_name("/data/copies/mnist/") == "classifier_mnist"
    assert extractor_name("mnist:3.0.1") == "classifier_mnist"
    assert extractor_name("cifar10") == "inception"
    assert extractor_name("inception") == "inception"
    with pytest.raises(TfgenUsageError, match="unknown extractor 'classifier_cifar10'"):
        extractor_name("classifier_cifar10")


def test_missing_zoo_classifier_says_how_to_train_it(monkeypatch, tmp_path):
    monkeypatch.setenv("TFGEN_ZOO_DIR", str(tmp_path))
    with pytest.raises(TfgenError, match="tfgen rebuild classifier_mnist"):
        get_extractor("mnist")


@pytest.mark.parametrize(("dataset", "target"), [("mnist", 0.99), ("fashion_mnist", 0.92)])
def test_zoo_classifier_reaches_its_test_accuracy(data_dir, dataset, target):
    extractor = get_extractor(dataset)
    assert extractor is get_extractor(f"classifier_{dataset}")  # loaded once per process
    images, labels = load_idx(data_dir / dataset, "test")
    probs = extractor.probabilities(images)
    assert np.mean(np.argmax(probs, axis=1) == labels) >= target
    assert extractor.feature_dim == 128 and extractor.num_classes == 10


def test_inception_plumbing_with_random_weights():
    extractor = get_extractor("cifar10", weights=None)
    assert extractor.name == "inception"
    grey = _uint8_images(2)
    colour = np.random.default_rng(0).uniform(-1, 1, size=(2, 32, 32, 3)).astype(np.float32)
    for images in (grey, colour):
        feats, probs = extractor.features_and_probabilities(images)
        assert feats.shape == (2, 2048) and probs.shape == (2, 1000)
        np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-4)
    with pytest.raises(TfgenUsageError, match="1 or 3 channels"):
        extractor.features(np.zeros((2, 32, 32, 4), np.float32))


def test_inception_download_failure_points_to_the_classifiers(monkeypatch):
    def offline(**kwargs):
        raise Exception("URL fetch failure on https://storage.googleapis.com/...")

    monkeypatch.setattr(keras.applications, "InceptionV3", offline)
    features._inception_extractor.cache_clear()
    with pytest.raises(TfgenError, match="may be offline.*extractor='classifier_mnist'"):
        get_extractor("inception")
    with pytest.raises(TfgenUsageError, match="'imagenet' or None"):
        get_extractor("inception", weights="places365")
