"""GaussianMixtureLatent: uniform components read off the noise, separated means that stay
fixed through training, and a DCGAN built with it that round-trips through .keras."""

import keras
import numpy as np
import pytest

from tfgen import data
from tfgen.models import DCGAN
from tfgen.networks.latent_mixture import GaussianMixtureLatent


def _layer(components=10, dim=64, **kwargs):
    layer = GaussianMixtureLatent(components, **kwargs)
    layer.build((None, dim))
    return layer


def test_output_is_the_chosen_mean_plus_scaled_noise():
    layer = _layer(10, scale=0.3)
    z = np.random.default_rng(0).standard_normal((2000, 64)).astype("float32")
    out = keras.ops.convert_to_numpy(layer(z))
    k = z[:, :10].argmax(axis=1)
    np.testing.assert_allclose(out, layer.means.numpy()[k] + 0.3 * z, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("scale, nearest_own", [(0.3, 1.0), (1.0, 0.999)])
def test_components_are_uniform_and_separated(scale, nearest_own):
    layer = _layer(10, scale=scale)
    z = np.random.default_rng(1).standard_normal((20000, 64)).astype("float32")
    k = z[:, :10].argmax(axis=1)
    counts = np.bincount(k, minlength=10)
    assert counts.min() > 1800 and counts.max() < 2200, counts  # expected 2000 +- 42 (1 sd)
    # Outputs lie nearer their own mean than any other: little latent mass between components
    # (none at all at 0.3; at the default 1.0, ~8 from their own mean, ~12 from the next).
    out = keras.ops.convert_to_numpy(layer(z))
    distances = np.linalg.norm(out[:, None, :] - layer.means.numpy()[None], axis=-1)
    assert np.mean(distances.argmin(axis=1) == k) >= nearest_own


def test_bad_arguments_say_what_is_wrong():
    with pytest.raises(ValueError, match="at most the latent size"):
        _layer(components=9, dim=8)
    with pytest.raises(ValueError, match="at least 2 components"):
        GaussianMixtureLatent(1)
    with pytest.raises(ValueError, match="scale must be > 0"):
        GaussianMixtureLatent(4, scale=0.0)


def test_dcgan_with_a_mixture_latent_trains_and_round_trips(tmp_path, mnist_dir):
    model = DCGAN(latent_dim=8, g_width=8, d_width=8, latent_components=4, latent_scale=0.5)
    mixture = model.generator.get_layer("latent_mixture")
    means = mixture.means.numpy().copy()
    assert mixture.trainable_weights == [] and len(mixture.non_trainable_weights) == 1
    model.compile()
    digits = data.load(str(mnist_dir), split="test", batch_size=16, limit=32, seed=0)
    model.fit(digits, epochs=1, verbose=0)
    np.testing.assert_array_equal(mixture.means.numpy(), means)  # fixed, not trained

    config = DCGAN.from_config(model.get_config()).get_config()
    assert config["latent_components"] == 4 and config["latent_scale"] == 0.5
    path = tmp_path / "m.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    np.testing.assert_array_equal(loaded.generator.get_layer("latent_mixture").means.numpy(), means)
    np.testing.assert_array_equal(model.generate(6, seed=3), loaded.generate(6, seed=3))
