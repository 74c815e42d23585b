"""Convolutional encoder and decoder networks for `tfgen.models.VAE`.

Architectures only: the encoder maps images to the parameters of a diagonal Gaussian
posterior, the decoder maps latents to the parameters of a per-pixel likelihood.
"""

import keras

from tfgen.errors import TfgenUsageError

# Likelihood name -> number of decoder parameters per image channel.
LIKELIHOOD_PARAMS = {
    "bernoulli": 1,  # logits
    "continuous_bernoulli": 1,  # logits
    "logistic": 2,  # loc, log-scale of a discretized logistic
    "normal": 2,  # loc, log-scale
}


def num_downsamplings(image_size):
    """Number of stride-2 stages that take `image_size` down to a 7 or 8 pixel grid.

    28 -> 7 and 32 -> 8 take two stages, 64 -> 8 takes three.
    """
    stages = 2
    while image_size // 2**stages > 8 and image_size % 2 ** (stages + 1) == 0:
        stages += 1
    return stages


def check_image_shape(image_shape):
    """Validates `image_shape` and returns it as a tuple of 3 ints.

    Args:
        image_shape: tuple. `(height, width, channels)` of square images whose side is
            a multiple of 4 (28, 32, 64, ...), with 1 or 3 channels.
    """
    try:
        shape = tuple(int(d) for d in image_shape)
    except (TypeError, ValueError) as e:
        raise TfgenUsageError(
            f"image_shape must be (height, width, channels) ints, got {image_shape!r}"
        ) from e
    if len(shape) != 3:
        raise TfgenUsageError(
            f"image_shape must be (height, width, channels), got {image_shape!r}; "
            "e.g. image_shape=(28, 28, 1)"
        )
    height, width, channels = shape
    if height != width or height < 8 or height % 4:
        raise TfgenUsageError(
            f"image_shape {shape} is not supported: images must be square with a side that is "
            "a multiple of 4 (28, 32, 64, ...); resize with tfgen.data.load(..., image_size=N)"
        )
    if channels not in (1, 3):
        raise TfgenUsageError(
            f"image_shape {shape} has {channels} channels; use 1 (grey) or 3 (RGB)"
        )
    return shape


def check_likelihood(likelihood):
    if likelihood not in LIKELIHOOD_PARAMS:
        raise TfgenUsageError(
            f"unknown likelihood {likelihood!r}; choose one of {', '.join(LIKELIHOOD_PARAMS)}"
        )
    return likelihood


def build_vae_encoder(image_shape, latent_dim, width=32, activation="swish", name="vae_encoder"):
    """Builds the encoder: images in [-1, 1] -> `[loc, scale_param]` of q(z | x).

    The posterior is `Normal(loc, softplus(scale_param) + eps)` per latent dimension; a
    softplus scale (rather than exp of a log-scale) keeps early training from overflowing.

    Args:
        image_shape: tuple. `(size, size, channels)`, size a multiple of 4, 1 or 3 channels.
        latent_dim: int. Size of the latent vector.
        width: int. Filters of the first convolution; doubled at each stride-2 stage.
            Defaults to 32.
        activation: str. Activation of the hidden layers. Defaults to `"swish"`.
        name: str. Name of the returned model.

    Returns:
        A functional `keras.Model` with two outputs of shape `(batch, latent_dim)`.
    """
    image_shape = check_image_shape(image_shape)
    latent_dim, width = int(latent_dim), int(width)
    if latent_dim < 1 or width < 1:
        raise TfgenUsageError(
            f"latent_dim and width must be positive, got latent_dim={latent_dim}, width={width}"
        )
    images = keras.Input(shape=image_shape, name="images")
    h = images
    for stage in range(num_downsamplings(image_shape[0])):
        h = keras.layers.Conv2D(
            width * 2**stage,
            3,
            strides=2,
            padding="same",
            activation=activation,
            name=f"conv_{stage}",
        )(h)
    h = keras.layers.Flatten(name="flatten")(h)
    h = keras.layers.Dense(width * 8, activation=activation, name="hidden")(h)
    # float32 heads: the posterior and likelihood are evaluated in float32 under mixed precision.
    loc = keras.layers.Dense(latent_dim, dtype="float32", name="loc")(h)
    scale_param = keras.layers.Dense(latent_dim, dtype="float32", name="scale_param")(h)
    return keras.Model(images, [loc, scale_param], name=name)


def build_vae_decoder(
    image_shape,
    latent_dim,
    likelihood="bernoulli",
    width=32,
    activation="swish",
    name="vae_decoder",
):
    """Builds the decoder: latents -> parameters of p(x | z) per pixel.

    Upsampling is nearest-neighbour `UpSampling2D` followed by a `Conv2D`, not
    `Conv2DTranspose`: it avoids checkerboard artefacts and converts cleanly to int8 TFLite.

    Args:
        image_shape: tuple. `(size, size, channels)`, size a multiple of 4, 1 or 3 channels.
        latent_dim: int. Size of the latent vector.
        likelihood: str. `"bernoulli"` or `"continuous_bernoulli"` (one output: logits) or
            `"logistic"` or `"normal"` (two outputs: loc in [-1, 1] units and log-scale).
            Defaults to `"bernoulli"`.
        width: int. Filters of the last hidden convolution (at half resolution); doubled at
            each lower resolution, mirroring the encoder. Defaults to 32.
        activation: str. Activation of the hidden layers. Defaults to `"swish"`.
        name: str. Name of the returned model.

    Returns:
        A functional `keras.Model`: `z -> logits` of shape `image_shape`, or
        `z -> [loc, log_scale]` for two-parameter likelihoods.
    """
    image_shape = check_image_shape(image_shape)
    check_likelihood(likelihood)
    latent_dim, width = int(latent_dim), int(width)
    if latent_dim < 1 or width < 1:
        raise TfgenUsageError(
            f"latent_dim and width must be positive, got latent_dim={latent_dim}, width={width}"
        )
    size, _, channels = image_shape
    stages = num_downsamplings(size)
    base = size // 2**stages
    z = keras.Input(shape=(latent_dim,), name="z")
    h = keras.layers.Dense(width * 8, activation=activation, name="hidden")(z)
    top_filters = width * 2 ** (stages - 1)
    h = keras.layers.Dense(base * base * top_filters, activation=activation, name="project")(h)
    h = keras.layers.Reshape((base, base, top_filters), name="reshape")(h)
    # Hidden convolutions run below full resolution and the output convolution reads the
    # last upsampled map directly: a full-resolution hidden layer would multiply the cost of
    # every decoder pass (the IWAE estimate decodes K = 1000 latents per image).
    for stage in range(stages - 1):
        h = keras.layers.UpSampling2D(2, interpolation="nearest", name=f"upsample_{stage}")(h)
        h = keras.layers.Conv2D(
            width * 2 ** (stages - 2 - stage),
            3,
            padding="same",
            activation=activation,
            name=f"conv_{stage}",
        )(h)
    h = keras.layers.UpSampling2D(2, interpolation="nearest", name=f"upsample_{stages - 1}")(h)
    if LIKELIHOOD_PARAMS[likelihood] == 1:
        logits = keras.layers.Conv2D(channels, 3, padding="same", dtype="float32", name="logits")
        outputs = logits(h)
    else:
        loc = keras.layers.Conv2D(channels, 3, padding="same", dtype="float32", name="loc")(h)
        log_scale = keras.layers.Conv2D(
            channels, 3, padding="same", dtype="float32", name="log_scale"
        )(h)
        outputs = [loc, log_scale]
    return keras.Model(z, outputs, name=name)
