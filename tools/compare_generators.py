"""Scores two or more generators with `tfgen evaluate`'s metrics over several sample seeds.

    TFGEN_DATA_DIR=../shared/data python tools/compare_generators.py dcgan_mnist \
        runs/dcgan_mnist_fastpath/model_annealed.keras --dataset mnist --seeds 0,1,2,3,4

Each model (a zoo name or a `.keras` file) draws `--n` samples per seed and is scored against
the same `--n` test images (`tfgen.evaluation.model_eval.evaluate_model`, the code behind
`tfgen evaluate`). Prints each seed's figures and, per model, the mean and the range over the
seeds: the sampling noise of one model's score, to read a difference between models against.
Issue 10's "no quality loss" check compares the zoo's `dcgan_mnist` with the same recipe
retrained on the fast path (fused BatchNorm, FusedAdam).
"""

import argparse
import json
import statistics

from tfgen import saving
from tfgen.evaluation.model_eval import evaluate_model

METRICS = ("fid", "kid", "precision", "recall")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="+", help="zoo names or .keras files")
    parser.add_argument("--dataset", default="mnist")
    parser.add_argument("--seeds", default="0,1,2,3,4")
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument(
        "--data-dir", help="folder of local dataset copies (default: $TFGEN_DATA_DIR)"
    )
    args = parser.parse_args(argv)
    seeds = [int(s) for s in args.seeds.split(",")]
    summary = {}
    for source in args.models:
        model = saving.load_model(source, compile=False)
        runs = [
            evaluate_model(
                model,
                args.dataset,
                metrics=("fid", "kid", "pr"),
                n=args.n,
                seed=seed,
                data_dir=args.data_dir,
            )
            for seed in seeds
        ]
        for seed, run in zip(seeds, runs):
            figures = ", ".join(f"{m} {run[m]:.4g}" for m in METRICS)
            print(f"{source} seed {seed}: {figures}", flush=True)
        summary[source] = {
            m: {
                "mean": statistics.mean(r[m] for r in runs),
                "min": min(r[m] for r in runs),
                "max": max(r[m] for r in runs),
            }
            for m in METRICS
        }
    print("| model | " + " | ".join(f"{m} mean (min-max)" for m in METRICS) + " |")
    print("| --- |" + " --- |" * len(METRICS))
    for source, figures in summary.items():
        cells = [f"{f['mean']:.4g} ({f['min']:.4g}-{f['max']:.4g})" for f in figures.values()]
        print(f"| `{source}` | " + " | ".join(cells) + " |")
    print(json.dumps(summary))
    return summary


if __name__ == "__main__":
    main()
