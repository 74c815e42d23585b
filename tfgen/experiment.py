"""Experiments as data: arms of recipes trained side by side and measured the same way.

An experiment file (`recipes/experiments/NAME.toml`) declares:

    description = "..."
    [sweep]                 # every arm runs once per value (a grid over several keys)
    "data.limit" = [100, 25]
    [measure]               # how every run is measured (see `Measure`)
    every = 250
    [base.train]            # recipe keys all arms share: [base.data], [base.train], ...
    steps = 1500
    [arms.scratch.model]    # each arm's own keys: a recipe's tables
    kind = "dcgan"

Each run is `base` + arm + sweep values, a plain recipe run by the training job, with a
quality curve: FID every `measure.every` steps in the dataset's extractor against its test
split (the same samples' noise every time). At the end: FID, the style figures (emoji), and a
memorisation check (each sample's nearest training image against each real test image's).
`tfgen experiment FILE --out DIR` runs what is not done yet and writes DIR/report.md.
"""

import dataclasses
import itertools
import json
import pathlib

import numpy as np

from tfgen import config, io
from tfgen.errors import TfgenUsageError


@dataclasses.dataclass
class Measure:
    every: int = 250  # steps between FID measurements (and at step 0)
    n: int = 500  # samples per measurement (fixed noise)
    seed: int = 0  # the samples' noise
    split: str = "test"  # the real images compared with
    memorisation: bool = True  # nearest-training-image distances of samples vs test images


@dataclasses.dataclass
class Run:
    name: str  # `<arm>` or `<arm>-<key>=<value>...`: its folder under the output
    arm: str
    sweep: dict
    recipe: config.Recipe


@dataclasses.dataclass
class Experiment:
    description: str
    measure: Measure
    arms: list
    sweep: dict
    runs: list


def _merge(base, extra):
    merged = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _run_name(arm, values):
    parts = [f"{key.split('.')[-1]}{value}" for key, value in values.items()]
    return "-".join([arm, *parts])


def load(path, overrides=()):
    """The `Experiment` of a TOML file; `overrides` (`section.key=value`) change every run."""
    path = pathlib.Path(path)
    raw = config.read_toml(path, what="experiment file")
    unknown = set(raw) - {"description", "sweep", "measure", "base", "arms"}
    if unknown:
        raise TfgenUsageError(
            f"{path}: unknown key(s) {', '.join(sorted(unknown))}; an experiment has "
            "description, sweep, measure, base, arms"
        )
    fields = {f.name for f in dataclasses.fields(Measure)}
    bad = set(raw.get("measure", {})) - fields
    if bad:
        raise TfgenUsageError(f"{path}: unknown measure key(s) {', '.join(sorted(bad))}")
    measure = Measure(**raw.get("measure", {}))
    arms = raw.get("arms", {})
    if not arms:
        raise TfgenUsageError(f"{path}: no [arms.NAME] table; an experiment needs arms")
    sweep = raw.get("sweep", {})
    for key, values in sweep.items():
        if not isinstance(values, list) or not values:
            raise TfgenUsageError(f"{path}: sweep {key!r} needs a list of values")
    sweep, overrides = _narrow_sweep(sweep, overrides)
    runs = []
    for combo in itertools.product(*sweep.values()):
        values = dict(zip(sweep, combo, strict=True))
        for arm, table in arms.items():
            recipe_raw = _merge(raw.get("base", {}), table)
            recipe_raw = config.apply_overrides(
                recipe_raw, [*(f"{k}={_toml(v)}" for k, v in values.items()), *overrides]
            )
            recipe = config.from_dict(recipe_raw, where=f"{path} arm {arm}")
            runs.append(Run(_run_name(arm, values), arm, values, recipe))
    return Experiment(raw.get("description", ""), measure, list(arms), sweep, runs)


def _narrow_sweep(sweep, overrides):
    """`--set` of a swept key runs the sweep at that value alone (`--set data.limit=100`), so
    that run names keep saying what the runs trained with; other overrides pass through."""
    sweep, rest = dict(sweep), []
    for item in overrides:
        key, sep, value = item.partition("=")
        if sep and key.strip() in sweep:
            sweep[key.strip()] = [config.parse_value(value)]
        else:
            rest.append(item)
    return sweep, rest


def _toml(value):
    return json.dumps(value)  # TOML's numbers, strings and lists are written as in JSON


# ------------------------------------------------------------------ measuring
def _flat_unit(images):
    """Images (uint8, or floats in [-1, 1]) as rows of float32 pixels in [0, 1]."""
    images = np.asarray(images)
    if images.dtype != np.uint8:
        images = io.to_uint8(images)
    return images.reshape(len(images), -1).astype(np.float32) / 255.0


def nearest_distances(queries, references, batch=256):
    """Each query image's RMS pixel distance (on [0, 1]) to its nearest reference image;
    images are uint8 or floats in [-1, 1]."""
    refs = _flat_unit(references)
    ref_norms = np.sum(refs**2, axis=1)
    out = []
    for start in range(0, len(queries), batch):
        q = _flat_unit(queries[start : start + batch])
        squared = np.sum(q**2, axis=1)[:, None] - 2 * q @ refs.T + ref_norms[None, :]
        out.append(np.sqrt(np.maximum(squared.min(axis=1), 0.0) / refs.shape[1]))
    return np.concatenate(out)


def training_images(recipe, data_dir=None):
    """The images a run trained on: its dataset's train split, cut by data.limit(_seed)."""
    from tfgen import data
    from tfgen.data.sources import subset_indices

    d = recipe.data
    images, _ = data.load_arrays(d.dataset, "train", d.image_size, data_dir, d.background)
    if d.limit is not None:
        images = images[subset_indices(len(images), d.limit, d.limit_seed)]
    return images


def final_figures(model, recipe, measure, extractor, real_images, real_features, data_dir=None):
    """FID, style figures (emoji sets) and memorisation of a trained run's samples."""
    from tfgen.evaluation import metrics
    from tfgen.evaluation.style import STYLE_GROUPS, style_figures

    samples = model.generate(measure.n, seed=measure.seed)
    features, probs = extractor.features_and_probabilities(samples)
    figures = {"fid": round(float(metrics.fid(features, real_features)), 4)}
    if recipe.data.dataset in STYLE_GROUPS:
        figures |= style_figures(probs, recipe.data.dataset)
    if measure.memorisation:
        train = training_images(recipe, data_dir)
        fake = nearest_distances(samples, train)
        real = nearest_distances(real_images, train)
        figures |= {
            "nearest_train_samples_median": round(float(np.median(fake)), 5),
            "nearest_train_test_median": round(float(np.median(real)), 5),
            "nearest_train_samples_p10": round(float(np.quantile(fake, 0.1)), 5),
            "nearest_train_test_p10": round(float(np.quantile(real, 0.1)), 5),
            "memorisation_ratio": round(float(np.median(fake) / np.median(real)), 4),
        }
    return figures, samples


# ------------------------------------------------------------------ running
def run(experiment, out, data_dir=None, verbose=2, only=None):
    """Trains and measures every run of `experiment` not done yet under `out`; returns the
    results ({run name: result}) and writes `out/report.md`.

    A run is done when `out/<run>/result.json` exists; an interrupted one resumes from its
    checkpoints (the training job's), its curve restarting at the resumed step.
    """
    from tfgen import data
    from tfgen.evaluation.features import get_extractor
    from tfgen.training import job
    from tfgen.training.callbacks import QualityCurve

    out = pathlib.Path(out)
    out.mkdir(parents=True, exist_ok=True)
    m = experiment.measure
    for r in experiment.runs:
        if only and r.arm not in only:
            continue
        folder = out / r.name
        if (folder / "result.json").is_file():
            continue
        d = r.recipe.data
        extractor = get_extractor(r.recipe.evaluate.extractor or d.dataset)
        real_images, _ = data.load_arrays(d.dataset, m.split, d.image_size, data_dir,
                                          d.background)  # fmt: skip
        real_features = extractor.features(real_images)  # for the curve and the final FID
        curve = QualityCurve(real_features, extractor, m.every, m.n, m.seed)
        print(f"experiment: {r.name}", flush=True)
        model = job.run(r.recipe, folder, verbose=verbose, data_dir=data_dir,
                        extra_callbacks=[curve])  # fmt: skip
        figures, samples = final_figures(
            model, r.recipe, m, extractor, real_images, real_features, data_dir
        )
        summary = json.loads((folder / "run.json").read_text())
        result = {"run": r.name, "arm": r.arm, "sweep": r.sweep, "curve": curve.curve,
                  "best_fid": min(f for _, f in curve.curve),
                  "best_step": min(curve.curve, key=lambda c: c[1])[0],
                  "wall_time_s": summary.get("wall_time_s"), "steps": summary.get("steps"),
                  **figures}  # fmt: skip
        io.save_images(samples[:64], folder / "samples.png", columns=8)
        io.save_images(samples[:16], folder / "samples.npy")  # for the arms' picture
        with io.atomic_path(folder / "result.json") as tmp:
            tmp.write_text(json.dumps(result, indent=2))
    results = collect(experiment, out)
    (out / "report.md").write_text(report(experiment, results))
    pictures(experiment, out, data_dir)
    return results


def pictures(experiment, out, data_dir=None, per_row=8):
    """`out/arms-<sweep>.png` per sweep value: a row of training images, then one row of
    samples per arm (in the file's order), from the runs done; each row named on the left."""
    out = pathlib.Path(out)
    groups = {}
    for r in experiment.runs:
        if (out / r.name / "samples.npy").is_file():
            groups.setdefault(json.dumps(r.sweep), []).append(r)
    written = []
    for key, runs in groups.items():
        train = training_images(runs[0].recipe, data_dir)
        pick = np.linspace(0, len(train) - 1, per_row).round().astype(int)
        rows = [io.from_uint8(train[pick])]
        rows += [io.from_uint8(np.load(out / r.name / "samples.npy")[:per_row]) for r in runs]
        suffix = "-".join(_run_name("", json.loads(key)).split("-")[1:]) or "all"
        path = out / f"arms-{suffix}.png"
        grid = io.image_grid(io.to_uint8(np.concatenate(rows)), columns=per_row)
        labels = [f"training ({len(train)})"] + [r.arm for r in runs]
        io.save_png(io.label_rows(grid, labels, rows[0].shape[1]), path)
        written.append(path)
    return written


def collect(experiment, out):
    results = {}
    for r in experiment.runs:
        path = pathlib.Path(out) / r.name / "result.json"
        if path.is_file():
            results[r.name] = json.loads(path.read_text())
    return results


def report(experiment, results):
    """Markdown: per sweep value, one row per arm (best and final FID, style, memorisation),
    then the FID curves."""
    lines = [
        f"# {experiment.description.strip().splitlines()[0] if experiment.description else ''}",
        "",
    ]
    groups = {}
    for r in experiment.runs:
        if r.name in results:
            groups.setdefault(json.dumps(r.sweep), []).append(results[r.name])
    for key, rows in groups.items():
        sweep = json.loads(key)
        title = ", ".join(f"{k} = {v}" for k, v in sweep.items()) or "all runs"
        lines += [
            f"## {title}",
            "",
            "| arm | best FID (step) | final FID | style share | categories >= 2 % | "
            "nearest-train median: samples / test (ratio) | steps | wall s |",
            "|---|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for res in rows:
            memo = (
                f"{res['nearest_train_samples_median']:.4f} / "
                f"{res['nearest_train_test_median']:.4f} ({res['memorisation_ratio']:.2f})"
                if "memorisation_ratio" in res
                else "-"
            )
            lines.append(
                f"| {res['arm']} | {res['best_fid']:.2f} ({res['best_step']}) | "
                f"{res['fid']:.2f} | {res.get('style_share', float('nan')):.3f} | "
                f"{res.get('categories_2pct', '-')} | {memo} | {res['steps']} | "
                f"{res['wall_time_s']:.0f} |"
            )
        steps = sorted({s for res in rows for s, _ in res["curve"]})
        lines += ["", "FID by step:", "", "| step | " + " | ".join(r["arm"] for r in rows) + " |",
                  "|---:|" + "---:|" * len(rows)]  # fmt: skip
        for step in steps:
            cells = [dict(map(tuple, res["curve"])).get(step) for res in rows]
            lines.append(
                f"| {step} | " + " | ".join("" if c is None else f"{c:.2f}" for c in cells) + " |"
            )
        lines.append("")
    return "\n".join(lines)
