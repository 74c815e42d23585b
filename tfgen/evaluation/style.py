"""Style and category figures from a classifier of vendor x category classes (`classifier_emoji`).

The classifier's classes are groups of equal size, one group per style (Google's 9 emoji
categories, then Twitter's). The argmax's group is the style a sample is taken for, and its
place within the group is the category.
"""

import numpy as np

from tfgen.errors import TfgenUsageError

# dataset -> (its style's group, classes per group) among classifier_emoji's classes.
STYLE_GROUPS = {"emoji_google": (0, 9), "emoji_twitter": (1, 9)}
CATEGORY_FLOOR = 0.02  # a category "holds" samples when it has at least 2 % of them


def style_group(dataset):
    key = str(dataset)
    if key not in STYLE_GROUPS:
        raise TfgenUsageError(
            f"metric 'style' judges emoji styles; {dataset} is none of {', '.join(STYLE_GROUPS)}"
        )
    return STYLE_GROUPS[key]


def _taken_for(probs, dataset):
    """`(category, in_style, size)`: each sample's argmax split into the category it is taken
    for and whether it is taken for `dataset`'s style."""
    group, size = style_group(dataset)
    probs = np.asarray(probs)
    if probs.shape[-1] % size:
        raise TfgenUsageError(
            f"the extractor has {probs.shape[-1]} classes, not groups of {size}: use classifier_emoji"
        )
    predicted = np.argmax(probs, axis=-1)
    return predicted % size, predicted // size == group, size


def style_figures(probs, dataset):
    """`style_share` (taken for `dataset`'s style), `categories_2pct` (categories with at least
    2 % of the samples) and `max_category_share`, from class probabilities `[N, groups * size]`."""
    category, in_style, size = _taken_for(probs, dataset)
    shares = np.bincount(category, minlength=size) / len(category)
    return {
        "style_share": float(np.mean(in_style)),
        "categories_2pct": int(np.sum(shares >= CATEGORY_FLOOR)),
        "max_category_share": float(shares.max()),
    }


def style_by_category(probs, dataset):
    """Per category the samples are taken for: `(samples, share taken for `dataset`'s style,
    mean top-class probability)`, or None for a category no sample is taken for. Shows where a
    generator's style share is lost (e.g. in categories it draws unclearly)."""
    category, in_style, size = _taken_for(probs, dataset)
    confidence = np.asarray(probs).max(-1)
    rows = []
    for c in range(size):
        chosen = category == c
        n = int(chosen.sum())
        rows.append(
            (n, float(in_style[chosen].mean()), float(confidence[chosen].mean())) if n else None
        )
    return rows


def category_accuracy(probs, labels, dataset):
    """The share of samples taken for the category they were drawn for (a conditional
    model's labels `[N]`), in either style."""
    category, _, _ = _taken_for(probs, dataset)
    return float(np.mean(category == np.asarray(labels)))
