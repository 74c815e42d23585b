"""WGAN-GP (Gulrajani et al. 2017, https://arxiv.org/abs/1704.00028) trained with `model.fit`.

A Wasserstein critic kept near 1-Lipschitz by a gradient penalty on random interpolates,
`n_critic` critic updates per generator update inside one `train_step`.
"""

import tensorflow as tf

from tfgen import augment as augment_lib
from tfgen import distribute, losses, precision
from tfgen.errors import TfgenUsageError
from tfgen.models.gan import GAN, default_adam, unpack_images
from tfgen.networks import dcgan as dcgan_networks
from tfgen.registry import register_model

# Salts of the stateless noise: each critic iteration and the generator step draw their own.
SALT_CRITIC_NOISE = 10  # + critic iteration
SALT_INTERPOLATION = 20  # + critic iteration
SALT_GENERATOR_NOISE = 30
SALT_TEST = 40
CRITIC_NORMALIZATIONS = ("layer", "none")
METRICS = ("critic_loss", "g_loss", "wasserstein", "gradient_penalty")


def wgan_adam():
    """Adam(1e-4, beta_1=0, beta_2=0.9): the paper's optimizer for both networks."""
    return default_adam(learning_rate=1e-4, beta_1=0.0, beta_2=0.9)


@register_model("wgan_gp")
class WGANGP(GAN):
    """Wasserstein GAN with gradient penalty.

    Each `train_step` makes `n_critic` critic updates, then one generator update (Algorithm 1
    of the paper). The critic minimises `D(G(z)) - D(x) + gp_weight * (||grad D(x_hat)|| - 1)^2`
    with `x_hat = x + eps (G(z) - x)`, `eps ~ U[0, 1]` drawn per example; the generator
    minimises `-D(G(z))`.

    Real batches across the critic updates: the batch that `fit` hands to `train_step` is
    split into `n_critic` equal slices of `m = batch // n_critic` images and critic update `i`
    sees slice `i` with fresh latent noise and fresh interpolation weights. This is the paper's
    algorithm (a new real minibatch for every critic iteration) with the data pipeline
    delivering the `n_critic` minibatches at once, so every real image is used exactly once per
    epoch; reusing one batch `n_critic` times would let the critic fit those few images. The
    generator update draws `m` latent vectors, the paper's batch for both networks. Use a
    batch size that is a multiple of `n_critic` (e.g. 320 = 5 x 64): the `batch % n_critic`
    images left over are not used.

    The critic has no batch normalization: it would make one example's gradient penalty
    depend on the other examples in the batch. The generator's BatchNorm statistics are
    updated by every forward pass in training mode (they are not trained weights); the
    generator's weights change only in the generator update and the critic's only in the
    critic updates.

    Spectral normalization (`spectral_norm=True`, Miyato et al. 2018,
    https://arxiv.org/abs/1802.05957) wraps every critic conv and the logit in
    `keras.layers.SpectralNormalization` and *replaces* the critic's layer normalization; the
    gradient penalty stays on. Kurach et al. 2019 ("A large-scale study of regularization and
    normalization in GANs", https://arxiv.org/abs/1807.04720) recommend spectral normalization
    as the default and the gradient penalty on top of it when the budget allows. Layer
    normalization after a spectrally normalized conv would divide each example's activations by
    their own spread and undo the per-layer Lipschitz bound that SN gives, so the two are not
    stacked. Keras's wrapper re-normalizes the kernel in place (`W <- W / sigma`) and advances
    its power-iteration vector `u` (a saved, non-trainable weight) on every training-mode call,
    the gradient penalty's inner pass and the generator update's critic pass included (a
    projection, not a gradient step); gradients then flow to the normalized kernel. Off by
    default: on MNIST with this small critic and the paper's optimizer it learned slower than the
    layer-normalized critic (FID 69.7 vs 33.0 after 1,500 steps; README, "Limited data").

    Args:
        image_shape: tuple. `(size, size, channels)`, size 28, 32 or 64. Defaults to (28, 28, 1).
        latent_dim: int. Size of z. Defaults to 64.
        g_width: int. Generator width (channels of its last hidden layer). Defaults to 32.
        d_width: int. Critic width (channels of its first layer). Defaults to 64.
        n_critic: int. Critic updates per generator update. Defaults to 5.
        gp_weight: float. Weight lambda of the gradient penalty. Defaults to 10.
        critic_normalization: str. `"layer"` (the DCGAN builder's LayerNormalization, which
            normalizes each position's channels; the paper normalizes whole feature maps) or
            `"none"`. Never batch norm. Defaults to `"layer"`, or `"none"` with `spectral_norm`.
        spectral_norm: bool. Spectral normalization of the critic's convs and logit, instead
            of its layer normalization (see above). Defaults to False.
        generator, discriminator: keras.Model. Custom networks (override the builders).
        seed: int. Seeds the training noise and the interpolation weights.
    """

    default_g_optimizer = staticmethod(wgan_adam)
    default_d_optimizer = staticmethod(wgan_adam)
    default_loss = "wasserstein"

    def __init__(
        self,
        image_shape=(28, 28, 1),
        latent_dim=64,
        g_width=32,
        d_width=64,
        n_critic=5,
        gp_weight=10.0,
        critic_normalization=None,
        spectral_norm=False,
        generator=None,
        discriminator=None,
        seed=0,
        **kwargs,
    ):
        if int(n_critic) < 1:
            raise TfgenUsageError(f"n_critic must be a positive integer, got {n_critic!r}")
        if float(gp_weight) < 0:
            raise TfgenUsageError(f"gp_weight must be >= 0, got {gp_weight!r}")
        spectral_norm = bool(spectral_norm)
        if critic_normalization is None:
            critic_normalization = "none" if spectral_norm else "layer"
        if spectral_norm and critic_normalization != "none":
            raise TfgenUsageError(
                f"critic_normalization={critic_normalization!r} cannot be combined with "
                "spectral_norm: normalizing after a spectrally normalized layer undoes its "
                "Lipschitz bound; leave critic_normalization unset (or 'none')"
            )
        if critic_normalization not in CRITIC_NORMALIZATIONS:
            raise TfgenUsageError(
                f"critic_normalization must be one of {CRITIC_NORMALIZATIONS}, got "
                f"{critic_normalization!r}; batch norm would make each example's gradient "
                "penalty depend on the rest of the batch"
            )
        image_shape = dcgan_networks.check_image_shape(image_shape)
        generator = generator or dcgan_networks.build_generator(image_shape, latent_dim, g_width)
        discriminator = discriminator or dcgan_networks.build_discriminator(
            image_shape,
            d_width,
            normalization=critic_normalization,
            name="critic",
            spectral_norm=spectral_norm,
        )
        super().__init__(generator, discriminator, seed=seed, **kwargs)
        self.g_width = g_width
        self.d_width = d_width
        self.n_critic = int(n_critic)
        self.gp_weight = float(gp_weight)
        self.critic_normalization = critic_normalization
        self.spectral_norm = spectral_norm
        # Created here, in the strategy scope: a metric first created inside the replica
        # function under MirroredStrategy breaks the step ("must feed a value for placeholder").
        for name in METRICS:
            self.tracker(name)

    @property
    def critic(self):
        """The critic (the discriminator of the GAN base)."""
        return self.discriminator

    # ----------------------------------------------------------------- losses
    def critic_losses(self, real, fake, interpolation_weights, training=True):
        """Per-example critic losses, for one slice of real and generated images.

        Returns a dict of per-example tensors [B]: `loss` (adversarial + gp_weight * penalty),
        `gradient_penalty`, `wasserstein` (D(x) - D(G(z)), the Wasserstein estimate) and
        `real_logits` and `fake_logits` (D(x) and D(G(z)), for ADA's statistic).
        """
        real_logits = self.discriminator(real, training=training)
        fake_logits = self.discriminator(fake, training=training)
        adversarial = self.discriminator_loss(real_logits, fake_logits)
        penalty = losses.gradient_penalty(
            lambda x: self.discriminator(x, training=training), real, fake, interpolation_weights
        )
        return {
            "loss": adversarial + self.gp_weight * penalty,
            "gradient_penalty": penalty,
            "wasserstein": tf.reshape(real_logits - fake_logits, [-1]),
            "real_logits": tf.reshape(real_logits, [-1]),
            "fake_logits": tf.reshape(fake_logits, [-1]),
        }

    # ----------------------------------------------------------------- updates
    def critic_step(self, real, iteration=0):
        """One critic update on a slice of real images; returns the slice's mean losses."""
        batch = tf.shape(real)[0]
        z = self.training_noise(batch, salt=SALT_CRITIC_NOISE + iteration)
        weights = distribute.replica_uniform(
            batch, [], self.seed, self.step, salt=SALT_INTERPOLATION + iteration
        )
        # Outside the tape: the critic update needs no gradient through the generator.
        fake = self.generator(z, training=True)
        d_vars = self.discriminator.trainable_variables
        with tf.GradientTape() as tape:
            real, fake = self.augment_pair(real, fake, salt=iteration)
            per_example = self.critic_losses(real, fake, weights, training=True)
            loss = distribute.global_mean(per_example["loss"])
            r1 = self.r1_loss(real)
            if r1 is not None:
                loss += r1[0]
        precision.apply_loss_gradients(tape, loss, (self.d_optimizer, d_vars))
        return {
            "critic_loss": tf.reduce_mean(per_example["loss"]),
            "gradient_penalty": tf.reduce_mean(per_example["gradient_penalty"]),
            "wasserstein": tf.reduce_mean(per_example["wasserstein"]),
            **({"r1": r1[1]} if r1 is not None else {}),
            # ADA's p and r_t: logged as they are, not averaged by a tracker.
            **self.augment_update(per_example["real_logits"], self.ada_midpoint(per_example)),
        }

    def ada_midpoint(self, per_example):
        """The critic's decision boundary for ADA's r_t: the middle of this batch's real and fake
        scores (a Wasserstein critic's outputs drift by an arbitrary offset, so 0 means nothing).
        """
        if self.augmenter is None or not self.augmenter.adaptive:
            return None
        return augment_lib.batch_midpoint(per_example["real_logits"], per_example["fake_logits"])

    def generator_step(self, batch_size):
        """One generator update from `batch_size` latent vectors; returns its mean loss."""
        z = self.training_noise(batch_size, salt=SALT_GENERATOR_NOISE)
        g_vars = self.generator.trainable_variables
        with tf.GradientTape() as tape:
            fake = self.generator(z, training=True)
            fake = self.augment_images(fake, salt=2 * self.n_critic + 2)
            fake_logits = self.discriminator(fake, training=True)
            per_example = self.generator_loss(fake_logits)
            loss = distribute.global_mean(per_example)
        precision.apply_loss_gradients(tape, loss, (self.g_optimizer, g_vars))
        self.update_ema()
        return tf.reduce_mean(per_example)

    def critic_slices(self, real):
        """Splits a batch into `n_critic` slices of `batch // n_critic` images.

        Slice i takes every n_critic-th image from i (strided, not contiguous): when each
        replica's batch is a multiple of n_critic, the replicas' slices i together are exactly
        one device's slice i of the global batch, so MirroredStrategy trains like one device.
        """
        static_batch = real.shape[0]
        if static_batch is not None and static_batch < self.n_critic:
            raise TfgenUsageError(
                f"a batch of {static_batch} images cannot feed n_critic={self.n_critic} critic "
                f"updates; use a batch size that is a multiple of {self.n_critic}, "
                f"e.g. {self.n_critic * 64}"
            )
        size = tf.shape(real)[0] // self.n_critic
        check = tf.debugging.assert_positive(
            size, message=f"WGANGP: the batch must hold at least n_critic={self.n_critic} images"
        )
        with tf.control_dependencies([check]):  # report this before any empty-slice error
            size = tf.identity(size)
        return [real[i :: self.n_critic][:size] for i in range(self.n_critic)], size

    def train_step(self, data):
        real = unpack_images(data)
        self.check_images(real)
        slices, size = self.critic_slices(real)
        # A Python loop: n_critic is fixed, so the updates unroll into one graph (XLA-friendly).
        for i, real_slice in enumerate(slices):
            step_logs = self.critic_step(real_slice, i)
            ada = {k: step_logs.pop(k) for k in ("ada_p", "ada_rt") if k in step_logs}
            logs = self.update_trackers(step_logs)
        g_loss = self.generator_step(size)
        return {**logs, **self.update_trackers({"g_loss": g_loss}), **ada}

    def test_step(self, data):
        real = unpack_images(data)
        self.check_images(real)
        batch = tf.shape(real)[0]
        z = distribute.replica_normal(batch, [self.latent_dim], self.seed, 0, salt=SALT_TEST)
        weights = distribute.replica_uniform(batch, [], self.seed, 0, salt=SALT_TEST)
        fake = self.generator(z, training=False)
        per_example = self.critic_losses(real, fake, weights, training=False)
        g_loss = self.generator_loss(self.discriminator(fake, training=False))
        return self.update_trackers(
            {
                "critic_loss": tf.reduce_mean(per_example["loss"]),
                "gradient_penalty": tf.reduce_mean(per_example["gradient_penalty"]),
                "wasserstein": tf.reduce_mean(per_example["wasserstein"]),
                "g_loss": tf.reduce_mean(g_loss),
            }
        )

    def get_config(self):
        return {
            **super().get_config(),
            "image_shape": self.image_shape,
            "latent_dim": self.latent_dim,
            "g_width": self.g_width,
            "d_width": self.d_width,
            "n_critic": self.n_critic,
            "gp_weight": self.gp_weight,
            "critic_normalization": self.critic_normalization,
            **({"spectral_norm": True} if self.spectral_norm else {}),
        }
