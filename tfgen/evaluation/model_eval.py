"""Scores a trained model against a dataset split: the job behind `tfgen evaluate`."""

import numpy as np

from tfgen import data
from tfgen.errors import TfgenUsageError
from tfgen.evaluation import evaluate as evaluate_lib

SAMPLE_METRICS = tuple(evaluate_lib.METRICS)
# `blur_reference`: the FID of the real *train* images blurred 4x (down and up again) against
# the split: a floor for "recognisable but blurry", which a generator's FID should beat well.
ALL_METRICS = (*SAMPLE_METRICS, "nll", "blur_reference")


def blur_reference_fid(dataset, split, n, extractor=None, data_dir=None, factor=4):
    """FID of `n` train images down-sampled by `factor` and up again (bilinear) against `n`
    images of `split`, in the dataset's extractor's features."""
    import tensorflow as tf

    train = real_images(dataset, "train", n, data_dir)
    size = train.shape[1]
    small = tf.image.resize(train, (size // factor, size // factor), antialias=True)
    blurred = tf.clip_by_value(tf.image.resize(small, (size, size)), -1.0, 1.0).numpy()
    real = real_images(dataset, split, n, data_dir)
    return evaluate_lib.fid_between(blurred, real, extractor=extractor, dataset=dataset)


def real_images(dataset, split, n, data_dir=None):
    """The first `n` images of a dataset split, in order, as a numpy array in [-1, 1]."""
    ds = data.load(
        dataset,
        split=split,
        batch_size=256,
        shuffle=False,
        drop_remainder=False,
        data_dir=data_dir,
        limit=n,
    )
    return np.concatenate([b.numpy() for b in ds])


def conditioning_labels(num_classes, dataset, split, n, data_dir=None):
    """The labels a conditional model's `n` samples are drawn for: the real split's own labels
    (its first `n`, repeated to `n`), so that FID and precision/recall compare like with like
    on a long-tailed split (the emoji test drawings are 53 % people); labels cycled 0, 1, ...
    when the split has none, or labels the model does not take."""
    arrays = data.load_arrays(dataset, split, data_dir_override=data_dir)
    labels = None if arrays is None else arrays[1]
    if labels is None or len(labels) == 0 or labels.min() < 0 or labels.max() >= num_classes:
        return np.arange(n) % num_classes
    return np.resize(labels[:n], n).astype(np.int32)


def evaluate_model(
    model,
    dataset,
    split="test",
    metrics=("fid", "kid", "pr", "coverage"),
    n=1000,
    seed=0,
    extractor=None,
    k=3,
    nll_k=1000,
    data_dir=None,
):
    """Generates `n` samples from `model` and scores them against `n` real images of `split`.

    `nll` (VAE only) is the IWAE estimate of the split's negative log-likelihood in nats.
    """
    if isinstance(metrics, str):
        metrics = tuple(m.strip() for m in metrics.split(",") if m.strip())
    unknown = [m for m in metrics if m not in ALL_METRICS]
    if unknown:
        raise TfgenUsageError(
            f"unknown metric(s) {', '.join(map(repr, unknown))}; choose from {', '.join(ALL_METRICS)}"
        )
    if n < 2:
        raise TfgenUsageError(f"--n must be at least 2, got {n}")
    results = {}
    real = real_images(dataset, split, n, data_dir)
    if "nll" in metrics:
        if not (hasattr(model, "encode") and hasattr(model, "decode")):
            raise TfgenUsageError(
                f"a {type(model).__name__} has no likelihood: nll needs a VAE; drop nll from --metrics"
            )
        from tfgen.evaluation.likelihood import iwae_nll

        results["nll"] = float(iwae_nll(model, real, k=nll_k, seed=seed))
    if "blur_reference" in metrics:
        results["fid_blurred_real"] = float(
            blur_reference_fid(dataset, split, n, extractor, data_dir)
        )
    sample_metrics = [m for m in metrics if m not in ("nll", "blur_reference")]
    if sample_metrics:
        if not hasattr(model, "generate"):
            raise TfgenUsageError(f"a {type(model).__name__} does not generate samples; use nll")
        fake_labels = None
        if getattr(model, "num_classes", None):
            fake_labels = conditioning_labels(model.num_classes, dataset, split, n, data_dir)
            fake = model.generate(n, labels=fake_labels, seed=seed)
        else:
            fake = model.generate(n, seed=seed)
        results.update(
            evaluate_lib.evaluate_samples(
                fake,
                real,
                metrics=sample_metrics,
                extractor=extractor,
                dataset=dataset,
                fake_labels=fake_labels,
                k=k,
                seed=seed,
            )
        )
    results["n"] = n
    return results
