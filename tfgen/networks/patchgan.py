"""PatchGAN discriminator (Isola et al. 2017): a map of logits, one per overlapping patch.

`n_downsamples=3` is the paper's 70x70 PatchGAN for 256 px; small images use fewer (the
receptive field then covers a proportionally similar share of the image).
"""

import keras
from keras import layers

from tfgen.errors import TfgenUsageError
from tfgen.networks.normalization import normalization_layer


def default_downsamples(size):
    """3 for >= 128 px (70x70 patches at 256 px), 2 for 28-64 px."""
    return 3 if size >= 128 else 2


def build_patchgan(
    image_shape, width=64, n_downsamples=None, normalization="instance", name="patchgan"
):
    """PatchGAN: [conv 4x4 stride 2, norm, LeakyReLU] x n, conv stride 1, conv -> 1 logit map.

    Args:
        image_shape: tuple. `(H, W, C)` of the discriminator's input (for pix2pix, the input and
            the target concatenated on channels).
        width: int. Channels of the first conv; doubled per layer up to 8x. Defaults to 64.
        n_downsamples: int or None. Stride-2 convs; None picks `default_downsamples(H)`.
        normalization: str. `instance` (default), `batch` or `none`; never on the first layer.
    """
    image_shape = tuple(int(d) for d in image_shape)
    if len(image_shape) != 3:
        raise TfgenUsageError(f"image_shape must be (H, W, C), got {image_shape}")
    n = default_downsamples(image_shape[0]) if n_downsamples is None else int(n_downsamples)
    images = keras.Input(image_shape, name="images")
    x = images
    for i in range(n + 1):
        filters = width * min(2**i, 8)
        strides = 2 if i < n else 1
        x = layers.Conv2D(filters, 4, strides=strides, padding="same", name=f"block{i}_conv")(x)
        norm = normalization_layer(normalization, f"block{i}_norm") if i > 0 else None
        if norm is not None:
            x = norm(x)
        x = layers.LeakyReLU(0.2, name=f"block{i}_lrelu")(x)
    logits = layers.Conv2D(1, 4, padding="same", dtype="float32", name="logits")(x)
    return keras.Model(images, logits, name=name)
