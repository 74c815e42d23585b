"""Label-conditioned generator and discriminators for the cGAN (Mirza & Osindero 2014).

The generator concatenates a label embedding with z; the discriminator conditions by
projection (Miyato & Koyama 2018) or by a label map concatenated to the image channels.
"""

import keras
from keras import layers

from tfgen.errors import TfgenUsageError
from tfgen.networks import dcgan as dcgan_networks
from tfgen.networks.normalization import normalization_layer

CONDITIONINGS = ("projection", "concat")
# image size -> spatial size of the generator's first feature map (as in the DCGAN builders)
_START_SIZE = {28: 7, 32: 4, 64: 4}


def check_num_classes(num_classes):
    if int(num_classes) < 2 or int(num_classes) != num_classes:
        raise TfgenUsageError(f"num_classes must be an integer >= 2, got {num_classes!r}")
    return int(num_classes)


def label_input(name="labels"):
    """int32 class ids of shape [B]."""
    return keras.Input((), dtype="int32", name=name)


def build_conditional_generator(
    image_shape=(28, 28, 1),
    num_classes=10,
    latent_dim=64,
    width=32,
    embedding_dim=32,
    name="generator",
):
    """Generator `[z, labels] -> images`: concat(z, embed(label)) -> DCGAN up-sampling body.

    Args:
        image_shape: tuple. `(size, size, channels)` with size 28, 32 or 64. Defaults to
            `(28, 28, 1)`.
        num_classes: int. Number of labels. Defaults to 10.
        latent_dim: int. Size of z. Defaults to 64.
        width: int. Channels of the last hidden feature map; earlier ones double. Defaults to 32.
        embedding_dim: int. Size of the label embedding concatenated with z. Defaults to 32.
    """
    size, _, channels = dcgan_networks.check_image_shape(image_shape)
    num_classes = check_num_classes(num_classes)
    start = _START_SIZE[size]
    n_up = {28: 2, 32: 3, 64: 4}[size]
    z = keras.Input((latent_dim,), name="z")
    labels = label_input()
    embedded = layers.Embedding(num_classes, embedding_dim, name="label_embedding")(labels)
    x = layers.Concatenate(name="z_and_label")([z, embedded])
    filters = width * 2 ** (n_up - 1)
    x = layers.Dense(start * start * filters, use_bias=False, name="project")(x)
    x = normalization_layer("batch", "project_bn")(x)
    x = layers.ReLU(name="project_relu")(x)
    x = layers.Reshape((start, start, filters), name="reshape")(x)
    for i in range(n_up):
        filters = max(width * 2 ** (n_up - 1 - i), 8)
        x = layers.UpSampling2D(name=f"block{i}_up")(x)
        x = layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"block{i}_conv")(x)
        x = normalization_layer("batch", f"block{i}_bn")(x)
        x = layers.ReLU(name=f"block{i}_relu")(x)
    x = layers.Conv2D(channels, 3, padding="same", name="to_image")(x)
    images = layers.Activation("tanh", dtype="float32", name="tanh")(x)
    return keras.Model([z, labels], images, name=name)


def _conv_trunk(x, size, width, normalization, dropout, spectral_norm=False):
    n_down = 2 if size == 28 else (3 if size == 32 else 4)
    if spectral_norm:
        normalization = "none"  # BatchNorm would undo the Lipschitz bound
    for i in range(n_down):
        conv = layers.Conv2D(width * 2**i, 4, strides=2, padding="same", name=f"block{i}_conv")
        x = dcgan_networks.with_spectral_norm(conv, spectral_norm)(x)
        norm = normalization_layer(normalization, f"block{i}_norm") if i > 0 else None
        if norm is not None:
            x = norm(x)
        x = layers.LeakyReLU(0.2, name=f"block{i}_lrelu")(x)
        if dropout:
            x = layers.Dropout(dropout, name=f"block{i}_dropout")(x)
    return layers.Flatten(name="flatten")(x)


def build_projection_discriminator(
    image_shape=(28, 28, 1),
    num_classes=10,
    width=64,
    normalization="batch",
    dropout=0.0,
    name="discriminator",
    spectral_norm=False,
):
    """Projection discriminator `[images, labels] -> logit` (Miyato & Koyama 2018).

    `logit = psi(phi(x)) + <embed(y), phi(x)>`: the DCGAN conv trunk `phi` gives features, a
    linear head `psi` scores realism, and the inner product with a learned class embedding
    scores how well the image matches its label.

    Args:
        image_shape: tuple. `(size, size, channels)`. Defaults to `(28, 28, 1)`.
        num_classes: int. Number of labels. Defaults to 10.
        width: int. Channels of the first conv; later ones double. Defaults to 64.
        normalization: str. `"batch"` (default), `"layer"` or `"none"`; never on the first layer.
        dropout: float. Dropout after each block. Defaults to 0.
        spectral_norm: bool. Spectral normalization of the convs and the logit head (the
            normalization layers are dropped). Defaults to False.
    """
    size, _, _ = dcgan_networks.check_image_shape(image_shape)
    num_classes = check_num_classes(num_classes)
    images = keras.Input(image_shape, name="images")
    labels = label_input()
    features = _conv_trunk(images, size, width, normalization, dropout, spectral_norm)
    head = dcgan_networks.with_spectral_norm(layers.Dense(1, name="logit"), spectral_norm)
    unconditional = head(features)
    embedded = layers.Embedding(num_classes, features.shape[-1], name="label_projection")(labels)
    projection = layers.Dot(axes=1, name="projection")([embedded, features])
    logits = layers.Add(dtype="float32", name="logits")([unconditional, projection])
    return keras.Model([images, labels], logits, name=name)


def build_concat_discriminator(
    image_shape=(28, 28, 1),
    num_classes=10,
    width=64,
    normalization="batch",
    dropout=0.0,
    name="discriminator",
    spectral_norm=False,
):
    """Discriminator `[images, labels] -> logit` that sees the label as an extra channel.

    Each label has a learned `H x W` map (an embedding reshaped to the image grid) that is
    concatenated to the image channels before the DCGAN conv trunk (Mirza & Osindero 2014).

    Args: as `build_projection_discriminator`.
    """
    size, width_px, channels = dcgan_networks.check_image_shape(image_shape)
    num_classes = check_num_classes(num_classes)
    images = keras.Input(image_shape, name="images")
    labels = label_input()
    label_map = layers.Embedding(num_classes, size * width_px, name="label_map")(labels)
    label_map = layers.Reshape((size, width_px, 1), name="label_map_grid")(label_map)
    x = layers.Concatenate(name="image_and_label")([images, label_map])
    features = _conv_trunk(x, size, width, normalization, dropout, spectral_norm)
    logits = dcgan_networks.with_spectral_norm(
        layers.Dense(1, dtype="float32", name="logit"), spectral_norm
    )(features)
    return keras.Model([images, labels], logits, name=name)


def build_conditional_discriminator(conditioning="projection", **kwargs):
    """`build_projection_discriminator` or `build_concat_discriminator` by name."""
    if conditioning == "projection":
        return build_projection_discriminator(**kwargs)
    if conditioning == "concat":
        return build_concat_discriminator(**kwargs)
    raise TfgenUsageError(
        f"unknown conditioning {conditioning!r}; use one of {', '.join(CONDITIONINGS)}"
    )
