"""Writing zoo entries: `savedmodels/<name>/` with the `.keras` file, the SavedModel in TF
Serving layout (`<name>/1/`) and a model card (`card.json` + `README.md`)."""

import json

from tfgen import export, io, registry, saving


def publish(model_path, name, card, readme=None, saved_model=True):
    """Copies a trained model into the zoo as entry `name`.

    The zoo keeps weights only (no optimizer state) to stay small; fine-tuning starts fresh
    optimizers. Replaces an existing entry of the same name.
    """
    model = saving.load_model(model_path, compile=False)
    entry = registry.zoo_path(name)
    with io.atomic_path(entry, is_dir=True) as tmp:
        tmp.mkdir()
        model.save(tmp / f"{name}.keras")
        if saved_model:  # TF Serving layout: <name>/1/
            export.saved_model(model, tmp, version=1)
        (tmp / "card.json").write_text(json.dumps(card, indent=2) + "\n")
        if readme:
            (tmp / "README.md").write_text(readme)
    return entry


def update_card(name, **fields):
    """Merges `fields` into a zoo entry's card.json (atomically)."""
    path = registry.zoo_path(name) / "card.json"
    card = json.loads(path.read_text())
    for key, value in fields.items():
        if isinstance(value, dict) and isinstance(card.get(key), dict):
            card[key].update(value)
        else:
            card[key] = value
    with io.atomic_path(path) as tmp:
        tmp.write_text(json.dumps(card, indent=2) + "\n")
    return card
