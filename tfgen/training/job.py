"""The training job behind `tfgen train`: data, model, callbacks, `fit`, the saved model.

Kept apart from the CLI so scripts and tests can call it directly.
"""

import dataclasses
import json
import math
import pathlib

import keras

from tfgen import config, distribute, io, optimizers, registry
from tfgen import precision as mixed_precision
from tfgen.errors import TfgenUsageError
from tfgen.kinds import EMA_KINDS, FLAG_OPTIONS
from tfgen.training import callbacks, inputs, stopping
from tfgen.training import checkpoint as reliability
from tfgen.training import monitor as health
from tfgen.training.inputs import make_dataset, sample_callback


def plan_steps(batches_per_pass, steps=None, epochs=None, steps_per_epoch=None):
    """Returns `(epochs, steps_per_epoch)` for a run of `steps` or `epochs`.

    With `steps`, epochs are at most one pass over the data and divide `steps` evenly when
    they can (the run may round up to a multiple of `steps_per_epoch`). A `steps_per_epoch`
    given sets the epoch's length instead (the data repeats within it).
    """
    if steps is not None and epochs is not None:
        raise TfgenUsageError("give either --steps or --epochs, not both")
    if steps_per_epoch is not None:
        if steps_per_epoch < 1:
            raise TfgenUsageError(f"steps_per_epoch must be >= 1, got {steps_per_epoch}")
        if steps is None:
            return int(epochs or 1), int(steps_per_epoch)
        return math.ceil(steps / steps_per_epoch), int(steps_per_epoch)
    if steps is None:
        if epochs is not None and epochs < 1:
            raise TfgenUsageError(f"--epochs must be >= 1, got {epochs}")
        return int(epochs or 1), int(batches_per_pass)
    if steps < 1:
        raise TfgenUsageError(f"--steps must be >= 1, got {steps}")
    n_epochs = math.ceil(steps / batches_per_pass)
    return n_epochs, math.ceil(steps / n_epochs)


def _build(model_cls, image_shape, seed, options):
    """`model_cls(image_shape=, seed=, **options)`; an unknown option is a usage error."""
    import inspect

    try:
        return model_cls(image_shape=image_shape, seed=seed, **options)
    except (TypeError, ValueError) as e:
        if "keyword argument" not in str(e):
            raise
        known = [
            name
            for name, p in inspect.signature(model_cls.__init__).parameters.items()
            if name not in ("self", "image_shape", "seed") and p.kind == p.POSITIONAL_OR_KEYWORD
        ]
        unknown = sorted(set(options) - set(known))
        # Options set by their own flags (e.g. --spectral-norm): name the flag the user typed.
        unknown = [
            f"{name} ({FLAG_OPTIONS[name]})" if name in FLAG_OPTIONS else name for name in unknown
        ]
        raise TfgenUsageError(
            f"unknown --option {', '.join(unknown) or str(e)} for {model_cls.kind}; "
            f"its options are {', '.join(known)}"
        ) from e


def open_run_folder(out):
    """Makes the run folder `out`, or reopens a killed run's: the half-written files its atomic
    writes left in `out` and `out/samples` are removed (the checkpoints clean their own)."""
    io.make_folder(out)
    for folder in (out, out / "samples"):
        io.remove_stale_temporaries(folder)


def restore_checkpoint(model, out, shared, steps_per_epoch, extra, strategy, every=None):
    """The run's `StepCheckpoint` in `out/checkpoints` and the step to resume at (0: none).

    `shared` is the chief's checkpoint folder, which every worker of a multi-worker run reads
    (`out` is a scratch folder for the others); the workers then agree on the step
    (`distribute.agree_on_step`) or all stop with one error.
    """
    checkpoint = reliability.StepCheckpoint(
        pathlib.Path(out) / "checkpoints",
        steps_per_epoch,
        every=every,
        extra=extra,
        restore_from=shared,
    )
    return checkpoint, distribute.agree_on_step(checkpoint.restore(model), shared, strategy)


def finish_run(model, out, checkpoint, history, summary):
    """Writes `out/model.keras` (finite weights only) and `out/run.json` (`summary` plus the
    final metrics), then deletes the step checkpoints they make redundant."""
    out = pathlib.Path(out)
    reliability.check_finite_weights(model, out / "model.keras")
    with io.atomic_path(out / "model.keras") as tmp:
        model.save(tmp)
    summary = {
        **summary,
        "final_metrics": {k: float(v[-1]) for k, v in history.items() if v},
    }
    with io.atomic_path(out / "run.json") as tmp:
        tmp.write_text(json.dumps(summary, indent=2))
    checkpoint.remove()


def train(
    kind,
    dataset,
    out,
    steps=None,
    epochs=None,
    batch_size=64,
    seed=0,
    image_size=None,
    channels=None,
    data_dir=None,
    strategy="auto",
    options=None,
    compile_options=None,
    verbose=1,
    samples=64,
    limit=None,
    task=None,
    dataset_b=None,
    checkpoint_every=None,
    deterministic=False,
    extra_callbacks=None,
    precision="float32",
    jit="auto",
    eval_every=None,
    eval_n=1000,
    monitor=None,
    initial_model=None,
    run_info=None,
):
    """The keyword form of a recipe, for Python callers: builds the `Recipe` and calls `run`.

    `dataset` and `dataset_b` may also be arrays or (for `dataset`) a batched
    `tf.data.Dataset`; `compile_options` are `compile`'s arguments (optimizer objects);
    `initial_model` and `run_info` are `run`'s.
    """
    recipe = config.Recipe(
        model={"kind": kind, **(options or {})} if kind else {},
        data=config.Data(
            dataset=dataset if isinstance(dataset, str) else "",
            dataset_b=dataset_b if isinstance(dataset_b, str) else None,
            image_size=image_size, channels=channels, limit=limit, task=task,
        ),
        train=config.Train(
            steps=steps, epochs=epochs, batch_size=batch_size, seed=seed, strategy=strategy,
            precision=precision, jit=jit, checkpoint_every=checkpoint_every,
            deterministic=deterministic, eval_every=eval_every, eval_n=eval_n, monitor=monitor,
            samples=samples,
        ),
    )  # fmt: skip
    return run(
        recipe,
        out,
        verbose=verbose,
        data_dir=data_dir,
        dataset=None if isinstance(dataset, str) else dataset,
        dataset_b=None if isinstance(dataset_b, str) else dataset_b,
        compile_options=compile_options,
        extra_callbacks=extra_callbacks,
        initial_model=initial_model,
        run_info=run_info,
    )


def run(
    recipe,
    out,
    verbose=1,
    data_dir=None,
    dataset=None,
    dataset_b=None,
    compile_options=None,
    extra_callbacks=None,
    initial_model=None,
    run_info=None,
):
    """The training job: trains what `recipe` (a `tfgen.config.Recipe`) says into run folder
    `out`, and returns the model.

    `out/model.keras` (the trained model), `out/run.json` (what ran, the final metrics, the
    wall time), `out/samples/epoch_XXX.png`, `out/logs/` (TensorBoard) and `out/checkpoints/`
    (an interrupted run of the same recipe resumes at its last checkpoint's step, written each
    epoch and every `train.checkpoint_every` steps). `train.batch_size` is the global batch,
    split across replicas; `train.deterministic` turns on op determinism, so a resumed run
    ends with the same weights as an uninterrupted one. A NaN/Inf loss stops the run keeping
    the last checkpoint. In a multi-worker run only the chief writes `out`. Every
    `train.eval_every` epochs the FID/KID against the test split are logged and the best model
    is kept as `out/best.keras`; `train.monitor` adds the training-health checks.

    A recipe with `finetune.source` fine-tunes that model (`tfgen.transfer.finetune`, which
    comes back here with the loaded model as `initial_model`); `model.kind = "classifier"`
    trains a feature extractor (`classifier_job`). What the job does for a model follows its
    class's declarations (`tfgen.models.contract.TrainingContract`), not methods it might have.

    Args:
        data_dir: the local dataset copies (default: `data.data_dir`, then $TFGEN_DATA_DIR).
        dataset, dataset_b: sources in memory (arrays, or a batched `tf.data.Dataset` for
            `dataset`) that replace the recipe's names.
        compile_options: `compile`'s arguments, before the recipe's `[optimizer]`.
        extra_callbacks: Keras callbacks run after tfgen's own.
        initial_model: a callable returning the model to start from, called inside the
            strategy scope and the dtype policy (fine-tuning); compiled with `compile_options`
            when it is not compiled.
        run_info: dict added to `out/run.json`, read when the run ends.
    """
    import time

    import tensorflow as tf

    if recipe.finetune.source and initial_model is None:
        from tfgen.transfer.finetuning import finetune_recipe

        return finetune_recipe(recipe, out, verbose=verbose, data_dir=data_dir,
                               callbacks=extra_callbacks)  # fmt: skip
    if recipe.kind == "classifier":
        from tfgen.training import classifier_job

        return classifier_job.run(recipe, out, verbose=verbose, data_dir=data_dir)
    started = time.time()
    d, t = recipe.data, recipe.train
    # What the job learns on the way, for run.json; `run_info` is read only at the end (a
    # starting model's callable fills it in).
    notes = {}
    if t.precision == "auto":
        from tfgen import hardware

        chosen, why = hardware.auto_precision()
        print(f"precision auto: {chosen} ({why})", flush=True)
        notes.update(precision_auto=why)
        t = dataclasses.replace(t, precision=chosen)
    data_dir = data_dir or d.data_dir
    mixed_precision.check_precision(t.precision)
    model_cls = registry.get_model_class(recipe.kind) if initial_model is None else None
    out = pathlib.Path(out)
    if model_cls is not None:
        health.check_mode(t.monitor, model_cls)
    reliability.check_checkpoint_every(t.checkpoint_every)
    if t.eval_every is not None and t.eval_every < 1:
        raise TfgenUsageError(f"--eval-every must be >= 1 epochs, got {t.eval_every}")
    if d.limit is not None and d.limit < 1:
        raise TfgenUsageError(f"--limit must be >= 1 images, got {d.limit}; drop it to use all")
    # First: MultiWorkerMirroredStrategy must exist before TensorFlow runs any op.
    strategy = distribute.get_strategy(t.strategy)
    if t.deterministic:
        tf.config.experimental.enable_op_determinism()
    keras.utils.set_random_seed(t.seed)
    compile_options = dict(compile_options or {})
    source = d.dataset if dataset is None else dataset
    source_b = d.dataset_b if dataset_b is None else dataset_b
    if d.halves or d.invert_b:
        source, source_b = inputs.two_domains(recipe, data_dir)
        notes.update(dataset=d.dataset, dataset_b=d.dataset_b or d.dataset)
    holdout = (t.validation_images, "train") if t.validation_images else None
    load_extras = dict(target=d.target, background=d.background, holdout=holdout, balance=d.balance)
    if initial_model is not None:
        # The model first: it decides the data's image shape.
        with strategy.scope(), mixed_precision.policy(t.precision):
            model = initial_model()
        model_cls = type(model)
        kind = recipe.kind or model_cls.kind
        health.check_mode(t.monitor, model_cls)
        data_args = inputs.data_for_model(
            model, source, t.batch_size, t.seed, data_dir, d.limit, source_b, d.task,
            d.limit_seed,
        )  # fmt: skip
        data_args.update(load_extras)
    else:
        kind = recipe.kind
        data_args = dict(
            model_cls=model_cls,
            dataset=source,
            batch_size=t.batch_size,
            seed=t.seed,
            image_size=d.image_size,
            channels=d.channels,
            data_dir=data_dir,
            limit=d.limit,
            limit_seed=d.limit_seed,
            task=d.task,
            options=recipe.options,
            dataset_b=source_b,
            **load_extras,
        )
    if isinstance(source, tf.data.Dataset):
        ds, remake = source, None
    else:
        ds = make_dataset(**data_args)

        def remake():  # the same seeded pipeline again, for the epochs after a partial one
            return make_dataset(**data_args).repeat()

    batches = int(ds.cardinality())
    if batches < 1:
        raise TfgenUsageError(
            f"{d.dataset} gives no full batch of {t.batch_size}; lower --batch-size"
        )
    n_epochs, steps_per_epoch = plan_steps(batches, t.steps, t.epochs, t.steps_per_epoch)
    if initial_model is None:
        model = _new_model(
            model_cls, ds, d.task, recipe.options, compile_options, n_epochs * steps_per_epoch,
            strategy, t.precision, t.jit, t.seed, recipe.optimizer,
        )  # fmt: skip
    elif not model.compiled:
        with strategy.scope(), mixed_precision.policy(t.precision):
            model.compile(**_with_jit(compile_options, t.jit))
    validation = (
        inputs.validation_dataset(model_cls, source, recipe, data_dir)
        if t.validation_images
        else None
    )
    # Only the chief's files are kept; every worker still saves (see distribute.output_dir)
    # and resumes from the chief's checkpoint.
    shared_checkpoints = out / "checkpoints"
    with distribute.output_dir(out, strategy) as out:
        open_run_folder(out)
        # Resume: the whole model state at the last checkpoint's step; the data is re-made
        # from the same seed and the consumed batches skipped; GAN noise is keyed by the step.
        checkpoint, start_step = restore_checkpoint(
            model,
            out,
            shared_checkpoints,
            steps_per_epoch,
            {"kind": kind, "seed": t.seed, "batch_size": t.batch_size},
            strategy,
            every=t.checkpoint_every,
        )
        cbs = [
            # First, so a NaN step raises before anything is written.
            reliability.StopOnNonFinite(steps_per_epoch, out / "checkpoints"),
            checkpoint,
            sample_callback(model, ds, out, t.samples, t.seed),
            # Before TensorBoard and History, so both see the fid/kid it adds to the logs.
            *(
                [
                    callbacks.FIDCheckpoint(
                        d.dataset,
                        out,
                        every=t.eval_every,
                        n=t.eval_n,
                        seed=t.seed,
                        log_dir=out / "logs" / "eval",
                        data_dir=data_dir,
                    )  # fmt: skip
                ]
                if t.eval_every is not None
                else []
            ),
            *([health.for_run(t.monitor, ds, d.dataset, out, t.seed)] if t.monitor else []),
            *stopping.callbacks(t),
            keras.callbacks.TensorBoard(str(out / "logs"), write_graph=False),
            *(extra_callbacks or []),
        ]
        history = reliability.resumed_fit(
            model,
            ds.repeat(),
            start_step,
            n_epochs,
            steps_per_epoch,
            cbs,
            verbose,
            remake=remake,
            validation_data=validation,
        )
        summary = {
            "kind": kind,
            "dataset": type(source).__name__ if not isinstance(source, str) else source,
            **({"dataset_b": str(source_b)} if isinstance(source_b, str) else {}),
            "epochs": n_epochs,
            "steps_per_epoch": steps_per_epoch,
            "steps": _steps_run(model, history, start_step, n_epochs, steps_per_epoch),
            "batch_size": t.batch_size,
            "seed": t.seed,
            "precision": t.precision,
            "image_shape": [int(v) for v in _first(ds.element_spec).shape[1:]],
            "wall_time_s": round(time.time() - started, 1),
            "recipe": recipe.to_dict(),
            **notes,
            **(run_info or {}),
        }
        finish_run(model, out, checkpoint, history, summary)
        return model


def _steps_run(model, history, start_step, n_epochs, steps_per_epoch):
    """The steps the run made: fewer than planned when early stopping or a time budget ended
    it (it stops at an epoch's end)."""
    if not model.stop_training:
        return n_epochs * steps_per_epoch
    epochs_here = len(next(iter(history.values()), []))
    return -(-int(start_step) // steps_per_epoch) * steps_per_epoch + epochs_here * steps_per_epoch


def _with_jit(compile_options, jit):
    """`compile_options` with `jit_compile` when `--jit` forces XLA on or off (call inside the
    strategy scope)."""
    jit_compile = distribute.resolve_jit(jit)
    if jit_compile == "auto":
        return compile_options
    return {**compile_options, "jit_compile": jit_compile}


def _new_model(
    model_cls, ds, task, options, compile_options, total_steps, strategy, precision, jit, seed,
    optimizer=None,
):  # fmt: skip
    """A new model of `model_cls` for the data `ds`, built and compiled in the strategy scope
    under the dtype policy, with a recipe's `[optimizer]` applied to its own defaults."""
    image_shape = tuple(int(d) for d in _first(ds.element_spec).shape[1:])
    # Options the data decides (e.g. pix2pix's output channels and task); explicit ones win.
    options = {**inputs.options_from_data(model_cls, ds, task), **(options or {})}
    if options.get("ema") is not None and not model_cls.supports_ema:
        raise TfgenUsageError(
            f"--ema averages a GAN's generator ({', '.join(EMA_KINDS)}); "
            f"{model_cls.kind} does not keep one"
        )
    if model_cls.schedules_over_run:
        # The learning rate follows the run's length (CycleGAN's linear decay to 0).
        compile_options.setdefault("total_steps", total_steps)
    with strategy.scope(), mixed_precision.policy(precision):
        compile_options = _with_jit(compile_options, jit)
        model = _build(model_cls, image_shape, seed, options)
        model.compile(**compile_options)
        changes = optimizers.recipe_changes(model, optimizer, total_steps)
        if changes:
            model.compile(**{**compile_options, **changes})
    return model


def _first(element_spec):
    return element_spec[0] if isinstance(element_spec, tuple) else element_spec
