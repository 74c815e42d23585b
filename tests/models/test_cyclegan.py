"""Tests for `tfgen.models.CycleGAN` and its ResNet generator."""

import json
import os
import pathlib
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfgen.errors import TfgenUsageError
from tfgen.models.cyclegan import CycleGAN
from tfgen.networks.resnet import (
    ReflectionPadding2D,
    build_resnet_generator,
    default_residual_blocks,
)
from tfgen.optimizers import LinearDecay
from tfgen.registry import MODEL_KINDS

REPO = pathlib.Path(__file__).resolve().parents[2]
SHAPE = (4, 4, 1)


# ----------------------------------------------------------------- helpers
def scale_net(factor, name, shape=SHAPE, bias=False):
    """x -> factor * x (+ 0 bias): a 1x1 conv with a known weight."""
    inputs = keras.Input(shape)
    outputs = keras.layers.Conv2D(
        shape[-1],
        1,
        use_bias=bias,
        kernel_initializer=keras.initializers.Constant(factor),
        name=f"{name}_conv",
    )(inputs)
    return keras.Model(inputs, outputs, name=name)


def tiny_fixed(k=0.5, m=-1.5, p=0.8, q=-0.3, bias=False, **kwargs):
    """G(x) = k x, F(x) = m x, D_A(x) = p x, D_B(x) = q x (per-pixel logit maps)."""
    return CycleGAN(
        image_shape=SHAPE,
        generator_a2b=scale_net(k, "g_a2b", bias=bias),
        generator_b2a=scale_net(m, "g_b2a", bias=bias),
        discriminator_a=scale_net(p, "d_a", bias=bias),
        discriminator_b=scale_net(q, "d_b", bias=bias),
        **kwargs,
    )


def tiny_resnet(**kwargs):
    kwargs.setdefault("g_width", 4)
    kwargs.setdefault("d_width", 4)
    kwargs.setdefault("n_residual_blocks", 1)
    return CycleGAN(**kwargs)


def images(n, shape=SHAPE, seed=0):
    return np.random.default_rng(seed).uniform(-1, 1, (n, *shape)).astype(np.float32)


# ----------------------------------------------------------------- registry
def test_registered_as_cyclegan_kind():
    assert MODEL_KINDS["cyclegan"] is CycleGAN
    assert CycleGAN.kind == "cyclegan"
    assert keras.saving.get_registered_name(CycleGAN) == "tfgen>CycleGAN"


# ----------------------------------------------------------------- ResNet generator
def test_reflection_padding_matches_numpy_reflect():
    x = np.arange(2 * 4 * 5 * 3, dtype=np.float32).reshape(2, 4, 5, 3)
    out = ReflectionPadding2D(2)(x)
    expected = np.pad(x, [(0, 0), (2, 2), (2, 2), (0, 0)], mode="reflect")
    np.testing.assert_array_equal(out.numpy(), expected)
    layer = ReflectionPadding2D.from_config(ReflectionPadding2D(3).get_config())
    assert layer.padding == 3
    assert layer.compute_output_shape((None, 7, 7, 2)) == (None, 13, 13, 2)


@pytest.mark.parametrize(
    "shape, out_channels", [((28, 28, 1), 1), ((32, 32, 1), 3), ((64, 64, 3), 3)]
)
def test_resnet_generator_shapes_and_range(shape, out_channels):
    net = build_resnet_generator(shape, out_channels, width=4, n_residual_blocks=1)
    out = net(images(2, shape)).numpy()
    assert out.shape == (2, *shape[:2], out_channels)
    assert np.all(np.abs(out) <= 1.0)
    layer_types = {type(layer).__name__ for layer in net.layers}
    assert "Conv2DTranspose" not in layer_types
    assert {"UpSampling2D", "ReflectionPadding2D", "GroupNormalization"} <= layer_types
    norms = [layer for layer in net.layers if isinstance(layer, keras.layers.GroupNormalization)]
    assert all(n.groups == n.input.shape[-1] for n in norms)  # one group per channel


def test_resnet_generator_residual_block_count_and_errors():
    assert [default_residual_blocks(s) for s in (28, 32, 64, 128, 256)] == [3, 3, 6, 6, 9]
    net = build_resnet_generator((32, 32, 1), width=2, n_residual_blocks=4)
    assert sum(1 for layer in net.layers if layer.name.endswith("_add")) == 4
    with pytest.raises(TfgenUsageError, match="not divisible"):
        build_resnet_generator((30, 30, 1), n_downsamples=2)
    with pytest.raises(TfgenUsageError, match="too small"):
        build_resnet_generator((4, 4, 1), n_downsamples=2)


# ----------------------------------------------------------------- losses
def expected_losses(a, b, k, m, p, q, adversarial_weight, cycle_weight, identity_weight):
    """The CycleGAN losses for G = k x, F = m x, D_A = p x, D_B = q x, computed by hand."""
    fake_b, fake_a = k * a, m * b
    out = {
        "a2b_adversarial": 0.5 * np.mean((q * fake_b - 1) ** 2),
        "b2a_adversarial": 0.5 * np.mean((p * fake_a - 1) ** 2),
        "a2b_cycle": np.mean(np.abs(m * k * a - a)),
        "b2a_cycle": np.mean(np.abs(k * m * b - b)),
        # The pools are empty at the first step, so D sees this step's fakes.
        "a2b_discriminator": 0.5 * np.mean((q * b - 1) ** 2) + 0.5 * np.mean((q * fake_b) ** 2),
        "b2a_discriminator": 0.5 * np.mean((p * a - 1) ** 2) + 0.5 * np.mean((p * fake_a) ** 2),
    }
    g_loss = adversarial_weight * (out["a2b_adversarial"] + out["b2a_adversarial"])
    g_loss += cycle_weight * (out["a2b_cycle"] + out["b2a_cycle"])
    if identity_weight:
        out["a2b_identity"] = np.mean(np.abs(k * b - b))
        out["b2a_identity"] = np.mean(np.abs(m * a - a))
        g_loss += identity_weight * (out["a2b_identity"] + out["b2a_identity"])
    out["g_loss"] = g_loss
    return out


def run_step(model, a, b):
    return {k: float(v) for k, v in model.train_step((a, b)).items()}


@pytest.mark.parametrize(
    "weights",
    [
        {},  # the paper's: adversarial 2 x tfgen's 0.5 (D - 1)^2, cycle 10, identity 5
        {"adversarial_weight": 1.0, "cycle_weight": 3.0, "identity_weight": 0.7},
    ],
)
def test_losses_match_hand_computed_values(weights):
    model = tiny_fixed(**weights)
    model.compile()
    a, b = images(3, seed=1), images(3, seed=2)
    got = run_step(model, a, b)
    want = expected_losses(
        a,
        b,
        0.5,
        -1.5,
        0.8,
        -0.3,
        weights.get("adversarial_weight", 2.0),
        weights.get("cycle_weight", 10.0),
        weights.get("identity_weight", 5.0),
    )
    assert set(got) == set(want)
    for name, value in want.items():
        assert got[name] == pytest.approx(value, rel=1e-5), name


def test_identity_loss_off():
    model = tiny_fixed(identity_weight=0)
    model.compile()
    a, b = images(3, seed=1), images(3, seed=2)
    got = run_step(model, a, b)
    assert "a2b_identity" not in got and "b2a_identity" not in got
    want = expected_losses(a, b, 0.5, -1.5, 0.8, -0.3, 2.0, 10.0, 0.0)
    assert got["g_loss"] == pytest.approx(want["g_loss"], rel=1e-5)
    assert model.get_config()["identity_weight"] == 0.0


def test_default_identity_weight_is_half_the_cycle_weight():
    assert tiny_fixed(cycle_weight=4.0).identity_weight == 2.0


def test_train_step_needs_two_domains():
    model = tiny_fixed()
    model.compile()
    with pytest.raises(TfgenUsageError, match="images_a, images_b"):
        model.train_step(images(2))
    with pytest.raises(TfgenUsageError, match="domain B"):
        model.train_step((images(2), images(2, (5, 5, 1))))


# ----------------------------------------------------------------- optimizers
NETWORKS = ("generator_a2b", "generator_b2a", "discriminator_a", "discriminator_b")


@pytest.mark.parametrize("moving", NETWORKS)
def test_each_optimizer_updates_only_its_own_network(moving):
    model = tiny_fixed(bias=True)
    arg = {
        "generator_a2b": "g_a2b_optimizer",
        "generator_b2a": "g_b2a_optimizer",
        "discriminator_a": "d_a_optimizer",
        "discriminator_b": "d_b_optimizer",
    }
    # Only `moving`'s optimizer has a non-zero rate: only its network may change.
    model.compile(
        **{arg[name]: keras.optimizers.SGD(0.1 if name == moving else 0.0) for name in NETWORKS}
    )
    before = {name: [w.numpy() for w in getattr(model, name).weights] for name in NETWORKS}
    model.train_step((images(4, seed=1), images(4, seed=2)))
    for name in NETWORKS:
        after = [w.numpy() for w in getattr(model, name).weights]
        changed = any(not np.array_equal(x, y) for x, y in zip(before[name], after))
        assert changed == (name == moving), name
    for name, optimizer in model.optimizers.items():
        assert int(optimizer.iterations.numpy()) == 1
        built_for = {id(v) for v in optimizer._trainable_variables}
        assert built_for == {id(v) for v in getattr(model, name).trainable_variables}


def test_one_optimizer_for_two_networks_is_refused():
    shared = keras.optimizers.Adam()
    with pytest.raises(TfgenUsageError, match="four distinct"):
        tiny_fixed().compile(g_a2b_optimizer=shared, g_b2a_optimizer=shared)


def test_fit_in_graph_mode_decays_the_rate_and_fills_the_pools():
    model = tiny_fixed(bias=True, pool_size=5)
    model.compile(total_steps=4, decay_start=0.5)
    ds = tf.data.Dataset.from_tensor_slices((images(8, seed=1), images(8, seed=2))).batch(2)
    history = model.fit(ds, epochs=1, verbose=0)
    assert set(history.history) >= {"g_loss", "a2b_discriminator", "b2a_cycle", "a2b_identity"}
    assert all(np.isfinite(v[-1]) for v in history.history.values())
    assert int(model.pool_a.count.numpy()) == 5 and int(model.pool_b.count.numpy()) == 5
    for optimizer in model.optimizers.values():
        assert int(optimizer.iterations.numpy()) == 4
        assert float(optimizer.learning_rate) == 0.0  # decayed to 0 at the run's end


# ----------------------------------------------------------------- shapes and round trips
@pytest.mark.parametrize(
    "shape_a, shape_b", [((28, 28, 1), None), ((32, 32, 1), (32, 32, 3)), ((64, 64, 3), None)]
)
def test_shapes(shape_a, shape_b):
    model = tiny_resnet(image_shape=shape_a, image_shape_b=shape_b)
    shape_b = shape_b or shape_a
    assert model.translate(images(2, shape_a), "a2b").shape == (2, *shape_b)
    assert model.translate(images(3, shape_b), "b2a").shape == (3, *shape_a)
    patches = shape_a[0] // (8 if shape_a[0] >= 128 else 4)
    assert model.discriminator_a.output_shape == (None, patches, patches, 1)
    assert model.discriminator_b.input_shape == (None, *shape_b)


def test_translate_checks_its_arguments():
    model = tiny_resnet()
    uint8 = np.full((2, 28, 28), 255, np.uint8)  # [N, H, W] grey, uint8 scaled to [-1, 1]
    np.testing.assert_allclose(model.translate(uint8), model.translate(np.ones((2, 28, 28, 1))))
    with pytest.raises(TfgenUsageError, match="direction"):
        model.translate(images(1, (28, 28, 1)), direction="ab")
    with pytest.raises(TfgenUsageError, match=r"shape \(28, 28, 1\)"):
        model.translate(images(1, (32, 32, 1)))
    with pytest.raises(TfgenUsageError, match="one size"):
        CycleGAN(image_shape=(28, 28, 1), image_shape_b=(32, 32, 1))


def test_config_round_trip():
    model = tiny_resnet(image_shape=(32, 32, 1), image_shape_b=(32, 32, 3), identity_weight=0)
    clone = CycleGAN.from_config(json.loads(json.dumps(model.get_config())))
    assert json.loads(json.dumps(clone.get_config())) == json.loads(json.dumps(model.get_config()))
    clone.set_weights(model.get_weights())
    x = images(2, (32, 32, 1))
    np.testing.assert_array_equal(clone.translate(x), model.translate(x))


def test_keras_round_trip_gives_identical_translations(tmp_path):
    model = tiny_resnet(pool_size=4)
    model.compile(total_steps=100)
    # A pool state and optimizer slots to carry over (as after training).
    model.pool_b.images.assign(images(4, (28, 28, 1), seed=1))
    model.pool_b.count.assign(2)
    model.g_a2b_optimizer.iterations.assign(7)
    path = tmp_path / "cyclegan.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert isinstance(loaded, CycleGAN)
    x = images(3, (28, 28, 1), seed=5)
    for direction in ("a2b", "b2a"):
        np.testing.assert_array_equal(loaded.translate(x, direction), model.translate(x, direction))
    np.testing.assert_array_equal(loaded.pool_b.images.numpy(), model.pool_b.images.numpy())
    assert int(loaded.pool_b.count.numpy()) == 2
    assert int(loaded.g_a2b_optimizer.iterations.numpy()) == 7
    schedule = loaded.g_a2b_optimizer._learning_rate
    assert isinstance(schedule, LinearDecay) and schedule.total_steps == 100
    assert loaded.get_config()["identity_weight"] == model.identity_weight


# ----------------------------------------------------------------- tf.distribute
MIRRORED = """
import numpy as np, tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
import keras
from tests.models.test_cyclegan import images, tiny_fixed
strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
with strategy.scope():
    model = tiny_fixed(bias=True, pool_size=50)
    model.compile()
ds = tf.data.Dataset.from_tensor_slices((images(12, seed=1), images(12, seed=2))).batch(4)
model.fit(ds, epochs=1, verbose=0)
counts = [int(v) for v in strategy.experimental_local_results(model.pool_a.count._value)]
pools = [v.numpy() for v in strategy.experimental_local_results(model.pool_a.images._value)]
print("COUNTS", counts, "SAME", bool(np.array_equal(pools[0], pools[1])))
"""


@pytest.mark.large  # a fresh TensorFlow process with two logical CPUs
def test_pools_are_per_replica_under_mirrored_strategy():
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": str(REPO)}
    result = subprocess.run(
        [sys.executable, "-c", MIRRORED],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    # 3 steps of a global batch of 4: each replica stored its own 2 fakes per step.
    assert "COUNTS [6, 6] SAME False" in result.stdout, result.stdout


# ----------------------------------------------------------------- training job and CLI
def test_dataset_b_is_refused_for_one_domain_models():
    from tfgen import training
    from tfgen.models.dcgan import DCGAN

    with pytest.raises(TfgenUsageError, match="--dataset-b"):
        training.make_dataset(DCGAN, "mnist", 8, 0, dataset_b="other")
    with pytest.raises(TfgenUsageError, match="--dataset-b"):
        training.make_dataset(CycleGAN, "a.npz", 8, 0, task="superres")


@pytest.mark.large
def test_cli_train_then_translate(tmp_path, tiny_cyclegan_cli):
    from tfgen import cli

    digits, argv = tiny_cyclegan_cli
    run = tmp_path / "run"
    assert cli.main([*argv, "--steps", "2", "--out", str(run)]) == 0
    summary = json.loads((run / "run.json").read_text())
    assert summary["steps"] == 2 and summary["dataset_b"].endswith("b.npz")
    assert (run / "samples" / "epoch_001.png").exists()
    model = keras.saving.load_model(run / "model.keras")
    # The rate decays over the run the job planned: 2 steps, constant for the first.
    assert model.g_b2a_optimizer._learning_rate.total_steps == 2
    np.save(tmp_path / "in.npy", digits[4:])
    out = tmp_path / "out.npy"
    argv = ["translate", str(run / "model.keras"), "--direction", "b2a"]
    assert cli.main([*argv, "--input", str(tmp_path / "in.npy"), "--out", str(out)]) == 0
    expected = np.clip(np.round((model.translate(digits[4:], "b2a") + 1) * 127.5), 0, 255)
    np.testing.assert_array_equal(np.load(out), expected.astype(np.uint8))


# ----------------------------------------------------------------- the zoo entry
ZOO_ENTRY = REPO / "savedmodels" / "cyclegan_mnist_inverted" / "cyclegan_mnist_inverted.keras"
ZOO_CLASSIFIER = REPO / "savedmodels" / "classifier_mnist" / "classifier_mnist.keras"


def test_zoo_model_inverts_held_out_digits(mnist_test_arrays):
    if not ZOO_ENTRY.exists():
        pytest.skip("zoo entry cyclegan_mnist_inverted not published")
    from tfgen.evaluation.classifier import classifier_accuracy
    from tfgen.io import to_uint8

    model = keras.saving.load_model(ZOO_ENTRY, compile=False)
    digits, labels = mnist_test_arrays[0][:400], mnist_test_arrays[1][:400]
    x = digits / 255.0
    fake_b = model.translate(digits, "a2b")
    fake_a = model.translate(255 - digits, "b2a")
    assert np.mean(np.abs((fake_b + 1) / 2 - (1 - x))) < 0.05
    assert np.mean(np.abs((fake_a + 1) / 2 - x)) < 0.05
    assert np.mean(np.abs((model.translate(fake_b, "b2a") + 1) / 2 - x)) < 0.03
    assert np.mean(np.abs((model.translate(fake_a, "a2b") + 1) / 2 - (1 - x))) < 0.03
    if ZOO_CLASSIFIER.exists():
        classifier = keras.saving.load_model(ZOO_CLASSIFIER, compile=False)
        assert classifier_accuracy(classifier, 255 - to_uint8(fake_b), labels) >= 0.97
        assert classifier_accuracy(classifier, to_uint8(fake_a), labels) >= 0.97
