"""`tfgen rebuild` of an entry whose recipe fine-tunes another entry (dcgan_emoji_twitter_base
from dcgan_emoji_google, and dcgan_emoji_twitter from it with a pix2pix refiner): the card
takes the source's kind and records the recipe."""

import json
import pathlib
import shutil

import pytest

from tfgen import saving
from tfgen.zoo import card as card_lib
from tfgen.zoo import rebuild

ZOO = pathlib.Path(__file__).resolve().parents[2] / "savedmodels"


@pytest.mark.large  # a short fine-tune of a 64x64 DCGAN and its scores: ~1 minute
def test_rebuild_of_a_finetune_recipe(data_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("TFGEN_ZOO_DIR", str(tmp_path / "zoo"))
    for name in ("dcgan_emoji_google", "classifier_emoji"):  # the source and the extractor
        shutil.copytree(ZOO / name, tmp_path / "zoo" / name)
    overrides = ["train.steps=2", "data.limit=128", "evaluate.n=64"]
    card = rebuild.rebuild("dcgan_emoji_twitter_base", overrides, run_dir=tmp_path / "run",
                           data_dir=data_dir, docs_dir=tmp_path / "docs", verbose=0)  # fmt: skip
    assert card_lib.read_card(tmp_path / "zoo" / "dcgan_emoji_twitter_base") == card
    assert card["kind"] == "dcgan" and card["recipe"]["finetune"]["source"] == "dcgan_emoji_google"
    assert card["training"]["steps"] == 2 and card["files"]["saved_model"] == "1"
    assert 0 <= card["metrics"]["style_share"] <= 1 and card["metrics"]["fid"] > 0
    model = saving.load_model(
        tmp_path / "zoo" / "dcgan_emoji_twitter_base" / "dcgan_emoji_twitter_base.keras"
    )
    assert model.kind == "dcgan" and model.image_shape == (64, 64, 3)
    assert (tmp_path / "docs" / "images" / "zoo" / "dcgan_emoji_twitter_base.png").is_file()


def test_a_finished_run_of_the_same_recipe_is_published_not_trained_again(tmp_path):
    from tfgen import config

    recipe = config.load(rebuild.recipe_path("dcgan_emoji_google"))
    run = tmp_path / "run"
    run.mkdir()
    assert not rebuild.finished_run(run, recipe)  # nothing there: train
    (run / "run.json").write_text(json.dumps({"steps": 5, "recipe": recipe.to_dict()}))
    assert not rebuild.finished_run(run, recipe)  # no model: an interrupted or failed run
    (run / "model.keras").write_bytes(b"")
    assert rebuild.finished_run(run, recipe)
    # Another description or evaluation is the same run; another training key is not.
    evaluated = config.load(rebuild.recipe_path("dcgan_emoji_google"), ["evaluate.n=10"])
    assert rebuild.finished_run(run, evaluated)
    longer = config.load(rebuild.recipe_path("dcgan_emoji_google"), ["train.max_minutes=60"])
    assert not rebuild.finished_run(run, longer)
    # A run recorded before a key existed matches the key's default.
    older = recipe.to_dict()
    del older["finetune"]["refiner"]
    (run / "run.json").write_text(json.dumps({"steps": 5, "recipe": older}))
    assert rebuild.finished_run(run, recipe)


@pytest.mark.large  # two steps of the 64x64 chain (DCGAN + U-Net), its scores and exports
def test_rebuild_of_the_refined_twitter_entry(data_dir, tmp_path, monkeypatch):
    from tfgen.transfer.refiner import BASE, REFINER

    monkeypatch.setenv("TFGEN_ZOO_DIR", str(tmp_path / "zoo"))
    for name in ("dcgan_emoji_twitter_base", "pix2pix_emoji_google2twitter", "classifier_emoji"):
        shutil.copytree(ZOO / name, tmp_path / "zoo" / name)
    overrides = ["train.steps=2", "data.limit=128", "evaluate.n=64"]
    card = rebuild.rebuild("dcgan_emoji_twitter", overrides, run_dir=tmp_path / "run",
                           data_dir=data_dir, docs_dir=tmp_path / "docs", verbose=0)  # fmt: skip
    assert card["kind"] == "dcgan" and card["training"]["steps"] == 2
    assert card["recipe"]["finetune"]["refiner"] == "pix2pix_emoji_google2twitter"
    entry = tmp_path / "zoo" / "dcgan_emoji_twitter"
    model = saving.load_model(entry / "dcgan_emoji_twitter.keras")
    assert [layer.name for layer in model.generator.layers[1:]] == [BASE, REFINER]
    assert model.generate(2, seed=0).shape == (2, 64, 64, 3)
    assert 0 <= card["metrics"]["style_share"] <= 1 and card["metrics"]["fid"] > 0
