"""FusedAdam: Keras' Adam results from one ResourceApplyAdam kernel per variable; LinearDecay:
constant, then linear to zero."""

import json

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfgen.errors import TfgenUsageError
from tfgen.models import DCGAN, VAE, WGANGP, CycleGAN
from tfgen.optimizers import FusedAdam, LinearDecay


def run_steps(optimizer, steps=5, seed=0, dtype="float32"):
    """Applies `steps` fixed random gradients to fixed variables; returns the variables and
    the traced update's op types."""
    rng = np.random.default_rng(seed)
    shapes = [(3, 3, 4, 8), (8,), (257,)]
    variables = [keras.Variable(rng.normal(size=s), dtype=dtype) for s in shapes]
    grads = [[tf.constant(rng.normal(size=s), dtype) for s in shapes] for _ in range(steps)]
    if not steps:
        return [v.numpy() for v in variables], set()
    optimizer.build(variables)
    apply = tf.function(lambda g: optimizer.apply(g, variables))
    for g in grads:
        apply(g)
    graph = apply.get_concrete_function(grads[0]).graph
    return [v.numpy() for v in variables], {op.type for op in graph.get_operations()}


@pytest.mark.parametrize(
    "options",
    [
        dict(learning_rate=2e-4, beta_1=0.5),
        dict(learning_rate=1e-3, beta_1=0.0, beta_2=0.9, epsilon=1e-4),
        dict(learning_rate=1e-2, weight_decay=0.1, clipnorm=1.0),
    ],
)
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_fused_adam_matches_keras_adam(options, dtype):
    fused, fused_ops = run_steps(FusedAdam(**options), dtype=dtype)
    reference, reference_ops = run_steps(keras.optimizers.Adam(**options), dtype=dtype)
    start, _ = run_steps(FusedAdam(**options), steps=0, dtype=dtype)
    assert "ResourceApplyAdam" in fused_ops and "ResourceApplyAdam" not in reference_ops
    # The same formula; the kernel orders its multiplies otherwise, so the two differ by
    # rounding: float64 to 1e-12, float32 by a few units in the last place of the weights.
    atol = 1e-12 if dtype == "float64" else 1e-6
    for a, b, s in zip(fused, reference, start):
        assert np.abs(b - s).max() > 1e-4  # the weights moved
        np.testing.assert_allclose(a, b, rtol=0, atol=atol)


def test_amsgrad_runs_keras_code():
    fused, ops = run_steps(FusedAdam(amsgrad=True))
    reference, _ = run_steps(keras.optimizers.Adam(amsgrad=True))
    assert "ResourceApplyAdam" not in ops
    for a, b in zip(fused, reference):
        np.testing.assert_array_equal(a, b)


def test_serialization_round_trip():
    optimizer = FusedAdam(learning_rate=3e-4, beta_1=0.5, beta_2=0.99, epsilon=1e-6)
    config = keras.optimizers.serialize(optimizer)
    assert config["registered_name"] == "tfgen>FusedAdam"
    again = keras.optimizers.deserialize(config)
    assert type(again) is FusedAdam
    assert again.get_config() == optimizer.get_config()


def test_models_default_to_fused_adam():
    dcgan, wgan, vae = DCGAN(), WGANGP(), VAE()
    for model in (dcgan, wgan, vae):
        model.compile()
    cyclegan = CycleGAN(image_shape=(16, 16, 1), g_width=2, d_width=2, n_residual_blocks=0)
    cyclegan.compile()
    optimizers = [dcgan.g_optimizer, dcgan.d_optimizer, wgan.d_optimizer, vae.optimizer]
    optimizers += [cyclegan.g_a2b_optimizer, cyclegan.d_b_optimizer]
    assert all(type(o) is FusedAdam for o in optimizers)
    assert float(vae.optimizer.learning_rate) == pytest.approx(1e-3)
    assert float(wgan.d_optimizer.beta_2) == pytest.approx(0.9)


MIRRORED = """
import json, numpy as np, tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
import keras
from tfgen.optimizers import FusedAdam
x = np.random.default_rng(0).normal(size=(32, 5)).astype(np.float32)
y = np.random.default_rng(1).normal(size=(32, 3)).astype(np.float32)
def train(optimizer_cls, epochs):
    with tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"]).scope():
        keras.utils.set_random_seed(0)
        model = keras.Sequential([keras.Input((5,)), keras.layers.Dense(4), keras.layers.Dense(3)])
        model.compile(optimizer=optimizer_cls(1e-2), loss="mse")
    model.fit(x, y, batch_size=8, epochs=epochs, verbose=0, shuffle=False)
    return model.get_weights()
fused, keras_adam, start = train(FusedAdam, 2), train(keras.optimizers.Adam, 2), train(FusedAdam, 0)
print(json.dumps({
    "diff": max(float(np.abs(a - b).max()) for a, b in zip(fused, keras_adam)),
    "moved": min(float(np.abs(a - b).max()) for a, b in zip(fused, start)),
}))
"""


def test_fused_adam_under_mirrored_strategy_matches_keras_adam(run_program):
    result = json.loads(run_program(MIRRORED).strip().splitlines()[-1])
    assert result["diff"] < 1e-6 and result["moved"] > 1e-3, result


def test_linear_decay_is_constant_then_linear_to_zero():
    schedule = LinearDecay(2e-4, total_steps=100, decay_start=0.5)
    values = [float(schedule(s)) for s in (0, 50, 75, 100, 130)]
    np.testing.assert_allclose(values, [2e-4, 2e-4, 1e-4, 0.0, 0.0], rtol=1e-6, atol=1e-12)
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(schedule))
    assert isinstance(restored, LinearDecay) and restored.get_config() == schedule.get_config()
    with pytest.raises(TfgenUsageError, match="decay_start"):
        LinearDecay(1e-3, 10, decay_start=1.5)
