"""DCGAN (Radford et al. 2016, https://arxiv.org/abs/1511.06434) trained with `model.fit`."""

import tensorflow as tf

from tfgen import distribute, precision
from tfgen.models.gan import GAN, unpack_images
from tfgen.networks import dcgan as dcgan_networks
from tfgen.registry import register_model

UPDATES = ("simultaneous", "alternating")


@register_model("dcgan")
class DCGAN(GAN):
    """Deep convolutional GAN.

    Each `train_step` updates the discriminator once and the generator once. With
    `update="simultaneous"` (default, as in the TensorFlow DCGAN tutorial) both gradients come
    from one forward pass of G and D, which saves a generator and a discriminator pass per step;
    `update="alternating"` re-draws noise and runs G and D again after the D update (as in the
    Keras guide). Either way each optimizer touches only its own network.

    Args:
        image_shape: tuple. `(size, size, channels)`, size 28, 32 or 64. Defaults to (28, 28, 1).
        latent_dim: int. Size of z. Defaults to 64.
        g_width: int. Generator width (channels of its last hidden layer). Defaults to 32.
        d_width: int. Discriminator width (channels of its first layer). Defaults to 64.
        update: str. `"simultaneous"` or `"alternating"`.
        spectral_norm: bool. Spectral normalization of the discriminator's layers (instead of
            its BatchNorm). Defaults to False.
        latent_components: int or None. The generator first maps z to a mixture of this many
            separated Gaussians (`networks.latent_mixture`), so it need not spend latent mass
            between disconnected classes. None (default): z goes straight in.
        latent_scale: float. Spread of each mixture component. Defaults to 1.0.
        generator, discriminator: keras.Model. Custom networks (override the builders).
        seed: int. Seeds the training noise.
    """

    metric_names = ("d_loss", "g_loss", "d_real", "d_fake")

    def __init__(
        self,
        image_shape=(28, 28, 1),
        latent_dim=64,
        g_width=32,
        d_width=64,
        update="simultaneous",
        spectral_norm=False,
        latent_components=None,
        latent_scale=1.0,
        generator=None,
        discriminator=None,
        seed=0,
        **kwargs,
    ):
        if update not in UPDATES:
            raise ValueError(f"update must be one of {UPDATES}, got {update!r}")
        image_shape = dcgan_networks.check_image_shape(image_shape)
        generator = generator or dcgan_networks.build_generator(
            image_shape,
            latent_dim,
            g_width,
            latent_components=latent_components,
            latent_scale=latent_scale,
        )
        discriminator = discriminator or dcgan_networks.build_discriminator(
            image_shape, d_width, spectral_norm=spectral_norm
        )
        super().__init__(generator, discriminator, seed=seed, **kwargs)
        self.g_width = g_width
        self.d_width = d_width
        self.update = update
        self.spectral_norm = bool(spectral_norm)
        self.latent_components = latent_components and int(latent_components)
        self.latent_scale = float(latent_scale)

    def _d_loss(self, real_logits, fake_logits):
        per_example = self.discriminator_loss(real_logits, fake_logits)
        return distribute.global_mean(per_example), tf.reduce_mean(per_example)

    def _g_loss(self, fake_logits):
        per_example = self.generator_loss(fake_logits)
        return distribute.global_mean(per_example), tf.reduce_mean(per_example)

    def train_step(self, data):
        real = unpack_images(data)
        self.check_images(real)
        batch = tf.shape(real)[0]
        g_vars = self.generator.trainable_variables
        d_vars = self.discriminator.trainable_variables
        z = self.training_noise(batch, salt=1)
        with tf.GradientTape(persistent=True) as tape:
            fake = self.generator(z, training=True)
            real_seen, fake_seen = self.augment_pair(real, fake)
            real_logits = self.discriminator(real_seen, training=True)
            fake_logits = self.discriminator(fake_seen, training=True)
            d_loss, d_loss_local = self._d_loss(real_logits, fake_logits)
            r1 = self.r1_loss(real_seen)
            if r1 is not None:
                d_loss += r1[0]
            if self.update == "simultaneous":
                g_loss, g_loss_local = self._g_loss(fake_logits)
        precision.apply_loss_gradients(tape, d_loss, (self.d_optimizer, d_vars))
        if self.update == "alternating":
            z = self.training_noise(batch, salt=2)
            with tf.GradientTape(persistent=True) as tape:
                fake_seen = self.augment_images(self.generator(z, training=True), salt=3)
                fake_logits = self.discriminator(fake_seen, training=True)
                g_loss, g_loss_local = self._g_loss(fake_logits)
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
        real = unpack_images(data)
        self.check_images(real)
        batch = tf.shape(real)[0]
        z = distribute.replica_normal(batch, [self.latent_dim], self.seed, 0, salt=3)
        fake = self.generator(z, training=False)
        real_logits = self.discriminator(real, training=False)
        fake_logits = self.discriminator(fake, training=False)
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

    def get_config(self):
        return {
            **super().get_config(),
            "image_shape": self.image_shape,
            "latent_dim": self.latent_dim,
            "g_width": self.g_width,
            "d_width": self.d_width,
            "update": self.update,
            **({"spectral_norm": True} if self.spectral_norm else {}),
            **(
                {"latent_components": self.latent_components, "latent_scale": self.latent_scale}
                if self.latent_components
                else {}
            ),
        }
