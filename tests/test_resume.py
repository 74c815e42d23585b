"""A run SIGKILLed mid-epoch resumes at its last step checkpoint and, with --deterministic,
ends with weights bit-identical to an uninterrupted run."""

import json
import os
import signal
import subprocess
import sys
import time

import keras
import numpy as np

from tfgen import reliability, saving

# 320 images in batches of 16: epochs of 20 steps; 40 steps is 2 epochs.
STEPS_PER_EPOCH = 20


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
        "40",
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
    assert int(model.g_optimizer.iterations) == 40
    variables = list(model.weights) + list(model.g_optimizer.variables)
    variables += list(model.d_optimizer.variables)
    return {v.path: keras.ops.convert_to_numpy(v.value) for v in variables}


def test_sigkill_mid_epoch_then_resume_is_bit_identical(tmp_path, data_dir):
    # Start both runs together: two cores, and B must be killed while it is still running.
    run_a = _start(tmp_path / "a", data_dir)
    run_b = _start(tmp_path / "b", data_dir)
    metadata = tmp_path / "b" / "checkpoints" / reliability.METADATA
    killed_at = None
    deadline = time.time() + 300
    while time.time() < deadline and run_b.poll() is None:
        try:
            meta = json.loads(metadata.read_text())
        except (OSError, ValueError):
            meta = {}
        # A checkpoint inside the second epoch: the resume must skip part of an epoch.
        if meta.get("step", 0) > STEPS_PER_EPOCH and meta["step"] % STEPS_PER_EPOCH:
            run_b.send_signal(signal.SIGKILL)
            killed_at = meta["step"]
            break
        time.sleep(0.01)
    run_b.wait()
    assert killed_at is not None, "run B ended before it could be killed:\n" + run_b.stdout.read()
    assert not (tmp_path / "b" / "model.keras").exists()

    resumed = _start(tmp_path / "b", data_dir)
    out_b, _ = resumed.communicate(timeout=300)
    out_a, _ = run_a.communicate(timeout=300)
    assert run_a.returncode == 0, out_a[-2000:]
    assert resumed.returncode == 0, out_b[-2000:]
    # It resumed at a checkpoint at or after the one seen (one more may land before the kill).
    line = next(s for s in out_b.splitlines() if s.startswith("resuming at step"))
    step = int(line.split()[3])
    assert killed_at <= step < 2 * STEPS_PER_EPOCH and step % 3 == 0, line
    assert "Epoch 1/2" not in out_b

    a, b = _state(tmp_path / "a" / "model.keras"), _state(tmp_path / "b" / "model.keras")
    assert sorted(a) == sorted(b)
    different = [name for name in a if not np.array_equal(a[name], b[name])]
    assert not different, f"resumed weights differ from the uninterrupted run: {different[:5]}"
    # Both runs finished cleanly: the checkpoints are gone and run.json says 40 steps.
    for run in ("a", "b"):
        assert not (tmp_path / run / "checkpoints").exists()
        assert json.loads((tmp_path / run / "run.json").read_text())["steps"] == 40
