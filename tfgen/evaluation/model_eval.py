"""Scores a trained model against a dataset split: the job behind `tfgen evaluate`."""

import numpy as np

from tfgen import data
from tfgen.errors import TfgenUsageError
from tfgen.evaluation import evaluate as evaluate_lib

SAMPLE_METRICS = tuple(evaluate_lib.METRICS)
ALL_METRICS = (*SAMPLE_METRICS, "nll")


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
    sample_metrics = [m for m in metrics if m != "nll"]
    if sample_metrics:
        if not hasattr(model, "generate"):
            raise TfgenUsageError(f"a {type(model).__name__} does not generate samples; use nll")
        fake_labels = None
        if getattr(model, "num_classes", None):
            fake_labels = np.arange(n) % model.num_classes
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
