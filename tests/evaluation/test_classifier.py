"""The domain classifier: builder, training loop and the script that fills the zoo."""

import zipfile

import h5py
import keras
import numpy as np
import pytest

from tfgen.data import load_idx
from tfgen.errors import TfgenUsageError
from tfgen.evaluation import classifier


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


def test_rebuild_trains_a_classifier_entry_with_a_measured_card(
    data_dir, mnist_test_arrays, tmp_path, monkeypatch
):
    from tfgen.zoo import card as card_lib
    from tfgen.zoo import rebuild

    monkeypatch.setenv("TFGEN_ZOO_DIR", str(tmp_path / "zoo"))
    overrides = ["train.epochs=1", "data.limit=256"]
    card = rebuild.rebuild("classifier_mnist", overrides, run_dir=tmp_path / "run",
                           data_dir=data_dir, docs_dir=tmp_path / "docs", verbose=0)  # fmt: skip
    folder = tmp_path / "zoo" / "classifier_mnist"
    assert card_lib.read_card(folder) == card
    assert card["kind"] == "classifier" and card["recipe"]["train"]["epochs"] == 1
    assert card["notes"] == {"overrides": overrides}
    saved = keras.saving.load_model(folder / "classifier_mnist.keras", compile=False)
    test_images, test_labels = mnist_test_arrays
    assert card["metrics"]["test_accuracy"] == pytest.approx(
        classifier.classifier_accuracy(saved, test_images, test_labels), abs=1e-6
    )
    assert card["headline"] == {"metric": "test_accuracy", "better": "higher",
                                "value": card["metrics"]["test_accuracy"]}  # fmt: skip
    assert (tmp_path / "docs" / "images" / "zoo" / "classifier_mnist.png").is_file()
