"""Training callbacks: sample and translation grids (PNG + TensorBoard), FID/KID during training
with the best checkpoint kept, and fine-tuning's per-block learning rates and unfreezing."""

import json
import math
import pathlib

import keras
import numpy as np
import tensorflow as tf

from tfgen import io
from tfgen.errors import TfgenUsageError
from tfgen.transfer import blocks as transfer_blocks
from tfgen.transfer import layers as transfer_layers


class SampleGrid(keras.callbacks.Callback):
    """Saves a grid of samples from fixed latent vectors after every epoch.

    The same latent vectors are used every epoch so the grids show how training moves.

    Args:
        out_dir: str. Folder for `epoch_XXX.png`.
        n: int. Images per grid. Defaults to 64.
        seed: int. Seed of the fixed latent vectors.
        log_dir: str or None. Also writes the grid as a TensorBoard image summary.
    """

    def __init__(self, out_dir, n=64, seed=0, log_dir=None):
        super().__init__()
        self.out_dir = pathlib.Path(out_dir)
        self.n = n
        self.seed = seed
        self.log_dir = log_dir
        self._writer = None

    def on_epoch_end(self, epoch, logs=None):
        images = self.model.generate(self.n, seed=self.seed)
        grid = io.image_grid(io.to_uint8(images))
        io.save_png(grid, self.out_dir / f"epoch_{epoch + 1:03d}.png")
        if self.log_dir:
            if self._writer is None:
                self._writer = tf.summary.create_file_writer(str(self.log_dir))
            with self._writer.as_default():
                tf.summary.image("samples", grid[None].astype(np.uint8), step=epoch + 1)
            self._writer.flush()


class TranslationGrid(keras.callbacks.Callback):
    """Saves a grid of fixed inputs beside the model's translations after every epoch.

    `kind` is the model's `data_kind`. `"paired"` (pix2pix): one (input | output | target)
    triple per pair, two pairs per row. `"unpaired"` (CycleGAN): rows a, G(a), F(G(a)), b,
    F(b), G(F(b)), one column per image.

    Args:
        out_dir: str. Folder for `epoch_XXX.png`.
        images: `(images_a, images_b)` arrays [n, H, W, C] in [-1, 1] (inputs and targets when
            paired), or a tf.data.Dataset of such batches whose first `n` pairs are read when
            the first grid is drawn.
        kind: str. `"paired"` or `"unpaired"`.
        n: int. Pairs shown. Defaults to 16.
        log_dir: str or None. Also writes the grid as a TensorBoard image summary.
    """

    KINDS = ("paired", "unpaired")

    def __init__(self, out_dir, images, kind, n=16, log_dir=None):
        super().__init__()
        if kind not in self.KINDS:
            raise TfgenUsageError(
                f"a translation grid shows 'paired' or 'unpaired' data, got kind={kind!r}"
            )
        self.out_dir = pathlib.Path(out_dir)
        self.kind = kind
        self.n = int(n)
        self.log_dir = log_dir
        self._dataset = None
        self._images = None
        if isinstance(images, tf.data.Dataset):
            # Read when the first grid is drawn, so that building the callback reads no data.
            self._dataset = images
        else:
            images_a, images_b = images
            self._images = (
                np.asarray(images_a, np.float32)[: self.n],
                np.asarray(images_b, np.float32)[: self.n],
            )
        self._writer = None

    def fixed_images(self):
        """The `(images_a, images_b)` every grid shows."""
        if self._images is None:
            images_a, images_b = [], []
            for a, b in self._dataset.unbatch().take(self.n):
                images_a.append(a.numpy())
                images_b.append(b.numpy())
            self._images = np.stack(images_a), np.stack(images_b)
        return self._images

    def grid(self):
        """The grid as uint8 [H, W, C]."""
        images_a, images_b = self.fixed_images()
        if self.kind == "paired":
            return self._paired_grid(images_a, images_b)
        return self._cycle_grid(images_a, images_b)

    def _paired_grid(self, inputs, targets):
        outputs = self.model.sampling_generator.predict(inputs, verbose=0)
        shown = inputs
        if inputs.shape[-1] == 1 and outputs.shape[-1] == 3:  # grey inputs of colorize
            shown = np.repeat(inputs, 3, axis=-1)
        elif inputs.shape[-1] != outputs.shape[-1]:
            shown = np.repeat(inputs.mean(axis=-1, keepdims=True), outputs.shape[-1], axis=-1)
        rows = np.concatenate([shown, outputs, targets], axis=2)  # side by side
        return io.image_grid(io.to_uint8(rows), columns=2)

    def _cycle_grid(self, images_a, images_b):
        model = self.model
        fake_b = model.translate(images_a, "a2b")
        fake_a = model.translate(images_b, "b2a")
        rows = [
            images_a,
            fake_b,
            model.translate(fake_b, "b2a"),
            images_b,
            fake_a,
            model.translate(fake_a, "a2b"),
        ]
        rows = io.same_channels(rows)
        return io.image_grid(io.to_uint8(np.concatenate(rows)), columns=len(images_a))

    def on_epoch_end(self, epoch, logs=None):
        grid = self.grid()
        io.save_png(grid, self.out_dir / f"epoch_{epoch + 1:03d}.png")
        if self.log_dir:
            if self._writer is None:
                self._writer = tf.summary.create_file_writer(str(self.log_dir))
            with self._writer.as_default():
                tf.summary.image("translations", grid[None], step=epoch + 1)
            self._writer.flush()


class FIDCheckpoint(keras.callbacks.Callback):
    """Scores samples with FID (and KID) every `every` epochs and keeps the best model by FID.

    Samples come from `model.generate(n, seed=seed)` with the same seed every time (a cgan's
    labels cycle over its classes), so the curve compares the same latents across epochs. They
    are scored against a fixed real set in the features of `tfgen.evaluation` (the zoo's
    domain classifier for mnist / fashion_mnist). The scores go into the epoch's `logs` (so
    `History` and Keras' TensorBoard callback see them, on the epochs evaluated), into
    TensorBoard scalars `fid` and `kid` under `log_dir`, and into `self.scores`. A new lowest
    FID writes `best.keras` and then `best.json` (epoch, fid, kid, n, seed, extractor) to
    `out_dir`, each atomically. GANs often get worse late in training, so the best epoch can
    be an early one. A resumed run reads `best.json` and keeps its best.

    Args:
        real: str, array or `tf.data.Dataset`. The real set: a dataset name or folder (its
            `split` split is loaded, sized to the model, first `n` images), or images (uint8
            or floats in [-1, 1]; a dataset of images or `(images, labels)`).
        out_dir: str or path. Folder of `best.keras` and `best.json`.
        every: int. Evaluate after every `every`-th epoch and after the last. Defaults to 1.
        n: int. Generated samples (and real images when `real` is a dataset name).
            Defaults to 1000.
        extractor: str, path, FeatureExtractor or None. Feature extractor; None picks it from
            `real` when that is a dataset name (see `tfgen.evaluation.get_extractor`).
        metrics: tuple. `("fid",)` or `("fid", "kid")`. Defaults to both.
        seed: int. Seed of the samples and the KID subsets. Defaults to 0.
        log_dir: str or None. TensorBoard folder for the `fid` / `kid` scalars.
        split: str. Split of `real` when it is a dataset name. Defaults to `"test"`.
        data_dir: str or None. Folder of local dataset copies.
    """

    def __init__(
        self,
        real,
        out_dir,
        every=1,
        n=1000,
        extractor=None,
        metrics=("fid", "kid"),
        seed=0,
        log_dir=None,
        split="test",
        data_dir=None,
    ):
        super().__init__()
        if int(every) < 1:
            raise TfgenUsageError(f"--eval-every must be >= 1 epochs, got {every}")
        if int(n) < 4:
            raise TfgenUsageError(f"--eval-n must be >= 4 samples for FID/KID, got {n}")
        metrics = tuple(metrics)
        if "fid" not in metrics or not set(metrics) <= {"fid", "kid"}:
            raise TfgenUsageError(f"metrics must be ('fid',) or ('fid', 'kid'), got {metrics}")
        if extractor is None and not isinstance(real, (str, pathlib.Path)):
            raise TfgenUsageError(
                "pass extractor= (classifier_mnist, classifier_fashion_mnist, inception) when the "
                "real set is given as images"
            )
        self.real = real
        self.out_dir = pathlib.Path(out_dir)
        self.every = int(every)
        self.n = int(n)
        self.extractor = extractor
        self.metrics = metrics
        self.seed = int(seed)
        self.log_dir = log_dir
        self.split = split
        self.data_dir = data_dir
        self.scores = []  # one dict per evaluated epoch: epoch (1-based), fid, kid, kid_std
        self.best = None  # the best.json record
        self._extractor = None
        self._real_features = None
        self._writer = None

    # ------------------------------------------------------------------ setup
    def _check_model(self):
        if hasattr(self.model, "translate") or not getattr(self.model, "latent_dim", None):
            kind = getattr(self.model, "kind", type(self.model).__name__)
            raise TfgenUsageError(
                f"--eval-every scores samples from noise; a {kind} translates images and has "
                "none (evaluate it with tools/evaluate_pix2pix.py or evaluate_cyclegan.py)"
            )

    def _prepare(self):
        from tfgen.evaluation.features import get_extractor

        self._extractor = get_extractor(
            self.extractor if self.extractor is not None else str(self.real)
        )
        real = self.real
        if isinstance(real, (str, pathlib.Path)):
            real = self._load_real(str(real))
        elif isinstance(real, tf.data.Dataset):
            real = np.concatenate(
                [b[0] if isinstance(b, tuple) else b for b in real.as_numpy_iterator()]
            )
        self._real_features = self._extractor.features(np.asarray(real))

    def _load_real(self, source):
        from tfgen import data

        size, _, channels = self.model.image_shape
        ds = data.load(
            source,
            split=self.split,
            image_size=size,
            channels=channels,
            batch_size=256,
            shuffle=False,
            drop_remainder=False,
            data_dir=self.data_dir,
            limit=self.n,
        )
        return np.concatenate([np.asarray(b) for b in ds])

    def on_train_begin(self, logs=None):
        self._check_model()
        if self._real_features is None:
            self._prepare()
        best_json = self.out_dir / "best.json"
        if self.best is None and best_json.is_file():
            self.best = json.loads(best_json.read_text())  # a resumed run keeps its best

    # ------------------------------------------------------------------ scoring
    def samples(self):
        """The fixed-seed samples scored each time (a cgan cycles labels over its classes)."""
        num_classes = getattr(self.model, "num_classes", None)
        if num_classes:
            labels = np.arange(self.n) % num_classes
            return np.asarray(self.model.generate(self.n, labels=labels, seed=self.seed))
        return np.asarray(self.model.generate(self.n, seed=self.seed))

    def score(self):
        """FID (and KID, KID std) of `samples()` against the real set, as a dict."""
        from tfgen.evaluation.evaluate import evaluate_features

        if self._real_features is None:
            self._prepare()
        fake = self.samples()
        if not np.all(np.isfinite(fake)):
            return {"fid": float("nan"), **({"kid": float("nan")} if "kid" in self.metrics else {})}
        features = self._extractor.features(fake)
        return evaluate_features(
            features, self._real_features, metrics=self.metrics, seed=self.seed
        )

    def on_epoch_end(self, epoch, logs=None):
        # The last epoch is always scored, so a run shorter than `every` still keeps a best.
        last = (epoch + 1) == (self.params or {}).get("epochs")
        if (epoch + 1) % self.every and not last:
            return
        result = self.score()
        record = {"epoch": epoch + 1, **{k: float(v) for k, v in result.items()}}
        self.scores.append(record)
        if logs is not None:
            logs.update({k: v for k, v in record.items() if k in ("fid", "kid")})
        if self.log_dir:
            if self._writer is None:
                self._writer = tf.summary.create_file_writer(str(self.log_dir))
            with self._writer.as_default():
                for key in ("fid", "kid"):
                    if key in record:
                        tf.summary.scalar(key, record[key], step=epoch + 1)
            self._writer.flush()
        fid = record["fid"]
        if math.isfinite(fid) and (self.best is None or fid < self.best["fid"]):
            self._save_best(record)

    def _save_best(self, record):
        with io.atomic_path(self.out_dir / "best.keras") as tmp:
            self.model.save(tmp)
        self.best = {
            **record,
            "n": self.n,
            "seed": self.seed,
            "extractor": getattr(self._extractor, "name", str(self.extractor)),
        }
        with io.atomic_path(self.out_dir / "best.json") as tmp:
            tmp.write_text(json.dumps(self.best, indent=2) + "\n")


class BlockLearningRates(keras.callbacks.Callback):
    """Lower learning rates for earlier blocks ("discriminative fine-tuning", Howard & Ruder
    2018): a trainable block `k` blocks before a network's last one moves at `decay ** k` of
    the learning rate.

    Keras optimizers have one learning rate, so this scales each training step's update of
    those variables instead: `w = w_before + decay**k * (w_after - w_before)`. For SGD without
    momentum, Adam, AdamW (without decay), RMSprop and Adagrad that is exactly a learning rate
    of `decay**k * lr`, because their state does not depend on the learning rate; with
    momentum SGD it is close. With `steps_per_execution > 1` it scales the whole execution's
    update.

    Args:
        decay: float in (0, 1]. Multiplier per block away from the output. 1 turns it off.
    """

    def __init__(self, decay=0.5):
        super().__init__()
        decay = float(decay)
        if not 0.0 < decay <= 1.0:
            raise TfgenUsageError(f"the block learning-rate decay must be in (0, 1], got {decay}")
        self.decay = decay
        self._scaled = None
        self._before = None

    def refresh(self):
        """Recomputes which variables are scaled (call after freezing or unfreezing)."""
        self._scaled = []
        if self.decay == 1.0:
            return
        for network in transfer_blocks.model_networks(self.model):
            trainable_blocks = []
            for _, block in transfer_blocks.network_blocks(network):
                entries = transfer_blocks.block_entries(self.model, network, block)
                variables = [
                    w
                    for _, layer, anc in entries
                    if transfer_layers.is_trainable(layer, anc)
                    for w in layer.trainable_weights
                ]
                if variables:
                    trainable_blocks.append(variables)
            for k, variables in enumerate(reversed(trainable_blocks)):
                if k:
                    self._scaled += [(v, self.decay**k) for v in variables]

    def on_train_begin(self, logs=None):
        self.refresh()

    def on_train_batch_begin(self, batch, logs=None):
        if self._scaled is None:
            self.refresh()
        self._before = [tf.identity(v) for v, _ in self._scaled]

    def on_train_batch_end(self, batch, logs=None):
        if not self._before:
            return
        for (variable, scale), before in zip(self._scaled, self._before):
            variable.assign(before + scale * (variable - before))
        self._before = None


class ProgressiveUnfreezing(keras.callbacks.Callback):
    """Unfreezes one more block every `every` epochs (gradual unfreezing, Howard & Ruder 2018).

    The blocks frozen when training starts (e.g. by `apply_recipe(freeze_d=2, freeze_g=1)`)
    are released one at a time per network, the block nearest the output first, and the model
    is recompiled with its optimizer state kept. The number released depends only on the
    epoch number, so a run resumed from its checkpoint picks up the right state.

    Args:
        every: int. Epochs between two unfreezings.
        lr_decay: float or None. Also give earlier trainable blocks lower learning rates
            (see `BlockLearningRates`); None leaves one learning rate.
        verbose: int. 1 prints what was unfrozen.
    """

    def __init__(self, every=1, lr_decay=None, verbose=0):
        super().__init__()
        if int(every) < 1:
            raise TfgenUsageError(f"unfreeze every must be >= 1 epoch, got {every}")
        self.every = int(every)
        self.verbose = verbose
        self.learning_rates = BlockLearningRates(lr_decay) if lr_decay else None
        self.schedule = None  # per network: frozen blocks, nearest the output first
        self.released = 0

    def set_model(self, model):
        super().set_model(model)
        if self.learning_rates is not None:
            self.learning_rates.set_model(model)

    def _plan(self):
        schedule = []
        for network in transfer_blocks.model_networks(self.model):
            frozen = []
            for name, block in transfer_blocks.network_blocks(network):
                entries = transfer_blocks.block_entries(self.model, network, block)
                if entries and not any(
                    transfer_layers.is_trainable(layer, anc) for _, layer, anc in entries
                ):
                    frozen.append((f"{network.name}/{name}", [e[0] for e in entries]))
            schedule.append(list(reversed(frozen)))
        return schedule

    def on_train_begin(self, logs=None):
        if self.schedule is None:  # recorded once, so later fit() calls continue the plan
            self.schedule = self._plan()
        if self.learning_rates is not None:
            self.learning_rates.on_train_begin(logs)

    def on_epoch_begin(self, epoch, logs=None):
        target = epoch // self.every
        if target == self.released:
            return
        names = []
        for frozen in self.schedule:
            for i, (name, paths) in enumerate(frozen):
                transfer_layers.set_trainable(self.model, paths, i < target, recompile_model=False)
                if self.released <= i < target:
                    names.append(name)
        transfer_layers.recompile(self.model)
        self.released = target
        if self.learning_rates is not None:
            self.learning_rates.refresh()
        if self.verbose:
            print(f"epoch {epoch + 1}: unfroze {', '.join(names) or 'nothing new'}")

    def on_train_batch_begin(self, batch, logs=None):
        if self.learning_rates is not None:
            self.learning_rates.on_train_batch_begin(batch, logs)

    def on_train_batch_end(self, batch, logs=None):
        if self.learning_rates is not None:
            self.learning_rates.on_train_batch_end(batch, logs)


class QualityCurve(keras.callbacks.Callback):
    """FID of `n` samples (the same noise each time) against `real_features` every `every`
    generator steps, before the first and after the last; `curve` holds `(step, fid)`.

    For noise-to-image GANs (`generate`, `g_optimizer`); `tfgen.experiment` puts one on
    every run it trains.
    """

    def __init__(self, real_features, extractor, every, n=500, seed=0):
        super().__init__()
        if int(every) < 1:
            raise TfgenUsageError(f"measure.every must be >= 1 steps, got {every}")
        self.real_features, self.extractor = real_features, extractor
        self.every, self.n, self.seed = int(every), int(n), int(seed)
        self.curve = []

    def measure(self):
        from tfgen.evaluation import metrics

        step = int(self.model.g_optimizer.iterations)
        if self.curve and self.curve[-1][0] == step:
            return
        samples = self.model.generate(self.n, seed=self.seed)
        fid = metrics.fid(self.extractor.features(samples), self.real_features)
        self.curve.append((step, round(float(fid), 4)))

    def on_train_begin(self, logs=None):
        self.measure()

    def on_train_batch_end(self, batch, logs=None):
        if int(self.model.g_optimizer.iterations) % self.every == 0:
            self.measure()

    def on_train_end(self, logs=None):
        self.measure()
