"""FusedBatchNormalization: the same outputs, gradients and moving statistics as Keras'
BatchNormalization, computed by the fused op in training mode and by Keras' code otherwise."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfgen.networks import fused_batch_norm
from tfgen.networks.fused_batch_norm import FusedBatchNormalization


def _pair(shape, **kwargs):
    """A Keras BatchNormalization and a FusedBatchNormalization with the same weights."""
    stock = keras.layers.BatchNormalization(**kwargs)
    fused = FusedBatchNormalization(**kwargs)
    rng = np.random.default_rng(0)
    for layer in (stock, fused):
        layer.build(shape)
    stock.set_weights([rng.normal(size=w.shape).astype("float32") ** 2 for w in stock.weights])
    fused.set_weights(stock.get_weights())
    return stock, fused


def _train_call(layer, x):
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = layer(x, training=True)
        loss = tf.reduce_sum(y * tf.sin(y))  # a loss whose gradient differs per element
    grads = tape.gradient(loss, [x, *layer.trainable_weights])
    return [y, *grads, layer.moving_mean, layer.moving_variance]


def _close(a, b):
    a, b = np.asarray(a), np.asarray(b)
    np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4 * max(1.0, float(np.abs(b).max())))


@pytest.mark.parametrize("shape", [(32, 5, 6, 8), (32, 12), (32, 7, 8)])
def test_training_step_matches_keras(shape):
    x = tf.constant(np.random.default_rng(1).normal(2.0, 3.0, shape).astype("float32"))
    stock, fused = _pair(shape, momentum=0.9)
    moving_before = fused.moving_variance.numpy().copy()
    for got, expected in zip(_train_call(fused, x), _train_call(stock, x), strict=True):
        _close(got, expected)
    # The moving variance moved towards the biased batch variance, as Keras' does.
    biased = np.var(x.numpy().reshape(-1, shape[-1]), axis=0)
    _close(fused.moving_variance.numpy(), 0.9 * moving_before + 0.1 * biased)


def _traced_op_types(layer, shape):
    graph = tf.function(lambda x: layer(x, training=True)).get_concrete_function(
        tf.TensorSpec(shape)
    )
    return {op.type for op in graph.graph.get_operations()}


def test_training_step_runs_the_fused_op_unless_unfused():
    shape = (8, 4, 4, 3)
    fused = FusedBatchNormalization()
    fused.build(shape)
    assert "FusedBatchNormV3" in _traced_op_types(fused, shape)
    with fused_batch_norm.unfused():
        assert "FusedBatchNormV3" not in _traced_op_types(fused, shape)
    assert "FusedBatchNormV3" in _traced_op_types(fused, shape)  # restored after the block


def test_inference_is_keras_own_code_and_identical():
    shape = (16, 3, 3, 5)
    x = tf.random.normal(shape)
    stock, fused = _pair(shape)
    np.testing.assert_array_equal(fused(x, training=False), stock(x, training=False))


def test_frozen_layer_uses_and_keeps_its_moving_statistics():
    shape = (16, 3, 3, 5)
    x = tf.random.normal(shape, mean=4.0)
    stock, fused = _pair(shape)
    fused.trainable = False
    stock.trainable = False
    before = [w.numpy().copy() for w in fused.weights]
    np.testing.assert_array_equal(fused(x, training=True), stock(x, training=True))
    for w, b in zip(fused.weights, before, strict=True):
        np.testing.assert_array_equal(w.numpy(), b)


@pytest.mark.parametrize("kwargs", [{"epsilon": 1e-6}, {"center": False, "scale": False}])
def test_settings_the_fused_kernel_refuses_or_lacks_still_match(kwargs):
    shape = (16, 4, 4, 3)
    x = tf.random.normal(shape)
    stock, fused = _pair(shape, **kwargs)
    for got, expected in zip(_train_call(fused, x), _train_call(stock, x), strict=True):
        _close(got, expected)


def test_mixed_precision_output_dtype_and_values():
    shape = (16, 4, 4, 3)
    x = tf.random.normal(shape)
    stock, fused = _pair(shape, dtype="mixed_bfloat16")
    y = fused(tf.cast(x, "bfloat16"), training=True)
    assert y.dtype == tf.bfloat16
    expected = stock(tf.cast(x, "bfloat16"), training=True)
    np.testing.assert_allclose(
        tf.cast(y, "float32"), tf.cast(expected, "float32"), rtol=2e-2, atol=2e-2
    )


def test_serializes_under_tfgen_and_round_trips_through_keras_file(tmp_path):
    inputs = keras.Input((4, 4, 3))
    outputs = FusedBatchNormalization(momentum=0.8, epsilon=1e-3, name="bn")(inputs)
    model = keras.Model(inputs, outputs)
    model.get_layer("bn").set_weights([np.full(3, v, "float32") for v in (1.5, 0.2, 0.3, 2.0)])
    assert keras.saving.serialize_keras_object(model.get_layer("bn"))["registered_name"] == (
        "tfgen>FusedBatchNormalization"
    )
    path = tmp_path / "bn.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert type(loaded.get_layer("bn")) is FusedBatchNormalization
    assert loaded.get_layer("bn").momentum == 0.8
    x = np.random.default_rng(2).normal(size=(5, 4, 4, 3)).astype("float32")
    np.testing.assert_array_equal(loaded(x, training=False), model(x, training=False))
    np.testing.assert_array_equal(loaded(x, training=True), model(x, training=True))


def test_benchmark_references_clone_to_stock_keras_batch_norm():
    """benchmarks/benchmark.py's references must run Keras' own BatchNorm, or the ratio would
    not measure the fused path against the layer the official examples use."""
    import importlib.util
    import pathlib

    from tfgen.networks import dcgan

    path = pathlib.Path(__file__).resolve().parents[2] / "benchmarks" / "bench_references.py"
    spec = importlib.util.spec_from_file_location("bench_references", path)
    bench_references = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench_references)
    generator = dcgan.build_generator(latent_dim=8, width=8)
    reference = bench_references.clone(generator)
    norms = [layer for layer in reference.layers if "_bn" in layer.name]
    assert norms and all(type(layer) is keras.layers.BatchNormalization for layer in norms)
    assert any(isinstance(layer, FusedBatchNormalization) for layer in generator.layers)
    reference.set_weights(generator.get_weights())
    z = np.random.default_rng(3).normal(size=(16, 8)).astype("float32")
    np.testing.assert_allclose(reference(z, training=True), generator(z, training=True), atol=1e-5)
