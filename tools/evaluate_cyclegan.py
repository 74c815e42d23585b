"""Measures `cyclegan_mnist_inverted` against the known mapping and writes the card's metrics.

    TFGEN_DATA_DIR=../shared/data python scripts/evaluate_cyclegan.py [MODEL]

On the held-out MNIST test digits x (pixels in [0, 1]): A -> B should give 1 - x, B -> A
should give x back from 1 - x, both cycles should reconstruct their input, and an independent
classifier (savedmodels/classifier_mnist) should keep the digit class of the translations
(A -> B outputs are inverted back first, since the classifier knows white-on-black digits).
"""

import argparse
import json
import pathlib
import sys

import numpy as np

from tfgen import data, io, registry, saving, zoo

NAME = "cyclegan_mnist_inverted"
CLASSIFIER = pathlib.Path(__file__).resolve().parent.parent / "savedmodels" / "classifier_mnist"
# The acceptance thresholds.
TARGETS = {
    "a2b_mae_vs_inversion": ("<=", 0.05),
    "b2a_mae_vs_inversion": ("<=", 0.05),
    "cycle_mae": ("<", 0.03),
    "class_kept": (">=", 0.97),
}


def _unit(images):
    """[-1, 1] floats -> [0, 1]."""
    return (np.asarray(images, np.float32) + 1.0) / 2.0


def evaluate_inversion(model, images, labels=None, classifier=None):
    """Figures of a CycleGAN between digits (A) and inverted digits (B).

    Args:
        model: a CycleGAN for [N, 28, 28, 1] images.
        images: uint8 [N, 28, 28, 1]. Domain A test images (B is 255 - images).
        labels: int [N] or None. Digit classes, for the classifier figures.
        classifier: keras.Model or None. Maps [-1, 1] images to class logits.

    Returns:
        dict of floats: mean absolute errors on the [0, 1] pixel scale and class agreement.
    """
    from tfgen.evaluation.classifier import classifier_accuracy

    real_a = images
    real_b = 255 - images
    x = real_a.astype(np.float32) / 255.0
    fake_b = model.translate(real_a, "a2b")
    fake_a = model.translate(real_b, "b2a")
    cycled_a = model.translate(fake_b, "b2a")
    cycled_b = model.translate(fake_a, "a2b")
    figures = {
        "a2b_mae_vs_inversion": float(np.mean(np.abs(_unit(fake_b) - (1.0 - x)))),
        "b2a_mae_vs_inversion": float(np.mean(np.abs(_unit(fake_a) - x))),
        "a2b_cycle_mae": float(np.mean(np.abs(_unit(cycled_a) - x))),
        "b2a_cycle_mae": float(np.mean(np.abs(_unit(cycled_b) - (1.0 - x)))),
    }
    figures["cycle_mae"] = max(figures["a2b_cycle_mae"], figures["b2a_cycle_mae"])
    if classifier is not None and labels is not None:
        # B-domain outputs are inverted back so the digit classifier sees its own domain.
        figures["classifier_accuracy_real"] = classifier_accuracy(classifier, real_a, labels)
        figures["a2b_class_kept"] = classifier_accuracy(
            classifier, 255 - io.to_uint8(fake_b), labels
        )
        figures["b2a_class_kept"] = classifier_accuracy(classifier, io.to_uint8(fake_a), labels)
        figures["class_kept"] = min(figures["a2b_class_kept"], figures["b2a_class_kept"])
    figures["n_test_images"] = int(len(images))
    return figures


def check_targets(figures):
    """{figure: True/False} for the acceptance thresholds that could be measured."""
    ops = {"<=": np.less_equal, "<": np.less, ">=": np.greater_equal}
    return {
        name: bool(ops[op](figures[name], bound))
        for name, (op, bound) in TARGETS.items()
        if name in figures
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", nargs="?", default=NAME, help="zoo name or .keras file")
    parser.add_argument("--limit", type=int, help="evaluate on the first N test digits only")
    parser.add_argument("--no-card", action="store_true", help="print only; leave the card")
    args = parser.parse_args(argv)
    root = data.data_dir()
    if root is None or not data.is_idx_folder(root / "mnist"):
        sys.exit("set TFGEN_DATA_DIR to the folder that holds mnist/ (e.g. ../shared/data)")
    images, labels = data.load_idx(root / "mnist", "test")
    if args.limit:
        images, labels = images[: args.limit], labels[: args.limit]
    model = saving.load_model(args.model, compile=False)
    classifier_file = CLASSIFIER / "classifier.keras"
    classifier = None
    if classifier_file.exists():
        import keras

        classifier = keras.saving.load_model(classifier_file, compile=False)
    else:
        print(f"note: {classifier_file} not found; the class-kept figures are left out")
    figures = evaluate_inversion(model, images, labels, classifier)
    passed = check_targets(figures)
    print(json.dumps({"metrics": figures, "targets_met": passed}, indent=2))
    is_zoo_entry = not pathlib.Path(args.model).exists() and args.model in registry.zoo_entries()
    if is_zoo_entry and not args.no_card:
        zoo.update_card(
            args.model,
            metrics={k: round(v, 5) if isinstance(v, float) else v for k, v in figures.items()},
            targets={name: f"{op} {bound}" for name, (op, bound) in TARGETS.items()},
            targets_met=passed,
            evaluation=(
                "scripts/evaluate_cyclegan.py on the shared MNIST test split "
                f"({len(images)} digits); pixel errors on the [0, 1] scale"
            ),
        )
        print(f"updated {registry.zoo_path(args.model) / 'card.json'}")


if __name__ == "__main__":
    main()
