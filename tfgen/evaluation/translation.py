"""Scores of image-to-image translators against a known answer: a pix2pix super-resolution
model against up-sampling (PSNR/SSIM), a CycleGAN between digits and inverted digits.
"""

import numpy as np

from tfgen.errors import TfgenUsageError

# "A clear margin" over bicubic up-sampling, checked for a super-resolution card.
SUPERRES_MARGINS = {"psnr": 1.0, "ssim": 0.02}
SUPERRES_METHODS = ("pix2pix", "bicubic", "bilinear", "nearest")


def image_scores(images, references):
    """Mean PSNR (dB) and SSIM of [-1, 1] images against references, on the [0, 1] scale."""
    import tensorflow as tf

    a = (tf.convert_to_tensor(images, tf.float32) + 1.0) / 2.0
    b = (tf.convert_to_tensor(references, tf.float32) + 1.0) / 2.0
    a = tf.clip_by_value(a, 0.0, 1.0)
    return {
        "psnr": float(tf.reduce_mean(tf.image.psnr(a, b, max_val=1.0))),
        "ssim": float(tf.reduce_mean(tf.image.ssim(a, b, max_val=1.0))),
    }


def evaluate_superres(model, images, batch_size=512):
    """Scores `model` (a superres pix2pix) and the up-sampling baselines on [-1, 1] images.

    Each image is down-sampled by the model's factor (box filter, as in training), then
    restored by the model and by bicubic, bilinear and nearest up-sampling.

    Returns:
        dict: `psnr_<method>`, `ssim_<method>`, the gains over bicubic and whether both gains
        reach `SUPERRES_MARGINS`.
    """
    from tfgen.data import paired

    if model.task != "superres":
        raise TfgenUsageError(
            f"this model was trained for task {model.task!r}; the PSNR/SSIM table compares "
            "super-resolution models with bicubic up-sampling"
        )
    factor = model.task_options["factor"]
    size = images.shape[1:3]
    low = paired.downsample(images, factor)
    restored = {
        "pix2pix": model.translate(low, batch_size=batch_size),
        "bicubic": paired.upsample(low, size, "bicubic").numpy(),
        "bilinear": paired.upsample(low, size, "bilinear").numpy(),
        "nearest": paired.upsample(low, size, "nearest").numpy(),
    }
    scores = {name: image_scores(x, images) for name, x in restored.items()}
    result = {
        "factor": factor,
        "test_images": int(len(images)),
        **{f"{metric}_{name}": round(s[metric], 4) for name, s in scores.items() for metric in s},
    }
    for metric in SUPERRES_MARGINS:
        result[f"{metric}_gain_over_bicubic"] = round(
            scores["pix2pix"][metric] - scores["bicubic"][metric], 4
        )
    result["beats_bicubic_clearly"] = bool(
        all(result[f"{m}_gain_over_bicubic"] >= margin for m, margin in SUPERRES_MARGINS.items())
    )
    return result


def superres_table(result):
    """A markdown table of `evaluate_superres`'s PSNR and SSIM per method."""
    rows = ["| method | PSNR (dB) | SSIM |", "| --- | --- | --- |"]
    for name in SUPERRES_METHODS:
        rows.append(f"| {name} | {result[f'psnr_{name}']:.2f} | {result[f'ssim_{name}']:.4f} |")
    return "\n".join(rows)


def _unit(images):
    """[-1, 1] floats -> [0, 1]."""
    return (np.asarray(images, np.float32) + 1.0) / 2.0


def evaluate_inversion(model, images, labels=None, classifier=None):
    """Figures of a CycleGAN between digits (A) and inverted digits (B).

    A -> B should give 1 - x, B -> A should give x back from 1 - x, both cycles should
    reconstruct their input, and a digit classifier should keep the class of the translations.

    Args:
        model: a CycleGAN for [N, 28, 28, 1] images.
        images: uint8 [N, 28, 28, 1]. Domain A test images (B is 255 - images).
        labels: int [N] or None. Digit classes, for the classifier figures.
        classifier: keras.Model or None. Maps [-1, 1] images to class logits.

    Returns:
        dict of floats: mean absolute errors on the [0, 1] pixel scale and class agreement.
    """
    from tfgen import io
    from tfgen.evaluation.classifier import classifier_accuracy

    real_a = images
    real_b = 255 - images
    x = real_a.astype(np.float32) / 255.0
    fake_b = model.translate(real_a, "a2b")
    fake_a = model.translate(real_b, "b2a")
    cycled_a = model.translate(fake_b, "b2a")
    cycled_b = model.translate(fake_a, "a2b")
    figures = {
        "a2b_mae_vs_inversion": float(np.mean(np.abs(_unit(fake_b) - (1.0 - x)))),
        "b2a_mae_vs_inversion": float(np.mean(np.abs(_unit(fake_a) - x))),
        "a2b_cycle_mae": float(np.mean(np.abs(_unit(cycled_a) - x))),
        "b2a_cycle_mae": float(np.mean(np.abs(_unit(cycled_b) - (1.0 - x)))),
    }
    figures["cycle_mae"] = max(figures["a2b_cycle_mae"], figures["b2a_cycle_mae"])
    if classifier is not None and labels is not None:
        # B-domain outputs are inverted back so the digit classifier sees its own domain.
        figures["classifier_accuracy_real"] = classifier_accuracy(classifier, real_a, labels)
        figures["a2b_class_kept"] = classifier_accuracy(
            classifier, 255 - io.to_uint8(fake_b), labels
        )
        figures["b2a_class_kept"] = classifier_accuracy(classifier, io.to_uint8(fake_a), labels)
        figures["class_kept"] = min(figures["a2b_class_kept"], figures["b2a_class_kept"])
    figures["n_test_images"] = int(len(images))
    return figures
