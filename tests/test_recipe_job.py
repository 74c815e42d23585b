"""What recipes add to the training job: optimizer settings on the models' own defaults, the
validation hold-out, stopping early, cut and inverted domains, and the emoji style figures."""

import numpy as np
import pytest

from tfgen import config, data, optimizers
from tfgen.errors import TfgenUsageError
from tfgen.evaluation import style
from tfgen.training import inputs, stopping


def _recipe(**tables):
    return config.from_dict({"model": {"kind": "dcgan"}, "data": {"dataset": "mnist"}, **tables})


def test_optimizer_table_changes_only_what_it_names():
    from tfgen.models import DCGAN

    model = DCGAN(g_width=4, d_width=4)
    model.compile()
    assert optimizers.recipe_changes(model, _recipe().optimizer, 100) == {}
    changes = optimizers.recipe_changes(
        model, _recipe(optimizer={"learning_rate": 1e-4, "beta_2": 0.9}).optimizer, 100
    )
    g = changes["g_optimizer"]
    assert isinstance(g, optimizers.FusedAdam) and set(changes) == {"g_optimizer", "d_optimizer"}
    assert float(g.learning_rate) == pytest.approx(1e-4) and g.beta_2 == 0.9
    assert g.beta_1 == 0.5, "the model's default beta_1 stays"
    piecewise = _recipe(optimizer={"schedule": "piecewise", "boundaries": [10],
                                   "values": [2e-4, 5e-5]}).optimizer  # fmt: skip
    d = optimizers.recipe_changes(model, piecewise, 100)["d_optimizer"]
    schedule = d._learning_rate
    assert float(schedule(5)) == pytest.approx(2e-4) and float(schedule(20)) == pytest.approx(5e-5)


def test_a_cyclegan_recipe_sets_only_its_rate():
    from tfgen.models import CycleGAN

    model = CycleGAN(image_shape=(8, 8, 1), g_width=2, d_width=2, n_residual_blocks=0,
                     n_downsamples=1)  # fmt: skip
    model.compile(total_steps=10)
    cyclegan = {"model": {"kind": "cyclegan"}}
    assert optimizers.recipe_changes(
        model,
        config.from_dict(
            {**cyclegan, "data": {"dataset": "x"}, "optimizer": {"learning_rate": 1e-4}}
        ).optimizer,
        10,  # fmt: skip
    ) == {"learning_rate": 1e-4}
    with pytest.raises(TfgenUsageError, match="only optimizer.learning_rate"):
        optimizers.recipe_changes(
            model,
            config.from_dict(
                {**cyclegan, "data": {"dataset": "x"}, "optimizer": {"beta_1": 0.9}}
            ).optimizer,
            10,  # fmt: skip
        )
    held = config.from_dict({**cyclegan, "data": {"dataset": "x"}, "optimizer": {
        "learning_rate": 1e-4, "schedule": "linear", "decay_start": 1.0}}).optimizer  # fmt: skip
    changes = optimizers.recipe_changes(model, held, 10)
    assert changes == {"learning_rate": 1e-4, "decay_start": 1.0}
    model.compile(total_steps=10, **changes)
    rate = model.g_a2b_optimizer.learning_rate
    assert float(model.g_a2b_optimizer._learning_rate(10)) == pytest.approx(1e-4), (
        "decay_start = 1 holds the rate to the run's end"
    )
    assert float(rate) == pytest.approx(1e-4)
    with pytest.raises(TfgenUsageError, match="only optimizer.learning_rate"):
        optimizers.recipe_changes(
            model, _recipe(optimizer={"learning_rate": 1e-4, "schedule": "cosine"}).optimizer, 10
        )


def test_a_linear_schedule_holds_then_decays_to_zero_and_decay_start_needs_it():
    from tfgen.models import DCGAN

    model = DCGAN(g_width=4, d_width=4)
    model.compile()
    linear = _recipe(optimizer={"learning_rate": 1e-3, "schedule": "linear", "decay_start": 0.6})
    rate = optimizers.recipe_changes(model, linear.optimizer, 100)["g_optimizer"]._learning_rate
    assert [round(float(rate(s)), 6) for s in (0, 60, 80, 100)] == [1e-3, 1e-3, 5e-4, 0.0]
    default = _recipe(optimizer={"learning_rate": 1e-3, "schedule": "linear"}).optimizer
    assert optimizers.learning_rate_for(default, 100).decay_start == 0.5
    for bad in ({"learning_rate": 1e-3, "decay_start": 0.5},
                {"learning_rate": 1e-3, "schedule": "linear", "decay_start": 1.5}):  # fmt: skip
        with pytest.raises(TfgenUsageError, match="decay_start is the share of the run held"):
            _recipe(optimizer=bad)
    with pytest.raises(TfgenUsageError, match="'linear' needs optimizer.learning_rate"):
        _recipe(optimizer={"schedule": "linear"})


def test_holdout_splits_train_and_validation_disjointly(data_dir):
    kwargs = dict(batch_size=50, shuffle=False, drop_remainder=False, data_dir=data_dir,
                  limit=300, seed=4)  # fmt: skip
    train = np.concatenate(list(data.load("mnist", holdout=(100, "train"), **kwargs)))
    held = np.concatenate(list(data.load("mnist", holdout=(100, "validation"), **kwargs)))
    assert len(train) == 200 and len(held) == 100
    whole = np.concatenate(list(data.load("mnist", **kwargs)))
    rows = {r.tobytes() for r in whole}
    assert {r.tobytes() for r in train} | {r.tobytes() for r in held} == rows
    assert not {r.tobytes() for r in train} & {r.tobytes() for r in held}
    with pytest.raises(TfgenUsageError, match="cannot hold out 300"):
        data.load("mnist", holdout=(300, "train"), **kwargs)


def test_stopping_callbacks_follow_the_train_table():
    assert stopping.callbacks(_recipe().train) == []
    recipe = _recipe(train={"validation_images": 10, "early_stopping": 3, "max_minutes": 1.5})
    early, budget = stopping.callbacks(recipe.train)
    assert early.patience == 3 and early.monitor == "val_loss" and budget.seconds == 90
    with pytest.raises(TfgenUsageError, match="needs train.validation_images"):
        _recipe(train={"early_stopping": 3})


def test_halves_are_disjoint_and_b_is_inverted(data_dir):
    recipe = config.from_dict({
        "model": {"kind": "cyclegan"},
        "data": {"dataset": "mnist", "halves": True, "invert_b": True, "split_seed": 1},
    })  # fmt: skip
    a, b = inputs.two_domains(recipe, data_dir)
    images, _ = data.load_arrays("mnist", "train", data_dir_override=data_dir)
    assert len(a) + len(b) == len(images) and abs(len(a) - len(b)) <= 1
    originals = {x.tobytes() for x in images}
    assert {x.tobytes() for x in a} <= originals
    assert {(255 - x).tobytes() for x in b} <= originals
    assert not {x.tobytes() for x in a} & {(255 - x).tobytes() for x in b}


def test_style_figures_read_vendor_and_category_from_grouped_classes():
    probs = np.zeros((10, 18))
    probs[np.arange(8), [0, 1, 2, 3, 4, 5, 6, 7]] = 1  # google, 8 categories
    probs[8, 9 + 1] = probs[9, 9 + 1] = 1  # twitter, category 1
    figures = style.style_figures(probs, "emoji_google")
    assert figures["style_share"] == 0.8
    assert figures["categories_2pct"] == 8 and figures["max_category_share"] == 0.3
    assert style.style_figures(probs, "emoji_twitter")["style_share"] == 0.2
    with pytest.raises(TfgenUsageError, match="emoji styles"):
        style.style_figures(probs, "mnist")
    probs[0, 0] = 0.6  # a less confident google sample of category 0
    rows = style.style_by_category(probs, "emoji_twitter")
    assert rows[1] == (3, 2 / 3, 1.0)  # category 1: one google, two twitter samples
    assert rows[0] == (1, 0.0, 0.6) and rows[8] is None
