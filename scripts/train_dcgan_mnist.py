"""Trains the zoo's `dcgan_mnist` on the shared MNIST train split and publishes it.

    TFGEN_DATA_DIR=../shared/data python scripts/train_dcgan_mnist.py --steps 8000 --ema 0.999

Writes savedmodels/dcgan_mnist/ (the .keras file, the SavedModel in TF Serving layout and the
model card). Quality figures are added by scripts/evaluate_zoo.py, measured, never typed.
"""

import argparse
import os
import pathlib
import sys
import time

from tfgen import training, zoo

README = """# dcgan_mnist

DCGAN (tfgen.models.DCGAN, default networks) trained on the shared MNIST train split
(8,334 real digits, ../shared/data/mnist). {ema_note}

- Command: `{command}`
- Steps: {steps} at batch {batch_size} (seed {seed}); wall time {wall_time_s:.0f} s on {cpus} CPU cores.
- Files: `dcgan_mnist.keras` (weights, no optimizer state), `1/` (SavedModel, TF Serving layout).
- Quality: see `metrics` in card.json and the zoo table in the project README, measured by
  `scripts/evaluate_zoo.py` with `tfgen evaluate`.
"""


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=8000)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--run-dir", default="runs/dcgan_mnist")
    parser.add_argument("--name", default="dcgan_mnist")
    parser.add_argument(
        "--ema", type=float, default=0.999, help="generator EMA decay; 0 turns the average off"
    )
    args = parser.parse_args(argv)
    start = time.time()
    training.train(
        "dcgan",
        "mnist",
        args.run_dir,
        steps=args.steps,
        batch_size=args.batch_size,
        seed=args.seed,
        options={"ema": args.ema} if args.ema else None,
        verbose=2,
    )
    card = {
        "name": args.name,
        "kind": "dcgan",
        "dataset": "mnist",
        "data": "shared MNIST train split, 8,334 images",
        "command": "python " + " ".join(["scripts/train_dcgan_mnist.py", *sys.argv[1:]]),
        "steps": args.steps,
        "batch_size": args.batch_size,
        "seed": args.seed,
        "ema": args.ema or None,
        "wall_time_s": round(time.time() - start, 1),
        "cpus": os.cpu_count(),
        "metrics": {},
    }
    ema_note = (
        f"Samples come from an exponential moving average of the generator's weights (decay "
        f"{args.ema}); `model.generate(..., use_ema=False)` samples the raw generator."
        if args.ema
        else ""
    )
    entry = zoo.publish(
        pathlib.Path(args.run_dir) / "model.keras",
        args.name,
        card,
        README.format(**card, ema_note=ema_note),
    )
    print(f"published {entry}")


if __name__ == "__main__":
    main()
