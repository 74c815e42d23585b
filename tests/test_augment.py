"""DiffAugment / ADA (tfgen.augment), the R1 penalty and spectral normalization options."""

import os
import pathlib
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfgen import augment, losses
from tfgen.errors import TfgenUsageError
from tfgen.models.cgan import ConditionalGAN
from tfgen.models.dcgan import DCGAN
from tfgen.models.wgan_gp import WGANGP

REPO = pathlib.Path(__file__).resolve().parent.parent


def _images(n=8, size=28, channels=1, seed=0):
    rng = np.random.default_rng(seed)
    return tf.constant(rng.uniform(-1, 1, (n, size, size, channels)).astype("float32"))


def _tiny_dcgan(**options):
    return DCGAN(latent_dim=8, g_width=8, d_width=8, seed=1, **options)


# ----------------------------------------------------------------- the augmentation itself
@pytest.mark.parametrize("channels", [1, 3])
def test_augment_keeps_shape_dtype_and_a_bounded_range(channels):
    x = _images(channels=channels)
    y = augment.augment(x, p=1.0, seed=3, step=5)
    assert y.shape == x.shape and y.dtype == x.dtype
    assert np.all(np.isfinite(y.numpy()))
    # Brightness +-0.5 then contrast x0.5-1.5 about the mean (saturation x0-2 about the
    # channel mean) of [-1, 1] images stay well inside +-4.5.
    assert np.abs(y.numpy()).max() <= 4.5
    # Translation and cutout only move pixels or zero them: the range stays [-1, 1].
    geometric = augment.augment(x, 1.0, 3, 5, transforms=("translation", "cutout")).numpy()
    assert geometric.min() >= -1.0 and geometric.max() <= 1.0
    assert not np.allclose(y.numpy(), x.numpy())


def test_probability_zero_is_exactly_identity():
    x = _images(channels=3)
    np.testing.assert_array_equal(augment.augment(x, p=0.0, seed=3, step=7).numpy(), x.numpy())


def test_draws_are_per_sample_seeded_and_repeatable():
    x = tf.repeat(_images(n=1), 8, axis=0)  # 8 copies of one image
    a = augment.augment(x, 1.0, seed=3, step=2).numpy()
    b = augment.augment(x, 1.0, seed=3, step=2).numpy()
    c = augment.augment(x, 1.0, seed=3, step=3).numpy()
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)
    # Each copy gets its own draw.
    assert len({a[i].tobytes() for i in range(8)}) == 8


def test_half_probability_augments_about_half_the_samples():
    x = tf.repeat(_images(n=1), 400, axis=0)
    y = augment.augment(x, 0.5, seed=0, step=0, transforms=("cutout",)).numpy()
    changed = np.mean([not np.array_equal(y[i], x[i].numpy()) for i in range(400)])
    assert 0.4 < changed < 0.6


def test_translation_is_a_zero_filled_shift_of_at_most_one_eighth():
    x = _images(n=16) + 2.0  # no zeros in the input, so the fill is visible
    y = augment.augment(x, 1.0, seed=1, step=0, transforms=("translation",)).numpy()
    x = x.numpy()
    shifts = set()
    for i in range(16):
        found = None
        for dy in range(-4, 5):
            for dx in range(-4, 5):
                padded = np.pad(x[i], ((4, 4), (4, 4), (0, 0)))
                shifted = padded[4 - dy : 32 - dy, 4 - dx : 32 - dx]
                if np.array_equal(shifted, y[i]):
                    found = (dy, dx)
        assert found is not None, f"sample {i} is not a shift of its input"
        shifts.add(found)
    assert len(shifts) > 4


def test_cutout_zeroes_one_square_of_at_most_half_the_side():
    x = _images(n=16) + 2.0
    y = augment.augment(x, 1.0, seed=2, step=0, transforms=("cutout",)).numpy()
    for i in range(16):
        rows, cols = np.nonzero(y[i, :, :, 0] == 0)
        assert len(rows) > 0
        h, w = rows.max() - rows.min() + 1, cols.max() - cols.min() + 1
        assert h <= 14 and w <= 14 and len(rows) == h * w  # one filled rectangle
        np.testing.assert_array_equal(y[i][y[i] != 0], x[i].numpy()[y[i] != 0])


def test_gradients_flow_through_the_augmentation():
    x = _images(channels=3)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = augment.augment(x, 1.0, seed=0, step=0)
        total = tf.reduce_sum(y * tf.random.stateless_normal(y.shape, seed=[0, 1]))
    grad = tape.gradient(total, x).numpy()
    assert np.isfinite(grad).all() and np.abs(grad).sum() > 0


def test_unknown_modes_and_transforms_are_usage_errors():
    with pytest.raises(TfgenUsageError, match="augment"):
        _tiny_dcgan(augment="mixup")
    with pytest.raises(TfgenUsageError, match="transform"):
        augment.augment(_images(), transforms=("rotate",))
    with pytest.raises(TfgenUsageError, match="ada_target"):
        augment.Augmenter("ada", target=1.5)


# ----------------------------------------------------------------- ADA's controller
def test_ada_p_rises_above_target_falls_below_and_stays_in_unit_interval():
    ada = augment.Augmenter("ada", target=0.6, interval=2, speed_images=100)
    assert float(ada.p) == 0.0
    over = tf.ones([10, 1])  # r_t = 1 > 0.6: D is sure about every real, p must rise
    ada.update(over)
    assert float(ada.p) == 0.0  # not due yet: every 2 steps
    logs = ada.update(over)
    assert float(ada.p) == pytest.approx(0.2)  # 20 images / 100
    assert float(logs["ada_p"]) == pytest.approx(0.2) and float(logs["ada_rt"]) == 1.0
    for _ in range(20):
        ada.update(over)
    assert float(ada.p) == 1.0
    # 6 of 10 signs positive: r_t = 0.2 < 0.6, p must fall.
    under = tf.constant([[1.0]] * 6 + [[-1.0]] * 4)
    ada.update(under)
    ada.update(under)
    assert float(ada.rt) == pytest.approx(0.2)
    assert float(ada.p) == pytest.approx(0.8)
    for _ in range(40):
        ada.update(-tf.ones([10, 1]))
    assert float(ada.p) == 0.0


def test_diffaugment_keeps_p_at_one():
    diff = augment.Augmenter("diffaugment")
    assert float(diff.p) == 1.0
    assert diff.update(-tf.ones([4, 1])) == {}
    assert float(diff.p) == 1.0


# ----------------------------------------------------------------- models
@pytest.mark.parametrize(
    "loss, outputs, expected_rt",
    [
        # Least squares labels reals 1 and fakes 0: 0.7 is on the real side, 0.3 is not.
        ("least_squares", 0.7, 1.0),
        ("least_squares", 0.3, -1.0),
        # Logit losses separate at 0: 0.3 is a (weakly) confident "real".
        ("non_saturating", 0.3, 1.0),
        ("hinge", -0.3, -1.0),
    ],
)
def test_ada_rt_is_measured_against_the_loss_decision_boundary(loss, outputs, expected_rt):
    model = _tiny_dcgan(augment="ada", ada_interval=1)
    model.compile(loss=loss)
    logs = model.augment_update(tf.fill([8, 1], outputs))
    assert float(np.ravel(logs["ada_rt"])[0]) == expected_rt


def test_wgan_gp_ada_rt_ignores_the_critic_offset():
    # A Wasserstein critic's scores drift: reals at 101 and fakes at 99 are well separated
    # (r_t = 1) though both are positive, and reals at 99 below fakes at 101 give r_t = -1.
    model = WGANGP(latent_dim=8, g_width=8, d_width=8, n_critic=1, augment="ada", ada_interval=1)
    model.compile()
    for real, fake, expected in ((101.0, 99.0, 1.0), (99.0, 101.0, -1.0)):
        scores = {"real_logits": tf.fill([6], real), "fake_logits": tf.fill([6], fake)}
        midpoint = model.ada_midpoint(scores)
        assert float(midpoint) == pytest.approx(100.0)
        logs = model.augment_update(scores["real_logits"], midpoint)
        assert float(np.ravel(logs["ada_rt"])[0]) == expected


def test_default_model_has_no_augmenter_and_no_extra_config():
    model = _tiny_dcgan()
    assert model.augmenter is None
    config = model.get_config()
    assert not {"augment", "r1_gamma", "spectral_norm"} & set(config)


def test_keras_round_trip_keeps_p_and_options(tmp_path):
    model = _tiny_dcgan(augment="ada", ada_target=0.7, ada_interval=3, ada_speed_images=1000)
    model.augmenter.p.assign(0.37)
    path = tmp_path / "ada.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    assert loaded.augmenter.mode == "ada"
    assert (loaded.augmenter.target, loaded.augmenter.interval) == (0.7, 3)
    assert loaded.augmenter.speed_images == 1000
    assert float(loaded.augmenter.p) == pytest.approx(0.37)
    z = model.latent_noise(4, seed=0)
    np.testing.assert_allclose(loaded.generator(z), model.generator(z), atol=1e-6)


def test_augment_transforms_option_round_trips_through_config():
    model = _tiny_dcgan(augment="ada", augment_transforms=["color", "translation"])
    assert model.get_config()["augment_transforms"] == ["color", "translation"]
    rebuilt = DCGAN.from_config(model.get_config())
    assert rebuilt.augmenter.transforms == ("color", "translation")
    assert "augment_transforms" not in _tiny_dcgan(augment="ada").get_config()


def _weights(network):
    return [w.numpy().copy() for w in network.trainable_weights]


def _changed(before, network):
    return all(not np.array_equal(a, b.numpy()) for a, b in zip(before, network.trainable_weights))


@pytest.mark.parametrize(
    "options",
    [
        # Options paired to keep the suite fast; each is exercised once.
        {"augment": "diffaugment", "spectral_norm": True},
        {"augment": "ada", "ada_interval": 1, "ada_speed_images": 64, "r1_gamma": 10.0},
    ],
)
def test_dcgan_fit_step_with_each_option(options):
    model = _tiny_dcgan(**options)
    model.compile()
    g_before, d_before = _weights(model.generator), _weights(model.discriminator)
    history = model.fit(_images(n=32), batch_size=32, epochs=1, verbose=0)
    logs = {k: v[-1] for k, v in history.history.items()}
    assert np.isfinite(logs["d_loss"]) and np.isfinite(logs["g_loss"])
    assert _changed(g_before, model.generator) and _changed(d_before, model.discriminator)
    # Only G and D train; the augmentation state is not a trainable weight.
    n_trainable = len(model.generator.trainable_weights) + len(
        model.discriminator.trainable_weights
    )
    assert len(model.trainable_weights) == n_trainable
    if options.get("augment") == "ada":
        # One step of 32 images against a speed of 64: p is 0 or 0.5, never anything else.
        assert logs["ada_p"] in (0.0, 0.5) and float(model.augmenter.p) == logs["ada_p"]
        assert -1.0 <= logs["ada_rt"] <= 1.0
    if "r1_gamma" in options:
        assert logs["r1"] > 0


def test_r1_changes_only_the_discriminator_update():
    x = _images(n=16)
    after = {}
    for gamma in (0.0, 10.0):
        keras.utils.set_random_seed(0)  # same initial weights for both runs
        model = _tiny_dcgan(r1_gamma=gamma)
        model.compile(g_optimizer=keras.optimizers.SGD(0.1), d_optimizer=keras.optimizers.SGD(0.1))
        logs = {k: v[-1] for k, v in model.fit(x, batch_size=16, verbose=0).history.items()}
        after[gamma] = (_weights(model.generator), _weights(model.discriminator), logs)
    g0, d0, logs0 = after[0.0]
    g10, d10, logs10 = after[10.0]
    # The generator's step comes from the same pre-update D: R1 must not touch it.
    for a, b in zip(g0, g10):
        np.testing.assert_allclose(a, b, atol=1e-6)
    assert any(not np.allclose(a, b, atol=1e-6) for a, b in zip(d0, d10))
    assert logs10["r1"] > 0 and "r1" not in logs0
    assert logs10["d_loss"] == pytest.approx(logs0["d_loss"], rel=1e-5)  # logged without R1


@pytest.mark.parametrize("model_cls", [WGANGP, ConditionalGAN])
def test_wgan_gp_and_cgan_train_with_ada_and_r1(model_cls):
    options = dict(latent_dim=8, g_width=8, d_width=8, augment="ada", ada_interval=1)
    if model_cls is WGANGP:
        options["n_critic"] = 2  # a smaller graph than the default 5 unrolled critic steps
    model = model_cls(r1_gamma=1.0, **options)
    model.compile()
    x = _images(n=40)
    y = tf.constant(np.arange(40) % 10, tf.int32) if model_cls is ConditionalGAN else None
    d_before = _weights(model.discriminator)
    history = model.fit(x, y, batch_size=40, verbose=0)
    logs = {k: v[-1] for k, v in history.history.items()}
    assert {"ada_p", "ada_rt", "r1"} <= set(logs)
    assert 0.0 <= logs["ada_p"] <= 1.0 and np.isfinite(logs["r1"])
    assert any(not np.array_equal(a, b) for a, b in zip(d_before, _weights(model.discriminator)))
    rebuilt = model_cls.from_config(model.get_config())
    assert rebuilt.augmenter.mode == "ada" and rebuilt.r1_gamma == 1.0


# ----------------------------------------------------------------- R1 and spectral norm
def test_r1_penalty_of_a_linear_critic_is_the_squared_weight_norm():
    w = tf.constant(np.random.default_rng(0).normal(size=(1, 28, 28, 1)).astype("float32"))
    x = _images(n=4)
    per_example = losses.r1_penalty(lambda v: tf.reduce_sum(v * w, axis=[1, 2, 3]), x)
    expected = float(tf.reduce_sum(w * w))
    np.testing.assert_allclose(per_example.numpy(), [expected] * 4, rtol=1e-5)
    gamma = 10.0
    assert gamma / 2 * float(tf.reduce_mean(per_example)) == pytest.approx(gamma / 2 * expected)


def test_spectral_norm_discriminator_config_and_keras_round_trip(tmp_path):
    model = _tiny_dcgan(spectral_norm=True)
    names = [layer.__class__.__name__ for layer in model.discriminator.layers]
    assert "SpectralNormalization" in names and "BatchNormalization" not in names
    rebuilt = DCGAN.from_config(model.get_config())
    assert rebuilt.spectral_norm
    assert [type(x) for x in rebuilt.discriminator.layers] == [
        type(x) for x in model.discriminator.layers
    ]
    cgan = ConditionalGAN(latent_dim=8, g_width=8, d_width=8, spectral_norm=True)
    rebuilt = ConditionalGAN.from_config(cgan.get_config())
    names = [layer.__class__.__name__ for layer in rebuilt.discriminator.layers]
    assert rebuilt.spectral_norm and names.count("SpectralNormalization") == 3  # 2 convs, head
    assert "BatchNormalization" not in names
    path = tmp_path / "sn.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    x = _images(n=4)
    np.testing.assert_allclose(
        loaded.discriminator(x, training=False), model.discriminator(x, training=False), atol=1e-6
    )


# ----------------------------------------------------------------- tf.distribute
# 3 steps at global batch 8 with ADA and R1: one device vs two replicas of 4. The draws come
# from the global batch and ADA's statistic is summed over replicas, so both must agree.
MIRRORED_ADA = """
import numpy as np, tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
import keras
from tfgen.models import DCGAN
keras.utils.set_random_seed(1)  # seeded weights: see the kink note in tests/conftest.py
images = np.random.default_rng(0).uniform(-1, 1, (24, 28, 28, 1)).astype(np.float32)
def build(strategy):
    with strategy.scope():
        model = DCGAN(latent_dim=8, g_width=8, d_width=8, seed=3, augment="ada", ada_interval=1,
                      ada_speed_images=16, r1_gamma=1.0)
        model.compile(g_optimizer=keras.optimizers.SGD(0.05), d_optimizer=keras.optimizers.SGD(0.05))
    return model
single = build(tf.distribute.get_strategy())
mirrored = build(tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"]))
mirrored.set_weights(single.get_weights())
for model in (single, mirrored):
    model.augmenter.p.assign(0.5)  # augment from the first step; each step moves p by 0.5
ds = tf.data.Dataset.from_tensor_slices(images).batch(8)
logs_1 = single.fit(ds, epochs=1, verbose=0).history
logs_2 = mirrored.fit(ds, epochs=1, verbose=0).history
worst = max(
    float(np.max(np.abs(a.numpy() - b.numpy()) / (np.abs(a.numpy()) + 1e-3)))
    for a, b in zip(single.trainable_weights, mirrored.trainable_weights)
)
print("WORST", worst, "P", float(single.augmenter.p.value.numpy()),
      float(mirrored.augmenter.p.value.numpy()),
      "R1", logs_1["r1"][0], logs_2["r1"][0])
"""


def test_mirrored_ada_and_r1_match_one_device():
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": str(REPO)}
    result = subprocess.run(
        [sys.executable, "-c", MIRRORED_ADA], env=env, capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stderr[-3000:]
    fields = result.stdout.split()
    worst = float(fields[fields.index("WORST") + 1])
    p_single, p_mirrored = (float(v) for v in fields[fields.index("P") + 1 :][:2])
    r1_single, r1_mirrored = (float(v) for v in fields[fields.index("R1") + 1 :][:2])
    assert worst < 1e-4, result.stdout
    assert p_single == p_mirrored and p_single in (0.0, 0.5, 1.0), result.stdout
    assert r1_mirrored == pytest.approx(r1_single, rel=1e-4)


def test_cli_train_flags_become_model_options(monkeypatch, tmp_path):
    from tfgen import cli
    from tfgen.training import job

    seen = {}
    monkeypatch.setattr(job, "run", lambda recipe, *args, **kwargs: seen.update(recipe=recipe))
    argv = ["train", "dcgan", "--dataset", "mnist", "--steps", "1", "--out", str(tmp_path)]
    assert cli.main([*argv, "--augment", "ada", "--r1", "10", "--spectral-norm"]) == 0
    assert seen["recipe"].options == {"augment": "ada", "r1_gamma": 10.0, "spectral_norm": True}
    assert cli.main(argv) == 0
    assert seen["recipe"].options == {}
    assert cli.main([*argv, "--augment", "mixup"]) == 2
