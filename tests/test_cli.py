"""The `tfgen` command end to end: train a few steps, sample, export, list, and its errors."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from tfgen import cli


def run_cli(*args, env=None):
    """Runs `tfgen` in a subprocess, as a user would."""
    return subprocess.run(
        [sys.executable, "-m", "tfgen.cli", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=600,
    )


def _stderr_lines(result):
    # TensorFlow's C++ runtime logs start-up lines (I0000/E0000/absl) that tfgen cannot
    # silence; everything else on stderr is tfgen's.
    noise = ("I0000", "E0000", "W0000", "WARNING: All log messages", "To enable the following")
    return [line for line in result.stderr.splitlines() if line and not line.startswith(noise)]


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory, data_dir):
    out = tmp_path_factory.mktemp("run")
    result = run_cli(
        "train",
        "dcgan",
        "--dataset",
        "mnist",
        "--steps",
        "4",
        "--batch-size",
        "16",
        "--option",
        "g_width=8",
        "--option",
        "d_width=8",
        "--out",
        str(out),
        env={"TFGEN_DATA_DIR": str(data_dir)},
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return out


def test_train_writes_the_run_folder(trained_run):
    assert (trained_run / "model.keras").is_file()
    assert (trained_run / "samples" / "epoch_001.png").is_file()
    assert list((trained_run / "logs").rglob("events.out.tfevents.*"))
    summary = json.loads((trained_run / "run.json").read_text())
    assert summary["steps"] == 4 and summary["kind"] == "dcgan"
    assert np.isfinite(summary["final_metrics"]["d_loss"])


def test_sample_png_and_npy(trained_run, tmp_path):
    result = run_cli(
        "sample", str(trained_run / "model.keras"), "--n", "9", "--out", str(tmp_path / "g.png")
    )
    assert result.returncode == 0, result.stderr[-2000:]
    grid = np.asarray(Image.open(tmp_path / "g.png"))
    assert grid.shape == (3 * 30 + 2, 3 * 30 + 2)  # 3x3 tiles of 28 px, 2 px padding
    result = run_cli(
        "sample",
        str(trained_run / "model.keras"),
        "--n",
        "5",
        "--seed",
        "3",
        "--out",
        str(tmp_path / "g.npy"),
    )
    assert result.returncode == 0
    arr = np.load(tmp_path / "g.npy")
    assert arr.shape == (5, 28, 28, 1) and arr.dtype == np.uint8


def test_export_and_sample_from_savedmodel(trained_run, tmp_path):
    result = run_cli("export", str(trained_run / "model.keras"), "--out", str(tmp_path / "served"))
    assert result.returncode == 0, result.stderr[-2000:]
    assert (tmp_path / "served" / "1" / "saved_model.pb").is_file()
    a = tmp_path / "a.npy"
    b = tmp_path / "b.npy"
    assert run_cli("sample", str(tmp_path / "served"), "--n", "4", "--out", str(a)).returncode == 0
    assert (
        run_cli("sample", str(trained_run / "model.keras"), "--n", "4", "--out", str(b)).returncode
        == 0
    )
    np.testing.assert_array_equal(np.load(a), np.load(b))
    again = run_cli(
        "export",
        str(trained_run / "model.keras"),
        "--out",
        str(tmp_path / "served"),
        "--version",
        "1",
    )
    assert again.returncode == 2 and "--overwrite" in again.stderr


def test_killed_run_resumes_from_its_checkpoint(tmp_path, data_dir):
    """SIGKILL after the first epoch's checkpoint; the same command then starts at epoch 2."""
    import signal
    import time

    out = tmp_path / "run"
    args = [
        "train",
        "dcgan",
        "--dataset",
        "mnist",
        "--epochs",
        "3",
        "--batch-size",
        "16",
        "--option",
        "g_width=8",
        "--option",
        "d_width=8",
        "--out",
        str(out),
    ]
    env = {**os.environ, "TFGEN_DATA_DIR": str(data_dir)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "tfgen.cli", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    metadata = out / "checkpoints" / "training_metadata.json"
    deadline = time.time() + 300
    while time.time() < deadline and proc.poll() is None:
        if metadata.exists() and json.loads(metadata.read_text() or "{}").get("epoch", 0) >= 1:
            break
        time.sleep(0.2)
    assert proc.poll() is None, "training ended before it could be interrupted"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (out / "model.keras").exists()
    result = run_cli(*args, env={"TFGEN_DATA_DIR": str(data_dir)})
    assert result.returncode == 0, result.stderr[-2000:]
    assert "Epoch 1/3" not in result.stdout and "Epoch 2/3" in result.stdout
    assert (out / "model.keras").is_file()


def test_list_shows_kinds():
    result = run_cli("list")
    assert result.returncode == 0
    assert "dcgan" in result.stdout.splitlines()[0]


@pytest.mark.parametrize(
    "args, code, needle",
    [
        ([], 2, "no command given"),
        (["train"], 2, "required"),
        (
            ["train", "dcgan", "--dataset", "mnist", "--out", "x", "--steps", "5", "--epochs", "1"],
            2,
            "not allowed with",
        ),
        (
            ["train", "nosuchkind", "--dataset", "mnist", "--out", "x"],
            2,
            "unknown model kind 'nosuchkind'",
        ),
        (["sample", "no_such_zoo_entry", "--out", "x.png"], 2, "unknown model 'no_such_zoo_entry'"),
        (["sample", "no/such/dir", "--out", "x.png"], 2, "does not exist"),
        (["sample", "missing.keras", "--out", "x.png"], 2, "does not exist"),
        (["frobnicate"], 2, "invalid choice"),
    ],
)
def test_usage_errors_are_one_line_exit_2(args, code, needle):
    result = run_cli(*args)
    lines = _stderr_lines(result)
    assert result.returncode == code, result.stderr
    assert len(lines) == 1 and needle in lines[0], lines
    assert "Traceback" not in result.stderr


def test_sample_bad_suffix_writes_nothing(trained_run, tmp_path):
    result = run_cli("sample", str(trained_run / "model.keras"), "--out", str(tmp_path / "g.jpg"))
    assert result.returncode == 2 and ".png" in _stderr_lines(result)[0]
    assert list(tmp_path.iterdir()) == []


def test_main_in_process_usage_error(capsys):
    assert cli.main(["train", "--epochs", "x"]) == 2
    assert "invalid int value" in capsys.readouterr().err
