"""PSNR and SSIM of a pix2pix super-resolution model against bicubic up-sampling.

    python tools/evaluate_pix2pix.py pix2pix_fashion_superres            # zoo entry: card too
    python tools/evaluate_pix2pix.py runs/x/model.keras --dataset fashion_mnist

Scores the test split: each image is down-sampled by the model's factor (box filter, as in
training), then restored by the model and by bicubic and nearest up-sampling; PSNR and SSIM
(`tf.image.psnr` / `tf.image.ssim` on [0, 1] images) are averaged over the images
(`tfgen.evaluation.translation.evaluate_superres`). For a zoo entry the figures go into its
card.json (`metrics`) and a README table.
"""

import argparse
import json

import tensorflow as tf

from tfgen import data, registry, saving, zoo
from tfgen.evaluation.translation import evaluate_superres, superres_table


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", help="zoo name, .keras file or SavedModel folder")
    parser.add_argument("--dataset", default="fashion_mnist")
    parser.add_argument("--split", default="test")
    parser.add_argument(
        "--data-dir", help="folder of local dataset copies (default: $TFGEN_DATA_DIR)"
    )
    parser.add_argument("--limit", type=int, help="score only the first N test images")
    parser.add_argument("--no-card", action="store_true", help="do not update the zoo card")
    args = parser.parse_args(argv)
    model = saving.load_model(args.model, compile=False)
    local = data.load_arrays(args.dataset, args.split, data_dir_override=args.data_dir)
    if local is None:
        raise SystemExit(
            f"{args.dataset} not found: pass --data-dir or set TFGEN_DATA_DIR to the folder "
            f"that holds {args.dataset}/"
        )
    images, _ = local
    images = images[: args.limit] if args.limit else images
    images = data.to_unit_range(tf.convert_to_tensor(images)).numpy()
    result = {"dataset": args.dataset, "split": args.split, **evaluate_superres(model, images)}
    print(json.dumps(result, indent=2))
    print(superres_table(result))
    entry = registry.zoo_path(args.model) if "/" not in args.model else None
    if entry is not None and (entry / "card.json").exists() and not args.no_card:
        zoo.update_card(args.model, metrics=result)
        readme = entry / "README.md"
        text = readme.read_text() if readme.exists() else ""
        marker = "## Quality"
        text = text.split(marker)[0].rstrip() + "\n\n" if marker in text else text
        text += (
            f"{marker} (measured by `tools/evaluate_pix2pix.py {args.model}`)\n\n"
            f"x{result['factor']} super-resolution of the {result['test_images']:,} "
            f"{args.dataset} {args.split} images (box down-sampling, then restoration):\n\n"
            f"{superres_table(result)}\n\nGain over bicubic: "
            f"{result['psnr_gain_over_bicubic']:+.2f} dB PSNR, "
            f"{result['ssim_gain_over_bicubic']:+.4f} SSIM.\n"
        )
        readme.write_text(text)
        print(f"updated {entry / 'card.json'} and README.md")
    return result


if __name__ == "__main__":
    main()
