"""Variational auto-encoder (Kingma & Welling, 2014) with tensorflow-probability distributions.

`encode` gives the Gaussian posterior q(z | x), `decode` the pixel likelihood p(x | z);
`train_step` maximizes the (beta-weighted, optionally warmed-up) ELBO in nats per image.
"""

import math

import keras
import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from tfgen import distribute, precision
from tfgen.errors import TfgenUsageError
from tfgen.models.contract import TrainingContract
from tfgen.networks.vae import (
    LIKELIHOOD_PARAMS,
    build_vae_decoder,
    build_vae_encoder,
    check_image_shape,
    check_likelihood,
)
from tfgen.optimizers import FusedAdam
from tfgen.registry import register_model

tfd = tfp.distributions

# Salts keep the noise streams (binarization, latent sampling; train vs. test) apart
# while all of them derive from the one model seed and the step.
SALT_BINARIZE = 101
SALT_LATENT = 202
SALT_TEST = 1000
MIN_POSTERIOR_SCALE = 1e-4
# Floors on the decoder's log-scale: a scale far below one grey level (discretized logistic)
# or the data noise (normal) only makes the likelihood spiky and the gradients unstable.
MIN_LOG_SCALE = {"logistic": -7.0, "normal": -5.0}


@register_model("vae")
class VAE(TrainingContract, distribute.NoDataPeek, keras.Model):
    """Variational auto-encoder with a Gaussian posterior and a per-pixel likelihood.

    Images are float32 in [-1, 1] (as `tfgen.data.load` yields them). The posterior is a
    diagonal `tfd.MultivariateNormalDiag`, the prior a standard normal, and the likelihood a
    `tfd.Independent` over pixels of the chosen per-pixel distribution.

    Args:
        image_shape: tuple. `(size, size, channels)`; size a multiple of 4 (28, 32, 64),
            1 or 3 channels. Defaults to `(28, 28, 1)`.
        latent_dim: int. Size of the latent vector z. Defaults to 16.
        likelihood: str. Per-pixel p(x | z): `"bernoulli"` (images are binarized dynamically,
            a fresh seeded draw per batch with p = (x + 1) / 2), `"continuous_bernoulli"`
            (on (x + 1) / 2), `"logistic"` (discretized over 256 grey levels) or
            `"normal"` (a density on [-1, 1]). Defaults to `"bernoulli"`.
        beta: float. Weight of the KL term (beta-VAE); 1 gives the ELBO. Defaults to 1.0.
        kl_warmup_steps: int. Raise the KL weight linearly from 0 to `beta` over this many
            optimizer steps; 0 means no warm-up. Defaults to 0.
        width: int. Base filter count of the encoder and decoder networks. Defaults to 32.
        activation: str. Hidden activation of the encoder and decoder. Defaults to `"swish"`.
        analytic_kl: bool. Use the closed-form KL divergence where tfp has one; otherwise
            (or when False) a one-sample Monte-Carlo estimate log q(z|x) - log p(z).
            Defaults to True.
        seed: int. Seed of every random draw (binarization, latent samples, generation).
            Defaults to 0.
        encoder: keras.Model or None. A custom encoder `images -> [loc, scale_param]`;
            built with `tfgen.networks.vae.build_vae_encoder` when None.
        decoder: keras.Model or None. A custom decoder `z -> logits` or
            `z -> [loc, log_scale]`; built with `build_vae_decoder` when None.
    """

    def __init__(
        self,
        image_shape=(28, 28, 1),
        latent_dim=16,
        likelihood="bernoulli",
        beta=1.0,
        kl_warmup_steps=0,
        width=32,
        activation="swish",
        analytic_kl=True,
        seed=0,
        encoder=None,
        decoder=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.image_shape = check_image_shape(image_shape)
        self.likelihood = check_likelihood(likelihood)
        self.latent_dim = int(latent_dim)
        self.beta = float(beta)
        self.kl_warmup_steps = int(kl_warmup_steps)
        self.width = int(width)
        self.activation = activation
        self.analytic_kl = bool(analytic_kl)
        self.seed = int(seed)
        if self.latent_dim < 1:
            raise TfgenUsageError(f"latent_dim must be a positive integer, got {latent_dim!r}")
        if self.beta < 0 or not math.isfinite(self.beta):
            raise TfgenUsageError(f"beta must be a finite number >= 0, got {beta!r}")
        if self.kl_warmup_steps < 0:
            raise TfgenUsageError(f"kl_warmup_steps must be >= 0, got {kl_warmup_steps!r}")
        if encoder is None:
            encoder = build_vae_encoder(
                self.image_shape, self.latent_dim, self.width, self.activation
            )
        if decoder is None:
            decoder = build_vae_decoder(
                self.image_shape, self.latent_dim, self.likelihood, self.width, self.activation
            )
        self.encoder, self.decoder = encoder, decoder
        self._check_networks()
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.reconstruction_tracker = keras.metrics.Mean(name="reconstruction")
        self.kl_tracker = keras.metrics.Mean(name="kl")
        self.elbo_tracker = keras.metrics.Mean(name="elbo")
        self._generate_calls = 0
        # One forward pass builds the model, so it can be saved, summarized or fit at once.
        self(tf.zeros((1, *self.image_shape)))

    def _check_networks(self):
        n_params = LIKELIHOOD_PARAMS[self.likelihood]
        if len(self.encoder.outputs) != 2:
            raise TfgenUsageError(
                f"the encoder must have two outputs [loc, scale_param], has "
                f"{len(self.encoder.outputs)}; build it with build_vae_encoder"
            )
        if len(self.decoder.outputs) != n_params:
            raise TfgenUsageError(
                f"likelihood {self.likelihood!r} needs a decoder with {n_params} output(s), "
                f"this one has {len(self.decoder.outputs)}; build it with "
                f"build_vae_decoder(..., likelihood={self.likelihood!r})"
            )

    # Distributions.

    @property
    def prior(self):
        """The standard normal prior p(z)."""
        return tfd.MultivariateNormalDiag(
            loc=tf.zeros([self.latent_dim]), scale_diag=tf.ones([self.latent_dim])
        )

    def check_images(self, images):
        """Converts `images` to a float32 tensor and checks its shape against `image_shape`."""
        if (
            isinstance(images, np.ndarray)
            and images.dtype == np.uint8
            or (tf.is_tensor(images) and images.dtype == tf.uint8)
        ):
            raise TfgenUsageError(
                "expected float32 images in [-1, 1], got uint8; scale them with "
                "tfgen.data.to_unit_range or load them with tfgen.data.load"
            )
        images = tf.convert_to_tensor(images)
        # Keras casts a mixed-precision model's inputs to float16; the VAE works in float32.
        images = tf.cast(images, tf.float32) if images.dtype.is_floating else images
        images = tf.convert_to_tensor(images, tf.float32)
        got = tuple(images.shape[1:]) if images.shape.rank is not None else None
        if images.shape.rank != 4 or any(
            g is not None and g != e for g, e in zip(got, self.image_shape, strict=True)
        ):
            shape = tuple(images.shape) if images.shape.rank is not None else "unknown"
            raise TfgenUsageError(
                f"expected images of shape (batch, {', '.join(map(str, self.image_shape))}), "
                f"got {shape}; build the VAE with image_shape matching the data or load the "
                f"data with tfgen.data.load(..., image_size={self.image_shape[0]}, "
                f"channels={self.image_shape[2]})"
            )
        return images

    def encode(self, images, training=False):
        """Returns the posterior q(z | x) as a `tfd.MultivariateNormalDiag` (batch of images)."""
        images = self.check_images(images)
        loc, scale_param = self.encoder(images, training=training)
        scale = tf.nn.softplus(scale_param) + MIN_POSTERIOR_SCALE
        return tfd.MultivariateNormalDiag(loc=loc, scale_diag=scale)

    def _decode_params(self, z, training=False):
        z = tf.convert_to_tensor(z, tf.float32)
        if z.shape.rank != 2 or (z.shape[-1] is not None and z.shape[-1] != self.latent_dim):
            raise TfgenUsageError(
                f"expected latents of shape (batch, {self.latent_dim}), got {tuple(z.shape)}"
            )
        return tf.nest.flatten(self.decoder(z, training=training))

    def _likelihood(self, params):
        if self.likelihood == "bernoulli":
            pixel = tfd.Bernoulli(logits=params[0], dtype=tf.float32)
        elif self.likelihood == "continuous_bernoulli":
            pixel = tfd.ContinuousBernoulli(logits=params[0])
        else:
            loc, log_scale = params
            log_scale = tf.maximum(log_scale, MIN_LOG_SCALE[self.likelihood])
            if self.likelihood == "normal":
                pixel = tfd.Normal(loc=loc, scale=tf.exp(log_scale))
            else:
                # Grey levels 0..255 with bins [k - 0.5, k + 0.5); the two end bins take all
                # the mass beyond them (PixelCNN++). QuantizedDistribution puts the mass of
                # (k - 1, k] on k, so the logistic is shifted down by half a level.
                pixel = tfd.QuantizedDistribution(
                    tfd.Logistic(loc=(loc + 1.0) * 127.5 - 0.5, scale=tf.exp(log_scale) * 127.5),
                    low=0.0,
                    high=255.0,
                )
        return tfd.Independent(pixel, reinterpreted_batch_ndims=3)

    def decode(self, z, training=False):
        """Returns the likelihood p(x | z): a `tfd.Independent` over the pixels of each image.

        Its support is the target space of `likelihood_targets`: {0, 1} (Bernoulli),
        [0, 1] (continuous Bernoulli), grey levels 0..255 (logistic) or [-1, 1] (normal).
        """
        return self._likelihood(self._decode_params(z, training=training))

    def likelihood_targets(self, images, uniform_noise=None):
        """Maps images in [-1, 1] to the support of `decode(z)`.

        Args:
            images: float tensor in [-1, 1] of shape `(batch, *image_shape)`.
            uniform_noise: float tensor of the same shape, uniform in [0, 1). Only the
                Bernoulli likelihood uses it: pixel = 1 where noise < (x + 1) / 2
                (dynamic binarization). Required for `"bernoulli"`.
        """
        images = tf.convert_to_tensor(images, tf.float32)
        if self.likelihood == "bernoulli":
            if uniform_noise is None:
                raise TfgenUsageError(
                    "the Bernoulli likelihood binarizes images with uniform noise; pass "
                    "uniform_noise or use elbo(images, seed=...)"
                )
            return tf.cast(uniform_noise < (images + 1.0) / 2.0, tf.float32)
        if self.likelihood == "continuous_bernoulli":
            return tf.clip_by_value((images + 1.0) / 2.0, 0.0, 1.0)
        if self.likelihood == "logistic":
            return tf.clip_by_value(tf.round((images + 1.0) * 127.5), 0.0, 255.0)
        return images

    def _mean_image(self, params):
        """The decoder's mean prediction mapped to [-1, 1]."""
        if self.likelihood == "bernoulli":
            return 2.0 * tf.sigmoid(params[0]) - 1.0
        if self.likelihood == "continuous_bernoulli":
            return 2.0 * tfd.ContinuousBernoulli(logits=params[0]).mean() - 1.0
        return tf.clip_by_value(params[0], -1.0, 1.0)

    def _sample_image(self, params, seed):
        sample = self._likelihood(params).sample(seed=seed)
        if self.likelihood in ("bernoulli", "continuous_bernoulli"):
            return 2.0 * sample - 1.0
        if self.likelihood == "logistic":
            return sample / 127.5 - 1.0
        return tf.clip_by_value(sample, -1.0, 1.0)

    # ELBO.

    def kl_divergence(self, posterior, z=None, analytic=None):
        """KL(q(z|x) || p(z)) per image.

        Args:
            posterior: tfd distribution. q(z | x) from `encode`.
            z: tensor or None. A sample of `posterior`, for the Monte-Carlo estimate
                log q(z|x) - log p(z) used when there is no closed form (or analytic=False).
            analytic: bool or None. Override the model's `analytic_kl`.
        """
        if self.analytic_kl if analytic is None else analytic:
            try:
                return tfd.kl_divergence(posterior, self.prior)
            except NotImplementedError:
                pass  # no registered closed form: fall back to the sample estimate
        if z is None:
            raise TfgenUsageError("a Monte-Carlo KL estimate needs the latent sample z")
        return posterior.log_prob(z) - self.prior.log_prob(z)

    def _noise(self, batch, seed, step, salt):
        uniform = distribute.replica_uniform(
            batch, list(self.image_shape), seed, step, salt=salt + SALT_BINARIZE
        )
        eps = distribute.replica_normal(
            batch, [self.latent_dim], seed, step, salt=salt + SALT_LATENT
        )
        return uniform, eps

    def _elbo_terms(self, images, uniform, eps, training=False, analytic_kl=None):
        """Per-image (log p(x|z), KL) for the latent z = loc + scale * eps."""
        posterior = self.encode(images, training=training)
        z = posterior.loc + posterior.stddev() * eps  # reparameterized: gradients flow to q
        targets = self.likelihood_targets(images, uniform)
        log_likelihood = self.decode(z, training=training).log_prob(targets)
        return log_likelihood, self.kl_divergence(posterior, z, analytic=analytic_kl)

    def elbo(self, images, seed=None, step=0, analytic_kl=None):
        """The single-sample ELBO log p(x|z) - KL(q(z|x) || p(z)) in nats, per image.

        Args:
            images: float tensor in [-1, 1] of shape `(batch, *image_shape)`.
            seed: int or None. Seed of the binarization and latent noise; the model's seed
                when None. The same (seed, step) gives the same noise as
                `tfgen.evaluation.likelihood.iwae_log_weights(..., k=1)`.
            step: int. Second half of the stateless seed.
            analytic_kl: bool or None. Override the model's `analytic_kl`; False gives the
                one-sample estimate log p(x|z) + log p(z) - log q(z|x).
        """
        images = self.check_images(images)
        seed = self.seed if seed is None else seed
        uniform, eps = self._noise(tf.shape(images)[0], seed, step, salt=0)
        log_likelihood, kl = self._elbo_terms(images, uniform, eps, analytic_kl=analytic_kl)
        return log_likelihood - kl

    def kl_weight(self, step):
        """beta, ramped up linearly over the first `kl_warmup_steps` optimizer steps."""
        if self.kl_warmup_steps == 0:
            return tf.constant(self.beta, tf.float32)
        ramp = tf.cast(step + 1, tf.float32) / float(self.kl_warmup_steps)
        return self.beta * tf.minimum(1.0, ramp)

    # Keras API.

    def compile(self, optimizer=None, **kwargs):
        """`keras.Model.compile`, and the optimizer's slots built now (in the strategy scope).

        The optimizer defaults to Adam(1e-3) (`tfgen.optimizers.FusedAdam`), the Keras VAE
        example's choice, instead of Keras' RMSprop. Slots first created inside the traced
        `train_step` make `fit` trace it twice.
        """
        super().compile(optimizer=FusedAdam(1e-3) if optimizer is None else optimizer, **kwargs)
        if self.optimizer is not None:
            self.optimizer.build(self.trainable_variables)

    def call(self, inputs, training=False):
        """Reconstructs images in [-1, 1] from the posterior mean (deterministic)."""
        posterior = self.encode(inputs, training=training)
        return self._mean_image(self._decode_params(posterior.loc, training=training))

    @property
    def metrics(self):
        return [self.loss_tracker, self.reconstruction_tracker, self.kl_tracker, self.elbo_tracker]

    def _update_metrics(self, loss, log_likelihood, kl):
        self.loss_tracker.update_state(loss)
        self.reconstruction_tracker.update_state(log_likelihood)
        self.kl_tracker.update_state(kl)
        self.elbo_tracker.update_state(log_likelihood - kl)
        return distribute.fit_logs({m.name: m.result() for m in self.metrics})

    @staticmethod
    def _unpack(data):
        # Labels (from load(..., with_labels=True)) are ignored.
        return data[0] if isinstance(data, (tuple, list)) else data

    def train_step(self, data):
        images = self.check_images(self._unpack(data))
        step = self.optimizer.iterations
        uniform, eps = self._noise(tf.shape(images)[0], self.seed, step, salt=0)
        with tf.GradientTape() as tape:
            log_likelihood, kl = self._elbo_terms(images, uniform, eps, training=True)
            per_image_loss = -(log_likelihood - self.kl_weight(step) * kl)
            # Mean over the global batch, so summed replica gradients are the global mean.
            loss = distribute.global_mean(per_image_loss)
        precision.apply_loss_gradients(tape, loss, (self.optimizer, self.trainable_weights))
        return self._update_metrics(per_image_loss, log_likelihood, kl)

    def test_step(self, data):
        images = self.check_images(self._unpack(data))
        step = self.optimizer.iterations if self.optimizer is not None else 0
        uniform, eps = self._noise(tf.shape(images)[0], self.seed, step, salt=SALT_TEST)
        log_likelihood, kl = self._elbo_terms(images, uniform, eps)
        per_image_loss = -(log_likelihood - self.kl_weight(step) * kl)
        return self._update_metrics(per_image_loss, log_likelihood, kl)

    # Inference helpers.

    def reconstruct(self, images, mode="mean", seed=None):
        """Encodes and decodes images; returns images in [-1, 1].

        Args:
            images: float tensor in [-1, 1] of shape `(batch, *image_shape)`.
            mode: str. `"mean"` decodes the posterior mean and returns the likelihood's mean
                (deterministic); `"sample"` samples z from q(z|x) and the image from p(x|z).
            seed: int or None. Seed for `mode="sample"`; the model's seed when None.
        """
        self._check_mode(mode)
        if mode == "mean":
            return self(images)
        images = self.check_images(images)
        seed = self.seed if seed is None else int(seed)
        posterior = self.encode(images)
        z = posterior.sample(seed=tf.constant([seed, 1], tf.int32))
        return self._sample_image(self._decode_params(z), tf.constant([seed, 2], tf.int32))

    def generate(self, n=None, z=None, seed=None, mode="mean"):
        """Generates images in [-1, 1] from the prior (or from given latents).

        Args:
            n: int or None. Number of images; latents are drawn from the standard normal prior.
            z: array or None. Latents of shape `(batch, latent_dim)`; pass `n` or `z`.
            seed: int or None. Seed of the latent (and pixel) draws. When None the model's seed
                combined with a call counter is used, so repeated calls give new images and a
                fresh process repeats them.
            mode: str. `"mean"` returns the likelihood's mean image, `"sample"` a sample of it.
        """
        self._check_mode(mode)
        if (n is None) == (z is None):
            raise TfgenUsageError("pass exactly one of n (number of images) or z (latents)")
        if seed is None:
            seed = self.seed * 1_000_003 + self._generate_calls
            self._generate_calls += 1
        seed = int(seed) % (2**31 - 1)
        if z is None:
            if int(n) < 1:
                raise TfgenUsageError(f"n must be a positive number of images, got {n!r}")
            z = tf.random.stateless_normal([int(n), self.latent_dim], seed=[seed, 3])
        params = self._decode_params(z)
        if mode == "mean":
            return self._mean_image(params)
        return self._sample_image(params, tf.constant([seed, 4], tf.int32))

    @staticmethod
    def _check_mode(mode):
        if mode not in ("mean", "sample"):
            raise TfgenUsageError(f"mode must be 'mean' or 'sample', got {mode!r}")

    # Serialization.

    def get_config(self):
        config = super().get_config()
        config.update(
            image_shape=list(self.image_shape),
            latent_dim=self.latent_dim,
            likelihood=self.likelihood,
            beta=self.beta,
            kl_warmup_steps=self.kl_warmup_steps,
            width=self.width,
            activation=self.activation,
            analytic_kl=self.analytic_kl,
            seed=self.seed,
            encoder=keras.layers.serialize(self.encoder),
            decoder=keras.layers.serialize(self.decoder),
        )
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for key in ("encoder", "decoder"):
            if isinstance(config.get(key), dict):
                config[key] = keras.layers.deserialize(config[key])
        return cls(**config)
