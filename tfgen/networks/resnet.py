"""CycleGAN's ResNet generator (Johnson et al. 2016, as used by Zhu et al. 2017).

c7s1-w, two stride-2 down-samplings, residual blocks, two up-samplings (nearest-neighbour
resize + conv, not Conv2DTranspose), c7s1-C with tanh; reflection padding, instance norm.
"""

import keras
from keras import layers

from tfgen.errors import TfgenUsageError
from tfgen.networks.normalization import normalization_layer
from tfgen.registry import serializable


@serializable
class ReflectionPadding2D(layers.Layer):
    """Pads height and width by mirroring the border (`tf.pad(mode="REFLECT")`).

    Reflection keeps the statistics at the border close to the interior's, which zero padding
    does not; the paper uses it to reduce edge artefacts.

    Args:
        padding: int. Rows/columns added on each side; must be smaller than the input's
            height and width. Defaults to 1.
    """

    def __init__(self, padding=1, **kwargs):
        super().__init__(**kwargs)
        self.padding = int(padding)

    def call(self, inputs):
        p = self.padding
        return keras.ops.pad(inputs, [[0, 0], [p, p], [p, p], [0, 0]], mode="reflect")

    def compute_output_shape(self, input_shape):
        batch, height, width, channels = input_shape
        grow = 2 * self.padding
        return (
            batch,
            None if height is None else height + grow,
            None if width is None else width + grow,
            channels,
        )

    def get_config(self):
        return {**super().get_config(), "padding": self.padding}


def default_residual_blocks(size):
    """9 blocks for >= 256 px and 6 for >= 128 px (the paper); 6 for 64 px, 3 below."""
    if size >= 256:
        return 9
    if size >= 64:
        return 6
    return 3


def _conv(x, filters, kernel, name, normalization, activation="relu", strides=1):
    """Reflection-padded conv (stride 1) or zero-padded strided conv, then norm and ReLU."""
    if strides == 1 and kernel > 1:
        x = ReflectionPadding2D(kernel // 2, name=f"{name}_pad")(x)
        padding = "valid"
    else:
        padding = "same"
    norm = normalization_layer(normalization, f"{name}_norm")
    x = layers.Conv2D(
        filters,
        kernel,
        strides=strides,
        padding=padding,
        use_bias=norm is None,
        name=f"{name}_conv",
    )(x)
    if norm is not None:
        x = norm(x)
    if activation:
        x = layers.Activation(activation, name=f"{name}_{activation}")(x)
    return x


def build_resnet_generator(
    image_shape=(256, 256, 3),
    out_channels=None,
    width=64,
    n_residual_blocks=None,
    n_downsamples=2,
    normalization="instance",
    name="resnet_generator",
):
    """ResNet generator: c7s1-w, d2w, d4w, R4w x n, u2w, uw, c7s1-C, tanh.

    Args:
        image_shape: tuple. `(H, W, C)` of the input images; H and W divisible by
            `2**n_downsamples`. Defaults to (256, 256, 3).
        out_channels: int or None. Channels of the output images; None keeps the input's.
        width: int. Channels of the first conv; each down-sampling doubles them. Defaults to 64.
        n_residual_blocks: int or None. None picks `default_residual_blocks(H)`.
        n_downsamples: int. Stride-2 convs before the residual blocks. Defaults to 2.
        normalization: str. `instance` (default, GroupNormalization with one group per
            channel), `batch` or `none`.
    """
    image_shape = tuple(int(d) for d in image_shape)
    if len(image_shape) != 3:
        raise TfgenUsageError(f"image_shape must be (H, W, C), got {image_shape}")
    height, width_px, channels = image_shape
    factor = 2 ** int(n_downsamples)
    if height % factor or width_px % factor:
        raise TfgenUsageError(
            f"image size {height}x{width_px} is not divisible by 2**n_downsamples={factor}; "
            "resize the images (image_size=...) or pass fewer n_downsamples"
        )
    # Reflection needs padding < size: the 7x7 convs pad 3, the residual 3x3 convs pad 1.
    if min(height, width_px) < 4 or min(height, width_px) // factor < 2:
        raise TfgenUsageError(
            f"image size {height}x{width_px} is too small for {n_downsamples} down-samplings; "
            "use larger images or fewer n_downsamples"
        )
    blocks = default_residual_blocks(height) if n_residual_blocks is None else n_residual_blocks
    out_channels = channels if out_channels is None else int(out_channels)

    images = keras.Input(image_shape, name="images")
    x = _conv(images, width, 7, "stem", normalization)
    filters = width
    for i in range(n_downsamples):
        filters *= 2
        x = _conv(x, filters, 3, f"down{i}", normalization, strides=2)
    for i in range(int(blocks)):
        shortcut = x
        y = _conv(x, filters, 3, f"res{i}_a", normalization)
        y = _conv(y, filters, 3, f"res{i}_b", normalization, activation=None)
        x = layers.Add(name=f"res{i}_add")([shortcut, y])
    for i in range(n_downsamples):
        filters //= 2
        x = layers.UpSampling2D(name=f"up{i}_resize")(x)
        x = _conv(x, filters, 3, f"up{i}", normalization)
    x = ReflectionPadding2D(3, name="to_image_pad")(x)
    x = layers.Conv2D(out_channels, 7, name="to_image_conv")(x)
    outputs = layers.Activation("tanh", dtype="float32", name="tanh")(x)
    return keras.Model(images, outputs, name=name)
