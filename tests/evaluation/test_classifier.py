"""The domain classifier: builder, training loop and the script that fills the zoo."""

import importlib.util
import json
import pathlib
import zipfile

import h5py
import keras
import numpy as np
import pytest

from tfgen.data import load_idx
from tfgen.errors import TfgenUsageError
from tfgen.evaluation import classifier

SCRIPT = pathlib.Path(__file__).resolve().parents[2] / "tools" / "train_classifiers.py"


@pytest.mark.parametrize("pooling", ["avg", "flatten"])
def test_build_classifier_outputs_and_keras_round_trip(tmp_path, pooling):
    keras.utils.set_random_seed(1)
    model = classifier.build_classifier(
        image_shape=(32, 32, 3), num_classes=7, width=4, pooling=pooling
    )
    x = np.random.default_rng(0).uniform(-1, 1, size=(5, 32, 32, 3)).astype(np.float32)
    assert model(x).shape == (5, 7)
    assert model.get_layer(classifier.FEATURES_LAYER).output.shape == (None, 128)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    model.fit(x, np.arange(5), verbose=0)  # creates the optimizer slots
    path = classifier.save_classifier(model, tmp_path / "c.keras")
    loaded = keras.saving.load_model(path, compile=False)
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    with zipfile.ZipFile(path) as archive, archive.open("model.weights.h5") as weights:
        assert "optimizer" not in h5py.File(weights)  # zoo files hold inference weights only


def test_build_classifier_rejects_bad_arguments():
    with pytest.raises(TfgenUsageError, match="sides >= 8"):
        classifier.build_classifier(image_shape=(4, 4, 1))
    with pytest.raises(TfgenUsageError, match="pooling must be 'avg' or 'flatten'"):
        classifier.build_classifier(pooling="max")


def test_augmenter_keeps_blank_borders_blank():
    augmenter = classifier.build_augmenter(**classifier.AUGMENTATIONS["mnist"])
    blank = np.full((4, 28, 28, 1), -1.0, np.float32)
    np.testing.assert_allclose(augmenter(blank, training=True), blank, atol=1e-5)


def test_train_classifier_learns_and_checks_inputs(mnist_dir):
    images, labels = load_idx(mnist_dir, "train")
    model, history = classifier.train_classifier(
        images[:512], labels[:512], epochs=2, batch_size=128, width=4, verbose=0
    )
    assert len(history["loss"]) == 2 and history["loss"][1] < history["loss"][0]
    assert model.output.shape == (None, 10)
    with pytest.raises(TfgenUsageError, match="must be uint8"):
        classifier.train_classifier(images[:8].astype(np.float32), labels[:8], epochs=1)
    with pytest.raises(TfgenUsageError, match="7 labels for 8 images"):
        classifier.train_classifier(images[:8], labels[:7], epochs=1)
    with pytest.raises(TfgenUsageError, match="unknown augmentation 'mnsit'"):
        classifier.train_classifier(images[:8], labels[:8], augmentation="mnsit")


def test_train_script_writes_a_measured_card(data_dir, mnist_test_arrays, tmp_path, monkeypatch):
    monkeypatch.setenv("TFGEN_ZOO_DIR", str(tmp_path))
    spec = importlib.util.spec_from_file_location("train_classifiers", SCRIPT)
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    argv = ["--datasets", "mnist", "--data-dir", str(data_dir), "--epochs", "1", "--limit", "256"]
    script.main(argv)
    folder = tmp_path / "classifier_mnist"
    card = json.loads((folder / "card.json").read_text())
    assert card["name"] == "classifier_mnist" and card["kind"] == "classifier"
    assert card["train_size"] == 256 and card["test_size"] == 1666 and card["epochs"] == 1
    assert card["command"].endswith("--epochs 1 --limit 256")
    saved = keras.saving.load_model(folder / "classifier_mnist.keras", compile=False)
    test_images, test_labels = mnist_test_arrays
    assert card["test_accuracy"] == pytest.approx(
        classifier.classifier_accuracy(saved, test_images, test_labels), abs=1e-6
    )
    assert f"{100 * card['test_accuracy']:.2f} %" in (folder / "README.md").read_text()
