"""Generator EMA: the update rule, sampling/export from the average, serialization, distribution."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfgen import export, saving
from tfgen.errors import TfgenUsageError
from tfgen.models import DCGAN, WGANGP, ConditionalGAN


def tiny_dcgan(**kwargs):
    model = DCGAN(latent_dim=8, g_width=8, d_width=8, seed=1, **kwargs)
    model.compile(g_optimizer=keras.optimizers.SGD(0.1), d_optimizer=keras.optimizers.SGD(0.1))
    return model


def images(n=16, seed=0):
    return np.random.default_rng(seed).uniform(-1, 1, (n, 28, 28, 1)).astype(np.float32)


def fit(model, x, steps, labels=None):
    data = x if labels is None else (x, labels)
    ds = tf.data.Dataset.from_tensor_slices(data).batch(8, drop_remainder=True).repeat()
    model.fit(ds, steps_per_epoch=steps, epochs=1, verbose=0)


def test_default_keeps_no_average():
    model = tiny_dcgan()
    assert model.ema is None and not hasattr(model, "ema_generator")
    assert model.sampling_generator is model.generator
    assert "ema" not in model.get_config()
    z = model.latent_noise(4, seed=2)
    np.testing.assert_array_equal(model.generate(z=z), model.generate(z=z, use_ema=False))


def test_update_follows_the_warmed_up_decay():
    model = tiny_dcgan(ema=0.999)
    before = [w.numpy() for w in model.generator.weights]
    np.testing.assert_array_equal(model.ema_generator.get_weights()[0], before[0])
    fit(model, images(8), steps=1)
    # After generator step t=1 the decay is min(0.999, 2/11): the average moves 9/11 of the way.
    decay = 2.0 / 11.0
    for raw, avg, old in zip(model.generator.weights, model.ema_generator.weights, before):
        if raw.trainable:
            expected = decay * old + (1 - decay) * raw.numpy()
        else:  # BatchNorm statistics are copied
            expected = raw.numpy()
        np.testing.assert_allclose(avg.numpy(), expected, rtol=1e-5, atol=1e-6)
    assert not model.ema_generator.trainable_weights
    moved = [
        not np.allclose(r.numpy(), a.numpy())
        for r, a in zip(model.generator.weights, model.ema_generator.weights)
    ]
    assert any(moved)  # the average lags the raw weights


def test_sampling_uses_the_average_and_raw_stays_reachable():
    model = tiny_dcgan(ema=0.9)
    fit(model, images(), steps=4)
    z = model.latent_noise(6, seed=5)
    ema_images = model.generate(z=z)
    raw_images = model.generate(z=z, use_ema=False)
    np.testing.assert_allclose(ema_images, model.ema_generator(z, training=False), atol=1e-6)
    np.testing.assert_allclose(raw_images, model.generator(z, training=False), atol=1e-6)
    assert np.abs(ema_images - raw_images).max() > 1e-4


def test_keras_round_trip_keeps_the_average(tmp_path):
    model = tiny_dcgan(ema=0.9)
    fit(model, images(), steps=3)
    path = tmp_path / "ema.keras"
    model.save(path)
    loaded = saving.load_model(path)
    assert loaded.ema == 0.9
    z = model.latent_noise(5, seed=7)
    np.testing.assert_array_equal(loaded.generate(z=z), model.generate(z=z))
    np.testing.assert_array_equal(
        loaded.generate(z=z, use_ema=False), model.generate(z=z, use_ema=False)
    )
    # Training continues from the loaded model and keeps averaging.
    before = loaded.ema_generator.get_weights()[0].copy()
    fit(loaded, images(), steps=1)
    assert not np.array_equal(before, loaded.ema_generator.get_weights()[0])
    again = DCGAN.from_config(model.get_config())
    assert again.ema == 0.9 and hasattr(again, "ema_generator")


def test_saved_model_exports_the_average(tmp_path):
    model = tiny_dcgan(ema=0.9)
    fit(model, images(), steps=3)
    export.saved_model(model, tmp_path, version=1)
    served = tf.saved_model.load(str(tmp_path / "1"))
    z = model.latent_noise(4, seed=3)
    out = served.signatures["serving_default"](z=z)["images"].numpy()
    np.testing.assert_allclose(out, model.generate(z=z), atol=1e-5)
    assert np.abs(out - model.generate(z=z, use_ema=False)).max() > 1e-4


def test_wgan_gp_and_cgan_average_their_generators():
    wgan = WGANGP(latent_dim=8, g_width=8, d_width=8, n_critic=2, ema=0.99)
    wgan.compile()
    start = wgan.ema_generator.get_weights()[0].copy()
    fit(wgan, images(), steps=2)
    assert not np.array_equal(start, wgan.ema_generator.get_weights()[0])
    assert not np.array_equal(wgan.generator.get_weights()[0], wgan.ema_generator.get_weights()[0])

    cgan = ConditionalGAN(latent_dim=8, g_width=8, d_width=8, ema=0.99)
    cgan.compile()
    start = cgan.ema_generator.get_weights()[0].copy()
    fit(cgan, images(), steps=2, labels=np.arange(16, dtype=np.int32) % 10)
    assert not np.array_equal(start, cgan.ema_generator.get_weights()[0])
    z = cgan.latent_noise(4, seed=1)
    assert (
        np.abs(cgan.generate(z=z, labels=3) - cgan.generate(z=z, labels=3, use_ema=False)).max() > 0
    )


@pytest.mark.parametrize("bad", [0, 1, 1.5, -0.1, "fast"])
def test_bad_decay_is_a_usage_error(bad):
    with pytest.raises(TfgenUsageError, match=r"in \(0, 1\), e.g. 0.999"):
        DCGAN(latent_dim=8, g_width=8, d_width=8, ema=bad)


def test_pix2pix_translates_and_exports_with_its_average(tmp_path):
    from tfgen.models import Pix2Pix

    model = Pix2Pix(image_shape=(16, 16, 3), g_width=8, d_width=8, ema=0.9)
    model.compile()
    rng = np.random.default_rng(0)
    pairs = rng.uniform(-1, 1, (2, 8, 16, 16, 3)).astype(np.float32)
    ds = tf.data.Dataset.from_tensor_slices((pairs[0], pairs[1])).batch(4).repeat()
    model.fit(ds, steps_per_epoch=3, epochs=1, verbose=0)
    x = pairs[0][:4]
    averaged, raw = model.translate(x), model.translate(x, use_ema=False)
    np.testing.assert_allclose(averaged, model.ema_generator(x, training=False), atol=1e-6)
    np.testing.assert_allclose(raw, model.generator(x, training=False), atol=1e-6)
    assert np.abs(averaged - raw).max() > 1e-4
    model.save(tmp_path / "p.keras")
    loaded = saving.load_model(tmp_path / "p.keras")
    assert loaded.ema == 0.9
    np.testing.assert_array_equal(loaded.translate(x), averaged)
    export.saved_model(model, tmp_path / "served", version=1)
    served = tf.saved_model.load(str(tmp_path / "served" / "1"))
    out = served.signatures["serving_default"](images=x)["images"].numpy()
    np.testing.assert_allclose(out, averaged, atol=1e-5)


def test_cyclegan_translates_and_exports_with_its_averages_both_ways(tmp_path):
    from tfgen.models import CycleGAN
    from tfgen.transfer.finetuning import start_from_ema

    model = CycleGAN(image_shape=(16, 16, 3), g_width=8, d_width=8, n_residual_blocks=1, ema=0.9)
    model.compile()
    rng = np.random.default_rng(0)
    a, b = rng.uniform(-1, 1, (2, 8, 16, 16, 3)).astype(np.float32)
    model.fit(
        tf.data.Dataset.from_tensor_slices((a, b)).batch(4).repeat(),
        steps_per_epoch=3, epochs=1, verbose=0,
    )  # fmt: skip
    x = a[:4]
    averaged = {d: model.translate(x, d) for d in ("a2b", "b2a")}
    for direction in ("a2b", "b2a"):
        raw = model.translate(x, direction, use_ema=False)
        ema_net = getattr(model, f"ema_generator_{direction}")
        raw_net = getattr(model, f"generator_{direction}")
        np.testing.assert_allclose(averaged[direction], ema_net(x, training=False), atol=1e-6)
        np.testing.assert_allclose(raw, raw_net(x, training=False), atol=1e-6)
        assert np.abs(averaged[direction] - raw).max() > 1e-4
        assert not ema_net.trainable_weights
    model.save(tmp_path / "c.keras")
    loaded = saving.load_model(tmp_path / "c.keras")
    assert loaded.ema == 0.9
    for direction in ("a2b", "b2a"):
        np.testing.assert_array_equal(loaded.translate(x, direction), averaged[direction])
    export.saved_model(model, tmp_path / "served", version=1)
    served = tf.saved_model.load(str(tmp_path / "served" / "1"))
    for direction in ("a2b", "b2a"):
        out = served.signatures[direction](images=x)["images"].numpy()
        np.testing.assert_allclose(out, averaged[direction], atol=1e-5)
    # A fine-tune from the averages starts both raw generators at them.
    start_from_ema(loaded)
    for direction in ("a2b", "b2a"):
        np.testing.assert_array_equal(
            loaded.translate(x, direction, use_ema=False), averaged[direction]
        )


def test_models_without_an_average_refuse_it(tmp_path, mnist_dir, capsys):
    from tfgen import cli

    args = ["train", "vae", "--dataset", str(mnist_dir), "--ema", "0.999", "--steps", "1"]
    assert cli.main([*args, "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err.strip()
    assert "vae does not keep one" in err and len(err.splitlines()) == 1


def test_mirrored_average_matches_one_device(two_replica_run):
    result = two_replica_run(
        "DCGAN(latent_dim=8, g_width=8, d_width=8, seed=3, ema=0.9)",
        lr=0.05,
        report="print(json.dumps({"
        '"worst": worst(single.ema_generator.weights, mirrored.ema_generator.weights), '
        '"lag": max(float(np.max(np.abs(a.numpy() - b.numpy()))) for a, b in '
        "zip(mirrored.generator.weights, mirrored.ema_generator.weights))}))",
    )
    assert result["worst"] < 1e-4, result
    assert result["lag"] > 1e-6, result  # the average really is an average, not a copy
