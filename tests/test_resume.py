"""A run SIGKILLed mid-epoch resumes at its last step checkpoint and, with --deterministic,
ends with weights bit-identical to an uninterrupted run."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time

import keras
import numpy as np

from tfgen import reliability, saving

# 320 images in batches of 16: epochs of 20 steps; 60 steps is 3 epochs.
STEPS_PER_EPOCH = 20
STEPS = 60


def _args(out):
    return [
        "train",
        "dcgan",
        "--dataset",
        "mnist",
        "--limit",
        "320",
        "--batch-size",
        "16",
        "--steps",
        str(STEPS),
        "--checkpoint-every",
        "3",
        "--deterministic",
        "--seed",
        "5",
        "--option",
        "g_width=8",
        "--option",
        "d_width=8",
        "--out",
        str(out),
    ]


def _start(out, data_dir):
    env = {**os.environ, "TFGEN_DATA_DIR": str(data_dir), "TF_CPP_MIN_LOG_LEVEL": "3"}
    return subprocess.Popen(
        [sys.executable, "-m", "tfgen.cli", *_args(out)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _state(path):
    """Every variable of a saved run: the networks' weights and both optimizers' slots."""
    model = saving.load_model(path, compile=True)
    assert int(model.g_optimizer.iterations) == STEPS
    variables = list(model.weights) + list(model.g_optimizer.variables)
    variables += list(model.d_optimizer.variables)
    return {v.path: keras.ops.convert_to_numpy(v.value) for v in variables}


def _kill_mid_epoch(out, data_dir):
    """Starts a run and SIGKILLs it once a checkpoint lies inside epoch 2 or 3 (not at an
    epoch's end); returns that checkpoint's step, or None if the run ended first."""
    shutil.rmtree(out, ignore_errors=True)
    run = _start(out, data_dir)
    metadata = out / "checkpoints" / reliability.METADATA
    deadline = time.time() + 600
    while time.time() < deadline and run.poll() is None:
        try:
            step = json.loads(metadata.read_text())["step"]
        except (OSError, ValueError, KeyError):
            step = 0
        if step > STEPS_PER_EPOCH and step % STEPS_PER_EPOCH:
            run.send_signal(signal.SIGKILL)
            run.wait()
            return step
        time.sleep(0.01)
    run.kill()
    run.wait()
    return None


def test_sigkill_mid_epoch_then_resume_is_bit_identical(tmp_path, data_dir):
    # Start both runs together: two cores, and B must be killed while it is still running.
    run_a = _start(tmp_path / "a", data_dir)
    for _ in range(3):  # on a loaded machine the poller may miss the window; try again
        killed_at = _kill_mid_epoch(tmp_path / "b", data_dir)
        if killed_at is not None:
            break
    assert killed_at is not None, "run B ended three times before it could be killed"
    assert not (tmp_path / "b" / "model.keras").exists()

    resumed = _start(tmp_path / "b", data_dir)
    out_b, _ = resumed.communicate(timeout=600)
    out_a, _ = run_a.communicate(timeout=600)
    assert run_a.returncode == 0, out_a[-2000:]
    assert resumed.returncode == 0, out_b[-2000:]
    # It resumed at a checkpoint at or after the one seen (one more may land before the kill).
    line = next(s for s in out_b.splitlines() if s.startswith("resuming at step"))
    step = int(line.split()[3])
    assert killed_at <= step < STEPS and step % 3 == 0, line
    assert "Epoch 1/3" not in out_b

    a, b = _state(tmp_path / "a" / "model.keras"), _state(tmp_path / "b" / "model.keras")
    assert sorted(a) == sorted(b)
    different = [name for name in a if not np.array_equal(a[name], b[name])]
    assert not different, f"resumed weights differ from the uninterrupted run: {different[:5]}"
    # Both runs finished cleanly: the checkpoints are gone and run.json counts every step.
    for run in ("a", "b"):
        assert not (tmp_path / run / "checkpoints").exists()
        assert not list((tmp_path / run).rglob(".*.tmp")), "temporary files left behind"
        assert json.loads((tmp_path / run / "run.json").read_text())["steps"] == STEPS
