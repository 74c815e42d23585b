"""tfgen.transfer.refiner: a pix2pix generator appended after a noise GAN's generator
(`finetune.refiner`): what the chain computes, its EMA, round trips, errors, and a fine-tune."""

import json

import keras
import numpy as np
import pytest

from tfgen import cli, saving
from tfgen.errors import TfgenUsageError
from tfgen.models import DCGAN
from tfgen.models.pix2pix import Pix2Pix
from tfgen.transfer.refiner import BASE, REFINER, with_refiner


def source_gan(ema=0.9):
    model = DCGAN(latent_dim=8, g_width=8, d_width=8, ema=ema)
    # An average unlike the raw weights, so a test can tell which one the chain took.
    model.ema_generator.set_weights([w * 0.5 for w in model.generator.get_weights()])
    return model


def translator(shape=(28, 28, 1), **kwargs):
    return Pix2Pix(image_shape=shape, g_width=4, d_width=4, ema=0.9, **kwargs)


def test_the_chain_is_the_refiner_applied_to_the_gans_samples_raw_and_averaged():
    gan, p2p = source_gan(), translator()
    refined = with_refiner(gan, p2p)
    assert type(refined) is DCGAN and refined.latent_dim == 8
    assert refined.image_shape == (28, 28, 1)
    z = np.random.default_rng(0).standard_normal((4, 8)).astype(np.float32)
    expected_raw = p2p.sampling_generator(gan.generator(z, training=False), training=False)
    expected_ema = p2p.sampling_generator(gan.ema_generator(z, training=False), training=False)
    np.testing.assert_allclose(refined.generate(z=z, use_ema=False), expected_raw, atol=1e-5)
    np.testing.assert_allclose(refined.generate(z=z), expected_ema, atol=1e-5)
    # Both stages train; the discriminator is the source's.
    assert refined.generator.get_layer(BASE).trainable
    assert refined.generator.get_layer(REFINER).trainable
    assert refined.discriminator is gan.discriminator
    assert len(refined.generator.trainable_weights) == len(gan.generator.trainable_weights) + len(
        p2p.generator.trainable_weights
    )


def test_a_refined_model_round_trips_through_a_keras_file(tmp_path):
    refined = with_refiner(source_gan(), translator())
    refined.save(tmp_path / "refined.keras")
    loaded = saving.load_model(tmp_path / "refined.keras", compile=False)
    np.testing.assert_array_equal(loaded.generate(6, seed=3), refined.generate(6, seed=3))
    assert loaded.generator.get_layer(REFINER).count_params() > 0


def test_refiner_errors_say_what_is_wrong():
    gan = source_gan()
    with pytest.raises(TfgenUsageError, match=r"maps \(32, 32, 1\).*train the refiner"):
        with_refiner(gan, translator((32, 32, 1)))
    with pytest.raises(TfgenUsageError, match="task 'superres'.*paired folders"):
        with_refiner(gan, translator(task="superres"))
    with pytest.raises(TfgenUsageError, match="must be a pix2pix model.*dcgan"):
        with_refiner(gan, source_gan())
    with pytest.raises(TfgenUsageError, match="follows a noise GAN's generator.*pix2pix"):
        with_refiner(translator(), translator())


def finetune_argv(tmp_path, data_dir, *extra):
    """`tfgen finetune` of tmp_path/source.keras with tmp_path/refiner.keras, 2 steps of
    Fashion-MNIST, into tmp_path/run."""
    argv = [
        "finetune",
        str(tmp_path / "source.keras"),
        "--refiner",
        str(tmp_path / "refiner.keras"),
    ]
    argv += ["--dataset", "fashion_mnist", "--data-dir", str(data_dir), "--steps", "2", *extra]
    return [*argv, "--out", str(tmp_path / "run")]


def test_cli_finetune_with_a_refiner_trains_both_stages(tmp_path, data_dir):
    gan, p2p = source_gan(), translator()
    gan.save(tmp_path / "source.keras")
    p2p.save(tmp_path / "refiner.keras")
    out = tmp_path / "run"
    assert cli.main(finetune_argv(tmp_path, data_dir, "--limit", "64", "--batch-size", "32")) == 0
    tuned = keras.saving.load_model(out / "model.keras", compile=False)
    for name, before in ((BASE, gan.generator), (REFINER, p2p.sampling_generator)):
        after = tuned.generator.get_layer(name)
        assert any(
            not np.array_equal(a, b)
            for a, b in zip(before.get_weights(), after.get_weights(), strict=True)
        ), f"{name} did not train"
    run = json.loads((out / "run.json").read_text())
    assert run["refiner"] == str(tmp_path / "refiner.keras")
    assert run["recipe"]["finetune"]["refiner"] == str(tmp_path / "refiner.keras")


def test_cli_finetune_refuses_a_refiner_of_another_size_without_writing_a_run(
    tmp_path, data_dir, capsys
):
    source_gan().save(tmp_path / "source.keras")
    translator((32, 32, 1)).save(tmp_path / "refiner.keras")
    out = tmp_path / "run"
    assert cli.main(finetune_argv(tmp_path, data_dir)) == 2
    assert "train the refiner on images of the generator's size" in capsys.readouterr().err
    # Nothing half-written: no model, no run record, no checkpoint.
    assert not (out / "model.keras").exists() and not (out / "run.json").exists()
    assert not (out / "checkpoints").exists()


def test_a_refiner_without_a_source_is_refused():
    from tfgen import config

    raw = {"model": {"kind": "dcgan"}, "data": {"dataset": "mnist"}}
    raw["finetune"] = {"refiner": "pix2pix_emoji_google2twitter"}
    with pytest.raises(TfgenUsageError, match="finetune.refiner changes a fine-tune"):
        config.from_dict(raw)
