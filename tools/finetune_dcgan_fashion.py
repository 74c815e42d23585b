"""Fine-tunes the zoo's `dcgan_mnist` on Fashion-MNIST against training from scratch, and
FreezeD against fine-tuning everything on 100 images of one Fashion class.

    TFGEN_DATA_DIR=../shared/data python tools/finetune_dcgan_fashion.py

Experiment 1 (transfer): the same step budget for `dcgan_mnist` fine-tuned and for a fresh
DCGAN, FID (in the Fashion-MNIST classifier's features, against the test split) every
`--eval-every` steps; prints both curves and the first step where fine-tuning reaches the FID
that training from scratch ends with.
Experiment 2 (few-shot): 100 training images of one class, `dcgan_mnist` fine-tuned with every
layer trainable and with FreezeD (`--freeze-d` discriminator blocks frozen), the same steps;
FID against that class's test images.
Both use `tfgen.transfer.finetune`, the code behind `tfgen finetune`.
"""

import argparse
import json
import pathlib
import shutil
import time

import keras
import numpy as np
import tensorflow as tf

from tfgen import data, saving, transfer
from tfgen.evaluation import metrics
from tfgen.evaluation.features import get_extractor
from tfgen.models import DCGAN

FASHION_CLASSES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)


class FIDCurve(keras.callbacks.Callback):
    """Records FID every `every` training steps (and before the first) in a fixed feature space.

    Args:
        real_features: array [M, D]. Features of the real images to compare with.
        extractor: FeatureExtractor. Maps images to features.
        every: int. Steps between measurements.
        n: int. Generated images per measurement (always the same latent vectors).
    """

    def __init__(self, real_features, extractor, every, n=2000, seed=123):
        super().__init__()
        self.real_features = real_features
        self.extractor = extractor
        self.every = int(every)
        self.n = int(n)
        self.seed = seed
        self.curve = []
        self.steps = 0

    def measure(self):
        fake = self.model.generate(self.n, seed=self.seed)
        value = metrics.fid(self.real_features, self.extractor.features(fake))
        self.curve.append((self.steps, round(value, 3)))

    def on_train_begin(self, logs=None):
        if not self.curve:
            self.measure()

    def on_train_batch_end(self, batch, logs=None):
        self.steps += 1
        if self.steps % self.every == 0:
            self.measure()


def run(name, source, dataset, args, real_features, extractor, steps, batch_size, **recipe):
    """Fine-tunes (or trains) one model with a FID curve; returns the curve and wall time."""
    out = pathlib.Path(args.run_dir) / name
    shutil.rmtree(out, ignore_errors=True)  # a stale checkpoint would resume, not restart
    curve = FIDCurve(real_features, extractor, args.eval_every_steps(steps), args.n_eval)
    start = time.time()
    transfer.finetune(
        source,
        dataset,
        out,
        steps=steps,
        batch_size=batch_size,
        seed=args.seed,
        data_dir=args.data_dir,
        verbose=0,
        samples=36,
        callbacks=[curve],
        **recipe,
    )
    seconds = time.time() - start
    print(f"{name:28s} FID by step: {curve.curve}  ({seconds:.0f} s)", flush=True)
    return {"curve": curve.curve, "seconds": round(seconds, 1)}


def steps_to_reach(curve, target):
    """The first measured step whose FID is at or below `target`, or None."""
    return next((step for step, value in curve if value <= target), None)


def budget_table(tuned_curve, scratch_curve):
    """For each measured budget B: the FID training from scratch has at B, and the first
    measured step at which fine-tuning is at least as good (None: not within the run)."""
    rows = []
    for budget, target in scratch_curve[1:]:
        reached = steps_to_reach(tuned_curve, target)
        rows.append(
            {
                "budget": budget,
                "scratch_fid": target,
                "finetuned_reaches_it_at": reached,
                "within_half": reached is not None and reached <= budget / 2,
            }
        )
    return rows


def few_shot_dataset(images, batch_size, seed):
    ds = tf.data.Dataset.from_tensor_slices(data.to_unit_range(images))
    ds = ds.shuffle(len(images), seed=seed, reshuffle_each_iteration=True)
    return ds.batch(batch_size, drop_remainder=True).prefetch(tf.data.AUTOTUNE)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", default="dcgan_mnist", help="zoo name or .keras file")
    parser.add_argument("--steps", type=int, default=1200, help="budget of experiment 1")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--few-shot-images", type=int, default=100)
    parser.add_argument("--few-shot-class", type=int, default=7, help="0-9; default 7 (Sneaker)")
    parser.add_argument("--few-shot-steps", type=int, default=400)
    parser.add_argument("--few-shot-batch-size", type=int, default=25)
    parser.add_argument("--freeze-d", type=int, default=1, help="FreezeD blocks (few-shot)")
    parser.add_argument("--evals", type=int, default=8, help="FID measurements per run")
    parser.add_argument("--n-eval", type=int, default=2000, help="images per FID measurement")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data-dir", help="local dataset copies (default: $TFGEN_DATA_DIR)")
    parser.add_argument("--run-dir", default="runs/finetune_fashion")
    parser.add_argument("--skip", choices=("transfer", "few_shot"), action="append", default=[])
    parser.add_argument("--quick", action="store_true", help="a few steps, to test the script")
    args = parser.parse_args(argv)
    if args.quick:
        args.steps, args.few_shot_steps, args.n_eval, args.evals = 4, 4, 200, 2
    args.eval_every_steps = lambda steps: max(1, steps // args.evals)

    extractor = get_extractor("fashion_mnist")
    local = data.load_arrays("fashion_mnist", "test", data_dir_override=args.data_dir)
    if local is None:
        raise SystemExit("fashion_mnist not found: set TFGEN_DATA_DIR or pass --data-dir")
    test_images, test_labels = local
    rng = np.random.default_rng(args.seed)
    results = {"args": {k: v for k, v in vars(args).items() if k != "eval_every_steps"}}

    if "transfer" not in args.skip:
        real = test_images[rng.permutation(len(test_images))[: max(args.n_eval, 2000)]]
        real_features = extractor.features(real)
        common = dict(
            dataset="fashion_mnist",
            args=args,
            real_features=real_features,
            extractor=extractor,
            steps=args.steps,
            batch_size=args.batch_size,
        )
        tuned = run("finetuned_from_" + args.source, args.source, **common)
        keras.utils.set_random_seed(args.seed)
        # The same configuration as the source (EMA, R1, mixture latent included), networks
        # rebuilt with fresh weights: only the starting point differs between the two runs.
        source_config = saving.load_model(args.source, compile=False).get_config()
        for key in ("generator", "discriminator", "name"):
            source_config.pop(key, None)
        fresh = DCGAN(**{**source_config, "seed": args.seed})
        scratch = run("from_scratch", fresh, **common)
        target = scratch["curve"][-1][1]
        reached = steps_to_reach(tuned["curve"], target)
        table = budget_table(tuned["curve"], scratch["curve"])
        results["transfer"] = {"finetuned": tuned, "from_scratch": scratch, "budgets": table}
        for row in table:
            print(
                f"budget {row['budget']:5d}: from scratch FID {row['scratch_fid']:8.3f}; "
                f"fine-tuned reaches it at step {row['finetuned_reaches_it_at']} "
                f"({'within' if row['within_half'] else 'NOT within'} half the budget)"
            )
        print(
            f"whole run: from scratch ends at FID {target} after {args.steps} steps; "
            f"fine-tuned reaches it at step {reached}"
        )

    if "few_shot" not in args.skip:
        train_images, train_labels = data.load_arrays(
            "fashion_mnist", "train", data_dir_override=args.data_dir
        )
        chosen = np.flatnonzero(train_labels == args.few_shot_class)
        few = train_images[rng.choice(chosen, args.few_shot_images, replace=False)]
        real_features = extractor.features(test_images[test_labels == args.few_shot_class])
        common = dict(
            dataset=few_shot_dataset(few, args.few_shot_batch_size, args.seed),
            args=args,
            real_features=real_features,
            extractor=extractor,
            steps=args.few_shot_steps,
            batch_size=args.few_shot_batch_size,
        )
        name = FASHION_CLASSES[args.few_shot_class].replace("/", "_").lower()
        full = run(f"few_shot_{name}_all_layers", args.source, **common)
        freeze_d = run(
            f"few_shot_{name}_freeze_d{args.freeze_d}",
            args.source,
            freeze_d=args.freeze_d,
            **common,
        )
        results["few_shot"] = {"all_layers": full, f"freeze_d{args.freeze_d}": freeze_d}
        best = {
            k: min(v for _, v in r["curve"][1:] or r["curve"])
            for k, r in results["few_shot"].items()
        }
        final = {k: r["curve"][-1][1] for k, r in results["few_shot"].items()}
        print(
            f"few-shot ({args.few_shot_images} x {FASHION_CLASSES[args.few_shot_class]}): final FID {final}, best FID {best}"
        )

    out = pathlib.Path(args.run_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {out / 'results.json'}")
    return results


if __name__ == "__main__":
    main()
