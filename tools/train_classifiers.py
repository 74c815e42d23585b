"""Trains the zoo's domain classifiers (feature extractors for FID/KID/precision-recall).

    python tools/train_classifiers.py                    # mnist and fashion_mnist
    python tools/train_classifiers.py --datasets mnist --data-dir /path/to/data

Trains on the train split only, measures accuracy on the test split, and writes
`savedmodels/classifier_<dataset>/` with `classifier_<dataset>.keras`, `card.json` and `README.md`.
A tool for now, not a recipe: it stays here until the zoo's rebuild command covers classifiers.
"""

import argparse
import json
import os
import pathlib
import platform
import shlex
import sys
import time

import keras
import tensorflow as tf

from tfgen.data import data_dir as env_data_dir
from tfgen.data import load_idx
from tfgen.evaluation.classifier import (
    FEATURES_LAYER,
    LOGITS_LAYER,
    classifier_accuracy,
    save_classifier,
    train_classifier,
)
from tfgen.registry import zoo_path

# Chosen to stay well under 10 minutes per dataset on 2 CPU cores. MNIST has only 8,334
# training images here, so it gets many epochs of strong augmentation; Fashion-MNIST has
# 58,334 and few epochs are affordable.
PRESETS = {
    "mnist": {"epochs": 30, "batch_size": 128, "learning_rate": 3e-3, "augmentation": "mnist"},
    "fashion_mnist": {
        "epochs": 8,
        "batch_size": 128,
        "learning_rate": 3e-3,
        "augmentation": "fashion_mnist",
        # Global average pooling underfits here (train accuracy = test accuracy = 91.5 %).
        "pooling": "flatten",
    },
}
TARGET_ACCURACY = {"mnist": 0.99, "fashion_mnist": 0.92}
SUBJECT = {"mnist": "handwritten digits", "fashion_mnist": "clothing items"}

README = """# {name}

A small CNN classifier of {dataset} {subject}, the feature extractor of
`tfgen.evaluation` for images of this dataset (`get_extractor("{dataset}")`).

- Input: float32 images in [-1, 1], shape {input_shape} (uint8 accepted by the extractor).
- Outputs: `{logits}` (10 class logits); the `{features}` layer ({feature_dim}-d, ReLU) is the
  embedding for FID, KID and precision/recall.
- Parameters: {params:,}.
- Trained on the train split only ({train_size:,} images of `{data_dir}`), epochs: {epochs},
  augmentation `{augmentation}`, seed {seed}.
- Test accuracy: **{test_accuracy_pct:.2f} %** on the held-out test split ({test_size:,} images;
  split described in the data README, not the official split). Train accuracy (no
  augmentation): {train_accuracy_pct:.2f} %.
- Training wall time: {wall_time_s:.0f} s on {hardware} (5-minute load average at the end
  of training: {load_average_5min}).

Reproduce: `{command}`

Limits: features of a {dataset} classifier say nothing about images of other domains; use
the `inception` extractor there. Scores in this feature space are not comparable with
Inception-based FIDs in papers.
"""


def train_one(dataset, data_dir, seed, epochs=None, limit=None, command=None):
    """Trains, measures and saves one classifier; returns its card (a dict)."""
    folder = pathlib.Path(data_dir) / dataset
    train_images, train_labels = load_idx(folder, "train")
    test_images, test_labels = load_idx(folder, "test")
    if limit:
        train_images, train_labels = train_images[:limit], train_labels[:limit]
    config = dict(PRESETS[dataset])
    if epochs is not None:
        config["epochs"] = epochs
    start = time.perf_counter()
    model, _ = train_classifier(train_images, train_labels, seed=seed, **config)
    wall_time = time.perf_counter() - start
    # The machine may be shared: the load beside the wall time says how much it was.
    load_average = os.getloadavg()[1]
    out_dir = zoo_path(f"classifier_{dataset}")
    out_dir.mkdir(parents=True, exist_ok=True)
    # Every zoo entry's file is <name>.keras, as tfgen.evaluation.get_extractor expects.
    path = save_classifier(model, out_dir / f"classifier_{dataset}.keras")
    # Measure the saved file, so the card describes exactly what the zoo ships.
    saved = keras.saving.load_model(path, compile=False)
    test_accuracy = classifier_accuracy(saved, test_images, test_labels)
    train_accuracy = classifier_accuracy(saved, train_images, train_labels)
    card = {
        "name": f"classifier_{dataset}",
        "kind": "classifier",
        "dataset": dataset,
        "data_dir": str(data_dir),
        "train_size": int(len(train_images)),
        "test_size": int(len(test_images)),
        "test_accuracy": round(test_accuracy, 6),
        "train_accuracy": round(train_accuracy, 6),
        "target_test_accuracy": TARGET_ACCURACY[dataset],
        "file": path.name,
        "input_shape": list(train_images.shape[1:]),
        "input_range": [-1.0, 1.0],
        "features_layer": FEATURES_LAYER,
        "feature_dim": int(saved.get_layer(FEATURES_LAYER).output.shape[-1]),
        "logits_layer": LOGITS_LAYER,
        "params": int(saved.count_params()),
        **config,
        "seed": seed,
        "wall_time_s": round(wall_time, 1),
        "load_average_5min": round(load_average, 2),
        "hardware": f"{os.cpu_count()} CPU cores"
        + (", GPU" if tf.config.list_physical_devices("GPU") else ", no GPU"),
        "command": command,
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "python": platform.python_version(),
    }
    (out_dir / "card.json").write_text(json.dumps(card, indent=2) + "\n")
    (out_dir / "README.md").write_text(
        README.format(
            subject=SUBJECT[dataset],
            features=FEATURES_LAYER,
            logits=LOGITS_LAYER,
            test_accuracy_pct=100 * test_accuracy,
            train_accuracy_pct=100 * train_accuracy,
            **card,
        )
    )
    return card


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--datasets", nargs="+", choices=sorted(PRESETS), default=list(PRESETS))
    parser.add_argument(
        "--data-dir",
        type=pathlib.Path,
        default=env_data_dir(),
        help="folder holding mnist/ and fashion_mnist/ IDX copies (default: $TFGEN_DATA_DIR)",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--epochs", type=int, default=None, help="override the presets")
    parser.add_argument("--limit", type=int, default=None, help="train on the first N images")
    args = parser.parse_args(argv)
    if args.data_dir is None:
        parser.error("no data folder: pass --data-dir or set TFGEN_DATA_DIR")
    command = shlex.join(
        ["python", "tools/train_classifiers.py", *(sys.argv[1:] if argv is None else argv)]
    )
    for dataset in args.datasets:
        card = train_one(dataset, args.data_dir, args.seed, args.epochs, args.limit, command)
        print(
            f"{card['name']}: test accuracy {card['test_accuracy']:.4f} "
            f"(target {card['target_test_accuracy']}), {card['wall_time_s']:.0f} s",
            flush=True,
        )


if __name__ == "__main__":
    main()
