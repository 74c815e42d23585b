"""MultiWorkerMirroredStrategy: two worker processes on 127.0.0.1 train DCGAN in lockstep.

Both end with identical weights; only the chief (worker 0) leaves files in the run folder, the
other worker wrote into a temporary folder that is gone afterwards.
"""

import importlib.util
import io
import json
import os
import pathlib
import sys

import numpy as np
import pytest

from tfgen import saving

REPO = pathlib.Path(__file__).resolve().parent.parent
spec = importlib.util.spec_from_file_location(
    "launch_multiworker", REPO / "tools" / "launch_multiworker.py"
)
launcher = importlib.util.module_from_spec(spec)
spec.loader.exec_module(launcher)

# The start of a worker program: `used` collects the folders `distribute.output_dir` gives
# this worker to write into.
RECORD_OUTPUT_DIRS = """
import contextlib, json, os, sys
import numpy as np
from tfgen import distribute
index = json.loads(os.environ["TF_CONFIG"])["task"]["index"]
used = []
original = distribute.output_dir

@contextlib.contextmanager
def recording(path, strategy=None):
    with original(path, strategy) as where:
        used.append(str(where))
        yield where

distribute.output_dir = recording
"""

# Each worker: `training.train` under --strategy multiworker, recording where it wrote and
# saving its final weights for the test to compare.
WORKER = (
    RECORD_OUTPUT_DIRS
    + """
from tfgen import training
out, data, report = sys.argv[1:4]
model = training.train(
    "dcgan", data, out, steps=2, batch_size=8, limit=32, samples=4, verbose=0,
    options=dict(latent_dim=8, g_width=8, d_width=8), strategy="multiworker",
)
np.savez(f"{report}/worker_{index}.npz", *[w.numpy() for w in model.weights])
with open(f"{report}/worker_{index}.json", "w") as f:
    json.dump({"wrote_to": used[0], "exists_after": os.path.exists(used[0]),
               "pid": os.getpid(), "iterations": int(model.g_optimizer.iterations.numpy())}, f)
"""
)


def _launch_two(program, args, scratch):
    """Runs `program` (Python source) as two CPU workers; both must exit 0. Returns the log."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "TMPDIR": str(scratch)}
    log = io.StringIO()
    codes = launcher.launch(
        [sys.executable, "-c", program, *map(str, args)],
        workers=2,
        cpu_only=True,
        timeout=300,
        env=env,
        out=log,
    )
    assert codes == [0, 0], log.getvalue()[-4000:]
    return log.getvalue()


def test_tf_config_and_free_ports():
    ports = launcher.free_ports(3)
    assert len(set(ports)) == 3
    config = json.loads(launcher.tf_config(ports, 1))
    assert config["cluster"]["worker"] == [f"127.0.0.1:{p}" for p in ports]
    assert config["task"] == {"type": "worker", "index": 1}
    command = launcher.train_command(["dcgan", "--dataset", "mnist", "--out", "run"])
    assert command[-2:] == ["--strategy", "multiworker"]


def test_a_failing_worker_stops_the_others():
    # Worker 1 fails at once; worker 0 would wait for it (here: sleep) until stopped.
    program = (
        "import json, os, sys, time\n"
        "index = json.loads(os.environ['TF_CONFIG'])['task']['index']\n"
        "print('started', index, flush=True)\n"
        "sys.exit(3) if index == 1 else time.sleep(300)\n"
    )
    log = io.StringIO()
    codes = launcher.launch([sys.executable, "-c", program], workers=2, out=log)
    assert codes[1] == 3
    assert codes[0] not in (0, None)  # terminated, not left running
    assert "[worker 0] started 0" in log.getvalue() and "[worker 1] started 1" in log.getvalue()


@pytest.mark.large
def test_two_workers_train_dcgan_in_lockstep_and_only_the_chief_writes(tmp_path, mnist_dir):
    out, report, scratch = tmp_path / "run", tmp_path / "report", tmp_path / "tmp"
    report.mkdir()
    scratch.mkdir()
    _launch_two(WORKER, [out, mnist_dir, report], scratch)

    chief, other = (json.loads((report / f"worker_{i}.json").read_text()) for i in (0, 1))
    assert chief["iterations"] == other["iterations"] == 2
    weights = [np.load(report / f"worker_{i}.npz") for i in (0, 1)]
    assert len(weights[0].files) == len(weights[1].files) > 0
    for name in weights[0].files:
        np.testing.assert_array_equal(weights[0][name], weights[1][name])
    # The chief's saved model holds those weights.
    saved = saving.load_model(out / "model.keras")
    for name, value in zip(weights[0].files, saved.weights):
        np.testing.assert_array_equal(weights[0][name], value.numpy())

    # Only the chief wrote the run folder; the other worker's scratch folder is gone.
    assert chief["wrote_to"] == str(out)
    assert pathlib.Path(other["wrote_to"]).parent == scratch
    assert not other["exists_after"]
    assert not [p for p in scratch.iterdir() if p.name.startswith("tfgen-worker-")]
    assert (out / "samples" / "epoch_001.png").is_file()
    summary = json.loads((out / "run.json").read_text())
    assert summary["steps"] == 2 and np.isfinite(summary["final_metrics"]["d_loss"])
    events = list((out / "logs").rglob("events.out.tfevents.*"))
    assert events
    assert all(f".{chief['pid']}." in e.name for e in events), events
    assert {p.name for p in out.iterdir()} <= {
        "model.keras",
        "run.json",
        "samples",
        "logs",
        "checkpoints",
    }


class _FakeStrategy:
    """Just what `distribute.is_chief` reads from a MultiWorkerMirroredStrategy."""

    def __init__(self, cluster, task_type, task_id):
        import tensorflow as tf

        self.extended = type("Extended", (), {"_in_multi_worker_mode": lambda self: True})()
        self.cluster_resolver = tf.distribute.cluster_resolver.SimpleClusterResolver(
            tf.train.ClusterSpec(cluster), task_type=task_type, task_id=task_id
        )


def test_chief_is_the_chief_task_else_worker_0(tmp_path):
    from tfgen import distribute

    workers = {"worker": ["127.0.0.1:1", "127.0.0.1:2"]}
    with_chief = {"chief": ["127.0.0.1:3"], **workers}
    assert distribute.is_chief(_FakeStrategy(workers, "worker", 0))
    assert not distribute.is_chief(_FakeStrategy(workers, "worker", 1))
    assert distribute.is_chief(_FakeStrategy(with_chief, "chief", 0))
    assert not distribute.is_chief(_FakeStrategy(with_chief, "worker", 0))
    with distribute.output_dir(tmp_path / "run", _FakeStrategy(workers, "worker", 1)) as where:
        assert where != tmp_path / "run" and where.is_dir()
        (where / "model.keras").write_text("scratch")
    assert not where.exists()
    with distribute.output_dir(tmp_path / "run", _FakeStrategy(workers, "worker", 0)) as where:
        assert where == tmp_path / "run"


# A worker for the resume test. `crash`: stop both workers at the start of epoch 2, after
# epoch 1's checkpoint; `resume`/`full`: train both epochs; `elsewhere`: worker 1 uses a run
# folder of its own, as on a host that cannot read the chief's. Errors are reported, not
# raised, so the launcher waits for both workers and the test sees what each one did.
RESUMING_WORKER = """
import json, os, sys
import keras
import numpy as np
from tfgen import training
from tfgen.errors import TfgenUsageError
out, data, report, phase = sys.argv[1:5]
index = json.loads(os.environ["TF_CONFIG"])["task"]["index"]
if phase == "elsewhere" and index == 1:
    out += "_not_shared"

class Crash(Exception):
    pass

class CrashAtEpoch2(keras.callbacks.Callback):
    def on_epoch_begin(self, epoch, logs=None):
        if epoch == 1:
            raise Crash()

result = {}
try:
    model = training.train(
        "dcgan", data, out, epochs=2, batch_size=8, limit=32, samples=4, verbose=0,
        options=dict(latent_dim=8, g_width=8, d_width=8), strategy="multiworker",
        deterministic=True, extra_callbacks=[CrashAtEpoch2()] if phase == "crash" else None,
    )
    np.savez(f"{report}/{phase}_{index}.npz", *[w.numpy() for w in model.weights])
    result["iterations"] = int(model.g_optimizer.iterations.numpy())
except Crash:
    result["crashed"] = True
except TfgenUsageError as e:
    result["error"] = str(e)
with open(f"{report}/{phase}_{index}.json", "w") as f:
    json.dump(result, f)
"""


def _launch_resuming(phase, out, mnist_dir, report):
    log = _launch_two(RESUMING_WORKER, [out, mnist_dir, report, phase], report)
    results = [json.loads((report / f"{phase}_{i}.json").read_text()) for i in (0, 1)]
    return results, log


@pytest.mark.large
def test_two_workers_resume_from_the_chiefs_checkpoint(tmp_path, mnist_dir):
    from tfgen import reliability

    out, report = tmp_path / "run", tmp_path / "report"
    report.mkdir()
    results, _ = _launch_resuming("crash", out, mnist_dir, report)
    assert results == [{"crashed": True}, {"crashed": True}]
    assert reliability.last_checkpoint_step(out / "checkpoints") == 4  # 32 images / 8

    # A worker that cannot see the checkpoint: both stop with the same clear error, and the
    # chief's checkpoint is left as it was.
    results, _ = _launch_resuming("elsewhere", out, mnist_dir, report)
    for result in results:
        assert "the workers found different checkpoints" in result["error"], result
        assert "worker 0: 4, worker 1: 0" in result["error"]
    assert reliability.last_checkpoint_step(out / "checkpoints") == 4

    results, log = _launch_resuming("resume", out, mnist_dir, report)
    assert results == [{"iterations": 8}, {"iterations": 8}]
    assert "[worker 0] resuming at step 4" in log and "[worker 1] resuming at step 4" in log
    resumed = [np.load(report / f"resume_{i}.npz") for i in (0, 1)]
    for name in resumed[0].files:
        np.testing.assert_array_equal(resumed[0][name], resumed[1][name])
    saved = saving.load_model(out / "model.keras")
    for name, value in zip(resumed[0].files, saved.weights):
        np.testing.assert_array_equal(resumed[0][name], value.numpy())
    assert not (out / "checkpoints").exists()  # the finished run removed its checkpoint

    # The same two workers without the interruption end with the same weights, bit for bit.
    results, _ = _launch_resuming("full", tmp_path / "full", mnist_dir, report)
    assert results == [{"iterations": 8}, {"iterations": 8}]
    full = np.load(report / "full_0.npz")
    for name in full.files:
        np.testing.assert_array_equal(resumed[0][name], full[name])


FINETUNING_WORKER = (
    RECORD_OUTPUT_DIRS
    + """
from tfgen import transfer
source, out, data, report = sys.argv[1:5]
model = transfer.finetune(
    source, data, out, freeze_d=1, steps=2, batch_size=8, limit=32, samples=4, verbose=0,
    strategy="multiworker",
)
np.savez(f"{report}/finetune_{index}.npz", *[w.numpy() for w in model.weights])
with open(f"{report}/finetune_{index}.json", "w") as f:
    json.dump({"wrote_to": used}, f)
"""
)


@pytest.mark.large
def test_two_workers_finetune_and_only_the_chief_writes(tmp_path, mnist_dir):
    from tfgen.models import DCGAN

    source, out, report = tmp_path / "source.keras", tmp_path / "run", tmp_path / "report"
    report.mkdir()
    DCGAN(latent_dim=8, g_width=8, d_width=8).save(source)
    _launch_two(FINETUNING_WORKER, [source, out, mnist_dir, report], report)

    weights = [np.load(report / f"finetune_{i}.npz") for i in (0, 1)]
    for name in weights[0].files:
        np.testing.assert_array_equal(weights[0][name], weights[1][name])
    summary = json.loads((out / "run.json").read_text())
    assert summary["steps"] == 2 and summary["frozen_at_start"]
    tuned = saving.load_model(out / "model.keras")
    for name, value in zip(weights[0].files, tuned.weights):
        np.testing.assert_array_equal(weights[0][name], value.numpy())
    # Only the chief wrote the run folder; the other worker's scratch folder (under TMPDIR =
    # report) is gone.
    chief, other = (json.loads((report / f"finetune_{i}.json").read_text()) for i in (0, 1))
    assert chief["wrote_to"] == [str(out)]
    assert len(other["wrote_to"]) == 1 and pathlib.Path(other["wrote_to"][0]).parent == report
    assert not [p for p in report.iterdir() if p.name.startswith("tfgen-worker-")]
