"""FIDCheckpoint: FID/KID during training on real MNIST, the best model kept by FID."""

import json

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfgen import callbacks, cli, data, saving, training
from tfgen.errors import TfgenUsageError
from tfgen.evaluation import evaluate
from tfgen.models import DCGAN, Pix2Pix

N = 200  # samples and real images per evaluation: enough for FID/KID, small enough for CI


class RecordingFID(callbacks.FIDCheckpoint):
    """Keeps each evaluation's samples, to compare with what best.keras generates."""

    def samples(self):
        images = super().samples()
        self.recorded = getattr(self, "recorded", []) + [images]
        return images


@pytest.fixture(scope="module")
def fid_run(tmp_path_factory, data_dir):
    out = tmp_path_factory.mktemp("fid_run")
    keras.utils.set_random_seed(0)
    model = DCGAN(latent_dim=16, g_width=8, d_width=8)
    model.compile()
    ds = data.load("mnist", batch_size=32, data_dir=data_dir, limit=512, seed=0)
    callback = RecordingFID("mnist", out, every=1, n=N, log_dir=out / "eval", data_dir=data_dir)
    history = model.fit(ds, epochs=4, callbacks=[callback], verbose=0)
    return out, model, callback, history.history


def test_history_has_fid_and_kid_per_evaluated_epoch(fid_run):
    out, _, callback, history = fid_run
    assert len(history["fid"]) == len(history["kid"]) == 4
    assert [s["epoch"] for s in callback.scores] == [1, 2, 3, 4]
    np.testing.assert_allclose(history["fid"], [s["fid"] for s in callback.scores])
    assert all(np.isfinite(history["fid"])) and min(history["fid"]) > 0
    # Training moves the generator: the curve is not flat.
    assert max(history["fid"]) - min(history["fid"]) > 1e-3
    events = list((out / "eval").glob("events.out.tfevents.*"))
    tags = {
        v.tag for e in tf.compat.v1.train.summary_iterator(str(events[0])) for v in e.summary.value
    }
    assert {"fid", "kid"} <= tags


def test_best_json_is_the_lowest_fid_and_best_keras_reproduces_it(fid_run, data_dir):
    out, _, callback, history = fid_run
    best = json.loads((out / "best.json").read_text())
    assert best["fid"] == min(history["fid"])
    assert best["epoch"] == 1 + int(np.argmin(history["fid"]))
    assert best["n"] == N and best["extractor"] == "classifier_mnist"
    reloaded = saving.load_model(out / "best.keras", compile=False)
    images = reloaded.generate(N, seed=0)
    np.testing.assert_allclose(images, callback.recorded[best["epoch"] - 1], atol=1e-5)
    # Re-scored from the file, with the callback's real features, the FID is the recorded one.
    features = callback._extractor.features(images)
    rescored = evaluate.evaluate_features(features, callback._real_features, metrics=("fid",))
    assert rescored["fid"] == pytest.approx(best["fid"], rel=1e-4)


def test_a_resumed_run_keeps_the_best_of_before(fid_run, data_dir):
    out, model, _, _ = fid_run
    best = json.loads((out / "best.json").read_text())
    later = callbacks.FIDCheckpoint("mnist", out, n=N, data_dir=data_dir)
    later.set_model(model)
    later.on_train_begin()
    assert later.best == best


def test_train_eval_every_writes_best_files(tmp_path, data_dir):
    out = tmp_path / "run"
    training.train(
        "dcgan", "mnist", out, epochs=2, batch_size=32, limit=128, data_dir=data_dir,
        options={"g_width": 8, "d_width": 8, "latent_dim": 16}, verbose=0,
        eval_every=2, eval_n=N,
    )  # fmt: skip
    run = json.loads((out / "run.json").read_text())
    best = json.loads((out / "best.json").read_text())
    assert best["epoch"] == 2 and best["fid"] == run["final_metrics"]["fid"]
    assert (out / "best.keras").is_file()


def test_bad_settings_are_usage_errors(tmp_path, data_dir):
    with pytest.raises(TfgenUsageError, match="--eval-every must be >= 1"):
        callbacks.FIDCheckpoint("mnist", tmp_path, every=0)
    with pytest.raises(TfgenUsageError, match="extractor="):
        callbacks.FIDCheckpoint(np.zeros((10, 28, 28, 1)), tmp_path)
    translator = callbacks.FIDCheckpoint("mnist", tmp_path, n=N, data_dir=data_dir)
    translator.set_model(Pix2Pix(g_width=8, d_width=8))
    with pytest.raises(TfgenUsageError, match="translates images"):
        translator.on_train_begin()
    assert not list(tmp_path.iterdir())


def test_cli_eval_every_zero_is_one_line_exit_2(tmp_path, data_dir, capsys, monkeypatch):
    monkeypatch.setenv("TFGEN_DATA_DIR", str(data_dir))
    code = cli.main(
        ["train", "dcgan", "--dataset", "mnist", "--steps", "1", "--eval-every", "0",
         "--out", str(tmp_path / "run")]
    )  # fmt: skip
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert "--eval-every must be >= 1" in err and len(err.splitlines()) == 1


@pytest.mark.parametrize(
    "kind, options",
    [("cgan", {"g_width": 8, "d_width": 8}), ("vae", {"width": 8, "latent_dim": 4})],
)
def test_cgan_and_vae_runs_keep_a_best_model(kind, options, tmp_path, data_dir):
    out = tmp_path / kind
    model = training.train(
        kind, "mnist", out, epochs=1, batch_size=32, limit=64, data_dir=data_dir,
        options=options, verbose=0, eval_every=1, eval_n=100,
    )  # fmt: skip
    best = json.loads((out / "best.json").read_text())
    assert best["epoch"] == 1 and np.isfinite(best["fid"]) and best["kid_std"] > 0
    scorer = callbacks.FIDCheckpoint("mnist", tmp_path / "rescore", n=100, data_dir=data_dir)
    scorer.set_model(saving.load_model(out / "best.keras", compile=False))
    assert scorer.score()["fid"] == pytest.approx(best["fid"], rel=1e-4)
    if kind == "cgan":  # labels cycle over the classes
        scorer.set_model(model)
        np.testing.assert_allclose(
            scorer.samples()[:12], model.generate(labels=np.arange(12) % 10, seed=0), atol=1e-6
        )


def test_the_last_epoch_is_scored_even_off_the_schedule(tmp_path, data_dir):
    keras.utils.set_random_seed(0)
    model = DCGAN(latent_dim=16, g_width=8, d_width=8)
    model.compile()
    ds = data.load("mnist", batch_size=32, data_dir=data_dir, limit=128, seed=0)
    callback = callbacks.FIDCheckpoint("mnist", tmp_path, every=5, n=100, data_dir=data_dir)
    model.fit(ds, epochs=2, callbacks=[callback], verbose=0)
    assert [s["epoch"] for s in callback.scores] == [2]
    assert json.loads((tmp_path / "best.json").read_text())["epoch"] == 2
