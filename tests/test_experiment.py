"""Experiments as data (`tfgen.experiment`, `tfgen experiment`), and the recipe keys few-shot
runs need: a seeded few-shot draw (`data.limit_seed`), epochs longer than one pass
(`train.steps_per_epoch`), and a fine-tune's augmentation and EMA start (`[finetune]`)."""

import json

import keras
import numpy as np
import pytest

from tfgen import config, data, experiment, saving
from tfgen.cli.main import main
from tfgen.data.sources import balanced_indices, subset_indices
from tfgen.errors import TfgenUsageError
from tfgen.models import DCGAN
from tfgen.training.job import plan_steps
from tfgen.transfer import finetuning

TINY = {"kind": "dcgan", "latent_dim": 8, "g_width": 4, "d_width": 4}


def _experiment_file(tmp_path, source):
    path = tmp_path / "tiny.toml"
    path.write_text(
        f"""
description = "tiny: scratch vs fine-tune"
[sweep]
"data.limit" = [20]
[measure]
every = 2
n = 32
[base.data]
dataset = "emoji_twitter"
limit_seed = 3
[base.train]
steps = 4
batch_size = 8
steps_per_epoch = 2
samples = 4
[arms.scratch.model]
{chr(10).join(f"{k} = {json.dumps(v)}" for k, v in TINY.items())}
[arms.tuned.finetune]
source = "{source}"
augment = "ada"
from_ema = true
"""
    )
    return path


@pytest.fixture(scope="module")
def tiny_source(tmp_path_factory):
    model = DCGAN(image_shape=(64, 64, 3), seed=0, ema=0.9,
                  **{k: v for k, v in TINY.items() if k != "kind"})  # fmt: skip
    model.compile()
    model.generator(np.zeros((1, 8), np.float32))
    path = tmp_path_factory.mktemp("source") / "source.keras"
    model.save(path)
    return path


def test_limit_seed_draws_a_seeded_subset_of_the_whole_split(data_dir):
    keep = subset_indices(3051, 100, 0)
    assert len(keep) == 100 and len(set(keep)) == 100 and list(keep) == sorted(keep)
    np.testing.assert_array_equal(keep, subset_indices(3051, 100, 0))
    assert set(keep) != set(subset_indices(3051, 100, 1))
    np.testing.assert_array_equal(subset_indices(3051, 5), np.arange(5))
    images, labels = data.load_arrays("emoji_twitter", "train", data_dir_override=data_dir)
    # The drawn set spans the categories (the first 100 are of one or two).
    assert len(set(labels[keep])) == 9 and len(set(labels[:100])) <= 2
    ds = data.load("emoji_twitter", batch_size=25, shuffle=False, with_labels=True,
                   data_dir=data_dir, limit=100, limit_seed=0)  # fmt: skip
    got = np.concatenate([np.asarray(y) for _, y in ds])
    np.testing.assert_array_equal(got, labels[keep])
    with pytest.raises(TfgenUsageError, match="limit 4000 is more than the 3051"):
        subset_indices(3051, 4000, 0)


def test_recipe_keys_for_few_shot_runs_are_checked():
    with pytest.raises(TfgenUsageError, match="data.limit_seed draws data.limit images"):
        config.from_dict({"model": TINY, "data": {"dataset": "mnist", "limit_seed": 1}})
    with pytest.raises(TfgenUsageError, match="finetune.augment changes a fine-tune"):
        config.from_dict({"model": TINY, "data": {"dataset": "mnist"},
                          "finetune": {"augment": "ada"}})  # fmt: skip
    with pytest.raises(TfgenUsageError, match="train.steps_per_epoch must be >= 1"):
        config.from_dict({"model": TINY, "data": {"dataset": "mnist"},
                          "train": {"steps_per_epoch": 0}})  # fmt: skip
    assert plan_steps(2, steps=1500, steps_per_epoch=250) == (6, 250)
    assert plan_steps(2, steps=1000, steps_per_epoch=300) == (4, 300)
    assert plan_steps(2, epochs=3, steps_per_epoch=10) == (3, 10)
    assert plan_steps(100, steps=150) == (2, 75)  # unchanged without it


def test_finetune_can_start_from_the_ema_and_swap_the_augmentation(tiny_source):
    model = saving.load_model(tiny_source, compile=False)
    # Make the average differ from the raw weights, as after training.
    model.ema_generator.set_weights([w + 0.5 for w in model.ema_generator.get_weights()])
    finetuning.start_from_ema(model)
    for a, b in zip(model.generator.get_weights(), model.ema_generator.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    assert model.augmenter is None
    finetuning.swap_augmentation(model, "ada")
    assert model.get_config()["augment"] == "ada"
    assert model.get_config()["ada_speed_images"] == 500_000  # the default, made for long runs
    finetuning.swap_augmentation(model, "ada", ada_speed_images=10_000)
    assert model.get_config()["ada_speed_images"] == 10_000
    finetuning.swap_augmentation(model, "none")
    assert model.augmenter is None and "augment" not in model.get_config()
    plain = DCGAN(image_shape=(64, 64, 3), latent_dim=8, g_width=4, d_width=4)
    with pytest.raises(TfgenUsageError, match="starts from a generator EMA; this dcgan keeps none"):
        finetuning.start_from_ema(plain)


def test_experiment_file_errors_name_the_problem(tmp_path, tiny_source):
    bad = tmp_path / "bad.toml"
    bad.write_text('[arm.a.model]\nkind = "dcgan"\n')
    with pytest.raises(TfgenUsageError, match="unknown key.*arm"):
        experiment.load(bad)
    bad.write_text("[measure]\nevery = 2\n")
    with pytest.raises(TfgenUsageError, match=r"no \[arms.NAME\] table"):
        experiment.load(bad)
    bad.write_text('[sweep]\n"data.limit" = 5\n[arms.a.model]\nkind = "dcgan"\n')
    with pytest.raises(TfgenUsageError, match="sweep 'data.limit' needs a list"):
        experiment.load(bad)
    bad.write_text('[base.data]\ndataset = "mnist"\n[arms.a.model]\nkind = "dcgann"\n')
    with pytest.raises(TfgenUsageError, match="arm a: model.kind: unknown kind 'dcgann'"):
        experiment.load(bad)
    path = _experiment_file(tmp_path, tiny_source)
    assert main(["experiment", str(path), "--out", str(tmp_path / "o"), "--arms", "nope"]) == 2
    assert main(["experiment", str(path), "--out", str(tmp_path / "o"), "--report-only"]) == 2


def test_setting_a_swept_key_runs_the_sweep_at_that_value_alone(tmp_path, tiny_source):
    path = _experiment_file(tmp_path, tiny_source)
    path.write_text(path.read_text().replace('"data.limit" = [20]', '"data.limit" = [20, 10]'))
    both = experiment.load(path, ["train.steps=6"])
    assert [r.name for r in both.runs] == [
        "scratch-limit20",
        "tuned-limit20",
        "scratch-limit10",
        "tuned-limit10",
    ]
    assert {r.recipe.train.steps for r in both.runs} == {6}
    one = experiment.load(path, ["data.limit=10", "train.steps=6"])
    # The names still say what each run trained with: one value of the sweep, not limit20
    # runs that trained on 10 drawings.
    assert [r.name for r in one.runs] == ["scratch-limit10", "tuned-limit10"]
    assert [r.recipe.data.limit for r in one.runs] == [10, 10]
    assert [r.recipe.train.steps for r in one.runs] == [6, 6]
    assert one.sweep == {"data.limit": [10]}


@pytest.mark.large  # two short trainings with FID curves: ~1 minute
def test_an_experiment_trains_each_arm_and_measures_curve_fid_style_and_memorisation(
    tmp_path, tiny_source, data_dir, monkeypatch
):
    monkeypatch.setenv("TFGEN_DATA_DIR", str(data_dir))
    path = _experiment_file(tmp_path, tiny_source)
    exp = experiment.load(path)
    assert [r.name for r in exp.runs] == ["scratch-limit20", "tuned-limit20"]
    out = tmp_path / "out"
    assert main(["experiment", str(path), "--out", str(out)]) == 0
    results = experiment.collect(exp, out)
    train_images, _ = data.load_arrays("emoji_twitter", "train", data_dir_override=data_dir)
    train_images = train_images[subset_indices(len(train_images), 20, 3)]
    test_images, _ = data.load_arrays("emoji_twitter", "test", data_dir_override=data_dir)
    for name, res in results.items():
        # Steps 0, 2, 4: before the first, every 2, and the last (not twice).
        assert [s for s, _ in res["curve"]] == [0, 2, 4], name
        assert res["steps"] == 4 and res["fid"] > 0
        assert res["best_fid"] == min(f for _, f in res["curve"])
        assert 0 <= res["style_share"] <= 1 and 0 <= res["categories_2pct"] <= 9
        # The real test drawings' nearest-training-image distance, brute force.
        x = test_images.reshape(len(test_images), -1).astype(np.float64) / 255
        t = train_images.reshape(20, -1).astype(np.float64) / 255
        nearest = np.sqrt(((x[:, None, :] - t[None]) ** 2).mean(-1).min(1))
        assert res["nearest_train_test_median"] == pytest.approx(np.median(nearest), abs=1e-4)
        assert res["memorisation_ratio"] == pytest.approx(
            res["nearest_train_samples_median"] / res["nearest_train_test_median"], rel=1e-3
        )
        assert (out / name / "samples.png").is_file()
    tuned = json.loads((out / "tuned-limit20" / "run.json").read_text())
    assert tuned["augment"] == "ada" and tuned["from_ema"] is True
    saved = keras.saving.load_model(out / "tuned-limit20" / "model.keras", compile=False)
    assert saved.get_config()["augment"] == "ada"
    # The arms' picture: a row of training images, then a row of each arm's samples, each
    # row named in a margin on the left.
    from PIL import Image

    picture = np.asarray(Image.open(out / "arms-limit20.png"))
    margin = picture.shape[1] - (8 * 66 + 2)
    assert picture.shape[0] == 3 * 66 + 2 and margin > 20
    first = train_images[np.linspace(0, 19, 8).round().astype(int)[0]]
    np.testing.assert_array_equal(picture[2:66, margin + 2 : margin + 66], first)
    for row in range(3):  # a label's dark pixels beside every row
        assert picture[2 + 66 * row : 66 * (row + 1), :margin].min() < 100
    report = (out / "report.md").read_text()
    assert "## data.limit = 20" in report and "| scratch |" in report and "| tuned |" in report
    # --report-only redraws the picture too, from the runs done.
    (out / "arms-limit20.png").unlink()
    assert main(["experiment", str(path), "--out", str(out), "--report-only"]) == 0
    np.testing.assert_array_equal(np.asarray(Image.open(out / "arms-limit20.png")), picture)
    # Done runs are not trained again.
    before = (out / "scratch-limit20" / "result.json").stat().st_mtime_ns
    experiment.run(exp, out, data_dir=data_dir, verbose=0)
    assert (out / "scratch-limit20" / "result.json").stat().st_mtime_ns == before


def test_cli_finetune_takes_the_few_shot_flags_and_a_precision(tmp_path, tiny_source, data_dir):
    out = tmp_path / "run"
    args = ["finetune", str(tiny_source), "--dataset", "emoji_twitter", "--data-dir",
            str(data_dir), "--limit", "16", "--limit-seed", "1", "--batch-size", "8", "--steps",
            "2", "--augment", "ada", "--ada-speed-images", "10000", "--from-ema", "--precision",
            "mixed_bfloat16", "--out", str(out)]  # fmt: skip
    assert main(args) == 0
    run = json.loads((out / "run.json").read_text())
    assert run["precision"] == "mixed_bfloat16" and run["augment"] == "ada" and run["from_ema"]
    assert (run["recipe"]["data"]["limit"], run["recipe"]["data"]["limit_seed"]) == (16, 1)
    tuned = keras.saving.load_model(out / "model.keras", compile=False)
    assert tuned.get_config()["augment"] == "ada"
    assert tuned.get_config()["ada_speed_images"] == run["ada_speed_images"] == 10_000
    # The pace belongs to the ADA a fine-tune swaps in, and is a positive number of images.
    for finetune_table in ({"ada_speed_images": 10_000}, {"augment": "ada", "ada_speed_images": 0}):
        with pytest.raises(TfgenUsageError, match="finetune.ada_speed_images paces the ADA"):
            config.from_dict({"data": {"dataset": "mnist"},
                              "finetune": {"source": "dcgan_mnist", **finetune_table}})  # fmt: skip
    conv = next(layer for layer in tuned.generator.layers if "conv" in layer.name)
    assert conv.compute_dtype == "bfloat16" and conv.variable_dtype == "float32"


def test_balance_repeats_each_class_by_its_shortfall(data_dir):
    labels = np.array([0] * 16 + [1] * 4 + [2] * 1, np.int32)
    counts = lambda idx: np.bincount(labels[idx], minlength=3).tolist()  # noqa: E731
    assert counts(balanced_indices(labels, 1.0)) == [16, 16, 16]  # 1x, 4x, 16x
    assert counts(balanced_indices(labels, 0.5)) == [16, 8, 4]  # 1x, 2x, 4x
    # Every image is kept, in order, each repeated in place.
    idx = balanced_indices(labels, 0.5)
    np.testing.assert_array_equal(np.unique(idx), np.arange(21))
    assert list(idx[16:26]) == [16, 16, 17, 17, 18, 18, 19, 19, 20, 20]
    with pytest.raises(TfgenUsageError, match="has no labels: use a folder with class sub"):
        balanced_indices(None, 1.0, "x.npz")
    # Through data.load on the few-shot draw the experiment uses: 100 Twitter drawings, 67 of
    # them people, become 197 with people 67 of them.
    _, labels = data.load_arrays("emoji_twitter", "train", data_dir_override=data_dir)
    drawn = labels[subset_indices(len(labels), 100, 0)]
    ds = data.load("emoji_twitter", batch_size=50, shuffle=False, with_labels=True,
                   data_dir=data_dir, limit=100, limit_seed=0, balance=0.5,
                   drop_remainder=False)  # fmt: skip
    got = np.concatenate([np.asarray(y) for _, y in ds])
    want = np.bincount(drawn)
    assert len(got) == np.sum(np.round(np.sqrt(want.max() / want))[drawn]) == 197
    assert np.bincount(got).max() == want.max() == 67


def test_balance_is_checked_and_reaches_fine_tunes(tmp_path, tiny_source, data_dir, monkeypatch):
    for bad in (0, 1.5, -1):
        with pytest.raises(TfgenUsageError, match=r"data.balance must be in \(0, 1\]"):
            config.from_dict({"model": TINY, "data": {"dataset": "mnist", "balance": bad}})
    from tfgen.models import CycleGAN
    from tfgen.training import inputs, job

    with pytest.raises(TfgenUsageError, match="data.balance repeats the images of one labelled"):
        inputs.make_dataset(CycleGAN, "emoji_google", 8, 0, dataset_b="emoji_twitter",
                            data_dir=data_dir, balance=1.0)  # fmt: skip
    with pytest.raises(TfgenUsageError, match="a classifier trains on its split as it is"):
        config.from_dict({"model": {"kind": "classifier"},
                          "data": {"dataset": "mnist", "balance": 1.0}})  # fmt: skip
    with pytest.raises(TfgenUsageError, match="needs class labels >= 0"):
        balanced_indices(np.array([0, -1, 1]), 1.0)
    # A fine-tune's data takes every data key, as a new model's does: balance and background
    # (a fine-tune used to load its data on white whatever data.background said).
    seen = {}

    def spy(**kwargs):
        seen.update(kwargs)
        return inputs.make_dataset(**kwargs)

    monkeypatch.setattr(job, "make_dataset", spy)
    recipe = config.from_dict({
        "data": {"dataset": "emoji_twitter", "limit": 16, "limit_seed": 1, "balance": 0.5,
                 "background": "black"},
        "train": {"batch_size": 8, "steps": 1},
        "finetune": {"source": str(tiny_source)},
    })  # fmt: skip
    job.run(recipe, tmp_path / "tuned", verbose=0, data_dir=data_dir)
    assert (seen["balance"], seen["background"], seen["limit_seed"]) == (0.5, "black", 1)
    out = tmp_path / "run"
    args = ["finetune", str(tiny_source), "--dataset", "emoji_twitter", "--data-dir",
            str(data_dir), "--limit", "16", "--limit-seed", "1", "--balance", "0.5",
            "--batch-size", "8", "--steps", "1", "--out", str(out)]  # fmt: skip
    assert main(args) == 0
    assert seen["balance"] == 0.5
    run = json.loads((out / "run.json").read_text())
    assert run["recipe"]["data"]["balance"] == 0.5
    assert main([*args[:-1], str(tmp_path / "bad"), "--balance", "2"]) == 2
    assert not (tmp_path / "bad").exists()
