"""Where an emoji generator's style share is lost: per category its samples are taken for,
how many, the share taken for the trained vendor's style, and the classifier's confidence.

    TFGEN_DATA_DIR=../shared/data python tools/style_by_category.py dcgan_emoji_twitter_base \
        dcgan_emoji_twitter_fewshot100 --dataset emoji_twitter

Each model (a zoo name or a `.keras` file) draws `--n` samples (seed `--seed`), which
`classifier_emoji` classifies (`tfgen.evaluation.style.style_by_category`). A model
conditioned on the category (`cgan_emoji`) draws `--n` samples per label instead, and the rows
are the labels drawn: the share taken for that category (either style), for that category in
the vendor's style, and for the vendor's style.
"""

import argparse

import numpy as np

from tfgen import saving
from tfgen.data import sources
from tfgen.evaluation.features import get_extractor
from tfgen.evaluation.style import (
    category_accuracy,
    style_by_category,
    style_figures,
    style_group,
)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="+", help="zoo names or .keras files")
    parser.add_argument("--dataset", default="emoji_twitter", help="the style judged")
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    extractor = get_extractor("classifier_emoji")
    names = sources.folder_class_names(sources.local_folder(args.dataset, "train"))
    for name in args.models:
        model = saving.load_model(name, compile=False)
        if getattr(model, "num_classes", None):
            per_label(model, name, extractor, names, args)
            continue
        probs = extractor.probabilities(model.generate(args.n, seed=args.seed))
        overall = style_figures(probs, args.dataset)
        print(f"{name}: {overall['style_share']:.1%} taken for {args.dataset}'s style")
        print("| category | samples | style share | confidence |\n| --- | ---: | ---: | ---: |")
        for category, row in zip(names, style_by_category(probs, args.dataset), strict=True):
            if row is not None:
                print(f"| {category} | {row[0]} | {row[1]:.0%} | {row[2]:.2f} |")


def per_label(model, name, extractor, names, args):
    group, size = style_group(args.dataset)
    print(f"{name}: {args.n} samples per label")
    print("| label | category | category kept | and in style | style share |")
    print("| ---: | --- | ---: | ---: | ---: |")
    for label, category in enumerate(names):
        labels = np.full(args.n, label, np.int32)
        probs = extractor.probabilities(model.generate(args.n, labels=labels, seed=args.seed))
        kept = category_accuracy(probs, labels, args.dataset)
        exact = np.mean(np.argmax(probs, axis=-1) == label + group * size)
        in_style = style_figures(probs, args.dataset)["style_share"]
        print(f"| {label} | {category} | {kept:.1%} | {exact:.1%} | {in_style:.1%} |")


if __name__ == "__main__":
    main()
