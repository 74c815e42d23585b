"""Mixed bfloat16: every kind trains finite through the training job, computes its layers in
bfloat16 on float32 variables, and saves, loads and exports float32 in and out."""

import json

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfgen import config, export, saving
from tfgen.training import job

BF16 = "mixed_bfloat16"
TRAIN = {"steps": 2, "batch_size": 8, "samples": 4, "precision": BF16}
# Tiny widths: a few seconds per kind, mostly tracing.
RECIPES = {
    "dcgan": {"model": {"kind": "dcgan", "g_width": 4, "d_width": 4, "latent_dim": 8},
              "data": {"dataset": "mnist", "limit": 16}},
    "wgan_gp": {"model": {"kind": "wgan_gp", "g_width": 4, "d_width": 4, "latent_dim": 8,
                          "n_critic": 2},
                "data": {"dataset": "mnist", "limit": 32}},
    "cgan": {"model": {"kind": "cgan", "g_width": 4, "d_width": 4, "latent_dim": 8},
             "data": {"dataset": "mnist", "limit": 16}},
    "pix2pix": {"model": {"kind": "pix2pix", "g_width": 2, "d_width": 2},
                "data": {"dataset": "mnist", "limit": 16, "task": "superres"}},
    "cyclegan": {"model": {"kind": "cyclegan", "g_width": 2, "d_width": 2,
                           "n_residual_blocks": 0, "n_downsamples": 1},
                 "data": {"dataset": "mnist", "dataset_b": "mnist", "halves": True,
                          "invert_b": True, "limit": 32, "image_size": 8},
                 "train": {"batch_size": 2}},
    "vae": {"model": {"kind": "vae", "width": 4, "latent_dim": 4, "likelihood": "logistic"},
            "data": {"dataset": "mnist", "limit": 16}},
}  # fmt: skip


def train(recipe, out, data_dir):
    recipe = {**recipe, "train": {**TRAIN, **recipe.get("train", {})}}
    model = job.run(config.from_dict(recipe), out, verbose=0, data_dir=str(data_dir))
    assert keras.mixed_precision.dtype_policy().name == "float32", "the policy is restored"
    return model


def networks(model):
    return [v for v in vars(model).values() if isinstance(v, keras.Model)] or [model]


def assert_bfloat16_layers(model):
    """Convolutions compute in bfloat16; every variable (BatchNorm statistics, optimizer-free
    weights, EMA copies) stays float32."""
    convs = [
        layer
        for net in networks(model)
        for layer in net._flatten_layers(include_self=False)
        if isinstance(layer, keras.layers.Conv2D | keras.layers.Conv2DTranspose)
    ]
    assert convs and any(layer.compute_dtype == "bfloat16" for layer in convs)
    assert all(layer.variable_dtype == "float32" for layer in convs)
    assert {w.dtype for w in model.weights} <= {"float32", "int32"}  # int32: pool counts


def assert_finite_run(out):
    summary = json.loads((out / "run.json").read_text())
    assert summary["precision"] == BF16
    metrics = summary["final_metrics"]
    assert metrics and all(np.isfinite(v) for v in metrics.values()), metrics
    return metrics


def public_outputs(model, kind):
    """The model's float32 outputs through its public API."""
    if kind in ("dcgan", "wgan_gp", "cgan", "vae"):
        return [model.generate(3, seed=1)]
    if kind == "pix2pix":
        x = np.random.default_rng(0).uniform(-1, 1, (2, *model.input_shape_)).astype("float32")
        return [model.translate(x)]
    shape = model.generator_a2b.inputs[0].shape[1:]
    x = np.random.default_rng(0).uniform(-1, 1, (2, *shape)).astype("float32")
    return [model.translate(x, "a2b"), model.translate(x, "b2a")]


def assert_float32_finite(arrays):
    for a in arrays:
        a = keras.ops.convert_to_numpy(a)
        assert a.dtype == np.float32 and np.isfinite(a).all()


def assert_float32_export(model, path):
    loaded = tf.saved_model.load(str(export.saved_model(model, path)))
    for name, fn in loaded.signatures.items():
        specs = fn.structured_input_signature[1]
        assert all(s.dtype in (tf.float32, tf.uint8, tf.int32, tf.int64) for s in specs.values())
        floats = [s for s in specs.values() if s.dtype == tf.float32]
        if not floats or len(specs) != len(floats):
            continue  # integer inputs (generate, uint8 and label signatures)
        inputs = {s.name: tf.random.uniform([2, *s.shape[1:]], -1.0, 1.0, seed=1) for s in floats}
        outputs = fn(**inputs)
        for key, value in outputs.items():
            if value.dtype != tf.uint8:
                assert value.dtype == tf.float32, (name, key, value.dtype)
                assert np.isfinite(value.numpy()).all(), (name, key)


@pytest.mark.parametrize("kind", sorted(RECIPES))
def test_every_kind_trains_saves_and_exports_in_mixed_bfloat16(kind, tmp_path, data_dir):
    model = train(RECIPES[kind], tmp_path / "run", data_dir)
    metrics = assert_finite_run(tmp_path / "run")
    if kind == "wgan_gp":
        assert metrics["gradient_penalty"] > 0
    assert_bfloat16_layers(model)
    loaded = saving.load_model(tmp_path / "run" / "model.keras")
    assert_bfloat16_layers(loaded)
    assert_float32_finite(public_outputs(loaded, kind))
    assert_float32_export(loaded, tmp_path / "export")


# --------------------------------------------------------------------------- changing precision
TINY = {
    "dcgan": dict(latent_dim=8, g_width=4, d_width=4, ema=0.9),
    "wgan_gp": dict(latent_dim=8, g_width=4, d_width=4, spectral_norm=True),
    "cgan": dict(latent_dim=8, g_width=4, d_width=4),
    "pix2pix": dict(image_shape=(16, 16, 1), output_channels=3, g_width=2, d_width=2),
    "cyclegan": dict(image_shape=(8, 8, 1), g_width=2, d_width=2, n_residual_blocks=1,
                     n_downsamples=1, pool_size=2),
    "vae": dict(latent_dim=4, width=4, likelihood="logistic"),
}  # fmt: skip


def compute_dtypes(model):
    # Names, not paths: a deserialized spectral-norm wrapper's inner layer has another path.
    return sorted(
        (layer.name, layer.compute_dtype)
        for layer in model._flatten_layers(include_self=False)
        if not isinstance(layer, keras.layers.InputLayer)
    )


@pytest.mark.parametrize("kind", sorted(TINY))
def test_with_precision_computes_as_a_model_built_under_that_policy(kind):
    from tfgen import precision, registry

    cls = registry.get_model_class(kind)
    built = {}
    for name in ("float32", BF16):
        keras.utils.set_random_seed(0)
        with precision.policy(name):
            built[name] = cls(**TINY[kind])
    for source, target in (("float32", BF16), (BF16, "float32")):
        copy = precision.with_precision(built[source], target)
        assert compute_dtypes(copy) == compute_dtypes(built[target])
        assert {w.dtype for w in copy.weights} <= {"float32", "int32"}
        for a, b in zip(copy.get_weights(), built[source].get_weights(), strict=True):
            np.testing.assert_array_equal(a, b)
        assert precision.with_precision(copy, target) is copy


def test_a_float32_model_fine_tunes_in_mixed_bfloat16(tmp_path, data_dir):
    from tfgen.models import DCGAN

    source = tmp_path / "source.keras"
    DCGAN(**TINY["dcgan"]).save(source)  # built under float32
    recipe = {
        "data": {"dataset": "fashion_mnist", "limit": 16},
        "finetune": {"source": str(source), "freeze_d": 1},
    }
    model = train(recipe, tmp_path / "run", data_dir)
    assert_finite_run(tmp_path / "run")
    assert_bfloat16_layers(model)
    assert model.discriminator.get_layer("logit").compute_dtype == "float32"
    loaded = saving.load_model(tmp_path / "run" / "model.keras")
    assert_bfloat16_layers(loaded)
    assert_float32_finite(public_outputs(loaded, "dcgan"))
    assert_float32_export(loaded, tmp_path / "export")
