"""Training-health monitor: each detector on synthetic logs, broken runs alarm, a healthy one not."""

import math

import keras
import numpy as np
import pytest
from keras import layers

from tfgen import data, monitor, saving
from tfgen.models import DCGAN
from tfgen.networks import dcgan as dcgan_networks


# --------------------------------------------------------------------------- detectors
def test_non_finite_names_the_loss_first():
    assert monitor.detect_non_finite({"step": 3, "d_loss": 0.7, "g_loss": 1.2}) is None
    record = {"d_real": math.nan, "g_loss": math.inf, "d_loss": 0.5}
    assert monitor.detect_non_finite(record) == "g_loss became inf"
    assert monitor.detect_non_finite({"d_real": math.nan}) == "d_real became nan"


def test_overpowering_needs_a_whole_window():
    strong = {"d_real": 0.99, "d_fake": 0.01}
    fair = {"d_real": 0.7, "d_fake": 0.3}
    message = monitor.detect_overpowering([fair, strong, strong, strong], window=3)
    assert "over-powers" in message and "D(real) 0.990" in message
    assert monitor.detect_overpowering([strong, fair, strong, strong], window=3) is None
    assert monitor.detect_overpowering([strong, strong], window=3) is None
    # D sure of real images but fooled by fakes is not over-powering
    assert monitor.detect_overpowering([{"d_real": 0.99, "d_fake": 0.4}] * 3, window=3) is None
    # a Wasserstein critic logs no probabilities
    assert monitor.detect_overpowering([{"d_loss": -5.0, "g_loss": 3.0}] * 3, window=3) is None


def test_divergence_is_a_steady_rise_or_an_explosion():
    rising = [{"g_loss": v} for v in (2.0, 1.5, 1.0, 1.1, 0.9, 1.0, 3.0, 6.0, 9.0)]
    message = monitor.detect_divergence(rising, window=3)
    assert message == "g_loss is rising: 1 at its best, 6 over the last 3 checks"
    noisy = [{"g_loss": v} for v in (1.0, 1.4, 0.8, 1.3, 0.9, 1.5, 0.7, 1.2, 1.0)]
    assert monitor.detect_divergence(noisy, window=3) is None
    small_rise = [{"g_loss": v} for v in (1.0, 1.0, 1.0, 1.0, 1.5, 2.0, 2.5)]
    assert monitor.detect_divergence(small_rise, window=3) is None  # < 3x above its best
    assert monitor.detect_divergence([{"g_loss": 1.0}, {"g_loss": 5e4}], window=3) == (
        "g_loss exploded to 5e+04"
    )
    assert monitor.detect_divergence(rising[:5], window=3) is None  # too short to tell


def test_collapse_is_a_fall_from_the_peak_or_a_sliver_of_the_real_data():
    assert monitor.detect_collapse([3.0, 8.0, 10.0, 7.0]) is None
    message = monitor.detect_collapse([3.0, 8.0, 10.0, 4.0])
    assert message.endswith("fell to 40 % of its peak (10)")
    assert "0.5 % of the real data's" in monitor.detect_collapse([0.1], real=20.0)
    assert monitor.detect_collapse([3.0], real=20.0) is None  # untrained, not collapsed
    assert monitor.detect_collapse([]) is None


def test_class_dominance_lasts_a_window():
    shares = monitor.class_shares(np.array([3] * 90 + [1] * 10), 10)
    assert shares == {"max_class_share": 0.9, "top_class": 3, "classes_seen": 2}
    mixed = monitor.class_shares(np.arange(100) % 10, 10)
    message = monitor.detect_class_dominance([shares] * 3, 3, 0.8, "classifier_mnist")
    assert message.startswith("mode collapse: 90 % of the samples are class 3 per classifier")
    assert monitor.detect_class_dominance([shares, mixed, shares], 3) is None
    assert monitor.detect_class_dominance([shares] * 2, 3) is None


def test_mean_pairwise_distance():
    assert monitor.mean_pairwise_distance(np.array([[0.0, 0.0], [3.0, 4.0]])) == 5.0
    points = np.array([[0.0], [1.0], [3.0]])
    assert monitor.mean_pairwise_distance(points) == pytest.approx((1 + 3 + 2) / 3)
    assert monitor.mean_pairwise_distance(np.ones((5, 2, 2, 1))) == 0.0


def test_bad_settings_are_refused():
    with pytest.raises(ValueError, match="needs a classifier"):
        monitor.TrainingMonitor(features="classifier")
    with pytest.raises(ValueError, match="must be >= 1"):
        monitor.TrainingMonitor(check_every=0)


# --------------------------------------------------------------------------- runs
@pytest.fixture(scope="module")
def mnist_batches(mnist_dir):
    return data.load(mnist_dir, batch_size=64, seed=0, limit=2048).repeat()


def constant_generator(latent_dim=8):
    """A generator whose output ignores z: the extreme of mode collapse."""
    z = keras.Input((latent_dim,))
    x = layers.Dense(1, use_bias=False, kernel_initializer="zeros", trainable=False)(z)
    x = layers.Dense(28 * 28, activation="tanh")(x)
    return keras.Model(z, layers.Reshape((28, 28, 1))(x), name="constant_generator")


def test_constant_generator_raises_collapse_and_stops_keeping_the_last_good_model(
    tmp_path, mnist_batches, mnist_test_arrays
):
    model = DCGAN(
        generator=constant_generator(),
        discriminator=dcgan_networks.build_discriminator((28, 28, 1), 8),
    )
    model.compile()
    checkpoint = tmp_path / "last_good.keras"
    watch = monitor.TrainingMonitor(
        check_every=20, warmup=40, real_images=mnist_test_arrays[0], stop=True,
        checkpoint=checkpoint, log_dir=tmp_path / "logs", verbose=False,
    )  # fmt: skip
    with pytest.warns(monitor.TrainingHealthWarning, match="mode collapse") as caught:
        model.fit(
            mnist_batches,
            steps_per_epoch=200,
            epochs=1,
            callbacks=[watch],
            verbose=0,
            shuffle=False,
        )
    assert watch.kinds()[0] == "collapse"
    assert watch.alarms[0][0] == 40  # the first check after the warm-up
    assert int(model.g_optimizer.iterations) == 40  # stopped there
    text = next(str(w.message) for w in caught if w.category is monitor.TrainingHealthWarning)
    assert "try: add augmentation" in text and f"kept in {checkpoint}" in text
    # the last healthy check (step 20) left a loadable model
    kept = saving.load_model(checkpoint, compile=False)
    assert kept.generator.count_params() == model.generator.count_params()
    assert any(p.name.startswith("events") for p in (tmp_path / "logs").iterdir())


def test_frozen_generator_lets_the_discriminator_over_power(mnist_batches):
    model = DCGAN(latent_dim=16, g_width=8, d_width=16)
    model.compile(g_optimizer=keras.optimizers.SGD(0.0))  # G never learns; D wins
    watch = monitor.TrainingMonitor(check_every=20, window=3, warmup=40, verbose=False)
    with pytest.warns(monitor.TrainingHealthWarning, match="over-powers"):
        model.fit(
            mnist_batches,
            steps_per_epoch=120,
            epochs=1,
            callbacks=[watch],
            verbose=0,
            shuffle=False,
        )
    assert "overpowering" in watch.kinds() and "divergence" not in watch.kinds()
    assert "lower the discriminator's learning rate" in monitor.ADVICE["overpowering"]


def test_nan_data_raises_non_finite_naming_the_loss():
    images = np.full((32, 28, 28, 1), np.nan, np.float32)
    model = DCGAN(latent_dim=8, g_width=8, d_width=8)
    model.compile()
    watch = monitor.TrainingMonitor(check_every=10, stop=True, verbose=False)
    with pytest.warns(monitor.TrainingHealthWarning, match="d_loss became nan at step 1"):
        model.fit(images, batch_size=8, epochs=3, callbacks=[watch], verbose=0, shuffle=False)
    assert watch.kinds() == ["non_finite"] and int(model.g_optimizer.iterations) == 1


@pytest.mark.large
def test_healthy_dcgan_on_mnist_raises_nothing(tmp_path, mnist_batches, mnist_test_arrays):
    keras.utils.set_random_seed(0)
    model = DCGAN(seed=0)  # the default DCGAN
    model.compile()
    watch = monitor.TrainingMonitor(
        check_every=50, real_images=mnist_test_arrays[0], classifier="classifier_mnist",
        checkpoint=tmp_path / "last_good.keras", verbose=False,
    )  # fmt: skip
    model.fit(
        mnist_batches, steps_per_epoch=300, epochs=1, callbacks=[watch], verbose=0, shuffle=False
    )
    assert watch.alarms == []
    assert [r["step"] for r in watch.history] == [50, 100, 150, 200, 250, 300]
    last = watch.history[-1]
    assert 0.3 < last["d_real"] < 0.95 and 0.05 < last["d_fake"] < 0.7
    assert last["diversity"] > 0.25 * watch.reference_diversity
    assert (tmp_path / "last_good.keras").is_file()


def test_train_with_monitor_stop_keeps_a_last_good_model(tmp_path, mnist_dir):
    from tfgen import training

    out = tmp_path / "run"
    training.train(
        "dcgan", str(mnist_dir), out, steps=100, batch_size=32, limit=640, verbose=0,
        options={"latent_dim": 8, "g_width": 8, "d_width": 8}, monitor="stop",
    )  # fmt: skip
    assert saving.load_model(out / "last_good.keras", compile=False).latent_dim == 8
    assert any(p.name.startswith("events") for p in (out / "logs" / "monitor").iterdir())


def test_cli_monitor_refuses_models_it_cannot_watch(tmp_path, mnist_dir, capsys):
    from tfgen import cli

    args = ["train", "vae", "--dataset", str(mnist_dir), "--steps", "1", "--monitor"]
    assert cli.main([*args, "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err.strip()
    assert "--monitor watches noise-to-image GANs" in err and len(err.splitlines()) == 1
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize(
    "kind, watched",
    [("dcgan", True), ("wgan_gp", True), ("cgan", True),
     ("vae", False), ("pix2pix", False), ("cyclegan", False)],
)  # fmt: skip
def test_monitor_watches_the_noise_to_image_gans_with_an_ema_and_no_other_kind(kind, watched):
    from tfgen.errors import TfgenUsageError
    from tfgen.registry import get_model_class
    from tfgen.training.monitor import check_mode

    if watched:
        assert check_mode("warn", get_model_class(kind)) is None  # accepted
    else:
        with pytest.raises(TfgenUsageError, match=f"{kind} is not one"):
            check_mode("warn", get_model_class(kind))
