"""The recipe schema: what a training run is, as data. Every key and its default lives here.

A recipe is a TOML file of tables (`[model]`, `[data]`, `[train]`, ...) holding only its
differences from these defaults. `tfgen train --config`, `tfgen train KIND --dataset ...` flags,
`tfgen finetune` and `tfgen rebuild` all build one `Recipe` and hand it to the training job.
Nothing here imports TensorFlow, so a bad recipe is refused before TensorFlow loads.
"""

import dataclasses
import json
import pathlib
import tomllib
import typing
from typing import Any

from tfgen.errors import TfgenUsageError
from tfgen.kinds import RECIPE_KINDS as MODEL_KINDS
from tfgen.kinds import RECIPE_OPTIONS as MODEL_OPTIONS
from tfgen.kinds import refuse_ema


def _key(default, doc, choices=None):
    """A documented recipe key: `doc` is the one place its meaning is written down."""
    factory = (lambda: list(default)) if isinstance(default, list) else None
    metadata = {"doc": doc, "choices": choices}
    if factory:
        return dataclasses.field(default_factory=factory, metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


@dataclasses.dataclass
class Data:
    dataset: str = _key("", "TFDS name, IDX folder, image folder, .npz, or a shared set's name")
    dataset_b: str | None = _key(
        None,
        "cyclegan: domain B (same kinds as dataset); classifier: a second labelled set "
        "whose classes follow the first's",
    )
    data_dir: str | None = _key(None, "folder of local dataset copies (default $TFGEN_DATA_DIR)")
    image_size: int | None = _key(None, "resize images to N x N (default: as stored)")
    channels: int | None = _key(None, "1 or 3: convert the images (default: as stored)", (1, 3))
    limit: int | None = _key(None, "use only the first N images (few-shot)")
    limit_seed: int | None = _key(
        None, "limit: draw the N images from the whole split by this seed, not the first N"
    )
    balance: float | None = _key(
        None,
        "repeat each class's images (largest class / class) ** balance times, rounded; "
        "labels from class sub-folders: 1 evens the classes, 0.5 keeps the square root of "
        "the imbalance",
    )
    task: str | None = _key(
        None,
        "pix2pix: derive (input, target) pairs from dataset",
        ("inpaint", "superres", "colorize"),
    )
    halves: bool = _key(
        False,
        "cyclegan with dataset_b = dataset: cut the train split into two disjoint halves "
        "(by split_seed), A from one and B from the other, so no image is in both domains",
    )
    split_seed: int = _key(0, "halves: the seed of the cut")
    invert_b: bool = _key(False, "cyclegan: domain B's images inverted (255 - x)")
    target: str | None = _key(
        None, "pix2pix: the targets' folder or named set, paired with dataset by relative path"
    )
    background: str = _key(
        "white", "what transparent pixels of image files become: white, black, grey, #rrggbb"
    )


@dataclasses.dataclass
class Train:
    steps: int | None = _key(None, "training steps in all (give steps or epochs)")
    epochs: int | None = _key(None, "passes over the data (default 1 when steps is not given)")
    batch_size: int = _key(64, "global batch size, split across replicas")
    steps_per_epoch: int | None = _key(
        None,
        "steps between epoch ends (checkpoint, sample grid, logs); default one pass over the "
        "data, which for a few-shot set is a step or two",
    )
    seed: int = _key(0, "seeds the weights, the data order and the training noise")
    strategy: str = _key("auto", "tf.distribute strategy", ("auto", "one", "mirrored",
                                                             "multiworker", "tpu"))  # fmt: skip
    precision: str = _key(
        "float32",
        "Keras dtype policy; auto: mixed_bfloat16 on a TPU, a GPU of compute capability >= 8.0 "
        "or a CPU with AMX-BF16, else float32 (the run records what it chose and why)",
        ("float32", "mixed_float16", "mixed_bfloat16", "auto"),
    )
    jit: str = _key(
        "auto", "XLA: auto (on for GPU/TPU, off on CPU), on, off", ("auto", "on", "off")
    )
    checkpoint_every: int | None = _key(None, "also checkpoint every N steps within epochs")
    deterministic: bool = _key(False, "op determinism: a resumed run ends bit-identical")
    eval_every: int | None = _key(None, "every N epochs: FID/KID vs the test split; keep best")
    eval_n: int = _key(1000, "eval_every: samples and real images")
    monitor: str | None = _key(None, "training-health checks: warn or stop", ("warn", "stop"))
    samples: int = _key(64, "images in each epoch's sample grid")
    validation_images: int = _key(
        0, "hold out this many train images (seeded) and report val_ metrics on them each epoch"
    )
    early_stopping: int = _key(
        0, "stop after N epochs without a better validation loss, keeping the best weights; 0: off"
    )
    early_stopping_start: int = _key(0, "early_stopping: the first epoch it may count from")
    early_stopping_monitor: str = _key("val_loss", "early_stopping: the logged value it watches")
    early_stopping_mode: str = _key("min", "early_stopping: min or max is better", ("min", "max"))
    max_minutes: float | None = _key(None, "stop at the end of the epoch that crosses this time")


@dataclasses.dataclass
class Optimizer:
    learning_rate: float | None = _key(None, "Adam's rate (default: the model's own)")
    beta_1: float | None = _key(None, "Adam's beta_1 (default: the model's own)")
    beta_2: float | None = _key(None, "Adam's beta_2 (default: the model's own)")
    weight_decay: float | None = _key(None, "decoupled weight decay (AdamW); default none")
    schedule: str = _key(
        "constant",
        "learning-rate schedule: constant; piecewise (the rates `values` between the steps "
        "`boundaries`, Keras' PiecewiseConstantDecay); cosine (to alpha x the rate at the "
        "run's last step, Keras' CosineDecay); linear (held, then a linear decay to 0 at the "
        "run's last step: the CycleGAN paper's, and a CycleGAN's only one)",
        ("constant", "piecewise", "cosine", "linear"),
    )
    alpha: float = _key(0.0, "cosine: the final rate as a fraction of the first")
    decay_start: float | None = _key(
        None, "linear: the share of the run held at the first rate (default 0.5)"
    )
    boundaries: list = _key([], "piecewise: the steps at which the rate changes")
    values: list = _key([], "piecewise: one more rate than boundaries")


@dataclasses.dataclass
class Finetune:
    source: str | None = _key(None, "zoo name, .keras file or SavedModel to start from")
    freeze_d: int = _key(0, "FreezeD: freeze the discriminator's first N blocks")
    freeze_g: int = _key(0, "freeze the generator's first N (coarsest) blocks")
    unfreeze_every: int | None = _key(None, "release one frozen block every K epochs")
    block_lr_decay: float | None = _key(None, "rate multiplier per block away from the output")
    augment: str = _key(
        "source",
        "the GAN's augmentation from now on: the source's own, none, diffaugment or ada",
        ("source", "none", "diffaugment", "ada"),
    )
    from_ema: bool = _key(
        False, "start the generator from the source's EMA weights (models that keep one)"
    )
    ada_speed_images: int | None = _key(
        None,
        "with augment = ada: real images over which ADA's probability can go from 0 to 1 "
        "(default 500,000, made for long runs; a few-shot budget needs far fewer)",
    )
    refiner: str | None = _key(
        None,
        "a pix2pix model (zoo name or .keras file) whose generator is appended after the "
        "source GAN's: a full-resolution second stage, fine-tuned with it",
    )


@dataclasses.dataclass
class Evaluate:
    metrics: list = _key(["fid", "kid", "pr", "coverage"], "tfgen evaluate's metrics")
    n: int = _key(1000, "samples and real images")
    seed: int = _key(0, "sample seed")
    split: str = _key("test", "the real images' split")
    extractor: str | None = _key(None, "feature extractor (default: the dataset's classifier)")


@dataclasses.dataclass
class Recipe:
    """One training run. `model` is `{"kind": ..., **constructor options}`."""

    model: dict = dataclasses.field(default_factory=dict)
    data: Data = dataclasses.field(default_factory=Data)
    train: Train = dataclasses.field(default_factory=Train)
    optimizer: Optimizer = dataclasses.field(default_factory=Optimizer)
    finetune: Finetune = dataclasses.field(default_factory=Finetune)
    evaluate: Evaluate = dataclasses.field(default_factory=Evaluate)
    description: str = ""

    @property
    def kind(self):
        """The model kind; None for a fine-tune that takes it from its source model."""
        return self.model.get("kind")

    @property
    def options(self):
        """The model's constructor options (everything in `[model]` but `kind`)."""
        return {k: v for k, v in self.model.items() if k != "kind"}

    def to_dict(self):
        return dataclasses.asdict(self)

    def to_toml(self):
        return to_toml(self.to_dict())


SECTIONS = {f.name: f for f in dataclasses.fields(Recipe)}
_TABLES = {"data": Data, "train": Train, "optimizer": Optimizer, "finetune": Finetune,
           "evaluate": Evaluate}  # fmt: skip


def _check_type(value, field, where):
    """Checks a TOML value against a dataclass field's annotation (int, float, str, bool...)."""
    types = typing.get_args(field.type) or (field.type,)
    allowed = ["None" if t is type(None) else t.__name__ for t in types]
    if value is None and "None" in allowed:
        return value
    checks = {
        "int": lambda v: isinstance(v, int) and not isinstance(v, bool),
        "float": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
        "str": lambda v: isinstance(v, str),
        "bool": lambda v: isinstance(v, bool),
        "list": lambda v: isinstance(v, list),
    }
    if not any(checks[t](value) for t in allowed if t in checks):
        wanted = " or ".join(t for t in allowed if t != "None")
        raise TfgenUsageError(f"{where}: expected {wanted}, got {value!r}")
    choices = field.metadata.get("choices")
    if choices and value not in choices:
        raise TfgenUsageError(f"{where}: {value!r} is not one of {', '.join(map(str, choices))}")
    return float(value) if "float" in allowed and isinstance(value, int) else value


def _check_model(table, where):
    kind = table.get("kind")
    if kind is None:
        raise TfgenUsageError(f"{where}: [model] needs kind = one of {', '.join(MODEL_KINDS)}")
    if kind not in MODEL_KINDS:
        raise TfgenUsageError(
            f"{where}: model.kind: unknown kind {kind!r}; choose one of {', '.join(MODEL_KINDS)}"
        )
    known = MODEL_OPTIONS[kind]
    refuse_ema(kind, table, f"{where}: model.ema: ")
    for name in table:
        if name != "kind" and name not in known:
            raise TfgenUsageError(
                f"{where}: unknown key model.{name} for {kind}; its options are "
                f"{', '.join(sorted(known))}"
            )
    return dict(table)


def from_dict(raw, where="recipe"):
    """A `Recipe` from nested dicts (a parsed TOML file); refuses unknown keys and bad types."""
    if not isinstance(raw, dict):
        raise TfgenUsageError(f"{where}: a recipe is a table of tables, got {type(raw).__name__}")
    for name in raw:
        if name not in SECTIONS:
            raise TfgenUsageError(
                f"{where}: unknown key {name!r}; a recipe has {', '.join(SECTIONS)}"
            )
    parts = {}
    for name, cls in _TABLES.items():
        table = raw.get(name, {})
        if not isinstance(table, dict):
            raise TfgenUsageError(f"{where}: {name} must be a table ([{name}])")
        fields = {f.name: f for f in dataclasses.fields(cls)}
        values = {}
        for key, value in table.items():
            if key not in fields:
                raise TfgenUsageError(
                    f"{where}: unknown key {name}.{key}; [{name}] takes {', '.join(fields)}"
                )
            values[key] = _check_type(value, fields[key], f"{where}: {name}.{key}")
        parts[name] = cls(**values)
    if not isinstance(raw.get("model", {}), dict):
        raise TfgenUsageError(f"{where}: model must be a table ([model])")
    description = raw.get("description", "")
    if not isinstance(description, str):
        raise TfgenUsageError(f"{where}: description: expected str, got {description!r}")
    model = raw.get("model", {})
    if model or not parts["finetune"].source:  # a fine-tune takes its kind from the source
        model = _check_model(model, where)
    recipe = Recipe(model=model, description=description, **parts)
    return check(recipe, where)


def check(recipe, where="recipe"):
    """Cross-key rules: what no single key's type can say."""
    if not recipe.data.dataset and not recipe.finetune.source:
        raise TfgenUsageError(f"{where}: data.dataset is required")
    train = recipe.train
    if train.steps is not None and train.epochs is not None:
        raise TfgenUsageError(f"{where}: give train.steps or train.epochs, not both")
    for key in ("steps", "epochs", "batch_size", "checkpoint_every", "eval_every",
                "steps_per_epoch"):  # fmt: skip
        value = getattr(train, key)
        if value is not None and value < 1:
            raise TfgenUsageError(f"{where}: train.{key} must be >= 1, got {value}")
    if train.early_stopping and not train.validation_images:
        raise TfgenUsageError(f"{where}: train.early_stopping needs train.validation_images")
    if recipe.data.limit is not None and recipe.data.limit < 1:
        raise TfgenUsageError(f"{where}: data.limit must be >= 1, got {recipe.data.limit}")
    if recipe.data.limit_seed is not None and recipe.data.limit is None:
        raise TfgenUsageError(f"{where}: data.limit_seed draws data.limit images; set data.limit")
    if recipe.data.balance is not None and not 0.0 < recipe.data.balance <= 1.0:
        raise TfgenUsageError(
            f"{where}: data.balance must be in (0, 1] (1 evens the classes), got "
            f"{recipe.data.balance}"
        )
    if recipe.data.balance is not None and recipe.kind == "classifier":
        raise TfgenUsageError(
            f"{where}: data.balance repeats a generator's rare classes; a classifier trains on "
            "its split as it is: drop data.balance"
        )
    f = recipe.finetune
    if not f.source and (f.augment != "source" or f.from_ema or f.refiner):
        key = "refiner" if f.refiner else "augment" if f.augment != "source" else "from_ema"
        raise TfgenUsageError(f"{where}: finetune.{key} changes a fine-tune; set finetune.source")
    if f.ada_speed_images is not None and (f.augment != "ada" or f.ada_speed_images < 1):
        raise TfgenUsageError(
            f"{where}: finetune.ada_speed_images paces the ADA a fine-tune swaps in: set "
            f"finetune.augment = 'ada' and a positive number (got {f.ada_speed_images})"
        )
    opt = recipe.optimizer
    if opt.schedule == "piecewise" and len(opt.values) != len(opt.boundaries) + 1:
        raise TfgenUsageError(
            f"{where}: optimizer.values needs one more rate than optimizer.boundaries "
            f"({len(opt.values)} values, {len(opt.boundaries)} boundaries)"
        )
    if opt.schedule in ("cosine", "linear") and opt.learning_rate is None:
        raise TfgenUsageError(
            f"{where}: optimizer.schedule = {opt.schedule!r} needs optimizer.learning_rate"
        )
    if opt.decay_start is not None and (
        opt.schedule != "linear" or not 0.0 <= opt.decay_start <= 1.0
    ):
        raise TfgenUsageError(
            f"{where}: optimizer.decay_start is the share of the run held before a linear "
            f"decay: set schedule = 'linear' and a number in [0, 1] (got {opt.decay_start})"
        )
    if opt.schedule != "piecewise" and (opt.values or opt.boundaries):
        raise TfgenUsageError(f"{where}: optimizer.values/boundaries need schedule = 'piecewise'")
    return recipe


def read_toml(path, what="recipe"):
    """A TOML file as dicts; a missing or invalid file is a usage error naming it."""
    path = pathlib.Path(path)
    if not path.is_file():
        raise TfgenUsageError(f"{what} {path} not found")
    try:
        return tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as e:
        raise TfgenUsageError(f"{path}: not valid TOML: {e}") from e


def load(path, overrides=()):
    """Reads a recipe file and applies `--set key=value` overrides (e.g. `train.steps=200`)."""
    raw = read_toml(path)
    return from_dict(apply_overrides(raw, overrides), where=str(path))


def parse_value(text):
    """A `--set` value as TOML reads it (200, 2e-4, true, "mnist", [1, 2]); else a bare string."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def apply_overrides(raw, overrides):
    """`["train.steps=200", "model.g_width=16"]` applied to a parsed recipe (a copy)."""
    raw = json.loads(json.dumps(raw))
    for item in overrides or ():
        key, sep, value = item.partition("=")
        section, dot, name = key.strip().partition(".")
        if not sep or not dot or not name:
            raise TfgenUsageError(
                f"--set expects section.key=value (train.steps=200), got {item!r}"
            )
        if section not in SECTIONS or section == "description":
            raise TfgenUsageError(
                f"--set {item}: unknown table {section!r}; a recipe has "
                f"{', '.join(s for s in SECTIONS if s != 'description')}"
            )
        raw.setdefault(section, {})[name] = parse_value(value)
    return raw


def defaults_table():
    """Markdown table of every key with its default and meaning (for the docs)."""
    rows = ["| key | default | meaning |", "| --- | --- | --- |",
            "| model.kind | (required) | " + ", ".join(MODEL_KINDS) + " |",
            "| model.* | the model's | its constructor's options (see its docstring) |"]  # fmt: skip
    for name, cls in _TABLES.items():
        for f in dataclasses.fields(cls):
            default = f.default_factory() if callable(f.default_factory) else f.default
            choices = f.metadata.get("choices")
            doc = f.metadata["doc"] + (f" ({', '.join(map(str, choices))})" if choices else "")
            rows.append(f"| {name}.{f.name} | {json.dumps(default)} | {doc} |")
    return "\n".join(rows)


def _toml_value(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {_toml_value(v)}" for k, v in value.items()) + " }"
    return repr(value)


def to_toml(raw: dict[str, Any]):
    """A recipe dict as TOML, leaving out None values (TOML has no null) and empty tables."""
    lines = []
    if raw.get("description"):
        lines.append(f"description = {_toml_value(raw['description'])}")
    for section, table in raw.items():
        if section == "description" or not isinstance(table, dict):
            continue
        items = [(k, v) for k, v in table.items() if v is not None]
        if items:
            lines += ["", f"[{section}]"] + [f"{k} = {_toml_value(v)}" for k, v in items]
    return "\n".join(lines).lstrip() + "\n"


def without_defaults(recipe):
    """The recipe's differences from the defaults: what a recipe file should hold."""
    full, base = recipe.to_dict(), Recipe().to_dict()
    out = {}
    for section, table in full.items():
        if isinstance(table, dict):
            diff = {
                k: v for k, v in table.items() if section == "model" or base[section].get(k) != v
            }
            if diff:
                out[section] = diff
        elif table != base[section]:
            out[section] = table
    return out
