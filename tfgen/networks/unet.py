"""pix2pix U-Net generator (Isola et al. 2017): an encoder-decoder with skip connections.

Up-sampling is nearest-neighbour resize + conv (no Conv2DTranspose: no checkerboard artefacts,
clean full-integer TFLite conversion).
"""

import keras
from keras import layers

from tfgen.errors import TfgenUsageError
from tfgen.networks.normalization import normalization_layer


def max_downsamples(height, width, limit=8):
    """How many times both sides halve exactly (at most `limit`, 8 = the paper's 256 px)."""
    n = 0
    while n < limit and height % 2 == 0 and width % 2 == 0 and min(height, width) > 1:
        height, width, n = height // 2, width // 2, n + 1
    return n


def build_unet(
    input_shape=(28, 28, 1),
    output_channels=None,
    width=64,
    n_downsamples=None,
    normalization="batch",
    dropout=0.5,
    dropout_blocks=3,
    input_skip=True,
    name="unet",
):
    """U-Net: [conv 4x4 stride 2, norm, LeakyReLU] x n, then mirrored [up, conv 3x3, norm, ReLU].

    Decoder block `i` is concatenated with the encoder feature map of the same size (the skip
    connections that carry low-level detail straight across). The output is `tanh` in [-1, 1].

    Args:
        input_shape: tuple. `(H, W, C_in)`; H and W must divide by `2 ** n_downsamples`.
        output_channels: int or None. Channels of the output; None = `C_in`.
        width: int. Channels of the first conv; doubled per level up to 8x. Defaults to 64.
        n_downsamples: int or None. Encoder levels; None = as many as the size allows, at most
            8 (28 px -> 2 levels down to 7x7, 32 px -> 5 down to 1x1).
        normalization: str. `batch` (default, as the paper), `instance` or `none`; never on
            the first encoder layer.
        dropout: float. Dropout in the first `dropout_blocks` decoder blocks: the paper's only
            source of noise (it is active in training only). Defaults to 0.5.
        dropout_blocks: int. Decoder blocks with dropout. Defaults to 3.
        input_skip: bool. Also join the input image to the last conv at full resolution, so
            pixels the output should copy (super-resolution, inpainting) need not squeeze
            through a stride-2 conv; the paper's outermost skip starts after one. Defaults
            to True.
    """
    input_shape = tuple(int(d) for d in input_shape)
    if len(input_shape) != 3:
        raise TfgenUsageError(f"input_shape must be (H, W, C), got {input_shape}")
    height, width_px, channels = input_shape
    output_channels = int(output_channels or channels)
    possible = max_downsamples(height, width_px)
    n = possible if n_downsamples is None else int(n_downsamples)
    if possible == 0:
        raise TfgenUsageError(
            f"a U-Net halves the image at least once, so its sides must be even, got "
            f"{height}x{width_px}; resize the images (e.g. --image-size 28 or 32)"
        )
    if n < 1 or n > possible:
        factor = 2 ** max(n, 1)
        raise TfgenUsageError(
            f"a U-Net with n_downsamples={n} needs sides divisible by {factor}, got "
            f"{height}x{width_px}; pass n_downsamples <= {possible} (at least 1) or resize the "
            "images (--image-size 32 or 64)"
        )
    inputs = keras.Input(input_shape, name="images")
    x = inputs
    skips = []
    for i in range(n):
        filters = width * min(2**i, 8)
        x = layers.Conv2D(filters, 4, strides=2, padding="same", name=f"down{i}_conv")(x)
        norm = normalization_layer(normalization, f"down{i}_norm") if i > 0 else None
        if norm is not None:
            x = norm(x)
        x = layers.LeakyReLU(0.2, name=f"down{i}_lrelu")(x)
        skips.append(x)
    # Decoder: back up to the input size, joining the encoder map of each size on the way.
    for j, skip in enumerate(reversed(skips[:-1])):
        level = n - 2 - j
        filters = width * min(2**level, 8)
        x = layers.UpSampling2D(name=f"up{j}_up")(x)
        x = layers.Conv2D(filters, 3, padding="same", name=f"up{j}_conv")(x)
        norm = normalization_layer(normalization, f"up{j}_norm")
        if norm is not None:
            x = norm(x)
        if dropout and j < dropout_blocks:
            x = layers.Dropout(dropout, name=f"up{j}_dropout")(x)
        x = layers.ReLU(name=f"up{j}_relu")(x)
        x = layers.Concatenate(name=f"up{j}_skip")([x, skip])
    x = layers.UpSampling2D(name="to_image_up")(x)
    if input_skip:
        x = layers.Concatenate(name="input_skip")([x, inputs])
    x = layers.Conv2D(output_channels, 3, padding="same", name="to_image")(x)
    outputs = layers.Activation("tanh", dtype="float32", name="tanh")(x)
    return keras.Model(inputs, outputs, name=name)
