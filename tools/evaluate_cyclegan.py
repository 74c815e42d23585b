"""Measures `cyclegan_mnist_inverted` against the known mapping and writes the card's metrics.

    python tools/evaluate_cyclegan.py [MODEL] [--data-dir DIR]   # default: $TFGEN_DATA_DIR

On the held-out MNIST test digits x (pixels in [0, 1]): A -> B should give 1 - x, B -> A
should give x back from 1 - x, both cycles should reconstruct their input, and an independent
classifier (savedmodels/classifier_mnist) should keep the digit class of the translations
(A -> B outputs are inverted back first, since the classifier knows white-on-black digits).
The figures are `tfgen.evaluation.translation.evaluate_inversion`'s.
"""

import argparse
import json
import pathlib

import numpy as np

from tfgen import data, registry, saving, zoo
from tfgen.evaluation.translation import evaluate_inversion

NAME = "cyclegan_mnist_inverted"
# The acceptance thresholds.
TARGETS = {
    "a2b_mae_vs_inversion": ("<=", 0.05),
    "b2a_mae_vs_inversion": ("<=", 0.05),
    "cycle_mae": ("<", 0.03),
    "class_kept": (">=", 0.97),
}


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
    parser.add_argument(
        "--data-dir", help="folder of local dataset copies (default: $TFGEN_DATA_DIR)"
    )
    parser.add_argument("--no-card", action="store_true", help="print only; leave the card")
    args = parser.parse_args(argv)
    local = data.load_arrays("mnist", "test", data_dir_override=args.data_dir)
    if local is None:
        raise SystemExit(
            "MNIST not found: pass --data-dir or set TFGEN_DATA_DIR to the folder that holds mnist/"
        )
    images, labels = local
    if args.limit:
        images, labels = images[: args.limit], labels[: args.limit]
    model = saving.load_model(args.model, compile=False)
    # The zoo in use ($TFGEN_ZOO_DIR, else savedmodels/), as for every other zoo name.
    classifier_file = registry.zoo_path("classifier_mnist") / "classifier_mnist.keras"
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
                "tools/evaluate_cyclegan.py on the shared MNIST test split "
                f"({len(images)} digits); pixel errors on the [0, 1] scale"
            ),
        )
        print(f"updated {registry.zoo_path(args.model) / 'card.json'}")


if __name__ == "__main__":
    main()
