"""Mixed precision: float16 GANs train with loss scaling on CPU, save, load and export float32."""

import json

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfgen import export, precision, saving, training
from tfgen.errors import TfgenUsageError
from tfgen.models import DCGAN, WGANGP

TINY = dict(latent_dim=8, g_width=8, d_width=8)


@pytest.fixture
def mnist_images(mnist_test_arrays):
    images, _ = mnist_test_arrays
    return images[:64].astype(np.float32) / 127.5 - 1.0


def weights_of(network):
    return [w.numpy().copy() for w in network.trainable_weights]


def assert_finite_and_changed(before, network):
    after = weights_of(network)
    assert all(np.isfinite(w).all() for w in after)
    assert max(float(np.max(np.abs(a - b))) for a, b in zip(before, after)) > 0


# --------------------------------------------------------------------------- policy
def test_policy_is_set_inside_the_block_and_restored_after():
    with precision.policy("mixed_float16"):
        assert keras.mixed_precision.dtype_policy().name == "mixed_float16"
        model = DCGAN(**TINY)
    assert keras.mixed_precision.dtype_policy().name == "float32"
    assert precision.uses_float16(model.generator, model.discriminator)
    assert not precision.uses_float16(DCGAN(**TINY).generator)


def test_unknown_precision_is_a_usage_error():
    with pytest.raises(TfgenUsageError, match="mixed_float16"):
        with precision.policy("float16"):
            pass
    with pytest.raises(TfgenUsageError, match="unknown precision"):
        training.train("dcgan", "unused", "unused", precision="half")


# --------------------------------------------------------------------------- loss scaling
def test_loss_scaled_update_equals_the_plain_update():
    """Scaling by the dynamic scale, then unscaling in apply_gradients, is the plain step."""
    x = tf.constant(np.random.default_rng(0).standard_normal((4, 3)), tf.float32)

    def dense():
        keras.utils.set_random_seed(0)
        return keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])

    def sgd(scale=None):
        inner = keras.optimizers.SGD(0.1)
        return inner if scale is None else keras.optimizers.LossScaleOptimizer(inner, scale)

    plain, scaled, pair = dense(), dense(), (dense(), dense())
    initial = plain.get_weights()
    for net, optimizer in ((plain, sgd()), (scaled, sgd(1024.0))):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.square(net(x)))
        precision.apply_loss_gradients(tape, loss, (optimizer, net.trainable_variables))
    # Two optimizers sharing one loss at different scales (CycleGAN's generator pair).
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(tf.square(pair[0](x))) + tf.reduce_mean(tf.square(pair[1](x)))
    precision.apply_loss_gradients(
        tape,
        loss,
        (sgd(1024.0), pair[0].trainable_variables),
        (sgd(8.0), pair[1].trainable_variables),
    )
    assert not np.allclose(initial[0], plain.get_weights()[0])
    for other in (scaled, *pair):
        for a, b in zip(plain.get_weights(), other.get_weights()):
            np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


def test_non_finite_gradients_skip_the_step_and_halve_the_scale():
    net = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    before = net.get_weights()
    optimizer = keras.optimizers.LossScaleOptimizer(keras.optimizers.SGD(0.1), initial_scale=64.0)
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(net(tf.fill([1, 3], np.inf)))
    precision.apply_loss_gradients(tape, loss, (optimizer, net.trainable_variables))
    for a, b in zip(before, net.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert float(optimizer.dynamic_scale.numpy()) == 32.0
    assert int(optimizer.iterations.numpy()) == 0


# --------------------------------------------------------------------------- models
def test_dcgan_trains_in_mixed_float16_without_nan(mnist_images):
    with precision.policy("mixed_float16"):
        model = DCGAN(**TINY, seed=1)
        model.compile()
    assert isinstance(model.g_optimizer, keras.optimizers.LossScaleOptimizer)
    assert isinstance(model.d_optimizer, keras.optimizers.LossScaleOptimizer)
    assert model.generator.get_layer("tanh").compute_dtype == "float32"
    g_before, d_before = weights_of(model.generator), weights_of(model.discriminator)
    logs = model.fit(mnist_images, batch_size=16, epochs=1, verbose=0).history
    assert all(np.isfinite(v[-1]) for v in logs.values()), logs
    assert int(model.g_optimizer.iterations.numpy()) > 0
    assert int(model.d_optimizer.iterations.numpy()) > 0
    assert_finite_and_changed(g_before, model.generator)
    assert_finite_and_changed(d_before, model.discriminator)
    images = model.generator(tf.zeros([2, TINY["latent_dim"]]))
    assert images.dtype == tf.float32


def test_wgan_gp_trains_in_mixed_float16_with_a_finite_gradient_penalty(mnist_images):
    with precision.policy("mixed_float16"):
        model = WGANGP(**TINY, n_critic=2, seed=1)
        model.compile()
    assert isinstance(model.d_optimizer, keras.optimizers.LossScaleOptimizer)
    d_before = weights_of(model.discriminator)
    # 8 steps: the first ones may overflow at the initial scale 2^15 and be skipped.
    logs = model.fit(mnist_images, batch_size=8, epochs=1, verbose=0).history
    assert np.isfinite(logs["gradient_penalty"][-1]) and logs["gradient_penalty"][-1] > 0
    assert all(np.isfinite(v[-1]) for v in logs.values()), logs
    assert int(model.d_optimizer.iterations.numpy()) > 0
    assert_finite_and_changed(d_before, model.discriminator)
    assert all(np.isfinite(w).all() for w in weights_of(model.generator))


# --------------------------------------------------------------------------- train, save, export
def test_train_mixed_float16_saves_loads_and_exports_float32(tmp_path, mnist_dir):
    run = tmp_path / "run"
    model = training.train(
        "dcgan",
        str(mnist_dir),
        run,
        steps=4,
        batch_size=16,
        limit=64,
        options=TINY,
        samples=4,
        verbose=0,
        precision="mixed_float16",
    )
    assert keras.mixed_precision.dtype_policy().name == "float32"
    summary = json.loads((run / "run.json").read_text())
    assert summary["precision"] == "mixed_float16"
    assert all(np.isfinite(v) for v in summary["final_metrics"].values())
    assert int(model.g_optimizer.iterations.numpy()) > 0

    # The LossScaleOptimizer round-trips through the compile config, with its scale.
    loaded = saving.load_model(run / "model.keras")
    assert isinstance(loaded.g_optimizer, keras.optimizers.LossScaleOptimizer)
    assert float(loaded.g_optimizer.dynamic_scale.numpy()) == float(
        model.g_optimizer.dynamic_scale.numpy()
    )
    assert precision.uses_float16(loaded.generator)
    z = np.random.default_rng(0).standard_normal((3, TINY["latent_dim"])).astype(np.float32)
    np.testing.assert_array_equal(loaded.generator(z).numpy(), model.generator(z).numpy())

    path = export.saved_model(loaded, tmp_path / "export" / "dcgan")
    served = tf.saved_model.load(str(path)).signatures["serving_default"](z=tf.constant(z))
    assert served["images"].dtype == tf.float32
    # Float16 arithmetic: on CPUs with AVX512-FP16 (Sapphire Rapids) oneDNN's graph-mode
    # kernels round differently from eager ones, ~6e-5 here (float16's epsilon is ~1e-3).
    np.testing.assert_allclose(served["images"].numpy(), model.generator(z).numpy(), atol=5e-4)


def test_vae_trains_in_mixed_float16_and_returns_float32(mnist_images):
    from tfgen.models.vae import VAE

    with precision.policy("mixed_float16"):
        model = VAE(latent_dim=4, width=8)
        model.compile()  # Keras' own compile wraps the optimizer of a float16 model
    assert isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer)
    before = weights_of(model)
    # 8 steps: the first ones overflow at the initial scale 2^15 and are skipped.
    logs = model.fit(mnist_images, batch_size=8, epochs=1, verbose=0).history
    assert all(np.isfinite(v[-1]) for v in logs.values()), logs
    assert int(model.optimizer.iterations.numpy()) > 0
    assert_finite_and_changed(before, model)
    assert model(mnist_images[:2]).dtype == tf.float32
