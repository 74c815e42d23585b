"""Translators scored against the true answer on paired test data (`tfgen evaluate --target`).

For each input whose target is known (the same relative path in the target folder or set):
MAE (on the [0, 1] scale), PSNR and SSIM of the translation against the target, the same for
the identity baseline (the input taken as the answer), the FID of the translations against
the targets, and, for the emoji, the share taken for the target's style and the share whose
category is kept, each beside the real targets' rate.
"""

import numpy as np

from tfgen.errors import TfgenUsageError

METRICS = ("pixels", "fid", "style")


def paired_test_images(source, target, split="test", data_dir=None, limit=None):
    """`(inputs, targets, category labels or None)`: uint8 arrays paired by relative path."""
    from tfgen.data import paired

    inputs_dir = paired.split_folder(source, split, data_dir)
    targets_dir = paired.split_folder(target, split, data_dir)
    x, y, names = paired.load_paired_folders(inputs_dir, targets_dir)
    categories = sorted({n.split("/")[0] for n in names if "/" in n})
    labels = (
        np.array([categories.index(n.split("/")[0]) for n in names], np.int32)
        if categories and all("/" in n for n in names)
        else None
    )
    if limit is not None:
        x, y = x[:limit], y[:limit]
        labels = None if labels is None else labels[:limit]
    return x, y, labels


def _unit(images):
    return np.clip((np.asarray(images, np.float32) + 1.0) / 2.0, 0.0, 1.0)


def _scores(images, references, prefix):
    from tfgen.evaluation.translation import image_scores

    scores = image_scores(images, references)
    return {
        f"{prefix}_mae": float(np.mean(np.abs(_unit(images) - _unit(references)))),
        f"{prefix}_psnr": scores["psnr"],
        f"{prefix}_ssim": scores["ssim"],
    }


def evaluate_translation(model, inputs, targets, labels=None, target_dataset=None,
                         direction=None, metrics=METRICS, extractor=None):  # fmt: skip
    """Scores `model.translate(inputs)` against `targets` (uint8 arrays of equal shape)."""
    unknown = [m for m in metrics if m not in METRICS]
    if unknown:
        raise TfgenUsageError(
            f"unknown translation metric(s) {', '.join(unknown)}; choose from {', '.join(METRICS)}"
        )
    from tfgen.io import from_uint8

    x, y = from_uint8(inputs), from_uint8(targets)
    outputs = model.translate(x, direction=direction) if direction else model.translate(x)
    outputs = np.asarray(outputs)
    if outputs.shape != y.shape:
        raise TfgenUsageError(
            f"the model gives {outputs.shape[1:]} images but the targets are {y.shape[1:]}"
        )
    results = {"n": int(len(x))}
    if "pixels" in metrics:
        results |= _scores(outputs, y, "translation") | _scores(x, y, "identity")
        results["mae_ratio_to_identity"] = results["translation_mae"] / results["identity_mae"]
    if "fid" in metrics or "style" in metrics:
        from tfgen.evaluation.evaluate import fid_between
        from tfgen.evaluation.features import get_extractor

        extractor = get_extractor(extractor or target_dataset)
        if "fid" in metrics:
            results["fid"] = float(fid_between(outputs, y, extractor=extractor))
            results["fid_identity"] = float(fid_between(x, y, extractor=extractor))
        if "style" in metrics:
            results |= _style(extractor, outputs, y, labels, target_dataset)
    return results


def _style(extractor, outputs, targets, labels, target_dataset):
    from tfgen.evaluation.style import style_figures, style_group

    _, size = style_group(target_dataset)
    _, fake_probs = extractor.features_and_probabilities(outputs)
    _, real_probs = extractor.features_and_probabilities(targets)
    figures = {
        "style_share": style_figures(fake_probs, target_dataset)["style_share"],
        "style_share_real": style_figures(real_probs, target_dataset)["style_share"],
    }
    if labels is not None:
        figures["category_kept"] = float(np.mean(np.argmax(fake_probs, -1) % size == labels))
        figures["category_kept_real"] = float(np.mean(np.argmax(real_probs, -1) % size == labels))
    return figures
