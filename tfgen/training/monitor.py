"""Training-health monitor: a callback that spots a GAN run going wrong and says what to try.

It watches four failure modes, each a pure detector function over the monitor's record (so each
can be tested on synthetic logs):

- non-finite losses (`detect_non_finite`): a loss became NaN or Inf;
- discriminator over-powering (`detect_overpowering`): D calls real images real and fakes fake
  with near certainty for a window of checks, so G's gradient vanishes;
- divergence (`detect_divergence`): the generator loss rises steadily (or explodes) over a
  window of checks;
- mode collapse (`detect_collapse`, `detect_class_dominance`): the diversity of a fixed batch of
  samples (mean pairwise distance, in pixels or classifier features) falls below a fraction of
  its peak (or is a sliver of the real data's), or one class dominates under a classifier.

An alarm warns (`TrainingHealthWarning`, with advice), is logged to TensorBoard, and with
`stop=True` stops training; the model of the last healthy check is kept (`checkpoint`).
"""

import pathlib
import warnings

import keras
import numpy as np

from tfgen import io, registry
from tfgen.errors import TfgenUsageError

KINDS = ("non_finite", "overpowering", "divergence", "collapse", "class_dominance")

ADVICE = {
    "non_finite": "lower the learning rates, check the data for NaN/Inf values, or train in "
    "float32",
    "overpowering": "lower the discriminator's learning rate, add an R1 penalty (--r1 10) or "
    "adaptive augmentation (--augment ada), or use --spectral-norm",
    "divergence": "lower the learning rates (the generator's first), add --r1 or "
    "--spectral-norm, and restart from the last good checkpoint",
    "collapse": "add augmentation (--augment diffaugment|ada) or an R1 penalty, lower the "
    "generator's learning rate, try another loss (e.g. hinge), and restart from the last good "
    "checkpoint",
    "class_dominance": "add augmentation (--augment diffaugment|ada) or an R1 penalty, lower the "
    "generator's learning rate, and restart from the last good checkpoint",
}


class TrainingHealthWarning(UserWarning):
    """A training-health alarm (the message names the problem and what to try)."""


# --------------------------------------------------------------------------- detectors
def detect_non_finite(record):
    """The first loss (then statistic) of `record` that is NaN or Inf, as a message, or None."""
    for name in sorted(record, key=lambda k: ("loss" not in k, k)):
        value = record[name]
        if name == "step" or value is None:
            continue
        if not np.all(np.isfinite(np.asarray(value, np.float64))):
            return f"{name} became {float(np.ravel(value)[0])}"
    return None


def detect_overpowering(history, window, real_above=0.95, fake_below=0.05):
    """Message when D's mean sigmoid output was > `real_above` on real images and
    < `fake_below` on fakes in each of the last `window` records, else None.

    Records without `d_real`/`d_fake` (the Wasserstein critic has no probability) never alarm.
    """
    recent = history[-window:]
    if len(recent) < window or any("d_real" not in r or "d_fake" not in r for r in recent):
        return None
    if all(r["d_real"] > real_above and r["d_fake"] < fake_below for r in recent):
        return (
            f"the discriminator over-powers the generator: D(real) {recent[-1]['d_real']:.3f}, "
            f"D(fake) {recent[-1]['d_fake']:.3f} for the last {window} checks"
        )
    return None


def detect_divergence(history, window, factor=3.0, explode=1e4, key="g_loss"):
    """Message when `key` exploded (|value| > `explode`) or rose steadily over the last
    `window` records to more than `factor` x max(1, |best earlier level|) above its best
    earlier level (the lowest mean of `window` consecutive earlier records), else None.
    """
    values = np.array([r[key] for r in history if key in r], np.float64)
    if len(values) and abs(values[-1]) > explode:
        return f"{key} exploded to {values[-1]:.4g}"
    if len(values) < 2 * window:
        return None
    recent, earlier = values[-window:], values[:-window]
    levels = np.convolve(earlier, np.ones(window) / window, mode="valid")
    best = float(levels.min())
    rising = np.mean(np.diff(values[-window - 1 :]) > 0) >= 0.6
    if rising and recent.mean() - best > factor * max(1.0, abs(best)):
        return (
            f"{key} is rising: {best:.3g} at its best, {recent.mean():.3g} over the last "
            f"{window} checks"
        )
    return None


def detect_collapse(diversities, real=None, drop_fraction=0.5, floor_fraction=0.05):
    """Message when the latest sample diversity collapsed, else None.

    Collapsed: below `drop_fraction` x the peak of the earlier `diversities` (a fall from its
    early value), or below `floor_fraction` x the `real` data's diversity (a generator that
    was never diverse). `diversities` are mean pairwise distances of the same fixed batch.
    """
    if not len(diversities):
        return None
    current = float(diversities[-1])
    if real is not None and real > 0 and current < floor_fraction * real:
        return (
            f"mode collapse: the samples' diversity (mean pairwise distance) is "
            f"{100 * current / real:.1f} % of the real data's"
        )
    peak = max(diversities[:-1], default=0.0)
    if peak > 0 and current < drop_fraction * peak:
        return (
            f"mode collapse: the samples' diversity (mean pairwise distance) fell to "
            f"{100 * current / peak:.0f} % of its peak ({peak:.3g})"
        )
    return None


def detect_class_dominance(history, window, max_share=0.8, classifier="the classifier"):
    """Message when one class took more than `max_share` of the samples in each of the last
    `window` records (fields `max_class_share`, `top_class`, `classes_seen`), else None."""
    recent = history[-window:]
    if len(recent) < window or any("max_class_share" not in r for r in recent):
        return None
    if all(r["max_class_share"] > max_share for r in recent):
        last = recent[-1]
        return (
            f"mode collapse: {100 * last['max_class_share']:.0f} % of the samples are class "
            f"{int(last['top_class'])} per {classifier} ({int(last['classes_seen'])} classes "
            f"seen) for the last {window} checks"
        )
    return None


def class_shares(predicted, num_classes):
    """`max_class_share`, `top_class` and `classes_seen` of predicted labels, as a dict."""
    counts = np.bincount(np.asarray(predicted, np.int64), minlength=num_classes)
    return {
        "max_class_share": float(counts.max() / max(1, counts.sum())),
        "top_class": int(counts.argmax()),
        "classes_seen": int((counts > 0).sum()),
    }


def mean_pairwise_distance(x):
    """Mean Euclidean distance between the rows of `x` (flattened), over all pairs."""
    x = np.asarray(x, np.float64).reshape(len(x), -1)
    squared = (x**2).sum(axis=1)
    d2 = np.maximum(squared[:, None] + squared[None, :] - 2.0 * x @ x.T, 0.0)
    upper = np.triu_indices(len(x), k=1)
    return float(np.sqrt(d2[upper]).mean())


# --------------------------------------------------------------------------- callback
class TrainingMonitor(keras.callbacks.Callback):
    """Checks a GAN's training health every `check_every` steps and raises alarms.

    Loss statistics are the means over the steps since the previous check (recovered from
    Keras' running means). Each alarm kind warns once when it starts (again only after it
    cleared); every alarm is kept in `alarms` as `(step, kind, message)`.

    Args:
        check_every: int. Steps between checks.
        window: int. Consecutive checks a trend must last (over-powering, divergence, class
            dominance).
        warmup: int. Steps before over-powering, divergence and collapse may alarm (an
            untrained generator is neither diverse nor a match for D). Non-finite losses
            alarm at once.
        real_images: array or None. Real images (uint8 or [-1, 1]); samples far less diverse
            than they are (`collapse_floor`) alarm even if they never were diverse.
        classifier: None, a `tfgen.evaluation` extractor name (e.g. `"classifier_mnist"`) or a
            `FeatureExtractor`: adds the class-dominance check.
        features: str. Space of the diversity: `"pixels"` or `"classifier"` (needs
            `classifier`).
        n_samples: int. Size of the fixed latent batch.
        seed: int. Seed of the fixed latent batch.
        collapse_drop: float. Diversity below this fraction of its earlier peak alarms.
        collapse_floor: float. Diversity below this fraction of the real images' alarms.
        max_class_share: float. A class share above this for `window` checks alarms.
        real_above, fake_below: floats. Over-powering thresholds on D's mean probabilities.
        divergence_factor: float. See `detect_divergence`.
        stop: bool. Stop training at the first alarm.
        checkpoint: path or None. Written (atomically) at each healthy check, so it holds
            the last good model when an alarm stops the run.
        log_dir: path or None. TensorBoard folder for the diversity, class share and alarms.
        verbose: bool. Also print alarms (besides the warning).
    """

    def __init__(
        self,
        check_every=100,
        window=3,
        warmup=200,
        real_images=None,
        classifier=None,
        features="pixels",
        n_samples=256,
        seed=0,
        collapse_drop=0.5,
        collapse_floor=0.05,
        max_class_share=0.8,
        real_above=0.95,
        fake_below=0.05,
        divergence_factor=3.0,
        stop=False,
        checkpoint=None,
        log_dir=None,
        verbose=True,
    ):
        super().__init__()
        if features not in ("pixels", "classifier"):
            raise ValueError(f"features must be 'pixels' or 'classifier', got {features!r}")
        if features == "classifier" and classifier is None:
            raise ValueError("features='classifier' needs a classifier, e.g. 'classifier_mnist'")
        if int(check_every) < 1 or int(window) < 1:
            raise ValueError(f"check_every and window must be >= 1, got {check_every}, {window}")
        self.check_every = int(check_every)
        self.window = int(window)
        self.warmup = int(warmup)
        self.real_images = real_images
        self.classifier = classifier
        self.features = features
        self.n_samples = int(n_samples)
        self.seed = int(seed)
        self.collapse_drop = collapse_drop
        self.collapse_floor = collapse_floor
        self.max_class_share = max_class_share
        self.real_above = real_above
        self.fake_below = fake_below
        self.divergence_factor = divergence_factor
        self.stop = stop
        self.checkpoint = checkpoint
        self.log_dir = log_dir
        self.verbose = verbose
        self.history = []
        self.alarms = []
        self.reference_diversity = None
        self._active = set()
        self._extractor = None
        self._writer = None
        self._z = None
        self._step = 0
        self._epoch_count = 0
        self._previous = {}

    # ------------------------------------------------------------------ setup
    def on_train_begin(self, logs=None):
        if self.classifier is not None and self._extractor is None:
            from tfgen.evaluation import features as features_lib

            self._extractor = features_lib.get_extractor(self.classifier)
        if self._z is None:
            self._z = self.model.latent_noise(self.n_samples, seed=self.seed)
        if self.real_images is not None and self.reference_diversity is None:
            real = np.asarray(self.real_images)[: self.n_samples]
            if real.dtype == np.uint8:
                real = io.from_uint8(real)
            self.reference_diversity = mean_pairwise_distance(self._embed(real))
        if self.log_dir is not None and self._writer is None:
            import tensorflow as tf

            self._writer = tf.summary.create_file_writer(str(self.log_dir))

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch_count = 0  # Keras' running means restart each epoch
        self._previous = {}

    # ------------------------------------------------------------------ per step
    def on_train_batch_end(self, batch, logs=None):
        count = batch + 1
        steps = count - self._epoch_count
        self._step += steps
        record = {}
        for name, value in (logs or {}).items():
            value = float(np.ravel(keras.ops.convert_to_numpy(value))[0])
            # The mean over the steps since the last call, from two running means.
            before = self._previous.get(name)
            if before is None or self._epoch_count == 0:
                record[name] = value
            else:
                record[name] = (count * value - self._epoch_count * before) / steps
            self._previous[name] = value
        self._epoch_count = count
        self._pending = _merge(getattr(self, "_pending", None), record, steps)
        message = detect_non_finite(record)
        if message is not None:
            self._alarm("non_finite", f"{message} at step {self._step}")
            return
        if self._step // self.check_every > (self._step - steps) // self.check_every:
            self.check()

    def check(self):
        """Runs every detector on the steps since the last check (also callable by hand)."""
        record = {"step": self._step, **self._pending.means()} if self._pending else {}
        record.setdefault("step", self._step)
        self._pending = None
        found = {}
        samples = self._samples()
        record["diversity"] = mean_pairwise_distance(self._embed(samples))
        if self._extractor is not None:
            predicted = self._extractor.probabilities(samples).argmax(axis=1)
            record.update(class_shares(predicted, self._extractor.num_classes))
        self.history.append(record)
        if self._step >= self.warmup:
            settled = [r for r in self.history if r["step"] >= self.warmup]
            found["collapse"] = detect_collapse(
                [r["diversity"] for r in self.history],
                self.reference_diversity,
                self.collapse_drop,
                self.collapse_floor,
            )
            if self._extractor is not None:
                found["class_dominance"] = detect_class_dominance(
                    settled, self.window, self.max_class_share, self._extractor.name
                )
            found["overpowering"] = detect_overpowering(
                settled, self.window, self.real_above, self.fake_below
            )
            found["divergence"] = detect_divergence(settled, self.window, self.divergence_factor)
        self._log(record)
        for kind, message in found.items():
            if message is None:
                self._active.discard(kind)
            else:
                self._alarm(kind, f"{message} (step {self._step})")
        if not any(found.values()) and self.checkpoint is not None and not self.model.stop_training:
            with io.atomic_path(self.checkpoint) as tmp:
                self.model.save(tmp)
        return record

    # ------------------------------------------------------------------ helpers
    def _samples(self):
        generator = getattr(self.model, "sampling_generator", self.model.generator)
        inputs = self._z
        if getattr(self.model, "num_classes", None):  # cGAN: every class in turn
            inputs = [self._z, np.arange(self.n_samples, dtype=np.int32) % self.model.num_classes]
        return keras.ops.convert_to_numpy(generator(inputs, training=False))

    def _embed(self, images):
        if self.features == "classifier":
            return self._extractor.features(np.clip(images, -1.0, 1.0))
        return images

    def _alarm(self, kind, message):
        self.alarms.append((self._step, kind, message))
        if self._writer is not None:
            import tensorflow as tf

            with self._writer.as_default():
                tf.summary.scalar(f"monitor/alarm_{kind}", 1.0, step=self._step)
                tf.summary.text("monitor/alarms", f"{kind}: {message}", step=self._step)
            self._writer.flush()
        if kind in self._active:
            return
        self._active.add(kind)
        text = f"training health: {message}; try: {ADVICE[kind]}"
        if self.stop:
            self.model.stop_training = True
            kept = (
                f"the last good model is kept in {self.checkpoint}"
                if self.checkpoint is not None
                else "no checkpoint was configured"
            )
            text += f". Training stopped; {kept}"
        warnings.warn(text, TrainingHealthWarning, stacklevel=2)
        if self.verbose:
            print(text, flush=True)

    def _log(self, record):
        if self._writer is None:
            return
        import tensorflow as tf

        with self._writer.as_default():
            tf.summary.scalar("monitor/diversity", record["diversity"], step=self._step)
            if self.reference_diversity:
                ratio = record["diversity"] / self.reference_diversity
                tf.summary.scalar("monitor/diversity_ratio", ratio, step=self._step)
            if "max_class_share" in record:
                share = record["max_class_share"]
                tf.summary.scalar("monitor/max_class_share", share, step=self._step)
        self._writer.flush()

    def kinds(self):
        """The alarm kinds raised so far, in order of first appearance."""
        return list(dict.fromkeys(kind for _, kind, _ in self.alarms))


class _Means:
    """Step-weighted means of several logged values over the steps since the last check."""

    def __init__(self):
        self.sums, self.steps = {}, {}

    def add(self, record, steps):
        for name, value in record.items():
            self.sums[name] = self.sums.get(name, 0.0) + value * steps
            self.steps[name] = self.steps.get(name, 0) + steps
        return self

    def means(self):
        return {name: self.sums[name] / self.steps[name] for name in self.sums}


def _merge(pending, record, steps):
    return (pending or _Means()).add(record, steps)


MODES = ("warn", "stop")


def check_mode(mode, model_cls):
    """Refuses an unknown `--monitor` mode or a model kind the monitor cannot sample."""
    if mode is None:
        return
    if mode not in MODES:
        raise TfgenUsageError(f"--monitor takes {' or '.join(MODES)}, got {mode!r}")
    # It samples noise and reads the EMA's lag: a noise-to-image GAN with an EMA, not a translator.
    noise_to_image = model_cls.data_kind in ("images", "labelled")
    if not (noise_to_image and model_cls.supports_ema):
        raise TfgenUsageError(
            f"--monitor watches noise-to-image GANs (dcgan, wgan_gp, cgan); "
            f"{getattr(model_cls, 'kind', model_cls.__name__)} is not one"
        )


def for_run(mode, ds, dataset, out, seed=0, n_samples=256):
    """The monitor `tfgen train --monitor MODE` adds to a run writing into `out`.

    Real images from the training data set the collapse floor; the dataset's classifier
    (MNIST, Fashion-MNIST) adds the class-dominance check when the zoo holds it. `stop`
    stops at the first alarm keeping `out/last_good.keras`. Alarms go to `out/logs/monitor`.
    """
    from tfgen.evaluation import features as features_lib

    real = []
    for batch in ds:
        real.append(np.asarray(batch[0] if isinstance(batch, (tuple, list)) else batch))
        if sum(len(b) for b in real) >= n_samples:
            break
    real = np.concatenate(real)[:n_samples]
    classifier = features_lib.extractor_name(dataset)
    if (
        not classifier.startswith("classifier_")
        or not (registry.zoo_path(classifier) / f"{classifier}.keras").is_file()  # <name>.keras
    ):
        classifier = None
    out = pathlib.Path(out)
    return TrainingMonitor(
        real_images=real,
        classifier=classifier,
        n_samples=n_samples,
        seed=seed,
        stop=mode == "stop",
        checkpoint=out / "last_good.keras" if mode == "stop" else None,
        log_dir=out / "logs" / "monitor",
    )
