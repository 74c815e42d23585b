"""The one schema of a zoo card (`savedmodels/<name>/card.json`), generators and classifiers alike.

A card records the recipe an entry was trained with (its content), how long that took on
which machine, and the metrics measured on the saved model. No TensorFlow here: `tfgen list`
reads cards before TensorFlow loads.
"""

import json

from tfgen import config
from tfgen.errors import TfgenUsageError

SCHEMA_VERSION = 1

# key -> (type, meaning). Every card has every key; `notes` holds measured figures that belong
# to one entry only (a quality check, a baseline), never defaults.
FIELDS = {
    "schema": (int, "this schema's version"),
    "name": (str, "the entry's folder name under savedmodels/"),
    "kind": (str, "model kind (dcgan, ..., classifier)"),
    "dataset": (str, "the training data's name"),
    "description": (str, "what the entry is, in a sentence or three"),
    "recipe": (dict, "the recipe it was trained with, every key resolved (tfgen/config.py)"),
    "command": (str, "the command that rebuilds it end to end"),
    "files": (dict, "keras: the .keras file; saved_model: the TF Serving version folder or null"),
    "image_shape": (list, "the images it generates, translates or classifies"),
    "training": (dict, "steps, wall_time_s, machine, software versions, final_metrics"),
    "metrics": (dict, "figures measured on the saved model"),
    "headline": (dict, "metric, value and which way is better: the figure `tfgen list` shows"),
    "evaluation": (str, "how the metrics were measured"),
    "notes": (dict, "further measured figures of this entry only"),
}
TRAINING_FIELDS = ("steps", "wall_time_s", "machine", "software", "final_metrics")


def check_card(card, where="card"):
    """Refuses a card that does not follow the schema, naming the key; returns it."""
    if not isinstance(card, dict):
        raise TfgenUsageError(f"{where}: a card is a JSON object")
    missing = [k for k in FIELDS if k not in card]
    unknown = [k for k in card if k not in FIELDS]
    if missing or unknown:
        raise TfgenUsageError(
            f"{where}: "
            + "; ".join(
                ([f"missing {', '.join(missing)}"] if missing else [])
                + ([f"unknown {', '.join(unknown)}"] if unknown else [])
            )  # fmt: skip
        )
    for key, (kind, _) in FIELDS.items():
        if not isinstance(card[key], kind) or isinstance(card[key], bool) != (kind is bool):
            raise TfgenUsageError(f"{where}: {key} must be {kind.__name__}, got {card[key]!r}")
    if card["schema"] != SCHEMA_VERSION:
        raise TfgenUsageError(
            f"{where}: schema {card['schema']}, this tfgen reads {SCHEMA_VERSION}"
        )
    recipe = config.from_dict(card["recipe"], where=f"{where}: recipe")
    # A fine-tune's recipe names no kind: the card gives its source's.
    if recipe.kind != card["kind"] and not (recipe.kind is None and recipe.finetune.source):
        raise TfgenUsageError(f"{where}: kind {card['kind']} but the recipe trains {recipe.kind}")
    if set(card["training"]) != set(TRAINING_FIELDS):
        raise TfgenUsageError(f"{where}: training holds exactly {', '.join(TRAINING_FIELDS)}")
    if not isinstance(card["files"].get("keras"), str):
        raise TfgenUsageError(f"{where}: files.keras names the .keras file")
    head = card["headline"]
    if set(head) != {"metric", "value", "better"} or head["better"] not in ("lower", "higher"):
        raise TfgenUsageError(f"{where}: headline is {{metric, value, better: lower|higher}}")
    if head["metric"] not in card["metrics"] or card["metrics"][head["metric"]] != head["value"]:
        raise TfgenUsageError(f"{where}: headline {head['metric']} is not one of the metrics")
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in card["image_shape"]):
        raise TfgenUsageError(f"{where}: image_shape is a list of ints")
    return card


def read_card(folder):
    """The checked card of a zoo entry's folder."""
    path = folder / "card.json"
    try:
        card = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise TfgenUsageError(f"{path}: cannot read the card: {e}") from e
    return check_card(card, where=str(path))


def headline(card):
    """`"fid 4.24 (lower is better)"`: the card's headline figure as text."""
    head = card["headline"]
    return f"{head['metric']} {head['value']:.4g}"
