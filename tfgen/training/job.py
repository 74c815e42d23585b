"""The training job behind `tfgen train`: data, model, callbacks, `fit`, the saved model.

Kept apart from the CLI so scripts and tests can call it directly.
"""

import json
import math
import pathlib

import keras

from tfgen import distribute, io, registry
from tfgen import precision as mixed_precision
from tfgen.errors import TfgenUsageError
from tfgen.training import callbacks, inputs
from tfgen.training import checkpoint as reliability
from tfgen.training import monitor as health
from tfgen.training.inputs import make_dataset, sample_callback


def plan_steps(batches_per_pass, steps=None, epochs=None):
    """Returns `(epochs, steps_per_epoch)` for a run of `steps` or `epochs`.

    With `steps`, epochs are at most one pass over the data and divide `steps` evenly when
    they can (the run may round up to a multiple of `steps_per_epoch`).
    """
    if steps is not None and epochs is not None:
        raise TfgenUsageError("give either --steps or --epochs, not both")
    if steps is None:
        if epochs is not None and epochs < 1:
            raise TfgenUsageError(f"--epochs must be >= 1, got {epochs}")
        return int(epochs or 1), int(batches_per_pass)
    if steps < 1:
        raise TfgenUsageError(f"--steps must be >= 1, got {steps}")
    n_epochs = math.ceil(steps / batches_per_pass)
    return n_epochs, math.ceil(steps / n_epochs)


# Model options that `tfgen train` sets from a flag of their own.
FLAG_OPTIONS = {
    "ema": "--ema",
    "augment": "--augment",
    "r1_gamma": "--r1",
    "spectral_norm": "--spectral-norm",
}


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
    """Trains a model kind on a dataset and writes a run folder.

    `out/model.keras` (the trained model), `out/samples/epoch_XXX.png`, `out/logs/`
    (TensorBoard) and `out/checkpoints/` (resumes an interrupted run of the same command at
    the step of its last checkpoint, written each epoch and every `checkpoint_every` steps).
    `batch_size` is the global batch, split across replicas. `deterministic` turns on op
    determinism, so a resumed run ends with the same weights as an uninterrupted one.
    A NaN/Inf loss stops the run (`reliability.NonFiniteError`) keeping the last checkpoint.
    `extra_callbacks` (Keras callbacks) run after tfgen's own (e.g. a memory probe).
    `precision` is the Keras dtype policy the model is built under (`float32`,
    `mixed_float16` with loss scaling, `mixed_bfloat16`); `jit` is `auto`, `on` or `off`
    (XLA). In a multi-worker run only the chief writes `out`; the other workers write into
    temporary folders removed at the end. Every `eval_every` epochs, the FID/KID of `eval_n`
    samples against `eval_n` images of the dataset's test split are logged, and the best model
    by FID is kept as `out/best.keras` + `out/best.json` (`callbacks.FIDCheckpoint`).
    `monitor` (`warn` or `stop`) adds `tfgen.training.monitor`'s training-health checks;
    `stop` ends the run at the first alarm keeping `out/last_good.keras`.

    What the job does for a model follows its class's declarations
    (`tfgen.models.contract.TrainingContract`: `data_kind`, `supports_ema`,
    `schedules_over_run`), not methods it might have.

    A run can start from an existing model instead of a new one of `kind` (fine-tuning,
    `tfgen.transfer.finetune`): `initial_model` is then a callable, called with no argument
    inside the strategy scope and the dtype policy, that returns the model, compiled or not
    (it is compiled with `compile_options` when not). `kind` may be None (the model's own);
    the model's options stay its own, and `dataset` is loaded at the model's image shape (and,
    for pix2pix, its task). `dataset` may also be a batched `tf.data.Dataset` of the
    model's batches. `run_info` (a dict) is added to `out/run.json`; it is read when the run
    ends, so the starting model's callable may fill it in.
    """
    import tensorflow as tf

    mixed_precision.check_precision(precision)
    model_cls = registry.get_model_class(kind) if initial_model is None else None
    out = pathlib.Path(out)
    if model_cls is not None:
        health.check_mode(monitor, model_cls)
    reliability.check_checkpoint_every(checkpoint_every)
    if eval_every is not None and eval_every < 1:
        raise TfgenUsageError(f"--eval-every must be >= 1 epochs, got {eval_every}")
    if limit is not None and limit < 1:
        raise TfgenUsageError(f"--limit must be >= 1 images, got {limit}; drop it to use all")
    # First: MultiWorkerMirroredStrategy must exist before TensorFlow runs any op.
    strategy = distribute.get_strategy(strategy)
    if deterministic:
        tf.config.experimental.enable_op_determinism()
    keras.utils.set_random_seed(seed)
    compile_options = dict(compile_options or {})
    if initial_model is not None:
        # The model first: it decides the data's image shape.
        with strategy.scope(), mixed_precision.policy(precision):
            model = initial_model()
        model_cls = type(model)
        kind = kind or model_cls.kind
        health.check_mode(monitor, model_cls)
        data_args = inputs.data_for_model(
            model, dataset, batch_size, seed, data_dir, limit, dataset_b, task
        )
    else:
        data_args = dict(
            model_cls=model_cls,
            dataset=dataset,
            batch_size=batch_size,
            seed=seed,
            image_size=image_size,
            channels=channels,
            data_dir=data_dir,
            limit=limit,
            task=task,
            options=options,
            dataset_b=dataset_b,
        )
    if isinstance(dataset, tf.data.Dataset):
        ds, remake = dataset, None
    else:
        ds = make_dataset(**data_args)

        def remake():  # the same seeded pipeline again, for the epochs after a partial one
            return make_dataset(**data_args).repeat()

    batches = int(ds.cardinality())
    if batches < 1:
        raise TfgenUsageError(f"{dataset} gives no full batch of {batch_size}; lower --batch-size")
    n_epochs, steps_per_epoch = plan_steps(batches, steps, epochs)
    if initial_model is None:
        model = _new_model(
            model_cls, ds, task, options, compile_options, n_epochs * steps_per_epoch,
            strategy, precision, jit, seed,
        )  # fmt: skip
    elif not model.compiled:
        with strategy.scope(), mixed_precision.policy(precision):
            model.compile(**_with_jit(compile_options, jit))
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
            {"kind": kind, "seed": seed, "batch_size": batch_size},
            strategy,
            every=checkpoint_every,
        )
        cbs = [
            # First, so a NaN step raises before anything is written.
            reliability.StopOnNonFinite(steps_per_epoch, out / "checkpoints"),
            checkpoint,
            sample_callback(model, ds, out, samples, seed),
            # Before TensorBoard and History, so both see the fid/kid it adds to the logs.
            *(
                [
                    callbacks.FIDCheckpoint(
                        dataset,
                        out,
                        every=eval_every,
                        n=eval_n,
                        seed=seed,
                        log_dir=out / "logs" / "eval",
                        data_dir=data_dir,
                    )  # fmt: skip
                ]
                if eval_every is not None
                else []
            ),
            *([health.for_run(monitor, ds, dataset, out, seed)] if monitor else []),
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
        )
        summary = {
            "kind": kind,
            "dataset": type(dataset).__name__
            if isinstance(dataset, tf.data.Dataset)
            else str(dataset),
            **({"dataset_b": str(dataset_b)} if dataset_b is not None else {}),
            "epochs": n_epochs,
            "steps_per_epoch": steps_per_epoch,
            "steps": n_epochs * steps_per_epoch,
            "batch_size": batch_size,
            "seed": seed,
            "precision": precision,
            **(run_info or {}),
        }
        finish_run(model, out, checkpoint, history, summary)
        return model


def _with_jit(compile_options, jit):
    """`compile_options` with `jit_compile` when `--jit` forces XLA on or off (call inside the
    strategy scope)."""
    jit_compile = distribute.resolve_jit(jit)
    if jit_compile == "auto":
        return compile_options
    return {**compile_options, "jit_compile": jit_compile}


def _new_model(
    model_cls, ds, task, options, compile_options, total_steps, strategy, precision, jit, seed
):
    """A new model of `model_cls` for the data `ds`, built and compiled in the strategy scope
    under the dtype policy."""
    image_shape = tuple(int(d) for d in _first(ds.element_spec).shape[1:])
    # Options the data decides (e.g. pix2pix's output channels and task); explicit ones win.
    options = {**inputs.options_from_data(model_cls, ds, task), **(options or {})}
    if options.get("ema") is not None and not model_cls.supports_ema:
        raise TfgenUsageError(
            f"--ema averages a noise-to-image generator (dcgan, wgan_gp, cgan); "
            f"{model_cls.kind} does not keep one"
        )
    if model_cls.schedules_over_run:
        # The learning rate follows the run's length (CycleGAN's linear decay to 0).
        compile_options.setdefault("total_steps", total_steps)
    with strategy.scope(), mixed_precision.policy(precision):
        compile_options = _with_jit(compile_options, jit)
        model = _build(model_cls, image_shape, seed, options)
        model.compile(**compile_options)
    return model


def _first(element_spec):
    return element_spec[0] if isinstance(element_spec, tuple) else element_spec
