"""DCGAN builders: shapes at every supported size and channel count, and their errors."""

import numpy as np
import pytest
from keras import layers

from tfgen.errors import TfgenUsageError
from tfgen.networks import dcgan


@pytest.mark.parametrize("size", [28, 32, 64])
@pytest.mark.parametrize("channels", [1, 3])
def test_shapes(size, channels):
    g = dcgan.build_generator((size, size, channels), latent_dim=8, width=8)
    d = dcgan.build_discriminator((size, size, channels), width=8)
    images = g(np.random.normal(size=(2, 8)).astype("float32"))
    assert images.shape == (2, size, size, channels)
    assert float(np.abs(images).max()) <= 1.0  # tanh output
    assert d(images).shape == (2, 1)


def test_generator_uses_batchnorm_and_discriminator_first_layer_has_none():
    g = dcgan.build_generator((28, 28, 1), latent_dim=8, width=8)
    d = dcgan.build_discriminator((28, 28, 1), width=8)
    assert any(isinstance(layer, layers.BatchNormalization) for layer in g.layers)
    first_conv = d.layers.index(d.get_layer("block0_conv"))
    assert not isinstance(d.layers[first_conv + 1], layers.BatchNormalization)
    assert isinstance(d.get_layer("block1_norm"), layers.BatchNormalization)
    assert not any(isinstance(layer, layers.Conv2DTranspose) for layer in g.layers)


def test_layer_norm_critic_has_no_batchnorm():
    d = dcgan.build_discriminator((32, 32, 3), width=8, normalization="layer")
    assert not any(isinstance(layer, layers.BatchNormalization) for layer in d.layers)


@pytest.mark.parametrize(
    "shape, match",
    [
        ((30, 30, 1), "image size 30 is not supported"),
        ((28, 28, 2), "channels must be 1 or 3"),
        ((28, 32, 1), "must be \\(size, size, channels\\)"),
    ],
)
def test_bad_shapes(shape, match):
    with pytest.raises(TfgenUsageError, match=match):
        dcgan.build_generator(shape)
