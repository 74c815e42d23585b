"""TFLite/LiteRT: every kind converts at every quantization level and runs in the ai_edge_litert
interpreter with outputs close to Keras; int8 is small; bad requests fail with clear errors."""

import inspect

import numpy as np
import pytest
import tensorflow as tf

from tfgen import cli, registry, saving
from tfgen.errors import TfgenUsageError
from tfgen.export import tflite

KINDS = ("dcgan", "wgan_gp", "cgan", "pix2pix", "cyclegan", "vae")
TINY_OPTIONS = {
    "dcgan": dict(latent_dim=8, g_width=8, d_width=8),
    "wgan_gp": dict(latent_dim=8, g_width=8, d_width=8),
    "cgan": dict(latent_dim=8, num_classes=10, g_width=8, d_width=8),
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
SIGNATURES = {
    "dcgan": ["serving_default"],
    "wgan_gp": ["serving_default"],
    "cgan": ["serving_default"],
    "pix2pix": ["serving_default"],
    "cyclegan": ["a2b", "b2a"],
    "vae": ["decode", "encode"],
}
# (max, mean) absolute difference from Keras. none and float16 are the bounds; the
# integer levels are loose bounds on tiny untrained networks (measured: max <= 0.2, mean
# <= 0.04), there to catch a broken conversion (outputs off by whole units), not to grade it.
TOLERANCE = {
    "none": (1e-4, 1e-4),
    "float16": (1e-2, 1e-2),
    "dynamic": (0.5, 0.08),
    "int8": (0.5, 0.08),
}


def tiny_model(kind):
    # Importing the module registers the kind; skipped only while its file does not exist.
    pytest.importorskip(f"tfgen.models.{kind}")
    cls = registry.get_model_class(kind)
    accepted = inspect.signature(cls.__init__).parameters
    return cls(**{k: v for k, v in TINY_OPTIONS[kind].items() if k in accepted})


@pytest.fixture(scope="module")
def models():
    cache = {}

    def get(kind):
        if kind not in cache:
            cache[kind] = tiny_model(kind)
        return cache[kind]

    return get


@pytest.fixture(scope="module")
def digits(mnist_test_arrays):
    """Real MNIST test digits, float32 [-1, 1]: 28 px and 16 px (grey and RGB)."""
    images = mnist_test_arrays[0][:64].astype(np.float32) / 127.5 - 1.0
    small = tf.image.resize(images, (16, 16), antialias=True).numpy().clip(-1, 1)
    return {
        (28, 28, 1): images,
        (16, 16, 1): small,
        (16, 16, 3): np.concatenate([small, -small, small], axis=-1),  # a different domain
    }


def representative_images(model, digits):
    """Calibration images per domain (the first 32 digits; tests use the others)."""
    functions = tflite.tflite_functions(model)
    pools = {}
    for function in functions.values():
        if function.domain is not None:
            shape = tuple(int(d) for d in function.specs[0].shape[1:])
            pools[function.domain] = digits[shape][:32]
    return pools or None


def sample_inputs(function, digits, row):
    rng = np.random.default_rng(row)
    inputs = {}
    for spec in function.specs:
        shape = [int(d) for d in spec.shape]
        if spec.name == "z":
            inputs["z"] = rng.standard_normal(shape).astype(np.float32)
        elif spec.name == "label":
            inputs["label"] = rng.integers(0, 10, shape).astype(np.int32)
        else:
            pool = digits[tuple(shape[1:])]
            inputs["images"] = pool[32 + row : 32 + row + shape[0]]
    return inputs


def keras_outputs(function, inputs):
    outputs = function.fn(*[tf.constant(inputs[spec.name]) for spec in function.specs])
    return {k: np.asarray(v) for k, v in outputs.items()}


def has_int8_tensors(interpreter):
    return any(t["dtype"] == np.int8 for t in interpreter.get_tensor_details())


@pytest.mark.parametrize("quantize", tflite.QUANTIZATIONS)
@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_converts_at_every_level(models, digits, kind, quantize):
    model = models(kind)
    content = tflite.convert(
        model,
        quantize=quantize,
        representative_images=representative_images(model, digits),
        num_representative=32,
    )
    interpreter = tflite.interpreter(content)
    assert sorted(interpreter.get_signature_list()) == sorted(SIGNATURES[kind])
    assert has_int8_tensors(interpreter) == (quantize in ("dynamic", "int8"))
    max_tolerance, mean_tolerance = TOLERANCE[quantize]
    for name, function in tflite.tflite_functions(model).items():
        for row in range(3):
            inputs = sample_inputs(function, digits, row)
            got = tflite.run(interpreter, name, **inputs)
            expected = keras_outputs(function, inputs)
            assert sorted(got) == sorted(expected)
            for key, value in expected.items():
                assert got[key].shape == value.shape and got[key].dtype == np.float32
                difference = np.abs(got[key] - value)
                assert difference.max() <= max_tolerance, (name, key, difference.max())
                assert difference.mean() <= mean_tolerance, (name, key, difference.mean())


def test_no_kind_uses_conv2d_transpose(models):
    """Full-integer TFLite handles Conv2DTranspose badly; tfgen up-samples with UpSampling2D +
    Conv2D everywhere, so int8 conversion (above) works for every kind."""
    for kind in KINDS:
        model = models(kind) if _exists(kind) else None
        if model is None:
            continue
        for network in _networks(model):
            kinds = {type(layer).__name__ for layer in network._flatten_layers()}
            assert "Conv2DTranspose" not in kinds, (kind, network.name)


def _exists(kind):
    try:
        __import__(f"tfgen.models.{kind}")
    except ImportError:
        return False
    return True


def _networks(model):
    names = ("generator", "discriminator", "encoder", "decoder", "generator_a2b", "generator_b2a")
    return [getattr(model, name) for name in names if hasattr(model, name)]


def test_int8_is_under_30_percent_of_float32_for_the_zoo_dcgan():
    """The zoo's dcgan_mnist (or, before it is trained, the same architecture untrained)."""
    from tfgen.models.dcgan import DCGAN

    entry = registry.zoo_path("dcgan_mnist")
    model = saving.load_model(entry, compile=False) if entry.is_dir() else DCGAN()
    float32 = tflite.convert(model)
    float16 = tflite.convert(model, quantize="float16")
    int8 = tflite.convert(model, quantize="int8", num_representative=50)
    assert len(int8) <= 0.30 * len(float32)
    assert len(float16) <= 0.55 * len(float32)
    z = np.random.default_rng(0).standard_normal((1, model.latent_dim)).astype(np.float32)
    # TFLite converts the generator that samples: the EMA copy when the model keeps one.
    expected = model.sampling_generator(z, training=False).numpy()
    for content, tolerance in ((float32, 1e-4), (float16, 1e-2)):
        got = tflite.run(tflite.interpreter(content), z=z)["images"]
        assert np.abs(got - expected).max() <= tolerance


def test_a_fixed_batch_of_several_rows(models):
    model = models("dcgan")
    interpreter = tflite.interpreter(tflite.convert(model, batch_size=3))
    z = np.random.default_rng(1).standard_normal((3, model.latent_dim)).astype(np.float32)
    got = tflite.run(interpreter, z=z)["images"]
    np.testing.assert_allclose(got, model.generator(z, training=False), atol=1e-4, rtol=0)


def test_wrong_inputs_fail_instead_of_computing_garbage(models):
    model = models("dcgan")
    interpreter = tflite.interpreter(tflite.convert(model))
    with pytest.raises((ValueError, RuntimeError)):
        tflite.run(interpreter, z=np.zeros((1, model.latent_dim + 1), np.float32))
    with pytest.raises((ValueError, RuntimeError)):
        tflite.run(interpreter, z=np.zeros((2, model.latent_dim), np.float32))
    with pytest.raises(TfgenUsageError, match="no signature 'encode'"):
        tflite.run(interpreter, "encode", z=np.zeros((1, model.latent_dim), np.float32))


def test_conversion_errors_say_what_to_do(models, tmp_path):
    model = models("dcgan")
    with pytest.raises(TfgenUsageError, match="unknown quantization 'int4'"):
        tflite.convert(model, quantize="int4")
    with pytest.raises(TfgenUsageError, match="must end in .tflite"):
        tflite.convert(model, tmp_path / "model.bin")
    with pytest.raises(TfgenUsageError, match="batch_size must be >= 1"):
        tflite.convert(model, batch_size=0)
    path = tmp_path / "model.tflite"
    content = tflite.convert(model, path)
    assert path.read_bytes() == content
    with pytest.raises(TfgenUsageError, match="already exists; pass --overwrite"):
        tflite.convert(model, path, quantize="float16")
    assert path.read_bytes() == content
    tflite.convert(model, path, quantize="float16", overwrite=True)
    assert len(path.read_bytes()) < len(content)
    assert [p.name for p in tmp_path.iterdir()] == ["model.tflite"]  # no temporary left


def test_int8_of_image_inputs_needs_real_images(models, digits):
    model = models("cyclegan")
    with pytest.raises(TfgenUsageError, match="calibrates on real input images"):
        tflite.convert(model, quantize="int8")
    with pytest.raises(TfgenUsageError, match="no domain 'b' images"):
        tflite.convert(model, quantize="int8", representative_images={"a": digits[(16, 16, 1)]})
    with pytest.raises(TfgenUsageError, match=r"must be an array \[N, 16, 16, 3\]"):
        tflite.convert(
            model,
            quantize="int8",
            representative_images={"a": digits[(16, 16, 1)], "b": digits[(16, 16, 1)]},
        )


def test_cli_exports_tflite(models, tmp_path, data_dir, capsys):
    keras_file = tmp_path / "model.keras"
    models("dcgan").save(keras_file)
    out = tmp_path / "model_int8.tflite"
    argv = ["export", str(keras_file), "--format", "tflite", "--out", str(out)]
    assert cli.main([*argv, "--quantize", "int8", "--representative", "8"]) == 0
    assert "int8" in capsys.readouterr().out
    assert has_int8_tensors(tflite.interpreter(out))
    assert cli.main(argv) == cli.EXIT_USAGE  # exists
    assert cli.main([*argv, "--version", "2"]) == cli.EXIT_USAGE
    assert "--version applies to --format saved_model" in capsys.readouterr().err

    # Image inputs calibrate on a dataset given by name, as in training.
    vae_file = tmp_path / "vae.keras"
    models("vae").save(vae_file)
    vae_out = tmp_path / "vae.tflite"
    argv = ["export", str(vae_file), "--format", "tflite", "--quantize", "int8"]
    argv += ["--representative", "8", "--dataset", "mnist", "--data-dir", str(data_dir)]
    assert cli.main([*argv, "--out", str(vae_out)]) == 0
    assert sorted(tflite.interpreter(vae_out).get_signature_list()) == ["decode", "encode"]
