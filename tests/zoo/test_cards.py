"""Every recipe and every zoo card follows the one schema, and each card holds its recipe."""

import json
import pathlib

import pytest

from tfgen import config
from tfgen.errors import TfgenUsageError
from tfgen.zoo import card as card_lib

ROOT = pathlib.Path(__file__).resolve().parents[2]
RECIPES = sorted((ROOT / "recipes").glob("*.toml"))
ENTRIES = sorted(p.parent for p in (ROOT / "savedmodels").glob("*/card.json"))


def test_every_entry_has_a_recipe_and_every_recipe_an_entry():
    assert {p.stem for p in RECIPES} == {p.name for p in ENTRIES}
    assert len(ENTRIES) >= 8


@pytest.mark.parametrize("path", RECIPES, ids=lambda p: p.stem)
def test_recipe_loads_and_round_trips_through_toml(path, tmp_path):
    recipe = config.load(path)
    assert recipe.description, f"{path.name} says what it trains"
    again = tmp_path / "again.toml"
    again.write_text(recipe.to_toml())
    assert config.load(again).to_dict() == recipe.to_dict()


@pytest.mark.parametrize("folder", ENTRIES, ids=lambda p: p.name)
def test_card_follows_the_schema_and_records_its_recipe(folder):
    card = card_lib.read_card(folder)
    assert card["name"] == folder.name
    assert card["recipe"] == config.load(ROOT / "recipes" / f"{folder.name}.toml").to_dict()
    assert (folder / card["files"]["keras"]).is_file()
    if card["files"]["saved_model"] is not None:
        assert (folder / card["files"]["saved_model"] / "saved_model.pb").is_file()
    assert card["command"] == f"tfgen rebuild {folder.name}"
    assert card["training"]["wall_time_s"] > 0


def test_card_schema_refuses_a_missing_an_unknown_and_a_mistyped_key():
    card = json.loads((ENTRIES[0] / "card.json").read_text())
    card_lib.check_card(card)
    with pytest.raises(TfgenUsageError, match="missing metrics"):
        card_lib.check_card({k: v for k, v in card.items() if k != "metrics"})
    with pytest.raises(TfgenUsageError, match="unknown wall_time_s"):
        card_lib.check_card({**card, "wall_time_s": 1.0})
    with pytest.raises(TfgenUsageError, match="steps"):
        card_lib.check_card({**card, "training": {"steps": 1}})
    with pytest.raises(TfgenUsageError, match="headline"):
        card_lib.check_card({**card, "headline": {**card["headline"], "metric": "nope"}})
    with pytest.raises(TfgenUsageError, match="model.kind"):
        card_lib.check_card({**card, "recipe": {**card["recipe"], "model": {"kind": "gan9"}}})
