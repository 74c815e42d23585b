"""The training job of a `kind = "classifier"` recipe: the zoo's feature extractors.

A classifier trains on a labelled dataset; with `data.dataset_b` too, the second set's classes
follow the first's (Google's 9 emoji categories, then Twitter's: vendor x category), so one
classifier judges both what a drawing shows and whose style it is in.
"""

import json
import pathlib
import time

import numpy as np

from tfgen import data, io
from tfgen.errors import TfgenUsageError


def labelled_arrays(recipe, split, data_dir=None):
    """uint8 images and int labels of the recipe's dataset (and dataset_b after it)."""
    d = recipe.data
    data_dir = data_dir or d.data_dir
    parts = []
    for source in [d.dataset] + ([d.dataset_b] if d.dataset_b else []):
        arrays = data.load_arrays(source, split, d.image_size, data_dir, d.background)
        if arrays is None or arrays[1] is None:
            raise TfgenUsageError(
                f"a classifier trains on labelled images; {source} has no labels here (use an "
                "IDX folder, class sub-folders or an .npz with 'y')"
            )
        parts.append(arrays)
    offset, images, labels = 0, [], []
    for x, y in parts:
        images.append(x)
        labels.append(y.astype(np.int32) + offset)
        offset += int(y.max()) + 1
    images, labels = np.concatenate(images), np.concatenate(labels)
    if d.limit is not None and split == "train":  # the test split is always whole
        order = np.random.default_rng(recipe.train.seed).permutation(len(images))[: d.limit]
        images, labels = images[order], labels[order]
    return images, labels


def run(recipe, out, verbose=2, data_dir=None):
    """Trains the classifier a recipe describes; writes `out/model.keras` and `out/run.json`."""
    from tfgen.evaluation.classifier import save_classifier, train_classifier

    out = pathlib.Path(out)
    io.make_folder(out)
    images, labels = labelled_arrays(recipe, "train", data_dir)
    options = recipe.options
    opt = recipe.optimizer
    settings = {
        "epochs": recipe.train.epochs or 1,
        "batch_size": recipe.train.batch_size,
        "seed": recipe.train.seed,
        **({"learning_rate": opt.learning_rate} if opt.learning_rate is not None else {}),
        **({"weight_decay": opt.weight_decay} if opt.weight_decay is not None else {}),
        **options,
    }
    if recipe.train.steps is not None:
        raise TfgenUsageError("a classifier trains for train.epochs, not train.steps")
    start = time.time()
    model, history = train_classifier(images, labels, verbose=verbose, **settings)
    wall_time = time.time() - start
    with io.atomic_path(out / "model.keras") as tmp:
        save_classifier(model, tmp)
    steps = settings["epochs"] * int(np.ceil(len(images) / settings["batch_size"]))
    summary = {
        "kind": "classifier",
        "dataset": recipe.data.dataset,
        "steps": steps,
        "epochs": settings["epochs"],
        "image_shape": list(images.shape[1:]),
        "num_classes": int(labels.max()) + 1,
        "train_images": len(images),
        "wall_time_s": round(wall_time, 1),
        "final_metrics": {k: float(v[-1]) for k, v in history.items() if v},
    }
    with io.atomic_path(out / "run.json") as tmp:
        tmp.write_text(json.dumps(summary, indent=2))
    return model
