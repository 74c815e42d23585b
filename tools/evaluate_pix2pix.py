"""PSNR and SSIM of a pix2pix super-resolution model against bicubic up-sampling.

    python scripts/evaluate_pix2pix.py pix2pix_fashion_superres            # zoo entry: card too
    python scripts/evaluate_pix2pix.py runs/x/model.keras --dataset fashion_mnist

Scores the test split: each image is down-sampled by the model's factor (box filter, as in
training), then restored by the model and by bicubic and nearest up-sampling; PSNR and SSIM
(`tf.image.psnr` / `tf.image.ssim` on [0, 1] images) are averaged over the images. For a zoo
entry the figures go into its card.json (`metrics`) and a README table.
"""

import argparse
import json
import os
import pathlib
import sys

import tensorflow as tf

REPO = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tfgen import data, data_paired, registry, saving, zoo  # noqa: E402
from tfgen.errors import TfgenUsageError  # noqa: E402

DATA_DIR = pathlib.Path(os.environ.get("TFGEN_DATA_DIR", REPO.parent / "shared" / "data"))
# "A clear margin" over bicubic, checked for the card.
MARGINS = {"psnr": 1.0, "ssim": 0.02}


def image_scores(images, references):
    """Mean PSNR (dB) and SSIM of [-1, 1] images against references, on the [0, 1] scale."""
    a = (tf.convert_to_tensor(images, tf.float32) + 1.0) / 2.0
    b = (tf.convert_to_tensor(references, tf.float32) + 1.0) / 2.0
    a = tf.clip_by_value(a, 0.0, 1.0)
    return {
        "psnr": float(tf.reduce_mean(tf.image.psnr(a, b, max_val=1.0))),
        "ssim": float(tf.reduce_mean(tf.image.ssim(a, b, max_val=1.0))),
    }


def evaluate_superres(model, images, batch_size=512):
    """Scores `model` (a superres pix2pix) and the up-sampling baselines on [-1, 1] images."""
    if model.task != "superres":
        raise TfgenUsageError(
            f"this model was trained for task {model.task!r}; the PSNR/SSIM table compares "
            "super-resolution models with bicubic up-sampling"
        )
    factor = model.task_options["factor"]
    size = images.shape[1:3]
    low = data_paired.downsample(images, factor)
    restored = {
        "pix2pix": model.translate(low, batch_size=batch_size),
        "bicubic": data_paired.upsample(low, size, "bicubic").numpy(),
        "bilinear": data_paired.upsample(low, size, "bilinear").numpy(),
        "nearest": data_paired.upsample(low, size, "nearest").numpy(),
    }
    scores = {name: image_scores(x, images) for name, x in restored.items()}
    result = {
        "factor": factor,
        "test_images": int(len(images)),
        **{f"{metric}_{name}": round(s[metric], 4) for name, s in scores.items() for metric in s},
    }
    for metric in MARGINS:
        result[f"{metric}_gain_over_bicubic"] = round(
            scores["pix2pix"][metric] - scores["bicubic"][metric], 4
        )
    result["beats_bicubic_clearly"] = bool(
        all(result[f"{m}_gain_over_bicubic"] >= margin for m, margin in MARGINS.items())
    )
    return result


def table(result):
    rows = ["| method | PSNR (dB) | SSIM |", "| --- | --- | --- |"]
    for name in ("pix2pix", "bicubic", "bilinear", "nearest"):
        rows.append(f"| {name} | {result[f'psnr_{name}']:.2f} | {result[f'ssim_{name}']:.4f} |")
    return "\n".join(rows)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", help="zoo name, .keras file or SavedModel folder")
    parser.add_argument("--dataset", default="fashion_mnist")
    parser.add_argument("--split", default="test")
    parser.add_argument("--limit", type=int, help="score only the first N test images")
    parser.add_argument("--no-card", action="store_true", help="do not update the zoo card")
    args = parser.parse_args(argv)
    os.environ.setdefault("TFGEN_DATA_DIR", str(DATA_DIR))
    model = saving.load_model(args.model, compile=False)
    images, _ = data.load_arrays(args.dataset, args.split)
    images = images[: args.limit] if args.limit else images
    images = data.to_unit_range(tf.convert_to_tensor(images)).numpy()
    result = {"dataset": args.dataset, "split": args.split, **evaluate_superres(model, images)}
    print(json.dumps(result, indent=2))
    print(table(result))
    entry = registry.zoo_path(args.model) if "/" not in args.model else None
    if entry is not None and (entry / "card.json").exists() and not args.no_card:
        zoo.update_card(args.model, metrics=result)
        readme = entry / "README.md"
        text = readme.read_text() if readme.exists() else ""
        marker = "## Quality"
        text = text.split(marker)[0].rstrip() + "\n\n" if marker in text else text
        text += (
            f"{marker} (measured by `scripts/evaluate_pix2pix.py {args.model}`)\n\n"
            f"x{result['factor']} super-resolution of the {result['test_images']:,} "
            f"{args.dataset} {args.split} images (box down-sampling, then restoration):\n\n"
            f"{table(result)}\n\nGain over bicubic: "
            f"{result['psnr_gain_over_bicubic']:+.2f} dB PSNR, "
            f"{result['ssim_gain_over_bicubic']:+.4f} SSIM.\n"
        )
        readme.write_text(text)
        print(f"updated {entry / 'card.json'} and README.md")
    return result


if __name__ == "__main__":
    main()
