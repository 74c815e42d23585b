"""Issue 10's "no quality loss": the zoo dcgan_mnist recipe trained on the fused-BatchNorm fast
path and on Keras' stock BatchNorm ops, same seeds, scored by `tfgen evaluate`'s metrics.

    TFGEN_DATA_DIR=../shared/data python tools/check_fast_path_quality.py --paths fused,stock

Both paths train the same model (`FusedBatchNormalization` computes what
`keras.layers.BatchNormalization` does; `fused_batch_norm.unfused()` makes it use Keras' ops),
with the zoo card's options and EMA, for `--steps` steps from scratch. Each run writes
`OUT/<path>_seed<s>.json`; the script then prints every run found in OUT and, per path, the
mean FID, so the path difference can be read against the seed-to-seed spread. Runs already in
OUT are reused, so two processes (`--paths fused` and `--paths stock`) can share the cores.
"""

import argparse
import contextlib
import json
import pathlib
import statistics
import sys
import time


def train_and_score(path, seed, steps, out, n, data_dir):
    from tfgen import registry, training
    from tfgen.evaluation.model_eval import evaluate_model
    from tfgen.networks import fused_batch_norm

    card = json.loads((registry.zoo_path("dcgan_mnist") / "card.json").read_text())
    # The recipe's model section: the model's options and its EMA decay, less the kind.
    options = {k: v for k, v in card["recipe"]["model"].items() if k != "kind"}
    block = fused_batch_norm.unfused() if path == "stock" else contextlib.nullcontext()
    start = time.perf_counter()
    with block:  # covers the tracing of the train step, where the path is chosen
        model = training.train(
            "dcgan",
            "mnist",
            out / f"{path}_seed{seed}",
            steps=steps,
            seed=seed,
            options=options,
            data_dir=data_dir,
            verbose=0,
        )
    wall_s = time.perf_counter() - start
    scores = evaluate_model(
        model, "mnist", metrics=("fid", "kid", "pr"), n=n, seed=seed, data_dir=data_dir
    )
    return {"path": path, "seed": seed, "steps": steps, "wall_s": round(wall_s, 1), **scores}


def report(out):
    runs = [json.loads(p.read_text()) for p in sorted(out.glob("*_seed*.json"))]
    print("| path | seed | steps | FID | KID | precision | recall | wall s |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in runs:
        print(
            f"| {r['path']} | {r['seed']} | {r['steps']} | {r['fid']:.2f} | {r['kid']:.3f} | "
            f"{r['precision']:.3f} | {r['recall']:.3f} | {r['wall_s']:.0f} |"
        )
    for path in sorted({r["path"] for r in runs}):
        fids = [r["fid"] for r in runs if r["path"] == path]
        spread = f", seed range {max(fids) - min(fids):.2f}" if len(fids) > 1 else ""
        print(f"{path}: mean FID {statistics.mean(fids):.2f} over {len(fids)} seeds{spread}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--paths", default="fused,stock", help="fused, stock or both")
    parser.add_argument("--seeds", default="0,1")
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--n", type=int, default=1666, help="samples and test digits per score")
    parser.add_argument(
        "--data-dir", help="folder of local dataset copies (default: $TFGEN_DATA_DIR)"
    )
    parser.add_argument("--out", default="runs/fast_path_quality")
    args = parser.parse_args(argv)
    paths = [p.strip() for p in args.paths.split(",") if p.strip()]
    bad = sorted(set(paths) - {"fused", "stock"})
    if bad:
        sys.exit(f"unknown path(s) {', '.join(bad)}; use fused and/or stock")
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for seed in (int(s) for s in args.seeds.split(",")):
        for path in paths:
            result_file = out / f"{path}_seed{seed}.json"
            if result_file.exists():
                continue
            result = train_and_score(path, seed, args.steps, out, args.n, args.data_dir)
            result_file.write_text(json.dumps(result, indent=1))
            print(json.dumps(result), flush=True)
    report(out)


if __name__ == "__main__":
    main()
