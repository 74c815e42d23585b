"""`tfgen rebuild NAME`: a zoo entry end to end from `recipes/NAME.toml`.

train (the training job, resumable) -> evaluate (what the recipe's [evaluate] asks, on the
saved model) -> card (the one schema) -> publish (`savedmodels/NAME/`) -> the docs picture
(`docs/images/zoo/NAME.png`).
"""

import json
import pathlib
import platform
import time

import numpy as np

from tfgen import config, hardware, io
from tfgen.errors import TfgenUsageError
from tfgen.zoo import card as card_lib

ROOT = pathlib.Path(__file__).resolve().parents[2]
# The figure `tfgen list` shows, the first one an entry has, and which way is better.
HEADLINES = (
    ("mae_ratio_to_identity", "lower"),
    ("a2b_mae_ratio_to_identity", "lower"),
    ("psnr_pix2pix", "higher"),
    ("a2b_mae_vs_inversion", "lower"),
    ("test_accuracy", "higher"),
    ("label_accuracy", "higher"),
    ("nll", "lower"),
    ("fid", "lower"),
)


# Twemoji's CC-BY 4.0 asks for attribution wherever its images, or models trained on them, show.
EMOJI_CREDIT = (
    "Trained on emoji drawings: Twemoji graphics by Twitter, Inc and other contributors "
    "(CC-BY 4.0), Noto Emoji by Google (Apache License 2.0)."
)


def recipe_path(name):
    return ROOT / "recipes" / f"{name}.toml"


def software():
    import keras
    import tensorflow as tf

    return {"tensorflow": tf.__version__, "keras": keras.__version__,
            "python": platform.python_version()}  # fmt: skip


def evaluate(model, recipe, data_dir=None):
    """The entry's metrics, measured on the saved model as its recipe's [evaluate] says."""
    from tfgen import data
    from tfgen.evaluation import translation
    from tfgen.evaluation.model_eval import evaluate_model

    ev, dataset = recipe.evaluate, recipe.data.dataset
    data_dir = data_dir or recipe.data.data_dir
    if recipe.kind == "classifier":
        from tfgen.evaluation.classifier import classifier_accuracy
        from tfgen.training.classifier_job import labelled_arrays

        test = labelled_arrays(recipe, "test", data_dir)
        train = labelled_arrays(recipe, "train", data_dir)
        metrics = {"test_accuracy": round(classifier_accuracy(model, *test), 6),
                   "train_accuracy": round(classifier_accuracy(model, *train), 6)}  # fmt: skip
        if recipe.data.dataset_b:  # two sets' classes in two groups: score each part apart
            metrics |= grouped_accuracy(model, *test, int(test[1].max() + 1) // 2)
        return metrics
    if paired_truth(recipe):
        return evaluate_against_truth(model, recipe, data_dir)
    if recipe.kind == "pix2pix" and recipe.data.task == "superres":
        images, _ = data.load_arrays(dataset, ev.split, data_dir_override=data_dir)
        return translation.evaluate_superres(model, io.from_uint8(images))
    if recipe.kind == "cyclegan" and recipe.data.invert_b:
        import keras

        from tfgen.evaluation.features import extractor_name
        from tfgen.registry import zoo_path

        images, labels = data.load_arrays(dataset, ev.split, data_dir_override=data_dir)
        name = ev.extractor or extractor_name(dataset)
        classifier = keras.saving.load_model(zoo_path(name) / f"{name}.keras", compile=False)
        return translation.evaluate_inversion(model, images[: ev.n], labels[: ev.n], classifier)
    return evaluate_model(model, dataset, split=ev.split, metrics=tuple(ev.metrics), n=ev.n,
                          seed=ev.seed, extractor=ev.extractor, data_dir=data_dir)  # fmt: skip


def paired_truth(recipe):
    """Whether the entry translates between two folders whose test splits pair by file name
    (pix2pix with `data.target`; a CycleGAN of two sets, not MNIST's halves)."""
    d = recipe.data
    if recipe.kind == "pix2pix":
        return d.target is not None
    return recipe.kind == "cyclegan" and bool(d.dataset_b) and not (d.halves or d.invert_b)


def _directions(recipe):
    """(prefix, direction, inputs' set, truth's set) for each direction the entry translates."""
    d = recipe.data
    if recipe.kind == "pix2pix":
        return [("", None, d.dataset, d.target)]
    return [("a2b_", "a2b", d.dataset, d.dataset_b), ("b2a_", "b2a", d.dataset_b, d.dataset)]


def evaluate_against_truth(model, recipe, data_dir=None):
    """Translation scores against the true answers of the test split, each direction apart:
    MAE/PSNR/SSIM beside the identity baseline's, FID, and the target style and category
    shares beside the real drawings' (`tfgen evaluate --target`)."""
    from tfgen.evaluation import paired_translation as pt

    ev = recipe.evaluate
    chosen = [m for m in ev.metrics if m in pt.METRICS] or list(pt.METRICS)
    metrics = {}
    for prefix, direction, source, truth in _directions(recipe):
        x, y, labels = pt.paired_test_images(source, truth, ev.split, data_dir, ev.n)
        scores = pt.evaluate_translation(model, x, y, labels, target_dataset=truth,
                                         direction=direction, metrics=chosen,
                                         extractor=ev.extractor)  # fmt: skip
        metrics |= {f"{prefix}{k}": v for k, v in scores.items()}
    return metrics


def translation_picture(model, recipe, path, data_dir=None, n=8):
    """input | output | truth triplets of `n` test drawings spread over the split, two
    triplets a row; a CycleGAN's a2b on the left, b2a on the right."""
    from tfgen.evaluation import paired_translation as pt

    directions = _directions(recipe)
    per_direction = n if len(directions) > 1 else 2 * n
    columns = []  # six image sets of n: input, output, truth, then again
    for _, direction, source, truth in directions:
        x, y, _ = pt.paired_test_images(source, truth, "test", data_dir)
        pick = np.linspace(0, len(x) - 1, per_direction).round().astype(int)
        unit_x, unit_y = io.from_uint8(x[pick]), io.from_uint8(y[pick])
        out = model.translate(unit_x, direction=direction) if direction else model.translate(unit_x)
        columns += [unit_x, np.asarray(out), unit_y]
    if len(directions) == 1:  # one direction: its first and second halves side by side
        columns = [c[:n] for c in columns] + [c[n:] for c in columns]
    return io.save_images(io.side_by_side(columns), path, columns=6)


def grouped_accuracy(model, images, labels, size):
    """Test accuracy of the group (style) and of the place in it (category) on their own."""
    logits = model.predict(io.from_uint8(images), batch_size=256, verbose=0)
    predicted = np.argmax(logits, axis=-1)
    return {
        "style_accuracy": round(float(np.mean(predicted // size == labels // size)), 6),
        "category_accuracy": round(float(np.mean(predicted % size == labels % size)), 6),
    }


def headline(metrics):
    for metric, better in HEADLINES:
        if isinstance(metrics.get(metric), int | float):
            return {"metric": metric, "value": metrics[metric], "better": better}
    raise ValueError(f"no headline figure among {sorted(metrics)}")


def picture(model, recipe, path, data_dir=None):
    """The docs picture: 64 samples (8 per row; a cGAN's a column per label), or input | output
    pairs for translators."""
    from tfgen import data

    kind = recipe.kind or model.kind  # a fine-tune's recipe names no kind: its source's
    if paired_truth(recipe):
        return translation_picture(model, recipe, path, data_dir)
    if kind in ("pix2pix", "cyclegan"):
        images, _ = data.load_arrays(recipe.data.dataset, "test", data_dir_override=data_dir)
        unit = io.from_uint8(images[:16])
        if kind == "pix2pix":
            inputs = model.degrade(unit) if hasattr(model, "degrade") else unit
            outputs = model.translate(inputs)
        else:
            inputs, outputs = unit, model.translate(unit, direction="a2b")
        return io.save_images(io.side_by_side([inputs, outputs]), path, columns=8)
    if kind == "classifier":
        images, _ = data.load_arrays(recipe.data.dataset, "test", data_dir_override=data_dir)
        return io.save_images(io.from_uint8(images[:64]), path, columns=8)
    if kind == "cgan":  # a column per label (up to 16 labels; 8 columns beyond), ~64 samples
        columns = model.num_classes if model.num_classes <= 16 else 8
        n = columns * max(1, 64 // columns)
        labels = [i % model.num_classes for i in range(n)]
        return io.save_images(model.generate(n, labels=labels, seed=0), path, columns=columns)
    return io.save_images(model.generate(64, seed=0), path, columns=8)


def rebuild(
    name, overrides=(), run_dir=None, data_dir=None, publish=True, verbose=2, docs_dir=None
):
    """Trains, evaluates and publishes zoo entry `name` from its recipe; returns the card."""
    from tfgen import saving
    from tfgen.training import job
    from tfgen.zoo.publish import publish as publish_entry

    recipe = config.load(recipe_path(name), overrides)
    run_dir = pathlib.Path(run_dir or f"runs/{name}")
    start = time.time()
    if finished_run(run_dir, recipe):
        print(f"{run_dir} already holds a finished run of this recipe: evaluating it")
    else:
        job.run(recipe, run_dir, verbose=verbose, data_dir=data_dir)
    wall_time = time.time() - start
    summary = json.loads((run_dir / "run.json").read_text())
    model = saving.load_model(run_dir / "model.keras", compile=False)
    metrics = evaluate(model, recipe, data_dir)
    card_kind = recipe.kind or summary["kind"]  # a fine-tune: its source's kind
    card = {
        "schema": card_lib.SCHEMA_VERSION,
        "name": name,
        "kind": card_kind,
        "dataset": recipe.data.dataset,
        "description": recipe.description,
        "recipe": recipe.to_dict(),
        "command": f"tfgen rebuild {name}",
        "files": {
            "keras": f"{name}.keras",
            "saved_model": None if card_kind in ("vae", "classifier") else "1",
        },
        "image_shape": list(summary["image_shape"]),
        "training": {
            "steps": summary["steps"],
            "wall_time_s": round(summary.get("wall_time_s", wall_time), 1),
            "machine": hardware.describe(),
            "software": software(),
            "final_metrics": summary["final_metrics"],
        },
        "metrics": metrics,
        "headline": headline(metrics),
        "evaluation": evaluation_text(recipe),
        "notes": {"overrides": list(overrides)} if overrides else {},
    }
    card_lib.check_card(card, where=name)
    if publish:
        entry = publish_entry(run_dir / "model.keras", name, card,
                              readme=readme(card), saved_model=card["files"]["saved_model"] is not None)  # fmt: skip
        docs_dir = pathlib.Path(docs_dir) if docs_dir else ROOT / "docs"
        picture(model, recipe, docs_dir / "images" / "zoo" / f"{name}.png", data_dir)
        print(f"published {entry}")
    return card


# The recipe sections that decide what a run trains (not its description or evaluation).
TRAINING_SECTIONS = ("model", "data", "train", "optimizer", "finetune")


def finished_run(run_dir, recipe):
    """True when `run_dir` holds a model and a run.json written by a run of `recipe`'s
    training sections: rebuilding then evaluates and publishes that run instead of training
    it again (an interrupted run has no run.json and resumes from its checkpoints)."""
    summary_path = pathlib.Path(run_dir) / "run.json"
    if not summary_path.exists() or not (summary_path.parent / "model.keras").exists():
        return False
    try:  # read back through the schema: keys added since the run take their defaults
        ran = config.from_dict(json.loads(summary_path.read_text()).get("recipe", {})).to_dict()
    except TfgenUsageError:
        return False
    wanted = recipe.to_dict()
    return all(ran[section] == wanted[section] for section in TRAINING_SECTIONS)


def evaluation_text(recipe):
    """How `evaluate` measured the entry, for its card."""
    ev, d = recipe.evaluate, recipe.data
    if recipe.kind == "classifier":
        sets = d.dataset + (
            f" and {d.dataset_b} (classes after {d.dataset}'s)" if d.dataset_b else ""
        )
        return (f"tfgen rebuild: accuracy of the saved file on the whole test split of {sets}"
                + ("; style_accuracy and category_accuracy score the group and the place "
                   "within it apart" if d.dataset_b else ""))  # fmt: skip
    if paired_truth(recipe):
        pairs = " and ".join(f"{a} -> {b}" for _, _, a, b in _directions(recipe))
        return (f"tfgen rebuild: translations of the {ev.split} split ({pairs}) scored against "
                f"the true drawings paired by file name (n {ev.n}): MAE/PSNR/SSIM beside the "
                "identity baseline's, FID, target style and category kept beside the real "
                "drawings' rates")  # fmt: skip
    return (f"tfgen rebuild: {', '.join(ev.metrics)} on the {ev.split} split of {d.dataset} "
            f"(n {ev.n}, seed {ev.seed})")  # fmt: skip


def readme(card):
    """The entry's README.md: what it is, how it was made, its headline."""
    head = card["headline"]
    lines = [
        f"# {card['name']}",
        "",
        card["description"],
        "",
        f"- Kind: `{card['kind']}`; dataset: `{card['dataset']}`; images {card['image_shape']}.",
        f"- Rebuild: `{card['command']}` (recipe: `recipes/{card['name']}.toml`).",
        f"- Trained {card['training']['steps']} steps in {card['training']['wall_time_s']:.0f} s "
        f"on {card['training']['machine']}.",
        f"- Headline: {head['metric']} = {head['value']:.4g} ({head['better']} is better); all "
        "figures in `card.json` under `metrics`.",
        f"- Evaluation: {card['evaluation']}.",
        "",
        "| metric | value |",
        "| --- | --- |",
        *(f"| {k} | {v:.4g} |" for k, v in card["metrics"].items() if isinstance(v, float)),
        *(f"| {k} | {v} |" for k, v in card["metrics"].items() if isinstance(v, int)),
        "",
    ]
    if card["dataset"].startswith("emoji") or "emoji" in str(card["recipe"]["data"]):
        lines += [EMOJI_CREDIT, ""]
    return "\n".join(lines)


def entries():
    """Names of the recipes that make zoo entries."""
    return sorted(p.stem for p in (ROOT / "recipes").glob("*.toml"))
