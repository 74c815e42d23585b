"""What the training job feeds a model, chosen by the model class's declared `data_kind`:
its dataset, the options the data decides, and the run's per-epoch picture.

See `tfgen.models.contract.TrainingContract` for the declarations.
"""

from tfgen import data
from tfgen.errors import TfgenUsageError
from tfgen.models.contract import DATA_KINDS
from tfgen.training import callbacks


def _images(source, task, options, **load_kwargs):
    return data.load(source, with_labels=False, **load_kwargs)


def _labelled(source, task, options, **load_kwargs):
    """`(images, labels)` batches with the labels' range checked against `num_classes`.

    Array sources (IDX, .npz, image folders) are checked here, before training starts;
    TFDS streams are checked batch by batch in the model's `train_step`.
    """
    num_classes = int(options.get("num_classes", 10))
    arrays = data.load_arrays(
        source,
        load_kwargs.get("split", "train"),
        load_kwargs.get("image_size"),
        load_kwargs.get("data_dir"),
    )
    if arrays is not None and arrays[1] is not None:
        labels = arrays[1]
        if labels.min() < 0 or labels.max() >= num_classes:
            raise TfgenUsageError(
                f"{source} has labels in [{labels.min()}, {labels.max()}], outside "
                f"[0, {num_classes}); pass --option num_classes={labels.max() + 1}"
            )
    return data.load(source, with_labels=True, **load_kwargs)


def _paired(source, task, options, target=None, **load_kwargs):
    """`(input, target)` batches: two folders or sets paired by relative path, a paired
    folder, or pairs derived by `task`."""
    return data.paired.load(
        source, task=task, task_options=options.get("task_options"), target=target,
        **load_kwargs,
    )  # fmt: skip


def _unpaired(source, task, options, dataset_b=None, **load_kwargs):
    """`(images_a, images_b)` batches of two domains."""
    return data.load_unpaired(source, dataset_b, **load_kwargs)


_LOADERS = {"images": _images, "labelled": _labelled, "paired": _paired, "unpaired": _unpaired}
# Why a --task given to a model that does not take one is refused, per data kind.
_NO_TASK = {
    "images": "{kind} does not take one",
    "labelled": "{kind} trains on labelled images, drop --task",
    "unpaired": "a {kind} learns from two unpaired domains: pass --dataset A --dataset-b B instead",
}
assert set(_LOADERS) == set(DATA_KINDS)


def make_dataset(
    model_cls,
    dataset,
    batch_size,
    seed,
    image_size=None,
    channels=None,
    data_dir=None,
    limit=None,
    task=None,
    options=None,
    dataset_b=None,
    target=None,
    background="white",
    holdout=None,
    limit_seed=None,
    balance=None,
):
    """The training dataset of a model class, loaded as its `data_kind` says.

    `task` (pix2pix's `superres`, ...) derives pairs for a `"paired"` model; `options` are
    the model options (a labelled model's `num_classes`, a paired model's `task_options`);
    `dataset_b` is an `"unpaired"` model's second domain and `target` a `"paired"` model's
    targets; `background` is what transparent pixels become; `holdout` (`(n, "train")`)
    leaves n seeded images out for validation (`"images"` and `"labelled"` models);
    `balance` repeats rare classes' images (`data.sources.balanced_indices`; the same models).
    """
    kind = model_cls.data_kind
    if dataset_b is not None and kind != "unpaired":
        raise TfgenUsageError(
            f"--dataset-b is the second domain of a cyclegan; {model_cls.kind} trains on "
            "--dataset alone"
        )
    if target is not None and kind != "paired":
        raise TfgenUsageError(
            f"data.target pairs images for pix2pix; {model_cls.kind} does not take targets"
        )
    if holdout is not None and kind not in ("images", "labelled"):
        raise TfgenUsageError(
            f"train.validation_images holds out images of one dataset; {model_cls.kind} "
            "trains on pairs or domains"
        )
    if task is not None and kind != "paired":
        raise TfgenUsageError(
            f"--task {task} makes paired images for pix2pix; "
            + _NO_TASK[kind].format(kind=model_cls.kind)
        )
    load_kwargs = dict(
        split="train",
        image_size=image_size,
        channels=channels,
        batch_size=batch_size,
        shuffle=True,
        seed=seed,
        data_dir=data_dir,
        limit=limit,
    )
    if kind == "unpaired":
        load_kwargs["dataset_b"] = dataset_b
    if kind == "paired":
        load_kwargs["target"] = target
    if holdout is not None:
        load_kwargs["holdout"] = holdout
    if limit_seed is not None:
        if kind not in ("images", "labelled"):
            raise TfgenUsageError(
                f"data.limit_seed draws images of one dataset; {model_cls.kind} trains on "
                "pairs or domains (use data.limit)"
            )
        load_kwargs["limit_seed"] = limit_seed
    if balance is not None:
        if kind not in ("images", "labelled"):
            raise TfgenUsageError(
                f"data.balance repeats the images of one labelled dataset by class; "
                f"{model_cls.kind} trains on pairs or domains: drop data.balance"
            )
        load_kwargs["balance"] = balance
    load_kwargs["background"] = background
    return _LOADERS[kind](dataset, task, dict(options or {}), **load_kwargs)


def options_from_data(model_cls, ds, task=None):
    """The model options the data decides: a paired model's output channels (and task), an
    unpaired model's domain-B image shape. Options the user gives win over these."""
    if model_cls.data_kind == "paired":
        _, target_spec = ds.element_spec
        return {"output_channels": int(target_spec.shape[-1]), **({"task": task} if task else {})}
    if model_cls.data_kind == "unpaired":
        return {"image_shape_b": tuple(int(d) for d in ds.element_spec[1].shape[1:])}
    return {}


def validation_dataset(model_cls, source, recipe, data_dir):
    """The `train.validation_images` held out of the training split, in order, for `fit`'s
    validation (the images `make_dataset(holdout=(n, "train"))` left out)."""
    d = recipe.data
    return data.load(
        source, split="train", image_size=d.image_size, channels=d.channels, batch_size=500,
        with_labels=model_cls.data_kind == "labelled", shuffle=False, seed=recipe.train.seed,
        drop_remainder=False, data_dir=data_dir, limit=d.limit, background=d.background,
        holdout=(recipe.train.validation_images, "validation"), limit_seed=d.limit_seed,
    )  # fmt: skip


def two_domains(recipe, data_dir):
    """A CycleGAN's domains as arrays when the recipe cuts or inverts them: `data.halves` cuts
    the train split of `data.dataset` in two disjoint halves (seeded by `data.split_seed`),
    and `data.invert_b` inverts domain B (255 - x)."""
    import numpy as np

    d = recipe.data
    arrays = data.load_arrays(d.dataset, "train", d.image_size, data_dir, d.background)
    if arrays is None:
        raise TfgenUsageError(f"data.halves / data.invert_b need a local copy of {d.dataset}")
    images = arrays[0]
    if d.halves:
        if d.dataset_b not in (None, d.dataset):
            raise TfgenUsageError("data.halves cuts one dataset in two: drop data.dataset_b")
        order = np.random.default_rng(d.split_seed).permutation(len(images))
        half = len(images) // 2
        a, b = images[order[:half]], images[order[half:]]
    else:
        b = data.load_arrays(d.dataset_b, "train", d.image_size, data_dir, d.background)[0]
        a = images
    if d.invert_b:
        if b.dtype != np.uint8:
            raise TfgenUsageError("data.invert_b inverts uint8 images; this source is float")
        b = 255 - b
    return a, b


def data_for_model(
    model, dataset, batch_size, seed, data_dir, limit, dataset_b=None, task=None, limit_seed=None
):
    """`make_dataset`'s arguments for an existing model's data (a run that starts from a
    trained model): at its own image shape (a pix2pix model's input shape, domain A's for a
    CycleGAN) and, for a pix2pix model, with its own task and task options. A `task` given
    for another kind of model reaches `make_dataset`, which refuses it."""
    shape = getattr(model, "image_shape", None) or getattr(model, "input_shape_", None)
    size, _, channels = shape or (None, None, None)
    own_task = getattr(model, "task", None)
    return dict(
        model_cls=type(model),
        dataset=dataset,
        batch_size=batch_size,
        seed=seed,
        image_size=size,
        channels=channels,
        data_dir=data_dir,
        limit=limit,
        dataset_b=dataset_b,
        task=task or own_task,
        options={"task_options": model.task_options} if own_task else None,
        limit_seed=limit_seed,
    )


def sample_callback(model, ds, out, n, seed):
    """The run's per-epoch picture in `out/samples` (and TensorBoard): a `SampleGrid` from
    fixed noise, or a translation grid of one fixed batch for models that translate."""
    log_dir = out / "logs" / "samples"
    n = min(int(n), 16) if model.data_kind in ("paired", "unpaired") else n
    if model.data_kind == "paired":
        return callbacks.TranslationGrid(out / "samples", ds, "paired", n=n, log_dir=log_dir)
    if model.data_kind == "unpaired":
        images = next(iter(ds.take(1)))
        return callbacks.TranslationGrid(out / "samples", images, "unpaired", n=n, log_dir=log_dir)
    return callbacks.SampleGrid(out / "samples", n=n, seed=seed, log_dir=log_dir)
