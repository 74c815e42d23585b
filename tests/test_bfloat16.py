"""Mixed bfloat16: every kind trains finite through the training job, computes its layers in
bfloat16 on float32 variables, and saves, loads and exports float32 in and out."""

import json

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfgen import config, export, saving
from tfgen.training import job

BF16 = "mixed_bfloat16"
TRAIN = {"steps": 2, "batch_size": 8, "samples": 4, "precision": BF16}
# Tiny widths: a few seconds per kind, mostly tracing.
RECIPES = {
    "dcgan": {"model": {"kind": "dcgan", "g_width": 4, "d_width": 4, "latent_dim": 8},
              "data": {"dataset": "mnist", "limit": 16}},
    "wgan_gp": {"model": {"kind": "wgan_gp", "g_width": 4, "d_width": 4, "latent_dim": 8,
                          "n_critic": 2},
                "data": {"dataset": "mnist", "limit": 32}},
    "cgan": {"model": {"kind": "cgan", "g_width": 4, "d_width": 4, "latent_dim": 8},
             "data": {"dataset": "mnist", "limit": 16}},
    "pix2pix": {"model": {"kind": "pix2pix", "g_width": 2, "d_width": 2},
                "data": {"dataset": "mnist", "limit": 16, "task": "superres"}},
    "cyclegan": {"model": {"kind": "cyclegan", "g_width": 2, "d_width": 2,
                           "n_residual_blocks": 0, "n_downsamples": 1},
                 "data": {"dataset": "mnist", "dataset_b": "mnist", "halves": True,
                          "invert_b": True, "limit": 32, "image_size": 8},
                 "train": {"batch_size": 2}},
    "vae": {"model": {"kind": "vae", "width": 4, "latent_dim": 4, "likelihood": "logistic"},
            "data": {"dataset": "mnist", "limit": 16}},
}  # fmt: skip


def train(recipe, out, data_dir):
    recipe = {**recipe, "train": {**TRAIN, **recipe.get("train", {})}}
    model = job.run(config.from_dict(recipe), out, verbose=0, data_dir=str(data_dir))
    assert keras.mixed_precision.dtype_policy().name == "float32", "the policy is restored"
    return model


def networks(model):
    return [v for v in vars(model).values() if isinstance(v, keras.Model)] or [model]


def assert_bfloat16_layers(model):
    """Convolutions compute in bfloat16; every variable (BatchNorm statistics, optimizer-free
    weights, EMA copies) stays float32."""
    convs = [
        layer
        for net in networks(model)
        for layer in net._flatten_layers(include_self=False)
        if isinstance(layer, keras.layers.Conv2D | keras.layers.Conv2DTranspose)
    ]
    assert convs and any(layer.compute_dtype == "bfloat16" for layer in convs)
    assert all(layer.variable_dtype == "float32" for layer in convs)
    assert {w.dtype for w in model.weights} <= {"float32", "int32"}  # int32: pool counts


def assert_finite_run(out):
    summary = json.loads((out / "run.json").read_text())
    assert summary["precision"] == BF16
    metrics = summary["final_metrics"]
    assert metrics and all(np.isfinite(v) for v in metrics.values()), metrics
    return metrics


def public_outputs(model, kind):
    """The model's float32 outputs through its public API."""
    if kind in ("dcgan", "wgan_gp", "cgan", "vae"):
        return [model.generate(3, seed=1)]
    if kind == "pix2pix":
        x = np.random.default_rng(0).uniform(-1, 1, (2, *model.input_shape_)).astype("float32")
        return [model.translate(x)]
    shape = model.generator_a2b.inputs[0].shape[1:]
    x = np.random.default_rng(0).uniform(-1, 1, (2, *shape)).astype("float32")
    return [model.translate(x, "a2b"), model.translate(x, "b2a")]


def assert_float32_finite(arrays):
    for a in arrays:
        a = keras.ops.convert_to_numpy(a)
        assert a.dtype == np.float32 and np.isfinite(a).all()


def assert_float32_export(model, path):
    loaded = tf.saved_model.load(str(export.saved_model(model, path)))
    for name, fn in loaded.signatures.items():
        specs = fn.structured_input_signature[1]
        assert all(s.dtype in (tf.float32, tf.uint8, tf.int32, tf.int64) for s in specs.values())
        floats = [s for s in specs.values() if s.dtype == tf.float32]
        if not floats or len(specs) != len(floats):
            continue  # integer inputs (generate, uint8 and label signatures)
        inputs = {s.name: tf.random.uniform([2, *s.shape[1:]], -1.0, 1.0, seed=1) for s in floats}
        outputs = fn(**inputs)
        for key, value in outputs.items():
            if value.dtype != tf.uint8:
                assert value.dtype == tf.float32, (name, key, value.dtype)
                assert np.isfinite(value.numpy()).all(), (name, key)


# DCGAN in the default suite; the other kinds (about 5 s each) with the large tests.
@pytest.mark.parametrize(
    "kind",
    [k if k == "dcgan" else pytest.param(k, marks=pytest.mark.large) for k in sorted(RECIPES)],
)
def test_every_kind_trains_saves_and_exports_in_mixed_bfloat16(kind, tmp_path, data_dir):
    model = train(RECIPES[kind], tmp_path / "run", data_dir)
    metrics = assert_finite_run(tmp_path / "run")
    if kind == "wgan_gp":
        assert metrics["gradient_penalty"] > 0
    assert_bfloat16_layers(model)
    loaded = saving.load_model(tmp_path / "run" / "model.keras")
    assert_bfloat16_layers(loaded)
    assert_float32_finite(public_outputs(loaded, kind))
    assert_float32_export(loaded, tmp_path / "export")


# --------------------------------------------------------------------------- changing precision
TINY = {
    "dcgan": dict(latent_dim=8, g_width=4, d_width=4, ema=0.9),
    "wgan_gp": dict(latent_dim=8, g_width=4, d_width=4, spectral_norm=True),
    "cgan": dict(latent_dim=8, g_width=4, d_width=4),
    "pix2pix": dict(image_shape=(16, 16, 1), output_channels=3, g_width=2, d_width=2),
    "cyclegan": dict(image_shape=(8, 8, 1), g_width=2, d_width=2, n_residual_blocks=1,
                     n_downsamples=1, pool_size=2),
    "vae": dict(latent_dim=4, width=4, likelihood="logistic"),
}  # fmt: skip


def compute_dtypes(model):
    # Names, not paths: a deserialized spectral-norm wrapper's inner layer has another path.
    return sorted(
        (layer.name, layer.compute_dtype)
        for layer in model._flatten_layers(include_self=False)
        if not isinstance(layer, keras.layers.InputLayer)
    )


@pytest.mark.parametrize("kind", sorted(TINY))
def test_with_precision_computes_as_a_model_built_under_that_policy(kind):
    from tfgen import precision, registry

    cls = registry.get_model_class(kind)
    built = {}
    for name in ("float32", BF16):
        keras.utils.set_random_seed(0)
        with precision.policy(name):
            built[name] = cls(**TINY[kind])
    for source, target in (("float32", BF16), (BF16, "float32")):
        copy = precision.with_precision(built[source], target)
        assert compute_dtypes(copy) == compute_dtypes(built[target])
        assert {w.dtype for w in copy.weights} <= {"float32", "int32"}
        for a, b in zip(copy.get_weights(), built[source].get_weights(), strict=True):
            np.testing.assert_array_equal(a, b)
        assert precision.with_precision(copy, target) is copy


def test_a_float32_model_fine_tunes_in_mixed_bfloat16(tmp_path, data_dir):
    from tfgen.models import DCGAN

    source = tmp_path / "source.keras"
    DCGAN(**TINY["dcgan"]).save(source)  # built under float32
    recipe = {
        "data": {"dataset": "fashion_mnist", "limit": 16},
        "finetune": {"source": str(source), "freeze_d": 1},
    }
    model = train(recipe, tmp_path / "run", data_dir)
    assert_finite_run(tmp_path / "run")
    assert_bfloat16_layers(model)
    assert model.discriminator.get_layer("logit").compute_dtype == "float32"
    loaded = saving.load_model(tmp_path / "run" / "model.keras")
    assert_bfloat16_layers(loaded)
    assert_float32_finite(public_outputs(loaded, "dcgan"))
    assert_float32_export(loaded, tmp_path / "export")


# --------------------------------------------------------------------------- fused kernels
def _bn_pair(shape):
    """Keras' BatchNormalization and tfgen's fused one, both mixed_bfloat16, same weights."""
    from tfgen.networks.fused_batch_norm import FusedBatchNormalization

    rng = np.random.default_rng(0)
    layers = []
    for cls in (keras.layers.BatchNormalization, FusedBatchNormalization):
        layer = cls(momentum=0.9, dtype=BF16)
        layer.build(shape)
        layers.append(layer)
    weights = [rng.uniform(0.5, 1.5, w.shape).astype("float32") for w in layers[0].weights]
    for layer in layers:
        layer.set_weights(weights)
    return layers


def _bn_step(layer, x):
    @tf.function
    def step(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = layer(x, training=True)
            loss = tf.reduce_sum(tf.cast(y, "float32") * tf.sin(tf.cast(y, "float32")))
        return [y, *tape.gradient(loss, [x, *layer.trainable_weights])]

    outputs = step(x)
    ops = step.get_concrete_function(x).graph.get_operations()
    fused = [op for op in ops if op.type == "FusedBatchNormV3"]
    values = [tf.cast(t, "float32").numpy() for t in outputs]
    return values + [layer.moving_mean.numpy(), layer.moving_variance.numpy()], fused


@pytest.mark.parametrize("shape", [(16, 6, 6, 8), (16, 12)])
def test_fused_batch_norm_runs_its_kernel_on_bfloat16_and_matches_keras(shape):
    """FusedBatchNormV3 takes bfloat16 itself (no cast to float32 around it); the output and
    input gradient agree with Keras' layer to bfloat16 rounding, gamma's and beta's gradients
    and the moving statistics (float32) to float32 rounding of bfloat16 inputs."""
    x = tf.cast(np.random.default_rng(1).normal(2.0, 3.0, shape), "bfloat16")
    keras_bn, fused_bn = _bn_pair(shape)
    expected, none = _bn_step(keras_bn, x)
    got, fused = _bn_step(fused_bn, x)
    assert not none and len(fused) == 1
    assert fused[0].get_attr("T") == tf.bfloat16 and fused[0].get_attr("U") == tf.float32
    assert fused[0].inputs[0].dtype == tf.bfloat16
    names = ["y", "dx", "dgamma", "dbeta", "moving_mean", "moving_variance"]
    # bfloat16 keeps 8 bits: the two paths round float32 results that differ in their last
    # bits, so a bfloat16 value may land one step (2^-8 relative) apart.
    bf16_step = 2.0**-7
    tolerances = [bf16_step, 2 * bf16_step, 1e-4, 1e-4, 1e-5, 1e-5]
    for name, a, b, tol in zip(names, got, expected, tolerances, strict=True):
        np.testing.assert_allclose(a, b, rtol=0, atol=tol * max(1.0, np.abs(b).max()), err_msg=name)


def test_fused_adam_updates_float32_variables_from_float32_gradients_in_bfloat16(monkeypatch):
    """Under mixed_bfloat16 the variables are float32 and their gradients come back float32
    through the layers' casts, so FusedAdam runs ResourceApplyAdam in float32 and equals
    Keras' Adam to float32 rounding."""
    from tfgen import precision
    from tfgen.optimizers import FusedAdam

    seen = []
    update_step = FusedAdam.update_step

    def spy(self, gradient, variable, learning_rate):
        seen.append((tf.as_dtype(gradient.dtype).name, tf.as_dtype(variable.dtype).name))
        return update_step(self, gradient, variable, learning_rate)

    monkeypatch.setattr(FusedAdam, "update_step", spy)
    x = tf.constant(np.random.default_rng(0).normal(size=(8, 6, 6, 3)), "float32")
    results, op_types = [], []
    for optimizer in (FusedAdam(1e-2, beta_1=0.5), keras.optimizers.Adam(1e-2, beta_1=0.5)):
        keras.utils.set_random_seed(0)
        with precision.policy(BF16):
            net = keras.Sequential(
                [keras.Input((6, 6, 3)), keras.layers.Conv2D(4, 3), keras.layers.Dense(2)]
            )
        assert net.layers[0].compute_dtype == "bfloat16"

        @tf.function
        def step(x, net=net, optimizer=optimizer):
            with tf.GradientTape() as tape:
                loss = tf.reduce_mean(tf.square(tf.cast(net(x), "float32")))
            grads = tape.gradient(loss, net.trainable_variables)
            optimizer.apply(grads, net.trainable_variables)

        for _ in range(3):
            step(x)
        results.append(net.get_weights())
        op_types.append({op.type for op in step.get_concrete_function(x).graph.get_operations()})
    assert seen and set(seen) == {("float32", "float32")}
    assert "ResourceApplyAdam" in op_types[0] and "ResourceApplyAdam" not in op_types[1]
    for a, b in zip(*results, strict=True):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-6)
