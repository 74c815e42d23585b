"""DCGAN generator and discriminator builders (Radford et al. 2016) for 28, 32 and 64 px.

Up-sampling is nearest-neighbour resize + 3x3 conv rather than Conv2DTranspose: it avoids
checkerboard artefacts and converts cleanly to full-integer TFLite.
"""

import keras
from keras import layers

from tfgen.errors import TfgenUsageError
from tfgen.networks.latent_mixture import GaussianMixtureLatent
from tfgen.networks.normalization import normalization_layer

# image size -> spatial size of the generator's first feature map
_START_SIZE = {28: 7, 32: 4, 64: 4}


def check_image_shape(image_shape):
    """Validates `(size, size, channels)` for the DCGAN family; returns it as a tuple."""
    image_shape = tuple(int(d) for d in image_shape)
    if len(image_shape) != 3 or image_shape[0] != image_shape[1]:
        raise TfgenUsageError(f"image_shape must be (size, size, channels), got {image_shape}")
    if image_shape[0] not in _START_SIZE:
        raise TfgenUsageError(
            f"image size {image_shape[0]} is not supported; use one of {sorted(_START_SIZE)}"
        )
    if image_shape[2] not in (1, 3):
        raise TfgenUsageError(f"channels must be 1 or 3, got {image_shape[2]}")
    return image_shape


def _num_upsamples(size):
    return {7: 2, 4: 3 if size == 32 else 4}[_START_SIZE[size]]


def _batch_norm(name):
    # Synchronized: statistics over the global batch, not each replica's share, so training
    # under MirroredStrategy matches one device with the same global batch.
    return normalization_layer("batch", name, synchronized=True)


def build_generator(
    image_shape=(28, 28, 1),
    latent_dim=64,
    width=64,
    name="generator",
    latent_components=None,
    latent_scale=1.0,
):
    """DCGAN generator: z -> Dense -> [upsample, conv, BN, ReLU] x n -> conv -> tanh.

    Args:
        image_shape: tuple. `(size, size, channels)` with size 28, 32 or 64. Defaults to
            `(28, 28, 1)`.
        latent_dim: int. Size of the latent vector z. Defaults to 64.
        width: int. Channels of the last hidden feature map; earlier ones double. Defaults to 64.
        latent_components: int or None. First map z to a mixture of this many separated
            Gaussians (`GaussianMixtureLatent`, scale `latent_scale`); None feeds z directly.
    """
    size, _, channels = check_image_shape(image_shape)
    start = _START_SIZE[size]
    n_up = _num_upsamples(size)
    filters = width * 2 ** (n_up - 1)
    z = keras.Input((latent_dim,), name="z")
    x = z
    if latent_components:
        x = GaussianMixtureLatent(latent_components, latent_scale, name="latent_mixture")(x)
    x = layers.Dense(start * start * filters, use_bias=False, name="project")(x)
    x = _batch_norm("project_bn")(x)
    x = layers.ReLU(name="project_relu")(x)
    x = layers.Reshape((start, start, filters), name="reshape")(x)
    for i in range(n_up):
        filters = max(width * 2 ** (n_up - 1 - i), 8)
        x = layers.UpSampling2D(name=f"block{i}_up")(x)
        x = layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"block{i}_conv")(x)
        x = _batch_norm(f"block{i}_bn")(x)
        x = layers.ReLU(name=f"block{i}_relu")(x)
    x = layers.Conv2D(channels, 3, padding="same", name="to_image")(x)
    images = layers.Activation("tanh", dtype="float32", name="tanh")(x)
    return keras.Model(z, images, name=name)


def with_spectral_norm(layer, enabled=True):
    """`layer` wrapped in spectral normalization (Miyato et al. 2018) when `enabled`.

    The wrapper is named `<layer name>_sn` and keeps the layer's dtype policy (a float32 logit
    stays float32 under mixed precision).
    """
    if not enabled:
        return layer
    return layers.SpectralNormalization(layer, name=f"{layer.name}_sn", dtype=layer.dtype_policy)


def build_discriminator(
    image_shape=(28, 28, 1),
    width=64,
    normalization="batch",
    dropout=0.0,
    name="discriminator",
    spectral_norm=False,
):
    """DCGAN discriminator: [conv stride 2, norm, LeakyReLU] x n -> dense logit.

    No normalization on the first layer (Radford et al.). Outputs one unbounded logit per image.

    Args:
        image_shape: tuple. `(size, size, channels)`. Defaults to `(28, 28, 1)`.
        width: int. Channels of the first conv; later ones double. Defaults to 64.
        normalization: str. `"batch"`, `"layer"` (WGAN-GP critics) or `"none"`.
        dropout: float. Dropout after each block. Defaults to 0.
        spectral_norm: bool. Spectral normalization of every conv and the dense logit; replaces
            the normalization layers (BatchNorm would undo the Lipschitz bound). Defaults to
            False.
    """
    size, _, _ = check_image_shape(image_shape)
    if spectral_norm:
        normalization = "none"
    n_down = 2 if size == 28 else (3 if size == 32 else 4)
    images = keras.Input(image_shape, name="images")
    x = images
    for i in range(n_down):
        conv = layers.Conv2D(width * 2**i, 4, strides=2, padding="same", name=f"block{i}_conv")
        x = with_spectral_norm(conv, spectral_norm)(x)
        norm = (
            normalization_layer(normalization, f"block{i}_norm", synchronized=True)
            if i > 0
            else None
        )
        if norm is not None:
            x = norm(x)
        x = layers.LeakyReLU(0.2, name=f"block{i}_lrelu")(x)
        if dropout:
            x = layers.Dropout(dropout, name=f"block{i}_dropout")(x)
    x = layers.Flatten(name="flatten")(x)
    logits = with_spectral_norm(layers.Dense(1, dtype="float32", name="logit"), spectral_norm)(x)
    return keras.Model(images, logits, name=name)
