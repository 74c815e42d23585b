"""Tests for `tfgen.models.VAE` and its networks: KL, likelihoods, training, round trips."""

import json
import pathlib

import keras
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

from tfgen import distribute
from tfgen.data import load_idx
from tfgen.errors import TfgenUsageError
from tfgen.models.vae import SALT_BINARIZE, SALT_LATENT, VAE
from tfgen.networks.vae import build_vae_decoder, build_vae_encoder
from tfgen.registry import MODEL_KINDS

tfd = tfp.distributions
REPO = pathlib.Path(__file__).resolve().parents[2]
ZOO_VAE = REPO / "savedmodels" / "vae_mnist" / "vae_mnist.keras"
ZOO_CLASSIFIER = REPO / "savedmodels" / "classifier_mnist" / "classifier_mnist.keras"


def tiny_vae(**kwargs):
    kwargs.setdefault("latent_dim", 4)
    kwargs.setdefault("width", 4)
    return VAE(**kwargs)


@pytest.fixture(scope="module")
def mnist_train(mnist_dir):
    images, labels = load_idx(mnist_dir, "train")
    return images[:256].astype(np.float32) / 127.5 - 1.0, labels[:256]


def random_images(n=6, shape=(28, 28, 1), seed=0):
    return np.random.default_rng(seed).uniform(-1, 1, (n, *shape)).astype(np.float32)


def test_registered_as_vae_kind():
    assert MODEL_KINDS["vae"] is VAE
    assert keras.saving.get_registered_name(VAE) == "tfgen>VAE"


def test_kl_matches_closed_form_for_known_gaussians():
    model = tiny_vae(latent_dim=3)
    loc = np.array([[0.5, -1.0, 2.0], [0.0, 0.0, 0.0]], np.float32)
    scale = np.array([[0.5, 1.0, 2.0], [1.0, 1.0, 1.0]], np.float32)
    posterior = tfd.MultivariateNormalDiag(loc=loc, scale_diag=scale)
    # KL(N(m, s^2) || N(0, 1)) = 0.5 * sum(m^2 + s^2 - 1 - 2 log s).
    expected = 0.5 * np.sum(loc**2 + scale**2 - 1.0 - 2.0 * np.log(scale), axis=-1)
    np.testing.assert_allclose(model.kl_divergence(posterior).numpy(), expected, rtol=1e-5)
    assert expected[1] == 0.0
    # The Monte-Carlo fallback log q(z) - log p(z) agrees in expectation.
    z = posterior.sample(200_000, seed=tf.constant([1, 2]))
    monte_carlo = model.kl_divergence(posterior, z, analytic=False).numpy().mean(axis=0)
    np.testing.assert_allclose(monte_carlo, expected, atol=0.03)


def test_bernoulli_likelihood_is_summed_pixel_cross_entropy():
    model = tiny_vae()
    z = tf.constant(np.random.default_rng(1).normal(size=(3, 4)), tf.float32)
    logits = model.decoder(z).numpy()
    targets = (np.random.default_rng(2).uniform(size=logits.shape) < 0.3).astype(np.float32)
    log_p = targets * -np.logaddexp(0, -logits) + (1 - targets) * -np.logaddexp(0, logits)
    np.testing.assert_allclose(
        model.decode(z).log_prob(targets).numpy(), log_p.sum(axis=(1, 2, 3)), rtol=1e-5
    )


def test_discretized_logistic_puts_the_mass_of_each_grey_level_in_its_bin():
    model = tiny_vae(likelihood="logistic")
    loc, log_scale = (t.numpy() for t in model.decoder(tf.zeros([1, 4])))
    dist = model.decode(tf.zeros([1, 4])).distribution
    # Mass of level k is CDF(k + 0.5) - CDF(k - 0.5) in grey levels, end bins take the tails.
    cdf = lambda v: 1.0 / (1.0 + np.exp(-(v - (loc + 1) * 127.5) / (np.exp(log_scale) * 127.5)))  # noqa: E731
    for level in (0.0, 17.0, 128.0, 255.0):
        upper = 1.0 if level == 255 else cdf(level + 0.5)
        lower = 0.0 if level == 0 else cdf(level - 0.5)
        probability = dist.prob(np.full(loc.shape, level, np.float32)).numpy()
        np.testing.assert_allclose(probability, upper - lower, rtol=1e-3, atol=1e-7)
    total = sum(dist.prob(np.full(loc.shape, k, np.float32)).numpy() for k in range(256))
    np.testing.assert_allclose(total, 1.0, rtol=1e-4)


def test_dynamic_binarization_is_seeded_and_unbiased():
    model = tiny_vae()
    images = np.full((1, 28, 28, 1), 0.5, np.float32)  # p = 0.75 for every pixel
    same = [model.elbo(images, seed=3, step=5).numpy() for _ in range(2)]
    np.testing.assert_array_equal(same[0], same[1])
    assert model.elbo(images, seed=3, step=6).numpy() != same[0]
    uniform = tf.random.stateless_uniform([200, 28, 28, 1], seed=[0, 1])
    targets = model.likelihood_targets(np.repeat(images, 200, axis=0), uniform).numpy()
    assert set(np.unique(targets)) == {0.0, 1.0}
    assert abs(targets.mean() - 0.75) < 0.005


def test_elbo_is_reconstruction_minus_kl_and_kl_warmup_ramps_to_beta():
    model = tiny_vae(beta=2.0, kl_warmup_steps=4)
    images = random_images()
    analytic = model.elbo(images, seed=1).numpy()
    one_sample = model.elbo(images, seed=1, analytic_kl=False).numpy()
    posterior = model.encode(images)
    # model.elbo(seed=1) draws from the seed-1, step-0 streams of tfgen.distribute.
    eps = distribute.replica_normal(6, [4], seed=1, step=0, salt=SALT_LATENT)
    z = posterior.loc + posterior.stddev() * eps
    uniform = distribute.replica_uniform(6, [28, 28, 1], seed=1, step=0, salt=SALT_BINARIZE)
    log_px = model.decode(z).log_prob(model.likelihood_targets(images, uniform)).numpy()
    kl = model.kl_divergence(posterior).numpy()
    np.testing.assert_allclose(analytic, log_px - kl, rtol=1e-5)
    mc_kl = (posterior.log_prob(z) - model.prior.log_prob(z)).numpy()
    np.testing.assert_allclose(one_sample, log_px - mc_kl, rtol=1e-5)
    weights = [float(model.kl_weight(step)) for step in (0, 1, 3, 10)]
    np.testing.assert_allclose(weights, [0.5, 1.0, 2.0, 2.0])
    assert float(tiny_vae(beta=0.5).kl_weight(0)) == 0.5


@pytest.mark.parametrize("size", [28, 32, 64])
@pytest.mark.parametrize("channels", [1, 3])
def test_shapes_at_each_size_and_channel_count(size, channels):
    shape = (size, size, channels)
    model = tiny_vae(image_shape=shape, likelihood="logistic" if channels == 3 else "bernoulli")
    images = random_images(2, shape)
    posterior = model.encode(images)
    assert posterior.batch_shape == (2,) and posterior.event_shape == (4,)
    assert model.decode(posterior.sample(seed=[0, 0])).event_shape == shape
    for output in (
        model.reconstruct(images),
        model.reconstruct(images, mode="sample", seed=1),
        model.generate(3),
        model.generate(z=np.zeros((3, 4), np.float32), mode="sample", seed=2),
    ):
        output = output.numpy()
        assert output.shape[1:] == shape
        assert output.min() >= -1.0 and output.max() <= 1.0
    # Conv2D + nearest upsampling, never Conv2DTranspose (int8 TFLite conversion).
    layer_types = {type(layer).__name__ for layer in model.decoder.layers}
    assert "UpSampling2D" in layer_types and "Conv2DTranspose" not in layer_types


@pytest.mark.parametrize("likelihood", ["continuous_bernoulli", "normal"])
def test_other_likelihoods_give_finite_elbo_and_images_in_range(likelihood):
    model = tiny_vae(likelihood=likelihood)
    images = random_images()
    assert np.all(np.isfinite(model.elbo(images).numpy()))
    samples = model.generate(4, mode="sample", seed=0).numpy()
    assert samples.min() >= -1.0 and samples.max() <= 1.0


def test_generate_is_seeded_and_call_counter_gives_new_images():
    model = tiny_vae()
    np.testing.assert_array_equal(model.generate(2, seed=5), model.generate(2, seed=5))
    assert not np.array_equal(model.generate(2), model.generate(2))


@pytest.mark.parametrize("likelihood", ["bernoulli", "logistic"])
def test_keras_round_trip_gives_identical_posteriors_and_outputs(tmp_path, likelihood):
    model = tiny_vae(likelihood=likelihood, beta=0.5, kl_warmup_steps=3, seed=7, activation="elu")
    images = random_images(8)
    path = tmp_path / "vae.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    assert type(loaded) is VAE
    # Compared as JSON, the form a .keras file stores (tuples come back as lists).
    as_json = lambda m: json.loads(json.dumps(m.get_config()))  # noqa: E731
    assert as_json(loaded) == as_json(model)
    before, after = model.encode(images), loaded.encode(images)
    np.testing.assert_array_equal(after.mean(), before.mean())
    np.testing.assert_array_equal(after.stddev(), before.stddev())
    z = before.sample(seed=[0, 1])
    for a, b in zip(loaded.decoder(z), model.decoder(z), strict=True):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(
        loaded.decode(z).log_prob(loaded.likelihood_targets(images, tf.zeros_like(images))),
        model.decode(z).log_prob(model.likelihood_targets(images, tf.zeros_like(images))),
    )
    np.testing.assert_array_equal(loaded.reconstruct(images), model.reconstruct(images))
    np.testing.assert_array_equal(loaded.generate(3, seed=1), model.generate(3, seed=1))
    np.testing.assert_array_equal(loaded.elbo(images, seed=2), model.elbo(images, seed=2))


def test_fit_on_mnist_updates_every_weight_and_lowers_the_loss(mnist_train):
    images, _ = mnist_train
    model = tiny_vae(latent_dim=8, width=8)
    model.compile(optimizer=keras.optimizers.Adam(3e-3))
    before = {id(w): w.numpy().copy() for w in model.trainable_weights}
    history = model.fit(images[:64], batch_size=64, epochs=1, verbose=0).history
    assert set(history) == {"loss", "reconstruction", "kl", "elbo"}
    logs = {name: values[-1] for name, values in history.items()}
    assert all(np.isfinite(v) for v in logs.values())
    # Untrained Bernoulli decoder: about log(2) nats per pixel, so roughly -784 * 0.69.
    assert -700 < logs["reconstruction"] < -400
    assert logs["kl"] >= 0
    np.testing.assert_allclose(logs["elbo"], logs["reconstruction"] - logs["kl"], rtol=1e-5)
    np.testing.assert_allclose(logs["loss"], -logs["elbo"], rtol=1e-5)  # beta=1, no warm-up
    networks = {"encoder": model.encoder, "decoder": model.decoder}
    for name, network in networks.items():
        for weight in network.trainable_weights:
            assert not np.array_equal(weight.numpy(), before[id(weight)]), f"{name} {weight.path}"
    later = model.fit(images, batch_size=64, epochs=4, verbose=0, shuffle=False).history
    assert later["loss"][-1] < logs["loss"] - 50
    evaluated = model.evaluate(images[:128], batch_size=64, verbose=0, return_dict=True)
    assert all(np.isfinite(v) for v in evaluated.values())
    assert abs(evaluated["loss"] - later["loss"][-1]) < 30  # no train/test mismatch


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"image_shape": (30, 30, 1)}, "multiple of 4"),
        ({"image_shape": (28, 28, 2)}, "use 1 (grey) or 3 (RGB)"),
        ({"image_shape": (28, 28)}, "image_shape must be (height, width, channels)"),
        ({"likelihood": "poisson"}, "unknown likelihood 'poisson'"),
        ({"latent_dim": 0}, "latent_dim must be a positive integer"),
        ({"beta": -1.0}, "beta must be a finite number >= 0"),
        ({"kl_warmup_steps": -5}, "kl_warmup_steps must be >= 0"),
    ],
)
def test_bad_constructor_arguments_raise_usage_errors(kwargs, message):
    with pytest.raises(TfgenUsageError, match=message.replace("(", r"\(").replace(")", r"\)")):
        tiny_vae(**kwargs)


def test_wrong_image_shape_error_names_the_expected_shape_and_the_fix():
    model = tiny_vae()
    with pytest.raises(TfgenUsageError) as error:
        model.encode(random_images(2, (32, 32, 3)))
    message = str(error.value)
    assert "expected images of shape (batch, 28, 28, 1), got (2, 32, 32, 3)" in message
    assert "image_size=28, channels=1" in message
    with pytest.raises(TfgenUsageError, match="expected images of shape"):
        model.elbo(np.zeros((28, 28, 1), np.float32))
    with pytest.raises(TfgenUsageError, match="got uint8"):
        model.reconstruct(np.zeros((1, 28, 28, 1), np.uint8))
    model.compile(optimizer="adam")
    with pytest.raises(TfgenUsageError, match=r"\(batch, 28, 28, 1\), got \(2, 32, 32, 3\)"):
        model.fit(random_images(4, (32, 32, 3)), batch_size=2, epochs=1, verbose=0)


def test_bad_sampling_arguments_raise_usage_errors():
    model = tiny_vae()
    with pytest.raises(TfgenUsageError, match="exactly one of n"):
        model.generate()
    with pytest.raises(TfgenUsageError, match="exactly one of n"):
        model.generate(2, z=np.zeros((2, 4), np.float32))
    with pytest.raises(TfgenUsageError, match="mode must be 'mean' or 'sample'"):
        model.generate(2, mode="mode")
    with pytest.raises(TfgenUsageError, match=r"latents of shape \(batch, 4\)"):
        model.decode(np.zeros((2, 5), np.float32))
    with pytest.raises(TfgenUsageError, match="needs a decoder with 2 output"):
        VAE(latent_dim=4, likelihood="normal", decoder=build_vae_decoder((28, 28, 1), 4))


def test_custom_networks_are_used_and_serialized(tmp_path):
    encoder = build_vae_encoder((28, 28, 1), 2, width=2, name="my_encoder")
    decoder = build_vae_decoder((28, 28, 1), 2, width=2, name="my_decoder")
    model = VAE(latent_dim=2, encoder=encoder, decoder=decoder)
    assert model.encoder is encoder and model.decoder is decoder
    config = json.loads(json.dumps(model.get_config()))  # JSON-clean, as a .keras file stores it
    rebuilt = VAE.from_config(config)
    assert rebuilt.encoder.name == "my_encoder" and rebuilt.decoder.name == "my_decoder"
    assert rebuilt.count_params() == model.count_params()


MIRRORED_CHECK = """
import numpy as np, tensorflow as tf, keras
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
from tfgen.models.vae import VAE
keras.utils.set_random_seed(1)  # seeded weights: see the kink note in tests/conftest.py
images = np.random.default_rng(0).uniform(-1, 1, (8, 28, 28, 1)).astype(np.float32)
initial = VAE(latent_dim=4, width=4).get_weights()
def one_step(strategy):
    with strategy.scope():
        model = VAE(latent_dim=4, width=4, seed=3)
        model.set_weights(initial)
        model.compile(optimizer=keras.optimizers.SGD(0.01))
    weights = [w.numpy() for w in model.trainable_weights]
    logs = model.fit(images, batch_size=8, epochs=1, shuffle=False, verbose=0).history
    deltas = [w.numpy() - w0 for w, w0 in zip(model.trainable_weights, weights)]
    return logs, deltas
single_logs, single = one_step(tf.distribute.get_strategy())
mirrored_logs, mirrored = one_step(tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"]))
for a, b in zip(single, mirrored):
    np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-6)
for key in single_logs:
    np.testing.assert_allclose(single_logs[key], mirrored_logs[key], rtol=1e-4)
print("OK", single_logs["loss"][0])
"""


def test_mirrored_strategy_step_equals_single_device_step(run_program):
    # Same global batch and seed: replicas draw their slices of the same noise and average
    # their losses over the global batch, so one step moves the weights as on one device.
    assert "OK" in run_program(MIRRORED_CHECK, timeout=300)


def test_zoo_reconstructions_keep_their_class(mnist_test_arrays):
    if not ZOO_VAE.exists():
        pytest.skip(f"{ZOO_VAE} not trained yet; run tfgen rebuild vae_mnist")
    if not ZOO_CLASSIFIER.exists():
        pytest.skip(
            f"{ZOO_CLASSIFIER} not trained yet (the classifier zoo entry judges the classes)"
        )
    images, labels = mnist_test_arrays
    images, labels = images[:500].astype(np.float32) / 127.5 - 1.0, labels[:500]
    vae = keras.models.load_model(ZOO_VAE)
    classifier = keras.models.load_model(ZOO_CLASSIFIER)
    reconstructions = vae.reconstruct(images).numpy()
    predicted = np.argmax(classifier.predict(reconstructions, verbose=0), axis=-1)
    assert np.mean(predicted == labels) >= 0.95
