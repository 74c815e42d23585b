"""Trains the zoo's `dcgan_mnist` on the shared MNIST train split and publishes it.

    TFGEN_DATA_DIR=../shared/data python scripts/train_dcgan_mnist.py --steps 8000 --ema 0.999 \
        --anneal-steps 3000 --anneal-lr 5e-5

Phase 1 is `tfgen train dcgan --dataset mnist --steps N --ema D`; phase 2 (optional, an
annealing phase) continues from its model and optimizer state at a lower learning rate for
both networks. A finished phase 1 in `--run-dir` (its run.json has the same steps) is reused.

Writes savedmodels/dcgan_mnist/ (the .keras file, the SavedModel in TF Serving layout and the
model card). Quality figures are added by scripts/evaluate_zoo.py, measured, never typed.
"""

import argparse
import json
import os
import pathlib
import sys
import time

from tfgen import data, io, saving, training, zoo

README = """# dcgan_mnist

DCGAN (tfgen.models.DCGAN, default networks) trained on the shared MNIST train split
(8,334 real digits, ../shared/data/mnist). {ema_note}{recipe_note}

- Command: `{command}`
- Steps: {steps} at batch {batch_size} (seed {seed}), then {anneal_steps} at learning rate
  {anneal_lr}; wall time {wall_time_s:.0f} s on {cpus} CPU cores.
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
    parser.add_argument("--g-width", type=int, default=32, help="generator width (DCGAN's)")
    parser.add_argument("--d-width", type=int, default=64, help="discriminator width")
    parser.add_argument("--anneal-steps", type=int, default=0, help="steps of phase 2")
    parser.add_argument("--anneal-lr", type=float, default=5e-5, help="phase 2 Adam rate")
    parser.add_argument(
        "--r1", type=float, default=0.0, help="R1 penalty weight on D (tfgen train --r1); 0: none"
    )
    parser.add_argument(
        "--latent-components",
        type=int,
        default=0,
        help="generator input: a mixture of this many separated Gaussians (DCGAN's "
        "latent_components); 0: plain z",
    )
    parser.add_argument(
        "--latent-scale", type=float, default=1.0, help="spread of each mixture component"
    )
    args = parser.parse_args(argv)
    extra_options = {
        **({"r1_gamma": args.r1} if args.r1 else {}),
        **(
            {"latent_components": args.latent_components, "latent_scale": args.latent_scale}
            if args.latent_components
            else {}
        ),
    }
    start = time.time()
    run_dir = pathlib.Path(args.run_dir)
    wall_time = 0.0
    if _phase_one_done(run_dir, args.steps):
        wall_time = json.loads((run_dir / "phase1_wall_time.json").read_text())["wall_time_s"]
        print(f"reusing phase 1 in {run_dir} ({args.steps} steps, {wall_time:.0f} s)")
    else:
        training.train(
            "dcgan",
            "mnist",
            run_dir,
            steps=args.steps,
            batch_size=args.batch_size,
            seed=args.seed,
            options={
                "g_width": args.g_width,
                "d_width": args.d_width,
                **({"ema": args.ema} if args.ema else {}),
                **extra_options,
            },
            verbose=2,
        )
        wall_time = time.time() - start
        (run_dir / "phase1_wall_time.json").write_text(json.dumps({"wall_time_s": wall_time}))
    published = run_dir / "model.keras"
    if args.anneal_steps:
        start = time.time()
        published = anneal(run_dir, args.anneal_steps, args.anneal_lr, args.batch_size, args.seed)
        wall_time += time.time() - start
    card = {
        "name": args.name,
        "kind": "dcgan",
        "dataset": "mnist",
        "data": "shared MNIST train split, 8,334 images",
        "command": "python " + " ".join(["scripts/train_dcgan_mnist.py", *sys.argv[1:]]),
        "steps": args.steps,
        "anneal_steps": args.anneal_steps,
        "anneal_lr": args.anneal_lr,
        "batch_size": args.batch_size,
        "seed": args.seed,
        "options": {"g_width": args.g_width, "d_width": args.d_width, **extra_options},
        "ema": args.ema or None,
        "wall_time_s": round(wall_time, 1),
        "cpus": os.cpu_count(),
        "metrics": {},
    }
    ema_note = (
        f"Samples come from an exponential moving average of the generator's weights (decay "
        f"{args.ema}); `model.generate(..., use_ema=False)` samples the raw generator."
        if args.ema
        else ""
    )
    recipe_note = (
        f" The discriminator was trained with an R1 gradient penalty on real images "
        f"(gamma {args.r1})."
        if args.r1
        else ""
    )
    if args.latent_components:
        recipe_note += (
            f" The generator first maps z to a mixture of {args.latent_components} Gaussians "
            f"with fixed means (`latent_components`, scale {args.latent_scale}), so little "
            "latent mass lies between digit classes."
        )
    entry = zoo.publish(
        published,
        args.name,
        card,
        README.format(**card, ema_note=ema_note, recipe_note=recipe_note),
    )
    print(f"published {entry}")


def _phase_one_done(run_dir, steps):
    summary = run_dir / "run.json"
    return (
        summary.is_file()
        and (run_dir / "phase1_wall_time.json").is_file()
        and json.loads(summary.read_text()).get("steps", 0) >= steps
    )


def anneal(run_dir, steps, learning_rate, batch_size, seed):
    """Phase 2: continues phase 1's model (optimizer state kept) at `learning_rate`."""
    model = saving.load_model(run_dir / "model.keras")
    for optimizer in (model.g_optimizer, model.d_optimizer):
        optimizer.learning_rate.assign(learning_rate)
    ds = data.load("mnist", batch_size=batch_size, seed=seed + 1)
    batches = int(ds.cardinality())
    epochs, steps_per_epoch = training.plan_steps(batches, steps=steps)
    model.fit(ds.repeat(), epochs=epochs, steps_per_epoch=steps_per_epoch, verbose=2)
    path = run_dir / "model_annealed.keras"
    with io.atomic_path(path) as tmp:
        model.save(tmp)
    return path


if __name__ == "__main__":
    main()
