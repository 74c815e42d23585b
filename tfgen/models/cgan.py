"""Label-conditioned GAN (Mirza & Osindero 2014, https://arxiv.org/abs/1411.1784) with a
projection discriminator (Miyato & Koyama 2018, https://arxiv.org/abs/1802.05637).
"""

import numpy as np
import tensorflow as tf

from tfgen import distribute, inference, precision
from tfgen.errors import TfgenUsageError
from tfgen.models.gan import GAN
from tfgen.networks import cgan as cgan_networks
from tfgen.networks import dcgan as dcgan_networks
from tfgen.registry import register_model

SALT_TRAIN = 1
SALT_TEST = 3
METRICS = ("d_loss", "g_loss", "d_real", "d_fake")


def as_labels(labels, num_classes, n=None):
    """Class ids as an int32 array, checked against `[0, num_classes)`.

    Args:
        labels: None, an int, or a sequence / array of ints. None cycles through the classes
            (0, 1, ..., num_classes - 1, 0, ...); an int gives every image that class; a
            sequence gives one image per entry, or is cycled to `n` images when `n` is given.
        num_classes: int. The model's number of classes.
        n: int or None. Number of labels wanted.
    """
    if labels is None:
        if n is None or int(n) < 1:
            raise TfgenUsageError(f"need n >= 1 images or a list of labels, got n={n!r}")
        return (np.arange(int(n)) % num_classes).astype(np.int32)
    array = np.asarray(labels)
    if array.dtype == bool or not np.issubdtype(array.dtype, np.integer):
        raise TfgenUsageError(
            f"labels must be integer class ids in [0, {num_classes}), got {array.dtype} "
            f"values {array.ravel()[:5].tolist()}; pass e.g. labels=3 or labels=[0, 1, 2]"
        )
    if array.ndim == 0:
        if n is None or int(n) < 1:
            raise TfgenUsageError(f"a single label needs n >= 1 images, got n={n!r}")
        array = np.full(int(n), int(array))
    array = array.reshape(-1)
    if array.size == 0:
        raise TfgenUsageError("labels is empty; pass at least one class id")
    if n is not None and int(n) != array.size:
        array = np.resize(array, int(n))  # cycles the sequence
    bad = array[(array < 0) | (array >= num_classes)]
    if bad.size:
        raise TfgenUsageError(
            f"labels must be in [0, {num_classes}) for this model, got {sorted(set(bad.tolist()))[:5]}"
        )
    return array.astype(np.int32)


def check_label_tensor(labels, num_classes):
    """A batch of labels as int32 [B]: integer dtype checked now, the range when it runs."""
    labels = tf.convert_to_tensor(labels)
    if not labels.dtype.is_integer:
        raise TfgenUsageError(
            f"labels must be integer class ids, got dtype {labels.dtype.name}; load the data "
            "with tfgen.data.load(..., with_labels=True), which yields int32 labels"
        )
    if labels.shape.rank is not None and labels.shape.rank > 1:
        labels = tf.reshape(labels, [-1])  # [B, 1] column vectors from numpy/Keras
    labels = tf.cast(labels, tf.int32)
    checks = [
        tf.debugging.assert_non_negative(labels, message="labels must be >= 0"),
        tf.debugging.assert_less(
            labels, num_classes, message=f"labels must be < num_classes={num_classes}"
        ),
    ]
    with tf.control_dependencies(checks):
        return tf.identity(labels)


@register_model("cgan")
class ConditionalGAN(GAN):
    """Label-conditioned GAN: `G(z, y)` and `D(x, y)`.

    The generator embeds the label and concatenates it with z. The discriminator conditions by
    projection (default: `logit = psi(phi(x)) + <embed(y), phi(x)>`) or, with
    `conditioning="concat"`, sees a learned label map as an extra image channel. Fakes are
    generated for the labels of the real batch, so the class mix of the data is kept. Each
    `train_step` updates D and G once from one forward pass (as `DCGAN(update="simultaneous")`).

    Args:
        image_shape: tuple. `(size, size, channels)`, size 28, 32 or 64. Defaults to (28, 28, 1).
        num_classes: int. Number of labels. Defaults to 10.
        latent_dim: int. Size of z. Defaults to 64.
        g_width: int. Generator width. Defaults to 32.
        d_width: int. Discriminator width. Defaults to 64.
        embedding_dim: int. Size of the generator's label embedding. Defaults to 32.
        conditioning: str. `"projection"` (default) or `"concat"`.
        d_normalization: str. Discriminator normalization: `"batch"` (default), `"layer"`,
            `"none"`.
        spectral_norm: bool. Spectral normalization of the discriminator's layers (instead of
            its normalization layers). Defaults to False.
        generator, discriminator: keras.Model. Custom networks: `[z, labels] -> images` and
            `[images, labels] -> logits`.
        seed: int. Seeds the training noise.
    """

    data_kind = "labelled"  # the training job loads (images, labels) batches

    def __init__(
        self,
        image_shape=(28, 28, 1),
        num_classes=10,
        latent_dim=64,
        g_width=32,
        d_width=64,
        embedding_dim=32,
        conditioning="projection",
        d_normalization="batch",
        spectral_norm=False,
        generator=None,
        discriminator=None,
        seed=0,
        **kwargs,
    ):
        if conditioning not in cgan_networks.CONDITIONINGS:
            raise TfgenUsageError(
                f"conditioning must be one of {cgan_networks.CONDITIONINGS}, got {conditioning!r}"
            )
        image_shape = dcgan_networks.check_image_shape(image_shape)
        num_classes = cgan_networks.check_num_classes(num_classes)
        generator = generator or cgan_networks.build_conditional_generator(
            image_shape, num_classes, latent_dim, g_width, embedding_dim
        )
        discriminator = discriminator or cgan_networks.build_conditional_discriminator(
            conditioning,
            image_shape=image_shape,
            num_classes=num_classes,
            width=d_width,
            normalization=d_normalization,
            spectral_norm=spectral_norm,
        )
        if len(generator.inputs) != 2 or len(discriminator.inputs) != 2:
            raise TfgenUsageError(
                "ConditionalGAN needs a generator [z, labels] -> images and a discriminator "
                "[images, labels] -> logits (two inputs each); build them with "
                "tfgen.networks.cgan"
            )
        super().__init__(generator, discriminator, seed=seed, **kwargs)
        self.num_classes = num_classes
        self.g_width = g_width
        self.d_width = d_width
        self.embedding_dim = embedding_dim
        self.conditioning = conditioning
        self.d_normalization = d_normalization
        self.spectral_norm = bool(spectral_norm)
        # Created here, in the strategy scope: a metric first created inside the replica
        # function under MirroredStrategy breaks the step ("must feed a value for placeholder").
        for name in METRICS:
            self.tracker(name)

    def unpack(self, batch):
        """`(images, labels)` of a batch, checked."""
        if not isinstance(batch, (tuple, list)) or len(batch) < 2:
            raise TfgenUsageError(
                "ConditionalGAN trains on (images, labels) batches; load the data with "
                "tfgen.data.load(..., with_labels=True) or pass fit(x=images, y=labels)"
            )
        images, labels = batch[0], batch[1]
        self.check_images(images)
        return images, check_label_tensor(labels, self.num_classes)

    # ----------------------------------------------------------------- losses
    def _d_loss(self, real_logits, fake_logits):
        per_example = self.discriminator_loss(real_logits, fake_logits)
        return distribute.global_mean(per_example), tf.reduce_mean(per_example)

    def _g_loss(self, fake_logits):
        per_example = self.generator_loss(fake_logits)
        return distribute.global_mean(per_example), tf.reduce_mean(per_example)

    def train_step(self, data):
        real, labels = self.unpack(data)
        batch = tf.shape(real)[0]
        g_vars = self.generator.trainable_variables
        d_vars = self.discriminator.trainable_variables
        z = self.training_noise(batch, salt=SALT_TRAIN)
        with tf.GradientTape(persistent=True) as tape:
            fake = self.generator([z, labels], training=True)
            real_seen, fake_seen = self.augment_pair(real, fake)
            real_logits = self.discriminator([real_seen, labels], training=True)
            fake_logits = self.discriminator([fake_seen, labels], training=True)
            d_loss, d_loss_local = self._d_loss(real_logits, fake_logits)
            r1 = self.r1_loss(real_seen, lambda x: self.discriminator([x, labels], training=True))
            if r1 is not None:
                d_loss += r1[0]
            g_loss, g_loss_local = self._g_loss(fake_logits)
        # Both gradients come from the same pass; each optimizer touches only its network.
        precision.apply_loss_gradients(tape, d_loss, (self.d_optimizer, d_vars))
        precision.apply_loss_gradients(tape, g_loss, (self.g_optimizer, g_vars))
        del tape
        self.update_ema()
        ada = self.augment_update(real_logits)
        logs = self.update_trackers(
            {
                "d_loss": d_loss_local,
                "g_loss": g_loss_local,
                "d_real": tf.reduce_mean(tf.sigmoid(real_logits)),
                "d_fake": tf.reduce_mean(tf.sigmoid(fake_logits)),
                **({"r1": r1[1]} if r1 is not None else {}),
            }
        )
        return {**logs, **ada}

    def test_step(self, data):
        real, labels = self.unpack(data)
        batch = tf.shape(real)[0]
        z = distribute.replica_normal(batch, [self.latent_dim], self.seed, 0, salt=SALT_TEST)
        fake = self.generator([z, labels], training=False)
        real_logits = self.discriminator([real, labels], training=False)
        fake_logits = self.discriminator([fake, labels], training=False)
        _, d_loss = self._d_loss(real_logits, fake_logits)
        _, g_loss = self._g_loss(fake_logits)
        return self.update_trackers(
            {
                "d_loss": d_loss,
                "g_loss": g_loss,
                "d_real": tf.reduce_mean(tf.sigmoid(real_logits)),
                "d_fake": tf.reduce_mean(tf.sigmoid(fake_logits)),
            }
        )

    # ----------------------------------------------------------------- sampling
    def generate(self, n=None, labels=None, seed=None, z=None, batch_size=256, use_ema=True):
        """Generates images of given classes, float32 numpy [n, H, W, C] in [-1, 1].

        Args:
            n: int. Number of images (taken from `labels` or `z` when those are sequences).
            labels: None (cycle through the classes), an int (all images of that class) or a
                sequence of class ids (one image each; cycled to `n` images if `n` is given).
            seed: int. Seed of the latent vectors; the same seed gives the same images.
            z: array [n, latent_dim]. Latent vectors (instead of `seed`).
            use_ema: bool. Sample from the EMA generator when the model keeps one (default);
                False samples from the raw generator.
        """
        if z is not None:
            z = self.check_latent(z)
            n = int(z.shape[0]) if n is None else n
        if n is None and labels is not None and np.ndim(labels) > 0:
            n = len(np.asarray(labels).reshape(-1))
        labels = as_labels(labels, self.num_classes, n)
        if z is None:
            z = self.latent_noise(len(labels), seed)
        elif z.shape[0] != len(labels):
            raise TfgenUsageError(f"got {z.shape[0]} latent vectors for {len(labels)} labels")
        generator = self.sampling_generator if use_ema else self.generator
        return inference.run(generator, [z, tf.convert_to_tensor(labels)], batch_size)

    # ----------------------------------------------------------------- config
    def get_config(self):
        return {
            **super().get_config(),
            "image_shape": self.image_shape,
            "num_classes": self.num_classes,
            "latent_dim": self.latent_dim,
            "g_width": self.g_width,
            "d_width": self.d_width,
            "embedding_dim": self.embedding_dim,
            "conditioning": self.conditioning,
            "d_normalization": self.d_normalization,
            **({"spectral_norm": True} if self.spectral_norm else {}),
        }
