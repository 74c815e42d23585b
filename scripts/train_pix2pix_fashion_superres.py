"""Trains the zoo's `pix2pix_fashion_superres` (x4 super-resolution of Fashion-MNIST) on the
shared train split, publishes it and scores it against bicubic up-sampling on the test split.

    python scripts/train_pix2pix_fashion_superres.py
    python scripts/train_pix2pix_fashion_superres.py --publish-only   # publish a finished run

Writes savedmodels/pix2pix_fashion_superres/ (the .keras file, the SavedModel in TF Serving
layout, card.json, README.md); the PSNR/SSIM figures come from scripts/evaluate_pix2pix.py.
"""

import argparse
import json
import os
import pathlib
import sys
import time

REPO = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tfgen import registry, training, zoo  # noqa: E402

DATA_DIR = pathlib.Path(os.environ.get("TFGEN_DATA_DIR", REPO.parent / "shared" / "data"))
NAME = "pix2pix_fashion_superres"
OPTIONS = {
    "g_width": 32,
    "d_width": 32,
    "l1_weight": 100.0,
    "task_options": {"factor": 4, "upsample": "nearest"},
}

README = """# pix2pix_fashion_superres

pix2pix (`tfgen.models.Pix2Pix`: U-Net generator, PatchGAN on (input, output) pairs, adversarial
+ 100 x L1) trained for x4 super-resolution on the shared Fashion-MNIST train split (58,334
images): the input is the image box-down-sampled to 7x7 and brought back to 28x28 by
nearest-neighbour up-sampling, the target is the original.

- Command: `{command}`
- Options: `{options}`; Adam(2e-4, beta_1=0.5) for both networks, non-saturating loss.
- {steps} steps at batch {batch_size}, seed {seed}; wall time {wall_time_s:.0f} s on {cpus}
  shared CPU cores.
- Files: `pix2pix_fashion_superres.keras` (weights, no optimizer state), `1/` (SavedModel, TF
  Serving layout: `translate` float32 [-1, 1] and `translate_uint8`).
- Use: `tfgen translate pix2pix_fashion_superres --input low_res.npy --out restored.png`
  (7x7 inputs are up-sampled as in training; 28x28 up-sampled inputs are taken as they are).

## Quality

Not measured yet: run `python scripts/evaluate_pix2pix.py pix2pix_fashion_superres`.
"""


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=5000)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--run-dir", default="runs/pix2pix_fashion_superres")
    parser.add_argument("--name", default=NAME)
    parser.add_argument(
        "--publish-only", action="store_true", help="publish the finished run in --run-dir"
    )
    args = parser.parse_args(argv)
    os.environ.setdefault("TFGEN_DATA_DIR", str(DATA_DIR))
    run_dir = pathlib.Path(args.run_dir)
    if not args.publish_only:
        start = time.time()
        training.train(
            "pix2pix",
            "fashion_mnist",
            run_dir,
            steps=args.steps,
            batch_size=args.batch_size,
            seed=args.seed,
            options=OPTIONS,
            task="superres",
            verbose=2,
        )
        command = "python " + " ".join(["scripts/train_pix2pix_fashion_superres.py", *sys.argv[1:]])
        timing = {"wall_time_s": time.time() - start, "command": command}
        (run_dir / "zoo_run.json").write_text(json.dumps(timing))
    run = json.loads((run_dir / "run.json").read_text())
    timing = json.loads((run_dir / "zoo_run.json").read_text())
    card = {
        "name": args.name,
        "kind": "pix2pix",
        "dataset": "fashion_mnist",
        "task": "superres",
        "data": "shared Fashion-MNIST train split, 58,334 images; x4 box down-sampling",
        "command": timing["command"],
        "options": OPTIONS,
        "steps": run["steps"],
        "batch_size": run["batch_size"],
        "seed": run["seed"],
        "wall_time_s": round(timing["wall_time_s"], 1),
        "cpus": os.cpu_count(),
        "final_training_metrics": run["final_metrics"],
        "metrics": {},
    }
    zoo.publish(run_dir / "model.keras", args.name, card, README.format(**card))
    print(f"published {registry.zoo_path(args.name)}")
    # The scoring tool moved to tools/; it runs as its own command (no sys.path edit).
    import subprocess

    subprocess.run(
        [sys.executable, str(REPO / "tools" / "evaluate_pix2pix.py"), args.name], check=True
    )


if __name__ == "__main__":
    main()
