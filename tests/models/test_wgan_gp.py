"""Tests for `tfgen.models.WGANGP`: losses, the n_critic schedule, which weights move, round trips."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfgen.errors import TfgenUsageError
from tfgen.models.wgan_gp import SALT_CRITIC_NOISE, WGANGP
from tfgen.registry import MODEL_KINDS


def tiny(**kwargs):
    kwargs.setdefault("latent_dim", 8)
    kwargs.setdefault("g_width", 8)
    kwargs.setdefault("d_width", 8)
    return WGANGP(**kwargs)


def random_images(n, shape=(28, 28, 1), seed=0):
    return np.random.default_rng(seed).uniform(-1, 1, (n, *shape)).astype(np.float32)


def values(variables):
    return [v.numpy().copy() for v in variables]


def changed(before, variables):
    return [not np.array_equal(b, v.numpy()) for b, v in zip(before, variables)]


def critic_moved(before, model):
    """Which critic variables changed; the logit's bias never does under the Wasserstein loss
    (it cancels in D(G(z)) - D(x) and does not reach the input gradient)."""
    moved = dict(
        zip(
            (v.path for v in model.critic.trainable_variables),
            changed(before, model.critic.trainable_variables),
        )
    )
    assert moved.pop("logit/bias") is False
    return list(moved.values())


def linear_critic(image_shape, seed=0):
    """A critic f(x) = w . x + b with known weights."""
    critic = keras.Sequential(
        [keras.Input(image_shape), keras.layers.Flatten(), keras.layers.Dense(1)], name="critic"
    )
    rng = np.random.default_rng(seed)
    size = int(np.prod(image_shape))
    critic.set_weights(
        [rng.normal(0, 0.05, (size, 1)).astype(np.float32), np.array([0.3], np.float32)]
    )
    return critic


def test_registered_with_paper_defaults():
    assert MODEL_KINDS["wgan_gp"] is WGANGP
    assert WGANGP.kind == "wgan_gp"
    assert keras.saving.get_registered_name(WGANGP) == "tfgen>WGANGP"
    model = tiny()
    model.compile()
    assert model.loss_name == "wasserstein"
    for optimizer in (model.g_optimizer, model.d_optimizer):
        assert isinstance(optimizer, keras.optimizers.Adam)
        assert float(optimizer.learning_rate) == pytest.approx(1e-4)
        assert float(optimizer.beta_1) == 0.0
        assert float(optimizer.beta_2) == pytest.approx(0.9)
    assert model.n_critic == 5 and model.gp_weight == 10.0
    # No batch norm in the critic: the penalty of one example must not depend on the others.
    assert not any(
        isinstance(layer, keras.layers.BatchNormalization) for layer in model.critic.layers
    )
    assert any(isinstance(layer, keras.layers.LayerNormalization) for layer in model.critic.layers)


@pytest.mark.parametrize("size,channels", [(28, 1), (32, 3), (64, 1)])
def test_shapes(size, channels):
    model = tiny(image_shape=(size, size, channels))
    images = model.generate(3, seed=1)
    assert images.shape == (3, size, size, channels)
    assert np.all(np.abs(images) <= 1.0)
    assert model.critic(images).shape == (3, 1)


def test_bad_options_raise_clear_errors():
    with pytest.raises(TfgenUsageError, match="n_critic"):
        tiny(n_critic=0)
    with pytest.raises(TfgenUsageError, match="batch norm"):
        tiny(critic_normalization="batch")
    with pytest.raises(TfgenUsageError, match="gp_weight"):
        tiny(gp_weight=-1.0)
    model = tiny(n_critic=5)
    model.compile()
    with pytest.raises(TfgenUsageError, match="multiple of 5"):
        model.train_step(tf.constant(random_images(4)))


def test_critic_losses_match_hand_computed_values():
    shape = (28, 28, 1)
    model = tiny(discriminator=linear_critic(shape), gp_weight=10.0)
    model.compile()
    real, fake = random_images(4, seed=1), random_images(4, seed=2)
    weights = tf.constant([0.1, 0.4, 0.6, 0.9])
    w, b = model.critic.get_weights()
    d_real = real.reshape(4, -1) @ w[:, 0] + b[0]
    d_fake = fake.reshape(4, -1) @ w[:, 0] + b[0]
    penalty = (np.linalg.norm(w) - 1.0) ** 2  # a linear critic's gradient is w everywhere
    out = model.critic_losses(real, fake, weights)
    np.testing.assert_allclose(out["gradient_penalty"], np.full(4, penalty), rtol=1e-5)
    np.testing.assert_allclose(out["loss"], d_fake - d_real + 10.0 * penalty, rtol=1e-4)
    np.testing.assert_allclose(out["wasserstein"], d_real - d_fake, rtol=1e-4)
    np.testing.assert_allclose(model.generator_loss(d_fake[:, None]), -d_fake, rtol=1e-6)


def test_critic_step_reports_losses_of_its_slice_before_the_update():
    shape = (28, 28, 1)
    model = tiny(discriminator=linear_critic(shape))
    model.compile()
    real = tf.constant(random_images(6, seed=3))
    w, b = (x.copy() for x in model.critic.get_weights())
    # The fakes the step will draw: same seed, step and salt.
    fake = model.generator(model.training_noise(6, salt=SALT_CRITIC_NOISE), training=True)
    d_real = real.numpy().reshape(6, -1) @ w[:, 0] + b[0]
    d_fake = fake.numpy().reshape(6, -1) @ w[:, 0] + b[0]
    penalty = (np.linalg.norm(w) - 1.0) ** 2
    logs = model.critic_step(real, iteration=0)
    np.testing.assert_allclose(float(logs["wasserstein"]), np.mean(d_real - d_fake), rtol=1e-4)
    np.testing.assert_allclose(float(logs["gradient_penalty"]), penalty, rtol=1e-4)
    np.testing.assert_allclose(
        float(logs["critic_loss"]), np.mean(d_fake - d_real) + 10.0 * penalty, rtol=1e-4
    )


def test_critic_slices_are_strided_and_disjoint():
    # Strided, so replicas' slices i make up one device's slice i (see critic_slices).
    model = tiny(n_critic=3)
    real = tf.constant(random_images(10, seed=4))
    slices, size = model.critic_slices(real)
    assert int(size) == 3 and len(slices) == 3
    for i, part in enumerate(slices):
        np.testing.assert_array_equal(part.numpy(), real.numpy()[[i, i + 3, i + 6]])


def test_critic_step_moves_only_the_critic_and_generator_step_only_the_generator():
    model = tiny()
    model.compile()
    real = tf.constant(random_images(4, seed=5))
    g_before, d_before = (
        values(model.generator.trainable_variables),
        values(model.critic.trainable_variables),
    )
    model.critic_step(real)
    assert not any(changed(g_before, model.generator.trainable_variables))
    assert all(critic_moved(d_before, model))
    assert int(model.d_optimizer.iterations) == 1 and int(model.g_optimizer.iterations) == 0

    g_before, d_before = (
        values(model.generator.trainable_variables),
        values(model.critic.trainable_variables),
    )
    model.generator_step(4)
    assert all(changed(g_before, model.generator.trainable_variables))
    assert not any(changed(d_before, model.critic.trainable_variables))
    assert int(model.d_optimizer.iterations) == 1 and int(model.g_optimizer.iterations) == 1


def test_one_fit_step_makes_n_critic_critic_updates_and_one_generator_update():
    model = tiny(n_critic=5)
    model.compile(jit_compile=False)
    g_before = values(model.generator.trainable_variables)
    d_before = values(model.critic.trainable_variables)
    history = model.fit(random_images(20, seed=6), batch_size=20, epochs=1, verbose=0)
    assert int(model.d_optimizer.iterations) == 5
    assert int(model.g_optimizer.iterations) == 1
    assert all(changed(g_before, model.generator.trainable_variables))
    assert all(critic_moved(d_before, model))
    assert set(history.history) == {"critic_loss", "g_loss", "wasserstein", "gradient_penalty"}
    assert all(np.isfinite(v[-1]) for v in history.history.values())
    logs = model.evaluate(random_images(8, seed=7), batch_size=8, verbose=0, return_dict=True)
    assert set(logs) == {"critic_loss", "g_loss", "wasserstein", "gradient_penalty"}


def test_config_and_keras_round_trips_give_identical_outputs(tmp_path):
    model = tiny(image_shape=(32, 32, 3), n_critic=2, gp_weight=5.0, critic_normalization="none")
    model.compile()
    model.fit(random_images(4, (32, 32, 3)), batch_size=4, epochs=1, verbose=0)
    z = np.random.default_rng(8).normal(size=(3, 8)).astype(np.float32)
    expected = model.generator(z, training=False).numpy()
    critic_expected = model.critic(expected).numpy()

    clone = WGANGP.from_config(model.get_config())
    assert (clone.n_critic, clone.gp_weight, clone.critic_normalization) == (2, 5.0, "none")
    assert clone.image_shape == (32, 32, 3)

    path = tmp_path / "wgan_gp.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert isinstance(loaded, WGANGP)
    np.testing.assert_array_equal(loaded.generator(z, training=False).numpy(), expected)
    np.testing.assert_array_equal(loaded.critic(expected).numpy(), critic_expected)
    assert loaded.loss_name == "wasserstein"
    assert int(loaded.d_optimizer.iterations) == 2
    np.testing.assert_array_equal(loaded.generate(z=z), expected)


MIRRORED_SCRIPT = """
import numpy as np, tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
from tfgen.models import ConditionalGAN, Pix2Pix, WGANGP
strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
x = np.random.default_rng(0).uniform(-1, 1, (20, 28, 28, 1)).astype(np.float32)
y = (np.arange(20) % 10).astype(np.int32)
with strategy.scope():
    models = {
        "wgan_gp": WGANGP(latent_dim=8, g_width=8, d_width=8, n_critic=5),
        "cgan": ConditionalGAN(latent_dim=8, g_width=8, d_width=8, embedding_dim=4),
        "pix2pix": Pix2Pix(g_width=4, d_width=4),
    }
    for model in models.values():
        model.compile()
data = {"wgan_gp": x, "cgan": (x, y), "pix2pix": (x, -x)}
for kind, model in models.items():
    logs = model.fit(tf.data.Dataset.from_tensor_slices(data[kind]).batch(20), verbose=0).history
    assert all(np.isfinite(v[-1]) for v in logs.values()), (kind, logs)
    print(kind, int(model.d_optimizer.iterations.numpy()), int(model.g_optimizer.iterations.numpy()))
"""


@pytest.mark.large
def test_models_train_under_mirrored_strategy():
    # Two logical CPU devices need a fresh process (devices are fixed once TF starts). One
    # process for WGAN-GP, cGAN and pix2pix: their metrics must exist before the replica
    # function runs, and the per-replica noise and global-batch losses must trace there.
    import os
    import subprocess
    import sys

    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    result = subprocess.run(
        [sys.executable, "-c", MIRRORED_SCRIPT], capture_output=True, text=True, env=env
    )
    assert result.returncode == 0, result.stderr[-3000:]
    lines = [
        line
        for line in result.stdout.splitlines()
        if line.split(" ")[0] in {"wgan_gp", "cgan", "pix2pix"}
    ]
    assert lines == ["wgan_gp 5 1", "cgan 1 1", "pix2pix 1 1"]
