"""Scores generated images against real ones: the library side of `tfgen evaluate`.

Images go through one feature extractor (`features.get_extractor`), then the metrics of
`metrics.py` run on the features and class probabilities.
"""

import numpy as np
import tensorflow as tf

from tfgen.errors import TfgenUsageError
from tfgen.evaluation import metrics as metric_fns
from tfgen.evaluation.features import get_extractor
from tfgen.evaluation.style import STYLE_GROUPS, category_accuracy, style_figures, style_group

# Metric name -> the keys it adds to the result.
METRICS = {
    "fid": ("fid",),
    "kid": ("kid", "kid_std"),
    "pr": ("precision", "recall"),
    "is": ("inception_score", "inception_score_std"),
    "coverage": ("coverage", "max_class_share"),
    # Emoji also give `category_accuracy` (the category alone, whatever the style).
    "accuracy": ("label_accuracy",),
    # Emoji: the share taken for the dataset's style (and the real images' share, the rate to
    # compare with), and how many categories hold 2 % of the samples (evaluation.style).
    "style": ("style_share", "style_share_real", "categories_2pct", "max_category_share"),
}
DEFAULT_METRICS = ("fid", "kid", "pr", "coverage")
KID_MAX_SUBSET = 1000  # Binkowski et al.'s subset size
_NEEDS_REAL = ("fid", "kid", "pr", "style")


def check_metric_names(metrics):
    """Returns `metrics` as a tuple of known names, or raises naming the unknown ones."""
    if isinstance(metrics, str):
        metrics = tuple(m.strip() for m in metrics.split(",") if m.strip())
    metrics = tuple(metrics)
    unknown = [m for m in metrics if m not in METRICS]
    if unknown:
        raise TfgenUsageError(
            f"unknown metric(s) {', '.join(map(repr, unknown))}; choose from {', '.join(METRICS)}"
        )
    if not metrics:
        raise TfgenUsageError(f"no metrics asked for; choose from {', '.join(METRICS)}")
    return metrics


def kid_subset_size_for(num_real, num_fake, requested=None):
    """The KID subset size for two sets of `num_real` and `num_fake` samples.

    Default (None): min(1000, smaller set // 2). Subsets as large as the set would all be the
    whole set, giving a KID std of exactly 0, which says nothing about the spread; half the
    set gives subsets that differ, so the std measures the estimate's variability. KID is
    unbiased at any subset size, so the mean is unaffected (only its spread widens).
    A `requested` size is capped at the smaller set.
    """
    smallest = min(int(num_real), int(num_fake))
    if requested is not None:
        return min(int(requested), smallest)
    half = min(KID_MAX_SUBSET, smallest // 2)
    return half if half >= 2 else smallest  # tiny sets: one subset of everything


def _as_images(images, name):
    """Numpy images from an array, a tensor or a `tf.data.Dataset` of images or (images, labels)."""
    if images is None:
        return None
    if isinstance(images, tf.data.Dataset):
        batches = [b[0] if isinstance(b, tuple) else b for b in images.as_numpy_iterator()]
        if not batches:
            raise TfgenUsageError(f"{name} dataset is empty")
        # A dataset of single images has no batch axis to concatenate along.
        return np.concatenate(batches) if batches[0].ndim == 4 else np.stack(batches)
    return np.asarray(images)


def evaluate_features(
    fake_features,
    real_features=None,
    fake_probs=None,
    metrics=DEFAULT_METRICS,
    fake_labels=None,
    k=3,
    kid_subsets=100,
    kid_subset_size=None,
    is_splits=10,
    seed=0,
):
    """Runs the metrics on already-extracted features (reuse real features across calls).

    Args:
        fake_features: array `[N, D]` of generated samples.
        real_features: array `[M, D]` or None; needed by fid, kid and pr.
        fake_probs: array `[N, C]` of class probabilities or None; needed by is, coverage and
            accuracy.
        metrics: sequence of names from `METRICS` (or a comma-separated string).
        fake_labels: int array `[N]` or None: the classes a conditional generator was asked
            for; needed by accuracy.
        k: int. Neighbourhood size of precision/recall. Defaults to 3.
        kid_subsets: int. KID subsets. Defaults to 100.
        kid_subset_size: int or None. KID subset size, capped at the smaller sample count.
            Defaults to min(1000, smaller count // 2) (see `kid_subset_size_for`).
        is_splits: int. Inception Score splits, capped at the sample count. Defaults to 10.
        seed: int. Seed of the KID subsets.

    Returns:
        A dict of floats with the keys listed in `METRICS` for each metric asked for.
    """
    metrics = check_metric_names(metrics)
    if real_features is None and any(m in _NEEDS_REAL for m in metrics):
        raise TfgenUsageError(
            f"metrics {', '.join(m for m in metrics if m in _NEEDS_REAL)} compare with real "
            "images; pass real images (or drop those metrics)"
        )
    needs_probs = [m for m in metrics if m in ("is", "coverage", "accuracy")]
    if fake_probs is None and needs_probs:
        raise TfgenUsageError(
            f"metrics {', '.join(needs_probs)} need class probabilities; use an extractor "
            "with a classifier head"
        )
    if "accuracy" in metrics and fake_labels is None:
        raise TfgenUsageError(
            "metric 'accuracy' needs fake_labels: the class each sample was generated for"
        )
    results = {}
    if "fid" in metrics:
        results["fid"] = metric_fns.fid(real_features, fake_features)
    if "kid" in metrics:
        size = kid_subset_size_for(len(real_features), len(fake_features), kid_subset_size)
        results["kid"], results["kid_std"] = metric_fns.kid(
            real_features, fake_features, kid_subsets, size, seed
        )
    if "pr" in metrics:
        results["precision"], results["recall"] = metric_fns.precision_recall(
            real_features, fake_features, k
        )
    if "is" in metrics:
        splits = min(is_splits, len(fake_probs))
        results["inception_score"], results["inception_score_std"] = metric_fns.inception_score(
            fake_probs, splits
        )
    pred_labels = None if fake_probs is None else np.argmax(fake_probs, axis=-1)
    if "coverage" in metrics:
        results["coverage"], results["max_class_share"] = metric_fns.class_coverage(
            pred_labels, np.shape(fake_probs)[-1]
        )
    if "accuracy" in metrics:
        results["label_accuracy"] = metric_fns.label_accuracy(
            pred_labels, np.asarray(fake_labels).astype(np.int64)
        )
    return results


def evaluate_samples(
    fake_images,
    real_images=None,
    metrics=DEFAULT_METRICS,
    extractor=None,
    dataset=None,
    fake_labels=None,
    k=3,
    kid_subsets=100,
    kid_subset_size=None,
    is_splits=10,
    seed=0,
    weights="imagenet",
):
    """Scores generated images against real images in one extractor's feature space.

    Args:
        fake_images: uint8 `[N, H, W, C]` or float in [-1, 1], an array, tensor or
            `tf.data.Dataset` (of images or `(images, labels)`).
        real_images: same forms as `fake_images`, or None when only is, coverage or
            accuracy are asked for.
        metrics: sequence of names from `METRICS`: `fid`, `kid`, `pr` (precision and recall),
            `is` (Inception Score), `coverage` (classes present and the largest class share),
            `accuracy` (predicted vs `fake_labels`). Defaults to fid, kid, pr, coverage.
        extractor: str, path or FeatureExtractor. Overrides the extractor picked from
            `dataset` (see `features.get_extractor`).
        dataset: str or None. The real images' dataset (`mnist`, `fashion_mnist`, another
            name or folder -> inception); used when `extractor` is None.
        fake_labels: int array `[N]` or None; needed by accuracy.
        k: int. Neighbourhood size of precision/recall. Defaults to 3.
        kid_subsets: int. KID subsets. Defaults to 100.
        kid_subset_size: int or None. KID subset size, capped at the smaller sample count;
            None: min(1000, smaller count // 2).
        is_splits: int. Inception Score splits. Defaults to 10.
        seed: int. Seed of the KID subsets.
        weights: str or None. InceptionV3 weights when the extractor is Inception.

    Returns:
        A dict of floats (keys per metric in `METRICS`).
    """
    metrics = check_metric_names(metrics)
    if extractor is None and dataset is None:
        raise TfgenUsageError(
            "pass extractor= (classifier_mnist, classifier_fashion_mnist, inception) or "
            "dataset= so the extractor can be picked"
        )
    extractor = get_extractor(extractor if extractor is not None else dataset, weights=weights)
    fake_features, fake_probs = extractor.features_and_probabilities(
        _as_images(fake_images, "fake_images")
    )
    real_features = real_probs = None
    if real_images is not None and any(m in _NEEDS_REAL for m in metrics):
        real_features, real_probs = extractor.features_and_probabilities(
            _as_images(real_images, "real_images")
        )
    results = {}
    if "style" in metrics:
        if real_probs is None:
            raise TfgenUsageError("metric 'style' compares with the real images' rate; pass them")
        results.update(style_figures(fake_probs, dataset))
        results["style_share_real"] = style_figures(real_probs, dataset)["style_share"]
    if "accuracy" in metrics and fake_labels is not None and str(dataset) in STYLE_GROUPS:
        # classifier_emoji's classes are vendor x category: a sample drawn for category c
        # is right when taken for this vendor's drawing of c (label_accuracy), and
        # category_accuracy counts the category alone, whatever the style.
        group, size = style_group(dataset)
        results["category_accuracy"] = category_accuracy(fake_probs, fake_labels, dataset)
        fake_labels = np.asarray(fake_labels) + group * size
    rest = [m for m in metrics if m != "style"]
    if rest:
        results.update(
            evaluate_features(
                fake_features,
                real_features,
                fake_probs,
                metrics=rest,
                fake_labels=fake_labels,
                k=k,
                kid_subsets=kid_subsets,
                kid_subset_size=kid_subset_size,
                is_splits=is_splits,
                seed=seed,
            )
        )
    return results


def fid_between(images_a, images_b, extractor=None, dataset=None, weights="imagenet"):
    """FID between two image sets, e.g. a train and a test split (a floor for generators)."""
    return evaluate_samples(
        images_a, images_b, ("fid",), extractor=extractor, dataset=dataset, weights=weights
    )["fid"]
