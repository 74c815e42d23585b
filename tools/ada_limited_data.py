"""Limited data: DCGAN on 500 MNIST images with and without ADA (and DiffAugment), FID compared.

    TFGEN_DATA_DIR=../shared/data python tools/ada_limited_data.py   # 20,000 steps per arm

The defaults are the measured setting: without augmentation the discriminator memorises the
500 images from about step 8,000, and the two arms separate only after that (README).

Every arm trains the same DCGAN (same seed, same 500 images, same steps); FID is measured in the
`classifier_mnist` features between n generated samples and the first n test images, every
`--eval-every` steps. ADA's p and r_t are recorded every `--log-every` steps. Results go to
`<out>/<arm>.json` and `<out>/p_curve.csv`; the markdown table is printed at the end.
Arms can run in separate processes (`--arms none`, `--arms ada`, ...) and be summarized
together with `--summarize`.
"""

import argparse
import csv
import json
import pathlib
import time

import numpy as np

ARMS = ("none", "ada", "diffaugment", "ada_nocutout")


def _images(split, n, data_dir):
    from tfgen.evaluation.model_eval import real_images

    return real_images("mnist", split, n, data_dir)


def run_arm(arm, args):
    from tfgen import data
    from tfgen.evaluation.evaluate import fid_between
    from tfgen.models.dcgan import DCGAN

    train = data.load(
        "mnist",
        batch_size=args.batch_size,
        seed=args.seed,
        repeat=True,
        data_dir=args.data_dir,
        limit=args.limit,
    )
    real_test = _images("test", args.n, args.data_dir)
    options = {}
    if arm == "ada_nocutout":  # ADA's own pipeline has no cutout (Karras et al. 2020, 'bgc')
        options = dict(augment_transforms=["color", "translation"])
    if arm != "none":
        options.update(
            augment=arm.split("_")[0],
            ada_target=args.ada_target,
            ada_interval=args.ada_interval,
            ada_speed_images=args.ada_speed_images,
        )
    out = pathlib.Path(args.out)
    saved = out / f"{arm}.keras"
    if args.resume and saved.exists():
        # Carries on a finished arm: weights, optimizer state, ADA's p and the step clock.
        import keras

        model = keras.models.load_model(saved)
        record = json.loads((out / f"{arm}.json").read_text())
        done = int(model.step.numpy())
        if done != record["curve"][-1]["step"]:
            raise SystemExit(
                f"{saved} is at step {done}, its record at {record['curve'][-1]['step']}"
            )
        print(f"[{arm}] resumed at step {done}", flush=True)
    else:
        model = DCGAN(seed=args.seed, **options)
        model.compile()
        record = {"arm": arm, "options": options, "args": vars(args), "curve": [], "fid_curve": []}
        done = 0
    start = time.time() - record.get("wall_s", 0.0)
    while done < args.steps:
        chunk = min(args.log_every, args.steps - done)
        history = model.fit(train, steps_per_epoch=chunk, epochs=1, verbose=0)
        done += chunk
        logs = {k: float(v[-1]) for k, v in history.history.items()}
        point = {"step": done, "seconds": round(time.time() - start, 1), **logs}
        record["curve"].append(point)
        line = f"[{arm}] step {done}: " + ", ".join(f"{k} {v:.3f}" for k, v in logs.items())
        if done % args.eval_every == 0 or done == args.steps:
            fake = model.generate(args.n, seed=args.seed + 1)
            fid = float(fid_between(fake, real_test, extractor="classifier_mnist"))
            record["fid_curve"].append({"step": done, "fid": fid})
            line += f", FID {fid:.3f}"
        print(line, flush=True)
    record["fid"] = record["fid_curve"][-1]["fid"]
    record["best_fid"] = min(p["fid"] for p in record["fid_curve"])
    record["wall_s"] = round(time.time() - start, 1)
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{arm}.json").write_text(json.dumps(record, indent=1))
    model.save(out / f"{arm}.keras")
    return record


def summarize(args):
    out = pathlib.Path(args.out)
    records = {
        a: json.loads((out / f"{a}.json").read_text()) for a in ARMS if (out / f"{a}.json").exists()
    }
    if not records:
        print(f"no results in {out}")
        return
    from tfgen.evaluation.evaluate import fid_between

    floor = fid_between(
        _images("train", args.limit, args.data_dir),
        _images("test", args.n, args.data_dir),
        extractor="classifier_mnist",
    )

    def tail_mean(record):  # the last evaluations, less noisy than the final one alone
        return float(np.mean([p["fid"] for p in record["fid_curve"][-args.tail :]]))

    base = records.get("none", {}).get("fid")
    base_tail = tail_mean(records["none"]) if "none" in records else None
    print(
        f"\nDCGAN on {args.limit} MNIST images, FID in classifier_mnist features (n={args.n}, test)"
    )
    print(f"Reference: FID of the {args.limit} training images themselves vs test: {floor:.3f}\n")
    print(
        f"| arm | steps | final FID | vs none | mean of last {args.tail} evaluations | vs none "
        "| best FID (step) | final p |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for arm, r in records.items():
        best = min(r["fid_curve"], key=lambda p: p["fid"])
        change = f"{100 * (r['fid'] - base) / base:+.1f} %" if base else "-"
        tail = tail_mean(r)
        tail_change = f"{100 * (tail - base_tail) / base_tail:+.1f} %" if base_tail else "-"
        p = r["curve"][-1].get("ada_p", 1.0 if arm == "diffaugment" else 0.0)
        print(
            f"| {arm} | {r['curve'][-1]['step']} | {r['fid']:.3f} | {change} | {tail:.3f} | "
            f"{tail_change} | {best['fid']:.3f} ({best['step']}) | {p:.3f} |"
        )
    if "ada" in records:
        with open(out / "p_curve.csv", "w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(["step", "ada_p", "ada_rt"])
            for point in records["ada"]["curve"]:
                writer.writerow([point["step"], point.get("ada_p"), point.get("ada_rt")])
        print(f"\nADA p curve written to {out / 'p_curve.csv'}")
        print(
            "step: p (r_t) -> "
            + ", ".join(
                f"{p['step']}: {p.get('ada_p', 0):.3f} ({p.get('ada_rt', 0):+.2f})"
                for p in records["ada"]["curve"][:: max(1, len(records["ada"]["curve"]) // 10)]
            )
        )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--arms", default="none,ada", help="comma-separated: none, ada, diffaugment, ada_nocutout"
    )
    parser.add_argument("--steps", type=int, default=20000)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--limit", type=int, default=500, help="training images")
    parser.add_argument("--n", type=int, default=2000, help="samples and test images for FID")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--log-every", type=int, default=100)
    parser.add_argument("--eval-every", type=int, default=1000)
    parser.add_argument(
        "--tail", type=int, default=6, help="evaluations averaged in the 'mean of last' column"
    )
    parser.add_argument("--ada-target", type=float, default=0.6)
    parser.add_argument("--ada-interval", type=int, default=4)
    parser.add_argument(
        "--ada-speed-images",
        type=int,
        default=100_000,
        help="images over which p can go 0 -> 1 (the paper's 500k needs longer runs)",
    )
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--out", default="runs/ada_limited_data")
    parser.add_argument("--summarize", action="store_true", help="only print the table")
    parser.add_argument(
        "--resume", action="store_true", help="continue saved arms in --out up to --steps"
    )
    args = parser.parse_args(argv)
    if not args.summarize:
        for arm in args.arms.split(","):
            if arm not in ARMS:
                parser.error(f"unknown arm {arm!r}; choose from {', '.join(ARMS)}")
            run_arm(arm, args)
    summarize(args)


if __name__ == "__main__":
    main()
