"""pix2pix (Isola et al. 2017, https://arxiv.org/abs/1611.07004): image-conditioned GAN with a
U-Net generator, a PatchGAN on (input, output) pairs and an L1 term, trained with `fit`.
"""

import tensorflow as tf

from tfgen import data, distribute, inference, precision
from tfgen.errors import TfgenUsageError
from tfgen.models.gan import GAN
from tfgen.networks.patchgan import build_patchgan
from tfgen.networks.unet import build_unet
from tfgen.registry import register_model

METRICS = ("d_loss", "g_loss", "g_adversarial", "l1", "psnr")


def l1_per_example(targets, outputs):
    """Mean absolute error per example [B]."""
    diff = tf.abs(tf.cast(targets, tf.float32) - tf.cast(outputs, tf.float32))
    return tf.reduce_mean(diff, axis=[1, 2, 3])


@register_model("pix2pix")
class Pix2Pix(GAN):
    """Image-to-image translation with a conditional GAN.

    The generator `G` (U-Net) maps an input image to an output image; the PatchGAN `D` scores
    `concat(input, image)` on the channel axis, a map of logits, one per patch. `D` minimises
    the GAN loss on (input, target) vs (input, G(input)); `G` minimises the GAN loss on
    `D(input, G(input))` plus `l1_weight * |target - G(input)|`. Each `train_step` updates both
    from one forward pass. G's dropout (training only) is its noise, as in the paper: there
    is no z.

    Args:
        image_shape: tuple. `(H, W, C_in)` of the input images. Defaults to (28, 28, 1).
        output_channels: int or None. Channels of the output (None = C_in; 3 for colorize).
        g_width: int. U-Net width (channels of its first conv). Defaults to 32.
        d_width: int. PatchGAN width. Defaults to 32.
        n_downsamples: int or None. U-Net levels (None = as many as the size allows, <= 8).
        d_downsamples: int or None. PatchGAN stride-2 convs (None = its default for the size).
        l1_weight: float. Weight lambda of the L1 term. Defaults to 100 (the paper's).
        g_normalization: str. U-Net normalization: `batch` (default) or `instance`.
        d_normalization: str. PatchGAN normalization: `instance` (default) or `batch`.
        dropout: float. U-Net decoder dropout. Defaults to 0.5.
        task: str or None. The paired task the model was trained for (`inpaint`, `superres`,
            `colorize`); lets `translate` prepare raw inputs (e.g. up-sample low-resolution
            images for `superres`).
        task_options: dict or None. The task's options (see
            `tfgen.data.paired.resolve_task_options`).
        generator, discriminator: keras.Model. Custom networks.
        seed: int. Kept for the config (pix2pix draws no latent noise).
        ema: None or float in (0, 1). Keeps `ema_generator`, a moving average of the
            generator (see `GAN`), which translates, evaluates and is exported.
        **kwargs: `GAN`'s other options (augmentation, R1) and Keras' (name).
    """

    # The training job's contract: (input, target) pairs. `ema` keeps a moving average of the
    # generator that translates, evaluates and exports, as a noise-to-image GAN's samples.
    data_kind = "paired"
    supports_ema = True

    def __init__(
        self,
        image_shape=(28, 28, 1),
        output_channels=None,
        g_width=32,
        d_width=32,
        n_downsamples=None,
        d_downsamples=None,
        l1_weight=100.0,
        g_normalization="batch",
        d_normalization="instance",
        dropout=0.5,
        task=None,
        task_options=None,
        generator=None,
        discriminator=None,
        seed=0,
        **kwargs,
    ):
        image_shape = tuple(int(d) for d in image_shape)
        if float(l1_weight) < 0:
            raise TfgenUsageError(f"l1_weight must be >= 0, got {l1_weight!r}")
        if task is not None:
            task_options = data.paired.resolve_task_options(task, None, task_options)
        generator = generator or build_unet(
            image_shape,
            output_channels,
            width=g_width,
            n_downsamples=n_downsamples,
            normalization=g_normalization,
            dropout=dropout,
            name="generator",
        )
        out_channels = int(generator.outputs[0].shape[-1])
        discriminator = discriminator or build_patchgan(
            (*image_shape[:2], image_shape[2] + out_channels),
            width=d_width,
            n_downsamples=d_downsamples,
            normalization=d_normalization,
            name="discriminator",
        )
        super().__init__(generator, discriminator, seed=seed, **kwargs)
        self.input_shape_ = tuple(int(d) for d in generator.inputs[0].shape[1:])
        self.output_shape_ = tuple(int(d) for d in generator.outputs[0].shape[1:])
        if self.input_shape_ != image_shape:
            raise TfgenUsageError(
                f"the generator takes images of shape {self.input_shape_}, but image_shape is "
                f"{image_shape}; pass image_shape={self.input_shape_}"
            )
        self.image_shape = self.input_shape_
        self.latent_dim = None  # no latent noise: the input image is the condition
        self.output_channels = self.output_shape_[-1]
        self.g_width = g_width
        self.d_width = d_width
        self.n_downsamples = n_downsamples
        self.d_downsamples = d_downsamples
        self.l1_weight = float(l1_weight)
        self.g_normalization = g_normalization
        self.d_normalization = d_normalization
        self.dropout = dropout
        self.task = task
        self.task_options = task_options
        # Created here, in the strategy scope: a metric first created inside the replica
        # function under MirroredStrategy breaks the step ("must feed a value for placeholder").
        for name in METRICS:
            self.tracker(name)

    def unpack(self, batch):
        """`(inputs, targets)` of a batch, shapes checked."""
        if not isinstance(batch, (tuple, list)) or len(batch) < 2:
            raise TfgenUsageError(
                "Pix2Pix trains on (input, target) image pairs; load them with "
                "tfgen.data.load_paired(...) or pass fit(x=inputs, y=targets)"
            )
        inputs, targets = batch[0], batch[1]
        for name, tensor, shape in (
            ("inputs", inputs, self.input_shape_),
            ("targets", targets, self.output_shape_),
        ):
            got = tuple(tensor.shape[1:])
            if None not in got and got != shape:
                raise TfgenUsageError(
                    f"expected {name} of shape {shape}, got {got}; build the model with "
                    "image_shape=(H, W, C_in) and output_channels=C_out of your data"
                )
        return tf.cast(inputs, tf.float32), tf.cast(targets, tf.float32)

    # ----------------------------------------------------------------- losses
    def losses_for(self, inputs, targets, outputs, training):
        """Per-example losses [B]: `d_loss`, `g_adversarial`, `l1` and `g_loss`."""
        real_logits = self.discriminator(tf.concat([inputs, targets], axis=-1), training=training)
        fake_logits = self.discriminator(tf.concat([inputs, outputs], axis=-1), training=training)
        adversarial = self.generator_loss(fake_logits)
        l1 = l1_per_example(targets, outputs)
        return {
            "d_loss": self.discriminator_loss(real_logits, fake_logits),
            "g_adversarial": adversarial,
            "l1": l1,
            "g_loss": adversarial + self.l1_weight * l1,
        }

    def train_step(self, data):
        inputs, targets = self.unpack(data)
        g_vars = self.generator.trainable_variables
        d_vars = self.discriminator.trainable_variables
        with tf.GradientTape(persistent=True) as tape:
            outputs = self.generator(inputs, training=True)
            per_example = self.losses_for(inputs, targets, outputs, training=True)
            d_loss = distribute.global_mean(per_example["d_loss"])
            g_loss = distribute.global_mean(per_example["g_loss"])
        precision.apply_loss_gradients(tape, d_loss, (self.d_optimizer, d_vars))
        precision.apply_loss_gradients(tape, g_loss, (self.g_optimizer, g_vars))
        del tape
        self.update_ema()
        return self.update_trackers({k: tf.reduce_mean(v) for k, v in per_example.items()})

    def test_step(self, data):
        inputs, targets = self.unpack(data)
        outputs = self.sampling_generator(inputs, training=False)
        per_example = self.losses_for(inputs, targets, outputs, training=False)
        logs = {k: tf.reduce_mean(v) for k, v in per_example.items()}
        logs["psnr"] = tf.reduce_mean(tf.image.psnr(targets, outputs, max_val=2.0))
        return self.update_trackers(logs)

    # ----------------------------------------------------------------- inference
    def prepare_inputs(self, images):
        """Images as float32 [N, H, W, C_in] in [-1, 1] for the generator.

        Accepts uint8 [0, 255] or float [-1, 1] images, one image or a batch. A `superres` model
        also takes the low-resolution images themselves (`H / factor` wide) and up-samples
        them as in training; a `colorize` model turns RGB inputs grey.
        """
        images = tf.convert_to_tensor(images)
        images = (
            data.to_unit_range(images) if images.dtype == tf.uint8 else tf.cast(images, tf.float32)
        )
        if images.shape.rank == 3:
            images = images[None] if images.shape[-1] in (1, 3) else images[..., None]
        if images.shape.rank != 4:
            raise TfgenUsageError(f"expected images [N, H, W, C], got shape {list(images.shape)}")
        height, width, channels = self.input_shape_
        options = self.task_options or {}
        if (
            self.task == "superres"
            and tuple(images.shape[1:3]) != (height, width)
            and tuple(images.shape[1:3])
            == (height // options["factor"], width // options["factor"])
        ):
            images = data.paired.upsample(images, (height, width), options["upsample"])
        if self.task == "colorize" and images.shape[-1] == 3 and channels == 1:
            images = data.paired.colorize_inputs(images)
        if tuple(images.shape[1:]) != self.input_shape_:
            hint = ""
            if self.task == "superres":
                factor = options["factor"]
                hint = f" or low-resolution images of {height // factor}x{width // factor}"
            raise TfgenUsageError(
                f"this pix2pix model translates images of shape {self.input_shape_}{hint}, got "
                f"{tuple(images.shape[1:])}; resize the inputs to {height}x{width}"
            )
        if float(tf.reduce_max(tf.abs(images))) > 1.0 + 1e-3:
            raise TfgenUsageError(
                "float inputs must lie in [-1, 1]; pass uint8 images or scale them as x / 127.5 - 1"
            )
        return images

    def translate(self, x, batch_size=256, use_ema=True):
        """Translates images; returns float32 numpy [N, H, W, C_out] in [-1, 1].

        Args:
            x: uint8 [0, 255] or float [-1, 1] images [N, H, W, C_in] (or one [H, W, C_in]).
            use_ema: bool. Translate with the EMA generator when the model keeps one (default);
                False uses the raw generator.
        """
        generator = self.sampling_generator if use_ema else self.generator
        return inference.run(generator, self.prepare_inputs(x), batch_size)

    def generate(self, n=None, z=None, seed=None, batch_size=256):
        raise TfgenUsageError(
            "pix2pix translates images rather than sampling noise: use model.translate(x) or "
            "`tfgen translate MODEL --input FILE --out FILE`"
        )

    # ----------------------------------------------------------------- config
    def get_config(self):
        return {
            **super().get_config(),
            "image_shape": self.input_shape_,
            "output_channels": self.output_channels,
            "g_width": self.g_width,
            "d_width": self.d_width,
            "n_downsamples": self.n_downsamples,
            "d_downsamples": self.d_downsamples,
            "l1_weight": self.l1_weight,
            "g_normalization": self.g_normalization,
            "d_normalization": self.d_normalization,
            "dropout": self.dropout,
            "task": self.task,
            "task_options": self.task_options,
        }
