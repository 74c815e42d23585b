"""Measures the issue-2 sample-quality targets of a DCGAN, for its EMA and its raw generator.

    TFGEN_DATA_DIR=../shared/data python tools/check_dcgan_quality.py dcgan_mnist

Samples `--n` images as `tfgen sample MODEL --n N --seed S --out s.npy` does (uint8), classifies
them with the zoo's MNIST classifier (savedmodels/classifier_mnist) and prints: the distinct
digits found, the largest digit's share, the share classified with confidence >= 0.9, and the
FID in the classifier's features against the same number of MNIST test images. Targets
(issue 2): 10 digits, largest share <= 15 %, confident share >= 85 %; issue 11: the EMA
generator's FID no worse than the raw generator's.
"""

import argparse
import json

from tfgen import io, monitor, saving, zoo
from tfgen.evaluation import features as features_lib
from tfgen.evaluation import metrics
from tfgen.evaluation.model_eval import real_images

CONFIDENCE = 0.9


def digit_stats(probabilities):
    """(distinct digits, largest digit share, share with max probability >= CONFIDENCE)."""
    shares = monitor.class_shares(probabilities.argmax(axis=1), probabilities.shape[1])
    return (
        shares["classes_seen"],
        shares["max_class_share"],
        float((probabilities.max(axis=1) >= CONFIDENCE).mean()),
    )


def measure(model, extractor, real_features, n, seed, use_ema):
    images = io.to_uint8(model.generate(n, seed=seed, use_ema=use_ema))
    fake_features, probabilities = extractor.features_and_probabilities(images)
    digits, max_share, confident = digit_stats(probabilities)
    return {
        "digits": digits,
        "max_share": round(max_share, 4),
        "confident_share": round(confident, 4),
        "fid": round(float(metrics.fid(fake_features, real_features)), 4),
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", nargs="?", default="dcgan_mnist", help="zoo name or .keras file")
    parser.add_argument("--n", type=int, default=1000, help="samples (default 1000, as judged)")
    parser.add_argument("--seed", type=int, default=0, help="sample seed (tfgen sample's default)")
    parser.add_argument("--json", help="also write the results to this JSON file")
    parser.add_argument(
        "--data-dir", help="folder of local dataset copies (default: $TFGEN_DATA_DIR)"
    )
    parser.add_argument(
        "--update-card",
        action="store_true",
        help="store the results as `quality_check` in the zoo entry's card.json",
    )
    args = parser.parse_args(argv)
    model = saving.load_model(args.model, compile=False)
    extractor = features_lib.get_extractor("classifier_mnist")
    real_features = extractor.features(real_images("mnist", "test", args.n, args.data_dir))
    results = {}
    generators = (
        [("ema", True), ("raw", False)] if getattr(model, "ema", None) else [("raw", False)]
    )
    for name, use_ema in generators:
        results[name] = measure(model, extractor, real_features, args.n, args.seed, use_ema)
        r = results[name]
        print(
            f"{name:>3}: digits {r['digits']}/10, max share {100 * r['max_share']:.1f} %, "
            f"confidence >= {CONFIDENCE}: {100 * r['confident_share']:.1f} %, FID {r['fid']:.3f}"
        )
    best = results.get("ema", results["raw"])
    results["targets_met"] = bool(
        best["digits"] == 10 and best["max_share"] <= 0.15 and best["confident_share"] >= 0.85
    )
    if "ema" in results:
        results["ema_fid_no_worse"] = bool(results["ema"]["fid"] <= results["raw"]["fid"])
    print(json.dumps(results))
    if args.update_card:
        command = (
            f"python tools/check_dcgan_quality.py {args.model} --n {args.n} --seed {args.seed}"
        )
        zoo.update_card(args.model, quality_check={"command": command, **results})
    if args.json:
        with io.atomic_path(args.json) as tmp:
            tmp.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
