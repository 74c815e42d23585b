"""The colour zoo entries' exports give what their Keras models give: the published SavedModel's
signatures (TF Serving's layout) and a float32 TFLite conversion, on real emoji and fixed noise.

The entries train in mixed bfloat16; their exports take and return float32."""

import json
import pathlib

import numpy as np
import pytest
import tensorflow as tf

from tfgen import io, precision, registry, saving
from tfgen.export import tflite

ZOO = pathlib.Path(__file__).resolve().parents[2] / "savedmodels"
COLOUR = sorted(
    p.name
    for p in ZOO.iterdir()
    if (p / "card.json").is_file()
    and json.loads((p / "card.json").read_text())["image_shape"] == [64, 64, 3]
    and json.loads((p / "card.json").read_text())["kind"] != "classifier"
)


def _entry(name):
    card = json.loads((ZOO / name / "card.json").read_text())
    model = saving.load_model(registry.zoo_path(name), compile=False)
    return card, model


def _emoji(dataset, data_dir, n=6):
    from tfgen.evaluation.paired_translation import paired_test_images

    other = "emoji_twitter" if dataset == "emoji_google" else "emoji_google"
    x, _, _ = paired_test_images(dataset, other, "test", data_dir)
    return x[np.linspace(0, len(x) - 1, n).round().astype(int)]


def _cases(card, model, data_dir):
    """(SavedModel signature, its inputs, the Keras model's answer) for each way the entry is
    served."""
    if card["kind"] in ("dcgan", "wgan_gp", "cgan"):
        z = np.random.default_rng(0).standard_normal((4, model.latent_dim)).astype(np.float32)
        if card["kind"] == "cgan":  # four labels, first to last
            labels = np.linspace(0, model.num_classes - 1, 4).round().astype(np.int32)
            expected = model.sampling_generator([z, labels], training=False)
            return [("serving_default", {"z": z, "label": labels}, expected)]
        return [("serving_default", {"z": z}, model.sampling_generator(z, training=False))]
    if card["kind"] == "vae":  # the decoder's mean image of given latents
        z = np.random.default_rng(0).standard_normal((4, model.latent_dim)).astype(np.float32)
        return [("decode", {"z": z}, model.generate(z=z))]
    d = card["recipe"]["data"]
    if card["kind"] == "pix2pix":
        x = _emoji(d["dataset"], data_dir)
        return [("translate_uint8", {"images": x}, model.translate(io.from_uint8(x)))]
    cases = []
    for direction, dataset in (("a2b", d["dataset"]), ("b2a", d["dataset_b"])):
        x = _emoji(dataset, data_dir)
        answer = model.translate(io.from_uint8(x), direction=direction)
        cases.append((f"{direction}_uint8", {"images": x}, answer))
    return cases


def _max_diff(card):
    return 1e-5 if card["recipe"].get("train", {}).get("precision", "float32") == "float32" else 0.1


def test_there_are_colour_entries():
    assert {"dcgan_emoji_google"} <= set(COLOUR)


@pytest.mark.parametrize("name", COLOUR)
def test_saved_model_signatures_match_keras(name, data_dir, tmp_path):
    card, model = _entry(name)
    if card["files"]["saved_model"] is None:
        # The zoo ships a VAE as .keras only (as vae_mnist): export it here, as a user would.
        from tfgen.export import serving

        folder = serving.saved_model(model, tmp_path / name, version=1)
    else:
        folder = ZOO / name / card["files"]["saved_model"]
    loaded = tf.saved_model.load(str(folder))
    for signature, inputs, expected in _cases(card, model, data_dir):
        fn = loaded.signatures[signature]
        for name_, spec in fn.structured_input_signature[1].items():
            # Images and noise as float32 (never bfloat16), a cGAN's labels as int32.
            assert spec.dtype in ((tf.int32,) if name_ == "label" else (tf.float32, tf.uint8))
        out = fn(**{k: tf.constant(v) for k, v in inputs.items()})
        assert out["images"].dtype == tf.float32 and out["images_uint8"].dtype == tf.uint8
        assert out["images"].shape == (len(next(iter(inputs.values()))), 64, 64, 3)
        diff = np.abs(out["images"].numpy() - np.asarray(expected))
        # The same bfloat16 graph, but the SavedModel's is optimised on its own (other op
        # fusions round elsewhere): bfloat16's rounding, not float32's.
        # (measured: max 0.036, mean 0.0008 through the CycleGAN's 4 residual blocks)
        assert diff.max() <= _max_diff(card) and diff.mean() <= _max_diff(card) / 20, (
            diff.max(),
            diff.mean(),
        )


@pytest.mark.parametrize("name", COLOUR)
def test_float32_tflite_matches_keras(name, data_dir):
    card, model = _entry(name)
    # A mixed-precision entry converts as its float32 twin (same weights): the file matches
    # the twin to float32 rounding, and the twin the entry to bfloat16 rounding.
    twin = precision.float32_copy(model)
    interpreter = tflite.interpreter(tflite.convert(model, batch_size=1))
    for (signature, inputs, expected), (_, _, expected32) in zip(
        _cases(card, model, data_dir), _cases(card, twin, data_dir), strict=True
    ):
        # The TFLite file takes float32 images: pix2pix's one signature, CycleGAN's a2b/b2a.
        tflite_signature = {"translate_uint8": "serving_default"}.get(
            signature, signature.removesuffix("_uint8")
        )
        for row in range(2):
            one = {k: v[row : row + 1] for k, v in inputs.items()}
            if "images" in one:
                one["images"] = io.from_uint8(one["images"]).astype(np.float32)
            got = tflite.run(interpreter, signature=tflite_signature, **one)
            assert got["images"].dtype == np.float32
            np.testing.assert_allclose(
                got["images"], np.asarray(expected32)[row : row + 1], atol=1e-4
            )
        rounding = np.abs(np.asarray(expected32) - np.asarray(expected))
        if card["recipe"].get("train", {}).get("precision", "float32") == "float32":
            assert rounding.max() == 0
        else:
            # Measured on dcgan_emoji_google: mean 0.0014, 99th percentile 0.017 ([-1, 1]).
            assert rounding.mean() <= 0.005 and np.quantile(rounding, 0.99) <= 0.05
