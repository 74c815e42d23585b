"""SavedModel export: every kind's signatures against its Keras model, `saved_model_cli`, input
checks, crash safety, refusal to overwrite, `models.config` and the `tfgen export` command."""

import inspect
import os
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfgen import cli, export, io, registry, saving
from tfgen.errors import TfgenUsageError

SAVED_MODEL_CLI = os.path.join(os.path.dirname(sys.executable), "saved_model_cli")
KINDS = ("dcgan", "wgan_gp", "cgan", "pix2pix", "cyclegan", "vae")
EXPECTED_SIGNATURES = {
    "dcgan": {"serving_default", "generate"},
    "wgan_gp": {"serving_default", "generate"},
    "cgan": {"serving_default", "generate"},
    "pix2pix": {"serving_default", "translate", "translate_uint8"},
    "cyclegan": {"serving_default", "a2b", "b2a", "a2b_uint8", "b2a_uint8"},
    "vae": {"serving_default", "decode", "encode", "reconstruct", "generate"},
}
# Small options for every kind, picked by name from each constructor's arguments so the kinds
# still being written get tiny instances too.
TINY_OPTIONS = {
    "dcgan": dict(latent_dim=8, g_width=8, d_width=8),
    "wgan_gp": dict(latent_dim=8, g_width=8, d_width=8),
    "cgan": dict(latent_dim=8, num_classes=10, g_width=8, d_width=8, width=8),
    "pix2pix": dict(image_shape=(16, 16, 1), output_channels=3, g_width=4, d_width=4),
    "cyclegan": dict(
        image_shape=(16, 16, 1),
        image_shape_b=(16, 16, 3),
        g_width=4,
        d_width=4,
        n_residual_blocks=1,
    ),
    "vae": dict(latent_dim=4, width=8),
}
TOLERANCE = 1e-5


def tiny_model(kind):
    # Importing the module registers the kind; skipped only while its file does not exist.
    pytest.importorskip(f"tfgen.models.{kind}")
    cls = registry.get_model_class(kind)
    accepted = inspect.signature(cls.__init__).parameters
    return cls(**{k: v for k, v in TINY_OPTIONS[kind].items() if k in accepted})


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """kind -> (model, export folder, loaded SavedModel); each kind built and exported once."""
    cache = {}

    def get(kind):
        if kind not in cache:
            model = tiny_model(kind)
            path = export.saved_model(model, tmp_path_factory.mktemp(kind) / kind)
            cache[kind] = (model, path, tf.saved_model.load(str(path)))
        return cache[kind]

    return get


def call(loaded, signature, **inputs):
    outputs = loaded.signatures[signature](**{k: tf.constant(v) for k, v in inputs.items()})
    return {k: v.numpy() for k, v in outputs.items()}


def assert_images(outputs, expected):
    expected = np.asarray(expected)
    assert outputs["images"].shape == expected.shape
    assert outputs["images"].dtype == np.float32
    np.testing.assert_allclose(outputs["images"], expected, atol=TOLERANCE, rtol=0)
    assert outputs["images_uint8"].dtype == np.uint8
    np.testing.assert_array_equal(outputs["images_uint8"], io.to_uint8(outputs["images"]))


def latents(n, dim, seed=0):
    return np.random.default_rng(seed).standard_normal((n, dim)).astype(np.float32)


def images(n, shape, seed=0):
    return np.random.default_rng(seed).uniform(-1, 1, (n, *shape)).astype(np.float32)


# --------------------------------------------------------------------------- signatures
@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_exports_its_signatures(exported, kind):
    model, path, loaded = exported(kind)
    assert path.name == "1" and (path / "saved_model.pb").is_file()
    assert set(loaded.signatures) == EXPECTED_SIGNATURES[kind]
    table = export.signature_table(path)
    for name in EXPECTED_SIGNATURES[kind]:
        assert f"| `{name}` |" in table
    if kind == "dcgan":  # the .keras asset rebuilds the model (the same code for every kind)
        rebuilt = saving.load_model(path, compile=False)
        z = latents(2, model.latent_dim)
        np.testing.assert_array_equal(rebuilt.generator(z), model.generator(z))


@pytest.mark.parametrize("kind", ["dcgan", "wgan_gp"])
def test_gan_signatures_match_the_generator(exported, kind):
    model, _, loaded = exported(kind)
    z = latents(3, model.latent_dim)
    assert_images(call(loaded, "serving_default", z=z), model.generator(z, training=False))
    generated = call(loaded, "generate", batch_size=np.int32(4), seed=np.int64(7))
    assert_images(generated, model.generate(4, seed=7))
    other = call(loaded, "generate", batch_size=np.int32(4), seed=np.int64(8))["images"]
    assert np.abs(other - generated["images"]).max() > 1e-3


def test_cgan_signatures_match_the_generator(exported):
    model, _, loaded = exported("cgan")
    latent_dim = int(model.generator.inputs[0].shape[-1])
    z = latents(3, latent_dim)
    labels = np.array([0, 3, model.num_classes - 1], np.int32)
    expected = model.generator([z, labels], training=False)
    assert_images(call(loaded, "serving_default", z=z, label=labels), expected)
    generated = call(
        loaded, "generate", batch_size=np.int32(2), seed=np.int64(5), label=np.int32(4)
    )
    assert_images(generated, model.generate(2, labels=4, seed=5))
    z = tf.random.stateless_normal([2, latent_dim], seed=[5, 1])
    with pytest.raises(tf.errors.InvalidArgumentError, match="label must be <"):
        call(
            loaded, "serving_default", z=z.numpy(), label=np.array([0, model.num_classes], np.int32)
        )
    with pytest.raises(tf.errors.InvalidArgumentError, match="same batch size"):
        call(loaded, "serving_default", z=z.numpy(), label=np.array([1], np.int32))


def test_pix2pix_signatures_match_the_generator(exported):
    model, _, loaded = exported("pix2pix")
    shape = tuple(model.generator.inputs[0].shape[1:])
    x = images(2, shape)
    expected = model.generator(x, training=False)
    assert_images(call(loaded, "translate", images=x), expected)
    assert_images(call(loaded, "serving_default", images=x), expected)
    np.testing.assert_allclose(expected, model.translate(x), atol=TOLERANCE, rtol=0)
    x8 = io.to_uint8(x)
    assert_images(call(loaded, "translate_uint8", images=x8), model.translate(x8))


def test_cyclegan_signatures_match_translate(exported):
    model, _, loaded = exported("cyclegan")
    a, b = images(2, model.image_shape), images(2, model.image_shape_b, seed=1)
    assert_images(call(loaded, "a2b", images=a), model.translate(a, "a2b"))
    assert_images(call(loaded, "serving_default", images=a), model.translate(a, "a2b"))
    assert_images(call(loaded, "b2a", images=b), model.translate(b, "b2a"))
    a8, b8 = io.to_uint8(a), io.to_uint8(b)
    assert_images(call(loaded, "a2b_uint8", images=a8), model.translate(a8, "a2b"))
    assert_images(call(loaded, "b2a_uint8", images=b8), model.translate(b8, "b2a"))


def test_vae_signatures_match_the_model(exported):
    model, _, loaded = exported("vae")
    x = images(3, model.image_shape)
    posterior = model.encode(x)
    encoded = call(loaded, "encode", images=x)
    np.testing.assert_allclose(encoded["mean"], posterior.mean(), atol=TOLERANCE, rtol=0)
    np.testing.assert_allclose(encoded["scale"], posterior.stddev(), atol=TOLERANCE, rtol=0)
    assert encoded["scale"].min() > 0
    z = latents(3, model.latent_dim)
    assert_images(call(loaded, "decode", z=z), model.generate(z=z))
    assert_images(call(loaded, "serving_default", z=z), model.generate(z=z))
    assert_images(call(loaded, "reconstruct", images=x), model.reconstruct(x))
    generated = call(loaded, "generate", batch_size=np.int32(2), seed=np.int64(11))
    assert_images(generated, model.generate(2, seed=11))


@pytest.mark.parametrize(
    "kind, signature, bad",
    [
        ("dcgan", "serving_default", dict(z=np.zeros((2, 9), np.float32))),  # latent_dim 8
        ("dcgan", "serving_default", dict(z=np.zeros((2, 8), np.float64))),
        ("dcgan", "serving_default", dict(z=np.zeros((8,), np.float32))),
        ("dcgan", "generate", dict(batch_size=np.int32(2), seed=np.float32(1.0))),
        ("cyclegan", "a2b", dict(images=np.zeros((1, 16, 16, 3), np.float32))),  # A has 1 channel
        ("cyclegan", "a2b_uint8", dict(images=np.zeros((1, 16, 16, 1), np.float32))),
        ("vae", "encode", dict(images=np.zeros((1, 32, 32, 1), np.float32))),
    ],
)
def test_signatures_refuse_wrong_shapes_and_dtypes(exported, kind, signature, bad):
    _, _, loaded = exported(kind)
    with pytest.raises((ValueError, TypeError, tf.errors.InvalidArgumentError)):
        call(loaded, signature, **bad)


def test_generate_refuses_a_non_positive_batch(exported):
    _, _, loaded = exported("dcgan")
    with pytest.raises(tf.errors.InvalidArgumentError, match="batch_size must be >= 1"):
        call(loaded, "generate", batch_size=np.int32(0), seed=np.int64(1))


def test_saved_model_cli_shows_and_runs_the_signatures(exported, tmp_path):
    model, path, _ = exported("dcgan")
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    shown = subprocess.run(
        [SAVED_MODEL_CLI, "show", "--dir", str(path), "--all"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert shown.returncode == 0, shown.stderr[-2000:]
    for name in ("serving_default", "generate"):
        assert f"signature_def['{name}']" in shown.stdout
    assert "images_uint8" in shown.stdout
    z = latents(2, model.latent_dim, seed=3)
    np.save(tmp_path / "z.npy", z)
    ran = subprocess.run(
        [
            SAVED_MODEL_CLI,
            "run",
            "--dir",
            str(path),
            "--tag_set",
            "serve",
            "--signature_def",
            "serving_default",
            "--inputs",
            f"z={tmp_path / 'z.npy'}",
            "--outdir",
            str(tmp_path / "out"),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert ran.returncode == 0, ran.stderr[-2000:]
    got = np.load(tmp_path / "out" / "images.npy")
    expected = model.generator(z, training=False).numpy()
    assert np.abs(got - expected).max() <= TOLERANCE
    np.testing.assert_array_equal(np.load(tmp_path / "out" / "images_uint8.npy"), io.to_uint8(got))


# --------------------------------------------------------------------------- versions, safety
@pytest.fixture(scope="module")
def small_gan():
    return tiny_model("dcgan")


def test_versions_count_up_and_existing_ones_are_not_overwritten(small_gan, tmp_path):
    base = tmp_path / "served"
    assert export.saved_model(small_gan, base) == base / "1"
    assert export.saved_model(small_gan, base) == base / "2"
    (base / "2" / "marker").write_text("kept")
    with pytest.raises(TfgenUsageError, match="already exists; pass --overwrite"):
        export.saved_model(small_gan, base, version=2)
    assert (base / "2" / "marker").read_text() == "kept"
    assert export.saved_model(small_gan, base, version=2, overwrite=True) == base / "2"
    assert not (base / "2" / "marker").exists()
    assert (base / "2" / "saved_model.pb").is_file()
    assert sorted(p.name for p in base.iterdir()) == ["1", "2"]
    with pytest.raises(TfgenUsageError, match="positive integer"):
        export.saved_model(small_gan, base, version=0)


def _crashing_save(real_save):
    def save(obj, export_dir, signatures=None, **kwargs):
        real_save(obj, export_dir, signatures=signatures, **kwargs)  # a complete set of files...
        raise RuntimeError("disk full")  # ...then the crash, before the rename

    return save


def test_a_crash_mid_export_leaves_no_version_folder(small_gan, tmp_path, monkeypatch):
    base = tmp_path / "served"
    monkeypatch.setattr(tf.saved_model, "save", _crashing_save(tf.saved_model.save))
    with pytest.raises(RuntimeError, match="disk full"):
        export.saved_model(small_gan, base)
    # No "1", no hidden temporary folder, and the base folder made for it is gone again.
    assert not base.exists()


def test_a_crash_while_overwriting_keeps_the_old_version(small_gan, tmp_path, monkeypatch):
    base = tmp_path / "served"
    export.saved_model(small_gan, base)
    (base / "1" / "marker").write_text("old")
    monkeypatch.setattr(tf.saved_model, "save", _crashing_save(tf.saved_model.save))
    with pytest.raises(RuntimeError, match="disk full"):
        export.saved_model(small_gan, base, version=1, overwrite=True)
    assert [p.name for p in base.iterdir()] == ["1"]
    assert (base / "1" / "marker").read_text() == "old"


def test_models_without_signatures_are_refused(tmp_path):
    plain = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    with pytest.raises(TfgenUsageError, match="cannot export a Sequential"):
        export.saved_model(plain, tmp_path / "served")
    assert not (tmp_path / "served").exists()


# --------------------------------------------------------------------------- TF Serving config
def test_models_config_lists_every_exported_model(small_gan, tmp_path):
    root = tmp_path / "models"
    export.saved_model(small_gan, root / "dcgan_a")
    export.saved_model(small_gan, root / "dcgan_b", version=3)
    (root / "not_a_model" / "1").mkdir(parents=True)  # no saved_model.pb
    (root / "notes.txt").write_text("ignored")
    path, names = export.write_models_config(root, base_path="/models/")
    assert path == root / "models.config" and names == ["dcgan_a", "dcgan_b"]
    assert path.read_text() == (
        "model_config_list {\n"
        "  config {\n"
        '    name: "dcgan_a"\n'
        '    base_path: "/models/dcgan_a"\n'
        '    model_platform: "tensorflow"\n'
        "  }\n"
        "  config {\n"
        '    name: "dcgan_b"\n'
        '    base_path: "/models/dcgan_b"\n'
        '    model_platform: "tensorflow"\n'
        "  }\n"
        "}\n"
    )
    path, _ = export.write_models_config(root, out=tmp_path / "local.config")
    assert f'base_path: "{root.resolve()}/dcgan_a"' in path.read_text()
    with pytest.raises(TfgenUsageError, match="holds no exported models"):
        export.write_models_config(root / "not_a_model")


def test_cli_export_and_models_config(small_gan, tmp_path, capsys):
    keras_file = tmp_path / "model.keras"
    small_gan.save(keras_file)
    root = tmp_path / "models"
    argv = ["export", str(keras_file), "--out", str(root / "gan"), "--version", "4"]
    assert cli.main(argv) == 0
    assert (root / "gan" / "4" / "saved_model.pb").is_file()
    assert cli.main(argv) == cli.EXIT_USAGE  # version 4 exists
    assert "--overwrite" in capsys.readouterr().err
    assert cli.main([*argv, "--quantize", "int8"]) == cli.EXIT_USAGE
    assert "--quantize applies to --format tflite" in capsys.readouterr().err
    assert cli.main(["models-config", str(root), "--base-path", "/models"]) == 0
    assert 'base_path: "/models/gan"' in (root / "models.config").read_text()
