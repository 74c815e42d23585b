"""Fine-tuning: a trained model, loaded and frozen by a recipe, trained on new data by the
same training job as `tfgen train` (`tfgen.training.train` with a starting model).
"""

import pathlib

import keras

from tfgen.errors import TfgenUsageError
from tfgen.optimizers import FusedAdam, learning_rate_for
from tfgen.training import checkpoint as checkpoints
from tfgen.training import job
from tfgen.training.callbacks import BlockLearningRates, ProgressiveUnfreezing
from tfgen.transfer.blocks import apply_recipe
from tfgen.transfer.layers import load_for_finetuning
from tfgen.transfer.refiner import with_refiner


def _release_as_at_checkpoint(unfreezing, model, folder):
    """Before a resumed run loads its checkpoint: releases the blocks the run had released
    when it wrote it, so the optimizers hold the variables (and slots) the checkpoint holds;
    with fewer, Keras would skip loading their state."""
    meta = checkpoints.read_metadata(folder)
    if meta is None or not int(meta["step"]):  # read_metadata checks the key
        return
    unfreezing.set_model(model)
    unfreezing.on_train_begin()
    # The epoch of the checkpoint's last step: one written at an epoch's end precedes the
    # next epoch's release, which the resumed fit then makes as the uninterrupted run did.
    # (A checkpoint of another run length is refused when it is restored.)
    unfreezing.on_epoch_begin((int(meta["step"]) - 1) // int(meta["steps_per_epoch"]))


def _compile_for_finetuning(model, learning_rate):
    from tfgen.models.cyclegan import CycleGAN
    from tfgen.models.gan import GAN, default_adam

    if learning_rate is None:
        model.compile()  # the model's own default optimizers
    elif isinstance(model, GAN):
        model.compile(
            g_optimizer=default_adam(learning_rate), d_optimizer=default_adam(learning_rate)
        )
    elif isinstance(model, CycleGAN):  # four default optimizers, one learning rate
        if isinstance(learning_rate, keras.optimizers.schedules.LearningRateSchedule):
            raise TfgenUsageError(
                "a CycleGAN's learning rate follows the run (constant, then a linear decay to "
                "0): its fine-tune takes only optimizer.learning_rate"
            )
        model.compile(learning_rate=learning_rate)
    else:
        model.compile(optimizer=FusedAdam(learning_rate))


def start_from_ema(model):
    """Copies a GAN's EMA generator into its raw generator: the fine-tune starts from the
    weights that sampled (usually the better ones), not from the last raw update."""
    if getattr(model, "ema", None) is None:
        raise TfgenUsageError(
            f"finetune.from_ema starts from a generator EMA; this {model.kind} keeps none"
        )
    for suffix in ("", "_a2b", "_b2a"):  # a GAN's one generator, a CycleGAN's two
        if hasattr(model, f"ema_generator{suffix}"):
            average = getattr(model, f"ema_generator{suffix}")
            getattr(model, f"generator{suffix}").set_weights(average.get_weights())


def swap_augmentation(model, augment, ada_speed_images=None):
    """Gives a GAN another discriminator augmentation (`none`, `diffaugment`, `ada`) for
    the fine-tune; the saved model records it. `ada_speed_images` paces ADA (the default,
    500,000 images, lets its probability rise by only 0.03 in 1,000 steps of 16)."""
    from tfgen import augment as augment_lib
    from tfgen.models.gan import GAN

    if not isinstance(model, GAN):
        raise TfgenUsageError(
            f"finetune.augment swaps a GAN's augmentation; a {model.kind} keeps its own"
        )
    pace = {} if ada_speed_images is None else {"speed_images": int(ada_speed_images)}
    model.augmenter = augment_lib.get(augment, seed=model.seed, **pace)


def finetune(
    source,
    dataset,
    out,
    freeze_d=0,
    freeze_g=0,
    unfreeze_every=None,
    lr_decay=None,
    steps=None,
    epochs=None,
    batch_size=64,
    seed=0,
    learning_rate=None,
    data_dir=None,
    strategy="auto",
    limit=None,
    verbose=1,
    samples=64,
    callbacks=None,
    checkpoint_every=None,
    dataset_b=None,
    task=None,
    deterministic=False,
    recipe=None,
    augment="source",
    from_ema=False,
    ada_speed_images=None,
    refiner=None,
):
    """Fine-tunes a trained model on a new dataset and writes a run folder (`tfgen finetune`).

    The run is `tfgen.training.train`'s, starting from the loaded model: the run folder holds
    `out/model.keras`, `out/samples/`, `out/logs/` (TensorBoard), `out/checkpoints/` (resumes
    an interrupted run) and `out/run.json`.

    Args:
        source: str or keras.Model. A zoo name, `.keras` file or tfgen SavedModel (see
            `load_for_finetuning`), or a model in memory (used as it is, e.g. a fresh model
            for a from-scratch baseline trained exactly like the fine-tuned one).
        dataset: str or tf.data.Dataset. A `tfgen.data.load` source, loaded at the model's
            image size and channels; or batched images in [-1, 1].
        freeze_d: int. FreezeD: discriminator blocks to freeze, input side first.
        freeze_g: int. Generator blocks to freeze, coarsest first.
        unfreeze_every: int or None. Release one frozen block every this many epochs.
        lr_decay: float or None. Learning-rate multiplier per block away from the output.
        steps, epochs: int. Length of the run (one of them; default one epoch).
        learning_rate: float, `keras.optimizers.schedules.LearningRateSchedule` or None. Adam's
            learning rate, counted from the fine-tune's first step; None keeps the model's
            default.
        callbacks: list. More Keras callbacks (e.g. a quality curve).
        checkpoint_every: int or None. Also checkpoint every this many steps within epochs
            (a killed run resumes at that step, with the data where an uninterrupted run
            has it when `dataset` is a source name rather than a `tf.data.Dataset`).
        dataset_b: str or None. A CycleGAN's domain B source (`dataset` is then domain A).
        task: str or None. A pix2pix model's paired task (`superres`, `inpaint`, ...);
            defaults to the task it was trained for, with the same task options. Another
            task becomes the model's own, with that task's default options.
        augment: str. A GAN's augmentation from now on: `"source"` (its own), `"none"`,
            `"diffaugment"` or `"ada"` (e.g. ADA for a few-shot fine-tune).
        from_ema: bool. Start the generator from the source's EMA weights.
        ada_speed_images: int or None. With `augment="ada"`: the real images over which
            ADA's probability can go from 0 to 1 (default 500,000).
        refiner: str, keras.Model or None. A pix2pix model whose generator is appended after
            a noise GAN's generator and fine-tuned with it (`tfgen.transfer.refiner`).
    """
    from tfgen.data.paired import resolve_task_options

    out = pathlib.Path(out)
    checkpoints.check_checkpoint_every(checkpoint_every)
    if lr_decay:
        BlockLearningRates(lr_decay)  # checks the decay before anything is loaded
    unfreezing = None
    if unfreeze_every:
        unfreezing = ProgressiveUnfreezing(unfreeze_every, lr_decay, verbose=verbose)
    run_info = {
        "source": source.name if isinstance(source, keras.Model) else str(source),
        "freeze_d": freeze_d,
        "freeze_g": freeze_g,
        "unfreeze_every": unfreeze_every,
        "lr_decay": lr_decay,
        "augment": augment,
        "from_ema": bool(from_ema),
        "ada_speed_images": ada_speed_images,
        "refiner": refiner.name if isinstance(refiner, keras.Model) else refiner and str(refiner),
    }

    def starting_model():  # called by the job inside its strategy scope
        from tfgen.precision import with_precision

        model = source if isinstance(source, keras.Model) else load_for_finetuning(source)
        if refiner is not None:
            model = with_refiner(model, refiner)
        # The run's precision, not the source's: a model keeps the dtype policy it was saved
        # with, so a float32 source would train in float32 under --precision mixed_bfloat16.
        model = with_precision(model, keras.mixed_precision.dtype_policy().name)
        if hasattr(model, "seed"):
            model.seed = int(seed)
        if from_ema:
            start_from_ema(model)
        if augment != "source":
            swap_augmentation(model, augment, ada_speed_images)
        run_info["frozen_at_start"] = apply_recipe(model, freeze_d, freeze_g, False)
        if task is not None and getattr(model, "task", task) != task:
            # A pix2pix model adapted to another task translates for that one from now on
            # (its saved config says so), with that task's default options.
            model.task = task
            model.task_options = resolve_task_options(task, model.input_shape_, None)
        _compile_for_finetuning(model, learning_rate)
        if unfreezing is not None:
            # The chief's checkpoint folder, which every worker resumes from.
            _release_as_at_checkpoint(unfreezing, model, out / "checkpoints")
        return model

    if unfreezing is not None:
        run_callbacks = [unfreezing]
    else:
        run_callbacks = [BlockLearningRates(lr_decay)] if lr_decay else []
    if recipe is None:
        from tfgen import config

        recipe = config.Recipe(
            data=config.Data(dataset=dataset if isinstance(dataset, str) else "",
                             dataset_b=dataset_b, limit=limit, task=task),
            train=config.Train(steps=steps, epochs=epochs, batch_size=batch_size, seed=seed,
                               strategy=strategy, checkpoint_every=checkpoint_every,
                               deterministic=deterministic, samples=samples),
            finetune=config.Finetune(source=run_info["source"], freeze_d=freeze_d,
                                     freeze_g=freeze_g, unfreeze_every=unfreeze_every,
                                     block_lr_decay=lr_decay, augment=augment,
                                     from_ema=bool(from_ema),
                                     ada_speed_images=ada_speed_images,
                                     refiner=run_info["refiner"]),
        )  # fmt: skip
    return job.run(
        recipe,
        out,
        verbose=verbose,
        data_dir=data_dir,
        dataset=None if isinstance(dataset, str) else dataset,
        extra_callbacks=run_callbacks + list(callbacks or []),
        initial_model=starting_model,
        run_info=run_info,
    )


def finetune_recipe(recipe, out, verbose=1, data_dir=None, callbacks=None):
    """A recipe with `[finetune] source = ...` run by `finetune` (the training job's entry for
    fine-tuning recipes: `tfgen train --config`, `tfgen finetune`)."""

    f, d, t, opt = recipe.finetune, recipe.data, recipe.train, recipe.optimizer
    if recipe.options:
        raise TfgenUsageError(
            f"a fine-tune keeps its source's model options; drop model.{next(iter(recipe.options))}"
        )
    if any(v is not None for v in (opt.beta_1, opt.beta_2, opt.weight_decay)):
        raise TfgenUsageError(
            "a fine-tune keeps its source's optimizer: its recipe sets only "
            "optimizer.learning_rate and optimizer.schedule"
        )
    learning_rate = opt.learning_rate
    if opt.schedule != "constant":
        # The fine-tune's optimizers start at step 0, so the schedule spans this run.
        if t.steps is None:
            raise TfgenUsageError(
                f"optimizer.schedule = {opt.schedule!r} spans the fine-tune: set train.steps"
            )
        learning_rate = learning_rate_for(opt, t.steps)
    if recipe.kind is not None:  # a kind given must be the source's
        from tfgen.transfer.layers import load_for_finetuning

        kind = getattr(load_for_finetuning(f.source), "kind", None)
        if kind != recipe.kind:
            raise TfgenUsageError(f"model.kind is {recipe.kind} but {f.source} is a {kind}")
    return finetune(
        f.source,
        d.dataset,
        out,
        freeze_d=f.freeze_d,
        freeze_g=f.freeze_g,
        unfreeze_every=f.unfreeze_every,
        lr_decay=f.block_lr_decay,
        steps=t.steps,
        epochs=t.epochs if t.steps is not None or t.epochs is not None else 1,
        batch_size=t.batch_size,
        seed=t.seed,
        learning_rate=learning_rate,
        data_dir=data_dir or d.data_dir,
        strategy=t.strategy,
        limit=d.limit,
        verbose=verbose,
        samples=t.samples,
        callbacks=callbacks,
        checkpoint_every=t.checkpoint_every,
        dataset_b=d.dataset_b,
        task=d.task,
        deterministic=t.deterministic,
        recipe=recipe,
        augment=f.augment,
        from_ema=f.from_ema,
        ada_speed_images=f.ada_speed_images,
        refiner=f.refiner,
    )
