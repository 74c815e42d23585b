"""CycleGAN (Zhu et al. 2017, https://arxiv.org/abs/1703.10593): unpaired image-to-image
translation with two generators, two PatchGAN discriminators and a cycle-consistency loss.
"""

# Over 500 lines as one unit: it is the one Keras Model class (four networks, their four
# optimizers, losses, augmentation and config share its state); its history pool, schedule
# and translation grid live in networks/, optimizers.py and training/callbacks.py.

import keras
import numpy as np
import tensorflow as tf

from tfgen import augment as augment_lib
from tfgen import distribute, inference, io, losses, precision
from tfgen.errors import TfgenUsageError
from tfgen.models.contract import TrainingContract
from tfgen.models.gan import check_ema, make_ema_generator, move_average
from tfgen.networks.history_pool import HistoryPool
from tfgen.networks.patchgan import build_patchgan
from tfgen.networks.resnet import build_resnet_generator
from tfgen.optimizers import FusedAdam, LinearDecay
from tfgen.registry import register_model

DIRECTIONS = ("a2b", "b2a")
# Salts keep the two pools' random streams apart while both derive from (seed, step).
SALT_POOL_A = 11
SALT_POOL_B = 12
# Augmentation salts per domain (see `CycleGAN.augment_images`): real and pooled fakes in the
# discriminator's update, this step's fakes in the generators' adversarial term.
SALTS_AUGMENT = {"a": {"real": 1, "pooled": 2, "fake": 3}, "b": {"real": 4, "pooled": 5, "fake": 6}}


def default_optimizer(learning_rate=2e-4, total_steps=None, decay_start=0.5):
    """Adam(2e-4, beta_1=0.5) as in the paper; linear decay when the run's length is known."""
    if total_steps:
        learning_rate = LinearDecay(learning_rate, total_steps, decay_start)
    return FusedAdam(learning_rate=learning_rate, beta_1=0.5, beta_2=0.999)


def _as_images(x, name):
    """Numpy/tensor images -> float32 [-1, 1]; uint8 is scaled from [0, 255]."""
    x = np.asarray(x)
    if x.dtype == np.uint8:
        return io.from_uint8(x)
    if not np.issubdtype(x.dtype, np.floating):
        raise TfgenUsageError(f"{name} must be uint8 or float images, got dtype {x.dtype}")
    return x.astype(np.float32)


@register_model("cyclegan")
class CycleGAN(TrainingContract, distribute.NoDataPeek, keras.Model):
    """CycleGAN: generators G: A -> B and F: B -> A, discriminators D_A and D_B.

    Generators minimise `adversarial_weight * adv + cycle_weight * (|F(G(a)) - a| +
    |G(F(b)) - b|) + identity_weight * (|G(b) - b| + |F(a) - a|)`; discriminators are trained
    on real images and on fakes drawn from a 50-image history pool per direction. One
    `train_step` computes both players' gradients in one pass: the generators' against the
    current discriminators, the discriminators' on the detached fakes of that pass, which is
    what the reference implementation's "update G, then D on the same fakes" computes.

    Train on batches `(images_a, images_b)` (`tfgen.data.load_unpaired`). The
    identity term keeps colours when the true mapping leaves most of an image alone
    (photo -> painting); turn it off (`identity_weight=0`) where the mapping changes every
    pixel, such as colour inversion, where it would pull G towards the identity.

    Args:
        image_shape: tuple. `(H, W, C)` of domain A. Defaults to (28, 28, 1).
        image_shape_b: tuple or None. `(H, W, C)` of domain B (same H, W); None = A's.
        g_width: int. Generator width (channels of its first conv). Defaults to 64.
        d_width: int. Discriminator width. Defaults to 64.
        n_residual_blocks: int or None. None: 9 for 256 px, 6 for 64-128 px, 3 below.
        n_downsamples: int. Generator down-samplings. Defaults to 2.
        d_downsamples: int or None. PatchGAN stride-2 convs; None: 3 for >= 128 px, else 2.
        cycle_weight: float. lambda of the cycle loss. Defaults to 10.
        identity_weight: float or None. Weight of the identity loss; None = 0.5 *
            cycle_weight (the paper's 0.5 lambda); 0 turns it off (and skips its passes).
        adversarial_weight: float. Weight of each generator's adversarial term. Defaults to
            2.0: `tfgen.losses.least_squares_generator_loss` is 0.5 (D(G(x)) - 1)^2, and the
            paper minimises (D(G(x)) - 1)^2 beside 10 x the cycle loss.
        pool_size: int. History pool size per direction; 0 turns the pools off. Defaults to 50.
        generator_a2b, generator_b2a, discriminator_a, discriminator_b: keras.Model. Custom
            networks that replace the built ones.
        seed: int. Seeds the pools' and the augmentations' draws; replicas draw differently.
        augment: None, `"diffaugment"` or `"ada"`. Differentiable augmentation (see
            `tfgen.augment`) of every image a discriminator sees, real, pooled and generated,
            in the discriminators' update and in the generators' adversarial terms (gradients
            flow through it to the generators); the cycle and identity losses see raw images.
            Each discriminator has its own augmenter (`augmenter_a` for D_A, `augmenter_b` for
            D_B): with ADA each domain's p follows its own D's over-fitting, logged as
            `ada_p_a`, `ada_rt_a`, `ada_p_b`, `ada_rt_b`. None (default): no augmentation.
        ada_target: float. ADA's target for r_t = E[sign(D(x_real) - midpoint)], the midpoint
            being 0.5 for the least-squares loss (labels 1 and 0), else 0. Defaults to 0.6.
        ada_interval: int. ADA adjusts p every this many steps. Defaults to 4.
        ada_speed_images: int. Real images of one domain over which its p can go from 0 to 1.
            Defaults to 500,000.
        augment_transforms: sequence of `"color"`, `"translation"`, `"cutout"`. Defaults to all
            three.
        r1_gamma: float. Weight of the R1 penalty gamma/2 E||grad_x D(x_real)||^2 added to each
            discriminator's loss (on the images it sees), logged as `r1_a`, `r1_b`. 0
            (default): off.
        ema: None or float in (0, 1). Keeps `ema_generator_a2b` and `ema_generator_b2a`,
            moving averages of the two generators (as `GAN`'s `ema`), which translate,
            evaluate and are exported; `translate(..., use_ema=False)` reaches the raw ones.
    """

    default_loss = "least_squares"

    def __init__(
        self,
        image_shape=(28, 28, 1),
        image_shape_b=None,
        g_width=64,
        d_width=64,
        n_residual_blocks=None,
        n_downsamples=2,
        d_downsamples=None,
        cycle_weight=10.0,
        identity_weight=None,
        adversarial_weight=2.0,
        pool_size=50,
        generator_a2b=None,
        generator_b2a=None,
        discriminator_a=None,
        discriminator_b=None,
        seed=0,
        augment=None,
        ada_target=0.6,
        ada_interval=4,
        ada_speed_images=500_000,
        augment_transforms=augment_lib.TRANSFORMS,
        r1_gamma=0.0,
        ema=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        shape_a = tuple(int(d) for d in image_shape)
        shape_b = shape_a if image_shape_b is None else tuple(int(d) for d in image_shape_b)
        if len(shape_a) != 3 or len(shape_b) != 3 or shape_a[:2] != shape_b[:2]:
            raise TfgenUsageError(
                f"domains must be (H, W, C) images of one size, got {shape_a} and {shape_b}; "
                "load both with the same image_size"
            )
        gen_options = dict(
            width=g_width, n_residual_blocks=n_residual_blocks, n_downsamples=n_downsamples
        )
        self.generator_a2b = generator_a2b or build_resnet_generator(
            shape_a, shape_b[-1], name="generator_a2b", **gen_options
        )
        self.generator_b2a = generator_b2a or build_resnet_generator(
            shape_b, shape_a[-1], name="generator_b2a", **gen_options
        )
        self.discriminator_a = discriminator_a or build_patchgan(
            shape_a, d_width, d_downsamples, name="discriminator_a"
        )
        self.discriminator_b = discriminator_b or build_patchgan(
            shape_b, d_width, d_downsamples, name="discriminator_b"
        )
        self.image_shape = tuple(int(d) for d in self.generator_a2b.inputs[0].shape[1:])
        self.image_shape_b = tuple(int(d) for d in self.generator_b2a.inputs[0].shape[1:])
        self.g_width = g_width
        self.d_width = d_width
        self.n_residual_blocks = n_residual_blocks
        self.n_downsamples = n_downsamples
        self.d_downsamples = d_downsamples
        self.cycle_weight = float(cycle_weight)
        self.identity_weight = (
            0.5 * self.cycle_weight if identity_weight is None else float(identity_weight)
        )
        self.adversarial_weight = float(adversarial_weight)
        self.pool_size = int(pool_size)
        self.seed = int(seed)
        # Pool A holds fakes of domain A (from G_b2a) for D_A; pool B those of B for D_B.
        self.pool_a = HistoryPool(self.image_shape, self.pool_size, name="pool_a")
        self.pool_b = HistoryPool(self.image_shape_b, self.pool_size, name="pool_b")
        # One augmenter per discriminator: the domains can over-fit at different rates.
        if isinstance(augment, augment_lib.Augmenter):
            raise TfgenUsageError(
                "CycleGAN builds one augmenter per discriminator; pass augment='diffaugment' or "
                "'ada' (and ada_* options) instead of an Augmenter"
            )
        augment_options = dict(
            target=ada_target,
            interval=ada_interval,
            speed_images=ada_speed_images,
            seed=self.seed,
            transforms=tuple(augment_transforms),
        )
        self.augmenter_a = augment_lib.get(augment, name=f"augment_{augment}_a", **augment_options)
        self.augmenter_b = augment_lib.get(augment, name=f"augment_{augment}_b", **augment_options)
        self.r1_gamma = float(r1_gamma or 0.0)
        if self.r1_gamma < 0:
            raise TfgenUsageError(f"r1_gamma must be >= 0, got {r1_gamma}")
        self.ema = check_ema(ema)
        if self.ema is not None:
            self.ema_generator_a2b = make_ema_generator(self.generator_a2b)
            self.ema_generator_b2a = make_ema_generator(self.generator_b2a)
        self.loss_name = None
        self.trackers = {}
        # Create every tracker now: a metric variable first created inside the traced
        # train_step breaks tf.function's variable lifting under MirroredStrategy.
        for name in self.metric_names:
            self.tracker(name)
        self.built = True  # the sub-networks are built; there is no `call` to trace

    @property
    def metric_names(self):
        """The losses logged per direction (identity only when its weight is not 0)."""
        parts = ("adversarial", "cycle", "identity", "discriminator")
        if self.identity_weight == 0:
            parts = ("adversarial", "cycle", "discriminator")
        names = ["g_loss"] + [f"{d}_{part}" for d in DIRECTIONS for part in parts]
        return names + (["r1_a", "r1_b"] if self.r1_gamma else [])

    # ----------------------------------------------------------------- compile
    @property
    def optimizers(self):
        """The four optimizers, keyed by the network each one updates."""
        return {
            "generator_a2b": self.g_a2b_optimizer,
            "generator_b2a": self.g_b2a_optimizer,
            "discriminator_a": self.d_a_optimizer,
            "discriminator_b": self.d_b_optimizer,
        }

    def compile(
        self,
        g_a2b_optimizer=None,
        g_b2a_optimizer=None,
        d_a_optimizer=None,
        d_b_optimizer=None,
        loss=None,
        learning_rate=2e-4,
        total_steps=None,
        decay_start=0.5,
        steps_per_execution=1,
        jit_compile="auto",
        run_eagerly=False,
        **kwargs,
    ):
        """Configures the model for training.

        Args:
            g_a2b_optimizer, g_b2a_optimizer, d_a_optimizer, d_b_optimizer: keras optimizers,
                one per network. Each defaults to Adam(learning_rate, beta_1=0.5), with the
                `LinearDecay` schedule when `total_steps` is given.
            loss: str. One of `tfgen.losses.LOSSES`. Defaults to "least_squares" (the paper).
            learning_rate: float. Initial rate of the default optimizers. Defaults to 2e-4.
            total_steps: int or None. The run's length, over which the default optimizers'
                rate decays to 0 (`tfgen train` passes it); None keeps it constant.
            decay_start: float. Share of the run at the constant rate. Defaults to 0.5.
            steps_per_execution: int. Training steps run per call into the graph.
            jit_compile: bool or "auto". "auto" uses XLA where it helps
                (`tfgen.distribute.xla_supported`).
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

        def make():
            return default_optimizer(learning_rate, total_steps, decay_start)

        # float16 layers need loss scaling, which a custom compile does not get from Keras.
        nets = (self.generator_a2b, self.generator_b2a, self.discriminator_a, self.discriminator_b)
        self.g_a2b_optimizer = precision.loss_scaled(g_a2b_optimizer or make(), *nets)
        self.g_b2a_optimizer = precision.loss_scaled(g_b2a_optimizer or make(), *nets)
        self.d_a_optimizer = precision.loss_scaled(d_a_optimizer or make(), *nets)
        self.d_b_optimizer = precision.loss_scaled(d_b_optimizer or make(), *nets)
        if len({id(o) for o in self.optimizers.values()}) < 4:
            raise TfgenUsageError(
                "CycleGAN needs four distinct optimizer objects (one per network); "
                "pass a new optimizer for each argument"
            )
        self.loss_name = loss or self.default_loss
        self.generator_loss, self.discriminator_loss = losses.get(self.loss_name)
        # Build the slots now (inside the strategy scope when there is one), as GAN does.
        for name, optimizer in self.optimizers.items():
            optimizer.build(getattr(self, name).trainable_variables)
        self._compile_args = dict(steps_per_execution=steps_per_execution, jit_compile=jit_compile)

    def get_compile_config(self):
        if self.loss_name is None:
            return None
        return {
            "g_a2b_optimizer": keras.optimizers.serialize(self.g_a2b_optimizer),
            "g_b2a_optimizer": keras.optimizers.serialize(self.g_b2a_optimizer),
            "d_a_optimizer": keras.optimizers.serialize(self.d_a_optimizer),
            "d_b_optimizer": keras.optimizers.serialize(self.d_b_optimizer),
            "loss": self.loss_name,
            **getattr(self, "_compile_args", {}),
        }

    def compile_from_config(self, config):
        config = dict(config)
        for key in ("g_a2b_optimizer", "g_b2a_optimizer", "d_a_optimizer", "d_b_optimizer"):
            config[key] = keras.optimizers.deserialize(config[key])
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

    # ----------------------------------------------------------------- checks
    def _domains(self, data):
        if not isinstance(data, (tuple, list)) or len(data) < 2 or data[1] is None:
            raise TfgenUsageError(
                "CycleGAN trains on batches (images_a, images_b); build the dataset with "
                "tfgen.data.load_unpaired(source_a, source_b)"
            )
        real_a, real_b = data[0], data[1]
        self.check_images(real_a, "a")
        self.check_images(real_b, "b")
        return tf.cast(real_a, tf.float32), tf.cast(real_b, tf.float32)

    def check_images(self, images, domain="a"):
        expected = self.image_shape if domain == "a" else self.image_shape_b
        shape = tuple(images.shape[1:])
        if len(shape) != 3 or (None not in shape and shape != expected):
            raise TfgenUsageError(
                f"expected domain {domain.upper()} images of shape {expected}, got {shape}; "
                f"load the data with image_size={expected[0]}, channels={expected[2]} or build "
                f"the model for these images"
            )

    # ----------------------------------------------------------------- augmentation
    def augmenter_for(self, domain):
        """The augmenter of the discriminator of `domain` ("a" or "b"), or None."""
        return self.augmenter_a if domain == "a" else self.augmenter_b

    def augment_images(self, images, domain, role="real"):
        """Images of `domain` as its discriminator sees them in training.

        Args:
            images: tensor [B, H, W, C] of domain `domain` ("a" or "b").
            role: "real", "pooled" (history-pool fakes, discriminator update) or "fake" (this
                step's fakes, generators' adversarial term): each gets its own random draws.

        Returns:
            The augmented images (the images themselves when augmentation is off).
        """
        augmenter = self.augmenter_for(domain)
        if augmenter is None:
            return images
        step = self.g_a2b_optimizer.iterations
        return augmenter(images, step=step, salt=SALTS_AUGMENT[domain][role])

    def augment_update(self, real_outputs):
        """ADA's p update of each discriminator from its outputs on the (augmented) reals.

        Args:
            real_outputs: dict `{"a": D_A(real_a), "b": D_B(real_b)}`.

        Returns:
            `{"ada_p_a", "ada_rt_a", "ada_p_b", "ada_rt_b"}` for ADA, {} otherwise.
        """
        logs = {}
        midpoint = augment_lib.decision_midpoint(self.loss_name)
        for domain in ("a", "b"):
            augmenter = self.augmenter_for(domain)
            if augmenter is None:
                continue
            stats = augmenter.update(real_outputs[domain], midpoint)
            logs.update({f"{name}_{domain}": value for name, value in stats.items()})
        # Shaped like the trackers' logs ([1] under multi-worker, tensorflow#72388).
        return distribute.fit_logs(logs)

    # ----------------------------------------------------------------- losses
    def _generator_losses(self, real_a, real_b, training):
        """Per-example generator losses, and the fakes `(fake_a, fake_b)` they came from.

        In training the adversarial terms judge augmented fakes (when augmentation is on); the
        cycle and identity terms always compare raw images.
        """
        g_a2b, g_b2a = self.generator_a2b, self.generator_b2a
        fake_b = g_a2b(real_a, training=training)
        fake_a = g_b2a(real_b, training=training)
        seen_b = self.augment_images(fake_b, "b", "fake") if training else fake_b
        seen_a = self.augment_images(fake_a, "a", "fake") if training else fake_a
        per_example = {
            "a2b_adversarial": self.generator_loss(self.discriminator_b(seen_b, training=training)),
            "b2a_adversarial": self.generator_loss(self.discriminator_a(seen_a, training=training)),
            "a2b_cycle": losses.cycle_consistency_loss(real_a, g_b2a(fake_b, training=training)),
            "b2a_cycle": losses.cycle_consistency_loss(real_b, g_a2b(fake_a, training=training)),
        }
        total = self.adversarial_weight * (
            per_example["a2b_adversarial"] + per_example["b2a_adversarial"]
        ) + self.cycle_weight * (per_example["a2b_cycle"] + per_example["b2a_cycle"])
        if self.identity_weight > 0:
            # Identity: each generator should leave images of its target domain alone.
            per_example["a2b_identity"] = losses.cycle_consistency_loss(
                real_b, g_a2b(real_b, training=training)
            )
            per_example["b2a_identity"] = losses.cycle_consistency_loss(
                real_a, g_b2a(real_a, training=training)
            )
            total += self.identity_weight * (
                per_example["a2b_identity"] + per_example["b2a_identity"]
            )
        per_example["g_loss"] = total
        return per_example, fake_a, fake_b

    def _discriminator_losses(self, real_a, real_b, fake_a, fake_b, training):
        """Per-example losses of D_B (judging A -> B) and D_A (judging B -> A).

        Returns:
            `(per_example, real_seen, real_outputs)`: the losses, and per domain ("a", "b")
            the real images its D saw (augmented in training when enabled) and D's outputs.
        """
        fake_a, fake_b = tf.stop_gradient(fake_a), tf.stop_gradient(fake_b)
        per_example, real_seen, real_outputs = {}, {}, {}
        for direction, domain, discriminator, real, fake in (
            ("a2b", "b", self.discriminator_b, real_b, fake_b),
            ("b2a", "a", self.discriminator_a, real_a, fake_a),
        ):
            if training:
                real = self.augment_images(real, domain, "real")
                fake = self.augment_images(fake, domain, "pooled")
            real_seen[domain] = real
            real_outputs[domain] = discriminator(real, training=training)
            per_example[f"{direction}_discriminator"] = self.discriminator_loss(
                real_outputs[domain], discriminator(fake, training=training)
            )
        return per_example, real_seen, real_outputs

    def _r1_losses(self, real_seen):
        """Per-example R1 of each discriminator at the reals it saw: `{"r1_a", "r1_b"}`."""
        per_example = {}
        for domain, discriminator in (("a", self.discriminator_a), ("b", self.discriminator_b)):

            def critic(x, discriminator=discriminator):
                return discriminator(x, training=True)

            per_example[f"r1_{domain}"] = losses.r1_penalty(critic, real_seen[domain])
        return per_example

    def train_step(self, data):
        real_a, real_b = self._domains(data)
        step = self.g_a2b_optimizer.iterations
        with tf.GradientTape(persistent=True) as tape:
            per_example, fake_a, fake_b = self._generator_losses(real_a, real_b, training=True)
            # D sees a mix of this step's fakes and older ones from the history pools.
            draws_a = distribute.replica_uniform(
                tf.shape(fake_a)[0], [2], self.seed, step, salt=SALT_POOL_A
            )
            draws_b = distribute.replica_uniform(
                tf.shape(fake_b)[0], [2], self.seed, step, salt=SALT_POOL_B
            )
            pooled_a = self.pool_a.query(tf.stop_gradient(fake_a), draws_a)
            pooled_b = self.pool_b.query(tf.stop_gradient(fake_b), draws_b)
            d_losses, real_seen, real_outputs = self._discriminator_losses(
                real_a, real_b, pooled_a, pooled_b, training=True
            )
            per_example.update(d_losses)
            g_loss = distribute.global_mean(per_example["g_loss"])
            d_a_loss = distribute.global_mean(per_example["b2a_discriminator"])
            d_b_loss = distribute.global_mean(per_example["a2b_discriminator"])
            if self.r1_gamma:
                per_example.update(self._r1_losses(real_seen))
                d_a_loss += 0.5 * self.r1_gamma * distribute.global_mean(per_example["r1_a"])
                d_b_loss += 0.5 * self.r1_gamma * distribute.global_mean(per_example["r1_b"])
            d_loss = d_a_loss + d_b_loss
        # One backward pass per player: g_loss for both generators at once, and the sum of
        # the D losses (D_A's loss does not depend on D_B's weights, and vice versa).
        for names, loss in (
            (("generator_a2b", "generator_b2a"), g_loss),
            (("discriminator_a", "discriminator_b"), d_loss),
        ):
            updates = [(self.optimizers[n], getattr(self, n).trainable_variables) for n in names]
            precision.apply_loss_gradients(tape, loss, *updates)
        del tape
        self.update_ema()
        ada = self.augment_update(real_outputs)
        logs = self.update_trackers({k: tf.reduce_mean(v) for k, v in per_example.items()})
        return {**logs, **ada}

    def test_step(self, data):
        real_a, real_b = self._domains(data)
        per_example, fake_a, fake_b = self._generator_losses(real_a, real_b, training=False)
        d_losses, _, _ = self._discriminator_losses(real_a, real_b, fake_a, fake_b, training=False)
        per_example.update(d_losses)
        return self.update_trackers({k: tf.reduce_mean(v) for k, v in per_example.items()})

    # ----------------------------------------------------------------- inference
    def update_ema(self):
        """Moves each EMA generator toward its generator; call after the generators' update."""
        if self.ema is None:
            return
        step = self.g_a2b_optimizer.iterations
        move_average(self.ema_generator_a2b, self.generator_a2b, self.ema, step)
        move_average(self.ema_generator_b2a, self.generator_b2a, self.ema, step)

    def generator_for(self, direction, use_ema=False):
        """The generator of `direction` ("a2b" or "b2a"); its EMA copy with `use_ema` when the
        model keeps one."""
        if direction not in DIRECTIONS:
            raise TfgenUsageError(f"direction must be 'a2b' or 'b2a', got {direction!r}")
        if use_ema and self.ema is not None:
            return getattr(self, f"ema_generator_{direction}")
        return getattr(self, f"generator_{direction}")

    def sampling_generator_for(self, direction):
        """The generator that translates, evaluates and exports `direction`: the EMA copy
        when the model keeps one."""
        return self.generator_for(direction, use_ema=True)

    def translate(self, x, direction="a2b", batch_size=256, use_ema=True):
        """Translates images to the other domain.

        Args:
            x: array [N, H, W, C]. float32 in [-1, 1], or uint8 in [0, 255]; [N, H, W] for
                one channel.
            direction: str. "a2b" (G: A -> B) or "b2a" (F: B -> A).
            batch_size: int. Images per forward pass.
            use_ema: bool. Translate with the EMA generator when the model keeps one (default);
                False uses the raw generator.

        Returns:
            float32 numpy array [N, H, W, C_out] in [-1, 1].
        """
        generator = self.generator_for(direction, use_ema)
        x = _as_images(x, "images")
        expected = tuple(int(d) for d in generator.inputs[0].shape[1:])
        if x.ndim == 3 and expected[-1] == 1:
            x = x[..., None]
        if x.ndim != 4 or tuple(x.shape[1:]) != expected:
            domain = direction[0].upper()
            raise TfgenUsageError(
                f"{direction} translates domain {domain} images of shape {expected}, got an "
                f"array of shape {x.shape}; pass an [N, {', '.join(map(str, expected))}] array"
            )
        if len(x) == 0:
            return np.zeros((0, *expected), np.float32)
        return inference.run(generator, x, batch_size)

    # ----------------------------------------------------------------- training job contract
    data_kind = "unpaired"  # (images_a, images_b) batches: --dataset and --dataset-b
    supports_ema = True  # of both generators: they translate, evaluate and export
    schedules_over_run = True  # compile takes the run's total_steps (linear decay to 0)
    optimizer_slots = ("g_a2b_optimizer", "g_b2a_optimizer", "d_a_optimizer", "d_b_optimizer")

    # ----------------------------------------------------------------- config
    def get_config(self):
        return {
            "image_shape": self.image_shape,
            "image_shape_b": self.image_shape_b,
            "g_width": self.g_width,
            "d_width": self.d_width,
            "n_residual_blocks": self.n_residual_blocks,
            "n_downsamples": self.n_downsamples,
            "d_downsamples": self.d_downsamples,
            "cycle_weight": self.cycle_weight,
            "identity_weight": self.identity_weight,
            "adversarial_weight": self.adversarial_weight,
            "pool_size": self.pool_size,
            "generator_a2b": keras.layers.serialize(self.generator_a2b),
            "generator_b2a": keras.layers.serialize(self.generator_b2a),
            "discriminator_a": keras.layers.serialize(self.discriminator_a),
            "discriminator_b": keras.layers.serialize(self.discriminator_b),
            "seed": self.seed,
            **self._regularizer_config(),
            **({"ema": self.ema} if self.ema is not None else {}),
            "name": self.name,
        }

    def _regularizer_config(self):
        """Augmentation and R1 options, only where set (a default model's config is unchanged)."""
        config = {}
        if self.augmenter_a is not None:  # both augmenters share their options
            config.update(self.augmenter_a.model_options())
        if self.r1_gamma:
            config["r1_gamma"] = self.r1_gamma
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for key in ("generator_a2b", "generator_b2a", "discriminator_a", "discriminator_b"):
            if isinstance(config.get(key), dict):
                config[key] = keras.layers.deserialize(config[key])
        return cls(**config)
