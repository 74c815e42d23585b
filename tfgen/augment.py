"""Differentiable augmentation of the discriminator's inputs: DiffAugment and ADA.

DiffAugment (Zhao et al. 2020, https://arxiv.org/abs/2006.10738) applies colour, translation
and cutout to every real and generated image the discriminator sees; ADA (Karras et al. 2020,
https://arxiv.org/abs/2006.06676) applies the same pipeline with a probability p tuned during
training from the over-fitting heuristic r_t = E[sign(D(x_real))].
"""

import keras
import tensorflow as tf

from tfgen import distribute
from tfgen.errors import TfgenUsageError
from tfgen.registry import serializable

MODES = ("diffaugment", "ada")
TRANSFORMS = ("color", "translation", "cutout")
# ADA's r_t counts reals on the real side of D's decision boundary: the midpoint of the loss's
# labels (1 and 0 for least squares), 0 for the logit losses. A Wasserstein critic has no fixed
# boundary (its outputs drift by an arbitrary offset): its models pass the batch's midpoint.
DECISION_MIDPOINTS = {"least_squares": 0.5}


def decision_midpoint(loss_name):
    """The discriminator output that separates "real" from "fake" under `loss_name`."""
    return DECISION_MIDPOINTS.get(loss_name, 0.0)


def _uniform(images, dims, seed, step, salt):
    """Per-sample uniform [0, 1) draws, different on each replica, repeatable from the seed."""
    return distribute.replica_uniform(tf.shape(images)[0], dims, seed, step, salt=salt)


def _apply_with_probability(images, augmented, p, seed, step, salt):
    """Keeps `augmented` for a random share p of the samples and `images` for the rest.

    `u < 0` is never true, so p = 0 returns `images` exactly.
    """
    keep = _uniform(images, [1, 1, 1], seed, step, salt) < tf.cast(p, tf.float32)
    return tf.where(keep, augmented, images)


def _shift(images, offsets, axis):
    """Shifts each image by its own integer offset along `axis` (1 rows, 2 columns), zero fill.

    A gather, so the gradient reaches the input pixels that stay in the frame.
    """
    size = tf.shape(images)[axis]
    source = tf.range(size)[None, :] - offsets[:, None]  # [B, size]: where each pixel comes from
    inside = (source >= 0) & (source < size)
    gathered = tf.gather(images, tf.clip_by_value(source, 0, size - 1), axis=axis, batch_dims=1)
    mask_shape = [-1, size, 1, 1] if axis == 1 else [-1, 1, size, 1]
    return gathered * tf.cast(tf.reshape(inside, mask_shape), images.dtype)


def augment(
    images,
    p=1.0,
    seed=0,
    step=0,
    salt=0,
    transforms=TRANSFORMS,
    translation_ratio=0.125,
    cutout_ratio=0.5,
):
    """Augments a batch of images in [-1, 1]: each transform hits a sample with probability p.

    Differentiable with respect to `images` (the generator trains through it). Random draws come
    from the stateless seed (seed, step, salt), so runs repeat and replicas differ.

    Args:
        images: tensor `[B, H, W, C]`, C 1 or 3.
        p: float or scalar tensor. Probability that each transform is applied to each sample.
            Defaults to 1 (DiffAugment).
        seed: int. The model's seed.
        step: int or scalar tensor. The training step (the clock of the draws).
        salt: int. Separates draws for different batches at one step (real, fake).
        transforms: sequence of names from `TRANSFORMS`.
        translation_ratio: float. Largest shift as a fraction of the image size. Defaults to 1/8.
        cutout_ratio: float. Side of the cut-out square as a fraction of the image size.
            Defaults to 1/2.

    Returns:
        The augmented images, same shape and dtype.
    """
    unknown = [t for t in transforms if t not in TRANSFORMS]
    if unknown:
        raise TfgenUsageError(
            f"unknown transform(s) {unknown}; choose from {', '.join(TRANSFORMS)}"
        )
    x = tf.convert_to_tensor(images)
    dtype = x.dtype
    x = tf.cast(x, tf.float32)
    height, width, channels = x.shape[1], x.shape[2], x.shape[3]
    salt = int(salt) * 16  # room for each transform's own draws

    def draw(dims, k):
        return _uniform(x, dims, seed, step, salt + k)

    def maybe(augmented, k):
        return _apply_with_probability(x, augmented, p, seed, step, salt + k)

    if "color" in transforms:
        # Brightness, saturation (RGB only) and contrast, as in DiffAugment.
        x = maybe(x + (draw([1, 1, 1], 0) - 0.5), 1)
        if channels != 1:
            mean = tf.reduce_mean(x, axis=3, keepdims=True)
            x = maybe((x - mean) * (draw([1, 1, 1], 2) * 2.0) + mean, 3)
        mean = tf.reduce_mean(x, axis=[1, 2, 3], keepdims=True)
        x = maybe((x - mean) * (draw([1, 1, 1], 4) + 0.5) + mean, 5)
    if "translation" in transforms:
        max_dy = int(height * translation_ratio + 0.5)
        max_dx = int(width * translation_ratio + 0.5)
        shifts = draw([2], 6)
        dy = tf.cast(tf.floor(shifts[:, 0] * (2 * max_dy + 1)), tf.int32) - max_dy
        dx = tf.cast(tf.floor(shifts[:, 1] * (2 * max_dx + 1)), tf.int32) - max_dx
        x = maybe(_shift(_shift(x, dy, axis=1), dx, axis=2), 7)
    if "cutout" in transforms:
        cut_h = int(height * cutout_ratio + 0.5)
        cut_w = int(width * cutout_ratio + 0.5)
        centres = draw([2], 8)
        cy = tf.floor(centres[:, 0] * (height + 1 - cut_h % 2))[:, None]
        cx = tf.floor(centres[:, 1] * (width + 1 - cut_w % 2))[:, None]
        rows = tf.range(height, dtype=tf.float32)[None, :]
        cols = tf.range(width, dtype=tf.float32)[None, :]
        top = cy - cut_h // 2
        left = cx - cut_w // 2
        out_rows = (rows < top) | (rows >= top + cut_h)  # [B, H]: rows outside the square
        out_cols = (cols < left) | (cols >= left + cut_w)
        keep = tf.logical_or(out_rows[:, :, None], out_cols[:, None, :])[..., None]
        x = maybe(x * tf.cast(keep, tf.float32), 9)
    return tf.cast(x, dtype)


def batch_midpoint(real_scores, fake_scores):
    """The mean of D's scores on reals and fakes over the global batch (all replicas).

    The decision boundary of a Wasserstein critic, whose outputs carry an arbitrary offset:
    r_t = E[sign(D(x) - midpoint)] then counts reals scored above the middle of the two sets.
    """
    scores = tf.concat(
        [tf.reshape(tf.cast(x, tf.float32), [-1]) for x in (real_scores, fake_scores)], 0
    )
    totals = _cross_replica_sum(
        tf.stack([tf.reduce_sum(scores), tf.cast(tf.size(scores), tf.float32)])
    )
    return totals[0] / tf.maximum(totals[1], 1.0)


def _cross_replica_sum(value):
    ctx = tf.distribute.get_replica_context()
    if ctx is None or tf.distribute.get_strategy().num_replicas_in_sync == 1:
        return value
    return ctx.all_reduce(tf.distribute.ReduceOp.SUM, value)


@serializable
class Augmenter(keras.layers.Layer):
    """DiffAugment (fixed p = 1) or ADA (adaptive p) for a GAN's discriminator inputs.

    The state (p, the last r_t and the running sign statistics) lives in non-trainable
    variables saved with the model, so a `.keras` round trip keeps p. Updates use statistics
    summed over replicas, so every replica computes the same p; the variables are aggregated
    `ONLY_FIRST_REPLICA`.

    Args:
        mode: str. `"diffaugment"` (p = 1 always) or `"ada"` (p starts at 0 and adapts).
        target: float. ADA's target for r_t = E[sign(D(x_real))]. Defaults to 0.6.
        interval: int. ADA adjusts p every `interval` discriminator steps. Defaults to 4.
        speed_images: int. Real images over which p can move from 0 to 1. Defaults to 500,000
            (the paper's).
        transforms: sequence of names from `TRANSFORMS`. Defaults to all three.
        seed: int. Seed of the random draws.
    """

    def __init__(
        self,
        mode="ada",
        target=0.6,
        interval=4,
        speed_images=500_000,
        transforms=TRANSFORMS,
        seed=0,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if mode not in MODES:
            raise TfgenUsageError(
                f"unknown augment mode {mode!r}; choose one of {', '.join(MODES)}"
            )
        if not 0.0 <= float(target) <= 1.0:
            raise TfgenUsageError(f"ada_target must be in [0, 1], got {target}")
        if int(interval) < 1:
            raise TfgenUsageError(f"ada_interval must be a positive integer, got {interval}")
        if float(speed_images) <= 0:
            raise TfgenUsageError(f"ada_speed_images must be positive, got {speed_images}")
        unknown = [t for t in transforms if t not in TRANSFORMS]
        if unknown:
            raise TfgenUsageError(
                f"unknown transform(s) {unknown}; choose from {', '.join(TRANSFORMS)}"
            )
        self.mode = mode
        self.target = float(target)
        self.interval = int(interval)
        self.speed_images = float(speed_images)
        self.transforms = tuple(transforms)
        self.seed = int(seed)

        def state(name, value):
            return self.add_weight(
                shape=(),
                initializer=keras.initializers.Constant(value),
                dtype="float32",
                trainable=False,
                aggregation="only_first_replica",
                name=name,
            )

        self.p = state("p", 1.0 if mode == "diffaugment" else 0.0)
        self.rt = state("rt", 0.0)
        self.sign_sum = state("sign_sum", 0.0)
        self.sign_count = state("sign_count", 0.0)
        self.pending_steps = state("pending_steps", 0.0)
        self.built = True

    @property
    def adaptive(self):
        return self.mode == "ada"

    def call(self, images, step=0, salt=0):
        return augment(images, self.p, self.seed, step, salt, self.transforms)

    def update(self, real_logits, midpoint=0.0):
        """Accumulates sign(D(x_real) - midpoint); every `interval` calls moves p toward the
        target.

        `midpoint` is D's decision boundary (`decision_midpoint(loss)`, or `batch_midpoint`
        for a Wasserstein critic). p moves by sign(r_t - target) * (images seen) /
        speed_images, clipped to [0, 1]. Does nothing for DiffAugment. Returns the metrics
        `{"ada_p", "ada_rt"}` (empty for DiffAugment).
        """
        if not self.adaptive:
            return {}
        logits = tf.cast(real_logits, tf.float32) - midpoint
        logits = tf.reshape(logits, [tf.shape(real_logits)[0], -1])
        # One sign per image (PatchGAN maps are averaged first).
        signs = tf.sign(tf.reduce_mean(logits, axis=1))
        totals = _cross_replica_sum(
            tf.stack([tf.reduce_sum(signs), tf.cast(tf.size(signs), tf.float32)])
        )
        sign_sum = self.sign_sum + totals[0]
        sign_count = self.sign_count + totals[1]
        pending = self.pending_steps + 1.0
        due = pending >= self.interval
        rt = sign_sum / tf.maximum(sign_count, 1.0)
        moved = self.p + tf.sign(rt - self.target) * sign_count / self.speed_images
        self.p.assign(tf.where(due, tf.clip_by_value(moved, 0.0, 1.0), self.p))
        self.rt.assign(tf.where(due, rt, self.rt))
        self.sign_sum.assign(tf.where(due, 0.0, sign_sum))
        self.sign_count.assign(tf.where(due, 0.0, sign_count))
        self.pending_steps.assign(tf.where(due, 0.0, pending))
        return {"ada_p": tf.identity(self.p.value), "ada_rt": tf.identity(self.rt.value)}

    def get_config(self):
        return {
            **super().get_config(),
            "mode": self.mode,
            "target": self.target,
            "interval": self.interval,
            "speed_images": self.speed_images,
            "transforms": list(self.transforms),
            "seed": self.seed,
        }

    def model_options(self):
        """The model options (`augment=`, `ada_*=`) that rebuild this augmenter through `get`,
        for a model's `get_config`; transforms only when not the default set."""
        options = {
            "augment": self.mode,
            "ada_target": self.target,
            "ada_interval": self.interval,
            "ada_speed_images": self.speed_images,
        }
        if self.transforms != TRANSFORMS:
            options["augment_transforms"] = list(self.transforms)
        return options


def get(
    augment,
    target=0.6,
    interval=4,
    speed_images=500_000,
    seed=0,
    transforms=TRANSFORMS,
    name=None,
):
    """An `Augmenter` for a model's `augment` option (None gives None).

    `name` defaults to `augment_<mode>`; a model with several augmenters names each one.
    """
    if augment is None or augment == "none":
        return None
    if isinstance(augment, Augmenter):
        return augment
    if augment not in MODES:
        raise TfgenUsageError(
            f"unknown augment {augment!r}; choose one of {', '.join(MODES)} (or leave it off)"
        )
    return Augmenter(
        augment,
        target=target,
        interval=interval,
        speed_images=speed_images,
        transforms=transforms,
        seed=seed,
        name=name or f"augment_{augment}",
    )
