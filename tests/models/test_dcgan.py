"""DCGAN: shapes, config and .keras round trips, update isolation, training on real digits."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfgen import data
from tfgen.errors import TfgenUsageError
from tfgen.models import DCGAN


def tiny(**kwargs):
    return DCGAN(latent_dim=8, g_width=8, d_width=8, **kwargs)


@pytest.fixture(scope="module")
def digits(mnist_dir):
    return data.load(str(mnist_dir), split="test", batch_size=16, limit=64, seed=0)


def _weights(net):
    return [v.numpy().copy() for v in net.weights]


def _changed(before, net):
    return [not np.array_equal(b, v.numpy()) for b, v in zip(before, net.weights)]


@pytest.mark.parametrize("shape", [(28, 28, 1), (32, 32, 3), (64, 64, 1)])
def test_generate_shapes_and_range(shape):
    model = tiny(image_shape=shape)
    images = model.generate(5, seed=1)
    assert images.shape == (5, *shape)
    assert images.min() >= -1.0 and images.max() <= 1.0
    np.testing.assert_array_equal(images, model.generate(5, seed=1))
    assert not np.array_equal(images, model.generate(5, seed=2))


@pytest.mark.parametrize("update", ["simultaneous", "alternating"])
def test_each_update_touches_only_its_network(digits, update):
    # With the generator's learning rate at 0, a step changes D only (apart from G's
    # BatchNorm statistics, which are not trained); and the other way round.
    model = tiny(update=update)
    model.compile(g_optimizer=keras.optimizers.Adam(0.0), d_optimizer=keras.optimizers.Adam(1e-3))
    g_trainable = [v.numpy().copy() for v in model.generator.trainable_variables]
    d_before = _weights(model.discriminator)
    model.fit(digits.take(1), epochs=1, verbose=0)
    for before, var in zip(g_trainable, model.generator.trainable_variables):
        np.testing.assert_array_equal(before, var.numpy())
    d_trainable_changed = [
        not np.array_equal(b, v.numpy())
        for b, v in zip(d_before, model.discriminator.weights)
        if v.trainable
    ]
    assert all(d_trainable_changed)

    model = tiny(update=update)
    model.compile(g_optimizer=keras.optimizers.Adam(1e-3), d_optimizer=keras.optimizers.Adam(0.0))
    d_trainable = [v.numpy().copy() for v in model.discriminator.trainable_variables]
    g_before = [v.numpy().copy() for v in model.generator.trainable_variables]
    model.fit(digits.take(1), epochs=1, verbose=0)
    for before, var in zip(d_trainable, model.discriminator.trainable_variables):
        np.testing.assert_array_equal(before, var.numpy())
    assert all(
        not np.array_equal(b, v.numpy())
        for b, v in zip(g_before, model.generator.trainable_variables)
    )
    assert int(model.g_optimizer.iterations) == int(model.d_optimizer.iterations) == 1


def test_fit_logs_finite_losses_and_evaluate_runs(digits):
    model = tiny()
    model.compile()
    history = model.fit(digits, epochs=1, verbose=0)
    assert set(history.history) == {"d_loss", "g_loss", "d_real", "d_fake"}
    assert all(np.isfinite(v[-1]) for v in history.history.values())
    results = model.evaluate(digits, verbose=0, return_dict=True)
    assert 0.0 < results["d_real"] < 1.0 and np.isfinite(results["d_loss"])


def test_keras_round_trip_keeps_images_and_optimizer_state(tmp_path, digits):
    model = tiny()
    model.compile(loss="least_squares")
    model.fit(digits.take(2), epochs=1, verbose=0)
    path = tmp_path / "m.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert isinstance(loaded, DCGAN) and loaded.loss_name == "least_squares"
    z = model.latent_noise(6, seed=5)
    np.testing.assert_array_equal(
        model.generator(z, training=False), loaded.generator(z, training=False)
    )
    for opt, opt2 in [
        (model.g_optimizer, loaded.g_optimizer),
        (model.d_optimizer, loaded.d_optimizer),
    ]:
        assert int(opt2.iterations) == int(opt.iterations) == 2
        for a, b in zip(opt.variables, opt2.variables):
            np.testing.assert_array_equal(a.numpy(), b.numpy())
    # training continues from the saved state, identically for both copies (same batch)
    batch = tf.data.Dataset.from_tensors(next(iter(digits)))
    model.fit(batch, epochs=1, verbose=0)
    loaded.fit(batch, epochs=1, verbose=0)
    for a, b in zip(model.weights, loaded.weights):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-5, atol=1e-6)


def test_config_round_trip():
    model = tiny(image_shape=(32, 32, 3), update="alternating", seed=7)
    clone = DCGAN.from_config(model.get_config())
    assert clone.get_config()["update"] == "alternating" and clone.seed == 7
    assert clone.image_shape == (32, 32, 3) and clone.latent_dim == 8
    assert clone.generator.count_params() == model.generator.count_params()


def test_training_noise_is_seeded_per_step():
    model = tiny(seed=3)
    model.compile()
    a = model.training_noise(4, salt=1).numpy()
    other = tiny(seed=4)
    other.compile()
    assert not np.array_equal(a, other.training_noise(4, salt=1).numpy())
    assert not np.array_equal(a, model.training_noise(4, salt=2).numpy())
    model.g_optimizer.iterations.assign(1)
    b = model.training_noise(4, salt=1).numpy()
    assert not np.array_equal(a, b)
    model.g_optimizer.iterations.assign(0)
    np.testing.assert_array_equal(a, model.training_noise(4, salt=1).numpy())


def test_bad_inputs():
    model = tiny()
    model.compile()
    wrong = tf.data.Dataset.from_tensor_slices(np.zeros((4, 32, 32, 3), "float32")).batch(2)
    with pytest.raises(
        TfgenUsageError, match=r"expected images of shape \(28, 28, 1\), got \(32, 32, 3\)"
    ):
        model.fit(wrong, epochs=1, verbose=0)
    with pytest.raises(TfgenUsageError, match=r"latent vectors must have shape \[n, 8\]"):
        model.generate(z=np.zeros((2, 3)))
    with pytest.raises(TfgenUsageError, match="n >= 1"):
        model.generate(0)
    with pytest.raises(ValueError, match="update must be one of"):
        tiny(update="sometimes")
