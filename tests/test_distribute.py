"""tf.distribute: MirroredStrategy on 2 logical CPU devices trains exactly like one device."""

import os
import pathlib
import subprocess
import sys

import pytest

from tfgen import distribute
from tfgen.errors import TfgenUsageError

REPO = pathlib.Path(__file__).resolve().parent.parent

# 3 steps at global batch 8: one device vs two replicas of 4, same initial weights and seed.
EQUIVALENCE = """
import numpy as np, tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
import keras
from tfgen.models import DCGAN
images = np.random.default_rng(0).uniform(-1, 1, (24, 28, 28, 1)).astype(np.float32)
def build(strategy):
    with strategy.scope():
        model = DCGAN(latent_dim=8, g_width=8, d_width=8, seed=3)
        model.compile(g_optimizer=keras.optimizers.SGD(0.05), d_optimizer=keras.optimizers.SGD(0.05))
    return model
single = build(tf.distribute.get_strategy())
mirrored = build(tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"]))
mirrored.set_weights(single.get_weights())
ds = tf.data.Dataset.from_tensor_slices(images).batch(8)
logs_1 = single.fit(ds, epochs=1, verbose=0).history
logs_2 = mirrored.fit(ds, epochs=1, verbose=0).history
worst = max(
    float(np.max(np.abs(a.numpy() - b.numpy()) / (np.abs(a.numpy()) + 1e-3)))
    for a, b in zip(single.weights, mirrored.weights)
)
print("WORST", worst, "D_LOSS", logs_1["d_loss"][0], logs_2["d_loss"][0])
"""


def test_mirrored_dcgan_matches_one_device():
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": str(REPO)}
    result = subprocess.run(
        [sys.executable, "-c", EQUIVALENCE], env=env, capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stderr[-3000:]
    fields = result.stdout.split()
    worst = float(fields[fields.index("WORST") + 1])
    d_single, d_mirrored = (float(v) for v in fields[fields.index("D_LOSS") + 1 :][:2])
    assert worst < 1e-4, result.stdout
    assert abs(d_single - d_mirrored) < 1e-4 * abs(d_single)


def test_global_mean_divides_by_the_global_batch():
    import tensorflow as tf

    assert float(distribute.global_mean(tf.constant([1.0, 2.0, 3.0, 6.0]))) == 3.0
    per_pixel = tf.reshape(tf.range(8, dtype=tf.float32), [2, 2, 2])
    assert float(distribute.global_mean(per_pixel)) == 3.5


def test_replica_noise_is_seeded():
    a = distribute.replica_normal(4, [3], seed=1, step=0, salt=1)
    b = distribute.replica_normal(4, [3], seed=1, step=0, salt=1)
    c = distribute.replica_normal(4, [3], seed=1, step=1, salt=1)
    assert a.shape == (4, 3) and bool((a == b).numpy().all()) and not bool((a == c).numpy().all())


def test_strategy_names():
    assert distribute.get_strategy("auto").num_replicas_in_sync == 1
    with pytest.raises(TfgenUsageError, match="unknown strategy 'gpu-please'"):
        distribute.get_strategy("gpu-please")
    with pytest.raises(TfgenUsageError, match="no TPU found"):
        distribute.get_strategy("tpu")
    assert distribute.xla_supported() is False  # CPU only here: XLA is slower than oneDNN


# --jit on over 2 logical CPU devices: refused before training, since XLA fails there.
JIT_ON_TWO_CPUS = """
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
from tfgen import distribute
from tfgen.errors import TfgenUsageError
with tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"]).scope():
    print("OFF", distribute.resolve_jit("off"), "AUTO", distribute.resolve_jit("auto"))
    try:
        distribute.resolve_jit("on")
    except TfgenUsageError as e:
        print("REFUSED", e)
"""


def test_jit_flag():
    assert distribute.resolve_jit("on") is True  # one CPU device: XLA works, only slower
    assert distribute.resolve_jit("off") is False
    assert distribute.resolve_jit("auto") == "auto"
    with pytest.raises(TfgenUsageError, match="unknown --jit 'yes'"):
        distribute.resolve_jit("yes")
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": str(REPO)}
    result = subprocess.run(
        [sys.executable, "-c", JIT_ON_TWO_CPUS],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "OFF False AUTO auto" in result.stdout
    assert "REFUSED --jit on fails with several CPU devices (2 replicas)" in result.stdout


# WGAN-GP: 3 steps of n_critic=2 critic updates with the gradient penalty, global batch 8 on
# 2 replicas vs one device. Measured by hand: worst relative weight difference 8.8e-6; with
# each replica dividing by its own batch (no global-batch scaling) it was 60.
WGAN_GP_EQUIVALENCE = """
import numpy as np, tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
import keras
from tfgen.models import WGANGP
images = np.random.default_rng(0).uniform(-1, 1, (24, 28, 28, 1)).astype(np.float32)
def build(strategy):
    with strategy.scope():
        model = WGANGP(latent_dim=8, g_width=8, d_width=8, n_critic=2, seed=3)
        model.compile(g_optimizer=keras.optimizers.SGD(0.01), d_optimizer=keras.optimizers.SGD(0.01))
    return model
single = build(tf.distribute.get_strategy())
mirrored = build(tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"]))
mirrored.set_weights(single.get_weights())
ds = tf.data.Dataset.from_tensor_slices(images).batch(8)
logs_1 = single.fit(ds, epochs=1, verbose=0).history
logs_2 = mirrored.fit(ds, epochs=1, verbose=0).history
worst = max(
    float(np.max(np.abs(a.numpy() - b.numpy()) / (np.abs(a.numpy()) + 1e-3)))
    for a, b in zip(single.weights, mirrored.weights)
)
print("WORST", worst, "GP", logs_1["gradient_penalty"][0], logs_2["gradient_penalty"][0])
"""


def test_mirrored_wgan_gp_matches_one_device():
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": str(REPO)}
    result = subprocess.run(
        [sys.executable, "-c", WGAN_GP_EQUIVALENCE],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    fields = result.stdout.split()
    worst = float(fields[fields.index("WORST") + 1])
    gp_single, gp_mirrored = (float(v) for v in fields[fields.index("GP") + 1 :][:2])
    assert worst < 1e-4, result.stdout
    assert abs(gp_single - gp_mirrored) < 1e-4 * abs(gp_single)
