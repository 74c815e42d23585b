"""DiffAugment / ADA and R1 for CycleGAN's two discriminators (issue 11)."""

import json
import os
import pathlib
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfgen.errors import TfgenUsageError
from tfgen.models.cyclegan import CycleGAN

REPO = pathlib.Path(__file__).resolve().parent.parent
SHAPE = (16, 16, 1)
K, M, P, Q = 0.5, -1.5, 0.8, -0.3  # G(x) = K x, F(x) = M x, D_A(x) = P x, D_B(x) = Q x


def conv_net(name, factor, bias=0.0):
    """x -> factor * x + bias per pixel: a 1x1 conv with known weights."""
    inputs = keras.Input(SHAPE)
    outputs = keras.layers.Conv2D(
        1,
        1,
        kernel_initializer=keras.initializers.Constant(factor),
        bias_initializer=keras.initializers.Constant(bias),
        name=f"{name}_conv",
    )(inputs)
    return keras.Model(inputs, outputs, name=name)


def linear_cyclegan(d_a=(P, 0.0), d_b=(Q, 0.0), **kwargs):
    """A CycleGAN of per-pixel linear networks; `d_a`, `d_b` are (factor, bias)."""
    return CycleGAN(
        image_shape=SHAPE,
        generator_a2b=conv_net("g_a2b", K),
        generator_b2a=conv_net("g_b2a", M),
        discriminator_a=conv_net("d_a", *d_a),
        discriminator_b=conv_net("d_b", *d_b),
        **kwargs,
    )


def frozen_compile(model, **kwargs):
    """Compiles with zero learning rates: every step sees the same weights."""
    model.compile(
        g_a2b_optimizer=keras.optimizers.SGD(0.0),
        g_b2a_optimizer=keras.optimizers.SGD(0.0),
        d_a_optimizer=keras.optimizers.SGD(0.0),
        d_b_optimizer=keras.optimizers.SGD(0.0),
        **kwargs,
    )
    return model


def images(n, seed, shape=SHAPE):
    return tf.constant(np.random.default_rng(seed).uniform(-1, 1, (n, *shape)).astype("float32"))


def run_step(model, a, b):
    return {k: float(np.asarray(v).reshape(-1)[0]) for k, v in model.train_step((a, b)).items()}


# ----------------------------------------------------------------- options and defaults
def test_default_model_has_no_augmenters_logs_or_extra_config():
    model = frozen_compile(linear_cyclegan())
    assert model.augmenter_a is None and model.augmenter_b is None
    assert not {"augment", "ada_target", "r1_gamma", "augment_transforms"} & set(model.get_config())
    logs = run_step(model, images(2, 1), images(2, 2))
    assert not any(name.startswith(("ada_", "r1_")) for name in logs)


def test_bad_options_are_usage_errors():
    with pytest.raises(TfgenUsageError, match="unknown augment 'mixup'"):
        linear_cyclegan(augment="mixup")
    with pytest.raises(TfgenUsageError, match="ada_target"):
        linear_cyclegan(augment="ada", ada_target=1.5)
    with pytest.raises(TfgenUsageError, match="r1_gamma"):
        linear_cyclegan(r1_gamma=-1.0)
    from tfgen.augment import Augmenter

    with pytest.raises(TfgenUsageError, match="one augmenter per discriminator"):
        linear_cyclegan(augment=Augmenter("ada"))


# ----------------------------------------------------------------- what each network sees
@pytest.mark.parametrize("mode", ["diffaugment", "ada"])
def test_augmentation_changes_what_d_sees_but_not_cycle_or_identity(mode):
    a, b = images(4, 1), images(4, 2)
    plain = frozen_compile(linear_cyclegan())
    model = frozen_compile(linear_cyclegan(augment=mode))
    if mode == "ada":
        model.augmenter_a.p.assign(1.0)  # forced: every transform hits every image
        model.augmenter_b.p.assign(1.0)
    # What D_B sees at step 0: augmented reals, augmented pooled fakes (the pool is empty at
    # the first step, so this step's fakes) and, in G's term, this step's fakes with own draws.
    real_b = model.augment_images(b, "b", "real").numpy()
    pooled_b = model.augment_images(K * a, "b", "pooled").numpy()
    fake_b = model.augment_images(K * a, "b", "fake").numpy()
    assert np.abs(real_b - b.numpy()).max() > 0.1
    assert np.abs(fake_b - pooled_b).max() > 0.1  # separate draws
    got, want = run_step(model, a, b), run_step(plain, a, b)
    for name in ("a2b_cycle", "b2a_cycle", "a2b_identity", "b2a_identity"):
        assert got[name] == want[name], name  # bit-for-bit: raw images only
    for name in ("a2b_adversarial", "b2a_adversarial", "a2b_discriminator", "b2a_discriminator"):
        assert abs(got[name] - want[name]) > 1e-3, name
    d_b = 0.5 * np.mean((Q * real_b - 1) ** 2) + 0.5 * np.mean((Q * pooled_b) ** 2)
    assert got["a2b_discriminator"] == pytest.approx(d_b, rel=1e-5)
    assert got["a2b_adversarial"] == pytest.approx(0.5 * np.mean((Q * fake_b - 1) ** 2), rel=1e-5)


def test_ada_at_p_zero_trains_exactly_like_no_augmentation():
    a, b = images(4, 1), images(4, 2)
    plain = linear_cyclegan(pool_size=2)
    model = linear_cyclegan(pool_size=2, augment="ada", ada_interval=100)
    for m in (plain, model):
        m.compile()
    for step in range(3):
        got, want = run_step(model, a, b), run_step(plain, a, b)
        assert {k: got[k] for k in want} == want, step
    for x, y in zip(model.get_weights(), plain.get_weights()):
        np.testing.assert_array_equal(x, y)


def test_diffaugment_gradients_reach_the_generators():
    a, b = images(4, 1), images(4, 2)
    grads = {}
    for mode in (None, "diffaugment"):
        # Adversarial terms only: any gradient G gets went through D and the augmentation.
        model = frozen_compile(linear_cyclegan(augment=mode, cycle_weight=0, identity_weight=0))
        variables = model.generator_a2b.trainable_variables + (
            model.generator_b2a.trainable_variables
        )
        with tf.GradientTape() as tape:
            per_example, _, _ = model._generator_losses(a, b, training=True)
            loss = tf.reduce_mean(per_example["g_loss"])
        grads[mode] = [g.numpy() for g in tape.gradient(loss, variables)]
    for g, g_plain in zip(grads["diffaugment"], grads[None]):
        assert np.all(np.isfinite(g)) and np.abs(g).max() > 1e-3
        assert np.abs(g - g_plain).max() > 1e-4  # it depends on what the augmentation did


# ----------------------------------------------------------------- ADA's controller, per D
def test_ada_p_moves_toward_the_target_for_each_discriminator_on_its_own():
    a, b = images(4, 1), images(4, 2)

    def model(loss):
        # Constant discriminators: D_A(x) = 3 (sure of every real), D_B(x) = 0.3.
        m = linear_cyclegan(
            d_a=(0.0, 3.0), d_b=(0.0, 0.3), augment="ada", ada_interval=2, ada_speed_images=16
        )
        frozen_compile(m, loss=loss)
        m.augmenter_b.p.assign(0.5)
        return m

    # Least squares (labels 1 / 0): 0.3 is on the fake side of 0.5, so D_B's r_t = -1.
    lsgan = model("least_squares")
    logs = run_step(lsgan, a, b)
    assert (logs["ada_p_a"], logs["ada_p_b"]) == (0.0, 0.5)  # adjusted every 2 steps
    logs = run_step(lsgan, a, b)
    assert (logs["ada_rt_a"], logs["ada_rt_b"]) == (1.0, -1.0)
    # 8 real images per domain seen / 16: p moves by 0.5, up for D_A, down for D_B.
    assert (logs["ada_p_a"], logs["ada_p_b"]) == (0.5, 0.0)
    assert float(lsgan.augmenter_a.p) == 0.5 and float(lsgan.augmenter_b.p) == 0.0
    # A logit loss (boundary 0): D_B's 0.3 is on the real side, so its p rises too.
    logits = model("non_saturating")
    run_step(logits, a, b)
    logs = run_step(logits, a, b)
    assert (logs["ada_rt_b"], logs["ada_p_a"], logs["ada_p_b"]) == (1.0, 0.5, 1.0)


# ----------------------------------------------------------------- R1
def test_r1_of_linear_discriminators_is_their_squared_weight_times_pixels():
    a, b = images(4, 1), images(4, 2)
    plain = frozen_compile(linear_cyclegan(augment="diffaugment"))
    model = frozen_compile(linear_cyclegan(augment="diffaugment", r1_gamma=2.0))
    got, want = run_step(model, a, b), run_step(plain, a, b)
    pixels = np.prod(SHAPE)
    assert got["r1_a"] == pytest.approx(P**2 * pixels, rel=1e-5)
    assert got["r1_b"] == pytest.approx(Q**2 * pixels, rel=1e-5)
    # The penalty is the discriminators' alone: the generators' losses do not change.
    assert got["g_loss"] == want["g_loss"]
    assert "r1_a" in model.metric_names and "r1_a" not in plain.metric_names


# ----------------------------------------------------------------- serialization
def test_config_and_keras_round_trip_keep_each_p_and_outputs(tmp_path):
    model = CycleGAN(
        image_shape=SHAPE,
        g_width=2,
        d_width=2,
        n_residual_blocks=1,
        augment="ada",
        ada_target=0.7,
        ada_interval=3,
        ada_speed_images=1000,
        augment_transforms=["color", "translation"],
        r1_gamma=2.0,
    )
    model.compile()
    model.augmenter_a.p.assign(0.37)
    model.augmenter_b.p.assign(0.81)
    config = json.loads(json.dumps(model.get_config()))
    assert {k: config[k] for k in ("augment", "ada_target", "ada_interval", "r1_gamma")} == {
        "augment": "ada",
        "ada_target": 0.7,
        "ada_interval": 3,
        "r1_gamma": 2.0,
    }
    assert config["augment_transforms"] == ["color", "translation"]
    rebuilt = CycleGAN.from_config(json.loads(json.dumps(config)))  # Keras consumes nested dicts
    assert json.loads(json.dumps(rebuilt.get_config())) == config
    path = tmp_path / "cyclegan_ada.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert float(loaded.augmenter_a.p) == pytest.approx(0.37)
    assert float(loaded.augmenter_b.p) == pytest.approx(0.81)
    assert loaded.augmenter_b.transforms == ("color", "translation")
    assert loaded.r1_gamma == 2.0
    x = images(3, 5).numpy()
    for direction in ("a2b", "b2a"):
        np.testing.assert_array_equal(loaded.translate(x, direction), model.translate(x, direction))
    np.testing.assert_array_equal(loaded.discriminator_a(x), model.discriminator_a(x))


def test_step_checkpoint_carries_each_p_into_a_fresh_model(tmp_path):
    from tfgen.training.checkpoint import StepCheckpoint

    def build():
        model = frozen_compile(linear_cyclegan(augment="ada"))
        return model

    trained = build()
    trained.augmenter_a.p.assign(0.25)
    trained.augmenter_b.p.assign(0.75)
    trained.augmenter_b.sign_sum.assign(3.0)  # a half-gathered statistic resumes too
    checkpoint = StepCheckpoint(tmp_path / "checkpoints", steps_per_epoch=3)
    checkpoint.set_model(trained)
    checkpoint.save(3)
    fresh = build()
    assert StepCheckpoint(tmp_path / "checkpoints", steps_per_epoch=3).restore(fresh) == 3
    assert float(fresh.augmenter_a.p) == 0.25 and float(fresh.augmenter_b.p) == 0.75
    assert float(fresh.augmenter_b.sign_sum) == 3.0 and float(fresh.augmenter_a.sign_sum) == 0.0


# ----------------------------------------------------------------- tf.distribute
# 3 steps at global batch 8 with ADA (p = 0.5, moved every step) and R1: one device against two
# replicas of 4. No pool (each replica would keep its own); the augmentation draws come from
# the global batch and ADA's statistic is summed over replicas, so both runs must agree.
# Seeded weights: with this seed D_A's r_t is 1 (its p rises) and D_B's -1; an unlucky
# initialisation can put a D output on the decision boundary, where float rounding may flip one
# sign, hence one p, between the runs.
MIRRORED = """
import json, numpy as np, tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
import keras
keras.utils.set_random_seed(1)
from tfgen.models import CycleGAN
rng = np.random.default_rng(0)
a, b = (rng.uniform(-1, 1, (24, 16, 16, 1)).astype(np.float32) for _ in range(2))
def build(strategy):
    with strategy.scope():
        model = CycleGAN(image_shape=(16, 16, 1), g_width=2, d_width=2, n_residual_blocks=0,
                         n_downsamples=1, pool_size=0, seed=3, augment="ada", ada_interval=1,
                         ada_speed_images=16, r1_gamma=1.0)
        model.compile(**{k: keras.optimizers.SGD(0.05) for k in
                         ("g_a2b_optimizer", "g_b2a_optimizer", "d_a_optimizer", "d_b_optimizer")})
        for augmenter in (model.augmenter_a, model.augmenter_b):
            augmenter.p.assign(0.5)
    return model
strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
single, mirrored = build(tf.distribute.get_strategy()), build(strategy)
mirrored.set_weights(single.get_weights())
ds = tf.data.Dataset.from_tensor_slices((a, b)).batch(8)
logs_1 = single.fit(ds, epochs=1, verbose=0).history
logs_2 = mirrored.fit(ds, epochs=1, verbose=0).history
worst = max(float(np.max(np.abs(x.numpy() - y.numpy())))
            for x, y in zip(single.trainable_weights, mirrored.trainable_weights))
def local(v):
    return [float(x.numpy()) for x in strategy.experimental_local_results(v.value)]
replicas = [strategy.experimental_local_results(w.value) for w in mirrored.trainable_weights]
print(json.dumps({
    "worst": worst,
    "p": [float(single.augmenter_a.p.numpy()), float(single.augmenter_b.p.numpy())],
    "p_replicas": [local(mirrored.augmenter_a.p), local(mirrored.augmenter_b.p)],
    "replicas_agree": all(np.array_equal(r[0].numpy(), r[1].numpy()) for r in replicas),
    "logs_1": {k: v[-1] for k, v in logs_1.items()},
    "logs_2": {k: v[-1] for k, v in logs_2.items()},
}))
"""


@pytest.mark.large  # a fresh TensorFlow process with two logical CPUs
def test_mirrored_ada_and_r1_match_one_device():
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": str(REPO)}
    result = subprocess.run(
        [sys.executable, "-c", MIRRORED], env=env, capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stderr[-3000:]
    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert out["replicas_agree"], out
    # Largest absolute weight difference: 1e-6..2.4e-6 seen (float rounding through R1's
    # double backward); p or one augmentation draw differing between the runs gives > 1e-3.
    assert out["worst"] < 1e-4, out
    p_mirrored = [replicas[0] for replicas in out["p_replicas"]]
    assert out["p_replicas"][0][0] == out["p_replicas"][0][1], out
    assert out["p_replicas"][1][0] == out["p_replicas"][1][1], out
    assert p_mirrored == out["p"] and all(p in (0.0, 0.5, 1.0) for p in out["p"]), out
    for name in ("ada_p_a", "ada_rt_b", "r1_a", "r1_b", "g_loss"):
        assert out["logs_2"][name] == pytest.approx(out["logs_1"][name], rel=1e-4, abs=1e-6), name


# ----------------------------------------------------------------- CLI
def test_cli_trains_a_cyclegan_with_ada_and_r1(tmp_path, tiny_cyclegan_cli):
    from tfgen import cli

    _, argv = tiny_cyclegan_cli
    run = tmp_path / "run"
    argv += ["--steps", "4", "--augment", "ada", "--r1", "1", "--option", "ada_interval=1"]
    assert cli.main([*argv, "--out", str(run)]) == 0
    summary = json.loads((run / "run.json").read_text())
    assert summary["steps"] == 4
    metrics = summary["final_metrics"]
    assert {"ada_p_a", "ada_rt_a", "ada_p_b", "ada_rt_b", "r1_a", "r1_b"} <= set(metrics)
    assert all(0.0 <= metrics[k] <= 1.0 for k in ("ada_p_a", "ada_p_b"))
    model = keras.saving.load_model(run / "model.keras")
    assert model.augmenter_a.mode == "ada" and model.augmenter_b.interval == 1
    assert model.r1_gamma == 1.0
    assert float(model.augmenter_a.p) == metrics["ada_p_a"]
