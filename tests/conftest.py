"""Shared fixtures: the real data beside the project, fixed seeds, quiet TensorFlow."""

import os
import pathlib

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parent.parent
SHARED_DATA = pathlib.Path(os.environ.get("TFGEN_DATA_DIR", ROOT.parent / "shared" / "data"))


@pytest.fixture(autouse=True)
def _seed():
    keras.utils.set_random_seed(1234)
    yield


@pytest.fixture(scope="session")
def data_dir():
    """The shared data folder (../shared/data), which holds mnist/ and fashion_mnist/."""
    assert (SHARED_DATA / "mnist").is_dir(), f"real data not found at {SHARED_DATA}"
    return SHARED_DATA


@pytest.fixture(scope="session")
def mnist_dir(data_dir):
    return data_dir / "mnist"


@pytest.fixture(scope="session")
def fashion_dir(data_dir):
    return data_dir / "fashion_mnist"


@pytest.fixture(scope="session")
def mnist_test_arrays(mnist_dir):
    """Real MNIST test digits as (uint8 [N, 28, 28, 1], int32 [N])."""
    from tfgen.data import load_idx

    return load_idx(mnist_dir, "test")


@pytest.fixture
def rng():
    return np.random.default_rng(0)


@pytest.fixture
def tiny_cyclegan_cli(tmp_path):
    """(digits, argv): 8 random 8x8 images split into two .npz domains (b inverted) and the
    `tfgen train cyclegan` arguments of a CycleGAN small enough to train in seconds on them;
    callers add `--steps` and their own flags."""
    digits = np.random.default_rng(0).integers(0, 256, (8, 8, 8, 1), dtype=np.uint8)
    np.savez(tmp_path / "a.npz", x=digits[:4])
    np.savez(tmp_path / "b.npz", x=255 - digits[4:])
    options = ["g_width=2", "d_width=2", "n_residual_blocks=0", "n_downsamples=1"]
    argv = ["train", "cyclegan", "--dataset", str(tmp_path / "a.npz")]
    argv += ["--dataset-b", str(tmp_path / "b.npz"), "--batch-size", "2"]
    argv += [arg for option in options for arg in ("--option", option)]
    return digits, argv


# Trains one model on one device and the same model (same seeded weights, same seed) on two logical
# CPU devices under MirroredStrategy, 3 steps at global batch 8, in a fresh process (logical
# devices must be set before TensorFlow starts). `report` is Python that prints one JSON line
# from `single`, `mirrored`, their histories `logs_1`/`logs_2` and `worst(vars_a, vars_b)`.
TWO_REPLICAS = """
import json, numpy as np, tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
import keras
from tfgen import models
# Seeded weights: with some random draws a pre-activation lands within float noise of a
# LeakyReLU kink, the two runs take different slopes there and differ by ~1e-4 absolute.
keras.utils.set_random_seed(1)
images = np.random.default_rng(0).uniform(-1, 1, (24, 28, 28, 1)).astype(np.float32)
def build(strategy):
    with strategy.scope():
        model = models.{model}
        model.compile(g_optimizer=keras.optimizers.SGD({lr}), d_optimizer=keras.optimizers.SGD({lr}))
    return model
single = build(tf.distribute.get_strategy())
mirrored = build(tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"]))
mirrored.set_weights(single.get_weights())
ds = tf.data.Dataset.from_tensor_slices(images).batch(8)
logs_1 = single.fit(ds, epochs=1, verbose=0).history
logs_2 = mirrored.fit(ds, epochs=1, verbose=0).history
def worst(vars_a, vars_b):
    return max(
        float(np.max(np.abs(a.numpy() - b.numpy()) / (np.abs(a.numpy()) + 1e-3)))
        for a, b in zip(vars_a, vars_b)
    )
{report}
"""


@pytest.fixture(scope="session")
def run_program():
    """`run(program, *args, timeout=600) -> stdout`: runs Python source in a fresh process
    (for process-wide settings: logical devices, op determinism) and asserts it succeeded."""
    import subprocess
    import sys

    def run(program, *args, timeout=600):
        env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": str(ROOT)}
        result = subprocess.run(
            [sys.executable, "-c", program, *map(str, args)],
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        assert result.returncode == 0, result.stderr[-3000:]
        return result.stdout

    return run


@pytest.fixture(scope="session")
def two_replica_run(run_program):
    """`run(model, lr, report) -> dict`: see TWO_REPLICAS; `model` is e.g. "DCGAN(seed=3)"."""
    import json

    def run(model, lr, report):
        stdout = run_program(TWO_REPLICAS.format(model=model, lr=lr, report=report))
        return json.loads(stdout.strip().splitlines()[-1])

    return run
