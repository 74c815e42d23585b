"""Shared base for the GANs: two optimizers, loss pairs, seeded noise, sampling, serialization.

Subclasses build their networks and write `train_step`; the base keeps what every GAN shares,
so a new GAN is its networks plus its update rule.
"""

import keras
import numpy as np
import tensorflow as tf

from tfgen import augment as augment_lib
from tfgen import distribute, inference, losses, precision
from tfgen.errors import TfgenUsageError
from tfgen.models.contract import TrainingContract
from tfgen.optimizers import FusedAdam


def default_adam(learning_rate=2e-4, beta_1=0.5, beta_2=0.999):
    return FusedAdam(learning_rate=learning_rate, beta_1=beta_1, beta_2=beta_2)


def check_ema(ema):
    """`ema` as a float decay in (0, 1), or None; anything else is a usage error."""
    if ema is None:
        return None
    try:
        value = float(ema)
    except (TypeError, ValueError):
        value = float("nan")
    if not 0.0 < value < 1.0:
        raise TfgenUsageError(
            f"ema is the decay of the generator's moving average, in (0, 1), e.g. 0.999; got {ema!r}"
        )
    return value


def copy_network(network):
    """A new network of `network`'s architecture holding its weights now."""
    copy = keras.models.clone_model(network)
    copy.set_weights(network.get_weights())
    return copy


def make_ema_generator(generator):
    """A non-trainable copy of `generator` (same architecture, same weights now)."""
    copy = copy_network(generator)
    copy.trainable = False
    return copy


def move_average(average_model, model, ema, step):
    """One EMA step of `average_model`'s weights toward `model`'s, at decay
    min(ema, (1+step)/(10+step)) (warmed up, so early averages are not stuck at the start).

    Per-variable assigns of identical values on every replica, so it runs inside the replica
    context of a `tf.distribute` strategy. Non-trainable state (BatchNorm moving statistics) is
    copied, since it belongs to the raw weights it was measured with.
    """
    step = tf.cast(step, tf.float32)
    decay = tf.minimum(tf.constant(ema, tf.float32), (1.0 + step) / (10.0 + step))
    for average, weight in zip(average_model.weights, model.weights):
        value = tf.cast(weight, average.dtype)
        if weight.trainable:
            value = average + (1.0 - tf.cast(decay, average.dtype)) * (value - average)
        average.assign(value)


def unpack_images(data):
    """The images of a batch that may be `x`, `(x,)`, `(x, y)` or `(x, y, sample_weight)`."""
    if isinstance(data, (tuple, list)):
        return data[0]
    return data


class GAN(TrainingContract, distribute.NoDataPeek, keras.Model):
    """Base class: a generator, a discriminator and one optimizer for each.

    Args:
        generator: keras.Model. Maps latent vectors `[B, latent_dim]` to images in [-1, 1].
        discriminator: keras.Model. Maps images to logits.
        seed: int. Seeds the training noise; replicas draw different noise from it.
        ema: None or float in (0, 1). Keeps `ema_generator`, an exponential moving average of
            the generator's weights (decay `ema`, warmed up as min(ema, (1+t)/(10+t)) over
            generator step t), used for sampling, evaluation and export. None (default): no
            average, sampling uses the generator itself.
        augment: None, `"diffaugment"` or `"ada"`. Differentiable augmentation of every image
            the discriminator sees (real and generated, also in the generator's pass), see
            `tfgen.augment`. None (default): no augmentation.
        ada_target: float. ADA's target for r_t = E[sign(D(x_real))]. Defaults to 0.6.
        ada_interval: int. ADA adjusts p every this many steps. Defaults to 4.
        ada_speed_images: int. Real images over which ADA's p can go from 0 to 1. Defaults to
            500,000.
        augment_transforms: sequence of `"color"`, `"translation"`, `"cutout"`. Defaults to all
            three (DiffAugment's policy); ADA's paper uses no cutout.
        r1_gamma: float. Weight of the R1 penalty gamma/2 E||grad_x D(x_real)||^2 added to the
            discriminator's loss (Mescheder et al. 2018). 0 (default): off.
    """

    default_g_optimizer = staticmethod(default_adam)
    default_d_optimizer = staticmethod(default_adam)
    default_loss = "non_saturating"
    # Logged metrics; their trackers are made in `compile`, inside the strategy scope, because
    # variables created lazily inside a replica's train_step break MirroredStrategy.
    metric_names = ()
    # The training job's contract (tfgen.models.contract): images from noise, with an EMA
    # (`train_step` calls `update_ema` after its generator update).
    supports_ema = True
    optimizer_slots = ("g_optimizer", "d_optimizer")

    def __init__(
        self,
        generator,
        discriminator,
        seed=0,
        ema=None,
        augment=None,
        ada_target=0.6,
        ada_interval=4,
        ada_speed_images=500_000,
        augment_transforms=augment_lib.TRANSFORMS,
        r1_gamma=0.0,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.generator = generator
        self.discriminator = discriminator
        self.seed = int(seed)
        self.augmenter = augment_lib.get(
            augment,
            ada_target,
            ada_interval,
            ada_speed_images,
            seed=self.seed,
            transforms=tuple(augment_transforms),
        )
        self.r1_gamma = float(r1_gamma or 0.0)
        if self.r1_gamma < 0:
            raise TfgenUsageError(f"r1_gamma must be >= 0, got {r1_gamma}")
        self.ema = check_ema(ema)
        if self.ema is not None and not self.supports_ema:
            raise TfgenUsageError(f"{type(self).__name__} keeps no generator EMA; drop ema")
        if self.ema is not None:
            self.ema_generator = make_ema_generator(generator)
        self.latent_dim = int(generator.inputs[0].shape[-1])
        self.image_shape = tuple(int(d) for d in generator.outputs[0].shape[1:])
        self.loss_name = None
        self.trackers = {}
        self.built = True  # the sub-networks are built; there is no `call` to trace

    # ----------------------------------------------------------------- compile
    def compile(
        self,
        g_optimizer=None,
        d_optimizer=None,
        loss=None,
        steps_per_execution=1,
        jit_compile="auto",
        run_eagerly=False,
        **kwargs,
    ):
        """Configures the model for training.

        Args:
            g_optimizer: keras optimizer for the generator. Defaults to the model's default
                (Adam(2e-4, beta_1=0.5) for DCGAN).
            d_optimizer: keras optimizer for the discriminator. Same default.
            loss: str. One of `tfgen.losses.LOSSES`. Defaults to the model's default.
            steps_per_execution: int. Training steps run per call into the graph.
            jit_compile: bool or "auto". XLA compilation of the train step. "auto" turns it on
                where it works (see `tfgen.distribute.xla_supported`).
        """
        if jit_compile == "auto":
            jit_compile = distribute.xla_supported()
        super().compile(
            optimizer=None,
            steps_per_execution=steps_per_execution,
            jit_compile=jit_compile,
            run_eagerly=run_eagerly,
            **kwargs,
        )
        # float16 layers need loss scaling, which a custom compile does not get from Keras.
        nets = (self.generator, self.discriminator)
        self.g_optimizer = precision.loss_scaled(g_optimizer or self.default_g_optimizer(), *nets)
        self.d_optimizer = precision.loss_scaled(d_optimizer or self.default_d_optimizer(), *nets)
        self.loss_name = loss or self.default_loss
        self.generator_loss, self.discriminator_loss = losses.get(self.loss_name)
        # Build optimizer slots now (inside the strategy scope when there is one), so Keras
        # never tries to build this call-less model symbolically, and saved optimizer state
        # has variables to load into.
        self.g_optimizer.build(self.generator.trainable_variables)
        self.d_optimizer.build(self.discriminator.trainable_variables)
        self._compile_args = dict(steps_per_execution=steps_per_execution, jit_compile=jit_compile)
        for name in (*self.metric_names, *(("r1",) if self.r1_gamma else ())):
            self.tracker(name)

    def get_compile_config(self):
        if self.loss_name is None:
            return None
        return {
            "g_optimizer": keras.optimizers.serialize(self.g_optimizer),
            "d_optimizer": keras.optimizers.serialize(self.d_optimizer),
            "loss": self.loss_name,
            **getattr(self, "_compile_args", {}),
        }

    def compile_from_config(self, config):
        config = dict(config)
        config["g_optimizer"] = keras.optimizers.deserialize(config["g_optimizer"])
        config["d_optimizer"] = keras.optimizers.deserialize(config["d_optimizer"])
        self.compile(**config)

    # ----------------------------------------------------------------- metrics
    def tracker(self, name):
        """A `keras.metrics.Mean` logged as `name`, created on first use."""
        if name not in self.trackers:
            self.trackers[name] = keras.metrics.Mean(name=name)
        return self.trackers[name]

    @property
    def metrics(self):
        return list(self.trackers.values())

    def update_trackers(self, values):
        for name, value in values.items():
            self.tracker(name).update_state(value)
        return distribute.fit_logs({name: self.tracker(name).result() for name in values})

    # ----------------------------------------------------------------- noise
    @property
    def step(self):
        """Generator updates so far: the clock that seeds each step's noise."""
        return self.g_optimizer.iterations

    def training_noise(self, batch_size, salt):
        """Latent vectors for this replica's share of the global batch at this step."""
        return distribute.replica_normal(
            batch_size, [self.latent_dim], self.seed, self.step, salt=salt
        )

    def latent_noise(self, n, seed=None):
        """`n` latent vectors; the same `seed` always gives the same vectors."""
        if seed is None:
            seed = np.random.randint(0, 2**31 - 1)
        return tf.random.stateless_normal([int(n), self.latent_dim], seed=[int(seed), 1])

    # ----------------------------------------------------------------- checks
    def check_images(self, images):
        shape = tuple(images.shape[1:])
        if None not in shape and shape != self.image_shape:
            size, _, channels = self.image_shape
            raise TfgenUsageError(
                f"expected images of shape {self.image_shape}, got {shape}; load the data with "
                f"image_size={size}, channels={channels} or build the model for image_shape={shape}"
            )

    def check_latent(self, z):
        z = tf.convert_to_tensor(z, tf.float32)
        if z.shape.rank != 2 or z.shape[-1] != self.latent_dim:
            raise TfgenUsageError(
                f"latent vectors must have shape [n, {self.latent_dim}], got {list(z.shape)}"
            )
        return z

    # ----------------------------------------------------------------- regularizers
    def augment_pair(self, real, fake, salt=0):
        """Real and generated images as the discriminator sees them (augmented when enabled).

        Both get the same pipeline with their own random draws; differentiable, so call it in
        the generator's pass too. `salt` separates several calls in one step.
        """
        return self.augment_images(real, 2 * salt + 1), self.augment_images(fake, 2 * salt + 2)

    def augment_images(self, images, salt):
        """One batch as the discriminator sees it; `salt` picks this batch's random draws."""
        if self.augmenter is None:
            return images
        return self.augmenter(images, step=self.step, salt=salt)

    def augment_update(self, real_logits, midpoint=None):
        """ADA's p update from D's outputs on (augmented) reals; returns its metrics, or {}.

        `midpoint`: D's decision boundary; defaults to the loss's (0 for logits, 0.5 for least
        squares), so r_t = E[sign(D(x) - midpoint)] measures over-fitting under every loss.
        """
        if self.augmenter is None:
            return {}
        if midpoint is None:
            midpoint = augment_lib.decision_midpoint(self.loss_name)
        # Shaped like the trackers' logs ([1] under multi-worker, tensorflow#72388).
        return distribute.fit_logs(self.augmenter.update(real_logits, midpoint))

    def r1_loss(self, real, critic=None):
        """(gamma/2 R1 over the global batch, this replica's mean R1 for the metric), or None.

        Call inside the discriminator's tape; `real` is what D sees (augmented when enabled).
        `critic` maps images to logits (default: the discriminator in training mode).
        """
        if not self.r1_gamma:
            return None
        if critic is None:

            def critic(x):
                return self.discriminator(x, training=True)

        per_example = losses.r1_penalty(critic, real)
        return 0.5 * self.r1_gamma * distribute.global_mean(per_example), tf.reduce_mean(
            per_example
        )

    def _regularizer_config(self):
        config = {}
        if self.augmenter is not None:
            config.update(self.augmenter.model_options())
        if self.r1_gamma:
            config["r1_gamma"] = self.r1_gamma
        return config

    # ----------------------------------------------------------------- sampling
    @property
    def sampling_generator(self):
        """The generator that samples, evaluates and exports: the EMA copy when enabled."""
        return self.ema_generator if self.ema is not None else self.generator

    def update_ema(self):
        """Moves `ema_generator` toward the generator (`move_average`); call after each
        generator update."""
        if self.ema is not None:
            move_average(self.ema_generator, self.generator, self.ema, self.g_optimizer.iterations)

    def generate(self, n=None, z=None, seed=None, batch_size=256, use_ema=True):
        """Generates images in [-1, 1] as a float32 numpy array [n, H, W, C].

        Args:
            n: int. Number of images (ignored when `z` is given).
            z: array [n, latent_dim]. Latent vectors to decode.
            seed: int. Seed for the latent vectors; the same seed gives the same images.
            use_ema: bool. Sample from the EMA generator when the model keeps one (default);
                False samples from the raw generator.
        """
        if z is None:
            if n is None or int(n) < 1:
                raise TfgenUsageError(f"generate needs n >= 1 or latent vectors z, got n={n!r}")
            z = self.latent_noise(n, seed)
        z = self.check_latent(z)
        generator = self.sampling_generator if use_ema else self.generator
        return inference.run(generator, z, batch_size)

    # ----------------------------------------------------------------- config
    def get_config(self):
        return {
            "generator": keras.layers.serialize(self.generator),
            "discriminator": keras.layers.serialize(self.discriminator),
            "seed": self.seed,
            **({"ema": self.ema} if self.ema is not None else {}),
            **self._regularizer_config(),
            "name": self.name,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for key in ("generator", "discriminator"):
            if isinstance(config.get(key), dict):
                config[key] = keras.layers.deserialize(config[key])
        return cls(**config)
