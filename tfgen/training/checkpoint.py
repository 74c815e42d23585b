"""Training that survives crashes: non-finite loss stops, step checkpoints, exact resume.

A run folder's `checkpoints/` holds one complete checkpoint at a time (weights of the whole
model object, optimizers included, plus the step), so a killed run restarts at that step.
"""

import json
import pathlib

import keras
import numpy as np

from tfgen import io
from tfgen.errors import TfgenUsageError

METADATA = "training_metadata.json"


class NonFiniteError(RuntimeError):
    """A loss or a weight became NaN or Inf during training (a runtime failure, exit 1)."""


def _optimizers(model):
    """The optimizers a model holds: Keras' `optimizer` and the GANs' `g_`/`d_optimizer`."""
    found = []
    for name in ("optimizer", "g_optimizer", "d_optimizer"):
        opt = getattr(model, name, None)
        if isinstance(opt, keras.optimizers.Optimizer) and all(opt is not o for o in found):
            found.append(opt)
    return found


def first_non_finite(model, with_optimizers=True):
    """The path of the first variable holding NaN or Inf (None when all are finite).

    Args:
        model: keras.Model. Its weights (and optimizer variables) are checked.
        with_optimizers: bool. Also check the optimizers' slots (what a checkpoint holds).
    """
    variables = list(model.weights)
    if with_optimizers:
        for opt in _optimizers(model):
            variables += list(opt.variables)
    for v in variables:
        value = keras.ops.convert_to_numpy(v.value)
        if np.issubdtype(value.dtype, np.floating) and not np.all(np.isfinite(value)):
            return getattr(v, "path", v.name)
    return None


def check_finite_weights(model, what):
    """Raises `NonFiniteError` instead of writing `what` when a weight is NaN or Inf."""
    bad = first_non_finite(model)
    if bad is not None:
        raise NonFiniteError(
            f"refusing to write {what}: weight {bad} holds NaN or Inf; lower the learning "
            "rate or check the data for NaN/Inf values"
        )


def _position(callback, epoch, batch):
    """The global step after `batch` of `epoch` (a resumed partial epoch runs fewer steps)."""
    steps_per_epoch = callback.steps_per_epoch
    done_before = steps_per_epoch - int(callback.params.get("steps") or steps_per_epoch)
    return epoch * steps_per_epoch + done_before + batch + 1


class StopOnNonFinite(keras.callbacks.Callback):
    """Stops training at the first step whose logged loss is NaN or Inf, naming both.

    Unlike `keras.callbacks.TerminateOnNaN` it raises `NonFiniteError`, so nothing after the
    bad step (a checkpoint, the final model file) is written. Put it first in the callbacks.

    Args:
        steps_per_epoch: int. Turns (epoch, batch) into the run's global step.
        checkpoint_dir: path or None. Named in the message as the last good state.
    """

    def __init__(self, steps_per_epoch, checkpoint_dir=None):
        super().__init__()
        self.steps_per_epoch = int(steps_per_epoch)
        self.checkpoint_dir = checkpoint_dir
        self._epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        # Losses first, so the message names the loss rather than a statistic derived from it.
        logs = logs or {}
        for name in sorted(logs, key=lambda k: "loss" not in k):
            value = logs[name]
            value = np.asarray(keras.ops.convert_to_numpy(value), np.float64)
            if not np.all(np.isfinite(value)):
                step = _position(self, self._epoch, batch)
                kept = last_checkpoint_step(self.checkpoint_dir) if self.checkpoint_dir else None
                where = (
                    f"the last good checkpoint (step {kept}) is kept in {self.checkpoint_dir}"
                    if kept is not None
                    else "no checkpoint had been written yet"
                )
                raise NonFiniteError(
                    f"training stopped at step {step} (epoch {self._epoch + 1}, batch "
                    f"{batch + 1}): {name} became {float(np.ravel(value)[0])}; {where}; lower "
                    "the learning rate or check the data for NaN/Inf values"
                )


def last_checkpoint_step(directory):
    """The step of the complete checkpoint in `directory` (None when there is none)."""
    meta = read_metadata(directory)
    return None if meta is None else meta["step"]


def read_metadata(directory):
    path = pathlib.Path(directory) / METADATA
    if not path.is_file():
        return None
    try:
        meta = json.loads(path.read_text())
        meta["step"], meta["weights"]  # noqa: B018  (both keys are required)
    except (ValueError, KeyError, TypeError) as e:
        raise TfgenUsageError(
            f"{path} is not a tfgen checkpoint ({e}); delete {directory} to start over"
        ) from e
    return meta


def check_checkpoint_every(every):
    """`--checkpoint-every` is None (epoch ends only) or a positive number of steps. The jobs
    call it before they load data or make folders; `StepCheckpoint` checks again."""
    if every is not None and int(every) < 1:
        raise TfgenUsageError(f"--checkpoint-every must be >= 1 steps, got {every}")


def _seed_generators(model):
    """Every Keras `SeedGenerator` of the model's layers (Dropout's, random augmentation's), in
    a fixed order. `save_weights` leaves their states out, so a resumed run would draw other
    dropout masks than the uninterrupted one."""
    found = []
    for layer in model._flatten_layers(include_self=True, recursive=True):
        found += getattr(layer, "_seed_generators", [])
    return found


class StepCheckpoint(keras.callbacks.Callback):
    """Writes the whole training state every `every` steps and at each epoch's end.

    The state is `model.save_weights`: every variable the model object tracks (networks,
    optimizers with their step counters, metric trackers, and whatever a model adds: EMA
    copies, ADA's p, an image pool), so models extend it by owning variables. Each checkpoint
    is a new `step_XXXXXXXX.weights.h5` written under a temporary name and renamed; then
    `training_metadata.json` is replaced to point at it; only then is the previous one deleted.
    A crash at any point leaves a complete checkpoint.

    Args:
        directory: path. The run's `checkpoints/` folder.
        steps_per_epoch: int. Steps in one epoch of the run.
        every: int or None. Also write every `every` steps within epochs.
        extra: dict. Written into the metadata (e.g. the seed) and checked on restore.
        restore_from: path or None. Where `restore` reads, when not `directory`: a worker of
            a multi-worker run that is not the chief writes into a scratch folder but
            resumes from the chief's checkpoint.
    """

    def __init__(self, directory, steps_per_epoch, every=None, extra=None, restore_from=None):
        super().__init__()
        check_checkpoint_every(every)
        self.directory = pathlib.Path(directory)
        self.restore_from = pathlib.Path(restore_from or directory)
        self.steps_per_epoch = int(steps_per_epoch)
        self.every = None if every is None else int(every)
        self.extra = dict(extra or {})
        self._epoch = 0
        self._last_saved = None

    # ----------------------------------------------------------------- restore
    def restore(self, model):
        """Loads the last checkpoint into `model`; returns its global step (0 when none)."""
        source = self.restore_from
        if source == self.directory:  # only the folder's writer cleans it
            io.remove_stale_temporaries(self.directory)  # from a run killed mid-write
        meta = read_metadata(source)
        if meta is None:
            return 0
        expected = {"steps_per_epoch": self.steps_per_epoch, **self.extra}
        changed = {k: (meta.get(k), v) for k, v in expected.items() if meta.get(k) != v}
        if changed:
            what = ", ".join(f"{k} {old!r} -> {new!r}" for k, (old, new) in changed.items())
            raise TfgenUsageError(
                f"the checkpoint in {source} is from a different run ({what}); run "
                f"the same command to resume, or delete {source} (or choose a new "
                "--out) to start over"
            )
        model.load_weights(source / meta["weights"])
        states = meta.get("seed_states", [])
        generators = _seed_generators(model)
        if len(states) == len(generators):
            for generator, state in zip(generators, states):
                generator.state.assign(np.asarray(state, generator.state.dtype))
        self._last_saved = int(meta["step"])
        return self._last_saved

    # ----------------------------------------------------------------- save
    def save(self, step):
        if step == self._last_saved:
            return
        check_finite_weights(self.model, f"a checkpoint at step {step}")
        self.directory.mkdir(parents=True, exist_ok=True)
        name = f"step_{step:08d}.weights.h5"
        with io.atomic_path(self.directory / name) as tmp:
            self.model.save_weights(tmp)
        meta = {
            "step": step,
            "epoch": step // self.steps_per_epoch,
            "batch": step % self.steps_per_epoch,
            "steps_per_epoch": self.steps_per_epoch,
            "weights": name,
            "seed_states": [
                np.asarray(g.state.numpy()).tolist() for g in _seed_generators(self.model)
            ],
            **self.extra,
        }
        try:
            with io.atomic_path(self.directory / METADATA) as tmp:
                tmp.write_text(json.dumps(meta))
        except BaseException:
            # The metadata still names the previous checkpoint; drop the unreferenced one.
            (self.directory / name).unlink(missing_ok=True)
            raise
        for old in self.directory.glob("step_*.weights.h5"):
            if old.name != name:
                old.unlink(missing_ok=True)
        self._last_saved = step

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        step = _position(self, self._epoch, batch)
        if self.every and step % self.every == 0:
            self.save(step)

    def on_epoch_end(self, epoch, logs=None):
        self.save((epoch + 1) * self.steps_per_epoch)

    def remove(self):
        """Deletes the checkpoints once the run's model file is safely written."""
        for path in list(self.directory.glob("step_*.weights.h5")) + [self.directory / METADATA]:
            path.unlink(missing_ok=True)
        io.remove_stale_temporaries(self.directory)
        try:
            self.directory.rmdir()
        except OSError:
            pass  # something else lives there; leave it


def resumed_fit(
    model, dataset, start_step, epochs, steps_per_epoch, callbacks, verbose, remake=None,
    validation_data=None,
):  # fmt: skip
    """`model.fit` over `epochs` of `steps_per_epoch`, starting at global step `start_step`.

    The batches already consumed are skipped, so the data is at the same position as in an
    uninterrupted run. A partial first epoch runs as its own `fit`, so epoch numbers stay
    those of the uninterrupted run.

    Args:
        dataset: the seeded, repeating training pipeline, not iterated yet.
        remake: callable or None. Makes that pipeline again for the `fit` after a partial
            epoch. A seeded `shuffle` draws each new iterator's order from a generator shared
            by the iterators of one dataset object (and advanced by their prefetching), so a
            second iterator over `dataset` would not replay an uninterrupted run's order;
            a new object does. Without it, `dataset` is reused (order then not exact).
        validation_data: a dataset evaluated after each epoch (`val_` logs), or None.

    Returns:
        dict: the merged `History.history`.
    """
    history = {}

    def run(dataset, skip, initial_epoch, last_epoch, steps):
        h = model.fit(
            dataset.skip(skip),
            initial_epoch=initial_epoch,
            epochs=last_epoch,
            steps_per_epoch=steps,
            callbacks=callbacks,
            verbose=verbose,
            shuffle=False,  # the dataset shuffles itself
            validation_data=validation_data,
        )
        for key, values in h.history.items():
            history.setdefault(key, []).extend(values)

    epoch, batch = divmod(int(start_step), int(steps_per_epoch))
    if start_step:
        print(f"resuming at step {start_step} (epoch {epoch + 1}, batch {batch})", flush=True)
    if batch:
        run(dataset, start_step, epoch, epoch + 1, steps_per_epoch - batch)
        epoch += 1
        dataset = remake() if remake is not None else dataset
    if epoch < epochs:
        run(dataset, epoch * steps_per_epoch, epoch, epochs, steps_per_epoch)
    return history
