"""A loss going NaN stops training, names the loss and the step, and writes no bad file."""

import json

import keras
import numpy as np
import pytest

from tfgen import cli, registry, reliability, training


def test_exploding_learning_rate_stops_with_loss_and_step(tmp_path, data_dir):
    out = tmp_path / "run"
    # A sane rate for 3 steps (checkpoints get written), then one that blows the weights up.
    rate = keras.optimizers.schedules.PiecewiseConstantDecay([3], [2e-4, 1e35])
    with pytest.raises(reliability.NonFiniteError) as info:
        training.train(
            "dcgan",
            "mnist",
            out,
            steps=8,
            batch_size=16,
            data_dir=data_dir,
            limit=160,
            options={"g_width": 8, "d_width": 8},
            checkpoint_every=1,
            verbose=0,
            compile_options={"d_optimizer": keras.optimizers.SGD(rate)},
        )
    message = str(info.value)
    assert "d_loss became nan" in message, message
    meta = json.loads((out / "checkpoints" / reliability.METADATA).read_text())
    bad_step = int(message.split("training stopped at step ")[1].split(" ")[0])
    assert 3 < bad_step <= 8
    # The last good checkpoint is the step before, complete and finite; nothing else was kept.
    assert meta["step"] == bad_step - 1
    assert f"last good checkpoint (step {meta['step']})" in message
    assert "lower the learning rate" in message
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == [
        meta["weights"],
        reliability.METADATA,
    ]
    assert not (out / "model.keras").exists() and not (out / "run.json").exists()
    model = registry.get_model_class("dcgan")(image_shape=(28, 28, 1), g_width=8, d_width=8)
    model.compile(d_optimizer=keras.optimizers.SGD(rate))
    model.load_weights(out / "checkpoints" / meta["weights"])
    assert reliability.first_non_finite(model) is None
    assert int(model.g_optimizer.iterations) == meta["step"]


def test_non_finite_weights_are_never_saved(tmp_path):
    model = registry.get_model_class("dcgan")(image_shape=(28, 28, 1), g_width=8, d_width=8)
    model.compile()
    assert reliability.first_non_finite(model) is None
    kernel = model.generator.trainable_weights[0]
    kernel.assign(np.full(kernel.shape, np.inf, np.float32))
    assert reliability.first_non_finite(model) == kernel.path
    with pytest.raises(reliability.NonFiniteError, match="holds NaN or Inf"):
        reliability.check_finite_weights(model, tmp_path / "model.keras")
    checkpoint = reliability.StepCheckpoint(tmp_path / "checkpoints", steps_per_epoch=4)
    checkpoint.set_model(model)
    with pytest.raises(reliability.NonFiniteError, match="a checkpoint at step 2"):
        checkpoint.save(2)
    assert not (tmp_path / "checkpoints").exists()


def test_cli_reports_non_finite_in_one_line_exit_1(monkeypatch, capsys, tmp_path):
    def explode(*args, **kwargs):
        raise reliability.NonFiniteError("training stopped at step 7 (epoch 1, batch 7): g_loss")

    monkeypatch.setattr(training.job, "run", explode)
    code = cli.main(["train", "dcgan", "--dataset", "mnist", "--out", str(tmp_path / "r")])
    err = capsys.readouterr().err
    assert code == 1
    assert err.strip().splitlines() == [
        "tfgen: error: training stopped at step 7 (epoch 1, batch 7): g_loss"
    ]
